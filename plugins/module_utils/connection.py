# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options: their argument spec, their checks, and the clients they lead to.

Shared by modules (through :mod:`module`) and controller-side plugins (through
:mod:`controller`), so both validate the same way and sign through the same client.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import threading

from typing import Any, Dict, List, Mapping, Optional

from ansible.module_utils.errors import AnsibleFallbackNotFound

from ansible_collections.alicloud.ecs.plugins.module_utils import credentials as creds
from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.endpoints import (
    ENDPOINT_TYPES, ProxyError, endpoint_for, endpoint_problem, is_region_id, parse_proxy, proxy_credentials)
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import remember_secrets
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import (
    DEFAULT_BASE_DELAY, DEFAULT_MAX_DELAY, DEFAULT_RETRIES, RetryPolicy)


def first_set_env_fallback(*names: str) -> str:
    """The first of the environment variables ``names`` that is set and not empty, as credentials.py reads them.

    ansible-core's ``env_fallback`` takes the first one that exists, so an empty variable would hide the next.
    """
    value = creds.first_env(os.environ, names)
    if value is None:
        raise AnsibleFallbackNotFound
    return value


def connection_argument_spec() -> Dict[str, dict]:
    """Options every alicloud.ecs module takes (documented in the ``alicloud.ecs.alicloud`` doc fragment)."""
    return dict(
        access_key_id=dict(type='str', aliases=['access_key', 'alicloud_access_key'], no_log=False),
        access_key_secret=dict(type='str', aliases=['secret_key', 'alicloud_secret_key', 'secret_access_key'], no_log=True),
        security_token=dict(type='str', aliases=['alicloud_security_token'], no_log=True),
        profile=dict(type='str'),
        shared_credentials_file=dict(type='path'),
        ram_role_arn=dict(type='str', aliases=['assume_role_arn']),
        role_session_name=dict(type='str'),
        role_session_expiration=dict(type='int'),
        external_id=dict(type='str', no_log=False),
        role_policy=dict(type='raw'),
        sts_endpoint=dict(type='str'),
        ecs_ram_role=dict(type='str', aliases=['ecs_role_name']),
        region_id=dict(type='list', elements='str', required=True, aliases=['region', 'alicloud_region'],
                       fallback=(first_set_env_fallback, list(creds.ENV_REGION))),
        endpoint=dict(type='str'),
        endpoint_type=dict(type='str', default='public', choices=list(ENDPOINT_TYPES)),
        protocol=dict(type='str', default='https', choices=['https', 'http']),
        validate_certs=dict(type='bool', default=True),
        ca_bundle=dict(type='path'),
        http_proxy=dict(type='str'),
        https_proxy=dict(type='str'),
        connect_timeout=dict(type='float', default=5.0),
        read_timeout=dict(type='float', default=10.0),
        retries=dict(type='int', default=DEFAULT_RETRIES),
        retry_delay=dict(type='float', default=DEFAULT_BASE_DELAY),
        retry_max_delay=dict(type='float', default=DEFAULT_MAX_DELAY),
    )


class OptionError(ValueError):
    """An option value that cannot work; the message names the option."""


def _check_range(params, name, low=None, high=None):
    value = params.get(name)
    if value is None:
        return
    if not ((low is None or value >= low) and (high is None or value <= high)):  # also refuses NaN
        if high is None:
            raise OptionError(f'{name} must be at least {low}, got {value}')
        raise OptionError(f'{name} must be between {low} and {high}, got {value}')


# Options that are secrets, with their aliases (for masking option values in messages built outside a module).
SECRET_OPTIONS = ('access_key_secret', 'secret_key', 'alicloud_secret_key', 'secret_access_key',
                  'security_token', 'alicloud_security_token')
PROXY_OPTIONS = ('http_proxy', 'https_proxy')
PATH_OPTIONS = ('ca_bundle', 'shared_credentials_file')


