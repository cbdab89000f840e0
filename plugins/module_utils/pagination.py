# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Follow NextToken to the end of a listing, or stop at a cap and say where to resume.

A listing is bounded whatever the service answers: by ``max_pages`` pages per query (a service
that hands out a fresh NextToken forever) and by the deadline of the whole listing
(``listing_timeout``). Either bound fails the listing: it is incomplete, so nothing is returned.

The resume token handed to users wraps the service's token with an offset into the page
it fetched (as the AWS CLI does), so a cap that falls in the middle of a page loses and
repeats nothing. It also records the query and page size: how the service treats a
different MaxResults after a token is undocumented, so a resumed listing keeps its size.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from typing import Any, Callable, Dict, Optional, Tuple

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError, TokenLoopError
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import Deadline, ListingTimeout

RESUME_TOKEN_PREFIX = 'alicloud-ecs-1.'
# Pages one query may read: 100,000 records at 100 a page, far above the 1,000 records the service keeps.
DEFAULT_MAX_PAGES = 1000


class PageLimitError(AlicloudError):
    """A query still had a NextToken after ``max_pages`` pages."""


def page_limit_error(key: 'ListingKey', max_pages: int, request_id: Optional[str] = None) -> PageLimitError:
    return PageLimitError(
        'The listing for %s read max_pages (%d pages of up to %d records) and the service still returned a '
        'NextToken: stopping; the listing is incomplete, so no records are returned. Raise max_pages only if the '
        'query really holds more than %d records' % (key.label(), max_pages, key.page_size, max_pages * key.page_size),
        code='MaxPagesExceeded', request_id=request_id)


class ListingKey:
    """What one paginated listing asks the service for."""

    __slots__ = ('region_id', 'instance_id', 'session_id', 'page_size')

    def __init__(self, region_id, instance_id=None, session_id=None, page_size=100):
        self.region_id = region_id
        self.instance_id = instance_id
        self.session_id = session_id
        self.page_size = page_size

    def label(self) -> str:
        parts = [f'region {self.region_id}']
        if self.instance_id:
            parts.append(f'instance {self.instance_id}')
        if self.session_id:
            parts.append(f'session {self.session_id}')
        return ', '.join(parts)


class ResumePoint:
    """Where a capped listing stops: the service token of a page and how far into it."""

    __slots__ = ('service_token', 'skip')

    def __init__(self, service_token=None, skip=0):
        self.service_token = service_token
        self.skip = skip


class Listing:
    """What a paginated listing produced."""

    def __init__(self, key):
        self.key = key
        self.items = []
        self.request_ids = []
        self.pages = 0
        self.resume = None


def encode_resume_token(key: ListingKey, point: ResumePoint) -> str:
    payload = {
        'r': key.region_id,
        'i': key.instance_id or '',
        's': key.session_id or '',
        'm': key.page_size,
        't': point.service_token or '',
        'o': point.skip,
    }
    raw = json.dumps(payload, sort_keys=True, separators=(',', ':')).encode('utf-8')
    return RESUME_TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode('ascii').rstrip('=')


def decode_resume_token(token: str, key: ListingKey) -> Tuple[ResumePoint, int]:
    """The :class:`ResumePoint` and page size in ``token``; ValueError when it does not fit ``key``."""
    if not token.startswith(RESUME_TOKEN_PREFIX):
        raise ValueError('it was not returned by this module (pass back the next_token of an earlier run unchanged)')
    body = token[len(RESUME_TOKEN_PREFIX):]
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + '=' * (-len(body) % 4)).decode('utf-8'))
        point = ResumePoint(payload['t'] or None, int(payload['o']))
        page_size = int(payload['m'])
        asked = (payload['r'], payload['i'] or None, payload['s'] or None)
        if not isinstance(point.service_token, (str, type(None))):
            raise TypeError('the service token is not a string')
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError, OverflowError):
        raise ValueError('it is damaged (pass back the next_token of an earlier run unchanged)')
    if asked != (key.region_id, key.instance_id, key.session_id):
        raise ValueError('it belongs to another query (region %s, instance %s, session %s)' % (
            asked[0], asked[1] or '-', asked[2] or '-'))
    if point.skip < 0 or not 1 <= page_size <= 100:
        raise ValueError('it is damaged (pass back the next_token of an earlier run unchanged)')
    return point, page_size


def paginate(key: ListingKey, fetch_page: Callable[[ListingKey, Optional[str]], Dict[str, Any]],
             accept: Callable[[Any], Optional[Dict[str, Any]]], max_items: Optional[int] = None,
             start: Optional[ResumePoint] = None, deadline: Optional[Deadline] = None, max_pages: Optional[int] = None) -> Listing:
    """Walk one listing page by page.

    ``fetch_page(key, service_token)`` returns a dict with ``records`` (raw records),
    ``next_token`` and ``request_id``; it retries on its own, so a failed page never
    restarts the listing. ``accept(raw)`` returns the record to keep, or None to drop it
    (filtered out, or already seen). With ``max_items`` the walk stops once that many records
    were kept and ``Listing.resume`` says where to go on. A token the service already handed
    out in this listing stops the walk with :class:`TokenLoopError` before it is sent again.
    No page is asked for once ``deadline`` (a :class:`retries.Deadline`) has passed
    (:class:`ListingTimeout`), nor after ``max_pages`` pages (:class:`PageLimitError`).
    """
    listing = Listing(key)
    point = start or ResumePoint()
    token, skip = point.service_token, point.skip
    seen_tokens = {token} if token else set()
    while True:
        if deadline is not None and deadline.expired():
            raise deadline.exceeded().locate(key.label(), listing.pages)
        try:
            page = fetch_page(key, token)
        except ListingTimeout as error:
            raise error.locate(key.label(), listing.pages)
        listing.pages += 1
        if page.get('request_id'):
            listing.request_ids.append(page['request_id'])
        records = page['records']
        next_token = page.get('next_token') or None
        for index in range(skip, len(records)):
            item = accept(records[index])
            if item is None:
                continue
            listing.items.append(item)
            if max_items is not None and len(listing.items) >= max_items:
                if index + 1 < len(records):
                    listing.resume = ResumePoint(token, index + 1)
                elif next_token:
                    listing.resume = ResumePoint(next_token, 0)
                return listing
        if next_token is None:
            return listing
        if next_token in seen_tokens:
            raise TokenLoopError(
                'The service returned a pagination token it had already returned (page %d of the listing for %s): '
                'stopping instead of looping; the listing is incomplete, so no records are returned'
                % (listing.pages, key.label()),
                code='TokenLoop', request_id=page.get('request_id'))
        if max_pages is not None and listing.pages >= max_pages:
            raise page_limit_error(key, max_pages, page.get('request_id'))
        seen_tokens.add(next_token)
        token, skip = next_token, 0
