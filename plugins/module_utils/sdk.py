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

import json
import os
import threading

from importlib.util import find_spec

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError, excerpt
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import RETRYABLE_CODES, is_retryable_status

try:
    HAS_ALIBABA_SDK = find_spec('alibabacloud_tea_openapi') is not None
except (ImportError, ValueError):
    HAS_ALIBABA_SDK = False
SDK_REQUIREMENT = 'alibabacloud-tea-openapi'

ECS_API_VERSION = '2014-05-26'
USER_AGENT = 'AnsibleCollection/alicloud.ecs-0.1.0'

_IMPORT_LOCK = threading.Lock()
_SDK = {}


def _sdk():
    """The SDK classes, imported once."""
    with _IMPORT_LOCK:
        if not _SDK:
            from alibabacloud_tea_openapi.client import Client
            from alibabacloud_tea_openapi import exceptions, utils_models
            from darabonba.runtime import RuntimeOptions
            from darabonba.exceptions import UnretryableException, RetryError
            _SDK.update(Client=Client, exceptions=exceptions, models=utils_models, RuntimeOptions=RuntimeOptions,
                        UnretryableException=UnretryableException, RetryError=RetryError)
    return _SDK


def neutralise_sdk_debug(environ=None):
    """Stop ``DEBUG=sdk`` from making the SDK print every request header, signatures and tokens included.

    Only for a module's own short-lived process; plugins on the controller must not change its environment.
    """
    environ = os.environ if environ is None else environ
    if environ.get('DEBUG', '').strip().lower() == 'sdk':
        del environ['DEBUG']


def build_credential(source):
    """An SDK credential client for a :class:`CredentialSource`, or None when static keys go into Config."""
    if source.kind == 'access_key' and not source.role_arn:
        return None
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials import provider as providers
    if source.kind == 'access_key':
        if source.security_token:
            base = providers.StaticSTSCredentialsProvider(access_key_id=source.access_key_id,
                                                          access_key_secret=source.access_key_secret,
                                                          security_token=source.security_token)
        else:
            base = providers.StaticAKCredentialsProvider(access_key_id=source.access_key_id,
                                                         access_key_secret=source.access_key_secret)
    elif source.kind == 'ecs_ram_role':
        base = providers.EcsRamRoleCredentialsProvider(role_name=source.role_name)
    elif source.kind == 'profile':
        base = providers.CLIProfileCredentialsProvider(profile_name=source.profile, profile_file=source.profile_file)
    else:
        base = providers.DefaultCredentialsProvider()
    if source.role_arn:
        options = dict(credentials_provider=base, role_arn=source.role_arn)
        if source.role_session_name:
            options['role_session_name'] = source.role_session_name
        if source.role_session_expiration:
            options['duration_seconds'] = source.role_session_expiration
        base = providers.RamRoleArnCredentialsProvider(**options)
    return CredentialClient(provider=base)


class RpcClient:
    """Signed RPC calls to one endpoint, with the connection settings of a task.

    ``settings`` keys: ``endpoint`` (host[:port]), ``protocol``, ``validate_certs``,
    ``ca_bundle``, ``http_proxy``, ``https_proxy``, ``connect_timeout`` and
    ``read_timeout`` (seconds), ``pool_size``.
    """

    def __init__(self, settings, source, credential=None):
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
            config.credential = credential
        elif source.kind == 'access_key':
            config.access_key_id = source.access_key_id
            config.access_key_secret = source.access_key_secret
            config.security_token = source.security_token
        self.endpoint = settings['endpoint']
        self._client = sdk['Client'](config)
        self._runtime = sdk['RuntimeOptions'](ignore_ssl=not settings.get('validate_certs', True))
        self._protocol = settings['protocol'].upper()
        # The SDK builds its HTTP session for an endpoint on the first call (an SSL context loading the system and the
        # certifi CA bundles: about 0.1 s of CPU), in a cache without a lock: threads that all make their first call at
        # once would each build one. So a client's first call is made alone; the calls waiting for it then run together.
        self._first_call = threading.Lock()
        self._warm = False

    def call(self, action, query):
        """One attempt at ``action`` with ``query`` (values are sent as strings); the decoded JSON body."""
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
        request = sdk['models'].OpenApiRequest(query=dict((k, str(v)) for k, v in query.items() if v is not None))
        try:
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

    tea-openapi drops the response when a body is not JSON (an HTML 502 page), keeping only
    the decoding error; its request loop still holds the response in a local variable,
    which the traceback keeps alive.
    """
    trace = getattr(error, '__traceback__', None)
    found = None
    while trace is not None:
        candidate = trace.tb_frame.f_locals.get('_last_response')
        if candidate is not None and hasattr(candidate, 'status_code'):
            found = candidate
        trace = trace.tb_next
    return found


def translate_exception(error, endpoint):
    """An :class:`AlicloudError` for anything the SDK raised."""
    sdk = _sdk()
    if isinstance(error, sdk['exceptions'].AlibabaCloudException):
        return _from_service_error(error)
    if isinstance(error, sdk['UnretryableException']):
        inner = getattr(error, 'inner_exception', None)
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
