"""Issue 13 item 1: every string from the API reaches templating as data, never as a template, on every core.

Sessions seeded with ``{{ lookup('pipe', 'touch <marker>') }}`` and ``{{ 'EVAL' ~ 'UATED-<field>' }}`` in each
string field travel every path a play can take them through: enrich_hosts listing itself (the EXAMPLES pattern,
set_fact then template the result), enrich_hosts with a registered module result, the two other filters, the module
result itself, an archive (a version 1 file imported into the store, read back by ecs_terminal_session_archive_info)
read through the filters, and the inventory plugin (compose, groups, keyed_groups; first listing, then a second run
answered by its jsonfile cache). A marker file is a command run; ``EVALUATED-`` in an output is an expression
evaluated. Both must stay at zero and each field must come back verbatim.

Before ansible-core 2.19, ansible-core marks a module's result unsafe itself (the task executor wraps it with
``wrap_var``): the ``module result`` path below holds on the old code of the collection too, which is the check of
that claim. The filters and the inventory plugin build new strings and containers, so their output has to be marked
by the collection; from 2.19 on no plugin output is trusted as a template, which the same run shows on 2.19-2.21.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ecs_endpoint.data import custom_session
from ecs_endpoint.server import EcsEndpoint
from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, CREDENTIALS
from support.playbooks import connection

INSTANCE = 'i-hz001'
REGION = 'cn-hangzhou'
EVALUATED = 'EVALUATED-'

# Session fields (API name -> the short name of its marker); connection fields likewise.
SESSION_FIELDS = {'Username': 'username', 'ClientIP': 'client_ip', 'PrincipalId': 'principal_id',
                  'TargetServer': 'target_server', 'IdentityType': 'identity_type'}
CONNECTION_FIELDS = {'ClosedReason': 'closed_reason', 'FailedDetail': 'failed_detail', 'StartTime': 'start_time',
                     'EndTime': 'end_time'}

# The paths data from the API takes to a template, in the order the play runs them.
PATHS = ('enrich_hosts listing itself', 'enrich_hosts with data', 'terminal_sessions_by_instance',
         'terminal_session_summary', 'module result', 'archive read through enrich_hosts',
         'inventory plugin (compose, groups, keyed_groups)', 'inventory plugin from its jsonfile cache')


def run_payload(markers, field):
    return "{{ lookup('pipe', 'touch %s/%s') }}" % (markers, field)


def eval_payload(field):
    return "{{ 'EVAL' ~ 'UATED-%s' }}" % field


def seeded_sessions(markers):
    """Newest first: one session with command payloads, one with expression payloads, one with a payload instance ID."""
    def fields(payload):
        session = dict((name, payload(short)) for name, short in SESSION_FIELDS.items())
        connection_fields = dict((name, payload(short)) for name, short in CONNECTION_FIELDS.items())
        connection_fields['Status'] = 'Terminated'
        return session, connection_fields

    run_fields, run_connection = fields(lambda short: run_payload(markers, short))
    eval_fields, eval_connection = fields(eval_payload)
    # Times stay times: the newest session's Username is the summary's last_session_user.
    return [
        custom_session('s-hz-000003', INSTANCE, '2030-01-03T00:00:00Z', connection=run_connection, PortNumber=22, **run_fields),
        custom_session('s-hz-000002', INSTANCE, '2030-01-02T00:00:00Z', connection=eval_connection, PortNumber=22, **eval_fields),
        custom_session(run_payload(markers, 'session_id') + eval_payload('session_id'), INSTANCE, '2030-01-01T00:00:00Z',
                       connection={'InstanceId': run_payload(markers, 'instance_id') + eval_payload('instance_id'),
                                   'Status': run_payload(markers, 'status') + eval_payload('status')},
                       Username='root'),
    ]


def archive_lines(markers):
    """An ecs_terminal_session_archive file: its header, then records in the collection's own (snake_case) shape."""
    records = []
    for index, payload in enumerate((lambda short: run_payload(markers, short), eval_payload)):
        records.append({
            'region_id': REGION, 'session_id': 's-archived-%d' % index, 'creation_time': '2029-12-0%dT00:00:00Z' % (2 - index),
            'username': payload('username'), 'client_ip': payload('client_ip'), 'principal_id': payload('principal_id'),
            'target_server': payload('target_server'), 'instance_ids': [INSTANCE],
            'connections': [{'instance_id': INSTANCE, 'status': 'Terminated', 'closed_reason': payload('closed_reason')}],
            '_archive': {'archived_at': '2029-12-31T00:00:00Z'},
        })
    header = {'_archive_format': 'alicloud.ecs.terminal_sessions', 'version': 1, 'records': len(records)}
    return '\n'.join(json.dumps(line) for line in [header] + records) + '\n'


