"""Property-based tests, in process: random option values and random answers through the module's code.

What may escape is only what the module turns into a clean failure: OptionError / CredentialError /
CriteriaError (ValueError), the module's own fail_json, and AlicloudError (TokenLoopError included) inside a
ListingFailure. A KeyError, TypeError or AttributeError would be a traceback for the user. Each property is
bounded by max_examples and a deadline; the examples are derandomized so every run checks the same ones.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.connection import connection_argument_spec
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialSource
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import CRITERIA, Criteria, CriteriaError
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import (
    CallCounter, ListingFailure, merge_listings, page_fetcher, query_plan, run_plan)
from ansible_collections.alicloud.ecs.plugins.module_utils.module import AlicloudModule
from ansible_collections.alicloud.ecs.plugins.module_utils.pagination import (
    RESUME_TOKEN_PREFIX, ListingKey, ResumePoint, decode_resume_token, encode_resume_token)
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import RetryPolicy
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import normalize_session, session_ids_by_instance, summary_by_instance
from ansible_collections.alicloud.ecs.plugins.modules import ecs_terminal_session_info as info

SETTINGS = settings(max_examples=250, deadline=2000, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MAX_CALLS = 60

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=8)
# Times as the service writes them, as people write them, at the edges of what a date can be, and anything else.
offsets = st.integers(-23, 23).map(lambda hours: datetime.timezone(datetime.timedelta(hours=hours)))
edge_times = st.builds(lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
                       st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31, 23, 59, 59)),
                       offsets)
ages = st.builds(lambda number, unit: '%d%s' % (number, unit), st.integers(0, 10 ** 20), st.sampled_from('smhdwy'))
times = st.one_of(edge_times, ages, st.text(max_size=12))
texts = st.one_of(st.text(max_size=12), st.sampled_from(['', ' ', 'root', 'Connected', 'RAMUser', '10.0.0.0/8', '::1', 'i-hz001']))


# --- options ---------------------------------------------------------------------------------------------------

class Failed(Exception):
    """fail_json of the stand-in module."""


class StandInModule:
    """What the checks of ``main()`` use of an AlicloudModule, with parameters as AnsibleModule would hand them over."""

    def __init__(self, params):
        self.params = params
        self.connection = None
        self.warnings = []

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])

    def warn(self, message):
        self.warnings.append(message)

    validate_connection = AlicloudModule.validate_connection
    validate = AlicloudModule.validate
    ids = AlicloudModule.ids
    criteria = AlicloudModule.criteria
    region_ids = AlicloudModule.region_ids
    compiled_query = AlicloudModule.compiled_query
    result_shape = AlicloudModule.result_shape


def validate_as_main_does(module):
    """The checks ecs_terminal_session_info's main() makes before it imports the SDK, in its order."""
    module.validate()
    instance_ids, session_ids = module.ids('instance_id', info.BLANK_ID), module.ids('session_id', info.BLANK_ID)
    info.plan_and_start(module, instance_ids, session_ids)
    module.criteria()
    module.compiled_query()
    module.result_shape()


def typed_value(spec):
    """A value of the type AnsibleModule converts an option to, and within its choices (AnsibleModule refuses others)."""
    kind = spec.get('type', 'str')
    if spec.get('choices'):
        return st.sampled_from(spec['choices'])
    return {
        'str': texts,
        'path': st.one_of(texts, st.just('/etc/hostname'), st.just('/nonexistent')),
        'int': st.one_of(st.integers(-5, 200), st.integers()),
        'float': st.one_of(st.floats(-10, 1000), st.floats(allow_nan=True, allow_infinity=True)),
        'bool': st.booleans(),
        'list': st.lists(texts, max_size=3),
        'raw': st.one_of(texts, st.dictionaries(texts, texts, max_size=2)),
        'dict': st.dictionaries(st.sampled_from(sorted(CRITERIA)), st.one_of(st.lists(texts, max_size=2), st.booleans(), times),
                                max_size=3),
    }[kind]


def option_values():
    """Every option valid but up to three, which get an odd value (so that each odd value can decide the outcome)."""
    spec = dict(connection_argument_spec(), **info.argument_spec())
    valid = dict((name, st.just(option.get('default'))) for name, option in spec.items())
    valid.update(region_id=st.lists(st.sampled_from(['cn-hangzhou', 'cn-shanghai', 'ap-southeast-1']), min_size=1, max_size=3),
                 access_key_id=st.just('LTAItestkey0000000000001'), access_key_secret=st.just('test-secret'),
                 endpoint=st.just('127.0.0.1:9'), protocol=st.just('http'))
    odd = dict((name, typed_value(option) if option.get('default') is not None else st.one_of(st.none(), typed_value(option)))
               for name, option in spec.items())
    odd.update(next_token=st.one_of(texts, resume_tokens()),
               query=st.one_of(st.sampled_from(['[].session_id', '[?', 'length(@)']), texts))

    @st.composite
    def values(draw):
        params = dict((name, draw(valid[name])) for name in spec)
        for name in draw(st.lists(st.sampled_from(sorted(spec)), max_size=3, unique=True)):
            params[name] = draw(odd[name])
        return params
    return values()


