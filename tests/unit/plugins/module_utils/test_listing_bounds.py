"""The bounds of a whole listing: listing_timeout cuts off the calls in flight, max_pages, joined threads, options."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import (
    ListingFailure, listing_bounds_argument_spec, listing_bounds_problem, query_plan, run_plan)
from ansible_collections.alicloud.ecs.plugins.module_utils.pagination import PageLimitError
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import Deadline, ListingTimeout, RetryPolicy

# Far beyond anything these tests wait for: only reached when a blocked call is never released.
STUCK = 60


class FakeInFlight:
    """Stands for sdk.InFlight: a 'socket read' blocks until abort() shuts the connections down."""

    def __init__(self):
        self.cut = threading.Event()
        self.aborts = 0
        self.tracked_threads = set()

    def tracking(self):
        in_flight = self

        class Tracking:
            def __enter__(self):
                in_flight.tracked_threads.add(threading.current_thread().name)

            def __exit__(self, *exc):
                return False
        return Tracking()

    def abort(self):
        self.aborts += 1
        self.cut.set()

    def blocked_read(self):
        """A read of a body that trickles for ever: it only ends when the connection is cut."""
        if not self.cut.wait(STUCK):
            raise AssertionError('the read was never cut off')
        raise AlicloudError('Could not complete the request: connection broken', code='ConnectionError', retryable=True)


def fetcher(in_flight, deadline, trickling=('cn-hangzhou',), pages=1):
    """Each page goes through a retry policy bound to ``deadline``; the regions in ``trickling`` block in a read."""
    policy = RetryPolicy(retries=10, base_delay=0.01, max_delay=0.02)

    def fetch_page(key, token):
        def call():
            if key.region_id in trickling:
                in_flight.blocked_read()
            number = int(token or 0) + 1
            record = {'SessionId': 's-%s-%d' % (key.region_id, number), 'CreationTime': '2024-01-0%dT00:00:00Z' % number}
            return {'records': [record], 'next_token': str(number) if number < pages else None}
        return policy.call(call, deadline=deadline)
    return fetch_page


def pool_threads():
    return set(thread for thread in threading.enumerate() if thread.name.startswith('ThreadPoolExecutor'))


def test_the_deadline_cuts_off_a_blocked_call_and_joins_every_thread():
    before = pool_threads()
    in_flight, deadline = FakeInFlight(), Deadline(0.3)
    plan = query_plan(['cn-hangzhou'])
    with pytest.raises(ListingFailure) as raised:
        run_plan(plan, fetcher(in_flight, deadline), deadline=deadline, in_flight=in_flight)
    error = raised.value.error
    assert isinstance(error, ListingTimeout) and error.cause.code == 'ConnectionError'
    assert 'listing_timeout (0.3 seconds): region cn-hangzhou, 0 pages read' in error.message
    assert in_flight.aborts >= 1 and in_flight.tracked_threads
    assert pool_threads() == before, 'a worker thread outlived the listing'


def test_with_keep_going_the_regions_out_of_time_fail_and_the_others_are_complete():
    before = pool_threads()
    in_flight, deadline = FakeInFlight(), Deadline(0.3)
    plan = query_plan(['cn-hangzhou', 'cn-shanghai', 'cn-beijing'])
    listings, failures = run_plan(plan, fetcher(in_flight, deadline, pages=3), deadline=deadline, in_flight=in_flight,
                                  keep_going=True, concurrency=1)
    assert [failure.key.region_id for failure in failures] == ['cn-hangzhou', 'cn-shanghai', 'cn-beijing']
    assert all(isinstance(failure.error, ListingTimeout) for failure in failures) and listings == []
    # One worker: the queries after the cut-off start after the deadline and fail before any call.
    assert all('0 pages read' in failure.error.message for failure in failures)
    assert pool_threads() == before


def test_queries_that_finish_in_time_are_kept_when_another_runs_out_of_time():
    in_flight, deadline = FakeInFlight(), Deadline(0.3)
    plan = query_plan(['cn-hangzhou', 'cn-shanghai'])
    listings, failures = run_plan(plan, fetcher(in_flight, deadline, pages=2), deadline=deadline, in_flight=in_flight,
                                  keep_going=True, concurrency=2)
    assert [failure.key.region_id for failure in failures] == ['cn-hangzhou']
    assert [listing.key.region_id for listing in listings] == ['cn-shanghai'] and listings[0].pages == 2


def test_max_pages_fails_the_query_through_the_plan():
    in_flight, deadline = FakeInFlight(), Deadline(30)
    with pytest.raises(ListingFailure) as raised:
        run_plan(query_plan(['cn-shanghai']), fetcher(in_flight, deadline, trickling=(), pages=10**6), deadline=deadline,
                 max_pages=4, in_flight=in_flight)
    assert isinstance(raised.value.error, PageLimitError) and 'max_pages (4 pages' in raised.value.error.message
    assert in_flight.aborts == 0


def test_a_plan_within_its_bounds_is_untouched():
    in_flight, deadline = FakeInFlight(), Deadline(30)
    listings, failures = run_plan(query_plan(['cn-shanghai', 'cn-beijing']), fetcher(in_flight, deadline, trickling=(), pages=3),
                                  deadline=deadline, max_pages=3, in_flight=in_flight)
    assert failures == [] and [listing.pages for listing in listings] == [3, 3] and in_flight.aborts == 0


class InterruptedWait(Deadline):
    """A deadline far away; the waiting (main) thread is interrupted when it first asks how long to wait."""

    def remaining(self):
        if threading.current_thread() is threading.main_thread() and not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        return super(InterruptedWait, self).remaining()

    interrupted = False


def test_an_interrupt_cuts_off_the_calls_at_once_and_joins_the_threads():
    before = pool_threads()
    in_flight, deadline = FakeInFlight(), InterruptedWait(STUCK)
    with pytest.raises(KeyboardInterrupt):
        run_plan(query_plan(['cn-hangzhou']), fetcher(in_flight, deadline), deadline=deadline, in_flight=in_flight)
    assert in_flight.aborts == 1 and deadline.expired()
    assert pool_threads() == before


@pytest.mark.parametrize('params, problem', [
    ({'listing_timeout': 1800.0, 'max_pages': 1000}, None),
    ({'listing_timeout': 0.5, 'max_pages': 1}, None),
    ({'listing_timeout': 0.0, 'max_pages': 1}, 'listing_timeout must be more than 0 and at most 604800 seconds'),
    ({'listing_timeout': -1.0, 'max_pages': 1}, 'got -1.0'),
    ({'listing_timeout': float('nan'), 'max_pages': 1}, 'got nan'),
    ({'listing_timeout': float('inf'), 'max_pages': 1}, 'got inf'),
    ({'listing_timeout': 10.0, 'max_pages': 0}, 'max_pages must be at least 1 (the pages one query may read), got 0'),
    ({'listing_timeout': 10.0, 'max_pages': -5}, 'got -5'),
])
def test_the_options_are_checked(params, problem):
    found = listing_bounds_problem(params)
    if problem is None:
        assert found is None
    else:
        assert problem in found


def test_the_options_spec_has_the_documented_defaults():
    assert listing_bounds_argument_spec() == {'listing_timeout': {'type': 'float', 'default': 1800.0},
                                              'max_pages': {'type': 'int', 'default': 1000}}
