"""The credential providers the collection builds (no network: the providers are built and inspected), the default
chain it walks, the transport rules of credential calls, and the page retried once after an expired STS token.

The SDK providers' settings are read from their attributes as alibabacloud-credentials 1.0.12 names them; a rename
in an upgrade fails here, which is where it should be noticed.
"""
from __future__ import annotations

import json

import pytest

from alibabacloud_credentials.provider import (
    CLIProfileCredentialsProvider, EcsRamRoleCredentialsProvider, OIDCRoleArnCredentialsProvider,
    RamRoleArnCredentialsProvider, StaticAKCredentialsProvider, StaticSTSCredentialsProvider)
from alibabacloud_credentials.utils import auth_util
from alibabacloud_tea_openapi import exceptions as sdk_exceptions

from ansible_collections.alicloud.ecs.plugins.module_utils import credentials as creds
from ansible_collections.alicloud.ecs.plugins.module_utils import errors, sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.connection import Connection, connection_argument_spec
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError

ROLE = 'acs:ram::1234567890123456:role/collector'
OTHER_ROLE = 'acs:ram::1234567890123456:role/auditor'
OIDC_PROVIDER = 'acs:ram::1234567890123456:oidc-provider/ack-rrsa'
POLICY = '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]}'
# As sent to STS: compact, no space (see credentials.sts_policy_text).
SENT_POLICY = '{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}'


@pytest.fixture(autouse=True)
def fresh_secret_registry(monkeypatch):
    """A registry of its own per test, and no SDK log line left for the next test (the buffer is process-wide)."""
    monkeypatch.setattr(errors, 'SECRETS', errors._Registry())
    yield
    sdk.drain_sdk_logs()


@pytest.fixture
def metadata_allowed(monkeypatch):
    """The SDK read ALIBABA_CLOUD_ECS_METADATA_DISABLED=true at import (the hermetic test environment): building an
    instance-role provider is allowed here, calling it is not (the network guard refuses the address)."""
    monkeypatch.setattr(auth_util, 'environment_ecs_metadata_disabled', 'false')


def params(**given):
    """Module parameters as AnsibleModule would pass them: every option, defaults applied."""
    found = {name: spec.get('default') for name, spec in connection_argument_spec().items()}
    found.update(region_id=['cn-hangzhou'], access_key_id='LTAItest', access_key_secret='test-secret')
    found.update(given)
    return found


def built(connection):
    credential = sdk.build_credential(connection.credential_source, connection.sts_settings())
    return credential.provider()


def hermetic_env(tmp_path, **variables):
    environ = {'HOME': str(tmp_path), 'ALIBABA_CLOUD_ECS_METADATA_DISABLED': 'true',
               'ALIBABA_CLOUD_CLI_PROFILE_DISABLED': 'true'}
    environ.update(variables)
    return environ


def cli_config(tmp_path, profiles, current=None):
    folder = tmp_path / '.aliyun'
    folder.mkdir(exist_ok=True)
    path = folder / 'config.json'
    path.write_text(json.dumps({'current': current or profiles[0]['name'], 'profiles': profiles}))
    return str(path)


# ram_role_arn -------------------------------------------------------------------------------------------------------

def test_ram_role_arn_carries_every_assume_role_parameter_and_the_sts_settings(tmp_path):
    connection = Connection(params(ram_role_arn=ROLE, role_session_name='nightly-audit', role_session_expiration=1800,
                                   external_id='tenant-42', role_policy=POLICY, sts_endpoint='127.0.0.1:8443',
                                   https_proxy='http://proxy.example:3128', connect_timeout=2.5, read_timeout=7),
                            hermetic_env(tmp_path))
    provider = built(connection)
    assert isinstance(provider, RamRoleArnCredentialsProvider)
    expected = (ROLE, 'nightly-audit', 1800, 'tenant-42', SENT_POLICY, '127.0.0.1:8443')
    assert (provider._role_arn, provider._role_session_name, provider._duration_seconds, provider._external_id,
            provider._policy, provider._sts_endpoint) == expected
    assert provider._runtime_options == {'connectTimeout': 2500, 'readTimeout': 7000,
                                         'httpsProxy': 'http://proxy.example:3128'}
    assert isinstance(provider._credentials_provider, StaticAKCredentialsProvider)


