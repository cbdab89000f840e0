"""Bad input for the credential sources, refused before any call with a message naming the source, never the secret:
the new options (external_id, role_policy, sts_endpoint), the CLI configuration file, OIDC of ACK RRSA."""
from __future__ import annotations

import json

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils import credentials as creds
from ansible_collections.alicloud.ecs.plugins.module_utils.connection import (
    Connection, OptionError, connection_argument_spec, validate_connection)
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialError
from ansible_collections.alicloud.ecs.plugins.module_utils.endpoints import sts_endpoint_for

ROLE = 'acs:ram::1234567890123456:role/collector'
OIDC_PROVIDER = 'acs:ram::1234567890123456:oidc-provider/ack-rrsa'


def params(**given):
    values = {name: spec.get('default') for name, spec in connection_argument_spec().items()}
    values.update(region_id=['cn-hangzhou'], access_key_id='LTAIkey', access_key_secret='s3cret-value')
    values.update(given)
    return values


def refused(**given):
    with pytest.raises(OptionError) as caught:
        validate_connection(params(**given))
    return str(caught.value)


# The options ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('arn', ['arn:aws:iam::123:role/x', 'acs:ram::123:user/x', 'acs:ram:cn-hangzhou:123:role/x',
                                 'acs:ram::123:role/x\n', 'acs:ram::abc:role/x'])
def test_a_role_arn_of_another_form_is_refused(arn):
    assert refused(ram_role_arn=arn).startswith('ram_role_arn: ')


@pytest.mark.parametrize('value, expected', [
    ('tenant\n42', 'character 7 is a control character'), ('ab\x00cd', 'character 3 is a control character'),
    ('q', '2 to 1224'), ('tenant 42', '2 to 1224'), ('a' * 1225, '2 to 1224'), ('tenant-\u00e9', '2 to 1224')])
def test_an_external_id_that_sts_would_refuse_is_refused_without_being_shown(value, expected):
    message = refused(ram_role_arn=ROLE, external_id=value)
    assert message.startswith('external_id: ') and expected in message and value not in message


def test_a_valid_external_id_passes():
    validate_connection(params(ram_role_arn=ROLE, external_id='tenant-42/prod:a=b,c.d@e+f_g'))


@pytest.mark.parametrize('policy, expected', [
    ('{"Version": "1", "Statement": [', 'not valid JSON'), ('["Statement"]', 'not a list'),
    ('"text"', 'not a str'), ('{"Version": "1", "x": "%s"}' % ('a' * 2048), 'at most 2048')])
def test_a_role_policy_that_is_not_a_json_object_is_refused(policy, expected):
    message = refused(ram_role_arn=ROLE, role_policy=policy)
    assert message.startswith('role_policy: ') and expected in message


@pytest.mark.parametrize('name, value', [('external_id', 'tenant-42'), ('role_policy', '{"Version": "1"}')])
def test_the_assume_role_options_need_a_role(name, value):
    assert refused(**{name: value}) == '%s is only used with ram_role_arn, which is not set' % name


@pytest.mark.parametrize('value', ['https://sts.aliyuncs.com', 'sts.aliyuncs.com/path', 'sts..aliyuncs.com',
                                   'sts.aliyuncs.com:0', 'sts.aliyuncs.com\n'])
def test_an_sts_endpoint_that_is_not_host_port_is_refused(value):
    assert refused(sts_endpoint=value).startswith('sts_endpoint ')


def test_the_sts_endpoint_rules_in_order():
    environ = {'ALIBABA_CLOUD_STS_REGION': 'cn-beijing'}
    assert sts_endpoint_for('127.0.0.1:9443', 'vpc', ['cn-hangzhou'], 'cn-shanghai', True, environ) == '127.0.0.1:9443'
    assert sts_endpoint_for(None, 'vpc', ['cn-hangzhou'], 'cn-shanghai', None, environ) == 'sts.cn-shanghai.aliyuncs.com'
    assert sts_endpoint_for(None, 'vpc', ['cn-hangzhou'], None, None, environ) == 'sts-vpc.cn-hangzhou.aliyuncs.com'
    assert sts_endpoint_for(None, 'public', ['cn-hangzhou'], None, None, environ) == 'sts.cn-beijing.aliyuncs.com'
    assert sts_endpoint_for(None, 'public', ['cn-hangzhou'], None, None, {}) == 'sts.aliyuncs.com'


# The CLI configuration file ------------------------------------------------------------------------------------------

def write_config(tmp_path, content):
    folder = tmp_path / '.aliyun'
    folder.mkdir(exist_ok=True)
    path = folder / 'config.json'
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def profile_failure(tmp_path, content, name='ops'):
    path = write_config(tmp_path, content) if content is not None else str(tmp_path / '.aliyun' / 'config.json')
    with pytest.raises(CredentialError) as caught:
        Connection(params(access_key_id=None, access_key_secret=None, profile=name), environ={'HOME': str(tmp_path)})
    message = str(caught.value)
    assert path in message
    return message


def ram_profile(**fields):
    profile = {'name': 'ops', 'mode': 'RamRoleArn', 'access_key_id': 'LTAIprofile',
               'access_key_secret': 'profile-secret-value', 'ram_role_arn': ROLE}
    profile.update(fields)
    return {'current': 'ops', 'profiles': [profile]}


