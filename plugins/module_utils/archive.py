# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The session archive: a JSON Lines file of session records, merged run after run.

The file: a header line of our own, then one normalised session record a line (the records of
:mod:`sessions`, plus the bookkeeping key :data:`BOOKKEEPING`), oldest first, keyed by region
and session ID.

Pure functions first - read and check the text, merge listed records into archived ones, prune,
find gaps, render the archive and its CSV export - then the small file functions: the lock, the
atomic write that keeps mode and owner.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import datetime
import errno
import fcntl
import io
import json
import os
import stat
import time

from collections import namedtuple
from contextlib import contextmanager
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import session_time
from ansible_collections.alicloud.ecs.plugins.module_utils.file_safety import (
    UnsafeFileError, check_directory, check_target, create_temporary, directory_of, open_regular, read_regular)

FORMAT = 'alicloud.ecs.terminal_sessions'
VERSION = 1
BOOKKEEPING = '_archive'
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
NEW_FILE_MODE = 0o600
# A session record is a few levels deep (record, connections, connection); a line nested far deeper is not
# one, and would exhaust Python's recursion limit when compared or written out again.
MAX_DEPTH = 32

# Cells a spreadsheet would read as a formula (OWASP "CSV injection") start with one of these: the ASCII
# signs, their fullwidth forms (which some spreadsheets fold to ASCII when reading), and the controls a
# cell may begin with. Spreadsheets also skip leading white space before looking for `=`, so a cell
# starting with any white space (see neutralise) is treated the same way.
FORMULA_PREFIXES = ('=', '+', '-', '@', '\t', '\r', '\n', ' ', '\uff1d', '\uff0b', '\uff0d', '\uff20')
CSV_COLUMNS = ('region_id', 'session_id', 'creation_time', 'username', 'client_ip', 'principal_id', 'identity_type',
               'port_number', 'target_server', 'instance_ids', 'statuses', 'closed_reasons', 'start_time', 'end_time',
               'archived_at', 'updated_at')
_LEADING_KEYS = ('region_id', 'session_id', 'creation_time')


class ArchiveError(Exception):
    """The archive cannot be read or written as it is; the message names the file and, for its text, the line."""


class ArchiveLockTimeout(ArchiveError):
    """Another run held the archive's lock for longer than the caller would wait."""


MergeResult = namedtuple('MergeResult', ['records', 'added', 'updated', 'unchanged', 'pruned'])


def format_time(moment: datetime.datetime) -> str:
    """``2024-01-19T09:15:46Z`` for an aware datetime."""
    return moment.astimezone(datetime.timezone.utc).strftime(TIME_FORMAT)


def header(count: int) -> Dict[str, Any]:
    """The first line of an archive of ``count`` records."""
    return {'_archive_format': FORMAT, 'version': VERSION, 'records': count}


def session_key(record: Dict[str, Any]) -> Tuple[str, str]:
    """(region, session ID): what identifies a record in an archive."""
    return (record['region_id'], record['session_id'])


def without_bookkeeping(record: Dict[str, Any]) -> Dict[str, Any]:
    """The record as the service describes it: what decides whether it changed."""
    return {key: value for key, value in record.items() if key != BOOKKEEPING}


# --- reading -----------------------------------------------------------------------------------

def _line_problem(record):
    """Why a parsed line cannot be a session record of the archive, or None."""
    if not isinstance(record, dict):
        return 'a JSON %s, not a session record (an object)' % type(record).__name__
    for name in ('session_id', 'region_id'):
        if not isinstance(record.get(name), str) or not record[name]:
            return 'a JSON object without %s, not a session record' % name
    for name in ('connections', 'instance_ids'):
        if not isinstance(record.get(name), list):
            return 'a session record whose %s is not a list' % name
    if BOOKKEEPING in record and not isinstance(record[BOOKKEEPING], dict):
        return 'a session record whose %s is not an object' % BOOKKEEPING
    if 'creation_time' in record and not isinstance(record['creation_time'], str):
        return 'a session record whose creation_time is a JSON %s, not a string' % _json_type(record['creation_time'])
    if _nested_deeper(record, MAX_DEPTH):
        return 'a session record nested more than %d levels deep' % MAX_DEPTH
    return None


def _json_type(value):
    for kind, name in ((bool, 'boolean'), (str, 'string'), ((int, float), 'number'), (list, 'array'), (dict, 'object')):
        if isinstance(value, kind):
            return name
    return 'null'


