"""Wire contract of the Session Manager posture calls: the collection's requests against the official SDK's.

For each case of the table, the official generated ECS client (alibabacloud-ecs20140526, a test-only oracle) and the
collection (session_manager.py's queries sent through sdk.py) call the same strict local endpoint, which records both
requests. They must agree on method, path, action, version, every query parameter (the nested configurations parsed
as JSON and compared both as text and as data), the body and the set of signed headers; and the endpoint must accept
both. Table-driven, like test_wire_contract.py, so that the two can be merged.
"""

from __future__ import annotations

import json
import re

import pytest

from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as OfficialClient
from alibabacloud_tea_openapi import models as openapi_models
from darabonba.runtime import RuntimeOptions

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils import session_manager as sm
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialSource

from ecs_endpoint.server import EcsEndpoint

KEY_ID, SECRET = 'LTAIwireassistant0000001', 'wire-assistant-secret-value'
REGION = 'cn-hangzhou'
JSON_PARAMS = ('SessionManagerConfig', 'OssDeliveryConfig', 'SlsDeliveryConfig')


def official_describe(region):
    return 'describe_cloud_assistant_settings_with_options', ecs_models.DescribeCloudAssistantSettingsRequest(
        region_id=region, setting_type=[sm.CONFIG_SETTING, sm.DELIVERY_SETTING])


def official_config(region, enabled):
    return 'modify_cloud_assistant_settings_with_options', ecs_models.ModifyCloudAssistantSettingsRequest(
        region_id=region, setting_type=sm.CONFIG_SETTING,
        session_manager_config=ecs_models.ModifyCloudAssistantSettingsRequestSessionManagerConfig(session_manager_enabled=enabled))


def official_delivery(region, oss=None, sls=None):
    return 'modify_cloud_assistant_settings_with_options', ecs_models.ModifyCloudAssistantSettingsRequest(
        region_id=region, setting_type=sm.DELIVERY_SETTING,
        oss_delivery_config=None if oss is None else ecs_models.ModifyCloudAssistantSettingsRequestOssDeliveryConfig(**oss),
        sls_delivery_config=None if sls is None else ecs_models.ModifyCloudAssistantSettingsRequestSlsDeliveryConfig(**sls))


OSS_KMS = dict(enabled=True, bucket_name='audit-bucket-1', prefix='sessions/audit', encryption_type='KMS',
               encryption_algorithm='AES256', encryption_key_id='key-hzz6a4d2b0fa7b2x0k8ze')
SLS_ON = dict(enabled=True, project_name='audit-project', logstore_name='session_logs')

# label -> (official call, collection's (action, query))
CASES = {
    'describe both settings': (official_describe(REGION), (sm.DESCRIBE_ACTION, sm.describe_query(REGION))),
    'enable Session Manager': (official_config(REGION, True), (sm.MODIFY_ACTION, sm.config_query(REGION, True))),
    'disable Session Manager': (official_config(REGION, False), (sm.MODIFY_ACTION, sm.config_query(REGION, False))),
    'OSS delivery with KMS': (official_delivery(REGION, oss=OSS_KMS), (sm.MODIFY_ACTION, sm.delivery_query(REGION, oss=OSS_KMS))),
    'OSS off and SLS on': (official_delivery(REGION, oss=dict(enabled=False, bucket_name='audit-bucket-1', prefix=''), sls=SLS_ON),
                           (sm.MODIFY_ACTION, sm.delivery_query(REGION, oss=dict(enabled=False, bucket_name='audit-bucket-1',
                                                                                 prefix=''), sls=SLS_ON))),
    'SLS only, disabled': (official_delivery(REGION, sls=dict(enabled=False)),
                           (sm.MODIFY_ACTION, sm.delivery_query(REGION, sls=dict(enabled=False)))),
    'text that is not ASCII': (official_delivery(REGION, oss=dict(enabled=True, bucket_name='audit-bucket-1', prefix='审计/é "q"')),
                               (sm.MODIFY_ACTION, sm.delivery_query(REGION, oss=dict(enabled=True, bucket_name='audit-bucket-1',
                                                                                     prefix='审计/é "q"')))),
}


@pytest.fixture(scope='module')
def endpoint():
    server = EcsEndpoint({REGION: []}, credentials={KEY_ID: {'secret': SECRET, 'security_token': None}}).start()
    yield server
    server.stop()


def official_client(endpoint):
    return OfficialClient(openapi_models.Config(access_key_id=KEY_ID, access_key_secret=SECRET, endpoint=endpoint.endpoint,
                                                protocol='http', region_id=REGION))


def collection_client(endpoint):
    settings = {'endpoint': endpoint.endpoint, 'protocol': 'http', 'validate_certs': True, 'ca_bundle': None,
                'connect_timeout': 5, 'read_timeout': 10, 'pool_size': 2}
    return sdk.RpcClient(settings, CredentialSource('access_key', 'options', KEY_ID, SECRET, None))


def last_request(endpoint):
    request = endpoint.stats()['requests'][-1]
    assert request['status'] == 200, request
    return request


def signed_headers(request):
    found = re.search(r'SignedHeaders=([^,]+)', request['headers']['Authorization'])
    return set(found.group(1).split(';')) - {'x-acs-credentials-provider'}


def shape(request):
    """What must agree: everything but the nonce, the date, the signature and the User-Agent."""
    query = dict(request['query'])
    parsed = {name: json.loads(query[name]) for name in JSON_PARAMS if name in query}
    return {'method': request['method'], 'path': request['path'], 'body': request['body'], 'query': query, 'json': parsed,
            'action': request['headers'].get('x-acs-action'), 'version': request['headers'].get('x-acs-version'),
            'signed': signed_headers(request)}


@pytest.mark.parametrize('label', list(CASES))
def test_the_collection_sends_what_the_official_sdk_sends(endpoint, label):
    (method, request), (action, query) = CASES[label]
    getattr(official_client(endpoint), method)(request, RuntimeOptions())
    official = shape(last_request(endpoint))
    collection_client(endpoint).call(action, query)
    ours = shape(last_request(endpoint))
    assert ours == official
    assert ours['query'], 'nothing was compared'


def test_the_answer_parsed_by_the_official_models_and_by_the_collection_agree(endpoint):
    endpoint.assistant.set_delivery(REGION, oss={'Enabled': True, 'BucketName': 'audit-bucket-1', 'Prefix': 'p',
                                                 'EncryptionType': 'KMS', 'EncryptionAlgorithm': 'SM4', 'EncryptionKeyId': 'k-1'},
                                    sls={'Enabled': True, 'ProjectName': 'audit-project', 'LogstoreName': 'session_logs'})
    endpoint.assistant.session_manager_enabled = True
    method, request = official_describe(REGION)
    model = getattr(official_client(endpoint), method)(request, RuntimeOptions()).body
    facts = sm.parse_settings(collection_client(endpoint).call(sm.DESCRIBE_ACTION, sm.describe_query(REGION)))
    oss = model.oss_delivery_configs.oss_delivery_config[0]
    sls = model.sls_delivery_configs.sls_delivery_config[0]
    assert facts['session_manager_enabled'] is model.session_manager_config.session_manager_enabled is True
    assert facts['oss_delivery'] == {name: getattr(oss, name) for name, _api in sm.OSS_FIELDS}
    assert facts['sls_delivery'] == {name: getattr(sls, name) for name, _api in sm.SLS_FIELDS}
    assert oss.delivery_type == sm.SESSION_DELIVERY_TYPE
