from __future__ import annotations

import copy
import csv
import datetime
import io
import json
import os
import stat
import threading
import time

import pytest

from ecs_endpoint.data import make_sessions

from ansible_collections.alicloud.ecs.plugins.filter.terminal_sessions import terminal_session_summary, terminal_sessions_by_instance
from ansible_collections.alicloud.ecs.plugins.module_utils import archive
from ansible_collections.alicloud.ecs.plugins.module_utils.archive import (
    BOOKKEEPING, ArchiveError, ArchiveLockTimeout, archive_lock, creation_span, csv_rows, find_gaps, merge, neutralise,
    parse_archive, read_file, render_archive, render_csv, write_atomic)
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import normalize_session, summary_by_instance

NOW = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
LATER = NOW + datetime.timedelta(hours=1)


def listed(region='cn-hangzhou', count=40, start='2024-03-01T11:00:00Z', seed=0, first_index=0):
    return [normalize_session(raw, region) for raw in make_sessions(region, count, seed=seed, start=start, first_index=first_index)]


def session(session_id, created, region='cn-hangzhou', status='Terminated', **extra):
    record = {'session_id': session_id, 'region_id': region, 'creation_time': created, 'instance_ids': ['i-1'],
              'connections': [{'instance_id': 'i-1', 'status': status, 'start_time': created}]}
    record.update(extra)
    return record


def archived_text(records):
    return render_archive(merge([], records, NOW).records)


# --- the file format --------------------------------------------------------------------------

def test_render_then_parse_gives_the_records_back_in_file_order():
    records = merge([], listed('cn-hangzhou') + listed('cn-shanghai', 10), NOW).records
    text = render_archive(records)
    lines = text.splitlines()
    assert json.loads(lines[0]) == {'_archive_format': 'alicloud.ecs.terminal_sessions', 'version': 1, 'records': 50}
    assert text.endswith('\n') and len(lines) == 51
    assert parse_archive(text.encode()) == records
    times = [record['creation_time'] for record in records]
    assert times == sorted(times)
    assert list(json.loads(lines[1]))[:3] == ['region_id', 'session_id', 'creation_time']
    assert list(json.loads(lines[1]))[-1] == BOOKKEEPING


def test_an_empty_file_is_an_archive_without_records():
    assert parse_archive(b'') == []
    assert parse_archive(render_archive([]).encode()) == []


@pytest.mark.parametrize('text, expected', [
    ('{"session_id": "s-1", "region_id": "cn-hangzhou", "connections": [], "instance_ids": []}\n', 'line 1 is not its header'),
    ('timestamp,user\n2024-01-01,root\n', 'line 1 is not its header'),
    ('\n', 'line 1 is not its header'),
    ('{"_archive_format": "alicloud.ecs.terminal_sessions", "version": 2}\n', 'version 2'),
    ('{"_archive_format": "alicloud.ecs.terminal_sessions"}\n', 'no valid version'),
])
def test_a_foreign_file_is_refused(text, expected):
    with pytest.raises(ArchiveError) as error:
        parse_archive(text.encode(), name='/srv/a.jsonl')
    assert expected in str(error.value) and '/srv/a.jsonl' in str(error.value)


def test_a_truncated_archive_is_refused_naming_the_line():
    data = archived_text(listed(count=10)).encode()
    cut = data[:len(data) - 40]
    with pytest.raises(ArchiveError, match=r'line 11: not valid JSON'):
        parse_archive(cut, name='a.jsonl')


def test_an_archive_cut_at_a_line_end_is_refused_by_its_count():
    data = archived_text(listed(count=10))
    lines = data.splitlines(True)
    with pytest.raises(ArchiveError, match='counts 10 records but the file holds 9'):
        parse_archive(''.join(lines[:-1]).encode())


