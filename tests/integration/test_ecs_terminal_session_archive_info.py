"""ecs_terminal_session_archive_info through ansible-playbook, on both stores (SQLite and a real PostgreSQL server)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml

from support.archive_rows import make_session, populate
from support.playbooks import connection

from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import newest_first
from ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_archive_info import argument_spec

ARCHIVE = 'alicloud.ecs.ecs_terminal_session_archive'
ARCHIVE_INFO = 'alicloud.ecs.ecs_terminal_session_archive_info'
INFO = 'alicloud.ecs.ecs_terminal_session_info'
REGIONS = ['cn-hangzhou', 'cn-shanghai']
SAME_KEYS = ('sessions_by_instance', 'summary_by_instance', 'query_result')


def without_bookkeeping(sessions):
    return [{key: value for key, value in session.items() if key != '_archive'} for session in sessions]


def test_what_the_archive_kept_reads_back_as_the_info_module_lists_it(runner, endpoint_factory, archive_store):
    """Archive two regions, then ask the archive and the service the same question: the same answer."""
    endpoint = endpoint_factory({'cn-hangzhou': 180, 'cn-shanghai': 60})
    archived = runner.run_module(connection(endpoint, region_id=REGIONS, **archive_store.options), module=ARCHIVE)
    assert not archived.result.get('failed'), archived.output
    instances = sorted({c['InstanceId'] for s in endpoint.sessions('cn-hangzhou')
                        for c in (s.get('Connections') or {}).get('Connection', []) if c.get('InstanceId')})[:2]
    question = dict(instance_id=instances + ['i-not-there'], filters={'username': ['root', 'ecs-user']},
                    query='[].{id: session_id, user: username, when: creation_time}')
    listed = runner.run_module(connection(endpoint, region_id=REGIONS, **question), module=INFO)
    assert not listed.result.get('failed'), listed.output
    endpoint.reset_stats()
    read = runner.run_module(dict(question, **archive_store.options), module=ARCHIVE_INFO)
    assert not read.result.get('failed'), read.output
    assert read.result['sessions'], 'the question should find sessions'
    assert without_bookkeeping(read.result['sessions']) == listed.result['sessions']
    assert all(set(session['_archive']) >= {'archived_at'} for session in read.result['sessions'])
    for key in SAME_KEYS:
        assert read.result[key] == listed.result[key], key
    assert read.result['changed'] is False
    assert endpoint.stats()['calls'] == 0, 'the reader made an API call'


def test_who_worked_as_root_on_this_host_in_january(runner, archive_store):
    """The documented audit question, over sessions the service forgot long ago, in check mode as well."""
    sessions = [make_session(number) for number in range(200)]
    populate(archive_store.options, sessions)
    host = 'i-3'
    january = {'username': 'root', 'created_after': '2024-01-01T00:00:00Z', 'created_before': '2024-02-01T00:00:00Z'}
    args = dict(archive_store.options, instance_id=[host], filters=january, query='[].session_id')
    expected = [(s['creation_time'], s['session_id']) for s in newest_first(sessions)
                if host in s['instance_ids'] and s['username'].lower() == 'root' and s['creation_time'] < '2024-02']
    for check in (False, True):
        run = runner.run_module(args, module=ARCHIVE_INFO, check=check)
        assert not run.result.get('failed'), run.output
        assert [(s['creation_time'], s['session_id']) for s in run.result['sessions']] == expected
        assert run.result['query_result'] == [session_id for _time, session_id in expected]
        assert run.result['summary_by_instance'][host]['root_session_count'] == len(expected) > 0
        assert set(run.result['sessions_by_instance']) == {host}


def test_the_archive_group_sets_the_store_once_for_both_modules(runner, endpoint_factory, tmp_path):
    """module_defaults for group/alicloud.ecs.archive: path given once; credentials through group/alicloud.ecs.alicloud,
    which the reader is not part of (it takes no credentials)."""
    endpoint = endpoint_factory({'cn-hangzhou': 40})
    (tmp_path / 'store').mkdir(mode=0o700)
    path = tmp_path / 'store' / 'sessions.db'
    playbook = tmp_path / 'group.yml'
    result_file = tmp_path / 'group-result.json'
    credentials = connection(endpoint)
    playbook.write_text(f'''\
- hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/alicloud.ecs.alicloud: {json.dumps(credentials)}
    group/alicloud.ecs.archive:
      path: {json.dumps(str(path))}
  tasks:
    - name: Archive
      {ARCHIVE}: {{}}
    - name: Read it back
      {ARCHIVE_INFO}:
        query: length(@)
      register: read
    - name: Keep the result
      ansible.builtin.copy:
        content: "{{{{ read | to_json }}}}"
        dest: {json.dumps(str(result_file))}
''')
    completed = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', str(playbook)],
                               env=runner.environment(), capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads(result_file.read_text())
    assert result['query_result'] == len(result['sessions']) == len(endpoint.sessions('cn-hangzhou'))


def test_untrusted_text_in_a_record_stays_text(runner, archive_store, tmp_path):
    """A user name holding a Jinja2 expression is data: templating the result later does not run it."""
    marker = tmp_path / 'ran'
    hostile = make_session(1)
    hostile['username'] = "{{ lookup('ansible.builtin.pipe', 'touch %s') }}" % marker
    populate(archive_store.options, [hostile])
    run = runner.run_module(dict(archive_store.options), module=ARCHIVE_INFO)
    assert not run.result.get('failed'), run.output
    assert run.result['sessions'][0]['username'] == hostile['username']
    assert not marker.exists()


def test_a_missing_archive_fails_naming_it_and_creates_nothing(runner, tmp_path):
    (tmp_path / 'store').mkdir(mode=0o700)
    path = tmp_path / 'store' / 'sessions.db'
    run = runner.run_module({'path': str(path), 'instance_id': ['i-1']}, module=ARCHIVE_INFO)
    assert run.result['failed'] and f'No archive at {path}' in run.result['msg']
    assert 'Traceback' not in run.output
    assert list((tmp_path / 'store').iterdir()) == []


def test_reading_leaves_the_database_file_as_it_was(runner, tmp_path):
    (tmp_path / 'store').mkdir(mode=0o700)
    path = tmp_path / 'store' / 'sessions.db'
    populate({'path': str(path)}, [make_session(number) for number in range(30)])
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    run = runner.run_module({'path': str(path), 'filters': {'created_after': '2024-01-15T00:00:00Z'}}, module=ARCHIVE_INFO)
    assert not run.result.get('failed'), run.output
    assert run.result['sessions'] and all(s['creation_time'] > '2024-01-15' for s in run.result['sessions'])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


GUIDE = Path(__file__).resolve().parents[2] / 'docs' / 'archiving.md'


def guide_blocks(language):
    return re.findall(r'```%s\n(.*?)```\n' % language, GUIDE.read_text(), re.S)


def test_the_guides_yaml_is_valid_and_its_reader_tasks_use_real_options():
    tasks = []
    for block in guide_blocks('yaml'):
        loaded = yaml.safe_load(block)
        if isinstance(loaded, list):
            for item in loaded:
                tasks.extend(item.get('tasks', [item]))
    options = set(argument_spec())
    options |= {alias for option in argument_spec().values() for alias in option.get('aliases', ())}
    readers = [task[ARCHIVE_INFO] for task in tasks if ARCHIVE_INFO in task]
    assert len(readers) >= 3
    for reader in readers:
        assert set(reader) <= options, set(reader) - options


def test_the_guides_least_privilege_sql_works_as_described(runner, endpoint_factory, postgres_server):
    """The guide's SQL, run as written (role names and passwords made unique), then each role does its work:
    the owner's first run creates the tables, the archiver's runs merge but cannot create them, the reader reads."""
    suffix = uuid.uuid4().hex[:8]
    names = {name: f'{name}_{suffix}' for name in ('session_archive_owner', 'session_archiver', 'session_archive_reader')}
    passwords = {name: uuid.uuid4().hex for name in names}
    database = f'session_archive_{suffix}'

    def adapted(block):
        for name in sorted(names, key=len, reverse=True):  # session_archive_owner before session_archive...
            block = re.sub(r'\b%s\b' % name, names[name], block)
        for name, word in (('session_archive_owner', 'owner'), ('session_archiver', 'archiver'), ('session_archive_reader', 'reader')):
            block = block.replace(f"'change-me-{word}'", f"'{passwords[name]}'")
        return re.sub(r'\bsession_archive\b', database, block)

    def statements(block):
        code = '\n'.join(line for line in block.splitlines() if not line.lstrip().startswith('--'))
        return [statement for statement in code.split(';') if statement.strip()]

    first, second = guide_blocks('sql')[:2]
    with postgres_server.connect() as admin:
        for statement in statements(adapted(first)):
            admin.execute(statement)
    try:
        with postgres_server.connect(database) as admin:
            for statement in statements(adapted(second)):
                admin.execute(statement)

        def url(name):
            return f'postgresql://{names[name]}@{postgres_server.host}:{postgres_server.port}/{database}'

        endpoint = endpoint_factory({'cn-hangzhou': 30})
        refused = runner.run_module(connection(endpoint, database_url=url('session_archiver'),
                                               database_password=passwords['session_archiver']), module=ARCHIVE)
        assert refused.result['failed'] and 'privilege' in refused.result['msg'], refused.output
        for name in ('session_archive_owner', 'session_archiver'):
            endpoint.generate_sessions('cn-hangzhou', 5, seed=len(name))
            run = runner.run_module(connection(endpoint, database_url=url(name), database_password=passwords[name]),
                                    module=ARCHIVE)
            assert not run.result.get('failed'), run.output
        assert run.result['added'] == 5
        read = runner.run_module({'database_url': url('session_archive_reader'),
                                  'database_password': passwords['session_archive_reader']}, module=ARCHIVE_INFO)
        assert not read.result.get('failed'), read.output
        assert len(read.result['sessions']) == len(endpoint.sessions('cn-hangzhou'))
        with psycopg.connect(url('session_archive_reader'), password=passwords['session_archive_reader']) as reader:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute("DELETE FROM terminal_sessions")
        with psycopg.connect(url('session_archiver'), password=passwords['session_archiver']) as archiver:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                archiver.execute('DROP TABLE terminal_sessions')
    finally:
        with postgres_server.connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS {database} WITH (FORCE)')
            for name in names.values():
                admin.execute(f'DROP ROLE IF EXISTS {name}')


def test_a_password_in_the_url_never_shows_even_at_high_verbosity(runner, postgres_database):
    populate({'database_url': postgres_database.url, 'database_password': postgres_database.password},
             [make_session(number) for number in range(3)])
    run = runner.run_module({'database_url': postgres_database.dsn_with_password}, module=ARCHIVE_INFO, verbosity=4)
    assert not run.result.get('failed'), run.output
    assert len(run.result['sessions']) == 3
    assert 'database_password' in run.output  # the warning
    assert postgres_database.password not in run.output
