"""The terminal_sessions inventory plugin after a static source, through ansible-inventory and ansible-playbook."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import yaml

from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECRETS

ZERO_SUMMARY = {
    'session_count': 0, 'active_session_count': 0, 'last_session_time': None, 'last_session_user': None,
    'last_client_ip': None, 'usernames': [], 'client_ips': [], 'principal_ids': [], 'root_session_count': 0,
    'failed_connection_count': 0, 'port_forwarding_session_count': 0, 'closed_reasons': {},
}


def plain(value):
    """Output of ansible-inventory without the ``__ansible_unsafe`` wrappers of data that is never templated."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def connected(raw_session):
    """Instances a seeded session reached through its connections (what a region listing can attribute)."""
    return {conn['InstanceId'] for conn in raw_session['Connections']['Connection']}


def truth(endpoint, instance_id):
    """The seeded sessions of ``instance_id``, newest first, computed from the seed only."""
    found = [s for sessions in endpoint.seed_data.values() for s in sessions if instance_id in connected(s)]
    return sorted(found, key=lambda s: s['CreationTime'], reverse=True)


def expected_calls(endpoint, page_size=100):
    return sum(max(1, math.ceil(len(sessions) / page_size)) for sessions in endpoint.seed_data.values())


class Inventory:
    """A static source and a terminal_sessions source in ``tmp_path``, run by ansible-inventory."""

    def __init__(self, runner, tmp_path, endpoint, hosts, config=None, file_name='20-terminal_sessions.yml'):
        self.runner = runner
        self.tmp_path = tmp_path
        self.endpoint = endpoint
        self.static = tmp_path / '10-hosts.yml'
        self.static.write_text(yaml.safe_dump(hosts))
        self.source = tmp_path / file_name
        self.write_config(config or {})

    def write_config(self, extra):
        config = {
            'plugin': 'alicloud.ecs.terminal_sessions',
            'region_id': sorted(self.endpoint.seed_data),
            'endpoint': self.endpoint.endpoint,
            'ca_bundle': self.endpoint.ca_file,
            'retry_delay': 0.01,
            'retry_max_delay': 0.05,
        }
        config.update(extra)
        self.source.write_text(yaml.safe_dump(config))

    def environment(self, extra=None):
        env = {'ALIBABA_CLOUD_ACCESS_KEY_ID': ACCESS_KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ACCESS_KEY_SECRET}
        env.update(extra or {})
        return self.runner.environment(env)

    def run(self, *args, env=None, expect_rc=0):
        listing = self.tmp_path / 'inventory.json'
        command = [str(Path(sys.executable).parent / 'ansible-inventory'), '-i', str(self.static), '-i', str(self.source),
                   '--list', '--output', str(listing), *args]
        completed = subprocess.run(command, env=self.environment(env), capture_output=True, text=True, timeout=300,
                                   check=False, cwd=str(self.tmp_path))
        assert completed.returncode == expect_rc, completed.stdout + completed.stderr
        if expect_rc:
            return completed, None
        listed = plain(json.loads(listing.read_text()))
        listing.unlink()
        return completed, listed


def two_region_hosts(endpoint):
    hangzhou = sorted({i for s in endpoint.seed_data['cn-hangzhou'] for i in connected(s)})
    shanghai = sorted({i for s in endpoint.seed_data['cn-shanghai'] for i in connected(s)})
    return {'all': {
        'hosts': {
            'web1': {'instance_id': hangzhou[0]},
            'web2': {'instance_id': ' %s ' % hangzhou[1]},
            'idle': {'instance_id': 'i-never-connected'},
            'bastion': {'ansible_host': '192.0.2.10'},
        },
        'children': {'db': {'hosts': {'db1': {}}, 'vars': {'instance_id': shanghai[0]}}},
    }}


CONSTRUCTED = {
    'max_sessions_per_host': 3,
    'groups': {'has_root_sessions': 'ecs_terminal_session_summary.root_session_count > 0',
               'never_reached': 'ecs_terminal_session_summary.session_count == 0'},
    'keyed_groups': [{'key': 'ecs_terminal_session_summary.usernames', 'prefix': 'ecs_user'}],
    'compose': {'ecs_last_user': 'ecs_terminal_session_summary.last_session_user'},
}


