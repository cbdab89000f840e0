# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that touches the Alibaba Cloud SDK (alibabacloud-tea-openapi).

It signs and sends one RPC call and turns whatever the SDK raises into an
:class:`AlicloudError`. Retries, pagination and record shaping live elsewhere. The SDK is
imported on first use, after the options were validated, so a task with a bad option
fails without paying for the import or building a credential chain.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import contextlib
import json
import logging
import os
import re
import socket
import threading

from importlib.util import find_spec
from typing import Any, Dict, List, MutableMapping, Optional
from urllib.parse import urljoin, urlsplit, urlunsplit

from ansible_collections.alicloud.ecs.plugins.module_utils import credentials as creds
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialSource
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import (
    RETRYABLE_CODES, AlicloudError, excerpt, is_retryable_status, remember_secrets, scrub,
)

try:
    HAS_ALIBABA_SDK = find_spec('alibabacloud_tea_openapi') is not None
except (ImportError, ValueError):
    HAS_ALIBABA_SDK = False
SDK_REQUIREMENT = 'alibabacloud-tea-openapi'

ECS_API_VERSION = '2014-05-26'
USER_AGENT = 'AnsibleCollection/alicloud.ecs-0.2.0'

_IMPORT_LOCK = threading.Lock()
_SDK = {}


def _sdk():
    """The SDK classes, imported once; the SDK's loggers are captured as soon as they exist (see capture_sdk_logs)."""
    with _IMPORT_LOCK:
        if not _SDK:
            from alibabacloud_tea_openapi.client import Client
            from alibabacloud_tea_openapi import exceptions, utils_models
            from darabonba.runtime import RuntimeOptions
            from darabonba.exceptions import UnretryableException, RetryError
            # Imported here, not on first use: importing them adds the SDK's own stderr handlers to its loggers.
            import alibabacloud_credentials.provider  # noqa: F401 pylint: disable=unused-import
            guard_transport()  # before the classes are handed out: see "Transport seam" below
            _SDK.update(Client=Client, exceptions=exceptions, models=utils_models, RuntimeOptions=RuntimeOptions,
                        UnretryableException=UnretryableException, RetryError=RetryError)
            _LOG_CAPTURE.install()
    return _SDK


# The loggers of the SDK as installed (written against alibabacloud-credentials 1.0.12, darabonba-core 1.0.9,
# alibabacloud-tea 0.4.3, alibabacloud-tea-openapi 0.4.6): alibabacloud_credentials.provider.* log to 'credentials'
# (credential refreshes, with the exception of a failed STS call: its URL holds the STS token), darabonba.core and
# Tea.core to 'darabonba-core' and 'alibabacloud-tea' (every request header when DEBUG=sdk); each module adds its own
# StreamHandler to stderr when imported. urllib3 logs request URLs and connection warnings. No switch turns them off:
# tests/unit/plugins/module_utils/test_sdk.py fails if an upgrade adds a logger with a handler of its own.
SDK_LOGGERS = ('credentials', 'darabonba-core', 'alibabacloud-tea', 'urllib3')
# Log texts kept between two drains; older ones are dropped (a refresh loop must not grow memory).
MAX_CAPTURED_LOGS = 200


class _CapturingHandler(logging.Handler):
    """Keeps the scrubbed text of each record in a bounded buffer; prints nothing, anywhere."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts = collections.deque(maxlen=MAX_CAPTURED_LOGS)

    def emit(self, record):
        try:
            text = '%s %s: %s' % (record.name, record.levelname, record.getMessage())
        except Exception:  # pylint: disable=broad-except
            text = '%s %s: (a log message that could not be formatted)' % (record.name, record.levelname)
        # Scrubbed now with the secrets known now, and again when drained (a temporary token may be learnt later).
        self.texts.append(scrub(text))


class _LogCapture:
    """The SDK loggers' one handler (see :data:`SDK_LOGGERS`), installed once per process."""

    def __init__(self):
        self.handler = _CapturingHandler()
        self._lock = threading.Lock()

    def install(self):
        """Put the capturing handler on every SDK logger as its only handler; no propagation to the root logger."""
        with self._lock:
            for name in SDK_LOGGERS:
                logger = logging.getLogger(name)
                for handler in list(logger.handlers):
                    if handler is not self.handler:
                        logger.removeHandler(handler)
                if self.handler not in logger.handlers:
                    logger.addHandler(self.handler)
                # Not to the root logger, nor to logging.lastResort (stderr) when the root has no handler.
                logger.propagate = False

    def drain(self):
        self.handler.acquire()
        try:
            texts = list(self.handler.texts)
            self.handler.texts.clear()
        finally:
            self.handler.release()
        return [scrub(text) for text in texts]


_LOG_CAPTURE = _LogCapture()


def capture_sdk_logs() -> None:
    """Send the SDK's log records to a buffer instead of stderr, from now on (idempotent).

    Imports the SDK if needed (its modules add their stderr handlers when imported). Call before any SDK call, in
    modules and on the controller alike: a module's stderr can reach the user too.
    """
    if HAS_ALIBABA_SDK:
        _sdk()
    _LOG_CAPTURE.install()


