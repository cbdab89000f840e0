# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merging listed sessions into the archive's database, in one transaction per run.

A run reads only what it lists: the archived rows of the listed keys (in chunks of :data:`CHUNK` keys) and the
rows of the listed regions in ``archive_regions``; ``keep_days`` prunes through the creation-time index. Every
row inserted or updated gets the next ``change_seq``, taken from ``archive_counters`` as the last step before the
commit: the counter's row lock makes concurrent committers take their numbers in commit order, so a reader of
``change_seq > n`` never skips a row.

Gaps: ``archive_regions`` records per region when the last complete listing STARTED. A region may have lost
sessions unseen only when the window between then and the oldest session listed now (now, when nothing is
listed) reaches back beyond the service's retention, or when the service returned its record cap and nothing
listed now overlaps the window (:func:`find_gaps`, pure).

Check mode runs the same reads on a read-only connection and writes nothing (``plan`` without ``apply``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

from collections import namedtuple
from contextlib import contextmanager
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ansible_collections.alicloud.ecs.plugins.module_utils.archive import (
    BOOKKEEPING, ArchiveError, describe_span, format_time, iter_v1_archive, without_bookkeeping)
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_store import (
    ArchiveConnection, ArchiveStoreError, _set_lock_timeout, describe_database_error)
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import session_time

# Keys per SELECT of archived rows: well under SQLite's oldest limit of 999 parameters (IN (...) there).
CHUNK = 500
# The service keeps session records about four weeks, and at most this many per region.
RETENTION = datetime.timedelta(days=28)
RECORD_CAP = 1000

MergeOutcome = namedtuple('MergeOutcome', ['added', 'updated', 'unchanged', 'pruned', 'records', 'oldest', 'newest',
                                           'gaps', 'imported', 'change_seq_before', 'change_seq_after'])


def canonical(record: Dict[str, Any]) -> str:
    """The stored text of a record: sorted keys, compact, ASCII, no bookkeeping. Equal text = unchanged record."""
    return json.dumps(without_bookkeeping(record), sort_keys=True, separators=(',', ':'), ensure_ascii=True)


def creation_key(record: Dict[str, Any]) -> str:
    """The creation time as stored (``2024-01-19T09:15:46Z``, sorts as text), or '' when it cannot be read."""
    moment = session_time(record)
    return format_time(moment) if moment is not None else ''


def _time(text: Optional[str]) -> Optional[datetime.datetime]:
    return session_time({'creation_time': text}) if text else None


# --- gaps (pure) ------------------------------------------------------------------------------------

def find_gaps(regions: Dict[str, Tuple[Optional[str], Optional[str]]], listed: Iterable[Dict[str, Any]],
              region_ids: Iterable[str], listing_started: datetime.datetime, retention: datetime.timedelta = RETENTION,
              cap: int = RECORD_CAP) -> List[Dict[str, Any]]:
    """Regions where sessions may have left the service before any run saw them, each a dict.

    ``regions`` maps a region to (last complete listing start, newest archived creation time), as stored. The
    window starts at the last complete listing (or, for a region only imported, at its newest archived session)
    and ends at the oldest session listed now (at ``listing_started`` when nothing is listed). A session created
    in it could be lost when the window starts before the retention (``listing_started - retention``), or when
    the service returned ``cap`` records. A region never listed and not archived has no window.
    """
    listed_by_region = {}
    for session in listed:
        listed_by_region.setdefault(session['region_id'], []).append(session)
    gaps = []
    for region_id in region_ids:
        last_listing, newest_archived = regions.get(region_id, (None, None))
        start_text = last_listing or newest_archived
        start = _time(start_text)
        if start is None:
            continue
        in_region = listed_by_region.get(region_id, [])
        times = [(moment, session['creation_time']) for session in in_region
                 for moment in [session_time(session)] if moment is not None]
        oldest = min(times) if times else None
        end = oldest[0] if oldest else listing_started
        if end <= start:
            continue
        if start >= listing_started - retention and len(in_region) < cap:
            continue
        seconds = int((end - start).total_seconds())
        gaps.append({'region_id': region_id, 'newest_archived': newest_archived, 'last_complete_listing': last_listing,
                     'oldest_listed': oldest[1] if oldest else None, 'seconds': seconds, 'span': describe_span(seconds),
                     'listed': len(in_region)})
    return gaps


# --- transactions ------------------------------------------------------------------------------------

@contextmanager
def write_transaction(archive: ArchiveConnection) -> Iterator[None]:
    """One transaction that takes the write lock, waiting at most the archive's lock_timeout; rolled back on error.

    SQLite: ``BEGIN IMMEDIATE`` (the busy timeout is lock_timeout). PostgreSQL: a transaction whose
    ``lock_timeout`` is the option's; the row locks are taken by :func:`lock_regions` and the counter.
    """
    if archive.dialect == 'sqlite':
        archive.connection.execute('BEGIN IMMEDIATE')
        try:
            yield
        except BaseException:
            archive.connection.execute('ROLLBACK')
            raise
        archive.connection.execute('COMMIT')
    else:
        with archive.connection.transaction():
            _set_lock_timeout(archive)
            yield


@contextmanager
def read_transaction(archive: ArchiveConnection) -> Iterator[None]:
    """One consistent read (check mode): a deferred transaction on SQLite, a read-only one on PostgreSQL."""
    if archive.schema_version is None:
        yield
        return
    if archive.dialect == 'sqlite':
        archive.connection.execute('BEGIN')
        try:
            yield
        finally:
            archive.connection.execute('ROLLBACK')
    else:
        with archive.connection.transaction(force_rollback=True):
            yield


def lock_regions(archive: ArchiveConnection, region_ids: Sequence[str]) -> None:
    """PostgreSQL: create the regions' rows if missing and lock them, in name order (no deadlock between runs)."""
    if archive.dialect != 'postgresql' or not region_ids:
        return
    archive.executemany('INSERT INTO archive_regions (region_id) VALUES (?) ON CONFLICT (region_id) DO NOTHING',
                        [(region_id,) for region_id in sorted(region_ids)])
    marks = ', '.join('?' for _region in region_ids)
    archive.execute('SELECT region_id FROM archive_regions WHERE region_id IN (%s) ORDER BY region_id FOR UPDATE'
                    % marks, sorted(region_ids)).fetchall()


def counter(archive: ArchiveConnection, name: str) -> int:
    if archive.schema_version is None:
        return 0
    row = archive.execute('SELECT value FROM archive_counters WHERE name = ?', (name,)).fetchone()
    return int(row[0]) if row else 0


def take_sequence(archive: ArchiveConnection, count: int) -> int:
    """Reserve ``count`` change_seq values; returns the first. Locks the counter's row until the commit."""
    archive.execute("UPDATE archive_counters SET value = value + ? WHERE name = 'change_seq'", (count,))
    return counter(archive, 'change_seq') - count + 1


def _add_records(archive: ArchiveConnection, delta: int) -> None:
    if delta:
        archive.execute("UPDATE archive_counters SET value = value + ? WHERE name = 'records'", (delta,))


def region_rows(archive: ArchiveConnection, region_ids: Sequence[str]) -> Dict[str, Tuple[Optional[str], Optional[str]]]:
    if archive.schema_version is None or not region_ids:
        return {}
    marks = ', '.join('?' for _region in region_ids)
    rows = archive.execute('SELECT region_id, last_complete_listing_at, newest_creation_time FROM archive_regions '
                           'WHERE region_id IN (%s)' % marks, list(region_ids)).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def archived_rows(archive: ArchiveConnection, keys: Iterable[Tuple[str, str]]) -> Dict[Tuple[str, str], tuple]:
    """{(region, session ID): (record text, archived_at, updated_at)} of the archived rows among ``keys``."""
    if archive.schema_version is None:
        return {}
    if archive.dialect == 'postgresql':
        return _archived_rows_postgresql(archive, list(keys))
    by_region = {}
    for region_id, session_id in keys:
        by_region.setdefault(region_id, []).append(session_id)
    found = {}
    for region_id, session_ids in by_region.items():
        for start in range(0, len(session_ids), CHUNK):
            chunk = session_ids[start:start + CHUNK]
            rows = archive.execute('SELECT session_id, record, archived_at, updated_at FROM terminal_sessions '
                                   'WHERE region_id = ? AND session_id IN (%s)' % ', '.join('?' for _id in chunk),
                                   [region_id] + chunk).fetchall()
            for session_id, record, archived_at, updated_at in rows:
                found[(region_id, session_id)] = (record, archived_at, updated_at)
    return found


def _archived_rows_postgresql(archive: ArchiveConnection, keys: List[Tuple[str, str]]) -> Dict[Tuple[str, str], tuple]:
    # The keys joined as two arrays: each row is found through the primary key. IN (...) and = ANY(...) are planned
    # as a scan of the whole region on a table not analysed yet (a new archive, an import in one transaction).
    found = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        rows = archive.execute('SELECT t.region_id, t.session_id, t.record, t.archived_at, t.updated_at '
                               'FROM unnest(?::text[], ?::text[]) AS k(region_id, session_id) '
                               'JOIN terminal_sessions t ON t.region_id = k.region_id AND t.session_id = k.session_id',
                               ([key[0] for key in chunk], [key[1] for key in chunk])).fetchall()
        for region_id, session_id, record, archived_at, updated_at in rows:
            found[(region_id, session_id)] = (record, archived_at, updated_at)
    return found


# --- writing rows -------------------------------------------------------------------------------------

Change = namedtuple('Change', ['region_id', 'session_id', 'creation_time', 'record', 'archived_at', 'updated_at',
                               'instance_ids', 'old_instance_ids', 'new'])


def _instance_ids(record: Dict[str, Any]) -> List[str]:
    ids = record.get('instance_ids') or ()
    return sorted({value for value in ids if isinstance(value, str) and value})


def _stored_instance_ids(text: str) -> List[str]:
    try:
        return _instance_ids(json.loads(text))
    except (ValueError, AttributeError):
        return []


def write_changes(archive: ArchiveConnection, changes: Sequence[Change], first_seq: int) -> None:
    """Insert or update ``changes`` with change_seq ``first_seq``, ``first_seq + 1``, ...; instance rows replaced."""
    inserts, updates, old_instances, new_instances = [], [], [], []
    for offset, change in enumerate(changes):
        seq = first_seq + offset
        if change.new:
            inserts.append((change.region_id, change.session_id, change.creation_time, change.record,
                            change.archived_at, change.updated_at, seq))
        else:
            updates.append((change.creation_time, change.record, change.updated_at, seq, change.region_id,
                            change.session_id))
        old_instances.extend((instance_id, change.region_id, change.session_id) for instance_id in change.old_instance_ids)
        new_instances.extend((instance_id, change.region_id, change.session_id) for instance_id in change.instance_ids)
    if inserts:
        archive.executemany(
            'INSERT INTO terminal_sessions (region_id, session_id, creation_time, record, archived_at, updated_at, '
            'change_seq) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (region_id, session_id) DO UPDATE SET '
            'creation_time = excluded.creation_time, record = excluded.record, updated_at = excluded.archived_at, '
            'change_seq = excluded.change_seq', inserts)
    if updates:
        archive.executemany('UPDATE terminal_sessions SET creation_time = ?, record = ?, updated_at = ?, change_seq = ? '
                            'WHERE region_id = ? AND session_id = ?', updates)
    if old_instances:
        archive.executemany('DELETE FROM terminal_session_instances WHERE instance_id = ? AND region_id = ? AND '
                            'session_id = ?', old_instances)
    if new_instances:
        archive.executemany('INSERT INTO terminal_session_instances (instance_id, region_id, session_id) VALUES (?, ?, ?) '
                            'ON CONFLICT (instance_id, region_id, session_id) DO NOTHING', new_instances)


def note_regions(archive: ArchiveConnection, newest: Dict[str, str], listed_regions: Sequence[str],
                 listing_start: str) -> None:
    """Raise each region's newest archived creation time to ``newest``; record the listing start of ``listed_regions``."""
    for region_id in sorted(set(newest) | set(listed_regions)):
        if archive.dialect == 'sqlite':
            archive.execute('INSERT OR IGNORE INTO archive_regions (region_id) VALUES (?)', (region_id,))
        else:
            archive.execute('INSERT INTO archive_regions (region_id) VALUES (?) ON CONFLICT (region_id) DO NOTHING',
                            (region_id,))
        stamp = newest.get(region_id)
        if stamp:
            archive.execute('UPDATE archive_regions SET newest_creation_time = ? WHERE region_id = ? AND '
                            '(newest_creation_time IS NULL OR newest_creation_time < ?)', (stamp, region_id, stamp))
        if region_id in listed_regions:
            # The latest start wins: a run that listed earlier but commits later must not move it back.
            archive.execute('UPDATE archive_regions SET last_complete_listing_at = ? WHERE region_id = ? AND '
                            '(last_complete_listing_at IS NULL OR last_complete_listing_at < ?)',
                            (listing_start, region_id, listing_start))


def plan_listing(archive: ArchiveConnection, listed: Sequence[Dict[str, Any]], now: datetime.datetime,
                 cutoff: Optional[datetime.datetime]) -> List[Change]:
    """The rows the listing adds or changes (a record that differs from the archived one, bookkeeping aside)."""
    stamp = format_time(now)
    cutoff_text = format_time(cutoff) if cutoff is not None else None
    fresh = {}
    for session in listed:
        created = creation_key(session)
        if cutoff_text is not None and created and created < cutoff_text:
            continue
        fresh[(session['region_id'], session['session_id'])] = (session, created)
    known = archived_rows(archive, list(fresh))
    changes = []
    for key, (session, created) in fresh.items():
        text = canonical(session)
        archived = known.get(key)
        if archived is None:
            changes.append(Change(key[0], key[1], created, text, stamp, None, _instance_ids(session), [], True))
        elif archived[0] != text:
            changes.append(Change(key[0], key[1], created, text, archived[1], stamp, _instance_ids(session),
                                  _stored_instance_ids(archived[0]), False))
    return changes


def prune(archive: ArchiveConnection, cutoff: Optional[datetime.datetime], write: bool) -> int:
    """Remove (or, not ``write``, count) the rows created before ``cutoff``, through the creation-time index."""
    if cutoff is None or archive.schema_version is None:
        return 0
    cutoff_text = format_time(cutoff)
    where = "creation_time < ? AND creation_time > ''"
    if not write:
        return int(archive.execute('SELECT COUNT(*) FROM terminal_sessions WHERE ' + where, (cutoff_text,)).fetchone()[0])
    pruned = 0
    oldest = 'SELECT region_id, session_id, record FROM terminal_sessions WHERE %s ORDER BY creation_time LIMIT %d' % (where, CHUNK)
    while True:
        rows = archive.execute(oldest, (cutoff_text,)).fetchall()
        if not rows:
            return pruned
        archive.executemany('DELETE FROM terminal_session_instances WHERE instance_id = ? AND region_id = ? AND '
                            'session_id = ?', [(instance_id, region_id, session_id) for region_id, session_id, text in rows
                                               for instance_id in _stored_instance_ids(text)])
        archive.executemany('DELETE FROM terminal_sessions WHERE region_id = ? AND session_id = ?',
                            [(region_id, session_id) for region_id, session_id, _text in rows])
        pruned += len(rows)
        _add_records(archive, -len(rows))


def creation_span(archive: ArchiveConnection, floor: str = '') -> Tuple[Optional[str], Optional[str]]:
    """(oldest, newest) creation time in the archive, through the index; (None, None) when empty.

    ``floor`` (check mode with keep_days): the oldest at or after it, as it would be once pruned.
    """
    if archive.schema_version is None:
        return None, None
    # Two index lookups: MIN and MAX together, or with a WHERE clause, make SQLite scan the whole index.
    oldest = archive.execute("SELECT creation_time FROM terminal_sessions WHERE creation_time > '' AND creation_time >= ? "
                             "ORDER BY creation_time LIMIT 1", (floor,)).fetchone()
    newest = archive.execute("SELECT creation_time FROM terminal_sessions WHERE creation_time > '' "
                             "ORDER BY creation_time DESC LIMIT 1").fetchone()
    return (oldest[0] if oldest else None), (newest[0] if newest else None)


# --- import of a version 1 JSON Lines archive ---------------------------------------------------------

def _stamp_of(bookkeeping: Any, name: str) -> Optional[str]:
    value = bookkeeping.get(name) if isinstance(bookkeeping, dict) else None
    moment = _time(value) if isinstance(value, str) else None
    return format_time(moment) if moment is not None else None


def import_v1(archive: ArchiveConnection, path: str, now: datetime.datetime, cutoff: Optional[datetime.datetime],
              write: bool, batch: int = CHUNK) -> Tuple[int, int, Dict[str, str]]:
    """Import the version 1 archive at ``path`` (streamed, in batches).

    Returns (records imported, of which new, newest creation time per region).

    A record not archived yet is inserted with the ``archived_at``/``updated_at`` of the file; an archived one is
    replaced only when it differs and the file's copy is newer (its ``updated_at``, else ``archived_at``), so a
    second import of the same file imports nothing. Records older than ``cutoff`` are skipped.
    """
    stamp = format_time(now)
    cutoff_text = format_time(cutoff) if cutoff is not None else None
    imported, inserted, newest, pending = 0, 0, {}, {}

    def flush():
        nonlocal imported, inserted
        known = archived_rows(archive, list(pending))
        changes = []
        for key, (record, created) in pending.items():
            text = canonical(record)
            bookkeeping = record.get(BOOKKEEPING) or {}
            archived_at = _stamp_of(bookkeeping, 'archived_at') or stamp
            updated_at = _stamp_of(bookkeeping, 'updated_at')
            archived = known.get(key)
            if archived is None:
                changes.append(Change(key[0], key[1], created, text, archived_at, updated_at, _instance_ids(record), [], True))
            elif archived[0] != text and (updated_at or archived_at) > (archived[2] or archived[1]):
                changes.append(Change(key[0], key[1], created, text, archived[1], updated_at or archived_at,
                                      _instance_ids(record), _stored_instance_ids(archived[0]), False))
        imported += len(changes)
        new = sum(1 for change in changes if change.new)
        inserted += new
        if write and changes:
            write_changes(archive, changes, take_sequence(archive, len(changes)))
            _add_records(archive, new)
        pending.clear()

    for record in iter_v1_archive(path):
        created = creation_key(record)
        if cutoff_text is not None and created and created < cutoff_text:
            continue
        key = (record['region_id'], record['session_id'])
        if key in pending:
            flush()
        pending[key] = (record, created)
        if created and created > newest.get(key[0], ''):
            newest[key[0]] = created
        if len(pending) >= batch:
            flush()
    flush()
    return imported, inserted, newest


# --- the run -----------------------------------------------------------------------------------------

def merge_run(archive: ArchiveConnection, listed: Sequence[Dict[str, Any]], region_ids: Sequence[str],
              listing_started: datetime.datetime, now: datetime.datetime, cutoff: Optional[datetime.datetime],
              import_path: Optional[str] = None, write: bool = True) -> MergeOutcome:
    """Import (optional), merge the listing of ``region_ids``, prune, and record the regions' listing - one transaction.

    ``write=False`` (check mode, a read-only connection) computes the same counts and writes nothing.
    Raises :class:`ArchiveStoreError` (nothing changed) on a database error or a lock not obtained in time,
    :class:`ArchiveError` for an ``import_path`` that cannot be imported.
    """
    transaction = write_transaction if write else read_transaction
    try:
        with transaction(archive):
            return _merge(archive, listed, region_ids, listing_started, now, cutoff, import_path, write)
    except ArchiveStoreError:
        raise
    except ArchiveError:
        raise
    except Exception as error:  # pylint: disable=broad-except
        if not _is_database_error(error):
            raise
        raise ArchiveStoreError(describe_store_error(archive, error, 'cannot merge into the archive %s, left as it was'
                                                     % archive.location.label()))


def _merge(archive, listed, region_ids, listing_started, now, cutoff, import_path, write):
    before = counter(archive, 'change_seq')
    region_ids = sorted(set(region_ids))
    if write:
        lock_regions(archive, region_ids)
    imported, inserted, newest = 0, 0, {}
    if import_path:
        imported, inserted, newest = import_v1(archive, import_path, now, cutoff, write)
    regions = region_rows(archive, region_ids)
    for region_id, imported_newest in newest.items():  # what the import brought counts as archived before the listing
        last_listing, archived_newest = regions.get(region_id, (None, None))
        regions[region_id] = (last_listing, max(archived_newest or '', imported_newest) or None)
    gaps = find_gaps(regions, listed, region_ids, listing_started)
    changes = plan_listing(archive, listed, now, cutoff)
    pruned = prune(archive, cutoff, write)
    added = sum(1 for change in changes if change.new)
    updated = len(changes) - added
    for change in changes:
        if change.creation_time and change.creation_time > newest.get(change.region_id, ''):
            newest[change.region_id] = change.creation_time
    if write:
        note_regions(archive, newest, region_ids, format_time(listing_started))
        if changes:
            write_changes(archive, changes, take_sequence(archive, len(changes)))
        _add_records(archive, added)
        records = counter(archive, 'records')
        after = counter(archive, 'change_seq')
    else:
        records = counter(archive, 'records') + inserted + added - pruned
        after = before + imported + len(changes)
    oldest, newest_time = creation_span(archive, format_time(cutoff) if cutoff is not None and not write else '')
    if not write and (added or inserted):
        # Check mode: the span as it would be, from what the run would add.
        times = [change.creation_time for change in changes if change.creation_time] + [t for t in newest.values() if t]
        if times:
            oldest = min([oldest] + times) if oldest else min(times)
            newest_time = max([newest_time] + times) if newest_time else max(times)
    return MergeOutcome(added, updated, max(records - added - updated, 0), pruned, records, oldest, newest_time, gaps,
                        imported, before, after)


def _is_database_error(error) -> bool:
    module = type(error).__module__ or ''
    return module.startswith(('sqlite3', 'psycopg')) or isinstance(error, OSError)


def describe_store_error(archive: ArchiveConnection, error, action: str) -> str:
    if archive.dialect == 'postgresql':
        return describe_database_error(error, action)
    text = str(error)
    lowered = text.lower()
    if 'locked' in lowered or 'busy' in lowered:
        text = 'another run held the database lock for longer than lock_timeout (%s)' % text
    elif 'readonly' in lowered or 'read-only' in lowered:
        text = 'the database cannot be written (a read-only file system or file): %s' % text
    elif 'full' in lowered:
        text = 'the disk is full: %s' % text
    return '%s: %s' % (action, text)
