"""The tarball ansible-galaxy builds installs and works on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET
from support.playbooks import connection

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_the_built_tarball_installs_and_runs(runner, endpoint_factory, tmp_path):
    env = runner.environment()
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'build', str(ROOT), '--output-path', str(tmp_path)],
                   env=env, check=True, capture_output=True, text=True)
    version = yaml.safe_load((ROOT / 'galaxy.yml').read_text(encoding='utf-8'))['version']
    tarball = tmp_path / f'alicloud-ecs-{version}.tar.gz'
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert 'plugins/modules/ecs_terminal_session_info.py' in names
    assert 'meta/runtime.yml' in names and 'README.md' in names and 'SECURITY.md' in names
    # What ansible-builder reads from the installed collection, and the documentation users need.
    assert {'meta/execution-environment.yml', 'requirements.txt', 'docs/user-guide.md', 'docs/examples/session_facts.yml',
            'changelogs/config.yaml'} <= set(names)
    assert not [n for n in names if n.startswith(('build/', '.git/', 'tests/output')) or '__pycache__' in n]
    caches = ('.pytest_cache', '.hypothesis', '.benchmarks', '.ansible', '.cache', '.mypy_cache')
    assert not [n for n in names if set(n.split('/')) & set(caches) or n.endswith('.pyc')]
    assert not set(names) & {'Makefile', '.gitignore', '.ansible-lint', 'galaxy.yml'}

    installed = tmp_path / 'installed'
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'install', '--force', str(tarball), '-p', str(installed)],
                   env=dict(env, ANSIBLE_COLLECTIONS_PATH=str(installed)), check=True, capture_output=True, text=True)
    assert (installed / 'ansible_collections' / 'alicloud' / 'ecs' / 'MANIFEST.json').exists()

    endpoint = endpoint_factory({'cn-hangzhou': 7, 'cn-shanghai': 3}, tls=True)
    only_installed = {'ANSIBLE_COLLECTIONS_PATH': str(installed),
                      'PYTHONPATH': os.pathsep.join(p for p in os.environ['PYTHONPATH'].split(os.pathsep)
                                                    if not p.endswith('collections'))}
    result = runner.run_module(connection(endpoint), env=only_installed)
    assert not result.result.get('failed'), result.result
    assert len(result.result['sessions']) == 7
    doc = subprocess.run([str(BIN / 'ansible-doc'), 'alicloud.ecs.ecs_terminal_session_info'],
                         env=runner.environment(only_installed), check=True, capture_output=True, text=True)
    assert str(installed) in doc.stdout

    # A playbook shipped in the tarball, run from the installed copy with nothing but that copy.
    playbook = installed / 'ansible_collections' / 'alicloud' / 'ecs' / 'docs' / 'examples' / 'session_facts.yml'
    keys = {'ALIBABA_CLOUD_ACCESS_KEY_ID': ACCESS_KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ACCESS_KEY_SECRET,
            'ANSIBLE_LOCALHOST_WARNING': 'false'}
    played = subprocess.run([str(BIN / 'ansible-playbook'), '-i', 'localhost,', str(playbook), '-e', 'demo_endpoint=%s' % endpoint.endpoint,
                             '-e', 'demo_ca_bundle=%s' % endpoint.ca_file], env=runner.environment(dict(only_installed, **keys)),
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert played.returncode == 0, played.stdout + played.stderr
    assert '10 sessions on ' in played.stdout  # both regions of the playbook, 7 + 3
    assert ACCESS_KEY_SECRET not in played.stdout + played.stderr
