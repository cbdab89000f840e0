"""Issue 13 item 7: warnings raised in the listing's worker threads are shown by the main thread, and the play ends.

On ansible-core 2.16-2.18 a forked Ansible worker inherits Display's lock held (the fork is taken inside it), and
Display makes every write to stderr take that lock: a thread other than the worker's main thread that writes to stderr
(``warnings.showwarning``, logging's last-resort handler) blocks for ever, and the main thread waits for it. The
listing threads of ``enrich_hosts`` hit that with urllib3's InsecureRequestWarning (``validate_certs: false``). The
collection now collects the warnings of its threads and shows them from the main thread through Display, once,
along with its own warnings for ``validate_certs: false`` and ``protocol: http`` (from the filters and the inventory
plugin as from the modules).

A run that does not end within :data:`HANG_AFTER` seconds is a hang: its process group is killed and the test fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ecs_endpoint.data import default_instance_ids
from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECRETS, secret_hits

HANG_AFTER = 120
REGIONS = ('cn-hangzhou', 'cn-shanghai', 'cn-beijing')
INSECURE_REQUEST = 'Unverified HTTPS request'
VALIDATE_CERTS_WARNING = 'validate_certs is false: the endpoint\'s TLS certificate is not checked'
HTTP_WARNING = 'protocol is http: request signatures, STS tokens and session records travel in clear text'


def run(command, env, cwd):
    """(return code or None when it hung, output) of ``command`` in its own process group, killed when it hangs.

    Killing ansible-playbook alone would leave its forked workers holding the pipes open.
    """
    process = subprocess.Popen(command, env=env, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=HANG_AFTER)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        return None, stdout + stderr
    return process.returncode, stdout + stderr


def flat(text):
    """``text`` with Display's line wrapping undone, to count messages whatever the terminal width."""
    return ' '.join(text.split())


def hosts_file(tmp_path):
    """Two hosts per region (one instance each), all run locally."""
    hosts = {}
    for region in REGIONS:
        for index, instance_id in enumerate(default_instance_ids(region, 2)):
            hosts['%s-%d' % (region, index)] = {'instance_id': instance_id, 'ansible_connection': 'local',
                                                'ansible_python_interpreter': sys.executable}
    path = tmp_path / '10-hosts.yml'
    path.write_text(yaml.safe_dump({'all': {'hosts': hosts}}))
    return path, hosts


@pytest.mark.every_core
def test_enrich_hosts_shows_worker_thread_warnings_once_and_the_play_ends(runner, endpoint_factory, tmp_path, security_record):
    counts = dict((region, 30) for region in REGIONS)
    tls = endpoint_factory(counts, tls=True)
    clear = endpoint_factory(counts)
    inventory, hosts = hosts_file(tmp_path)
    listing = "hostvars | alicloud.ecs.enrich_hosts(region_id=%s, endpoint='%%s', retry_delay=0.01, %%s)" % json.dumps(list(REGIONS))
    tasks = [
        {'name': 'Listed without checking the certificate', 'run_once': True,
         'ansible.builtin.set_fact': {'insecure': '{{ %s }}' % (listing % (tls.endpoint, 'validate_certs=false'))}},
        {'name': 'Listed over http', 'run_once': True,
         'ansible.builtin.set_fact': {'in_clear': '{{ %s }}' % (listing % (clear.endpoint, "protocol='http'"))}},
        {'name': 'Keep the counts', 'run_once': True, 'ansible.builtin.copy': {
            'dest': str(tmp_path / 'counts.json'),
            'content': '{{ {"insecure": insecure | dict2items | map(attribute="value.summary.session_count") | sum,'
                       ' "in_clear": in_clear | dict2items | map(attribute="value.summary.session_count") | sum} | to_json }}'}},
    ]
    (tmp_path / 'play.yml').write_text(yaml.safe_dump([{'hosts': 'all', 'gather_facts': False, 'tasks': tasks}], sort_keys=False))
    env = runner.environment({'ALIBABA_CLOUD_ACCESS_KEY_ID': ACCESS_KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ACCESS_KEY_SECRET})
    command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(inventory), '--forks', '4',
               str(tmp_path / 'play.yml')]
    code, output = run(command, env, tmp_path)
    text = flat(output)
    seen = dict((name, text.count(flat(message))) for name, message in (
        ('InsecureRequestWarning', INSECURE_REQUEST), ('validate_certs', VALIDATE_CERTS_WARNING), ('http', HTTP_WARNING)))
    security_record('threads', 'enrich_hosts listing itself, 3 regions x 2 instances, forks 4, validate_certs: false (TLS) '
                    'then protocol: http', 'play hung (%ds) + each warning not shown exactly once %s' % (HANG_AFTER, seen),
                    (code is None) + sum(count != 1 for count in seen.values()))
    assert code is not None, 'the play hung for %d seconds:\n%s' % (HANG_AFTER, output)
    assert code == 0, output
    counts_seen = json.loads((tmp_path / 'counts.json').read_text())
    assert counts_seen['insecure'] == counts_seen['in_clear'] > 0
    assert seen == {'InsecureRequestWarning': 1, 'validate_certs': 1, 'http': 1}, output
    assert 'alicloud.ecs.enrich_hosts: ' in text
    assert 'Traceback' not in output
    assert secret_hits(output, SECRETS) == 0


