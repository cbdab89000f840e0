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

import json
import os
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
    external_id: Optional[str] = None
    role_policy: Optional[str] = None
    # Filled by :func:`plan` (reads files): the CLI profile to build, and OIDC from the environment of ACK RRSA.
    profile_plan: Optional['ProfilePlan'] = None
    oidc: Optional['OidcRole'] = None

    def secrets(self) -> List[str]:
        """Values that must never appear in any output."""
        found = [self.access_key_secret, self.security_token]
        if self.profile_plan is not None:
            found.extend(self.profile_plan.secrets())
        return [value for value in found if value]

    def describe(self) -> str:
        """Where these credentials come from, for messages; never a secret."""
        if self.kind == 'access_key':
            base = 'the access key %s (from the %s)' % (self.access_key_id, self.origin)
        elif self.kind == 'ecs_ram_role':
            base = 'the ECS instance RAM role %r (instance metadata service)' % self.role_name
        elif self.kind == 'profile':
            base = (self.profile_plan.describe() if self.profile_plan is not None
                    else 'the CLI profile %r' % (self.profile or 'current'))
        elif self.oidc is not None:
            base = self.oidc.describe()
        else:
            base = 'the default credential chain'
        if self.role_arn:
            return 'the RAM role %s assumed with %s' % (self.role_arn, base)
        return base


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
                role_session_expiration=params.get('role_session_expiration'), external_id=params.get('external_id'),
                role_policy=role_policy_text(params.get('role_policy')) or None)
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


# The CLI profile modes the collection builds itself, so that sts_endpoint, ca_bundle, proxies and timeouts apply to
# their STS calls; the SDK's CLIProfileCredentialsProvider builds the others (OIDC, CloudSSO, OAuth, External) as it
# does, without them.
BUILT_PROFILE_MODES = ('AK', 'StsToken', 'RamRoleArn', 'EcsRamRole', 'ChainableRamRoleArn')
# A chain of source profiles longer than this is a loop or a mistake.
MAX_PROFILE_CHAIN = 10
ENV_ROLE_ARN = 'ALIBABA_CLOUD_ROLE_ARN'
ENV_OIDC_PROVIDER_ARN = 'ALIBABA_CLOUD_OIDC_PROVIDER_ARN'
ENV_OIDC_TOKEN_FILE = 'ALIBABA_CLOUD_OIDC_TOKEN_FILE'
ENV_ROLE_SESSION_NAME = 'ALIBABA_CLOUD_ROLE_SESSION_NAME'
ENV_CLI_PROFILE_DISABLED = 'ALIBABA_CLOUD_CLI_PROFILE_DISABLED'
ENV_ECS_METADATA_DISABLED = 'ALIBABA_CLOUD_ECS_METADATA_DISABLED'
ENV_CREDENTIALS_URI = 'ALIBABA_CLOUD_CREDENTIALS_URI'
ENV_STS_REGION = 'ALIBABA_CLOUD_STS_REGION'
ENV_STS_VPC = 'ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED'

# Checked with fullmatch: ``$`` also matches before a final newline.
ROLE_ARN_RE = re.compile(r'acs:ram::[0-9]{1,32}:role/[A-Za-z0-9.@_+=,/-]{1,256}')
OIDC_PROVIDER_ARN_RE = re.compile(r'acs:ram::[0-9]{1,32}:oidc-provider/[A-Za-z0-9.@_+=,/-]{1,256}')
ROLE_SESSION_NAME_RE = re.compile(r'[A-Za-z0-9.@_-]{2,64}')
# AssumeRole's ExternalId: 2 to 1,224 characters, ``[\w+=,.@:/-]`` (ASCII).
EXTERNAL_ID_RE = re.compile(r'[A-Za-z0-9_+=,.@:/-]{2,1224}')
# AssumeRole's Policy: at most 2,048 characters.
MAX_ROLE_POLICY_LENGTH = 2048
# An ECS instance RAM role name goes into the path of the metadata URL.
ECS_RAM_ROLE_RE = re.compile(r'[A-Za-z0-9._-]{1,64}')


def role_policy_text(policy: Any) -> Any:
    """The JSON text of a role policy given as a dictionary (YAML), or ``policy`` as it is (checked later)."""
    if isinstance(policy, Mapping):
        try:
            return json.dumps(dict(policy), sort_keys=False)
        except (TypeError, ValueError):
            return policy
    return policy


