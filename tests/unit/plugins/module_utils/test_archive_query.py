"""archive_query: the database's share of the criteria, the rest by criteria.Criteria, records as archived."""

from __future__ import annotations

import datetime
import json
import sqlite3

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils import archive_query
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_query import (
    ArchiveQueryError, build_query, record_from_row, select_sessions, time_window)
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_store import ArchiveLocation, open_archive
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import Criteria, CriteriaError

from support.archive_rows import SESSIONS, insert, populate

NOW = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def archive(archive_store):
    """An open archive of each kind (the archive_store fixture: SQLite and PostgreSQL), holding SESSIONS."""
    location = ArchiveLocation(**archive_store.options)
    with open_archive(location, read_only=False, create=True, lock_timeout=10) as opened:
        insert(opened, SESSIONS)
    with open_archive(location, read_only=True, create=False, lock_timeout=10) as opened:
        yield opened


def expected(filters=None, regions=(), instances=(), session_ids=()):
    """What ecs_terminal_session_info's selection would keep of SESSIONS: Criteria, region, instance, session ID."""
    criteria = Criteria(filters, now=NOW)
    return sorted(s['session_id'] for s in SESSIONS
                  if (not regions or s['region_id'] in regions)
                  and (not instances or set(instances) & set(s['instance_ids']))
                  and (not session_ids or s['session_id'] in session_ids)
                  and criteria.match(s))


def selected(archive, filters=None, regions=(), instances=(), session_ids=()):
    found = select_sessions(archive, Criteria(filters, now=NOW), regions, instances, session_ids,
                            time_window(filters, NOW))
    return sorted(s['session_id'] for s in found)


CASES = [
    dict(),
    dict(regions=('cn-shanghai',)),
    dict(regions=('cn-shanghai', 'cn-beijing')),
    dict(instances=('i-3',)),
    dict(instances=('i-3', 'i-4'), regions=('cn-hangzhou',)),
    dict(session_ids=('s-0005', 's-0042', 's-9999')),
    dict(session_ids=('s-0005',), regions=('cn-beijing',)),
    dict(filters={'username': 'root'}),
    dict(filters={'username': ['root'], 'created_after': '2024-01-01T00:00:00Z', 'created_before': '2024-02-01T00:00:00Z'}),
    dict(filters={'created_after': '2024-01-10T05:05:00Z'}),  # a session created at exactly this time is not after it
    dict(filters={'created_before': '2024-01-10T05:05:00Z'}),
    dict(filters={'created_after': '50d'}, instances=('i-2',)),
    dict(filters={'client_ip': '10.1.0.0/16', 'identity_type': 'ramuser'}),
    dict(filters={'status': 'failed', 'active': False}),
    dict(filters={'port_forwarding': True, 'principal_id': ['100', '102']}),
    dict(filters={'active': True}, instances=('i-0', 'i-1'), session_ids=('s-0000', 's-0007', 's-0035')),
]


@pytest.mark.parametrize('case', CASES, ids=[json.dumps(case, sort_keys=True) for case in CASES])
def test_selection_is_what_the_info_module_would_select(archive, case):
    assert selected(archive, **case) == expected(**case)


def test_the_cases_select_something_and_not_everything():
    """Otherwise the comparison above could pass with a query that selects all or nothing."""
    sizes = [len(expected(**case)) for case in CASES[1:]]
    assert all(0 < size < len(SESSIONS) for size in sizes), sizes


def test_a_session_at_exactly_a_bound_is_outside_it_as_with_criteria(archive):
    moment = SESSIONS[7]['creation_time']
    assert SESSIONS[7]['session_id'] not in selected(archive, {'created_after': moment})
    assert SESSIONS[7]['session_id'] not in selected(archive, {'created_before': moment})
    just_before = (datetime.datetime.strptime(moment, '%Y-%m-%dT%H:%M:%SZ') - datetime.timedelta(seconds=1)).strftime(
        '%Y-%m-%dT%H:%M:%SZ')
    assert SESSIONS[7]['session_id'] in selected(archive, {'created_after': just_before})