@pytest.mark.every_core
def test_the_inventory_plugin_shows_its_warnings_once(runner, endpoint_factory, tmp_path, security_record):
    counts = dict((region, 30) for region in REGIONS)
    tls = endpoint_factory(counts, tls=True)
    clear = endpoint_factory(counts)
    inventory, hosts = hosts_file(tmp_path)
    env = runner.environment({'ALIBABA_CLOUD_ACCESS_KEY_ID': ACCESS_KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ACCESS_KEY_SECRET})
    results = {}
    for name, endpoint, extra in (('validate_certs', tls, {'validate_certs': False}), ('http', clear, {'protocol': 'http'})):
        source = tmp_path / ('20-%s-terminal_sessions.yml' % name)
        config = {'plugin': 'alicloud.ecs.terminal_sessions', 'region_id': list(REGIONS), 'endpoint': endpoint.endpoint,
                  'retry_delay': 0.01, 'strict': True}
        config.update(extra)
        source.write_text(yaml.safe_dump(config))
        listing = tmp_path / ('%s.json' % name)
        command = [str(Path(sys.executable).parent / 'ansible-inventory'), '-i', str(inventory), '-i', str(source),
                   '--list', '--output', str(listing)]
        code, output = run(command, env, tmp_path)
        results[name] = (code, output, json.loads(listing.read_text()) if listing.exists() else None)
    text = dict((name, flat(output)) for name, (_code, output, _listed) in results.items())
    seen = {
        'validate_certs': (text['validate_certs'].count(flat(VALIDATE_CERTS_WARNING)),
                           text['validate_certs'].count(INSECURE_REQUEST)),
        'http': (text['http'].count(flat(HTTP_WARNING)),),
    }
    security_record('threads', 'inventory plugin, 3 regions, validate_certs: false (TLS) and protocol: http',
                    'runs hung (%ds) + warnings not shown exactly once %s' % (HANG_AFTER, seen),
                    sum(code is None for code, _output, _listed in results.values())
                    + sum(count != 1 for counts in seen.values() for count in counts))
    for name, (code, output, listed) in results.items():
        assert code == 0, output
        assert 'Traceback' not in output and 'Failed to parse' not in output, output
        assert secret_hits(output, SECRETS) == 0
        sessions = listed['_meta']['hostvars']['cn-hangzhou-0']['ecs_terminal_sessions']
        assert sessions, name
    assert seen == {'validate_certs': (1, 1), 'http': (1,)}, results
    assert 'alicloud.ecs.terminal_sessions: ' in text['http']
