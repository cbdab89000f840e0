from __future__ import annotations

import random

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import RetryPolicy


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
