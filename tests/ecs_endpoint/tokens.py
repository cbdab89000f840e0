"""Opaque NextToken values bound to the query that produced them."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct


class TokenIssuer:
    """Issues ``urlsafe-b64(offset || HMAC(key, binding || offset)[:16])`` tokens.

    The key is random per issuer (per server), so tokens from another server, another
    query (binding) or with a tampered offset are rejected.
    """

    def __init__(self, key: bytes = None):
        self._key = key or os.urandom(32)

    def _mac(self, binding, offset: int) -> bytes:
        msg = repr(tuple(binding)).encode('utf-8') + struct.pack('>I', offset)
        return hmac.new(self._key, msg, hashlib.sha256).digest()[:16]

    def issue(self, binding, offset: int) -> str:
        """Token that resumes ``binding`` at ``offset``."""
        raw = struct.pack('>I', offset) + self._mac(binding, offset)
        return base64.urlsafe_b64encode(raw).decode('ascii').rstrip('=')

    def resolve(self, token: str, binding) -> int:
        """Offset carried by ``token``; ValueError unless this issuer made it for ``binding``."""
        try:
            raw = base64.urlsafe_b64decode(token + '=' * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ValueError('undecodable token') from exc
        if len(raw) != 20:
            raise ValueError('bad token length')
        offset = struct.unpack('>I', raw[:4])[0]
        if not hmac.compare_digest(raw[4:], self._mac(binding, offset)):
            raise ValueError('token not issued for this query')
        return offset
