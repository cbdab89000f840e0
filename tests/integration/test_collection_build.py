"""The tarball ansible-galaxy builds installs and works on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

from conftest import connection

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_the_built_tarball_installs_and_runs(runner, endpoint_factory, tmp_path):
    env = runner.environment()
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'build', str(ROOT), '--output-path', str(tmp_path)],
                   env=env, check=True, capture_output=True, text=True)
    tarball = tmp_path / 'alicloud-ecs-0.1.0.tar.gz'
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert 'plugins/modules/ecs_terminal_session_info.py' in names
    assert 'meta/runtime.yml' in names and 'README.md' in names
    assert not [n for n in names if n.startswith(('build/', '.git/', 'tests/output')) or '__pycache__' in n]

    installed = tmp_path / 'installed'
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'install', '--force', str(tarball), '-p', str(installed)],
                   env=dict(env, ANSIBLE_COLLECTIONS_PATH=str(installed)), check=True, capture_output=True, text=True)
    assert (installed / 'ansible_collections' / 'alicloud' / 'ecs' / 'MANIFEST.json').exists()

    endpoint = endpoint_factory({'cn-hangzhou': 7})
    only_installed = {'ANSIBLE_COLLECTIONS_PATH': str(installed),
                      'PYTHONPATH': os.pathsep.join(p for p in os.environ['PYTHONPATH'].split(os.pathsep)
                                                    if not p.endswith('collections'))}
    result = runner.run_module(connection(endpoint), env=only_installed)
    assert not result.result.get('failed'), result.result
    assert len(result.result['sessions']) == 7
    doc = subprocess.run([str(BIN / 'ansible-doc'), 'alicloud.ecs.ecs_terminal_session_info'],
                         env=runner.environment(only_installed), check=True, capture_output=True, text=True)
    assert str(installed) in doc.stdout