@pytest.mark.parametrize('line, expected', [
    ('[1, 2]', 'line 3: a JSON list'),
    ('{"session_id": "s-x"}', 'line 3: a JSON object without region_id'),
    ('{"session_id": "s-x", "region_id": "r", "connections": {}, "instance_ids": []}', 'connections is not a list'),
    ('', 'line 3: not valid JSON'),
    ('\xff\xfe', 'line 3: not valid JSON'),
])
def test_a_damaged_line_is_refused_naming_it(line, expected):
    lines = archived_text(listed(count=3)).splitlines()
    lines[2] = line
    data = '\n'.join(lines).encode('latin-1') + b'\n'
    with pytest.raises(ArchiveError, match=expected):
        parse_archive(data)


def test_a_session_twice_is_refused():
    lines = archived_text(listed(count=3)).splitlines()
    lines[3] = lines[1]
    with pytest.raises(ArchiveError, match='line 4: session .* again .first on line 2'):
        parse_archive('\n'.join(lines))


# --- merging ----------------------------------------------------------------------------------

def test_first_merge_adds_all_and_the_second_changes_nothing():
    first = merge([], listed(), NOW)
    assert (first.added, first.updated, first.unchanged, first.pruned) == (40, 0, 0, 0)
    assert all(record[BOOKKEEPING] == {'archived_at': '2024-03-01T12:00:00Z'} for record in first.records)
    again = merge(parse_archive(render_archive(first.records)), listed(), LATER)
    assert (again.added, again.updated, again.unchanged, again.pruned) == (0, 0, 40, 0)
    assert again.records == first.records


def test_a_status_change_updates_one_record_and_keeps_when_it_was_archived():
    before = listed()
    first = merge([], before, NOW)
    after = copy.deepcopy(before)
    changed = next(record for record in after if record['connections'])
    changed['connections'] = [dict(conn, status='Terminated', end_time='2024-03-01T12:30:00Z') for conn in changed['connections']]
    changed['connections'].append({'instance_id': 'i-new', 'status': 'Terminated'})
    result = merge(first.records, after, LATER)
    assert (result.added, result.updated, result.unchanged) == (0, 1, 39)
    record = next(r for r in result.records if r['session_id'] == changed['session_id'])
    assert record[BOOKKEEPING] == {'archived_at': '2024-03-01T12:00:00Z', 'updated_at': '2024-03-01T13:00:00Z'}
    assert dict((k, v) for k, v in record.items() if k != BOOKKEEPING) == changed
    assert len(result.records) == 40


def test_bookkeeping_never_makes_a_record_look_changed():
    records = merge([], listed(count=5), NOW).records
    for record in records:
        record[BOOKKEEPING] = {'archived_at': '2020-01-01T00:00:00Z', 'updated_at': '2021-01-01T00:00:00Z', 'note': 'x'}
    result = merge(records, listed(count=5), LATER)
    assert (result.added, result.updated, result.unchanged) == (0, 0, 5)


def test_sessions_the_service_forgot_stay_and_new_ones_are_added():
    old = merge([], listed(count=10, first_index=0), NOW).records
    newer = listed(count=5, start='2024-03-01T11:59:00Z', seed=1, first_index=10)
    result = merge(old, newer, LATER)
    assert (result.added, result.updated, result.unchanged, len(result.records)) == (5, 0, 10, 15)


def test_keep_days_prunes_and_the_next_run_does_not_add_back():
    sessions = [session('s-old', '2024-01-01T00:00:00Z'), session('s-edge', '2024-02-20T11:00:00Z'),
                session('s-new', '2024-02-29T00:00:00Z'), session('s-no-time', None)]
    sessions[-1].pop('creation_time')
    first = merge([], sessions, NOW)
    assert len(first.records) == 4
    cutoff = NOW - datetime.timedelta(days=10)
    pruned = merge(first.records, sessions, NOW, cutoff)
    assert (pruned.added, pruned.updated, pruned.unchanged, pruned.pruned) == (0, 0, 2, 2)
    assert sorted(r['session_id'] for r in pruned.records) == ['s-new', 's-no-time']
    next_run = merge(pruned.records, sessions, LATER, cutoff + datetime.timedelta(hours=1))
    assert (next_run.added, next_run.pruned) == (0, 0)
    assert next_run.records == pruned.records
    assert merge([], sessions, NOW, cutoff).added == 2


