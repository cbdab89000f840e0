"""Hand-built signed requests (stdlib http.client) for probing EcsEndpoint's strict checks."""
from __future__ import annotations

import datetime
import hashlib
import http.client
import json
import ssl
import uuid
from urllib.parse import urlencode

from ecs_endpoint import signature

ACTION = 'DescribeTerminalSessions'
VERSION = '2014-05-26'
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'


class Reply:
    """HTTP status, lower-case headers, raw body and the decoded JSON (or None)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body.decode('utf-8'))
        except ValueError:
            self.json = None

    @property
    def code(self):
        """Error code of a JSON error body, else None."""
        return self.json.get('Code') if isinstance(self.json, dict) else None


def now_stamp(offset_seconds=0) -> str:
    """UTC timestamp in the wire format, shifted by ``offset_seconds``."""
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return moment.strftime(TIME_FORMAT)


def send(endpoint, method, path, headers=None, body=b'', protocol='http', ca_file=None, timeout=10) -> Reply:
    """One raw HTTP exchange with ``endpoint`` (``127.0.0.1:PORT``)."""
    host, port = endpoint.rsplit(':', 1)
    if protocol == 'https':
        context = ssl.create_default_context(cafile=ca_file)
        conn = http.client.HTTPSConnection(host, int(port), timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        headers = dict(headers or {})
        headers.setdefault('host', endpoint)
        headers['Content-Length'] = str(len(body))
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def v3_call(endpoint, params, access_key_id, secret, method='POST', action=ACTION, version=VERSION, security_token=None,
            date=None, nonce=None, body=b'', headers=None, unsigned_headers=None, drop_signed=(), content_sha256=None,
            protocol='http', ca_file=None, timeout=10) -> Reply:
    """Send a V3-signed request; knobs let a test break exactly one rule."""
    hdrs = {
        'host': endpoint,
        'x-acs-action': action,
        'x-acs-version': version,
        'x-acs-date': date or now_stamp(),
        'x-acs-signature-nonce': nonce or uuid.uuid4().hex,
        'x-acs-content-sha256': content_sha256 or hashlib.sha256(body).hexdigest(),
        'accept': 'application/json',
    }
    if security_token is not None:
        hdrs['x-acs-security-token'] = security_token
        hdrs['x-acs-accesskey-id'] = access_key_id
    hdrs.update(headers or {})
    hdrs = {k: v for k, v in hdrs.items() if v is not None}
    signed = [k for k in hdrs if k not in drop_signed]
    payload_hash = hdrs.get('x-acs-content-sha256', hashlib.sha256(body).hexdigest())
    canonical = signature.v3_canonical_request(method, '/', params, hdrs, signed, payload_hash)
    sig = signature.v3_signature(secret, canonical)
    hdrs['Authorization'] = signature.v3_authorization(access_key_id, signed, sig)
    hdrs.update(unsigned_headers or {})
    return send(endpoint, method, '/?' + urlencode(params) if params else '/', hdrs, body, protocol, ca_file, timeout)


def v2_call(endpoint, params, access_key_id, secret, method='POST', action=ACTION, version=VERSION, security_token=None,
            timestamp=None, nonce=None, overrides=None, protocol='http', ca_file=None, timeout=10) -> Reply:
    """Send a legacy V2 (HMAC-SHA1) signed request; ``overrides`` replace params after signing."""
    query = dict(params)
    query.update({
        'Action': action, 'Version': version, 'Format': 'JSON', 'AccessKeyId': access_key_id,
        'SignatureMethod': 'HMAC-SHA1', 'SignatureVersion': '1.0',
        'SignatureNonce': nonce or uuid.uuid4().hex, 'Timestamp': timestamp or now_stamp(),
    })
    if security_token is not None:
        query['SecurityToken'] = security_token
    query['Signature'] = signature.v2_signature(secret, method, query)
    query.update(overrides or {})
    query = {k: v for k, v in query.items() if v is not None}
    return send(endpoint, method, '/?' + urlencode(query), {'host': endpoint}, b'', protocol, ca_file, timeout)


def control(endpoint, method, path, doc=None, timeout=10) -> Reply:
    """Talk to the ``/_emulator/...`` control API."""
    body = json.dumps(doc).encode('utf-8') if doc is not None else b''
    return send(endpoint, method, path, {'Content-Type': 'application/json'}, body, timeout=timeout)
