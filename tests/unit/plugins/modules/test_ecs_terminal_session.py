"""main() of ecs_terminal_session with the listing and the ending patched: no endpoint, no playbook."""

from __future__ import annotations

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.ending import Outcome
from ansible_collections.alicloud.ecs.plugins.modules import ecs_terminal_session
from ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session import main


@pytest.fixture
def ending(monkeypatch):
    """Patch end_sessions: every target is ended; the calls are recorded."""
    calls = []

    def end_sessions(client_for, policy, counter, targets, selected=(), check_mode=False, describe_error=str):
        calls.append(dict(targets=[item['session_id'] for item in targets], selected=selected, check_mode=check_mode))
        outcome = Outcome()
        outcome.ended = [{'session_id': item['session_id'], 'region_id': item['region_id']} for item in targets]
        return outcome

    monkeypatch.setattr(ecs_terminal_session, 'end_sessions', end_sessions)
    return calls


def test_ends_the_active_sessions_of_an_instance(run_module, listing, ending, make_session):
    listing.sessions = [make_session('s-1'), make_session('s-2', status='Disconnected')]
    result = run_module(main, instance_id=['i-1', 'i-1'], concurrency=3)
    assert not result['failed'] and result['changed']
    assert [item['session_id'] for item in result['ended']] == ['s-1']
    assert ending == [dict(targets=['s-1'], selected=['i-1'], check_mode=False)]
    assert listing.calls[0]['concurrency'] == 3 and [key.instance_id for key in listing.calls[0]['plan']] == ['i-1']


def test_check_mode_calls_nothing(run_module, listing, make_session):
    listing.sessions = [make_session('s-1')]
    result = run_module(main, session_id=['s-1'], _ansible_check_mode=True)
    assert not result['failed'] and result['changed']
    assert [item['session_id'] for item in result['ended']] == ['s-1'] and result['api_calls'] == 1


def test_a_listing_failure_ends_nothing(run_module, listing, ending, throttled):
    listing.error = throttled
    result = run_module(main, session_id=['s-1'])
    assert result['failed'] and result['msg'].startswith('Failed to list the sessions to end (region cn-hangzhou, session s-1)')
    assert result['ended'] == [] and result['not_ended'] == [] and result['failures'] == []
    assert result['error_code'] == 'Throttling' and ending == []


def test_bad_options_fail_before_the_listing(run_module, listing, ending):
    for args, text in [
            (dict(), 'one of the following is required: session_id, instance_id'),
            (dict(session_id=['s-1'], instance_id=['i-1']), 'mutually exclusive'),
            (dict(session_id=['s-1', '']), 'session_id: an empty ID selects nothing'),
            (dict(instance_id=['i-1'], concurrency=0), 'concurrency must be between 1 and 32, got 0'),
            (dict(instance_id=['i-1'], max_pages=0), 'max_pages must be at least 1'),
            (dict(instance_id=['i-1'], filters=['root']), "argument 'filters'"),
            (dict(instance_id=['i-1'], filters={'status': 'Conected'}), 'filters.status: unknown value conected')]:
        result = run_module(main, **args)
        assert result['failed'] and text in result['msg'], (args, result['msg'])
    assert listing.calls == [] and ending == []
