from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils import errors
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import MASK, excerpt, scrub, secret_forms

TOKEN = 'CAIS+sts/Token=secret42\r'


@pytest.mark.parametrize('label, text', [
    ('raw', 'header value: %r' % TOKEN),
    ('quote', 'SecurityToken=%s&Signature=x' % quote(TOKEN, safe='')),
    ('quote keeping /', 'SecurityToken=%s&Signature=x' % quote(TOKEN)),
    ('quote_plus', 'SecurityToken=%s&x' % quote_plus(TOKEN)),
    ('lower-case hex', 'SecurityToken=%s&x' % quote(TOKEN, safe='').lower()),
    ('mixed hex case', 'SecurityToken=CAIS%2btok'.replace('tok', 'sts%2FToken%3dsecret42%0D')),
    ('repr', repr({'token': TOKEN})),
    ('json', json.dumps({'token': TOKEN})),
    ('json twice', json.dumps(json.dumps({'token': TOKEN}))),
    ('bytes repr', repr(TOKEN.encode())),
    ('stripped', 'token %s.' % TOKEN.strip()),
])
def test_every_encoding_of_a_secret_is_masked(label, text):
    masked = scrub(text, [TOKEN])
    assert MASK in masked, label
    for form in secret_forms(TOKEN) + [TOKEN.strip()]:
        assert form not in masked, (label, form)
    assert 'secret42' not in masked.lower(), label


def test_text_around_the_secret_is_kept_and_short_values_are_not_masked():
    assert scrub('before %s after' % TOKEN, [TOKEN]) == 'before %s after' % MASK
    assert scrub('a bc abc', ['abc']) == 'a bc abc'  # shorter than MIN_SECRET_LENGTH
    assert scrub('', [TOKEN]) == '' and scrub(None, [TOKEN]) is None


def test_a_secret_containing_another_is_masked_whole():
    assert scrub('x secretvalue-long y', ['secretvalue', 'secretvalue-long']) == 'x %s y' % MASK


def test_remembered_secrets_are_masked_without_being_given(monkeypatch):
    monkeypatch.setattr(errors, 'SECRETS', errors._Registry())
    errors.remember_secrets(['remembered-token-42'])
    assert scrub('the token remembered-token-42 leaked') == 'the token %s leaked' % MASK


def test_excerpt_masks_before_cutting(monkeypatch):
    monkeypatch.setattr(errors, 'SECRETS', errors._Registry())
    errors.remember_secrets([TOKEN])
    # The cut falls inside the %-encoded token: without masking first, its beginning would be shown.
    text = 'x' * 290 + 'SecurityToken=' + quote(TOKEN, safe='') + '&more'
    shown = excerpt(text, limit=300)
    assert 'CAIS' not in shown and shown.endswith('characters cut)')


def test_excerpt_of_a_huge_body_is_bounded():
    shown = excerpt('y' * 5000000)
    assert len(shown) < 400 and '4999700 characters cut' in shown
