"""Unit tests run with the network guard loaded (see the Makefile); refuse to run without it."""

from __future__ import annotations

import socket

import pytest

from support.postgres import archive_store, postgres_app_role, postgres_database, postgres_server  # noqa: F401 pylint: disable=unused-import


def pytest_sessionstart(session):
    assert getattr(socket, '_alicloud_ecs_guard', False), 'the loopback-only network guard is not loaded (run through make)'


@pytest.fixture(autouse=True)
def no_sdk_log_record_left_behind():
    """The SDK's log records are kept in a process-wide buffer (module_utils/sdk.py): what one test's SDK calls logged
    (a refused STS call, say) must not show up in the next test's output, whichever tests share the process."""
    yield
    from ansible_collections.alicloud.ecs.plugins.module_utils import sdk  # pylint: disable=import-outside-toplevel
    sdk.drain_sdk_logs()
