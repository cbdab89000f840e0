"""ecs_terminal_session_archive through ansible-playbook against the local ECS endpoint."""

from __future__ import annotations

import copy
import csv
import datetime
import io
import json
import os
import stat
from pathlib import Path

from support.playbooks import connection

from ansible_collections.alicloud.ecs.plugins.module_utils.archive import BOOKKEEPING, merge, parse_archive, render_archive
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import parse_iso_time
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import normalize_session, summary_by_instance

MODULE = 'alicloud.ecs.ecs_terminal_session_archive'
REGIONS = ['cn-hangzhou', 'cn-shanghai']

GUIDE = Path(__file__).resolve().parents[2] / 'docs' / 'archiving.md'
# What docs/archiving.md tells readers to write: every line but the header, parsed, into a filter.
RECORDS_EXPRESSION = "lookup('ansible.builtin.file', archive_path).splitlines()[1:] | map('from_json') | list"
FILTER_TASK = '''\
- name: Summaries of the archive, through the filter
  ansible.builtin.copy:
    content: "{{ %s | alicloud.ecs.terminal_session_summary | to_json }}"
    dest: %s
  vars:
    archive_path: %s
'''


def run(runner, endpoint, path, check=False, tasks_before='', **extra):
    args = connection(endpoint, path=str(path), **extra)
    return runner.run_module(args, module=MODULE, check=check, tasks_before=tasks_before)


def keys(records):
    return sorted((record['region_id'], record['session_id']) for record in records)


def served(endpoint, region):
    """The sessions the endpoint lists for a region, normalised; a session given twice counts once (the first)."""
    seen = {}
    for raw in endpoint.sessions(region):
        seen.setdefault(raw['SessionId'], normalize_session(raw, region))
    return list(seen.values())


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


def test_runs_add_then_keep_then_update_and_check_mode_writes_nothing(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 120, 'cn-shanghai': 30})
    path = tmp_path / 'archive' / 'sessions.jsonl'
    path.parent.mkdir()

    first = run(runner, endpoint, path, region_id=REGIONS).result
    assert not first.get('failed'), first
    assert first['changed'] is True and first['created'] is True
    assert (first['added'], first['updated'], first['unchanged'], first['pruned'], first['records']) == (150, 0, 0, 0, 150)
    records = parse_archive(path.read_bytes())
    truth = served(endpoint, 'cn-hangzhou') + served(endpoint, 'cn-shanghai')
    assert keys(records) == keys(truth)
    assert first['oldest_creation_time'] == min(s['creation_time'] for s in truth)
    assert first['newest_creation_time'] == max(s['creation_time'] for s in truth)
    assert first['gap'] is False and first['gaps'] == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o640)
    written, mtime = path.read_bytes(), path.stat().st_mtime_ns

    # Second run: nothing new, nothing written; the filters read the archive as the guide says.
    summary_file = tmp_path / 'summary.json'
    second = run(runner, endpoint, path, region_id=REGIONS,
                 tasks_before=FILTER_TASK % (RECORDS_EXPRESSION, json.dumps(str(summary_file)), json.dumps(str(path)))).result
    assert not second.get('failed'), second
    assert second['changed'] is False and second['created'] is False
    assert (second['added'], second['updated'], second['unchanged'], second['records']) == (0, 0, 150, 150)
    assert path.read_bytes() == written and path.stat().st_mtime_ns == mtime
    assert json.loads(summary_file.read_text()) == summary_by_instance(truth)
    assert RECORDS_EXPRESSION in GUIDE.read_text()

    # One session closed and three new ones: check mode counts them and writes nothing.
    ended_id = end_one_session(endpoint, 'cn-hangzhou')
    new_ids = endpoint.generate_sessions('cn-shanghai', 3, seed=7)
    checked = run(runner, endpoint, path, check=True, region_id=REGIONS).result
    assert not checked.get('failed'), checked
    assert checked['changed'] is True
    assert (checked['added'], checked['updated'], checked['unchanged'], checked['records']) == (3, 1, 149, 153)
    assert path.read_bytes() == written and path.stat().st_mtime_ns == mtime

    third = run(runner, endpoint, path, region_id=REGIONS).result
    assert not third.get('failed'), third
    assert (third['changed'], third['added'], third['updated'], third['unchanged'], third['records']) == (True, 3, 1, 149, 153)
    records = parse_archive(path.read_bytes())
    assert keys(records) == keys(served(endpoint, 'cn-hangzhou') + served(endpoint, 'cn-shanghai'))
    assert set(new_ids) <= set(r['session_id'] for r in records)
    ended = [r for r in records if r['session_id'] == ended_id]
    assert len(ended) == 1 and set(c['status'] for c in ended[0]['connections']) == {'Terminated'}
    assert set(ended[0][BOOKKEEPING]) == {'archived_at', 'updated_at'}
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def hand_made_archive(path, sessions):
    now = datetime.datetime.now(datetime.timezone.utc)
    path.write_text(render_archive(merge([], sessions, now).records))


