"""ecs_terminal_session_archive_info in-process, on both stores (the archive_store fixture): SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils import module as module_wrapper
from ansible_collections.alicloud.ecs.plugins.modules import ecs_terminal_session_archive_info as archive_info
from ansible_collections.alicloud.ecs.plugins.modules import ecs_terminal_session_info as info
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import newest_first

from support.archive_rows import SESSIONS, make_session, populate

from conftest import module_args

INFO_ONLY_KEYS = ('failed_regions', 'request_ids', 'api_calls', 'invocation', 'failed')


def run(**args):
    """The result main() printed for ``args`` (no connection options: the module takes none)."""
    out = io.StringIO()
    with module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        archive_info.main()
    result = json.loads(out.getvalue())
    result.setdefault('failed', False)
    return result


@pytest.fixture
def store(archive_store):
    populate(archive_store.options, SESSIONS)
    return archive_store


def without_bookkeeping(result):
    result = {key: value for key, value in result.items() if key not in INFO_ONLY_KEYS}
    result['sessions'] = [{key: value for key, value in session.items() if key != '_archive'} for session in result['sessions']]
    return result


SELECTIONS = [
    dict(),
    dict(instance_id=['i-3', 'i-9']),
    dict(session_id=['s-0010', 's-0011', 's-0012'], query='[].{id: session_id, user: username}'),
    dict(filters={'username': ['root'], 'created_after': '2024-01-01T00:00:00Z', 'created_before': '2024-02-01T00:00:00Z'},
         instance_id=['i-1']),
    dict(filters={'port_forwarding': True, 'status': 'terminated'}, query='length(@)'),
]


@pytest.mark.parametrize('selection', SELECTIONS, ids=[json.dumps(s, sort_keys=True) for s in SELECTIONS])
def test_same_result_as_the_info_module_for_the_same_sessions(store, listing, selection):
    """The info module over the same records (as its listing returns them, newest first) gives the same keys and
    values; only the archive's bookkeeping differs."""
    listing.sessions = newest_first(SESSIONS)
    regions = ['cn-hangzhou', 'cn-shanghai', 'cn-beijing']
    out = io.StringIO()
    args = dict(selection, region_id=regions, access_key_id='LTAIkey', access_key_secret='s3cret-value')
    with module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        info.main()
    expected = json.loads(out.getvalue())
    if selection.get('session_id') or selection.get('instance_id'):
        # The fake listing does not select by ID; the service does. Keep what it would have returned.
        ids, instances = set(selection.get('session_id') or ()), set(selection.get('instance_id') or ())
        listing.sessions = [s for s in listing.sessions if (not ids or s['session_id'] in ids)
                            and (not instances or instances & set(s['instance_ids']))]
        out = io.StringIO()
        with module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            info.main()
        expected = json.loads(out.getvalue())
    result = run(**dict(selection, **store.options))
    assert not result['failed'], result
    assert result['sessions'], 'the selection should find something'
    assert all(session['_archive'] == {'archived_at': '2024-03-01T00:00:00Z'} for session in result['sessions'])
    assert without_bookkeeping(result) == without_bookkeeping(expected)


def test_newest_first_with_every_key(store):
    result = run(**store.options, region_id=['cn-shanghai'])
    times = [s['creation_time'] for s in result['sessions']]
    assert times == sorted(times, reverse=True) and len(times) == sum(s['region_id'] == 'cn-shanghai' for s in SESSIONS)
    assert result['changed'] is False
    assert set(result) >= {'sessions', 'sessions_by_instance', 'summary_by_instance'}
    assert 'query_result' not in result


def test_instance_keys_are_exactly_those_asked(store):
    result = run(**store.options, instance_id=['i-2', 'i-never'])
    assert set(result['sessions_by_instance']) == {'i-2', 'i-never'}
    assert result['sessions_by_instance']['i-never'] == []
    assert result['summary_by_instance']['i-never']['session_count'] == 0
    assert result['summary_by_instance']['i-2']['session_count'] == len(result['sessions_by_instance']['i-2']) > 0


