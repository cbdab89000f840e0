"""Fault injection, observed through the real SDK (and raw requests where the SDK hides details)."""
from __future__ import annotations

import threading
import time

import pytest

from ecs_endpoint import rawclient
from ecs_endpoint.server import DEFAULT_ACCESS_KEY_ID as AK, DEFAULT_ACCESS_KEY_SECRET as SECRET

QUERY = {'RegionId': 'cn-hangzhou', 'MaxResults': '100'}


def outcome(sdk, client, query=None):
    """'ok' or (exception class name, code, status)."""
    try:
        sdk.call(client, query or QUERY)
        return 'ok'
    except (sdk.exceptions.ClientException, sdk.exceptions.ServerException, sdk.exceptions.ThrottlingException) as err:
        return type(err).__name__, err.code, err.status_code
    except sdk.UnretryableException:
        return 'UnretryableException', None, None


def test_throttle_first_then_success(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'throttle_first': 2})
    client = sdk.client(endpoint)
    results = [outcome(sdk, client) for dummy in range(3)]
    assert results == [('ClientException', 'Throttling.User', 400)] * 2 + ['ok']
    stats = endpoint.stats()
    assert stats['calls'] == 3 and stats['by_code'] == {'Throttling.User': 2} and stats['faults_injected'] == {'throttle': 2}


def test_throttle_retry_after_and_status(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'throttle_first': 1, 'throttle_code': 'Throttling.Api', 'throttle_status': 429,
                                     'throttle_retry_after_ms': 1500})
    with pytest.raises(sdk.exceptions.ThrottlingException) as info:
        sdk.call(sdk.client(endpoint), QUERY)
    assert (info.value.code, info.value.status_code, info.value.retry_after) == ('Throttling.Api', 429, 1500)
    reply = rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET)
    assert reply.status == 200
    endpoint.set_faults(throttle_first=1, throttle_retry_after_ms=250)
    reply = rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET)
    assert reply.status == 400 and reply.headers['x-acs-retry-after'] == '250'


def test_unavailable_after_throttle(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'throttle_first': 1, 'unavailable_first': 2})
    client = sdk.client(endpoint)
    assert [outcome(sdk, client) for dummy in range(4)] == [
        ('ClientException', 'Throttling.User', 400),
        ('ServerException', 'ServiceUnavailable', 503), ('ServerException', 'ServiceUnavailable', 503), 'ok']


def test_error_rate_is_seeded(make_endpoint):
    def run(seed):
        endpoint = make_endpoint(faults={'error_rate': 0.3, 'error_seed': seed})
        return [rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET).status for dummy in range(40)]
    first, again, other = run(7), run(7), run(8)
    assert first == again and first != other
    assert set(first) <= {200, 500, 503} and 4 <= sum(s != 200 for s in first) <= 20


def test_latency(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'latency_ms': 60})
    client = sdk.client(endpoint)
    began = time.monotonic()
    sdk.call(client, QUERY)
    assert time.monotonic() - began >= 0.06
    endpoint.set_faults(latency_ms=[20, 40])
    began = time.monotonic()
    sdk.call(client, QUERY)
    assert time.monotonic() - began >= 0.02


@pytest.mark.parametrize('mode', ['same', 'cycle'])
def test_token_loop(make_endpoint, sdk, mode):
    endpoint = make_endpoint(faults={'token_loop': mode})
    client = sdk.client(endpoint)
    tokens = []
    token = None
    for dummy in range(5):
        body = sdk.call(client, dict(QUERY, NextToken=token) if token else QUERY)
        token = body['NextToken']
        tokens.append(token)
    if mode == 'same':
        assert len(set(tokens)) == 1
    else:
        assert tokens[0] != tokens[1] and tokens[0::2] == [tokens[0]] * 3 and tokens[1::2] == [tokens[1]] * 2


def test_truncated_json(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'malformed': 'truncated_json', 'malformed_on_call': 2})
    client = sdk.client(endpoint)
    assert [outcome(sdk, client) for dummy in range(3)] == ['ok', ('UnretryableException', None, None), 'ok']
    reply = rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET)
    assert reply.status == 200 and reply.json is not None
    endpoint.set_faults(malformed='truncated_json')
    reply = rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET)
    assert reply.status == 200 and reply.json is None and reply.body.startswith(b'{"RequestId"')


def test_html_502(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'malformed': 'html_502'})
    reply = rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET)
    assert reply.status == 502 and reply.headers['content-type'] == 'text/html' and b'502 Bad Gateway' in reply.body
    assert outcome(sdk, sdk.client(endpoint)) == ('UnretryableException', None, None)


def test_xml_error(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'malformed': 'xml_error'})
    reply = rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET)
    assert reply.status == 500 and reply.headers['content-type'] == 'text/xml;charset=utf-8'
    assert b'<Error><Code>InternalError</Code><Message>' in reply.body and b'<RequestId>' in reply.body
    # V3 (do_request) parses XML errors; the legacy V2 path (do_rpcrequest) only reads JSON.
    assert outcome(sdk, sdk.client(endpoint)) == ('ServerException', 'InternalError', 500)
    assert outcome(sdk, sdk.client(endpoint, signature_algorithm='v2')) == ('UnretryableException', None, None)


