"""The transport seam of sdk.py: where the SDK builds its HTTP sessions, refused redirects, calls cut off in flight.

These tests fail when an upgrade of darabonba-core, alibabacloud-tea, requests or urllib3 moves the seam the
collection hooks (see "Transport seam" in plugins/module_utils/sdk.py), and prove against real loopback servers
that a redirect is not followed and that a trickling body is cut off.
"""

from __future__ import annotations

import inspect
import threading

import pytest

import requests
import urllib3
from Tea.core import TeaCore
from Tea.request import TeaRequest
from darabonba.core import DaraCore

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialSource
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError

from ecs_endpoint.data import make_sessions
from ecs_endpoint.listener import RecordingListener
from ecs_endpoint.server import EcsEndpoint

STS_KEY_ID, STS_SECRET, STS_TOKEN = 'STS.unit0000000000000002', 'sts-unit-secret-value', 'sts-unit-token-CAIS0000000042'
CREDENTIALS = {STS_KEY_ID: {'secret': STS_SECRET, 'security_token': STS_TOKEN}}
STS_SOURCE = CredentialSource('access_key', 'options', STS_KEY_ID, STS_SECRET, STS_TOKEN)
QUERY = {'RegionId': 'cn-hangzhou', 'MaxResults': 100}


@pytest.fixture
def servers():
    started = []

    def start(tls=True, **faults):
        endpoint = EcsEndpoint({'cn-hangzhou': make_sessions('cn-hangzhou', 3)}, credentials=CREDENTIALS, tls=tls,
                               faults=faults or None).start()
        started.append(endpoint)
        return endpoint

    listener = RecordingListener().start()
    yield start, listener
    for endpoint in started:
        endpoint.stop()
    listener.stop()


def client_for(endpoint):
    settings = {'endpoint': endpoint.endpoint, 'protocol': endpoint.protocol, 'validate_certs': True,
                'ca_bundle': endpoint.ca_file, 'connect_timeout': 5, 'read_timeout': 10, 'pool_size': 4}
    return sdk.RpcClient(settings, STS_SOURCE)


@pytest.mark.parametrize('core, parameters', [
    (DaraCore, ['session_key', 'protocol', 'tls_min_version', 'verify', 'pool_size']),
    (TeaCore, ['session_key', 'protocol', 'tls_min_version', 'verify']),
])
def test_each_sdk_core_still_builds_its_sessions_where_the_hook_is(core, parameters):
    sdk._sdk()  # installs the hooks
    factory = core.__dict__['_get_session']
    assert isinstance(factory, staticmethod)
    assert getattr(factory.__func__, sdk._GUARD_MARK, False), 'the session factory is not wrapped'
    original = factory.__func__.__wrapped__
    assert list(inspect.signature(original).parameters) == parameters
    # The request path still takes its session from the factory and sends through it.
    source = inspect.getsource(core.do_action)
    assert '%s._get_session(' % core.__name__ in source and 'session.send(' in source
    assert 'allow_redirects' not in source, 'the SDK now decides about redirects itself: review the hook'


def test_requests_and_urllib3_still_offer_the_hooks_used():
    sdk._sdk()  # installs the hooks
    assert 'self.get_redirect_target(resp)' in inspect.getsource(requests.Session.resolve_redirects)
    assert 'self.resolve_redirects(' in inspect.getsource(requests.Session.send)
    manager = urllib3.PoolManager()
    assert set(manager.pool_classes_by_scheme) == {'http', 'https'}
    assert 'self.pool_classes_by_scheme[scheme]' in inspect.getsource(urllib3.PoolManager._new_pool)
    assert urllib3.HTTPConnectionPool.ConnectionCls is urllib3.connection.HTTPConnection
    for name in ('connect', 'request'):
        assert callable(getattr(urllib3.connection.HTTPConnection, name))

    # The SDK's sessions build their pools from tracked subclasses of those classes.
    session = DaraCore._get_session(session_key='https://127.0.0.1:9:test', protocol='HTTPS', verify=True, pool_size=2)
    manager = session.adapters['https://'].poolmanager
    for scheme, base in (('http', urllib3.HTTPConnectionPool), ('https', urllib3.HTTPSConnectionPool)):
        tracked = manager.pool_classes_by_scheme[scheme]
        assert issubclass(tracked, base) and issubclass(tracked.ConnectionCls, base.ConnectionCls)
        assert tracked.ConnectionCls.connect is not base.ConnectionCls.connect
    assert session.get_redirect_target is sdk._refuse_redirects


