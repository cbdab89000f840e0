from __future__ import annotations

import datetime

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import Criteria, CriteriaError, parse_time

NOW = datetime.datetime(2024, 1, 20, 0, 0, tzinfo=datetime.timezone.utc)
ROOT = {'session_id': 's-1', 'username': 'root', 'client_ip': '10.1.2.3', 'principal_id': 'p1', 'identity_type': 'RAMUser',
        'creation_time': '2024-01-19T09:15:46Z', 'connections': [{'status': 'Connected'}]}
USER = {'session_id': 's-2', 'username': 'ecs-user', 'client_ip': '203.0.113.9', 'principal_id': 'p2',
        'identity_type': 'Account', 'creation_time': '2024-01-01T00:00:00Z', 'port_number': 22,
        'connections': [{'status': 'Terminated'}]}


def select(criteria):
    compiled = Criteria(criteria, now=NOW)
    return [s['session_id'] for s in (ROOT, USER) if compiled.match(s)]


@pytest.mark.parametrize('criteria, expected', [
    ({}, ['s-1', 's-2']),
    ({'username': ['root']}, ['s-1']),
    ({'username': 'ROOT'}, ['s-1']),
    ({'identity_type': ['account']}, ['s-2']),
    ({'principal_id': ['p2', 'p9']}, ['s-2']),
    ({'client_ip': ['10.0.0.0/8']}, ['s-1']),
    ({'client_ip': ['203.0.113.9', '2001:db8::/32']}, ['s-2']),
    ({'status': ['terminated']}, ['s-2']),
    ({'active': True}, ['s-1']),
    ({'active': False}, ['s-2']),
    ({'port_forwarding': True}, ['s-2']),
    ({'created_after': '24h'}, ['s-1']),
    ({'created_after': '7d'}, ['s-1']),
    ({'created_before': '2024-01-02'}, ['s-2']),
    ({'created_after': '2023-12-31T00:00:00+08:00', 'created_before': '2024-01-19T09:15:46Z'}, ['s-2']),
    ({'username': ['root'], 'active': False}, []),
    ({'username': None}, ['s-1', 's-2']),
])
def test_selection(criteria, expected):
    assert select(criteria) == expected


def test_relative_ages():
    assert parse_time('30m', 'x', NOW) == NOW - datetime.timedelta(minutes=30)
    assert parse_time('2w', 'x', NOW) == NOW - datetime.timedelta(days=14)


@pytest.mark.parametrize('criteria, message', [
    ({'client_ip': ['10.0.0.0/33']}, 'filters.client_ip'),
    ({'created_after': 'yesterday'}, 'filters.created_after'),
    ({'colour': ['red']}, 'unknown criteria colour'),
])
def test_errors_name_the_criterion(criteria, message):
    with pytest.raises(CriteriaError, match=message):
        Criteria(criteria, now=NOW)
