from __future__ import annotations

from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import Criteria
from ansible_collections.alicloud.ecs.plugins.module_utils.ending import (
    EXCLUDED, choose, end_sessions, split_by_criteria, state_of, unlisted)
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import CallCounter
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import RetryPolicy


def session(session_id, *connections):
    return {'session_id': session_id, 'region_id': 'cn-hangzhou',
            'instance_ids': sorted(set(instance for instance, _status in connections)),
            'connections': [{'instance_id': instance, 'status': status} for instance, status in connections]}


OPEN_AB = session('s-ab', ('i-a', 'Terminated'), ('i-b', 'Connected'))
CLOSING = session('s-closing', ('i-a', 'Terminating'))
CLOSED = session('s-closed', ('i-a', 'Disconnected'), ('i-a', 'Failed'))
NEVER = session('s-never')


def test_state_is_per_instance_when_instances_are_selected():
    assert state_of(OPEN_AB) == 'open'
    assert state_of(OPEN_AB, {'i-a'}) == 'closed'
    assert state_of(OPEN_AB, {'i-b'}) == 'open'
    assert state_of(CLOSING) == 'closing'
    assert state_of(CLOSED) == 'closed' and state_of(NEVER) == 'closed'


def test_choose_ends_only_open_sessions():
    targets, skipped = choose([OPEN_AB, CLOSING, CLOSED, NEVER], ['i-a', 'i-b'])
    assert [t['session_id'] for t in targets] == ['s-ab']
    assert [(s['session_id'], s['reason']) for s in skipped] == [
        ('s-closing', 'already closing (a connection is Terminating) on i-a'), ('s-closed', 'already closed on i-a'),
        ('s-never', 'already closed')]
    targets, skipped = choose([OPEN_AB], ['i-a'])
    assert targets == [] and skipped[0]['reason'] == 'already closed on i-a'


class FakeClient:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def call(self, action, query):
        self.calls.append((action, query['SessionId']))
        answer = self.answers.get(query['SessionId'], {'RequestId': 'R-' + query['SessionId']})
        if isinstance(answer, AlicloudError):
            raise answer
        return answer


def run(targets, answers, check_mode=False, selected=()):
    client = FakeClient(answers)
    outcome = end_sessions(lambda region: client, RetryPolicy(retries=1, sleep=lambda s: None), CallCounter(), targets,
                           selected, check_mode)
    return outcome, client


def test_unknown_sessions_are_skipped_with_the_service_code():
    outcome, _client = run([session('s-1'), session('s-2')],
                           {'s-1': AlicloudError('gone', code='InvalidSessionId.NotFound', http_status=404, request_id='R9')})
    assert [e['session_id'] for e in outcome.ended] == ['s-2'] and outcome.ended[0]['request_id'] == 'R-s-2'
    assert outcome.skipped[0]['error_code'] == 'InvalidSessionId.NotFound' and outcome.skipped[0]['request_id'] == 'R9'


def test_a_refusal_stops_further_calls():
    refused = AlicloudError('no', code='Forbidden.RAM', http_status=403)
    outcome, client = run([session('s-1'), session('s-2'), session('s-3')], {'s-1': refused})
    assert client.calls == [('EndTerminalSession', 's-1')]
    assert outcome.refused is refused and len(outcome.failures) == 1
    assert [s['session_id'] for s in outcome.skipped] == ['s-2', 's-3']


def test_other_failures_are_recorded_and_the_run_goes_on():
    outcome, client = run([session('s-1'), session('s-2')],
                          {'s-1': AlicloudError('boom', code='InternalError', http_status=500, retryable=True)})
    assert len(client.calls) == 3  # s-1 tried twice (one retry), then s-2
    assert [f['session_id'] for f in outcome.failures] == ['s-1'] and outcome.failures[0]['error_code'] == 'InternalError'
    assert [e['session_id'] for e in outcome.ended] == ['s-2']


def test_check_mode_calls_nothing_and_lists_other_instances():
    outcome, client = run([OPEN_AB], {}, check_mode=True, selected=['i-b'])
    assert client.calls == []
    assert outcome.ended == [{'session_id': 's-ab', 'region_id': 'cn-hangzhou', 'instance_ids': ['i-a', 'i-b'],
                              'other_instance_ids': ['i-a']}]


def test_split_by_criteria_reports_the_excluded_ones():
    admin = dict(OPEN_AB, username='admin')
    root = dict(CLOSING, username='root')
    selected, excluded = split_by_criteria([admin, root], Criteria({'username': ['root']}))
    assert selected == [root]
    assert [(item['session_id'], item['reason']) for item in excluded] == [('s-ab', EXCLUDED)]
    assert split_by_criteria([admin, root], Criteria({})) == ([admin, root], [])
    assert split_by_criteria([admin], None) == ([admin], [])


def test_unlisted_ids_are_tried_only_without_filters():
    listed = [OPEN_AB]
    tried, entries = unlisted(['s-ab', 's-x'], listed, ['cn-hangzhou', 'cn-shanghai'])
    assert [(item['session_id'], item['region_id']) for item in tried] == [('s-x', 'cn-hangzhou'), ('s-x', 'cn-shanghai')]
    assert entries == []
    tried, entries = unlisted(['s-ab', 's-x'], listed, ['cn-hangzhou'], check_mode=True)
    assert tried == [] and [(item['session_id'], item['would_try']) for item in entries] == [('s-x', True)]
    assert entries[0]['reason'].startswith('would be tried')
    for check_mode in (False, True):
        tried, entries = unlisted(['s-x'], listed, ['cn-hangzhou'], filtered=True, check_mode=check_mode)
        assert tried == [] and entries[0]['reason'].startswith('not found in the listing') and 'would_try' not in entries[0]
