#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ecs_terminal_session_archive
short_description: Keep ECS Session Manager session records beyond the service's retention, in a database
version_added: 0.1.0
description:
  - Alibaba Cloud keeps the records of ECS Session Manager sessions for about four weeks, and at most 1,000 records
    per region. This module lists every session of the regions, through the same code as
    M(alicloud.ecs.ecs_terminal_session_info), and merges them into an archive database, so a schedule that runs
    it keeps the history for as long as wanted.
  - The archive is a SQLite database file (O(path)) on the host the module runs on, or a PostgreSQL database
    (O(database_url)) that several controllers, or AWX jobs in throw-away containers, share. Both hold the same
    schema, created and migrated by the module.
  - Each session is there once, keyed by region and session ID, as RV(alicloud.ecs.ecs_terminal_session_info#module:sessions)
    returns it (snake_case keys), with its bookkeeping - when it was archived, and when it changed last. A session
    that changed since it was archived (its connection closed, for example) replaces its record; sessions the
    service no longer lists stay in the archive.
  - Each run does work in proportion to what the service lists, whatever the size of the archive - it reads only
    the archived rows of the sessions listed now and the regions' bookkeeping, in one transaction. Only the CSV
    export (O(csv_path)) reads the whole archive.
  - The archive covers whole regions - there is no instance filter, which would hide the gaps this module detects.
  - Read the archive with M(alicloud.ecs.ecs_terminal_session_archive_info).
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
    details:
      - Check mode lists the sessions and returns the same counts. It creates no database, runs no migration and
        changes no row; the bytes of the SQLite file stay as they were (SQLite may create its C(-wal) and C(-shm)
        side files). Neither the change log nor the CSV file is written.
  diff_mode:
    description: Would show a diff in diff mode.
    support: none
requirements:
  - psycopg 3 (C(psycopg[binary])), only for O(database_url); C(requirements-postgresql.txt) of the collection
    lists it.
options:
  path:
    description:
      - The archive as a SQLite database file, created when missing (mode C(0600)). Its directory must exist.
      - An empty file counts as an archive with no records, so it can be created beforehand with the mode and owner
        wanted; an existing file keeps its mode and owner.
      - A file that is not an archive of this module (not a SQLite database, or a SQLite database without the
        archive's tables) is refused and never changed. A JSON Lines archive of earlier releases (version 1) is
        refused too, with a message that names O(import_path), which imports it.
      - SQLite keeps side files next to it (C(<path>-wal), C(<path>-shm), C(<path>-journal)).
      - The module often runs as root, so it refuses, saying why, rather than follow or trust what another user could
        have planted - a symlink at O(path), at one of its side files, at O(csv_path) or at O(jsonl_path) (it is
        never followed, nor resolved first); anything but a regular file there (a FIFO, a device, a directory); a
        file writable by its group or by others (C(chmod go-w) it if it is yours); and a directory writable by
        others, even with the sticky bit (C(/tmp)). The owner of the file does not matter - a file created
        beforehand with the owner chosen and a mode that others cannot write (for example C(0640)) is used, and
        keeps that owner and mode.
      - Exactly one of O(path) and O(database_url) is required.
    type: path
  database_url:
    version_added: 0.2.0
    description:
      - The archive in a PostgreSQL database (ApsaraDB RDS for PostgreSQL, PolarDB, or any PostgreSQL 12 or later),
        as a connection URI (C(postgresql://archiver@pgm-example.pg.rds.aliyuncs.com:5432/sessions?sslmode=verify-full))
        or a libpq connection string (C(host=... dbname=... user=...)). The database must exist; the module creates
        its tables when they are missing, which needs the C(CREATE) privilege on the schema once.
      - The password comes from O(database_password), else E(PGPASSWORD), else C(~/.pgpass) of the user the module
        runs as. A password written in the URL works, but is masked in every output and the module warns - give it
        with O(database_password) instead.
      - TLS settings of libpq (C(sslmode), C(sslrootcert), C(sslcert), C(sslkey)) pass through; use
        C(sslmode=verify-full) over any network you do not control.
      - When the URL sets no C(connect_timeout), the module waits 10 seconds for the server.
      - Needs the Python package psycopg 3 on the host the module runs on.
      - Exactly one of O(path) and O(database_url) is required.
    type: str
  database_password:
    version_added: 0.2.0
    description:
      - The password for O(database_url). Never shown in any output.
    type: str
  import_path:
    version_added: 0.2.0
    description:
      - A JSON Lines archive file written by earlier releases of this module (format version 1 - a header line
        C({"_archive_format":"alicloud.ecs.terminal_sessions","version":1,...}), then one session record a
        line with its bookkeeping C(_archive)), imported into the archive in the same transaction as the run's
        listing.
      - The import is idempotent - a record already archived is replaced only when the file holds a newer version
        of it, so importing the same file twice imports nothing the second time. Its records keep their
        C(archived_at) and C(updated_at). Records older than O(keep_days) are skipped.
      - A file that is not such an archive, or a damaged one (a line that is not a session record, fewer records
        than the header counts), fails the task and nothing is imported.
      - The file is only read; the same rules as for O(path) apply (no symlink, nobody else can write it).
    type: path
  jsonl_path:
    version_added: 0.2.0
    description:
      - Also append every record this run added or updated to this JSON Lines file - one line a session record, as
        RV(alicloud.ecs.ecs_terminal_session_info#module:sessions) returns it, with its bookkeeping C(_archive)
        (C(archived_at), and C(updated_at) once it changed) - a change log for log shippers that tail files
        (Logtail for Simple Log Service, Filebeat, Fluent Bit). There is no header line.
      - Lines are only ever appended, never rewritten, so a shipper ships each change once. The archive stores how
        far each change log got; a run that died between its commit and the append appends the missed changes next
        time, so a change may reach the log twice after a crash - C(region_id), C(session_id) and C(updated_at)
        tell repeats apart.
      - The first run with a new O(jsonl_path) starts the log with its own changes; it does not copy the archive's
        earlier history. Rotating the file (moving it away) is fine - the next run creates it again and goes on.
      - Created with mode C(0600); the same rules as for O(path) apply. The lock file C(<jsonl_path>.lock) is
        created next to it.
    type: path
  keep_days:
    description:
      - Prune records of sessions created more than this many days ago, and do not add such sessions again.
      - At least 1; a number of days that reaches back before the year 1 is refused.
      - Without it, records are kept for ever.
    type: int
  csv_path:
    description:
      - Also export the whole archive to this CSV file, one session a line, for a spreadsheet; rewritten (atomically)
        whenever its content would differ, and left alone otherwise. The export reads the whole archive.
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
      - How many seconds to wait for another run that holds the archive's write lock (and the change log's lock)
        before failing, 0 to 86400 (a day). Nothing is changed when it runs out.
      - The lock is held only while the run writes, not while it lists, so runs at the same time - from one host,
        or from several against PostgreSQL - merge one after the other and none loses or duplicates a record.
    type: int
    default: 300
notes:
  - Every run merges in one transaction - a crash, a kill or a full disk leaves the archive as it was before the run
    or as it is after it, never in between.
  - Gaps - the archive records, for each region, when its last complete listing started. When the window between
    then and the oldest session listed now (now, when nothing is listed) could have lost sessions - it reaches back
    beyond the service's retention of about four weeks, or the service listed its cap of 1,000 records - the module
    warns with the size of the window and returns RV(gap) and RV(gaps). A quiet region listed regularly reports no
    gap. Run the module more often than the service forgets; see the archiving guide of the collection
    (C(docs/archiving.md)).
  - Any listing failure fails the task and leaves the archive as it was.
  - Least privilege on PostgreSQL - once the tables exist, the role the module uses needs only C(SELECT),
    C(INSERT), C(UPDATE) and C(DELETE) on them.
seealso:
  - module: alicloud.ecs.ecs_terminal_session_archive_info
  - module: alicloud.ecs.ecs_terminal_session_info
'''

EXAMPLES = r'''
- name: Archive every session of two regions in a SQLite file on the controller
  alicloud.ecs.ecs_terminal_session_archive:
    region_id: [cn-hangzhou, cn-shanghai]
    path: /var/lib/session-archive/sessions.sqlite
  delegate_to: localhost
  run_once: true
  register: archive

- name: Archive into a shared PostgreSQL database (ApsaraDB RDS), for AWX and several controllers
  alicloud.ecs.ecs_terminal_session_archive:
    region_id: cn-hangzhou
    database_url: postgresql://session_archiver@pgm-example.pg.rds.aliyuncs.com:5432/sessions?sslmode=verify-full
    database_password: "{{ vault_session_archive_password }}"

- name: Keep one year, give the auditors a spreadsheet, and a change log for Logtail
  alicloud.ecs.ecs_terminal_session_archive:
    region_id: cn-hangzhou
    path: /var/lib/session-archive/sessions.sqlite
    keep_days: 365
    csv_path: /srv/audit/terminal-sessions.csv
    jsonl_path: /var/log/session-archive/changes.jsonl

- name: Import the JSON Lines archive of an earlier release into a new database
  alicloud.ecs.ecs_terminal_session_archive:
    region_id: cn-hangzhou
    path: /var/lib/session-archive/sessions.sqlite
    import_path: /var/lib/session-archive/sessions.jsonl

- name: Fail the schedule when sessions may have been missed
  alicloud.ecs.ecs_terminal_session_archive:
    region_id: cn-hangzhou
    path: /var/lib/session-archive/sessions.sqlite
  register: archive
  failed_when: archive.failed or archive.gap
'''

RETURN = r'''
path:
  description: The archive's SQLite file.
  returned: when O(path) is given
  type: str
  sample: /var/lib/session-archive/sessions.sqlite
database:
  description: The archive's PostgreSQL database, as O(database_url) with any password in it masked.
  returned: when O(database_url) is given
  type: str
  sample: postgresql://session_archiver@pgm-example.pg.rds.aliyuncs.com:5432/sessions?sslmode=verify-full
created:
  description: Whether this run created the archive's tables (in check mode, would create them).
  returned: success
  type: bool
  sample: false
added:
  description: Sessions the listing added to the archive.
  returned: success
  type: int
  sample: 12
updated:
  description: Archived sessions replaced because the service describes them differently now (a connection closed).
  returned: success
  type: int
  sample: 1
unchanged:
  description:
    - Archived sessions left as they were, listed now or not (imported ones included); RV(added) + RV(updated) +
      RV(unchanged) = RV(records).
  returned: success
  type: int
  sample: 4711
pruned:
  description: Records removed because they are older than O(keep_days).
  returned: success
  type: int
  sample: 0
imported:
  description: Records of O(import_path) added to the archive or replacing an older version of them.
  returned: when O(import_path) is given
  type: int
  sample: 35210
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
  description: Whether sessions may have expired unseen in some region since the last complete listing (see RV(gaps)).
  returned: success
  type: bool
  sample: false
gaps:
  description:
    - Each region where sessions may have left the service unseen - the window between its last complete listing
      (or, for a region never listed but imported, its newest archived session) and the oldest session listed now
      reaches back beyond the service's retention, or the service listed its record cap.
  returned: success
  type: list
  elements: dict
  contains:
    region_id:
      description: The region.
      type: str
      sample: cn-hangzhou
    newest_archived:
      description: Creation time of the newest session the archive held for the region, or null.
      type: str
      sample: "2024-01-19T09:15:46Z"
    last_complete_listing:
      description: When the last complete listing of the region started, or null when it was never listed (only imported).
      type: str
      sample: "2024-01-19T10:00:02Z"
    oldest_listed:
      description: Creation time of the oldest session the service listed now, or null when it listed none.
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
change_log_appended:
  description: Lines appended to the change log O(jsonl_path) (in check mode, that would be).
  returned: when O(jsonl_path) is given
  type: int
  sample: 13
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

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.alicloud.ecs.plugins.module_utils.archive import ArchiveError, iter_v1_archive, lock_path
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_export import append_change_log, export_csv, pending_changes
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_merge import merge_run
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_store import (
    HAS_PSYCOPG, PSYCOPG_IMPORT_ERROR, PSYCOPG_REQUIREMENT, ArchiveLocation, ArchiveStoreError, failure_message, open_archive,
    url_password_forms)
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import utc_now
from ansible_collections.alicloud.ecs.plugins.module_utils.file_safety import (
    SQLITE_SIDE_SUFFIXES, UnsafeFileError, check_file, check_target)
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import listing_argument_spec, query_plan
from ansible_collections.alicloud.ecs.plugins.module_utils.module import AlicloudModule

# Longest wait for a lock; far beyond any listing, and small enough for the clock's arithmetic.
MAX_LOCK_TIMEOUT = 86400
FILE_OPTIONS = ('path', 'import_path', 'jsonl_path', 'csv_path')


def argument_spec():
    return dict(
        path=dict(type='path'),
        database_url=dict(type='str'),
        database_password=dict(type='str', no_log=True),
        import_path=dict(type='path'),
        jsonl_path=dict(type='path'),
        keep_days=dict(type='int'),
        csv_path=dict(type='path'),
        lock_timeout=dict(type='int', default=300),
        **listing_argument_spec(page_size=False)
    )


class ArchiveModule:
    """The run: options checked, the archive opened, the listing merged, the exports written."""

    def __init__(self):
        self.module = AlicloudModule(argument_spec=argument_spec(), supports_check_mode=True,
                                     required_one_of=[('path', 'database_url')],
                                     mutually_exclusive=[('path', 'database_url')],
                                     secrets_of=lambda params: url_password_forms(params.get('database_url')))
        self.params = self.module.params
        self.location = ArchiveLocation(path=self.params['path'], database_url=self.params['database_url'],
                                        database_password=self.params['database_password'])
        self.files = {}
        self.warnings = []
        self.warned = set()

    @property
    def identity(self):
        """``path`` or ``database`` (password masked): the key that names the archive in every result."""
        if self.params['path'] is not None:
            return {'path': self.params['path']}
        return {'database': self.location.label()}

    def fail(self, msg, **result):
        self.module.fail_json(msg=msg, **dict(self.identity, **result))

    def target(self, name):
        """The file an option names, absolute but as given (symlinks are not resolved: one there is refused)."""
        given = self.params[name]
        if '\x00' in given:
            self.fail(f'{name}: the path contains a NUL byte, which no file name can hold')
        absolute = os.path.abspath(given)
        if os.path.isdir(absolute) and not os.path.islink(absolute):
            self.fail(f'{name}: {given} is a directory; give the path of a file')
        try:
            check_target(absolute, SQLITE_SIDE_SUFFIXES if name == 'path' else ())
        except UnsafeFileError as error:
            self.fail(f'{name}: {error}')
        return absolute

    def cutoff(self, now):
        """The creation time before which records are pruned, or None without keep_days."""
        keep_days = self.params['keep_days']
        if not keep_days:
            return None
        try:
            return now - datetime.timedelta(days=keep_days)
        except OverflowError:
            self.fail(f'keep_days: {keep_days} days before now is before the year 1, the earliest date there is; '
                      'give fewer days')

    def validate(self):
        params = self.params
        self.module.validate(**self.identity)
        if params['database_url'] is not None and not HAS_PSYCOPG:
            self.fail(missing_required_lib(PSYCOPG_REQUIREMENT) + f' (needed for database_url): {PSYCOPG_IMPORT_ERROR}')
        if params['keep_days'] is not None and params['keep_days'] < 1:
            self.fail(f"keep_days must be at least 1, got {params['keep_days']}")
        self.cutoff(utc_now())
        if not 0 <= params['lock_timeout'] <= MAX_LOCK_TIMEOUT:
            self.fail(f"lock_timeout must be between 0 and {MAX_LOCK_TIMEOUT} seconds, got {params['lock_timeout']}")
        self.files = {name: self.target(name) for name in FILE_OPTIONS if params[name] is not None}
        self.check_distinct()
        if 'jsonl_path' in self.files:
            try:
                check_file(lock_path(self.files['jsonl_path']))
            except UnsafeFileError as error:
                self.fail(f'the lock file of jsonl_path: {error}')

    def check_distinct(self):
        """No two file options may name the same file, nor one of the archive's side files or lock files."""
        taken = {}
        for name, path in self.files.items():
            owned = [path]
            if name == 'path':
                owned += [path + suffix for suffix in SQLITE_SIDE_SUFFIXES]
            if name == 'jsonl_path':
                owned.append(lock_path(path))
            for item in owned:
                if item in taken:
                    self.fail(f'{name} and {taken[item]} name the same file ({item}); give each its own file')
                taken[item] = name

    def open(self, read_only):
        try:
            archive = open_archive(self.location, read_only=read_only, create=not read_only,
                                   lock_timeout=self.params['lock_timeout'], warn=self.warnings.append)
        except ArchiveStoreError as error:
            self.fail(failure_message('Cannot use the archive', error))
        for warning in dict.fromkeys(self.warnings):  # the second open warns of the same URL again: once is enough
            if warning not in self.warned:
                self.warned.add(warning)
                self.module.warn(warning)
        return archive

    def check_import(self):
        """Read import_path once before anything else, so a damaged file fails before any call or change."""
        if 'import_path' not in self.files:
            return
        try:
            for _record in iter_v1_archive(self.files['import_path']):
                pass
        except ArchiveError as error:
            self.fail(f'import_path: nothing was imported: {error}')

    def run(self):
        self.validate()
        self.module.require_sdk()
        self.check_import()
        # Opened read-only first: what is not an archive is refused before any call, and a failed listing creates
        # nothing.
        self.open(read_only=True).close()
        listing_started = utc_now()
        listed = self.module.list_sessions(query_plan(self.module.region_ids), result=self.identity)
        with self.open(read_only=self.module.check_mode) as archive:
            result = self.archive(archive, listed, listing_started)
        self.module.exit_json(**result)

    def archive(self, archive, listed, listing_started):
        params = self.params
        write = not self.module.check_mode
        now = utc_now()
        try:
            outcome = merge_run(archive, listed.sessions, self.module.region_ids, listing_started, now, self.cutoff(now),
                                import_path=self.files.get('import_path'), write=write)
        except ArchiveStoreError as error:  # its message names the archive and says it was left as it was
            self.fail(failure_message('Cannot merge into the archive', error), api_calls=listed.api_calls)
        except ArchiveError as error:
            self.fail(f'Cannot merge into the archive {self.location.label()}, left as it was: {error}',
                      api_calls=listed.api_calls)
        created = archive.created or archive.schema_version is None
        result = dict(self.identity, created=created, added=outcome.added, updated=outcome.updated,
                      unchanged=outcome.unchanged, pruned=outcome.pruned, records=outcome.records,
                      oldest_creation_time=outcome.oldest, newest_creation_time=outcome.newest,
                      listed=len(listed.sessions), gap=bool(outcome.gaps), gaps=outcome.gaps, api_calls=listed.api_calls)
        if params['import_path'] is not None:
            result['imported'] = outcome.imported
        result['changed'] = bool(created or outcome.added or outcome.updated or outcome.pruned or outcome.imported)
        if params['jsonl_path'] is not None:
            result['change_log_appended'] = self.change_log(archive, outcome, write, result)
            result['changed'] = result['changed'] or bool(result['change_log_appended'])
        if params['csv_path'] is not None:
            result['csv_changed'] = self.csv(archive, outcome, write, result)
            result['changed'] = result['changed'] or result['csv_changed']
        for gap in outcome.gaps:
            self.warn_gap(gap)
        return result

    def change_log(self, archive, outcome, write, result):
        path = self.files['jsonl_path']
        try:
            if not write:
                return pending_changes(archive, path, outcome.change_seq_before) + (
                    outcome.change_seq_after - outcome.change_seq_before)
            return append_change_log(archive, path, outcome.change_seq_before, self.params['lock_timeout'])
        except (ArchiveStoreError, ArchiveError, OSError) as error:
            self.fail(f"The archive was merged, but the change log {self.params['jsonl_path']} could not be appended "
                      f"(the next run appends what is missing): {getattr(error, 'message', error)}", **result)
        except Exception as error:  # pylint: disable=broad-except
            self.fail(f"The archive was merged, but the change log {self.params['jsonl_path']} could not be appended "
                      f"(the next run appends what is missing): {type(error).__name__}: {error}", **result)

    def csv(self, archive, outcome, write, result):
        try:
            differs = export_csv(archive, self.files['csv_path'], write)
        except (ArchiveStoreError, ArchiveError, OSError) as error:
            self.fail(f"Cannot write the CSV export {self.params['csv_path']}: {getattr(error, 'message', error)}",
                      **result)
        except Exception as error:  # pylint: disable=broad-except
            self.fail(f"Cannot write the CSV export {self.params['csv_path']}: {type(error).__name__}: {error}",
                      **result)
        would_change = bool(outcome.added or outcome.updated or outcome.pruned or outcome.imported)
        return differs or (not write and would_change)

    def warn_gap(self, gap):
        since = (f"its last complete listing started at {gap['last_complete_listing']}" if gap['last_complete_listing']
                 else f"the newest session archived was created at {gap['newest_archived']}")
        oldest = (f"the oldest session listed now was created at {gap['oldest_listed']}" if gap['oldest_listed']
                  else 'the service listed no session now')
        self.module.warn(f"Region {gap['region_id']}: {since} and {oldest}: sessions created in those {gap['span']} "
                         f"may have left the service unseen (it listed {gap['listed']}; it keeps about four weeks and "
                         "at most 1,000 records). Run the archive more often.")


def main():
    ArchiveModule().run()


if __name__ == '__main__':
    main()
