"""enrich_hosts calling Alibaba Cloud itself, from a real play, against the local ECS endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from support.endpoints import targets
from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET

PLAYBOOK = '''\
- hosts: all
  gather_facts: false
  tasks:
    - name: Sessions of every host of the play, listed once
      ansible.builtin.set_fact:
        report: >-
          {{ hostvars | alicloud.ecs.enrich_hosts(hosts=ansible_play_hosts, region_id='cn-hangzhou',
             endpoint=endpoint, ca_bundle=ca_bundle, retry_delay=0.01, username=wanted_users) }}
      run_once: true
    - name: Keep the report for the test
      ansible.builtin.copy:
        content: "{{ report | to_json }}"
        dest: "{{ result_file }}"
      run_once: true
      delegate_to: localhost
'''


def run_play(runner, tmp_path, endpoint, hosts, secret=ACCESS_KEY_SECRET, users=('root', 'admin')):
    host_vars = {}
    for name, instance_id in hosts.items():
        host_vars[name] = {'ansible_connection': 'local'}
        if instance_id:
            host_vars[name]['instance_id'] = instance_id
    inventory = {'all': {'hosts': host_vars}}
    (tmp_path / 'inventory.json').write_text(json.dumps(inventory))
    (tmp_path / 'play.yml').write_text(PLAYBOOK)
    result_file = tmp_path / 'report.json'
    extra = {'endpoint': endpoint.endpoint, 'ca_bundle': endpoint.ca_file, 'result_file': str(result_file),
             'wanted_users': list(users)}
    env = runner.environment({'ALIBABA_CLOUD_ACCESS_KEY_ID': ACCESS_KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': secret})
    completed = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(tmp_path / 'inventory.json'),
                                str(tmp_path / 'play.yml'), '-e', json.dumps(extra)],
                               env=env, capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(result_file.read_text()) if result_file.exists() else None
    return completed, report


def test_enrich_hosts_lists_the_hosts_sessions_itself(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 200}, tls=True)
    raw = endpoint.seed_data['cn-hangzhou']
    instance_ids = sorted(set().union(*(targets(s) for s in raw)))
    hosts = {'web1': instance_ids[0], 'web2': instance_ids[1], 'idle': 'i-never-used', 'bastion': None}
    completed, report = run_play(runner, tmp_path, endpoint, hosts)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert sorted(report) == ['idle', 'web1', 'web2']
    for host in ('web1', 'web2'):
        expected = sorted(s['SessionId'] for s in raw if hosts[host] in targets(s) and s.get('Username') in ('root', 'admin'))
        assert expected
        assert sorted(s['session_id'] for s in report[host]['sessions']) == expected
        assert report[host]['summary']['session_count'] == len(expected)
    assert report['idle'] == {'instance_id': 'i-never-used', 'sessions': [], 'summary': report['idle']['summary']}
    assert report['idle']['summary']['session_count'] == 0
    # One query per instance ID: each fits a single page.
    assert endpoint.stats()['calls'] == 3


def test_enrich_hosts_reports_service_errors_without_the_secret(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 5}, tls=True)
    wrong = 'wrong-' + ACCESS_KEY_SECRET
    completed, report = run_play(runner, tmp_path, endpoint, {'web1': 'i-1'}, secret=wrong)
    assert completed.returncode != 0 and report is None
    output = completed.stdout + completed.stderr
    assert 'alicloud.ecs.enrich_hosts' in output and 'SignatureDoesNotMatch' in output
    assert wrong not in output and ACCESS_KEY_SECRET not in output
    assert textwrap.dedent(output).count('Traceback') == 0