def test_records_come_back_as_archived_with_their_bookkeeping(archive_store):
    location = ArchiveLocation(**archive_store.options)
    updated = dict(SESSIONS[0], username='changed')
    with open_archive(location, read_only=False, create=True, lock_timeout=10) as opened:
        insert(opened, [SESSIONS[1]], archived_at='2024-01-02T03:04:05Z')
        insert(opened, [updated], archived_at='2024-01-01T00:00:00Z', updated_at='2024-02-01T00:00:00Z')
    with open_archive(location, read_only=True, create=False, lock_timeout=10) as opened:
        found = {s['session_id']: s for s in select_sessions(opened, Criteria(None))}
    assert found[SESSIONS[1]['session_id']] == dict(SESSIONS[1], _archive={'archived_at': '2024-01-02T03:04:05Z'})
    assert found['s-0000'] == dict(updated, _archive={'archived_at': '2024-01-01T00:00:00Z', 'updated_at': '2024-02-01T00:00:00Z'})


def test_a_narrow_question_reads_only_the_matching_rows(archive, monkeypatch):
    parsed = []
    real = archive_query.record_from_row
    monkeypatch.setattr(archive_query, 'record_from_row', lambda *row: parsed.append(row[3:]) or real(*row))
    found = select_sessions(archive, Criteria(None), instance_ids=['i-3'])
    assert len(found) == len(expected(instances=('i-3',))) == len(parsed) < len(SESSIONS) / 4
    parsed.clear()
    window = time_window({'created_after': '2024-02-20T00:00:00Z'}, NOW)
    select_sessions(archive, Criteria({'created_after': '2024-02-20T00:00:00Z'}, now=NOW), window=window)
    assert 0 < len(parsed) <= sum(s['creation_time'] >= '2024-02-19T23:59:59Z' for s in SESSIONS)


def test_rows_are_fetched_in_batches(archive):
    """The cursor is read fetch_rows at a time (on PostgreSQL a server-side cursor), every row once."""
    batches = []

    class CountingConnection:
        def __init__(self, connection):
            self.connection = connection

        def __getattr__(self, name):
            return getattr(self.connection, name)

        def cursor(self, *args, **kwargs):
            return CountingCursor(self.connection.cursor(*args, **kwargs))

    class CountingCursor:
        def __init__(self, cursor):
            self.cursor = cursor

        def __getattr__(self, name):
            return getattr(self.cursor, name)

        def __enter__(self):
            self.cursor.__enter__()
            return self

        def __exit__(self, *exc_info):
            return self.cursor.__exit__(*exc_info)

        def fetchmany(self, size):
            rows = self.cursor.fetchmany(size)
            batches.append(len(rows))
            return rows

    class Counting:
        dialect, placeholder = archive.dialect, archive.placeholder
        connection = CountingConnection(archive.connection)

    records = list(archive_query.stream_records(Counting, build_query(archive.placeholder), fetch_rows=7))
    assert sorted(r['session_id'] for r in records) == sorted(s['session_id'] for s in SESSIONS)
    assert max(batches) == 7 and sum(batches) == len(SESSIONS) and batches[-1] == 0


@pytest.mark.parametrize('query, plan_words', [
    (dict(instance_ids=['i-1']), ('terminal_session_instances', 'instance_id=?')),
    (dict(created_after='2024-01-01T00:00:00Z', created_before='2024-02-01T00:00:00Z'), ('terminal_sessions_creation_time',)),
    (dict(region_ids=['cn-hangzhou'], session_ids=['s-0001']), ('region_id=? AND session_id=?',)),
    (dict(session_ids=['s-0001']), ('region_id=? AND session_id=?',)),
])
def test_sqlite_answers_through_its_indexes_without_reading_every_row(tmp_path, query, plan_words):
    (tmp_path / 'store').mkdir(mode=0o700)
    with open_archive(ArchiveLocation(path=str(tmp_path / 'store' / 'a.db')), create=True, lock_timeout=5) as opened:
        built = build_query('?', **query)
        plan = ' | '.join(row[3] for row in opened.connection.execute('EXPLAIN QUERY PLAN ' + built.sql, built.parameters))
    assert 'SCAN s' not in plan and 'SCAN terminal_sessions' not in plan, plan
    for word in plan_words:
        assert word.split('=')[0] in plan, plan