def test_the_same_session_id_in_two_regions_is_two_records():
    result = merge([], [session('s-1', '2024-02-01T00:00:00Z'), session('s-1', '2024-02-01T00:00:00Z', region='cn-shanghai')], NOW)
    assert [(r['region_id'], r['session_id']) for r in result.records] == [('cn-hangzhou', 's-1'), ('cn-shanghai', 's-1')]


def test_creation_span():
    records = [session('s-1', '2024-02-01T00:00:00Z'), session('s-2', '2024-01-01T00:00:00Z'), session('s-3', None)]
    assert creation_span(records) == ('2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z')
    assert creation_span([]) == (None, None)


# --- gaps -------------------------------------------------------------------------------------

def test_no_gap_while_the_listing_overlaps_the_archive():
    archived = merge([], listed(count=40), NOW).records
    assert find_gaps(archived, listed(count=40), ['cn-hangzhou']) == []
    assert find_gaps([], listed(count=40), ['cn-hangzhou']) == []


def test_a_gap_when_the_oldest_listed_is_newer_than_the_newest_archived():
    archived = [session('s-1', '2024-01-01T00:00:00Z'), session('s-2', '2024-01-19T09:15:46Z'),
                session('s-9', '2024-03-01T00:00:00Z', region='cn-shanghai')]
    now_listed = [session('s-3', '2024-01-21T13:25:46Z'), session('s-4', '2024-02-21T13:25:46Z'),
                  session('s-8', '2024-02-01T00:00:00Z', region='cn-shanghai')]
    gaps = find_gaps(archived, now_listed, ['cn-hangzhou', 'cn-shanghai', 'cn-beijing'])
    assert gaps == [{'region_id': 'cn-hangzhou', 'newest_archived': '2024-01-19T09:15:46Z',
                     'oldest_listed': '2024-01-21T13:25:46Z', 'seconds': 187800, 'span': '2d 4h 10m', 'listed': 2}]
    assert find_gaps(archived, now_listed, ['cn-shanghai']) == []


# --- CSV --------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, cell', [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'), ('+1', "'+1"), ('-2+3', "'-2+3"), ('@SUM(A1)', "'@SUM(A1)"),
    ('\tx', "'\tx"), ('\rx', "'\rx"), ('root', 'root'), ('a=b', 'a=b'), (None, ''), (22, '22'),
    (' =1+2', "' =1+2"), ('\n=1', "'\n=1"), ('\uff1d1+2', "'\uff1d1+2"), ('\uff0b1', "'\uff0b1"), ('\uff0d1', "'\uff0d1"),
    ('\uff20SUM(A1)', "'\uff20SUM(A1)"), ('\u3000=1', "'\u3000=1"), ('\x0b=1', "'\x0b=1"), ('root =1', 'root =1'),
])
def test_cells_a_spreadsheet_would_run_are_neutralised(value, cell):
    assert neutralise(value) == cell


