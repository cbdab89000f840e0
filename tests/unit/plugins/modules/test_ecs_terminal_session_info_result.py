"""return_keys and session_fields of ecs_terminal_session_info, with the listing patched."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import session_ids_by_instance, summary_by_instance
from ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_info import main

from conftest import CONNECTION, module_args


def printed(**args):
    """The exact text main() printed."""
    out = io.StringIO()
    with module_args(dict(CONNECTION, **args)), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main()
    return out.getvalue()


@pytest.fixture
def sessions(make_session):
    return [make_session('s-3', 'i-1'), make_session('s-2', 'i-2', status='Disconnected', creation_time='2024-01-18T09:15:46Z'),
            make_session('s-1', 'i-1', status='Failed', creation_time='2024-01-17T09:15:46Z')]


def test_the_default_result_is_the_one_it_always_was(listing, sessions):
    listing.sessions = sessions
    text = printed(instance_id=['i-1', 'i-2', 'i-3'], query='[].session_id')
    result = json.loads(text)
    # What the module printed before return_keys existed, built the way it built it, key order included.
    before = dict(changed=False, sessions=sessions, sessions_by_instance=session_ids_by_instance(sessions, ['i-1', 'i-2', 'i-3']),
                  summary_by_instance=summary_by_instance(sessions, ['i-1', 'i-2', 'i-3']), failed_regions=[],
                  request_ids=['REQ-cn-hangzhou'] * 3, api_calls=3, query_result=['s-3', 's-2', 's-1'])
    # ansible-core before 2.19 adds the module arguments, where the new options show: the one difference.
    result.pop('invocation', None)
    assert json.dumps(result) == json.dumps(before)
    explicit = printed(instance_id=['i-1', 'i-2', 'i-3'], query='[].session_id',
                       return_keys=['sessions', 'sessions_by_instance', 'summary_by_instance'])
    explicit = json.loads(explicit)
    explicit.pop('invocation', None)
    assert json.dumps(explicit) == json.dumps(before)


def test_summaries_and_query_are_the_same_whatever_is_returned(listing, sessions):
    listing.sessions = sessions
    full = json.loads(printed(query="[?username=='root'].connections[0].status"))
    for keys, fields in ((['summary_by_instance'], None), (['summary_by_instance', 'sessions'], ['session_id']),
                         (['summary_by_instance'], ['client_ip', 'connections'])):
        lean = json.loads(printed(return_keys=keys, session_fields=fields, query="[?username=='root'].connections[0].status"))
        assert lean['summary_by_instance'] == full['summary_by_instance']
        assert lean['query_result'] == full['query_result'] == ['Connected', 'Disconnected', 'Failed']
        assert set(lean) & {'sessions', 'sessions_by_instance', 'summary_by_instance'} == set(keys)
        assert lean['request_ids'] == full['request_ids'] and lean['failed_regions'] == []
    lean = json.loads(printed(return_keys=['sessions'], session_fields=['username', 'session_id']))
    assert lean['sessions'] == [{'session_id': item['session_id'], 'username': 'root'} for item in sessions]


def test_a_field_that_is_not_documented_is_refused_before_any_call(listing, sessions):
    listing.sessions = sessions
    result = json.loads(printed(session_fields=['session_id', 'password']))
    assert result['failed']
    assert result['msg'].startswith('session_fields: unknown name password; valid: session_id, region_id, creation_time')
    result = json.loads(printed(return_keys=['sessions', 'summaries']))
    assert result['failed'] and 'summaries' in result['msg'] and 'summary_by_instance' in result['msg']
    assert listing.calls == []
