# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which credentials to use, decided from options and environment. Pure Python, no SDK.

Order: options given in the task, then environment variables, then the SDK's default
credential chain. The result is a plain description (:class:`CredentialSource`) that
``sdk.py`` turns into SDK objects, so the decision is testable without the SDK.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from dataclasses import dataclass, field

from typing import Any, List, Mapping, Optional, Sequence

ENV_ACCESS_KEY_ID = ('ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALICLOUD_ACCESS_KEY', 'ALICLOUD_ACCESS_KEY_ID')
ENV_ACCESS_KEY_SECRET = ('ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALICLOUD_SECRET_KEY', 'ALICLOUD_SECRET_ACCESS_KEY')
ENV_SECURITY_TOKEN = ('ALIBABA_CLOUD_SECURITY_TOKEN', 'ALICLOUD_SECURITY_TOKEN')
ENV_PROFILE = ('ALIBABA_CLOUD_PROFILE', 'ALICLOUD_PROFILE')
ENV_SHARED_CREDENTIALS_FILE = ('ALICLOUD_SHARED_CREDENTIALS_FILE',)
ENV_REGION = ('ALIBABA_CLOUD_REGION_ID', 'ALICLOUD_REGION', 'ALICLOUD_REGION_ID')
# Option -> the environment variables read for it, first set wins (documented for plugins, tested against the guide).
ENV_BY_OPTION = {
    'access_key_id': ENV_ACCESS_KEY_ID,
    'access_key_secret': ENV_ACCESS_KEY_SECRET,
    'security_token': ENV_SECURITY_TOKEN,
    'profile': ENV_PROFILE,
    'shared_credentials_file': ENV_SHARED_CREDENTIALS_FILE,
    'region_id': ENV_REGION,
}
# Checked with fullmatch: ``$`` also matches before a final newline, which would then reach a request header.
_ACCESS_KEY_ID_RE = re.compile(r'[A-Za-z0-9._-]{1,128}')
# What a value that travels in a header or is signed can hold: visible ASCII (a key secret or an STS token has no
# white space, no control character and nothing outside ASCII).
_HEADER_SAFE_RE = re.compile(r'[\x21-\x7e]+')


class CredentialError(ValueError):
    """Credential options that cannot work together; the message names them."""


@dataclass
class CredentialSource:
    """How to obtain credentials.

    ``kind`` is one of ``access_key`` (static keys, with ``security_token`` for STS),
    ``ecs_ram_role``, ``profile`` or ``default`` (the SDK's chain). ``role_arn`` set means
    the credentials of ``kind`` are used to assume that RAM role. ``origin`` says where the
    choice came from, for messages ("options", "environment", "default chain").
    """

    kind: str
    origin: str
    access_key_id: Optional[str] = None
    access_key_secret: Optional[str] = field(default=None, repr=False)
    security_token: Optional[str] = field(default=None, repr=False)
    role_name: Optional[str] = None
    profile: Optional[str] = None
    profile_file: Optional[str] = None
    role_arn: Optional[str] = None
    role_session_name: Optional[str] = None
    role_session_expiration: Optional[int] = None

    def secrets(self) -> List[str]:
        """Values that must never appear in any output."""
        return [value for value in (self.access_key_secret, self.security_token) if value]


def credential_value_problem(value: Any) -> Optional[str]:
    """Why ``value`` cannot be a key secret or an STS token (which travel in headers or are signed), or None.

    Never quotes the value: it names the kind and the position of the first character that cannot be there.
    """
    if value is None or value == '':
        return None
    if not isinstance(value, str):
        return 'expected a string'
    if _HEADER_SAFE_RE.fullmatch(value):
        return None
    for position, char in enumerate(value, 1):
        if ord(char) < 32 or ord(char) == 127:
            kind = 'a control character (a newline or carriage return from a file?)'
        elif char.isspace():
            kind = 'white space'
        elif ord(char) > 126:
            kind = 'a character outside ASCII'
        else:
            continue
        return ('character %d of %d is %s, which a credential never holds and a request header cannot carry; '
                'the value is not shown' % (position, len(value), kind))
    return None


def first_env(environ: Mapping[str, str], names: Sequence[str]) -> Optional[str]:
    """The value of the first of ``names`` set (not empty) in ``environ``, or None."""
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def resolve(params: Mapping[str, Any], environ: Mapping[str, str]) -> CredentialSource:
    """The :class:`CredentialSource` for module ``params`` and the environment ``environ``."""
    key_id, secret, token = params.get('access_key_id'), params.get('access_key_secret'), params.get('security_token')
    if key_id or secret:
        origin = 'options'
        key_id = key_id or first_env(environ, ENV_ACCESS_KEY_ID)
        secret = secret or first_env(environ, ENV_ACCESS_KEY_SECRET)
        token = token or first_env(environ, ENV_SECURITY_TOKEN)
    elif token:
        raise CredentialError('security_token needs access_key_id and access_key_secret (the STS key pair it belongs to)')
    else:
        origin = 'environment'
        key_id, secret = first_env(environ, ENV_ACCESS_KEY_ID), first_env(environ, ENV_ACCESS_KEY_SECRET)
        token = first_env(environ, ENV_SECURITY_TOKEN) if key_id and secret else None

    if key_id and not (isinstance(key_id, str) and _ACCESS_KEY_ID_RE.fullmatch(key_id)):
        raise CredentialError('access_key_id: an access key ID is made of letters and digits (for example LTAI5t...); this one '
                              'has white space or other characters - a newline from a file, or a list given for a string?')
    for name, value in (('access_key_secret', secret), ('security_token', token)):
        problem = credential_value_problem(value)
        if problem:
            raise CredentialError('%s%s: %s' % (name, '' if params.get(name) else ' (from its environment variable)', problem))
    if bool(key_id) != bool(secret):
        missing = 'access_key_secret' if key_id else 'access_key_id'
        raise CredentialError('%s is missing: give access_key_id and access_key_secret together (as options or '
                              'through their environment variables)' % missing)

    role = dict(role_arn=params.get('ram_role_arn'), role_session_name=params.get('role_session_name'),
                role_session_expiration=params.get('role_session_expiration'))
    explicit_profile = params.get('profile') or params.get('shared_credentials_file')
    if origin == 'options':
        if params.get('ecs_ram_role') or explicit_profile:
            raise CredentialError('access_key_id/access_key_secret are mutually exclusive with ecs_ram_role and profile')
        return CredentialSource('access_key', origin, key_id, secret, token, **role)
    if params.get('ecs_ram_role'):
        if explicit_profile:
            raise CredentialError('ecs_ram_role and profile are mutually exclusive')
        return CredentialSource('ecs_ram_role', 'options', role_name=params['ecs_ram_role'], **role)
    if explicit_profile:
        return CredentialSource('profile', 'options', profile=params.get('profile') or first_env(environ, ENV_PROFILE),
                                profile_file=params.get('shared_credentials_file'), **role)
    if key_id:
        return CredentialSource('access_key', 'environment', key_id, secret, token, **role)
    env_profile = first_env(environ, ENV_PROFILE)
    if env_profile:
        return CredentialSource('profile', 'environment', profile=env_profile,
                                profile_file=first_env(environ, ENV_SHARED_CREDENTIALS_FILE), **role)
    return CredentialSource('default', 'default chain', **role)
