"""The compliance examples of docs/examples/compliance, run by ansible-playbook against the local ECS endpoint.

Every expectation is computed here from the raw sessions the endpoint was seeded with (``endpoint.seed_data``),
independently of the collection's code.
"""

from __future__ import annotations

import csv
import datetime
import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECRETS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / 'docs' / 'examples' / 'compliance'
GUIDE = ROOT / 'docs' / 'compliance.md'
PLAYBOOKS = ('gather_and_enrich.yml', 'no_root_sessions.yml', 'reboot_when_idle.yml', 'allowed_networks.yml', 'audit_report.yml',
             'end_old_root_sessions.yml', 'end_sessions_before_reboot.yml', 'session_recording.yml',
             'session_recording_remediate.yml')
REGION = 'cn-hangzhou'
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
OPEN_STATUSES = ('Connecting', 'Connected')

TASK_HEADER = re.compile(r'^TASK \[(?P<name>.+)\] \*+$', re.M)
RESULT_LINE = re.compile(r'^(?P<status>ok|changed|fatal|skipping): \[(?P<host>[^\]\s]+)(?: -> [^\]]+)?\](?:: FAILED!)?(?: => )?', re.M)
RECAP_LINE = re.compile(r'^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+'
                        r'failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)', re.M)


# --- seeded data and the ground truth -------------------------------------------------------------------------

def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def fmt(moment):
    return moment.strftime(TIME_FORMAT)


def crafted(number, created, reached, username='ecs-user', client_ip='10.20.30.40'):
    """A raw session (API shape) created at ``created`` that reached ``reached``: instance ID -> connection status."""
    connections = []
    for instance_id, status in reached.items():
        connection = {'InstanceId': instance_id, 'Status': status, 'StartTime': fmt(created + datetime.timedelta(seconds=2))}
        if status not in OPEN_STATUSES:
            connection.update(EndTime=fmt(created + datetime.timedelta(minutes=5)), ClosedReason='ClientClosed')
        connections.append(connection)
    session = {'SessionId': 's-hz-c%05d' % number, 'CreationTime': fmt(created), 'Username': username,
               'PrincipalId': '2%015d' % number, 'IdentityType': 'RAMUser',
               'Connections': {'Connection': connections}, '_targets': list(reached)}
    if client_ip is not None:
        session['ClientIP'] = client_ip
    return session


def seed(endpoint, sessions, region=REGION):
    """Serve ``sessions`` too, and count them in the ground truth."""
    endpoint.add_sessions(region, sessions)
    endpoint.seed_data[region][:0] = sessions


def created_at(raw):
    return datetime.datetime.strptime(raw['CreationTime'], TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)


def connections_to(raw, instance_id):
    return [conn for conn in (raw.get('Connections') or {}).get('Connection') or [] if conn.get('InstanceId') == instance_id]


def sessions_of(endpoint, instance_id, region=REGION):
    """The sessions a region-wide listing gives the instance (a session names its instances in its connections), newest first."""
    found = [raw for raw in endpoint.seed_data.get(region, []) if connections_to(raw, instance_id)]
    found.sort(key=lambda raw: raw['SessionId'])
    found.sort(key=lambda raw: raw['CreationTime'], reverse=True)
    return found


def is_open_on(raw, instance_id):
    return any(conn.get('Status') in OPEN_STATUSES for conn in connections_to(raw, instance_id))


def recent_root_sessions(endpoint, instance_id, days, now):
    bound = now - datetime.timedelta(days=days)
    near = [raw['SessionId'] for raw in sessions_of(endpoint, instance_id)
            if raw.get('Username') == 'root' and abs(created_at(raw) - bound) < datetime.timedelta(hours=1)]
    assert not near, 'root sessions too close to the %d-day bound to tell: %s' % (days, near)
    return [raw for raw in sessions_of(endpoint, instance_id) if raw.get('Username') == 'root' and created_at(raw) > bound]


