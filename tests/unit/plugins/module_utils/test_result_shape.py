"""module_utils/result_shape.py: the keys and session fields an info module returns, from the full records."""

from __future__ import annotations

import itertools

import pytest
import yaml

from ansible_collections.alicloud.ecs.plugins.doc_fragments.alicloud import ModuleDocFragment
from ansible_collections.alicloud.ecs.plugins.module_utils.result_shape import (
    RETURN_KEYS, ResultShapeError, checked_return_keys, checked_session_fields, shaped_result, trimmed)
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import (
    SESSION_FIELDS, normalize_session, session_ids_by_instance, summary_by_instance)
from ansible_collections.alicloud.ecs.plugins.modules import ecs_terminal_session_info


def raw_session(number, instance_id, username='root', status='Connected', port=None):
    raw = {'SessionId': 's-%03d' % number, 'CreationTime': '2024-01-%02dT09:15:46Z' % (number % 28 + 1), 'Username': username,
           'ClientIP': '10.0.0.%d' % number, 'PrincipalId': 'p-%d' % (number % 3), 'IdentityType': 'RAMUser',
           'Connections': {'Connection': [{'InstanceId': instance_id, 'Status': status, 'ClosedReason': 'ClientClosed'}]}}
    if port:
        raw.update(PortNumber=port, TargetServer='192.168.0.9')
    return normalize_session(raw, region_id='cn-hangzhou')


@pytest.fixture
def records():
    users = ('root', 'ecs-user', 'admin')
    statuses = ('Connected', 'Terminated', 'Failed')
    return [raw_session(n, 'i-%d' % (n % 4), users[n % 3], statuses[n % 3], port=22 if n % 5 == 0 else None)
            for n in range(30, 0, -1)]


def test_the_documented_fields_are_those_of_the_normalised_record():
    returned = yaml.safe_load(ecs_terminal_session_info.RETURN)['sessions']['contains']
    assert tuple(returned) == SESSION_FIELDS
    full = raw_session(1, 'i-1', port=22)
    assert set(full) == set(SESSION_FIELDS)


def test_the_doc_fragment_names_every_field_and_every_key():
    options = yaml.safe_load(ModuleDocFragment.RESULT)['options']
    assert options['return_keys']['choices'] == list(RETURN_KEYS) == options['return_keys']['default']
    text = ' '.join(options['session_fields']['description'])
    assert all('C(%s)' % field in text for field in SESSION_FIELDS)


def test_the_default_is_the_result_as_it_always_was(records):
    expected = {'sessions': records, 'sessions_by_instance': session_ids_by_instance(records),
                'summary_by_instance': summary_by_instance(records)}
    result = shaped_result(records)
    assert result == expected and list(result) == list(RETURN_KEYS)
    assert result['sessions'] is records  # not copied
    assert shaped_result(records, return_keys=['summary_by_instance', 'sessions', 'sessions_by_instance']) == expected


def test_summaries_are_the_same_whatever_is_returned(records):
    expected = summary_by_instance(records, ['i-0', 'i-1', 'i-9'])
    for count in range(1, 4):
        for keys in itertools.combinations(RETURN_KEYS, count):
            if 'summary_by_instance' not in keys:
                continue
            for fields in (None, ['session_id'], ['username', 'connections']):
                result = shaped_result(records, ['i-0', 'i-1', 'i-9'], keys, fields)
                assert result['summary_by_instance'] == expected, (keys, fields)
                assert list(result) == [key for key in RETURN_KEYS if key in keys]


def test_session_fields_cut_the_records_only(records):
    result = shaped_result(records, return_keys=['sessions', 'sessions_by_instance'],
                           session_fields=['username', 'session_id', 'port_number'])
    assert [list(item) for item in result['sessions'][:2]] == [['session_id', 'username', 'port_number'], ['session_id', 'username']]
    assert {'session_id', 'username', 'port_number'} == set().union(*result['sessions'])
    assert result['sessions'] == [{key: item[key] for key in ('session_id', 'username', 'port_number') if key in item}
                                  for item in records]
    assert result['sessions_by_instance'] == session_ids_by_instance(records)
    assert 'connections' in records[0]  # the records given are not changed


def test_a_grouping_of_records_is_cut_like_sessions(records):
    from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import sessions_by_instance
    result = shaped_result(records, return_keys=['sessions_by_instance'], session_fields=['session_id'],
                           group=sessions_by_instance)
    assert result['sessions_by_instance'] == {key: [{'session_id': item} for item in ids]
                                              for key, ids in session_ids_by_instance(records).items()}


def test_the_query_sees_the_full_records_whatever_is_returned(records):
    def query(sessions):
        return [item['connections'][0]['status'] for item in sessions if item['username'] == 'root']
    expected = query(records)
    for keys in ([], ['summary_by_instance'], list(RETURN_KEYS)):
        result = shaped_result(records, return_keys=keys, session_fields=['session_id'], query=query)
        assert result['query_result'] == expected
        assert set(result) == set(keys) | {'query_result'}
    assert 'query_result' not in shaped_result(records)


def test_unknown_names_are_refused_naming_them_and_the_valid_ones():
    with pytest.raises(ResultShapeError) as error:
        checked_session_fields(['username', 'user_name', 'Username'])
    assert str(error.value) == ('session_fields: unknown names user_name, Username; valid: ' + ', '.join(SESSION_FIELDS))
    with pytest.raises(ResultShapeError, match=r'^return_keys: unknown name summary; valid: sessions, sessions_by_instance, '
                                               r'summary_by_instance$'):
        checked_return_keys(['summary'])
    with pytest.raises(ResultShapeError, match='at least one field'):
        checked_session_fields([])
    with pytest.raises(ResultShapeError, match='expected a list of names; got str'):
        checked_session_fields('username')
    with pytest.raises(ResultShapeError, match='got a list with a int'):
        checked_return_keys([1])


def test_a_refused_name_stops_before_any_work(records):
    def query(sessions):
        raise AssertionError('the query ran')
    with pytest.raises(ResultShapeError, match='failed_detail'):
        shaped_result(records, session_fields=['failed_detail'], query=query)


def test_names_are_put_in_record_order_once():
    assert checked_session_fields(['username', 'session_id', 'username']) == ('session_id', 'username')
    assert checked_return_keys(['summary_by_instance', 'sessions']) == ('sessions', 'summary_by_instance')
    assert checked_return_keys(None) == RETURN_KEYS and checked_session_fields(None) is None


def test_trimmed_leaves_absent_fields_absent():
    assert trimmed([{'session_id': 's-1'}, {'session_id': 's-2', 'port_number': 22}], ('session_id', 'port_number')) == [
        {'session_id': 's-1'}, {'session_id': 's-2', 'port_number': 22}]
