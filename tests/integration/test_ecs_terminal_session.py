"""ecs_terminal_session: list, end, list again, against the local ECS endpoint."""

from __future__ import annotations

from ecs_endpoint.data import make_sessions
from support.playbooks import connection


def open_session(session_id, instance_ids, username='root', minutes_ago=10, status='Connected'):
    """A raw session with one connection per instance, all in ``status``."""
    created = '2026-11-%02dT10:%02d:00Z' % (27, 59 - minutes_ago % 60)
    return {
        'SessionId': session_id, 'CreationTime': created, 'Username': username, 'ClientIP': '10.0.0.9',
        'PrincipalId': '20001', 'IdentityType': 'RAMUser', '_targets': list(instance_ids),
        'Connections': {'Connection': [{'InstanceId': instance_id, 'Status': status, 'StartTime': created}
                                       for instance_id in instance_ids]},
    }


def fleet(endpoint_factory, **faults):
    sessions = [
        open_session('s-root-a', ['i-a']),
        open_session('s-user-a', ['i-a'], username='ecs-user'),
        open_session('s-root-ab', ['i-a', 'i-b']),
        open_session('s-root-closed', ['i-a'], status='Terminated'),
        open_session('s-root-closing', ['i-a'], status='Terminating'),
        open_session('s-root-c', ['i-c']),
    ] + make_sessions('cn-hangzhou', 20, instance_ids=['i-x', 'i-y'], seed=5)
    return endpoint_factory({'cn-hangzhou': 0}, **faults), sessions


def start(endpoint_factory, **faults):
    endpoint, sessions = fleet(endpoint_factory, **faults)
    endpoint.add_sessions('cn-hangzhou', sessions)
    return endpoint


def run_end(runner, endpoint, check=False, **args):
    return runner.run_module(connection(endpoint, **args), check=check, module='alicloud.ecs.ecs_terminal_session').result


def run_info(runner, endpoint, **args):
    return runner.run_module(connection(endpoint, **args)).result


def ids(entries):
    return sorted(item['session_id'] for item in entries)


def test_by_selection_ends_open_root_sessions_then_nothing(runner, endpoint_factory):
    endpoint = start(endpoint_factory)
    result = run_end(runner, endpoint, instance_id=['i-a'], filters={'username': ['root']})
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert ids(result['ended']) == ['s-root-a', 's-root-ab']
    assert [e['other_instance_ids'] for e in result['ended'] if e['session_id'] == 's-root-ab'] == [['i-b']]
    assert all(e['request_id'] for e in result['ended'])
    assert ids(result['not_ended']) == ['s-root-closed', 's-root-closing']
    assert not result.get('skipped')  # the task itself ran: Ansible reads a truthy `skipped` as its status
    assert sorted(endpoint.stats()['ended']) == ['s-root-a', 's-root-ab']

    after = run_info(runner, endpoint, instance_id=['i-a', 'i-b'], filters={'active': True})
    assert ids(after['sessions']) == ['s-user-a']

    again = run_end(runner, endpoint, instance_id=['i-a'], filters={'username': ['root']})
    assert again['changed'] is False and again['ended'] == []
    assert endpoint.stats()['end_calls'] == 2


def test_check_mode_reports_and_writes_nothing(runner, endpoint_factory):
    endpoint = start(endpoint_factory)
    result = run_end(runner, endpoint, check=True, instance_id=['i-a'])
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert ids(result['ended']) == ['s-root-a', 's-root-ab', 's-user-a']
    assert endpoint.stats()['end_calls'] == 0


def test_by_id_with_closed_and_unknown_sessions(runner, endpoint_factory):
    endpoint = start(endpoint_factory)
    result = run_end(runner, endpoint, session_id=['s-root-c', 's-root-closed', 's-missing'])
    assert not result.get('failed'), result
    assert ids(result['ended']) == ['s-root-c']
    reasons = dict((item['session_id'], item) for item in result['not_ended'])
    assert reasons['s-root-closed']['reason'] == 'already closed'
    assert reasons['s-missing']['error_code'] == 'InvalidSessionId.NotFound' and reasons['s-missing']['request_id']
    assert result['failures'] == []


def test_a_refused_permission_stops_the_run_and_names_it(runner, endpoint_factory):
    endpoint = start(endpoint_factory, end_forbidden=True)
    result = run_end(runner, endpoint, instance_id=['i-a'])
    assert result['failed']
    assert 'ecs:EndTerminalSession' in result['msg'] and result['error_code'] == 'Forbidden.RAM'
    assert endpoint.stats()['end_calls'] == 1
    assert len(result['failures']) == 1 and result['ended'] == []
    assert len([s for s in result['not_ended'] if s['reason'].startswith('not attempted')]) == 2


def test_a_partial_failure_fails_and_says_what_was_ended(runner, endpoint_factory):
    endpoint = start(endpoint_factory, end_failing_sessions=['s-root-ab'])
    result = run_end(runner, endpoint, instance_id=['i-a'], filters={'username': ['root']}, retries=1)
    assert result['failed']
    assert ids(result['ended']) == ['s-root-a']
    assert ids(result['failures']) == ['s-root-ab'] and result['failures'][0]['error_code'] == 'InternalError'
    assert 'Ended by this run: s-root-a' in result['msg']


def test_selection_options_are_checked_before_any_call(runner, endpoint_factory):
    endpoint = start(endpoint_factory)
    result = run_end(runner, endpoint, instance_id=['i-a'], session_id=['s-1'])
    assert result['failed'] and 'mutually exclusive' in result['msg']
    result = run_end(runner, endpoint, filters={'username': ['root']})
    assert result['failed'] and 'session_id' in result['msg'] and 'instance_id' in result['msg']
    assert endpoint.stats()['calls'] == 0 and endpoint.stats()['end_calls'] == 0
