"""The local STS and instance-metadata stand-ins, and the ECS endpoint's acceptance of the keys they issue.

Driven by the SDK's own credential providers where they can reach a loopback address (STS), and by raw requests for
each rule (wrong signature, expired key, bad RoleArn, missing metadata token, unknown role).
"""
from __future__ import annotations

import calendar
import json
import time

import pytest

from ecs_endpoint import rawclient
from ecs_endpoint.identities import IdentityRegistry
from ecs_endpoint.metadata import MetadataEndpoint, TOKEN_HEADER, TTL_HEADER
from ecs_endpoint.server import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from ecs_endpoint.sts import StsEndpoint

ROLE = 'acs:ram::1234567890123456:role/collector'
OTHER_ROLE = 'acs:ram::1234567890123456:role/auditor'
OIDC_PROVIDER = 'acs:ram::1234567890123456:oidc-provider/ack-rrsa-c1'
QUERY = {'RegionId': 'cn-hangzhou', 'MaxResults': '100'}
STATIC = {DEFAULT_ACCESS_KEY_ID: {'secret': DEFAULT_ACCESS_KEY_SECRET, 'security_token': None}}


@pytest.fixture
def registry():
    return IdentityRegistry(STATIC)


@pytest.fixture
def sts(registry):
    endpoint = StsEndpoint(registry, roles={ROLE: {'external_id': None, 'oidc_provider': OIDC_PROVIDER},
                                            OTHER_ROLE: {'external_id': 'tenant-42', 'oidc_provider': None}}).start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def ecs(make_endpoint, registry):
    return make_endpoint(credentials=registry)


@pytest.fixture
def trust_sts(sts, monkeypatch):
    """The SDK's STS client trusts the test CA (it honours SSL_CERT_FILE, read when its TLS context is made)."""
    monkeypatch.setenv('SSL_CERT_FILE', sts.ca_file)
    return sts


def assume(sts, params, key_id=DEFAULT_ACCESS_KEY_ID, secret=DEFAULT_ACCESS_KEY_SECRET, token=None, **knobs):
    return rawclient.v2_call(sts.endpoint, params, key_id, secret, method='GET', action='AssumeRole', version='2015-04-01',
                             security_token=token, protocol='https', ca_file=sts.ca_file, **knobs)


def test_sdk_ram_role_arn_provider_gets_keys_the_ecs_endpoint_attributes_to_the_role(trust_sts, ecs, sdk):
    from alibabacloud_credentials.provider import RamRoleArnCredentialsProvider  # pylint: disable=import-outside-toplevel
    provider = RamRoleArnCredentialsProvider(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
                                             role_arn=ROLE, role_session_name='nightly-audit', duration_seconds=1800,
                                             policy='{"Version":"1","Statement":[]}', sts_endpoint=trust_sts.endpoint)
    creds = provider.get_credentials()
    assert creds.get_access_key_id().startswith('STS.')
    [record] = trust_sts.issued
    assert record['role_arn'] == ROLE and record['role_session_name'] == 'nightly-audit'
    assert record['duration_seconds'] == 1800 and record['policy'] == '{"Version":"1","Statement":[]}'
    assert record['caller'] == 'static:%s' % DEFAULT_ACCESS_KEY_ID and record['action'] == 'AssumeRole'
    client = sdk.client(ecs, access_key_id=creds.get_access_key_id(), secret=creds.get_access_key_secret(),
                        token=creds.get_security_token())
    sdk.call(client, QUERY)
    sdk.call(sdk.client(ecs), QUERY)
    assert ecs.identities_seen() == ['assumed:%s/nightly-audit' % ROLE, 'static:%s' % DEFAULT_ACCESS_KEY_ID]


