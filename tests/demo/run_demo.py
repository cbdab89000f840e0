#!/usr/bin/env python
"""make demo: start the local ECS endpoint (HTTPS, seeded data), run the example playbook against it, stop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(ROOT, 'docs', 'examples', 'session_facts.yml')
ACCESS_KEY_ID = 'LTAIdemokey000000000001'
ACCESS_KEY_SECRET = 'demo-secret-for-the-local-endpoint'


def wait_for(path, process, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path, encoding='utf-8') as handle:
                return json.load(handle)
        if process.poll() is not None:
            raise SystemExit('the local ECS endpoint exited with status %s' % process.returncode)
        time.sleep(0.1)
    raise SystemExit('the local ECS endpoint did not start within %d seconds' % seconds)


def main():
    with tempfile.TemporaryDirectory(prefix='alicloud-ecs-demo-') as workdir:
        state_file = os.path.join(workdir, 'endpoint.json')
        env = dict(os.environ, HOME=workdir, ECS_ENDPOINT_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET,
                   ALIBABA_CLOUD_ECS_METADATA_DISABLED='true', ALIBABA_CLOUD_CLI_PROFILE_DISABLED='true')
        endpoint = subprocess.Popen(
            [sys.executable, '-m', 'ecs_endpoint', '--regions', 'cn-hangzhou=250,cn-shanghai=120', '--tls',
             '--access-key-id', ACCESS_KEY_ID, '--state-file', state_file],
            env=env, cwd=os.path.join(ROOT, 'tests'))
        try:
            state = wait_for(state_file, endpoint)
            print('Local ECS endpoint: https://%s (CA %s)' % (state['endpoint'], state['ca_file']), flush=True)
            env.update(ALIBABA_CLOUD_ACCESS_KEY_ID=ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET,
                       ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING='false',
                       ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
            command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), PLAYBOOK,
                       '-e', 'demo_endpoint=%s' % state['endpoint'], '-e', 'demo_ca_bundle=%s' % state['ca_file']]
            return subprocess.run(command, env=env, check=False).returncode
        finally:
            endpoint.send_signal(signal.SIGTERM)
            endpoint.wait(timeout=30)


if __name__ == '__main__':
    sys.exit(main())
