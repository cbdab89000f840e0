"""EndTerminalSession: open connections become Terminated; unknown sessions and refusals answer as the service does."""
from __future__ import annotations

import pytest

from ecs_endpoint.data import make_sessions

END = 'EndTerminalSession'


def open_session(session_id, instance_id='i-1'):
    return {'SessionId': session_id, 'CreationTime': '2026-11-27T10:00:00Z', 'Username': 'root', '_targets': [instance_id],
            'Connections': {'Connection': [{'InstanceId': instance_id, 'Status': 'Connected', 'StartTime': '2026-11-27T10:00:01Z'},
                                           {'InstanceId': instance_id, 'Status': 'Failed', 'ClosedReason': 'AgentNotOnline'}]}}


def test_ending_terminates_open_connections_only(make_endpoint, sdk):
    endpoint = make_endpoint({'cn-hangzhou': [open_session('s-open')] + make_sessions('cn-hangzhou', 3, seed=1)})
    client = sdk.client(endpoint)
    body = sdk.call(client, {'RegionId': 'cn-hangzhou', 'SessionId': 's-open'}, action=END)
    assert set(body) == {'RequestId'}
    listed = sdk.call(client, {'RegionId': 'cn-hangzhou', 'SessionId': 's-open'})['Sessions']['Session'][0]
    connections = listed['Connections']['Connection']
    assert [c['Status'] for c in connections] == ['Terminated', 'Failed']
    assert connections[0]['ClosedReason'] == 'SessionTerminated' and connections[0]['EndTime']
    assert connections[1]['ClosedReason'] == 'AgentNotOnline'
    stats = endpoint.stats()
    assert stats['ended'] == ['s-open'] and stats['end_calls'] == 1 and stats['calls'] == 1


@pytest.mark.parametrize('faults, query, code, status', [
    ({}, {'RegionId': 'cn-hangzhou', 'SessionId': 's-missing'}, 'InvalidSessionId.NotFound', 404),
    ({}, {'RegionId': 'cn-hangzhou'}, 'MissingParameter', 400),
    ({'end_forbidden': True}, {'RegionId': 'cn-hangzhou', 'SessionId': 's-open'}, 'Forbidden.RAM', 403),
    ({'end_failing_sessions': ['s-open']}, {'RegionId': 'cn-hangzhou', 'SessionId': 's-open'}, 'InternalError', 500),
])
def test_refusals(make_endpoint, sdk, faults, query, code, status):
    endpoint = make_endpoint({'cn-hangzhou': [open_session('s-open')]}, faults=faults)
    with pytest.raises(Exception) as raised:
        sdk.call(sdk.client(endpoint), query, action=END)
    assert raised.value.code == code and raised.value.status_code == status
    if code == 'Forbidden.RAM':
        assert raised.value.data['AccessDeniedDetail']['AuthAction'] == 'ecs:EndTerminalSession'
    assert endpoint.stats()['ended'] == []