def test_sdk_chained_role_and_external_id(trust_sts, registry):
    from alibabacloud_credentials.provider import RamRoleArnCredentialsProvider  # pylint: disable=import-outside-toplevel
    first = RamRoleArnCredentialsProvider(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
                                          role_arn=ROLE, role_session_name='hop-one', sts_endpoint=trust_sts.endpoint)
    second = RamRoleArnCredentialsProvider(credentials_provider=first, role_arn=OTHER_ROLE, role_session_name='hop-two',
                                           external_id='tenant-42', sts_endpoint=trust_sts.endpoint)
    creds = second.get_credentials()
    assert registry.identity_of(creds.get_access_key_id()) == 'assumed:%s/hop-two' % OTHER_ROLE
    assert [(r['caller'], r['external_id']) for r in trust_sts.issued] == [
        ('static:%s' % DEFAULT_ACCESS_KEY_ID, None), ('assumed:%s/hop-one' % ROLE, 'tenant-42')]


def test_sdk_oidc_provider(trust_sts, registry, tmp_path):
    from alibabacloud_credentials.provider import OIDCRoleArnCredentialsProvider  # pylint: disable=import-outside-toplevel
    token_file = tmp_path / 'token'
    token_file.write_text('eyJhbGciOiJSUzI1NiJ9.oidc-token-do-not-leak.sig')
    trust_sts.register_oidc_token(OIDC_PROVIDER, token_file.read_text())
    provider = OIDCRoleArnCredentialsProvider(role_arn=ROLE, oidc_provider_arn=OIDC_PROVIDER, oidc_token_file_path=str(token_file),
                                              role_session_name='awx-job', sts_endpoint=trust_sts.endpoint)
    creds = provider.get_credentials()
    assert registry.identity_of(creds.get_access_key_id()) == 'assumed:%s/awx-job' % ROLE
    assert trust_sts.issued[-1]['action'] == 'AssumeRoleWithOIDC' and trust_sts.issued[-1]['caller'] == 'oidc:' + OIDC_PROVIDER
    token_file.write_text('some-other-token')
    second = OIDCRoleArnCredentialsProvider(role_arn=ROLE, oidc_provider_arn=OIDC_PROVIDER, oidc_token_file_path=str(token_file),
                                            role_session_name='awx-job', sts_endpoint=trust_sts.endpoint)
    with pytest.raises(Exception, match='AuthenticationFail.OIDCToken.Invalid'):
        second.get_credentials()


@pytest.mark.parametrize('params, code, status', [
    ({'RoleArn': 'arn:aws:iam::123:role/x', 'RoleSessionName': 'abc'}, 'InvalidParameter.RoleArn', 400),
    ({'RoleArn': 'acs:ram::1234567890123456:role/unknown', 'RoleSessionName': 'abc'}, 'EntityNotExist.Role', 404),
    ({'RoleArn': ROLE, 'RoleSessionName': 'a b'}, 'InvalidParameter.RoleSessionName', 400),
    ({'RoleArn': ROLE}, 'MissingParameter', 400),
    ({'RoleArn': ROLE, 'RoleSessionName': 'abc', 'DurationSeconds': '899'}, 'InvalidParameter.DurationSeconds', 400),
    ({'RoleArn': ROLE, 'RoleSessionName': 'abc', 'DurationSeconds': '43201'}, 'InvalidParameter.DurationSeconds', 400),
    ({'RoleArn': ROLE, 'RoleSessionName': 'abc', 'Policy': 'not json'}, 'InvalidParameter.PolicyGrammar', 400),
    ({'RoleArn': ROLE, 'RoleSessionName': 'abc', 'Policy': '[]'}, 'InvalidParameter.PolicyGrammar', 400),
    ({'RoleArn': ROLE, 'RoleSessionName': 'abc', 'ExternalId': 'bad\nid'}, 'InvalidParameter.ExternalId', 400),
    ({'RoleArn': OTHER_ROLE, 'RoleSessionName': 'abc'}, 'NoPermission', 403),
    ({'RoleArn': OTHER_ROLE, 'RoleSessionName': 'abc', 'ExternalId': 'tenant-41'}, 'NoPermission', 403),
])
def test_assume_role_parameters_are_checked(sts, params, code, status):
    reply = assume(sts, params)
    assert (reply.status, reply.code) == (status, code), reply.body
    assert set(reply.json) >= {'RequestId', 'Code', 'Message'}
    assert sts.issued == []


