#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ecs_terminal_session_info
short_description: List ECS Session Manager terminal sessions, keyed by instance ID
version_added: 0.1.0
description:
  - Reads the session records of Alibaba Cloud ECS Session Manager through the signed RPC call
    C(DescribeTerminalSessions) - who opened a shell or a port forward on which instance, when,
    as which OS user, from which client address, and whether it is still open.
  - Follows every page of every query. Several regions, instance IDs or session IDs are queried
    concurrently, each page is retried on its own after throttling or server errors, and sessions are
    returned once each, newest first, with a map from instance ID to session IDs.
  - The service keeps records of the last four weeks (newer documentation says 30 days and at most
    1,000 records).
  - The service filters only by instance and session ID; O(filters) selects further on this side.
  - Read-only. The RAM identity needs the action C(ecs:DescribeTerminalSessions) on the instances
    (C(acs:ecs:<region>:<account>:instance/<id>)).
author:
  - alicloud.ecs maintainers (@alicloud-ecs)
extends_documentation_fragment:
  - alicloud.ecs.alicloud
  - alicloud.ecs.alicloud.filters
  - alicloud.ecs.alicloud.query
  - alicloud.ecs.alicloud.listing
  - alicloud.ecs.alicloud.result
attributes:
  check_mode:
    description: Can run in check mode and return the same result as without it.
    support: full
    details: The query runs in check mode too; the module never changes anything.
  diff_mode:
    description: Would show a diff in diff mode.
    support: none
