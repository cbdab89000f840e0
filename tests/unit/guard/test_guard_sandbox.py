# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guard's sandbox opt-in: honoured only when its checks pass, and then only for what it names.

Each check runs a fresh guarded ``python -c`` (the guard loads at start-up, as in the test runs); the network checks
that must succeed run under ``unshare -rn``, in a namespace with nothing but a loopback.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys

import pytest

GUARD_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'guard')
SETUP = 'ip link set lo up && ip addr add 100.100.100.200/32 dev lo && exec "$@"'

PROBE = r'''
import json, os, socket, sys
assert getattr(socket, '_alicloud_ecs_guard', False)
server = None
try:
    server = socket.socket(); server.bind(('100.100.100.200', 0)); server.listen(1)
    port = server.getsockname()[1]
except OSError:
    port = 80
outcome = {}
for name, address in (('metadata', ('100.100.100.200', port)), ('other', ('10.1.2.3', 80))):
    client = socket.socket()
    client.settimeout(2)
    try:
        client.connect(address)
        outcome[name] = 'connected'
    except OSError as exc:
        outcome[name] = str(exc)
    finally:
        client.close()
env = {name: os.environ.get(name) for name in (
    'ALIBABA_CLOUD_ECS_METADATA_DISABLED', 'ALIBABA_CLOUD_CLI_PROFILE_DISABLED', 'ALIBABA_CLOUD_ROLE_ARN',
    'ALIBABA_CLOUD_OIDC_PROVIDER_ARN', 'ALIBABA_CLOUD_OIDC_TOKEN_FILE', 'ALIBABA_CLOUD_CREDENTIALS_FILE',
    'ALIBABA_CLOUD_CREDENTIALS_URI', 'ALICLOUD_ECS_TEST_SANDBOX', 'ALICLOUD_ECS_TEST_SANDBOX_ACTIVE',
    'ALICLOUD_ECS_TEST_SANDBOX_REFUSED')}
print(json.dumps({'connect': outcome, 'env': env}))
'''


