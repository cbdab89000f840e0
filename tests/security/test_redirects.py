"""Issue 13 item 6: redirects. The SDK followed a 307 from https to plain http on another host and re-sent the STS
token (``x-acs-security-token``). Alibaba Cloud APIs never redirect: every 3xx now fails the task naming the status
and the location without its query, is not retried, and nothing is sent to the location - which a second listener,
on another loopback address, checks by recording whatever reaches it.
"""

from __future__ import annotations

import json

import pytest

from ecs_endpoint.data import default_instance_ids
from ecs_endpoint.listener import RecordingListener
from support.keys import SECRETS, STS_KEY_ID, STS_SECRET, STS_TOKEN, secret_hits
from support.multi_task import run_tasks
from support.playbooks import connection

STATUSES = (301, 302, 303, 307, 308)
INFO = 'alicloud.ecs.ecs_terminal_session_info'


@pytest.fixture
def listener():
    with RecordingListener(host='127.0.0.2') as started:
        yield started


def sts(endpoint, **extra):
    """Module arguments for ``endpoint`` with STS keys: the token is what a followed redirect would carry away."""
    return connection(endpoint, access_key_id=STS_KEY_ID, access_key_secret=STS_SECRET, security_token=STS_TOKEN, **extra)


def harvest_url(listener):
    return listener.url('/harvest?SecurityToken=%s&Signature=copied' % STS_TOKEN)


def check_refused(result, status, listener):
    assert result['failed'] is True and result.get('error_code') == 'RedirectRefused', result
    assert result.get('http_status') == status
    message = result['msg']
    assert 'answered HTTP %d, a redirect to %s.' % (status, listener.url('/harvest')) in message
    assert '?' not in message.split('a redirect to ')[1].split(' ')[0] and 'SecurityToken' not in message
    assert 'attempts' not in message  # not retried


def test_no_redirect_is_followed_by_the_modules(runner, endpoint_factory, listener, security_record, tmp_path):
    endpoints = dict((status, endpoint_factory({'cn-hangzhou': 5}, tls=True, redirect_status=status,
                                               redirect_location=harvest_url(listener)))
                     for status in STATUSES)
    cases = dict(('info, HTTP %d' % status, {INFO: sts(endpoints[status])}) for status in STATUSES)
    cases['ecs_terminal_session, HTTP 307'] = {'alicloud.ecs.ecs_terminal_session': sts(
        endpoints[307], instance_id=default_instance_ids('cn-hangzhou')[0])}
    cases['ecs_terminal_session_archive, HTTP 308'] = {'alicloud.ecs.ecs_terminal_session_archive': sts(
        endpoints[308], path=str(tmp_path / 'archive.jsonl'))}
    run = run_tasks(runner, cases, verbosity=3)
    received = listener.received
    for case, result in run.results.items():
        security_record('redirects', '%s from https to http on another host (127.0.0.2)' % case,
                        'requests reaching the location, token included; the task fails naming status and location',
                        len(received))
    security_record('secrets', 'redirect cases at -vvv: the STS token and secrets', 'output and results',
                    secret_hits(run.output, SECRETS))
    assert received == [], received
    for status in STATUSES:
        check_refused(run.results['info, HTTP %d' % status], status, listener)
        assert endpoints[status].stats()['faults_injected'] == {'redirect': 1 if status not in (307, 308) else 2}
    check_refused(run.results['ecs_terminal_session, HTTP 307'], 307, listener)
    check_refused(run.results['ecs_terminal_session_archive, HTTP 308'], 308, listener)
    assert run.results['ecs_terminal_session, HTTP 307']['ended'] == [] and endpoints[307].stats()['end_calls'] == 0
    assert all(result['api_calls'] == 1 for result in run.results.values())
    assert secret_hits(run.output, SECRETS) == 0


def test_no_redirect_is_followed_by_enrich_hosts(runner, endpoint_factory, listener, security_record):
    endpoint = endpoint_factory({'cn-hangzhou': 5}, tls=True, redirect_status=307, redirect_location=harvest_url(listener))
    instance = default_instance_ids('cn-hangzhou')[0]
    lookup = ("{{ hostvars | alicloud.ecs.enrich_hosts(hosts=['localhost'], region_id='cn-hangzhou', endpoint='%s', "
              "ca_bundle='%s', access_key_id='%s', access_key_secret='%s', security_token='%s', retry_delay=0.01) }}"
              % (endpoint.endpoint, endpoint.ca_file, STS_KEY_ID, STS_SECRET, STS_TOKEN))
    cases = {
        'instance ID of localhost': {'ansible.builtin.set_fact': {'instance_id': instance}},
        'enrich_hosts, HTTP 307': {'ansible.builtin.set_fact': {'report': lookup}},
    }
    run = run_tasks(runner, cases)
    result = run.results['enrich_hosts, HTTP 307']
    security_record('redirects', 'enrich_hosts (controller): HTTP 307 from https to http on another host',
                    'requests reaching the location, token included; the play fails naming status and location',
                    len(listener.received))
    assert listener.received == []
    assert result['failed'] is True and 'alicloud.ecs.enrich_hosts' in result['msg'], result
    message = ' '.join(result['msg'].split())
    assert 'answered HTTP 307, a redirect to %s.' % listener.url('/harvest') in message
    assert 'SecurityToken' not in message and 'error code: RedirectRefused' in message
    assert endpoint.stats()['calls'] == 1 and 'report' not in json.dumps(result.get('ansible_facts', {}))
    assert secret_hits(run.output, SECRETS) == 0
