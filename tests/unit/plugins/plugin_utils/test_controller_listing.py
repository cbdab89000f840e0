from __future__ import annotations

import os

import pytest

from ecs_endpoint.data import make_sessions
from ecs_endpoint.server import EcsEndpoint

from ansible_collections.alicloud.ecs.plugins.plugin_utils.controller_listing import (
    ControllerError, connect, criteria_from_filters, listing_source, option_names, sdk_debug_set_aside, sessions_of_instances,
    sessions_of_regions)

KEY_ID, SECRET = 'LTAIunitkey0000000000001', 'unit-secret-value-do-not-leak'


@pytest.fixture(scope='module')
def endpoint():
    regions = {'cn-hangzhou': make_sessions('cn-hangzhou', 120, seed=3)}
    with EcsEndpoint(regions, credentials={KEY_ID: {'secret': SECRET, 'security_token': None}}) as server:
        server.seed_data = regions
        yield server


def options(endpoint, **extra):
    found = dict(region_id='cn-hangzhou', endpoint=endpoint.endpoint, protocol='http', access_key_id=KEY_ID,
                 access_key_secret=SECRET, retry_delay=0.01, retry_max_delay=0.02)
    found.update(extra)
    return found


def reached(raw, instance_id):
    conns = (raw.get('Connections') or {}).get('Connection', [])
    return instance_id in raw.get('_targets', ()) or any(c['InstanceId'] == instance_id for c in conns)


def test_lists_the_sessions_of_the_instances_through_the_module_code(endpoint):
    raw = endpoint.seed_data['cn-hangzhou']
    instances = sorted({t for s in raw for t in s['_targets']})[:2]
    sessions = sessions_of_instances(connect(options(endpoint, max_results=7)), instances)
    expected = {s['SessionId'] for s in raw if any(reached(s, i) for i in instances)}
    assert {s['session_id'] for s in sessions} == expected
    assert len(sessions) == len(expected)


def test_no_instance_means_no_call(endpoint):
    endpoint.reset_stats()
    assert sessions_of_instances(connect(options(endpoint)), []) == []
    assert endpoint.stats()['calls'] == 0


@pytest.mark.parametrize('extra, text', [
    ({'max_results': 0}, 'max_results must be between 1 and 100'),
    ({'retries': 'many'}, 'retries'),
    ({'region_id': 'Hangzhou'}, 'region_id'),
    ({'access_key_secret': None}, 'access_key_secret is missing'),
])
def test_bad_options_are_named_before_any_call(endpoint, extra, text):
    endpoint.reset_stats()
    with pytest.raises(ControllerError, match=text):
        sessions_of_instances(connect(options(endpoint, **extra)), ['i-1'])
    assert endpoint.stats()['calls'] == 0


def test_service_errors_carry_the_module_message_and_no_secret(endpoint):
    with pytest.raises(ControllerError) as raised:
        sessions_of_instances(connect(options(endpoint, access_key_secret='wrong-' + SECRET)), ['i-1'])
    message = str(raised.value)
    assert 'SignatureDoesNotMatch' in message and 'request ID' in message
    assert SECRET not in message


def test_debug_sdk_is_set_aside_and_restored():
    environ = {'DEBUG': 'sdk'}
    with sdk_debug_set_aside(environ):
        assert 'DEBUG' not in environ
    assert environ == {'DEBUG': 'sdk'}
    with sdk_debug_set_aside(os.environ):
        pass


def test_option_names_include_aliases():
    assert {'region', 'alicloud_region', 'secret_key', 'endpoint', 'concurrency'} <= option_names()
    assert option_names(aliases=False)['region_id'] == ('region', 'alicloud_region')
    assert 'region' not in option_names(aliases=False)


def test_a_region_listing_reads_every_page_of_the_region_without_instance_filter(endpoint):
    endpoint.reset_stats()
    listed = sessions_of_regions(connect(options(endpoint, max_results=50)))
    raw = endpoint.seed_data['cn-hangzhou']
    assert sorted(s['session_id'] for s in listed.sessions) == sorted(s['SessionId'] for s in raw)
    assert listed.api_calls == endpoint.stats()['calls'] == 3
    assert not any('InstanceId' in request['query'] for request in endpoint.stats()['requests'])
    # A region listing knows instances only through connections.
    for session in listed.sessions:
        raw_session = next(s for s in raw if s['SessionId'] == session['session_id'])
        assert session['instance_ids'] == sorted({c['InstanceId'] for c in raw_session['Connections']['Connection']})


def test_listing_source_tells_listings_apart_and_holds_no_secret(endpoint):
    base = listing_source(connect(options(endpoint)))
    assert SECRET not in repr(base)
    assert listing_source(connect(options(endpoint))) == base
    assert listing_source(connect(options(endpoint, region_id=['cn-hangzhou', 'cn-shanghai']))) != base
    assert listing_source(connect(options(endpoint, access_key_id='LTAIother0000000000002'))) != base


@pytest.mark.parametrize('filters, text', [
    ('root', 'filters: expected a dictionary'),
    ({'status': ['Conected']}, 'filters.status: unknown value conected'),
    ({'active': 'maybe'}, 'active'),
    ({'colour': 'blue'}, 'colour'),
])
def test_bad_filters_are_named(filters, text):
    with pytest.raises(ControllerError, match=text):
        criteria_from_filters(filters)


def test_filters_become_the_modules_criteria():
    assert criteria_from_filters(None) is None
    criteria = criteria_from_filters({'username': 'ROOT', 'active': 'no'})
    assert criteria.match({'username': 'root', 'connections': [{'status': 'Terminated'}]})
    assert not criteria.match({'username': 'root', 'connections': [{'status': 'Connected'}]})


def test_an_empty_region_variable_does_not_hide_the_next_one(endpoint, monkeypatch):
    monkeypatch.setenv('ALIBABA_CLOUD_REGION_ID', '')
    monkeypatch.setenv('ALICLOUD_REGION', 'cn-shanghai,cn-hangzhou')
    given = options(endpoint)
    del given['region_id']
    assert connect(given).region_ids == ['cn-shanghai', 'cn-hangzhou']