def option_secrets(params: Mapping[str, Any]) -> List[str]:
    """The secret values among raw option values ``params`` (by name or alias): key secret, token, proxy passwords."""
    found = [params.get(name) for name in SECRET_OPTIONS if isinstance(params.get(name), str)]
    for name in PROXY_OPTIONS:
        found.extend(proxy_credentials(params.get(name)))
    return [value for value in found if value]


def _shown(value, limit=80):
    """``value`` for a message about a value that is not a secret: repr (control characters visible), cut short."""
    text = repr(value)
    return text if len(text) <= limit else f'{text[:limit]}... ({len(value)} characters)'


def validate_connection(params: Mapping[str, Any]) -> List[str]:
    """Check connection options before anything touches the network; returns the region IDs, deduplicated.

    Every value that becomes part of a URL or a header is checked whole here (full matches: a trailing newline
    fails), so that a bad one fails at once, naming its option, instead of failing every retry of every call.
    """
    regions = []
    for region in params['region_id'] or []:
        region = (region or '').strip()
        if not is_region_id(region):
            raise OptionError(f'region_id: {_shown(region)} is not a region ID (for example cn-hangzhou)')
        if region not in regions:
            regions.append(region)
    if not regions:
        raise OptionError('region_id needs at least one region (for example cn-hangzhou)')
    for name in ('endpoint', 'sts_endpoint'):
        if params.get(name):
            problem = endpoint_problem(params[name])
            if problem:
                raise OptionError(f'{name} {_shown(params[name])}: {problem}')
    _check_range(params, 'connect_timeout', 0.001, 300)
    _check_range(params, 'read_timeout', 0.001, 600)
    _check_range(params, 'retries', 0, 100)
    _check_range(params, 'retry_delay', 0, 60)
    _check_range(params, 'retry_max_delay', 0, 600)
    _check_range(params, 'role_session_expiration', 900, 43200)
    for name in PATH_OPTIONS:
        _check_readable(name, params.get(name))
    for name in PROXY_OPTIONS:
        if params.get(name):
            try:
                parse_proxy(params[name])
            except ProxyError as error:
                raise OptionError(f'{name}: {error}')
    _check_role(params)
    _check_profile(params)
    return regions


def _check_readable(name, path):
    if not path:
        return
    if '\x00' in path:
        raise OptionError(f'{name}: the path contains a NUL byte, which no file name can hold')
    try:
        readable = os.access(path, os.R_OK)
    except (TypeError, ValueError, OSError) as error:
        raise OptionError(f'{name}: cannot check {_shown(path)}: {error}')
    if not readable:
        raise OptionError(f'{name}: cannot read {_shown(path)}')


# A profile name is looked up in a file, never sent: anything visible, no control character, no outer white space.
_PROFILE_RE = re.compile(r'[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]{0,126}[^\x00-\x20\x7f])?')


def _check_role(params):
    arn = params.get('ram_role_arn')
    if arn and not creds.ROLE_ARN_RE.fullmatch(arn):
        raise OptionError(f'ram_role_arn: {_shown(arn)} is not the ARN of a RAM role (acs:ram::<account ID>:role/<role name>)')
    for name in ('role_session_name', 'role_session_expiration', 'external_id', 'role_policy'):
        if params.get(name) is not None and not arn:
            raise OptionError(f'{name} is only used with ram_role_arn, which is not set')
    problem = creds.external_id_problem(params.get('external_id'))
    if problem:
        raise OptionError(f'external_id: {problem}; the value is not shown')
    problem = creds.role_policy_problem(params.get('role_policy'))
    if problem:
        raise OptionError(f'role_policy: {problem}')
    name = params.get('role_session_name')
    if name is not None and not creds.ROLE_SESSION_NAME_RE.fullmatch(name):
        raise OptionError(f'role_session_name: {_shown(name)} is not a session name (2 to 64 letters, digits and . @ - _)')
    role = params.get('ecs_ram_role')
    if role and not creds.ECS_RAM_ROLE_RE.fullmatch(role):
        raise OptionError(f'ecs_ram_role: {_shown(role)} is not the name of a RAM role (1 to 64 letters, digits and . - _)')