def outside(endpoint, instance_id, cidrs):
    networks = [ipaddress.ip_network(cidr) for cidr in cidrs]

    def allowed(raw):
        try:
            address = ipaddress.ip_address(raw['ClientIP'])
        except (KeyError, ValueError):
            return False
        return any(address.version == net.version and address in net for net in networks)
    return [raw for raw in sessions_of(endpoint, instance_id) if not allowed(raw)]


def calls_by_instance(endpoint):
    counts = {}
    for request in endpoint.stats()['requests']:
        params = dict(parse_qsl(request['body'], keep_blank_values=True))
        params.update(request['query'])
        counts[params.get('InstanceId')] = counts.get(params.get('InstanceId'), 0) + 1
    return counts


# --- running a playbook and reading its output ---------------------------------------------------------------

class PlaybookRun:
    """What ansible-playbook printed: the per-task results and the PLAY RECAP."""

    def __init__(self, completed):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.output = completed.stdout + completed.stderr

    def recap(self):
        recap = self.stdout[self.stdout.index('PLAY RECAP'):]
        return dict((match['host'], dict((key, int(value)) for key, value in match.groupdict().items() if key != 'host'))
                    for match in RECAP_LINE.finditer(recap))

    def failed_hosts(self):
        return set(host for host, counts in self.recap().items() if counts['failed'])

    def results(self, task):
        """Host -> (status, printed result or None) of the task named ``task``."""
        headers = list(TASK_HEADER.finditer(self.stdout))
        found = {}
        for index, header in enumerate(headers):
            if header['name'] != task:
                continue
            end = headers[index + 1].start() if index + 1 < len(headers) else self.stdout.find('PLAY RECAP', header.end())
            section = self.stdout[header.end():end]
            for match in RESULT_LINE.finditer(section):
                payload = None
                if section[match.end():match.end() + 1] == '{':
                    payload = json.JSONDecoder().raw_decode(section, match.end())[0]
                found[match['host']] = (match['status'], payload)
        return found

    def messages(self, task, status='ok'):
        return dict((host, payload['msg']) for host, (got, payload) in self.results(task).items() if got == status)


def write_inventory(path, hosts):
    """An inventory of local hosts; ``hosts``: name -> instance ID, or None for a host without one."""
    inventory = {'all': {'vars': {'ansible_connection': 'local'},
                         'hosts': dict((name, {'instance_id': instance_id} if instance_id else {}) for name, instance_id in hosts.items())}}
    path.write_text(json.dumps(inventory, indent=2))
    return path


def run_playbook(runner, endpoint, name, inventory, extra_vars=None, cwd=None, extra_args=()):
    command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(inventory), str(EXAMPLES / name),
               '-e', 'demo_endpoint=%s' % endpoint.endpoint, '-e', 'demo_ca_bundle=%s' % endpoint.ca_file, *extra_args]
    if extra_vars:
        command.extend(['-e', json.dumps(extra_vars)])
    env = runner.environment({'ALIBABA_CLOUD_ACCESS_KEY_ID': ACCESS_KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ACCESS_KEY_SECRET,
                              'ANSIBLE_CALLBACK_RESULT_FORMAT': 'json', 'ANSIBLE_LOCALHOST_WARNING': 'false'})
    completed = subprocess.run(command, env=env, cwd=str(cwd or runner.tmp_path), capture_output=True, text=True, timeout=300, check=False)
    run = PlaybookRun(completed)
    assert 'PLAY RECAP' in run.stdout, run.output
    for secret in SECRETS:
        assert secret not in run.output
    return run


# --- the tests -------------------------------------------------------------------------------------------------

