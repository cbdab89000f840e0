from __future__ import annotations

import csv
import datetime
import io
import json
import os
import stat
import time

import pytest

from ecs_endpoint.data import make_sessions

from ansible_collections.alicloud.ecs.plugins.module_utils import archive
from ansible_collections.alicloud.ecs.plugins.module_utils.archive import (
    BOOKKEEPING, ArchiveError, ArchiveLockTimeout, archive_lock, change_log_line, csv_rows, iter_v1_archive, neutralise,
    parse_archive, parse_v1_lines, read_file, render_csv, write_atomic)
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import normalize_session

NOW = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def listed(region='cn-hangzhou', count=40, start='2024-03-01T11:00:00Z', seed=0, first_index=0):
    return [normalize_session(raw, region) for raw in make_sessions(region, count, seed=seed, start=start, first_index=first_index)]


def session(session_id, created, region='cn-hangzhou', status='Terminated', **extra):
    record = {'session_id': session_id, 'region_id': region, 'creation_time': created, 'instance_ids': ['i-1'],
              'connections': [{'instance_id': 'i-1', 'status': status, 'start_time': created}]}
    record.update(extra)
    return record


def with_bookkeeping(records, stamp='2024-03-01T12:00:00Z'):
    """Records as a version 1 archive held them: oldest first, each with its bookkeeping."""
    ordered = sorted(records, key=lambda r: (r['creation_time'], r['region_id'], r['session_id']))
    return [dict(record, **{BOOKKEEPING: {'archived_at': stamp}}) for record in ordered]


def render_v1(records):
    """The text of a version 1 archive (header, then one record a line), as earlier releases wrote it."""
    return '\n'.join([json.dumps(archive.header(len(records)))] + [change_log_line(record) for record in records]) + '\n'


def archived_text(records):
    return render_v1(with_bookkeeping(records))


# --- the file format --------------------------------------------------------------------------

def test_render_then_parse_gives_the_records_back_in_file_order():
    records = with_bookkeeping(listed('cn-hangzhou') + listed('cn-shanghai', 10))
    text = render_v1(records)
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
    assert parse_archive(render_v1([]).encode()) == []


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
    records = with_bookkeeping([hostile, session('s-2', '2024-02-02T00:00:00Z')])
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


# --- the import source and the change log ------------------------------------------------------

def test_a_version_1_file_is_read_as_a_stream(tmp_path):
    records = with_bookkeeping(listed(count=30))
    path = tmp_path / 'v1.jsonl'
    path.write_text(render_v1(records))
    path.chmod(0o600)
    streamed = iter_v1_archive(str(path))
    assert next(streamed) == records[0]  # the first record before the rest is read
    assert [records[0]] + list(streamed) == records


def test_a_damaged_version_1_file_fails_only_once_read_to_its_end(tmp_path):
    lines = archived_text(listed(count=5)).splitlines(True)
    path = tmp_path / 'v1.jsonl'
    path.write_text(''.join(lines[:-1]))
    with pytest.raises(ArchiveError, match='counts 5 records but the file holds 4'):
        list(iter_v1_archive(str(path)))
    with pytest.raises(ArchiveError, match='there is no file'):
        list(iter_v1_archive(str(tmp_path / 'missing.jsonl')))


def test_parse_v1_lines_takes_lines_with_or_without_their_ends():
    text = archived_text(listed(count=3))
    assert list(parse_v1_lines(text.splitlines(True))) == list(parse_v1_lines(text.encode().splitlines())) == parse_archive(text)


def test_a_change_log_line_puts_the_keys_first_and_the_bookkeeping_last():
    record = with_bookkeeping([session('s-1', '2024-01-01T00:00:00Z')])[0]
    keys = list(json.loads(change_log_line(record)))
    assert keys[:3] == ['region_id', 'session_id', 'creation_time'] and keys[-1] == BOOKKEEPING
    assert '\n' not in change_log_line(dict(record, username='a\nb'))


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
        write_atomic(path, iter([replacement[:10], replacement[10:]]))
    assert written == [replacement]
    assert read_file(path) == original
    assert os.listdir(str(tmp_path)) == ['a.jsonl']


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
        parse_archive(render_v1([]).replace('"records": 0', '"records": 1') + deep + '\n')
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
