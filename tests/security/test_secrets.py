"""Secrets in every encoding (issue 13, items 2 and 5): an STS token, a key secret and a proxy password never appear
in any output, raw, %-encoded, repr-escaped or JSON-escaped, on the paths where they did.

Every run is at -vvvv (-vvv for the proxy's ``invocation``) with the SDK's ``DEBUG=sdk`` request log on, and scans
stdout, stderr, the registered results and the files the run wrote.
"""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, DEBUG_ENV, STS_KEY_ID, STS_SECRET, secret_hits
from support.multi_task import run_tasks
from support.playbooks import connection

# An STS token as a file gives it (a carriage return at the end), and one with the characters %-encoding changes.
CR_TOKEN = 'CAISsecretTOKENvalue42\r'
ROLE_TOKEN = 'CAIS+sts/Token=secret42=='
ROLE_ARN = 'acs:ram::1234567890123456:role/auditor'
# A proxy password with every character that splits a URL where it should not.
PROXY_USER = 'auditor'
PROXY_PASSWORD = 'p#ss?w@rd/x:y'
MODULE = 'alicloud.ecs.ecs_terminal_session_info'


# The files a test writes with the secrets in them (the user's own playbook or inventory source): not scanned.
INPUT_FILES = ('cases.yml', '20-terminal_sessions.yml')


def files_under(path):
    """The text of every file under ``path`` that the run wrote (results, temporary and cache files)."""
    texts = []
    for item in Path(path).rglob('*'):
        if item.is_file() and item.name not in INPUT_FILES:
            texts.append(item.read_text(encoding='utf-8', errors='replace'))
    return '\n'.join(texts)


def hits_in(run, secrets, tmp_path):
    return secret_hits(run.output, secrets) + secret_hits(files_under(tmp_path), secrets)


def test_sts_tokens_are_refused_or_masked_on_the_module_path(runner, endpoint_factory, security_record, tmp_path):
    """A token with a carriage return (requests quoted it in ``exception``); an assumed role whose STS endpoint is
    unreachable (the failed STS call's URL, token %-encoded, was in ``exception``)."""
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    sts = dict(access_key_id=STS_KEY_ID, access_key_secret=STS_SECRET, retries=0)
    cases = {
        'token with a carriage return': {MODULE: connection(endpoint, security_token=CR_TOKEN, **sts)},
        'assumed role, STS refused': {MODULE: connection(endpoint, security_token=ROLE_TOKEN, ram_role_arn=ROLE_ARN, **sts)},
        'assumed role from the plain key, STS refused': {MODULE: connection(endpoint, ram_role_arn=ROLE_ARN, retries=0)},
    }
    run = run_tasks(runner, cases, verbosity=4, env=DEBUG_ENV)
    checked = 'stdout, stderr, registered results and files at -vvvv with DEBUG=sdk'
    cr_hits = hits_in(run, [CR_TOKEN, CR_TOKEN.strip(), STS_SECRET], tmp_path)
    role_hits = hits_in(run, [ROLE_TOKEN, STS_SECRET, ACCESS_KEY_SECRET], tmp_path)
    security_record('secrets', 'security_token with a carriage return: module result and output', checked, cr_hits)
    security_record('secrets', 'security_token and access_key_secret, ram_role_arn with STS unreachable: module', checked,
                    role_hits)
    assert cr_hits == 0 and role_hits == 0
    refused = run.results['token with a carriage return']
    assert refused['failed'] and refused['msg'].startswith('security_token: character 23 of 23 is a control character')
    for label in ('assumed role, STS refused', 'assumed role from the plain key, STS refused'):
        assert run.results[label]['failed'] and 'sts.aliyuncs.com' in run.results[label]['msg'], run.results[label]
    # The token never reached the endpoint: the bad one was refused, the role's was for STS only.
    assert endpoint.stats()['calls'] == 0