def drain_sdk_logs() -> List[str]:
    """The SDK log texts captured since the last drain, oldest first, every known secret masked; clears them."""
    return _LOG_CAPTURE.drain()


def neutralise_sdk_debug(environ: Optional[MutableMapping[str, str]] = None) -> None:
    """Stop ``DEBUG=sdk`` from making the SDK print every request header, signatures and tokens included.

    Only for a module's own short-lived process; plugins on the controller must not change its environment.
    """
    environ = os.environ if environ is None else environ
    if environ.get('DEBUG', '').strip().lower() == 'sdk':
        del environ['DEBUG']


# Error codes of a temporary credential that expired between the SDK's check and the service's: the page is sent once
# more with credentials renewed (a fresh STS call or metadata read). POP APIs such as ECS answer
# InvalidSecurityToken.Expired (HTTP 400); SecurityTokenExpired is the same condition as OSS words it.
EXPIRED_TOKEN_CODES = frozenset(('InvalidSecurityToken.Expired', 'SecurityTokenExpired'))
# The instance metadata service: never reached through a proxy (a proxy on another instance would answer with that
# instance's role).
METADATA_HOST = '100.100.100.200'


class Credential:
    """The SDK credential client of a task (``client``, for ``Config.credential``) and the provider behind it.

    The SDK client asks the provider for keys on every call (never one key for a whole run); :meth:`renew` throws the
    provider tree away and builds it again, so that the next call obtains new temporary credentials even when the
    SDK's cache still holds keys it believes valid.
    """

    def __init__(self, factory, label: str) -> None:
        from alibabacloud_credentials.client import Client as CredentialClient
        self.label = label
        self._factory = factory
        self._lock = threading.Lock()
        self.generation = 0
        self._provider = factory()
        self.client = CredentialClient(provider=_TaskProvider(self))

    def provider(self) -> Any:
        with self._lock:
            return self._provider

    def renew(self, generation: int) -> None:
        """A new provider tree, unless another thread renewed since ``generation`` (one STS call for all of them)."""
        with self._lock:
            if generation == self.generation:
                try:
                    self._provider = self._factory()
                except AlicloudError:
                    raise
                except Exception as error:  # pylint: disable=broad-except
                    raise credential_error(self.label, error)
                self.generation += 1

    def credentials(self) -> Any:
        """Current credentials from the provider tree; an AlicloudError naming the source when they cannot be had."""
        provider = self.provider()
        try:
            found = provider.get_credentials()
        except AlicloudError:
            raise
        except Exception as error:  # pylint: disable=broad-except
            raise credential_error(self.label, error)
        if found is None:
            raise AlicloudError('No credentials from %s' % self.label, code='CredentialsNotFound')
        return remember_credentials(found)


# The query of a URL quoted in an HTTP library's error (``with url: /?Action=AssumeRole&...``): long, and of no use to
# the reader (its secrets would be masked anyway); the cause that follows is what matters.
_QUOTED_QUERY_RE = re.compile(r'(url: \S*?)\?\S+')


def credential_error(label: str, error: BaseException) -> AlicloudError:
    """The error for credentials that could not be obtained from ``label``: not retried, the SDK's text scrubbed."""
    text = getattr(error, 'message', None) or str(error) or type(error).__name__
    text = _QUOTED_QUERY_RE.sub(r'\1?(query not shown)', text)
    return AlicloudError('Could not obtain credentials from %s: %s' % (label, excerpt(text, 600)),
                         code='CredentialsNotFound', retryable=False)


class _TaskProvider:
    """What the SDK's credential client calls: the three methods of ICredentialsProvider (alibabacloud-credentials-api
    1.0.1, which alibabacloud-credentials 1.0.12's Client calls without checking the type)."""

    def __init__(self, credential):
        self.credential = credential

    def get_credentials(self):
        return self.credential.credentials()

    async def get_credentials_async(self):
        return self.credential.credentials()

    def get_provider_name(self):
        return self.credential.provider().get_provider_name()


class _ChainProvider:
    """The default chain, as the SDK's DefaultCredentialsProvider walks it, with the providers the collection builds.

    ``entries`` are (label, factory) pairs tried in order; the first that gives credentials is used from then on.
    """

    def __init__(self, entries):
        self._entries = entries
        self._used = None

    def get_credentials(self):
        if self._used is not None:
            return self._used.get_credentials()
        problems = []
        for label, factory in self._entries:
            try:
                provider = factory()
                found = provider.get_credentials()
            except Exception as error:  # pylint: disable=broad-except
                problems.append('%s: %s' % (label, excerpt(getattr(error, 'message', None) or str(error), 200)))
                continue
            if found is not None:
                self._used = provider
                return found
        raise AlicloudError('No credentials found in the default chain (%s)' % '; '.join(problems),
                            code='CredentialsNotFound')

    async def get_credentials_async(self):
        return self.get_credentials()

    def get_provider_name(self):
        return 'default'


