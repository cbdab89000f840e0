"""Integration tests: the real module, run by ansible-playbook, against the local ECS endpoint.

The Runner, the test keys and the endpoint fixture live in tests/support, shared with the reliability and security
suites.
"""

from __future__ import annotations

import socket

import pytest

pytest.register_assert_rewrite('support')

from support.fixtures import endpoint_class, endpoint_factory, runner  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position
from support.postgres import archive_store, postgres_app_role, postgres_database, postgres_server  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position


def pytest_configure(config):
    config.addinivalue_line('markers', 'oldest_and_newest_core: slow end-to-end cases that test a store or a server rather than '
                            'ansible-core; the matrix runs them on its oldest and newest core only (see the Makefile)')


def pytest_sessionstart(session):
    assert getattr(socket, '_alicloud_ecs_guard', False), 'the loopback-only network guard is not loaded (run through make)'
