"""Describe/ModifyCloudAssistantSettings on the local endpoint: per-account state, strict queries, faults."""
from __future__ import annotations

import json

import pytest

DESCRIBE = 'DescribeCloudAssistantSettings'
MODIFY = 'ModifyCloudAssistantSettings'
REGIONS = {'cn-hangzhou': [], 'cn-shanghai': []}
BOTH = {'SettingType.1': 'SessionManagerConfig', 'SettingType.2': 'SessionManagerDelivery'}


def describe(sdk, client, region='cn-hangzhou', **query):
    return sdk.call(client, dict({'RegionId': region}, **(query or BOTH)), action=DESCRIBE)


def modify(sdk, client, region='cn-hangzhou', **query):
    return sdk.call(client, dict({'RegionId': region}, **query), action=MODIFY)


def refused(sdk, client, action, query):
    with pytest.raises(Exception) as raised:
        sdk.call(client, query, action=action)
    return raised.value


def test_session_manager_is_account_wide_and_delivery_per_region(make_endpoint, sdk):
    endpoint = make_endpoint(dict(REGIONS))
    client = sdk.client(endpoint)
    assert describe(sdk, client)['SessionManagerConfig'] == {'SessionManagerEnabled': False}
    modify(sdk, client, SettingType='SessionManagerConfig', SessionManagerConfig='{"SessionManagerEnabled":true}')
    oss = {'Enabled': True, 'BucketName': 'audit-bucket', 'EncryptionType': 'KMS', 'EncryptionKeyId': 'k-1'}
    modify(sdk, client, SettingType='SessionManagerDelivery', OssDeliveryConfig=json.dumps(oss))
    hangzhou, shanghai = describe(sdk, client), describe(sdk, client, 'cn-shanghai')
    assert hangzhou['SessionManagerConfig'] == shanghai['SessionManagerConfig'] == {'SessionManagerEnabled': True}
    assert hangzhou['OssDeliveryConfigs']['OssDeliveryConfig'] == [dict(oss, DeliveryType='SessionManager')]
    assert shanghai['OssDeliveryConfigs']['OssDeliveryConfig'] == [{'Enabled': False, 'DeliveryType': 'SessionManager'}]
    # A Modify keeps the fields it does not name.
    modify(sdk, client, SettingType='SessionManagerDelivery', OssDeliveryConfig='{"Enabled":false}')
    assert endpoint.assistant.snapshot()['oss']['cn-hangzhou'] == dict(oss, Enabled=False)
    only_config = describe(sdk, client, **{'SettingType.1': 'SessionManagerConfig'})
    assert set(only_config) == {'RequestId', 'SessionManagerConfig'}
    assert len(endpoint.assistant.modify_calls()) == 3


