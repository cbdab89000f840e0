"""Every secret, in every encoding, across everything one realistic run leaves behind.

One play, at -vvvv with ``DEBUG=sdk`` kept, uses every surface of the collection with STS credentials whose
secret and token hold characters that change under URL-encoding, repr and JSON escaping: the info module, the
archive module (archive, lock and CSV files), the ending module in check mode, ``enrich_hosts`` listing the
sessions itself, and the inventory plugin with its jsonfile cache. Its output, the registered results and every
file under the test's directory are then scanned for each secret in each of its encodings.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import yaml

from ecs_endpoint.server import EcsEndpoint
from security_report import encodings
from support.endpoints import seeded_regions
from support.keys import DEBUG_ENV, secret_hits
from support.playbooks import Runner

KEY_ID = 'STS.sweepkey000000000000009'
# Characters that URL-encoding, repr and JSON escape differently, so each encoding is a different string to find.
SECRET = 'sweep+Secret/"va\\lue"=42&more'
TOKEN = 'CAIS+sweep/Token="v\\al"=42&tail'
SWEEP_SECRETS = {'access key secret': SECRET, 'STS security token': TOKEN}


def _instances(endpoint):
    return sorted({conn['InstanceId'] for sessions in endpoint.seed_data.values() for session in sessions
                   for conn in session['Connections']['Connection']})


def test_the_scan_finds_every_encoding():
    """The control that makes the sweep meaningful: each encoding of the secrets is found where it occurs."""
    for secret in SWEEP_SECRETS.values():
        forms = encodings(secret)
        assert quote(secret, safe='') in forms and json.dumps(secret)[1:-1] in forms and repr(secret)[1:-1] in forms
        assert len(set(forms)) >= 4, forms
        for form in forms:
            assert secret_hits('before %s after' % form, [secret]) >= 1, form


def test_no_secret_in_any_encoding_anywhere(tmp_path, security_record):
    regions = seeded_regions({'cn-hangzhou': 40, 'cn-shanghai': 15})
    endpoint = EcsEndpoint(regions, credentials={KEY_ID: {'secret': SECRET, 'security_token': TOKEN}}, tls=True)
    endpoint.seed_data = regions
    endpoint.start()
    try:
        outcome = _run_everything(tmp_path, endpoint)
    finally:
        endpoint.stop()
    completed, results = outcome
    files = [path for path in tmp_path.rglob('*') if path.is_file() and not path.is_symlink()]
    written = [path for path in files if path.name not in ('playbook.yml', '10-hosts.yml', '20-terminal_sessions.yml')]
    texts = {'stdout and stderr at -vvvv with DEBUG=sdk': completed.stdout + completed.stderr,
             'registered results': json.dumps(results)}
    texts.update(('file %s' % path.relative_to(tmp_path), path.read_bytes().decode('utf-8', 'replace')) for path in written)
    file_kinds = sorted({_kind(path) for path in written})
    for name, secret in SWEEP_SECRETS.items():
        hits = sum(secret_hits(text, [secret]) for text in texts.values())
        security_record('secrets', 'Sweep: %s in %d encodings (%s)' % (name, len(encodings(secret)), ', '.join(
            _encoding_names(secret))), 'one play: info, archive, ending (check mode), enrich_hosts listing itself, '
            'inventory plugin with cache; its output, results and %d files (%s)' % (len(written), ', '.join(file_kinds)),
            hits)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert {'archive', 'CSV export', 'archive lock', 'inventory cache'} <= set(file_kinds), file_kinds
    # The run did what it should: every surface produced records, so the scan covered real output.
    assert results['info']['sessions'] and results['archive']['records'] == 55
    assert results['enriched'] and results['inventory_summary']
    leaks = dict((name, [where for where, text in texts.items() if secret_hits(text, [secret])])
                 for name, secret in SWEEP_SECRETS.items())
    assert leaks == {name: [] for name in SWEEP_SECRETS}


def _encoding_names(secret):
    names = ['raw']
    if quote(secret, safe='') != secret:
        names.append('URL-encoded')
    if repr(secret)[1:-1] != secret:
        names.append('repr-escaped')
    if json.dumps(secret)[1:-1] != secret:
        names.append('JSON-escaped')
    return names


def _kind(path):
    if path.suffix == '.csv':
        return 'CSV export'
    if path.name.endswith('.lock'):
        return 'archive lock'
    if path.suffix in ('.jsonl', '.sqlite'):
        return 'archive'
    if 'cache' in path.parts:
        return 'inventory cache'
    return 'other (%s)' % path.name


def _run_everything(tmp_path, endpoint):
    runner = Runner(tmp_path)
    instances = _instances(endpoint)
    inventory = tmp_path / 'inventory'
    inventory.mkdir()
    (inventory / '10-hosts.yml').write_text(yaml.safe_dump({'all': {'hosts': {
        'web%d' % index: {'instance_id': instance_id, 'ansible_connection': 'local'}
        for index, instance_id in enumerate(instances[:4])}}}))
    common = {'endpoint': endpoint.endpoint, 'ca_bundle': endpoint.ca_file, 'retry_delay': 0.01, 'retry_max_delay': 0.05}
    (inventory / '20-terminal_sessions.yml').write_text(yaml.safe_dump(dict(
        common, plugin='alicloud.ecs.terminal_sessions', region_id=['cn-hangzhou', 'cn-shanghai'], cache=True,
        cache_plugin='ansible.builtin.jsonfile', cache_connection=str(tmp_path / 'cache'))))
    archive_dir = tmp_path / 'archive'
    archive_dir.mkdir(mode=0o700)
    module_args = dict(common, region_id=['cn-hangzhou', 'cn-shanghai'], access_key_id=KEY_ID,
                       access_key_secret=SECRET, security_token=TOKEN)
    results_file = tmp_path / 'results.json'
    playbook = tmp_path / 'playbook.yml'
    playbook.write_text(textwrap.dedent('''\
        - hosts: all
          gather_facts: false
          vars:
            connection_args: %(args)s
          tasks:
            - name: Info
              alicloud.ecs.ecs_terminal_session_info: "{{ connection_args }}"
              register: info
              run_once: true
              delegate_to: localhost
            - name: Archive
              alicloud.ecs.ecs_terminal_session_archive: "{{ connection_args | combine(archive_args) }}"
              vars:
                archive_args: {path: '%(archive)s/sessions.sqlite', csv_path: '%(archive)s/sessions.csv',
                               jsonl_path: '%(archive)s/sessions.jsonl'}
              register: archive
              run_once: true
              delegate_to: localhost
            - name: Ending, check mode
              alicloud.ecs.ecs_terminal_session: "{{ connection_args | combine({'instance_id': '%(instance)s'}) }}"
              check_mode: true
              register: ending
              run_once: true
              delegate_to: localhost
            - name: Enrich, listing itself
              ansible.builtin.set_fact:
                enriched: "{{ hostvars | alicloud.ecs.enrich_hosts(hosts=ansible_play_hosts, **connection_args) }}"
              run_once: true
            - name: Keep the results
              ansible.builtin.copy:
                dest: %(results)s
                content: "{{ {'info': info, 'archive': archive, 'ending': ending, 'enriched': enriched,
                              'inventory_summary': hostvars[ansible_play_hosts[0]].ecs_terminal_session_summary} | to_json }}"
              run_once: true
              delegate_to: localhost
        ''') % {'args': json.dumps(module_args), 'archive': archive_dir, 'instance': instances[0], 'results': results_file})
    env = dict(DEBUG_ENV, ALIBABA_CLOUD_ACCESS_KEY_ID=KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET,
               ALIBABA_CLOUD_SECURITY_TOKEN=TOKEN, ANSIBLE_INVENTORY_CACHE='true')
    command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(inventory), str(playbook), '-vvvv']
    completed = subprocess.run(command, env=runner.environment(env), capture_output=True, text=True, timeout=300,
                               check=False, cwd=str(tmp_path))
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    return completed, results
