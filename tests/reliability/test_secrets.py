"""Secrets: the module's own process (whose stderr Ansible drops on success), the SDK's debug log, the endpoint's log.

The playbook runs of the other files scan their -vvvv output, results and request logs per case; this file
covers what a playbook run cannot show.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from reliability_report import scan, secret_hits_in_requests

from support.campaign import MODULE, module_args
from support.keys import ACCESS_KEY_SECRET, DEBUG_ENV, SECRETS, STS_KEY_ID, STS_SECRET, STS_TOKEN
from support.playbooks import Runner

MARK = '--- neutralised from here ---'

# Run with DEBUG=sdk: one call by the SDK itself (it prints every request header), then one through the collection's
# client with the SDK's logs captured (nothing printed; the captured lines are scrubbed), then one after the
# module's neutralisation (nothing even logged).
CONTROL = textwrap.dedent('''\
    import json, sys
    from alibabacloud_tea_openapi.client import Client
    from alibabacloud_tea_openapi import utils_models as models
    from darabonba.runtime import RuntimeOptions
    endpoint, key_id, secret, token, mark = sys.argv[1:6]
    query = {'RegionId': 'cn-hangzhou', 'MaxResults': '5'}
    config = models.Config(endpoint=endpoint, protocol='http', access_key_id=key_id, access_key_secret=secret,
                           security_token=token)
    params = models.Params(action='DescribeTerminalSessions', version='2014-05-26', protocol='HTTP', method='POST',
                           auth_type='AK', style='RPC', pathname='/', req_body_type='json', body_type='json')
    Client(config).call_api(params, models.OpenApiRequest(query=query), RuntimeOptions())
    sys.stderr.write(mark + '\\n')
    sys.stderr.flush()
    from ansible_collections.alicloud.ecs.plugins.module_utils import credentials, sdk
    source = credentials.CredentialSource('access_key', 'options', key_id, secret, token)
    settings = dict(endpoint=endpoint, protocol='http', validate_certs=True, read_timeout=10, connect_timeout=5)
    sdk.capture_sdk_logs()
    sdk.RpcClient(settings, source).call('DescribeTerminalSessions', query)
    captured = sdk.drain_sdk_logs()
    sdk.neutralise_sdk_debug()
    sdk.RpcClient(settings, source).call('DescribeTerminalSessions', query)
    print(json.dumps({'captured': captured, 'after_neutralising': sdk.drain_sdk_logs()}))
''')


@pytest.fixture
def direct(tmp_path):
    """Run the module's own process with ANSIBLE_MODULE_ARGS from a file, DEBUG=sdk kept."""
    runner = Runner(tmp_path)

    def run(args):
        args_file = tmp_path / 'args.json'
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        completed = subprocess.run([sys.executable, '-m', MODULE, str(args_file)], env=runner.environment(DEBUG_ENV),
                                   capture_output=True, text=True, timeout=120, check=False)
        return completed, json.loads(completed.stdout)
    return run


@pytest.mark.parametrize('label, overrides, failed', [
    ('STS keys, a listing of 3 pages', {'max_results': 10}, False),
    ('a wrong secret (its value holds the real one)', {'sts': False, 'access_key_secret': 'wrong-' + ACCESS_KEY_SECRET}, True),
])
def test_the_module_process_prints_no_secret_with_debug_sdk(endpoint_factory, direct, record, label, overrides, failed):
    endpoint = endpoint_factory({'cn-hangzhou': 25})
    completed, result = direct(module_args(endpoint, **overrides))
    secrets = list(SECRETS) + ['wrong-' + ACCESS_KEY_SECRET]
    hits = scan(completed.stdout + completed.stderr, secrets)
    hits += secret_hits_in_requests(endpoint.stats()['requests'], secrets, STS_TOKEN)
    outcome = 'failed as expected' if result.get('failed') else '%d records' % len(result['sessions'])
    record(kind='secrets', check='Module process run directly, DEBUG=sdk, %s: stdout, stderr, request log' % label,
           result='%s, stderr %d characters' % (outcome, len(completed.stderr)), secret_hits=hits)
    assert bool(result.get('failed')) == failed, result
    assert hits == 0
    assert 'Traceback' not in completed.stderr


def test_the_sdk_debug_log_would_leak_and_is_neutralised(endpoint_factory, record, tmp_path):
    """The control that makes the scans meaningful: with DEBUG=sdk the SDK prints the token; the collection's log
    capture keeps it off stderr (masked in what it keeps), and the module's neutralisation stops the log itself."""
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    completed = subprocess.run([sys.executable, '-c', CONTROL, endpoint.endpoint, STS_KEY_ID, STS_SECRET, STS_TOKEN, MARK],
                               env=Runner(tmp_path).environment(DEBUG_ENV), capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    before, _mark, after = completed.stderr.partition(MARK)
    leaked, protected = scan(before, [STS_TOKEN]), scan(after + completed.stdout, SECRETS)
    logs = json.loads(completed.stdout)
    record(kind='secrets', check='Control: the SDK itself with DEBUG=sdk, then through the log capture, then after '
                                 'neutralise_sdk_debug()',
           result='token printed %d time(s) by the SDK; none through the collection (%d log lines captured, masked)'
           % (leaked, len(logs['captured'])), secret_hits=protected)
    assert leaked >= 1, 'the SDK debug log no longer shows the token: this control proves nothing any more'
    assert protected == 0
    assert any('x-acs-security-token : ********' in line for line in logs['captured']), logs['captured']
    assert logs['after_neutralising'] == []
    assert endpoint.stats()['calls'] == 3


def test_only_signatures_travel(endpoint_factory, direct, record):
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    completed, result = direct(module_args(endpoint))
    requests = endpoint.stats()['requests']
    headers = [dict((name.lower(), value) for name, value in request['headers'].items()) for request in requests]
    hits = secret_hits_in_requests(requests, SECRETS, STS_TOKEN) + scan(repr(requests), [STS_SECRET, ACCESS_KEY_SECRET])
    record(kind='secrets', check='Endpoint request log: what travels', secret_hits=hits,
           result='%d request(s): ACS3-HMAC-SHA256 signature, key ID and STS token headers; no secret' % len(requests))
    assert not result.get('failed'), result
    assert completed.returncode == 0
    assert requests and all(h['authorization'].startswith('ACS3-HMAC-SHA256 Credential=%s,' % STS_KEY_ID) for h in headers)
    assert all('Signature=' in h['authorization'] for h in headers)
    assert all(h['x-acs-security-token'] == STS_TOKEN for h in headers)
    assert hits == 0
