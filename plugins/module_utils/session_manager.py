# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Session Manager's audit posture: read it, check the one asked for, plan the calls that reach it.

Pure functions, except :class:`SettingsClient`, which sends the calls through sdk.py's client with the retries of
listing pages. The wire form follows the official generated ECS SDK (alibabacloud-ecs20140526 7.11.8):

- ``DescribeCloudAssistantSettings``: ``RegionId`` and the list ``SettingType`` flattened as ``SettingType.1``,
  ``SettingType.2``; the answer wraps lists XML-style (``OssDeliveryConfigs.OssDeliveryConfig[]``).
- ``ModifyCloudAssistantSettings``: ``RegionId``, one ``SettingType``, and each nested configuration as a compact
  JSON string in the query (``SessionManagerConfig``, ``OssDeliveryConfig``, ``SlsDeliveryConfig``): no spaces,
  keys in the SDK models' order, booleans as JSON ``true``/``false``, text not escaped to ASCII.

Facts use snake_case. A field the service adds later is kept under its snake_case name with its value as it came
(nested values are not renamed): at the top level of a region's facts, or inside ``oss_delivery``/``sls_delivery``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError

DESCRIBE_ACTION = 'DescribeCloudAssistantSettings'
MODIFY_ACTION = 'ModifyCloudAssistantSettings'
CONFIG_SETTING = 'SessionManagerConfig'
DELIVERY_SETTING = 'SessionManagerDelivery'
# The DeliveryType of session records (the other one, Invocation, is for command runs).
SESSION_DELIVERY_TYPE = 'SessionManager'

# (fact name, API name), in the order the SDK's request models write them into the JSON string.
OSS_FIELDS = (('bucket_name', 'BucketName'), ('enabled', 'Enabled'), ('encryption_algorithm', 'EncryptionAlgorithm'),
              ('encryption_key_id', 'EncryptionKeyId'), ('encryption_type', 'EncryptionType'), ('prefix', 'Prefix'))
SLS_FIELDS = (('enabled', 'Enabled'), ('logstore_name', 'LogstoreName'), ('project_name', 'ProjectName'))
DELIVERIES = {
    'oss_delivery': ('OssDeliveryConfigs', 'OssDeliveryConfig', OSS_FIELDS),
    'sls_delivery': ('SlsDeliveryConfigs', 'SlsDeliveryConfig', SLS_FIELDS),
}
# Parts of an answer that are not settings of this feature.
_NOT_SETTINGS = ('RequestId', 'SessionManagerConfig', 'OssDeliveryConfigs', 'SlsDeliveryConfigs', 'AgentUpgradeConfig',
                 'ResourceUsageConfig')

ENCRYPTION_TYPES = ('Inherit', 'OssManaged', 'KMS')
ENCRYPTION_ALGORITHMS = ('AES256', 'SM4')
MAX_PREFIX_LENGTH = 254
# OSS: 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or a digit.
_BUCKET_RE = re.compile(r'[a-z0-9][a-z0-9-]{1,61}[a-z0-9]')
# Simple Log Service: a project as a bucket; a Logstore 2 to 63 lower-case letters, digits, hyphens and underscores,
# starting and ending with a letter or a digit.
_PROJECT_RE = _BUCKET_RE
_LOGSTORE_RE = re.compile(r'[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]')

# Error codes meaning "this region does not offer the setting". The API reference lists no code for it; these are
# the codes ECS uses for a region or an operation it does not serve (an assumption, see docs/compliance.md): such a
# region is reported on its own instead of failing the task.
UNSUPPORTED_CODES = frozenset(('InvalidRegionId.NotFound', 'InvalidRegionId.NotSupported', 'UnsupportedRegion',
                               'Unsupported.Region', 'OperationDenied.UnsupportedRegion', 'InvalidOperation.NotSupported',
                               'Operation.NotSupported', 'UnsupportedOperation'))


class PostureError(ValueError):
    """A desired posture that cannot work; the message names the option."""


def snake_case(name: str) -> str:
    """``BucketName`` -> ``bucket_name``; ``SLSProject`` -> ``sls_project``."""
    text = re.sub(r'([A-Z]+)([A-Z][a-z])', r'\1_\2', str(name))
    return re.sub(r'([a-z0-9])([A-Z])', r'\1_\2', text).replace('-', '_').lower()