def test_the_csv_export_has_one_neutralised_row_per_session():
    hostile = session('s-1', '2024-02-01T00:00:00Z', username='=cmd|" /C calc"!A0', client_ip='@1.2.3.4',
                      principal_id='-1+1', target_server='+x', port_number=22)
    hostile['connections'].append({'instance_id': 'i-2', 'status': 'Failed', 'closed_reason': 'AgentNotOnline',
                                   'start_time': '2024-02-01T00:00:05Z', 'end_time': '2024-02-01T00:00:09Z'})
    records = merge([], [hostile, session('s-2', '2024-02-02T00:00:00Z')], NOW).records
    rows = list(csv.reader(io.StringIO(render_csv(records), newline='')))
    assert rows == csv_rows(records)
    header, first = rows[0], dict(zip(rows[0], rows[1]))
    assert header[:3] == ['region_id', 'session_id', 'creation_time'] and len(rows) == 3
    assert first['username'] == '\'=cmd|" /C calc"!A0' and first['client_ip'] == "'@1.2.3.4"
    assert first['principal_id'] == "'-1+1" and first['target_server'] == "'+x" and first['port_number'] == '22'
    assert first['statuses'] == 'Terminated Failed' and first['closed_reasons'] == 'AgentNotOnline'
    assert first['start_time'] == '2024-02-01T00:00:00Z' and first['end_time'] == '2024-02-01T00:00:09Z'
    assert first['archived_at'] == '2024-03-01T12:00:00Z' and first['updated_at'] == ''
    assert not [cell for row in rows[1:] for cell in row if cell[:1] in ('=', '+', '-', '@', '\t', '\r')]


# --- the filters read the archive's records ---------------------------------------------------

def test_the_filters_take_the_archives_records_as_their_input():
    sessions = listed(count=60) + listed('cn-shanghai', 20)
    text = render_archive(merge([], sessions, NOW).records)
    from_archive = [json.loads(line) for line in text.splitlines()[1:]]
    assert terminal_session_summary(from_archive) == summary_by_instance(sessions)
    assert terminal_session_summary(from_archive, username='root') == terminal_session_summary(sessions, username='root')
    by_instance = terminal_sessions_by_instance(from_archive)
    assert sorted(by_instance) == sorted(summary_by_instance(sessions))
    assert all(BOOKKEEPING in record for records in by_instance.values() for record in records)


# --- files ------------------------------------------------------------------------------------

def test_a_new_file_is_private_and_an_existing_one_keeps_its_mode(tmp_path):
    path = str(tmp_path / 'a.jsonl')
    write_atomic(path, b'one\n')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and read_file(path) == b'one\n'
    os.chmod(path, 0o640)
    write_atomic(path, b'two\n')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 and read_file(path) == b'two\n'
    assert os.listdir(str(tmp_path)) == ['a.jsonl']
    assert read_file(str(tmp_path / 'missing')) is None


@pytest.mark.skipif(os.geteuid() != 0, reason='changing a file owner needs root')
def test_an_existing_file_keeps_its_owner(tmp_path):
    path = str(tmp_path / 'a.jsonl')
    write_atomic(path, b'one\n')
    os.chown(path, 4242, 4343)
    write_atomic(path, b'two\n')
    info = os.stat(path)
    assert (info.st_uid, info.st_gid) == (4242, 4343)


def test_a_crash_between_write_and_rename_leaves_the_archive_intact(tmp_path, monkeypatch):
    path = str(tmp_path / 'a.jsonl')
    original = archived_text(listed(count=5)).encode()
    with open(path, 'wb') as handle:
        handle.write(original)
    written = []

    def crash(source, destination):
        written.append(read_file(source))
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(archive.os, 'replace', crash)
    monkeypatch.setattr(archive.os, 'rename', crash)
    replacement = archived_text(listed(count=9)).encode()
    with pytest.raises(OSError, match='No space left'):
        write_atomic(path, replacement)
    assert written == [replacement]
    assert read_file(path) == original
    assert os.listdir(str(tmp_path)) == ['a.jsonl']


def merge_one_in(path, record, pause):
    """One run: lock, read, merge ``record``, (slowly) write."""
    with archive_lock(path, timeout=30, poll=0.001):
        records = parse_archive(read_file(path) or b'')
        time.sleep(pause)
        write_atomic(path, render_archive(merge(records, [record], NOW).records).encode())