def test_random_option_values_fail_cleanly_or_pass(record):
    outcomes = {'accepted': 0, 'refused': 0}
    examples = []

    @SETTINGS
    @given(option_values())
    def check(params):
        examples.append(params)
        module = StandInModule(params)
        try:
            validate_as_main_does(module)
        except Failed as failure:
            assert str(failure)
            outcomes['refused'] += 1
            return
        # accepted options must make a client and a retry policy that work
        module.connection.client_for(module.region_ids[0])
        policy = module.connection.retry_policy()
        assert all(math.isfinite(policy.delay(number)) and policy.delay(number) >= 0 for number in (1, 5, 50))
        outcomes['accepted'] += 1

    check()
    record(kind='property', property='Random values for every option through the module\'s validate(): only fail_json',
           examples=len(examples), result='%(accepted)d accepted, %(refused)d refused with a message, no other exception' % outcomes)
    assert outcomes['refused'] and outcomes['accepted']


def test_random_criteria_fail_cleanly_and_never_break_matching(record):
    sessions = st.lists(st.fixed_dictionaries({
        'SessionId': st.text(string.ascii_lowercase, min_size=1, max_size=6), 'CreationTime': times,
        'Username': texts, 'ClientIP': texts, 'IdentityType': texts, 'PortNumber': json_scalars,
        'Connections': st.lists(st.fixed_dictionaries({'InstanceId': texts, 'Status': texts}), max_size=2)}), max_size=4)
    criteria = st.one_of(
        st.dictionaries(st.one_of(st.sampled_from(sorted(CRITERIA)), st.text(max_size=5)),
                        st.one_of(json_values, times, st.lists(texts, max_size=3)), max_size=4),
        st.fixed_dictionaries({}, optional=dict((name, times) for name in ('created_after', 'created_before'))))
    outcomes = {'compiled': 0, 'refused': 0}
    examples = []

    @SETTINGS
    @given(criteria, sessions)
    def check(wanted, raw_sessions):
        examples.append(wanted)
        try:
            compiled = Criteria(wanted)
        except CriteriaError as error:
            assert str(error).startswith('filters')
            outcomes['refused'] += 1
            return
        outcomes['compiled'] += 1
        for raw in raw_sessions:
            compiled.match(normalize_session(raw, "cn-hangzhou"))

    check()
    record(kind='property', property='Random filters (any JSON value) compiled and matched against random sessions',
           examples=len(examples), result='%(compiled)d compiled, %(refused)d refused naming filters.*, matching never raised' % outcomes)


# --- resume tokens -----------------------------------------------------------------------------------------------

def resume_tokens():
    payloads = st.fixed_dictionaries({}, optional={'r': json_values, 'i': json_values, 's': json_values, 'm': json_values,
                                                   't': json_values, 'o': st.one_of(json_values, st.just(10 ** 400))})
    fitting = st.fixed_dictionaries({'r': st.just('cn-hangzhou'), 'i': st.just('i-hz001'), 's': st.sampled_from(['', None]),
                                     'm': st.one_of(st.integers(-5, 200), json_values), 't': json_values,
                                     'o': st.one_of(st.integers(-5, 10 ** 6), json_values)})
    raw = st.one_of(payloads.map(lambda p: json.dumps(p).replace('1' + '0' * 400, '1e400')), fitting.map(json.dumps), st.text(max_size=30))
    encoded = raw.map(lambda text: base64.urlsafe_b64encode(text.encode('utf-8')).decode('ascii').rstrip('='))
    return st.one_of(encoded.map(lambda body: RESUME_TOKEN_PREFIX + body), st.text(max_size=40),
                     st.text(max_size=40).map(lambda text: RESUME_TOKEN_PREFIX + text))


def test_resume_tokens_round_trip_and_junk_is_refused(record):
    key = ListingKey('cn-hangzhou', 'i-hz001', None, 50)
    outcomes = {'refused': 0, 'accepted': 0}
    examples = []

    @SETTINGS
    @given(resume_tokens(), st.text(max_size=20), st.integers(0, 10 ** 6), st.integers(1, 100))
    def check(token, service_token, skip, size):
        examples.append(token)
        try:
            point, page_size = decode_resume_token(token, key)
            assert isinstance(point.service_token, (str, type(None))) and point.skip >= 0 and 1 <= page_size <= 100
            outcomes['accepted'] += 1
        except ValueError as error:
            assert str(error).startswith('it ')
            outcomes['refused'] += 1
        own = ListingKey('cn-hangzhou', 'i-hz001', None, size)
        point, page_size = decode_resume_token(encode_resume_token(own, ResumePoint(service_token or None, skip)), own)
        assert (point.service_token, point.skip, page_size) == (service_token or None, skip, size)

    check()
    record(kind='property', property='Random next_token values decoded; tokens of this module round-trip', examples=len(examples),
           result='%(refused)d refused with ValueError, %(accepted)d accepted; every own token round-tripped' % outcomes)