def build_credential(source: CredentialSource, sts: Optional[Dict[str, Any]] = None) -> Optional[Credential]:
    """A :class:`Credential` for a :class:`CredentialSource`, or None when static keys go into Config.

    ``sts`` (see ``Connection.sts_settings``): the STS endpoint option, endpoint type and regions, ca_bundle, the https
    proxy and the timeouts, which apply to every STS call the collection builds (``ram_role_arn``, CLI profiles of mode
    RamRoleArn and ChainableRamRoleArn, OIDC); the metadata service is never reached through a proxy. The credentials
    obtained are remembered as secrets as soon as they arrive, so that every message masks them.
    """
    if source.kind == 'access_key' and not source.role_arn:
        return None
    capture_sdk_logs()
    sts = dict(sts or {})
    try:
        return Credential(lambda: _provider_tree(source, sts), source.describe())
    except AlicloudError:
        raise
    except Exception as error:  # pylint: disable=broad-except
        raise credential_error(source.describe(), error)


def _providers():
    from alibabacloud_credentials import provider as providers
    return providers


def _http_options(sts, proxy=True, timeouts=True):
    from alibabacloud_credentials.http import HttpOptions
    return HttpOptions(proxy=sts.get('https_proxy') if proxy else None,
                       connect_timeout=_milliseconds(sts.get('connect_timeout')) if timeouts else None,
                       read_timeout=_milliseconds(sts.get('read_timeout')) if timeouts else None)


def _sts_endpoint(sts, profile_region=None, profile_vpc=None):
    from ansible_collections.alicloud.ecs.plugins.module_utils.endpoints import sts_endpoint_for
    return sts_endpoint_for(sts.get('endpoint'), sts.get('endpoint_type') or 'public', sts.get('region_ids') or (),
                            profile_region, profile_vpc, sts.get('environ') or os.environ)


def _static(key_id, secret, token=None):
    providers = _providers()
    if token:
        return providers.StaticSTSCredentialsProvider(access_key_id=key_id, access_key_secret=secret,
                                                      security_token=token)
    return providers.StaticAKCredentialsProvider(access_key_id=key_id, access_key_secret=secret)


def _assume_role(base, sts, role_arn, session_name=None, duration=None, policy=None, external_id=None,
                 profile_region=None, profile_vpc=None):
    """A RamRoleArnCredentialsProvider with the STS endpoint, proxy and timeouts of the task."""
    options = dict(credentials_provider=base, role_arn=role_arn, sts_endpoint=_sts_endpoint(sts, profile_region, profile_vpc),
                   http_options=_http_options(sts))
    for name, value in (('role_session_name', session_name), ('duration_seconds', duration),
                        ('policy', creds.sts_policy_text(policy)), ('external_id', external_id)):
        if value:
            options[name] = value
    return _providers().RamRoleArnCredentialsProvider(**options)


def _ecs_role(role_name, sts, timeouts=True):
    """The instance RAM role from the metadata service: no proxy, no background refresh thread, hardened mode only.

    Without disable_imds_v1 the SDK repeats a refused token-mode read without the token (IMDSv1), and a role the
    service does not know (404) would be reported as that second read's 401.
    """
    return _providers().EcsRamRoleCredentialsProvider(role_name=role_name, disable_imds_v1=True,
                                                      http_options=_http_options(sts, False, timeouts),
                                                      async_update_enabled=False)


def _oidc(oidc, sts):
    return _providers().OIDCRoleArnCredentialsProvider(
        role_arn=oidc.role_arn, oidc_provider_arn=oidc.provider_arn, oidc_token_file_path=oidc.token_file,
        role_session_name=oidc.role_session_name, sts_endpoint=_sts_endpoint(sts), http_options=_http_options(sts))


def _profile_provider(plan, sts):
    """The provider of a CLI profile: built here for the modes of BUILT_PROFILE_MODES, by the SDK for the others."""
    if not plan.built:
        return _providers().CLIProfileCredentialsProvider(profile_name=plan.name, profile_file=plan.file)
    if plan.mode == 'AK':
        return _static(plan.access_key_id, plan.access_key_secret)
    if plan.mode == 'StsToken':
        return _static(plan.access_key_id, plan.access_key_secret, plan.security_token)
    if plan.mode == 'EcsRamRole':
        return _ecs_role(plan.role_name, sts)
    if plan.mode == 'RamRoleArn':
        base = _static(plan.access_key_id, plan.access_key_secret)
    else:  # ChainableRamRoleArn
        base = _profile_provider(plan.source, sts)
    return _assume_role(base, sts, plan.role_arn, plan.role_session_name, plan.duration_seconds, plan.policy,
                        plan.external_id, plan.sts_region, plan.enable_vpc)


def _cli_profile_of_chain(sts):
    """The current CLI profile, for the default chain (read when the chain gets to it)."""
    environ = sts.get('environ') or os.environ
    file = creds.default_cli_config(environ)
    if not os.path.isfile(file):
        raise AlicloudError('no CLI configuration file %s' % file)
    try:
        plan = creds.cli_profile_plan(creds.read_cli_config(file), environ.get('ALIBABA_CLOUD_PROFILE'), file)
    except creds.CredentialError as error:
        raise AlicloudError(str(error))
    remember_secrets(plan.secrets())
    return _profile_provider(plan, sts)


