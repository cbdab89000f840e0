from __future__ import annotations

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.endpoints import endpoint_for, endpoint_problem, is_region_id


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