def role_policy_problem(policy: Any) -> Optional[str]:
    """Why ``policy`` cannot be AssumeRole's Policy (a JSON object of at most 2,048 characters), or None."""
    policy = role_policy_text(policy)
    if policy is None or policy == '':
        return None
    if not isinstance(policy, str):
        return 'expected a JSON policy document (a dictionary or its JSON text), got %s' % type(policy).__name__
    if len(policy) > MAX_ROLE_POLICY_LENGTH:
        return 'the policy has %d characters; STS takes at most %d' % (len(policy), MAX_ROLE_POLICY_LENGTH)
    try:
        document = json.loads(policy)
    except ValueError as error:
        return 'not valid JSON (%s)' % getattr(error, 'msg', 'it cannot be decoded')
    if not isinstance(document, dict):
        return 'a policy document is a JSON object ({"Version": "1", "Statement": [...]}), not a %s' % type(document).__name__
    return None


def sts_policy_text(policy: Optional[str]) -> Optional[str]:
    """``policy`` (a JSON object, see :func:`role_policy_problem`) as sent to STS: compact, with no space character.

    alibabacloud-credentials 1.0.12 signs the AssumeRole query with ``quote_plus`` (a space becomes ``+``) where STS
    encodes a space as ``%20``: a policy holding a space fails with SignatureDoesNotMatch. Compact separators drop the
    spaces between tokens, and a space inside a string is written ``\\u0020``, the same JSON.
    """
    if not policy:
        return policy
    return json.dumps(json.loads(policy), separators=(',', ':')).replace(' ', '\\u0020')


def external_id_problem(value: Any) -> Optional[str]:
    """Why ``value`` cannot be AssumeRole's ExternalId, or None; names the first bad character's position only."""
    if value is None:
        return None
    if not isinstance(value, str) or not EXTERNAL_ID_RE.fullmatch(value):
        if isinstance(value, str):
            for position, char in enumerate(value, 1):
                if ord(char) < 32 or ord(char) == 127:
                    return 'character %d is a control character; an external ID is 2 to 1224 letters, digits and _ + = , . @ : / -' % position
        return 'an external ID is 2 to 1224 letters, digits and _ + = , . @ : / -'
    return None


@dataclass
class OidcRole:
    """OIDC role assumption from the environment of ACK RRSA (all three variables set)."""

    role_arn: str
    provider_arn: str
    token_file: str
    role_session_name: Optional[str] = None

    def describe(self) -> str:
        return 'OIDC (role %s, token file %s from %s)' % (self.role_arn, self.token_file, ENV_OIDC_TOKEN_FILE)


def oidc_from_env(environ: Mapping[str, str]) -> Optional[OidcRole]:
    """The :class:`OidcRole` of the ACK RRSA variables, None unless all three are set; CredentialError if unusable."""
    role_arn, provider_arn = environ.get(ENV_ROLE_ARN), environ.get(ENV_OIDC_PROVIDER_ARN)
    token_file = environ.get(ENV_OIDC_TOKEN_FILE)
    if not (role_arn and provider_arn and token_file):
        return None
    if not ROLE_ARN_RE.fullmatch(role_arn):
        raise CredentialError('%s (OIDC): %r is not the ARN of a RAM role (acs:ram::<account ID>:role/<role name>)'
                              % (ENV_ROLE_ARN, role_arn[:120]))
    if not OIDC_PROVIDER_ARN_RE.fullmatch(provider_arn):
        raise CredentialError('%s (OIDC): %r is not the ARN of an OIDC provider (acs:ram::<account ID>:oidc-provider/'
                              '<name>)' % (ENV_OIDC_PROVIDER_ARN, provider_arn[:120]))
    session_name = environ.get(ENV_ROLE_SESSION_NAME) or None
    if session_name is not None and not ROLE_SESSION_NAME_RE.fullmatch(session_name):
        raise CredentialError('%s (OIDC): %r is not a session name (2 to 64 letters, digits and . @ - _)'
                              % (ENV_ROLE_SESSION_NAME, session_name[:80]))
    return OidcRole(role_arn, provider_arn, token_file, session_name)