def _default_chain(source, sts):
    """The SDK's default chain (environment keys are resolved before: credentials.resolve), OIDC first and alone."""
    if source.oidc is not None:
        # Set by all three RRSA variables: used alone, never falling back to another identity (the node's role).
        return _oidc(source.oidc, sts)
    environ = sts.get('environ') or os.environ
    providers = _providers()
    entries = []
    if not creds.is_true(environ.get(creds.ENV_CLI_PROFILE_DISABLED)):
        entries.append(('CLI profile', lambda: _cli_profile_of_chain(sts)))
    entries.append(('credentials file', providers.ProfileCredentialsProvider))
    if not creds.is_true(environ.get(creds.ENV_ECS_METADATA_DISABLED)):
        # The SDK's own short timeouts (1 s): off ECS, nothing answers at the metadata address.
        entries.append(('ECS instance RAM role', lambda: _ecs_role(None, sts, timeouts=False)))
    if environ.get(creds.ENV_CREDENTIALS_URI):
        entries.append(('credentials URI', providers.URLCredentialsProvider))
    return _ChainProvider(entries)


def _provider_tree(source, sts):
    """Every provider ``source`` needs, new (no cached credentials)."""
    if source.kind == 'access_key':
        base = _static(source.access_key_id, source.access_key_secret, source.security_token)
    elif source.kind == 'ecs_ram_role':
        base = _ecs_role(source.role_name, sts)
    elif source.kind == 'profile' and source.profile_plan is not None:
        base = _profile_provider(source.profile_plan, sts)
    elif source.kind == 'profile':
        base = _providers().CLIProfileCredentialsProvider(profile_name=source.profile, profile_file=source.profile_file)
    else:
        base = _default_chain(source, sts)
    if source.role_arn:
        base = _assume_role(base, sts, source.role_arn, source.role_session_name, source.role_session_expiration,
                            source.role_policy, source.external_id)
    return base


def remember_credentials(credentials: Any) -> Any:
    """Remember the secret parts of SDK ``credentials`` (key secret, STS token) for scrubbing; returns them."""
    if credentials is not None:
        remember_secrets([credentials.get_access_key_secret(), credentials.get_security_token()])
    return credentials


class RpcClient:
    """Signed RPC calls to one endpoint, with the connection settings of a task.

    ``settings`` keys: ``endpoint`` (host[:port]), ``protocol``, ``validate_certs``,
    ``ca_bundle``, ``http_proxy``, ``https_proxy``, ``connect_timeout`` and
    ``read_timeout`` (seconds), ``pool_size``.
    """

    def __init__(self, settings: Dict[str, Any], source: CredentialSource, credential: Optional[Credential] = None) -> None:
        sdk = _sdk()
        models = sdk['models']
        config = models.Config(
            endpoint=settings['endpoint'],
            protocol=settings['protocol'],
            connect_timeout=_milliseconds(settings.get('connect_timeout')),
            read_timeout=_milliseconds(settings.get('read_timeout')),
            http_proxy=settings.get('http_proxy'),
            https_proxy=settings.get('https_proxy'),
            ca=settings.get('ca_bundle'),
            max_idle_conns=settings.get('pool_size'),
            user_agent=USER_AGENT,
        )
        if credential is not None:
            config.credential = credential.client
        elif source.kind == 'access_key':
            config.access_key_id = source.access_key_id
            config.access_key_secret = source.access_key_secret
            config.security_token = source.security_token
        self.endpoint = settings['endpoint']
        self._credential = credential
        # The CA file for the STS calls the credential providers make from this client's calls (see _credential_calls).
        self._ca_bundle = settings.get('ca_bundle')
        # Masked in every message and captured log line of this process, however the client was built.
        remember_secrets(source.secrets())
        self._client = sdk['Client'](config)
        self._runtime = sdk['RuntimeOptions'](ignore_ssl=not settings.get('validate_certs', True))
        self._protocol = settings['protocol'].upper()
        # The SDK builds its HTTP session for an endpoint on the first call (an SSL context loading the system and the
        # certifi CA bundles: about 0.1 s of CPU), in a cache without a lock (darabonba-core 1.0.9's
        # DaraCore._get_session, under alibabacloud-tea-openapi 0.4.6): threads that all make their first call at once
        # would each build one. So a client's first call is made alone; the calls waiting for it then run together.
        # test_sdk_contract.py fails when an upgrade locks that cache, and this lock can go.
        self._first_call = threading.Lock()
        self._warm = False

    def call(self, action: str, query: Dict[str, Any]) -> Dict[str, Any]:
        """One attempt at ``action`` with ``query`` (values are sent as strings); the decoded JSON body.

        When the service says the temporary credentials expired, they are renewed and the call is sent once more.
        """
        check_transport()
        generation = self._credential.generation if self._credential is not None else None
        try:
            return self._call_once(action, query)
        except AlicloudError as error:
            if self._credential is None or error.code not in EXPIRED_TOKEN_CODES:
                raise
        self._credential.renew(generation)
        try:
            return self._call_once(action, query)
        except AlicloudError as error:
            if error.code in EXPIRED_TOKEN_CODES:
                error.message = '%s (credentials renewed once from %s, refused again)' % (
                    error.message.rstrip('.'), self._credential.label)
            raise

    def _call_once(self, action, query):
        if not self._warm:
            with self._first_call:
                if not self._warm:
                    try:
                        return self._send(action, query)
                    finally:
                        self._warm = True
        return self._send(action, query)

    def _send(self, action, query):
        sdk = _sdk()
        params = sdk['models'].Params(action=action, version=ECS_API_VERSION, protocol=self._protocol, method='POST',
                                      auth_type='AK', style='RPC', pathname='/', req_body_type='json', body_type='json')
        request = sdk['models'].OpenApiRequest(query={k: str(v) for k, v in query.items() if v is not None})
        try:
            with credential_calls(self._ca_bundle):
                response = self._client.call_api(params, request, self._runtime)
        except Exception as error:  # pylint: disable=broad-except
            failure = translate_exception(error, self.endpoint)
            failure.api_action = action
            raise failure
        body = response.get('body') if isinstance(response, dict) else None
        if not isinstance(body, dict):
            raise AlicloudError('The service answered HTTP %s with a JSON body that is not an object: %s'
                                % (response.get('statusCode'), excerpt(json.dumps(body))),
                                http_status=response.get('statusCode'), retryable=False)
        return body


