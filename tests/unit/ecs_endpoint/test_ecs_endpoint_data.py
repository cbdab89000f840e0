"""Seeded session data: shape, order, determinism, filters."""
from __future__ import annotations

import collections

from ecs_endpoint.data import default_instance_ids, make_sessions, public_view, session_matches

START = '2024-06-01T00:00:00Z'
STATUSES = {'Connecting', 'Connected', 'Disconnected', 'Terminating', 'Terminated', 'Failed'}


def test_deterministic_and_seed_sensitive():
    assert make_sessions('cn-hangzhou', 50, seed=3, start=START) == make_sessions('cn-hangzhou', 50, seed=3, start=START)
    assert make_sessions('cn-hangzhou', 50, seed=3, start=START) != make_sessions('cn-hangzhou', 50, seed=4, start=START)


def test_shape_order_and_mix():
    sessions = make_sessions('cn-hangzhou', 250, start=START)
    assert sessions[0]['CreationTime'] == START
    times = [s['CreationTime'] for s in sessions]
    assert all(a > b for a, b in zip(times, times[1:]))
    assert len({s['SessionId'] for s in sessions}) == 250
    assert all(s['SessionId'].startswith('s-hz-') for s in sessions)
    assert {s['Username'] for s in sessions} >= {'root', 'ecs-user', 'admin'}
    assert {s['IdentityType'] for s in sessions} == {'Account', 'RAMUser', 'AssumedRoleUser'}
    assert any('PortNumber' in s for s in sessions) and any('TargetServer' in s for s in sessions)
    conns = [c for s in sessions for c in s['Connections']['Connection']]
    statuses = collections.Counter(c['Status'] for c in conns)
    assert set(statuses) <= STATUSES and statuses['Failed'] and (statuses['Connected'] + statuses['Connecting']) >= 1
    assert statuses['Disconnected'] + statuses['Terminated'] > len(conns) // 2
    assert all(('FailedDetail' in c) == (c['Status'] == 'Failed') for c in conns)
    assert all('EndTime' in c and 'ClosedReason' in c for c in conns if c['Status'] in ('Disconnected', 'Terminated', 'Failed'))
    assert any(len(s['Connections']['Connection']) == 2 for s in sessions)
    assert any(not s['Connections']['Connection'] and s['_targets'] for s in sessions)
    assert {i for s in sessions for i in s['_targets']} == set(default_instance_ids('cn-hangzhou'))


def test_custom_instances_and_first_index():
    sessions = make_sessions('eu-west-9', 20, instance_ids=['i-a', 'i-b'], start=START, first_index=100)
    assert {i for s in sessions for i in s['_targets']} <= {'i-a', 'i-b'}
    assert sessions[0]['SessionId'] == 's-euwest9-000120' and sessions[-1]['SessionId'] == 's-euwest9-000101'


def test_public_view_and_filters():
    sessions = make_sessions('cn-hangzhou', 250, start=START)
    empty = next(s for s in sessions if not s['Connections']['Connection'])
    view = public_view(empty)
    assert '_targets' not in view and view['Connections'] == {'Connection': []}
    assert session_matches(empty, instance_id=empty['_targets'][0])
    assert not session_matches(empty, instance_id='i-nope')
    assert session_matches(empty, session_id=empty['SessionId']) and not session_matches(empty, session_id='s-x')