def oidc_token_problem(path: str) -> Optional[str]:
    """Why the OIDC token file at ``path`` cannot be used (missing, unreadable, empty), or None; never quotes it."""
    try:
        with open(path, 'rb') as handle:
            content = handle.read(1 << 20)
    except OSError as error:
        return 'the OIDC token file %s (%s) cannot be read: %s' % (path, ENV_OIDC_TOKEN_FILE, error.strerror or error)
    if not content.strip():
        return 'the OIDC token file %s (%s) is empty' % (path, ENV_OIDC_TOKEN_FILE)
    return None


@dataclass
class ProfilePlan:
    """One profile of the CLI configuration, as the collection builds it; ``source`` for ChainableRamRoleArn.

    ``mode`` outside :data:`BUILT_PROFILE_MODES` means: hand the profile to the SDK as it is.
    """

    name: str
    mode: str
    file: str
    access_key_id: Optional[str] = None
    access_key_secret: Optional[str] = field(default=None, repr=False)
    security_token: Optional[str] = field(default=None, repr=False)
    role_name: Optional[str] = None
    role_arn: Optional[str] = None
    role_session_name: Optional[str] = None
    duration_seconds: Optional[int] = None
    policy: Optional[str] = None
    external_id: Optional[str] = None
    sts_region: Optional[str] = None
    enable_vpc: Optional[bool] = None
    source: Optional['ProfilePlan'] = None

    @property
    def built(self) -> bool:
        return self.mode in BUILT_PROFILE_MODES

    def secrets(self) -> List[str]:
        found = [self.access_key_secret, self.security_token]
        if self.source is not None:
            found.extend(self.source.secrets())
        return [value for value in found if value]

    def describe(self) -> str:
        return 'the CLI profile %r (mode %s) of %s' % (self.name, self.mode, self.file)


def default_cli_config(environ: Mapping[str, str]) -> str:
    """Where the Alibaba Cloud CLI keeps its configuration for the user of ``environ``."""
    home = environ.get('HOME') or os.path.expanduser('~')
    return os.path.join(home, '.aliyun', 'config.json')


def read_cli_config(path: str) -> Any:
    """The decoded JSON of the CLI configuration at ``path``; CredentialError naming the file (never its content)."""
    try:
        with open(path, 'r', encoding='utf-8') as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CredentialError('the CLI configuration file %s cannot be read: %s'
                              % (path, getattr(error, 'strerror', None) or type(error).__name__))
    try:
        return json.loads(text)
    except ValueError as error:
        raise CredentialError('the CLI configuration file %s is not valid JSON (line %s, column %s)'
                              % (path, getattr(error, 'lineno', '?'), getattr(error, 'colno', '?')))


def _profile_text(profile, key, where):
    value = profile.get(key)
    if value is None or value == '':
        return None
    if not isinstance(value, str):
        raise CredentialError('%s: %s must be a string' % (where, key))
    return value


def _profile_int(profile, key, where):
    value = profile.get(key)
    if value in (None, '', 0):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise CredentialError('%s: %s must be a number of seconds' % (where, key))
    if not 900 <= number <= 43200:
        raise CredentialError('%s: %s must be between 900 and 43200, got %d' % (where, key, number))
    return number


def _profile_keys(plan, profile, where, token):
    plan.access_key_id = _profile_text(profile, 'access_key_id', where)
    plan.access_key_secret = _profile_text(profile, 'access_key_secret', where)
    if token:
        plan.security_token = _profile_text(profile, 'sts_token', where)
    missing = [key for key, value in (('access_key_id', plan.access_key_id), ('access_key_secret', plan.access_key_secret),
                                      ('sts_token', plan.security_token if token else 'given')) if not value]
    if missing:
        raise CredentialError('%s: %s missing' % (where, ' and '.join(missing) + (' is' if len(missing) == 1 else ' are')))
    if not _ACCESS_KEY_ID_RE.fullmatch(plan.access_key_id):
        raise CredentialError('%s: access_key_id is not an access key ID (letters, digits, . - _)' % where)
    for key, value in (('access_key_secret', plan.access_key_secret), ('sts_token', plan.security_token)):
        problem = credential_value_problem(value)
        if problem:
            raise CredentialError('%s: %s: %s' % (where, key, problem))


