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


# Scrubbing by structure: values never known to this process (read by the SDK from a profile or the metadata service).
UNKNOWN_URL = ('https://127.0.0.1:9443/?AccessKeyId=STS.NeverSeen1&Action=AssumeRoleWithOIDC&Format=JSON'
               '&OIDCToken=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl&RoleArn=acs%3Aram%3A%3A1%3Arole%2Fr'
               '&SecurityToken=CAIS%2BneverSeen%2Ftoken%3D%3D&Signature=AbC%2FdEf%3D&Version=2015-04-01')
UNKNOWN_VALUES = ('STS.NeverSeen1', 'eyJhbGciOiJSUzI1NiJ9', 'CAIS%2BneverSeen', 'neverSeen', 'AbC%2FdEf', 'AbC')


def assert_structure_scrubbed(text):
    for value in UNKNOWN_VALUES:
        assert value.lower() not in text.lower(), value


@pytest.mark.parametrize('label, text', [
    ('raw URL', 'Max retries exceeded with url: %s (Caused by X)' % UNKNOWN_URL),
    ('path and query only', 'url: /%s' % UNKNOWN_URL.split('/', 3)[3]),
    ('%-encoded once', 'location=%s' % quote(UNKNOWN_URL, safe='')),
    ('%-encoded twice', 'location=%s' % quote(quote(UNKNOWN_URL, safe=''), safe='')),
    ('lower-case escapes', 'location=%s' % quote(UNKNOWN_URL, safe='').lower()),
    ('repr of a query', repr({'AccessKeyId': 'STS.NeverSeen1', 'SecurityToken': 'CAIS%2BneverSeen',
                              'OIDCToken': 'eyJhbGciOiJSUzI1NiJ9.x', 'Signature': 'AbC%2FdEf'})),
    ('JSON of a query', json.dumps({'SecurityToken': 'CAIS%2BneverSeen', 'Signature': 'AbC%2FdEf',
                                    'AccessKeyId': 'STS.NeverSeen1', 'OIDCToken': 'eyJhbGciOiJSUzI1NiJ9'})),
    ('JSON inside JSON', json.dumps(json.dumps({'SecurityToken': 'CAIS%2BneverSeen', 'OIDCToken': 'eyJhbGciOiJSUzI1NiJ9',
                                                'AccessKeyId': 'STS.NeverSeen1', 'Signature': 'AbC%2FdEf'}))),
    ('SDK debug headers', '> x-acs-security-token : CAIS%2BneverSeen\n> authorization : ACS3-HMAC-SHA256 '
                          'Credential=STS.NeverSeen1,SignedHeaders=host,Signature=AbC%2FdEf\n'),
])
def test_secret_parameters_are_masked_by_their_place(label, text):
    scrubbed = scrub(text)
    assert_structure_scrubbed(scrubbed)
    assert MASK in scrubbed


def test_structure_scrubbing_keeps_what_is_not_secret():
    scrubbed = scrub(UNKNOWN_URL)
    assert 'Action=AssumeRoleWithOIDC' in scrubbed and 'RoleArn=acs%3Aram%3A%3A1%3Arole%2Fr' in scrubbed
    assert 'Version=2015-04-01' in scrubbed and scrubbed.startswith('https://127.0.0.1:9443/?AccessKeyId=' + MASK)
    for text in ('SignatureMethod=HMAC-SHA1&SignatureVersion=1.0', 'the Signature is checked', 'mySignature=abc',
                 'SignatureDoesNotMatch'):
        assert scrub(text) == text


def test_excerpt_masks_by_structure_too():
    assert_structure_scrubbed(excerpt('failed: %s' % UNKNOWN_URL, 100000))