def sweep(markers, results, path):
    """A task moving the marker files created so far into the folder of ``path``: commands run by that path."""
    folder = '%s/%s' % (results, path.replace(' ', '_').replace('(', '').replace(')', '').replace(',', ''))
    return {'name': 'Markers created by: %s' % path, 'ansible.builtin.shell': 'mkdir -p %s && find %s -type f -exec mv {} %s/ \\;'
            % (folder, markers, folder)}, folder


def keep(results, name, expression):
    """set_fact of ``expression``, then the fact templated into a file (the EXAMPLES pattern)."""
    return [
        {'name': 'Set %s' % name, 'ansible.builtin.set_fact': {name: '{{ %s }}' % expression}},
        {'name': 'Template %s' % name,
         'ansible.builtin.copy': {'content': '{{ %s | to_json }}' % name, 'dest': '%s/%s.json' % (results, name)}},
    ]


def playbook(markers, results, endpoint, archive):
    """The play of every path, a sweep of the markers after each; returns (plays, path -> markers folder)."""
    folders = {}
    tasks = []
    listing = ("hostvars | alicloud.ecs.enrich_hosts(hosts=['web1'], region_id='%s', endpoint='%s', ca_bundle='%s', "
               "retry_delay=0.01)" % (REGION, endpoint.endpoint, endpoint.ca_file))

    def path_tasks(path, steps):
        task, folder = sweep(markers, results, path)
        folders[path] = folder
        tasks.extend(steps)
        tasks.append(task)

    path_tasks(PATHS[0], keep(results, 'listed', listing)
               + keep(results, 'listed_user', "listed.web1.summary.last_session_user")
               + keep(results, 'listed_fields',
                      "[listed.web1.sessions[0].client_ip, listed.web1.sessions[0].connections[0].closed_reason]"
                      " + listed.web1.summary.closed_reasons.keys() | list"))
    module = [{'name': 'Sessions from the module', 'alicloud.ecs.ecs_terminal_session_info': connection(endpoint),
               'register': 'info'}]
    path_tasks(PATHS[1], module + keep(results, 'with_data', "hostvars | alicloud.ecs.enrich_hosts(info, hosts=['web1'])")
               + keep(results, 'with_data_user', "(hostvars | alicloud.ecs.enrich_hosts(info, hosts=['web1'])).web1.summary.last_session_user"))
    path_tasks(PATHS[2], keep(results, 'by_instance', 'info | alicloud.ecs.terminal_sessions_by_instance')
               + keep(results, 'by_instance_keys', 'info | alicloud.ecs.terminal_sessions_by_instance | list'))
    path_tasks(PATHS[3], keep(results, 'summary', 'info | alicloud.ecs.terminal_session_summary')
               + keep(results, 'summary_user', "(info | alicloud.ecs.terminal_session_summary)['%s'].last_session_user" % INSTANCE))
    path_tasks(PATHS[4], keep(results, 'module_result', 'info')
               + keep(results, 'module_user', 'info.sessions[0].username'))
    # The archive as users keep it: an earlier release's file imported into the store, read back by the reader module.
    store = '%s.sqlite' % archive
    archive_tasks = [
        {'name': 'Archive the listing, importing the earlier file',
         'alicloud.ecs.ecs_terminal_session_archive': connection(endpoint, path=store, import_path=str(archive))},
        {'name': 'Sessions from the archive', 'register': 'from_store',
         'alicloud.ecs.ecs_terminal_session_archive_info': {'path': store, 'session_id': ['s-archived-0', 's-archived-1']}}]
    path_tasks(PATHS[5], archive_tasks + keep(results, 'archived', 'from_store.sessions')
               + keep(results, 'from_archive', "hostvars | alicloud.ecs.enrich_hosts(archived, hosts=['web1'])")
               + keep(results, 'from_archive_user', "from_archive.web1.summary.last_session_user"))
    path_tasks(PATHS[6], inventory_tasks(results, 'inventory'))
    play = {'hosts': 'web1', 'gather_facts': False, 'tasks': tasks}
    cached_tasks = inventory_tasks(results, 'cached')
    task, folder = sweep(markers, results, PATHS[7])
    folders[PATHS[7]] = folder
    cached_play = {'hosts': 'web1', 'gather_facts': False, 'tasks': cached_tasks + [task]}
    return [play], [cached_play], folders


