"""StsEndpoint: a strict local stand-in for Alibaba Cloud STS (API version 2015-04-01) over HTTPS.

``AssumeRole`` is signed (RPC signature version 1, HMAC-SHA1) by a key the shared
:class:`~ecs_endpoint.identities.IdentityRegistry` knows: a static test key or a key issued earlier (a chained role);
``AssumeRoleWithOIDC`` is anonymous and carries an OIDC token that must be one the test registered for the provider.
Parameters are checked as the service checks them (role ARN form, session name pattern, duration range, policy
grammar, external ID form); errors are answered as the service answers them (JSON with Code, Message, RequestId; HTTP
400, 403 or 404). Every key handed out is registered with its identity, ``assumed:<role arn>/<session name>``, so the
ECS endpoint accepts it (until its expiration) and attributes each call to it. ``issued`` lists what was handed out:
action, role, session name, duration, policy, external ID, OIDC provider and the caller's identity.
"""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from ecs_endpoint import auth
from ecs_endpoint.errors import ApiError, new_request_id
from ecs_endpoint.identities import IdentityRegistry, assumed_identity
from ecs_endpoint.service import LocalService

VERSION = '2015-04-01'
ACTIONS = ('AssumeRole', 'AssumeRoleWithOIDC')
ROLE_ARN_RE = re.compile(r'acs:ram::[0-9]{1,20}:role/[A-Za-z0-9.@_-]{1,64}')
OIDC_PROVIDER_ARN_RE = re.compile(r'acs:ram::[0-9]{1,20}:oidc-provider/[A-Za-z0-9._-]{1,128}')
SESSION_NAME_RE = re.compile(r'[A-Za-z0-9.@_-]{2,64}')
EXTERNAL_ID_RE = re.compile(r'[\w+=,.@:/-]{2,1224}')
MIN_DURATION, MAX_DURATION = 900, 43200
MAX_POLICY_LENGTH = 2048

# code -> (HTTP status, message), as STS answers them.
STS_ERRORS = {
    'MissingParameter': (400, 'The input parameter "%s" that is mandatory for processing this request is not supplied.'),
    'InvalidParameter.RoleArn': (400, 'The parameter RoleArn is wrongly formed.'),
    'InvalidParameter.OIDCProviderArn': (400, 'The parameter OIDCProviderArn is wrongly formed.'),
    'InvalidParameter.RoleSessionName': (400, 'The parameter RoleSessionName is wrongly formed.'),
    'InvalidParameter.DurationSeconds': (400, 'The Min/Max value of DurationSeconds is 15min/12hr.'),
    'InvalidParameter.PolicyGrammar': (400, 'The parameter Policy has not passed grammar check.'),
    'InvalidParameter.PolicySize': (400, 'The size of Policy must be smaller than 2048 bytes.'),
    'InvalidParameter.ExternalId': (400, 'The parameter ExternalId is wrongly formed.'),
    'EntityNotExist.Role': (404, 'The role not exists: %s.'),
    'EntityNotExist.OIDCProvider': (404, 'The OIDC provider not exists: %s.'),
    'NoPermission': (403, 'You are not authorized to do this action. You should be authorized by RAM.'),
    'AuthenticationFail.OIDCToken.Invalid': (400, 'The OIDC token is invalid.'),
    'AuthenticationFail.NoPermission': (403, 'The OIDC provider is not trusted by the role.'),
}


def sts_error(code, detail=None) -> ApiError:
    status, template = STS_ERRORS[code]
    return ApiError(code, status=status, message=template % detail if '%s' in template else template)


