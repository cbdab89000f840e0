"""Faults 1-14 of the reliability suite: one ansible-playbook run, one task and one endpoint per case."""

from __future__ import annotations

import math

import pytest

from support.campaign import Campaign, accounting, free_port, keys, module_args, truth, warnings_of
from support.keys import ACCESS_KEY_SECRET

MESSAGE_LIMIT = 800
RATE_LIMIT_IDS = ['i-hz%03d' % number for number in range(1, 21)]
RATE_LIMIT_RETRIES = 10


def cases(argnames, rows):
    """Parametrize over ``rows``, each test named after its case (the first value of its row)."""
    return pytest.mark.parametrize(argnames, rows, ids=[row[0] for row in rows])


def excerpt(text, limit=150):
    text = ' '.join(str(text).split())
    return text if len(text) <= limit else text[:limit] + '...'


@pytest.fixture(scope='module')
def runs(endpoint_factory, campaign_dir):
    """Every case of this file, run once."""
    campaign = Campaign(campaign_dir)

    def case(name, counts=None, faults=None, endpoint_options=None, **args):
        endpoint = endpoint_factory(counts, faults=faults, **(endpoint_options or {}))
        campaign.add(name, module_args(endpoint, **args), endpoint)

    # 1. throttling bursts
    case('throttle-400-throttling-user', faults={'throttle_first': 5})
    case('throttle-429-retry-after', faults={'throttle_first': 3, 'throttle_status': 429, 'throttle_code': 'Throttling',
                                             'throttle_retry_after_ms': 300})
    case('throttle-503-service-unavailable', faults={'unavailable_first': 5})
    # 2. a 30 % 5xx rate over 20 pages
    case('error-rate-30-percent', {'cn-hangzhou': 200}, faults={'error_rate': 0.3, 'error_seed': 7}, max_results=10)
    # 3. connection faults: recovered within the bound, then with the bound exhausted
    case('reset-once', faults={'reset_connection_on_call': 2})
    case('read-timeout-once', faults={'hang_on_call': 2, 'hang_seconds': 3}, read_timeout=1)
    case('reset-every-retry', faults={'reset_connection_on_call': [2, 3, 4, 5]}, retries=2)
    case('read-timeout-every-retry', faults={'hang_on_call': [2, 3], 'hang_seconds': 3}, read_timeout=1, retries=1)
    refused = endpoint_factory({'cn-hangzhou': 1})
    campaign.add('connection-refused', module_args(refused, endpoint='127.0.0.1:%d' % free_port(), retries=2), None)
    # 4. token loops
    case('token-loop-same', faults={'token_loop': 'same'})
    case('token-loop-cycle', faults={'token_loop': 'cycle'})
    # 5. an empty page with a token
    case('empty-page-with-token', faults={'empty_page_with_token': True})
    # 6. malformed bodies, persistent and once
    case('truncated-json', faults={'malformed': 'truncated_json'}, retries=1)
    case('html-502-page', faults={'malformed': 'html_502'}, retries=1)
    case('xml-error-body', faults={'malformed': 'xml_error'}, retries=1)
    case('html-502-once', faults={'malformed': 'html_502', 'malformed_on_call': 2})
    # 7. a concurrent writer: 7 sessions inserted at the head before page 3, 5 expired at the tail before page 5
    case('head-insert-and-tail-expiry', max_results=50, endpoint_options={'before_call': {
        3: lambda endpoint: endpoint.insert_at_head('cn-hangzhou', 7),
        5: lambda endpoint: endpoint.expire_tail('cn-hangzhou', 5)}})
    # 8.-10. clock, permission, keys
    case('clock-skew', endpoint_options={'clock_offset': 3600})
    case('forbidden-ram', faults={'forbidden': True})
    case('wrong-secret', sts=False, access_key_secret='wrong-' + ACCESS_KEY_SECRET)
    case('unknown-access-key-id', sts=False, access_key_id='LTAIunknown00000000000000')
    # 11. TLS
    tls = endpoint_factory({'cn-hangzhou': 30}, tls=True)
    args = module_args(tls)
    del args['ca_bundle']
    campaign.add('tls-without-ca-bundle', args, tls)
    tls = endpoint_factory({'cn-hangzhou': 30}, tls=True)
    campaign.add('tls-with-ca-bundle', module_args(tls), tls)
    tls = endpoint_factory({'cn-hangzhou': 30}, tls=True)
    args = module_args(tls, validate_certs=False)
    del args['ca_bundle']
    campaign.add('tls-validate-certs-false', args, tls)
    # 12. protocol
    plain = endpoint_factory({'cn-hangzhou': 30})
    args = module_args(plain)
    del args['protocol']
    campaign.add('https-default-against-http', args, plain)
    case('http-asked', {'cn-hangzhou': 30}, protocol='http')
    # 13. one region of several failing (cn-beijing answers 503 from its second page on)
    regions = {'cn-hangzhou': 120, 'cn-shanghai': 80, 'cn-beijing': 250}
    failing = {'failing_regions': {'cn-beijing': 2}}
    case('region-fails-task', regions, endpoint_options=failing, region_id=list(regions), retries=2)
    case('region-continue', regions, endpoint_options=failing, region_id=list(regions), retries=2, on_region_error='continue')
    # 14. a rate limit at the endpoint while 20 instance IDs are queried 8 at a time
    case('rate-limit-20-instances', faults={'rate_limit_per_second': 5}, instance_id=RATE_LIMIT_IDS, concurrency=8,
         retries=RATE_LIMIT_RETRIES, retry_delay=0.2, retry_max_delay=2)
    return campaign.run()


