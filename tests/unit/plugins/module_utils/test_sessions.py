from __future__ import annotations

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import (
    is_active, newest_first, normalize_session, session_ids_by_instance, snake_case, summarize, unwrap_list)

RAW = {
    'CreationTime': '2024-01-19T09:15:46Z',
    'TargetServer': '',
    'PortNumber': None,
    'PrincipalId': '123456xxxx',
    'Username': 'root',
    'ClientIP': '192.168.1.1',
    'IdentityType': 'RAMUser',
    'SessionId': 's-1',
    'NewFieldFromService': 'kept',
    'Connections': {'Connection': [
        {'ClosedReason': 'ClientClosed', 'EndTime': '2024-01-19T09:16:46Z', 'Status': 'Terminated',
         'StartTime': '2024-01-19T09:16:40Z', 'InstanceId': 'i-a', 'FailedDetail': '', 'ExtraBit': 1},
        {'Status': 'Connected', 'StartTime': '2024-01-19T09:17:00Z', 'InstanceId': 'i-b'},
    ]},
}


def test_snake_case():
    assert [snake_case(n) for n in ('ClientIP', 'FailedDetail', 'session_id', 'NewFieldFromService')] == [
        'client_ip', 'failed_detail', 'session_id', 'new_field_from_service']


def test_normalise_a_wrapped_api_record():
    session = normalize_session(RAW, 'cn-hangzhou')
    assert session == {
        'creation_time': '2024-01-19T09:15:46Z', 'principal_id': '123456xxxx', 'username': 'root',
        'client_ip': '192.168.1.1', 'identity_type': 'RAMUser', 'session_id': 's-1', 'region_id': 'cn-hangzhou',
        'new_field_from_service': 'kept', 'instance_ids': ['i-a', 'i-b'],
        'connections': [
            {'closed_reason': 'ClientClosed', 'end_time': '2024-01-19T09:16:46Z', 'status': 'Terminated',
             'start_time': '2024-01-19T09:16:40Z', 'instance_id': 'i-a', 'extra_bit': 1},
            {'status': 'Connected', 'start_time': '2024-01-19T09:17:00Z', 'instance_id': 'i-b'},
        ],
    }
    assert is_active(session)


def test_bare_lists_and_already_normalised_records_give_the_same_record():
    bare = dict(RAW, Connections=RAW['Connections']['Connection'])
    once = normalize_session(RAW, 'cn-hangzhou')
    assert normalize_session(bare, 'cn-hangzhou') == once
    assert normalize_session(once) == once


def test_a_session_without_connections_reaches_the_queried_instance():
    session = normalize_session({'SessionId': 's-2', 'CreationTime': '2024-01-19T09:15:46Z'}, 'cn-hangzhou', 'i-q')
    assert session['connections'] == [] and session['instance_ids'] == ['i-q']
    assert unwrap_list({'Connection': None}, 'Connection') == []


def test_order_and_grouping():
    sessions = newest_first([
        {'session_id': 's-old', 'creation_time': '2024-01-01T00:00:00Z', 'instance_ids': ['i-a']},
        {'session_id': 's-new', 'creation_time': '2024-01-03T00:00:00Z', 'instance_ids': ['i-a', 'i-b']},
        {'session_id': 's-mid', 'creation_time': '2024-01-02T00:00:00Z', 'instance_ids': []},
    ])
    assert [s['session_id'] for s in sessions] == ['s-new', 's-mid', 's-old']
    assert session_ids_by_instance(sessions) == {'i-a': ['s-new', 's-old'], 'i-b': ['s-new']}
    assert session_ids_by_instance(sessions, ['i-b', 'i-z']) == {'i-b': ['s-new'], 'i-z': []}


def test_summary_counts_by_hand():
    sessions = newest_first([
        normalize_session(RAW, 'cn-hangzhou'),
        normalize_session({'SessionId': 's-0', 'CreationTime': '2024-01-18T00:00:00Z', 'Username': 'ecs-user',
                           'ClientIP': '10.0.0.1', 'PrincipalId': 'p2', 'PortNumber': 22,
                           'Connections': {'Connection': [{'InstanceId': 'i-a', 'Status': 'Failed',
                                                           'ClosedReason': 'AgentNotOnline'}]}}, 'cn-hangzhou'),
    ])
    assert summarize(sessions, 'i-a') == {
        'session_count': 2, 'active_session_count': 0, 'last_session_time': '2024-01-19T09:15:46Z',
        'last_session_user': 'root', 'last_client_ip': '192.168.1.1', 'usernames': ['ecs-user', 'root'],
        'client_ips': ['10.0.0.1', '192.168.1.1'], 'principal_ids': ['123456xxxx', 'p2'], 'root_session_count': 1,
        'failed_connection_count': 1, 'port_forwarding_session_count': 1,
        'closed_reasons': {'ClientClosed': 1, 'AgentNotOnline': 1},
    }
    assert summarize(sessions[:1], 'i-b')['active_session_count'] == 1


def test_with_text_fields_turns_numbers_into_text_and_names_lists_and_dicts():
    from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import with_text_fields  # pylint: disable=import-outside-toplevel
    connection = {'InstanceId': 'i-1', 'Status': 'Connected', 'ClosedReason': 7}
    record = normalize_session({'SessionId': 's-1', 'Username': 0, 'Connections': [connection]}, 'cn-hangzhou')
    fixed = with_text_fields(record)
    assert fixed['username'] == '0' and fixed['connections'][0]['closed_reason'] == '7'
    assert record['username'] == 0 and record['connections'][0]['closed_reason'] == 7  # the record given is not changed
    plain = normalize_session({'SessionId': 's-1', 'Username': 'root'}, 'cn-hangzhou')
    assert with_text_fields(plain) is plain
    for raw, words in (({'SessionId': 's-1', 'Username': ['root']}, 'username of session s-1 is a list'),
                       ({'SessionId': 's-1', 'CreationTime': {'a': 1}}, 'creation_time of session s-1 is a dict'),
                       ({'SessionId': ['s-1']}, 'session_id of a session is a list'),
                       ({'SessionId': 's-1', 'Connections': [{'Status': True}]}, 'status of a connection of session s-1 is a bool')):
        with pytest.raises(TypeError, match=words):
            with_text_fields(normalize_session(raw, 'cn-hangzhou'))


def test_normalize_session_names_non_text_instance_ids_and_keys():
    with pytest.raises(TypeError, match='InstanceId of a connection of session s-1 is a list'):
        normalize_session({'SessionId': 's-1', 'Connections': [{'InstanceId': ['i-1']}]})
    with pytest.raises(TypeError, match='instance_ids of session s-1 holds a list'):
        normalize_session({'SessionId': 's-1', 'instance_ids': [['i-1']], 'connections': []}, 'cn-hangzhou', 'i-2')
    with pytest.raises(TypeError, match='a record has the key 1, a int'):
        normalize_session({'SessionId': 's-1', 1: 'x'})
