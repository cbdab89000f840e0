# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""List terminal sessions: one query plan, each query paginated, queries run concurrently.

Options -> query plan (region x instance ID x session ID) -> each query walked page by page,
each page retried on its own -> records normalised and filtered as they arrive ->
deduplicated by (region, session ID) -> newest first.

The whole plan is bounded by one deadline (``listing_timeout``) and each query by ``max_pages``.
When the deadline passes, the thread that waits for the queries shuts down the sockets of the
calls still in flight (a body trickled a byte at a time never trips ``read_timeout``, which
bounds each socket read), and the worker threads are joined before the listing returns.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import threading

from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout, wait
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError, excerpt
from ansible_collections.alicloud.ecs.plugins.module_utils.pagination import DEFAULT_MAX_PAGES, Listing, ListingKey, ResumePoint, paginate
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import DEFAULT_LISTING_TIMEOUT, Deadline, RetryPolicy
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import newest_first, normalize_session, unwrap_list

ACTION = 'DescribeTerminalSessions'
# fetch_page(key, service token) -> {'records': [...], 'next_token': ..., 'request_id': ...}
FetchPage = Callable[[ListingKey, Optional[str]], Dict[str, Any]]
# listing_timeout above a week is a mistake (and infinity or NaN cannot make a deadline).
MAX_LISTING_TIMEOUT = 7 * 24 * 3600.0


def listing_bounds_argument_spec():
    """``listing_timeout`` and ``max_pages`` (documented in the ``alicloud.ecs.alicloud.listing`` doc fragment)."""
    return dict(
        listing_timeout=dict(type='float', default=DEFAULT_LISTING_TIMEOUT),
        max_pages=dict(type='int', default=DEFAULT_MAX_PAGES),
    )


def listing_bounds_problem(params):
    """What is wrong with the ``listing_timeout`` and ``max_pages`` of validated ``params``, or None."""
    timeout, max_pages = params.get('listing_timeout'), params.get('max_pages')
    if timeout is not None and not (isinstance(timeout, (int, float)) and 0 < timeout <= MAX_LISTING_TIMEOUT):
        return ('listing_timeout must be more than 0 and at most %d seconds (the time one whole listing may take), got %s'
                % (MAX_LISTING_TIMEOUT, timeout))
    if max_pages is not None and max_pages < 1:
        return 'max_pages must be at least 1 (the pages one query may read), got %d' % max_pages
    return None


def listing_argument_spec(page_size=True):
    """The listing options: ``concurrency``, ``max_results`` (with ``page_size``), ``listing_timeout`` and ``max_pages``.

    Shared by the modules and the controller-side plugins (documented in the ``alicloud.ecs.alicloud.listing`` doc
    fragment, and in each module for ``concurrency`` and ``max_results``); checked by :func:`listing_problem`.
    """
    spec = dict(concurrency=dict(type='int', default=8))
    if page_size:
        spec['max_results'] = dict(type='int', default=100)
    spec.update(listing_bounds_argument_spec())
    return spec


# The inclusive ranges of the listing options that have one, in the order they are checked.
LISTING_RANGES = (('concurrency', 1, 32), ('max_results', 1, 100))


def listing_problem(params):
    """What is wrong with the listing options of validated ``params`` (see :func:`listing_argument_spec`), or None.

    An option absent from ``params`` (``max_results`` where there are no pages to size) is not checked.
    """
    for name, low, high in LISTING_RANGES:
        value = params.get(name)
        if value is not None and not low <= value <= high:
            return '%s must be between %d and %d, got %d' % (name, low, high, value)
    return listing_bounds_problem(params)


def listing_bounds(params):
    """The keyword arguments of :func:`list_sessions` for the bounds in ``params``."""
    return dict(listing_timeout=params['listing_timeout'], max_pages=params['max_pages'])