def complete_row(record, run, case, fault, expected, outcome=None):
    """Record a case that must return every record of ``expected`` once; returns (lost, duplicated)."""
    stats = run.stats()
    lost, duplicated = accounting(run.result, expected) if not run.failed else (None, None)
    if outcome is None:
        outcome = 'failed: %s' % excerpt(run.msg) if run.failed else 'complete: %d records' % len(keys(run.result))
    record(case=case, fault=fault, outcome=outcome, lost=lost, duplicated=duplicated, api_calls=run.result.get('api_calls'),
           endpoint_calls=stats['calls'], secret_hits=run.secret_hits())
    return lost, duplicated


def failure_row(record, run, case, fault):
    message = run.msg.split('): ', 1)[-1] if run.msg.startswith('Failed to list') else run.msg
    record(case=case, fault=fault, outcome='failed (%s): %s' % (run.result.get('error_code', 'no code'), excerpt(message, 170)),
           lost=None, duplicated=None, api_calls=run.result.get('api_calls'), endpoint_calls=run.stats()['calls'],
           secret_hits=run.secret_hits())


def assert_clean_failure(run):
    """A failed task: a readable message, no traceback in it, and no records presented."""
    assert run.failed, run.result
    assert run.msg and 'Traceback' not in run.msg and len(run.msg) < MESSAGE_LIMIT, run.msg
    for name in ('sessions', 'sessions_by_instance', 'summary_by_instance', 'query_result', 'next_token'):
        assert name not in run.result, name
    assert run.secret_hits() == 0


def assert_complete(run, expected, lost, duplicated):
    assert not run.failed, run.result
    assert (lost, duplicated) == (0, 0)
    assert set(keys(run.result)) == set(expected)
    assert run.secret_hits() == 0


@cases('name, fault, code, injected', [
    ('throttle-400-throttling-user', 'first 5 calls: HTTP 400 Throttling.User', 'Throttling.User', 5),
    ('throttle-429-retry-after', 'first 3 calls: HTTP 429 Throttling, x-acs-retry-after: 300 ms', 'Throttling', 3),
    ('throttle-503-service-unavailable', 'first 5 calls: HTTP 503 ServiceUnavailable', 'ServiceUnavailable', 5),
])
def test_throttling_bursts_are_retried_and_counted(runs, record, name, fault, code, injected):
    run = runs[name]
    expected = truth(run.endpoint)
    stats = run.stats()
    # the waits before each retry, as the endpoint saw them (retry_delay is 0.01 s)
    waits = [later['time'] - earlier['time'] for earlier, later in zip(stats['requests'], stats['requests'][1:injected + 1])]
    lost, duplicated = complete_row(record, run, 'Throttling burst (%s)' % code, fault, expected,
                                    'complete after %d retries, waits %.2f-%.2f s' % (injected, min(waits), max(waits)))
    assert_complete(run, expected, lost, duplicated)
    pages = math.ceil(len(expected) / 100)
    assert stats['by_code'] == {code: injected}
    assert run.result['api_calls'] == stats['calls'] == pages + injected
    assert len(run.result['request_ids']) == pages
    if 'retry-after' in name:
        # only the service's x-acs-retry-after (300 ms) explains waits this long
        assert min(waits) >= 0.3, waits


