from __future__ import annotations

import pytest

from alibabacloud_credentials.provider import default as default_provider
from alibabacloud_tea_openapi import exceptions as sdk_exceptions
from darabonba.exceptions import RetryError, UnretryableException
from darabonba.policy.retry import RetryPolicyContext

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialSource
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import describe

SETTINGS = {'endpoint': '127.0.0.1:1', 'protocol': 'http', 'validate_certs': True}


def unretryable(inner):
    return UnretryableException(RetryPolicyContext(retries_attempted=1, exception=inner))


def test_explicit_keys_never_build_the_default_chain(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError('the default credential chain was built')
    monkeypatch.setattr(default_provider.DefaultCredentialsProvider, '__init__', forbidden)
    source = CredentialSource('access_key', 'options', 'id', 'secret', 'token')
    assert sdk.build_credential(source) is None
    client = sdk.RpcClient(SETTINGS, source)
    assert client.endpoint == '127.0.0.1:1'


def test_no_keys_means_the_default_chain():
    credential = sdk.build_credential(CredentialSource('default', 'default chain'))
    assert type(credential.cloud_credential.provider).__name__ == 'DefaultCredentialsProvider'


def test_an_assumed_role_wraps_the_static_keys():
    credential = sdk.build_credential(CredentialSource('access_key', 'options', 'id', 'secret',
                                                       role_arn='acs:ram::1:role/r', role_session_name='audit'))
    assert type(credential.cloud_credential.provider).__name__ == 'RamRoleArnCredentialsProvider'


def test_throttling_with_retry_after_is_retryable():
    error = sdk.translate_exception(sdk_exceptions.ThrottlingException(
        status_code=429, code='Throttling', message='code: 429, slow request id: R1', request_id='R1',
        data={'Message': 'Request was denied due to request throttling.'}, retry_after=1500), 'ep')
    assert (error.code, error.http_status, error.request_id, error.retryable, error.retry_after) == (
        'Throttling', 429, 'R1', True, 1.5)
    assert 'denied due to request throttling' in error.message


@pytest.mark.parametrize('code, status, retryable', [
    ('Throttling.User', 400, True), ('ServiceUnavailable', 503, True), ('InternalError', 500, True),
    ('InvalidRegionId.NotFound', 404, False), ('SignatureDoesNotMatch', 400, False)])
def test_service_errors_keep_code_status_and_request_id(code, status, retryable):
    cls = sdk_exceptions.ServerException if status >= 500 else sdk_exceptions.ClientException
    error = sdk.translate_exception(cls(status_code=status, code=code, message='m', request_id='R2',
                                        data={'Message': 'why'}), 'ep')
    assert (error.code, error.http_status, error.request_id, error.retryable) == (code, status, 'R2', retryable)


def test_forbidden_names_the_permission_and_the_detail():
    detail = {'AuthAction': 'ecs:DescribeTerminalSessions', 'NoPermissionType': 'ImplicitDeny'}
    error = sdk.translate_exception(sdk_exceptions.ClientException(
        status_code=403, code='Forbidden.RAM', message='m', request_id='R3', data={'Message': 'User not authorized'},
        access_denied_detail=detail), 'ep')
    text = describe(error)
    assert 'ecs:DescribeTerminalSessions' in text and 'NoPermissionType=ImplicitDeny' in text and 'R3' in text


def test_network_errors_are_retryable_and_tls_errors_are_not():
    refused = sdk.translate_exception(unretryable(RetryError('Connection refused')), '127.0.0.1:9')
    assert refused.retryable and refused.code == 'ConnectionError' and '127.0.0.1:9' in refused.message
    tls = sdk.translate_exception(unretryable(RetryError('SSLError: CERTIFICATE_VERIFY_FAILED')), 'ep')
    assert not tls.retryable and 'ca_bundle' in tls.message


def decoding_failure():
    """What darabonba raises for a body that is not JSON: a RuntimeError whose context is the ValueError."""
    try:
        try:
            raise ValueError('Expecting value')
        except ValueError:
            raise RuntimeError('Failed to parse the value as json format, Value: "<html>".')
    except RuntimeError as inner:
        return inner


def test_a_body_that_is_not_json_keeps_a_readable_excerpt():
    error = sdk.translate_exception(unretryable(decoding_failure()), 'ep')
    assert error.code == 'MalformedResponse' and 'not valid JSON' in error.message


def test_debug_sdk_is_neutralised_only_when_it_is_sdk():
    environ = {'DEBUG': 'SDK'}
    sdk.neutralise_sdk_debug(environ)
    assert 'DEBUG' not in environ
    environ = {'DEBUG': '1'}
    sdk.neutralise_sdk_debug(environ)
    assert environ == {'DEBUG': '1'}
