"""Strict verification of signed RPC requests (V3 ACS3-HMAC-SHA256 and legacy V2 HMAC-SHA1)."""
from __future__ import annotations

import collections
import datetime
import hashlib
import hmac
import threading
import time

from ecs_endpoint import signature
from ecs_endpoint.errors import ApiError

V3_REQUIRED_HEADERS = ('host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256')
V2_REQUIRED_PARAMS = ('AccessKeyId', 'Signature', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'Timestamp', 'Format')
V2_MARKERS = ('Signature', 'AccessKeyId', 'SignatureMethod', 'SignatureNonce')
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'

AuthResult = collections.namedtuple('AuthResult', 'access_key_id style identity')


def detect(headers: dict, params: dict):
    """Return ``(style, action, version)``; style is 'v3', 'v2' or None (no credentials at all).

    ``headers`` maps lower-case names to lists of values.
    """
    if 'authorization' in headers:
        return 'v3', _one(headers, 'x-acs-action'), _one(headers, 'x-acs-version')
    if any(k in params for k in V2_MARKERS):
        return 'v2', params.get('Action'), params.get('Version')
    return None, _one(headers, 'x-acs-action') or params.get('Action'), _one(headers, 'x-acs-version') or params.get('Version')


def _one(headers, name):
    values = headers.get(name)
    return ','.join(values) if values else None


def _parse_time(value):
    try:
        moment = datetime.datetime.strptime(value, TIME_FORMAT)
    except (TypeError, ValueError) as exc:
        raise ApiError('InvalidTimeStamp.Format') from exc
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()