def test_a_role_policy_given_as_a_dictionary_reaches_sts_as_json_text(tmp_path):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    raw = {'region_id': ['cn-hangzhou'], 'access_key_id': 'LTAItest', 'access_key_secret': 'test-secret',
           'ram_role_arn': ROLE, 'role_policy': json.loads(POLICY)}
    validated = ArgumentSpecValidator(connection_argument_spec()).validate(raw)
    assert not validated.error_messages
    provider = built(Connection(validated.validated_parameters, hermetic_env(tmp_path)))
    assert json.loads(provider._policy) == json.loads(POLICY)


@pytest.mark.parametrize('endpoint_type, regions, environ, expected', [
    ('vpc', ['cn-shanghai', 'cn-hangzhou'], {}, 'sts-vpc.cn-shanghai.aliyuncs.com'),
    ('public', ['cn-shanghai'], {}, 'sts.aliyuncs.com'),
    ('public', ['cn-shanghai'], {'ALIBABA_CLOUD_STS_REGION': 'cn-beijing'}, 'sts.cn-beijing.aliyuncs.com'),
    ('public', ['cn-shanghai'], {'ALIBABA_CLOUD_STS_REGION': 'cn-beijing', 'ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED': 'true'},
     'sts-vpc.cn-beijing.aliyuncs.com'),
])
def test_without_sts_endpoint_the_type_and_the_sdk_variables_choose(tmp_path, endpoint_type, regions, environ,
                                                                    expected):
    connection = Connection(params(ram_role_arn=ROLE, endpoint_type=endpoint_type, region_id=regions),
                            hermetic_env(tmp_path, **environ))
    assert built(connection)._sts_endpoint == expected


def test_sts_endpoint_wins_over_the_vpc_default(tmp_path):
    connection = Connection(params(ram_role_arn=ROLE, endpoint_type='vpc', sts_endpoint='sts.internal.example:443'),
                            hermetic_env(tmp_path))
    assert built(connection)._sts_endpoint == 'sts.internal.example:443'


def test_a_role_assumed_with_an_sts_token_signs_with_the_token(tmp_path):
    connection = Connection(params(security_token='CAIS-caller-token', ram_role_arn=ROLE), hermetic_env(tmp_path))
    assert isinstance(built(connection)._credentials_provider, StaticSTSCredentialsProvider)


# The CLI profile ----------------------------------------------------------------------------------------------------

def profile_params(name=None, **given):
    found = params(access_key_id=None, access_key_secret=None, profile=name)
    found.update(given)
    return found


def test_profile_ram_role_arn_is_built_with_the_sts_endpoint_option(tmp_path):
    cli_config(tmp_path, [{'name': 'ops', 'mode': 'RamRoleArn', 'access_key_id': 'LTAIprofile',
                           'access_key_secret': 'profile-secret', 'ram_role_arn': ROLE, 'ram_session_name': 'laptop',
                           'expired_seconds': 900, 'external_id': 'ext-1', 'policy': POLICY, 'sts_region': 'cn-beijing'}])
    connection = Connection(profile_params('ops', sts_endpoint='127.0.0.1:9443'), hermetic_env(tmp_path))
    provider = built(connection)
    assert isinstance(provider, RamRoleArnCredentialsProvider)
    assert (provider._role_arn, provider._role_session_name, provider._duration_seconds, provider._external_id,
            provider._policy, provider._sts_endpoint) == (ROLE, 'laptop', 900, 'ext-1', SENT_POLICY, '127.0.0.1:9443')
    base = provider._credentials_provider
    assert isinstance(base, StaticAKCredentialsProvider) and base.get_credentials().get_access_key_id() == 'LTAIprofile'
    # The profile's secret is known (masked) before any call.
    assert errors.scrub('profile-secret') == errors.MASK


def test_profile_sts_region_applies_without_the_option(tmp_path):
    cli_config(tmp_path, [{'name': 'ops', 'mode': 'RamRoleArn', 'access_key_id': 'LTAIprofile',
                           'access_key_secret': 'profile-secret', 'ram_role_arn': ROLE, 'sts_region': 'cn-beijing',
                           'enable_vpc': True}])
    provider = built(Connection(profile_params('ops'), hermetic_env(tmp_path)))
    assert provider._sts_endpoint == 'sts-vpc.cn-beijing.aliyuncs.com'


