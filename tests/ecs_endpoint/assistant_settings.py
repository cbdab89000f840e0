"""DescribeCloudAssistantSettings and ModifyCloudAssistantSettings: per-account state, strict queries.

The state of one account: ``SessionManagerEnabled`` is account-wide ("takes effect in all regions"); the delivery
of session records is per region. Queries are checked as the official generated SDK (alibabacloud-ecs20140526)
sends them: ``SettingType.N`` for Describe; one ``SettingType`` and compact JSON strings for Modify, whose keys and
value types are checked too. A parameter the SDK never sends (a misspelling) is refused, as is a JSON value that
is not what the models say (``"Enabled": "true"``).

Faults (attributes, changeable while serving): ``forbidden_actions`` (Forbidden.RAM naming the RAM action),
``unsupported_regions`` (answered with ``unsupported_code``), ``extra_fields`` (unknown top-level fields added to
every Describe answer) and ``extra_delivery_fields`` (unknown fields in each delivery).
"""
from __future__ import annotations

import copy
import json
import re
import threading

from ecs_endpoint.errors import ApiError
from ecs_endpoint.faults import ACCESS_DENIED_DETAIL

DESCRIBE = 'DescribeCloudAssistantSettings'
MODIFY = 'ModifyCloudAssistantSettings'
ACTIONS = (DESCRIBE, MODIFY)
SETTING_TYPES = ('SessionManagerDelivery', 'InvocationDelivery', 'AgentUpgradeConfig', 'SessionManagerConfig')
EMULATED_TYPES = ('SessionManagerDelivery', 'SessionManagerConfig')
# Parameters every RPC call may carry (legacy owner parameters of the SDK models, and the V2 signature's).
COMMON = ('RegionId', 'OwnerAccount', 'OwnerId', 'ResourceOwnerAccount', 'ResourceOwnerId')
V2_PARAMS = ('Action', 'Version', 'AccessKeyId', 'Signature', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce',
             'Timestamp', 'Format', 'SecurityToken')
MODIFY_PARAMS = ('SettingType', 'SessionManagerConfig', 'OssDeliveryConfig', 'SlsDeliveryConfig', 'AgentUpgradeConfig',
                 'ResourceUsageConfig')
# JSON keys of each nested configuration and the JSON type the models give them.
OSS_KEYS = {'BucketName': str, 'Enabled': bool, 'EncryptionAlgorithm': str, 'EncryptionKeyId': str,
            'EncryptionType': str, 'Prefix': str}
SLS_KEYS = {'Enabled': bool, 'LogstoreName': str, 'ProjectName': str}
CONFIG_KEYS = {'SessionManagerEnabled': bool}
ENCRYPTION_TYPES = ('Inherit', 'OssManaged', 'KMS')
ENCRYPTION_ALGORITHMS = ('AES256', 'SM4')
DEFAULT_UNSUPPORTED_CODE = 'InvalidOperation.NotSupported'
_SETTING_TYPE_KEY = re.compile(r'SettingType\.([1-9][0-9]?)')


def _parsed(name, text, keys):
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ApiError('InvalidParameter', name) from exc
    if not isinstance(document, dict):
        raise ApiError('InvalidParameter', name)
    for key, value in document.items():
        if key not in keys or not isinstance(value, keys[key]):
            raise ApiError('InvalidParameter', '%s.%s' % (name, key))
    return document


