"""Pure signing helpers for Alibaba Cloud RPC requests (V3 ACS3-HMAC-SHA256 and legacy V2 HMAC-SHA1)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import quote

V3_ALGORITHM = 'ACS3-HMAC-SHA256'
EMPTY_SHA256 = hashlib.sha256(b'').hexdigest()

_AUTH_RE = re.compile(
    r'^(?P<alg>[A-Z0-9-]+) +Credential=(?P<cred>[^,\s]+) *, *SignedHeaders=(?P<signed>[^,\s]*) *, *Signature=(?P<sig>[0-9a-fA-F]+)$'
)


def percent_encode(value) -> str:
    """RFC 3986 encoding: unreserved characters and ``~`` kept, space as %20, ``*`` as %2A."""
    if isinstance(value, bytes):
        value = value.decode('utf-8')
    return quote(str(value), safe='~', encoding='utf-8')


def canonical_query(params: dict) -> str:
    """Sorted, percent-encoded ``name=value`` pairs joined by ``&`` (None values skipped)."""
    items = sorted((str(k), v) for k, v in params.items() if v is not None)
    return '&'.join('%s=%s' % (percent_encode(k), percent_encode(v)) for k, v in items)


def _header_value(headers, name: str) -> str:
    values = []
    for key, value in headers.items():
        if key.lower() != name:
            continue
        if isinstance(value, (list, tuple)):
            values.extend(str(v).strip() for v in value)
        else:
            values.append(str(value).strip())
    return ','.join(sorted(values))


def v3_canonical_request(method, path, params, headers, signed_header_names, payload_hash) -> str:
    """Build the V3 canonical request.

    ``headers`` maps names (any case) to a value or a list of values; only the
    ``signed_header_names`` are used, lower-cased and sorted, each as ``name:trimmed-value\\n``.
    """
    names = sorted({n.strip().lower() for n in signed_header_names if n.strip()})
    canonical_headers = ''.join('%s:%s\n' % (name, _header_value(headers, name)) for name in names)
    return '\n'.join([
        method.upper(),
        path or '/',
        canonical_query(params),
        canonical_headers,
        ';'.join(names),
        payload_hash,
    ])


def v3_string_to_sign(canonical_request: str) -> str:
    """``ACS3-HMAC-SHA256\\n`` + hex SHA-256 of the canonical request."""
    return '%s\n%s' % (V3_ALGORITHM, hashlib.sha256(canonical_request.encode('utf-8')).hexdigest())


def v3_signature(secret: str, canonical_request: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed by the access key secret."""
    return hmac.new(secret.encode('utf-8'), v3_string_to_sign(canonical_request).encode('utf-8'), hashlib.sha256).hexdigest()


def v3_authorization(access_key_id: str, signed_header_names, signature: str) -> str:
    """Format an ``Authorization`` header value."""
    names = ';'.join(sorted(n.lower() for n in signed_header_names))
    return '%s Credential=%s,SignedHeaders=%s,Signature=%s' % (V3_ALGORITHM, access_key_id, names, signature)


def parse_v3_authorization(header):
    """Return ``(access_key_id, signed_header_names, signature)``; ValueError when malformed."""
    if not isinstance(header, str):
        raise ValueError('Authorization header is missing')
    match = _AUTH_RE.match(header.strip())
    if not match:
        raise ValueError('Authorization header is malformed')
    if match.group('alg') != V3_ALGORITHM:
        raise ValueError('unsupported signature algorithm %s' % match.group('alg'))
    signed = [n for n in match.group('signed').split(';') if n]
    if not signed:
        raise ValueError('SignedHeaders is empty')
    return match.group('cred'), signed, match.group('sig').lower()


def v2_string_to_sign(method: str, params: dict) -> str:
    """``METHOD&%2F&`` + encoded canonical query of every parameter except ``Signature``."""
    signed = {k: v for k, v in params.items() if k != 'Signature'}
    return '%s&%s&%s' % (method.upper(), percent_encode('/'), percent_encode(canonical_query(signed)))


def v2_signature(secret: str, method: str, params: dict) -> str:
    """Legacy RPC signature: base64 HMAC-SHA1 keyed by ``secret + '&'``."""
    digest = hmac.new((secret + '&').encode('utf-8'), v2_string_to_sign(method, params).encode('utf-8'), hashlib.sha1).digest()
    return base64.b64encode(digest).decode('ascii')
