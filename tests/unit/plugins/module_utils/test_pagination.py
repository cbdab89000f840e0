from __future__ import annotations

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import TokenLoopError
from ansible_collections.alicloud.ecs.plugins.module_utils.pagination import (
    ListingKey, PageLimitError, ResumePoint, decode_resume_token, encode_resume_token, paginate)
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import Deadline, ListingTimeout


class FakeService:
    """Pages of ``records`` of ``size``; tokens are 'tN' for offset N; records the tokens it was called with."""

    def __init__(self, records, size, empty_token='absent'):
        self.records = records
        self.size = size
        self.empty_token = empty_token
        self.calls = []

    def __call__(self, key, token):
        self.calls.append(token)
        offset = int(token[1:]) if token else 0
        page = self.records[offset:offset + self.size]
        more = offset + self.size < len(self.records)
        result = {'records': page, 'request_id': 'req-%d' % len(self.calls)}
        if more:
            result['next_token'] = 't%d' % (offset + self.size)
        elif self.empty_token == 'empty':
            result['next_token'] = ''
        return result


def keep(raw):
    return raw


KEY = ListingKey('cn-hangzhou', page_size=100)


@pytest.mark.parametrize('count, calls', [(0, 1), (1, 1), (100, 1), (101, 2), (250, 3), (1000, 10)])
@pytest.mark.parametrize('style', ['absent', 'empty'])
def test_every_record_once_with_the_fewest_calls(count, calls, style):
    service = FakeService(list(range(count)), 100, style)
    listing = paginate(KEY, service, keep)
    assert listing.items == list(range(count))
    assert len(service.calls) == calls == listing.pages
    assert listing.resume is None
    assert listing.request_ids == ['req-%d' % n for n in range(1, calls + 1)]


def test_an_empty_page_with_a_token_is_not_the_end():
    pages = {None: {'records': [], 'next_token': 'a'}, 'a': {'records': [1, 2], 'next_token': 'b'}, 'b': {'records': [3]}}
    listing = paginate(KEY, lambda key, token: pages[token], keep)
    assert listing.items == [1, 2, 3]


@pytest.mark.parametrize('tokens', [['a', 'a'], ['a', 'b', 'a']])
def test_a_token_loop_stops_before_the_token_is_sent_again(tokens):
    sent = []

    def fetch(key, token):
        sent.append(token)
        return {'records': [len(sent)], 'next_token': tokens[len(sent) - 1]}

    with pytest.raises(TokenLoopError) as raised:
        paginate(KEY, fetch, keep)
    assert sent == [None] + tokens[:-1]
    assert 'already returned' in str(raised.value)


def test_accept_drops_records_without_counting_them_against_max_items():
    service = FakeService(list(range(10)), 4)
    listing = paginate(KEY, service, lambda n: n if n % 2 else None, max_items=3)
    assert listing.items == [1, 3, 5]
    assert listing.resume.service_token == 't4' and listing.resume.skip == 2


@pytest.mark.parametrize('total, size, cap', [(10, 4, 1), (10, 4, 3), (10, 4, 4), (10, 4, 5), (10, 5, 5), (9, 3, 2), (7, 7, 7)])
def test_max_items_and_resume_lose_and_repeat_nothing(total, size, cap):
    key = ListingKey('cn-hangzhou', page_size=size)
    service = FakeService(list(range(total)), size)
    collected, start, runs = [], None, 0
    while True:
        runs += 1
        listing = paginate(key, service, keep, max_items=cap, start=start)
        collected.extend(listing.items)
        if listing.resume is None:
            break
        token = encode_resume_token(key, listing.resume)
        start, page_size = decode_resume_token(token, key)
        assert page_size == size
        assert runs < 50
    assert collected == list(range(total))


def test_the_cap_at_the_very_end_leaves_no_token():
    service = FakeService(list(range(8)), 4)
    listing = paginate(KEY, service, keep, max_items=8)
    assert listing.items == list(range(8)) and listing.resume is None