@pytest.mark.parametrize('content, expected', [
    (None, 'cannot be read'),
    ('{"current": "ops", "profiles": [', 'is not valid JSON (line 1'),
    ({'current': 'ops', 'profiles': []}, "has no profile 'ops'"),
    (ram_profile(ram_role_arn='arn:aws:iam::1:role/x'), 'ram_role_arn'),
    (ram_profile(access_key_secret=None), 'access_key_secret is missing'),
    (ram_profile(access_key_secret='profile-secret-value\n'), 'control character'),
    (ram_profile(external_id='bad\x07id'), 'external_id: character 4 is a control character'),
    (ram_profile(policy='not json'), 'policy: not valid JSON'),
    (ram_profile(expired_seconds=60), 'expired_seconds must be between 900 and 43200'),
    (ram_profile(mode=None), 'has no mode'),
    ({'current': 'ops', 'profiles': [
        {'name': 'ops', 'mode': 'ChainableRamRoleArn', 'source_profile': 'other', 'ram_role_arn': ROLE},
        {'name': 'other', 'mode': 'ChainableRamRoleArn', 'source_profile': 'ops', 'ram_role_arn': ROLE}]}, 'a loop'),
    ({'current': 'ops', 'profiles': [
        {'name': 'ops', 'mode': 'ChainableRamRoleArn', 'source_profile': 'gone', 'ram_role_arn': ROLE}]},
     "has no profile 'gone'"),
])
def test_a_profile_that_cannot_work_fails_before_any_call_naming_file_profile_and_field(tmp_path, content, expected):
    message = profile_failure(tmp_path, content)
    assert expected in message and 'profile-secret-value' not in message


def test_a_profile_error_names_the_profile_and_its_mode(tmp_path):
    message = profile_failure(tmp_path, ram_profile(ram_role_arn='acs:ram::1:user/x'))
    assert "CLI profile 'ops' (mode RamRoleArn)" in message


def test_the_profile_secrets_are_masked_from_the_start(tmp_path):
    write_config(tmp_path, ram_profile())
    connection = Connection(params(access_key_id=None, access_key_secret=None, profile='ops'),
                            environ={'HOME': str(tmp_path)})
    assert 'profile-secret-value' in connection.secrets()
    assert 'profile-secret-value' not in repr(connection.credential_source)


def test_a_profile_plan_is_pure():
    config = {'current': 'b', 'profiles': [{'name': 'b', 'mode': 'StsToken', 'access_key_id': 'STS.k',
                                            'access_key_secret': 'sec-ret', 'sts_token': 'CAIS-tok'}]}
    plan = creds.cli_profile_plan(config, None, '/nowhere/config.json')
    assert (plan.name, plan.mode, plan.built, plan.secrets()) == ('b', 'StsToken', True, ['sec-ret', 'CAIS-tok'])
    assert not creds.cli_profile_plan({'profiles': [{'name': 'x', 'mode': 'OAuth'}]}, 'x', 'f').built


# OIDC (ACK RRSA) -----------------------------------------------------------------------------------------------------

def oidc_environ(tmp_path, token='eyJ.token.value', **more):
    token_file = tmp_path / 'token'
    if token is not None:
        token_file.write_text(token)
    environ = {'HOME': str(tmp_path), 'ALIBABA_CLOUD_ROLE_ARN': ROLE, 'ALIBABA_CLOUD_OIDC_PROVIDER_ARN': OIDC_PROVIDER,
               'ALIBABA_CLOUD_OIDC_TOKEN_FILE': str(token_file)}
    environ.update(more)
    return environ


def oidc_failure(environ):
    with pytest.raises(CredentialError) as caught:
        Connection(params(access_key_id=None, access_key_secret=None), environ=environ)
    return str(caught.value)


def test_a_missing_or_empty_token_file_fails_naming_the_variable(tmp_path):
    message = oidc_failure(oidc_environ(tmp_path, token=None))
    assert 'ALIBABA_CLOUD_OIDC_TOKEN_FILE' in message and 'cannot be read' in message
    message = oidc_failure(oidc_environ(tmp_path, token=' \n'))
    assert 'ALIBABA_CLOUD_OIDC_TOKEN_FILE' in message and 'is empty' in message


@pytest.mark.parametrize('name, value', [('ALIBABA_CLOUD_ROLE_ARN', 'acs:ram::1:oidc-provider/x'),
                                         ('ALIBABA_CLOUD_OIDC_PROVIDER_ARN', ROLE),
                                         ('ALIBABA_CLOUD_ROLE_SESSION_NAME', 'a b')])
def test_oidc_variables_of_another_form_are_named(tmp_path, name, value):
    message = oidc_failure(oidc_environ(tmp_path, **{name: value}))
    assert message.startswith(name) and '(OIDC)' in message


def test_oidc_needs_all_three_variables(tmp_path):
    environ = oidc_environ(tmp_path)
    del environ['ALIBABA_CLOUD_OIDC_PROVIDER_ARN']
    source = Connection(params(access_key_id=None, access_key_secret=None), environ=environ).credential_source
    assert source.kind == 'default' and source.oidc is None


def test_the_token_is_never_in_the_description(tmp_path):
    source = Connection(params(access_key_id=None, access_key_secret=None), environ=oidc_environ(tmp_path)).credential_source
    assert 'eyJ.token.value' not in source.describe() and 'ALIBABA_CLOUD_OIDC_TOKEN_FILE' in source.describe()


def test_the_policy_sent_to_sts_holds_no_space_and_means_the_same():
    policy = '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:Describe*", "Condition": "a b"}]}'
    sent = creds.sts_policy_text(policy)
    assert ' ' not in sent and json.loads(sent) == json.loads(policy)
    assert creds.sts_policy_text(None) is None


def test_a_role_policy_given_as_a_dictionary_is_checked_as_its_json():
    validate_connection(params(ram_role_arn=ROLE, role_policy={'Version': '1', 'Statement': []}))
    assert 'got list' in refused(ram_role_arn=ROLE, role_policy=['Statement'])
    source = Connection(params(ram_role_arn=ROLE, role_policy={'Version': '1', 'Statement': []}), environ={}).credential_source
    assert json.loads(source.role_policy) == {'Version': '1', 'Statement': []}
