"""ecs_terminal_session_archive through ansible-playbook against the local ECS endpoint, on SQLite and PostgreSQL.

The ``archive_store`` fixture (tests/support/postgres.py) runs each test on a new SQLite file and on a new database
of the throw-away PostgreSQL server.
"""

from __future__ import annotations

import copy
import csv
import datetime
import io
import json
import os
import sqlite3
import stat

from support.playbooks import connection

from ansible_collections.alicloud.ecs.plugins.module_utils.archive import BOOKKEEPING, header
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import parse_iso_time
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import normalize_session

MODULE = 'alicloud.ecs.ecs_terminal_session_archive'
REGIONS = ['cn-hangzhou', 'cn-shanghai']


def run(runner, endpoint, store, check=False, **extra):
    args = connection(endpoint, **dict(store.options, **extra))
    return runner.run_module(args, module=MODULE, check=check)


def keys(records):
    return sorted((record['region_id'], record['session_id']) for record in records)


def served(endpoint, region):
    """The sessions the endpoint lists for a region, normalised; a session given twice counts once (the first)."""
    seen = {}
    for raw in endpoint.sessions(region):
        seen.setdefault(raw['SessionId'], normalize_session(raw, region))
    return list(seen.values())


def snapshot(store):
    """What a run must not change: the SQLite file's bytes, or every row of the database."""
    if store.kind == 'sqlite':
        return store.sqlite_path.read_bytes()
    return [store.rows(table) for table in ('terminal_sessions', 'terminal_session_instances', 'archive_regions',
                                            'archive_counters', 'change_log_positions')]


def end_one_session(endpoint, region):
    """Close the connections of one session, as EndTerminalSession would: the service now describes it differently."""
    sessions = endpoint.seed_data[region]
    chosen = next((s for s in sessions if any(c.get('Status') in ('Connected', 'Connecting') for c in
                                              (s.get('Connections') or {}).get('Connection', []))),
                  next(s for s in sessions if (s.get('Connections') or {}).get('Connection')))
    ended = copy.deepcopy(chosen)
    for conn in ended['Connections']['Connection']:
        conn.update(Status='Terminated', EndTime='2030-01-01T00:00:00Z', ClosedReason='SessionTerminated')
    endpoint.add_sessions(region, [ended])  # listed first, so it is the record the listing keeps
    return ended['SessionId']


def private_directory(tmp_path, name='archive'):
    directory = tmp_path / name
    directory.mkdir(mode=0o755)
    return directory


def test_runs_add_then_keep_then_update_check_mode_changes_nothing(runner, endpoint_factory, archive_store, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 120, 'cn-shanghai': 30})
    log = private_directory(tmp_path, 'log') / 'changes.jsonl'

    # Check mode on a store that does not exist yet: the counts, and nothing created.
    checked = run(runner, endpoint, archive_store, check=True, region_id=REGIONS).result
    assert not checked.get('failed'), checked
    assert checked['created'] is True and checked['added'] == 150 and not archive_store.exists()

    first = run(runner, endpoint, archive_store, region_id=REGIONS, jsonl_path=str(log)).result
    assert not first.get('failed'), first
    assert first['changed'] is True and first['created'] is True and first['change_log_appended'] == 150
    assert (first['added'], first['updated'], first['unchanged'], first['pruned'], first['records']) == (150, 0, 0, 0, 150)
    truth = served(endpoint, 'cn-hangzhou') + served(endpoint, 'cn-shanghai')
    assert sorted(archive_store.records()) == keys(truth)
    assert first['oldest_creation_time'] == min(s['creation_time'] for s in truth)
    assert first['newest_creation_time'] == max(s['creation_time'] for s in truth)
    assert first['gap'] is False and first['gaps'] == []
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert keys(lines) == keys(truth) and all(set(line[BOOKKEEPING]) == {'archived_at'} for line in lines)
    if archive_store.kind == 'sqlite':
        assert stat.S_IMODE(archive_store.sqlite_path.stat().st_mode) == 0o600
        os.chmod(archive_store.sqlite_path, 0o640)
    log_bytes = log.read_bytes()

    second = run(runner, endpoint, archive_store, region_id=REGIONS, jsonl_path=str(log)).result
    assert not second.get('failed'), second
    assert second['changed'] is False and second['created'] is False and second['change_log_appended'] == 0
    assert (second['added'], second['updated'], second['unchanged'], second['records']) == (0, 0, 150, 150)
    assert log.read_bytes() == log_bytes

    # One session closed and three new ones: check mode counts them and changes nothing, byte for byte.
    ended_id = end_one_session(endpoint, 'cn-hangzhou')
    new_ids = endpoint.generate_sessions('cn-shanghai', 3, seed=7)
    before = snapshot(archive_store)
    checked = run(runner, endpoint, archive_store, check=True, region_id=REGIONS, jsonl_path=str(log)).result
    assert not checked.get('failed'), checked
    assert checked['changed'] is True and checked['created'] is False and checked['change_log_appended'] == 4
    assert (checked['added'], checked['updated'], checked['unchanged'], checked['records']) == (3, 1, 149, 153)
    assert snapshot(archive_store) == before and log.read_bytes() == log_bytes

    third = run(runner, endpoint, archive_store, region_id=REGIONS, jsonl_path=str(log)).result
    assert not third.get('failed'), third
    assert (third['changed'], third['added'], third['updated'], third['unchanged'], third['records']) == (True, 3, 1, 149, 153)
    records = archive_store.records()
    assert sorted(records) == keys(served(endpoint, 'cn-hangzhou') + served(endpoint, 'cn-shanghai'))
    assert {('cn-shanghai', new_id) for new_id in new_ids} <= set(records)
    assert {c['status'] for c in records[('cn-hangzhou', ended_id)]['connections']} == {'Terminated'}
    ended_row = [row for row in archive_store.rows() if row['session_id'] == ended_id][0]
    assert ended_row['updated_at'] and ended_row['archived_at'] <= ended_row['updated_at']
    # The change log only grew, by the four changes, the closed session with its updated_at.
    assert log.read_bytes().startswith(log_bytes)
    appended = [json.loads(line) for line in log.read_bytes()[len(log_bytes):].decode().splitlines()]
    assert len(appended) == 4 and [line for line in appended if line['session_id'] == ended_id][0][BOOKKEEPING]['updated_at']
    if archive_store.kind == 'sqlite':
        assert stat.S_IMODE(archive_store.sqlite_path.stat().st_mode) == 0o640