def test_gather_once_then_enrich_with_the_shipped_inventory(runner, endpoint_factory):
    endpoint = endpoint_factory({REGION: 150}, tls=True)
    now = utc_now()
    seed(endpoint, [crafted(1, now - datetime.timedelta(minutes=3), {'i-hz002': 'Connected'}, username='root', client_ip='192.0.2.77')])
    hosts = {'web1': 'i-hz001', 'web2': 'i-hz002', 'db1': 'i-hz003'}
    endpoint.reset_stats()
    run = run_playbook(runner, endpoint, 'gather_and_enrich.yml', EXAMPLES / 'inventory.yml')

    assert run.rc == 0, run.output
    assert run.failed_hosts() == set()
    assert endpoint.stats()['calls'] == 2  # 151 sessions, 100 a page: read once for every host
    messages = run.messages('Show the summary of each host')
    assert sorted(messages) == sorted(hosts)
    for host, instance_id in hosts.items():
        found = sessions_of(endpoint, instance_id)
        assert found
        assert messages[host] == '%s: %d sessions, %d open now, %d as root, last at %s by %s from %s' % (
            instance_id, len(found), sum(is_open_on(raw, instance_id) for raw in found),
            sum(raw.get('Username') == 'root' for raw in found), found[0]['CreationTime'], found[0]['Username'], found[0]['ClientIP'])
    assert run.results('Show the summary of each host')['build-box'][0] == 'skipping'
    busy = run.messages('Show the hosts someone is connected to right now')
    assert len(busy) == 1
    expected = [host for host, instance_id in hosts.items() if any(is_open_on(raw, instance_id) for raw in sessions_of(endpoint, instance_id))]
    assert 'web2' in expected and sorted(list(busy.values())[0]) == sorted(expected)


@pytest.mark.parametrize('days', [None, 12])
def test_no_root_sessions_fails_exactly_the_hosts_with_recent_root_sessions(runner, endpoint_factory, days):
    endpoint = endpoint_factory({REGION: 120}, tls=True)
    now = utc_now()
    seed(endpoint, [
        crafted(1, now - datetime.timedelta(hours=1), {'i-hzc01': 'Terminated'}),
        crafted(2, now - datetime.timedelta(days=10), {'i-hzc01': 'Terminated'}, username='root'),
        crafted(3, now - datetime.timedelta(days=20), {'i-hzc01': 'Terminated'}, username='root'),
        crafted(4, now - datetime.timedelta(days=1), {'i-hzc02': 'Disconnected'}, username='root', client_ip='198.51.100.9'),
        crafted(5, now - datetime.timedelta(days=2), {'i-hzc02': 'Terminated'}),
    ])
    hosts = {'app1': 'i-hz001', 'app2': 'i-hzc01', 'app3': 'i-hzc02', 'app4': 'i-hzc04', 'laptop': None}
    inventory = write_inventory(runner.tmp_path / 'inventory.yml', hosts)
    run = run_playbook(runner, endpoint, 'no_root_sessions.yml', inventory, {'compliance_days': days} if days else None)

    window = days or 7
    expected = dict((host, recent_root_sessions(endpoint, instance_id, window, now)) for host, instance_id in hosts.items() if instance_id)
    failing = set(host for host, found in expected.items() if found)
    assert failing == ({'app1', 'app2', 'app3'} if window == 12 else {'app1', 'app3'})
    assert run.failed_hosts() == failing
    assert sorted(run.recap()) == sorted(hosts)
    assert run.rc != 0
    messages = run.messages('Fail the hosts with a root session', status='fatal')
    assert sorted(messages) == sorted(failing)
    for host in failing:
        found = expected[host]
        assert messages[host] == '%d root session(s) on %s in the last %d days, the last at %s from %s: %s' % (
            len(found), hosts[host], window, found[0]['CreationTime'], found[0]['ClientIP'], ', '.join(raw['SessionId'] for raw in found))
    passed = run.messages('Fail the hosts with a root session')
    assert passed == dict((host, 'No root session in the last %d days' % window) for host in expected if host not in failing)
    assert run.results('Fail the hosts with a root session')['laptop'][0] == 'skipping'