def test_a_30_percent_5xx_rate_over_20_pages(runs, record):
    run = runs['error-rate-30-percent']
    expected = truth(run.endpoint)
    stats = run.stats()
    injected = sum(stats['faults_injected'].values())
    lost, duplicated = complete_row(record, run, '30 % server errors over a 20-page listing',
                                    'error_rate 0.3: InternalError / ServiceUnavailable (HTTP 500/503)', expected,
                                    'complete after %d retries' % injected)
    assert_complete(run, expected, lost, duplicated)
    assert injected >= 4 and set(stats['by_code']) <= {'InternalError', 'ServiceUnavailable'}
    assert run.result['api_calls'] == stats['calls'] == 20 + injected


@cases('name, fault', [
    ('reset-once', 'connection reset (RST, no answer) on call 2'),
    ('read-timeout-once', 'no answer on call 2 (read_timeout: 1)'),
])
def test_a_broken_connection_is_retried(runs, record, name, fault):
    run = runs[name]
    expected = truth(run.endpoint)
    lost, duplicated = complete_row(record, run, 'Connection fault mid-listing, once', fault, expected, 'complete after 1 retry')
    assert_complete(run, expected, lost, duplicated)
    assert run.result['api_calls'] == run.stats()['calls'] == 3 + 1


@cases('name, fault, retries, text', [
    ('reset-every-retry', 'connection reset on calls 2-5 (retries: 2)', 2, 'Could not complete the request'),
    ('read-timeout-every-retry', 'no answer on calls 2-3 (read_timeout: 1, retries: 1)', 1, 'timed out'),
    ('connection-refused', 'nothing listening on the port (retries: 2)', 2, 'Connection refused'),
])
def test_connection_faults_fail_clearly_when_retries_run_out(runs, record, name, fault, retries, text):
    run = runs[name]
    failure_row(record, run, 'Connection fault, retries exhausted', fault)
    assert_clean_failure(run)
    assert text in run.msg and 'attempts: %d' % (retries + 1) in run.msg
    assert run.result['error_code'] == 'ConnectionError'
    first_page = 0 if name == 'connection-refused' else 1
    assert run.result['api_calls'] == first_page + retries + 1
    assert run.stats()['calls'] == (0 if name == 'connection-refused' else run.result['api_calls'])


@cases('name, fault, tokens', [
    ('token-loop-same', 'the service returns the token it was sent', 1),
    ('token-loop-cycle', 'the service cycles tokens a -> b -> a', 2),
])
def test_a_token_loop_stops_after_at_most_one_extra_call(runs, record, name, fault, tokens):
    run = runs[name]
    failure_row(record, run, 'Token loop', fault)
    assert_clean_failure(run)
    assert run.result['error_code'] == 'TokenLoop' and 'already returned' in run.msg
    sent = [request['query'].get('NextToken') for request in run.stats()['requests']]
    assert len(sent) == len(set(sent)), 'a token was sent twice'
    # one call per distinct token the service gave (plus the first call), and not one more
    assert run.result['api_calls'] == run.stats()['calls'] == tokens + 1


def test_an_empty_page_with_a_token_is_not_the_end(runs, record):
    run = runs['empty-page-with-token']
    expected = truth(run.endpoint)
    lost, duplicated = complete_row(record, run, 'Empty page with a token', 'first page: no records, a NextToken', expected)
    assert_complete(run, expected, lost, duplicated)
    assert run.result['api_calls'] == run.stats()['calls'] == 1 + 3


@cases('name, fault, status, content_type', [
    ('truncated-json', 'HTTP 200 with the JSON body cut in half, every call', 200, 'application/json'),
    ('html-502-page', 'HTTP 502 with an HTML page (a proxy), every call', 502, 'text/html'),
    ('xml-error-body', 'HTTP 500 with an XML error body, every call', 500, None),
])
def test_malformed_bodies_fail_clearly(runs, record, name, fault, status, content_type):
    run = runs[name]
    failure_row(record, run, 'Malformed body', fault)
    assert_clean_failure(run)
    assert run.result['http_status'] == status and 'HTTP status: %d' % status in run.msg
    assert run.result['api_calls'] == run.stats()['calls'] == 2
    if content_type:
        assert 'not valid JSON' in run.msg and content_type in run.msg
    if name == 'truncated-json':
        assert 'characters cut' in run.msg


