"""The terminal_sessions inventory plugin's lean forms: session_fields, and max_sessions_per_host 0 (no session list)."""

from __future__ import annotations

from test_inventory_terminal_sessions import CONSTRUCTED, ZERO_SUMMARY, Inventory, truth, two_region_hosts


def test_max_sessions_per_host_0_leaves_the_list_out_and_keeps_summary_and_groups(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 230, 'cn-shanghai': 120}, tls=True)
    hosts = two_region_hosts(endpoint)
    _completed, full = Inventory(runner, tmp_path, endpoint, hosts, CONSTRUCTED).run()
    _completed, lean = Inventory(runner, tmp_path, endpoint, hosts, dict(CONSTRUCTED, max_sessions_per_host=0)).run()
    for host in ('web1', 'web2', 'db1', 'idle'):
        variables = lean['_meta']['hostvars'][host]
        assert 'ecs_terminal_sessions' not in variables
        assert variables['ecs_terminal_session_summary'] == full['_meta']['hostvars'][host]['ecs_terminal_session_summary']
    assert lean['_meta']['hostvars']['idle']['ecs_terminal_session_summary'] == ZERO_SUMMARY
    assert lean['_meta']['hostvars']['web1']['ecs_last_user'] == full['_meta']['hostvars']['web1']['ecs_last_user']
    for group in ('has_root_sessions', 'never_reached'):
        assert sorted(lean[group]['hosts']) == sorted(full[group]['hosts'])


def test_session_fields_cut_each_host_s_sessions(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 230, 'cn-shanghai': 120}, tls=True)
    hosts = two_region_hosts(endpoint)
    config = dict(CONSTRUCTED, session_fields=['session_id', 'username'])
    _completed, listed = Inventory(runner, tmp_path, endpoint, hosts, config).run()
    variables = listed['_meta']['hostvars']['web1']
    expected = truth(endpoint, hosts['all']['hosts']['web1']['instance_id'])
    assert variables['ecs_terminal_sessions'] == [{'session_id': s['SessionId'], 'username': s['Username']} for s in expected[:3]]
    assert variables['ecs_terminal_session_summary']['session_count'] == len(expected)


def test_an_undocumented_field_fails_the_source_before_any_call(runner, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 10, 'cn-shanghai': 10}, tls=True)
    inventory = Inventory(runner, tmp_path, endpoint, two_region_hosts(endpoint), {'session_fields': ['session_id', 'status']})
    completed, _listed = inventory.run()
    output = ' '.join((completed.stdout + completed.stderr).split())  # ansible-core 2.16 wraps warnings
    assert 'session_fields: unknown name status; valid: session_id, region_id' in output
    assert endpoint.stats()['calls'] == 0