def test_reboot_waits_for_open_sessions_and_gives_up_after_the_bound(runner, endpoint_factory):
    endpoint = endpoint_factory({REGION: 60}, tls=True)
    now = utc_now()
    seed(endpoint, [
        crafted(1, now - datetime.timedelta(minutes=5), {'i-hzc11': 'Connected'}, username='root', client_ip='198.51.100.7'),
        # Open on i-hzc11 only: it must not hold back the reboot of i-hzc12.
        crafted(2, now - datetime.timedelta(minutes=9), {'i-hzc11': 'Connecting', 'i-hzc12': 'Disconnected'}),
        crafted(3, now - datetime.timedelta(hours=2), {'i-hzc12': 'Terminated'}),
    ])
    hosts = {'app1': 'i-hz001', 'busy': 'i-hzc11', 'idle': 'i-hzc12', 'fresh': 'i-hzc13', 'laptop': None}
    inventory = write_inventory(runner.tmp_path / 'inventory.yml', hosts)
    endpoint.reset_stats()
    run = run_playbook(runner, endpoint, 'reboot_when_idle.yml', inventory, {'idle_check_retries': 2, 'idle_check_delay': 1})

    open_sessions = dict((host, [raw for raw in sessions_of(endpoint, instance_id) if is_open_on(raw, instance_id)])
                         for host, instance_id in hosts.items() if instance_id)
    busy = set(host for host, found in open_sessions.items() if found)
    assert {'busy'} <= busy and not {'idle', 'fresh'} & busy
    assert run.failed_hosts() == busy
    refused = run.messages('Refuse to reboot while a session is open', status='fatal')
    assert sorted(refused) == sorted(busy)
    for host in busy:
        assert refused[host].startswith('Not rebooting %s: %d session(s) still open on %s after 2 retries 1 s apart: '
                                        % (host, len(open_sessions[host]), hosts[host]))
        assert set(refused[host].rsplit(': ', 1)[1].split(', ')) >= set(raw['SessionId'] for raw in open_sessions[host])
    rebooted = run.messages('Reboot the instance (placeholder)')
    assert rebooted == dict((host, 'Would reboot %s (%s): no session is open' % (host, hosts[host]))
                            for host in open_sessions if host not in busy)
    assert not run.messages('Refuse to reboot when the sessions cannot be checked', status='fatal')
    assert run.results('Wait until no session is open on the instance')['laptop'][0] == 'skipping'
    calls = calls_by_instance(endpoint)
    assert calls == dict((instance_id, 3 if host in busy else 1) for host, instance_id in hosts.items() if instance_id)


def test_allowed_networks_fails_the_hosts_reached_from_elsewhere(runner, endpoint_factory):
    endpoint = endpoint_factory({REGION: 80}, tls=True)
    now = utc_now()
    seed(endpoint, [
        crafted(1, now - datetime.timedelta(minutes=10), {'i-hzc21': 'Terminated'}, client_ip='10.20.30.5'),
        crafted(2, now - datetime.timedelta(minutes=20), {'i-hzc21': 'Terminated'}, client_ip='192.168.4.4'),
        crafted(3, now - datetime.timedelta(minutes=30), {'i-hzc21': 'Terminated'}, client_ip='2001:db8::5'),
        crafted(4, now - datetime.timedelta(minutes=40), {'i-hzc22': 'Terminated'}, client_ip='10.20.30.6'),
        crafted(5, now - datetime.timedelta(minutes=50), {'i-hzc22': 'Connected'}, client_ip='198.51.100.7'),
        crafted(6, now - datetime.timedelta(minutes=60), {'i-hzc23': 'Terminated'}, client_ip=None),
    ])
    cidrs = ['10.20.30.0/24', '192.168.0.0/16', '2001:db8::/32']
    hosts = {'app1': 'i-hz002', 'clean': 'i-hzc21', 'mixed': 'i-hzc22', 'unknown': 'i-hzc23', 'fresh': 'i-hzc24', 'laptop': None}
    inventory = write_inventory(runner.tmp_path / 'inventory.yml', hosts)
    run = run_playbook(runner, endpoint, 'allowed_networks.yml', inventory, {'allowed_cidrs': cidrs})

    expected = dict((host, outside(endpoint, instance_id, cidrs)) for host, instance_id in hosts.items() if instance_id)
    failing = set(host for host, found in expected.items() if found)
    assert {'app1', 'mixed', 'unknown'} <= failing and not {'clean', 'fresh'} & failing
    assert run.failed_hosts() == failing
    messages = run.messages('Fail the hosts reached from outside the allowed networks', status='fatal')
    assert sorted(messages) == sorted(failing)
    for host in failing:
        head, addresses = messages[host].rsplit(': ', 1)
        assert head == '%d session(s) on %s from outside %s' % (len(expected[host]), hosts[host], ', '.join(cidrs))
        assert sorted(addresses.split(', ')) == sorted(set(raw.get('ClientIP', 'no address') for raw in expected[host]))
    assert messages['mixed'].endswith(': 198.51.100.7') and messages['unknown'].endswith(': no address')
    assert sorted(run.messages('Fail the hosts reached from outside the allowed networks')) == ['clean', 'fresh']