def test_a_malformed_page_once_is_retried(runs, record):
    run = runs['html-502-once']
    expected = truth(run.endpoint)
    lost, duplicated = complete_row(record, run, 'Malformed body once', 'HTTP 502 HTML page on call 2', expected, 'complete after 1 retry')
    assert_complete(run, expected, lost, duplicated)
    assert run.result['api_calls'] == run.stats()['calls'] == 3 + 1


def test_a_concurrent_writer_causes_no_duplicate_and_loses_nothing_stable(runs, record):
    run = runs['head-insert-and-tail-expiry']
    endpoint = run.endpoint
    initial = truth(endpoint)
    stable = initial - set(('cn-hangzhou', sid) for sid in endpoint.expired)
    served = [sid for page in endpoint.served for sid in page]
    repeats = len(served) - len(set(served))
    lost, duplicated = complete_row(
        record, run, 'Sessions inserted at the head while paging', '7 inserted at the head before page 3, 5 expired at the tail '
        'before page 5 (50 per page)', stable, 'complete: the service served %d records twice, none returned twice' % repeats)
    assert not run.failed, run.result
    assert (lost, duplicated) == (0, 0)
    assert len(endpoint.added) == 7 and len(endpoint.expired) == 5
    assert repeats == 7
    assert set(keys(run.result)) <= initial | set(('cn-hangzhou', sid) for sid in endpoint.added)
    assert run.result['api_calls'] == run.stats()['calls'] == 6
    assert run.secret_hits() == 0


def test_clock_skew_tells_the_user_to_check_the_clock(runs, record):
    run = runs['clock-skew']
    failure_row(record, run, 'Clock skew', 'the service clock runs 1 h ahead: InvalidTimeStamp.Expired')
    assert_clean_failure(run)
    assert run.result['error_code'] == 'InvalidTimeStamp.Expired'
    assert "check this host's clock" in run.msg
    assert run.result['api_calls'] == 1


def test_forbidden_names_the_permission_and_shows_the_detail(runs, record):
    run = runs['forbidden-ram']
    failure_row(record, run, 'Forbidden.RAM', 'HTTP 403 Forbidden.RAM with AccessDeniedDetail')
    assert_clean_failure(run)
    assert run.result['error_code'] == 'Forbidden.RAM' and run.result['http_status'] == 403
    assert 'ecs:DescribeTerminalSessions' in run.msg
    assert 'Access denied detail' in run.msg and 'NoPermissionType=ImplicitDeny' in run.msg
    assert run.result['access_denied_detail']['AuthAction'] == 'ecs:DescribeTerminalSessions'
    assert run.result['api_calls'] == 1


@cases('name, fault, code, hint', [
    ('wrong-secret', 'a wrong access key secret', 'SignatureDoesNotMatch', 'check access_key_secret'),
    ('unknown-access-key-id', 'an unknown access key ID', 'InvalidAccessKeyId.NotFound', 'check access_key_id'),
])
def test_wrong_keys_fail_with_a_clear_message(runs, record, name, fault, code, hint):
    run = runs[name]
    failure_row(record, run, 'Wrong keys (%s)' % code, fault)
    assert_clean_failure(run)
    assert run.result['error_code'] == code and hint in run.msg
    assert run.result['api_calls'] == run.stats()['calls'] == 1


def test_tls_verification_is_on_by_default(runs, record):
    run = runs['tls-without-ca-bundle']
    failure_row(record, run, 'TLS, self-signed endpoint, no ca_bundle', 'certificate of a private CA')
    assert_clean_failure(run)
    assert run.result['error_code'] == 'CertificateVerifyFailed' and 'ca_bundle' in run.msg
    assert run.result['api_calls'] == 1 and run.stats()['calls'] == 0


