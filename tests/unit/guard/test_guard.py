# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of tests/guard/sitecustomize.py through the real start-up path.

Every check runs in a fresh ``python -c`` with ``PYTHONPATH=tests/guard``, so the
guard is loaded the way the test runs load it. Each child first verifies that the
guard is active and exits with status 97 otherwise, before it touches the network:
no check can send a packet off this machine, even when the guard is broken.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap

import pytest

GUARD_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'guard')
MESSAGE = 'alicloud.ecs test guard: refusing connection to %s (only loopback is allowed)'
METADATA_MESSAGE = ('alicloud.ecs test guard: refusing connection to %s (the instance-metadata address is allowed only '
                    'inside a network namespace the test created: ALICLOUD_ECS_TEST_SANDBOX=netns)')
GUARD_MISSING = 97

PRELUDE = '''
import json
import socket
import sys
import time

if not getattr(socket, '_alicloud_ecs_guard', False):
    sys.exit(%d)


def refused(func, *args, **kwargs):
    """Call func; return (error type, message, seconds) of the error it raises."""
    start = time.monotonic()
    try:
        func(*args, **kwargs)
    except Exception as ex:  # pylint: disable=broad-except
        return [type(ex).__name__, str(ex), time.monotonic() - start]
    return ['no error', '', time.monotonic() - start]

''' % GUARD_MISSING


def child_env(extra=None):
    """Return the environment of a guarded child process."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([GUARD_DIR] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env.update(extra or {})
    return env


def run_child(code, extra_env=None, args=()):
    """Run code after PRELUDE in a guarded python and return the JSON it prints last."""
    proc = subprocess.run(
        [sys.executable, '-c', PRELUDE + textwrap.dedent(code)] + [str(arg) for arg in args],
        env=child_env(extra_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120, check=False,
    )
    assert proc.returncode != GUARD_MISSING, 'the guard is not active in the child process:\n%s' % proc.stderr
    assert proc.returncode == 0, 'child failed (%d):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def listener():
    """A listening TCP socket on 127.0.0.1; yields its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def test_marker_and_environment():
    env = {
        'ALIBABA_CLOUD_ECS_METADATA_DISABLED': 'false',
        'ALIBABA_CLOUD_CREDENTIALS_URI': 'http://100.100.100.200/creds',
        'ALIBABA_CLOUD_OIDC_PROVIDER_ARN': 'acs:ram::1:oidc-provider/x',
        'ALIBABA_CLOUD_OIDC_TOKEN_FILE': '/nonexistent/token',
        'ALIBABA_CLOUD_ROLE_ARN': 'acs:ram::1:role/x',
        'HTTP_PROXY': 'http://10.0.0.1:3128', 'HTTPS_PROXY': 'http://10.0.0.1:3128',
        'http_proxy': 'http://10.0.0.1:3128', 'https_proxy': 'http://10.0.0.1:3128',
        'ALL_PROXY': 'socks5://10.0.0.1', 'all_proxy': 'socks5://10.0.0.1',
        'NO_PROXY': '*', 'no_proxy': '*',
        'DEBUG': 'sdk',
        'ALICLOUD_ECS_TEST_KEEP_DEBUG': '0',
        'ALIBABA_CLOUD_ACCESS_KEY_ID': 'kept-as-is',
    }
    result = run_child('''
        import os
        print(json.dumps({'marker': socket._alicloud_ecs_guard, 'env': dict(os.environ)}))
    ''', env)
    child = result['env']

    assert result['marker'] is True
    assert child['ALICLOUD_ECS_TEST_GUARD'] == '1'
    assert child['ALIBABA_CLOUD_ECS_METADATA_DISABLED'] == 'true'
    assert child['ALIBABA_CLOUD_CLI_PROFILE_DISABLED'] == 'true'
    assert child['ALIBABA_CLOUD_ACCESS_KEY_ID'] == 'kept-as-is'

    for name in env:
        if name.startswith(('ALIBABA_CLOUD_OIDC_', 'ALIBABA_CLOUD_CREDENTIALS_URI', 'ALIBABA_CLOUD_ROLE_ARN', 'DEBUG')) or name.lower().endswith('_proxy'):
            assert name not in child, name

    assert not [name for name in child if name.startswith('ALIBABA_CLOUD_OIDC_')]


def test_keep_debug():
    result = run_child('''
        import os
        print(json.dumps([os.environ.get('DEBUG'), os.environ.get('HTTPS_PROXY')]))
    ''', {'ALICLOUD_ECS_TEST_KEEP_DEBUG': '1', 'DEBUG': 'sdk', 'HTTPS_PROXY': 'http://10.0.0.1:3128'})

    assert result == ['sdk', None]


