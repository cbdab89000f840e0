"""ecs_terminal_session_info through ansible-playbook against the local ECS endpoint."""

from __future__ import annotations

import math

import pytest

from support.endpoints import targets
from support.keys import ACCESS_KEY_SECRET, SECRETS, STS_KEY_ID, STS_SECRET, STS_TOKEN
from support.playbooks import connection


def session_keys(result):
    return [(s['region_id'], s['session_id']) for s in result['sessions']]


def truth(endpoint, region='cn-hangzhou', instance_id=None):
    return [(region, s['SessionId']) for s in endpoint.seed_data[region] if instance_id is None or instance_id in targets(s)]


@pytest.mark.parametrize('count', [0, 1, 100, 101, 250])
def test_every_record_once_with_the_fewest_calls(runner, endpoint_factory, count):
    endpoint = endpoint_factory({'cn-hangzhou': count})
    result = runner.run_module(connection(endpoint)).result
    assert not result.get('failed'), result
    assert result['changed'] is False
    assert sorted(session_keys(result)) == sorted(truth(endpoint))
    assert len(set(session_keys(result))) == count
    minimum = max(1, math.ceil(count / 100))
    assert result['api_calls'] == endpoint.stats()['calls'] == minimum
    assert len(result['request_ids']) == minimum
    times = [s['creation_time'] for s in result['sessions']]
    assert times == sorted(times, reverse=True)


def test_regions_and_instances_are_queried_concurrently(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 150, 'cn-shanghai': 120, 'cn-beijing': 30}, latency_ms=150)
    result = runner.run_module(connection(endpoint, region_id=['cn-hangzhou', 'cn-shanghai', 'cn-beijing'])).result
    assert not result.get('failed'), result
    expected = truth(endpoint, 'cn-hangzhou') + truth(endpoint, 'cn-shanghai') + truth(endpoint, 'cn-beijing')
    assert sorted(session_keys(result)) == sorted(expected)
    assert endpoint.stats()['max_concurrency'] >= 2
    assert result['api_calls'] == 2 + 2 + 1

    endpoint.reset_stats()
    instance_ids = sorted(set().union(*(targets(s) for s in endpoint.seed_data['cn-hangzhou'])))[:3] + ['i-unknown']
    result = runner.run_module(connection(endpoint, instance_id=instance_ids)).result
    assert not result.get('failed'), result
    assert endpoint.stats()['max_concurrency'] >= 2
    assert sorted(result['sessions_by_instance']) == sorted(instance_ids)
    assert result['sessions_by_instance']['i-unknown'] == []
    for instance_id in instance_ids:
        expected_ids = [sid for _region, sid in truth(endpoint, 'cn-hangzhou', instance_id)]
        assert sorted(result['sessions_by_instance'][instance_id]) == sorted(expected_ids)
        assert result['summary_by_instance'][instance_id]['session_count'] == len(expected_ids)
    union = set()
    for instance_id in instance_ids:
        union.update(truth(endpoint, 'cn-hangzhou', instance_id))
    assert sorted(session_keys(result)) == sorted(union)


def test_max_items_and_next_token_resume_without_loss_or_repeat(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 120})
    collected, token, runs = [], None, 0
    while True:
        args = connection(endpoint, max_items=50, max_results=40)
        if token:
            args['next_token'] = token
        result = runner.run_module(args).result
        assert not result.get('failed'), result
        collected.extend(session_keys(result))
        runs += 1
        token = result.get('next_token')
        if not token:
            break
    assert runs == 3
    assert collected == truth(endpoint)
    # 120 records at 40 a page are 3 pages; each cut (at 50 and 100) falls inside a page, read again on resume.
    assert endpoint.stats()['calls'] == 3 + 2