def as_bool(value: Any) -> Optional[bool]:
    """A boolean the service wrote as a JSON boolean or as the text ``true``/``false``; None when absent."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ('true', 'false'):
        return value.strip().lower() == 'true'
    raise AlicloudError(f'The service answered a setting that is not a boolean: {value!r}', code='MalformedResponse')


def describe_query(region_id: str) -> Dict[str, str]:
    """The DescribeCloudAssistantSettings query for ``region_id``: both settings of Session Manager."""
    return {'RegionId': region_id, 'SettingType.1': CONFIG_SETTING, 'SettingType.2': DELIVERY_SETTING}


def _entries(body: Mapping[str, Any], wrapper: str, item: str) -> List[Any]:
    """The list under ``wrapper.item`` (XML-style wrapping), or a bare list under ``wrapper``."""
    found = body.get(wrapper)
    if isinstance(found, Mapping):
        found = found.get(item)
    if found is None:
        return []
    if isinstance(found, Mapping):
        return [found]
    if not isinstance(found, list):
        raise AlicloudError(f'The service answered {wrapper} that is not a list', code='MalformedResponse')
    return found


def empty_delivery(fields) -> Dict[str, Any]:
    """A delivery that is not configured: disabled, every other field None."""
    return {name: (False if name == 'enabled' else None) for name, _api in fields}


def parse_delivery(entries: List[Any], fields) -> Dict[str, Any]:
    """The session delivery among ``entries`` (DeliveryType SessionManager, or none given) as snake_case facts."""
    facts = empty_delivery(fields)
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get('DeliveryType') not in (None, SESSION_DELIVERY_TYPE):
            continue
        for key, value in entry.items():
            if key == 'DeliveryType':
                continue
            facts[snake_case(key)] = as_bool(value) if key == 'Enabled' else value
        facts['enabled'] = bool(facts['enabled'])
        break
    return facts


def parse_settings(body: Any) -> Dict[str, Any]:
    """One region's facts from a DescribeCloudAssistantSettings answer.

    ``session_manager_enabled`` (account-wide), ``oss_delivery`` and ``sls_delivery`` (of session records), plus
    any unknown top-level field under its snake_case name.
    """
    if not isinstance(body, Mapping):
        raise AlicloudError('The service answered DescribeCloudAssistantSettings with something that is not an object',
                            code='MalformedResponse')
    config = body.get('SessionManagerConfig')
    enabled = as_bool(config.get('SessionManagerEnabled')) if isinstance(config, Mapping) else None
    facts = {'session_manager_enabled': bool(enabled)}
    for name, (wrapper, item, fields) in DELIVERIES.items():
        facts[name] = parse_delivery(_entries(body, wrapper, item), fields)
    for key, value in body.items():
        if key not in _NOT_SETTINGS:
            facts.setdefault(snake_case(key), value)
    return facts


def delivers_sessions(facts: Mapping[str, Any]) -> bool:
    """Whether session records of a region are delivered anywhere (OSS or Simple Log Service)."""
    return any((facts.get(name) or {}).get('enabled') for name in DELIVERIES)


def regions_without_delivery(settings: Mapping[str, Mapping[str, Any]]) -> List[str]:
    """The regions of ``settings`` where neither OSS nor Simple Log Service receives the session records."""
    return [region for region, facts in settings.items() if not delivers_sessions(facts)]


def is_unsupported(error: AlicloudError) -> bool:
    """The region does not offer the setting (see :data:`UNSUPPORTED_CODES`)."""
    return (error.code or '') in UNSUPPORTED_CODES


# --- the posture asked for ----------------------------------------------------------------------------------------

def _check_name(option: str, value: Optional[str], pattern, rule: str) -> None:
    if value is not None and not pattern.fullmatch(value):
        raise PostureError(f'{option}: {value!r} is not a valid name ({rule})')


def validate_oss(desired: Optional[Mapping[str, Any]]) -> None:
    """Refuse an OSS delivery that cannot work, naming the sub-option."""
    if desired is None:
        return
    _check_name('oss_delivery.bucket_name', desired.get('bucket_name'), _BUCKET_RE,
                '3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or a digit')
    prefix = desired.get('prefix')
    if prefix is not None and (len(prefix) > MAX_PREFIX_LENGTH or prefix.startswith(('/', '\\'))):
        raise PostureError(f'oss_delivery.prefix: at most {MAX_PREFIX_LENGTH} characters, not starting with / or \\')
    if desired.get('enabled') and not desired.get('bucket_name'):
        raise PostureError('oss_delivery: enabled is true but bucket_name is not set: session records need a bucket')
    kms = desired.get('encryption_type') == 'KMS'
    if kms and not desired.get('encryption_key_id'):
        raise PostureError('oss_delivery: encryption_type KMS needs encryption_key_id (the KMS key that encrypts the records)')
    if desired.get('encryption_key_id') and not kms:
        raise PostureError('oss_delivery: encryption_key_id is only used with encryption_type KMS')


def validate_sls(desired: Optional[Mapping[str, Any]]) -> None:
    """Refuse a Simple Log Service delivery that cannot work, naming the sub-option."""
    if desired is None:
        return
    _check_name('sls_delivery.project_name', desired.get('project_name'), _PROJECT_RE,
                '3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or a digit')
    _check_name('sls_delivery.logstore_name', desired.get('logstore_name'), _LOGSTORE_RE,
                '2 to 63 lower-case letters, digits, hyphens and underscores, starting and ending with a letter or a digit')
    if desired.get('enabled') and not (desired.get('project_name') and desired.get('logstore_name')):
        raise PostureError('sls_delivery: enabled is true but project_name and logstore_name are not both set: '
                           'session records need a Logstore')


def validate_posture(enabled: Optional[bool], oss: Optional[Mapping[str, Any]], sls: Optional[Mapping[str, Any]]) -> None:
    """Check the posture asked for before any call; raises :class:`PostureError`."""
    if enabled is None and oss is None and sls is None:
        raise PostureError('nothing to set: give enabled, oss_delivery or sls_delivery')
    validate_oss(oss)
    validate_sls(sls)


def wanted(desired: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The fields of a desired delivery that were given (None means "leave as it is")."""
    return {key: value for key, value in (desired or {}).items() if value is not None}


