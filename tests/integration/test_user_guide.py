"""The user guide (docs/user-guide.md): every shipped playbook passes a syntax check, the guide's examples run against
the local ECS endpoint, and what the guide states (environment variables, action group, policies, links) matches the
code and the repository."""

from __future__ import annotations

import datetime
import json
import re
import selectors
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from ansible_collections.alicloud.ecs.plugins.module_utils import credentials
from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECRETS

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / 'docs' / 'user-guide.md'
EXAMPLES = ROOT / 'docs' / 'examples'
GUIDE_EXAMPLES = ('user_guide/module_defaults.yml', 'user_guide/vpc_proxy.yml', 'user_guide/assume_role.yml',
                  'execution-environment/execution-environment.yml')
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
PLAY_KEYS = ('hosts', 'import_playbook', 'ansible.builtin.import_playbook')


class Loader(yaml.SafeLoader):
    """Reads Ansible's own tags (!vault, !unsafe) as plain values."""


Loader.add_multi_constructor('!', lambda loader, suffix, node: None)


def shipped_playbooks():
    """Every playbook under docs/examples: a YAML file holding a list of plays."""
    found = []
    for path in sorted(EXAMPLES.rglob('*')):
        if path.suffix in ('.yml', '.yaml') and path.is_file():
            data = yaml.load(path.read_text(), Loader=Loader)
            if isinstance(data, list) and data and all(isinstance(play, dict) and any(key in play for key in PLAY_KEYS)
                                                       for play in data):
                found.append(path)
    return found


def session(session_id, instance_id, username, hours_ago, status):
    created = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours_ago)).strftime(TIME_FORMAT)
    return {'SessionId': session_id, 'CreationTime': created, 'Username': username, 'ClientIP': '10.0.0.7',
            'PrincipalId': '30001', 'IdentityType': 'RAMUser', '_targets': [instance_id],
            'Connections': {'Connection': [{'InstanceId': instance_id, 'Status': status, 'StartTime': created}]}}


def run_example(runner, endpoint, name, extra_vars=None, env=None):
    command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', str(EXAMPLES / name),
               '-e', 'demo_endpoint=%s' % endpoint.endpoint, '-e', 'demo_ca_bundle=%s' % endpoint.ca_file]
    if extra_vars:
        command.extend(['-e', json.dumps(extra_vars)])
    completed = subprocess.run(command, env=runner.environment(dict({'ANSIBLE_LOCALHOST_WARNING': 'false'}, **(env or {}))),
                               cwd=str(runner.tmp_path), capture_output=True, text=True, timeout=300, check=False)
    output = completed.stdout + completed.stderr
    for secret in SECRETS:
        assert secret not in output
    return completed.returncode, output


