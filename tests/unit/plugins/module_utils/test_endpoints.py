from __future__ import annotations

from urllib.parse import quote

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.endpoints import (
    ProxyError, endpoint_for, endpoint_problem, is_region_id, parse_proxy, proxy_credentials)


def test_public_and_vpc_endpoints_follow_the_official_table():
    assert endpoint_for('cn-hangzhou') == 'ecs.cn-hangzhou.aliyuncs.com'
    assert endpoint_for('cn-hangzhou', 'vpc') == 'ecs-vpc.cn-hangzhou.aliyuncs.com'
    assert endpoint_for('ap-southeast-1', 'vpc', override='127.0.0.1:8080') == '127.0.0.1:8080'


@pytest.mark.parametrize('endpoint', ['127.0.0.1:8443', 'ecs.cn-hangzhou.aliyuncs.com', '[::1]:9000', 'localhost'])
def test_good_endpoints(endpoint):
    assert endpoint_problem(endpoint) is None


@pytest.mark.parametrize('endpoint, why', [('https://ecs.aliyuncs.com', 'without a scheme'), ('a b', 'host'),
                                           ('127.0.0.1:0', 'port'), ('127.0.0.1:70000', 'port')])
def test_bad_endpoints(endpoint, why):
    assert why in endpoint_problem(endpoint)


@pytest.mark.parametrize('region, ok', [('cn-hangzhou', True), ('ap-southeast-1', True), ('us-east-1', True),
                                        ('Hangzhou', False), ('', False), ('cn_hangzhou', False)])
def test_region_ids(region, ok):
    assert is_region_id(region) is ok


@pytest.mark.parametrize('endpoint, why', [
    ('127.0.0.1:8443\n', 'port'), ('ecs.aliyuncs.com\n', 'host'), ('a' * 5000, 'at most 253'),
    ('%s.example.com' % ('b' * 64), 'at most 63'), ('a..b', 'empty label'), ('[1::2::3]:80', 'IPv6'),
    ('h\u00e9.example.com', 'host'), ('127.0.0.1:80\n', 'port')])
def test_endpoints_are_checked_whole(endpoint, why):
    assert why in endpoint_problem(endpoint)


def test_region_ids_are_checked_whole():
    assert not is_region_id('cn-hangzhou\n') and not is_region_id('cn-h\u00e1ngzhou') and not is_region_id(None)


@pytest.mark.parametrize('given, user, password', [
    ('http://auditor:p#ss?w@rd/x:y@proxy.example.com:3128', 'auditor', 'p#ss?w@rd/x:y'),
    ('http://auditor:p%23ss%3Fw%40rd%2Fx%3Ay@proxy.example.com:3128', 'auditor', 'p#ss?w@rd/x:y'),
    ('auditor:pw://x@proxy.example.com:3128', 'auditor', 'pw://x'),
    ('https://proxy.example.com:3128/', None, None),
    ('http://token@proxy.example.com', 'token', None),
])
def test_proxy_urls_are_split_at_the_last_at_sign(given, user, password):
    proxy = parse_proxy(given)
    assert (proxy.user, proxy.password) == (user, password)
    assert proxy.host.startswith('proxy.example.com')
    if password:
        assert proxy.url == 'http://auditor:%s@%s' % (quote(password, safe=''), proxy.host)
        assert {'p#ss?w@rd/x:y', password} & set(proxy_credentials(given))


@pytest.mark.parametrize('given, why', [
    ('ftp://proxy.example.com', 'scheme'), ('http://u:p#ss@bad host:3128', 'proxy host'),
    ('http://proxy.example.com:3128\n', 'control character'), (' http://proxy.example.com', 'white space'),
    ('http://proxy.example.com/path', 'no path'), ('http://u:pw@', 'proxy URL'),
])
def test_proxy_problems_never_quote_the_url(given, why):
    with pytest.raises(ProxyError) as caught:
        parse_proxy(given)
    assert why in str(caught.value)
    assert 'p#ss' not in str(caught.value) and 'bad host' not in str(caught.value)


def test_the_password_of_an_unusable_proxy_is_still_found():
    found = proxy_credentials('http://u:p%23ss@bad host:3128')
    assert 'p%23ss' in found and 'p#ss' in found
    assert proxy_credentials('http://proxy.example.com:3128') == [] and proxy_credentials(None) == []