def test_chainable_profiles_build_their_whole_source_chain(tmp_path, metadata_allowed):
    cli_config(tmp_path, [
        {'name': 'top', 'mode': 'ChainableRamRoleArn', 'source_profile': 'middle', 'ram_role_arn': OTHER_ROLE,
         'ram_session_name': 'top-session'},
        {'name': 'middle', 'mode': 'ChainableRamRoleArn', 'source_profile': 'base', 'ram_role_arn': ROLE},
        {'name': 'base', 'mode': 'EcsRamRole', 'ram_role_name': 'node-role'},
    ])
    provider = built(Connection(profile_params('top', sts_endpoint='127.0.0.1:9443', https_proxy='http://p.example:1'),
                                hermetic_env(tmp_path)))
    assert (provider._role_arn, provider._role_session_name, provider._sts_endpoint) == (OTHER_ROLE, 'top-session',
                                                                                         '127.0.0.1:9443')
    middle = provider._credentials_provider
    assert isinstance(middle, RamRoleArnCredentialsProvider)
    assert (middle._role_arn, middle._sts_endpoint) == (ROLE, '127.0.0.1:9443')
    base = middle._credentials_provider
    assert isinstance(base, EcsRamRoleCredentialsProvider)
    # The metadata service: never through the proxy given for https.
    assert base._runtime_options['httpProxy'] is None


def test_profile_modes_the_collection_does_not_build_go_to_the_sdk_as_they_are(tmp_path):
    path = cli_config(tmp_path, [{'name': 'sso', 'mode': 'CloudSSO', 'cloud_sso_sign_in_url': 'https://example'}])
    provider = built(Connection(profile_params('sso'), hermetic_env(tmp_path)))
    assert isinstance(provider, CLIProfileCredentialsProvider)
    assert (provider._profile_name, provider._profile_file) == ('sso', path)


def test_profile_static_modes(tmp_path):
    cli_config(tmp_path, [{'name': 'ak', 'mode': 'AK', 'access_key_id': 'LTAIak', 'access_key_secret': 'ak-secret'},
                          {'name': 'sts', 'mode': 'StsToken', 'access_key_id': 'STS.x', 'access_key_secret': 's-secret',
                           'sts_token': 'CAIS-profile-token'}])
    assert isinstance(built(Connection(profile_params('ak'), hermetic_env(tmp_path))), StaticAKCredentialsProvider)
    sts = built(Connection(profile_params('sts'), hermetic_env(tmp_path)))
    assert isinstance(sts, StaticSTSCredentialsProvider)
    assert sts.get_credentials().get_security_token() == 'CAIS-profile-token'


def test_the_current_profile_is_used_without_a_name(tmp_path):
    cli_config(tmp_path, [{'name': 'a', 'mode': 'AK', 'access_key_id': 'LTAIa', 'access_key_secret': 'a-secret'},
                          {'name': 'b', 'mode': 'AK', 'access_key_id': 'LTAIb', 'access_key_secret': 'b-secret'}],
               current='b')
    connection = Connection(profile_params(None, shared_credentials_file=str(tmp_path / '.aliyun' / 'config.json')),
                            hermetic_env(tmp_path))
    assert built(connection).get_credentials().get_access_key_id() == 'LTAIb'


# OIDC and the default chain -----------------------------------------------------------------------------------------

def oidc_env(tmp_path, token='eyJhbGciOi.test.token', **more):
    token_file = tmp_path / 'token'
    token_file.write_text(token)
    return hermetic_env(tmp_path, ALIBABA_CLOUD_ROLE_ARN=ROLE, ALIBABA_CLOUD_OIDC_PROVIDER_ARN=OIDC_PROVIDER,
                        ALIBABA_CLOUD_OIDC_TOKEN_FILE=str(token_file), **more)


def test_oidc_from_the_rrsa_variables_is_built_with_the_sts_settings(tmp_path):
    environ = oidc_env(tmp_path, ALIBABA_CLOUD_ROLE_SESSION_NAME='awx-job-7')
    connection = Connection(params(access_key_id=None, access_key_secret=None, sts_endpoint='127.0.0.1:9443',
                                   read_timeout=3), environ)
    provider = built(connection)
    assert isinstance(provider, OIDCRoleArnCredentialsProvider)
    assert (provider._role_arn, provider._oidc_provider_arn, provider._oidc_token_file_path, provider._role_session_name,
            provider._sts_endpoint) == (ROLE, OIDC_PROVIDER, environ['ALIBABA_CLOUD_OIDC_TOKEN_FILE'], 'awx-job-7',
                                        '127.0.0.1:9443')
    assert provider._runtime_options['readTimeout'] == 3000


