"""session_manager.py: parsing the posture, checking the one asked for, the differences and the queries."""

from __future__ import annotations

import json

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils import session_manager as sm
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import CallCounter
from ansible_collections.alicloud.ecs.plugins.module_utils.retries import RetryPolicy

OSS_ON = {'DeliveryType': 'SessionManager', 'Enabled': True, 'BucketName': 'audit-bucket', 'Prefix': 'sessions/',
          'EncryptionType': 'KMS', 'EncryptionAlgorithm': 'AES256', 'EncryptionKeyId': 'key-1'}
OSS_FACTS = {'enabled': True, 'bucket_name': 'audit-bucket', 'prefix': 'sessions/', 'encryption_type': 'KMS',
             'encryption_algorithm': 'AES256', 'encryption_key_id': 'key-1'}
OFF_OSS = sm.empty_delivery(sm.OSS_FIELDS)
OFF_SLS = sm.empty_delivery(sm.SLS_FIELDS)


def answer(enabled=True, oss=(), sls=(), **extra):
    body = {'RequestId': 'R-1', 'SessionManagerConfig': {'SessionManagerEnabled': enabled},
            'OssDeliveryConfigs': {'OssDeliveryConfig': list(oss)}, 'SlsDeliveryConfigs': {'SlsDeliveryConfig': list(sls)}}
    body.update(extra)
    return body


def facts(enabled=False, oss=None, sls=None):
    return {'session_manager_enabled': enabled, 'oss_delivery': dict(oss or OFF_OSS), 'sls_delivery': dict(sls or OFF_SLS)}


# --- parsing ------------------------------------------------------------------------------------------------------

def test_parse_keeps_the_session_delivery_and_drops_the_invocation_one():
    invocation = dict(OSS_ON, DeliveryType='Invocation', BucketName='command-logs')
    parsed = sm.parse_settings(answer(oss=[invocation, OSS_ON], sls=[{'DeliveryType': 'SessionManager', 'Enabled': False}]))
    assert parsed == {'session_manager_enabled': True, 'oss_delivery': OSS_FACTS,
                      'sls_delivery': {'enabled': False, 'project_name': None, 'logstore_name': None}}


def test_parse_a_region_with_nothing_set_and_liberal_shapes():
    assert sm.parse_settings({'RequestId': 'R'}) == facts()
    # A bare list instead of the XML-style wrapper, a single object, booleans written as text.
    parsed = sm.parse_settings({'SessionManagerConfig': {'SessionManagerEnabled': 'true'},
                                'OssDeliveryConfigs': [dict(OSS_ON, Enabled='True')],
                                'SlsDeliveryConfigs': {'SlsDeliveryConfig': {'Enabled': 'false', 'ProjectName': 'p'}}})
    assert parsed['session_manager_enabled'] is True and parsed['oss_delivery'] == OSS_FACTS
    assert parsed['sls_delivery'] == {'enabled': False, 'project_name': 'p', 'logstore_name': None}


def test_unknown_fields_are_kept_under_snake_case_names_with_their_values_as_they_came():
    parsed = sm.parse_settings(answer(oss=[dict(OSS_ON, RetentionDays=30)], NewSetting={'InnerKey': 1},
                                      AgentUpgradeConfig={'Enabled': True}))
    assert parsed['new_setting'] == {'InnerKey': 1}
    assert parsed['oss_delivery']['retention_days'] == 30
    assert 'request_id' not in parsed and 'agent_upgrade_config' not in parsed


@pytest.mark.parametrize('body', [[], {'SessionManagerConfig': {'SessionManagerEnabled': 'maybe'}},
                                  {'OssDeliveryConfigs': {'OssDeliveryConfig': 'bucket'}}])
def test_an_answer_of_the_wrong_shape_is_a_clear_error(body):
    with pytest.raises(AlicloudError) as caught:
        sm.parse_settings(body)
    assert caught.value.code == 'MalformedResponse'