def test_two_sources_give_each_host_its_sessions_summary_and_groups(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 230, 'cn-shanghai': 120}, tls=True)
    hosts = two_region_hosts(endpoint)
    inventory = Inventory(runner, tmp_path, endpoint, hosts, CONSTRUCTED)
    _completed, listed = inventory.run()
    hostvars = listed['_meta']['hostvars']

    instance_of = {'web1': hosts['all']['hosts']['web1']['instance_id'], 'web2': hosts['all']['hosts']['web2']['instance_id'].strip(),
                   'db1': hosts['all']['children']['db']['vars']['instance_id']}
    for host, instance_id in instance_of.items():
        expected = truth(endpoint, instance_id)
        assert len(expected) > 3
        got = hostvars[host]['ecs_terminal_sessions']
        assert [s['session_id'] for s in got] == [s['SessionId'] for s in expected[:3]], host
        assert all(instance_id in s['instance_ids'] for s in got)
        summary = hostvars[host]['ecs_terminal_session_summary']
        assert summary['session_count'] == len(expected), host
        assert summary['root_session_count'] == sum(s['Username'] == 'root' for s in expected), host
        assert summary['last_session_time'] == expected[0]['CreationTime']
        assert summary['usernames'] == sorted({s['Username'] for s in expected})
        assert hostvars[host]['ecs_last_user'] == expected[0]['Username']
        for username in summary['usernames']:
            assert host in listed['ecs_user_%s' % username.replace('-', '_')]['hosts']

    assert hostvars['idle']['ecs_terminal_sessions'] == []
    assert hostvars['idle']['ecs_terminal_session_summary'] == ZERO_SUMMARY
    assert listed['never_reached']['hosts'] == ['idle']
    assert not any(name.startswith('ecs_') for name in hostvars['bastion'])
    assert 'ecs_last_user' not in hostvars['bastion']
    assert 'bastion' in listed['ungrouped']['hosts']
    with_root = sorted(h for h, i in instance_of.items() if any(s['Username'] == 'root' for s in truth(endpoint, i)))
    assert sorted(listed['has_root_sessions']['hosts']) == with_root

    # One listing per region, every page, no per-instance query.
    stats = endpoint.stats()
    assert stats['calls'] == expected_calls(endpoint)
    queries = [request['query'] for request in stats['requests']]
    assert sorted({q['RegionId'] for q in queries}) == ['cn-hangzhou', 'cn-shanghai']
    assert not any('InstanceId' in q for q in queries)


def test_a_session_that_never_connected_touches_no_host(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 400, 'cn-shanghai': 20}, tls=True)
    never = [s for s in endpoint.seed_data['cn-hangzhou'] if not connected(s)]
    assert never, 'the seed should hold sessions without connections'
    hosts = {'all': {'hosts': dict(('host-%s' % i, {'instance_id': i}) for i in sorted({t for s in never for t in s['_targets']}))}}
    _completed, listed = Inventory(runner, tmp_path, endpoint, hosts).run()
    listed_ids = {s['session_id'] for v in listed['_meta']['hostvars'].values() for s in v['ecs_terminal_sessions']}
    assert listed_ids
    assert not listed_ids & {s['SessionId'] for s in never}


def test_the_cache_answers_a_second_run_without_any_call(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 150, 'cn-shanghai': 40}, tls=True)
    cache = {'cache': True, 'cache_plugin': 'ansible.builtin.jsonfile', 'cache_connection': str(tmp_path / 'cache'),
             'cache_timeout': 3600}
    cache.update(CONSTRUCTED)
    inventory = Inventory(runner, tmp_path, endpoint, two_region_hosts(endpoint), cache)
    _completed, first = inventory.run()
    assert endpoint.stats()['calls'] == expected_calls(endpoint)
    cache_files = list((tmp_path / 'cache').iterdir())
    assert len(cache_files) == 1
    assert not any(secret in cache_files[0].read_text() for secret in SECRETS)

    endpoint.reset_stats()
    _completed, second = inventory.run()
    assert endpoint.stats()['calls'] == 0
    assert second == first

    # --flush-cache lists again (ansible-inventory has the flag from ansible-core 2.19 on, ansible-playbook on every core) ...
    noop = tmp_path / 'noop.yml'
    noop.write_text('- name: Nothing\n  hosts: localhost\n  gather_facts: false\n  tasks: []\n')
    flushed = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(inventory.static), '-i', str(inventory.source),
                              '--flush-cache', str(noop)], env=inventory.environment(), capture_output=True, text=True, timeout=300, check=False)
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    assert endpoint.stats()['calls'] == expected_calls(endpoint)
    endpoint.reset_stats()
    _completed, refilled = inventory.run()
    assert endpoint.stats()['calls'] == 0 and refilled == first
    # ... and so does a configuration that lists other regions, before the cache times out.
    endpoint.reset_stats()
    cache['region_id'] = ['cn-hangzhou']
    inventory.write_config(cache)
    _completed, narrowed = inventory.run()
    assert endpoint.stats()['calls'] == 2
    assert narrowed['_meta']['hostvars']['db1']['ecs_terminal_sessions'] == []