def test_concurrent_merges_under_the_lock_lose_nothing(tmp_path):
    path = str(tmp_path / 'a.jsonl')
    errors = []

    def worker(name):
        try:
            for index in range(15):
                merge_one_in(path, session('s-%s-%02d' % (name, index), '2024-02-01T00:%02d:00Z' % index), 0.002)
        except Exception as error:  # pylint: disable=broad-except
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ('a', 'b', 'c')]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = parse_archive(read_file(path))
    assert len(records) == 45
    assert sorted(os.listdir(str(tmp_path))) == ['a.jsonl', 'a.jsonl.lock']


def test_without_the_lock_the_same_runs_would_lose_records(tmp_path):
    """The control for the test above: two runs that read before either writes lose one record."""
    path = str(tmp_path / 'a.jsonl')
    write_atomic(path, render_archive([]).encode())
    first, second = parse_archive(read_file(path)), parse_archive(read_file(path))
    write_atomic(path, render_archive(merge(first, [session('s-a', '2024-02-01T00:00:00Z')], NOW).records).encode())
    write_atomic(path, render_archive(merge(second, [session('s-b', '2024-02-01T00:00:00Z')], NOW).records).encode())
    assert len(parse_archive(read_file(path))) == 1


def test_the_lock_is_exclusive_and_times_out(tmp_path):
    path = str(tmp_path / 'a.jsonl')
    with archive_lock(path) as name:
        assert name == path + '.lock'
        started = time.monotonic()
        with pytest.raises(ArchiveLockTimeout, match='another run has held the lock'):
            with archive_lock(path, timeout=0.2, poll=0.01):
                pass
        assert time.monotonic() - started >= 0.2
    with archive_lock(path, timeout=0):
        pass


# --- damaged lines that used to raise instead of naming the line ---------------------------------

def test_a_creation_time_that_is_not_text_is_refused_with_its_line():
    text = archive_lines(session('s-1', '2024-01-01T00:00:00Z'), dict(session('s-2', '2024-01-02T00:00:00Z'), creation_time=5))
    with pytest.raises(ArchiveError, match='line 3: a session record whose creation_time is a JSON number'):
        parse_archive(text)


def test_a_deeply_nested_line_is_refused_with_its_line():
    deep = json.dumps(session('s-1', '2024-01-01T00:00:00Z'))[:-1] + ',"x":' + '[' * 100000 + ']' * 100000 + '}'
    with pytest.raises(ArchiveError, match='line 2: JSON nested too deeply'):
        parse_archive(archive.render_archive([]).replace('"records":0', '"records":1') + deep + '\n')
    nested = dict(session('s-1', '2024-01-01T00:00:00Z'), x=json.loads('[' * 40 + ']' * 40))
    with pytest.raises(ArchiveError, match='line 2: a session record nested more than 32 levels deep'):
        parse_archive(archive_lines(nested))


def archive_lines(*records):
    return '\n'.join([json.dumps(archive.header(len(records)))] + [json.dumps(record) for record in records]) + '\n'


def test_the_archive_files_refuse_links(tmp_path):
    target = tmp_path / 'target'
    target.write_bytes(b'precious')
    target.chmod(0o600)
    directory = tmp_path / 'archive'
    directory.mkdir(mode=0o700)
    (directory / 'sessions.jsonl').symlink_to(target)
    (directory / 'other.jsonl.lock').symlink_to(tmp_path / 'made-by-lock')
    with pytest.raises(ArchiveError, match='symlink'):
        read_file(str(directory / 'sessions.jsonl'))
    with pytest.raises(ArchiveError, match='symlink'):
        write_atomic(str(directory / 'sessions.jsonl'), b'x')
    with pytest.raises(ArchiveError, match='symlink'):
        with archive_lock(str(directory / 'other.jsonl')):
            pass
    assert target.read_bytes() == b'precious' and not (tmp_path / 'made-by-lock').exists()
    assert sorted(os.listdir(directory)) == ['other.jsonl.lock', 'sessions.jsonl']
