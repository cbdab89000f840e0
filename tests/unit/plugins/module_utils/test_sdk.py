from __future__ import annotations

import pytest

from alibabacloud_credentials.provider import default as default_provider
from alibabacloud_tea_openapi import exceptions as sdk_exceptions
from darabonba.exceptions import RetryError, UnretryableException
from darabonba.policy.retry import RetryPolicyContext

from ansible_collections.alicloud.ecs.plugins.module_utils import errors, sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialSource
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import describe, remember_secrets

SETTINGS = {'endpoint': '127.0.0.1:1', 'protocol': 'http', 'validate_certs': True}


@pytest.fixture(autouse=True)
def fresh_secret_registry(monkeypatch):
    """Each test starts with no remembered secret (the registry is process-wide; 'token' of one test would mask
    'Token' in the next)."""
    monkeypatch.setattr(errors, 'SECRETS', errors._Registry())


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
    assert type(credential.provider()).__name__ == '_ChainProvider'
    assert credential.client.cloud_credential.provider.credential is credential


def test_an_assumed_role_wraps_the_static_keys():
    credential = sdk.build_credential(CredentialSource('access_key', 'options', 'id', 'secret',
                                                       role_arn='acs:ram::1:role/r', role_session_name='audit'))
    assert type(credential.provider()).__name__ == 'RamRoleArnCredentialsProvider'


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


def test_the_sdk_loggers_print_nothing_and_keep_scrubbed_texts(capfd):
    import logging
    import threading
    sdk.capture_sdk_logs()
    sdk.capture_sdk_logs()  # idempotent: still one handler each
    sdk.drain_sdk_logs()
    remember_secrets(['CAIS+unit/token=='])
    for name in sdk.SDK_LOGGERS:
        logger = logging.getLogger(name)
        assert logger.handlers == [sdk._LOG_CAPTURE.handler] and logger.propagate is False, name
    # As the SDK's refresh does: from another thread, the failed STS URL with the token %-encoded in it.
    worker = threading.Thread(target=logging.getLogger('credentials').warning,
                              args=('Refresh credentials failed, error: url: /?SecurityToken=CAIS%2Bunit%2Ftoken%3D%3D',))
    worker.start()
    worker.join()
    texts = sdk.drain_sdk_logs()
    assert texts == ['credentials WARNING: Refresh credentials failed, error: url: /?SecurityToken=********']
    assert sdk.drain_sdk_logs() == []
    captured = capfd.readouterr()
    assert 'Refresh credentials' not in captured.err + captured.out


def test_the_buffer_is_bounded():
    import logging
    sdk.capture_sdk_logs()
    sdk.drain_sdk_logs()
    for index in range(sdk.MAX_CAPTURED_LOGS + 50):
        logging.getLogger('darabonba-core').warning('line %d', index)
    texts = sdk.drain_sdk_logs()
    assert len(texts) == sdk.MAX_CAPTURED_LOGS and texts[-1].endswith('line %d' % (sdk.MAX_CAPTURED_LOGS + 49))


def test_no_sdk_module_keeps_a_logger_of_its_own_that_prints():
    """The seam of capture_sdk_logs: fails when an SDK upgrade logs through a logger not in SDK_LOGGERS."""
    import importlib
    import logging
    import pkgutil
    for package in ('alibabacloud_credentials', 'alibabacloud_tea_openapi', 'darabonba', 'Tea'):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, package + '.'):
            try:
                importlib.import_module(info.name)
            except ImportError:  # optional extras of the SDK (aiohttp-only helpers) are not installed
                pass
    sdk.capture_sdk_logs()
    printing = []
    for name, logger in logging.root.manager.loggerDict.items():
        if not isinstance(logger, logging.Logger) or name in sdk.SDK_LOGGERS:
            continue
        sdk_module = name.split('.')[0] in ('credentials', 'alibabacloud_credentials', 'alibabacloud_tea_openapi',
                                            'darabonba', 'darabonba-core', 'Tea', 'alibabacloud-tea')
        # A StreamHandler, as the SDK adds, to stderr; not a log file of a test tool.
        prints = [handler for handler in logger.handlers
                  if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)]
        if sdk_module or prints:
            printing.append(name)
    assert printing == []


def test_the_temporary_credentials_the_sdk_obtains_are_remembered():
    class Obtained:
        def get_access_key_id(self):
            return 'STS.temporary'

        def get_access_key_secret(self):
            return 'temporary-secret-from-sts'

        def get_security_token(self):
            return 'CAIS-temporary-token-from-sts'

        def get_provider_name(self):
            return 'ram_role_arn'

    class Provider:
        def get_credentials(self):
            return Obtained()

        def get_provider_name(self):
            return 'ram_role_arn'

    credential = sdk.Credential(Provider, 'a test provider')
    assert credential.client.cloud_credential.provider.get_provider_name() == 'ram_role_arn'
    credential.client.get_credential()
    assert describe_scrubbed('temporary-secret-from-sts and CAIS-temporary-token-from-sts') == '******** and ********'


def describe_scrubbed(text):
    from ansible_collections.alicloud.ecs.plugins.module_utils.errors import scrub
    return scrub(text)


@pytest.mark.parametrize('name, value, option', [('x-acs-security-token', 'CAIS-unit\r', 'security_token'),
                                                 ('authorization', ' ACS3 key', 'access_key_id')])
def test_a_header_value_requests_refuses_is_a_clear_error_without_the_value(name, value, option):
    from requests.exceptions import InvalidHeader
    from requests.utils import check_header_validity
    with pytest.raises(InvalidHeader) as caught:
        check_header_validity((name, value))
    refused = caught.value
    translated = sdk.translate_exception(unretryable(refused), 'ep')
    assert translated.code == 'InvalidHeaderValue' and not translated.retryable
    assert name in translated.message and option in translated.message
    assert value.strip() not in translated.message


def test_a_token_requests_refuses_fails_once_naming_the_header_through_the_real_client():
    """Through the SDK as installed: requests refuses the header before connecting; darabonba wraps its error."""
    source = CredentialSource('access_key', 'options', 'STS.id', 'secret-value', 'CAIS-real-path\r')
    client = sdk.RpcClient(SETTINGS, source)
    with pytest.raises(sdk.AlicloudError) as caught:
        client.call('DescribeTerminalSessions', {'RegionId': 'cn-hangzhou'})
    error = caught.value
    assert (error.code, error.retryable) == ('InvalidHeaderValue', False)
    assert 'x-acs-security-token' in error.message and 'security_token' in error.message
    assert 'CAIS-real-path' not in str(error)
