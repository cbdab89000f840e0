#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ecs_session_manager
short_description: Set Session Manager's audit posture - enabled, and session records delivered to OSS or Simple Log Service
version_added: 0.2.0
description:
  - Declares whether Session Manager is enabled for the account, and where the session operation records of each
    region of O(region_id) are delivered - to OSS (with which encryption) and/or to Simple Log Service.
  - Reads the current settings first (C(DescribeCloudAssistantSettings), as M(alicloud.ecs.ecs_session_manager_info)
    does) and calls C(ModifyCloudAssistantSettings) only for what differs - C(changed) is true only then. Running the
    task again changes nothing.
  - Session Manager is enabled or disabled for the whole account (the setting takes effect in all regions), so
    O(enabled) costs one call at most, made in the first region of O(region_id) and reported once.
  - A delivery is changed with one call per region that carries the deliveries that differ, each whole - its current
    fields with the ones given - so that a field left out keeps its value.
  - Every value is checked before any call - names of the wrong form, KMS encryption without a key, a delivery
    enabled without its destination.
  - A region that does not offer the setting is reported in RV(failed_regions), with a warning, and left as it is;
    the other regions are still set.
  - The RAM identity needs C(ecs:DescribeCloudAssistantSettings) and, to change anything,
    C(ecs:ModifyCloudAssistantSettings); a refusal names the action, with the error code and request ID.
author:
  - alicloud.ecs maintainers (@alicloud-ecs)
extends_documentation_fragment:
  - alicloud.ecs.alicloud
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Check mode reads the settings and reports the calls that would be made in RV(modifications); it calls nothing that writes.
  diff_mode:
    description: Shows the settings of every region before and after.
    support: full
