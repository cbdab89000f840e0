"""Issue 13 item 9: unbounded work. ``max_pages`` stops a service that hands out a fresh NextToken for ever;
``listing_timeout`` stops a body trickled a byte a second (which ``read_timeout``, a bound on each socket read,
never stops) by shutting its socket down from the waiting thread, and the worker threads are joined.

No timing assertion: a listing that was not cut off would keep its module process (or the play's worker) alive until
the endpoint gives up trickling (``TRICKLE_BOUND`` seconds); the runs' own time limits are far beyond the bounds
tested, and what is checked is that the run ended, with the bound named, no partial result, and - from the endpoint's
side - that the client went away before the trickle ended.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ecs_endpoint.data import default_instance_ids
from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, secret_hits
from support.multi_task import run_tasks
from support.playbooks import connection

# The endpoint stops trickling by itself after this many seconds: far beyond every listing_timeout below, far below
# the runs' time limits (300 s), so a listing that is not cut off makes the run outlive this bound.
TRICKLE_BOUND = 120
TIMEOUT = 3
INFO = 'alicloud.ecs.ecs_terminal_session_info'


def pages_past(result, bound):
    """1 when a run made more calls than its page bound allows, else 0."""
    return int((result or {}).get('api_calls', 0) > bound)


def partial(result):
    """1 when a failed listing still presents sessions, else 0."""
    return int(bool((result or {}).get('sessions')) and bool((result or {}).get('failed')))


def test_max_pages_stops_a_service_that_hands_out_tokens_for_ever(runner, endpoint_factory, security_record, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 5, 'cn-shanghai': 5}, endless_tokens=True, only_regions=['cn-hangzhou'])
    instance = sorted(set(i for s in endpoint.seed_data['cn-hangzhou'] for i in s.get('_targets', ())))[0]
    archive = tmp_path / 'archive.jsonl'
    cases = {
        'info, max_pages 4': {INFO: connection(endpoint, max_pages=4)},
        'info, two regions, on_region_error continue': {INFO: connection(
            endpoint, region_id=['cn-hangzhou', 'cn-shanghai'], on_region_error='continue', max_pages=4)},
        'ecs_terminal_session, max_pages 3': {'alicloud.ecs.ecs_terminal_session': connection(
            endpoint, instance_id=instance, max_pages=3)},
        'ecs_terminal_session_archive, max_pages 3': {'alicloud.ecs.ecs_terminal_session_archive': connection(
            endpoint, path=str(archive), max_pages=3)},
        'info, default max_pages': {INFO: connection(endpoint)},
    }
    run = run_tasks(runner, cases)
    results = run.results
    bounds = {'info, max_pages 4': 4, 'info, two regions, on_region_error continue': 5,
              'ecs_terminal_session, max_pages 3': 3, 'ecs_terminal_session_archive, max_pages 3': 3,
              'info, default max_pages': 1000}
    for case, bound in bounds.items():
        security_record('bounds', 'endless NextToken: %s' % case, 'pages read <= %d, no partial result' % bound,
                        pages_past(results[case], bound) + partial(results[case]))
    for case in ('info, max_pages 4', 'ecs_terminal_session, max_pages 3', 'ecs_terminal_session_archive, max_pages 3',
                 'info, default max_pages'):
        result = results[case]
        assert result['failed'] is True and result['error_code'] == 'MaxPagesExceeded', result
        assert result['api_calls'] == bounds[case] and 'region cn-hangzhou' in result['msg']
        assert 'read max_pages (%d pages of up to 100 records)' % bounds[case] in result['msg']
        assert 'no records are returned' in result['msg'] and 'sessions' not in result
    assert results['ecs_terminal_session, max_pages 3']['ended'] == [] and endpoint.stats()['end_calls'] == 0
    assert not archive.exists()
    kept = results['info, two regions, on_region_error continue']
    assert kept.get('failed') is not True, kept
    assert [entry['region_id'] for entry in kept['failed_regions']] == ['cn-hangzhou']
    assert 'max_pages (4 pages' in kept['failed_regions'][0]['msg']
    assert sorted(s['session_id'] for s in kept['sessions']) == sorted(s['SessionId'] for s in endpoint.seed_data['cn-shanghai'])
    assert kept['api_calls'] == 5
    assert endpoint.stats()['calls'] == sum(bounds.values())
    assert secret_hits(run.output) == 0


def test_listing_timeout_cuts_off_a_trickling_body(runner, endpoint_factory, security_record):
    endpoint = endpoint_factory({'cn-hangzhou': 5, 'cn-shanghai': 5}, tls=True, trickle_bytes_per_second=1,
                                trickle_max_seconds=TRICKLE_BOUND, only_regions=['cn-hangzhou'])
    cases = {
        'info': {INFO: connection(endpoint, listing_timeout=TIMEOUT)},
        # One query at a time, cn-shanghai first: with one endpoint for both regions (the endpoint option), the first
        # call to it is made alone (see RpcClient.call), so a trickled first call would hold cn-shanghai back too.
        'info, two regions, on_region_error continue': {INFO: connection(
            endpoint, region_id=['cn-shanghai', 'cn-hangzhou'], on_region_error='continue', listing_timeout=TIMEOUT,
            concurrency=1)},
    }
    run = run_tasks(runner, cases)
    trickles = endpoint.wait_for_trickles(TRICKLE_BOUND + 30)
    cut = [t for t in trickles if t['outcome'] == 'client_closed' and t['sent'] < t['length']]
    for case, result in run.results.items():
        security_record('bounds', 'body trickled at 1 byte/s, listing_timeout %d s: %s' % (TIMEOUT, case),
                        'the run ends with the trickle cut off by the client, no partial result',
                        int(len(cut) < len(trickles)) + partial(result))
    failed = run.results['info']
    assert failed['failed'] is True and failed['error_code'] == 'ListingTimeout', failed
    assert 'did not finish within listing_timeout (%d seconds): region cn-hangzhou, 0 pages read' % TIMEOUT in failed['msg']
    assert 'sessions' not in failed and failed['api_calls'] == 1
    kept = run.results['info, two regions, on_region_error continue']
    assert kept.get('failed') is not True and [r['region_id'] for r in kept['failed_regions']] == ['cn-hangzhou']
    assert 'listing_timeout' in kept['failed_regions'][0]['msg']
    assert sorted(s['session_id'] for s in kept['sessions']) == sorted(s['SessionId'] for s in endpoint.seed_data['cn-shanghai'])
    # Both trickles were cut by the module (its sockets shut down) long before the endpoint would have given up.
    assert len(trickles) == 2 and cut == trickles, trickles


def filter_task(endpoint, **options):
    arguments = ', '.join('%s=%s' % (name, json.dumps(value)) for name, value in sorted(options.items()))
    return {'ansible.builtin.set_fact': {'report': (
        "{{ hostvars | alicloud.ecs.enrich_hosts(hosts=['localhost'], region_id='cn-hangzhou', endpoint='%s', "
        "protocol='%s', access_key_id='%s', access_key_secret='%s', retry_delay=0.01, retry_max_delay=0.05, %s) }}"
        % (endpoint.endpoint, endpoint.protocol, ACCESS_KEY_ID, ACCESS_KEY_SECRET, arguments))}}


@pytest.mark.every_core
def test_the_bounds_hold_on_the_controller(runner, endpoint_factory, security_record, tmp_path):
    """enrich_hosts listing in a forked worker, and the inventory plugin: both bounds, and the play ends."""
    trickling = endpoint_factory({'cn-hangzhou': 5}, trickle_bytes_per_second=1, trickle_max_seconds=TRICKLE_BOUND)
    endless = endpoint_factory({'cn-hangzhou': 5}, endless_tokens=True)
    instance = default_instance_ids('cn-hangzhou')[0]
    cases = {
        'instance ID of localhost': {'ansible.builtin.set_fact': {'instance_id': instance}},
        'enrich_hosts, listing_timeout': filter_task(trickling, listing_timeout=TIMEOUT),
        'enrich_hosts, max_pages': filter_task(endless, max_pages=3),
    }
    run = run_tasks(runner, cases)
    trickles = trickling.wait_for_trickles(TRICKLE_BOUND + 30)
    timed_out, paged = run.results['enrich_hosts, listing_timeout'], run.results['enrich_hosts, max_pages']
    security_record('bounds', 'enrich_hosts: body trickled at 1 byte/s, listing_timeout %d s' % TIMEOUT,
                    'the play ends, the trickle cut off by the client, no result',
                    int(trickles[0]['outcome'] != 'client_closed') + int('report' in json.dumps(timed_out.get('ansible_facts', {}))))
    security_record('bounds', 'enrich_hosts: endless NextToken, max_pages 3', 'pages read <= 3, no result',
                    int(endless.stats()['calls'] > 3) + int('ansible_facts' in paged))
    assert timed_out['failed'] is True and 'alicloud.ecs.enrich_hosts' in timed_out['msg']
    assert 'did not finish within listing_timeout (%d seconds)' % TIMEOUT in timed_out['msg'] and 'ansible_facts' not in timed_out
    assert [t['outcome'] for t in trickles] == ['client_closed'] and trickles[0]['sent'] < trickles[0]['length']
    assert paged['failed'] is True and 'read max_pages (3 pages' in paged['msg'] and endless.stats()['calls'] == 3

    static = tmp_path / '10-hosts.yml'
    static.write_text(yaml.safe_dump({'all': {'hosts': {'web1': {'instance_id': instance}}}}))
    source = tmp_path / '20-terminal_sessions.yml'
    source.write_text(yaml.safe_dump({'plugin': 'alicloud.ecs.terminal_sessions', 'region_id': ['cn-hangzhou'],
                                      'endpoint': endless.endpoint, 'protocol': 'http', 'max_pages': 2,
                                      'access_key_id': ACCESS_KEY_ID, 'access_key_secret': ACCESS_KEY_SECRET}))
    listing = tmp_path / 'inventory.json'
    completed = subprocess.run([str(Path(sys.executable).parent / 'ansible-inventory'), '-i', str(static), '-i', str(source),
                                '--list', '--output', str(listing)], env=runner.environment(), capture_output=True,
                               text=True, timeout=300, check=False, cwd=str(tmp_path))
    output = completed.stdout + completed.stderr
    hostvars = json.loads(listing.read_text())['_meta']['hostvars'] if listing.exists() else {}
    security_record('bounds', 'inventory plugin: endless NextToken, max_pages 2', 'pages read <= 2, no host variables',
                    int(endless.stats()['calls'] > 5) + int('ecs_terminal_sessions' in hostvars.get('web1', {})))
    assert 'read max_pages (2 pages of up to 100 records)' in ' '.join(output.split()), output
    assert endless.stats()['calls'] == 5 and 'ecs_terminal_sessions' not in hostvars.get('web1', {})
    assert secret_hits(run.output + output) == 0


@pytest.mark.every_core
def test_the_bounds_options_are_checked_before_any_call(runner, endpoint_factory, security_record):
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    cases = {
        'max_pages: 0': {INFO: connection(endpoint, max_pages=0)},
        'listing_timeout: -1': {INFO: connection(endpoint, listing_timeout=-1)},
        'listing_timeout: nan': {'alicloud.ecs.ecs_terminal_session': connection(endpoint, session_id='s-1', listing_timeout='nan')},
        'listing_timeout: 1e400': {'alicloud.ecs.ecs_terminal_session_archive': connection(
            endpoint, path=str(runner.tmp_path / 'a.jsonl'), listing_timeout='1e400')},
        'max_pages: many': {INFO: connection(endpoint, max_pages='many')},
        'enrich_hosts max_pages=0': filter_task(endpoint, max_pages=0),
    }
    run = run_tasks(runner, cases)
    expected = {
        'max_pages: 0': 'max_pages must be at least 1 (the pages one query may read), got 0',
        'listing_timeout: -1': 'listing_timeout must be more than 0 and at most 604800 seconds',
        'listing_timeout: nan': 'got nan',
        'listing_timeout: 1e400': 'got inf',
        'max_pages: many': 'max_pages',
        'enrich_hosts max_pages=0': 'max_pages must be at least 1',
    }
    for case, text in expected.items():
        result = run.results[case]
        security_record('errors', 'bounds option %s' % case, 'refused with a message naming it, before any call',
                        int('Traceback' in json.dumps(result)))
        assert result['failed'] is True and text in result['msg'], (case, result)
        assert 'exception' not in result or 'Traceback' not in result['exception']
    assert endpoint.stats()['calls'] == 0
