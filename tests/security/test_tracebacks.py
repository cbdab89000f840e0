"""Issue 13, item 10: input that used to end in a traceback now fails with a message that names the cause.

Reproduced before the fix: archive lines with mixed-type creation_time (the sort compared str with int), a
deeply nested line (RecursionError from json), keep_days 2**70 (timedelta overflow), lock_timeout '1e400'
(ansible-core 2.17+ turns it into 10**400, which overflows the clock arithmetic), a NUL byte in path or
csv_path (ValueError from the file system calls), and the filters given a list or dict where a string belongs
(a bare TypeError "unhashable type: 'list'" naming neither the filter nor the record). The cases are grouped
into a few ansible-playbook runs; each must fail with its cause named and no Traceback anywhere.
"""

from __future__ import annotations

import json
import os

import pytest

from support.multi_task import run_task_list
from support.playbooks import connection

ARCHIVE = 'alicloud.ecs.ecs_terminal_session_archive'
HEADER = '{"_archive_format":"alicloud.ecs.terminal_sessions","version":1,"records":%d}\n'


def record(session_id, **extra):
    return dict({'region_id': 'cn-hangzhou', 'session_id': session_id, 'connections': [], 'instance_ids': []}, **extra)


def archive_text(*records, raw_lines=()):
    lines = [json.dumps(item) for item in records] + list(raw_lines)
    return HEADER % len(lines) + ''.join(line + '\n' for line in lines)


def _check(security_record, case, result, output, *words):
    """Record and assert one case: the task failed, its message names every word, no traceback anywhere."""
    message = result.get('msg', '') if isinstance(result.get('msg'), str) else json.dumps(result.get('msg'))
    tracebacks = output.count('Traceback') + json.dumps(result).count('Traceback')
    missing = [word for word in words if word not in message]
    security_record('errors', case, 'a failure whose message names %s; no traceback' % ', '.join(words),
                    tracebacks + (0 if result.get('failed') and not missing else 1))
    assert result.get('failed'), (case, result)
    assert not missing, (case, missing, message)
    assert not tracebacks, (case, result)


def test_archive_inputs_fail_with_their_cause(runner, endpoint_factory, tmp_path, security_record):
    endpoint = endpoint_factory({'cn-hangzhou': 3})
    cases = []

    def add(name, files, args, *words):
        directory = tmp_path / ('case%d' % len(cases))
        directory.mkdir(mode=0o700)
        for file_name, text in files.items():
            (directory / file_name).write_text(text, encoding='utf-8')
            (directory / file_name).chmod(0o600)
        args = dict((key, value.replace('DIR', str(directory)) if isinstance(value, str) else value)
                    for key, value in args.items())
        cases.append((name, {'name': name, ARCHIVE: connection(endpoint, **args)}, words))

    add('archive lines with mixed-type creation_time',
        {'a.jsonl': archive_text(record('s-1', creation_time='2024-01-01T00:00:00Z'), record('s-2', creation_time=5))},
        {'path': 'DIR/a.sqlite', 'import_path': 'DIR/a.jsonl'}, 'line 3', 'creation_time', 'not a string')
    add('an archive line nested 100,000 levels deep',
        {'a.jsonl': archive_text(raw_lines=[json.dumps(record('s-1'))[:-1] + ',"x":' + '[' * 100000 + ']' * 100000 + '}'])},
        {'path': 'DIR/a.sqlite', 'import_path': 'DIR/a.jsonl'}, 'line 2', 'nested')
    add('keep_days 2**70', {}, {'path': 'DIR/a.jsonl', 'keep_days': 2 ** 70}, 'keep_days')

    run = run_task_list(runner, [task for _name, task, _words in cases])
    for (name, _task, words), result in zip(cases, run.results):
        _check(security_record, name, result, run.output, *words)
    assert endpoint.stats()['calls'] == 0  # each is refused before any listing


@pytest.mark.every_core
def test_a_nul_byte_in_path_or_csv_path_fails_naming_it(runner, endpoint_factory, tmp_path, security_record):
    """Before the module's own check, ansible-core logs the arguments to syslog when the module starts.

    Where syslog refuses the NUL byte (Python 3.12 and later: the cores 2.20 and 2.21 of the matrix), ansible-core
    fails the module itself with "Failed to log to syslog (embedded null character)"; elsewhere the module's own
    check names the option. Either way the cause is named and
    there is no traceback (before the fix, os.stat raised ValueError: embedded null byte).
    """
    endpoint = endpoint_factory({'cn-hangzhou': 2})
    directory = tmp_path / 'archive'
    directory.mkdir(mode=0o700)
    cases = [('a NUL byte in path', 'path', {'path': '%s/a\x00b.jsonl' % directory}),
             ('a NUL byte in csv_path', 'csv_path', {'path': '%s/a.jsonl' % directory, 'csv_path': '%s/a\x00b.csv' % directory})]
    run = run_task_list(runner, [{'name': name, ARCHIVE: connection(endpoint, **args)} for name, _option, args in cases])
    for (name, option, _args), result in zip(cases, run.results):
        message = result.get('msg', '')
        words = ('embedded null character',) if message.startswith('Failed to log to syslog') else (option, 'NUL byte')
        _check(security_record, name, result, run.output, *words)
    assert os.listdir(directory) == []
    assert endpoint.stats()['calls'] == 0