@pytest.mark.parametrize('name, expected', [('BucketName', 'bucket_name'), ('SLSProject', 'sls_project'),
                                            ('EncryptionKeyId', 'encryption_key_id'), ('Enabled', 'enabled')])
def test_snake_case(name, expected):
    assert sm.snake_case(name) == expected


def test_regions_without_delivery():
    settings = {'r1': facts(oss=OSS_FACTS), 'r2': facts(), 'r3': facts(sls={'enabled': True})}
    assert sm.regions_without_delivery(settings) == ['r2']


# --- validation ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('oss, sls, words', [
    ({'bucket_name': 'Audit'}, None, 'oss_delivery.bucket_name'),
    ({'bucket_name': 'ab'}, None, 'oss_delivery.bucket_name'),
    ({'bucket_name': 'audit-'}, None, 'oss_delivery.bucket_name'),
    ({'bucket_name': 'a' * 64}, None, 'oss_delivery.bucket_name'),
    ({'enabled': True}, None, 'bucket_name is not set'),
    ({'bucket_name': 'audit', 'encryption_type': 'KMS'}, None, 'needs encryption_key_id'),
    ({'bucket_name': 'audit', 'encryption_key_id': 'k'}, None, 'only used with encryption_type KMS'),
    ({'prefix': '/logs'}, None, 'oss_delivery.prefix'),
    ({'prefix': 'p' * 255}, None, 'oss_delivery.prefix'),
    (None, {'project_name': 'Audit'}, 'sls_delivery.project_name'),
    (None, {'logstore_name': 'logs_'}, 'sls_delivery.logstore_name'),
    (None, {'enabled': True, 'logstore_name': 'logs'}, 'project_name and logstore_name'),
])
def test_bad_postures_are_refused_naming_the_option(oss, sls, words):
    with pytest.raises(sm.PostureError) as caught:
        sm.validate_posture(None, oss, sls)
    assert words in str(caught.value)


def test_good_postures_pass():
    sm.validate_posture(True, None, None)
    sm.validate_posture(None, dict(OSS_FACTS), {'enabled': True, 'project_name': 'audit-1', 'logstore_name': 'ab'})
    sm.validate_posture(None, {'enabled': False}, None)
    sm.validate_posture(None, {'prefix': ''}, None)
    with pytest.raises(sm.PostureError):
        sm.validate_posture(None, None, None)


# --- queries, differences, plan -----------------------------------------------------------------------------------

def test_queries_are_the_sdk_serialisation():
    assert sm.describe_query('r1') == {'RegionId': 'r1', 'SettingType.1': 'SessionManagerConfig',
                                       'SettingType.2': 'SessionManagerDelivery'}
    assert sm.config_query('r1', False) == {'RegionId': 'r1', 'SettingType': 'SessionManagerConfig',
                                            'SessionManagerConfig': '{"SessionManagerEnabled":false}'}
    query = sm.delivery_query('r1', oss=dict(OSS_FACTS, prefix='审计'), sls={'enabled': False, 'project_name': None})
    assert query['OssDeliveryConfig'] == ('{"BucketName":"audit-bucket","Enabled":true,"EncryptionAlgorithm":"AES256",'
                                          '"EncryptionKeyId":"key-1","EncryptionType":"KMS","Prefix":"审计"}')
    assert query['SlsDeliveryConfig'] == '{"Enabled":false}'
    assert 'SessionManagerConfig' not in query and query['SettingType'] == 'SessionManagerDelivery'


def test_nothing_to_do_when_the_posture_is_there():
    current = {'r1': facts(True, OSS_FACTS), 'r2': facts(True, OSS_FACTS)}
    plan = sm.plan_changes(current, True, {'enabled': True, 'bucket_name': 'audit-bucket', 'prefix': 'sessions/'}, None)
    assert not plan.changed and plan.calls == [] and plan.after == current


