#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ecs_terminal_session_archive_info
short_description: Read ECS Session Manager sessions from the archive, keyed by instance ID
version_added: 0.2.0
description:
  - Reads the session records that M(alicloud.ecs.ecs_terminal_session_archive) keeps beyond the service's four
    weeks - from its SQLite file (O(path)) or its PostgreSQL database (O(database_url)) - and returns them exactly as
    M(alicloud.ecs.ecs_terminal_session_info) returns what the service lists - the same RV(sessions) (newest
    first), RV(sessions_by_instance), RV(summary_by_instance) and RV(query_result), computed by the same code.
  - Answers questions about the whole kept history - who worked as C(root) on a host in January - without any
    call to Alibaba Cloud, so it takes no credentials.
  - The database selects by O(region_id), O(instance_id), O(session_id) and the creation-time window of
    O(filters) (O(filters.created_after), O(filters.created_before)) through its indexes; only the matching rows
    are read, a batch at a time, never the whole archive for a narrow question. The other O(filters) are applied
    to those rows with the code of M(alicloud.ecs.ecs_terminal_session_info), so both modules select alike.
  - Read-only - it never creates, migrates or changes the archive. A PostgreSQL role that may only C(SELECT) is enough.
author:
  - alicloud.ecs maintainers (@alicloud-ecs)
extends_documentation_fragment:
  - alicloud.ecs.alicloud.filters
  - alicloud.ecs.alicloud.query
  - alicloud.ecs.alicloud.result
requirements:
  - psycopg 3 (C(psycopg[binary])), only for O(database_url); C(requirements-postgresql.txt) of the collection
    lists it.
attributes:
  check_mode:
    description: Can run in check mode and return the same result as without it.
    support: full
    details: The module only reads; check mode changes nothing about it.
  diff_mode:
    description: Would show a diff in diff mode.
    support: none
