"""MetadataEndpoint: a strict local stand-in for the ECS instance-metadata service (RAM role credentials).

Hardened (token) mode as on an instance that enforces it: ``PUT /latest/api/token`` with
``X-aliyun-ecs-metadata-token-ttl-seconds`` (1..21600) returns a token; every ``GET`` must carry it in
``X-aliyun-ecs-metadata-token`` (missing, unknown or expired: 401). A token request that came through a proxy
(``X-Forwarded-For``) is refused (403), as the service refuses it. ``GET /latest/meta-data/ram/security-credentials/``
names the instance's role, ``.../<role>`` returns its temporary keys (JSON, ``Code: Success``), issued through the
shared :class:`~ecs_endpoint.identities.IdentityRegistry` as ``ecs-role:<role>`` and handed out again until they
expire; any other role is 404. On an instance it listens on 100.100.100.200:80: tests run it there inside a network
namespace they create, or on loopback for the endpoint's own tests.
"""
from __future__ import annotations

import json
import secrets
import time

from ecs_endpoint.identities import IdentityRegistry, ecs_role_identity, iso_time
from ecs_endpoint.service import LocalService

TOKEN_PATH = '/latest/api/token'
CREDENTIALS_PATH = '/latest/meta-data/ram/security-credentials/'
TTL_HEADER = 'X-aliyun-ecs-metadata-token-ttl-seconds'
TOKEN_HEADER = 'X-aliyun-ecs-metadata-token'
MAX_TTL = 21600
TEXT = 'text/plain'


class MetadataEndpoint(LocalService):
    """``role_name``: the instance's RAM role (None: no role attached). ``expiration_seconds``: lifetime of its keys.

    ``require_token``: hardened mode enforced (default); False also answers requests without a token (IMDSv1).
    """

    name = 'metadata-endpoint'

    def __init__(self, identities: IdentityRegistry, role_name='EcsInstanceRole', expiration_seconds=3600,
                 require_token=True, host='127.0.0.1', port=0, verbose=False):
        super().__init__(tls=False, host=host, port=port, verbose=verbose)
        self.identities = identities
        self.role_name = role_name
        self.expiration_seconds = expiration_seconds
        self.require_token = require_token
        self._tokens = {}
        self._current = None

    @property
    def issued(self) -> list:
        """The records of the keys this service handed out (no secret), in order."""
        return [dict(key.record) for key in self.identities.issued if key.record.get('issuer') == 'metadata']

    def handle_api(self, handler, url, body):
        entry = self._log(method=handler.command, path=url.path, token_sent=bool(handler.headers.get(TOKEN_HEADER)),
                          forwarded=bool(handler.headers.get('X-Forwarded-For')))
        status, text, content_type = self._answer(handler, url.path)
        self._finish(entry, status)
        self.send(handler, status, text.encode('utf-8'), content_type, None)

    def _answer(self, handler, path):
        if path == TOKEN_PATH:
            return self._token(handler)
        if handler.command != 'GET':
            return 405, 'Method Not Allowed', TEXT
        token = handler.headers.get(TOKEN_HEADER)
        if token is not None or self.require_token:
            expires = self._tokens.get(token or '')
            if expires is None or time.time() >= expires:
                return 401, 'Unauthorized', TEXT
        if path == CREDENTIALS_PATH:
            return (200, self.role_name, TEXT) if self.role_name else (404, 'Not Found', TEXT)
        if path.startswith(CREDENTIALS_PATH) and self.role_name and path[len(CREDENTIALS_PATH):] == self.role_name:
            return 200, self._credentials(), 'application/json'
        return 404, 'Not Found', TEXT

    def _token(self, handler):
        if handler.command != 'PUT':
            return 405, 'Method Not Allowed', TEXT
        if handler.headers.get('X-Forwarded-For'):
            return 403, 'Forbidden', TEXT
        ttl = handler.headers.get(TTL_HEADER) or ''
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL:
            return 400, 'Bad Request', TEXT
        token = secrets.token_urlsafe(32)
        self._tokens[token] = time.time() + int(ttl)
        return 200, token, TEXT

    def _credentials(self):
        current = self._current
        if current is None or self.identities.expired(self.identities.get(current.access_key_id)):
            current = self._current = self.identities.issue(ecs_role_identity(self.role_name), self.expiration_seconds,
                                                            issuer='metadata', role_name=self.role_name)
        return json.dumps({'AccessKeyId': current.access_key_id, 'AccessKeySecret': current.secret,
                           'Expiration': current.expiration, 'SecurityToken': current.security_token,
                           'LastUpdated': iso_time(current.record['issued_at']), 'Code': 'Success'})