class ProxyRecorder:
    """A loopback forwarding HTTP proxy that records each request's head: what a real proxy would receive.

    Plain http only (the endpoint is http): it reads one request, sends it to its target with ``Connection: close``
    and relays the answer.
    """

    def __init__(self):
        self.heads = []
        self._server = socket.socket()
        self._server.bind(('127.0.0.1', 0))
        self._server.listen(8)
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                client, _address = self._server.accept()
            except socket.timeout:
                continue
            with client:
                client.settimeout(10)
                self._forward(client)

    @staticmethod
    def _read_message(sock):
        """(head, body) of one HTTP message with a Content-Length body, or of one that ends when the peer closes."""
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data, b''
            data += chunk
        head, _sep, body = data.partition(b'\r\n\r\n')
        length = None
        for line in head.split(b'\r\n')[1:]:
            name, _sep, value = line.partition(b':')
            if name.strip().lower() == b'content-length':
                length = int(value.strip())
        while length is None or len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return head, body

    def _forward(self, client):
        head, body = self._read_message(client)
        if not head:
            return
        self.heads.append(head.decode('latin-1'))
        request_line, *lines = head.decode('latin-1').split('\r\n')
        method, target, version = request_line.split(' ')
        url = urlsplit(target)
        kept = [line for line in lines if line.split(':', 1)[0].strip().lower() not in (
            'proxy-authorization', 'proxy-connection', 'connection')]
        path = url.path + ('?' + url.query if url.query else '')
        upstream_head = '\r\n'.join(['%s %s %s' % (method, path or '/', version)] + kept + ['Connection: close'])
        with socket.create_connection((url.hostname, url.port), timeout=10) as upstream:
            upstream.sendall(upstream_head.encode('latin-1') + b'\r\n\r\n' + body)
            answer_head, answer_body = self._read_message(upstream)
        status, *answer_lines = answer_head.decode('latin-1').split('\r\n')
        answer_lines = [line for line in answer_lines if line.split(':', 1)[0].strip().lower() != 'connection']
        client.sendall('\r\n'.join([status] + answer_lines + ['Connection: close']).encode('latin-1')
                       + b'\r\n\r\n' + answer_body)

    def credentials(self):
        """The user:password of each request's Proxy-Authorization header."""
        found = []
        for head in self.heads:
            for line in head.split('\r\n'):
                name, _sep, value = line.partition(':')
                if name.lower() == 'proxy-authorization' and value.strip().startswith('Basic '):
                    found.append(base64.b64decode(value.strip()[6:]).decode('utf-8'))
        return found

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._server.close()


@pytest.mark.every_core
def test_the_proxy_password_is_hidden_from_invocation_and_errors(runner, endpoint_factory, security_record, tmp_path):
    """The password, raw or %-encoded, with # ? @ / : in it: masked in invocation.module_args at -vvv (a failed
    argument check too), never echoed in errors, and sent to the proxy as it is."""
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    proxy = ProxyRecorder()
    encoded = ''.join('%%%02X' % ord(char) if not char.isalnum() else char for char in PROXY_PASSWORD)
    through = 'http://%s:%%s@127.0.0.1:%d' % (PROXY_USER, proxy.port)
    try:
        cases = {
            'raw password': {MODULE: connection(endpoint, retries=0, http_proxy=through % PROXY_PASSWORD)},
            '%-encoded password': {MODULE: connection(endpoint, retries=0, http_proxy=through % encoded)},
            'unusable proxy host': {MODULE: connection(endpoint, http_proxy='http://%s:%s@bad host:3128' % (
                PROXY_USER, PROXY_PASSWORD))},
            'argument check failed': {MODULE: connection(endpoint, retries='many', http_proxy=through % PROXY_PASSWORD)},
        }
        # ansible-core 2.21 adds ``invocation`` only when asked (INJECT_INVOCATION); older cores always do.
        run = run_tasks(runner, cases, verbosity=3, env=dict(DEBUG_ENV, ANSIBLE_INJECT_INVOCATION='true'))
    finally:
        proxy.stop()
    hits = hits_in(run, [PROXY_PASSWORD], tmp_path)
    security_record('secrets', 'proxy password with # ? @ / : (raw and %-encoded): invocation.module_args at -vvv, errors',
                    'stdout, stderr, registered results and files at -vvv with DEBUG=sdk', hits)
    assert hits == 0
    # Listed through the proxy, which received the same user and password from both spellings.
    for label in ('raw password', '%-encoded password'):
        assert not run.results[label].get('failed') and len(run.results[label]['sessions']) == 5, run.results[label]
    assert proxy.credentials() == ['%s:%s' % (PROXY_USER, PROXY_PASSWORD)] * 2
    assert endpoint.stats()['calls'] == 2
    # The proxy option stays visible, its host and user included; only the password is masked.
    assert stdout_count(run.stdout, '"http_proxy": "http://%s:********@127.0.0.1:%d"' % (PROXY_USER, proxy.port)) >= 2
    assert run.results['unusable proxy host']['msg'] == (
        'http_proxy: the proxy host: expected host[:port], for example ecs.cn-hangzhou.aliyuncs.com')
    assert "argument 'retries'" in run.results['argument check failed']['msg']


def stdout_count(stdout, text):
    return stdout.count(text)


ENRICH = "{{ hostvars | alicloud.ecs.enrich_hosts(%s) | to_json }}"


