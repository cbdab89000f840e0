#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ecs_terminal_session
short_description: End ECS Session Manager terminal sessions, by ID or by the criteria audits use
version_added: 0.1.0
description:
  - Ends Alibaba Cloud ECS Session Manager sessions with the RPC call C(EndTerminalSession) - one or
    more sessions by ID, or every session on given instances that meets the same O(filters) as
    M(alicloud.ecs.ecs_terminal_session_info) (for example every open root session on these instances).
  - The sessions are listed first through the same code as M(alicloud.ecs.ecs_terminal_session_info),
    so only sessions that are open are ended. A session that is closing (a connection C(Terminating)) or
    closed is left as it is (see RV(not_ended)) and is not a change; running the task again changes nothing.
  - Ending a session closes it for good, on every instance it reached. With O(instance_id), a session is
    ended when it is open on one of those instances, and RV(ended[].other_instance_ids) lists the other
    instances it reached, which lose their connection too.
  - The RAM identity needs C(ecs:DescribeTerminalSessions) and C(ecs:EndTerminalSession) on the instances.
author:
  - alicloud.ecs maintainers (@alicloud-ecs)
extends_documentation_fragment:
  - alicloud.ecs.alicloud
  - alicloud.ecs.alicloud.filters
  - alicloud.ecs.alicloud.listing
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Check mode lists the sessions and reports the ones that would be ended in RV(ended); it calls nothing that writes.
  diff_mode:
    description: Would show a diff in diff mode.
    support: none
options:
  state:
    description:
      - V(absent) ends the selected sessions that are open.
    type: str
    default: absent
    choices: [absent]
  session_id:
    description:
      - The sessions to end, one ID or a list.
      - With O(filters), a session is ended only when it meets them; one they exclude is reported in RV(not_ended)
        with the reason C(excluded by filters) and never ended. The sessions are listed without the filters and
        checked against them afterwards, so check mode and the real run agree on every ID.
      - A session ID the listing does not return is sent to C(EndTerminalSession) only without O(filters), to get the
        service's answer; a session the service does not know is not a failure, it is reported in RV(not_ended) with
        the service's error code. In check mode such an ID is reported in RV(not_ended) as C(would be tried), with
        RV(not_ended[].would_try=true). With O(filters) it is never sent (the filters cannot be checked for it) and is
        reported as not found in the listing.
    type: list
    elements: str
    aliases: [session_ids]
  instance_id:
    description:
      - End the open sessions on these instances (one ID or a list) that meet O(filters).
    type: list
    elements: str
    aliases: [instance_ids]
  concurrency:
    description: How many listings run at once, 1 to 32. The sessions are then ended one after another.
    type: int
    default: 8
notes:
  - Ending twice is harmless, so a task whose call timed out may simply be run again.
  - When the service refuses the permission, the run stops at once (every further call would be refused too)
    and the task fails naming C(ecs:EndTerminalSession); the sessions not attempted are in RV(not_ended).
  - When some sessions could not be ended, the task fails; RV(ended) still says which sessions this run ended.
seealso:
  - module: alicloud.ecs.ecs_terminal_session_info
'''

EXAMPLES = r'''
- name: End one session
  alicloud.ecs.ecs_terminal_session:
    region_id: cn-hangzhou
    session_id: s-hz023od0x9a1b2c3

- name: End every open root session on two instances
  alicloud.ecs.ecs_terminal_session:
    region_id: cn-hangzhou
    instance_id: [i-bp1i7gg30r52z2em0001, i-bp1i7gg30r52z2em0002]
    filters:
      username: root
  register: ended

- name: End every open session on the host before patching it (the module runs on the controller)
  alicloud.ecs.ecs_terminal_session:
    region_id: cn-hangzhou
    instance_id: "{{ instance_id }}"
  delegate_to: localhost

- name: What would be ended, without ending anything
  alicloud.ecs.ecs_terminal_session:
    region_id: cn-hangzhou
    instance_id: i-bp1i7gg30r52z2em0001
    filters:
      created_before: 8h
  check_mode: true
'''

RETURN = r'''
ended:
  description: The sessions this run ended (in check mode, would end).
  returned: always
  type: list
  elements: dict
  contains:
    session_id:
      description: The session ID.
      type: str
      sample: s-hz023od0x9a1b2c3
    region_id:
      description: Its region.
      type: str
      sample: cn-hangzhou
    instance_ids:
      description: Every instance the session reached.
      type: list
      elements: str
      sample: [i-bp1i7gg30r52z2em0001]
    other_instance_ids:
      description: With O(instance_id), the instances the session reached besides those selected; they lost their connection too.
      type: list
      elements: str
      sample: []
    request_id:
      description: Request ID of the EndTerminalSession call (not in check mode).
      type: str
      sample: 473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E
