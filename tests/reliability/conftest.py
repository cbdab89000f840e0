"""Reliability and security suite: the real module, run by ansible-playbook, against a faulty local ECS endpoint.

Every fault case runs the module at -vvvv with ``DEBUG=sdk`` kept in the environment, against an endpoint of
its own, and is checked against that endpoint's ground truth (its records, its call counter, its request log).
Cases that need no change between them share one ansible-playbook run (a :class:`Campaign`), one task each,
since starting Ansible costs more than running the module. The rows each test records are written to
docs/reliability.md when the whole suite has run (see ``reliability_report``).

The Runner, the test keys, the endpoint fixture and the campaigns live in tests/support (``support.campaign``), shared
with the integration and security suites; here the endpoints are :class:`FaultyEndpoint`.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

pytest.register_assert_rewrite('support')

from reliability_report import Report  # noqa: E402 pylint: disable=wrong-import-position
from support.endpoints import FaultyEndpoint  # noqa: E402 pylint: disable=wrong-import-position
from support.fixtures import endpoint_factory  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position
from support.postgres import archive_store, postgres_app_role, postgres_database, postgres_server  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REPORT_PATH = REPO / 'docs' / 'reliability.md'


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

@pytest.fixture(scope='module')
def endpoint_class():
    """``endpoint_factory`` starts :class:`FaultyEndpoint` in this suite."""
    return FaultyEndpoint


@pytest.fixture(scope='module')
def campaign_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('campaign')