class ConnectProxy(socketserver.ThreadingTCPServer):
    """A loopback HTTP proxy that only tunnels (CONNECT), and records each target it was asked for."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.targets = []
        super().__init__(('127.0.0.1', 0), TunnelHandler)
        self.url = 'http://127.0.0.1:%d' % self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        self.thread.join(10)


class TunnelHandler(socketserver.BaseRequestHandler):
    def handle(self):
        client = self.request
        client.settimeout(30)
        head = b''
        while b'\r\n\r\n' not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target = head.split(b'\r\n', 1)[0].decode('ascii').split(' ')[:2]
        self.server.targets.append((method, target))
        host, port = target.rsplit(':', 1)
        if method != 'CONNECT' or host not in ('127.0.0.1', 'localhost'):
            client.sendall(b'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n')
            return
        with socket.create_connection((host, int(port)), timeout=30) as upstream:
            client.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
            upstream.sendall(head.split(b'\r\n\r\n', 1)[1])
            selector = selectors.DefaultSelector()
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            while True:
                events = selector.select(timeout=30)
                if not events:
                    return
                for key, _mask in events:
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)


# --- the playbooks run ---------------------------------------------------------------------------------------

def test_every_shipped_playbook_passes_a_syntax_check(runner):
    playbooks = shipped_playbooks()
    names = set(str(path.relative_to(EXAMPLES)) for path in playbooks)
    assert {'session_facts.yml', 'compliance/no_root_sessions.yml'} | set(GUIDE_EXAMPLES[:3]) <= names
    completed = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '--syntax-check', '-i', 'localhost,']
                               + [str(path) for path in playbooks],
                               env=runner.environment(), capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for path in playbooks:
        assert 'playbook: %s\n' % path in completed.stdout, path


def test_module_defaults_example_gives_all_three_modules_the_credentials(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 0, 'cn-shanghai': 0}, tls=True)
    endpoint.add_sessions('cn-hangzhou', [
        session('s-hz-open-root', 'i-hzg01', 'root', 1, 'Connected'),
        session('s-hz-user', 'i-hzg01', 'ecs-user', 2, 'Connected'),
        session('s-hz-old-root', 'i-hzg01', 'root', 240, 'Terminated'),
    ])
    endpoint.add_sessions('cn-shanghai', [session('s-sh-root', 'i-shg01', 'root', 48, 'Terminated')])
    archive = runner.tmp_path / 'archive.sqlite'
    rc, output = run_example(runner, endpoint, 'user_guide/module_defaults.yml', {
        'alicloud_access_key_id': ACCESS_KEY_ID, 'alicloud_access_key_secret': ACCESS_KEY_SECRET,
        'session_archive_path': str(archive), 'watched_instance_ids': ['i-hzg01']})

    assert rc == 0, output
    assert ('2 root session(s) in the last 7 days; the archive %s holds 4 session(s); '
            '1 open root session(s) would be ended on i-hzg01' % archive) in output
    stored = sqlite3.connect('file:%s?mode=ro' % archive, uri=True)  # the archive is a SQLite database
    try:
        assert stored.execute('SELECT COUNT(*) FROM terminal_sessions').fetchone() == (4,)
    finally:
        stored.close()
    assert endpoint.stats()['ended'] == []  # check mode
    assert endpoint.stats()['auth_failures'] == 0


def test_vpc_proxy_example_goes_through_the_proxy(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 0}, tls=True)
    endpoint.add_sessions('cn-hangzhou', [session('s-hz-open', 'i-hzp01', 'deploy', 1, 'Connected'),
                                          session('s-hz-closed', 'i-hzp02', 'root', 3, 'Terminated')])
    proxy = ConnectProxy()
    try:
        keys = {'ALIBABA_CLOUD_ACCESS_KEY_ID': ACCESS_KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ACCESS_KEY_SECRET}
        rc, output = run_example(runner, endpoint, 'user_guide/vpc_proxy.yml', {'alicloud_https_proxy': proxy.url}, env=keys)
        assert rc == 0, output
        assert 'i-hzp01: 1 open, last by deploy' in output and 'i-hzp02' not in output
        assert proxy.targets and set(proxy.targets) == {('CONNECT', endpoint.endpoint)}
        calls = endpoint.stats()['calls']

        tunnelled = len(proxy.targets)
        rc, output = run_example(runner, endpoint, 'user_guide/vpc_proxy.yml', env=keys)
        assert rc == 0, output
        assert len(proxy.targets) == tunnelled  # without alicloud_https_proxy, straight to the endpoint
        assert endpoint.stats()['calls'] > calls
    finally:
        proxy.stop()


# --- what the guide says -------------------------------------------------------------------------------------

def test_the_guide_embeds_its_examples_verbatim():
    guide = GUIDE.read_text()
    for name in GUIDE_EXAMPLES:
        text = (EXAMPLES / name).read_text()
        assert '```yaml\n' + text + '```\n' in guide, 'docs/examples/%s is not in docs/user-guide.md verbatim' % name
        assert '(examples/%s)' % name in guide, 'docs/user-guide.md does not link docs/examples/%s' % name


def test_the_guide_lists_the_environment_variables_of_the_code_in_its_order():
    rows = {}
    for line in GUIDE.read_text().splitlines():
        match = re.match(r'^\s*\| `(\w+)` \| (`[A-Z_]+`(?:, `[A-Z_]+`)*) \|$', line)
        if match:
            rows[match.group(1)] = tuple(re.findall(r'`([A-Z_]+)`', match.group(2)))
    assert rows == credentials.ENV_BY_OPTION


def test_the_guide_names_every_module_of_the_action_group():
    guide = GUIDE.read_text()
    runtime = yaml.safe_load((ROOT / 'meta' / 'runtime.yml').read_text())
    assert 'group/alicloud.ecs.alicloud' in guide and 'action group `alicloud`' in ' '.join(guide.split())
    modules = runtime['action_groups']['alicloud']
    assert len(modules) == 5
    for module in modules:
        assert '`alicloud.ecs.%s`' % module in guide, module


def test_the_guides_ram_policies_are_valid_and_grant_exactly_the_documented_actions():
    blocks = re.findall(r'```json\n(.*?)```\n', GUIDE.read_text(), re.S)
    assert len(blocks) == 3
    grants = []
    for block in blocks:
        policy = json.loads(block)
        assert policy['Version'] == '1'
        for statement in policy['Statement']:
            assert statement['Effect'] == 'Allow'
            grants.append((statement['Action'], statement['Resource']))
    assert sorted(set(grants)) == [
        ('ecs:DescribeTerminalSessions', 'acs:ecs:*:*:instance/*'),
        ('ecs:EndTerminalSession', '*'),
        ('sts:AssumeRole', 'acs:ram::123456789012:role/session-auditor'),
    ]
    # The role the policy lets an identity assume is the one the example assumes.
    assert "acs:ram::123456789012:role/session-auditor" in (EXAMPLES / 'user_guide' / 'assume_role.yml').read_text()


def test_the_relative_links_of_the_guide_and_the_readme_lead_to_files():
    for document in (GUIDE, ROOT / 'README.md'):
        links = re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', document.read_text())
        relative = [link for link in links if not re.match(r'^[a-z]+:', link)]
        assert relative, document
        for link in relative:
            assert (document.parent / link).exists(), '%s links to %s, which does not exist' % (document.name, link)
    assert '(docs/user-guide.md)' in (ROOT / 'README.md').read_text()
    assert '(inventory.md)' in GUIDE.read_text()
