#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ecs_terminal_session_archive
short_description: Keep ECS Session Manager session records beyond the service's retention, in a file
version_added: 0.1.0
description:
  - Alibaba Cloud keeps the records of ECS Session Manager sessions for about four weeks, and newer documentation
    says at most 1,000 records. This module lists every session of the regions, through the same code as
    M(alicloud.ecs.ecs_terminal_session_info), and merges them into an archive file on the host it runs on, so a
    schedule that runs it keeps the history for as long as wanted.
  - The archive is a JSON Lines file - a header line, then one session a line, as RV(alicloud.ecs.ecs_terminal_session_info#module:sessions)
    returns it (snake_case keys) plus the bookkeeping key C(_archive) (C(archived_at), and C(updated_at) once it
    changed), oldest first. Each session is there once, keyed by region and session ID.
  - A session that changed since it was archived (its connection closed, for example) replaces its record; the
    bookkeeping never makes a record look changed. Sessions the service no longer lists stay in the archive.
  - The archive covers whole regions - there is no instance filter, which would hide the gaps this module detects.
  - The RAM identity needs the action C(ecs:DescribeTerminalSessions), as for M(alicloud.ecs.ecs_terminal_session_info).
author:
  - alicloud.ecs maintainers (@alicloud-ecs)
extends_documentation_fragment:
  - alicloud.ecs.alicloud
  - alicloud.ecs.alicloud.listing
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details: Check mode lists the sessions and returns the same counts; it writes nothing, not even the lock file.
  diff_mode:
    description: Would show a diff in diff mode.
    support: none
options:
  path:
    description:
      - The archive file, created when missing. Its directory must exist.
      - A file that is not an archive of this module, or a damaged one (a line that is not JSON, a missing header,
        fewer records than the header counts), is refused with the line number and never overwritten.
      - An empty file counts as an archive with no records, so it can be created beforehand with the mode and owner
        wanted. A new file is created with mode C(0600); an existing one keeps its mode and owner.
      - The lock file C(<path>.lock) is created next to it.
      - The module often runs as root, so it refuses, saying why, rather than follow or trust what another user could
        have planted - a symlink at O(path), at C(<path>.lock) or at O(csv_path) (it is never followed, nor resolved
        first); anything but a regular file there (a FIFO, a device, a directory); a file writable by its group or by
        others (C(chmod go-w) it if it is yours); and a directory writable by others, even with the sticky bit (C(/tmp)).
        The owner of the file does not matter - a file created beforehand with the owner chosen and a mode that others
        cannot write (for example C(0640)) is used, and keeps that owner and mode.
    type: path
    required: true
  keep_days:
    description:
      - Prune records of sessions created more than this many days ago, and do not add such sessions again.
      - At least 1; a number of days that reaches back before the year 1 is refused.
      - Without it, records are kept for ever.
    type: int
  csv_path:
    description:
      - Also export the whole archive to this CSV file, one session a line, for a spreadsheet; rewritten (atomically)
        whenever its content would differ, and left alone otherwise.
      - Columns - C(region_id), C(session_id), C(creation_time), C(username), C(client_ip), C(principal_id),
        C(identity_type), C(port_number), C(target_server), C(instance_ids), C(statuses) and C(closed_reasons) (one
        per connection, space-separated), C(start_time) (earliest connection), C(end_time) (latest connection),
        C(archived_at), C(updated_at).
      - A cell that starts with C(=), C(+), C(-), C(@), their fullwidth forms (C(＝), C(＋), C(－), C(＠)), or any white
        space (a space, a tab, a carriage return, a line feed - spreadsheets skip it before looking for C(=)) gets a
        leading C('), so no spreadsheet reads it as a formula.
      - The same rules as for O(path) apply - no symlink, a regular file that neither its group nor others can write,
        in a directory that others cannot write; an existing file keeps its owner and mode.
    type: path
  concurrency:
    description: How many regions are listed at once, 1 to 32.
    type: int
    default: 8
  lock_timeout:
    description:
      - How many seconds to wait for another run that holds the archive's lock before failing, 0 to 86400 (a day).
      - The lock is held from reading the archive, through the listing, to writing it, so runs at the same time
        merge one after the other and none loses the other's records.
    type: int
    default: 300
notes:
  - Writes are atomic - a temporary file in the same directory, fsynced, then renamed over the archive - so a
    crash or a full disk leaves the previous archive as it was. A run killed at the wrong moment may leave a
    temporary file C(.<name>.*.tmp) next to the archive, which can be deleted.
  - Gaps - when, in a region, the oldest session listed now is newer than the newest one archived, sessions
    created in between may have left the service before any run saw them (after four weeks, or sooner past
    1,000 records). The module then warns with the size of the window and returns RV(gap) and RV(gaps). Run it
    more often than the service forgets; see the archiving guide of the collection (C(docs/archiving.md)).
  - Any listing failure fails the task and leaves the archive as it was.
  - The filters P(alicloud.ecs.enrich_hosts#filter), P(alicloud.ecs.terminal_sessions_by_instance#filter) and
    P(alicloud.ecs.terminal_session_summary#filter) take the archive's records as their input - every line but
    the first, each parsed as JSON.
seealso:
  - module: alicloud.ecs.ecs_terminal_session_info
'''

EXAMPLES = r'''
- name: Archive every session of two regions, on the controller
  alicloud.ecs.ecs_terminal_session_archive:
    region_id: [cn-hangzhou, cn-shanghai]
    path: /var/lib/session-archive/sessions.jsonl
  delegate_to: localhost
  run_once: true
  register: archive

- name: Keep one year, and give the auditors a spreadsheet
  alicloud.ecs.ecs_terminal_session_archive:
    region_id: cn-hangzhou
    path: /var/lib/session-archive/sessions.jsonl
    keep_days: 365
    csv_path: /srv/audit/terminal-sessions.csv

- name: Fail the schedule when sessions may have been missed
  alicloud.ecs.ecs_terminal_session_archive:
    region_id: cn-hangzhou
    path: /var/lib/session-archive/sessions.jsonl
  register: archive
  failed_when: archive.failed or archive.gap

- name: Summaries per instance over the whole archive, with the collection's filters
  ansible.builtin.set_fact:
    archived_summary: >-
      {{ lookup('ansible.builtin.file', '/var/lib/session-archive/sessions.jsonl').splitlines()[1:]
         | map('from_json') | list | alicloud.ecs.terminal_session_summary(username='root') }}
'''

RETURN = r'''
path:
  description: The archive file.
  returned: always
  type: str
  sample: /var/lib/session-archive/sessions.jsonl
created:
  description: Whether this run created the archive (in check mode, would create it).
  returned: success
  type: bool
  sample: false
added:
  description: Sessions added to the archive.
  returned: success
  type: int
  sample: 12
updated:
  description: Archived sessions replaced because the service describes them differently now (a connection closed).
  returned: success
  type: int
  sample: 1
unchanged:
  description: Archived sessions left as they were, listed now or not; RV(added) + RV(updated) + RV(unchanged) = RV(records).
  returned: success
  type: int
  sample: 4711
pruned:
  description: Records removed because they are older than O(keep_days).
  returned: success
  type: int
  sample: 0
records:
  description: Records the archive holds after this run.
  returned: success
  type: int
  sample: 4724
oldest_creation_time:
  description: Creation time of the oldest session in the archive, or null when it is empty.
  returned: success
  type: str
  sample: "2024-01-02T08:00:12Z"
newest_creation_time:
  description: Creation time of the newest session in the archive, or null when it is empty.
  returned: success
  type: str
  sample: "2024-03-19T09:15:46Z"
listed:
  description: Sessions the service listed in this run.
  returned: success
  type: int
  sample: 812
gap:
  description: Whether sessions may have expired unseen in some region since the last run (see RV(gaps)).
  returned: success
  type: bool
  sample: false
gaps:
  description: Each region where the oldest session listed now is newer than the newest one archived.
  returned: success
  type: list
  elements: dict
  contains:
    region_id:
      description: The region.
      type: str
      sample: cn-hangzhou
    newest_archived:
      description: Creation time of the newest session the archive held for the region.
      type: str
      sample: "2024-01-19T09:15:46Z"
    oldest_listed:
      description: Creation time of the oldest session the service listed now.
      type: str
      sample: "2024-01-21T13:25:46Z"
    seconds:
      description: The length of the window in which sessions may be missing, in seconds.
      type: int
      sample: 187800
    span:
      description: The same window, readable.
      type: str
      sample: 2d 4h 10m
    listed:
      description: Sessions the service listed for the region; 1,000 means its record cap was reached.
      type: int
      sample: 1000
csv_changed:
  description: Whether the CSV export was written (in check mode, would be).
  returned: when O(csv_path) is given
  type: bool
  sample: true
api_calls:
  description: How many API calls the module made, retries included.
  returned: when the listing ran
  type: int
  sample: 9
'''

import datetime
import os

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.alicloud.ecs.plugins.module_utils.archive import (
    ArchiveError, archive_lock, creation_span, find_gaps, lock_path, merge, parse_archive, read_file, render_archive,
    render_csv, write_atomic)
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import utc_now
from ansible_collections.alicloud.ecs.plugins.module_utils.file_safety import UnsafeFileError, check_file, check_target
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import listing_argument_spec, query_plan
from ansible_collections.alicloud.ecs.plugins.module_utils.module import AlicloudModule


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        keep_days=dict(type='int'),
        csv_path=dict(type='path'),
        lock_timeout=dict(type='int', default=300),
        **listing_argument_spec(page_size=False)
    )


# Longest wait for the lock; far beyond any listing, and small enough for the clock's arithmetic.
MAX_LOCK_TIMEOUT = 86400


def target(module, name):
    """The file an option names, absolute but as given (symlinks are not resolved: one there is refused).

    Fails when it cannot be a file in an existing directory, or when the file or its directory breaks the
    rules of file_safety (a symlink, not a regular file, writable by others).
    """
    given = module.params[name]
    if '\x00' in given:
        module.fail_json(msg=f'{name}: the path contains a NUL byte, which no file name can hold', path=module.params['path'])
    absolute = os.path.abspath(given)
    if os.path.isdir(absolute) and not os.path.islink(absolute):
        module.fail_json(msg=f'{name}: {given} is a directory; give the path of a file', path=module.params['path'])
    try:
        check_target(absolute)
    except UnsafeFileError as error:
        module.fail_json(msg=f'{name}: {error}', path=module.params['path'])
    return absolute


def cutoff_for(module, now):
    """The creation time before which records are pruned, or None without keep_days."""
    keep_days = module.params['keep_days']
    if not keep_days:
        return None
    try:
        return now - datetime.timedelta(days=keep_days)
    except OverflowError:
        module.fail_json(msg=f'keep_days: {keep_days} days before now is before the year 1, the earliest date there is; '
                             'give fewer days', path=module.params['path'])


def validate(module):
    params = module.params
    module.validate(path=params['path'])
    if params['keep_days'] is not None and params['keep_days'] < 1:
        module.fail_json(msg=f"keep_days must be at least 1, got {params['keep_days']}", path=params['path'])
    cutoff_for(module, utc_now())
    if not 0 <= params['lock_timeout'] <= MAX_LOCK_TIMEOUT:
        module.fail_json(msg=f"lock_timeout must be between 0 and {MAX_LOCK_TIMEOUT} seconds, got {params['lock_timeout']}",
                         path=params['path'])
    path = target(module, 'path')
    csv_path = target(module, 'csv_path') if params['csv_path'] else None
    if csv_path in (path, lock_path(path)):
        module.fail_json(msg=f"csv_path must be neither the archive itself nor its lock file ({params['csv_path']})",
                         path=params['path'])
    try:
        check_file(lock_path(path))
    except UnsafeFileError as error:
        module.fail_json(msg=f'the lock file of path: {error}', path=params['path'])
    return path, csv_path


def load(module, path):
    try:
        data = read_file(path)
        return data, parse_archive(data or b'', name=module.params['path'])
    except (ArchiveError, OSError) as error:
        module.fail_json(msg=f'Cannot use the archive: {error}', path=module.params['path'])


def warn_gap(module, gap):
    module.warn('Region %s: the oldest session listed now (%s) is newer than the newest in the archive (%s): sessions '
                'created in those %s may have expired unseen (the service listed %d; it keeps about four weeks and at '
                'most 1,000 records). Run the archive more often.'
                % (gap['region_id'], gap['oldest_listed'], gap['newest_archived'], gap['span'], gap['listed']))


def archive(module, path, csv_path):
    """Read, list, merge and (unless in check mode) write; returns the result."""
    params = module.params
    data, archived = load(module, path)
    now = utc_now()
    cutoff = cutoff_for(module, now)
    listed = module.list_sessions(query_plan(module.region_ids), result=dict(path=params['path']))
    gaps = find_gaps(archived, listed.sessions, module.region_ids)
    merged = merge(archived, listed.sessions, now, cutoff)
    created = data is None
    changed = created or bool(merged.added or merged.updated or merged.pruned)
    if changed and not module.check_mode:
        try:
            write_atomic(path, to_bytes(render_archive(merged.records)))
        except (ArchiveError, OSError) as error:
            module.fail_json(msg=f"Cannot write the archive {params['path']}, left as it was: {error}",
                             path=params['path'], api_calls=listed.api_calls)
    oldest, newest = creation_span(merged.records)
    result = dict(changed=changed, path=params['path'], created=created, added=merged.added, updated=merged.updated,
                  unchanged=merged.unchanged, pruned=merged.pruned, records=len(merged.records),
                  oldest_creation_time=oldest, newest_creation_time=newest, listed=len(listed.sessions),
                  gap=bool(gaps), gaps=gaps, api_calls=listed.api_calls)
    if csv_path:
        exported = to_bytes(render_csv(merged.records), errors='surrogate_or_replace')
        try:
            result['csv_changed'] = read_file(csv_path) != exported
            if result['csv_changed'] and not module.check_mode:
                write_atomic(csv_path, exported)
        except (ArchiveError, OSError) as error:
            module.fail_json(msg=f"Cannot write the CSV export {params['csv_path']}: {error}", **result)
        result['changed'] = result['changed'] or result['csv_changed']
    for gap in gaps:
        warn_gap(module, gap)
    return result


def main():
    module = AlicloudModule(argument_spec=argument_spec(), supports_check_mode=True)
    path, csv_path = validate(module)
    module.require_sdk()
    if module.check_mode:
        module.exit_json(**archive(module, path, csv_path))
    try:
        with archive_lock(path, timeout=module.params['lock_timeout']):
            result = archive(module, path, csv_path)
    except ArchiveError as error:
        module.fail_json(msg=f"Cannot lock the archive {module.params['path']}: {error}", path=module.params['path'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
