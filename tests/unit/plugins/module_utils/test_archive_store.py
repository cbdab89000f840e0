"""The archive store (archive_store, archive_merge, archive_export) on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils import archive_store
from ansible_collections.alicloud.ecs.plugins.module_utils.archive import BOOKKEEPING, ArchiveError, header
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_export import (
    append_change_log, export_csv, pending_changes, stored_record)
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_merge import (
    archived_rows, canonical, find_gaps, merge_run, write_transaction)
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_store import (
    SCHEMA_VERSION, ArchiveLocation, ArchiveStoreError, failure_message, open_archive)

NOW = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def stamp(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def session(index, region='cn-hangzhou', status='Connected', created=None, instance='i-%d'):
    created = created or NOW - index * HOUR
    instance_id = instance % (index % 3) if '%' in instance else instance
    return {'region_id': region, 'session_id': 's-%04d' % index, 'creation_time': stamp(created), 'username': 'root',
            'instance_ids': [instance_id], 'connections': [{'instance_id': instance_id, 'status': status}]}


@pytest.fixture(params=['sqlite', 'postgresql'])
def location(request, tmp_path):
    tmp_path.chmod(0o755)
    if request.param == 'sqlite':
        return ArchiveLocation(path=str(tmp_path / 'archive.sqlite'))
    database = request.getfixturevalue('postgres_database')
    return ArchiveLocation(database_url=database.url, database_password=database.password)


def opened(location, read_only=False, lock_timeout=5):
    return open_archive(location, read_only=read_only, create=not read_only, lock_timeout=lock_timeout, warn=None)


def merge(location, listed, regions=('cn-hangzhou',), started=NOW, cutoff=None, write=True, **kwargs):
    with opened(location, read_only=not write) as archive:
        return merge_run(archive, listed, list(regions), started, started, cutoff, write=write, **kwargs)


def rows(location, statement='SELECT region_id, session_id, record, archived_at, updated_at, change_seq FROM '
                             'terminal_sessions ORDER BY change_seq, region_id, session_id', parameters=()):
    with opened(location, read_only=True) as archive:
        if archive.schema_version is None:
            return []
        return [tuple(row) for row in archive.execute(statement, parameters).fetchall()]


# --- opening ---------------------------------------------------------------------------------------

def test_read_only_creates_nothing_and_then_the_schema_is_created(location):
    with opened(location, read_only=True) as archive:
        assert archive.schema_version is None and not archive.created
    if location.path:
        assert not os.path.exists(location.path)
    with opened(location) as archive:
        assert archive.schema_version == SCHEMA_VERSION and archive.created
        assert archive.placeholder == ('?' if location.path else '%s')
    with opened(location) as archive:
        assert archive.schema_version == SCHEMA_VERSION and not archive.created
    with opened(location, read_only=True) as archive:
        assert archive.schema_version == SCHEMA_VERSION


def test_a_newer_schema_is_refused_and_left_alone(location):
    opened(location).close()
    with opened(location) as archive:
        with write_transaction(archive):
            archive.execute('UPDATE alicloud_ecs_archive_schema SET version = ?', (SCHEMA_VERSION + 1,))
    for read_only in (False, True):
        with pytest.raises(ArchiveStoreError, match='schema version %d, written by a newer alicloud.ecs' % (SCHEMA_VERSION + 1)):
            opened(location, read_only=read_only)


def test_a_new_sqlite_file_is_private_and_an_existing_one_keeps_mode(tmp_path):
    tmp_path.chmod(0o755)
    path = tmp_path / 'a.sqlite'
    opened(ArchiveLocation(path=str(path))).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    made = tmp_path / 'made.sqlite'
    made.touch()
    made.chmod(0o640)
    with opened(ArchiveLocation(path=str(made))) as archive:
        assert archive.created
    assert stat.S_IMODE(made.stat().st_mode) == 0o640


@pytest.mark.parametrize('content, expected', [
    (json.dumps(header(0)) + '\n', 'JSON Lines archive of version 1 .* import_path'),
    ('timestamp,user\n', 'not an archive of this module'),
    ('{"a": 1}\n', 'not an archive of this module'),
])
def test_files_that_are_not_our_database_are_refused_and_kept(tmp_path, content, expected):
    tmp_path.chmod(0o755)
    path = tmp_path / 'a.sqlite'
    path.write_text(content)
    path.chmod(0o600)
    for read_only in (False, True):
        with pytest.raises(ArchiveStoreError, match=expected):
            opened(ArchiveLocation(path=str(path)), read_only=read_only)
    assert path.read_text() == content


def test_a_sqlite_database_of_someone_else_is_refused(tmp_path):
    tmp_path.chmod(0o755)
    path = tmp_path / 'other.sqlite'
    connection = sqlite3.connect(str(path))
    connection.execute('CREATE TABLE accounts (name TEXT)')
    connection.commit()
    connection.close()
    path.chmod(0o600)
    before = path.read_bytes()
    with pytest.raises(ArchiveStoreError, match='not an archive of this module'):
        opened(ArchiveLocation(path=str(path)))
    assert path.read_bytes() == before


def test_a_symlinked_database_or_side_file_is_refused(tmp_path):
    tmp_path.chmod(0o755)
    target = tmp_path / 'target'
    target.write_bytes(b'precious')
    (tmp_path / 'a.sqlite').symlink_to(target)
    with pytest.raises(ArchiveStoreError, match='symlink'):
        opened(ArchiveLocation(path=str(tmp_path / 'a.sqlite')))
    (tmp_path / 'b.sqlite-wal').symlink_to(target)
    with pytest.raises(ArchiveStoreError, match='symlink'):
        opened(ArchiveLocation(path=str(tmp_path / 'b.sqlite')))
    assert target.read_bytes() == b'precious' and not (tmp_path / 'b.sqlite').exists()


def test_a_postgresql_password_in_the_url_is_masked_and_warned_about(postgres_database):
    warnings = []
    location = ArchiveLocation(database_url=postgres_database.dsn_with_password)
    with open_archive(location, warn=warnings.append) as archive:
        assert archive.schema_version == SCHEMA_VERSION
    assert len(warnings) == 1 and 'database_password' in warnings[0]
    assert postgres_database.password not in location.label() and '********' in location.label()


def test_postgresql_failures_name_their_cause_without_the_password(postgres_database):
    wrong = ArchiveLocation(database_url=postgres_database.url, database_password='not-the-password-1234')
    with pytest.raises(ArchiveStoreError) as refused:
        opened(wrong)
    assert 'refused the password' in refused.value.message and 'not-the-password-1234' not in refused.value.message
    url = postgres_database.url.replace(':%d/' % postgres_database.server.port, ':1/')
    with pytest.raises(ArchiveStoreError, match='cannot be reached'):
        opened(ArchiveLocation(database_url=url, database_password=postgres_database.password))


def test_tables_of_the_same_names_without_ours_are_refused(postgres_database):
    postgres_database.execute('CREATE TABLE terminal_sessions (id INTEGER)')
    with pytest.raises(ArchiveStoreError, match='not an archive of this module'):
        opened(ArchiveLocation(database_url=postgres_database.url, database_password=postgres_database.password))


def test_the_least_privileged_role_uses_an_archive_it_could_not_create(postgres_database, postgres_app_role):
    app = ArchiveLocation(database_url=postgres_app_role.url, database_password=postgres_app_role.password)
    with pytest.raises(ArchiveStoreError, match='lacks a privilege|permission denied'):
        opened(app)
    owner = ArchiveLocation(database_url=postgres_database.url, database_password=postgres_database.password)
    opened(owner).close()
    postgres_app_role.grant_existing_tables()
    assert merge(app, [session(1)]).added == 1
    assert merge(app, [session(1, status='Closed')], cutoff=NOW - 30 * DAY).updated == 1


# --- merging ---------------------------------------------------------------------------------------

def test_add_keep_update_with_bookkeeping_change_seq_and_instances(location):
    first = merge(location, [session(index) for index in range(6)])
    assert (first.added, first.updated, first.unchanged, first.records) == (6, 0, 0, 6)
    assert (first.oldest, first.newest) == (stamp(NOW - 5 * HOUR), stamp(NOW))
    again = merge(location, [session(index) for index in range(6)], started=NOW + HOUR)
    assert (again.added, again.updated, again.unchanged, again.records) == (0, 0, 6, 6)
    assert again.change_seq_before == again.change_seq_after == 6
    changed = merge(location, [session(2, status='Closed', instance='i-9'), session(7)], started=NOW + 2 * HOUR)
    assert (changed.added, changed.updated, changed.unchanged, changed.records) == (1, 1, 5, 7)
    stored = rows(location)
    assert [row[5] for row in stored] == [1, 2, 4, 5, 6, 7, 8]
    updated = [row for row in stored if row[1] == 's-0002'][0]
    assert json.loads(updated[2]) == session(2, status='Closed', instance='i-9') and updated[2] == canonical(session(2, status='Closed', instance='i-9'))
    assert (updated[3], updated[4]) == (stamp(NOW), stamp(NOW + 2 * HOUR))
    record = stored_record(updated[2], updated[3], updated[4])
    assert record[BOOKKEEPING] == {'archived_at': stamp(NOW), 'updated_at': stamp(NOW + 2 * HOUR)}
    instances = rows(location, 'SELECT instance_id, session_id FROM terminal_session_instances ORDER BY 1, 2')
    assert ('i-9', 's-0002') in instances and ('i-2', 's-0002') not in instances and len(instances) == 7


def test_the_same_session_id_in_two_regions_is_two_records(location):
    result = merge(location, [session(1), session(1, region='cn-shanghai')], regions=['cn-hangzhou', 'cn-shanghai'])
    assert result.added == 2 and result.records == 2


def test_keep_days_prunes_through_the_index_and_does_not_add_back(location):
    listed = [session(index, created=NOW - index * DAY) for index in range(10)]
    assert merge(location, listed).records == 10
    cutoff = NOW - 4.5 * DAY
    pruned = merge(location, listed, cutoff=cutoff)
    assert (pruned.pruned, pruned.added, pruned.records, pruned.unchanged) == (5, 0, 5, 5)
    assert pruned.oldest == stamp(NOW - 4 * DAY)
    assert merge(location, listed, cutoff=cutoff).records == 5
    assert len(rows(location, 'SELECT instance_id FROM terminal_session_instances')) == 5


def test_check_mode_counts_the_same_and_changes_nothing(location):
    merge(location, [session(index) for index in range(4)])
    before = rows(location)
    file_bytes = open(location.path, 'rb').read() if location.path else None
    listed = [session(0, status='Closed')] + [session(index) for index in range(1, 6)]
    checked = merge(location, listed, started=NOW + HOUR, write=False, cutoff=NOW - 4.5 * HOUR)
    assert (checked.added, checked.updated, checked.pruned) == (1, 1, 0)
    assert rows(location) == before
    if location.path:
        assert open(location.path, 'rb').read() == file_bytes
    done = merge(location, listed, started=NOW + HOUR, cutoff=NOW - 4.5 * HOUR)
    assert (done.added, done.updated, done.unchanged, done.records) == (checked.added, checked.updated, checked.unchanged,
                                                                        checked.records)


# --- gaps ------------------------------------------------------------------------------------------

def test_a_quiet_region_listed_an_hour_ago_has_no_gap_one_listed_a_month_ago_has(location):
    merge(location, [session(1, created=NOW - 40 * DAY)], started=NOW - 40 * DAY)
    merge(location, [], started=NOW - HOUR)
    assert merge(location, [], started=NOW).gaps == []
    later = NOW + 30 * DAY
    gaps = merge(location, [], started=later).gaps
    assert gaps == [{'region_id': 'cn-hangzhou', 'newest_archived': stamp(NOW - 40 * DAY),
                     'last_complete_listing': stamp(NOW), 'oldest_listed': None, 'seconds': 30 * 86400, 'span': '30d',
                     'listed': 0}]
    assert merge(location, [], started=later + HOUR).gaps == []


def test_a_region_never_listed_is_no_gap_and_a_full_listing_that_does_not_overlap_is(location):
    assert merge(location, [session(index) for index in range(3)]).gaps == []
    full = [session(index, created=NOW + HOUR + index * datetime.timedelta(seconds=1)) for index in range(1000)]
    gaps = merge(location, full, started=NOW + 2 * HOUR).gaps
    assert len(gaps) == 1 and gaps[0]['listed'] == 1000 and gaps[0]['seconds'] == 3600
    overlapping = [session(index, created=NOW - HOUR + index * datetime.timedelta(seconds=1)) for index in range(1000)]
    assert merge(location, overlapping, started=NOW + 3 * HOUR).gaps == []


def test_find_gaps_is_pure():
    regions = {'a': (stamp(NOW - HOUR), stamp(NOW - 2 * HOUR)), 'b': (None, stamp(NOW - 40 * DAY)), 'c': (None, None)}
    gaps = find_gaps(regions, [session(1, region='b')], ['a', 'b', 'c', 'd'], NOW)
    assert [gap['region_id'] for gap in gaps] == ['b']
    assert gaps[0]['oldest_listed'] == stamp(NOW - HOUR) and gaps[0]['last_complete_listing'] is None


# --- import of a version 1 archive ---------------------------------------------------------------------

def v1_file(tmp_path, records, name='v1.jsonl'):
    path = tmp_path / name
    lines = [json.dumps(header(len(records)))] + [json.dumps(record) for record in records]
    path.write_text('\n'.join(lines) + '\n')
    path.chmod(0o600)
    return str(path)


def test_import_is_idempotent_keeps_bookkeeping_and_runs_with_a_listing(location, tmp_path):
    old = [dict(session(index, created=NOW - index * DAY), **{BOOKKEEPING: {'archived_at': stamp(NOW - index * DAY + HOUR)}})
           for index in range(1, 8)]
    old[0][BOOKKEEPING]['updated_at'] = stamp(NOW - HOUR)
    path = v1_file(tmp_path, old)
    first = merge(location, [session(1, status='Closed'), session(0)], import_path=path)
    assert (first.imported, first.added, first.updated, first.records) == (7, 1, 1, 8)
    stored = {row[1]: row for row in rows(location)}
    assert stored['s-0005'][3] == stamp(NOW - 5 * DAY + HOUR) and stored['s-0005'][4] is None
    assert json.loads(stored['s-0001'][2])['connections'][0]['status'] == 'Closed'
    again = merge(location, [], import_path=path)
    assert (again.imported, again.records, again.change_seq_after) == (0, 8, first.change_seq_after)
    assert merge(location, [], started=NOW + HOUR).gaps == []


def test_a_damaged_import_changes_nothing(location, tmp_path):
    merge(location, [session(0)])
    before = rows(location)
    records = [session(index, created=NOW - index * DAY) for index in range(1, 4)]
    path = tmp_path / 'cut.jsonl'
    path.write_text(json.dumps(header(5)) + '\n' + '\n'.join(json.dumps(record) for record in records) + '\n')
    path.chmod(0o600)
    with pytest.raises(ArchiveError, match='counts 5 records but the file holds 3'):
        merge(location, [session(9)], import_path=str(path))
    assert rows(location) == before


# --- exports ---------------------------------------------------------------------------------------

def test_the_change_log_appends_each_change_once_and_catches_up_after_a_crash(location, tmp_path):
    log = str(tmp_path / 'changes.jsonl')
    before = merge(location, [session(index) for index in range(3)])
    with opened(location) as archive:
        assert append_change_log(archive, log, before.change_seq_before, 5) == 3
    second = merge(location, [session(0, status='Closed'), session(5)])
    # The run "died" before its append: the next run appends its own changes and the missed ones, in order.
    third = merge(location, [session(6)])
    with opened(location) as archive:
        assert pending_changes(archive, log, third.change_seq_before) == 3
        assert append_change_log(archive, log, third.change_seq_before, 5) == 3
        assert append_change_log(archive, log, third.change_seq_after, 5) == 0
    lines = [json.loads(line) for line in open(log).read().splitlines()]
    assert [(line['session_id'], BOOKKEEPING in line) for line in lines] == [
        ('s-0000', True), ('s-0001', True), ('s-0002', True), ('s-0000', True), ('s-0005', True), ('s-0006', True)]
    assert lines[3][BOOKKEEPING]['updated_at'] and second.updated == 1
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600


def test_a_new_change_log_starts_with_this_runs_changes(location, tmp_path):
    merge(location, [session(index) for index in range(3)])
    result = merge(location, [session(4)])
    log = str(tmp_path / 'new.jsonl')
    with opened(location) as archive:
        assert append_change_log(archive, log, result.change_seq_before, 5) == 1
    assert [json.loads(line)['session_id'] for line in open(log)] == ['s-0004']


def test_the_csv_export_is_rewritten_only_when_it_differs(location, tmp_path):
    hostile = dict(session(1), username='=HYPERLINK("http://evil.invalid")')
    merge(location, [hostile, session(2)])
    path = tmp_path / 'a.csv'
    with opened(location) as archive:
        assert export_csv(archive, str(path), write=True) is True
        written = path.read_bytes()
        mtime = path.stat().st_mtime_ns
        assert export_csv(archive, str(path), write=True) is False
    assert path.stat().st_mtime_ns == mtime and path.read_bytes() == written
    text = written.decode()
    assert text.startswith('region_id,session_id,creation_time') and '\'=HYPERLINK' in text
    assert text.index('s-0002') < text.index('s-0001')  # oldest first


# --- locks and concurrency -----------------------------------------------------------------------------

def test_a_lock_held_past_lock_timeout_fails_and_changes_nothing(location):
    merge(location, [session(0)])
    before = rows(location)
    holder = opened(location)
    with write_transaction(holder):
        if holder.dialect == 'postgresql':
            holder.execute("SELECT region_id FROM archive_regions WHERE region_id = 'cn-hangzhou' FOR UPDATE")
        with opened(location, lock_timeout=0.3) as archive:
            with pytest.raises(ArchiveStoreError, match='lock_timeout'):
                merge_run(archive, [session(1)], ['cn-hangzhou'], NOW, NOW, None)
    holder.close()
    assert rows(location) == before


def test_concurrent_runs_lose_nothing_and_number_changes_without_holes(location):
    errors = []

    def worker(name):
        try:
            for index in range(5):
                listed = [dict(session(index), session_id='s-%s-%d-%d' % (name, index, n)) for n in range(20)]
                with opened(location, lock_timeout=30) as archive:
                    merge_run(archive, listed, ['cn-hangzhou'], NOW, NOW, None)
        except Exception as error:  # pylint: disable=broad-except
            errors.append(error)

    opened(location).close()
    threads = [threading.Thread(target=worker, args=(name,)) for name in 'abcd']
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = rows(location)
    assert len(stored) == 400 and sorted(row[5] for row in stored) == list(range(1, 401))
    assert rows(location, "SELECT value FROM archive_counters WHERE name = 'records'") == [(400,)]


def test_a_database_error_mid_merge_rolls_everything_back(location, monkeypatch):
    merge(location, [session(0)])
    before = rows(location)

    def broken(archive, changes, first_seq):
        archive.execute('INSERT INTO no_such_table VALUES (1)')

    monkeypatch.setattr('ansible_collections.alicloud.ecs.plugins.module_utils.archive_merge.write_changes', broken)
    with pytest.raises(ArchiveStoreError, match='left as it was') as raised:
        merge(location, [session(1), session(0, status='Closed')], cutoff=NOW - 30 * DAY)
    assert rows(location) == before
    # Said once, with the server's primary message and SQLSTATE but not its echo of our statement (LINE 1: ... ^).
    message = raised.value.message
    assert message.lower().count('cannot merge') == 1 and message.count('left as it was') == 1, message
    assert 'no_such_table' in message and 'LINE' not in message and '^' not in message, message
    if location.database_url:
        assert message.endswith('(SQLSTATE 42P01)'), message
    assert failure_message('Cannot merge into the archive', raised.value) == message[:1].upper() + message[1:]


def test_postgresql_finds_the_archived_rows_of_a_batch_through_the_primary_key(postgres_database):
    # A new archive, not analysed yet, read inside the transaction that fills it (an import): the lookup of a batch
    # of keys must go through the primary key, not scan the region (what IN (...) and = ANY(...) were planned as).
    location = ArchiveLocation(database_url=postgres_database.url, database_password=postgres_database.password)
    opened(location).close()
    postgres_database.execute("INSERT INTO terminal_sessions SELECT 'cn-hangzhou', 's-' || n, '2024-01-01T00:00:00Z', "
                              "'{}', '2024-01-01T00:00:00Z', NULL, n FROM generate_series(1, 100000) AS n")
    keys = [('cn-hangzhou', 's-%d' % n) for n in range(1, 1001, 2)] + [('cn-shanghai', 's-1'), ('cn-hangzhou', 's-0')]
    with opened(location) as archive:
        statements = []
        execute = archive.execute
        archive.execute = lambda statement, parameters=(): statements.append((statement, parameters)) or execute(
            statement, parameters)
        found = archived_rows(archive, keys)
        assert sorted(found) == sorted(keys[:500]) and found[keys[0]] == ('{}', '2024-01-01T00:00:00Z', None)
        lookups = [item for item in statements if 'terminal_sessions' in item[0]]
        assert len(lookups) == 2  # batches of 500 keys, whatever their regions
        plan = '\n'.join(row[0] for row in execute('EXPLAIN ' + lookups[0][0], lookups[0][1]).fetchall())
    assert 'session_id = k.session_id' in plan and 'Index' in plan and 'Seq Scan on terminal_sessions' not in plan, plan
    assert 'Filter' not in plan, plan


def test_psycopg_is_imported_only_when_a_postgresql_archive_is_used(tmp_path):
    # Its import costs up to a second: a SQLite archive must not pay it. A fresh interpreter, as a module runs in.
    code = ('import sys; from ansible_collections.alicloud.ecs.plugins.module_utils import archive_store as store; '
            'store.open_archive(store.ArchiveLocation(path=sys.argv[1])).close(); '
            "print(store.HAS_PSYCOPG, 'psycopg' in sys.modules, store.load_psycopg() is sys.modules.get('psycopg'))")
    done = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'archive.sqlite')], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ['True', 'False', 'True']
    assert (tmp_path / 'archive.sqlite').stat().st_size > 0


def test_without_psycopg_database_url_names_the_package(monkeypatch):
    monkeypatch.setattr(archive_store, 'HAS_PSYCOPG', False)
    with pytest.raises(ArchiveStoreError, match='psycopg'):
        opened(ArchiveLocation(database_url='postgresql://u@127.0.0.1/d'))
