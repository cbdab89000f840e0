"""ecs_session_manager_info and ecs_session_manager through ansible-playbook, against the local ECS endpoint.

Lean on purpose (every core of the matrix runs it): each test is one playbook run of several tasks, checked
against the endpoint's own record of the account's state and of the Modify calls it received.
"""

from __future__ import annotations

from support.multi_task import run_task_list
from support.playbooks import connection

REGIONS = ['cn-hangzhou', 'cn-shanghai']
INFO = 'alicloud.ecs.ecs_session_manager_info'
SET = 'alicloud.ecs.ecs_session_manager'
OSS_KMS = {'enabled': True, 'bucket_name': 'audit-bucket', 'prefix': 'sessions/', 'encryption_type': 'KMS',
           'encryption_key_id': 'key-hzz6a4d2b0fa7b2x0k8ze'}
SLS = {'enabled': True, 'project_name': 'audit-project', 'logstore_name': 'session_logs'}
TEMPLATE = '{{ 6 * 7 }}'


def task(module, endpoint, **args):
    return {module: connection(endpoint, region_id=REGIONS, **args)}


def modify_calls(endpoint):
    return endpoint.assistant.modify_calls()


def test_read_enable_change_disable_with_check_diff_and_a_second_run(runner, endpoint_factory):
    endpoint = endpoint_factory({region: 0 for region in REGIONS})
    endpoint.assistant.extra_fields = {'NewSetting': TEMPLATE}
    tasks = [
        task(INFO, endpoint),                                                                       # 0 read
        dict(task(SET, endpoint, enabled=True, oss_delivery=OSS_KMS), check_mode=True, diff=True),  # 1 check + diff
        task(SET, endpoint, enabled=True, oss_delivery=OSS_KMS),                                    # 2 enable
        task(SET, endpoint, enabled=True, oss_delivery=OSS_KMS),                                    # 3 again
        task(SET, endpoint, oss_delivery={'enabled': False}, sls_delivery=SLS),                     # 4 OSS -> SLS
        task(SET, endpoint, enabled=False),                                                         # 5 disable
        task(INFO, endpoint),                                                                       # 6 read
        {'ansible.builtin.set_fact': {'copied': "{{ task_0_copy }}"},
         'vars': {'task_0_copy': "{{ case_0.settings['cn-hangzhou'].new_setting }}"}},              # 7 data, not a template
    ]
    run = run_task_list(runner, tasks, extra_args=['--diff'])
    read, check, enable, again, to_sls, disable, reread, copied = run.results
    for result in run.results[:7]:
        assert not result.get('failed'), result

    assert read['changed'] is False and read['session_manager_enabled'] is False
    assert read['regions_without_delivery'] == REGIONS
    assert read['settings']['cn-hangzhou']['oss_delivery'] == {'enabled': False, 'bucket_name': None, 'prefix': None,
                                                               'encryption_type': None, 'encryption_algorithm': None,
                                                               'encryption_key_id': None}
    assert read['settings']['cn-hangzhou']['new_setting'] == TEMPLATE  # an unknown field is kept...
    assert copied['ansible_facts']['copied'] == TEMPLATE              # ...as data

    assert check['changed'] is True
    assert [(m['region_id'], m['setting_type']) for m in check['modifications']] == [
        ('cn-hangzhou', 'SessionManagerConfig'), ('cn-hangzhou', 'SessionManagerDelivery'), ('cn-shanghai', 'SessionManagerDelivery')]
    assert check['diff']['before']['cn-shanghai']['oss_delivery']['enabled'] is False
    assert check['diff']['after']['cn-shanghai']['oss_delivery']['bucket_name'] == 'audit-bucket'
    assert '"bucket_name": "audit-bucket"' in run.stdout  # the diff shown by --diff

    assert enable['changed'] is True and enable['session_manager_enabled'] is True
    assert [m['setting_type'] for m in enable['modifications']] == [
        'SessionManagerConfig', 'SessionManagerDelivery', 'SessionManagerDelivery']
    assert all(m['request_id'] for m in enable['modifications'])
    assert enable['settings'] == check['settings']
    assert again['changed'] is False and again['modifications'] == []
    assert again['settings'] == enable['settings']

    assert to_sls['changed'] is True and len(to_sls['modifications']) == 2
    assert disable['changed'] is True and [m['setting_type'] for m in disable['modifications']] == ['SessionManagerConfig']

    assert reread['session_manager_enabled'] is False and reread['regions_without_delivery'] == []
    for region in REGIONS:
        facts = reread['settings'][region]
        assert facts['sls_delivery'] == SLS
        assert facts['oss_delivery'] == dict(OSS_KMS, enabled=False, encryption_algorithm=None)  # the rest kept

    # Check mode wrote nothing: the endpoint received exactly the calls the real runs report.
    real = enable['modifications'] + to_sls['modifications'] + disable['modifications']
    assert len(modify_calls(endpoint)) == len(real) == 6
    state = endpoint.assistant.snapshot()
    assert state['session_manager_enabled'] is False
    assert state['sls']['cn-shanghai'] == {'Enabled': True, 'ProjectName': 'audit-project', 'LogstoreName': 'session_logs'}


