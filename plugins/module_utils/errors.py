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

# Long bodies (an HTML error page) are cut to this many characters in messages.
MAX_BODY_EXCERPT = 300

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


class AlicloudError(Exception):
    """A failed call or an unusable answer, with everything the service told us.

    ``retryable`` says whether trying the same call again may succeed (throttling,
    5xx, a broken connection); ``retry_after`` is the wait in seconds the service asked
    for, if any.
    """

    def __init__(self, message, code=None, http_status=None, request_id=None,
                 retryable=False, retry_after=None, access_denied_detail=None):
        super(AlicloudError, self).__init__(message)
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

    def details(self):
        """The error's fields for a module result, without empty ones."""
        fields = {
            'error_code': self.code,
            'http_status': self.http_status,
            'request_id': self.request_id,
            'access_denied_detail': self.access_denied_detail,
        }
        return dict((key, value) for key, value in fields.items() if value not in (None, '', {}))


class TokenLoopError(AlicloudError):
    """The service handed back a pagination token it had already returned."""


def excerpt(text, limit=MAX_BODY_EXCERPT):
    """Collapse white space and cut ``text`` to ``limit`` characters."""
    if text is None:
        return ''
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    flat = ' '.join(str(text).split())
    if len(flat) > limit:
        return flat[:limit] + '... (%d characters cut)' % (len(flat) - limit)
    return flat


def describe(error, action=None):
    """One sentence for a user: what failed, why, and the service's identifiers."""
    parts = []
    if action:
        parts.append('%s: ' % action)
    parts.append(error.message.rstrip('.') + '.')
    hint = HINTS.get(error.code or '')
    if hint:
        parts.append(' ' + hint)
    if error.code == 'Forbidden.RAM' or (error.http_status == 403 and error.code and error.code.startswith('Forbidden')):
        parts.append(' The RAM identity needs permission for the action ecs:%s.' % (error.api_action or 'DescribeTerminalSessions'))
        if error.access_denied_detail:
            parts.append(' Access denied detail: %s.' % format_detail(error.access_denied_detail))
    ids = []
    if error.code:
        ids.append('error code: %s' % error.code)
    if error.http_status:
        ids.append('HTTP status: %s' % error.http_status)
    if error.request_id:
        ids.append('request ID: %s' % error.request_id)
    if error.attempts > 1:
        ids.append('attempts: %d' % error.attempts)
    if ids:
        parts.append(' (%s)' % ', '.join(ids))
    return ''.join(parts)


def format_detail(detail):
    if isinstance(detail, dict):
        return ', '.join('%s=%s' % (key, detail[key]) for key in sorted(detail) if detail[key] not in (None, ''))
    return excerpt(detail)


def scrub(text, secrets):
    """Replace every secret value found in ``text`` with a mask."""
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, '********')
    return text