def test_audit_report_writes_one_row_per_host(runner, endpoint_factory):
    endpoint = endpoint_factory({REGION: 120, 'cn-shanghai': 40}, tls=True)
    now = utc_now()
    seed(endpoint, [
        crafted(1, now - datetime.timedelta(minutes=4), {'i-hzc31': 'Connected'}, username='root', client_ip='203.0.113.9'),
        crafted(2, now - datetime.timedelta(hours=3), {'i-hzc31': 'Terminated'}, username='deploy', client_ip='10.20.30.9'),
    ])
    hosts = {'web1': ('i-hz001', REGION), 'web2': ('i-hz004', REGION), 'cache1': ('i-sh002', 'cn-shanghai'),
             'new1': ('i-hzc31', REGION), 'empty1': ('i-hzc32', REGION), 'laptop': (None, None)}
    inventory = write_inventory(runner.tmp_path / 'inventory.yml', dict((host, value[0]) for host, value in hosts.items()))
    workdir = runner.tmp_path / 'work'
    workdir.mkdir()
    run = run_playbook(runner, endpoint, 'audit_report.yml', inventory, {'alicloud_region_id': [REGION, 'cn-shanghai']}, cwd=workdir)

    assert run.rc == 0, run.output
    expected = {}
    for host, (instance_id, region) in hosts.items():
        found = sessions_of(endpoint, instance_id, region) if instance_id else []
        newest = found[0] if found else {}
        counts = (len(found), sum(is_open_on(raw, instance_id) for raw in found), sum(raw.get('Username') == 'root' for raw in found))
        expected[host] = {'host': host, 'instance_id': instance_id or '',
                          'session_count': str(counts[0]) if instance_id else '',
                          'active_session_count': str(counts[1]) if instance_id else '',
                          'root_session_count': str(counts[2]) if instance_id else '',
                          'last_session_time': newest.get('CreationTime', ''), 'last_session_user': newest.get('Username', ''),
                          'last_client_ip': newest.get('ClientIP', '')}
    assert expected['new1']['session_count'] == '2' and expected['new1']['active_session_count'] == '1'
    assert expected['empty1']['session_count'] == '0' and expected['cache1']['session_count'] != '0'

    lines = (workdir / 'reports' / 'terminal_sessions.csv').read_text().splitlines()
    assert lines[0] == 'host,instance_id,session_count,active_session_count,root_session_count,last_session_time,last_session_user,last_client_ip'
    assert len(lines) == 1 + len(hosts)
    rows = list(csv.DictReader(lines))
    assert dict((row['host'], row) for row in rows) == expected

    table = (workdir / 'reports' / 'terminal_sessions.md').read_text().splitlines()
    body = [line for line in table if line.startswith('| ') and not line.startswith(('| host ', '| ---'))]
    assert len(body) == len(hosts)
    columns = ('host', 'instance_id', 'session_count', 'active_session_count', 'root_session_count',
               'last_session_time', 'last_session_user', 'last_client_ip')
    for line in body:
        cells = [cell.strip() for cell in line.strip('|').split('|')]
        assert cells == [expected[cells[0]][key] or '-' for key in columns]


