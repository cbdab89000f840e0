from __future__ import annotations

import random

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import Deadline, ListingTimeout, RetryPolicy


def flaky(failures, error_factory):
    state = {'calls': 0}

    def operation():
        state['calls'] += 1
        if state['calls'] <= failures:
            raise error_factory()
        return 'done'
    return operation, state


def throttled():
    return AlicloudError('slow down', code='Throttling.User', http_status=400, retryable=True)


def test_retries_until_success_and_counts_every_attempt():
    sleeps, attempts = [], []
    policy = RetryPolicy(retries=5, base_delay=1, max_delay=20, sleep=sleeps.append, rng=random.Random(1))
    operation, state = flaky(5, throttled)
    assert policy.call(operation, on_attempt=lambda: attempts.append(1)) == 'done'
    assert state['calls'] == 6 == len(attempts)
    assert len(sleeps) == 5
    for number, wait in enumerate(sleeps, start=1):
        ceiling = min(20, 2 ** (number - 1))
        assert ceiling * 0.5 <= wait <= ceiling


def test_gives_up_after_the_bound_with_the_attempt_count():
    policy = RetryPolicy(retries=2, sleep=lambda s: None)
    operation, state = flaky(10, throttled)
    with pytest.raises(AlicloudError) as raised:
        policy.call(operation)
    assert state['calls'] == 3
    assert raised.value.attempts == 3
    assert 'attempts: 3' in str(raised.value)


def test_non_retryable_errors_fail_at_once():
    policy = RetryPolicy(retries=5, sleep=lambda s: pytest.fail('must not wait'))
    operation, state = flaky(1, lambda: AlicloudError('bad key', code='InvalidAccessKeyId.NotFound'))
    with pytest.raises(AlicloudError):
        policy.call(operation)
    assert state['calls'] == 1


def test_other_exceptions_are_not_caught():
    policy = RetryPolicy(retries=5, sleep=lambda s: pytest.fail('must not wait'))
    with pytest.raises(KeyError):
        policy.call(lambda: {}['missing'])


def test_retry_after_is_honoured_and_bounded():
    policy = RetryPolicy(base_delay=0.01, max_delay=0.02, rng=random.Random(0))
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=600) == 60.0


def test_default_waits_outlast_the_one_minute_throttle_window():
    policy = RetryPolicy(rng=random.Random(0))
    policy.rng.uniform = lambda low, high: low  # the shortest waits jitter can produce
    assert sum(policy.delay(n) for n in range(1, policy.retries + 1)) >= 60


class FakeClock:
    """A monotonic clock that only moves when told to (or when the fake sleep waits)."""

    def __init__(self, now=100.0):
        self.now = now
        self.sleep_calls = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleep_calls.append(seconds)
        self.now += seconds


def clock_and_policy(retries=10):
    clock = FakeClock()
    policy = RetryPolicy(retries=retries, base_delay=1, max_delay=20, sleep=clock.sleep, rng=random.Random(3))
    return clock, policy


def test_a_retry_wait_never_sleeps_past_the_deadline():
    clock, policy = clock_and_policy()
    deadline = Deadline(10, clock=clock)
    operation, state = flaky(100, throttled)
    with pytest.raises(ListingTimeout) as raised:
        policy.call(operation, deadline=deadline)
    # Waits of about 1, 2, 4 s fit in 10 s; the next (about 8 s) would end after it and is not slept.
    assert clock.now <= 110 and sum(clock.sleep_calls) < 10
    assert state['calls'] == len(clock.sleep_calls) + 1
    error = raised.value
    assert (error.code, error.retryable, error.cause.code) == ('ListingTimeout', False, 'Throttling.User')
    assert 'listing_timeout (10 seconds)' in error.message and 'would have waited' in error.message
    assert 'Last error: slow down' in error.message


def test_no_attempt_starts_after_the_deadline_and_a_late_failure_is_the_timeout():
    clock, policy = clock_and_policy()
    deadline = Deadline(5, clock=clock)

    def cut_off():
        clock.now += 6  # the call was still running when the deadline passed (its socket shut down)
        raise AlicloudError('connection broken', code='ConnectionError', retryable=True)

    with pytest.raises(ListingTimeout) as raised:
        policy.call(cut_off, deadline=deadline)
    assert raised.value.cause.code == 'ConnectionError' and clock.sleep_calls == []
    attempts = []
    with pytest.raises(ListingTimeout):
        policy.call(lambda: pytest.fail('must not be called'), on_attempt=lambda: attempts.append(1), deadline=deadline)
    assert attempts == []


def test_a_non_retryable_failure_before_the_deadline_is_itself():
    clock, policy = clock_and_policy()
    operation, _state = flaky(1, lambda: AlicloudError('bad key', code='InvalidAccessKeyId.NotFound'))
    with pytest.raises(AlicloudError) as raised:
        policy.call(operation, deadline=Deadline(5, clock=clock))
    assert raised.value.code == 'InvalidAccessKeyId.NotFound'


def test_a_deadline_can_be_stopped_and_names_the_query_once_located():
    clock = FakeClock()
    deadline = Deadline(30, clock=clock)
    assert deadline.remaining() == 30 and not deadline.expired()
    clock.now += 29.5
    assert deadline.remaining() == 0.5
    deadline.stop()
    assert deadline.expired()
    error = deadline.exceeded().locate('region cn-hangzhou', 1)
    assert str(error).startswith('The listing did not finish within listing_timeout (30 seconds): region cn-hangzhou, '
                                 '1 page read; the listing is incomplete, so no records are returned')
    assert 'error code: ListingTimeout' in str(error)
