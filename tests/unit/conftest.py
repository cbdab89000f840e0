"""Unit tests run with the network guard loaded (see the Makefile); refuse to run without it."""

from __future__ import annotations

import socket

from support.postgres import archive_store, postgres_app_role, postgres_database, postgres_server  # noqa: F401 pylint: disable=unused-import


def pytest_sessionstart(session):
    assert getattr(socket, '_alicloud_ecs_guard', False), 'the loopback-only network guard is not loaded (run through make)'