def test_environment_reaches_grandchildren():
    result = run_child('''
        import os
        import subprocess
        out = subprocess.check_output([sys.executable, '-S', '-c', 'import os; print(os.environ.get("HTTPS_PROXY"), os.environ["ALICLOUD_ECS_TEST_GUARD"])'])
        print(json.dumps(out.decode().split()))
    ''', {'HTTPS_PROXY': 'http://10.0.0.1:3128'})

    assert result == ['None', '1']


def test_loopback_allowed(listener):
    result = run_child('''
        port = int(sys.argv[1])
        results = []
        for host in ('127.0.0.1', 'localhost'):
            sock = socket.create_connection((host, port), timeout=10)
            results.append(sock.getpeername()[0])
            sock.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        results.append(sock.connect_ex(('127.0.0.1', port)))
        sock.close()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        results.append(udp.sendto(b'ping', ('127.0.0.1', port)))
        udp.close()
        print(json.dumps(results))
    ''', args=[listener])

    assert result == ['127.0.0.1', '127.0.0.1', 0, 4]


def test_ipv6_loopback_allowed():
    if not socket.has_ipv6:
        pytest.skip('no IPv6 support in this Python')

    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)

    try:
        server.bind(('::1', 0))
    except OSError as ex:
        server.close()
        pytest.skip('cannot bind ::1: %s' % ex)

    server.listen(4)

    try:
        result = run_child('''
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            sock.settimeout(10)
            sock.connect(('::1', int(sys.argv[1])))
            print(json.dumps(sock.getpeername()[0]))
        ''', args=[server.getsockname()[1]])
    finally:
        server.close()

    assert result == '::1'


def test_unix_socket_allowed(tmp_path):
    path = str(tmp_path / 'guard.sock')
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)

    try:
        result = run_child('''
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(sys.argv[1])
            print(json.dumps(sock.getpeername()))
        ''', args=[path])
    finally:
        server.close()

    assert result == path


@pytest.mark.parametrize('host, port', [
    ('100.100.100.200', 80),  # the ECS metadata service
    ('10.0.0.1', 80),
    ('203.0.113.1', 443),
    ('0.0.0.0', 80),
])
def test_non_loopback_refused(listener, host, port):
    result = run_child('''
        address = (sys.argv[1], int(sys.argv[2]))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.settimeout(10)
        results = {
            'connect': refused(tcp.connect, address),
            'connect_ex': refused(tcp.connect_ex, address),
            'create_connection': refused(socket.create_connection, address, 10),
        }
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        results['sendto'] = refused(udp.sendto, b'x', address)
        results['sendto_flags'] = refused(udp.sendto, b'x', 0, address)
        results['sendmsg'] = refused(udp.sendmsg, [b'x'], [], 0, address)
        # The real connect() never ran: the same socket can still connect to a loopback listener.
        tcp.connect(('127.0.0.1', int(sys.argv[3])))
        results['then_loopback'] = tcp.getpeername()[0]
        print(json.dumps(results))
    ''', args=[host, port, listener])

    assert result.pop('then_loopback') == '127.0.0.1'
    expected = (METADATA_MESSAGE if host == '100.100.100.200' else MESSAGE) % ('%s:%d' % (host, port))

    for call, (error, message, seconds) in result.items():
        if call in ('sendto', 'sendto_flags', 'sendmsg'):
            assert (error, message) == ('ConnectionRefusedError', '[Errno 111] ' + expected.replace('connection to', 'datagram to')), call
        else:
            assert (error, message) == ('ConnectionRefusedError', '[Errno 111] ' + expected), call

        assert seconds < 1, call


@pytest.mark.parametrize('host', ['2001:db8::1', '::ffff:10.0.0.1', '::'])
def test_ipv6_non_loopback_refused(host):
    result = run_child('''
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        print(json.dumps(refused(sock.connect, (sys.argv[1], 443))))
    ''', args=[host])

    assert result[:2] == ['ConnectionRefusedError', '[Errno 111] ' + MESSAGE % ('[%s]:443' % host)]