def probe(extra_env, in_netns=False):
    env = {name: value for name, value in os.environ.items() if not name.startswith(('ALIBABA_CLOUD_', 'ALICLOUD_ECS_TEST_SANDBOX'))}
    env['PYTHONPATH'] = os.pathsep.join([GUARD_DIR] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env.update({
        'ALIBABA_CLOUD_ECS_METADATA_DISABLED': 'false',
        'ALIBABA_CLOUD_CLI_PROFILE_DISABLED': 'false',
        'ALIBABA_CLOUD_ROLE_ARN': 'acs:ram::1:role/x',
        'ALIBABA_CLOUD_OIDC_PROVIDER_ARN': 'acs:ram::1:oidc-provider/x',
        'ALIBABA_CLOUD_CREDENTIALS_URI': 'http://100.100.100.200/creds',
    })
    env.update(extra_env)
    command = [sys.executable, '-c', PROBE]
    if in_netns:
        command = [shutil.which('unshare'), '-rn', 'sh', '-c', SETUP, 'setup'] + command
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def sandbox(tmp_path):
    """A private root with a HOME inside, and a token file inside and one outside it."""
    root = tmp_path / 'root'
    (root / 'home').mkdir(parents=True)
    root.chmod(0o700)
    (root / 'token').write_text('t')
    (tmp_path / 'outside-token').write_text('t')
    return root


def opt_in(root, mode, **extra):
    env = {'ALICLOUD_ECS_TEST_SANDBOX': mode, 'ALICLOUD_ECS_TEST_SANDBOX_ROOT': str(root), 'HOME': str(root / 'home'),
           'ALICLOUD_ECS_TEST_HOST_NETNS': os.readlink('/proc/self/ns/net'),
           'ALIBABA_CLOUD_OIDC_TOKEN_FILE': str(root / 'token')}
    env.update(extra)
    return env


def assert_defaults(report):
    assert 'instance-metadata address is allowed only inside a network namespace' in report['connect']['metadata']
    assert 'only loopback is allowed' in report['connect']['other']
    env = report['env']
    assert env['ALIBABA_CLOUD_ECS_METADATA_DISABLED'] == 'true'
    assert env['ALIBABA_CLOUD_CLI_PROFILE_DISABLED'] == 'true'
    assert env['ALIBABA_CLOUD_ROLE_ARN'] is None and env['ALIBABA_CLOUD_OIDC_PROVIDER_ARN'] is None
    assert env['ALIBABA_CLOUD_OIDC_TOKEN_FILE'] is None and env['ALIBABA_CLOUD_CREDENTIALS_URI'] is None
    assert env['ALICLOUD_ECS_TEST_SANDBOX'] is None and env['ALICLOUD_ECS_TEST_SANDBOX_ACTIVE'] is None


def test_without_opt_in_the_metadata_address_is_refused_explicitly_even_in_a_namespace():
    assert_defaults(probe({}))
    assert_defaults(probe({}, in_netns=True))


def test_netns_opt_in_in_the_tests_own_namespace_is_refused(sandbox):
    report = probe(opt_in(sandbox, 'netns'))
    assert_defaults(report)
    assert report['env']['ALICLOUD_ECS_TEST_SANDBOX_REFUSED'] == 'not in a network namespace of its own'


def test_netns_opt_in_without_the_recorded_namespace_is_refused(sandbox):
    report = probe(opt_in(sandbox, 'netns', ALICLOUD_ECS_TEST_HOST_NETNS=''), in_netns=True)
    assert_defaults(report)


def test_netns_opt_in_inside_a_new_namespace_allows_the_metadata_address_only(sandbox):
    report = probe(opt_in(sandbox, 'netns'), in_netns=True)
    assert report['connect']['metadata'] == 'connected'
    assert 'only loopback is allowed' in report['connect']['other']
    env = report['env']
    assert env['ALICLOUD_ECS_TEST_SANDBOX_ACTIVE'] == 'netns' and env['ALICLOUD_ECS_TEST_SANDBOX_REFUSED'] is None
    assert env['ALIBABA_CLOUD_ECS_METADATA_DISABLED'] == 'false' and env['ALIBABA_CLOUD_CLI_PROFILE_DISABLED'] == 'false'
    assert env['ALIBABA_CLOUD_ROLE_ARN'] == 'acs:ram::1:role/x'
    assert env['ALIBABA_CLOUD_OIDC_TOKEN_FILE'] == str(sandbox / 'token')
    assert env['ALIBABA_CLOUD_CREDENTIALS_URI'] is None  # never a source in tests


def test_home_opt_in_lifts_profiles_but_not_the_network(sandbox):
    report = probe(opt_in(sandbox, 'home', ALIBABA_CLOUD_CREDENTIALS_FILE=str(sandbox.parent / 'outside-token')), in_netns=True)
    assert 'instance-metadata address is allowed only inside a network namespace' in report['connect']['metadata']
    env = report['env']
    assert env['ALICLOUD_ECS_TEST_SANDBOX_ACTIVE'] == 'home'
    assert env['ALIBABA_CLOUD_ECS_METADATA_DISABLED'] == 'true' and env['ALIBABA_CLOUD_CLI_PROFILE_DISABLED'] == 'false'
    assert env['ALIBABA_CLOUD_ROLE_ARN'] == 'acs:ram::1:role/x'
    assert env['ALIBABA_CLOUD_OIDC_TOKEN_FILE'] == str(sandbox / 'token')
    assert env['ALIBABA_CLOUD_CREDENTIALS_FILE'] is None  # a file outside the sandbox is never read


@pytest.mark.parametrize('change, reason', [
    ({'HOME': '/root'}, 'HOME is not inside ALICLOUD_ECS_TEST_SANDBOX_ROOT'),
    ({'ALICLOUD_ECS_TEST_SANDBOX_ROOT': 'relative/root'}, 'not an absolute path'),
    ({'ALICLOUD_ECS_TEST_SANDBOX': 'everything'}, "unknown sandbox 'everything'"),
])
def test_home_opt_in_checks(sandbox, change, reason):
    report = probe(dict(opt_in(sandbox, 'home'), **change))
    assert_defaults(report)
    assert reason in report['env']['ALICLOUD_ECS_TEST_SANDBOX_REFUSED']


def test_home_opt_in_refuses_a_shared_root(sandbox):
    sandbox.chmod(0o777)
    report = probe(opt_in(sandbox, 'home'))
    assert_defaults(report)
    assert 'not private' in report['env']['ALICLOUD_ECS_TEST_SANDBOX_REFUSED']


def test_home_opt_in_refuses_a_root_outside_the_temporary_directory(sandbox):
    report = probe(opt_in(sandbox, 'home', TMPDIR=str(sandbox / 'home')))
    assert_defaults(report)
    assert 'is not under' in report['env']['ALICLOUD_ECS_TEST_SANDBOX_REFUSED']
