"""Security regression suite: each test reproduces a defect of the adversarial review and fails on the code that had it.

Tests marked ``every_core`` depend on ansible-core (templating, plugin loading, display, forking) and run on every
core of the matrix; the others run on the oldest and the newest (see the Makefile). Each test records rows of the
security table with the ``security_record`` fixture; rows travel in the test reports' ``user_properties``, so a
run under pytest-xdist keeps them, and a complete run writes ``$ALICLOUD_ECS_SECURITY_RESULTS/<core>.json``, which
``security_report.py`` merges into docs/reliability.md.

The Runner, the test keys and the endpoint fixture live in tests/support, shared with the integration and reliability
suites.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
from pathlib import Path

import pytest

pytest.register_assert_rewrite('support')

from support.fixtures import endpoint_class, endpoint_factory, runner  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position

HERE = Path(__file__).resolve().parent
RESULTS_ENV = 'ALICLOUD_ECS_SECURITY_RESULTS'
ROW_PROPERTY = 'alicloud_ecs_security_row'
# The pytest config of this run, for the report hook (pytest_runtest_logreport gets the report only).
_CONFIG = []


def pytest_configure(config):
    config.addinivalue_line('markers', 'every_core: depends on ansible-core; runs on every core of the matrix')
    config.security_rows = []
    config.security_outcomes = {}
    _CONFIG[:] = [config]


def pytest_sessionstart(session):
    assert getattr(socket, '_alicloud_ecs_guard', False), 'the loopback-only network guard is not loaded (run through make)'


@pytest.fixture
def security_record(request):
    """``security_record(category, case, checked, hits)``: a row of the security table (record before asserting)."""
    def add(category, case, checked, hits=0):
        row = {'category': category, 'case': case, 'checked': checked, 'hits': int(hits), 'nodeid': request.node.nodeid}
        request.node.user_properties.append((ROW_PROPERTY, row))
    return add


def pytest_runtest_logreport(report):
    """Rows and outcomes, as the reports reach this process (the controller's, under pytest-xdist)."""
    if not _CONFIG:
        return
    config = _CONFIG[0]
    for name, value in report.user_properties:
        if name == ROW_PROPERTY and value not in config.security_rows:
            config.security_rows.append(value)
    if report.when == 'call' or report.failed:
        if config.security_outcomes.get(report.nodeid) != 'failed':
            config.security_outcomes[report.nodeid] = report.outcome


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    target = os.environ.get(RESULTS_ENV)
    if not target or hasattr(config, 'workerinput'):
        return
    selected = [Path(arg.split('::')[0]).resolve() for arg in config.args]
    options = config.option
    if (options.keyword or options.collectonly or selected != [HERE] or exitstatus not in (0, 1)
            or options.markexpr not in ('', 'every_core') or not config.security_outcomes):
        sys.stderr.write('\nsecurity: no results written (only a complete run of tests/security writes them)\n')
        return
    import ansible.release  # pylint: disable=import-outside-toplevel
    core = '.'.join(ansible.release.__version__.split('.')[:2])
    path = Path(target) / ('%s.json' % core)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        'ansible_version': ansible.release.__version__,
        'python': platform.python_version(),
        'scope': options.markexpr or 'all',
        'rows': config.security_rows,
        'outcomes': config.security_outcomes,
    }, indent=1), encoding='utf-8')
    sys.stderr.write('\nsecurity: wrote %s (%d rows)\n' % (path, len(config.security_rows)))
