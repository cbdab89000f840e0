# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded retries with jittered exponential backoff, one call at a time.

The SDK's own retry settings are left unset (tea-openapi ignores RuntimeOptions'
and retries nothing without ``Config.retry_options``), so every retry the collection makes
happens here, is counted, and is bounded by the ``retries`` option.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import time

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError

# Error codes that mean "try again later" on every Alibaba Cloud POP API.
RETRYABLE_CODES = frozenset((
    'Throttling',
    'Throttling.User',
    'Throttling.Api',
    'Throttling.Resource',
    'ServiceUnavailable',
    'InternalError',
    'UnknownError',
    'SignatureNonceUsed',
))

DEFAULT_RETRIES = 10
DEFAULT_BASE_DELAY = 1.0
DEFAULT_MAX_DELAY = 20.0
# A retry-after the service asks for is honoured, but never beyond this many seconds.
MAX_RETRY_AFTER = 60.0


def is_retryable_status(http_status):
    return http_status == 429 or (http_status is not None and 500 <= http_status < 600)


class RetryPolicy:
    """How often and how long to wait before trying a failed call again.

    The n-th retry waits ``min(max_delay, base_delay * 2 ** (n - 1))`` scaled by a random
    factor in [0.5, 1.0] ("equal jitter"), so concurrent callers spread out but never retry
    at once. With the defaults (10 retries, 1 s, 20 s) the waits add up to at least 65 s:
    enough for ECS, whose throttled APIs free up within the next minute.
    """

    def __init__(self, retries=DEFAULT_RETRIES, base_delay=DEFAULT_BASE_DELAY, max_delay=DEFAULT_MAX_DELAY,
                 sleep=time.sleep, rng=None):
        self.retries = retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep
        self.rng = rng or random.Random()

    def delay(self, retry_number, retry_after=None):
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        wait = ceiling * self.rng.uniform(0.5, 1.0)
        if retry_after:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
        return wait

    def call(self, operation, on_attempt=None):
        """Run ``operation()`` until it succeeds, fails for good, or retries run out.

        ``on_attempt`` is called before every attempt, so callers can count API calls.
        An :class:`AlicloudError` without ``retryable`` is raised at once, anything else is
        not caught; the last failure is raised with ``attempts`` set when retries run out.
        """
        attempt = 0
        while True:
            attempt += 1
            if on_attempt is not None:
                on_attempt()
            try:
                return operation()
            except AlicloudError as error:
                if not error.retryable or attempt > self.retries:
                    error.attempts = attempt
                    raise
                self.sleep(self.delay(attempt, error.retry_after))
