"""Strict request checks probed with hand-signed requests (one broken rule at a time)."""
from __future__ import annotations

import hashlib

import pytest

from ecs_endpoint import rawclient
from ecs_endpoint.server import DEFAULT_ACCESS_KEY_ID as AK, DEFAULT_ACCESS_KEY_SECRET as SECRET

Q = {'RegionId': 'cn-hangzhou', 'MaxResults': '5'}


def v3(endpoint, params=None, **kw):
    return rawclient.v3_call(endpoint.endpoint, Q if params is None else params, kw.pop('ak', AK), kw.pop('secret', SECRET), **kw)


def v2(endpoint, params=None, **kw):
    return rawclient.v2_call(endpoint.endpoint, Q if params is None else params, kw.pop('ak', AK), kw.pop('secret', SECRET), **kw)


def assert_error(reply, code, status):
    assert (reply.status, reply.code) == (status, code), reply.body
    assert reply.headers['content-type'] == 'application/json;charset=utf-8'
    assert set(reply.json) >= {'RequestId', 'HostId', 'Code', 'Message', 'Recommend'}
    assert reply.json['RequestId'] == reply.json['RequestId'].upper() and len(reply.json['RequestId']) == 36


def test_valid_v3_and_v2(endpoint):
    replies = [v3(endpoint), v2(endpoint), v3(endpoint, method='GET'), v2(endpoint, method='GET')]
    for reply in replies:
        assert reply.status == 200 and len(reply.json['Sessions']['Session']) == 5
    log = endpoint.stats()['requests']
    assert [r['request_id'] for r in log] == [r.json['RequestId'] for r in replies]
    assert [(r['method'], r['status'], r['code']) for r in log] == [('POST', 200, None), ('POST', 200, None), ('GET', 200, None), ('GET', 200, None)]


def test_fresh_request_id_each_reply(endpoint):
    first, second = v3(endpoint), v3(endpoint)
    assert first.json['RequestId'] != second.json['RequestId']
    assert first.headers['x-acs-request-id'] == first.json['RequestId']