def test_refused_permissions_unsupported_regions_and_bad_input(runner, endpoint_factory):
    no_modify = endpoint_factory({region: 0 for region in REGIONS})
    no_modify.assistant.forbidden_actions = {'ModifyCloudAssistantSettings'}
    no_modify.assistant.unsupported_regions = {'cn-shanghai'}
    no_describe = endpoint_factory({region: 0 for region in REGIONS})
    no_describe.assistant.forbidden_actions = {'DescribeCloudAssistantSettings'}
    untouched = endpoint_factory({region: 0 for region in REGIONS})
    bad_inputs = [
        {'oss_delivery': {'enabled': True, 'bucket_name': 'Audit_Bucket'}},
        {'oss_delivery': {'enabled': True, 'bucket_name': 'audit-bucket', 'encryption_type': 'KMS'}},
        {'oss_delivery': {'enabled': True}},
        {'sls_delivery': {'enabled': True, 'project_name': 'audit-project'}},
        {'sls_delivery': {'project_name': 'audit-project', 'logstore_name': '-bad'}},
        {},
    ]
    tasks = [
        task(SET, no_modify, enabled=True),
        task(INFO, no_describe),
        task(INFO, no_modify),
    ] + [task(SET, untouched, **args) for args in bad_inputs]
    run = run_task_list(runner, tasks)
    refused_write, refused_read, partial = run.results[:3]

    assert refused_write['failed'] is True
    assert 'ecs:ModifyCloudAssistantSettings' in refused_write['msg']
    assert refused_write['error_code'] == 'Forbidden.RAM' and refused_write['request_id']
    assert refused_write['request_id'] in refused_write['msg']
    assert refused_write['changed'] is False and refused_write['modifications'] == []
    assert no_modify.assistant.snapshot()['session_manager_enabled'] is False

    assert refused_read['failed'] is True
    assert 'ecs:DescribeCloudAssistantSettings' in refused_read['msg'] and refused_read['error_code'] == 'Forbidden.RAM'
    assert refused_read['request_id'] in refused_read['msg']

    assert not partial.get('failed'), partial
    assert list(partial['settings']) == ['cn-hangzhou']
    assert [(r['region_id'], r['error_code']) for r in partial['failed_regions']] == [('cn-shanghai', 'InvalidOperation.NotSupported')]
    assert partial['failed_regions'][0]['request_id']
    assert any('cn-shanghai' in warning for warning in partial.get('warnings', []))

    messages = [result['msg'] for result in run.results[3:]]
    assert all(result['failed'] for result in run.results[3:])
    assert 'oss_delivery.bucket_name' in messages[0]
    assert 'encryption_key_id' in messages[1]
    assert 'bucket_name is not set' in messages[2]
    assert 'logstore_name' in messages[3]
    assert 'sls_delivery.logstore_name' in messages[4]
    assert 'nothing to set' in messages[5]
    assert untouched.stats()['requests'] == []  # refused before any call