def test_dns_refused_and_localhost_resolved():
    result = run_child('''
        results = {
            'getaddrinfo': refused(socket.getaddrinfo, 'example.com', 443),
            'getaddrinfo_bytes': refused(socket.getaddrinfo, b'example.com', 443),
            'gethostbyname': refused(socket.gethostbyname, 'example.com'),
            'gethostbyname_ex': refused(socket.gethostbyname_ex, 'example.com'),
            'gethostbyaddr': refused(socket.gethostbyaddr, '8.8.8.8'),
            'getnameinfo': refused(socket.getnameinfo, ('8.8.8.8', 53), 0),
            'connect_by_name': refused(socket.socket().connect, ('example.com', 443)),
            'create_connection': refused(socket.create_connection, ('example.com', 443), 10),
        }
        allowed = {
            'localhost': sorted({info[4][0] for info in socket.getaddrinfo('localhost', 80, socket.AF_INET)}),
            'loopback_literal': socket.getaddrinfo('127.0.0.1', 80)[0][4][0],
            'ipv6_literal': socket.getaddrinfo('::1', 80, socket.AF_INET6)[0][4][0],
            'gethostbyname': socket.gethostbyname('localhost'),
            'numeric_getnameinfo': socket.getnameinfo(('8.8.8.8', 53), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)[0],
        }
        print(json.dumps([results, allowed]))
    ''')
    refusals, allowed = result

    for call, (error, message, seconds) in refusals.items():
        assert 'alicloud.ecs test guard: refusing ' in message, call
        assert '(only loopback is allowed)' in message, call
        assert seconds < 1, call

        if call == 'connect_by_name':
            assert error == 'ConnectionRefusedError'
        else:
            assert error == 'gaierror', call

    assert refusals['getaddrinfo'][1] == '[Errno -2] alicloud.ecs test guard: refusing name lookup of example.com (only loopback is allowed)'
    assert allowed == {
        'localhost': ['127.0.0.1'],
        'loopback_literal': '127.0.0.1',
        'ipv6_literal': '::1',
        'gethostbyname': '127.0.0.1',
        'numeric_getnameinfo': '8.8.8.8',
    }


def test_urllib_and_http_client_refused():
    result = run_child('''
        import http.client
        import urllib.request
        results = {
            'urllib': refused(urllib.request.urlopen, 'http://100.100.100.200/latest/meta-data/', None, 10),
            'http.client': refused(http.client.HTTPSConnection('203.0.113.1', 443, timeout=10).request, 'GET', '/'),
        }
        print(json.dumps(results))
    ''')

    assert result['urllib'][0] == 'URLError'
    assert METADATA_MESSAGE % '100.100.100.200:80' in result['urllib'][1]
    assert result['http.client'][:2] == ['ConnectionRefusedError', '[Errno 111] ' + MESSAGE % '203.0.113.1:443']


def test_requests_refused():
    if importlib.util.find_spec('requests') is None:
        pytest.skip('requests is not installed for %s' % sys.executable)

    result = run_child('''
        import requests
        print(json.dumps(refused(requests.get, 'http://100.100.100.200/', timeout=10)))
    ''')

    assert result[0] == 'ConnectionError'
    assert METADATA_MESSAGE % '100.100.100.200:80' in result[1]


def _ansible_executable():
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get('PATH', '')])
    return shutil.which('ansible', path=path)


def _isolated_network_available():
    unshare = shutil.which('unshare')

    if not unshare:
        return False

    return subprocess.run([unshare, '--net', 'true'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode == 0


def test_ansible_module_subprocess_refused(tmp_path):
    """A module that ansible runs on localhost inherits PYTHONPATH and is guarded too.

    Runs inside a fresh network namespace (``unshare --net``), so that nothing could
    leave the machine even if the guard failed to load in the module process.
    """
    ansible = _ansible_executable()

    if not ansible:
        pytest.skip('ansible is not installed')

    if not _isolated_network_available():
        pytest.skip('unshare --net is not permitted here')

    interpreter = os.path.join(os.path.dirname(ansible), 'python')

    if not os.path.exists(interpreter):
        interpreter = sys.executable

    env = child_env({
        'ANSIBLE_HOME': str(tmp_path / 'ansible-home'),
        'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'ansible-local'),
        'ANSIBLE_REMOTE_TEMP': str(tmp_path / 'ansible-remote'),
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
    })
    proc = subprocess.run(
        ['unshare', '--net', ansible, 'localhost', '-m', 'ansible.builtin.uri', '-a', 'url=http://203.0.113.1/ timeout=10',
         '-e', 'ansible_python_interpreter=%s' % interpreter],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False,
    )

    assert proc.returncode != 0, proc.stdout
    assert MESSAGE % '203.0.113.1:80' in proc.stdout, proc.stdout