# --- differences and the calls that remove them -------------------------------------------------------------------

def config_json(facts: Mapping[str, Any], fields) -> str:
    """A nested configuration as the SDK writes it into the query: compact JSON, the model's key order."""
    document = {api: facts[name] for name, api in fields if facts.get(name) is not None}
    return json.dumps(document, ensure_ascii=False, separators=(',', ':'))


def config_query(region_id: str, enabled: bool) -> Dict[str, str]:
    """The ModifyCloudAssistantSettings query that switches Session Manager on or off (for the whole account)."""
    return {'RegionId': region_id, 'SettingType': CONFIG_SETTING,
            'SessionManagerConfig': json.dumps({'SessionManagerEnabled': bool(enabled)}, separators=(',', ':'))}


def delivery_query(region_id: str, oss: Optional[Mapping[str, Any]] = None,
                   sls: Optional[Mapping[str, Any]] = None) -> Dict[str, str]:
    """The ModifyCloudAssistantSettings query that sets the session delivery of ``region_id``.

    ``oss``/``sls``: the whole delivery to set (facts), or None to leave it out of the call.
    """
    query = {'RegionId': region_id, 'SettingType': DELIVERY_SETTING}
    if oss is not None:
        query['OssDeliveryConfig'] = config_json(oss, OSS_FIELDS)
    if sls is not None:
        query['SlsDeliveryConfig'] = config_json(sls, SLS_FIELDS)
    return query