def inventory_tasks(results, prefix):
    return (keep(results, prefix + '_sessions', "hostvars['web1'].ecs_terminal_sessions")
            + keep(results, prefix + '_summary', "hostvars['web1'].ecs_terminal_session_summary")
            + keep(results, prefix + '_composed', "hostvars['web1'].ecs_last_user")
            + keep(results, prefix + '_groups', "group_names"))


INVENTORY_CONSTRUCTED = {
    'groups': {'ecs_with_sessions': 'ecs_terminal_session_summary.session_count > 0',
               'ecs_payload_user': "ecs_terminal_session_summary.usernames | select('search', 'EVALUATED-') | list | length > 0"},
    'keyed_groups': [{'key': 'ecs_terminal_session_summary.usernames', 'prefix': 'ecs_user'},
                     {'key': 'ecs_terminal_session_summary.closed_reasons', 'prefix': 'ecs_reason'}],
    'compose': {'ecs_last_user': 'ecs_terminal_session_summary.last_session_user',
                'ecs_first_target': 'ecs_terminal_sessions[0].target_server'},
}


@pytest.mark.every_core
def test_api_strings_are_data_on_every_path(runner, tmp_path, security_record):
    markers = tmp_path / 'markers'
    markers.mkdir()
    results = tmp_path / 'results'
    results.mkdir()
    seeded = seeded_sessions(markers)
    endpoint = EcsEndpoint({REGION: seeded}, credentials=CREDENTIALS, tls=True).start()
    try:
        archive = tmp_path / 'archive.jsonl'
        archive.write_text(archive_lines(markers))
        (tmp_path / '10-hosts.yml').write_text(yaml.safe_dump(
            {'all': {'hosts': {'web1': {'instance_id': INSTANCE, 'ansible_connection': 'local',
                                        'ansible_python_interpreter': sys.executable}}}}))
        config = {'plugin': 'alicloud.ecs.terminal_sessions', 'region_id': [REGION], 'endpoint': endpoint.endpoint,
                  'ca_bundle': endpoint.ca_file, 'retry_delay': 0.01, 'cache': True,
                  'cache_plugin': 'ansible.builtin.jsonfile', 'cache_connection': str(tmp_path / 'cache'), 'cache_timeout': 3600}
        config.update(INVENTORY_CONSTRUCTED)
        (tmp_path / '20-terminal_sessions.yml').write_text(yaml.safe_dump(config))
        plays, cached_plays, folders = playbook(markers, results, endpoint, archive)
        (tmp_path / 'play.yml').write_text(yaml.safe_dump(plays, sort_keys=False))
        (tmp_path / 'cached.yml').write_text(yaml.safe_dump(cached_plays, sort_keys=False))
        env = runner.environment({'ALIBABA_CLOUD_ACCESS_KEY_ID': ACCESS_KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ACCESS_KEY_SECRET})
        command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(tmp_path / '10-hosts.yml'),
                   '-i', str(tmp_path / '20-terminal_sessions.yml')]
        first = subprocess.run(command + [str(tmp_path / 'play.yml')], env=env, capture_output=True, text=True,
                               timeout=300, check=False, cwd=str(tmp_path))
        calls = endpoint.stats()['calls']
        second = subprocess.run(command + [str(tmp_path / 'cached.yml')], env=env, capture_output=True, text=True,
                                timeout=300, check=False, cwd=str(tmp_path))
        cache_answered = endpoint.stats()['calls'] == calls
    finally:
        endpoint.stop()

    outputs = {
        PATHS[0]: ('listed', 'listed_user', 'listed_fields'), PATHS[1]: ('with_data', 'with_data_user'),
        PATHS[2]: ('by_instance', 'by_instance_keys'), PATHS[3]: ('summary', 'summary_user'),
        PATHS[4]: ('module_result', 'module_user'), PATHS[5]: ('archived', 'from_archive', 'from_archive_user'),
        PATHS[6]: ('inventory_sessions', 'inventory_summary', 'inventory_composed', 'inventory_groups'),
        PATHS[7]: ('cached_sessions', 'cached_summary', 'cached_composed', 'cached_groups'),
    }
    kept, hits = {}, {}
    for path, names in outputs.items():
        for name in names:
            result = results / ('%s.json' % name)
            kept[name] = json.loads(result.read_text()) if result.exists() else None
        folder = Path(folders[path])
        created = sorted(marker.name for marker in folder.iterdir()) if folder.is_dir() else []
        evaluated = sum(json.dumps(kept[name]).count(EVALUATED) for name in names)
        hits[path] = {'commands run': created, 'expressions evaluated': evaluated}
        security_record('injection', path, 'commands run (a marker per field) + expressions evaluated in the templated '
                        'fields (%s)' % ', '.join(names), len(created) + evaluated)
    log = first.stdout + first.stderr + second.stdout + second.stderr
    assert hits == dict((path, {'commands run': [], 'expressions evaluated': 0}) for path in PATHS)
    assert first.returncode == 0 and second.returncode == 0, log
    assert cache_answered, 'the second run listed again instead of reading the cache'
    assert list(markers.iterdir()) == []
    for path, names in outputs.items():
        for name in names:
            assert kept[name] is not None, '%s: %s was not written\n%s' % (path, name, log)
    assert EVALUATED not in log

    # Verbatim: each field as seeded.
    newest = seeded[0]
    user = newest['Username']
    for name in ('listed_user', 'with_data_user', 'summary_user', 'module_user', 'inventory_composed', 'cached_composed'):
        assert kept[name] == user, name
    assert kept['from_archive_user'] == run_payload(markers, 'username')
    assert [record['session_id'] for record in kept['archived']] == ['s-archived-0', 's-archived-1']
    assert [record['username'] for record in kept['archived']] == [run_payload(markers, 'username'), eval_payload('username')]
    assert kept['listed_fields'][:2] == [newest['ClientIP'], newest['Connections']['Connection'][0]['ClosedReason']]
    # The summary of an instance counts that instance's connections only: not the third session's.
    expected_reasons = set(session['Connections']['Connection'][0]['ClosedReason'] for session in seeded[:2])
    assert set(kept['listed_fields'][2:]) == expected_reasons
    listed = kept['listed']['web1']['sessions']
    for raw, record in zip(seeded, listed):
        assert record['session_id'] == raw['SessionId']
        for api_name, short in SESSION_FIELDS.items():
            if api_name in raw:
                assert record[short] == raw[api_name], short
        raw_connection = raw['Connections']['Connection'][0]
        for api_name, short in list(CONNECTION_FIELDS.items()) + [('InstanceId', 'instance_id'), ('Status', 'status')]:
            if api_name in raw_connection:
                assert record['connections'][0][short] == raw_connection[api_name], short
    # A region listing attributes the third session to its connection's (payload) instance only; a listing by
    # instance ID adds the instance asked for.
    assert kept['with_data']['web1']['sessions'] == listed[:2]
    payload_instance = seeded[2]['Connections']['Connection'][0]['InstanceId']
    assert sorted(kept['by_instance_keys']) == sorted([INSTANCE, payload_instance])
    assert kept['inventory_sessions'] == kept['cached_sessions'] == listed[:2]
    assert kept['inventory_summary'] == kept['cached_summary'] == kept['with_data']['web1']['summary']
    assert 'ecs_with_sessions' in kept['inventory_groups'] and 'ecs_payload_user' not in kept['inventory_groups']
    assert kept['inventory_groups'] == kept['cached_groups']
