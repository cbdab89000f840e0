# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded retries with jittered exponential backoff, one call at a time.

The SDK's own retry settings are left unset (tea-openapi ignores RuntimeOptions'
and retries nothing without ``Config.retry_options``), so every retry the collection makes
happens here, is counted, and is bounded by the ``retries`` option, and by the deadline of the
listing it belongs to (``listing_timeout``): a wait never outlasts it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import time

from typing import Callable, Optional, TypeVar

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError

# Whether a failure is worth retrying is decided where the error is made (errors.RETRYABLE_CODES, read by sdk.py):
# here only AlicloudError.retryable counts.

T = TypeVar('T')

DEFAULT_RETRIES = 10
DEFAULT_BASE_DELAY = 1.0
DEFAULT_MAX_DELAY = 20.0
# A retry-after the service asks for is honoured, but never beyond this many seconds.
MAX_RETRY_AFTER = 60.0
# Seconds a whole listing (every query of a task or plugin call) may take: the listing_timeout option.
DEFAULT_LISTING_TIMEOUT = 1800.0


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

    def delay(self, retry_number: int, retry_after: Optional[float] = None) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        wait = ceiling * self.rng.uniform(0.5, 1.0)
        if retry_after:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
        return wait

    def call(self, operation: Callable[[], T], on_attempt: Optional[Callable[[], None]] = None,
             deadline: Optional['Deadline'] = None) -> T:
        """Run ``operation()`` until it succeeds, fails for good, or retries run out.

        ``on_attempt`` is called before every attempt, so callers can count API calls.
        An :class:`AlicloudError` without ``retryable`` is raised at once, anything else is
        not caught; the last failure is raised with ``attempts`` set when retries run out.
        With a :class:`Deadline`, no attempt starts after it and no wait would end after it:
        :class:`ListingTimeout` is raised instead, naming the failure it cuts short. A failure
        once the deadline has passed is reported as that timeout too: the call was most likely
        cut off because of it.
        """
        attempt = 0
        while True:
            attempt += 1
            if deadline is not None and deadline.expired():
                raise deadline.exceeded()
            if on_attempt is not None:
                on_attempt()
            try:
                return operation()
            except AlicloudError as error:
                if deadline is not None and deadline.expired():
                    raise deadline.exceeded(error)
                if not error.retryable or attempt > self.retries:
                    error.attempts = attempt
                    raise
                wait = self.delay(attempt, error.retry_after)
                if deadline is not None and wait >= deadline.remaining():
                    error.attempts = attempt
                    raise deadline.exceeded(error, waiting=wait)
                self.sleep(wait)


class ListingTimeout(AlicloudError):
    """The deadline of a listing passed: what was listed so far is incomplete. Never retried.

    ``cause`` is the failure that was about to be retried (or that the cut-off produced), if any;
    :meth:`locate` adds the query and the pages it had read, once the paginator knows them.
    """

    def __init__(self, seconds, cause=None, waiting=None):
        self.seconds = seconds
        self.cause = cause
        self.waiting = waiting
        self.query = None
        self.pages = None
        super().__init__(self._text(), code='ListingTimeout')

    def locate(self, query: str, pages: int) -> 'ListingTimeout':
        """Name the query (its label) and the pages it had read; returns the error."""
        self.query, self.pages = query, pages
        self.message = self._text()
        self.args = (self.message,)
        return self

    def _text(self):
        text = 'The listing did not finish within listing_timeout (%g seconds)' % self.seconds
        if self.query is not None:
            text += ': %s, %d page%s read' % (self.query, self.pages, '' if self.pages == 1 else 's')
        if self.waiting is not None:
            text += ', and the next retry would have waited %.1f seconds more' % self.waiting
        text += ('; the listing is incomplete, so no records are returned. Raise listing_timeout, or list fewer '
                 'regions, instances or sessions per task')
        if self.cause is not None:
            text += '. Last error: %s' % self.cause.message.rstrip('.')
        return text


class Deadline:
    """When a listing must be over, on a monotonic ``clock`` (injectable, as ``sleep`` and ``rng`` are above).

    One deadline covers a whole listing - every query of a task or plugin call. Retries consult
    it so that no wait outlasts it, the paginator before each page, and the thread that waits for
    the queries to decide when to cut off the calls still in flight.
    """

    def __init__(self, seconds=DEFAULT_LISTING_TIMEOUT, clock=time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._ends = clock() + seconds

    def remaining(self) -> float:
        """Seconds left; zero or less once the deadline has passed."""
        return self._ends - self.clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def stop(self) -> None:
        """End the deadline now (the listing was interrupted): no page or retry starts any more."""
        self._ends = self.clock()

    def exceeded(self, cause: Optional[AlicloudError] = None, waiting: Optional[float] = None) -> ListingTimeout:
        """The :class:`ListingTimeout` to raise."""
        return ListingTimeout(self.seconds, cause, waiting)