@pytest.mark.parametrize('status', [301, 302, 303, 307, 308])
def test_a_redirect_from_https_to_plain_http_on_another_host_is_not_followed(servers, status):
    start, listener = servers
    target = listener.url('/harvest?SecurityToken=%s&keep=1' % STS_TOKEN)
    endpoint = start(redirect_status=status, redirect_location=target)
    with pytest.raises(AlicloudError) as info:
        client_for(endpoint).call('DescribeTerminalSessions', QUERY)
    error = info.value
    assert (error.code, error.http_status, error.retryable) == ('RedirectRefused', status, False)
    assert 'HTTP %d' % status in error.message and listener.url('/harvest') in error.message
    assert 'SecurityToken' not in error.message and STS_TOKEN not in error.message and '?' not in error.message
    assert listener.connections == 0 and listener.received == []
    assert endpoint.stats()['faults_injected'] == {'redirect': 1}


def test_a_relative_or_missing_location_is_named_without_query():
    assert sdk.redirect_error(302, '/next?Token=x#frag', 'https://127.0.0.1:8443/?Signature=y').message.count('?') == 0
    assert 'https://127.0.0.1:8443/next.' in sdk.redirect_error(302, '/next?Token=x', 'https://127.0.0.1:8443/?S=y').message
    assert 'http://127.0.0.2:81/p' in sdk.redirect_error(307, 'http://user:pass@127.0.0.2:81/p?q=1').message
    assert 'pass' not in sdk.redirect_error(307, 'http://user:pass@127.0.0.2:81/p?q=1').message
    assert 'no Location header' in sdk.redirect_error(300, None).message


def test_the_credential_providers_http_core_refuses_redirects_too(servers):
    """alibabacloud-credentials calls STS and the instance metadata through Tea.core, which follows redirects."""
    start, listener = servers
    sdk._sdk()
    endpoint = start(tls=False, redirect_status=307, redirect_location=listener.url('/sts?SecurityToken=x'))
    request = TeaRequest()
    request.protocol = 'http'
    request.method = 'POST'
    request.pathname = '/'
    request.port = endpoint.port
    request.headers = {'host': endpoint.host, 'x-acs-security-token': STS_TOKEN}
    # The endpoint redirects a DescribeTerminalSessions call before checking anything else.
    request.query = {'Action': 'DescribeTerminalSessions', 'Version': '2014-05-26', 'RegionId': 'cn-hangzhou'}
    with pytest.raises(sdk.RedirectRefused) as info:
        TeaCore.do_action(request, {'readTimeout': 5000, 'connectTimeout': 5000})
    assert info.value.http_status == 307 and listener.url('/sts') in info.value.message
    assert listener.connections == 0


def test_a_trickling_body_is_cut_off_from_the_waiting_thread(servers):
    start, _listener = servers
    endpoint = start(trickle_bytes_per_second=1, trickle_max_seconds=120)
    client = client_for(endpoint)
    in_flight = sdk.InFlight()
    outcome = {}

    def call():
        with in_flight.tracking():
            try:
                outcome['body'] = client.call('DescribeTerminalSessions', QUERY)
            except AlicloudError as error:
                outcome['error'] = error

    worker = threading.Thread(target=call)
    worker.start()
    assert endpoint.wait_for_trickles(30, started=1), 'the endpoint never started trickling'
    in_flight.abort()
    worker.join(60)
    assert not worker.is_alive(), 'the read was not cut off'
    assert 'body' not in outcome and outcome['error'].retryable  # a cut connection, which retries then see as a timeout
    [trickle] = endpoint.wait_for_trickles(30)
    assert trickle['outcome'] == 'client_closed' and trickle['sent'] < trickle['length']


def test_a_connection_used_after_the_abort_fails_at_once():
    in_flight = sdk.InFlight()

    class Connection:
        sock = None

    in_flight.add(Connection())
    in_flight.abort()
    with pytest.raises(ConnectionAbortedError):
        in_flight.add(Connection())
    # Outside tracking() nothing is recorded, in any thread.
    sdk._track(Connection())


def test_an_sdk_that_moved_its_session_factory_makes_every_call_fail(monkeypatch):
    import sys
    import types
    moved = types.ModuleType('alicloud_ecs_test_moved_core')

    class MovedCore:
        @staticmethod
        def _get_http_session(key):  # the factory under another name: the hook cannot find it
            return key

    moved.MovedCore = MovedCore
    monkeypatch.setitem(sys.modules, moved.__name__, moved)
    monkeypatch.setattr(sdk, 'SESSION_FACTORIES', ((moved.__name__, 'MovedCore'),))
    monkeypatch.setattr(sdk, '_TRANSPORT_PROBLEMS', [])
    sdk.guard_transport()
    with pytest.raises(AlicloudError) as info:
        sdk.RpcClient({'endpoint': '127.0.0.1:1', 'protocol': 'http', 'validate_certs': True}, STS_SOURCE).call(
            'DescribeTerminalSessions', QUERY)
    assert info.value.code == 'UnsupportedSDK' and 'MovedCore._get_session' in info.value.message
    assert not info.value.retryable