@cases('name, case, warned', [
    ('tls-with-ca-bundle', 'TLS with ca_bundle', False),
    ('tls-validate-certs-false', 'TLS with validate_certs: false', True),
])
def test_tls_with_a_ca_bundle_or_without_verification(runs, record, name, case, warned):
    run = runs[name]
    expected = truth(run.endpoint)
    lost, duplicated = complete_row(record, run, case, 'certificate of a private CA', expected,
                                    'complete, with a warning' if warned else 'complete, no warning')
    assert_complete(run, expected, lost, duplicated)
    warnings = warnings_of(run.result)
    assert any('validate_certs is false' in warning for warning in warnings) == warned
    assert not any('clear text' in warning for warning in warnings)


def test_https_is_never_downgraded(runs, record):
    run = runs['https-default-against-http']
    failure_row(record, run, 'Default protocol against a plain-http endpoint', 'the endpoint does not speak TLS')
    assert_clean_failure(run)
    assert run.stats()['calls'] == 0 and run.result['api_calls'] == 1
    assert 'certificate verification failed' not in run.msg and 'protocol' in run.msg


def test_http_only_when_asked_and_with_a_warning(runs, record):
    run = runs['http-asked']
    expected = truth(run.endpoint)
    lost, duplicated = complete_row(record, run, 'protocol: http', 'plain http asked for', expected, 'complete, with a warning')
    assert_complete(run, expected, lost, duplicated)
    assert any('clear text' in warning and 'signatures' in warning for warning in warnings_of(run.result))


def test_a_failing_region_fails_the_task_by_default(runs, record):
    run = runs['region-fails-task']
    failure_row(record, run, 'One region of three failing', 'cn-beijing: HTTP 503 from its 2nd page on (retries: 2)')
    assert_clean_failure(run)
    assert run.result['region_id'] == 'cn-beijing' and 'region cn-beijing' in run.msg
    assert run.result['error_code'] == 'ServiceUnavailable'


def test_on_region_error_continue_finishes_the_audit(runs, record):
    run = runs['region-continue']
    expected = truth(run.endpoint, 'cn-hangzhou') | truth(run.endpoint, 'cn-shanghai')
    lost, duplicated = complete_row(record, run, 'One region of three failing, on_region_error: continue',
                                    'cn-beijing: HTTP 503 from its 2nd page on (retries: 2)', expected,
                                    'complete for 2 regions; cn-beijing in failed_regions, none of its records returned')
    assert_complete(run, expected, lost, duplicated)
    assert [entry['region_id'] for entry in run.result['failed_regions']] == ['cn-beijing']
    assert run.result['failed_regions'][0]['error_code'] == 'ServiceUnavailable'
    assert not any(region == 'cn-beijing' for region, _sid in keys(run.result))
    assert any('cn-beijing' in warning for warning in warnings_of(run.result))
    assert run.result['api_calls'] == run.stats()['calls']


def test_a_rate_limit_is_absorbed_by_backing_off(runs, record):
    run = runs['rate-limit-20-instances']
    endpoint = run.endpoint
    expected = set()
    for instance_id in RATE_LIMIT_IDS:
        expected |= truth(endpoint, instance_id=instance_id)
    stats = run.stats()
    throttled = stats['by_code'].get('Throttling.User', 0)
    attempts = {}
    for request in stats['requests']:
        attempts[request['query'].get('InstanceId')] = attempts.get(request['query'].get('InstanceId'), 0) + 1
    lost, duplicated = complete_row(record, run, 'Rate limit, 20 instance IDs, concurrency 8',
                                    'token bucket of 5 calls/s at the endpoint (Throttling.User)', expected,
                                    'complete: %d calls throttled, at most %d attempts for one query (retries: %d)'
                                    % (throttled, max(attempts.values()), RATE_LIMIT_RETRIES))
    assert_complete(run, expected, lost, duplicated)
    assert throttled > 0
    assert max(attempts.values()) <= RATE_LIMIT_RETRIES, attempts
    assert sorted(attempts) == sorted(RATE_LIMIT_IDS)
    assert run.result['api_calls'] == stats['calls'] == len(RATE_LIMIT_IDS) + throttled
    for instance_id in RATE_LIMIT_IDS:
        wanted = sorted(sid for _region, sid in truth(endpoint, instance_id=instance_id))
        assert sorted(run.result['sessions_by_instance'][instance_id]) == wanted
