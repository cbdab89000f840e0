# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""List terminal sessions: one query plan, each query paginated, queries run concurrently.

Options -> query plan (region x instance ID x session ID) -> each query walked page by page,
each page retried on its own -> records normalised and filtered as they arrive ->
deduplicated by (region, session ID) -> newest first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError, excerpt
from ansible_collections.alicloud.ecs.plugins.module_utils.pagination import ListingKey, paginate
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import newest_first, normalize_session, unwrap_list

ACTION = 'DescribeTerminalSessions'


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
        super(ListingFailure, self).__init__(str(error))
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
    def failed_regions(self):
        return sorted(set(failure.key.region_id for failure in self.failures))

    @property
    def request_ids(self):
        return [request_id for listing in self.listings for request_id in listing.request_ids]


def query_plan(region_ids, instance_ids=None, session_ids=None, page_size=100):
    """One :class:`ListingKey` per region x instance ID x session ID."""
    return [ListingKey(region_id, instance_id, session_id, page_size)
            for region_id in region_ids
            for instance_id in (instance_ids or [None])
            for session_id in (session_ids or [None])]


def page_fetcher(client_for, policy, counter):
    """A ``fetch_page(key, token)`` that calls the service with retries and unwraps the page."""
    def fetch_page(key, token):
        query = {'RegionId': key.region_id, 'MaxResults': key.page_size, 'InstanceId': key.instance_id,
                 'SessionId': key.session_id, 'NextToken': token}
        client = client_for(key.region_id)
        body = policy.call(lambda: client.call(ACTION, query), on_attempt=counter.increment)
        try:
            records = unwrap_list(body.get('Sessions') or None, 'Session')
        except TypeError as error:
            raise malformed('Sessions: %s' % error, body)
        next_token = body.get('NextToken')
        if next_token is not None and not isinstance(next_token, str):
            raise malformed('NextToken is a %s, not a string' % type(next_token).__name__, body)
        return {'records': records, 'next_token': next_token, 'request_id': body.get('RequestId')}
    return fetch_page


def malformed(detail, body=None):
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
        raise TypeError('%s of %s is a %s, not a string' % (name, what, type(value).__name__))


def checked_session(raw, region_id, queried_instance_id=None):
    """:func:`normalize_session` for a record straight from the service; TypeError when it cannot be one."""
    session = normalize_session(raw, region_id, queried_instance_id)
    if not isinstance(session.get('session_id'), str) or not session['session_id']:
        raise TypeError('a session record without a SessionId')
    for name in _TEXT_FIELDS:
        if session.get(name, '').__class__ is not str:  # plain text, the usual case, needs no further look
            _as_text(session, name, 'session %s' % session['session_id'])
    for instance_id in session['instance_ids']:
        if not isinstance(instance_id, str):
            raise TypeError('an instance ID of session %s is not a string' % session['session_id'])
    for connection in session['connections']:
        if not isinstance(connection, dict):
            raise TypeError('a connection of session %s is not a dictionary' % session['session_id'])
        for name in _CONNECTION_TEXT_FIELDS:
            if connection.get(name, '').__class__ is not str:
                _as_text(connection, name, 'a connection of session %s' % session['session_id'])
    return session


def run_listing(key, fetch_page, criteria=None, max_items=None, start=None):
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

    return paginate(key, fetch_page, accept, max_items=max_items, start=start)


def run_plan(plan, fetch_page, criteria=None, max_items=None, start=None, concurrency=8, keep_going=False):
    """Run every query of ``plan``, at most ``concurrency`` at once.

    Returns the listings in plan order and the failures. By default the first failure stops the
    queries not yet started and is raised as :class:`ListingFailure`; with ``keep_going`` every
    query runs and each failure is returned instead.
    """
    def run(key):
        try:
            return run_listing(key, fetch_page, criteria, max_items, start)
        except Exception as error:  # pylint: disable=broad-except
            raise ListingFailure(key, error)

    listings, failures = [], []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(plan)))) as pool:
        futures = [pool.submit(run, key) for key in plan]
        for future in futures:
            try:
                listings.append(future.result())
            except ListingFailure as failure:
                if not keep_going:
                    for pending in futures:
                        pending.cancel()
                    raise
                failures.append(failure)
    return listings, failures


def merge_listings(listings):
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


def list_sessions(connection, plan, criteria=None, max_items=None, start=None, concurrency=8, keep_going=False):
    """Run ``plan`` through ``connection`` (a :class:`Connection`) and merge the result.

    The one listing path of the collection: modules and controller-side plugins both call it.
    Raises :class:`ListingFailure` with ``api_calls`` set, unless ``keep_going``: then the
    regions with a failed query are left out of the result and named in its ``failures``.
    """
    counter = CallCounter()
    fetch_page = page_fetcher(lambda region: connection.client_for(region, concurrency), connection.retry_policy(), counter)
    try:
        listings, failures = run_plan(plan, fetch_page, criteria, max_items, start, concurrency, keep_going)
    except ListingFailure as failure:
        failure.api_calls = counter.count
        raise
    failed = set(failure.key.region_id for failure in failures)
    complete = [listing for listing in listings if listing.key.region_id not in failed]
    return ListingResult(merge_listings(complete), complete, counter.count, failures)