def test_session_manager_is_switched_once_for_the_account():
    current = {'r1': facts(False), 'r2': facts(False), 'r3': facts(False)}
    plan = sm.plan_changes(current, True)
    assert [(call['region_id'], call['setting_type']) for call in plan.calls] == [('r1', 'SessionManagerConfig')]
    assert all(region['session_manager_enabled'] for region in plan.after.values())
    assert all(not region['session_manager_enabled'] for region in current.values()), 'the input was changed'


def test_moving_from_oss_to_sls_sends_both_deliveries_whole_in_one_call_per_region():
    sls = {'enabled': True, 'project_name': 'audit-project', 'logstore_name': 'logs'}
    current = {'r1': facts(True, OSS_FACTS), 'r2': facts(True, OSS_FACTS, sls)}
    plan = sm.plan_changes(current, None, {'enabled': False}, sls)
    assert [call['region_id'] for call in plan.calls] == ['r1', 'r2']
    first, second = (call['query'] for call in plan.calls)
    assert json.loads(first['OssDeliveryConfig']) == {'BucketName': 'audit-bucket', 'Enabled': False, 'EncryptionAlgorithm': 'AES256',
                                                      'EncryptionKeyId': 'key-1', 'EncryptionType': 'KMS', 'Prefix': 'sessions/'}
    assert json.loads(first['SlsDeliveryConfig']) == {'Enabled': True, 'LogstoreName': 'logs', 'ProjectName': 'audit-project'}
    assert 'SlsDeliveryConfig' not in second  # already delivered to that Logstore
    assert plan.after['r1']['oss_delivery'] == dict(OSS_FACTS, enabled=False)
    assert sm.regions_without_delivery(plan.after) == []


def test_an_empty_prefix_equals_none_and_none_means_leave_it():
    current = {'r1': facts(oss=dict(OFF_OSS, bucket_name='audit-bucket'))}
    assert not sm.plan_changes(current, None, {'prefix': '', 'bucket_name': None}).changed
    assert sm.plan_changes(current, None, {'prefix': 'x/'}).changed


def test_diff_is_keyed_by_region():
    before = {'r1': facts()}
    after = sm.plan_changes(before, True).after
    assert sm.diff(before, after) == {'before': {'r1': facts()}, 'after': {'r1': facts(True)}}


# --- the calls ----------------------------------------------------------------------------------------------------

class FakeClient:
    def __init__(self, answers):
        self.answers = list(answers)
        self.sent = []

    def call(self, action, query):
        self.sent.append((action, query))
        item = self.answers.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def test_throttling_and_5xx_are_retried_like_pages_and_unsupported_regions_reported():
    throttled = AlicloudError('slow down', code='Throttling.User', http_status=400, retryable=True)
    unavailable = AlicloudError('down', code='ServiceUnavailable', http_status=503, retryable=True)
    unsupported = AlicloudError('no', code='InvalidOperation.NotSupported', http_status=400)
    clients = {'r1': FakeClient([throttled, unavailable, answer(oss=[OSS_ON])]), 'r2': FakeClient([unsupported])}
    counter, waits = CallCounter(), []
    reader = sm.SettingsClient(clients.__getitem__, RetryPolicy(retries=3, sleep=waits.append), counter.increment)
    settings, unsupported_regions = reader.read(['r1', 'r2'])
    assert settings == {'r1': facts(True, OSS_FACTS)}
    assert [(region, error.code) for region, error in unsupported_regions] == [('r2', 'InvalidOperation.NotSupported')]
    assert counter.count == 4 and len(waits) == 2
    assert clients['r1'].sent[0] == ('DescribeCloudAssistantSettings', sm.describe_query('r1'))


def test_a_refused_read_raises_with_its_region():
    denied = AlicloudError('denied', code='Forbidden.RAM', http_status=403)
    reader = sm.SettingsClient({'r1': FakeClient([denied])}.__getitem__, RetryPolicy(retries=3, sleep=lambda _s: None),
                               CallCounter().increment)
    with pytest.raises(AlicloudError) as caught:
        reader.read(['r1'])
    assert caught.value.code == 'Forbidden.RAM' and caught.value.region_id == 'r1'