def test_a_gap_since_the_last_run_warns_with_its_size(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 20})
    oldest_listed = min(s['creation_time'] for s in served(endpoint, 'cn-hangzhou'))
    long_ago = (parse_iso_time(oldest_listed) - datetime.timedelta(days=3, hours=2)).strftime('%Y-%m-%dT%H:%M:%SZ')
    path = tmp_path / 'sessions.jsonl'
    hand_made_archive(path, [{'session_id': 's-hz-gone', 'region_id': 'cn-hangzhou', 'creation_time': long_ago,
                              'connections': [], 'instance_ids': []}])
    done = run(runner, endpoint, path)
    result = done.result
    assert not result.get('failed'), result
    assert result['gap'] is True and (result['added'], result['records']) == (20, 21)
    assert result['gaps'] == [{'region_id': 'cn-hangzhou', 'newest_archived': long_ago, 'oldest_listed': oldest_listed,
                               'seconds': (3 * 24 + 2) * 3600, 'span': '3d 2h', 'listed': 20}]
    assert 'may have expired unseen' in done.output and '3d 2h' in done.output


def test_a_truncated_archive_is_refused_and_left_as_it_is(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 30})
    path = tmp_path / 'sessions.jsonl'
    hand_made_archive(path, served(endpoint, 'cn-hangzhou'))
    damaged = path.read_bytes()[:-50]
    path.write_bytes(damaged)
    result = run(runner, endpoint, path).result
    assert result['failed'] is True
    assert 'line 31: not valid JSON' in result['msg'] and str(path) in result['msg']
    assert path.read_bytes() == damaged
    assert endpoint.stats()['calls'] == 0


def test_keep_days_prunes_does_not_add_back_and_the_csv_is_safe(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 250})  # 30 s to 90 min apart: about eight days
    path, csv_path = tmp_path / 'sessions.jsonl', tmp_path / 'sessions.csv'
    hand_made_archive(path, served(endpoint, 'cn-hangzhou'))
    hostile = copy.deepcopy(endpoint.seed_data['cn-hangzhou'][0])
    hostile.update(SessionId='s-hz-hostile', Username='=HYPERLINK("http://evil.invalid","x")', ClientIP='@10.0.0.1')
    endpoint.add_sessions('cn-hangzhou', [hostile])
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)

    result = run(runner, endpoint, path, keep_days=3, csv_path=str(csv_path)).result
    after = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)
    assert not result.get('failed'), result
    old = [s for s in served(endpoint, 'cn-hangzhou') if parse_iso_time(s['creation_time']) < before]
    assert 50 < len(old) < 240
    assert result['changed'] is True and result['csv_changed'] is True
    assert result['added'] == 1 and result['updated'] == 0
    assert result['pruned'] + result['unchanged'] == 250 and result['records'] == 251 - result['pruned']
    records = parse_archive(path.read_bytes())
    assert len(records) == result['records']
    # Listed again by the service, the pruned sessions were not added back.
    assert all(parse_iso_time(r['creation_time']) >= before for r in records)
    assert not [s for s in served(endpoint, 'cn-hangzhou')
                if parse_iso_time(s['creation_time']) >= after and s['session_id'] not in set(r['session_id'] for r in records)]

    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(), newline='')))
    assert len(rows) == len(records)
    row = next(r for r in rows if r['session_id'] == 's-hz-hostile')
    assert row['username'] == '\'=HYPERLINK("http://evil.invalid","x")' and row['client_ip'] == "'@10.0.0.1"
    assert stat.S_IMODE(csv_path.stat().st_mode) == 0o600