@pytest.mark.parametrize('faults, code', [
    ({'throttle_first': 5}, 'Throttling.User'),
    ({'throttle_first': 3, 'throttle_status': 429, 'throttle_code': 'Throttling', 'throttle_retry_after_ms': 200}, 'Throttling'),
    ({'unavailable_first': 3}, 'ServiceUnavailable'),
    ({'error_rate': 0.3, 'error_seed': 7}, None),
])
def test_throttling_and_server_errors_are_retried_page_by_page(runner, endpoint_factory, faults, code):
    endpoint = endpoint_factory({'cn-hangzhou': 1000}, **faults)
    result = runner.run_module(connection(endpoint)).result
    assert not result.get('failed'), result
    assert sorted(session_keys(result)) == sorted(truth(endpoint))
    stats = endpoint.stats()
    assert result['api_calls'] == stats['calls'] == 10 + sum(stats['by_code'].values())
    assert sum(stats['by_code'].values()) >= 3
    if code:
        assert stats['by_code'][code] == faults.get('throttle_first', faults.get('unavailable_first'))


@pytest.mark.parametrize('loop', ['same', 'cycle'])
def test_a_token_loop_fails_cleanly(runner, endpoint_factory, loop):
    endpoint = endpoint_factory({'cn-hangzhou': 500}, token_loop=loop)
    result = runner.run_module(connection(endpoint)).result
    assert result['failed']
    assert 'already returned' in result['msg'] and 'region cn-hangzhou' in result['msg']
    assert 'sessions' not in result
    assert endpoint.stats()['calls'] <= 3


@pytest.mark.parametrize('kind, status, text', [
    ('html_502', 502, 'not valid JSON'),
    ('truncated_json', 200, 'not valid JSON'),
    ('xml_error', None, 'error code'),
])
def test_malformed_bodies_fail_cleanly(runner, endpoint_factory, kind, status, text):
    endpoint = endpoint_factory({'cn-hangzhou': 10}, malformed=kind)
    result = runner.run_module(connection(endpoint, retries=2)).result
    assert result['failed']
    assert text in result['msg']
    assert 'Traceback' not in result['msg']
    assert len(result['msg']) < 800
    if status:
        assert result['http_status'] == status
        assert 'HTTP %d' % status in result['msg']


def test_a_bad_region_is_named(runner, endpoint_factory):
    endpoint = endpoint_factory()
    result = runner.run_module(connection(endpoint, region_id='cn-atlantis')).result
    assert result['failed']
    assert result['error_code'] == 'InvalidRegionId.NotFound' and result['http_status'] == 404
    assert result['request_id'] and 'cn-atlantis' in result['msg'] and 'check region_id' in result['msg']


@pytest.mark.parametrize('overrides, code', [
    ({'access_key_secret': 'wrong-secret-value'}, 'SignatureDoesNotMatch'),
    ({'access_key_id': 'LTAIunknown00000000000000'}, 'InvalidAccessKeyId.NotFound'),
])
def test_bad_keys_fail_with_a_clear_message(runner, endpoint_factory, overrides, code):
    endpoint = endpoint_factory()
    result = runner.run_module(connection(endpoint, **overrides)).result
    assert result['failed'] and result['error_code'] == code
    assert 'check access_key' in result['msg']
    assert endpoint.stats()['calls'] == 1


@pytest.mark.parametrize('overrides, text', [
    ({'max_results': 0}, 'max_results must be between 1 and 100, got 0'),
    ({'max_results': 101}, 'max_results must be between 1 and 100, got 101'),
    ({'region_id': ['cn-hangzhou', 'cn-shanghai'], 'max_items': 5}, 'max_items and next_token need a single query'),
    ({'next_token': 'AAAAAdDWBF2'}, 'next_token cannot be used'),
    ({'filters': {'created_after': 'last tuesday'}}, 'filters.created_after'),
    # not a dict: named by ansible-core's plain dict check, the sub-options being checked by the module wrapper afterwards
    # (ansible-core checking them itself fails with a traceback)
    ({'filters': True}, "argument 'filters'"),
    ({'query': '[?'}, 'query:'),
])
def test_bad_options_fail_before_any_call(runner, endpoint_factory, overrides, text):
    endpoint = endpoint_factory()
    result = runner.run_module(connection(endpoint, **overrides)).result
    assert result['failed'] and text in result['msg']
    assert endpoint.stats()['calls'] == 0


def test_an_endpoint_with_a_scheme_is_refused(runner, endpoint_factory):
    endpoint = endpoint_factory()
    result = runner.run_module(dict(connection(endpoint), endpoint='https://' + endpoint.endpoint)).result
    assert result['failed'] and 'without a scheme' in result['msg']
    assert endpoint.stats()['calls'] == 0


