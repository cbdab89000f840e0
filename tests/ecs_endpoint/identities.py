"""IdentityRegistry: the keys the local endpoints accept, and who each key stands for.

Static test keys are registered up front; the local STS and instance-metadata endpoints *issue* temporary keys
(access key ID, secret, security token, expiration) for an identity such as ``assumed:<role arn>/<session name>`` or
``ecs-role:<role name>``. The ECS endpoint and the STS look every AccessKeyId up here, so a key is accepted only if it
is a static test key or one the local services handed out, and each call can be attributed to an identity.

The registry is a read-only mapping for :class:`ecs_endpoint.auth.Authenticator`: ``registry.get(key_id)`` returns
``{'secret', 'security_token', 'identity', 'expires_at'}`` (a fresh dict), or None for an unknown key.
"""
from __future__ import annotations

import datetime
import math
import secrets
import threading
import time

TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'


def static_identity(access_key_id: str) -> str:
    return 'static:%s' % access_key_id


def assumed_identity(role_arn: str, session_name: str) -> str:
    return 'assumed:%s/%s' % (role_arn, session_name)


def ecs_role_identity(role_name: str) -> str:
    return 'ecs-role:%s' % role_name


def iso_time(epoch: float) -> str:
    """``2024-06-01T00:00:00Z`` (the services' Expiration format, whole seconds)."""
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(TIME_FORMAT)


class IssuedKey:
    """A temporary key handed out for ``identity``; ``record`` holds what the issuer wants to remember."""

    def __init__(self, access_key_id, secret, security_token, expires_at, identity, record):
        self.access_key_id = access_key_id
        self.secret = secret
        self.security_token = security_token
        self.expires_at = expires_at
        self.identity = identity
        self.record = record

    @property
    def expiration(self) -> str:
        return iso_time(self.expires_at)

    def __repr__(self):  # never the secret or the token
        return 'IssuedKey(%s, %s, expires %s)' % (self.access_key_id, self.identity, self.expiration)


class IdentityRegistry:
    """Static test keys plus every key the local STS/metadata issued (thread-safe).

    ``static``: access key ID -> {"secret": str, "security_token": str|None} (the shape of ``support.keys.CREDENTIALS``).
    A static entry with a security token stands for an STS key pair given to the test as is: its identity is still
    ``static:<key id>``.
    """

    def __init__(self, static=None, clock=time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self._keys = {}
        self._issued = []
        for key_id, entry in (static or {}).items():
            self.add_static(key_id, entry['secret'], entry.get('security_token'))

    def add_static(self, access_key_id: str, secret: str, security_token: str = None):
        with self._lock:
            self._keys[access_key_id] = {'secret': secret, 'security_token': security_token,
                                         'identity': static_identity(access_key_id), 'expires_at': None}

    def issue(self, identity: str, lifetime_seconds: float, **record) -> IssuedKey:
        """A new temporary key for ``identity`` valid ``lifetime_seconds`` from now (may be 0 or negative: expired)."""
        key_id = 'STS.%s' % secrets.token_hex(12).upper()
        secret = secrets.token_urlsafe(24)
        token = 'CAIS%s' % secrets.token_urlsafe(48)
        # Whole seconds, as the services state it, rounded up: a key lives at least lifetime_seconds.
        expires_at = math.ceil(self.clock() + lifetime_seconds)
        record = dict(record, identity=identity, access_key_id=key_id, expires_at=expires_at, issued_at=self.clock())
        issued = IssuedKey(key_id, secret, token, expires_at, identity, record)
        with self._lock:
            self._keys[key_id] = {'secret': secret, 'security_token': token, 'identity': identity, 'expires_at': expires_at}
            self._issued.append(issued)
        return issued

    def get(self, access_key_id, default=None):
        """The entry of ``access_key_id`` (a copy), or ``default``."""
        with self._lock:
            entry = self._keys.get(access_key_id)
            return dict(entry) if entry is not None else default

    def __contains__(self, access_key_id):
        with self._lock:
            return access_key_id in self._keys

    def expired(self, entry) -> bool:
        """True when a temporary key's expiration has passed."""
        return entry.get('expires_at') is not None and self.clock() >= entry['expires_at']

    def expire_now(self, access_key_id: str):
        """Make an issued key expire at once (as if its lifetime had run out)."""
        with self._lock:
            self._keys[access_key_id]['expires_at'] = int(self.clock()) - 1

    @property
    def issued(self) -> list:
        """Every :class:`IssuedKey`, in the order they were issued."""
        with self._lock:
            return list(self._issued)

    def identity_of(self, access_key_id: str):
        entry = self.get(access_key_id)
        return entry['identity'] if entry else None

    def secrets(self) -> list:
        """Every secret and token issued so far (for output sweeps)."""
        with self._lock:
            return [value for issued in self._issued for value in (issued.secret, issued.security_token)]