def set_last_listing(store, region, moment):
    store.query('UPDATE archive_regions SET last_complete_listing_at = {p} WHERE region_id = {p}',
                (moment.strftime('%Y-%m-%dT%H:%M:%SZ'), region))


def test_a_quiet_region_has_no_gap_until_its_last_listing_is_older_than_the_retention(
        runner, endpoint_factory, archive_store):
    endpoint = endpoint_factory({'cn-hangzhou': 5, 'cn-shanghai': 0})
    first = run(runner, endpoint, archive_store, region_id=REGIONS).result
    assert not first.get('failed') and first['gap'] is False, first
    now = datetime.datetime.now(datetime.timezone.utc)
    set_last_listing(archive_store, 'cn-shanghai', now - datetime.timedelta(hours=1))
    quiet = run(runner, endpoint, archive_store, region_id=REGIONS).result
    assert not quiet.get('failed') and quiet['gap'] is False and quiet['gaps'] == [], quiet

    set_last_listing(archive_store, 'cn-shanghai', now - datetime.timedelta(days=30))
    done = run(runner, endpoint, archive_store, region_id=REGIONS)
    result = done.result
    assert not result.get('failed') and result['gap'] is True, result
    [gap] = result['gaps']
    assert gap['region_id'] == 'cn-shanghai' and gap['oldest_listed'] is None and gap['listed'] == 0
    assert 30 * 86400 <= gap['seconds'] < 30 * 86400 + 600 and gap['span'].startswith('30d')
    assert 'may have left the service unseen' in done.output


def write_v1(path, records):
    path.write_text('\n'.join([json.dumps(header(len(records)))] + [json.dumps(record) for record in records]) + '\n')
    path.chmod(0o600)


def test_an_imported_archive_whose_newest_session_is_beyond_retention_reports_a_gap(
        runner, endpoint_factory, archive_store, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 20})
    oldest_listed = min(s['creation_time'] for s in served(endpoint, 'cn-hangzhou'))
    long_ago = (parse_iso_time(oldest_listed) - datetime.timedelta(days=40, hours=2)).strftime('%Y-%m-%dT%H:%M:%SZ')
    old = private_directory(tmp_path, 'old') / 'sessions.jsonl'
    write_v1(old, [{'session_id': 's-hz-gone', 'region_id': 'cn-hangzhou', 'creation_time': long_ago,
                    'connections': [], 'instance_ids': [], BOOKKEEPING: {'archived_at': long_ago}}])
    done = run(runner, endpoint, archive_store, import_path=str(old))
    result = done.result
    assert not result.get('failed'), result
    assert (result['imported'], result['added'], result['records']) == (1, 20, 21)
    assert result['gap'] is True and result['gaps'] == [{
        'region_id': 'cn-hangzhou', 'newest_archived': long_ago, 'last_complete_listing': None,
        'oldest_listed': oldest_listed, 'seconds': (40 * 24 + 2) * 3600, 'span': '40d 2h', 'listed': 20}]
    again = run(runner, endpoint, archive_store, import_path=str(old)).result
    assert (again['imported'], again['added'], again['records'], again['gap']) == (0, 0, 21, False)