def _nested_deeper(value, limit):
    """Whether ``value`` (parsed JSON) holds lists or objects more than ``limit`` levels deep; no recursion."""
    level = [value]
    for _depth in range(limit + 1):
        level = [item for container in level if isinstance(container, (list, dict))
                 for item in (container.values() if isinstance(container, dict) else container)]
        if not level:
            return False
    return True


def _decoded(line, number, name):
    try:
        text = line.decode('utf-8') if isinstance(line, bytes) else line
        return json.loads(text)
    except (UnicodeDecodeError, ValueError) as error:
        raise ArchiveError('%s, line %d: not valid JSON (%s); the archive is damaged (a truncated copy?) and is left '
                           'as it is' % (name, number, error))
    except RecursionError:
        raise ArchiveError('%s, line %d: JSON nested too deeply to read (more than %d levels is not a session '
                           'record); the archive is damaged and is left as it is' % (name, number, MAX_DEPTH))


def parse_archive(data: Union[bytes, str], name: str = 'the archive') -> List[Dict[str, Any]]:
    """The records of an archive's text (bytes or str), in file order.

    An empty text is an archive with no records (a file created beforehand with the mode and owner
    wanted). Anything else must start with the header line; every further line must be one session
    record, each (region, session ID) once, and as many as the header counts. Raises
    :class:`ArchiveError` naming the line.
    """
    if not data:
        return []
    lines = data.split(b'\n' if isinstance(data, bytes) else '\n')
    if not lines[-1]:
        lines.pop()
    first = None
    try:
        first = _decoded(lines[0], 1, name)
    except ArchiveError:
        pass
    if not isinstance(first, dict) or first.get('_archive_format') != FORMAT:
        raise ArchiveError('%s is not a terminal session archive of alicloud.ecs: line 1 is not its header '
                           '{"_archive_format": "%s", ...}; refusing to overwrite it. Give another path, or move the file away'
                           % (name, FORMAT))
    version = first.get('version')
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArchiveError('%s, line 1: the header has no valid version (%r)' % (name, version))
    if version > VERSION:
        raise ArchiveError('%s is an archive of version %d, written by a newer alicloud.ecs; this one reads version %d'
                           % (name, version, VERSION))
    records, seen = [], {}
    for number, line in enumerate(lines[1:], 2):
        record = _decoded(line, number, name)
        problem = _line_problem(record)
        if problem:
            raise ArchiveError('%s, line %d: %s; the archive is damaged and is left as it is' % (name, number, problem))
        key = session_key(record)
        if key in seen:
            raise ArchiveError('%s, line %d: session %s of region %s again (first on line %d); the archive is damaged '
                               'and is left as it is' % (name, number, key[1], key[0], seen[key]))
        seen[key] = number
        records.append(record)
    expected = first.get('records')
    if expected is not None and expected != len(records):
        raise ArchiveError('%s: the header (line 1) counts %s records but the file holds %d; it was truncated or edited '
                           'and is left as it is' % (name, expected, len(records)))
    return records


# --- merging -----------------------------------------------------------------------------------

def is_older(record: Dict[str, Any], cutoff: datetime.datetime) -> bool:
    """Whether the record was created before ``cutoff`` (a datetime); a record without a readable time is not."""
    if cutoff is None:
        return False
    created = session_time(record)
    return created is not None and created < cutoff


