"""Tests that need the instance-metadata address (100.100.100.200) run in a network namespace they create.

:func:`run_in_netns` writes the playbook (one play of cases, as :mod:`support.multi_task`), then runs this module as
a helper under ``unshare -rn`` (a new user and network namespace: nothing but a loopback, so nothing can leave the
machine), after ``ip link set lo up`` and ``ip addr add 100.100.100.200/32 dev lo``. The helper starts every endpoint
the test needs INSIDE the namespace - the ECS endpoint and the STS on 127.0.0.1, the instance metadata on
100.100.100.200:80, all sharing one :class:`~ecs_endpoint.identities.IdentityRegistry` - replaces the placeholders
``@ECS_ENDPOINT@``, ``@ECS_PROTOCOL@``, ``@STS_ENDPOINT@``, ``@STS_CA@`` in the playbook and the environment, runs
ansible-playbook there and prints a JSON report on stdout: the run's output, the identities the ECS endpoint saw, what
STS and the metadata service handed out, and every issued secret (for the test's sweeps).

The loopback guard honours the sandbox only because the environment carries the opt-in
(``ALICLOUD_ECS_TEST_SANDBOX=netns``, the sandbox root) and the network namespace recorded here BEFORE ``unshare``,
which the guard compares with its own: in the test's namespace the opt-in does nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from support.playbooks import PlaybookRun

PLACEHOLDERS = ('@ECS_ENDPOINT@', '@ECS_PROTOCOL@', '@STS_ENDPOINT@', '@STS_CA@')
SETUP = 'ip link set lo up && ip addr add 100.100.100.200/32 dev lo && exec "$@"'


def host_netns() -> str:
    """This process's network namespace, as ``net:[inode]``."""
    return os.readlink('/proc/self/ns/net')


class NetnsRun(PlaybookRun):
    """A run inside the namespace: ``results`` (label -> registered result) and the helper's ``report``."""

    def __init__(self, completed, results, report):
        super().__init__(completed, results)
        self.report = report

    @property
    def results(self):
        return self.result

    @property
    def identities(self):
        """The identity that signed each DescribeTerminalSessions call the ECS endpoint authenticated, in order."""
        return self.report['identities']

    @property
    def output(self):
        return self.stdout + self.stderr + json.dumps(self.result)


def build_playbook(runner, cases, result_file) -> Path:
    """One play of ``cases`` (label -> task dict), each registered with errors ignored; results kept in ``result_file``."""
    tasks = []
    labels = list(cases)
    for index, label in enumerate(labels):
        task = {'name': 'case %d: %s' % (index, label), 'register': 'case_%d' % index, 'ignore_errors': True}
        task.update(cases[label])
        tasks.append(task)
    keep = ', '.join("'case_%d': case_%d | default(None)" % (index, index) for index in range(len(labels)))
    tasks.append({'name': 'Keep the results for the test', 'check_mode': False,
                  'ansible.builtin.copy': {'content': '{{ {%s} | to_json }}' % keep, 'dest': str(result_file)}})
    playbook = runner.tmp_path / 'netns-cases.yml'
    playbook.write_text(json.dumps([{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False, 'tasks': tasks}],
                                   indent=1))
    return playbook


def run_in_netns(runner, cases, services, env=None, static_keys=None, verbosity=0, timeout=300) -> NetnsRun:
    """Run ``cases`` through ansible-playbook inside a new network namespace with the ``services`` it needs.

    ``services``: ``{'ecs': {'counts': {region: n}}, 'sts': {'roles': ..., 'expiration_seconds': ...,
    'oidc_tokens': {token: provider arn}}, 'metadata': {'role_name': ..., 'expiration_seconds': ...}}`` (each
    optional). ``env``: extra environment (the sandbox opt-in from :class:`support.credential_sandbox.CredentialSandbox`
    with mode ``netns``). ``static_keys``: the static keys the endpoints accept (default: the test keys).
    """
    from support.keys import CREDENTIALS  # pylint: disable=import-outside-toplevel
    unshare, ip = shutil.which('unshare'), shutil.which('ip')
    assert unshare and ip, 'unshare (util-linux) and ip (iproute2) are needed for the network-namespace tests'
    result_file = runner.tmp_path / 'netns-results.json'
    if result_file.exists():
        result_file.unlink()
    playbook = build_playbook(runner, cases, result_file)
    command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', str(playbook)]
    if verbosity:
        command.append('-' + 'v' * verbosity)
    run_env = runner.environment(dict(env or {}, ALICLOUD_ECS_TEST_HOST_NETNS=host_netns()))
    spec = {'services': services, 'static_keys': static_keys or CREDENTIALS, 'command': command, 'env': run_env,
            'playbook': str(playbook), 'cwd': str(runner.tmp_path), 'timeout': timeout}
    spec_file = runner.tmp_path / 'netns-spec.json'
    spec_file.write_text(json.dumps(spec))
    helper = [unshare, '-rn', 'sh', '-c', SETUP, 'netns-setup', sys.executable, '-m', 'support.netns', str(spec_file)]
    completed = subprocess.run(helper, env=run_env, capture_output=True, text=True, timeout=timeout + 60, check=False)
    assert completed.returncode == 0, 'the namespace helper failed (%d):\n%s\n%s' % (
        completed.returncode, completed.stdout[-4000:], completed.stderr[-4000:])
    report = json.loads(completed.stdout)
    finished = subprocess.CompletedProcess(command, report['rc'], report['stdout'], report['stderr'])
    assert result_file.exists(), 'the playbook did not finish:\n%s\n%s' % (report['stdout'][-4000:], report['stderr'][-4000:])
    kept = json.loads(result_file.read_text())
    results = {label: kept.get('case_%d' % index) for index, label in enumerate(cases)}
    return NetnsRun(finished, results, report)