def _milliseconds(seconds):
    if seconds is None:
        return None
    return max(1, int(round(float(seconds) * 1000)))


def _last_response(error):
    """The HTTP response the SDK had when ``error`` was raised.

    Written against alibabacloud-tea-openapi 0.4.6 on darabonba-core 1.0.9: when a body is not JSON (an HTML 502
    page), ``Client.do_rpcrequest`` catches the decoding error and raises ``UnretryableException(_context)``, whose
    constructor keeps the request and the decoding error but not ``_context.http_response``; the request loop still
    holds the response in its local ``_last_response``, which the traceback keeps alive. No public attribute carries
    the status code there: tests/unit/plugins/module_utils/test_sdk_contract.py fails when an upgrade keeps the
    response on the exception (then read it from there) or renames the local.
    """
    trace = getattr(error, '__traceback__', None)
    found = None
    while trace is not None:
        candidate = trace.tb_frame.f_locals.get('_last_response')
        if candidate is not None and hasattr(candidate, 'status_code'):
            found = candidate
        trace = trace.tb_next
    return found


def translate_exception(error: BaseException, endpoint: str) -> AlicloudError:
    """An :class:`AlicloudError` for anything the SDK raised."""
    sdk = _sdk()
    if isinstance(error, sdk['exceptions'].AlibabaCloudException):
        return _from_service_error(error)
    header_error = _header_value_error(error)
    if header_error is not None:
        return header_error
    if isinstance(error, sdk['UnretryableException']):
        inner = getattr(error, 'inner_exception', None)
        if isinstance(inner, AlicloudError):  # raised by the collection's own transport hooks (a refused redirect)
            return inner
        if isinstance(inner, sdk['exceptions'].AlibabaCloudException):
            return _from_service_error(inner)
        if isinstance(inner, sdk['RetryError']):
            return _from_network_error(inner, endpoint)
        decoding_error = _json_decoding_error(inner)
        if decoding_error is not None:
            return _from_undecodable_body(error, decoding_error)
        if type(inner).__name__ == 'CredentialException':
            return AlicloudError('No usable credentials: %s' % excerpt(getattr(inner, 'message', None) or str(inner)),
                                 code='CredentialsNotFound')
        error = inner or error
    return AlicloudError('The Alibaba Cloud SDK failed: %s: %s' % (type(error).__name__, excerpt(str(error))))


# Request headers -> the option their value comes from, for the message about a value no header can carry.
_HEADER_OPTIONS = {
    'x-acs-security-token': 'security_token (or the STS token of the assumed role)',
    'authorization': 'access_key_id',
    'x-acs-accesskey-id': 'access_key_id',
    'host': 'endpoint',
}


def _header_value_error(error):
    """A non-retryable error naming the header, for a value requests or http.client refused to send; else None.

    requests raises InvalidHeader (quoting the value: a token with a newline) and http.client UnicodeEncodeError;
    darabonba wraps either, and without this they would be retried and reported as a body that is not JSON.
    """
    refused = None
    for candidate in _exception_chain(getattr(error, 'inner_exception', None) or error):
        if 'InvalidHeader' in set(cls.__name__ for cls in type(candidate).__mro__) or isinstance(candidate, UnicodeEncodeError):
            refused = candidate
            break
    if refused is None:
        return None
    header = _refused_header_name(refused)
    option = _HEADER_OPTIONS.get((header or '').lower())
    return AlicloudError(
        'A request header could not be sent: the value of %s has a character no HTTP header can carry (a control '
        'character, white space at either end, or a character outside ASCII)%s; the value is not shown'
        % ('the header %s' % header if header else 'a header', ', check %s' % option if option else ''),
        code='InvalidHeaderValue', retryable=False)


