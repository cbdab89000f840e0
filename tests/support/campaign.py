"""The reliability suite's fault campaigns: module tasks at -vvvv with DEBUG=sdk, each against its own endpoint.

Cases that need no change between them share one ansible-playbook run (a :class:`Campaign`), one task each, since
starting Ansible costs more than running the module; each is checked against its endpoint's ground truth.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from support.endpoints import targets
from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, DEBUG_ENV, SECRETS, STS_KEY_ID, STS_SECRET, STS_TOKEN
from support.playbooks import Runner

_RELIABILITY = str(Path(__file__).resolve().parents[1] / 'reliability')
if _RELIABILITY not in sys.path:
    sys.path.insert(0, _RELIABILITY)
from reliability_report import scan, secret_hits_in_requests  # noqa: E402 pylint: disable=wrong-import-position

VERBOSITY = 4
MODULE = 'ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_info'


def module_args(target, sts=True, **extra):
    """Module arguments for the endpoint ``target``: STS keys by default (every run carries a token that must not leak)."""
    args = {
        'endpoint': target.endpoint,
        'protocol': target.protocol,
        'region_id': 'cn-hangzhou',
        'retry_delay': 0.01,
        'retry_max_delay': 0.05,
    }
    if sts:
        args.update(access_key_id=STS_KEY_ID, access_key_secret=STS_SECRET, security_token=STS_TOKEN)
    else:
        args.update(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET)
    if target.protocol == 'https':
        args['ca_bundle'] = target.ca_file
    args.update(extra)
    return args


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def truth(endpoint, region='cn-hangzhou', instance_id=None):
    """The seeded records of ``region`` (of ``instance_id``) as (region, session ID) pairs."""
    return {(region, s['SessionId']) for s in endpoint.seed_data[region] if instance_id is None or instance_id in targets(s)}


def keys(result):
    return [(s['region_id'], s['session_id']) for s in result.get('sessions', [])]


def accounting(result, expected):
    """(records lost, records duplicated) of a result against the set of records ``expected``."""
    got = keys(result)
    return len(set(expected) - set(got)), len(got) - len(set(got))


def warnings_of(result):
    """The warning texts of a result (2.19 wraps them in WarningSummary objects in registered results)."""
    texts = []
    for warning in result.get('warnings') or []:
        if isinstance(warning, dict):
            warning = (warning.get('event') or {}).get('msg') or warning.get('msg') or json.dumps(warning)
        texts.append(str(warning))
    return texts


class CaseRun:
    """One task of a campaign: its registered result, its part of the output, and the endpoint behind it."""

    def __init__(self, name, result, output, endpoint, secrets):
        self.name = name
        self.result = result
        self.output = output
        self.endpoint = endpoint
        self.secrets = secrets

    @property
    def failed(self):
        return bool(self.result.get('failed'))

    @property
    def msg(self):
        return self.result.get('msg') or ''

    def stats(self):
        if self.endpoint is None:
            return {'calls': 0, 'requests': [], 'by_code': {}, 'faults_injected': {}}
        return self.endpoint.stats()

    def secret_hits(self):
        """Secrets in this task's output and result, plus secrets the endpoint received other than as the STS token header."""
        hits = scan(self.output + json.dumps(self.result), self.secrets)
        if self.endpoint is not None:
            hits += secret_hits_in_requests(self.stats()['requests'], self.secrets, STS_TOKEN)
        return hits


_TASK_HEADER = re.compile(r'^TASK \[(?P<name>[^\]]*)\]', re.M)


class Campaign:
    """Module tasks run by a single ansible-playbook at -vvvv with DEBUG=sdk, each against its own endpoint."""

    def __init__(self, tmp_path, env=None):
        self.runner = Runner(tmp_path)
        self.tmp_path = tmp_path
        self.env = dict(DEBUG_ENV, **(env or {}))
        self.cases = []
        self.completed = None

    def add(self, name, args, endpoint=None):
        assert re.match(r'^[a-z0-9-]+$', name) and name not in [case[0] for case in self.cases], name
        self.cases.append((name, args, endpoint))
        return name

    def run(self):
        """Run every case; returns name -> :class:`CaseRun`."""
        result_file = self.tmp_path / 'campaign.json'
        tasks = []
        for index, (name, args, _endpoint) in enumerate(self.cases):
            tasks.append(textwrap.dedent('''\
                - name: %s
                  alicloud.ecs.ecs_terminal_session_info: %s
                  register: case_%d
                  ignore_errors: true
                  timeout: 120
                ''') % (name, json.dumps(args), index))
        collected = ', '.join('%s: case_%d' % (json.dumps(name), index) for index, (name, _a, _e) in enumerate(self.cases))
        tasks.append(textwrap.dedent('''\
            - name: keep-the-results
              check_mode: false
              ansible.builtin.copy:
                content: "{{ {%s} | to_json }}"
                dest: %s
            ''') % (collected.replace('"', "'"), json.dumps(str(result_file))))
        playbook = self.tmp_path / 'campaign.yml'
        playbook.write_text('- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n'
                            + textwrap.indent(''.join(tasks), '    '))
        command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', str(playbook), '-' + 'v' * VERBOSITY]
        self.completed = subprocess.run(command, env=self.runner.environment(self.env), capture_output=True, text=True,
                                        timeout=600, check=False)
        assert result_file.exists(), 'the campaign did not finish:\n%s\n%s' % (self.completed.stdout[-3000:], self.completed.stderr[-3000:])
        results = json.loads(result_file.read_text())
        sections = self._sections(self.completed.stdout)
        runs = {}
        for name, args, endpoint in self.cases:
            secrets = set(SECRETS) | {value for key, value in args.items() if key in ('access_key_secret', 'security_token')}
            output = sections.get(name, '') + self.completed.stderr
            runs[name] = CaseRun(name, results[name], output, endpoint, sorted(secrets))
        return runs

    @staticmethod
    def _sections(stdout):
        """Task name -> the -vvvv output of that task."""
        found = {}
        headers = list(_TASK_HEADER.finditer(stdout))
        for index, header in enumerate(headers):
            end = headers[index + 1].start() if index + 1 < len(headers) else len(stdout)
            found[header.group('name')] = stdout[header.start():end]
        return found