def test_oidc_with_a_role_to_assume_chains_the_two(tmp_path):
    connection = Connection(params(access_key_id=None, access_key_secret=None, ram_role_arn=OTHER_ROLE,
                                   endpoint_type='vpc'), oidc_env(tmp_path))
    provider = built(connection)
    assert isinstance(provider, RamRoleArnCredentialsProvider)
    assert isinstance(provider._credentials_provider, OIDCRoleArnCredentialsProvider)
    assert provider._sts_endpoint == provider._credentials_provider._sts_endpoint == 'sts-vpc.cn-hangzhou.aliyuncs.com'


def test_environment_keys_come_before_oidc(tmp_path):
    environ = oidc_env(tmp_path, ALIBABA_CLOUD_ACCESS_KEY_ID='LTAIenv', ALIBABA_CLOUD_ACCESS_KEY_SECRET='env-secret')
    connection = Connection(params(access_key_id=None, access_key_secret=None), environ)
    assert connection.credential_source.kind == 'access_key' and connection.credential_source.oidc is None


def test_the_default_chain_walks_the_sdk_order(tmp_path):
    environ = hermetic_env(tmp_path, ALIBABA_CLOUD_ECS_METADATA_DISABLED='false', ALIBABA_CLOUD_CLI_PROFILE_DISABLED='false',
                           ALIBABA_CLOUD_CREDENTIALS_URI='http://127.0.0.1:1/creds')
    provider = built(Connection(params(access_key_id=None, access_key_secret=None), environ))
    assert [label for label, _factory in provider._entries] == [
        'CLI profile', 'credentials file', 'ECS instance RAM role', 'credentials URI']
    quiet = built(Connection(params(access_key_id=None, access_key_secret=None), hermetic_env(tmp_path)))
    assert [label for label, _factory in quiet._entries] == ['credentials file']


def test_the_chain_uses_the_first_source_that_answers_and_names_every_failure():
    class Answers:
        def __init__(self, name):
            self.name = name

        def get_credentials(self):
            return self.name

    def broken():
        raise ValueError('no file here')

    chain = sdk._ChainProvider([('first', broken), ('second', lambda: Answers('B')), ('third', lambda: Answers('C'))])
    assert chain.get_credentials() == 'B' and chain.get_credentials() == 'B'
    with pytest.raises(AlicloudError) as failed:
        sdk._ChainProvider([('CLI profile', broken), ('credentials file', broken)]).get_credentials()
    assert 'CLI profile: no file here' in str(failed.value) and 'credentials file: no file here' in str(failed.value)
    assert failed.value.code == 'CredentialsNotFound'


def test_the_chain_reads_the_current_cli_profile_and_builds_its_role(tmp_path):
    cli_config(tmp_path, [{'name': 'ops', 'mode': 'RamRoleArn', 'access_key_id': 'LTAIprofile',
                           'access_key_secret': 'chain-profile-secret', 'ram_role_arn': ROLE}])
    environ = hermetic_env(tmp_path, ALIBABA_CLOUD_CLI_PROFILE_DISABLED='false')
    connection = Connection(params(access_key_id=None, access_key_secret=None, sts_endpoint='127.0.0.1:9443'), environ)
    chain = built(connection)
    label, factory = chain._entries[0]
    provider = factory()
    assert label == 'CLI profile' and isinstance(provider, RamRoleArnCredentialsProvider)
    assert provider._sts_endpoint == '127.0.0.1:9443'
    assert errors.scrub('chain-profile-secret') == errors.MASK


def test_the_instance_role_has_no_background_thread_and_no_proxy(tmp_path, metadata_allowed):
    connection = Connection(params(access_key_id=None, access_key_secret=None, ecs_ram_role='node-role',
                                   http_proxy='http://proxy.example:3128', https_proxy='http://proxy.example:3128'),
                            hermetic_env(tmp_path))
    provider = built(connection)
    assert isinstance(provider, EcsRamRoleCredentialsProvider)
    assert provider._runtime_options['httpProxy'] is None and provider._role_name == 'node-role'
    assert type(provider._credentials_cache._prefetch_strategy).__name__ == 'OneCallerBlocks'
    assert provider._disable_imds_v1 is True  # hardened (token) mode only: never an IMDSv1 read


