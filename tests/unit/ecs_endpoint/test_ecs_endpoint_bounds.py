"""Faults for unbounded work and redirects: endless NextTokens, trickled bodies, 3xx answers, and their listener."""
from __future__ import annotations

import http.client
import socket
import uuid
from urllib.parse import urlencode

import pytest

from ecs_endpoint import rawclient, signature
from ecs_endpoint.faults import validate
from ecs_endpoint.listener import RecordingListener
from ecs_endpoint.server import DEFAULT_ACCESS_KEY_ID as AK, DEFAULT_ACCESS_KEY_SECRET as SECRET

QUERY = {'RegionId': 'cn-hangzhou', 'MaxResults': '100'}


def test_endless_tokens_hand_out_a_fresh_token_on_every_page(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'endless_tokens': True})
    client = sdk.client(endpoint)
    tokens, sessions, token = [], [], None
    for dummy in range(12):
        body = sdk.call(client, dict(QUERY, **({'NextToken': token} if token else {})))
        token = body['NextToken']
        tokens.append(token)
        sessions.extend(s['SessionId'] for s in body['Sessions']['Session'])
    assert len(set(tokens)) == 12 and all(tokens)
    # The data ends after three pages (250 sessions); the tokens do not.
    assert len(sessions) == 250 == len(set(sessions))
    assert endpoint.stats()['faults_injected'] == {'endless_tokens': 12}


def test_only_regions_limits_the_faults(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'endless_tokens': True, 'only_regions': ['cn-shanghai']})
    client = sdk.client(endpoint)
    assert len(sdk.pages(client, QUERY)) == 3
    assert sdk.call(client, {'RegionId': 'cn-shanghai', 'MaxResults': '100', 'NextToken': ''}).get('NextToken')


def signed_request_bytes(endpoint):
    """A V2-signed DescribeTerminalSessions request for ``endpoint``, as raw bytes for a plain socket."""
    query = dict(QUERY, Action='DescribeTerminalSessions', Version='2014-05-26', Format='JSON', AccessKeyId=AK,
                 SignatureMethod='HMAC-SHA1', SignatureVersion='1.0', SignatureNonce=uuid.uuid4().hex,
                 Timestamp=rawclient.now_stamp())
    query['Signature'] = signature.v2_signature(SECRET, 'GET', query)
    return ('GET /?%s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n' % (urlencode(query), endpoint.endpoint)).encode()


def read_until_closed(sock):
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b''.join(chunks)


def test_a_trickled_body_stops_by_itself_after_its_bound(make_endpoint):
    endpoint = make_endpoint(faults={'trickle_bytes_per_second': 20, 'trickle_max_seconds': 0.5})
    with socket.create_connection((endpoint.host, endpoint.port), timeout=30) as sock:
        sock.sendall(signed_request_bytes(endpoint))
        received = read_until_closed(sock)
    head, _separator, body = received.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200') and b'Content-Length' in head
    [trickle] = endpoint.wait_for_trickles(30)
    # The cut may drop the last bytes on their way (a reset): what arrived is at most what was sent.
    assert trickle['outcome'] == 'bounded' and len(body) <= trickle['sent'] < trickle['length'] and trickle['sent'] > 0


def test_a_trickle_notices_the_client_leaving(make_endpoint):
    endpoint = make_endpoint(faults={'trickle_bytes_per_second': 1, 'trickle_max_seconds': 120})
    sock = socket.create_connection((endpoint.host, endpoint.port), timeout=30)
    sock.sendall(signed_request_bytes(endpoint))
    assert endpoint.wait_for_trickles(30, started=1)
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    [trickle] = endpoint.wait_for_trickles(30)
    assert trickle['outcome'] == 'client_closed' and trickle['sent'] < trickle['length']


def test_trickle_on_call_picks_the_calls(make_endpoint, sdk):
    endpoint = make_endpoint(faults={'trickle_bytes_per_second': 1, 'trickle_on_call': [5]})
    client = sdk.client(endpoint)
    assert len(sdk.pages(client, QUERY)) == 3
    assert endpoint.stats()['trickles'] == []


@pytest.mark.parametrize('status', [301, 302, 303, 307, 308])
def test_a_redirect_answers_before_any_check_and_the_listener_records_what_follows(make_endpoint, status):
    with RecordingListener() as listener:
        target = listener.url('/x?token=1')
        endpoint = make_endpoint(faults={'redirect_status': status, 'redirect_location': target})
        reply = rawclient.v3_call(endpoint.endpoint, QUERY, AK, 'wrong secret: no check happens first')
        assert reply.status == status and reply.headers['location'] == target
        assert listener.connections == 0
        # Following it by hand, as a client that follows redirects would: the listener records the request.
        conn = http.client.HTTPConnection(listener.host, listener.port, timeout=10)
        conn.request('GET', '/x?token=1', headers={'x-acs-security-token': 'token-to-harvest'})
        assert conn.getresponse().status == 200
        conn.close()
        [received] = listener.received
        assert received.startswith(b'GET /x?token=1 ') and b'token-to-harvest' in received
    assert endpoint.stats()['faults_injected'] == {'redirect': 1}


@pytest.mark.parametrize('settings, message', [
    ({'endless_tokens': 1}, 'endless_tokens must be a boolean'),
    ({'trickle_bytes_per_second': 0}, 'trickle_bytes_per_second must be positive'),
    ({'trickle_bytes_per_second': 1, 'trickle_max_seconds': 0}, 'always stops by itself'),
    ({'trickle_bytes_per_second': 1, 'trickle_max_seconds': 601}, 'always stops by itself'),
    ({'trickle_on_call': 0}, 'trickle_on_call must be a positive call number'),
    ({'redirect_status': 200, 'redirect_location': 'http://127.0.0.2/'}, 'HTTP 3xx'),
    ({'redirect_status': 307}, 'go together'),
    ({'redirect_location': 'http://127.0.0.2/'}, 'go together'),
    ({'only_regions': 'cn-hangzhou'}, 'only_regions must be a list'),
])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        validate(settings)


def test_the_listener_binds_to_loopback_only():
    with pytest.raises(ValueError):
        RecordingListener(host='0.0.0.0')