options:
  path:
    description:
      - The SQLite archive file that M(alicloud.ecs.ecs_terminal_session_archive) writes with the same O(path).
      - Opened read-only. A missing file fails the task naming it; an empty file (created beforehand, not written
        yet) is an archive with no records; a file that is not an archive of this collection (another database, a
        version 1 JSON Lines archive, anything else) is refused, saying so.
      - The same rules as for the archive module's O(alicloud.ecs.ecs_terminal_session_archive#module:path) apply -
        no symlink, a regular file nobody else can write, in a directory others cannot write.
      - Exactly one of O(path) and O(database_url) is required.
    type: path
  database_url:
    description:
      - The PostgreSQL archive, as a connection URI (C(postgresql://archive_reader@pg.example.com:5432/sessions?sslmode=verify-full))
        or a libpq connection string (C(host=pg.example.com dbname=sessions user=archive_reader)), as given to
        M(alicloud.ecs.ecs_terminal_session_archive). TLS parameters (C(sslmode), C(sslrootcert)) pass through to libpq.
      - Give the password in O(database_password), E(PGPASSWORD) or C(~/.pgpass). A password written in the URL is
        masked in every output, and a warning recommends O(database_password).
      - Needs the Python package psycopg 3 on the host the module runs on.
      - Exactly one of O(path) and O(database_url) is required.
    type: str
  database_password:
    description:
      - The password of the PostgreSQL role of O(database_url). Never shown in any output.
      - When not given, libpq looks in E(PGPASSWORD), then in C(~/.pgpass).
    type: str
  region_id:
    description:
      - Only sessions listed in these regions. One region or a list; all regions of the archive when not given.
      - Unlike M(alicloud.ecs.ecs_terminal_session_info), no environment variable sets it - an audit of the archive
        covers every region unless the task says otherwise.
    type: list
    elements: str
    aliases: [region, alicloud_region]
  instance_id:
    description:
      - Only sessions that reached these instances (one of them). One ID or a list. An empty ID is refused.
    type: list
    elements: str
    aliases: [instance_ids]
  session_id:
    description:
      - Only these sessions. One ID or a list. An empty ID is refused.
    type: list
    elements: str
    aliases: [session_ids]
notes:
  - The archive holds what M(alicloud.ecs.ecs_terminal_session_archive) merged at its runs - a session still open at
    the last run is archived as open. Run the archive shortly before an audit for the latest state.
  - Relative times in O(filters) (C(7d)) count back from the start of the task, as in
    M(alicloud.ecs.ecs_terminal_session_info); ISO 8601 times (C(2024-01-01T00:00:00Z)) reach as far back as the
    archive does.
  - The session records come from Alibaba Cloud and from whoever opened the sessions (the OS user name, for one) -
    treat them as data; Ansible does not template the results of a module.
seealso:
  - module: alicloud.ecs.ecs_terminal_session_archive
  - module: alicloud.ecs.ecs_terminal_session_info
'''

EXAMPLES = r'''
- name: Who worked as root on the database host in January
  alicloud.ecs.ecs_terminal_session_archive_info:
    path: /var/lib/session-archive/sessions.sqlite
    instance_id: i-bp1i7gg30r52z2em0001
    filters:
      username: root
      created_after: "2024-01-01T00:00:00Z"
      created_before: "2024-02-01T00:00:00Z"
    query: "[].{when: creation_time, who: principal_id, from: client_ip}"
  delegate_to: localhost
  run_once: true
  register: january_root

- name: Every session of two instances in the shared PostgreSQL archive, with a read-only role
  alicloud.ecs.ecs_terminal_session_archive_info:
    database_url: "postgresql://archive_reader@pgm-bp1example.pg.rds.aliyuncs.com:5432/sessions?sslmode=verify-full&sslrootcert=/etc/ssl/rds-ca.pem"
    database_password: "{{ vault_archive_reader_password }}"
    instance_id:
      - i-bp1i7gg30r52z2em0001
      - i-bp1i7gg30r52z2em0002
  register: by_instance

- name: Port forwards opened from outside the office network in the last 90 days, in one region
  alicloud.ecs.ecs_terminal_session_archive_info:
    path: /var/lib/session-archive/sessions.sqlite
    region_id: cn-hangzhou
    filters:
      port_forwarding: true
      created_after: 90d
  register: forwards

- name: Fail when a host was reached by anyone but the deploy user this year
  alicloud.ecs.ecs_terminal_session_archive_info:
    path: /var/lib/session-archive/sessions.sqlite
    instance_id: i-bp1i7gg30r52z2em0001
    filters:
      created_after: "2024-01-01T00:00:00Z"
  register: this_year
  failed_when: this_year.summary_by_instance['i-bp1i7gg30r52z2em0001'].usernames | difference(['deploy']) | length > 0
'''

RETURN = r'''
sessions:
  description:
    - The archived sessions selected, each once, newest first - the records of
      RV(alicloud.ecs.ecs_terminal_session_info#module:sessions) as the archive module stored them, plus the
      bookkeeping key C(_archive).
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
      description: The instances the session reached.
      type: list
      elements: str
      sample: [i-bp1i7gg30r52z2em0001]
    connections:
      description:
        - The session's connections, as in RV(alicloud.ecs.ecs_terminal_session_info#module:sessions[].connections)
          (C(instance_id), C(status), C(start_time), C(end_time), C(closed_reason), C(failed_detail)).
      type: list
      elements: dict
      sample: [{instance_id: i-bp1i7gg30r52z2em0001, status: Terminated, closed_reason: ClientClosed}]
    _archive:
      description: When the archive first stored the session (C(archived_at)) and, once its record changed, last replaced it (C(updated_at)).
      type: dict
      sample: {archived_at: "2024-01-19T10:00:03Z", updated_at: "2024-01-19T11:00:02Z"}
sessions_by_instance:
  description:
    - Instance ID to the IDs of its sessions, newest first, as RV(alicloud.ecs.ecs_terminal_session_info#module:sessions_by_instance).
    - With O(instance_id), the keys are exactly those IDs, each present even with no session. Otherwise every
      instance a selected session reached is a key.
  returned: success, unless O(return_keys) leaves it out
  type: dict
  sample:
    i-bp1i7gg30r52z2em0001: [s-hz023od0x9a1b2c3, s-hz023od0x9a1b2c0]
    i-bp1i7gg30r52z2em0002: []
summary_by_instance:
  description:
    - Instance ID to a summary of its sessions, with the same keys as RV(sessions_by_instance) and the same
      fields as RV(alicloud.ecs.ecs_terminal_session_info#module:summary_by_instance) - C(session_count),
      C(active_session_count), C(last_session_time), C(last_session_user), C(last_client_ip), C(usernames),
      C(client_ips), C(principal_ids), C(root_session_count), C(failed_connection_count),
      C(port_forwarding_session_count), C(closed_reasons).
  returned: success, unless O(return_keys) leaves it out
  type: dict
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
query_result:
  description: The value of O(query) for the session list.
  returned: when O(query) is given
  type: raw
  sample: [{when: "2024-01-19T09:15:46Z", who: "123456789012", from: 192.168.1.1}]
'''

import os

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.alicloud.ecs.plugins.module_utils.archive_query import (
    ArchiveQueryError, select_sessions, time_window)
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_store import (
    HAS_PSYCOPG, PSYCOPG_IMPORT_ERROR, PSYCOPG_REQUIREMENT, ArchiveLocation, ArchiveStoreError,
    describe_database_error, failure_message, open_archive, url_password_of)
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import CriteriaError, utc_now
from ansible_collections.alicloud.ecs.plugins.module_utils.module import AlicloudModule, selection_argument_spec
from ansible_collections.alicloud.ecs.plugins.module_utils.result_shape import RETURN_KEYS
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import newest_first

BLANK_ID = '{name}: an empty ID would not select anything; give real IDs or leave {name} out'
# Seconds to wait for the database: the PostgreSQL connection, SQLite's lock on a database being recovered.
WAIT_SECONDS = 30.0


def argument_spec():
    return dict(
        path=dict(type='path'),
        database_url=dict(type='str'),
        database_password=dict(type='str', no_log=True),
        region_id=dict(type='list', elements='str', aliases=['region', 'alicloud_region']),
        query=dict(type='str'),
        return_keys=dict(type='list', elements='str', choices=list(RETURN_KEYS), default=list(RETURN_KEYS)),
        session_fields=dict(type='list', elements='str'),
        **selection_argument_spec()
    )


def open_store(module):
    """The archive, open read-only, or None for an empty file; fails naming the cause (missing file, not an
    archive, the server, the password...)."""
    params = module.params
    if params['database_url'] and not HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib(f'{PSYCOPG_REQUIREMENT}, for database_url'), exception=PSYCOPG_IMPORT_ERROR)
    location = ArchiveLocation(path=params['path'], database_url=params['database_url'],
                               database_password=params['database_password'])
    try:
        archive = open_archive(location, read_only=True, create=False, lock_timeout=WAIT_SECONDS, warn=module.warn)
    except ArchiveStoreError as error:
        module.fail_json(msg=failure_message('Cannot read the archive', error))
    if archive.schema_version is not None:
        return archive
    archive.close()
    path = params['path']
    if path and not os.path.lexists(path):
        module.fail_json(msg=f'No archive at {path}: the file does not exist (path names the SQLite file that '
                             'alicloud.ecs.ecs_terminal_session_archive writes)')
    if path and os.lstat(path).st_size == 0:
        return None  # created beforehand, with the mode and owner wanted, and not written yet: no records
    module.fail_json(msg=f'Cannot read the archive: {location.label()} is not an archive of this module (it has none '
                         'of its tables; has alicloud.ecs.ecs_terminal_session_archive written to it yet?)')


def archived_sessions(module, criteria, window, region_ids, instance_ids, session_ids):
    """The selected sessions, newest first; a database error or a damaged record fails the task naming it."""
    archive = open_store(module)
    if archive is None:
        return []
    with archive:
        label = archive.location.label()
        try:
            sessions = select_sessions(archive, criteria, region_ids, instance_ids, session_ids, window)
        except ArchiveQueryError as error:
            module.fail_json(msg=f'Cannot read the archive {label}: {error}')
        except archive.connection.Error as error:  # sqlite3 and psycopg connections name their DB-API errors so
            module.fail_json(msg=describe_database_error(error, f'Cannot read the archive {label}'))
    return newest_first(sessions)


def main():
    module = AlicloudModule(argument_spec=argument_spec(), connection_options=False, supports_check_mode=True,
                            required_one_of=[('path', 'database_url')], mutually_exclusive=[('path', 'database_url')],
                            secrets_of=lambda params: [url_password_of(params.get('database_url'))])
    region_ids = module.ids('region_id', BLANK_ID)
    instance_ids, session_ids = module.ids('instance_id', BLANK_ID), module.ids('session_id', BLANK_ID)
    now = utc_now()
    criteria = module.criteria(now)
    try:
        window = time_window(module.params['filters'], now)
    except CriteriaError as error:
        module.fail_json(msg=str(error))
    query = module.compiled_query()
    module.result_shape()

    sessions = archived_sessions(module, criteria, window, region_ids, instance_ids, session_ids)
    module.exit_json(**module.session_result(sessions, instance_ids, query, changed=False))


if __name__ == '__main__':
    main()