# Transport of credential calls --------------------------------------------------------------------------------------

class Request:
    def __init__(self, url):
        self.url = url


def sent_with(url, ca_bundle, **kwargs):
    seen = {}

    def send(request, **given):
        seen.update(given)
        return 'response'

    with sdk.credential_calls(ca_bundle):
        assert sdk._credential_send(send)(Request(url), **kwargs) == 'response'
    return seen


def test_the_metadata_service_is_never_reached_through_a_proxy():
    seen = sent_with('http://100.100.100.200/latest/api/token', None, proxies={'http': 'http://proxy.example:3128'})
    assert seen['proxies'] == {}


def test_sts_calls_trust_the_ca_bundle_of_the_call_in_progress():
    assert sent_with('https://127.0.0.1:9443/?Action=AssumeRole', '/tmp/ca.pem', verify=True)['verify'] == '/tmp/ca.pem'
    assert sent_with('https://127.0.0.1:9443/?Action=AssumeRole', None, verify=True)['verify'] is True
    # Outside a call (another thread, or after it) nothing is changed; a verify=False of the SDK is left alone.
    assert sent_with('https://127.0.0.1:9443/', '/tmp/ca.pem', verify=False)['verify'] is False
    seen = {}
    sdk._credential_send(lambda request, **given: seen.update(given))(Request('https://127.0.0.1:9443/'), verify=True)
    assert seen['verify'] is True


def test_the_credential_transport_is_installed_on_the_sdk_sessions_of_the_credential_providers():
    sdk._sdk()
    from Tea.core import TeaCore
    from darabonba.core import DaraCore
    tea = TeaCore._get_session('https://127.0.0.1:9:None', 'https', verify=True)
    dara = DaraCore._get_session('https://127.0.0.1:9', 'https', verify=True)
    assert tea.send.__name__ == 'guarded_send' and dara.send.__name__ != 'guarded_send'


# Fresh credentials on every call, and the page retried once after an expired token -----------------------------------

class Keys:
    def __init__(self, serial):
        self.serial = serial

    def get_access_key_id(self):
        return 'STS.key%d' % self.serial

    def get_access_key_secret(self):
        return 'temporary-secret-%d' % self.serial

    def get_security_token(self):
        return 'CAIS-token-%d' % self.serial

    def get_provider_name(self):
        return 'ram_role_arn'


class CountingFactory:
    """A provider tree factory: each tree hands out the keys of its serial; counts the trees and the asks."""

    def __init__(self):
        self.trees = 0
        self.asked = 0

    def __call__(self):
        self.trees += 1
        serial = self.trees
        factory = self

        class Provider:
            def get_credentials(self):
                factory.asked += 1
                return Keys(serial)

            def get_provider_name(self):
                return 'ram_role_arn'
        return Provider()


class FakeSdkClient:
    """Stands for tea-openapi's Client: asks the credential client for keys on every call, as 0.4.6 does."""

    def __init__(self, credential, answers):
        self.credential = credential
        self.answers = list(answers)
        self.keys_used = []

    def call_api(self, params, request, runtime):
        self.keys_used.append(self.credential.client.get_credential().access_key_id)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {'statusCode': 200, 'body': answer}


def expired():
    return sdk_exceptions.ClientException(status_code=400, code='InvalidSecurityToken.Expired',
                                          message='Specified SecurityToken is expired.', request_id='R-exp',
                                          data={'Message': 'Specified SecurityToken is expired.'})


def rpc_client(factory, answers):
    credential = sdk.Credential(factory, 'the RAM role %s assumed with the access key LTAItest' % ROLE)
    source = creds.CredentialSource('access_key', 'options', 'LTAItest', 'test-secret', role_arn=ROLE)
    client = sdk.RpcClient({'endpoint': '127.0.0.1:1', 'protocol': 'http'}, source, credential)
    client._client = FakeSdkClient(credential, answers)
    return client, credential


