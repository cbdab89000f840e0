from __future__ import annotations

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialError, resolve

ENV_KEYS = {'ALIBABA_CLOUD_ACCESS_KEY_ID': 'env-id', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': 'env-secret'}


def test_options_win_over_environment():
    source = resolve({'access_key_id': 'opt-id', 'access_key_secret': 'opt-secret'}, ENV_KEYS)
    assert (source.kind, source.origin, source.access_key_id, source.access_key_secret) == (
        'access_key', 'options', 'opt-id', 'opt-secret')


def test_environment_keys_and_sts_token():
    env = dict(ENV_KEYS, ALICLOUD_SECURITY_TOKEN='tok')
    source = resolve({}, env)
    assert (source.kind, source.origin, source.security_token) == ('access_key', 'environment', 'tok')
    assert source.secrets() == ['env-secret', 'tok']


@pytest.mark.parametrize('name', ['ALICLOUD_ACCESS_KEY', 'ALICLOUD_ACCESS_KEY_ID'])
def test_legacy_environment_names(name):
    source = resolve({}, {name: 'legacy-id', 'ALICLOUD_SECRET_KEY': 'legacy-secret'})
    assert source.access_key_id == 'legacy-id' and source.access_key_secret == 'legacy-secret'


def test_nothing_given_falls_back_to_the_default_chain():
    assert resolve({}, {}).kind == 'default'


def test_explicit_profile_beats_environment_keys():
    source = resolve({'profile': 'audit'}, ENV_KEYS)
    assert (source.kind, source.profile) == ('profile', 'audit')


def test_environment_profile():
    source = resolve({}, {'ALICLOUD_PROFILE': 'ops'})
    assert (source.kind, source.profile, source.origin) == ('profile', 'ops', 'environment')


def test_ecs_role_and_assumed_role():
    source = resolve({'ecs_ram_role': 'reader', 'ram_role_arn': 'acs:ram::1:role/audit', 'role_session_expiration': 900}, {})
    assert (source.kind, source.role_name, source.role_arn, source.role_session_expiration) == (
        'ecs_ram_role', 'reader', 'acs:ram::1:role/audit', 900)


@pytest.mark.parametrize('params, env, message', [
    ({'access_key_id': 'id'}, {}, 'access_key_secret is missing'),
    ({'access_key_secret': 's'}, {}, 'access_key_id is missing'),
    ({'security_token': 't'}, ENV_KEYS, 'security_token needs'),
    ({'access_key_id': 'id', 'access_key_secret': 's', 'profile': 'p'}, {}, 'mutually exclusive'),
    ({}, {'ALIBABA_CLOUD_ACCESS_KEY_ID': 'only-id'}, 'access_key_secret is missing'),
])
def test_contradictions_are_named(params, env, message):
    with pytest.raises(CredentialError, match=message):
        resolve(params, env)


def test_an_option_key_pairs_with_an_environment_secret():
    source = resolve({'access_key_id': 'opt-id'}, ENV_KEYS)
    assert (source.access_key_id, source.access_key_secret) == ('opt-id', 'env-secret')


@pytest.mark.parametrize('params, env, message', [
    ({'access_key_id': 'LTAIkey\n', 'access_key_secret': 's3cret-value'}, {}, 'access_key_id: '),
    ({'access_key_id': 'LTAIkey', 'access_key_secret': 's3cret-value\n'}, {}, 'access_key_secret: character 13 of 13 is a control'),
    ({'access_key_id': 'LTAIkey', 'access_key_secret': 's3cret', 'security_token': 'CAIS\u00e9'}, {},
     'security_token: character 5 of 5 is a character outside ASCII'),
    ({}, {'ALIBABA_CLOUD_ACCESS_KEY_ID': 'LTAIkey', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ' s3cret'},
     'access_key_secret (from its environment variable): character 1 of 7 is white space'),
])
def test_values_that_cannot_be_sent_are_refused_without_being_quoted(params, env, message):
    with pytest.raises(CredentialError) as caught:
        resolve(params, env)
    assert str(caught.value).startswith(message)
    assert 's3cret' not in str(caught.value) and 'CAIS' not in str(caught.value)