def _profile_role(plan, profile, where):
    plan.role_arn = _profile_text(profile, 'ram_role_arn', where)
    if not plan.role_arn:
        raise CredentialError('%s: ram_role_arn is missing' % where)
    if not ROLE_ARN_RE.fullmatch(plan.role_arn):
        raise CredentialError('%s: ram_role_arn %r is not the ARN of a RAM role (acs:ram::<account ID>:role/<role name>)'
                              % (where, plan.role_arn[:120]))
    plan.role_session_name = _profile_text(profile, 'ram_session_name', where)
    if plan.role_session_name and not ROLE_SESSION_NAME_RE.fullmatch(plan.role_session_name):
        raise CredentialError('%s: ram_session_name %r is not a session name (2 to 64 letters, digits and . @ - _)'
                              % (where, plan.role_session_name[:80]))
    plan.duration_seconds = _profile_int(profile, 'expired_seconds', where)
    plan.policy = _profile_text(profile, 'policy', where)
    problem = role_policy_problem(plan.policy)
    if problem:
        raise CredentialError('%s: policy: %s' % (where, problem))
    plan.external_id = _profile_text(profile, 'external_id', where)
    problem = external_id_problem(plan.external_id)
    if problem:
        raise CredentialError('%s: external_id: %s' % (where, problem))
    plan.sts_region = _profile_text(profile, 'sts_region', where)
    vpc = profile.get('enable_vpc')
    plan.enable_vpc = vpc if isinstance(vpc, bool) else (str(vpc).lower() == 'true' if vpc not in (None, '') else None)


def cli_profile_plan(config: Any, name: Optional[str], file: str, _seen: Sequence[str] = ()) -> ProfilePlan:
    """The :class:`ProfilePlan` of profile ``name`` (or the configuration's ``current``) in decoded ``config``.

    Pure. Raises CredentialError naming the file, the profile and the field; never quotes a secret.
    """
    if not isinstance(config, dict):
        raise CredentialError('the CLI configuration file %s does not hold a JSON object' % file)
    if not name:
        name = config.get('current')
        if not name or not isinstance(name, str):
            raise CredentialError('the CLI configuration file %s names no current profile: give the profile option' % file)
    if name in _seen or len(_seen) >= MAX_PROFILE_CHAIN:
        raise CredentialError('the CLI configuration file %s: source_profile of %r leads back to %r (a loop)'
                              % (file, _seen[-1], name))
    profiles = config.get('profiles')
    found = [p for p in profiles if isinstance(p, dict) and p.get('name') == name] if isinstance(profiles, list) else []
    if not found:
        raise CredentialError('the CLI configuration file %s has no profile %r' % (file, name))
    profile = found[0]
    mode = profile.get('mode') if isinstance(profile.get('mode'), str) else ''
    where = 'CLI profile %r (mode %s) of %s' % (name, mode or 'not set', file)
    plan = ProfilePlan(name=name, mode=mode, file=file)
    if mode in ('AK', 'StsToken'):
        _profile_keys(plan, profile, where, token=mode == 'StsToken')
    elif mode == 'RamRoleArn':
        _profile_keys(plan, profile, where, token=False)
        _profile_role(plan, profile, where)
    elif mode == 'ChainableRamRoleArn':
        source = _profile_text(profile, 'source_profile', where)
        if not source:
            raise CredentialError('%s: source_profile is missing' % where)
        _profile_role(plan, profile, where)
        plan.source = cli_profile_plan(config, source, file, tuple(_seen) + (name,))
    elif mode == 'EcsRamRole':
        plan.role_name = _profile_text(profile, 'ram_role_name', where)
        if plan.role_name and not ECS_RAM_ROLE_RE.fullmatch(plan.role_name):
            raise CredentialError('%s: ram_role_name %r is not the name of a RAM role' % (where, plan.role_name[:80]))
    elif not mode:
        raise CredentialError('%s: the profile has no mode' % where)
    return plan


def is_true(value: Optional[str]) -> bool:
    return (value or '').strip().lower() == 'true'


def plan(source: CredentialSource, environ: Mapping[str, str]) -> CredentialSource:
    """``source`` with what files and the environment add: the CLI profile to build, OIDC of ACK RRSA.

    Reads the CLI configuration of an explicit profile and checks the OIDC token file, so that a broken source
    fails before any call, naming the file. The CLI profile of the default chain is read when the chain gets to it.
    """
    if source.kind == 'profile':
        file = source.profile_file or default_cli_config(environ)
        source.profile_plan = cli_profile_plan(read_cli_config(file), source.profile, file)
    elif source.kind == 'default':
        source.oidc = oidc_from_env(environ)
        if source.oidc is not None:
            problem = oidc_token_problem(source.oidc.token_file)
            if problem:
                raise CredentialError(problem)
    return source