def test_filters_select_sessions_before_the_join(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 200, 'cn-shanghai': 30}, tls=True)
    hosts = two_region_hosts(endpoint)
    inventory = Inventory(runner, tmp_path, endpoint, hosts, {'filters': {'username': 'root'}})
    _completed, listed = inventory.run()
    web1 = hosts['all']['hosts']['web1']['instance_id']
    expected = [s['SessionId'] for s in truth(endpoint, web1) if s['Username'] == 'root']
    got = listed['_meta']['hostvars']['web1']
    assert [s['session_id'] for s in got['ecs_terminal_sessions']] == expected
    assert got['ecs_terminal_session_summary']['usernames'] == (['root'] if expected else [])


def test_credentials_and_regions_from_the_environment_only(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 120, 'cn-shanghai': 30})
    hosts = two_region_hosts(endpoint)
    inventory = Inventory(runner, tmp_path, endpoint, hosts)
    inventory.source.write_text(yaml.safe_dump({'plugin': 'alicloud.ecs.terminal_sessions', 'endpoint': endpoint.endpoint,
                                                'protocol': 'http', 'retry_delay': 0.01}))
    # The first variable set of each list wins, as for the modules: a wrong key under a later name is not used.
    _completed, listed = inventory.run(env={'ALICLOUD_REGION': 'cn-hangzhou,cn-shanghai', 'ALICLOUD_SECRET_KEY': 'wrong'})
    db1 = hosts['all']['children']['db']['vars']['instance_id']
    assert [s['session_id'] for s in listed['_meta']['hostvars']['db1']['ecs_terminal_sessions']] == \
        [s['SessionId'] for s in truth(endpoint, db1)]
    assert endpoint.stats()['auth_failures'] == 0


def test_a_failed_listing_names_the_error_and_shows_no_secret(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 50, 'cn-shanghai': 10}, tls=True)
    inventory = Inventory(runner, tmp_path, endpoint, two_region_hosts(endpoint), {'retries': 0})
    wrong = 'wrong-' + ACCESS_KEY_SECRET
    completed, listed = inventory.run('-vvvv', env={'ALIBABA_CLOUD_ACCESS_KEY_SECRET': wrong, 'DEBUG': 'sdk',
                                                    'ALICLOUD_ECS_TEST_KEEP_DEBUG': '1'})
    output = completed.stdout + completed.stderr
    assert 'alicloud.ecs.terminal_sessions' in output and 'SignatureDoesNotMatch' in output
    assert 'request ID' in output
    for secret in SECRETS + (wrong,):
        assert secret not in output
    # The static source's hosts are still there, without session facts...
    assert 'ecs_terminal_sessions' not in listed['_meta']['hostvars']['web1']
    # ... unless the run is told that a source that fails is fatal, as docs/inventory.md advises for compliance runs.
    completed, _listed = inventory.run(env={'ALIBABA_CLOUD_ACCESS_KEY_SECRET': wrong, 'ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED': 'true'},
                                       expect_rc=1)
    assert 'SignatureDoesNotMatch' in completed.stdout + completed.stderr


def test_bad_options_are_named_before_any_call(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 10, 'cn-shanghai': 10})
    cases = [({'max_results': 0}, 'max_results must be between 1 and 100'),
             ({'region_id': ['Hangzhou']}, "region_id: 'Hangzhou' is not a region ID"),
             ({'filters': {'status': ['Conected']}}, 'filters.status: unknown value'),
             ({'max_sessions_per_host': -1}, 'max_sessions_per_host must be at least 0')]
    for config, message in cases:
        inventory = Inventory(runner, tmp_path, endpoint, two_region_hosts(endpoint), config)
        completed, _listed = inventory.run()
        assert message in completed.stdout + completed.stderr
    assert endpoint.stats()['calls'] == 0