@pytest.mark.every_core
def test_lock_timeout_1e400_fails_naming_the_option(runner, endpoint_factory, tmp_path, security_record):
    """ansible-core 2.16 refuses '1e400' for an int itself; 2.17+ convert it to 10**400, which the module must bound."""
    endpoint = endpoint_factory({'cn-hangzhou': 2})
    directory = tmp_path / 'archive'
    directory.mkdir(mode=0o700)
    run = runner.run_module(connection(endpoint, path=str(directory / 'a.jsonl'), lock_timeout='1e400'), module=ARCHIVE)
    _check(security_record, "lock_timeout: '1e400'", run.result, run.output, 'lock_timeout')
    assert not (directory / 'a.jsonl').exists()


SESSION = {'SessionId': 's-1', 'RegionId': 'cn-hangzhou', 'Username': 'root', 'CreationTime': '2024-01-01T00:00:00Z',
           'Connections': {'Connection': [{'InstanceId': 'i-1', 'Status': 'Connected'}]}}


def variant(**changes):
    raw = json.loads(json.dumps(SESSION))
    connection_changes = changes.pop('connection', {})
    raw.update(changes)
    raw['Connections']['Connection'][0].update(connection_changes)
    return raw


FILTER_CASES = [
    # (case, variable name, its value, filter expression, words the message must hold)
    ('terminal_session_summary given Username: [root]', 'username_list', [variant(Username=['root'])],
     'username_list | alicloud.ecs.terminal_session_summary', ('alicloud.ecs.terminal_session_summary', 'data[0]', 'username', 'list')),
    ('terminal_sessions_by_instance given Username: [root]', 'username_list', None,
     'username_list | alicloud.ecs.terminal_sessions_by_instance', ('alicloud.ecs.terminal_sessions_by_instance', 'data[0]', 'username')),
    ('enrich_hosts given Username: [root]', 'username_list', None,
     "{'web1': {'instance_id': 'i-1'}} | alicloud.ecs.enrich_hosts(data=username_list)", ('alicloud.ecs.enrich_hosts', 'data[0]', 'username')),
    ('terminal_session_summary given CreationTime as a list next to a string', 'mixed_times',
     [variant(SessionId='s-2'), variant(CreationTime=['2024-01-02T00:00:00Z'])],
     'mixed_times | alicloud.ecs.terminal_session_summary', ('alicloud.ecs.terminal_session_summary', 'data[1]', 'creation_time')),
    ('terminal_sessions_by_instance given a connection InstanceId as a list', 'instance_list',
     [variant(connection={'InstanceId': ['i-1']})],
     'instance_list | alicloud.ecs.terminal_sessions_by_instance', ('alicloud.ecs.terminal_sessions_by_instance', 'data[0]', 'InstanceId')),
    ('terminal_session_summary given a connection ClosedReason as a dict', 'reason_dict',
     [variant(connection={'ClosedReason': {'why': 'x'}})],
     'reason_dict | alicloud.ecs.terminal_session_summary', ('alicloud.ecs.terminal_session_summary', 'data[0]', 'closed_reason', 'dict')),
    ('enrich_hosts given SessionId as a list', 'id_list', [variant(SessionId=['s-1'])],
     "{'web1': {'instance_id': 'i-1'}} | alicloud.ecs.enrich_hosts(data=id_list)", ('alicloud.ecs.enrich_hosts', 'data[0]', 'session_id')),
    ("terminal_session_summary given username=[['x']]", 'plain', [variant()],
     "plain | alicloud.ecs.terminal_session_summary(username=[['x']])", ('alicloud.ecs.terminal_session_summary', 'criteria.username')),
]


def test_filters_given_lists_or_dicts_where_strings_belong_name_the_filter_and_record(runner, security_record):
    play_vars = dict((name, value) for _case, name, value, _expression, _words in FILTER_CASES if value is not None)
    tasks = [{'name': case, 'ansible.builtin.debug': {'msg': '{{ %s }}' % expression}}
             for case, _name, _value, expression, _words in FILTER_CASES]
    run = run_task_list(runner, tasks, play_vars=play_vars)
    for (case, _name, _value, _expression, words), result in zip(FILTER_CASES, run.results):
        _check(security_record, case, result, run.output, *words)