def test_check_mode_reads_the_same(store):
    assert run(**store.options, instance_id=['i-4'], _ansible_check_mode=True)['sessions'] == \
        run(**store.options, instance_id=['i-4'])['sessions']


def test_reading_changes_no_byte_of_the_sqlite_file(tmp_path):
    (tmp_path / 'store').mkdir(mode=0o700)
    path = tmp_path / 'store' / 'sessions.db'
    populate({'path': str(path)}, SESSIONS[:10])
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(run(path=str(path))['sessions']) == 10
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_an_updated_record_carries_its_updated_at(archive_store):
    populate(archive_store.options, [make_session(1)], archived_at='2024-01-01T00:00:00Z', updated_at='2024-01-02T00:00:00Z')
    session = run(**archive_store.options)['sessions'][0]
    assert session['_archive'] == {'archived_at': '2024-01-01T00:00:00Z', 'updated_at': '2024-01-02T00:00:00Z'}


def test_a_missing_file_fails_naming_it(tmp_path):
    (tmp_path / 'store').mkdir(mode=0o700)
    path = tmp_path / 'store' / 'nothing-here.db'
    result = run(path=str(path))
    assert result['failed'] and f'No archive at {path}' in result['msg']
    assert not path.exists()


def test_an_empty_file_made_beforehand_is_an_archive_without_records(tmp_path):
    (tmp_path / 'store').mkdir(mode=0o700)
    path = tmp_path / 'store' / 'sessions.db'
    path.touch(mode=0o640)
    result = run(path=str(path), instance_id=['i-1'])
    assert not result['failed'] and result['sessions'] == [] and result['sessions_by_instance'] == {'i-1': []}
    assert path.stat().st_size == 0


def test_a_sqlite_database_of_something_else_is_refused(tmp_path):
    (tmp_path / 'store').mkdir(mode=0o700)
    path = tmp_path / 'store' / 'other.db'
    with contextlib.closing(sqlite3.connect(str(path))) as connection:
        connection.execute('CREATE TABLE accounts (name TEXT)')
        connection.commit()
    result = run(path=str(path))
    assert result['failed'] and 'not an archive of this module' in result['msg']


def test_an_empty_sqlite_database_is_not_an_archive(tmp_path):
    (tmp_path / 'store').mkdir(mode=0o700)
    path = tmp_path / 'store' / 'blank.db'
    with contextlib.closing(sqlite3.connect(str(path))) as connection:
        connection.execute('PRAGMA user_version = 1')  # writes the header: a SQLite file with no table
        connection.commit()
    result = run(path=str(path))
    assert result['failed'] and 'is not an archive of this module' in result['msg'] and str(path) in result['msg']


def test_a_version_1_json_lines_archive_is_refused_naming_import_path(tmp_path):
    (tmp_path / 'store').mkdir(mode=0o700)
    path = tmp_path / 'store' / 'sessions.jsonl'
    path.write_text('{"_archive_format":"alicloud.ecs.terminal_sessions","version":1,"records":0}\n')
    result = run(path=str(path))
    assert result['failed'] and 'import_path' in result['msg']


def test_a_postgresql_database_without_the_archive_is_refused(postgres_database):
    result = run(database_url=postgres_database.url, database_password=postgres_database.password)
    assert result['failed'] and 'is not an archive of this module' in result['msg']
    assert postgres_database.password not in json.dumps(result)


def test_a_refused_password_fails_clearly_without_showing_it(postgres_database):
    populate({'database_url': postgres_database.url, 'database_password': postgres_database.password}, SESSIONS[:1])
    result = run(database_url=postgres_database.url, database_password='wrong-password-123')
    assert result['failed'] and 'password' in result['msg'] and 'Traceback' not in json.dumps(result)
    assert 'wrong-password-123' not in json.dumps(result)


