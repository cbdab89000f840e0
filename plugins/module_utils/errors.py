# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error type for everything that can go wrong talking to Alibaba Cloud.

Modules and plugins report an :class:`AlicloudError` the same way whatever raised it:
a readable message plus the API error code, HTTP status and request ID when the service
gave them (modelled on amazon.aws ``fail_json_aws``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import threading

from typing import Any, Dict, Iterable, List, Optional
from urllib.parse import quote, quote_plus

# What a secret is replaced with in any text shown to the user.
MASK = '********'
# Shorter values are not masked: they would mask ordinary text and cannot be credentials anyway.
MIN_SECRET_LENGTH = 4

# Long bodies (an HTML error page) are cut to this many characters in messages.
MAX_BODY_EXCERPT = 300
# Characters kept past the cut while masking, so that a secret straddling it (an STS token is about 1,000
# characters, three times that %-encoded) is still recognised whole.
SCRUB_MARGIN = 20000

# Hints for error codes whose cause users can fix themselves.
HINTS = {
    'InvalidTimeStamp.Expired': 'The request time is too far from the service time: check this host\'s clock (NTP).',
    'InvalidTimeStamp.Format': 'The request time was malformed: check this host\'s clock and time zone settings.',
    'SignatureDoesNotMatch': 'The access key secret does not match the access key ID: check access_key_secret.',
    'IncompleteSignature': 'The request signature was incomplete: check access_key_id and access_key_secret.',
    'InvalidAccessKeyId.NotFound': 'The access key ID is unknown to Alibaba Cloud: check access_key_id.',
    'InvalidAccessKeyId.Inactive': 'The access key is disabled: enable it in the RAM console or use another one.',
    'InvalidSecurityToken.Expired': 'The STS security token has expired: obtain new STS credentials.',
    'InvalidSecurityToken.Malformed': 'The STS security token is malformed: check security_token.',
    'InvalidSecurityToken.Mismatch': 'The STS security token does not belong to this access key: check security_token.',
    'InvalidRegionId.NotFound': 'The region does not exist or does not offer ECS: check region_id.',
    'InvalidParameter.NextToken': 'The service refused the pagination token: start the listing again without next_token.',
    'SignatureNonceUsed': 'The request nonce was reused: retry the task.',
}


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


def is_retryable_status(http_status: Optional[int]) -> bool:
    """Whether an answer with HTTP ``http_status`` may succeed when sent again (429 and 5xx)."""
    return http_status == 429 or (http_status is not None and 500 <= http_status < 600)


class AlicloudError(Exception):
    """A failed call or an unusable answer, with everything the service told us.

    ``retryable`` says whether trying the same call again may succeed (throttling,
    5xx, a broken connection); ``retry_after`` is the wait in seconds the service asked
    for, if any.
    """

    def __init__(self, message, code=None, http_status=None, request_id=None,
                 retryable=False, retry_after=None, access_denied_detail=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.retryable = retryable
        self.retry_after = retry_after
        self.access_denied_detail = access_denied_detail
        self.attempts = 1
        # The API action that failed (set by the client), for the RAM permission named in messages.
        self.api_action = None

    def __str__(self):
        return describe(self)

    def details(self) -> Dict[str, Any]:
        """The error's fields for a module result, without empty ones."""
        fields = {
            'error_code': self.code,
            'http_status': self.http_status,
            'request_id': self.request_id,
            'access_denied_detail': self.access_denied_detail,
        }
        return {key: value for key, value in fields.items() if value not in (None, '', {})}


class TokenLoopError(AlicloudError):
    """The service handed back a pagination token it had already returned."""


def excerpt(text: Any, limit: int = MAX_BODY_EXCERPT) -> str:
    """Collapse white space and cut ``text`` to ``limit`` characters, remembered secrets masked first.

    Masking before cutting: a cut through a secret would leave a part of it that no later scrub recognises.
    """
    if text is None:
        return ''
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    text = str(text)
    # Masked before white space is collapsed (a secret may hold a newline); masking a whole multi-megabyte page would
    # be slow, and what lies this far past the cut is never shown.
    shown = ' '.join(scrub(text[:limit + SCRUB_MARGIN]).split())
    if len(shown) > limit:
        total = len(' '.join(text.split())) if len(text) > limit + SCRUB_MARGIN else len(shown)
        return shown[:limit] + '... (%d characters cut)' % max(total - limit, len(shown) - limit)
    return shown


def describe(error: AlicloudError, action: Optional[str] = None) -> str:
    """One sentence for a user: what failed, why, and the service's identifiers."""
    parts = []
    if action:
        parts.append(f'{action}: ')
    parts.append(error.message.rstrip('.') + '.')
    hint = HINTS.get(error.code or '')
    if hint:
        parts.append(' ' + hint)
    if error.code == 'Forbidden.RAM' or (error.http_status == 403 and error.code and error.code.startswith('Forbidden')):
        parts.append(' The RAM identity needs permission for the action ecs:%s.' % (error.api_action or 'DescribeTerminalSessions'))
        if error.access_denied_detail:
            parts.append(f' Access denied detail: {format_detail(error.access_denied_detail)}.')
    ids = []
    if error.code:
        ids.append(f'error code: {error.code}')
    if error.http_status:
        ids.append(f'HTTP status: {error.http_status}')
    if error.request_id:
        ids.append(f'request ID: {error.request_id}')
    if error.attempts > 1:
        ids.append('attempts: %d' % error.attempts)
    if ids:
        parts.append(f" ({', '.join(ids)})")
    return ''.join(parts)


def format_detail(detail: Any) -> str:
    """An AccessDeniedDetail for a message: ``key=value`` pairs of a dict, the text of anything else."""
    if isinstance(detail, dict):
        return ', '.join('%s=%s' % (key, detail[key]) for key in sorted(detail) if detail[key] not in (None, ''))
    return excerpt(detail)


def _escaped_forms(char):
    """The ways one character of a secret can be written in output: as itself, %-encoded (each UTF-8 byte, either
    hex case; ``+`` for a space), repr-escaped, JSON-escaped, and JSON-escaped twice (a result inside a message)."""
    forms = {char, json.dumps(char)[1:-1], repr(char)[1:-1], json.dumps(json.dumps(char)[1:-1])[1:-1],
             repr(char.encode('utf-8'))[2:-1]}
    encoded = ''.join('%%%02X' % byte for byte in bytearray(char.encode('utf-8')))
    forms.update((encoded, encoded.lower()))
    if char == ' ':
        forms.add('+')
    return sorted((form for form in forms if form), key=len, reverse=True)


def _secret_pattern(secret):
    """A regular expression for ``secret`` written with any mix of the encodings of :func:`_escaped_forms`."""
    return ''.join('(?:%s)' % '|'.join(re.escape(form) for form in _escaped_forms(char)) for char in secret)


def secret_forms(secret: str) -> List[str]:
    """The whole-value encodings of ``secret`` that output commonly carries (for ``no_log`` values and tests)."""
    forms = {secret, quote(secret, safe=''), quote(secret), quote_plus(secret), repr(secret)[1:-1],
             json.dumps(secret)[1:-1], json.dumps(json.dumps(secret))[1:-1]}
    forms.update(form.lower() for form in list(forms) if '%' in form)
    return sorted(form for form in forms if form)


def _variants(secrets):
    """The values to mask for ``secrets``: each one, and without surrounding white space (a newline from a file)."""
    found = set()
    for secret in secrets:
        if not isinstance(secret, str):
            continue
        for value in (secret, secret.strip()):
            if len(value) >= MIN_SECRET_LENGTH:
                found.add(value)
    # Longest first, so that a secret containing another is masked whole.
    return tuple(sorted(found, key=lambda value: (-len(value), value)))


class _Registry:
    """Every secret this process has met (options, proxy passwords, temporary STS credentials).

    Every message goes through :func:`scrub`, which masks these too: a message built far from the options (an SDK
    log line, a temporary token echoed in an exception) cannot know which values to hide.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._values = set()
        self._compiled = {}
        # Ansible forks its workers from a process whose threads may be scrubbing: a child must not inherit a held lock.
        if hasattr(os, 'register_at_fork'):
            os.register_at_fork(after_in_child=self._new_lock)

    def _new_lock(self):
        self._lock = threading.Lock()

    def add(self, values):
        with self._lock:
            self._values.update(value for value in values if isinstance(value, str) and value)

    def values(self):
        with self._lock:
            return frozenset(self._values)

    def pattern(self, secrets):
        """One compiled expression for ``secrets`` (a tuple from :func:`_variants`), kept for reuse."""
        with self._lock:
            compiled = self._compiled.get(secrets)
            if compiled is None:
                if len(self._compiled) > 64:
                    self._compiled.clear()
                # Case-insensitive: some encoders write lower-case hex, some tools lower-case whole URLs; masking a
                # differently-cased copy of a secret costs nothing.
                compiled = self._compiled[secrets] = re.compile(
                    '|'.join(_secret_pattern(secret) for secret in secrets), re.IGNORECASE)
        return compiled


SECRETS = _Registry()


def remember_secrets(values: Iterable[Optional[str]]) -> None:
    """Add ``values`` to the secrets every later :func:`scrub` masks, whatever it is given."""
    SECRETS.add(values)


# Request parameters whose values are secret or lead to one, masked by their place wherever they appear (the URL of an
# STS call in an SDK log line or exception holds the OIDC token, the caller's STS token and a signature), even when
# the value was never known to this process: a secret the SDK read from a profile or the metadata service.
SECRET_PARAMETERS = ('SecurityToken', 'OIDCToken', 'Signature', 'AccessKeyId', 'AccessKeySecret')
_NAMES = '(?:%s)' % '|'.join(SECRET_PARAMETERS)
# What a query value can hold before the next parameter or the end of the URL and of the text around it.
_VALUE = r"""[^&\s'"<>#)\]},;\\]"""
_STRUCTURE_PATTERNS = (
    # name=value in a query, or after a comma or a space (the Signature in an Authorization header).
    re.compile(r'(?<![A-Za-z0-9_.%%-])(%s=)(%s+)' % (_NAMES, _VALUE), re.IGNORECASE),
    # The same %%-encoded once or twice: a URL inside another URL's query (%%26Name%%3Dvalue, %%2526Name%%253Dvalue).
    re.compile(r'((?:%%(?:25)*(?:26|3F|2C|20))%s%%(?:25)*3D)((?:(?!%%(?:25)*26)%s)+)' % (_NAMES, _VALUE), re.IGNORECASE),
    # A mapping printed as repr or JSON: 'SecurityToken': 'value', "OIDCToken": "value", escaped quotes too.
    re.compile(r"""((?:\\*['"])%s(?:\\*['"])\s*[:=]\s*(?:\\*['"]))((?:(?!\\*['"]).)+)""" % _NAMES, re.IGNORECASE),
    # The access key ID in an Authorization header (V3 signature): ``ACS3-HMAC-SHA256 Credential=<id>,``.
    re.compile(r'(ACS3-HMAC-SHA256\s+Credential=)([^,\s]+)', re.IGNORECASE),
    # The STS token header in the SDK's DEBUG=sdk request log: ``x-acs-security-token : value``.
    re.compile(r"""(x-acs-security-token['"]?\s*[:=]\s*['"]?)([^\s'",}]+)""", re.IGNORECASE),
)


def scrub_structure(text: str) -> str:
    """``text`` with the values of :data:`SECRET_PARAMETERS` masked by their place (query, header, mapping)."""
    for pattern in _STRUCTURE_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


def scrub(text: Any, secrets: Iterable[Optional[str]] = ()) -> Any:
    """``text`` with every secret masked, in any encoding it can take in output.

    Masks ``secrets`` and every remembered secret (:func:`remember_secrets`): raw, %-encoded (``quote`` and
    ``quote_plus``, either hex case), repr-escaped and JSON-escaped, or any mix of these, and also the value without
    surrounding white space; then the values of secret request parameters by their place (:func:`scrub_structure`).
    """
    if not text or not isinstance(text, str):
        return text
    variants = _variants(list(secrets or ()) + list(SECRETS.values()))
    if variants:
        text = SECRETS.pattern(variants).sub(MASK, text)
    return scrub_structure(text)
