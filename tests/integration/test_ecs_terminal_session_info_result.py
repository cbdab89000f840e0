"""return_keys and session_fields of ecs_terminal_session_info through ansible-playbook, against the local endpoint."""

from __future__ import annotations

import json

from support.playbooks import connection

QUERY = "[?username=='root'].session_id"


def test_the_lean_result_has_the_same_summaries_and_query(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 230})
    full = runner.run_module(connection(endpoint, query=QUERY)).result
    assert not full.get('failed'), full
    lean = runner.run_module(connection(endpoint, query=QUERY, return_keys=['summary_by_instance'])).result
    assert not lean.get('failed'), lean
    assert lean['summary_by_instance'] == full['summary_by_instance'] and lean['summary_by_instance']
    assert lean['query_result'] == full['query_result'] and lean['query_result']
    assert 'sessions' not in lean and 'sessions_by_instance' not in lean
    assert lean['api_calls'] == full['api_calls'] == 3
    assert len(json.dumps(lean['summary_by_instance'])) * 2 < len(json.dumps(full['sessions']))

    fields = runner.run_module(connection(endpoint, return_keys=['sessions'], session_fields=['session_id', 'username'])).result
    assert fields['sessions'] == [{key: item[key] for key in ('session_id', 'username') if key in item} for item in full['sessions']]


def test_an_undocumented_field_is_refused_before_any_call(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 10})
    result = runner.run_module(connection(endpoint, session_fields=['session_id', 'SessionId'])).result
    assert result.get('failed')
    assert 'session_fields: unknown name SessionId; valid: session_id, region_id' in result['msg']
    assert endpoint.stats()['calls'] == 0