class CallCounter:
    """API calls made, retries included; safe to share between threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0

    def increment(self):
        with self._lock:
            self.count += 1


class ListingFailure(Exception):
    """One query of the plan failed; ``error`` is the :class:`AlicloudError`, ``key`` the query.

    ``api_calls`` counts the calls made by the whole plan until it stopped.
    """

    def __init__(self, key, error):
        super().__init__(str(error))
        self.key = key
        self.error = error
        self.api_calls = None


class ListingResult:
    """Every session of a plan once, newest first, with the listings behind them and the calls made.

    ``failures`` lists the :class:`ListingFailure` of each failed query (only when the plan was
    run with ``keep_going``); ``failed_regions`` the regions they belong to, whose sessions are
    all left out so no region is presented incomplete.
    """

    def __init__(self, sessions, listings, api_calls, failures=()):
        self.sessions = sessions
        self.listings = listings
        self.api_calls = api_calls
        self.failures = list(failures)

    @property
    def failed_regions(self) -> List[str]:
        return sorted({failure.key.region_id for failure in self.failures})

    @property
    def request_ids(self) -> List[str]:
        return [request_id for listing in self.listings for request_id in listing.request_ids]


def query_plan(region_ids: Iterable[str], instance_ids: Optional[Sequence[str]] = None,
               session_ids: Optional[Sequence[str]] = None, page_size: int = 100) -> List[ListingKey]:
    """One :class:`ListingKey` per region x instance ID x session ID."""
    return [ListingKey(region_id, instance_id, session_id, page_size)
            for region_id in region_ids
            for instance_id in (instance_ids or [None])
            for session_id in (session_ids or [None])]


def page_fetcher(client_for: Callable[[str], Any], policy: RetryPolicy, counter: CallCounter,
                 deadline: Optional[Deadline] = None) -> FetchPage:
    """A ``fetch_page(key, token)`` that calls the service with retries (within ``deadline``) and unwraps the page."""
    def fetch_page(key, token):
        query = {'RegionId': key.region_id, 'MaxResults': key.page_size, 'InstanceId': key.instance_id,
                 'SessionId': key.session_id, 'NextToken': token}
        client = client_for(key.region_id)
        body = policy.call(lambda: client.call(ACTION, query), on_attempt=counter.increment, deadline=deadline)
        try:
            records = unwrap_list(body.get('Sessions') or None, 'Session')
        except TypeError as error:
            raise malformed('Sessions: %s' % error, body)
        next_token = body.get('NextToken')
        if next_token is not None and not isinstance(next_token, str):
            raise malformed('NextToken is a %s, not a string' % type(next_token).__name__, body)
        return {'records': records, 'next_token': next_token, 'request_id': body.get('RequestId')}
    return fetch_page


def malformed(detail: str, body: Any = None) -> AlicloudError:
    """The error for an answer that is JSON but not the shape of a DescribeTerminalSessions page."""
    request_id = body.get('RequestId') if isinstance(body, dict) else None
    return AlicloudError('The service answered with a page this module cannot read: %s' % excerpt(detail),
                         code='MalformedResponse', request_id=request_id if isinstance(request_id, str) else None)


_TEXT_FIELDS = ('session_id', 'creation_time', 'username', 'client_ip', 'principal_id', 'identity_type', 'target_server')
_CONNECTION_TEXT_FIELDS = ('instance_id', 'status', 'start_time', 'end_time', 'closed_reason', 'failed_detail')


def _as_text(record, name, what):
    """Numbers become text; anything else that is not text cannot be a field the service documents as a string."""
    value = record[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        record[name] = str(value)
    elif not isinstance(value, str):
        raise TypeError(f'{name} of {what} is a {type(value).__name__}, not a string')


def checked_session(raw: Any, region_id: str, queried_instance_id: Optional[str] = None) -> Dict[str, Any]:
    """:func:`normalize_session` for a record straight from the service; TypeError when it cannot be one."""
    session = normalize_session(raw, region_id, queried_instance_id)
    if not isinstance(session.get('session_id'), str) or not session['session_id']:
        raise TypeError('a session record without a SessionId')
    for name in _TEXT_FIELDS:
        if not isinstance(session.get(name, ''), str):  # plain text, the usual case, needs no further look
            _as_text(session, name, f"session {session['session_id']}")
    for instance_id in session['instance_ids']:
        if not isinstance(instance_id, str):
            raise TypeError(f"an instance ID of session {session['session_id']} is not a string")
    for connection in session['connections']:
        if not isinstance(connection, dict):
            raise TypeError(f"a connection of session {session['session_id']} is not a dictionary")
        for name in _CONNECTION_TEXT_FIELDS:
            if not isinstance(connection.get(name, ''), str):
                _as_text(connection, name, f"a connection of session {session['session_id']}")
    return session


def run_listing(key: ListingKey, fetch_page: FetchPage, criteria: Any = None, max_items: Optional[int] = None,
                start: Optional[ResumePoint] = None, deadline: Optional[Deadline] = None,
                max_pages: Optional[int] = None) -> Listing:
    """Walk one query; records come back normalised, filtered and unique within the query."""
    seen = set()

    def accept(raw):
        try:
            session = checked_session(raw, key.region_id, key.instance_id)
        except TypeError as error:
            raise malformed(str(error))
        if session['session_id'] in seen:
            return None
        seen.add(session['session_id'])
        if criteria and not criteria.match(session):
            return None
        return session

    return paginate(key, fetch_page, accept, max_items=max_items, start=start, deadline=deadline, max_pages=max_pages)


class _NoCalls:
    """Stands for :class:`sdk.InFlight` when nothing is to be cut off (a ``fetch_page`` that makes no call)."""

    @contextlib.contextmanager
    def tracking(self):
        yield

    def abort(self):
        pass


def run_plan(plan: Sequence[ListingKey], fetch_page: FetchPage, criteria: Any = None, max_items: Optional[int] = None,
             start: Optional[ResumePoint] = None, concurrency: int = 8, keep_going: bool = False,
             deadline: Optional[Deadline] = None, max_pages: Optional[int] = None,
             in_flight: Any = None) -> Tuple[List[Listing], List[ListingFailure]]:
    """Run every query of ``plan``, at most ``concurrency`` at once, all within ``deadline``.

    Returns the listings in plan order and the failures. By default the first failure stops the
    queries not yet started and is raised as :class:`ListingFailure`; with ``keep_going`` every
    query runs and each failure is returned instead. When ``deadline`` passes, the calls still in
    flight are cut off (``in_flight.abort()``, an :class:`sdk.InFlight` the calls were tracked in)
    and each unfinished query fails with a :class:`ListingTimeout`. No worker thread outlives the call.
    """
    deadline = deadline if deadline is not None else Deadline()
    in_flight = in_flight if in_flight is not None else _NoCalls()

    def run(key):
        with in_flight.tracking():
            try:
                return run_listing(key, fetch_page, criteria, max_items, start, deadline, max_pages)
            except Exception as error:  # pylint: disable=broad-except
                raise ListingFailure(key, error)

    listings, failures = [], []
    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(plan))))
    futures = [pool.submit(run, key) for key in plan]
    interrupted = False
    try:
        for future in futures:
            try:
                listings.append(_outcome(future, deadline, in_flight))
            except ListingFailure as failure:
                if not keep_going:
                    raise
                failures.append(failure)
    except ListingFailure:
        raise
    except BaseException:  # not a failed query (an interrupt): nothing is waited for
        interrupted = True
        raise
    finally:
        _finish(pool, futures, deadline, in_flight, interrupted)
    return listings, failures


def _outcome(future, deadline, in_flight):
    """The result of one query; once ``deadline`` passes, the calls in flight are cut off and it is awaited."""
    try:
        return future.result(timeout=max(0.0, deadline.remaining()))
    except FutureTimeout:
        in_flight.abort()
        # The query ends promptly now: its socket reads fail and no retry starts after the deadline.
        return future.result()


def _finish(pool, futures, deadline, in_flight, interrupted):
    """Cancel the queries not started, let the running ones end (within ``deadline``) and join every thread."""
    for future in futures:
        future.cancel()
    running = [future for future in futures if not future.done()]
    if running and interrupted:
        deadline.stop()
    if running and (interrupted or wait(running, timeout=max(0.0, deadline.remaining())).not_done):
        in_flight.abort()
    pool.shutdown(wait=True)


def merge_listings(listings: Iterable[Listing]) -> List[Dict[str, Any]]:
    """Every session once, newest first; a session seen by several queries keeps all its instance IDs.

    Records are not changed in place (they may be the caller's): a merged one is a new dict.
    """
    merged = {}
    for listing in listings:
        for session in listing.items:
            identity = (session['region_id'], session['session_id'])
            known = merged.get(identity)
            if known is None:
                merged[identity] = session
            elif set(session['instance_ids']) - set(known['instance_ids']):
                merged[identity] = dict(known, instance_ids=sorted(set(known['instance_ids']) | set(session['instance_ids'])))
    return newest_first(merged.values())


def list_sessions(connection: Any, plan: Sequence[ListingKey], criteria: Any = None, max_items: Optional[int] = None,
                  start: Optional[ResumePoint] = None, concurrency: int = 8, keep_going: bool = False,
                  listing_timeout: float = DEFAULT_LISTING_TIMEOUT, max_pages: int = DEFAULT_MAX_PAGES) -> ListingResult:
    """Run ``plan`` through ``connection`` (a :class:`Connection`) and merge the result.

    The one listing path of the collection: modules and controller-side plugins both call it.
    Raises :class:`ListingFailure` with ``api_calls`` set, unless ``keep_going``: then the
    regions with a failed query are left out of the result and named in its ``failures``.
    The whole plan gets ``listing_timeout`` seconds, each query ``max_pages`` pages.
    """
    counter = CallCounter()
    deadline = Deadline(listing_timeout)
    fetch_page = page_fetcher(lambda region: connection.client_for(region, concurrency), connection.retry_policy(), counter,
                              deadline)
    try:
        listings, failures = run_plan(plan, fetch_page, criteria, max_items, start, concurrency, keep_going,
                                      deadline, max_pages, sdk.InFlight())
    except ListingFailure as failure:
        failure.api_calls = counter.count
        raise
    failed = {failure.key.region_id for failure in failures}
    complete = [listing for listing in listings if listing.key.region_id not in failed]
    return ListingResult(merge_listings(complete), complete, counter.count, failures)