def test_values_are_parameters_never_sql():
    hostile = "x') OR 1=1 --"
    built = build_query('%s', [hostile], [hostile], [hostile], hostile, hostile)
    assert hostile not in built.sql
    assert built.sql.count('%s') == len(built.parameters) == 5
    assert list(built.parameters) == [hostile] * 5


def test_an_injected_value_selects_nothing(archive):
    assert select_sessions(archive, Criteria(None), region_ids=["x' OR '1'='1"]) == []


def test_time_window_is_a_second_wider_than_asked():
    assert time_window(None, NOW) == (None, None)
    assert time_window({'created_after': '2024-01-19T09:15:46Z'}, NOW) == ('2024-01-19T09:15:45Z', None)
    assert time_window({'created_before': '2024-01-19T09:15:46.5+08:00'}, NOW) == (None, '2024-01-19T01:15:47Z')
    assert time_window({'created_after': '7d', 'created_before': '1d'}, NOW) == ('2024-02-23T11:59:59Z', '2024-02-29T12:00:01Z')


def test_time_window_refuses_what_criteria_refuses():
    with pytest.raises(CriteriaError, match='filters.created_after'):
        time_window({'created_after': 'last tuesday'}, NOW)


@pytest.mark.parametrize('stored, problem', [
    ('{"session_id": ', 'is not JSON'),
    ('[1, 2]', 'a JSON list, not a session record'),
    ('{"session_id": "s-1", "connections": {}}', 'connections that is not a list'),
])
def test_a_damaged_record_is_named(stored, problem):
    with pytest.raises(ArchiveQueryError, match='s-1') as raised:
        record_from_row(stored, '2024-01-01T00:00:00Z', None, 'cn-hangzhou', 's-1')
    assert problem in str(raised.value)


@pytest.mark.parametrize('stored, filters, problem', [
    ({'username': ['root']}, None, 'username of session s-1 is a list'),
    ({'connections': ['not a connection']}, {'status': 'Failed'}, 'AttributeError'),
    ({'connections': [{'status': 'Failed', 'instance_id': ['i-1']}]}, {'status': 'Failed'}, 'instance_id of a connection of session s-1 is a list'),
])
def test_a_record_the_selection_cannot_use_is_named(tmp_path, stored, filters, problem):
    (tmp_path / 'store').mkdir(mode=0o700)
    options = {'path': str(tmp_path / 'store' / 'a.db')}
    record = dict({'session_id': 's-1', 'region_id': 'cn-hangzhou', 'creation_time': '2024-01-01T00:00:00Z',
                   'connections': [], 'instance_ids': []}, **stored)
    populate(options, [record])
    with open_archive(ArchiveLocation(**options), read_only=True, create=False, lock_timeout=5) as opened:
        with pytest.raises(ArchiveQueryError, match='session s-1 .region cn-hangzhou.') as raised:
            select_sessions(opened, Criteria(filters))
    assert problem in str(raised.value)


def test_bookkeeping_in_the_record_text_is_replaced_by_the_columns():
    record = record_from_row('{"session_id": "s-1", "_archive": {"archived_at": "forged"}}', '2024-01-01T00:00:00Z',
                             '', 'cn-hangzhou', 's-1')
    assert record['_archive'] == {'archived_at': '2024-01-01T00:00:00Z'}


def test_a_missing_table_is_a_database_error(tmp_path):
    connection = sqlite3.connect(str(tmp_path / 'x.db'))

    class Bare:
        dialect, placeholder = 'sqlite', '?'

    Bare.connection = connection
    with pytest.raises(sqlite3.OperationalError):
        select_sessions(Bare, Criteria(None))
