# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The session archive's records and files: the version 1 JSON Lines format (an import source), the change log
lines, the CSV export, and the small file functions (the lock, the atomic write that keeps mode and owner).

The archive itself is a database (:mod:`archive_store`, :mod:`archive_merge`). Version 1 of the archive was a file:
a header line of our own, then one normalised session record a line (the records of :mod:`sessions`, plus the
bookkeeping key :data:`BOOKKEEPING`), keyed by region and session ID; ``import_path`` reads it
(:func:`iter_v1_archive`, streamed) and :func:`parse_archive` checks such text.
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

from contextlib import contextmanager
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

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


def parse_v1_lines(lines: Iterable[Union[bytes, str]], name: str = 'the archive') -> Iterator[Dict[str, Any]]:
    """The records of a version 1 archive given line by line (bytes or str, end of line or not), in file order.

    No line at all is an archive with no records. Anything else must start with the header line; every further
    line must be one session record, and as many as the header counts (checked once the lines are read). Raises
    :class:`ArchiveError` naming the line. Yields the records, so a large archive is never held whole.
    """
    first = None
    expected = count = 0
    for number, line in enumerate(lines, 1):
        line = line.rstrip(b'\r\n' if isinstance(line, bytes) else '\r\n')
        if number == 1:
            expected = _header_count(line, name)
            first = True
            continue
        record = _decoded(line, number, name)
        problem = _line_problem(record)
        if problem:
            raise ArchiveError('%s, line %d: %s; the archive is damaged and was not imported' % (name, number, problem))
        count += 1
        yield record
    if first and expected is not None and expected != count:
        raise ArchiveError('%s: the header (line 1) counts %s records but the file holds %d; it was truncated or edited '
                           'and was not imported' % (name, expected, count))


def _header_count(line, name):
    first = None
    try:
        first = _decoded(line, 1, name)
    except ArchiveError:
        pass
    if not isinstance(first, dict) or first.get('_archive_format') != FORMAT:
        raise ArchiveError('%s is not a terminal session archive of alicloud.ecs: line 1 is not its header '
                           '{"_archive_format": "%s", ...}' % (name, FORMAT))
    version = first.get('version')
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArchiveError('%s, line 1: the header has no valid version (%r)' % (name, version))
    if version > VERSION:
        raise ArchiveError('%s is an archive of version %d, written by a newer alicloud.ecs; this one reads version %d'
                           % (name, version, VERSION))
    return first.get('records')


def parse_archive(data: Union[bytes, str], name: str = 'the archive') -> List[Dict[str, Any]]:
    """The records of a version 1 archive's whole text (see :func:`parse_v1_lines`); each (region, session ID) once."""
    if not data:
        return []
    records, seen = [], {}
    for number, record in enumerate(parse_v1_lines(data.splitlines(), name), 2):
        key = session_key(record)
        if key in seen:
            raise ArchiveError('%s, line %d: session %s of region %s again (first on line %d); the archive is damaged'
                               % (name, number, key[1], key[0], seen[key]))
        seen[key] = number
        records.append(record)
    return records


def iter_v1_archive(path: str) -> Iterator[Dict[str, Any]]:
    """The records of the version 1 archive file ``path``, streamed; the rules of :mod:`file_safety` apply."""
    try:
        descriptor = _safe(open_regular, path)
    except FileNotFoundError:
        raise ArchiveError('import_path: there is no file %s' % path)
    except OSError as error:
        raise ArchiveError('import_path: cannot open %s: %s' % (path, error))
    with os.fdopen(descriptor, 'rb') as handle:
        yield from parse_v1_lines(handle, path)


# --- records ------------------------------------------------------------------------------------

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


def change_log_line(record: Dict[str, Any]) -> str:
    """One line of the change log (without its end of line): region, session ID and time first, bookkeeping last."""
    return _json_line(_ordered(record))


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


def write_atomic(path: str, data: Union[bytes, Iterable[bytes]], new_mode: int = NEW_FILE_MODE) -> None:
    """Replace ``path`` with ``data`` (bytes, or an iterable of bytes written as it comes) in one rename, or leave
    it exactly as it was.

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
            for chunk in [data] if isinstance(data, bytes) else data:
                handle.write(chunk)
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