# The helper, run inside the namespace -----------------------------------------------------------------------------
def _substitute(value, mapping):
    for placeholder, replacement in mapping.items():
        value = value.replace(placeholder, replacement)
    return value


def _helper(spec):
    # pylint: disable=import-outside-toplevel
    from ecs_endpoint.identities import IdentityRegistry
    from ecs_endpoint.metadata import MetadataEndpoint
    from ecs_endpoint.server import EcsEndpoint
    from ecs_endpoint.sts import StsEndpoint
    from support.endpoints import seeded_regions

    services = spec['services']
    registry = IdentityRegistry(spec['static_keys'])
    started, mapping = [], {}
    ecs = sts = metadata = None
    try:
        if 'ecs' in services:
            options = services['ecs']
            ecs = EcsEndpoint(seeded_regions(options.get('counts') or {'cn-hangzhou': 30}), credentials=registry).start()
            started.append(ecs)
            mapping.update({'@ECS_ENDPOINT@': ecs.endpoint, '@ECS_PROTOCOL@': ecs.protocol})
        if 'sts' in services:
            options = services['sts']
            sts = StsEndpoint(registry, expiration_seconds=options.get('expiration_seconds', 3600), roles=options.get('roles'))
            sts.start()
            started.append(sts)
            for token, provider in (options.get('oidc_tokens') or {}).items():
                sts.register_oidc_token(provider, token)
            mapping.update({'@STS_ENDPOINT@': sts.endpoint, '@STS_CA@': sts.ca_file})
        if 'metadata' in services:
            options = services['metadata']
            metadata = MetadataEndpoint(registry, role_name=options.get('role_name', 'EcsInstanceRole'),
                                        expiration_seconds=options.get('expiration_seconds', 3600),
                                        host='100.100.100.200', port=80).start()
            started.append(metadata)
        playbook = Path(spec['playbook'])
        playbook.write_text(_substitute(playbook.read_text(), mapping))
        env = {name: _substitute(value, mapping) for name, value in spec['env'].items()}
        completed = subprocess.run(spec['command'], env=env, capture_output=True, text=True, timeout=spec['timeout'],
                                   check=False, cwd=spec['cwd'])
        return {
            'rc': completed.returncode, 'stdout': completed.stdout, 'stderr': completed.stderr,
            'netns': os.readlink('/proc/self/ns/net'), 'sandbox': os.environ.get('ALICLOUD_ECS_TEST_SANDBOX_ACTIVE'),
            'sandbox_refused': os.environ.get('ALICLOUD_ECS_TEST_SANDBOX_REFUSED'),
            'identities': ecs.identities_seen() if ecs else [],
            'ecs_codes': [entry['code'] for entry in ecs.stats()['requests']] if ecs else [],
            'sts_issued': sts.issued if sts else [],
            'sts_calls': [{k: v for k, v in call.items() if k != 'params'} for call in sts.calls] if sts else [],
            'metadata_calls': metadata.calls if metadata else [],
            'metadata_issued': metadata.issued if metadata else [],
            'issued_secrets': registry.secrets(),
        }
    finally:
        for service in started:
            service.stop()


if __name__ == '__main__':
    print(json.dumps(_helper(json.loads(Path(sys.argv[1]).read_text()))))