def test_empty_page_with_token(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'empty_page_with_token': True})
    bodies = sdk.pages(sdk.client(endpoint), QUERY)
    assert bodies[0]['Sessions']['Session'] == [] and bodies[0]['NextToken']
    assert [len(b['Sessions']['Session']) for b in bodies] == [0, 100, 100, 50]


def test_forbidden(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'forbidden': True})
    with pytest.raises(sdk.exceptions.ClientException) as info:
        sdk.call(sdk.client(endpoint), QUERY)
    err = info.value
    assert (err.code, err.status_code) == ('Forbidden.RAM', 403)
    detail = err.access_denied_detail
    assert detail['AuthAction'] == 'ecs:DescribeTerminalSessions'
    assert set(detail) >= {'PolicyType', 'AuthPrincipalDisplayName', 'NoPermissionType', 'EncodedDiagnosticMessage'}


def test_forbidden_only_after_authentication(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'forbidden': True})
    assert outcome(sdk, sdk.client(endpoint, secret='wrong')) == ('ClientException', 'SignatureDoesNotMatch', 400)


def test_reset_connection(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'reset_connection_on_call': 2})
    client = sdk.client(endpoint)
    assert [outcome(sdk, client) for dummy in range(3)] == ['ok', ('UnretryableException', None, None), 'ok']
    assert endpoint.stats()['faults_injected'] == {'reset_connection': 1}


def test_hang_gives_read_timeout(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'hang_on_call': 1, 'hang_seconds': 5})
    client = sdk.client(endpoint, read_timeout=300)
    # The hang outlasts the read timeout: without the timeout the call would succeed after it, so the error says
    # the timeout fired (no wall-clock bound here: on a loaded machine it proves nothing more).
    with pytest.raises(sdk.UnretryableException) as info:
        sdk.call(client, QUERY)
    assert 'timed out' in str(info.value.inner_exception).lower()
    assert outcome(sdk, client) == 'ok'


def test_rate_limit(make_endpoint):
    endpoint = make_endpoint(faults={'rate_limit_per_second': 2})
    statuses = [rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET).code for dummy in range(6)]
    assert statuses[:2] == [None, None] and 'Throttling.User' in statuses[2:]
    assert endpoint.stats()['faults_injected']['rate_limit'] >= 1


def test_max_concurrency(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'latency_ms': 150})
    barrier = threading.Barrier(5)
    results = []

    def worker():
        client = sdk.client(endpoint)
        barrier.wait()
        results.append(outcome(sdk, client))

    threads = [threading.Thread(target=worker) for dummy in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ['ok'] * 5
    assert endpoint.stats()['max_concurrency'] >= 3


def test_runtime_control_over_http(endpoint, sdk):
    client = sdk.client(endpoint)
    reply = rawclient.control(endpoint.endpoint, 'POST', '/_emulator/faults', {'throttle_first': 1})
    assert reply.status == 200 and reply.json['faults']['throttle_first'] == 1
    assert outcome(sdk, client) == ('ClientException', 'Throttling.User', 400)
    assert outcome(sdk, client) == 'ok'
    stats = rawclient.control(endpoint.endpoint, 'GET', '/_emulator/stats').json
    assert stats['calls'] == 2 and stats['by_code'] == {'Throttling.User': 1} and len(stats['requests']) == 2
    assert 'requests' not in rawclient.control(endpoint.endpoint, 'GET', '/_emulator/stats?requests=0').json
    assert rawclient.control(endpoint.endpoint, 'POST', '/_emulator/faults', {'bogus': 1}).status == 400
    assert rawclient.control(endpoint.endpoint, 'POST', '/_emulator/faults', {'token_loop': 'spin'}).status == 400
    assert rawclient.control(endpoint.endpoint, 'GET', '/_emulator/nope').status == 404
    added = rawclient.control(endpoint.endpoint, 'POST', '/_emulator/sessions', {'region': 'cn-hangzhou', 'count': 3}).json['added']
    assert [s['SessionId'] for s in sdk.call(client, QUERY)['Sessions']['Session'][:3]] == added
    assert rawclient.control(endpoint.endpoint, 'POST', '/_emulator/reset').status == 200
    assert endpoint.stats()['calls'] == 0 and endpoint.faults()['throttle_first'] == 0


def test_set_faults_validates_and_resets_numbering(endpoint):
    with pytest.raises(ValueError):
        endpoint.set_faults(error_rate=2)
    with pytest.raises(ValueError):
        endpoint.set_faults(latency_ms=[50, 10])
    endpoint.set_faults(throttle_first=1)
    assert rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET).code == 'Throttling.User'
    endpoint.set_faults(throttle_first=1)
    assert rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET).code == 'Throttling.User'
    endpoint.reset_faults()
    assert rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET).status == 200


def test_control_paths_not_counted(endpoint):
    rawclient.control(endpoint.endpoint, 'GET', '/_emulator/stats')
    rawclient.v3_call(endpoint.endpoint, QUERY, AK, SECRET, action='DescribeInstances')
    stats = endpoint.stats()
    assert stats['calls'] == 0 and len(stats['requests']) == 1