def test_a_password_inside_the_url_is_masked_and_warned_about(postgres_database, monkeypatch):
    # Recorded at the wrapper: once a controller-side test has run in this process, ansible-core 2.19+ sends module
    # warnings to its display instead of the result (the playbook run in the integration test sees them there).
    warned = []
    real_warn = module_wrapper.AlicloudModule.warn
    monkeypatch.setattr(module_wrapper.AlicloudModule, 'warn', lambda self, message: warned.append(message) or real_warn(self, message))
    populate({'database_url': postgres_database.url, 'database_password': postgres_database.password}, SESSIONS[:3])
    result = run(database_url=postgres_database.dsn_with_password, query='[0].session_id')
    assert not result['failed'], result
    assert len(result['sessions']) == 3
    assert any('database_password' in message for message in warned), warned
    assert postgres_database.password not in json.dumps(result) + json.dumps(warned)


def test_a_read_only_role_is_enough(postgres_database, postgres_server):
    populate({'database_url': postgres_database.url, 'database_password': postgres_database.password}, SESSIONS[:5])
    postgres_server.admin("CREATE ROLE archive_reader_%s LOGIN PASSWORD 'reader-pass-1'" % os.getpid())
    reader = 'archive_reader_%s' % os.getpid()
    try:
        postgres_database.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}')
        result = run(database_url=postgres_database.as_role(reader, 'reader-pass-1').url, database_password='reader-pass-1')
        assert not result['failed'], result
        assert len(result['sessions']) == 5
    finally:
        postgres_database.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {reader}')
        postgres_server.admin(f'DROP ROLE {reader}')


def test_a_damaged_record_fails_naming_the_session(archive_store):
    populate(archive_store.options, [make_session(3)])
    archive_store.query("UPDATE terminal_sessions SET record = {p}", ('{"session_id": "s-0003", "username": [1]}',))
    result = run(**archive_store.options)
    assert result['failed'] and 's-0003' in result['msg'] and 'Cannot read the archive' in result['msg']


@pytest.mark.parametrize('args, message', [
    (dict(), 'one of the following is required: path, database_url'),
    (dict(path='/x.db', database_url='postgresql://h/d'), 'mutually exclusive'),
    (dict(path='/x.db', instance_id=['i-1', ' ']), 'instance_id: an empty ID'),
    (dict(path='/x.db', region_id=['']), 'region_id: an empty ID'),
    (dict(path='/x.db', filters={'created_after': 'yesterday'}), 'filters.created_after'),
    (dict(path='/x.db', filters={'status': 'open'}), 'filters.status: unknown value open'),
    (dict(path='/x.db', query='[?'), 'not a valid JMESPath expression'),
    (dict(path='/x.db', access_key_id='LTAIkey'), 'Unsupported parameters'),
])
def test_bad_options_fail_before_reading(args, message):
    result = run(**args)
    assert result['failed'] and message in result['msg'], result


def test_a_query_that_fails_on_the_data_fails_the_task(store):
    result = run(**store.options, query="[].username | sum(@)")
    assert result['failed'] and 'query: the expression failed' in result['msg']


def test_a_database_error_while_reading_fails_naming_the_cause(tmp_path):
    (tmp_path / 'store').mkdir(mode=0o700)
    path = tmp_path / 'store' / 'sessions.db'
    populate({'path': str(path)}, SESSIONS[:2])
    with contextlib.closing(sqlite3.connect(str(path))) as connection:
        connection.execute('DROP TABLE terminal_session_instances')
        connection.commit()
    result = run(path=str(path), instance_id=['i-1'])
    assert result['failed'] and f'Cannot read the archive {path}' in result['msg']
    assert 'no such table: terminal_session_instances' in result['msg'] and 'Traceback' not in result['msg']


def test_a_role_without_select_fails_saying_it_lacks_a_privilege(postgres_database, postgres_app_role):
    populate({'database_url': postgres_database.url, 'database_password': postgres_database.password}, SESSIONS[:2])
    postgres_database.execute(f'REVOKE SELECT ON terminal_sessions FROM {postgres_app_role.name}')
    result = run(database_url=postgres_app_role.url, database_password=postgres_app_role.password)
    assert result['failed'] and 'lacks a privilege' in result['msg'] and 'terminal_sessions' in result['msg'], result
    assert postgres_app_role.password not in json.dumps(result)