def test_filter_errors_show_no_secret(runner, endpoint_factory, security_record, tmp_path):
    """enrich_hosts listing itself: a token with a carriage return, an assumed role with STS unreachable, a proxy
    password in an unusable proxy URL; the filter's error names the cause and shows none of them."""
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    base = "region_id='cn-hangzhou', endpoint='%s', protocol='http', retries=0" % endpoint.endpoint
    cases = {
        'token with a carriage return': {'ansible.builtin.debug': {'msg': ENRICH % (
            base + ', access_key_id=sts_id, access_key_secret=sts_secret, security_token=cr_token')}},
        'assumed role, STS refused': {'ansible.builtin.debug': {'msg': ENRICH % (
            base + ', access_key_id=sts_id, access_key_secret=sts_secret, security_token=role_token, ram_role_arn=arn')}},
        'proxy password, unusable proxy': {'ansible.builtin.debug': {'msg': ENRICH % (
            base + ', access_key_id=key_id, access_key_secret=key_secret, http_proxy=proxy')}},
    }
    play_vars = {'sts_id': STS_KEY_ID, 'sts_secret': STS_SECRET, 'cr_token': CR_TOKEN, 'role_token': ROLE_TOKEN,
                 'arn': ROLE_ARN, 'key_id': ACCESS_KEY_ID, 'key_secret': ACCESS_KEY_SECRET,
                 'proxy': 'http://%s:%s@bad host:3128' % (PROXY_USER, PROXY_PASSWORD)}
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {'instance_id': 'i-test0001'}}}}))
    run = run_tasks(runner, cases, verbosity=4, env=DEBUG_ENV, play_vars=play_vars, inventory=str(inventory))
    # Play vars are in the playbook itself (the user's own file): scan the output and the results, not the playbook.
    secrets = [CR_TOKEN, CR_TOKEN.strip(), ROLE_TOKEN, STS_SECRET, ACCESS_KEY_SECRET, PROXY_PASSWORD]
    hits = secret_hits(run.output, secrets)
    security_record('secrets', 'token, key secrets, proxy password: enrich_hosts filter errors (controller)',
                    'stdout, stderr and registered results at -vvvv with DEBUG=sdk', hits)
    assert hits == 0
    messages = dict((label, result['msg']) for label, result in run.results.items())
    assert all(run.results[label]['failed'] for label in cases), messages
    assert 'security_token: character 23 of 23 is a control character' in messages['token with a carriage return']
    assert 'sts.aliyuncs.com' in messages['assumed role, STS refused']
    assert 'http_proxy: the proxy host' in messages['proxy password, unusable proxy']
    assert endpoint.stats()['calls'] == 0


def test_the_inventory_plugin_prints_no_sdk_log_line(runner, endpoint_factory, security_record, tmp_path):
    """An assumed role with STS unreachable: the SDK's credential-refresh log lines (the token %-encoded in the
    failed STS URL) went to stderr at default verbosity."""
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    static = tmp_path / '10-hosts.yml'
    static.write_text(yaml.safe_dump({'all': {'hosts': {'web1': {'instance_id': 'i-test0001'}}}}))
    source = tmp_path / '20-terminal_sessions.yml'
    source.write_text(yaml.safe_dump({
        'plugin': 'alicloud.ecs.terminal_sessions', 'region_id': ['cn-hangzhou'], 'endpoint': endpoint.endpoint,
        'protocol': 'http', 'retries': 0, 'access_key_id': STS_KEY_ID, 'access_key_secret': STS_SECRET,
        'security_token': ROLE_TOKEN, 'ram_role_arn': ROLE_ARN, 'cache': True, 'cache_plugin': 'ansible.builtin.jsonfile',
        'cache_connection': str(tmp_path / 'cache')}))
    outputs = []
    for verbosity in ([], ['-vvvv']):
        completed = subprocess.run(
            [str(Path(sys.executable).parent / 'ansible-inventory'), '-i', str(static), '-i', str(source), '--list']
            + verbosity, env=runner.environment(DEBUG_ENV), capture_output=True, text=True, timeout=300, check=False,
            cwd=str(tmp_path))
        outputs.append(completed)
    default, verbose = outputs
    # The configuration file holds the secrets (the user's own file): scan the output and the cache, not the source.
    secrets = [ROLE_TOKEN, STS_SECRET]
    hits = secret_hits(default.stderr + default.stdout, secrets)
    verbose_hits = secret_hits(verbose.stderr + verbose.stdout + files_under(tmp_path / 'cache')
                               if (tmp_path / 'cache').exists() else verbose.stderr + verbose.stdout, secrets)
    security_record('secrets', 'security_token and access_key_secret, ram_role_arn with STS unreachable: inventory plugin',
                    'ansible-inventory stdout and stderr at default verbosity', hits)
    security_record('secrets', 'security_token and access_key_secret, ram_role_arn with STS unreachable: inventory at -vvvv',
                    'ansible-inventory stdout, stderr and cache directory at -vvvv with DEBUG=sdk', verbose_hits)
    assert hits == 0 and verbose_hits == 0
    # The failure is still reported (naming the STS endpoint), but no SDK log line reaches stderr.
    assert 'sts.aliyuncs.com' in default.stdout + default.stderr
    assert 'Refresh credentials failed' not in default.stderr
    assert endpoint.stats()['calls'] == 0
