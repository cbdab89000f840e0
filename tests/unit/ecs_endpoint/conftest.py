"""Fixtures for the ecs_endpoint stand-in: sys.path, hermetic SDK environment, servers and SDK helpers."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

TESTS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

# The Alibaba Cloud SDK reads its environment at import time: make it hermetic before any import.
_SAVED_ENV = dict(os.environ)
_HOME = tempfile.mkdtemp(prefix='ecs-endpoint-home-')
for _name in ('HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'DEBUG',
              'ALIBABA_CLOUD_CREDENTIALS_URI', 'ALIBABA_CLOUD_ROLE_ARN', 'ALIBABA_CLOUD_OIDC_PROVIDER_ARN',
              'ALIBABA_CLOUD_OIDC_TOKEN_FILE', 'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET',
              'ALIBABA_CLOUD_SECURITY_TOKEN', 'ALIBABA_CLOUD_CREDENTIALS_FILE', 'ALIBABA_CLOUD_PROFILE'):
    os.environ.pop(_name, None)
os.environ.update({'ALIBABA_CLOUD_ECS_METADATA_DISABLED': 'true', 'ALIBABA_CLOUD_CLI_PROFILE_DISABLED': 'true', 'HOME': _HOME})

from ecs_endpoint.data import make_sessions  # noqa: E402  pylint: disable=wrong-import-position
from ecs_endpoint.server import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, EcsEndpoint  # noqa: E402  pylint: disable=wrong-import-position

START = '2024-06-01T00:00:00Z'
_DEFAULT_DATA = {}


def default_regions():
    """cn-hangzhou=250 and cn-shanghai=120 seeded sessions, generated once (the server never mutates them)."""
    if not _DEFAULT_DATA:
        _DEFAULT_DATA.update({'cn-hangzhou': make_sessions('cn-hangzhou', 250, start=START),
                              'cn-shanghai': make_sessions('cn-shanghai', 120, start=START)})
    return {region: list(sessions) for region, sessions in _DEFAULT_DATA.items()}


def pytest_sessionfinish(session, exitstatus):  # pylint: disable=unused-argument
    """Put the environment back and drop the temporary HOME."""
    os.environ.clear()
    os.environ.update(_SAVED_ENV)
    shutil.rmtree(_HOME, ignore_errors=True)


class SdkHelper:
    """Thin wrapper over the real alibabacloud-tea-openapi generic client."""

    def __init__(self):
        # pylint: disable=import-outside-toplevel
        from alibabacloud_tea_openapi.client import Client
        from alibabacloud_tea_openapi.models import Config, OpenApiRequest, Params
        from alibabacloud_tea_openapi import exceptions
        from darabonba.exceptions import UnretryableException
        from darabonba.runtime import RuntimeOptions
        self.Client, self.Config, self.OpenApiRequest, self.Params = Client, Config, OpenApiRequest, Params
        self.RuntimeOptions = RuntimeOptions
        self.exceptions = exceptions
        self.UnretryableException = UnretryableException

    def client(self, endpoint, access_key_id=DEFAULT_ACCESS_KEY_ID, secret=DEFAULT_ACCESS_KEY_SECRET, token=None, **config):
        """Client for an EcsEndpoint (protocol and CA taken from it)."""
        config.setdefault('protocol', endpoint.protocol)
        if endpoint.ca_file:
            config.setdefault('ca', endpoint.ca_file)
        return self.Client(self.Config(access_key_id=access_key_id, access_key_secret=secret, security_token=token,
                                       endpoint=endpoint.endpoint, **config))

    def call(self, client, query, method='POST', runtime=None, action='DescribeTerminalSessions'):
        """One call of ``action`` (DescribeTerminalSessions by default); returns the decoded body."""
        params = self.Params(action=action, version='2014-05-26', protocol='HTTP', method=method,
                             auth_type='AK', style='RPC', pathname='/', req_body_type='json', body_type='json')
        result = client.call_api(params, self.OpenApiRequest(query=dict(query)), runtime or self.RuntimeOptions())
        return result['body']

    def pages(self, client, query, limit=50):
        """Follow NextToken until absent or empty; returns the list of page bodies."""
        bodies, token = [], None
        for dummy in range(limit):
            q = dict(query)
            if token:
                q['NextToken'] = token
            body = self.call(client, q)
            bodies.append(body)
            token = body.get('NextToken')
            if not token:
                return bodies
        raise AssertionError('paging did not end')


@pytest.fixture(scope='session')
def sdk():
    """The real SDK, imported after the environment was made hermetic."""
    return SdkHelper()


@pytest.fixture
def make_endpoint():
    """Factory: start an EcsEndpoint (default: cn-hangzhou=250, cn-shanghai=120 seeded sessions); stopped at teardown."""
    started = []

    def factory(regions=None, **kwargs):
        if regions is None:
            regions = default_regions()
        endpoint = EcsEndpoint(regions, **kwargs).start()
        started.append(endpoint)
        return endpoint

    yield factory
    for endpoint in started:
        endpoint.stop()


@pytest.fixture
def endpoint(make_endpoint):
    """A plain HTTP endpoint with default data and credentials."""
    return make_endpoint()