not_ended:
  description:
    - Selected sessions that were not ended, each with why.
    - Not called C(skipped), which Ansible reads as the status of the task itself (a task returning a non-empty
      C(skipped) would be reported as skipped, and ansible-core 2.21 replaces that value with a boolean).
  returned: always
  type: list
  elements: dict
  contains:
    session_id:
      description: The session ID.
      type: str
      sample: s-hz023od0x9a1b2c4
    region_id:
      description: Its region.
      type: str
      sample: cn-hangzhou
    reason:
      description:
        - Why it was not ended - already closed, already closing, C(excluded by filters) (an ID of O(session_id) that
          O(filters) exclude), unknown to the service, not found in the listing (with O(filters)), not attempted, or
          in check mode C(would be tried ...) (see RV(not_ended[].would_try)).
      type: str
      sample: already closed
    would_try:
      description:
        - Only in check mode, for an ID of O(session_id) that the listing did not return, given without O(filters) -
          the real run sends it to C(EndTerminalSession) and reports the service's answer (usually unknown to the
          service, with its error code; it would be in RV(ended) if the service did end it).
      type: bool
      returned: in check mode, for such an ID
      sample: true
    error_code:
      description: The service's error code, for a session it does not know.
      type: str
      sample: InvalidSessionId.NotFound
    request_id:
      description: The request ID of that answer.
      type: str
      sample: 473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83F
failures:
  description: Sessions that could not be ended, each with the message, error code, HTTP status and request ID.
  returned: always
  type: list
  elements: dict
  sample:
    - session_id: s-hz023od0x9a1b2c5
      region_id: cn-hangzhou
      msg: "The service refused the request: ... (error code: InternalError, HTTP status: 500, request ID: ...)"
      error_code: InternalError
      http_status: 500
      request_id: 473469C7-AA6F-4DC5-B3DB-A3DC0DE3C840
api_calls:
  description: API calls made, listings and retries included.
  returned: always
  type: int
  sample: 3
'''

from ansible_collections.alicloud.ecs.plugins.module_utils.ending import choose, end_sessions, split_by_criteria, unlisted
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import CallCounter, listing_argument_spec, query_plan
from ansible_collections.alicloud.ecs.plugins.module_utils.module import AlicloudModule, selection_argument_spec

BLANK_ID = '{name}: an empty ID selects nothing; give real IDs'


def argument_spec():
    return dict(
        state=dict(type='str', default='absent', choices=['absent']),
        **selection_argument_spec(),
        **listing_argument_spec(page_size=False)
    )


def main():
    module = AlicloudModule(argument_spec=argument_spec(), supports_check_mode=True,
                            required_one_of=[('session_id', 'instance_id')], mutually_exclusive=[('session_id', 'instance_id')])
    module.validate()
    session_ids, instance_ids = module.ids('session_id', BLANK_ID), module.ids('instance_id', BLANK_ID)
    criteria = module.criteria()
    module.require_sdk()

    # Sessions asked for by ID are listed without the criteria and split afterwards: an ID the filters
    # exclude must be told apart from one the service does not list (only the latter may be tried).
    listed = module.list_sessions(query_plan(module.region_ids, instance_ids, session_ids), None if session_ids else criteria,
                                  'Failed to list the sessions to end', result=dict(ended=[], not_ended=[], failures=[]))
    selected, skipped = split_by_criteria(listed.sessions, criteria if session_ids else None)
    targets, closed = choose(selected, instance_ids)
    tried, not_tried = unlisted(session_ids, listed.sessions, module.region_ids, filtered=bool(criteria),
                                check_mode=module.check_mode)

    counter = CallCounter()
    outcome = end_sessions(module.connection.client_for, module.connection.retry_policy(), counter,
                           targets + tried, instance_ids, module.check_mode,
                           lambda error: module.describe_failure(error)['msg'])
    ended_ids = {item['session_id'] for item in outcome.ended}
    # An unlisted ID is tried in every region: report it once.
    skipped = _unique_by_id([*skipped, *closed, *not_tried, *(item for item in outcome.skipped if item['session_id'] not in ended_ids)])
    result = dict(changed=bool(outcome.ended), ended=outcome.ended, not_ended=skipped, failures=outcome.failures,
                  api_calls=listed.api_calls + counter.count)
    if outcome.refused is not None:
        module.fail_json_alicloud(outcome.refused, 'Ending terminal sessions stopped: the permission was refused', **result)
    if outcome.failures:
        ended = ', '.join(item['session_id'] for item in outcome.ended) or 'none'
        module.fail_json(msg=f"{len(outcome.failures)} session(s) could not be ended: "
                             f"{'; '.join(item['msg'] for item in outcome.failures)}. Ended by this run: {ended}.", **result)
    module.exit_json(**result)


def _unique_by_id(entries):
    unique = {}
    for item in entries:
        unique.setdefault(item['session_id'], item)
    return list(unique.values())


if __name__ == '__main__':
    main()