class StsEndpoint(LocalService):
    """Serve AssumeRole / AssumeRoleWithOIDC.

    ``identities``: the shared :class:`IdentityRegistry` (callers are looked up there, issued keys go there).
    ``expiration_seconds``: lifetime of the keys handed out, stated in ``Credentials.Expiration`` and enforced by the
    ECS endpoint (settable; a few seconds for the expiring-credentials tests).
    ``roles``: role ARN -> {"external_id": required ExternalId or None, "oidc_provider": trusted OIDC provider ARN};
    None accepts every well-formed role ARN (with no ExternalId condition). An unknown role is ``EntityNotExist.Role``.
    ``account``: the account ID of the AssumedRoleUser.
    """

    name = 'sts-endpoint'

    def __init__(self, identities: IdentityRegistry, expiration_seconds=3600, tls=True, roles=None, host='127.0.0.1',
                 port=0, verbose=False):
        super().__init__(tls=tls, host=host, port=port, verbose=verbose)
        self.identities = identities
        self.expiration_seconds = expiration_seconds
        self.roles = dict(roles) if roles is not None else None
        self._oidc_tokens = {}
        self._refusal = None
        self._auth = auth.Authenticator(identities, clock=identities.clock)

    def register_oidc_token(self, provider_arn: str, token: str):
        """Accept ``token`` (the content of an OIDC token file) as issued by ``provider_arn``."""
        self._oidc_tokens[token] = provider_arn

    def refuse_after(self, issued: int, code: str = 'NoPermission'):
        """Once this STS has issued ``issued`` keys, refuse every further (well-formed) request with ``code``.

        As when a role's trust policy changes during a run: a renewal then fails. ``code``: a key of STS_ERRORS
        without a detail.
        """
        if code not in STS_ERRORS or '%s' in STS_ERRORS[code][1]:
            raise ValueError('not a refusal without detail: %s' % code)
        self._refusal = (issued, code)

    @property
    def issued(self) -> list:
        """The records of the keys this STS issued (dicts, no secret), in order."""
        return [dict(key.record) for key in self.identities.issued if key.record.get('issuer') == 'sts']

    def handle_api(self, handler, url, body):
        request_id = new_request_id()
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        params = {}
        if (handler.headers.get('Content-Type') or '').startswith('application/x-www-form-urlencoded'):
            params.update(parse_qsl(body.decode('utf-8', 'replace'), keep_blank_values=True))
        params.update(query)
        headers = {}
        for name, value in handler.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        entry = self._log(method=handler.command, path=url.path, action=params.get('Action'), params=dict(params),
                          caller=None, request_id=request_id)
        try:
            doc = self._answer(handler, url, query, params, headers, body, entry)
        except ApiError as err:
            self._finish(entry, err.status, err.code)
            doc = {'RequestId': request_id, 'HostId': handler.headers.get('Host') or self.endpoint, 'Code': err.code,
                   'Message': err.message,
                   'Recommend': 'https://api.aliyun.com/troubleshoot?q=%s&product=Sts&requestId=%s' % (err.code, request_id)}
            self.send_json(handler, err.status, doc, request_id)
            return
        doc['RequestId'] = request_id
        self._finish(entry, 200)
        self.send_json(handler, 200, doc, request_id)

    def _answer(self, handler, url, query, params, headers, body, entry):
        if url.path != '/' or handler.command not in ('GET', 'POST'):
            raise ApiError('InvalidAction.NotFound')
        action = params.get('Action')
        if not action:
            raise sts_error('MissingParameter', 'Action')
        if action not in ACTIONS:
            raise ApiError('InvalidAction.NotFound')
        if not params.get('Version'):
            raise sts_error('MissingParameter', 'Version')
        if params['Version'] != VERSION:
            raise ApiError('InvalidVersion')
        if action == 'AssumeRole':
            caller = self._auth.verify(handler.command, url.path, query, params, headers, body).identity
            entry['caller'] = caller
            return self._assume_role(params, caller)
        return self._assume_role_with_oidc(params, entry)

    def _common(self, params):
        """RoleArn, RoleSessionName, DurationSeconds, Policy: checked; returns them."""
        role_arn = params.get('RoleArn')
        if not role_arn:
            raise sts_error('MissingParameter', 'RoleArn')
        if not ROLE_ARN_RE.fullmatch(role_arn):
            raise sts_error('InvalidParameter.RoleArn')
        session = params.get('RoleSessionName')
        if not session:
            raise sts_error('MissingParameter', 'RoleSessionName')
        if not SESSION_NAME_RE.fullmatch(session):
            raise sts_error('InvalidParameter.RoleSessionName')
        duration = params.get('DurationSeconds') or '3600'
        if not re.fullmatch('[0-9]{1,6}', duration) or not MIN_DURATION <= int(duration) <= MAX_DURATION:
            raise sts_error('InvalidParameter.DurationSeconds')
        policy = params.get('Policy')
        if policy is not None:
            if len(policy.encode('utf-8')) > MAX_POLICY_LENGTH:
                raise sts_error('InvalidParameter.PolicySize')
            try:
                document = json.loads(policy)
            except ValueError as exc:
                raise sts_error('InvalidParameter.PolicyGrammar') from exc
            if not isinstance(document, dict) or 'Statement' not in document or 'Version' not in document:
                raise sts_error('InvalidParameter.PolicyGrammar')
        if self.roles is not None and role_arn not in self.roles:
            raise sts_error('EntityNotExist.Role', role_arn)
        return role_arn, session, int(duration), policy

    def _role_setting(self, role_arn, name):
        return (self.roles or {}).get(role_arn, {}).get(name)

    def _assume_role(self, params, caller):
        role_arn, session, duration, policy = self._common(params)
        external_id = params.get('ExternalId')
        if external_id is not None and not EXTERNAL_ID_RE.fullmatch(external_id):
            raise sts_error('InvalidParameter.ExternalId')
        required = self._role_setting(role_arn, 'external_id')
        if required is not None and external_id != required:
            raise sts_error('NoPermission')
        return self._issue('AssumeRole', role_arn, session, duration, policy, caller=caller, external_id=external_id)

    def _assume_role_with_oidc(self, params, entry):
        provider = params.get('OIDCProviderArn')
        if not provider:
            raise sts_error('MissingParameter', 'OIDCProviderArn')
        if not OIDC_PROVIDER_ARN_RE.fullmatch(provider):
            raise sts_error('InvalidParameter.OIDCProviderArn')
        token = params.get('OIDCToken')
        if not token:
            raise sts_error('MissingParameter', 'OIDCToken')
        role_arn, session, duration, policy = self._common(params)
        if provider not in self._oidc_tokens.values():
            raise sts_error('EntityNotExist.OIDCProvider', provider)
        if self._oidc_tokens.get(token) != provider:
            raise sts_error('AuthenticationFail.OIDCToken.Invalid')
        trusted = self._role_setting(role_arn, 'oidc_provider')
        if self.roles is not None and trusted != provider:
            raise sts_error('AuthenticationFail.NoPermission')
        entry['caller'] = 'oidc:%s' % provider
        return self._issue('AssumeRoleWithOIDC', role_arn, session, duration, policy, caller=entry['caller'],
                           oidc_provider_arn=provider)

    def _issue(self, action, role_arn, session, duration, policy, **record):
        if self._refusal is not None and len(self.issued) >= self._refusal[0]:
            raise sts_error(self._refusal[1])
        key = self.identities.issue(assumed_identity(role_arn, session), self.expiration_seconds, issuer='sts',
                                    action=action, role_arn=role_arn, role_session_name=session,
                                    duration_seconds=duration, policy=policy, **record)
        account = role_arn.split(':')[3]
        doc = {
            'AssumedRoleUser': {'Arn': 'acs:ram::%s:role/%s/%s' % (account, role_arn.rsplit('/', 1)[1], session),
                                'AssumedRoleId': '3%017d:%s' % (abs(hash(role_arn)) % 10 ** 17, session)},
            'Credentials': {'AccessKeyId': key.access_key_id, 'AccessKeySecret': key.secret,
                            'SecurityToken': key.security_token, 'Expiration': key.expiration},
        }
        if action == 'AssumeRoleWithOIDC':
            doc['OIDCTokenInfo'] = {'Issuer': 'https://oidc.local.test', 'Subject': 'system:serviceaccount:awx:awx',
                                    'ClientIds': 'sts.aliyuncs.com'}
        return doc