def merged(current: Mapping[str, Any], desired: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """``current`` with the given fields of ``desired``; a disabled OSS delivery keeps its other fields."""
    result = dict(current)
    result.update(wanted(desired))
    return result


def differs(current: Mapping[str, Any], desired: Optional[Mapping[str, Any]]) -> bool:
    """Whether a given field of ``desired`` differs from ``current`` (an empty prefix equals none)."""
    for key, value in wanted(desired).items():
        have = current.get(key)
        if key == 'prefix' and not value and not have:
            continue
        if have != value:
            return True
    return False


class Plan:
    """What reaching the posture takes: ``calls`` (dicts with region_id, setting_type, query) and ``after``."""

    def __init__(self, calls: List[Dict[str, Any]], after: Dict[str, Dict[str, Any]]):
        self.calls = calls
        self.after = after

    @property
    def changed(self) -> bool:
        return bool(self.calls)


def plan_changes(current: Mapping[str, Mapping[str, Any]], enabled: Optional[bool] = None,
                 oss: Optional[Mapping[str, Any]] = None, sls: Optional[Mapping[str, Any]] = None) -> Plan:
    """The Modify calls that bring each region of ``current`` (region -> facts) to the posture asked for.

    Session Manager is account-wide: at most one call, in the first region, whatever the number of regions. A region's
    delivery is set by one call carrying only the deliveries that differ, each whole (its current fields with the
    given ones), so that a field left out is never reset by the service.
    """
    calls, after = [], {}
    regions = list(current)
    account_value = current[regions[0]].get('session_manager_enabled') if regions else None
    if enabled is not None and regions and account_value != enabled:
        calls.append({'region_id': regions[0], 'setting_type': CONFIG_SETTING, 'query': config_query(regions[0], enabled)})
    for region in regions:
        facts = dict(current[region])
        if enabled is not None:
            facts['session_manager_enabled'] = enabled
        changes = {}
        for name, desired in (('oss_delivery', oss), ('sls_delivery', sls)):
            if desired is not None and differs(facts[name], desired):
                facts[name] = changes[name] = merged(facts[name], desired)
        if changes:
            calls.append({'region_id': region, 'setting_type': DELIVERY_SETTING,
                          'query': delivery_query(region, changes.get('oss_delivery'), changes.get('sls_delivery'))})
        after[region] = facts
    return Plan(calls, after)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> Dict[str, Any]:
    """Ansible's diff: the facts of every region before and after, keyed by region ID."""
    return {'before': dict(before), 'after': dict(after)}


# --- the calls ----------------------------------------------------------------------------------------------------

class SettingsClient:
    """Describe and Modify calls through sdk.py's clients, each retried like a listing page."""

    def __init__(self, client_for: Callable[[str], Any], policy: Any, on_attempt: Callable[[], None]):
        self.client_for = client_for
        self.policy = policy
        self.on_attempt = on_attempt

    def call(self, action: str, region_id: str, query: Dict[str, str]) -> Dict[str, Any]:
        client = self.client_for(region_id)
        return self.policy.call(lambda: client.call(action, query), on_attempt=self.on_attempt)

    def read(self, region_ids: List[str]) -> Tuple[Dict[str, Dict[str, Any]], List[Tuple[str, AlicloudError]]]:
        """(facts by region, [(region, error)] for the regions that do not offer the setting); other errors raise."""
        settings, unsupported = {}, []
        for region in region_ids:
            try:
                settings[region] = parse_settings(self.call(DESCRIBE_ACTION, region, describe_query(region)))
            except AlicloudError as error:
                if not is_unsupported(error):
                    error.region_id = region
                    raise
                unsupported.append((region, error))
        return settings, unsupported


READ_FAILED = 'Failed to read the Session Manager settings'


def read_posture(module: Any, counter: Any) -> Tuple[Dict[str, Dict[str, Any]], List[Dict[str, Any]]]:
    """(facts by region, per-region reports) for an AlicloudModule's regions; fails the task on any other error.

    A region that does not offer the setting becomes a report (message, error code, request ID) and a warning.
    """
    reader = SettingsClient(module.connection.client_for, module.connection.retry_policy(), counter.increment)
    try:
        settings, unsupported = reader.read(module.region_ids)
    except AlicloudError as error:
        module.fail_json_alicloud(error, f'{READ_FAILED} ({getattr(error, "region_id", None)})', api_calls=counter.count)
    reports = []
    for region, error in unsupported:
        report = dict(module.describe_failure(error, f'The Session Manager settings are not available in {region}'),
                      region_id=region)
        module.warn(f"Region {region} left out: {report['msg']}")
        reports.append(report)
    return settings, reports