def test_a_version_1_file_at_path_is_refused_naming_import_path(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 30})
    path = private_directory(tmp_path) / 'sessions.jsonl'
    write_v1(path, [dict(s, **{BOOKKEEPING: {'archived_at': s['creation_time']}}) for s in served(endpoint, 'cn-hangzhou')])
    before = path.read_bytes()
    result = run(runner, endpoint, type('Store', (), {'options': {'path': str(path)}})).result
    assert result['failed'] is True
    assert 'import_path' in result['msg'] and 'version 1' in result['msg'] and str(path) in result['msg']
    assert path.read_bytes() == before and endpoint.stats()['calls'] == 0


def test_a_file_that_is_not_an_archive_of_this_module_is_refused(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 3})
    directory = private_directory(tmp_path)
    other = directory / 'other.sqlite'
    connection_ = sqlite3.connect(str(other))
    connection_.execute('CREATE TABLE invoices (id INTEGER)')
    connection_.commit()
    connection_.close()
    other.chmod(0o600)
    text = directory / 'notes.txt'
    text.write_text('meeting at noon\n')
    text.chmod(0o600)
    for path in (other, text):
        before = path.read_bytes()
        result = run(runner, endpoint, type('Store', (), {'options': {'path': str(path)}})).result
        assert result['failed'] is True and 'not an archive of this module' in result['msg'], result
        assert path.read_bytes() == before
    assert endpoint.stats()['calls'] == 0


def test_keep_days_prunes_does_not_add_back_and_the_csv_is_safe(runner, endpoint_factory, archive_store, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 250})  # 30 s to 90 min apart: about eight days
    csv_path = private_directory(tmp_path, 'csv') / 'sessions.csv'
    assert not run(runner, endpoint, archive_store).result.get('failed')
    hostile = copy.deepcopy(endpoint.seed_data['cn-hangzhou'][0])
    hostile.update(SessionId='s-hz-hostile', Username='=HYPERLINK("http://evil.invalid","x")', ClientIP='@10.0.0.1')
    endpoint.add_sessions('cn-hangzhou', [hostile])
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)

    result = run(runner, endpoint, archive_store, keep_days=3, csv_path=str(csv_path)).result
    after = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)
    assert not result.get('failed'), result
    old = [s for s in served(endpoint, 'cn-hangzhou') if parse_iso_time(s['creation_time']) < before]
    assert 50 < len(old) < 240
    assert result['changed'] is True and result['csv_changed'] is True
    assert result['added'] == 1 and result['updated'] == 0
    assert result['pruned'] + result['unchanged'] == 250 and result['records'] == 251 - result['pruned']
    records = archive_store.records()
    assert len(records) == result['records']
    assert all(parse_iso_time(r['creation_time']) >= before for r in records.values())
    assert not [s for s in served(endpoint, 'cn-hangzhou')
                if parse_iso_time(s['creation_time']) >= after and ('cn-hangzhou', s['session_id']) not in records]

    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(), newline='')))
    assert len(rows) == len(records)
    row = next(r for r in rows if r['session_id'] == 's-hz-hostile')
    assert row['username'] == '\'=HYPERLINK("http://evil.invalid","x")' and row['client_ip'] == "'@10.0.0.1"
    assert stat.S_IMODE(csv_path.stat().st_mode) == 0o600
    written, mtime = csv_path.read_bytes(), csv_path.stat().st_mtime_ns
    again = run(runner, endpoint, archive_store, keep_days=3, csv_path=str(csv_path)).result
    assert again['csv_changed'] is False and csv_path.stat().st_mtime_ns == mtime and csv_path.read_bytes() == written


def test_a_lock_held_past_lock_timeout_fails_clearly_and_changes_nothing(runner, endpoint_factory, archive_store):
    endpoint = endpoint_factory({'cn-hangzhou': 10})
    assert not run(runner, endpoint, archive_store).result.get('failed')
    endpoint.generate_sessions('cn-hangzhou', 3, seed=3)
    before = snapshot(archive_store)
    holder = archive_store.connect()
    try:
        if archive_store.kind == 'sqlite':
            holder.isolation_level = None
            holder.execute('BEGIN IMMEDIATE')
        else:
            holder.execute("SELECT region_id FROM archive_regions WHERE region_id = 'cn-hangzhou' FOR UPDATE")
        result = run(runner, endpoint, archive_store, lock_timeout=1).result
    finally:
        holder.rollback() if archive_store.kind == 'postgresql' else holder.execute('ROLLBACK')
        holder.close()
    assert result['failed'] is True and 'lock_timeout' in result['msg'], result
    assert 'Traceback' not in json.dumps(result)
    assert snapshot(archive_store) == before