def archive_order(records: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Oldest first (ISO 8601 UTC times sort as text), then region and session ID: the order of the file."""
    return sorted(records, key=lambda r: (str(r.get('creation_time') or ''), str(r['region_id']), str(r['session_id'])))


def merge(archived: Iterable[Dict[str, Any]], listed: Iterable[Dict[str, Any]], now: datetime.datetime,
          cutoff: Optional[datetime.datetime] = None) -> MergeResult:
    """Merge ``listed`` (normalised records from the service) into ``archived`` (records of the archive).

    A listed session not archived yet is added; one archived already replaces its archived record only
    when it differs from it (bookkeeping aside), which then keeps its ``archived_at`` and gains
    ``updated_at``. Archived sessions the service no longer lists are kept. With ``cutoff`` (a datetime),
    records created before it are pruned from the archive and listed ones are not added.
    ``now`` is a datetime. Returns a :class:`MergeResult`; ``added + updated + unchanged`` is the
    number of records. Nothing given is changed in place.
    """
    stamp = format_time(now)
    merged = {session_key(record): record for record in archived}
    added = updated = 0
    for session in listed:
        if is_older(session, cutoff):
            continue
        key = session_key(session)
        fresh = without_bookkeeping(session)
        known = merged.get(key)
        if known is None:
            merged[key] = dict(fresh, **{BOOKKEEPING: {'archived_at': stamp}})
            added += 1
        elif without_bookkeeping(known) != fresh:
            bookkeeping = dict(known.get(BOOKKEEPING) or {})
            bookkeeping.setdefault('archived_at', stamp)
            bookkeeping['updated_at'] = stamp
            merged[key] = dict(fresh, **{BOOKKEEPING: bookkeeping})
            updated += 1
    kept, pruned = prune(merged.values(), cutoff)
    return MergeResult(archive_order(kept), added, updated, len(kept) - added - updated, pruned)


def prune(records: Sequence[Dict[str, Any]], cutoff: datetime.datetime) -> Tuple[List[Dict[str, Any]], int]:
    """(records created at or after ``cutoff``, how many were dropped); a record without a readable time is kept."""
    records = list(records)
    kept = [record for record in records if not is_older(record, cutoff)]
    return kept, len(records) - len(kept)


def creation_span(records: Iterable[Dict[str, Any]]) -> Tuple[Optional[str], Optional[str]]:
    """(oldest, newest) creation time of ``records`` as text, or (None, None)."""
    times = [record['creation_time'] for record in records if record.get('creation_time')]
    return (min(times), max(times)) if times else (None, None)


def describe_span(seconds: float) -> str:
    """``2d 4h 10m`` for a number of seconds; ``under a minute`` below 60."""
    seconds = int(seconds)
    if seconds < 60:
        return 'under a minute'
    parts = []
    for unit, size in (('d', 86400), ('h', 3600), ('m', 60)):
        if seconds >= size:
            parts.append('%d%s' % (seconds // size, unit))
            seconds %= size
    return ' '.join(parts)


def _time_extreme(records, newest):
    best = None
    for record in records:
        moment = session_time(record)
        if moment is not None and (best is None or (moment > best[0] if newest else moment < best[0])):
            best = (moment, record['creation_time'])
    return best


def find_gaps(archived: Iterable[Dict[str, Any]], listed: Iterable[Dict[str, Any]],
              region_ids: Iterable[str]) -> List[Dict[str, Any]]:
    """Regions where sessions may have expired unseen, each a dict.

    For each region of ``region_ids`` that the archive already holds: when the oldest session listed
    now was created after the newest one archived, nothing overlaps, and sessions created in between
    may have left the service's retention (time or record cap) before any run saw them.
    """
    gaps = []
    for region_id in region_ids:
        newest = _time_extreme([r for r in archived if r['region_id'] == region_id], newest=True)
        in_region = [r for r in listed if r['region_id'] == region_id]
        oldest = _time_extreme(in_region, newest=False)
        if newest is None or oldest is None or oldest[0] <= newest[0]:
            continue
        seconds = int((oldest[0] - newest[0]).total_seconds())
        gaps.append({'region_id': region_id, 'newest_archived': newest[1], 'oldest_listed': oldest[1],
                     'seconds': seconds, 'span': describe_span(seconds), 'listed': len(in_region)})
    return gaps


# --- rendering ---------------------------------------------------------------------------------

def _ordered(record):
    """The record with region, session ID and time first and the bookkeeping last, the rest by name."""
    keys = [key for key in _LEADING_KEYS if key in record]
    keys += sorted(key for key in record if key not in _LEADING_KEYS and key != BOOKKEEPING)
    if BOOKKEEPING in record:
        keys.append(BOOKKEEPING)
    return {key: record[key] for key in keys}


def _json_line(value):
    return json.dumps(value, sort_keys=False, separators=(',', ':'), ensure_ascii=True)


def render_archive(records: Sequence[Dict[str, Any]]) -> str:
    """The text of an archive holding ``records``, in the order given: header, then one record a line."""
    lines = [_json_line(header(len(records)))]
    lines.extend(_json_line(_ordered(record)) for record in records)
    return '\n'.join(lines) + '\n'


def neutralise(value: Any) -> str:
    """A CSV cell as text; one a spreadsheet would read as a formula gets a leading ``'``.

    That is a cell starting with a sign of :data:`FORMULA_PREFIXES` or with any white space (spreadsheets
    skip it and then look for ``=``), so `` =1+1`` and ``\u3000=1+1`` are neutralised too.
    """
    text = '' if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) or text[:1].isspace() else text


def _joined(values):
    return ' '.join(str(value) for value in values if value not in (None, ''))


def csv_row(record: Dict[str, Any]) -> List[Any]:
    """One session as the cells of :data:`CSV_COLUMNS`, not yet neutralised."""
    connections = [conn for conn in record.get('connections') or () if isinstance(conn, dict)]
    starts = [conn['start_time'] for conn in connections if conn.get('start_time')]
    ends = [conn['end_time'] for conn in connections if conn.get('end_time')]
    bookkeeping = record.get(BOOKKEEPING) or {}
    values = dict(record)
    values.update(
        instance_ids=_joined(record.get('instance_ids') or ()),
        statuses=_joined(conn.get('status') for conn in connections),
        closed_reasons=_joined(conn.get('closed_reason') for conn in connections),
        start_time=min(starts) if starts else None,
        end_time=max(ends) if ends else None,
        archived_at=bookkeeping.get('archived_at'),
        updated_at=bookkeeping.get('updated_at'),
    )
    return [values.get(column) for column in CSV_COLUMNS]


def csv_rows(records: Iterable[Dict[str, Any]]) -> List[List[str]]:
    """The header row, then one row a session; every cell text, formulas neutralised."""
    rows = [list(CSV_COLUMNS)]
    rows.extend([neutralise(cell) for cell in csv_row(record)] for record in records)
    return rows


def render_csv(records: Iterable[Dict[str, Any]]) -> str:
    """The CSV text of ``records`` (see :func:`csv_rows`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\r\n')
    writer.writerows(csv_rows(records))
    return buffer.getvalue()


# --- files -------------------------------------------------------------------------------------
# Every path goes through file_safety: no symlink, a regular file nobody else can write, in a directory
# others cannot write. The module often runs as root, in directories it does not own.

def _safe(call, *args, **kwargs):
    """``call(*args, **kwargs)``, its :class:`UnsafeFileError` raised as :class:`ArchiveError`."""
    try:
        return call(*args, **kwargs)
    except UnsafeFileError as error:
        raise ArchiveError(str(error))


def read_file(path: str) -> Optional[bytes]:
    """The bytes of ``path``, or None when there is no such file; a symlink, FIFO or foreign-writable file is refused."""
    return _safe(read_regular, path)


def lock_path(path: str) -> str:
    """The lock file of the archive ``path``."""
    return path + '.lock'


@contextmanager
def archive_lock(path: str, timeout: Optional[float] = None, poll: float = 0.1) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<path>.lock`` for the block; wait at most ``timeout`` seconds.

    The lock file stays (removing it would race with a run waiting on it). Raises
    :class:`ArchiveLockTimeout` when another run holds it for longer.
    """
    name = lock_path(path)
    _safe(check_directory, directory_of(name))
    try:
        descriptor = _safe(open_regular, name, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError as error:
        raise ArchiveError('cannot open the lock file %s: %s' % (name, error))
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise ArchiveError('cannot lock %s: %s' % (name, error))
                if deadline is not None and time.monotonic() >= deadline:
                    raise ArchiveLockTimeout('another run has held the lock %s for more than %s seconds' % (name, timeout))
                time.sleep(poll)
        yield name
    finally:
        os.close(descriptor)


def _keep_owner(descriptor, current, path):
    mine = os.fstat(descriptor)
    if (mine.st_uid, mine.st_gid) == (current.st_uid, current.st_gid):
        return
    try:
        os.fchown(descriptor, current.st_uid, current.st_gid)
    except PermissionError:
        raise ArchiveError('cannot keep the owner of %s (uid %d, gid %d) when writing it as uid %d: run the task as '
                           'that user or as root' % (path, current.st_uid, current.st_gid, os.geteuid()))


def fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable; a file system that cannot fsync a directory is let be."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_atomic(path: str, data: bytes, new_mode: int = NEW_FILE_MODE) -> None:
    """Replace ``path`` with ``data`` (bytes) in one rename, or leave it exactly as it was.

    ``path`` must be absent or a regular file nobody but its owner can write, in a directory others cannot
    write (:mod:`file_safety`; :class:`ArchiveError` otherwise). The data goes to a new temporary file in the
    same directory (created exclusively, never following a link), is fsynced, gets the mode and owner of the
    file it replaces (``new_mode`` for a new file), and is renamed over ``path`` - the rename replaces the
    directory entry and never writes through a link. On any failure the temporary file is removed and the
    error raised; ``path`` is untouched.
    """
    directory = directory_of(path)
    current = _safe(check_target, path)[path]
    descriptor, temporary = _safe(create_temporary, directory, '.%s.' % os.path.basename(path))
    try:
        with os.fdopen(descriptor, 'wb') as handle:
            handle.write(data)
            handle.flush()
            if current is None:
                os.fchmod(handle.fileno(), new_mode)
            else:
                _keep_owner(handle.fileno(), current, path)
                os.fchmod(handle.fileno(), stat.S_IMODE(current.st_mode))
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    fsync_directory(directory)