class Authenticator:
    """Checks signatures, clocks, nonces and STS tokens against a credentials table.

    ``credentials``: a mapping access key ID -> {"secret", "security_token", "expired"} or an
    :class:`ecs_endpoint.identities.IdentityRegistry` (whose entries add "identity" and "expires_at").
    """

    def __init__(self, credentials: dict, max_skew_seconds: int = 900, clock=time.time):
        self.credentials = credentials
        self.max_skew = max_skew_seconds
        self.clock = clock
        self._nonces = collections.OrderedDict()
        self._lock = threading.Lock()

    def _check_time(self, value):
        if abs(self.clock() - _parse_time(value)) > self.max_skew:
            raise ApiError('InvalidTimeStamp.Expired')

    def _credential(self, access_key_id):
        cred = self.credentials.get(access_key_id)
        if cred is None:
            raise ApiError('InvalidAccessKeyId.NotFound')
        return cred

    def _check_token(self, cred, token, received_at=None):
        expected = cred.get('security_token')
        if expected:
            if not token:
                raise ApiError('InvalidSecurityToken.MismatchWithAccessKey', message='SecurityToken is mandatory for STS AccessKey.')
            if not hmac.compare_digest(token.encode('utf-8'), expected.encode('utf-8')):
                raise ApiError('InvalidSecurityToken.MismatchWithAccessKey')
            # Judged at the request's arrival, as the service does (not after a simulated latency).
            now = self.clock() if received_at is None else received_at
            if cred.get('expired') or (cred.get('expires_at') is not None and now >= cred['expires_at']):
                raise ApiError('InvalidSecurityToken.Expired')
        elif token:
            raise ApiError('InvalidSecurityToken.MismatchWithAccessKey', message='A SecurityToken was sent with a non-STS AccessKey.')

    def _use_nonce(self, access_key_id, nonce):
        now = self.clock()
        with self._lock:
            while self._nonces and next(iter(self._nonces.values())) < now - self.max_skew:
                self._nonces.popitem(last=False)
            key = (access_key_id, nonce)
            if key in self._nonces:
                raise ApiError('SignatureNonceUsed')
            self._nonces[key] = now

    def verify(self, method, path, query, params, headers, body, received_at=None):
        """Authenticate one request or raise ApiError.

        ``query``: URL query parameters; ``params``: query plus form parameters;
        ``headers``: lower-case name -> list of values; ``body``: raw bytes received;
        ``received_at``: when the request arrived (``clock()`` time; default now): a temporary key is judged expired or
        not at that moment.
        """
        style = detect(headers, params)[0]
        if style == 'v3':
            return self._verify_v3(method, path, query, headers, body, received_at)
        if style == 'v2':
            return self._verify_v2(method, params, received_at)
        raise ApiError('MissingParameter', 'AccessKeyId',
                       message='The request is not signed: neither an Authorization header nor a Signature parameter was supplied.')

    def _verify_v3(self, method, path, query, headers, body, received_at=None):
        try:
            access_key_id, signed, sent_signature = signature.parse_v3_authorization(_one(headers, 'authorization'))
        except ValueError as exc:
            raise ApiError('IncompleteSignature', 'Authorization: %s.' % exc) from exc
        signed = [n.lower() for n in signed]
        for name in signed:
            if name not in headers:
                raise ApiError('IncompleteSignature', 'Signed header %s is not present in the request.' % name)
        for name in V3_REQUIRED_HEADERS:
            if name not in headers:
                raise ApiError('MissingParameter', name)
            if name not in signed:
                raise ApiError('IncompleteSignature', 'Header %s must be signed.' % name)
        self._check_time(_one(headers, 'x-acs-date'))
        cred = self._credential(access_key_id)
        if 'x-acs-accesskey-id' in headers and _one(headers, 'x-acs-accesskey-id') != access_key_id:
            raise ApiError('IncompleteSignature', 'x-acs-accesskey-id does not match the Credential.')
        token = _one(headers, 'x-acs-security-token')
        if token and 'x-acs-security-token' not in signed:
            raise ApiError('IncompleteSignature', 'Header x-acs-security-token must be signed.')
        self._check_token(cred, token, received_at)
        payload_hash = _one(headers, 'x-acs-content-sha256').strip().lower()
        if payload_hash != hashlib.sha256(body).hexdigest():
            raise ApiError('IncompleteSignature', 'x-acs-content-sha256 does not match the request body.')
        canonical = signature.v3_canonical_request(method, path, query, headers, signed, payload_hash)
        expected = signature.v3_signature(cred['secret'], canonical)
        if not hmac.compare_digest(expected, sent_signature):
            raise ApiError('SignatureDoesNotMatch', signature.v3_string_to_sign(canonical))
        self._use_nonce(access_key_id, _one(headers, 'x-acs-signature-nonce'))
        return AuthResult(access_key_id, 'v3', cred.get('identity') or 'static:%s' % access_key_id)

    def _verify_v2(self, method, params, received_at=None):
        for name in V2_REQUIRED_PARAMS:
            if not params.get(name):
                raise ApiError('MissingParameter', name)
        if params['SignatureMethod'] != 'HMAC-SHA1':
            raise ApiError('IncompleteSignature', 'SignatureMethod %s is not supported.' % params['SignatureMethod'])
        if params['SignatureVersion'] != '1.0':
            raise ApiError('IncompleteSignature', 'SignatureVersion %s is not supported.' % params['SignatureVersion'])
        if params['Format'].lower() != 'json':
            raise ApiError('InvalidParameter', 'Format', message='This endpoint stand-in answers Format=JSON only.')
        self._check_time(params['Timestamp'])
        cred = self._credential(params['AccessKeyId'])
        self._check_token(cred, params.get('SecurityToken'), received_at)
        expected = signature.v2_signature(cred['secret'], method, params)
        if not hmac.compare_digest(expected.encode('utf-8'), params['Signature'].encode('utf-8')):
            raise ApiError('SignatureDoesNotMatch', signature.v2_string_to_sign(method, params))
        self._use_nonce(params['AccessKeyId'], params['SignatureNonce'])
        return AuthResult(params['AccessKeyId'], 'v2', cred.get('identity') or 'static:%s' % params['AccessKeyId'])