def test_the_guide_embeds_every_example_verbatim():
    guide = GUIDE.read_text()
    files = sorted(path for path in EXAMPLES.rglob('*') if path.is_file())
    assert sorted(path.name for path in files if path.parent == EXAMPLES) == sorted(PLAYBOOKS + ('inventory.yml',))
    for path in files:
        fence = '```yaml\n' if path.suffix == '.yml' else '```jinja\n'
        assert fence + path.read_text() + '```\n' in guide, '%s is not in docs/compliance.md verbatim' % path.relative_to(ROOT)
    for name in PLAYBOOKS:
        assert 'ansible-playbook -i docs/examples/compliance/inventory.yml docs/examples/compliance/%s' % name in guide
    assert 'ecs:DescribeTerminalSessions' in guide


def remediation_session(session_id, instance_id, username, hours_ago, status='Connected'):
    created = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours_ago)).strftime(TIME_FORMAT)
    return {'SessionId': session_id, 'CreationTime': created, 'Username': username, 'ClientIP': '10.0.0.7',
            'PrincipalId': '30001', 'IdentityType': 'RAMUser', '_targets': [instance_id],
            'Connections': {'Connection': [{'InstanceId': instance_id, 'Status': status, 'StartTime': created}]}}


def remediation_endpoint(endpoint_factory):
    endpoint = endpoint_factory({REGION: 0}, tls=True)
    endpoint.add_sessions(REGION, [
        remediation_session('s-new-root', 'i-web1', 'root', 1),
        remediation_session('s-old-user', 'i-web1', 'ecs-user', 20),
        remediation_session('s-old-root', 'i-web1', 'root', 20),
        remediation_session('s-old-root-db', 'i-db1', 'root', 30),
        remediation_session('s-old-root-closed', 'i-db1', 'root', 40, status='Terminated'),
    ])
    return endpoint


def test_end_old_root_sessions_ends_exactly_those(runner, endpoint_factory):
    endpoint = remediation_endpoint(endpoint_factory)
    inventory = write_inventory(runner.tmp_path / 'inventory.json', {'web1': 'i-web1', 'db1': 'i-db1', 'laptop': None})
    run = run_playbook(runner, endpoint, 'end_old_root_sessions.yml', inventory)
    assert run.rc == 0, run.output
    assert sorted(endpoint.stats()['ended']) == ['s-old-root', 's-old-root-db']
    again = run_playbook(runner, endpoint, 'end_old_root_sessions.yml', inventory)
    assert again.rc == 0 and sorted(endpoint.stats()['ended']) == ['s-old-root', 's-old-root-db']
    assert 'changed=0' in again.stdout.split('PLAY RECAP')[1]


def test_end_sessions_before_reboot_closes_everything_then_confirms(runner, endpoint_factory):
    endpoint = remediation_endpoint(endpoint_factory)
    inventory = write_inventory(runner.tmp_path / 'inventory.json', {'web1': 'i-web1', 'db1': 'i-db1'})
    run = run_playbook(runner, endpoint, 'end_sessions_before_reboot.yml', inventory)
    assert run.rc == 0, run.output
    assert sorted(endpoint.stats()['ended']) == ['s-new-root', 's-old-root', 's-old-root-db', 's-old-user']
    assert run.stdout.count('Would reboot') == 2


# --- session activity is recorded (Session Manager posture) ----------------------------------------------------