def test_a_file_not_named_for_the_plugin_is_not_read(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 10, 'cn-shanghai': 10})
    inventory = Inventory(runner, tmp_path, endpoint, two_region_hosts(endpoint), file_name='sessions.yml')
    completed, listed = inventory.run()
    assert 'ecs_terminal_sessions' not in listed['_meta']['hostvars']['web1']
    assert endpoint.stats()['calls'] == 0


PLAY = '''\
- name: Hosts with a root session, as the inventory grouped them
  hosts: has_root_sessions
  gather_facts: false
  tasks:
    - name: Record who is in the group and the controller's environment as later tasks see it
      ansible.builtin.copy:
        content: "{{ {'hosts': ansible_play_hosts_all, 'environment': lookup('ansible.builtin.pipe', 'env -0')} | to_json }}"
        dest: "{{ result_file }}"
      delegate_to: localhost
      run_once: true
'''


def test_a_play_targets_a_group_and_the_controller_environment_is_unchanged(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 200, 'cn-shanghai': 60}, tls=True)
    hosts = two_region_hosts(endpoint)
    for variables in hosts['all']['hosts'].values():
        variables['ansible_connection'] = 'local'
    hosts['all']['children']['db']['vars']['ansible_connection'] = 'local'
    inventory = Inventory(runner, tmp_path, endpoint, hosts, CONSTRUCTED)
    _completed, listed = inventory.run()
    play = tmp_path / 'play.yml'
    play.write_text(PLAY)
    # DEBUG=sdk makes the SDK log signed requests; the plugin sets it aside while it calls, then puts it back.
    env = inventory.environment({'DEBUG': 'sdk', 'ALICLOUD_ECS_TEST_KEEP_DEBUG': '1', 'ANSIBLE_PYTHON_INTERPRETER': sys.executable})

    def run_play(*sources):
        result_file = tmp_path / 'result.json'
        command = [str(Path(sys.executable).parent / 'ansible-playbook'), *sum((['-i', str(s)] for s in sources), []),
                   str(play), '-e', json.dumps({'result_file': str(result_file)})]
        completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert 'x-acs-signature' not in (completed.stdout + completed.stderr).lower()
        result = json.loads(result_file.read_text())
        result_file.unlink()
        environment = dict(item.split('=', 1) for item in result['environment'].split('\0') if '=' in item)
        return result['hosts'], environment

    group_hosts, with_plugin = run_play(inventory.static, inventory.source)
    assert sorted(group_hosts) == sorted(listed['has_root_sessions']['hosts'])
    assert with_plugin['DEBUG'] == 'sdk'

    # The same play with a static group of the same hosts: the environment later tasks see is the same.
    static_group = tmp_path / '30-static-group.yml'
    static_group.write_text(yaml.safe_dump({'has_root_sessions': {'hosts': dict((h, None) for h in group_hosts)}}))
    _hosts, without_plugin = run_play(inventory.static, static_group)
    assert with_plugin == without_plugin


# --- the example of docs/inventory.md ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / 'docs' / 'examples' / 'inventory_plugin'
GUIDE = ROOT / 'docs' / 'inventory.md'
EXAMPLE_FILES = ('inventory/10-hosts.yml', 'inventory/20-terminal_sessions.yml', 'before_patching.yml')
TASK_HEADER = re.compile(r'^TASK \[(?P<name>.+)\] \*+$', re.M)
OK_LINE = re.compile(r'^ok: \[(?P<host>[^\]\s]+)\]', re.M)


def hosts_by_task(output):
    """Task name -> the hosts it ran on, from ansible-playbook's default output."""
    found = {}
    parts = TASK_HEADER.split(output)
    for name, body in zip(parts[1::2], parts[2::2]):
        found[name] = sorted(OK_LINE.findall(body))
    return found


def is_open_on(raw_session, instance_id):
    return any(c['InstanceId'] == instance_id and c.get('Status') in ('Connecting', 'Connected')
               for c in raw_session['Connections']['Connection'])


