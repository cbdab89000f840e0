"""Values that become a header or a URL are checked whole, before any call (issue 13, items 8 and 10).

A trailing newline passed the old checks (``$`` matches before a final newline): the bad value then failed every
retry of every call and was reported as something else ("a body that is not valid JSON"). Each case here must fail
at once, naming its option, with no retry, no traceback and no call to the endpoint.
"""

from __future__ import annotations

import pytest
import yaml

from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, STS_KEY_ID, STS_SECRET
from support.multi_task import run_tasks
from support.playbooks import connection

MODULE = 'alicloud.ecs.ecs_terminal_session_info'
ROLE_ARN = 'acs:ram::1234567890123456:role/auditor'
LONG_HOST = 'a' * 5000


def bad_values(endpoint):
    """label -> (options replacing the good ones, the start of the expected message)."""
    sts = dict(access_key_id=STS_KEY_ID, access_key_secret=STS_SECRET)
    no_keys = dict(access_key_id=None, access_key_secret=None)
    return {
        'access_key_id with a trailing newline': (dict(access_key_id=ACCESS_KEY_ID + '\n'), 'access_key_id: '),
        'access_key_secret with a trailing newline': (dict(access_key_secret=ACCESS_KEY_SECRET + '\n'),
                                                      'access_key_secret: character 30 of 30 is a control character'),
        'security_token with a line feed inside': (dict(sts, security_token='CAIS\nvalue'),
                                                   'security_token: character 5 of 10 is a control character'),
        'security_token outside ASCII': (dict(sts, security_token='CAIS\u00e9value'),
                                         'security_token: character 5 of 10 is a character outside ASCII'),
        'security_token with a leading space': (dict(sts, security_token=' CAISvalue'),
                                                'security_token: character 1 of 10 is white space'),
        'endpoint with a trailing newline': (dict(endpoint=endpoint.endpoint + '\n'), 'endpoint '),
        'endpoint of 5,000 characters': (dict(endpoint=LONG_HOST), 'endpoint '),
        'endpoint with a 64-character label': (dict(endpoint='%s.example.com' % ('b' * 64)), 'endpoint '),
        'region_id outside ASCII': (dict(region_id='cn-h\u00e1ngzhou'), 'region_id: '),
        'http_proxy with a trailing newline': (dict(http_proxy='http://127.0.0.1:3128\n'), 'http_proxy: the proxy URL has a control'),
        'https_proxy with a 5,000-character host': (dict(https_proxy='http://%s:3128' % LONG_HOST), 'https_proxy: the proxy host: '),
        'ram_role_arn with a trailing newline': (dict(ram_role_arn=ROLE_ARN + '\n'), 'ram_role_arn: '),
        'role_session_name with a trailing newline': (dict(ram_role_arn=ROLE_ARN, role_session_name='audit\n'),
                                                      'role_session_name: '),
        'ecs_ram_role with a trailing newline': (dict(no_keys, ecs_ram_role='auditor\n'), 'ecs_ram_role: '),
        'profile with a trailing newline': (dict(no_keys, profile='default\n'), 'profile: '),
    }


def module_args(endpoint, overrides):
    args = connection(endpoint, retries=3)
    args.update(overrides)
    return dict((name, value) for name, value in args.items() if value is not None)


def check_failures(results, expected, security_record, path):
    """Record and check each case: failed at once, the option named, no retry, no traceback."""
    problems = {}
    for label, (_overrides, message) in expected.items():
        result = results[label] or {}
        msg = result.get('msg') or ''
        tracebacks = int('Traceback' in msg or 'Traceback' in (result.get('exception') or '')
                         or 'Traceback' in (result.get('module_stderr') or ''))
        security_record('errors', '%s (%s)' % (label, path), 'message names the option; no call, no retry', tracebacks)
        if not (result.get('failed') and message in msg and 'attempts:' not in msg and not tracebacks):
            problems[label] = msg
    return problems


def test_bad_values_fail_before_any_call_in_modules(runner, endpoint_factory, security_record):
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    expected = bad_values(endpoint)
    cases = dict((label, {MODULE: module_args(endpoint, overrides)}) for label, (overrides, _message) in expected.items())
    run = run_tasks(runner, cases)
    problems = check_failures(run.results, expected, security_record, 'module')
    assert problems == {}
    assert endpoint.stats()['calls'] == 0
    assert 'Traceback' not in run.stdout + run.stderr


def test_bad_values_fail_before_any_call_in_the_filter(runner, endpoint_factory, security_record, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    expected = bad_values(endpoint)
    play_vars, cases = {}, {}
    for index, (label, (overrides, _message)) in enumerate(expected.items()):
        play_vars['options_%d' % index] = module_args(endpoint, overrides)
        cases[label] = {'ansible.builtin.debug': {
            'msg': "{{ hostvars | alicloud.ecs.enrich_hosts(**options_%d) | to_json }}" % index}}
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {'instance_id': 'i-test0001'}}}}))
    run = run_tasks(runner, cases, play_vars=play_vars, inventory=str(inventory))
    problems = check_failures(run.results, expected, security_record, 'enrich_hosts filter')
    assert problems == {}
    assert endpoint.stats()['calls'] == 0
    assert 'Traceback' not in run.stdout + run.stderr


@pytest.mark.every_core
def test_a_nul_byte_in_a_path_option_is_named(runner, endpoint_factory, security_record, tmp_path):
    """``type: path`` options are converted by ansible-core (differently by core); os.access raised ValueError."""
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    expected = {
        'ca_bundle with a NUL byte': (dict(ca_bundle=str(tmp_path / 'ca\x00.pem')),
                                      'ca_bundle: the path contains a NUL byte'),
        'shared_credentials_file with a NUL byte': (dict(access_key_id=None, access_key_secret=None, profile='default',
                                                         shared_credentials_file=str(tmp_path / 'cred\x00entials')),
                                                    'shared_credentials_file: the path contains a NUL byte'),
    }
    cases = dict((label, {MODULE: module_args(endpoint, overrides)}) for label, (overrides, _message) in expected.items())
    play_vars = {}
    for index, (label, (overrides, _message)) in enumerate(list(expected.items())):
        play_vars['options_%d' % index] = module_args(endpoint, overrides)
        cases[label + ', filter'] = {'ansible.builtin.debug': {
            'msg': "{{ hostvars | alicloud.ecs.enrich_hosts(**options_%d) | to_json }}" % index}}
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {'instance_id': 'i-test0001'}}}}))
    run = run_tasks(runner, cases, play_vars=play_vars, inventory=str(inventory))
    both = dict(expected)
    both.update((label + ', filter', value) for label, value in expected.items())
    problems = check_failures(run.results, both, security_record, 'module and enrich_hosts filter')
    assert problems == {}
    assert 'Traceback' not in run.stdout + run.stderr
    assert endpoint.stats()['calls'] == 0