def _exception_chain(error, limit=10):
    """``error`` and the exceptions it was raised from or while handling: darabonba-core 1.0.9 re-raises any IOError
    of requests (InvalidHeader is one) as ``RetryError(str(error))``, the original kept only as its context."""
    chain = []
    while error is not None and len(chain) < limit and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _refused_header_name(error):
    """The name of the header requests was checking when it raised ``error`` (from the traceback), or None."""
    trace = getattr(error, '__traceback__', None)
    found = None
    while trace is not None:
        header = trace.tb_frame.f_locals.get('header')
        if trace.tb_frame.f_code.co_name in ('check_header_validity', '_validate_header_part', 'putheader'):
            if isinstance(header, tuple) and header and isinstance(header[0], (str, bytes)):
                found = header[0]
            elif isinstance(header, (str, bytes)):
                found = header
        trace = trace.tb_next
    if isinstance(found, bytes):
        found = found.decode('latin-1')
    if found is not None and not all(char.isalnum() or char in '-_' for char in found):
        return None
    return found


def _from_service_error(error):
    data = error.data if isinstance(error.data, dict) else {}
    message = data.get('Message') or data.get('message') or error.message or 'no message'
    code = error.code if error.code not in (None, 'None', '') else None
    request_id = error.request_id if error.request_id not in (None, 'None', '') else None
    status = error.status_code
    retry_after = getattr(error, 'retry_after', None)
    detail = getattr(error, 'accessDeniedDetail', None) or data.get('AccessDeniedDetail')
    return AlicloudError(
        'The service refused the request: %s' % excerpt(message),
        code=code, http_status=status, request_id=request_id,
        retryable=code in RETRYABLE_CODES or is_retryable_status(status),
        retry_after=(retry_after / 1000.0) if retry_after else None,
        access_denied_detail=detail or None,
    )


def _from_network_error(error, endpoint):
    text = getattr(error, 'message', None) or str(error)
    if 'WRONG_VERSION_NUMBER' in text:
        return AlicloudError('The TLS handshake with %s failed: the endpoint does not seem to speak https (a plain http '
                             'endpoint? then set protocol to http, knowing it sends everything in clear text). Detail: %s'
                             % (endpoint, excerpt(text)), code='TLSHandshakeFailed')
    if 'CERTIFICATE_VERIFY_FAILED' in text or 'SSLError' in text or 'certificate' in text.lower():
        return AlicloudError('TLS certificate verification failed for %s: give the CA file in ca_bundle, or (only '
                             'for a test endpoint) set validate_certs to false. Detail: %s' % (endpoint, excerpt(text)),
                             code='CertificateVerifyFailed')
    return AlicloudError('Could not complete the request to %s: %s' % (endpoint, excerpt(text)),
                         code='ConnectionError', retryable=True)


def _json_decoding_error(inner):
    """The JSON decoding error behind ``inner``, if that is what it is.

    darabonba re-raises a body that is not JSON as a RuntimeError quoting the whole body; the
    original ValueError (with the body in ``doc``) is its context.
    """
    if isinstance(inner, ValueError):
        return inner
    if isinstance(inner, RuntimeError) and isinstance(inner.__context__, ValueError):
        return inner.__context__
    return None


def _from_undecodable_body(error, inner):
    response = _last_response(error)
    status = getattr(response, 'status_code', None)
    body = getattr(inner, 'doc', None)
    if body is None and response is not None:
        body = getattr(response, 'body', None)
    content_type = (getattr(response, 'headers', None) or {}).get('content-type', 'unknown')
    return AlicloudError(
        'The service answered HTTP %s with a body that is not valid JSON (content type %s): %s'
        % (status or 'status unknown', content_type, excerpt(body) or 'empty body'),
        code='MalformedResponse', http_status=status,
        retryable=status is None or status == 200 or is_retryable_status(status),
    )


# Transport seam ------------------------------------------------------------------------------------------------------
# Written against darabonba-core 1.0.9 (alibabacloud-tea-openapi 0.4.6) and alibabacloud-tea 0.4.3 (the HTTP calls of
# alibabacloud-credentials 1.0.12's STS and instance-role providers), on requests 2.34 and urllib3 2.8 (1.26 works too).
# Both SDK cores send every request through one requests.Session per endpoint, built and cached by their static
# ``_get_session(session_key, protocol, tls_min_version, verify[, pool_size])``, with ``session.send`` following
# redirects (no switch turns that off) and reading the whole body (``read_timeout`` bounds each socket read, not the
# body). Wrapping that one function lets the collection change each session through public hooks of requests and
# urllib3 only: ``Session.get_redirect_target`` refuses every 3xx before anything is sent again, and the connection
# classes of the urllib3 pools (``PoolManager.pool_classes_by_scheme``, ``HTTPConnectionPool.ConnectionCls``) record
# which connections the calls of a listing use, so that a listing out of time can shut their sockets down.
# tests/unit/plugins/module_utils/test_sdk_transport.py fails when an upgrade moves this seam.
SESSION_FACTORIES = (('darabonba.core', 'DaraCore'), ('Tea.core', 'TeaCore'))
_GUARD_MARK = '_alicloud_ecs_guarded'
_TRACKING = threading.local()


