"""The wire contract: what the collection sends and reads, checked against the official generated ECS SDK.

``alibabacloud-ecs20140526`` is generated from the API's own metadata; it is a test-only oracle here (never a
run-time requirement). For every action the collection sends, :data:`CONTRACTS` holds one :class:`Contract` row:

* the requests: for each case (the API parameters of one call), the collection's own code path (the listing and
  ending functions the modules use, through ``Connection.client_for`` and sdk.py) and the official client's
  ``<action>_with_options`` with the matching ``<Action>Request`` model both call a recording endpoint on loopback,
  with the same keys; method, path, action, version, query and body must be the same, every signature part present
  on both (nonce, date, content hash, Authorization) and valid for the key;
* the answers: the official ``<Action>ResponseBody`` model, built with every field set (lists of two, distinct
  values), is served as ``to_map()`` and read through the collection's parsing; every field must arrive, under its
  snake_case name, with its value and type.

A new action joins by one row (and :func:`test_every_action_the_collection_sends_has_a_row` fails until it does):
its cases in API terms (a list parameter flattened as the API takes it, ``SettingType.1``; a nested configuration as
the JSON text the official client serialises), ``send``/``parse`` calling the collection's own functions, and where the
defaults do not fit, ``official_request`` (build the ``<Action>Request`` with its nested models from the case),
``locate`` (where a field of the answer lands in what ``parse`` returns), ``not_sent`` (request fields the
collection never sends), ``adjust_answer`` (answer fields set to the values the collection selects on, such as a
delivery's DeliveryType) and ``not_read`` (answer fields the collection deliberately does not return).
"""

from __future__ import annotations

import ast
import dataclasses
import http.server
import json
import re
import sys
import threading
import typing

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

import pytest

from alibabacloud_ecs20140526 import models as official_models
from alibabacloud_ecs20140526.client import Client as OfficialClient
from alibabacloud_tea_openapi import utils_models as openapi_models
from darabonba.model import DaraModel
from darabonba.runtime import RuntimeOptions

from ansible_collections.alicloud.ecs.plugins.module_utils import ending, errors, listing, session_manager
from ansible_collections.alicloud.ecs.plugins.module_utils.connection import Connection, connection_argument_spec
from ansible_collections.alicloud.ecs.plugins.module_utils.pagination import (
    ListingKey, ResumePoint, decode_resume_token, encode_resume_token)
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import snake_case
from ansible_collections.alicloud.ecs.plugins.modules import ecs_session_manager

from ecs_endpoint.auth import Authenticator
from ecs_endpoint.errors import ApiError
from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, CREDENTIALS, STS_KEY_ID, STS_SECRET, STS_TOKEN

API_VERSION = '2014-05-26'
COLLECTION_ROOT = Path(__file__).resolve().parents[4]
# The parts of a signed request that differ on every call: present on both sides, never compared.
SIGNATURE_HEADERS = ('authorization', 'x-acs-signature-nonce', 'x-acs-date', 'x-acs-content-sha256')
# Headers that say who sent the request, not what it asks: the User-Agent names the collection or the SDK, and
# x-acs-credentials-provider the kind of credential object that signed (static_ak, static_sts, ram_role_arn...).
CLIENT_HEADERS = ('user-agent', 'x-acs-credentials-provider')
KEYS = {
    'static keys': dict(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET),
    'STS token': dict(access_key_id=STS_KEY_ID, access_key_secret=STS_SECRET, security_token=STS_TOKEN),
}


@pytest.fixture(autouse=True)
def fresh_secret_registry(monkeypatch):
    monkeypatch.setattr(errors, 'SECRETS', errors._Registry())


# The recording endpoint -----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Recorded:
    """One request as it arrived: ``headers`` maps lower-case names to their values, ``query`` is the URL query."""

    method: str
    path: str
    query: Dict[str, str]
    query_pairs: List[Tuple[str, str]]
    headers: Dict[str, List[str]]
    body: bytes
    signature: str  # 'valid <access key ID>', or the error code the strict verifier answers

    def header(self, name: str) -> Optional[str]:
        values = self.headers.get(name)
        return ','.join(values) if values else None

    @property
    def action(self) -> Optional[str]:
        return self.header('x-acs-action') or self.query.get('Action')

    @property
    def version(self) -> Optional[str]:
        return self.header('x-acs-version') or self.query.get('Version')

    @property
    def signed_headers(self) -> List[str]:
        match = re.search(r'SignedHeaders=([^,\s]*)', self.header('authorization') or '')
        return sorted(match.group(1).split(';')) if match else []