def test_assume_role_signature_key_and_version(sts, registry):
    params = {'RoleArn': ROLE, 'RoleSessionName': 'abc'}
    assert assume(sts, params, secret='wrong').code == 'SignatureDoesNotMatch'
    assert assume(sts, params, key_id='LTAIunknown').code == 'InvalidAccessKeyId.NotFound'
    assert assume(sts, params, overrides={'Version': '2014-05-26'}).code == 'InvalidVersion'
    unsigned = rawclient.send(sts.endpoint, 'GET', '/?Action=AssumeRole&Version=2015-04-01&RoleArn=%s&RoleSessionName=abc' % ROLE,
                              protocol='https', ca_file=sts.ca_file)
    assert unsigned.code == 'MissingParameter'
    good = assume(sts, params)
    assert good.status == 200, good.body
    creds = good.json['Credentials']
    assert set(creds) == {'AccessKeyId', 'AccessKeySecret', 'SecurityToken', 'Expiration'}
    assert good.json['AssumedRoleUser']['Arn'] == 'acs:ram::1234567890123456:role/collector/abc'
    # An issued key calls STS again only with its token.
    assert assume(sts, params, key_id=creds['AccessKeyId'], secret=creds['AccessKeySecret']).code == \
        'InvalidSecurityToken.MismatchWithAccessKey'
    assert assume(sts, params, key_id=creds['AccessKeyId'], secret=creds['AccessKeySecret'],
                  token=creds['SecurityToken']).status == 200
    assert len(registry.issued) == 2


def test_ecs_endpoint_refuses_an_expired_issued_key_and_unknown_keys(sts, ecs, registry):
    sts.expiration_seconds = 1
    creds = assume(sts, {'RoleArn': ROLE, 'RoleSessionName': 'short'}).json['Credentials']
    expires = calendar.timegm(time.strptime(creds['Expiration'], '%Y-%m-%dT%H:%M:%SZ'))
    assert 0.5 < expires - time.time() <= 2  # at least the lifetime, in whole seconds
    ok = rawclient.v3_call(ecs.endpoint, QUERY, creds['AccessKeyId'], creds['AccessKeySecret'], security_token=creds['SecurityToken'])
    assert ok.status == 200, ok.body
    registry.expire_now(creds['AccessKeyId'])
    late = rawclient.v3_call(ecs.endpoint, QUERY, creds['AccessKeyId'], creds['AccessKeySecret'], security_token=creds['SecurityToken'])
    assert (late.status, late.code) == (400, 'InvalidSecurityToken.Expired')
    forged = rawclient.v3_call(ecs.endpoint, QUERY, 'STS.NOTISSUED', 'x', security_token='y')
    assert forged.code == 'InvalidAccessKeyId.NotFound'
    wrong_token = rawclient.v3_call(ecs.endpoint, QUERY, creds['AccessKeyId'], creds['AccessKeySecret'], security_token='CAISforged')
    assert wrong_token.code == 'InvalidSecurityToken.MismatchWithAccessKey'
    assert ecs.identities_seen() == ['assumed:%s/short' % ROLE]  # refused requests are attributed to no one