@pytest.mark.parametrize('offset', [-16 * 60, 16 * 60])
def test_stale_date_rejected(endpoint, offset):
    assert_error(v3(endpoint, date=rawclient.now_stamp(offset)), 'InvalidTimeStamp.Expired', 400)
    assert_error(v2(endpoint, timestamp=rawclient.now_stamp(offset)), 'InvalidTimeStamp.Expired', 400)
    assert v3(endpoint, date=rawclient.now_stamp(offset // 2)).status == 200


def test_malformed_date_rejected(endpoint):
    assert_error(v3(endpoint, date='Thu, 06 Feb 2020 07:32:54 GMT'), 'InvalidTimeStamp.Format', 400)


def test_reused_nonce_rejected(endpoint):
    assert v3(endpoint, nonce='n-1').status == 200
    assert_error(v3(endpoint, nonce='n-1'), 'SignatureNonceUsed', 400)
    assert v2(endpoint, nonce='n-2').status == 200
    assert_error(v2(endpoint, nonce='n-2'), 'SignatureNonceUsed', 400)
    assert endpoint.stats()['auth_failures'] == 2


def test_bad_signature_does_not_burn_nonce(endpoint):
    assert_error(v3(endpoint, nonce='n-3', secret='wrong'), 'SignatureDoesNotMatch', 400)
    assert v3(endpoint, nonce='n-3').status == 200


def test_wrong_secret_message_has_string_to_sign_not_secret(endpoint):
    reply = v3(endpoint, secret='wrong-secret')
    assert_error(reply, 'SignatureDoesNotMatch', 400)
    assert 'server string to sign is:ACS3-HMAC-SHA256\n' in reply.json['Message']
    reply2 = v2(endpoint, secret='wrong-secret')
    assert_error(reply2, 'SignatureDoesNotMatch', 400)
    assert 'server string to sign is:POST&%2F&' in reply2.json['Message']
    for r in (reply, reply2):
        assert SECRET not in r.body.decode() and 'wrong-secret' not in r.body.decode()


def test_tampered_query_rejected(endpoint):
    reply = rawclient.v3_call(endpoint.endpoint, Q, AK, SECRET)
    assert reply.status == 200
    # re-send the same signed headers with a different query: signature no longer matches
    log = endpoint.stats()['requests'][-1]
    headers = {k: v for k, v in log['headers'].items() if k.lower() not in ('content-length', 'accept-encoding')}
    tampered = rawclient.send(endpoint.endpoint, 'POST', '/?RegionId=cn-hangzhou&MaxResults=6', headers)
    assert_error(tampered, 'SignatureDoesNotMatch', 400)


@pytest.mark.parametrize('header', ['host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256'])
def test_required_header_must_be_signed(endpoint, header):
    assert_error(v3(endpoint, drop_signed=(header,)), 'IncompleteSignature', 400)


@pytest.mark.parametrize('header', ['x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256'])
def test_required_header_must_be_present(endpoint, header):
    assert_error(v3(endpoint, headers={header: None}), 'MissingParameter', 400)


def test_content_sha256_must_match_body(endpoint):
    body = b'RegionId=cn-hangzhou'
    good = v3(endpoint, {}, body=body, headers={'content-type': 'application/x-www-form-urlencoded'})
    assert good.status == 200  # form parameters are merged
    bad = v3(endpoint, {}, body=body, content_sha256=hashlib.sha256(b'other').hexdigest(),
             headers={'content-type': 'application/x-www-form-urlencoded'})
    assert_error(bad, 'IncompleteSignature', 400)


@pytest.mark.parametrize('authorization', [
    'ACS3-HMAC-SHA256', 'Bearer abc', 'ACS3-HMAC-SM3 Credential=%s,SignedHeaders=host,Signature=00' % AK,
])
def test_malformed_authorization(endpoint, authorization):
    assert_error(v3(endpoint, unsigned_headers={'Authorization': authorization}), 'IncompleteSignature', 400)


def test_unsigned_request(endpoint):
    reply = rawclient.send(endpoint.endpoint, 'POST', '/?RegionId=cn-hangzhou&Action=DescribeTerminalSessions&Version=2014-05-26')
    assert_error(reply, 'MissingParameter', 400)


def test_unknown_key(endpoint):
    assert_error(v3(endpoint, ak='LTAIunknown'), 'InvalidAccessKeyId.NotFound', 404)
    assert_error(v2(endpoint, ak='LTAIunknown'), 'InvalidAccessKeyId.NotFound', 404)


def test_sts_token_must_be_signed(make_endpoint):
    endpoint = make_endpoint(credentials={'STS.k': {'secret': 's', 'security_token': 'tok'}})
    assert v3(endpoint, ak='STS.k', secret='s', security_token='tok').status == 200
    assert v2(endpoint, ak='STS.k', secret='s', security_token='tok').status == 200
    assert_error(v3(endpoint, ak='STS.k', secret='s', security_token='tok', drop_signed=('x-acs-security-token',)),
                 'IncompleteSignature', 400)
    assert_error(v3(endpoint, ak='STS.k', secret='s', security_token='nope'), 'InvalidSecurityToken.MismatchWithAccessKey', 400)
    assert_error(v3(endpoint, ak='STS.k', secret='s'), 'InvalidSecurityToken.MismatchWithAccessKey', 400)
    assert_error(v2(endpoint, ak='STS.k', secret='s'), 'InvalidSecurityToken.MismatchWithAccessKey', 400)


@pytest.mark.parametrize('name', ['Timestamp', 'SignatureNonce', 'SignatureMethod', 'SignatureVersion', 'Format', 'Signature'])
def test_v2_missing_parameter(endpoint, name):
    assert_error(v2(endpoint, overrides={name: None}), 'MissingParameter', 400)


@pytest.mark.parametrize('overrides, code', [
    ({'SignatureMethod': 'HMAC-SHA256'}, 'IncompleteSignature'),
    ({'SignatureVersion': '2.0'}, 'IncompleteSignature'),
    ({'Signature': 'AAAA'}, 'SignatureDoesNotMatch'),
])
def test_v2_bad_values(endpoint, overrides, code):
    assert_error(v2(endpoint, overrides=overrides), code, 400)


@pytest.mark.parametrize('kw, code, status', [
    ({'action': 'DescribeInstances'}, 'InvalidAction.NotFound', 404),
    ({'version': '2099-01-01'}, 'InvalidVersion', 400),
])
def test_action_and_version(endpoint, kw, code, status):
    assert_error(v3(endpoint, **kw), code, status)
    assert_error(v2(endpoint, **kw), code, status)
    assert endpoint.stats()['calls'] == 0


def test_other_path_not_found(endpoint):
    assert_error(rawclient.send(endpoint.endpoint, 'GET', '/other'), 'InvalidAction.NotFound', 404)


def test_all_query_values_are_strings_on_the_wire(endpoint):
    assert_error(v3(endpoint, {'RegionId': 'cn-hangzhou', 'MaxResults': '1.0'}), 'InvalidParameter.MaxResults', 400)
    assert_error(v3(endpoint, {'RegionId': 'cn-hangzhou', 'MaxResults': ''}), 'InvalidParameter.MaxResults', 400)
    assert v3(endpoint, {'RegionId': 'cn-hangzhou', 'MaxResults': '100'}).status == 200


def test_next_token_binding_raw(endpoint):
    token = v3(endpoint).json['NextToken']
    assert v3(endpoint, dict(Q, NextToken=token)).status == 200
    assert_error(v3(endpoint, dict(Q, NextToken=token, MaxResults='6')), 'InvalidParameter.NextToken', 400)
    assert_error(v3(endpoint, dict(Q, NextToken=token, InstanceId='i-hz001')), 'InvalidParameter.NextToken', 400)
    # One character inside the MAC changed (the last ones carry padding bits, and a random token ends in 'AA' one
    # time in 256: replacing them could leave the token as it was).
    tampered = token[:10] + ('B' if token[10] != 'B' else 'C') + token[11:]
    assert_error(v3(endpoint, dict(Q, NextToken=tampered)), 'InvalidParameter.NextToken', 400)
    assert v3(endpoint, dict(Q, NextToken='')).json['Sessions']['Session'][0]['SessionId'] == 's-hz-000250'
