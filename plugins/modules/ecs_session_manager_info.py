#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ecs_session_manager_info
short_description: Read Session Manager's audit posture - enabled, and where session records are delivered
version_added: 0.2.0
description:
  - Reads, for each region of O(region_id), the two Cloud Assistant settings that decide whether remote sessions
    are recorded - whether Session Manager is enabled for the account, and whether the session operation records
    are delivered to OSS (with which encryption) or to Simple Log Service - through the signed RPC call
    C(DescribeCloudAssistantSettings).
  - Session Manager is enabled or disabled for the whole account (the setting "takes effect in all regions"); the
    delivery of session records is set per region.
  - Each call is retried on its own after throttling or server errors, like the pages of a listing.
  - A region that does not offer the setting is left out of RV(settings) and reported in RV(failed_regions), with a
    warning; any other failure fails the task.
  - Read-only. The RAM identity needs the action C(ecs:DescribeCloudAssistantSettings).
author:
  - alicloud.ecs maintainers (@alicloud-ecs)
extends_documentation_fragment:
  - alicloud.ecs.alicloud
attributes:
  check_mode:
    description: Can run in check mode and return the same result as without it.
    support: full
    details: The call runs in check mode too; the module never changes anything.
  diff_mode:
    description: Would show a diff in diff mode.
    support: none
notes:
  - Everything in the result comes from the API and is data, never a template, on every ansible-core version.
  - The service's error code for a region without the setting is not documented; the codes taken for it are
    C(InvalidRegionId.NotFound) and those saying the region or operation is not supported (C(UnsupportedRegion),
    C(InvalidOperation.NotSupported), C(Operation.NotSupported), C(UnsupportedOperation) and a few variants).
seealso:
  - module: alicloud.ecs.ecs_session_manager
  - module: alicloud.ecs.ecs_terminal_session_info
'''

EXAMPLES = r'''
- name: Read the posture of two regions
  alicloud.ecs.ecs_session_manager_info:
    region_id: [cn-hangzhou, cn-shanghai]
  register: posture

- name: Fail when a region records no session
  ansible.builtin.assert:
    that:
      - posture.session_manager_enabled
      - posture.regions_without_delivery | length == 0
    fail_msg: "Session records are not delivered in {{ posture.regions_without_delivery | join(', ') }}"
'''

RETURN = r'''
settings:
  description:
    - The posture of each region, keyed by region ID. Fields the service adds later are kept, under their snake_case
      names with their values as they came.
  returned: always
  type: dict
  sample:
    cn-hangzhou:
      session_manager_enabled: true
      oss_delivery:
        enabled: true
        bucket_name: audit-bucket
        prefix: sessions/
        encryption_type: KMS
        encryption_algorithm: AES256
        encryption_key_id: key-hzz6a4d2b0fa7b2x0k8ze
      sls_delivery:
        enabled: false
        project_name: null
        logstore_name: null
  contains:
    session_manager_enabled:
      description: Whether Session Manager is enabled (account-wide, the same in every region).
      type: bool
      sample: true
    oss_delivery:
      description: The delivery of session records to OSS; C(enabled=false) and the other fields null when none is set.
      type: dict
      contains:
        enabled:
          description: Whether session records are delivered to OSS.
          type: bool
          sample: true
        bucket_name:
          description: The OSS bucket.
          type: str
          sample: audit-bucket
        prefix:
          description: The object name prefix in the bucket.
          type: str
          sample: sessions/
        encryption_type:
          description: C(Inherit) (the bucket's own), C(OssManaged) or C(KMS).
          type: str
          sample: KMS
        encryption_algorithm:
          description: C(AES256) or C(SM4).
          type: str
          sample: AES256
        encryption_key_id:
          description: The KMS key, with C(encryption_type=KMS).
          type: str
          sample: key-hzz6a4d2b0fa7b2x0k8ze
    sls_delivery:
      description: The delivery of session records to Simple Log Service; C(enabled=false) and the other fields null when none is set.
      type: dict
      contains:
        enabled:
          description: Whether session records are delivered to Simple Log Service.
          type: bool
          sample: false
        project_name:
          description: The Simple Log Service project.
          type: str
          sample: audit-project
        logstore_name:
          description: The Logstore of that project.
          type: str
          sample: session_logs
session_manager_enabled:
  description: Whether Session Manager is enabled for the account; null when no region could be read.
  returned: always
  type: bool
  sample: true
regions_without_delivery:
  description: The regions of RV(settings) where session records go neither to OSS nor to Simple Log Service.
  returned: always
  type: list
  elements: str
  sample: [cn-shanghai]
failed_regions:
  description: The regions that do not offer the setting, each with the message, error code and request ID.
  returned: always
  type: list
  elements: dict
  sample:
    - region_id: ap-southeast-7
      msg: "The service refused the request: ... (error code: InvalidOperation.NotSupported, HTTP status: 400, request ID: ...)"
      error_code: InvalidOperation.NotSupported
      http_status: 400
      request_id: 473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E
api_calls:
  description: API calls made, retries included.
  returned: always
  type: int
  sample: 2
'''

from ansible_collections.alicloud.ecs.plugins.module_utils.listing import CallCounter
from ansible_collections.alicloud.ecs.plugins.module_utils.module import AlicloudModule
from ansible_collections.alicloud.ecs.plugins.module_utils.session_manager import read_posture, regions_without_delivery


def main():
    module = AlicloudModule(supports_check_mode=True)
    module.validate_connection()
    module.require_sdk()
    counter = CallCounter()
    settings, failed = read_posture(module, counter)
    first = next(iter(settings.values()), None)
    module.exit_json(changed=False, settings=settings,
                     session_manager_enabled=first['session_manager_enabled'] if first else None,
                     regions_without_delivery=regions_without_delivery(settings), failed_regions=failed,
                     api_calls=counter.count)


if __name__ == '__main__':
    main()