def test_resume_token_is_bound_to_its_query():
    token = encode_resume_token(ListingKey('cn-hangzhou', 'i-1', None, 50), ResumePoint('svc', 3))
    point, size = decode_resume_token(token, ListingKey('cn-hangzhou', 'i-1', None, 100))
    assert (point.service_token, point.skip, size) == ('svc', 3, 50)
    with pytest.raises(ValueError, match='another query'):
        decode_resume_token(token, ListingKey('cn-shanghai', 'i-1', None, 50))
    with pytest.raises(ValueError, match='not returned by this module'):
        decode_resume_token('AAAAAdDWBF2', KEY)
    with pytest.raises(ValueError, match='damaged'):
        decode_resume_token(token[:-5] + '!!!!!', KEY)


class EndlessService:
    """A fresh token on every page, for ever; counts the pages asked for."""

    def __init__(self):
        self.calls = 0

    def __call__(self, key, token):
        self.calls += 1
        return {'records': [self.calls], 'next_token': 'fresh-%d' % self.calls, 'request_id': 'req-%d' % self.calls}


@pytest.mark.parametrize('max_pages', [1, 2, 7])
def test_max_pages_stops_a_service_that_never_stops_handing_out_tokens(max_pages):
    service = EndlessService()
    with pytest.raises(PageLimitError) as raised:
        paginate(KEY, service, keep, max_pages=max_pages)
    assert service.calls == max_pages
    error = raised.value
    assert (error.code, error.retryable, error.request_id) == ('MaxPagesExceeded', False, 'req-%d' % max_pages)
    assert 'max_pages (%d pages of up to 100 records)' % max_pages in error.message
    assert 'region cn-hangzhou' in error.message and 'no records are returned' in error.message


def test_the_last_allowed_page_may_end_the_listing():
    service = FakeService(list(range(250)), 100)
    assert paginate(KEY, service, keep, max_pages=3).items == list(range(250))
    with pytest.raises(PageLimitError):
        paginate(KEY, FakeService(list(range(250)), 100), keep, max_pages=2)


def test_max_items_reached_before_max_pages_is_a_normal_stop():
    listing = paginate(KEY, EndlessService(), keep, max_items=2, max_pages=5)
    assert listing.items == [1, 2] and listing.resume.service_token == 'fresh-2'


class StepClock:
    """Moves ``step`` seconds each time a page is fetched."""

    def __init__(self, step):
        self.now, self.step = 0.0, step

    def __call__(self):
        return self.now


def test_no_page_is_asked_for_once_the_deadline_passed():
    clock = StepClock(4)
    deadline = Deadline(10, clock=clock)
    fetched = []

    def fetch(key, token):
        fetched.append(token)
        clock.now += clock.step
        return {'records': [len(fetched)], 'next_token': 'fresh-%d' % len(fetched)}

    with pytest.raises(ListingTimeout) as raised:
        paginate(KEY, fetch, keep, deadline=deadline)
    assert len(fetched) == 3  # at 0, 4 and 8 seconds; at 12 the deadline has passed
    assert raised.value.pages == 3 and raised.value.query == 'region cn-hangzhou'
    assert 'listing_timeout (10 seconds): region cn-hangzhou, 3 pages read' in raised.value.message


def test_a_timeout_raised_while_fetching_names_the_query_and_pages():
    deadline = Deadline(10, clock=StepClock(0))
    pages = [{'records': [1], 'next_token': 'a'}]

    def fetch(key, token):
        if pages:
            return pages.pop()
        raise deadline.exceeded()

    with pytest.raises(ListingTimeout) as raised:
        paginate(ListingKey('cn-shanghai', 'i-1'), fetch, keep, deadline=deadline)
    assert 'region cn-shanghai, instance i-1, 1 page read' in raised.value.message
