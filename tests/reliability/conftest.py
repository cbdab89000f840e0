"""Reliability and security suite: the real module, run by ansible-playbook, against a faulty local ECS endpoint.

Every fault case runs the module at -vvvv with ``DEBUG=sdk`` kept in the environment, against an endpoint of
its own, and is checked against that endpoint's ground truth (its records, its call counter, its request log).
Cases that need no change between them share one ansible-playbook run (a :class:`Campaign`), one task each,
since starting Ansible costs more than running the module. The rows each test records are written to
docs/reliability.md when the whole suite has run (see ``reliability_report``).

The integration suite's conftest is imported under another name (two files both imported as ``conftest``
would collide), so the Runner, the test keys and the seeded data are the same in both suites.
"""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ecs_endpoint.errors import ApiError
from ecs_endpoint.server import EcsEndpoint
from reliability_report import Report, scan, secret_hits_in_requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REPORT_PATH = REPO / 'docs' / 'reliability.md'


def _load_integration_conftest():
    spec = importlib.util.spec_from_file_location('alicloud_ecs_integration_conftest', HERE.parent / 'integration' / 'conftest.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


integration = _load_integration_conftest()
Runner = integration.Runner
seeded_regions = integration.seeded_regions
targets = integration.targets
CREDENTIALS = integration.CREDENTIALS
ACCESS_KEY_ID = integration.ACCESS_KEY_ID
ACCESS_KEY_SECRET = integration.ACCESS_KEY_SECRET
STS_KEY_ID = integration.STS_KEY_ID
STS_SECRET = integration.STS_SECRET
STS_TOKEN = integration.STS_TOKEN
SECRETS = integration.SECRETS

# Every run keeps the SDK's request logging on (the guard drops DEBUG unless told to keep it).
DEBUG_ENV = {'DEBUG': 'sdk', 'ALICLOUD_ECS_TEST_KEEP_DEBUG': '1'}
VERBOSITY = 4
MODULE = 'ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_info'


def pytest_sessionstart(session):
    assert getattr(socket, '_alicloud_ecs_guard', False), 'the loopback-only network guard is not loaded (run through make)'
    session.config.reliability_report = Report(started=time.time())


# --- the report ------------------------------------------------------------------------------------------------

@pytest.fixture(scope='session')
def report(request):
    return request.config.reliability_report


@pytest.fixture
def record(report, request):
    """``record(**row)``: a row of the report for this test (record before asserting, so failures show too)."""
    def add(**row):
        report.add(request.node.nodeid, **row)
    return add


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    config = item.config
    if outcome.when == 'call' or outcome.failed:
        config.reliability_report.outcome(item.nodeid, outcome.outcome)
    return outcome


def pytest_deselected(items):
    if items:
        items[0].config.reliability_report.partial = True


def pytest_sessionfinish(session, exitstatus):
    report = session.config.reliability_report
    options = session.config.option
    selected = [Path(arg.split('::')[0]).resolve() for arg in session.config.args]
    if (report.partial or options.keyword or options.markexpr or options.collectonly or selected != [HERE]
            or exitstatus not in (0, 1) or session.shouldstop or session.shouldfail or not report.outcomes):
        sys.stderr.write('\nreliability: %s not written (only a complete run of tests/reliability writes it)\n' % REPORT_PATH)
        return
    import ansible.release  # pylint: disable=import-outside-toplevel
    report.write(REPORT_PATH, command='python -m pytest ' + ' '.join(session.config.invocation_params.args),
                 ansible_version=ansible.release.__version__, exitstatus=exitstatus)
    sys.stderr.write('\nreliability: wrote %s\n' % REPORT_PATH)


# --- the endpoint ------------------------------------------------------------------------------------------------

class FaultyEndpoint(EcsEndpoint):
    """The local endpoint with what its fault settings cannot express.

    ``before_call``: call number -> function(endpoint) run just before that call's page is computed (a
    concurrent writer, deterministically placed). ``clock_offset``: seconds the service's clock runs ahead
    of this host. ``failing_regions``: region -> page number from which that region answers
    ServiceUnavailable. ``served`` logs the session IDs of every page the endpoint handed out.
    """

    def __init__(self, regions, before_call=None, clock_offset=0, failing_regions=None, **kwargs):
        super().__init__(regions, **kwargs)
        self.before_call = dict(before_call or {})
        self.failing_regions = dict(failing_regions or {})
        self.served = []
        self.added = []
        self.expired = []
        self._pages = {}
        self._hook_lock = threading.Lock()
        if clock_offset:
            self._auth.clock = lambda: time.time() + clock_offset

    def _describe(self, params, plan, request_id):
        hook = self.before_call.pop(plan.index, None)
        if hook is not None:
            hook(self)
        region = params.get('RegionId')
        with self._hook_lock:
            self._pages[region] = page_number = self._pages.get(region, 0) + 1
        if region in self.failing_regions and page_number >= self.failing_regions[region]:
            raise ApiError('ServiceUnavailable')
        doc = super()._describe(params, plan, request_id)
        with self._hook_lock:
            self.served.append([s['SessionId'] for s in doc['Sessions']['Session']])
        return doc

    def insert_at_head(self, region, count):
        self.added.extend(self.generate_sessions(region, count, at_head=True, seed=99))

    def expire_tail(self, region, count):
        with self._lock:
            gone, self._regions[region] = self._regions[region][-count:], self._regions[region][:-count]
        self.expired.extend(s['SessionId'] for s in gone)


@pytest.fixture(scope='module')
def endpoints():
    """``endpoints(counts, tls=False, **options)``: a started :class:`FaultyEndpoint`, stopped with the module."""
    started = []

    def start(counts=None, tls=False, faults=None, **options):
        regions = seeded_regions(counts or {'cn-hangzhou': 250})
        endpoint = FaultyEndpoint(regions, credentials=CREDENTIALS, tls=tls, faults=faults, **options)
        endpoint.seed_data = regions
        endpoint.start()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.stop()


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
    return set((region, s['SessionId']) for s in endpoint.seed_data[region] if instance_id is None or instance_id in targets(s))


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


# --- many module runs in one ansible-playbook run -----------------------------------------------------------

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
            secrets = set(SECRETS) | set(value for key, value in args.items() if key in ('access_key_secret', 'security_token'))
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


@pytest.fixture(scope='module')
def campaign_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('campaign')