options:
  instance_id:
    description:
      - Only sessions that reached these instances. One ID or a list; each ID is a separate query
        (per region), run concurrently.
      - An empty ID is refused, since it would list the whole region.
    type: list
    elements: str
    aliases: [instance_ids]
  session_id:
    description:
      - Only these sessions. One ID or a list; each ID is a separate query (per region). An empty ID is refused.
    type: list
    elements: str
    aliases: [session_ids]
  max_results:
    description:
      - Page size, 1 to 100. The default 100 makes the fewest calls (the API's own default is 10).
      - A listing resumed with O(next_token) keeps the page size it started with.
    type: int
    default: 100
  max_items:
    description:
      - Return at most this many sessions (after O(filters)), then stop and return RV(next_token).
      - Only for a single query - one region, at most one instance ID and one session ID.
    type: int
  next_token:
    description:
      - Resume a listing where an earlier run with O(max_items) stopped - pass back its RV(next_token)
        unchanged, with the same region, instance ID and session ID. Nothing is lost or repeated
        as long as the records do not change meanwhile.
      - Only for a single query, like O(max_items).
    type: str
  on_region_error:
    description:
      - What to do when a region cannot be listed completely (after O(retries), or within O(listing_timeout) and
        O(max_pages)).
      - V(fail) fails the task, naming the region and the error.
      - V(continue) lets a fleet-wide audit finish - the regions that failed are left out of every result
        (so none is presented incomplete), named in RV(failed_regions) with their error, and a warning is
        shown for each.
    type: str
    default: fail
    choices: [fail, continue]
  concurrency:
    description:
      - How many queries (regions x instance IDs x session IDs) run at once, 1 to 32.
      - Alibaba Cloud counts its throttling quota per API, region and account, shared with the console and
        other tools; lower this when other automation runs at the same time.
      - A throttled call waits and is retried on its own (see O(retries)), so many queries at once slow down
        rather than fail.
    type: int
    default: 8
notes:
  - Pagination follows C(NextToken) until the service returns none or an empty one. A page that is empty
    but carries a token is not the end. A token the service already returned in the same listing stops
    the task with an error before it is sent again, instead of looping.
  - The result order of the service is not documented, so a time window in O(filters) never stops paging early.
  - When a listing fails after its retries, the task fails naming the region and query; partial data is never
    returned as complete.
  - A body that is not JSON is retried like a server error, then fails the task with the HTTP status and the start
    of the body; JSON that is not a page of sessions fails it at once, saying what is wrong.
  - When the RAM identity lacks the permission (C(Forbidden.RAM)), the message names the action
    C(ecs:DescribeTerminalSessions) and shows the service's access-denied detail, also returned as C(access_denied_detail).
  - A session created while a listing is paged may shift records between pages; sessions are deduplicated
    by region and session ID, so none is returned twice. That new session may be missing from this run (the next
    run finds it), and so may one that leaves the retention window meanwhile; every session that existed for
    the whole listing is returned.
seealso:
  - name: DescribeTerminalSessions API reference
    description: The Alibaba Cloud API this module calls.
    link: https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeterminalsessions
'''

EXAMPLES = r'''
- name: Every session of the last four weeks in two regions
  alicloud.ecs.ecs_terminal_session_info:
    region_id: [cn-hangzhou, cn-shanghai]
  register: terminal_sessions

- name: Sessions of two instances, set credentials once for the whole play
  module_defaults:
    group/alicloud.ecs.alicloud:
      access_key_id: "{{ vault_alicloud_access_key_id }}"
      access_key_secret: "{{ vault_alicloud_access_key_secret }}"
      region_id: cn-hangzhou
  alicloud.ecs.ecs_terminal_session_info:
    instance_id:
      - i-bp1i7gg30r52z2em0001
      - i-bp1i7gg30r52z2em0002
  register: by_instance

- name: Root sessions opened in the last 7 days from outside the office network
  alicloud.ecs.ecs_terminal_session_info:
    region_id: cn-hangzhou
    filters:
      username: root
      created_after: 7d
  register: root_sessions

- name: Fail when anyone is still connected to the instance
  alicloud.ecs.ecs_terminal_session_info:
    region_id: cn-hangzhou
    instance_id: i-bp1i7gg30r52z2em0001
    filters:
      active: true
  register: open_sessions
  failed_when: open_sessions.sessions | length > 0

- name: Page through a large region 500 sessions at a time
  alicloud.ecs.ecs_terminal_session_info:
    region_id: cn-hangzhou
    max_items: 500
    next_token: "{{ previous.next_token | default(omit) }}"
  register: previous

- name: Only the IDs and users of port-forwarding sessions
  alicloud.ecs.ecs_terminal_session_info:
    region_id: cn-hangzhou
    filters:
      port_forwarding: true
    query: "[].{id: session_id, user: username, port: port_number}"
  register: forwards

- name: A fleet-wide check that needs only the per-instance summaries (a small result, also in AWX)
  alicloud.ecs.ecs_terminal_session_info:
    region_id: [cn-hangzhou, cn-shanghai]
    return_keys: [summary_by_instance]
  register: fleet

- name: Who opened which session, without the connection details
  alicloud.ecs.ecs_terminal_session_info:
    region_id: cn-hangzhou
    return_keys: [sessions]
    session_fields: [session_id, creation_time, username, client_ip, instance_ids]
  register: who
'''

RETURN = r'''
sessions:
  description:
    - The sessions, each once, newest first. Keys are snake_case; fields the service left empty are
      left out, except RV(sessions[].session_id), RV(sessions[].region_id), RV(sessions[].connections)
      and RV(sessions[].instance_ids).
    - With O(session_fields), only those fields of each session.
  returned: success, unless O(return_keys) leaves it out
  type: list
  elements: dict
  contains:
    session_id:
      description: The session ID.
      type: str
      sample: s-hz023od0x9a1b2c3
    region_id:
      description: The region the session was listed in.
      type: str
      sample: cn-hangzhou
    creation_time:
      description: When the session was created (UTC).
      type: str
      sample: "2024-01-19T09:15:46Z"
    username:
      description: The OS user of the connection.
      type: str
      sample: root
    client_ip:
      description: The address of the client that opened the session.
      type: str
      sample: 192.168.1.1
    principal_id:
      description: ID of the Alibaba Cloud account, RAM user, or of the principal behind a RAM role.
      type: str
      sample: "123456789012"
    identity_type:
      description: C(Account), C(RAMUser) or C(AssumedRoleUser).
      type: str
      sample: RAMUser
    target_server:
      description: For port forwarding, the address in the VPC that was reached through the instance.
      type: str
      sample: 192.168.0.246
    port_number:
      description: For port forwarding, the port forwarded to.
      type: int
      sample: 22
    instance_ids:
      description:
        - The instances the session reached - those of its connections and, for a query filtered by
          O(instance_id), that instance. A session that never connected has no connection records.
      type: list
      elements: str
      sample: [i-bp1i7gg30r52z2em0001]
    connections:
      description:
        - The session's connections, a plain list. Fields the service adds later pass through in snake_case.
      type: list
      elements: dict
      contains:
        instance_id:
          description: The instance of the connection.
          type: str
          sample: i-bp1i7gg30r52z2em0001
        status:
          description: C(Connecting), C(Connected), C(Disconnected), C(Terminating), C(Terminated) or C(Failed).
          type: str
          sample: Terminated
        start_time:
          description: When the connection started to be established (UTC).
          type: str
          sample: "2024-01-19T09:16:40Z"
        end_time:
          description: When the connection closed (UTC).
          type: str
          sample: "2024-01-19T09:46:40Z"
        closed_reason:
          description: Why the connection closed, for example C(ClientClosed), C(InstanceNotRunning), C(AgentNeedUpgrade).
          type: str
          sample: ClientClosed
        failed_detail:
          description: Details of a failed connection (status C(Failed)).
          type: str
          sample: The Cloud Assistant agent is not online.
sessions_by_instance:
  description:
    - Instance ID to the IDs of its sessions, newest first. The records are in RV(sessions), once; the
      enrichment filters of this collection give full records keyed by instance.
    - With O(instance_id), the keys are exactly those IDs, each present even with no session. Otherwise
      every instance a session reached is a key. A session that reached several instances is listed under each.
  returned: success, unless O(return_keys) leaves it out
  type: dict
  sample:
    i-bp1i7gg30r52z2em0001: [s-hz023od0x9a1b2c3, s-hz023od0x9a1b2c0]
    i-bp1i7gg30r52z2em0002: []
summary_by_instance:
  description:
    - Instance ID to a summary of its sessions, with the same keys as RV(sessions_by_instance).
    - Always computed from the full session records, whatever O(return_keys) and O(session_fields) say.
  returned: success, unless O(return_keys) leaves it out
  type: dict
  contains:
    session_count:
      description: Number of sessions.
      type: int
      sample: 2
    active_session_count:
      description: Sessions with a connection to this instance that is C(Connecting) or C(Connected).
      type: int
      sample: 0
    last_session_time:
      description: Creation time of the newest session, or null.
      type: str
      sample: "2024-01-19T09:15:46Z"
    last_session_user:
      description: OS user of the newest session, or null.
      type: str
      sample: root
    last_client_ip:
      description: Client address of the newest session, or null.
      type: str
      sample: 192.168.1.1
    usernames:
      description: OS users seen, sorted.
      type: list
      elements: str
      sample: [ecs-user, root]
    client_ips:
      description: Client addresses seen, sorted.
      type: list
      elements: str
      sample: [192.168.1.1]
    principal_ids:
      description: Principal IDs seen, sorted.
      type: list
      elements: str
      sample: ["123456789012"]
    root_session_count:
      description: Sessions as C(root).
      type: int
      sample: 1
    failed_connection_count:
      description: Connections to this instance with status C(Failed).
      type: int
      sample: 0
    port_forwarding_session_count:
      description: Port-forwarding sessions.
      type: int
      sample: 0
    closed_reasons:
      description: Closing reason of this instance's connections to how many connections closed for it.
      type: dict
      sample: {ClientClosed: 2}
  sample:
    i-bp1i7gg30r52z2em0001:
      session_count: 1
      active_session_count: 0
      last_session_time: "2024-01-19T09:15:46Z"
      last_session_user: root
      last_client_ip: 192.168.1.1
      usernames: [root]
      client_ips: [192.168.1.1]
      principal_ids: ["123456789012"]
      root_session_count: 1
      failed_connection_count: 0
      port_forwarding_session_count: 0
      closed_reasons: {ClientClosed: 1}
next_token:
  description:
    - Where to resume a listing that O(max_items) cut short; pass it back as O(next_token). Absent when
      the listing is complete.
  returned: when O(max_items) cut the listing short
  type: str
  sample: alicloud-ecs-1.eyJpIjoiIiwibSI6MTAwLCJvIjo1MCwiciI6ImNuLWhhbmd6aG91IiwicyI6IiIsInQiOiIifQ
query_result:
  description:
    - The value of O(query) for the session list (the full records, whatever O(return_keys) and O(session_fields) say).
  returned: when O(query) is given
  type: raw
  sample: [s-hz023od0x9a1b2c3]
failed_regions:
  description:
    - The regions that could not be listed, with O(on_region_error=continue); their sessions are left out of
      every other result. Empty when every region was listed.
  returned: success
  type: list
  elements: dict
  contains:
    region_id:
      description: The region.
      type: str
      sample: cn-beijing
    msg:
      description: What failed, as the task would have reported it.
      type: str
      sample: "Failed to list terminal sessions (region cn-beijing): The service refused the request: ..."
    error_code:
      description: The API error code, when the service gave one.
      type: str
      sample: ServiceUnavailable
    http_status:
      description: The HTTP status, when there was an answer.
      type: int
      sample: 503
    request_id:
      description: The request ID of the failed call, when the service gave one.
      type: str
      sample: 473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E
request_ids:
  description: Request IDs of the pages read, for support cases.
  returned: success
  type: list
  elements: str
  sample: [473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E]
api_calls:
  description: How many API calls the module made, retries included.
  returned: always
  type: int
  sample: 3
'''

from ansible_collections.alicloud.ecs.plugins.module_utils.listing import listing_argument_spec, query_plan
from ansible_collections.alicloud.ecs.plugins.module_utils.module import AlicloudModule, selection_argument_spec
from ansible_collections.alicloud.ecs.plugins.module_utils.pagination import decode_resume_token, encode_resume_token
from ansible_collections.alicloud.ecs.plugins.module_utils.result_shape import RETURN_KEYS

BLANK_ID = '{name}: an empty ID would not filter anything (the whole region would be listed); give real IDs or leave {name} out'


def argument_spec():
    return dict(
        max_items=dict(type='int'),
        next_token=dict(type='str', no_log=False),
        query=dict(type='str'),
        on_region_error=dict(type='str', default='fail', choices=['fail', 'continue']),
        return_keys=dict(type='list', elements='str', choices=list(RETURN_KEYS), default=list(RETURN_KEYS)),
        session_fields=dict(type='list', elements='str'),
        **selection_argument_spec(),
        **listing_argument_spec(page_size=True)
    )


def plan_and_start(module, instance_ids, session_ids):
    """The query plan, and where to resume its one query when next_token is given."""
    params = module.params
    if params['max_items'] is not None and params['max_items'] < 1:
        module.fail_json(msg=f"max_items must be at least 1, got {params['max_items']}")
    plan = query_plan(module.region_ids, instance_ids, session_ids, params['max_results'])
    if params['max_items'] is None and not params['next_token']:
        return plan, None
    if len(plan) != 1:
        module.fail_json(msg='max_items and next_token need a single query (one region, at most one instance_id and one '
                             f'session_id); this task makes {len(plan)} queries')
    if not params['next_token']:
        return plan, None
    try:
        start, plan[0].page_size = decode_resume_token(params['next_token'], plan[0])
    except ValueError as error:
        module.fail_json(msg=f'next_token cannot be used: {error}')
    return plan, start


def region_failures(module, listed):
    """One report per region left out with on_region_error=continue, each also shown as a warning."""
    reports = {}
    for failure in listed.failures:
        region_id = failure.key.region_id
        if region_id not in reports:
            reports[region_id] = dict(module.describe_failure(failure.error, f'Failed to list terminal sessions '
                                                                             f'({failure.key.label()})'), region_id=region_id)
            module.warn(f"Region {region_id} left out of the result: {reports[region_id]['msg']}")
    return list(reports.values())


def main():
    module = AlicloudModule(argument_spec=argument_spec(), supports_check_mode=True)
    module.validate()
    instance_ids, session_ids = module.ids('instance_id', BLANK_ID), module.ids('session_id', BLANK_ID)
    plan, start = plan_and_start(module, instance_ids, session_ids)
    criteria, query = module.criteria(), module.compiled_query()
    module.result_shape()  # before any call: a field name that is not documented would otherwise cost a whole listing
    module.require_sdk()

    listed = module.list_sessions(plan, criteria, max_items=module.params['max_items'], start=start,
                                  keep_going=module.params['on_region_error'] == 'continue')
    facts = dict(failed_regions=region_failures(module, listed), request_ids=listed.request_ids, api_calls=listed.api_calls)
    resume = listed.listings[0].resume if len(listed.listings) == 1 else None
    if resume is not None:
        facts['next_token'] = encode_resume_token(plan[0], resume)
    result = module.session_result(listed.sessions, instance_ids, query, **facts)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