def test_the_guide_example_runs_as_shipped(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 140, 'cn-shanghai': 50}, tls=True)
    opened = {'SessionId': 's-hz-open-1', 'CreationTime': endpoint.seed_data['cn-hangzhou'][0]['CreationTime'],
              'Username': 'root', 'ClientIP': '198.51.100.7', 'PrincipalId': '2000000000000001', 'IdentityType': 'RAMUser',
              'Connections': {'Connection': [{'InstanceId': 'i-hz002', 'Status': 'Connected',
                                              'StartTime': endpoint.seed_data['cn-hangzhou'][0]['CreationTime']}]},
              '_targets': ['i-hz002']}
    endpoint.add_sessions('cn-hangzhou', [opened])
    endpoint.seed_data['cn-hangzhou'].insert(0, opened)

    # The shipped files, with the local endpoint added to the plugin's configuration.
    workdir = tmp_path / 'example'
    for name in EXAMPLE_FILES:
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text((EXAMPLE / name).read_text())
    config = workdir / 'inventory' / '20-terminal_sessions.yml'
    config.write_text(config.read_text() + 'endpoint: %s\nca_bundle: %s\nretry_delay: 0.01\n' % (endpoint.endpoint, endpoint.ca_file))

    env = runner.environment({'ALIBABA_CLOUD_ACCESS_KEY_ID': ACCESS_KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ACCESS_KEY_SECRET})
    completed = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'inventory/', 'before_patching.yml'],
                               env=env, capture_output=True, text=True, timeout=300, check=False, cwd=str(workdir))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert endpoint.stats()['calls'] == expected_calls(endpoint)

    instances = {'web1': 'i-hz001', 'web2': 'i-hz002', 'db1': 'i-sh001'}
    active = sorted(h for h, i in instances.items() if any(is_open_on(s, i) for s in truth(endpoint, i)))
    assert 'web2' in active
    ran = hosts_by_task(completed.stdout)
    assert ran['Show the open sessions'] == active
    assert ran['Say which hosts would be patched'] == sorted(set(instances) - set(active))
    assert 'open session(s), last by' in completed.stdout

    # The second run is answered by the cache the example configures (under the test's HOME).
    endpoint.reset_stats()
    again = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'inventory/', 'before_patching.yml'],
                           env=env, capture_output=True, text=True, timeout=300, check=False, cwd=str(workdir))
    assert again.returncode == 0 and hosts_by_task(again.stdout) == ran
    assert endpoint.stats()['calls'] == 0


def test_the_guide_embeds_the_example_verbatim():
    guide = GUIDE.read_text()
    for name in EXAMPLE_FILES:
        assert '```yaml\n%s```\n' % (EXAMPLE / name).read_text() in guide, '%s is not in docs/inventory.md verbatim' % name
        assert 'docs/examples/inventory_plugin/%s' % name in guide


SHOW_PLAY = '''\
- name: Show what the inventory holds
  hosts: web1
  gather_facts: false
  tasks:
    - name: Write the last user and the sessions' port-forwarding targets as a play sees them
      ansible.builtin.copy:
        content: "{{ {'user': ecs_terminal_session_summary.last_session_user, 'ecs_last_user': ecs_last_user,
                      'targets': ecs_terminal_sessions | map(attribute='target_server', default='') | list} | to_json }}"
        dest: "{{ result_file }}"
      delegate_to: localhost
'''


def test_session_data_is_never_evaluated_as_a_template(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 20, 'cn-shanghai': 5}, tls=True)
    newest = endpoint.seed_data['cn-hangzhou'][0]['CreationTime']
    crafted = {'SessionId': 's-hz-template', 'CreationTime': newest, 'Username': '{{ 6 * 7 }}', 'ClientIP': '198.51.100.9',
               'PrincipalId': '2000000000000009', 'IdentityType': 'RAMUser', 'PortNumber': 22,
               'TargetServer': "{{ lookup('ansible.builtin.pipe', 'echo evaluated') }}",
               'Connections': {'Connection': [{'InstanceId': 'i-hz001', 'Status': 'Connected', 'StartTime': newest}]},
               '_targets': ['i-hz001']}
    endpoint.add_sessions('cn-hangzhou', [crafted])
    hosts = {'all': {'hosts': {'web1': {'instance_id': 'i-hz001', 'ansible_connection': 'local'}}}}
    inventory = Inventory(runner, tmp_path, endpoint, hosts, {'compose': {'ecs_last_user': 'ecs_terminal_session_summary.last_session_user'}})
    play = tmp_path / 'show.yml'
    play.write_text(SHOW_PLAY)
    result_file = tmp_path / 'shown.json'
    completed = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(inventory.static), '-i', str(inventory.source),
                                str(play), '-e', json.dumps({'result_file': str(result_file)})],
                               env=inventory.environment({'ANSIBLE_PYTHON_INTERPRETER': sys.executable}),
                               capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    shown = json.loads(result_file.read_text())
    assert shown['user'] == shown['ecs_last_user'] == '{{ 6 * 7 }}'
    assert shown['targets'][0] == crafted['TargetServer']
