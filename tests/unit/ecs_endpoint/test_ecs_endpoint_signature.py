"""Signing maths against the published Alibaba Cloud vectors."""
from __future__ import annotations

import hashlib

import pytest

from ecs_endpoint import signature

V3_HEADERS = {
    'host': 'ecs.cn-shanghai.aliyuncs.com',
    'x-acs-action': 'RunInstances',
    'x-acs-version': '2014-05-26',
    'x-acs-date': '2023-10-26T10:22:32Z',
    'x-acs-signature-nonce': '3156853299f313e23d1673dc12e1703d',
    'x-acs-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
}
V3_QUERY = {'ImageId': 'win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd', 'RegionId': 'cn-shanghai'}
V3_SIGNED = 'host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version'.split(';')
V2_PARAMS = {
    'AccessKeyId': 'testid', 'Action': 'DescribeRegions', 'Format': 'XML', 'SignatureMethod': 'HMAC-SHA1',
    'SignatureNonce': '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf', 'SignatureVersion': '1.0',
    'Timestamp': '2016-02-23T12:46:24Z', 'Version': '2014-05-26',
}


def _v3_canonical():
    return signature.v3_canonical_request('POST', '/', V3_QUERY, V3_HEADERS, V3_SIGNED, signature.EMPTY_SHA256)


def test_percent_encode_rfc3986():
    assert signature.percent_encode('a b*c~d/e+f=') == 'a%20b%2Ac~d%2Fe%2Bf%3D'
    assert signature.percent_encode('\u00e9') == '%C3%A9'
    assert signature.percent_encode(10) == '10'


def test_canonical_query_sorted_and_encoded():
    assert signature.canonical_query({'b': '2 3', 'a': '*', 'c': None}) == 'a=%2A&b=2%203'
    assert signature.canonical_query({}) == ''


def test_v3_published_vector():
    canonical = _v3_canonical()
    assert hashlib.sha256(canonical.encode()).hexdigest() == '7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259'
    assert signature.v3_signature('YourAccessKeySecret', canonical) == '06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0'


def test_v3_canonical_headers_lowercased_trimmed_and_sorted():
    headers = {k.upper(): '  %s  ' % v for k, v in V3_HEADERS.items()}
    assert signature.v3_canonical_request('POST', '/', V3_QUERY, headers, list(reversed(V3_SIGNED)), signature.EMPTY_SHA256) == _v3_canonical()


def test_v3_authorization_roundtrip():
    header = signature.v3_authorization('AK', V3_SIGNED, 'ab' * 32)
    assert signature.parse_v3_authorization(header) == ('AK', V3_SIGNED, 'ab' * 32)


@pytest.mark.parametrize('header', [
    None, '', 'ACS3-HMAC-SHA256', 'ACS3-HMAC-SHA256 Credential=AK,Signature=00',
    'ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=,Signature=00',
    'ACS3-HMAC-SM3 Credential=AK,SignedHeaders=host,Signature=00',
    'ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=zz',
])
def test_parse_v3_authorization_rejects_malformed(header):
    with pytest.raises(ValueError):
        signature.parse_v3_authorization(header)


def test_v2_published_vectors():
    assert signature.v2_signature('testsecret', 'GET', V2_PARAMS) == 'OLeaidS1JvxuMvnyHOwuJ+uX5qY='
    assert signature.v2_signature('testsecret', 'POST', V2_PARAMS) == 'MxbnVAM4w6sft9xjVpe/GCKueuk='


def test_v2_ignores_signature_param():
    params = dict(V2_PARAMS, Signature='whatever')
    assert signature.v2_signature('testsecret', 'GET', params) == 'OLeaidS1JvxuMvnyHOwuJ+uX5qY='
