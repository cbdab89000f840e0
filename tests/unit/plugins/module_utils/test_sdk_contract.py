# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The behaviours of SDK internals sdk.py relies on, checked against the SDK installed.

Written against alibabacloud-tea-openapi 0.4.6 and darabonba-core 1.0.9. Each test fails when an upgrade changes
what sdk.py works around, saying what to do then: drop the workaround, or move it.
"""

from __future__ import annotations

import io
import threading
import uuid

import pytest

from darabonba.core import DaraCore
from darabonba.exceptions import UnretryableException

from ansible_collections.alicloud.ecs.plugins.module_utils import errors, sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialSource

SETTINGS = {'endpoint': '127.0.0.1:1', 'protocol': 'http', 'validate_certs': True}


@pytest.fixture(autouse=True)
def fresh_secret_registry(monkeypatch):
    monkeypatch.setattr(errors, 'SECRETS', errors._Registry())


class HtmlAnswer:
    """What DaraCore.do_action returns for an HTML 502 page from a proxy in front of the endpoint."""

    status_code = 502
    headers = {'content-type': 'text/html'}

    def __init__(self):
        self.body = io.BytesIO(b'<html><body>502 Bad Gateway</body></html>')


def html_502_error(monkeypatch):
    """The exception the SDK raises from Client.call_api for an HTML 502 answer (nothing leaves the process)."""
    monkeypatch.setattr(DaraCore, 'do_action', staticmethod(lambda request, runtime=None: HtmlAnswer()))
    client = sdk.RpcClient(SETTINGS, CredentialSource('access_key', 'options', access_key_id='AKID',
                                                      access_key_secret='not-a-real-secret'))
    models = sdk._sdk()['models']
    params = models.Params(action='DescribeTerminalSessions', version=sdk.ECS_API_VERSION, protocol='HTTP',
                           method='POST', auth_type='AK', style='RPC', pathname='/', req_body_type='json',
                           body_type='json')
    with pytest.raises(Exception) as caught:
        client._client.call_api(params, models.OpenApiRequest(query={'RegionId': 'cn-hangzhou'}), client._runtime)
    return caught.value


def test_a_body_that_is_not_json_drops_the_response_but_the_local_keeps_it(monkeypatch):
    """sdk._last_response walks the traceback for the local ``_last_response`` of tea-openapi's request loop.

    If this fails because the exception now carries the response (or its status), read it from there and delete
    _last_response; if the local was renamed, follow the rename.
    """
    error = html_502_error(monkeypatch)
    assert isinstance(error, UnretryableException)
    assert sdk._json_decoding_error(error.inner_exception) is not None
    # The response is not on the exception, nor on its inner exception: nothing public holds the status code.
    for holder in (error, error.inner_exception):
        assert not any(getattr(holder, name, None) is not None
                       for name in ('http_response', 'response', '_response', 'status_code', 'statusCode'))
    frames = []
    trace = error.__traceback__
    while trace is not None:
        frames.append(trace.tb_frame)
        trace = trace.tb_next
    assert any(getattr(frame.f_locals.get('_last_response'), 'status_code', None) == 502 for frame in frames)
    assert sdk._last_response(error).status_code == 502


def test_the_collection_reports_that_status_through_the_traceback(monkeypatch):
    """The whole path: RpcClient.call reports the HTML 502 as a retryable MalformedResponse naming HTTP 502."""
    monkeypatch.setattr(DaraCore, 'do_action', staticmethod(lambda request, runtime=None: HtmlAnswer()))
    client = sdk.RpcClient(SETTINGS, CredentialSource('access_key', 'options', access_key_id='AKID',
                                                      access_key_secret='not-a-real-secret'))
    with pytest.raises(errors.AlicloudError) as caught:
        client.call('DescribeTerminalSessions', {'RegionId': 'cn-hangzhou'})
    assert (caught.value.code, caught.value.http_status, caught.value.retryable) == ('MalformedResponse', 502, True)


def original_session_factory():
    """DaraCore._get_session as the SDK wrote it (sdk.guard_transport wraps it; the wrapper keeps it as __wrapped__)."""
    sdk._sdk()
    function = DaraCore.__dict__['_get_session'].__func__
    return getattr(function, '__wrapped__', function)


def test_the_session_cache_still_lacks_a_lock(monkeypatch):
    """RpcClient makes its first call alone because two threads' first calls would each build a session.

    If this fails, darabonba-core locks its session cache now: RpcClient's _first_call lock can go.
    """
    factory = original_session_factory()
    built = []
    adapter = DaraCore.get_adapter
    # Both threads must be inside the factory at once to get past this; a locked cache lets only one in, and the
    # barrier then breaks after its timeout instead of deciding the outcome by how the threads were scheduled.
    inside = threading.Barrier(2, timeout=10)

    def slow_adapter(*args, **kwargs):
        built.append(threading.get_ident())
        try:
            inside.wait()
        except threading.BrokenBarrierError:
            pass
        return adapter(*args, **kwargs)

    monkeypatch.setattr(DaraCore, 'get_adapter', staticmethod(slow_adapter))
    key = 'alicloud.ecs-contract-%s' % uuid.uuid4().hex
    barrier = threading.Barrier(2)

    def first_call():
        barrier.wait()
        factory(session_key=key, protocol='HTTP')

    threads = [threading.Thread(target=first_call), threading.Thread(target=first_call)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        DaraCore._sessions.pop(key, None)
    assert len(built) == 2, 'the SDK built one session for two simultaneous first calls: its cache is locked now'
    assert not any(isinstance(value, type(threading.Lock())) for value in vars(DaraCore).values())