def test_sts_credentials_over_https_with_a_ca_bundle(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 30}, tls=True)
    args = connection(endpoint, access_key_id=STS_KEY_ID, access_key_secret=STS_SECRET, security_token=STS_TOKEN)
    assert args['protocol'] == 'https' and args['ca_bundle']
    result = runner.run_module(args).result
    assert not result.get('failed'), result
    assert len(result['sessions']) == 30
    request = endpoint.stats()['requests'][0]
    headers = dict((k.lower(), v) for k, v in request['headers'].items())
    assert headers['x-acs-security-token'] == STS_TOKEN and headers['x-acs-accesskey-id'] == STS_KEY_ID


def test_https_without_the_ca_bundle_is_refused(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 3}, tls=True)
    args = connection(endpoint)
    del args['ca_bundle']
    result = runner.run_module(args).result
    assert result['failed'] and 'certificate verification failed' in result['msg']


def test_credentials_from_the_environment_and_module_defaults(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 12})
    args = connection(endpoint)
    env = {'ALICLOUD_ACCESS_KEY': args.pop('access_key_id'), 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': args.pop('access_key_secret'),
           'ALICLOUD_REGION': args.pop('region_id')}
    result = runner.run_module(args, env=env).result
    assert not result.get('failed'), result
    assert len(result['sessions']) == 12


def test_check_mode_returns_data(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 40})
    result = runner.run_module(connection(endpoint, filters={'username': ['root']}, query='[].session_id'), check=True).result
    assert not result.get('failed'), result
    expected = [s['SessionId'] for s in endpoint.seed_data['cn-hangzhou'] if s.get('Username') == 'root']
    assert expected and sorted(result['query_result']) == sorted(expected)
    assert all(s['username'] == 'root' for s in result['sessions'])


def test_no_secret_in_any_output_at_high_verbosity(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    runs = [
        runner.run_module(connection(endpoint), verbosity=4),
        runner.run_module(connection(endpoint, access_key_id=STS_KEY_ID, access_key_secret=STS_SECRET,
                                     security_token=STS_TOKEN), verbosity=4),
        runner.run_module(connection(endpoint, access_key_secret='wrong-' + ACCESS_KEY_SECRET), verbosity=4),
        runner.run_module(connection(endpoint, max_results=0, security_token=STS_TOKEN), verbosity=4),
    ]
    assert not runs[0].result.get('failed') and runs[2].result['failed'] and runs[3].result['failed']
    for run in runs:
        for secret in SECRETS:
            assert secret not in run.output
    log = repr(endpoint.stats()['requests'])
    assert ACCESS_KEY_SECRET not in log and STS_SECRET not in log


def test_validate_certs_false_works_and_warns(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 4}, tls=True)
    args = connection(endpoint, validate_certs=False)
    del args['ca_bundle']
    run = runner.run_module(args)
    assert not run.result.get('failed'), run.result
    assert len(run.result['sessions']) == 4
    assert any('validate_certs is false' in warning for warning in run.result['warnings'])


def test_one_failing_region_fails_the_task_or_is_reported(runner, endpoint_factory):
    endpoint = endpoint_factory({'cn-hangzhou': 30, 'cn-shanghai': 20})
    regions = ['cn-hangzhou', 'cn-shanghai', 'cn-atlantis']
    result = runner.run_module(connection(endpoint, region_id=regions)).result
    assert result['failed'] and result['region_id'] == 'cn-atlantis' and 'region cn-atlantis' in result['msg']

    run = runner.run_module(connection(endpoint, region_id=regions, on_region_error='continue'))
    result = run.result
    assert not result.get('failed'), result
    assert sorted(session_keys(result)) == sorted(truth(endpoint, 'cn-hangzhou') + truth(endpoint, 'cn-shanghai'))
    assert [entry['region_id'] for entry in result['failed_regions']] == ['cn-atlantis']
    assert result['failed_regions'][0]['error_code'] == 'InvalidRegionId.NotFound'
    assert any('cn-atlantis' in warning for warning in result['warnings'])