class RedirectRefused(AlicloudError):
    """The endpoint answered with a redirect, which Alibaba Cloud APIs never do: refused, nothing sent again."""


def redirect_error(status: int, location: Optional[str], request_url: Optional[str] = None) -> 'RedirectRefused':
    """The error for an HTTP ``status`` 3xx answer with ``location`` (shown without its query, fragment or userinfo)."""
    shown = _location_without_query(location, request_url)
    return RedirectRefused(
        'The endpoint answered HTTP %s, a redirect to %s. Alibaba Cloud APIs never redirect, so something else '
        'answered for the endpoint (a proxy, a captive portal): the redirect was not followed and nothing was sent '
        'there' % (status, shown),
        code='RedirectRefused', http_status=status, retryable=False)


def _location_without_query(location, request_url=None):
    if not location:
        return 'no location (no Location header)'
    try:
        parts = urlsplit(urljoin(request_url or '', location.strip()))
        host = parts.hostname or ''
        if ':' in host:
            host = '[%s]' % host
        if parts.port is not None:
            host = '%s:%d' % (host, parts.port)
        shown = urlunsplit((parts.scheme, host, parts.path, '', ''))
    except ValueError:
        return 'a location that is not a URL'
    return excerpt(shown, 200) or 'an empty location'


def _refuse_redirects(response):
    """``Session.get_redirect_target`` for the SDK's sessions: None for an answer, RedirectRefused for any 3xx."""
    status = getattr(response, 'status_code', None)
    if isinstance(status, int) and 300 <= status < 400:
        location = response.headers.get('location')
        request_url = getattr(getattr(response, 'request', None), 'url', None)
        response.close()  # the connection goes, with whatever body came with the redirect
        raise redirect_error(status, location, request_url)
    return None


