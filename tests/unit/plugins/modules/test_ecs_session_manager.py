"""main() of ecs_session_manager and ecs_session_manager_info with the SDK client replaced: no endpoint, no playbook."""

from __future__ import annotations

import json

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.connection import Connection
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError
from ansible_collections.alicloud.ecs.plugins.modules.ecs_session_manager import main as set_main
from ansible_collections.alicloud.ecs.plugins.modules.ecs_session_manager_info import main as info_main

OSS = {'enabled': True, 'bucket_name': 'audit-bucket', 'encryption_type': 'KMS', 'encryption_key_id': 'key-1'}


class Account:
    """One account's settings as the service would answer them; records every call, can refuse or fail some."""

    def __init__(self, regions, enabled=False):
        self.enabled = enabled
        self.oss = {region: {'Enabled': False} for region in regions}
        self.calls = []
        self.errors = {}  # (action, region) -> AlicloudError

    def client_for(self, region_id, pool_size=8):  # pylint: disable=unused-argument
        account = self

        class Client:
            def call(self, action, query):
                account.calls.append((action, dict(query)))
                error = account.errors.get((action, region_id))
                if error is not None:
                    error.api_action = action
                    raise error
                if action == 'ModifyCloudAssistantSettings':
                    if 'SessionManagerConfig' in query:
                        account.enabled = json.loads(query['SessionManagerConfig'])['SessionManagerEnabled']
                    if 'OssDeliveryConfig' in query:
                        account.oss[region_id] = json.loads(query['OssDeliveryConfig'])
                    return {'RequestId': 'R-%d' % len(account.calls)}
                return {'RequestId': 'R', 'SessionManagerConfig': {'SessionManagerEnabled': account.enabled},
                        'OssDeliveryConfigs': {'OssDeliveryConfig': [dict(account.oss[region_id], DeliveryType='SessionManager')]}}
        return Client()

    def modifies(self):
        return [query for action, query in self.calls if action == 'ModifyCloudAssistantSettings']


@pytest.fixture
def account(monkeypatch):
    found = Account(['cn-hangzhou', 'cn-shanghai'])
    monkeypatch.setattr(Connection, 'client_for', lambda self, region_id, pool_size=8: found.client_for(region_id))
    return found


REGIONS = ['cn-hangzhou', 'cn-shanghai']


def test_check_mode_reports_the_calls_and_makes_none(run_module, account):
    result = run_module(set_main, region_id=REGIONS, enabled=True, oss_delivery=OSS, _ansible_check_mode=True)
    assert not result['failed'] and result['changed'] is True
    assert [(m['region_id'], m['setting_type']) for m in result['modifications']] == [
        ('cn-hangzhou', 'SessionManagerConfig'), ('cn-hangzhou', 'SessionManagerDelivery'), ('cn-shanghai', 'SessionManagerDelivery')]
    assert account.modifies() == [] and result['api_calls'] == 2
    assert result['diff']['before']['cn-hangzhou']['session_manager_enabled'] is False
    assert result['diff']['after']['cn-hangzhou']['session_manager_enabled'] is True


def test_a_real_run_then_a_second_one_that_changes_nothing(run_module, account):
    first = run_module(set_main, region_id=REGIONS, enabled=True, oss_delivery=OSS)
    assert first['changed'] is True and [m['request_id'] for m in first['modifications']] == ['R-3', 'R-4', 'R-5']  # after two reads
    assert account.enabled is True and account.oss['cn-shanghai']['BucketName'] == 'audit-bucket'
    second = run_module(set_main, region_id=REGIONS, enabled=True, oss_delivery=OSS)
    assert second['changed'] is False and second['modifications'] == [] and len(account.modifies()) == 3
    assert second['regions_without_delivery'] == []


def test_a_refused_write_names_the_action_and_what_was_done(run_module, account):
    account.errors[('ModifyCloudAssistantSettings', 'cn-shanghai')] = AlicloudError(
        'The service refused the request: denied', code='Forbidden.RAM', http_status=403, request_id='REQ-403')
    result = run_module(set_main, region_id=REGIONS, oss_delivery=OSS)
    assert result['failed'] and result['changed'] is True
    assert 'ecs:ModifyCloudAssistantSettings' in result['msg'] and 'REQ-403' in result['msg']
    assert 'SessionManagerDelivery in cn-shanghai' in result['msg']
    assert [m['region_id'] for m in result['modifications']] == ['cn-hangzhou']
    assert result['error_code'] == 'Forbidden.RAM'


def test_bad_input_fails_before_any_call(run_module, account):
    result = run_module(set_main, region_id=REGIONS, oss_delivery={'enabled': True, 'encryption_type': 'KMS'})
    assert result['failed'] and 'bucket_name' in result['msg']
    result = run_module(set_main, region_id=REGIONS, oss_delivery={'encryption_type': 'Managed'})
    assert result['failed'] and 'encryption_type' in result['msg']
    assert account.calls == []


def test_info_reports_an_unsupported_region_and_fails_on_a_refused_read(run_module, account):
    account.errors[('DescribeCloudAssistantSettings', 'cn-shanghai')] = AlicloudError(
        'no', code='InvalidOperation.NotSupported', http_status=400, request_id='REQ-400')
    result = run_module(info_main, region_id=REGIONS)
    assert not result['failed'] and list(result['settings']) == ['cn-hangzhou']
    assert result['failed_regions'][0]['region_id'] == 'cn-shanghai' and result['failed_regions'][0]['request_id'] == 'REQ-400'
    assert result['regions_without_delivery'] == ['cn-hangzhou'] and result['session_manager_enabled'] is False
    account.errors[('DescribeCloudAssistantSettings', 'cn-hangzhou')] = AlicloudError(
        'denied', code='Forbidden.RAM', http_status=403, request_id='REQ-403')
    result = run_module(info_main, region_id=REGIONS)
    assert result['failed'] and 'ecs:DescribeCloudAssistantSettings' in result['msg'] and '(cn-hangzhou)' in result['msg']