class AssistantSettings:
    """One account's Cloud Assistant settings for the regions the endpoint serves."""

    def __init__(self, regions):
        self._lock = threading.Lock()
        self.regions = set(regions)
        self.session_manager_enabled = False
        self.oss = {region: {'Enabled': False} for region in self.regions}
        self.sls = {region: {'Enabled': False} for region in self.regions}
        self.forbidden_actions = set()
        self.unsupported_regions = set()
        self.unsupported_code = DEFAULT_UNSUPPORTED_CODE
        self.extra_fields = {}
        self.extra_delivery_fields = {}
        self.calls = []  # (action, params without signature parameters), in order

    # state seen by tests --------------------------------------------------------------------------------------
    def set_delivery(self, region, oss=None, sls=None):
        """Replace a region's deliveries (API field names)."""
        with self._lock:
            if oss is not None:
                self.oss[region] = dict(oss)
            if sls is not None:
                self.sls[region] = dict(sls)

    def snapshot(self):
        with self._lock:
            return {'session_manager_enabled': self.session_manager_enabled, 'oss': copy.deepcopy(self.oss),
                    'sls': copy.deepcopy(self.sls)}

    def modify_calls(self):
        with self._lock:
            return [params for action, params in self.calls if action == MODIFY]

    # the API ---------------------------------------------------------------------------------------------------
    def answer(self, action, params, request_id):
        """The JSON document for ``action`` with ``params`` (signature checked already); raises ApiError."""
        own = {key: value for key, value in params.items() if key not in V2_PARAMS}
        with self._lock:
            self.calls.append((action, dict(own)))
        if action in self.forbidden_actions:
            raise ApiError('Forbidden.RAM', extra={'AccessDeniedDetail': dict(ACCESS_DENIED_DETAIL, AuthAction='ecs:' + action)})
        region = own.get('RegionId')
        if not region:
            raise ApiError('MissingParameter', 'RegionId')
        if action == DESCRIBE:
            types = self._describe_types(own)
        else:
            setting_type, configs = self._modify_params(own)
        if region in self.unsupported_regions:
            raise ApiError(self.unsupported_code, status=400, message='The operation is not supported in this region.')
        if region not in self.regions:
            raise ApiError('InvalidRegionId.NotFound')
        if action == DESCRIBE:
            return self._describe(region, types, request_id)
        self._modify(region, setting_type, configs)
        return {'RequestId': request_id}

    @staticmethod
    def _describe_types(params):
        unknown = sorted(key for key in params if key not in COMMON and not _SETTING_TYPE_KEY.fullmatch(key))
        if unknown:
            raise ApiError('InvalidParameter', unknown[0])
        numbers = sorted(int(_SETTING_TYPE_KEY.fullmatch(key).group(1)) for key in params if key.startswith('SettingType.'))
        if not numbers:
            raise ApiError('MissingParameter', 'SettingType')
        if numbers != list(range(1, len(numbers) + 1)):
            raise ApiError('InvalidParameter', 'SettingType')
        types = [params['SettingType.%d' % number] for number in numbers]
        for value in types:
            if value not in SETTING_TYPES:
                raise ApiError('InvalidParameter', 'SettingType')
        return types

    @staticmethod
    def _modify_params(params):
        unknown = sorted(key for key in params if key not in COMMON and key not in MODIFY_PARAMS)
        if unknown:
            raise ApiError('InvalidParameter', unknown[0])
        setting_type = params.get('SettingType')
        if not setting_type:
            raise ApiError('MissingParameter', 'SettingType')
        if setting_type not in SETTING_TYPES:
            raise ApiError('InvalidParameter', 'SettingType')
        if setting_type not in EMULATED_TYPES:
            raise ApiError('InvalidParameter', 'SettingType', message='SettingType %s is not emulated here.' % setting_type)
        expected = ('SessionManagerConfig',) if setting_type == 'SessionManagerConfig' else ('OssDeliveryConfig', 'SlsDeliveryConfig')
        stray = sorted(key for key in params if key in MODIFY_PARAMS and key != 'SettingType' and key not in expected)
        if stray:
            raise ApiError('InvalidParameter', stray[0])
        keys = {'SessionManagerConfig': CONFIG_KEYS, 'OssDeliveryConfig': OSS_KEYS, 'SlsDeliveryConfig': SLS_KEYS}
        configs = {name: _parsed(name, params[name], keys[name]) for name in expected if name in params}
        if not configs:
            raise ApiError('MissingParameter', expected[0])
        if 'SessionManagerConfig' in configs and 'SessionManagerEnabled' not in configs['SessionManagerConfig']:
            raise ApiError('MissingParameter', 'SessionManagerConfig.SessionManagerEnabled')
        return setting_type, configs

    def _describe(self, region, types, request_id):
        doc = {'RequestId': request_id}
        with self._lock:
            if 'SessionManagerConfig' in types:
                doc['SessionManagerConfig'] = {'SessionManagerEnabled': self.session_manager_enabled}
            if 'SessionManagerDelivery' in types:
                oss = dict(self.oss[region], DeliveryType='SessionManager', **self.extra_delivery_fields)
                sls = dict(self.sls[region], DeliveryType='SessionManager', **self.extra_delivery_fields)
                doc['OssDeliveryConfigs'] = {'OssDeliveryConfig': [oss]}
                doc['SlsDeliveryConfigs'] = {'SlsDeliveryConfig': [sls]}
            doc.update(copy.deepcopy(self.extra_fields))
        return doc

    def _modify(self, region, setting_type, configs):
        with self._lock:
            if setting_type == 'SessionManagerConfig':
                self.session_manager_enabled = configs['SessionManagerConfig']['SessionManagerEnabled']
                return
            oss = dict(self.oss[region], **configs.get('OssDeliveryConfig', {}))
            sls = dict(self.sls[region], **configs.get('SlsDeliveryConfig', {}))
            _check_oss(oss)
            if sls.get('Enabled') and not (sls.get('ProjectName') and sls.get('LogstoreName')):
                raise ApiError('InvalidParameter', 'SlsDeliveryConfig.ProjectName')
            self.oss[region], self.sls[region] = oss, sls


def _check_oss(oss):
    if oss.get('Enabled') and not oss.get('BucketName'):
        raise ApiError('InvalidParameter', 'OssDeliveryConfig.BucketName')
    if oss.get('EncryptionType') is not None and oss['EncryptionType'] not in ENCRYPTION_TYPES:
        raise ApiError('InvalidParameter', 'OssDeliveryConfig.EncryptionType')
    if oss.get('EncryptionAlgorithm') is not None and oss['EncryptionAlgorithm'] not in ENCRYPTION_ALGORITHMS:
        raise ApiError('InvalidParameter', 'OssDeliveryConfig.EncryptionAlgorithm')
    if oss.get('EncryptionType') == 'KMS' and not oss.get('EncryptionKeyId'):
        raise ApiError('InvalidParameter', 'OssDeliveryConfig.EncryptionKeyId')
    prefix = oss.get('Prefix') or ''
    if len(prefix) > 254 or prefix.startswith(('/', '\\')):
        raise ApiError('InvalidParameter', 'OssDeliveryConfig.Prefix')
