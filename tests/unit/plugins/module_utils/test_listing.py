"""listing.py on its own: the query plan, each query walked and checked, the plan run, the listings merged."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import (
    ACTION, ListingFailure, checked_session, list_sessions, merge_listings, query_plan, run_plan)
from ansible_collections.alicloud.ecs.plugins.module_utils.pagination import Listing, ListingKey
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import RetryPolicy


def raw(session_id, created='2026-01-01T00:00:00Z', instance_id='i-1', **fields):
    record = {'SessionId': session_id, 'CreationTime': created, 'Username': 'root',
              'Connections': {'Connection': [{'InstanceId': instance_id, 'Status': 'Connected'}]}}
    record.update(fields)
    return record


class FakeClient:
    """Answers DescribeTerminalSessions from ``pages``: region -> list of pages (lists of raw records)."""

    def __init__(self, pages, failures):
        self.pages = pages
        self.failures = failures
        self.queries = []
        self._lock = threading.Lock()

    def call(self, action, query):
        assert action == ACTION
        with self._lock:
            self.queries.append(dict(query))
            failure = self.failures.get(query['RegionId'])
            if failure is not None:
                failure['left'] -= 1
                if failure['left'] >= 0:
                    raise failure['error']
        pages = self.pages.get(query['RegionId'], [[]])
        number = int(query['NextToken'] or 0)
        body = {'RequestId': 'R-%s-%d' % (query['RegionId'], number), 'Sessions': {'Session': pages[number]}}
        if number + 1 < len(pages):
            body['NextToken'] = str(number + 1)
        return body


class FakeConnection:
    """What list_sessions needs of a Connection: a client per region and a retry policy (no waiting)."""

    def __init__(self, pages, failures=None):
        self.client = FakeClient(pages, failures or {})
        self.regions_asked = []

    def client_for(self, region_id, pool_size=8):
        self.regions_asked.append((region_id, pool_size))
        return self.client

    def retry_policy(self):
        return RetryPolicy(retries=2, base_delay=0, max_delay=0, sleep=lambda seconds: None)


def test_the_plan_is_region_by_instance_by_session():
    plan = query_plan(['r1', 'r2'], ['i-1', 'i-2'], ['s-1'], page_size=50)
    assert [(key.region_id, key.instance_id, key.session_id, key.page_size) for key in plan] == [
        ('r1', 'i-1', 's-1', 50), ('r1', 'i-2', 's-1', 50), ('r2', 'i-1', 's-1', 50), ('r2', 'i-2', 's-1', 50)]
    assert [(key.region_id, key.instance_id, key.session_id) for key in query_plan(['r1'])] == [('r1', None, None)]


def test_checked_session_normalises_and_turns_numbers_into_text():
    session = checked_session(raw('s-1', Username=1001, Connections={'Connection': [{'InstanceId': 'i-9', 'Status': 7}]}),
                              'cn-hangzhou', 'i-1')
    assert session['username'] == '1001' and session['connections'][0]['status'] == '7'
    assert session['region_id'] == 'cn-hangzhou' and session['instance_ids'] == ['i-1', 'i-9']


@pytest.mark.parametrize('record, message', [
    ({'CreationTime': '2026-01-01T00:00:00Z'}, 'without a SessionId'),
    (raw('s-1', Username=['root']), 'username of session s-1 is a list'),
    (raw('s-1', Connections={'Connection': [{'InstanceId': 'i-1', 'Status': {'a': 1}}]}), 'status of a connection'),
])
def test_checked_session_refuses_what_cannot_be_a_session(record, message):
    with pytest.raises(TypeError, match=message):
        checked_session(record, 'cn-hangzhou')


def listing(region_id, *sessions):
    result = Listing(ListingKey(region_id))
    result.items.extend(sessions)
    return result


def test_merge_listings_keeps_each_session_once_with_all_its_instances_newest_first():
    old = {'region_id': 'r1', 'session_id': 's-1', 'creation_time': '2026-01-01', 'instance_ids': ['i-1']}
    again = dict(old, instance_ids=['i-2'])
    new = {'region_id': 'r1', 'session_id': 's-2', 'creation_time': '2026-01-02', 'instance_ids': ['i-1']}
    other_region = dict(old, region_id='r2')
    merged = merge_listings([listing('r1', old, new), listing('r1', again), listing('r2', other_region)])
    assert [(s['region_id'], s['session_id'], s['instance_ids']) for s in merged] == [
        ('r1', 's-2', ['i-1']), ('r1', 's-1', ['i-1', 'i-2']), ('r2', 's-1', ['i-1'])]
    assert old['instance_ids'] == ['i-1'], 'the records given are not changed in place'


def test_run_plan_walks_every_query_in_plan_order():
    pages = {'r1': [[raw('s-1')], [raw('s-2')]], 'r2': [[raw('s-3')]]}
    client = FakeClient(pages, {})

    def fetch_page(key, token):
        body = client.call(ACTION, {'RegionId': key.region_id, 'NextToken': token})
        return {'records': body['Sessions']['Session'], 'next_token': body.get('NextToken'), 'request_id': body['RequestId']}

    listings, failures = run_plan(query_plan(['r1', 'r2']), fetch_page, concurrency=2)
    assert failures == []
    assert [[s['session_id'] for s in item.items] for item in listings] == [['s-1', 's-2'], ['s-3']]
    assert listings[0].request_ids == ['R-r1-0', 'R-r1-1']


def test_run_plan_raises_the_first_failure_or_returns_each_with_keep_going():
    def fetch_page(key, token):
        if key.region_id == 'bad':
            raise AlicloudError('refused', code='Forbidden')
        return {'records': [raw('s-%s' % key.region_id)], 'next_token': None}

    with pytest.raises(ListingFailure) as caught:
        run_plan(query_plan(['bad', 'good']), fetch_page, concurrency=1)
    assert caught.value.key.region_id == 'bad' and caught.value.error.code == 'Forbidden'
    listings, failures = run_plan(query_plan(['bad', 'good']), fetch_page, concurrency=1, keep_going=True)
    assert [item.key.region_id for item in listings] == ['good'] and [f.key.region_id for f in failures] == ['bad']


def test_list_sessions_pages_retries_and_merges_through_the_connection():
    throttled = AlicloudError('slow down', code='Throttling', retryable=True)
    connection = FakeConnection({'r1': [[raw('s-1', '2026-01-01T00:00:00Z')], [raw('s-2', '2026-01-03T00:00:00Z')]],
                                 'r2': [[raw('s-3', '2026-01-02T00:00:00Z')]]},
                                failures={'r2': {'left': 1, 'error': throttled}})
    result = list_sessions(connection, query_plan(['r1', 'r2'], page_size=10), concurrency=3)
    assert [s['session_id'] for s in result.sessions] == ['s-2', 's-3', 's-1']
    assert result.api_calls == 4 and result.failures == [] and result.failed_regions == []
    assert sorted(result.request_ids) == ['R-r1-0', 'R-r1-1', 'R-r2-0']
    assert {query['MaxResults'] for query in connection.client.queries} == {10}
    assert {pool_size for _region, pool_size in connection.regions_asked} == {3}


def test_list_sessions_leaves_out_a_failed_region_with_keep_going_and_counts_calls_on_failure():
    denied = AlicloudError('denied', code='Forbidden.RAM')
    pages = {'r1': [[raw('s-1')]], 'r2': [[raw('s-2')]]}
    result = list_sessions(FakeConnection(pages, failures={'r2': {'left': 1, 'error': denied}}),
                           query_plan(['r1', 'r2']), keep_going=True)
    assert [s['session_id'] for s in result.sessions] == ['s-1'] and result.failed_regions == ['r2']
    with pytest.raises(ListingFailure) as caught:
        list_sessions(FakeConnection(pages, failures={'r1': {'left': 1, 'error': denied}}), query_plan(['r1']))
    assert caught.value.api_calls == 1 and caught.value.error.code == 'Forbidden.RAM'