options:
  enabled:
    description:
      - Whether Session Manager is enabled for the account (all regions). Left as it is when not given.
    type: bool
  oss_delivery:
    description:
      - The delivery of session records to OSS in each region of O(region_id). Left as it is when not given; a
        sub-option not given keeps its current value.
    type: dict
    suboptions:
      enabled:
        description: Whether session records are delivered to OSS. V(true) needs O(oss_delivery.bucket_name).
        type: bool
      bucket_name:
        description: The OSS bucket - 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or a digit.
        type: str
      prefix:
        description:
          - The object name prefix - at most 254 characters, not starting with C(/) or C(\). An empty string removes it.
        type: str
      encryption_type:
        description:
          - How the records are encrypted - V(Inherit) (the bucket's own), V(OssManaged), or V(KMS), which needs
            O(oss_delivery.encryption_key_id).
        type: str
        choices: [Inherit, OssManaged, KMS]
      encryption_algorithm:
        description: The encryption algorithm.
        type: str
        choices: [AES256, SM4]
      encryption_key_id:
        description: The KMS key that encrypts the records, only with O(oss_delivery.encryption_type=KMS).
        type: str
  sls_delivery:
    description:
      - The delivery of session records to Simple Log Service in each region of O(region_id). Left as it is when
        not given; a sub-option not given keeps its current value.
    type: dict
    suboptions:
      enabled:
        description:
          - Whether session records are delivered to Simple Log Service. V(true) needs O(sls_delivery.project_name)
            and O(sls_delivery.logstore_name).
        type: bool
      project_name:
        description: The project - 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or a digit.
        type: str
      logstore_name:
        description:
          - The Logstore - 2 to 63 lower-case letters, digits, hyphens and underscores, starting and ending with a
            letter or a digit.
        type: str
notes:
  - At least one of O(enabled), O(oss_delivery) and O(sls_delivery) is needed.
  - Everything in the result that comes from the API is data, never a template, on every ansible-core version.
  - The service's error code for a region without the setting is not documented; see
    M(alicloud.ecs.ecs_session_manager_info) for the codes taken for it.
seealso:
  - module: alicloud.ecs.ecs_session_manager_info
'''

EXAMPLES = r'''
- name: Enable Session Manager and deliver session records to OSS, encrypted with KMS
  alicloud.ecs.ecs_session_manager:
    region_id: [cn-hangzhou, cn-shanghai]
    enabled: true
    oss_delivery:
      enabled: true
      bucket_name: audit-bucket
      prefix: sessions/
      encryption_type: KMS
      encryption_key_id: key-hzz6a4d2b0fa7b2x0k8ze

- name: Move the session records from OSS to Simple Log Service
  alicloud.ecs.ecs_session_manager:
    region_id: cn-hangzhou
    oss_delivery:
      enabled: false
    sls_delivery:
      enabled: true
      project_name: audit-project
      logstore_name: session_logs

- name: What would change, without changing anything (run the playbook with --check --diff)
  alicloud.ecs.ecs_session_manager:
    region_id: cn-hangzhou
    enabled: false
  check_mode: true
  diff: true
'''

RETURN = r'''
settings:
  description:
    - The posture of each region once the task is done (in check mode, as it would be), keyed by region ID; the same
      fields as RV(alicloud.ecs.ecs_session_manager_info#module:settings), fields the service adds later included.
  returned: always
  type: dict
  sample:
    cn-hangzhou:
      session_manager_enabled: true
      oss_delivery:
        enabled: false
        bucket_name: audit-bucket
        prefix: sessions/
        encryption_type: KMS
        encryption_algorithm: null
        encryption_key_id: key-hzz6a4d2b0fa7b2x0k8ze
      sls_delivery:
        enabled: true
        project_name: audit-project
        logstore_name: session_logs
session_manager_enabled:
  description: Whether Session Manager is enabled for the account once the task is done; null when no region could be read.
  returned: always
  type: bool
  sample: true
regions_without_delivery:
  description: The regions of RV(settings) where session records go neither to OSS nor to Simple Log Service, once the task is done.
  returned: always
  type: list
  elements: str
  sample: []
modifications:
  description: The C(ModifyCloudAssistantSettings) calls made (in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  contains:
    region_id:
      description: The region of the call (for C(SessionManagerConfig), the first region - the setting is account-wide).
      type: str
      sample: cn-hangzhou
    setting_type:
      description: C(SessionManagerConfig) (enabled) or C(SessionManagerDelivery) (deliveries).
      type: str
      sample: SessionManagerDelivery
    request_id:
      description: The request ID of the call (not in check mode).
      type: str
      sample: 473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E
failed_regions:
  description: The regions that do not offer the setting, left as they are, each with the message, error code and request ID.
  returned: always
  type: list
  elements: dict
  sample: []
diff:
  description: The settings of every region before and after (shown with C(--diff)).
  returned: always
  type: dict
  contains:
    before:
      description: RV(settings) as read, keyed by region ID.
      type: dict
    after:
      description: RV(settings) once the task is done (in check mode, as it would be).
      type: dict
api_calls:
  description: API calls made, retries included.
  returned: always
  type: int
  sample: 3
'''

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import CallCounter
from ansible_collections.alicloud.ecs.plugins.module_utils.module import AlicloudModule
from ansible_collections.alicloud.ecs.plugins.module_utils.session_manager import (
    ENCRYPTION_ALGORITHMS, ENCRYPTION_TYPES, MODIFY_ACTION, PostureError, SettingsClient, diff, plan_changes, read_posture,
    regions_without_delivery, validate_posture)


def argument_spec():
    return dict(
        enabled=dict(type='bool'),
        oss_delivery=dict(type='dict', options=dict(
            enabled=dict(type='bool'),
            bucket_name=dict(type='str'),
            prefix=dict(type='str'),
            encryption_type=dict(type='str', choices=list(ENCRYPTION_TYPES)),
            encryption_algorithm=dict(type='str', choices=list(ENCRYPTION_ALGORITHMS)),
            encryption_key_id=dict(type='str', no_log=False),
        )),
        sls_delivery=dict(type='dict', options=dict(
            enabled=dict(type='bool'),
            project_name=dict(type='str'),
            logstore_name=dict(type='str'),
        )),
    )


def apply(module, plan, counter, result):
    """Make the calls of ``plan``; on a failure, fail with what was done so far."""
    writer = SettingsClient(module.connection.client_for, module.connection.retry_policy(), counter.increment)
    done = []
    for call in plan.calls:
        try:
            body = writer.call(MODIFY_ACTION, call['region_id'], call['query'])
        except AlicloudError as error:
            result.update(changed=bool(done), modifications=done, api_calls=counter.count)
            module.fail_json_alicloud(error, f"Failed to change the Session Manager settings ({call['setting_type']} in "
                                             f"{call['region_id']})", **result)
        done.append(dict(region_id=call['region_id'], setting_type=call['setting_type'], request_id=body.get('RequestId')))
    return done


def main():
    module = AlicloudModule(argument_spec=argument_spec(), supports_check_mode=True)
    module.validate_connection()
    params = module.params
    try:
        validate_posture(params['enabled'], params['oss_delivery'], params['sls_delivery'])
    except PostureError as error:
        module.fail_json(msg=str(error))
    module.require_sdk()

    counter = CallCounter()
    before, failed = read_posture(module, counter)
    plan = plan_changes(before, params['enabled'], params['oss_delivery'], params['sls_delivery'])
    after = plan.after
    first = next(iter(after.values()), None)
    result = dict(changed=plan.changed, settings=after, session_manager_enabled=first['session_manager_enabled'] if first else None,
                  regions_without_delivery=regions_without_delivery(after), failed_regions=failed, diff=diff(before, after))
    if module.check_mode:
        modifications = [dict(region_id=call['region_id'], setting_type=call['setting_type']) for call in plan.calls]
    else:
        modifications = apply(module, plan, counter, result)
    module.exit_json(modifications=modifications, api_calls=counter.count, **result)


if __name__ == '__main__':
    main()
