"""main() of ecs_terminal_session_info with the listing patched: no endpoint, no playbook."""

from __future__ import annotations

from ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_info import main


def test_lists_and_summarises(run_module, listing, make_session):
    listing.sessions = [make_session('s-1', 'i-1'), make_session('s-2', 'i-2', status='Disconnected')]
    result = run_module(main, instance_id=['i-1', ' i-1 ', 'i-2'], concurrency=4, max_pages=7)
    assert not result['failed'] and not result['changed']
    assert [item['session_id'] for item in result['sessions']] == ['s-1', 's-2']
    assert result['sessions_by_instance'] == {'i-1': ['s-1'], 'i-2': ['s-2']}
    assert result['request_ids'] == ['REQ-cn-hangzhou', 'REQ-cn-hangzhou'] and result['failed_regions'] == []
    call, = listing.calls
    assert [key.instance_id for key in call['plan']] == ['i-1', 'i-2']
    assert call['concurrency'] == 4 and call['max_pages'] == 7 and call['listing_timeout'] == 1800.0
    assert not call['keep_going'] and call['start'] is None


def test_filters_and_query(run_module, listing, make_session):
    listing.sessions = [make_session('s-1'), make_session('s-2', status='Disconnected')]
    result = run_module(main, filters={'status': 'connected'}, query='[].session_id')
    assert result['query_result'] == ['s-1']
    assert listing.calls[0]['criteria'].match(make_session('s-3'))


def test_check_mode_lists_as_usual(run_module, listing, make_session):
    listing.sessions = [make_session('s-1')]
    result = run_module(main, _ansible_check_mode=True)
    assert not result['failed'] and not result['changed'] and len(result['sessions']) == 1


def test_a_listing_failure_fails_the_task_with_the_error_details(run_module, listing, throttled):
    listing.error = throttled
    result = run_module(main)
    assert result['failed']
    assert result['msg'].startswith('Failed to list terminal sessions (region cn-hangzhou)')
    assert result['error_code'] == 'Throttling' and result['request_id'] == 'REQ-THROTTLED'
    assert result['api_calls'] == 2 and result['region_id'] == 'cn-hangzhou'


def test_bad_options_fail_before_the_listing(run_module, listing):
    for args, text in [
            (dict(concurrency=33), 'concurrency must be between 1 and 32, got 33'),
            (dict(max_results=0), 'max_results must be between 1 and 100, got 0'),
            (dict(max_items=0), 'max_items must be at least 1, got 0'),
            (dict(session_id=['s-1', ' ']), 'session_id: an empty ID would not filter anything'),
            (dict(max_items=2, instance_id=['i-1', 'i-2']), 'max_items and next_token need a single query'),
            (dict(next_token='AAAA'), 'next_token cannot be used'),
            (dict(filters=True), "argument 'filters'"),
            (dict(filters={'colour': 'red'}), 'filters.colour'),
            (dict(filters={'active': 'maybe'}), "found in 'filters'"),
            (dict(filters={'created_after': 'last tuesday'}), 'filters.created_after'),
            (dict(listing_timeout=0), 'listing_timeout must be more than 0')]:
        result = run_module(main, **args)
        assert result['failed'] and text in result['msg'], (args, result['msg'])
    assert listing.calls == []
