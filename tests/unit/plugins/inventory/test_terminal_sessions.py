from __future__ import annotations

import pytest

from ansible_collections.alicloud.ecs.plugins.inventory.terminal_sessions import InventoryModule, _native


@pytest.mark.parametrize('name, accepted', [
    ('terminal_sessions.yml', True),
    ('20-terminal_sessions.yaml', True),
    ('prod.terminal_sessions.yml', True),
    ('terminal_sessions.json', False),
    ('sessions.yml', False),
    ('terminal_sessions.yml.bak', False),
])
def test_only_files_named_for_the_plugin_are_read(tmp_path, name, accepted):
    path = tmp_path / name
    path.write_text('plugin: alicloud.ecs.terminal_sessions\n')
    assert InventoryModule().verify_file(str(path)) is accepted


def test_a_missing_file_is_not_read(tmp_path):
    assert InventoryModule().verify_file(str(tmp_path / 'terminal_sessions.yml')) is False


class _Tagged(str):
    """Stands for the tagged strings a configuration file gives on ansible-core 2.19+."""


def test_configuration_values_become_plain_python():
    value = _native({_Tagged('filters'): {'username': [_Tagged('root')]}, 'retries': 3, 'region_id': (_Tagged('cn-hangzhou'),)})
    assert value == {'filters': {'username': ['root']}, 'retries': 3, 'region_id': ['cn-hangzhou']}
    assert value['filters']['username'][0].__class__ is str
    assert all(key.__class__ is str for key in value)