def test_every_call_asks_for_current_keys():
    factory = CountingFactory()
    client, _credential = rpc_client(factory, [{'page': 1}, {'page': 2}, {'page': 3}])
    assert [client.call('DescribeTerminalSessions', {'RegionId': 'cn-hangzhou'})['page'] for _page in range(3)] == [1, 2, 3]
    assert factory.asked == 3 and factory.trees == 1


def test_an_expired_token_renews_the_credentials_and_sends_the_page_once_more():
    factory = CountingFactory()
    client, credential = rpc_client(factory, [expired(), {'page': 'again'}])
    assert client.call('DescribeTerminalSessions', {'RegionId': 'cn-hangzhou'}) == {'page': 'again'}
    assert client._client.keys_used == ['STS.key1', 'STS.key2'] and credential.generation == 1
    # The temporary secrets are masked in every message from the moment they arrive.
    assert errors.scrub('temporary-secret-2 CAIS-token-2') == '%s %s' % (errors.MASK, errors.MASK)


def test_a_token_expired_again_after_renewal_fails_the_call():
    factory = CountingFactory()
    client, _credential = rpc_client(factory, [expired(), expired(), {'page': 'never'}])
    with pytest.raises(AlicloudError) as failed:
        client.call('DescribeTerminalSessions', {'RegionId': 'cn-hangzhou'})
    assert failed.value.code == 'InvalidSecurityToken.Expired' and not failed.value.retryable
    assert factory.trees == 2 and len(client._client.keys_used) == 2
    assert 'credentials renewed once from the RAM role %s' % ROLE in str(failed.value)


def test_static_keys_are_not_renewed():
    source = creds.CredentialSource('access_key', 'options', 'STS.static', 'test-secret', 'CAIS-static')
    client = sdk.RpcClient({'endpoint': '127.0.0.1:1', 'protocol': 'http'}, source, None)
    calls = []

    class Fake:
        def call_api(self, params, request, runtime):
            calls.append(1)
            raise expired()
    client._client = Fake()
    with pytest.raises(AlicloudError) as failed:
        client.call('DescribeTerminalSessions', {'RegionId': 'cn-hangzhou'})
    assert failed.value.code == 'InvalidSecurityToken.Expired' and len(calls) == 1


def test_threads_that_meet_an_expired_token_together_renew_once():
    factory = CountingFactory()
    credential = sdk.Credential(factory, 'test')
    seen = credential.generation
    credential.renew(seen)
    credential.renew(seen)  # a second thread that saw the same generation: nothing more
    assert factory.trees == 2 and credential.generation == 1


def test_a_refresh_that_fails_names_the_source_and_masks_the_sts_url():
    class Failing:
        def get_credentials(self):
            raise RuntimeError("HTTPSConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
                               "/?AccessKeyId=LTAIcaller&Action=AssumeRole&SecurityToken=CAIS-unknown-caller-token"
                               "&Signature=abc%2Fdef%3D (Caused by NewConnectionError('refused'))")

        def get_provider_name(self):
            return 'ram_role_arn'

    credential = sdk.Credential(Failing, 'the RAM role %s assumed with the CLI profile \'ops\'' % ROLE)
    with pytest.raises(AlicloudError) as failed:
        credential.client.get_credential()
    text = str(failed.value)
    assert ROLE in text and "'ops'" in text and failed.value.code == 'CredentialsNotFound'
    assert 'CAIS-unknown-caller-token' not in text and 'abc%2Fdef' not in text and 'LTAIcaller' not in text
    assert not failed.value.retryable


def test_a_failed_refresh_inside_a_call_reaches_the_caller_as_the_credential_error():
    """Through tea-openapi's real client: the provider's error is what the call fails with, not a retried network error."""
    class Failing:
        def get_credentials(self):
            raise RuntimeError('STS unreachable')

        def get_provider_name(self):
            return 'ram_role_arn'

    credential = sdk.Credential(Failing, 'the RAM role %s' % ROLE)
    source = creds.CredentialSource('access_key', 'options', 'LTAItest', 'test-secret', role_arn=ROLE)
    client = sdk.RpcClient({'endpoint': '127.0.0.1:1', 'protocol': 'http'}, source, credential)
    with pytest.raises(AlicloudError) as failed:
        client.call('DescribeTerminalSessions', {'RegionId': 'cn-hangzhou'})
    assert failed.value.code == 'CredentialsNotFound' and ROLE in str(failed.value)
    assert 'STS unreachable' in str(failed.value) and not failed.value.retryable
