"""The field names of DescribeTerminalSessions: the generic snake_case conversion gets every one right.

sessions.py once kept a table of these names, as if the conversion got some wrong; it does not, and this keeps it so.
"""

from __future__ import annotations

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import normalize_session, snake_case

DOCUMENTED = {
    'SessionId': 'session_id', 'CreationTime': 'creation_time', 'Username': 'username', 'ClientIP': 'client_ip',
    'PrincipalId': 'principal_id', 'IdentityType': 'identity_type', 'TargetServer': 'target_server',
    'PortNumber': 'port_number', 'RegionId': 'region_id',
    'InstanceId': 'instance_id', 'Status': 'status', 'StartTime': 'start_time', 'EndTime': 'end_time',
    'ClosedReason': 'closed_reason', 'FailedDetail': 'failed_detail',
}


@pytest.mark.parametrize('field, expected', sorted(DOCUMENTED.items()))
def test_each_documented_field_converts_to_its_documented_snake_case(field, expected):
    assert snake_case(field) == expected


def test_a_whole_record_gets_the_documented_names():
    connection = {name: 'x' for name in ('InstanceId', 'Status', 'StartTime', 'EndTime', 'ClosedReason', 'FailedDetail')}
    raw = {name: 'x' for name in ('SessionId', 'CreationTime', 'Username', 'ClientIP', 'PrincipalId', 'IdentityType',
                                  'TargetServer', 'RegionId')}
    raw.update(PortNumber=22, Connections={'Connection': [connection]})
    session = normalize_session(raw)
    assert set(session) == {DOCUMENTED[name] for name in raw if name != 'Connections'} | {'connections', 'instance_ids'}
    assert set(session['connections'][0]) == {DOCUMENTED[name] for name in connection}