class Recorder:
    """A loopback HTTP endpoint that records every request and answers each action with canned JSON.

    ``answers`` maps an action to the JSON object it answers with (HTTP 200); any other action gets HTTP 400.
    Signatures are checked by the local ECS endpoint's verifier (tests/ecs_endpoint/auth.py) and the outcome is
    recorded, not enforced, so a test can say which side signed wrong.
    """

    def __init__(self, answers: Dict[str, Dict[str, Any]]):
        self.answers = dict(answers)
        self.requests: List[Recorded] = []
        self._lock = threading.Lock()
        self._verifier = Authenticator(CREDENTIALS)
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, format, *args):  # pylint: disable=redefined-builtin
                pass

            def handle_any(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                recorder.answer(self, body)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self._server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self._server.daemon_threads = True
        # A short poll: shutdown() waits for the serving loop to look (0.5 s by default, per test).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.02},
                                        name='wire-recorder', daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def endpoint(self) -> str:
        return '127.0.0.1:%d' % self._server.server_address[1]

    def answer(self, handler, body):
        url = urlsplit(handler.path)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        headers = {}
        for name in dict.fromkeys(handler.headers.keys()):
            headers[name.lower()] = handler.headers.get_all(name)
        try:
            result = self._verifier.verify(handler.command, url.path, dict(pairs), dict(pairs), headers, body)
            verdict = 'valid %s' % result.access_key_id
        except ApiError as error:
            verdict = error.code
        recorded = Recorded(handler.command, url.path, dict(pairs), pairs, headers, body, verdict)
        with self._lock:
            self.requests.append(recorded)
        doc = self.answers.get(recorded.action)
        status = 200 if doc is not None else 400
        if doc is None:
            doc = {'Code': 'InvalidAction.NotFound', 'Message': 'The recorder has no answer for %s.' % recorded.action,
                   'RequestId': 'recorder-0000'}
        payload = json.dumps(doc).encode('utf-8')
        handler.send_response(status)
        handler.send_header('Content-Type', 'application/json;charset=utf-8')
        handler.send_header('Content-Length', str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def take(self) -> List[Recorded]:
        """The requests recorded since the last take, oldest first."""
        with self._lock:
            taken, self.requests = self.requests, []
        return taken


# Official models with every field set ---------------------------------------------------------------------------------

class Filler:
    """Builds official models with every field set, each value distinct (so a swapped field is seen)."""

    def __init__(self):
        self.serial = 0

    def model(self, cls: type) -> DaraModel:
        hints = model_fields(cls)
        assert hints, '%s has no fields: not a generated model?' % cls.__name__
        return cls(**{name: self.value(hint, name) for name, hint in hints.items()})

    def value(self, hint: Any, name: str) -> Any:
        self.serial += 1
        origin = typing.get_origin(hint)
        if origin in (list, List):
            (item,) = typing.get_args(hint)
            return [self.value(item, name), self.value(item, name)]
        if origin in (dict, Dict):
            return {'%s-key-%d' % (name, self.serial): '%s-value-%d' % (name, self.serial)}
        if isinstance(hint, type) and issubclass(hint, DaraModel):
            return self.model(hint)
        if hint is bool:
            return self.serial % 2 == 0
        if hint is int:
            return 1000 + self.serial
        if hint is float:
            return 1000.5 + self.serial
        if hint is str:
            return '%s-%d' % (name, self.serial)
        raise AssertionError('no filler for %s (%r): teach Filler this type' % (name, hint))


def unset_fields(model: DaraModel, where: str = '') -> List[str]:
    """The fields of ``model`` (and of the models inside it) left None: none, for a model built by :class:`Filler`."""
    missing = []
    for name, value in vars(model).items():
        if name.startswith('_'):
            continue
        here = '%s.%s' % (where, name) if where else name
        if value is None:
            missing.append(here)
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, DaraModel):
                missing.extend(unset_fields(item, '%s[%d]' % (here, index)))
    return missing


def leaves(document: Any, path: Tuple = ()) -> List[Tuple[Tuple, Any]]:
    """Every (path, value) of a JSON-like ``document`` whose value is neither a dict nor a list."""
    if isinstance(document, dict):
        return [leaf for key, value in document.items() for leaf in leaves(value, path + (key,))]
    if isinstance(document, list):
        return [leaf for index, value in enumerate(document) for leaf in leaves(value, path + (index,))]
    return [(path, document)]


def collection_path(wire_path: Tuple, document: Dict[str, Any]) -> Tuple:
    """Where a field at ``wire_path`` of the service's JSON lands in the collection's parsed result.

    Lists wrapped XML-style (``Sessions: {Session: [...]}``) are unwrapped, and names become snake_case: the
    collection's convention for every record it returns.
    """
    translated, node = [], document
    for step in wire_path:
        wrapped_list = isinstance(node, dict) and len(node) == 1 and isinstance(node.get(step), list)
        node = node[step]
        if wrapped_list:
            continue
        translated.append(step if isinstance(step, int) else snake_case(step))
    return tuple(translated)


def follow(document: Any, path: Tuple) -> Any:
    for step in path:
        document = document[step]
    return document


# The collection's side and the official side --------------------------------------------------------------------------

def connection_to(endpoint: str, keys: Dict[str, str], region_id: str = 'cn-hangzhou') -> Connection:
    """A Connection built from module options, as a task with these options gets it (plain http to the recorder)."""
    params = {name: spec.get('default') for name, spec in connection_argument_spec().items()}
    params.update(keys, region_id=[region_id], endpoint=endpoint, protocol='http', retries=0)
    return Connection(params, environ={})


def official_client(endpoint: str, keys: Dict[str, str]) -> OfficialClient:
    return OfficialClient(openapi_models.Config(endpoint=endpoint, protocol='http', **keys))


def model_fields(model: type) -> Dict[str, Any]:
    """Field name -> type of a generated model (from its constructor's annotations)."""
    hints = typing.get_type_hints(model.__init__, vars(sys.modules[model.__module__]))
    hints.pop('return', None)
    return hints


def official_request(action: str, api_params: Dict[str, Any]) -> DaraModel:
    """The official ``<Action>Request`` with ``api_params`` (API parameter names, text as on the wire) set under their
    model names, each as the type the model declares (MaxResults an int): the official client stringifies them itself."""
    model = getattr(official_models, action + 'Request')
    fields = model_fields(model)
    values = {}
    for name, value in api_params.items():
        field = snake_case(name)
        assert field in fields, 'the official %sRequest has no field for %s' % (action, name)
        values[field] = fields[field](value) if fields[field] in (int, str) else value
    request = model(**values)
    assert {name: str(value) for name, value in request.to_map().items()} == api_params
    return request


def official_call(client: OfficialClient, contract: 'Contract', api_params: Dict[str, Any]) -> Any:
    request = (contract.official_request or official_request)(contract.action, api_params)
    return getattr(client, snake_case(contract.action) + '_with_options')(request, RuntimeOptions())


# DescribeTerminalSessions: the listing path of every module and plugin (listing.list_sessions), resume tokens included.
def describe_send(connection: Connection, api_params: Dict[str, Any]) -> None:
    instance_id, session_id = api_params.get('InstanceId'), api_params.get('SessionId')
    plan = listing.query_plan([api_params['RegionId']], [instance_id] if instance_id else None,
                              [session_id] if session_id else None, int(api_params['MaxResults']))
    start = None
    if 'NextToken' in api_params:  # as ecs_terminal_session_info resumes from the next_token it returned earlier
        token = encode_resume_token(plan[0], ResumePoint(api_params['NextToken'], 0))
        start, plan[0].page_size = decode_resume_token(token, plan[0])
    listing.list_sessions(connection, plan, start=start, concurrency=1)


def describe_parse(connection: Connection, region_id: str) -> Dict[str, Any]:
    """One page read as the listing reads it: the page (listing.page_fetcher), then each record (checked_session)."""
    fetch_page = listing.page_fetcher(connection.client_for, connection.retry_policy(), listing.CallCounter())
    page = fetch_page(ListingKey(region_id), None)
    return {'next_token': page['next_token'], 'request_id': page['request_id'],
            'sessions': [listing.checked_session(raw, region_id) for raw in page['records']]}


def describe_last_page(body: Dict[str, Any]) -> Dict[str, Any]:
    """The answer without NextToken: the listing stops after the one request compared."""
    return {name: value for name, value in body.items() if name != 'NextToken'}


# EndTerminalSession: the ending path of ecs_terminal_session (ending.end_sessions).
def end_send(connection: Connection, api_params: Dict[str, Any]) -> Dict[str, Any]:
    outcome = ending.end_sessions(connection.client_for, connection.retry_policy(), listing.CallCounter(),
                                  [ending.unlisted_session(api_params['SessionId'], api_params['RegionId'])])
    assert not outcome.failures, outcome.failures
    return outcome.ended[0]


def end_parse(connection: Connection, region_id: str) -> Dict[str, Any]:
    return end_send(connection, {'RegionId': region_id, 'SessionId': 's-wirecontract0001'})


@dataclasses.dataclass
class Contract:
    """One action the collection sends.

    ``cases``: case name -> API parameters (names and values as the API documents them) of one call.
    ``send(connection, api_params)``: the collection's code path making that call.
    ``parse(connection, region_id)``: the collection's code path reading the action's answer; returns the parsed
    result, in which every field of the answer is found at :func:`collection_path` (or ``locate``'s path).
    ``answer_for_requests``: the answer the recorder gives while requests are compared (default: the full one).
    ``official_request``: builds the official request model (default: :func:`official_request`).
    ``not_sent``: parameters of the official request (snake_case) the collection never sends, beyond the legacy Owner*.
    ``adjust_answer(model)``: sets fields of the filled answer model to values the collection selects on (a type the
    service documents), so that the fields it reads are reached.
    ``not_read``: paths (prefixes) of answer fields the collection deliberately does not return; each must exist.
    """

    action: str
    cases: Dict[str, Dict[str, Any]]
    send: Callable[[Connection, Dict[str, Any]], Any]
    parse: Callable[[Connection, str], Any]
    method: str = 'POST'
    path: str = '/'
    answer_for_requests: Callable[[Dict[str, Any]], Dict[str, Any]] = lambda body: body
    official_request: Optional[Callable[[str, Dict[str, Any]], DaraModel]] = None
    locate: Callable[[Tuple, Dict[str, Any]], Tuple] = collection_path
    not_sent: Tuple[str, ...] = ()
    adjust_answer: Callable[[DaraModel], None] = lambda model: None
    not_read: Tuple[Tuple, ...] = ()

    def full_answer(self) -> Tuple[DaraModel, Dict[str, Any]]:
        """The official response body model with every field set, and its ``to_map()``."""
        model = Filler().model(getattr(official_models, self.action + 'ResponseBody'))
        self.adjust_answer(model)
        return model, model.to_map()


# DescribeCloudAssistantSettings and ModifyCloudAssistantSettings: ecs_session_manager and ecs_session_manager_info read
# the posture through session_manager.SettingsClient.read; ecs_session_manager changes it through its apply().
class FakeModule:
    """What ecs_session_manager.apply uses of an AlicloudModule: the connection, and a failure that raises."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def fail_json_alicloud(self, error, message, **result):
        raise AssertionError('%s: %s %r' % (message, error, result))


def settings_reader(connection: Connection) -> session_manager.SettingsClient:
    return session_manager.SettingsClient(connection.client_for, connection.retry_policy(), listing.CallCounter().increment)


def settings_describe_send(connection: Connection, api_params: Dict[str, Any]) -> Dict[str, Any]:
    settings, unsupported = settings_reader(connection).read([api_params['RegionId']])
    assert unsupported == []
    return settings[api_params['RegionId']]


def settings_describe_parse(connection: Connection, region_id: str) -> Dict[str, Any]:
    return settings_describe_send(connection, {'RegionId': region_id})


def settings_describe_request(action: str, api_params: Dict[str, Any]) -> DaraModel:
    """The official request with the flattened ``SettingType.<n>`` given back as the list the model takes."""
    numbered = sorted((int(name.split('.')[1]), value) for name, value in api_params.items() if name.startswith('SettingType.'))
    assert [number for number, _value in numbered] == list(range(1, len(numbered) + 1))
    assert set(api_params) == {'RegionId'} | {'SettingType.%d' % number for number, _value in numbered}
    return getattr(official_models, action + 'Request')(region_id=api_params['RegionId'],
                                                        setting_type=[value for _number, value in numbered])


def settings_describe_adjust(model: DaraModel) -> None:
    """The first delivery of each kind is of session records (the one the collection reads), the second of command runs;
    Session Manager and each read delivery are on, so that a value lost for the default (off) is seen."""
    model.session_manager_config.session_manager_enabled = True
    for entries in (model.oss_delivery_configs.oss_delivery_config, model.sls_delivery_configs.sls_delivery_config):
        entries[0].delivery_type, entries[0].enabled = session_manager.SESSION_DELIVERY_TYPE, True
        entries[1].delivery_type = 'Invocation'


def settings_describe_locate(wire_path: Tuple, document: Dict[str, Any]) -> Tuple:
    """The session deliveries land under ``oss_delivery``/``sls_delivery``, Session Manager's switch at the top."""
    if wire_path == ('SessionManagerConfig', 'SessionManagerEnabled'):
        return ('session_manager_enabled',)
    for name, (wrapper, item, _fields) in session_manager.DELIVERIES.items():
        if wire_path[:3] == (wrapper, item, 0):
            return (name,) + tuple(snake_case(step) for step in wire_path[3:])
    return collection_path(wire_path, document)


def settings_modify_query(api_params: Dict[str, Any]) -> Dict[str, str]:
    """The query session_manager builds for the posture the case's JSON configurations describe."""
    region_id, setting_type = api_params['RegionId'], api_params['SettingType']
    if setting_type == session_manager.CONFIG_SETTING:
        return session_manager.config_query(region_id, json.loads(api_params['SessionManagerConfig'])['SessionManagerEnabled'])
    deliveries = {}
    for parameter, fields in (('OssDeliveryConfig', session_manager.OSS_FIELDS), ('SlsDeliveryConfig', session_manager.SLS_FIELDS)):
        if parameter in api_params:
            document = json.loads(api_params[parameter])
            deliveries[parameter] = {name: document.get(api) for name, api in fields}
    return session_manager.delivery_query(region_id, deliveries.get('OssDeliveryConfig'), deliveries.get('SlsDeliveryConfig'))


def settings_modify_send(connection: Connection, api_params: Dict[str, Any]) -> Dict[str, Any]:
    call = {'region_id': api_params['RegionId'], 'setting_type': api_params['SettingType'], 'query': settings_modify_query(api_params)}
    (done,) = ecs_session_manager.apply(FakeModule(connection), session_manager.Plan([call], {}), listing.CallCounter(), {})
    return done


def settings_modify_parse(connection: Connection, region_id: str) -> Dict[str, Any]:
    return settings_modify_send(connection, {'RegionId': region_id, 'SettingType': session_manager.CONFIG_SETTING,
                                             'SessionManagerConfig': '{"SessionManagerEnabled":true}'})


def settings_modify_request(action: str, api_params: Dict[str, Any]) -> DaraModel:
    """The official request with each JSON configuration given as its nested model (the client serialises it)."""
    model = getattr(official_models, action + 'Request')
    values = {}
    for name, value in api_params.items():
        field = snake_case(name)
        hint = model_fields(model)[field]
        if isinstance(hint, type) and issubclass(hint, DaraModel):
            document = json.loads(value)
            assert set(map(snake_case, document)) <= set(model_fields(hint)), (name, document)
            value = hint(**{snake_case(key): item for key, item in document.items()})
        values[field] = value
    return model(**values)


REGION = 'cn-hangzhou'
CONTRACTS = [
    Contract(
        action='DescribeTerminalSessions',
        # The collection always sends MaxResults (its page size, max_results); every other parameter only when given.
        cases={
            'RegionId': {'RegionId': REGION, 'MaxResults': '100'},
            'InstanceId': {'RegionId': REGION, 'MaxResults': '100', 'InstanceId': 'i-bp1wirecontract0001'},
            'SessionId': {'RegionId': REGION, 'MaxResults': '100', 'SessionId': 's-hz0wirecontract01'},
            'MaxResults': {'RegionId': 'ap-southeast-1', 'MaxResults': '7'},
            'NextToken': {'RegionId': REGION, 'MaxResults': '100', 'NextToken': 'AAAAAdDWBF2+/=wire&contract'},
            'all': {'RegionId': 'eu-central-1', 'MaxResults': '1', 'InstanceId': 'i-gw8wirecontract0002',
                    'SessionId': 's-gw8wirecontract02', 'NextToken': 'AAAAAV3MpHK1AP0pfERHZN5pu6k='},
        },
        send=describe_send,
        parse=describe_parse,
        answer_for_requests=describe_last_page,
    ),
    Contract(
        action='EndTerminalSession',
        cases={
            'SessionId': {'RegionId': REGION, 'SessionId': 's-hz0wirecontract01'},
            'other region': {'RegionId': 'us-west-1', 'SessionId': 's-us0wirecontract09'},
        },
        send=end_send,
        parse=end_parse,
    ),
    Contract(
        action='DescribeCloudAssistantSettings',
        # The collection always asks for both settings of Session Manager, the list flattened as the API takes it.
        cases={
            'SettingType': {'RegionId': REGION, 'SettingType.1': 'SessionManagerConfig', 'SettingType.2': 'SessionManagerDelivery'},
            'other region': {'RegionId': 'ap-southeast-1', 'SettingType.1': 'SessionManagerConfig',
                             'SettingType.2': 'SessionManagerDelivery'},
        },
        send=settings_describe_send,
        parse=settings_describe_parse,
        official_request=settings_describe_request,
        adjust_answer=settings_describe_adjust,
        locate=settings_describe_locate,
        # Not settings of Session Manager, the request ID of a read, the deliveries of command runs, and the type that
        # selected the session delivery.
        not_read=(('AgentUpgradeConfig',), ('ResourceUsageConfig',), ('RequestId',),
                  ('OssDeliveryConfigs', 'OssDeliveryConfig', 0, 'DeliveryType'), ('OssDeliveryConfigs', 'OssDeliveryConfig', 1),
                  ('SlsDeliveryConfigs', 'SlsDeliveryConfig', 0, 'DeliveryType'), ('SlsDeliveryConfigs', 'SlsDeliveryConfig', 1)),
    ),
    Contract(
        action='ModifyCloudAssistantSettings',
        # One setting per call; each nested configuration as the compact JSON text the official client writes.
        cases={
            'enable Session Manager': {'RegionId': REGION, 'SettingType': 'SessionManagerConfig',
                                       'SessionManagerConfig': '{"SessionManagerEnabled":true}'},
            'disable Session Manager': {'RegionId': 'eu-central-1', 'SettingType': 'SessionManagerConfig',
                                        'SessionManagerConfig': '{"SessionManagerEnabled":false}'},
            'OSS delivery with KMS': {
                'RegionId': REGION, 'SettingType': 'SessionManagerDelivery',
                'OssDeliveryConfig': '{"BucketName":"audit-bucket-1","Enabled":true,"EncryptionAlgorithm":"AES256",'
                                     '"EncryptionKeyId":"key-hzz6a4d2b0fa7b2x0k8ze","EncryptionType":"KMS","Prefix":"sessions/audit"}'},
            'OSS off and SLS on': {
                'RegionId': REGION, 'SettingType': 'SessionManagerDelivery',
                'OssDeliveryConfig': '{"BucketName":"audit-bucket-1","Enabled":false,"Prefix":""}',
                'SlsDeliveryConfig': '{"Enabled":true,"LogstoreName":"session_logs","ProjectName":"audit-project"}'},
            'SLS only, disabled': {'RegionId': REGION, 'SettingType': 'SessionManagerDelivery', 'SlsDeliveryConfig': '{"Enabled":false}'},
            'text that is not ASCII': {'RegionId': REGION, 'SettingType': 'SessionManagerDelivery',
                                       'OssDeliveryConfig': '{"BucketName":"audit-bucket-1","Enabled":true,"Prefix":"审计/é \\"q\\""}'},
        },
        send=settings_modify_send,
        parse=settings_modify_parse,
        official_request=settings_modify_request,
        not_sent=('agent_upgrade_config', 'resource_usage_config'),
    ),
]
REQUEST_CASES = [pytest.param(contract, case, keys, id='%s-%s-%s' % (contract.action, case, keys))
                 for contract in CONTRACTS for case in contract.cases for keys in KEYS]


def signature_problems(request: Recorded, keys: Dict[str, str]) -> List[str]:
    """What is missing or wrong in the signature parts of ``request`` (an empty list when all is well)."""
    found = ['no %s header' % name for name in SIGNATURE_HEADERS if not request.header(name)]
    if request.signature != 'valid %s' % keys['access_key_id']:
        found.append('signature not valid for %s: %s' % (keys['access_key_id'], request.signature))
    if request.header('x-acs-security-token') != keys.get('security_token'):
        found.append('x-acs-security-token is not the STS token of the keys')
    return found


def comparable(request: Recorded) -> Dict[str, Any]:
    """What a request asks for, without the parts that differ on every call or name the client."""
    skipped = SIGNATURE_HEADERS + CLIENT_HEADERS
    return {
        'method': request.method, 'path': request.path, 'action': request.action, 'version': request.version,
        'query': request.query, 'body': request.body, 'signed headers': request.signed_headers,
        'headers': {name: values for name, values in request.headers.items() if name not in skipped},
    }


@pytest.mark.parametrize('contract, case, keys', REQUEST_CASES)
def test_the_collection_sends_what_the_official_sdk_sends(contract, case, keys):
    api_params = contract.cases[case]
    _model, body = contract.full_answer()
    with Recorder({contract.action: contract.answer_for_requests(body)}) as recorder:
        contract.send(connection_to(recorder.endpoint, KEYS[keys], api_params['RegionId']), api_params)
        (ours,) = recorder.take()
        official_call(official_client(recorder.endpoint, KEYS[keys]), contract, api_params)
        (theirs,) = recorder.take()

    # The call itself, and the parameters exactly as given (strings, each once): nothing added, nothing lost.
    assert (ours.method, ours.path, ours.action, ours.version) == (contract.method, contract.path, contract.action,
                                                                   API_VERSION)
    assert ours.query == api_params
    assert len(ours.query_pairs) == len(api_params)
    assert (signature_problems(ours, KEYS[keys]), signature_problems(theirs, KEYS[keys])) == ([], [])
    assert ours.header('x-acs-signature-nonce') != theirs.header('x-acs-signature-nonce')
    assert comparable(ours) == comparable(theirs)
    assert ours.header('user-agent').startswith('AlibabaCloud') and 'AnsibleCollection/alicloud.ecs' in ours.header('user-agent')


def test_a_parameter_one_side_left_out_would_be_reported():
    """The request comparison is not vacuous: the same call without SessionId on the official side differs."""
    contract = CONTRACTS[0]
    api_params = contract.cases['all']
    with Recorder({contract.action: {'RequestId': 'recorder-0001'}}) as recorder:
        contract.send(connection_to(recorder.endpoint, KEYS['static keys'], api_params['RegionId']), api_params)
        official_call(official_client(recorder.endpoint, KEYS['static keys']), contract,
                      {name: value for name, value in api_params.items() if name != 'SessionId'})
        ours, theirs = recorder.take()
    differences = {name for name, value in comparable(ours).items() if comparable(theirs)[name] != value}
    assert differences == {'query'}
    assert set(ours.query) - set(theirs.query) == {'SessionId'}


@pytest.mark.parametrize('contract', [pytest.param(contract, id=contract.action) for contract in CONTRACTS])
def test_every_field_of_the_official_answer_reaches_the_collection(contract):
    model, body = contract.full_answer()
    assert unset_fields(model) == []
    # The answer is the official model's own: it reads it back whole.
    assert type(model)().from_map(body).to_map() == body
    with Recorder({contract.action: body}) as recorder:
        parsed = contract.parse(connection_to(recorder.endpoint, KEYS['static keys']), REGION)
        assert [request.action for request in recorder.take()] == [contract.action]

    every_path = [wire_path for wire_path, _value in leaves(body)]
    assert [prefix for prefix in contract.not_read if not any(path[:len(prefix)] == prefix for path in every_path)] == []
    missing = []
    for wire_path, value in leaves(body):
        if any(wire_path[:len(prefix)] == prefix for prefix in contract.not_read):
            continue
        where = contract.locate(wire_path, body)
        try:
            found = follow(parsed, where)
        except (KeyError, IndexError, TypeError):
            missing.append('%s: absent at %s' % ('.'.join(map(str, wire_path)), where))
            continue
        if found != value or type(found) is not type(value):
            missing.append('%s: %r arrived as %r' % ('.'.join(map(str, wire_path)), value, found))
    assert missing == []


def test_the_filler_sets_every_field_of_the_describe_answer():
    """Not vacuous: the answer holds every field the API reference documents, newer ones (FailedDetail) included."""
    _model, body = CONTRACTS[0].full_answer()
    names = {step for path, _value in leaves(body) for step in path if isinstance(step, str)}
    assert names >= {'RequestId', 'NextToken', 'Sessions', 'Session', 'CreationTime', 'TargetServer', 'PortNumber',
                     'PrincipalId', 'Username', 'ClientIP', 'IdentityType', 'SessionId', 'Connections', 'Connection',
                     'ClosedReason', 'EndTime', 'Status', 'StartTime', 'InstanceId', 'FailedDetail'}
    sessions = body['Sessions']['Session']
    assert len(sessions) == 2 and all(len(session['Connections']['Connection']) == 2 for session in sessions)


def test_a_field_the_collection_dropped_would_be_reported():
    """The field check fails for a parse that loses a field or changes a type: it can fail."""
    contract = CONTRACTS[0]
    _model, body = contract.full_answer()
    parsed = {'next_token': body['NextToken'], 'request_id': body['RequestId'],
              'sessions': [listing.checked_session(raw, REGION) for raw in body['Sessions']['Session']]}
    del parsed['sessions'][1]['connections'][0]['failed_detail']
    parsed['sessions'][0]['port_number'] = str(parsed['sessions'][0]['port_number'])
    wrong = [path for path, value in leaves(body)
             if _lookup(parsed, contract.locate(path, body)) != (type(value), value)]
    assert sorted(wrong) == [('Sessions', 'Session', 0, 'PortNumber'),
                             ('Sessions', 'Session', 1, 'Connections', 'Connection', 0, 'FailedDetail')]


def _lookup(parsed, where):
    try:
        found = follow(parsed, where)
    except (KeyError, IndexError, TypeError):
        return None
    return type(found), found


# Every action the collection sends has a row ----------------------------------------------------------------------------
# RpcClient.call(action, query) is the one way the collection sends a request; its first argument is a string literal or
# a module-level constant holding one.
PLUGINS_PACKAGE = 'ansible_collections.alicloud.ecs.plugins'
_CALL_RE = re.compile(r'\.call\(\s*(?:\'([A-Za-z]+)\'|"([A-Za-z]+)"|([A-Z][A-Z0-9_]*)\b)')


def string_constant(path: Path, name: str, seen: Tuple[Path, ...] = ()) -> str:
    """The text of the module-level string constant ``name`` of ``path``, or of the plugins/ module it imports it from.

    Fails when ``name`` is neither assigned a string literal at module level nor imported from a plugins/ file that does.
    """
    assert path not in seen, 'import cycle resolving %s: %s' % (name, seen)
    tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == name for target in node.targets):
            assert isinstance(node.value, ast.Constant) and isinstance(node.value.value, str), (
                '%s: %s is not a string constant' % (path, name))
            return node.value.value
        if isinstance(node, ast.ImportFrom) and (node.module or '').startswith(PLUGINS_PACKAGE + '.'):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    source = COLLECTION_ROOT.joinpath('plugins', *node.module[len(PLUGINS_PACKAGE) + 1:].split('.'))
                    return string_constant(source.with_suffix('.py'), alias.name, seen + (path,))
    raise AssertionError('%s calls with %s, which is neither a string constant of that file nor imported from a plugins/ '
                         'file that defines one' % (path, name))