ITEM_LINE = re.compile(r'^(?P<status>ok|failed|changed): \[localhost\](?: =>)? \(item=(?P<item>[^)]+)\) => ', re.M)
POSTURE_REGIONS = ['cn-hangzhou', 'cn-shanghai', 'cn-beijing', 'ap-southeast-1']
KMS_DELIVERY = {'Enabled': True, 'BucketName': 'audit-session-logs', 'Prefix': 'sessions/', 'EncryptionType': 'KMS',
                'EncryptionKeyId': 'key-hzz6a4d2b0fa7b2x0k8ze'}


def item_messages(stdout):
    """Item (region) -> (status, message with white space collapsed) of every loop item printed."""
    found = {}
    for match in ITEM_LINE.finditer(stdout):
        payload = json.JSONDecoder().raw_decode(stdout, match.end())[0]
        found[match['item']] = (match['status'], ' '.join(payload['msg'].split()))
    return found


def test_session_recording_reports_each_region_and_the_remediation_fixes_them(runner, endpoint_factory):
    endpoint = endpoint_factory({region: 0 for region in POSTURE_REGIONS}, tls=True)
    assistant = endpoint.assistant
    assistant.session_manager_enabled = True
    assistant.set_delivery('cn-hangzhou', oss=KMS_DELIVERY)
    assistant.set_delivery('cn-shanghai', oss={'Enabled': True, 'BucketName': 'plain-logs', 'EncryptionType': 'OssManaged'})
    assistant.unsupported_regions = {'ap-southeast-1'}
    inventory = EXAMPLES / 'inventory.yml'
    check = run_playbook(runner, endpoint, 'session_recording.yml', inventory, {'alicloud_region_id': POSTURE_REGIONS})

    assert check.rc != 0 and check.failed_hosts() == {'localhost'}
    reported = item_messages(check.stdout)
    assert reported.pop('ap-southeast-1')[1].startswith('ap-southeast-1: the posture could not be read: ')
    assert reported == {
        'cn-hangzhou': ('ok', 'cn-hangzhou: session activity is recorded'),
        'cn-shanghai': ('failed', 'cn-shanghai: OSS delivery to plain-logs is not encrypted with KMS (OssManaged);'),
        'cn-beijing': ('failed', 'cn-beijing: session records are delivered neither to OSS nor to Simple Log Service;'),
    }
    unwanted = run_playbook(runner, endpoint, 'session_recording.yml', inventory,
                            {'alicloud_region_id': ['cn-hangzhou'], 'session_manager_wanted': False})
    assert item_messages(unwanted.stdout) == {'cn-hangzhou': (
        'failed', 'cn-hangzhou: Session Manager is enabled for the account, wanted disabled;')}

    readable = {'alicloud_region_id': POSTURE_REGIONS[:3]}
    dry = run_playbook(runner, endpoint, 'session_recording_remediate.yml', inventory, readable, extra_args=['--check', '--diff'])
    assert dry.rc == 0, dry.output
    assert assistant.modify_calls() == []  # check mode: nothing written
    assert re.search(r'^\+\s+"bucket_name": "audit-session-logs"', dry.stdout, re.M), dry.stdout  # the diff
    assert '2 change(s): SessionManagerDelivery in cn-shanghai, SessionManagerDelivery in cn-beijing' in dry.stdout

    fixed = run_playbook(runner, endpoint, 'session_recording_remediate.yml', inventory, readable)
    assert fixed.rc == 0, fixed.output
    assert [call['RegionId'] for call in assistant.modify_calls()] == ['cn-shanghai', 'cn-beijing']
    assert all(assistant.snapshot()['oss'][region] == KMS_DELIVERY for region in POSTURE_REGIONS[:3])
    passed = run_playbook(runner, endpoint, 'session_recording.yml', inventory, readable)
    assert passed.rc == 0, passed.output
    assert {region: status for region, (status, _msg) in item_messages(passed.stdout).items()} == dict.fromkeys(
        POSTURE_REGIONS[:3], 'ok')
