"""The host -> instance ID extraction shared by the enrich_hosts filter and the inventory plugin.

The parsing of ``data`` and the join are tested through the filters, in tests/unit/plugins/filter/.
"""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData

from ansible_collections.alicloud.ecs.plugins.inventory.terminal_sessions import InventoryModule
from ansible_collections.alicloud.ecs.plugins.plugin_utils.enrichment import HostInstance, HostProblem, hosts_with_instance_ids


def test_hosts_with_an_instance_id_are_found_stripped_with_their_variables():
    web = {'instance_id': ' i-a \n', 'role': 'web'}
    hosts = [('web1', web), ('db1', {'instance_id': 'i-b'}), ('bastion', {}), ('blank', {'instance_id': '  '}),
             ('unset', {'instance_id': None})]
    found, problems = hosts_with_instance_ids(hosts, 'instance_id')
    assert found == [HostInstance('web1', 'i-a', web), HostInstance('db1', 'i-b', {'instance_id': 'i-b'})]
    assert found[0].variables is web
    assert problems == []


def test_other_variable():
    found, problems = hosts_with_instance_ids([('h', {'instance_id': 'i-a', 'ecs_id': 'i-z'})], 'ecs_id')
    assert [(host.host, host.instance_id) for host in found] == [('h', 'i-z')]
    assert problems == []


def test_problems_are_returned_not_raised():
    hosts = [('a', {'instance_id': ['i-a']}), ('b', 'i-b'), ('c', {'instance_id': 'i-c'}), ('d', {'instance_id': 7})]
    found, problems = hosts_with_instance_ids(hosts, 'instance_id')
    assert [host.host for host in found] == ['c']
    assert problems == [HostProblem('a', 'instance_id', 'list'), HostProblem('b', 'variables', 'str'),
                        HostProblem('d', 'instance_id', 'int')]


def test_the_walk_stops_at_the_first_problem_and_reads_no_further_host():
    read = []

    def hosts():
        for name, variables in [('a', {'instance_id': 'i-a'}), ('b', {'instance_id': 3}), ('c', {'instance_id': 'i-c'})]:
            read.append(name)
            yield name, variables

    found, problems = hosts_with_instance_ids(hosts(), 'instance_id', stop_at_problem=True)
    assert [host.host for host in found] == ['a']
    assert problems == [HostProblem('b', 'instance_id', 'int')]
    assert read == ['a', 'b']


class RecordingDisplay:
    def __init__(self):
        self.warnings = []

    def warning(self, message):
        self.warnings.append(message)


def inventory_plugin(strict, host_vars):
    plugin = InventoryModule()
    plugin.inventory = InventoryData()
    for name, variables in host_vars.items():
        plugin.inventory.add_host(name)
        for key, value in variables.items():
            plugin.inventory.set_variable(name, key, value)
    options = {'instance_id_var': 'instance_id', 'strict': strict}
    plugin.get_option = options.__getitem__
    plugin.display = RecordingDisplay()
    return plugin


HOST_VARS = {'web1': {'instance_id': ' i-a '}, 'odd': {'instance_id': ['i-b']}, 'bastion': {}}


def test_the_inventory_plugin_warns_about_a_host_and_leaves_it_untouched():
    plugin = inventory_plugin(False, HOST_VARS)
    found = plugin._hosts_with_instance_ids()
    assert list(found) == ['web1']
    assert found['web1'][0] == 'i-a'
    assert found['web1'][1]['instance_id'] == ' i-a '
    assert plugin.display.warnings == [
        "alicloud.ecs.terminal_sessions: host odd: the variable 'instance_id' should hold an instance ID (a string); got list; "
        "the host is left untouched"]


def test_the_inventory_plugin_fails_on_it_when_strict():
    plugin = inventory_plugin(True, HOST_VARS)
    with pytest.raises(AnsibleParserError) as caught:
        plugin._hosts_with_instance_ids()
    assert str(caught.value) == ("alicloud.ecs.terminal_sessions: host odd: the variable 'instance_id' should hold an instance ID "
                                 "(a string); got list")
    assert plugin.display.warnings == []