class InFlight:
    """The HTTP connections the calls of one listing use, so that the listing can cut them all off.

    A thread blocked reading a socket cannot be interrupted, and a body trickled a byte at a time
    never trips ``read_timeout`` (it bounds each read): only shutting the socket down from another
    thread ends the read. Calls are tracked for the threads inside :meth:`tracking`; once
    :meth:`abort` ran, a tracked connection that is used again fails at once.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._connections = []
        self.aborted = False

    @contextlib.contextmanager
    def tracking(self):
        """Track the connections the calls of this thread use, until the block ends."""
        previous = getattr(_TRACKING, 'in_flight', None)
        _TRACKING.in_flight = self
        try:
            yield self
        finally:
            _TRACKING.in_flight = previous

    def add(self, connection: Any) -> None:
        with self._lock:
            if not self.aborted:
                if not any(known is connection for known in self._connections):
                    self._connections.append(connection)
                return
        _shut_down(connection)
        raise ConnectionAbortedError('the listing was cut off (listing_timeout)')

    def abort(self) -> None:
        """Shut down the socket of every connection used so far, and of any used from now on."""
        with self._lock:
            self.aborted = True
            connections, self._connections = self._connections, []
        for connection in connections:
            _shut_down(connection)


def _track(connection):
    in_flight = getattr(_TRACKING, 'in_flight', None)
    if in_flight is not None:
        in_flight.add(connection)


def _shut_down(connection):
    """Shut down a connection's socket in both directions: a read blocked on it in another thread returns at once."""
    sock = getattr(connection, 'sock', None)
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, 'socket', None)  # urllib3's TLS-in-TLS wrapper
    if isinstance(raw, socket.socket):
        try:
            # socket.socket's own shutdown: ssl.SSLSocket.shutdown would also drop the TLS state under the reader.
            socket.socket.shutdown(raw, socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass


_TRACKED_POOLS = {}
_TRACKED_POOLS_LOCK = threading.Lock()


def _tracked_pool_class(pool_class):
    """A subclass of the urllib3 pool class ``pool_class`` whose connections report to the thread's :class:`InFlight`.

    Built from the classes the SDK's pool managers use (urllib3 is not imported: it is requests' business).
    """
    with _TRACKED_POOLS_LOCK:
        if pool_class not in _TRACKED_POOLS:
            base = pool_class.ConnectionCls

            def connect(self):
                _track(self)
                return base.connect(self)

            def request(self, *args, **kwargs):
                _track(self)
                return base.request(self, *args, **kwargs)

            # Named as their bases: urllib3 quotes the pool's class name in its errors, which users read.
            connection_class = type(base.__name__, (base,), {'connect': connect, 'request': request})
            _TRACKED_POOLS[pool_class] = type(pool_class.__name__, (pool_class,),
                                              {'ConnectionCls': connection_class, _GUARD_MARK: True})
        return _TRACKED_POOLS[pool_class]


def _use_tracked_pools(manager):
    """Make a urllib3 PoolManager (or ProxyManager) build pools of tracked connections from now on."""
    classes = getattr(manager, 'pool_classes_by_scheme', None)
    if not isinstance(classes, dict) or not all(hasattr(pool, 'ConnectionCls') for pool in classes.values()):
        return
    if all(getattr(pool, _GUARD_MARK, False) for pool in classes.values()):
        return
    manager.pool_classes_by_scheme = {scheme: pool if getattr(pool, _GUARD_MARK, False) else _tracked_pool_class(pool)
                                      for scheme, pool in classes.items()}
    manager.clear()  # pools built before (none, normally) would hand out untracked connections


@contextlib.contextmanager
def credential_calls(ca_bundle: Optional[str]) -> Any:
    """While the block runs in this thread, the https calls of the credential providers (STS) trust ``ca_bundle`` too.

    The SDK's STS providers take no CA file, and honour only SSL_CERT_FILE, which is process-wide; they refresh in
    the thread of the API call that needs the credentials (alibabacloud-credentials 1.0.12: RefreshCachedSupplier with
    OneCallerBlocks), so a per-thread setting reaches them.
    """
    previous = getattr(_TRACKING, 'ca_bundle', None)
    _TRACKING.ca_bundle = ca_bundle
    try:
        yield
    finally:
        _TRACKING.ca_bundle = previous


def _credential_send(send):
    """``Session.send`` for the sessions of the credential providers (alibabacloud-tea's TeaCore): the metadata
    service never through a proxy (the SDK adds HTTP_PROXY from the environment itself), STS with the CA file of
    :func:`credential_calls` (requests' ``verify`` as a path: added to the adapter's trust)."""
    def guarded_send(request, **kwargs):
        parts = urlsplit(getattr(request, 'url', None) or '')
        if (parts.hostname or '') == METADATA_HOST:
            kwargs['proxies'] = {}
        else:
            ca_bundle = getattr(_TRACKING, 'ca_bundle', None)
            if ca_bundle and parts.scheme == 'https' and kwargs.get('verify', True) is True:
                kwargs['verify'] = ca_bundle
        return send(request, **kwargs)
    return guarded_send


def guard_session(session: Any, credential_transport: bool = False) -> Any:
    """Make a requests.Session of the SDK refuse redirects and track its connections (idempotent); returns it.

    ``credential_transport``: a session of the credential providers (see :func:`_credential_send`).
    """
    if getattr(session, _GUARD_MARK, False):
        return session
    if credential_transport:
        session.send = _credential_send(session.send)
    session.get_redirect_target = _refuse_redirects
    for adapter in list(session.adapters.values()):
        if getattr(adapter, 'poolmanager', None) is not None:
            _use_tracked_pools(adapter.poolmanager)
        if hasattr(adapter, 'proxy_manager_for') and not getattr(adapter.proxy_manager_for, _GUARD_MARK, False):
            adapter.proxy_manager_for = _tracking_proxy_managers(adapter.proxy_manager_for)
    setattr(session, _GUARD_MARK, True)
    return session


def _tracking_proxy_managers(proxy_manager_for):
    def tracked(proxy, **proxy_kwargs):
        manager = proxy_manager_for(proxy, **proxy_kwargs)
        _use_tracked_pools(manager)
        return manager
    setattr(tracked, _GUARD_MARK, True)
    return tracked


# Why the hooks could not be installed (an SDK that moved the seam): every call then fails with it (see RpcClient.call).
_TRANSPORT_PROBLEMS = []


def guard_transport() -> None:
    """Wrap the session factory of each SDK core (see :data:`SESSION_FACTORIES`) once per process.

    When a core is installed but its factory moved, every call fails (:func:`check_transport`): requests could
    follow redirects and outlive listing_timeout, which this collection promises they do not.
    """
    import importlib
    for module_name, class_name in SESSION_FACTORIES:
        try:
            core = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            if module_name == 'darabonba.core':
                _TRANSPORT_PROBLEMS.append('darabonba-core has no %s.%s' % (module_name, class_name))
            continue  # alibabacloud-tea is only needed by the credential providers that call STS or the metadata
        factory = core.__dict__.get('_get_session')
        function = getattr(factory, '__func__', None)
        if not isinstance(factory, staticmethod) or not callable(function):
            _TRANSPORT_PROBLEMS.append('%s.%s._get_session, where the SDK builds its HTTP sessions, is gone'
                                       % (module_name, class_name))
        elif not getattr(function, _GUARD_MARK, False):
            setattr(core, '_get_session', staticmethod(_guarded_factory(function, module_name == 'Tea.core')))


def check_transport() -> None:
    """Raise the error for an SDK whose transport could not be guarded; nothing when it was."""
    if _TRANSPORT_PROBLEMS:
        raise AlicloudError('This version of the Alibaba Cloud SDK is not supported (%s): redirects could not be refused '
                            'nor listing_timeout enforced, so no call is made. Install the versions the collection '
                            'lists in its requirements' % '; '.join(_TRANSPORT_PROBLEMS), code='UnsupportedSDK')


def _guarded_factory(function, credential_transport=False):
    def _get_session(*args, **kwargs):
        return guard_session(function(*args, **kwargs), credential_transport)
    setattr(_get_session, _GUARD_MARK, True)
    _get_session.__wrapped__ = function
    return _get_session