def actions_sent() -> Dict[str, List[str]]:
    """Action -> the files that send it, from every ``<client>.call(...)`` in plugins/."""
    found = {}
    for path in sorted((COLLECTION_ROOT / 'plugins').rglob('*.py')):
        source = path.read_text(encoding='utf-8')
        for match in _CALL_RE.finditer(source):
            literal = match.group(1) or match.group(2) or string_constant(path, match.group(3))
            found.setdefault(literal, []).append(str(path.relative_to(COLLECTION_ROOT)))
    return found


def test_every_action_the_collection_sends_has_a_row():
    sent = actions_sent()
    # The scan finds what it should, the constants imported from another file (MODIFY_ACTION) included.
    assert {'DescribeTerminalSessions', 'EndTerminalSession', 'DescribeCloudAssistantSettings'} <= set(sent)
    assert 'plugins/modules/ecs_session_manager.py' in sent.get('ModifyCloudAssistantSettings', [])
    assert sorted(set(sent) - {contract.action for contract in CONTRACTS}) == []


def test_an_action_constant_is_resolved_where_it_is_defined_and_never_guessed(tmp_path):
    plugin = tmp_path / 'plugin.py'
    plugin.write_text("from ansible_collections.alicloud.ecs.plugins.module_utils.session_manager import MODIFY_ACTION as WRITE\n"
                      "from ansible_collections.alicloud.ecs.plugins.module_utils.session_manager import NO_SUCH_ACTION\n"
                      "from os.path import sep as OUTSIDE_ACTION\n"
                      "LOCAL_ACTION = 'EndTerminalSession'\nNUMBER_ACTION = 3\n", encoding='utf-8')
    assert string_constant(plugin, 'WRITE') == 'ModifyCloudAssistantSettings'
    assert string_constant(plugin, 'LOCAL_ACTION') == 'EndTerminalSession'
    for name in ('NO_SUCH_ACTION', 'OUTSIDE_ACTION', 'NUMBER_ACTION', 'UNDEFINED_ACTION'):
        with pytest.raises(AssertionError):
            string_constant(plugin, name)


@pytest.mark.parametrize('contract', [pytest.param(contract, id=contract.action) for contract in CONTRACTS])
def test_each_row_covers_every_parameter_the_collection_can_send(contract):
    """The cases together give every API parameter the official request takes, but the legacy Owner* ones."""
    fields = model_fields(getattr(official_models, contract.action + 'Request'))
    legacy = {'owner_id', 'owner_account', 'resource_owner_id', 'resource_owner_account'}
    given = {snake_case(re.sub(r'\.[0-9]+$', '', name)) for case in contract.cases.values() for name in case}  # SettingType.1
    assert sorted(set(fields) - legacy - set(contract.not_sent) - given) == []