# --- answers of the service ----------------------------------------------------------------------------------------

def raw_connections():
    known = st.fixed_dictionaries({}, optional={'InstanceId': st.one_of(texts, json_values), 'Status': st.one_of(texts, json_values),
                                                'StartTime': times, 'ClosedReason': st.one_of(texts, json_values)})
    wrapped = st.fixed_dictionaries({'Connection': st.one_of(st.lists(known, max_size=2), known, json_values)})
    return st.one_of(st.lists(known, max_size=2), wrapped, json_values)


def raw_sessions():
    known = st.fixed_dictionaries({'SessionId': st.one_of(st.sampled_from(['s-1', 's-2', 's-3']), json_values)}, optional={
        'CreationTime': st.one_of(times, json_values), 'Username': st.one_of(texts, json_values), 'ClientIP': texts,
        'PrincipalId': st.one_of(texts, st.integers()), 'IdentityType': texts, 'PortNumber': json_scalars,
        'TargetServer': texts, 'Connections': raw_connections(), 'NewField': json_values})
    # a record already in this module's own shape passes normalisation unchanged, so its parts must be checked too
    shaped = st.fixed_dictionaries({'session_id': st.sampled_from(['s-1', 's-4']), 'region_id': st.just('cn-hangzhou'),
                                    'connections': st.lists(json_values, max_size=2), 'instance_ids': st.lists(json_values, max_size=2)},
                                   optional={'creation_time': json_values, 'username': json_values})
    return st.one_of(known, shaped, json_values)


def bodies():
    page = st.fixed_dictionaries({}, optional={
        'RequestId': st.one_of(texts, json_values),
        'NextToken': st.one_of(st.none(), st.sampled_from(['', 'a', 'b', 'c']), json_values),
        'Sessions': st.one_of(st.fixed_dictionaries({'Session': st.one_of(st.lists(raw_sessions(), max_size=4), raw_sessions())}),
                              st.lists(raw_sessions(), max_size=4), json_values),
    })
    return st.one_of(page, json_values)


class ScriptedClient:
    """An RpcClient whose SDK client answers HTTP 200 with the scripted bodies, then an empty last page."""

    def __init__(self, answers):
        self.rpc = sdk.RpcClient({'endpoint': '127.0.0.1:9', 'protocol': 'http'}, CredentialSource('access_key', 'options', 'id', 's'))
        self.answers = list(answers)
        self.calls = 0
        self.rpc._client.call_api = self.call_api  # pylint: disable=protected-access

    def call_api(self, _params, _request, _runtime):
        self.calls += 1
        assert self.calls <= MAX_CALLS, 'the listing does not end'
        body = self.answers.pop(0) if self.answers else {'Sessions': {'Session': []}}
        return {'body': body, 'statusCode': 200, 'headers': {}}


def test_random_answers_give_complete_results_or_clean_errors(record):
    outcomes = {'complete': 0, 'failed': 0}
    examples = []
    policy = RetryPolicy(retries=2, sleep=lambda seconds: None)

    @SETTINGS
    @given(st.lists(bodies(), min_size=1, max_size=4), st.lists(st.sampled_from(['i-hz001', 'i-hz002']), max_size=2, unique=True),
           st.one_of(st.none(), st.integers(1, 5)), st.booleans())
    def check(answers, instance_ids, max_items, keep_going):
        examples.append(answers)
        client = ScriptedClient(answers)
        fetch_page = page_fetcher(lambda region: client.rpc, policy, CallCounter())
        plan = query_plan(['cn-hangzhou'], instance_ids, None, 10)
        try:
            listings, failures = run_plan(plan, fetch_page, Criteria({'username': ['root']}) if max_items == 5 else None,
                                          max_items if len(plan) == 1 else None, None, concurrency=2, keep_going=keep_going)
        except ListingFailure as failure:
            assert isinstance(failure.error, AlicloudError), repr(failure.error)
            assert str(failure.error) and client.calls < MAX_CALLS
            outcomes['failed'] += 1
            return
        for failure in failures:
            assert isinstance(failure.error, AlicloudError), repr(failure.error)
        sessions = merge_listings(listings)
        identities = [(session['region_id'], session['session_id']) for session in sessions]
        assert len(identities) == len(set(identities))
        session_ids_by_instance(sessions, instance_ids or None)
        summary_by_instance(sessions, instance_ids or None)
        json.dumps(sessions)
        outcomes['complete' if not failures else 'failed'] += 1

    check()
    record(kind='property', property='Random answers (any JSON body, page shape or record) through RpcClient.call, '
           'page_fetcher, paginate, normalisation, merge and summaries', examples=len(examples),
           result='%(complete)d complete without duplicates, %(failed)d failed with an AlicloudError; no other exception' % outcomes)
    assert outcomes['complete'] and outcomes['failed']
