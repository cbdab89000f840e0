"""ecs_terminal_session_archive runs at the same time against one store, and a run killed inside its transaction.

Every run is a real ansible-playbook process against the local ECS endpoint, on a SQLite file and on a PostgreSQL
database of the test server. After concurrent runs of different and overlapping regions: every listed session is
stored once, the runs' counts add up to the rows, the change log holds each change once, change sequence numbers
are distinct, and every region's listing state is recorded without a gap. A run killed by SIGKILL while inside its
transaction - held there by a lock the test keeps (PostgreSQL), or stopped while it holds SQLite's write lock with
pages already written - leaves the archive as it was, and the next run completes it.

The PostgreSQL variants run on the oldest and the newest ansible-core of the matrix only (marker
``oldest_and_newest_core``, see the Makefile): they test the store and the server, not ansible-core.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from support.archive_data import normalised_sessions, write_v1_archive
from support.archive_runs import ArchiveRun, served_keys
from support.playbooks import connection
from support.postgres import make_archive_store

REGIONS = {'cn-hangzhou': 250, 'cn-shanghai': 150, 'cn-beijing': 100}
# Region lists of the concurrent runs: different, overlapping, one region, all of them.
RUN_REGIONS = {
    2: [['cn-hangzhou', 'cn-shanghai'], ['cn-shanghai', 'cn-beijing']],
    4: [['cn-hangzhou', 'cn-shanghai'], ['cn-shanghai', 'cn-beijing'], ['cn-hangzhou'], ['cn-hangzhou', 'cn-shanghai', 'cn-beijing']],
}
LOCK_TIMEOUT = 240
# Records of the version 1 archive the killed SQLite run imports (about 6 MB of pages: more than SQLite's page cache).
IMPORTED = 12000

STORES = [pytest.param('sqlite', id='sqlite'),
          pytest.param('postgresql', id='postgresql', marks=pytest.mark.oldest_and_newest_core)]


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    database = request.getfixturevalue('postgres_database') if request.param == 'postgresql' else None
    return make_archive_store(request.param, tmp_path, database)


def archive_args(endpoint, store, regions, **extra):
    return connection(endpoint, region_id=regions, lock_timeout=LOCK_TIMEOUT, **dict(store.options, **extra))


def run_together(tmp_path, wave, endpoint, store, region_lists, **extra):
    """Start one run per region list at once, then wait for all; their results in the same order."""
    runs = [ArchiveRun(tmp_path / ('%s-%d' % (wave, number)), archive_args(endpoint, store, regions, **extra))
            for number, regions in enumerate(region_lists)]
    results = [run.result() for run in runs]
    for result in results:
        assert not result.get('failed'), result
    return results


def log_lines(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_store(store, endpoint, log_path):
    """The invariants of a store after any number of runs: returns the rows by key."""
    rows = store.rows()
    by_key = {(row['region_id'], row['session_id']): row for row in rows}
    assert len(by_key) == len(rows)
    assert set(by_key) == served_keys(endpoint, list(REGIONS)), 'stored sessions differ from the served ones'
    for key, row in by_key.items():
        record = json.loads(row['record'])
        assert (record['region_id'], record['session_id']) == key
        assert row['creation_time'] == record['creation_time']
    # Every session's instance rows, no more.
    expected_instances = {(instance, key[0], key[1]) for key, row in by_key.items()
                          for instance in json.loads(row['record'])['instance_ids']}
    instance_rows = store.rows('terminal_session_instances')
    assert {(r['instance_id'], r['region_id'], r['session_id']) for r in instance_rows} == expected_instances
    assert len(instance_rows) == len(expected_instances)
    # Change sequence numbers: one per row, distinct, the counter at the highest, the change log up to it.
    sequences = [row['change_seq'] for row in rows]
    assert len(set(sequences)) == len(sequences)
    counters = {row['name']: row['value'] for row in store.rows('archive_counters')}
    assert counters['change_seq'] == max(sequences)
    positions = {row['path']: row['change_seq'] for row in store.rows('change_log_positions')}
    assert positions == {str(log_path): counters['change_seq']}
    # Each region: its last complete listing recorded, its newest session right.
    regions = {row['region_id']: row for row in store.rows('archive_regions')}
    assert set(regions) == set(REGIONS)
    for region, row in regions.items():
        assert row['last_complete_listing_at'], region
        assert row['newest_creation_time'] == max(r['creation_time'] for k, r in by_key.items() if k[0] == region)
    return by_key


def end_one_session(endpoint, region):
    """The first session of a region with a connection, now terminated: the service describes it differently."""
    chosen = next(s for s in endpoint.seed_data[region] if (s.get('Connections') or {}).get('Connection'))
    ended = copy.deepcopy(chosen)
    for conn in ended['Connections']['Connection']:
        conn.update(Status='Terminated', EndTime='2030-01-01T00:00:00Z', ClosedReason='SessionTerminated')
    endpoint.add_sessions(region, [ended])
    return ended['SessionId']


@pytest.mark.parametrize('runs', [2, 4])
def test_concurrent_runs_lose_nothing_and_duplicate_nothing(store, runs, endpoint_factory, tmp_path):
    endpoint = endpoint_factory(dict(REGIONS))
    log_path = tmp_path / 'changes.jsonl'
    region_lists = RUN_REGIONS[runs]

    # Wave 1: all runs start on a store that does not exist yet (they race to create it too).
    results = run_together(tmp_path, 'first', endpoint, store, region_lists, jsonl_path=str(log_path))
    by_key = check_store(store, endpoint, log_path)
    for result, regions in zip(results, region_lists):
        listed = len(served_keys(endpoint, regions))
        assert result['listed'] == listed and result['added'] <= listed, result
        # Its counts describe the archive as its own transaction left it.
        assert result['added'] + result['updated'] + result['unchanged'] == result['records'], result
        assert result['updated'] == 0 and result['gap'] is False and result['gaps'] == [], result
    assert sum(result['added'] for result in results) == len(by_key) == sum(REGIONS.values())
    assert max(result['records'] for result in results) == len(by_key)
    log = log_lines(log_path)
    assert sorted((line['region_id'], line['session_id']) for line in log) == sorted(by_key)
    assert sum(result['change_log_appended'] for result in results) == len(log)

    # Wave 2: one session ended, five new ones; the same runs again, at once.
    ended_id = end_one_session(endpoint, 'cn-hangzhou')
    new_ids = endpoint.generate_sessions('cn-shanghai', 5, seed=3)
    results = run_together(tmp_path, 'second', endpoint, store, region_lists, jsonl_path=str(log_path))
    after = check_store(store, endpoint, log_path)
    assert sum(result['added'] for result in results) == 5
    assert sum(result['updated'] for result in results) == 1
    for result in results:
        assert result['added'] + result['updated'] + result['unchanged'] == result['records'], result
    assert max(result['records'] for result in results) == len(after)
    assert set(after) - set(by_key) == {('cn-shanghai', new_id) for new_id in new_ids}
    assert json.loads(after[('cn-hangzhou', ended_id)]['record'])['connections'][0]['status'] == 'Terminated'
    assert after[('cn-hangzhou', ended_id)]['updated_at']
    unchanged_rows = [key for key in by_key if key != ('cn-hangzhou', ended_id)]
    assert [after[key]['change_seq'] for key in unchanged_rows] == [by_key[key]['change_seq'] for key in unchanged_rows]
    new_log = log_lines(log_path)[len(log):]
    assert sorted((line['region_id'], line['session_id']) for line in new_log) == sorted(
        [('cn-hangzhou', ended_id)] + [('cn-shanghai', new_id) for new_id in new_ids])
    for result in results:
        assert result['gap'] is False, result


# --- killed inside the transaction -----------------------------------------------------------------------------

def snapshot(store):
    return {table: store.rows(table) for table in ('terminal_sessions', 'terminal_session_instances', 'archive_regions',
                                                   'archive_counters', 'change_log_positions')}


def wait_until(condition, what, timeout=120, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError('timed out waiting for %s' % what)


def kill_inside_postgresql_transaction(store, run):
    """Hold the row of the record counter, which a run updates after it wrote its sessions: the run writes, then
    waits for our lock. Kill it there, seen from the server: its backend waits for a lock while it holds the row
    locks of the sessions it wrote."""
    holder = store.database.connect()
    # Each query of the watcher is a transaction of its own: pg_stat_activity is a snapshot per transaction.
    watcher = store.database.connect(autocommit=True)
    try:
        assert holder.execute("SELECT value FROM archive_counters WHERE name = 'records' FOR UPDATE").fetchone()
        holder_pid = holder.info.backend_pid
        query = ("SELECT a.pid FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid NOT IN (%s, pg_backend_pid()) "
                 "AND a.wait_event_type = 'Lock' AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted "
                 "AND l.relation = 'terminal_sessions'::regclass AND l.mode = 'RowExclusiveLock')")
        backend = wait_until(lambda: watcher.execute(query, (holder_pid,)).fetchone(),
                             'the run to write its rows and wait for the counter')[0]
        os.kill(run.wait_for_module_process(), signal.SIGKILL)
        holder.rollback()
        # The server rolls the orphaned transaction back once it notices that its client is gone.
        wait_until(lambda: watcher.execute('SELECT count(*) FROM pg_stat_activity WHERE pid = %s', (backend,)).fetchone()[0] == 0,
                   'the killed run\'s backend to end')
    finally:
        holder.close()
        watcher.close()


def holds_sqlite_write_lock(path):
    probe = sqlite3.connect(str(path), timeout=0, isolation_level=None)
    try:
        probe.execute('BEGIN IMMEDIATE')
    except sqlite3.OperationalError as error:
        assert 'locked' in str(error), error
        return True
    finally:
        if probe.in_transaction:
            probe.execute('ROLLBACK')
        probe.close()
    return False


def kill_inside_sqlite_transaction(store, run, wal_before):
    """Stop the run once it holds the write lock and its pages reach the WAL (a large import spills them before
    the commit), check it is stopped inside the transaction - the lock is still held and a reader still sees the
    old row count - and kill it. Returns False when the run committed before it could be stopped."""
    wal = Path(str(store.sqlite_path) + '-wal')
    rows_before = len(store.rows())
    pid = run.wait_for_module_process()
    while run.process.poll() is None:
        if wal.exists() and wal.stat().st_size > wal_before + (1 << 20):
            os.kill(pid, signal.SIGSTOP)
            if holds_sqlite_write_lock(store.sqlite_path) and len(store.rows()) == rows_before:
                os.kill(pid, signal.SIGKILL)
                return True
            os.kill(pid, signal.SIGCONT)
            return False
        time.sleep(0.002)
    return False


def test_a_run_killed_inside_its_transaction_leaves_the_archive_as_it_was(store, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 200})
    log_path = tmp_path / 'changes.jsonl'
    first = ArchiveRun(tmp_path / 'first', archive_args(endpoint, store, ['cn-hangzhou'], jsonl_path=str(log_path))).result()
    assert not first.get('failed') and first['added'] == 200, first

    # The next run has to write an ended session and 50 new ones; on SQLite also a version 1 archive of older
    # records, large enough that SQLite writes pages to the WAL before the commit (its page cache overflows).
    end_one_session(endpoint, 'cn-hangzhou')
    endpoint.generate_sessions('cn-hangzhou', 50, seed=5)
    extra = {'jsonl_path': str(log_path)}
    if store.kind == 'sqlite':
        extra['import_path'] = str(tmp_path / 'old.jsonl')
        write_v1_archive(tmp_path / 'old.jsonl', normalised_sessions('cn-shanghai', IMPORTED, start='2024-01-01T00:00:00Z'), IMPORTED)
    before, log_before = snapshot(store), log_path.read_bytes()
    args = archive_args(endpoint, store, ['cn-hangzhou'], **extra)

    for attempt in range(3):
        run = ArchiveRun(tmp_path / ('killed-%d' % attempt), args)
        if store.kind == 'postgresql':
            kill_inside_postgresql_transaction(store, run)
            killed = True
        else:
            wal = Path(str(store.sqlite_path) + '-wal')
            killed = kill_inside_sqlite_transaction(store, run, wal.stat().st_size if wal.exists() else 0)
        done = run.wait()
        if killed:
            break
        # It committed before it could be stopped: the archive must hold the new state; start over from it.
        assert done.result and not done.result.get('failed'), done.stdout[-2000:]
        before, log_before = snapshot(store), log_path.read_bytes()
    else:
        raise AssertionError('no run could be stopped inside its transaction in 3 attempts')

    assert done.result is None or done.result.get('failed'), done.result
    assert snapshot(store) == before, 'the killed run changed the archive'
    assert log_path.read_bytes() == log_before
    if store.kind == 'sqlite':
        assert store.query('PRAGMA integrity_check') == [('ok',)]

    # The next run completes what the killed one did not.
    after = ArchiveRun(tmp_path / 'after', args).result()
    assert not after.get('failed'), after
    served = served_keys(endpoint, ['cn-hangzhou'])
    stored = {(row['region_id'], row['session_id']) for row in store.rows()}
    assert served <= stored
    assert len([key for key in stored if key[0] == 'cn-shanghai']) == (IMPORTED if store.kind == 'sqlite' else 0)
    log = log_lines(log_path)
    assert len(log) == len({(line['region_id'], line['session_id'], (line.get('_archive') or {}).get('updated_at')) for line in log})