def test_oidc_request_checks(sts):
    sts.register_oidc_token(OIDC_PROVIDER, 'good-token')
    base = {'Action': 'AssumeRoleWithOIDC', 'Version': '2015-04-01', 'RoleArn': ROLE, 'OIDCProviderArn': OIDC_PROVIDER,
            'RoleSessionName': 'awx', 'OIDCToken': 'good-token', 'Timestamp': rawclient.now_stamp()}

    def call(**changes):
        query = {k: v for k, v in dict(base, **changes).items() if v is not None}
        from urllib.parse import urlencode  # pylint: disable=import-outside-toplevel
        return rawclient.send(sts.endpoint, 'GET', '/?' + urlencode(query), protocol='https', ca_file=sts.ca_file)

    assert call(OIDCToken=None).code == 'MissingParameter'
    assert call(OIDCToken='forged').code == 'AuthenticationFail.OIDCToken.Invalid'
    assert call(OIDCProviderArn='acs:ram::1:oidc-provider/other').code == 'EntityNotExist.OIDCProvider'
    assert call(RoleArn=OTHER_ROLE).code == 'AuthenticationFail.NoPermission'
    assert call(RoleArn='acs:ram::1234567890123456:user/x').code == 'InvalidParameter.RoleArn'
    good = call()
    assert good.status == 200 and good.json['Credentials']['AccessKeyId'].startswith('STS.')


@pytest.fixture
def metadata(registry):
    endpoint = MetadataEndpoint(registry, role_name='EcsCollectorRole').start()
    yield endpoint
    endpoint.stop()


def metadata_token(metadata, ttl='60', headers=None):
    headers = dict({TTL_HEADER: ttl} if ttl is not None else {}, **(headers or {}))
    return rawclient.send(metadata.endpoint, 'PUT', '/latest/api/token', headers)


def test_metadata_hardened_mode(metadata, ecs, registry):
    path = '/latest/meta-data/ram/security-credentials/EcsCollectorRole'
    assert rawclient.send(metadata.endpoint, 'GET', path).status == 401
    assert metadata_token(metadata, ttl=None).status == 400
    assert metadata_token(metadata, ttl='21601').status == 400
    assert metadata_token(metadata, headers={'X-Forwarded-For': '10.0.0.1'}).status == 403
    assert rawclient.send(metadata.endpoint, 'GET', path, {TOKEN_HEADER: 'forged'}).status == 401
    token = metadata_token(metadata).body.decode()
    listing = rawclient.send(metadata.endpoint, 'GET', '/latest/meta-data/ram/security-credentials/', {TOKEN_HEADER: token})
    assert listing.body == b'EcsCollectorRole'
    assert rawclient.send(metadata.endpoint, 'GET', path[:-4], {TOKEN_HEADER: token}).status == 404
    first = rawclient.send(metadata.endpoint, 'GET', path, {TOKEN_HEADER: token}).json
    again = rawclient.send(metadata.endpoint, 'GET', path, {TOKEN_HEADER: token}).json
    assert first['Code'] == 'Success' and first == again
    assert registry.identity_of(first['AccessKeyId']) == 'ecs-role:EcsCollectorRole'
    reply = rawclient.v3_call(ecs.endpoint, QUERY, first['AccessKeyId'], first['AccessKeySecret'], security_token=first['SecurityToken'])
    assert reply.status == 200
    registry.expire_now(first['AccessKeyId'])
    fresh = rawclient.send(metadata.endpoint, 'GET', path, {TOKEN_HEADER: token}).json
    assert fresh['AccessKeyId'] != first['AccessKeyId']
    assert ecs.identities_seen() == ['ecs-role:EcsCollectorRole']
    assert [call['status'] for call in metadata.calls][:5] == [401, 400, 400, 403, 401]


def test_metadata_without_a_role_and_the_unhardened_mode(registry):
    with MetadataEndpoint(registry, role_name=None, require_token=False) as metadata:
        assert rawclient.send(metadata.endpoint, 'GET', '/latest/meta-data/ram/security-credentials/').status == 404
    with MetadataEndpoint(registry, role_name='R', require_token=False) as metadata:
        body = rawclient.send(metadata.endpoint, 'GET', '/latest/meta-data/ram/security-credentials/R').json
        assert body['Code'] == 'Success'
    with pytest.raises(ValueError):
        MetadataEndpoint(registry, host='10.0.0.1')


