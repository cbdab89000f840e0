"""``python -m ecs_endpoint``: state file, serving, clean shutdown on SIGTERM."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from ecs_endpoint import rawclient

TESTS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


@pytest.mark.parametrize('tls', [False, True])
def test_cli_serves_and_stops(tmp_path, tls):
    state_file = tmp_path / 'state.json'
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [TESTS_DIR, env.get('PYTHONPATH')]))
    args = [sys.executable, '-m', 'ecs_endpoint', '--regions', 'cn-hangzhou=30,cn-shanghai=12', '--seed', '3',
            '--state-file', str(state_file), '--access-key-id', 'LTAIcli', '--access-key-secret', 'cli-secret',
            '--last-page-token-style', 'empty', '--faults', '{"throttle_first": 1}']
    if tls:
        args.append('--tls')
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stdout.readline().strip()
        state = json.loads(state_file.read_text())
        assert line == state['endpoint'] and state['endpoint'].startswith('127.0.0.1:')
        assert state['pid'] == proc.pid and state['access_key_id'] == 'LTAIcli'
        assert state['protocol'] == ('https' if tls else 'http') and bool(state['ca_file']) == tls
        assert 'cli-secret' not in state_file.read_text()
        kw = {'protocol': state['protocol'], 'ca_file': state['ca_file']}
        assert rawclient.v3_call(line, {'RegionId': 'cn-hangzhou'}, 'LTAIcli', 'cli-secret', **kw).code == 'Throttling.User'
        reply = rawclient.v3_call(line, {'RegionId': 'cn-shanghai', 'MaxResults': '100'}, 'LTAIcli', 'cli-secret', **kw)
        assert reply.status == 200 and len(reply.json['Sessions']['Session']) == 12 and reply.json['NextToken'] == ''
    finally:
        proc.send_signal(signal.SIGTERM)
        dummy_out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert not state_file.exists()
    if tls:
        assert not os.path.exists(state['ca_file'])