@pytest.mark.parametrize('action, query, code', [
    (DESCRIBE, {'RegionId': 'cn-hangzhou'}, 'MissingParameter'),
    (DESCRIBE, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerConfig'}, 'InvalidParameter'),  # not flattened
    (DESCRIBE, {'RegionId': 'cn-hangzhou', 'SettingType.2': 'SessionManagerConfig'}, 'InvalidParameter'),
    (DESCRIBE, {'RegionId': 'cn-hangzhou', 'SettingType.1': 'SessionManager'}, 'InvalidParameter'),
    (DESCRIBE, {'RegionId': 'cn-hangzhou', 'SettingType.1': 'SessionManagerConfig', 'SettingTypes.2': 'x'}, 'InvalidParameter'),
    (DESCRIBE, {'SettingType.1': 'SessionManagerConfig'}, 'MissingParameter'),
    (DESCRIBE, {'RegionId': 'eu-nowhere-9', 'SettingType.1': 'SessionManagerConfig'}, 'InvalidRegionId.NotFound'),
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SessionManagerConfig': '{"SessionManagerEnabled":true}'}, 'MissingParameter'),
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerConfig',
              'SessionManagerConfig': '{"SessionManagerEnabled":"true"}'}, 'InvalidParameter'),  # a string, not a boolean
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerConfig',
              'SessionManagerConfig': '{"SessionManagerEnable":true}'}, 'InvalidParameter'),  # misspelt key
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerConfig',
              'SessionManagerConfig.SessionManagerEnabled': 'true'}, 'InvalidParameter'),  # flattened, not JSON
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerConfig', 'SessionManagerConfig': 'true'}, 'InvalidParameter'),
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerConfig', 'SessionManagerConfig': '{}'}, 'MissingParameter'),
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerDelivery',
              'SessionManagerConfig': '{"SessionManagerEnabled":true}'}, 'InvalidParameter'),  # wrong setting type
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerDelivery'}, 'MissingParameter'),
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerDelivery',
              'OssDeliveryConfig': '{"Enabled":true}'}, 'InvalidParameter'),  # no bucket
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerDelivery',
              'OssDeliveryConfig': '{"Enabled":true,"BucketName":"b-1","EncryptionType":"KMS"}'}, 'InvalidParameter'),
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerDelivery',
              'SlsDeliveryConfig': '{"Enabled":true,"ProjectName":"p-1"}'}, 'InvalidParameter'),
    (MODIFY, {'RegionId': 'cn-hangzhou', 'SettingType': 'SessionManagerDelivery', 'OssDeliveryConfig': '{"Enabled":false}',
              'DeliveryType': 'SessionManager'}, 'InvalidParameter'),  # a parameter the SDK never sends
])
def test_queries_the_official_sdk_would_not_send_are_refused(make_endpoint, sdk, action, query, code):
    endpoint = make_endpoint(dict(REGIONS))
    error = refused(sdk, sdk.client(endpoint), action, query)
    assert error.code == code
    assert endpoint.assistant.snapshot() == {'session_manager_enabled': False,
                                             'oss': {r: {'Enabled': False} for r in REGIONS},
                                             'sls': {r: {'Enabled': False} for r in REGIONS}}


@pytest.mark.parametrize('action', [DESCRIBE, MODIFY])
def test_a_refused_permission_names_the_ram_action(make_endpoint, sdk, action):
    endpoint = make_endpoint(dict(REGIONS))
    endpoint.assistant.forbidden_actions = {action}
    query = dict({'RegionId': 'cn-hangzhou'}, **(BOTH if action == DESCRIBE else {
        'SettingType': 'SessionManagerConfig', 'SessionManagerConfig': '{"SessionManagerEnabled":true}'}))
    error = refused(sdk, sdk.client(endpoint), action, query)
    assert error.code == 'Forbidden.RAM' and error.status_code == 403
    assert error.data['AccessDeniedDetail']['AuthAction'] == 'ecs:' + action
    assert endpoint.assistant.snapshot()['session_manager_enabled'] is False


def test_unsupported_regions_and_unknown_fields(make_endpoint, sdk):
    endpoint = make_endpoint(dict(REGIONS))
    endpoint.assistant.unsupported_regions = {'cn-shanghai'}
    endpoint.assistant.extra_fields = {'NewSetting': {'A': 1}}
    endpoint.assistant.extra_delivery_fields = {'RetentionDays': 30}
    client = sdk.client(endpoint)
    error = refused(sdk, client, DESCRIBE, dict({'RegionId': 'cn-shanghai'}, **BOTH))
    assert error.code == 'InvalidOperation.NotSupported' and error.status_code == 400
    body = describe(sdk, client)
    assert body['NewSetting'] == {'A': 1}
    assert body['SlsDeliveryConfigs']['SlsDeliveryConfig'][0]['RetentionDays'] == 30


def test_throttling_faults_apply_to_these_actions(make_endpoint, sdk):
    endpoint = make_endpoint(dict(REGIONS), faults={'throttle_first': 1, 'unavailable_first': 1})
    client = sdk.client(endpoint)
    assert refused(sdk, client, DESCRIBE, dict({'RegionId': 'cn-hangzhou'}, **BOTH)).code == 'Throttling.User'
    assert refused(sdk, client, DESCRIBE, dict({'RegionId': 'cn-hangzhou'}, **BOTH)).code == 'ServiceUnavailable'
    assert describe(sdk, client)['SessionManagerConfig'] == {'SessionManagerEnabled': False}