def test_registry_never_shows_secrets(registry):
    key = registry.issue('assumed:x/y', 60)
    assert key.secret not in repr(key) and key.security_token not in repr(key)
    assert key.secret not in json.dumps(key.record) and key.security_token not in json.dumps(key.record)
    assert set(registry.secrets()) == {key.secret, key.security_token}


def test_a_space_in_a_signed_sts_parameter_is_refused_as_the_service_refuses_it(trust_sts):
    """alibabacloud-credentials signs with quote_plus (a space as ``+``), RPC signing wants ``%20``: STS answers
    SignatureDoesNotMatch. The collection therefore sends a policy as compact JSON (no space outside strings)."""
    from alibabacloud_credentials.provider import RamRoleArnCredentialsProvider  # pylint: disable=import-outside-toplevel

    def provider(policy):
        return RamRoleArnCredentialsProvider(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
                                             role_arn=ROLE, role_session_name='policy', policy=policy,
                                             sts_endpoint=trust_sts.endpoint)

    with pytest.raises(Exception, match='SignatureDoesNotMatch'):
        provider('{"Version": "1", "Statement": []}').get_credentials()
    assert provider('{"Version":"1","Statement":[]}').get_credentials().get_access_key_id().startswith('STS.')


def test_an_issued_key_is_judged_when_the_request_arrives_not_after_the_latency(ecs, registry):
    key = registry.issue('assumed:%s/slow' % ROLE, 0.5)
    left = key.expires_at - time.time()  # 0.5 to 1.5 s: whole seconds, rounded up
    ecs.set_faults(latency_ms=int((left + 0.3) * 1000))  # the answer is decided after the expiration
    reply = rawclient.v3_call(ecs.endpoint, QUERY, key.access_key_id, key.secret, security_token=key.security_token)
    assert reply.status == 200, reply.body
    assert time.time() >= key.expires_at
    late = rawclient.v3_call(ecs.endpoint, QUERY, key.access_key_id, key.secret, security_token=key.security_token)
    assert (late.status, late.code) == (400, 'InvalidSecurityToken.Expired')


def test_issued_keys_revoked_after_a_number_of_calls(ecs, registry):
    ecs.revoke_issued_keys_after(2)
    key = registry.issue('assumed:%s/revoked' % ROLE, 3600)
    replies = [rawclient.v3_call(ecs.endpoint, QUERY, key.access_key_id, key.secret, security_token=key.security_token)
               for _call in range(3)]
    assert [(r.status, r.code) for r in replies] == [(200, None), (200, None), (400, 'InvalidSecurityToken.Expired')]
    static = [rawclient.v3_call(ecs.endpoint, QUERY, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET).status for _call in range(3)]
    assert static == [200, 200, 200]  # static keys are never revoked
    ecs.revoke_issued_keys_after(None)
    other = registry.issue('assumed:%s/kept' % ROLE, 3600)
    kept = [rawclient.v3_call(ecs.endpoint, QUERY, other.access_key_id, other.secret, security_token=other.security_token).status
            for _call in range(3)]
    assert kept == [200, 200, 200]


def test_revoking_needs_the_identity_registry(make_endpoint):
    with pytest.raises(ValueError):
        make_endpoint(credentials=dict(STATIC)).revoke_issued_keys_after(1)


def test_sts_refuses_after_a_number_of_issued_keys(sts):
    params = {'RoleArn': ROLE, 'RoleSessionName': 'abc'}
    sts.refuse_after(1)
    assert assume(sts, params).status == 200
    refused = assume(sts, params)
    assert (refused.status, refused.code) == (403, 'NoPermission')
    assert len(sts.issued) == 1
    with pytest.raises(ValueError):
        sts.refuse_after(1, 'EntityNotExist.Role')  # needs a detail: not a refusal of its own