def _check_profile(params):
    profile = params.get('profile')
    if profile and not _PROFILE_RE.fullmatch(profile):
        raise OptionError(f'profile: {_shown(profile)} is not a profile name (at most 128 characters, no control character, '
                          'no white space at either end)')


class Connection:
    """Validated connection options, the credentials they resolve to, and one SDK client per endpoint.

    Building it checks every option and decides on credentials without touching the network or
    importing the SDK; the first :meth:`client_for` does both.
    """

    def __init__(self, params: Dict[str, Any], environ: Optional[Mapping[str, str]] = None):
        self.params = params
        self.region_ids = validate_connection(params)
        self.environ = os.environ if environ is None else environ
        self.credential_source = creds.plan(creds.resolve(params, self.environ), self.environ)
        # Known before any call: every message of this process masks them from now on, wherever it is built.
        remember_secrets(self.secrets())
        self._clients = {}
        self._lock = threading.Lock()
        self._credential = None

    def warnings(self) -> List[str]:
        """What the user should know about these options before any call."""
        found = []
        if self.params['protocol'] == 'http':
            found.append('protocol is http: request signatures, STS tokens and session records travel in clear text. '
                         'Use https outside a test endpoint.')
        if not self.params['validate_certs']:
            found.append('validate_certs is false: the endpoint\'s TLS certificate is not checked, so anyone on the path '
                         'can read or alter the answers. Use ca_bundle for a private CA instead.')
        return found

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.params['retries'], self.params['retry_delay'], self.params['retry_max_delay'])

    def client_for(self, region_id: str, pool_size: int = 8) -> 'sdk.RpcClient':
        """The RPC client for ``region_id``'s endpoint, built once per endpoint and shared between threads."""
        endpoint = endpoint_for(region_id, self.params['endpoint_type'], self.params.get('endpoint'))
        with self._lock:
            client = self._clients.get(endpoint)
            if client is None:
                if self._credential is None:
                    self._credential = sdk.build_credential(self.credential_source, self.sts_settings())
                settings = {name: self.params.get(name) for name in (
                    'protocol', 'validate_certs', 'ca_bundle', 'connect_timeout', 'read_timeout')}
                # Rebuilt with the user and password %-encoded: urllib3 would split a raw ``#`` or ``?`` in a password
                # and quote the rest in its error.
                settings.update((name, parse_proxy(self.params[name]).url if self.params.get(name) else None)
                                for name in PROXY_OPTIONS)
                settings.update(endpoint=endpoint, pool_size=pool_size)
                client = self._clients[endpoint] = sdk.RpcClient(settings, self.credential_source, self._credential)
        return client

    def sts_settings(self) -> Dict[str, Any]:
        """How the credential providers reach STS and the metadata service: the STS endpoint (see
        :func:`endpoints.sts_endpoint_for`), the https proxy (never for the metadata service), timeouts. ca_bundle
        reaches the STS calls through the API call that needs the credentials (see ``sdk.credential_calls``)."""
        params = self.params
        return dict(
            endpoint=params.get('sts_endpoint'),
            endpoint_type=params['endpoint_type'],
            region_ids=list(self.region_ids),
            environ=self.environ,
            https_proxy=parse_proxy(params['https_proxy']).url if params.get('https_proxy') else None,
            connect_timeout=params.get('connect_timeout'),
            read_timeout=params.get('read_timeout'),
        )

    def secrets(self) -> List[str]:
        """Every secret value these options carry, for scrubbing messages: key secret, STS token (from the options or
        the environment), proxy passwords; the temporary credentials the SDK obtains are remembered as it gets them
        (see sdk.build_credential) and masked by every scrub."""
        found = list(self.credential_source.secrets())
        found.extend(option_secrets(self.params))
        return list(dict.fromkeys(found))
