"""The fixtures the integration, reliability and security suites share; each suite's conftest imports them.

``endpoint_factory`` is the one way tests start a local endpoint: module scoped, so that the module-scoped campaigns
of the reliability suite can use it; every call starts a new endpoint, and all are stopped when the test module ends.
A suite whose endpoints need more than :class:`EcsEndpoint` overrides ``endpoint_class`` in its conftest (the
reliability suite's :class:`FaultyEndpoint`).
"""

from __future__ import annotations

import pytest

from ecs_endpoint.server import EcsEndpoint

from support.endpoints import EndpointFactory
from support.playbooks import Runner


@pytest.fixture(scope='module')
def endpoint_class():
    """The class of the endpoints ``endpoint_factory`` starts."""
    return EcsEndpoint


@pytest.fixture(scope='module')
def endpoint_factory(endpoint_class):  # pylint: disable=redefined-outer-name
    """``endpoint_factory(counts, tls=False, faults=None, **settings)``: see :class:`EndpointFactory`."""
    factory = EndpointFactory(endpoint_class)
    yield factory
    factory.stop()


@pytest.fixture
def runner(tmp_path):
    return Runner(tmp_path)
