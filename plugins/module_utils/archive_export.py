# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The archive's exports: the append-only JSON Lines change log (``jsonl_path``) and the CSV file (``csv_path``).

The change log gets, after each commit, the rows whose ``change_seq`` is past the position stored for it in
``change_log_positions``, in ``change_seq`` order; then the position moves on. A run that died between its commit
and the append leaves the position behind, so the next run appends those rows (at least once). Lines are never
rewritten, so a log shipper that tails the file ships each change once in the normal course.

The CSV export streams the whole archive (the one full read of a run, only when asked) into a temporary file and
renames it over the old one only when the content differs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import hashlib
import io
import json
import os

from typing import Any, Dict, Iterator, Optional, Tuple

from ansible_collections.alicloud.ecs.plugins.module_utils.archive import (
    BOOKKEEPING, CSV_COLUMNS, ArchiveError, archive_lock, change_log_line, csv_row, fsync_directory, neutralise,
    write_atomic)
from ansible_collections.alicloud.ecs.plugins.module_utils.archive_store import ArchiveConnection
from ansible_collections.alicloud.ecs.plugins.module_utils.file_safety import (
    UnsafeFileError, check_target, open_regular)

# Rows fetched at a time while streaming.
FETCH = 1000


def stored_record(text: str, archived_at: str, updated_at: Optional[str], region_id: Optional[str] = None,
                  session_id: Optional[str] = None) -> Dict[str, Any]:
    """A record as the archive gives it back: the stored JSON plus ``_archive`` (``archived_at``, ``updated_at``)."""
    record = json.loads(text)
    if region_id is not None:
        record.setdefault('region_id', region_id)
    if session_id is not None:
        record.setdefault('session_id', session_id)
    bookkeeping = {'archived_at': archived_at}
    if updated_at:
        bookkeeping['updated_at'] = updated_at
    record[BOOKKEEPING] = bookkeeping
    return record


def _stream(archive: ArchiveConnection, statement: str, parameters=()) -> Iterator[tuple]:
    cursor = archive.execute(statement, parameters)
    try:
        while True:
            rows = cursor.fetchmany(FETCH)
            if not rows:
                return
            yield from rows
    finally:
        cursor.close()


# --- the change log ------------------------------------------------------------------------------------

def change_log_position(archive: ArchiveConnection, path: str) -> Optional[int]:
    if archive.schema_version is None:
        return None
    row = archive.execute('SELECT change_seq FROM change_log_positions WHERE path = ?', (path,)).fetchone()
    return int(row[0]) if row else None


def pending_changes(archive: ArchiveConnection, path: str, first_use_position: int) -> int:
    """How many lines the change log at ``path`` would get now (check mode)."""
    position = change_log_position(archive, path)
    if position is None:
        position = first_use_position
    if archive.schema_version is None:
        return 0
    return int(archive.execute('SELECT COUNT(*) FROM terminal_sessions WHERE change_seq > ?', (position,)).fetchone()[0])


def _append_lines(path: str, lines: Iterator[str]) -> int:
    """Append ``lines`` to ``path`` (created 0600 when missing, never through a link), fsync; the count written."""
    existed = os.path.lexists(path)
    try:
        descriptor = open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except UnsafeFileError as error:
        raise ArchiveError(str(error))
    count = 0
    with os.fdopen(descriptor, 'ab') as handle:
        buffer = []
        for line in lines:
            buffer.append(line.encode('utf-8') + b'\n')
            count += 1
            if len(buffer) >= FETCH:
                handle.write(b''.join(buffer))
                buffer = []
        handle.write(b''.join(buffer))
        handle.flush()
        os.fsync(handle.fileno())
    if not existed:
        fsync_directory(os.path.dirname(path) or '.')
    return count


def append_change_log(archive: ArchiveConnection, path: str, first_use_position: int, lock_timeout: float) -> int:
    """Append the changes past the stored position to the change log ``path``, then store the new position.

    ``first_use_position`` is where a change log never used before starts (the change_seq before this run).
    Holds ``<path>.lock`` for the append and the position update, so two runs never append the same rows.
    Returns the number of lines appended.
    """
    try:
        check_target(path)
    except UnsafeFileError as error:
        raise ArchiveError(str(error))
    with archive_lock(path, timeout=lock_timeout):
        position = change_log_position(archive, path)
        if position is None:
            position = first_use_position
        last = [position]

        def lines():
            for region_id, session_id, text, archived_at, updated_at, seq in _stream(
                    archive, 'SELECT region_id, session_id, record, archived_at, updated_at, change_seq '
                             'FROM terminal_sessions WHERE change_seq > ? ORDER BY change_seq', (position,)):
                last[0] = max(last[0], int(seq))
                yield change_log_line(stored_record(text, archived_at, updated_at, region_id, session_id))

        if archive.dialect == 'sqlite':
            archive.connection.execute('BEGIN')
            try:
                count = _append_lines(path, lines())
            finally:
                archive.connection.execute('ROLLBACK')
        else:
            with archive.connection.transaction():
                count = _append_lines(path, lines())
        _store_position(archive, path, last[0])
    return count


def _store_position(archive: ArchiveConnection, path: str, position: int) -> None:
    statement = ('INSERT INTO change_log_positions (path, change_seq) VALUES (?, ?) ON CONFLICT (path) DO UPDATE '
                 'SET change_seq = excluded.change_seq')
    if archive.dialect == 'sqlite':
        archive.connection.execute('BEGIN IMMEDIATE')
        try:
            archive.execute(statement, (path, position))
        except BaseException:
            archive.connection.execute('ROLLBACK')
            raise
        archive.connection.execute('COMMIT')
    else:
        with archive.connection.transaction():
            archive.execute(statement, (path, position))


# --- the CSV export --------------------------------------------------------------------------------------

def csv_chunks(archive: ArchiveConnection) -> Iterator[bytes]:
    """The CSV text of the whole archive (oldest first), streamed as UTF-8 chunks; formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\r\n')
    writer.writerow(CSV_COLUMNS)
    if archive.schema_version is not None:
        for count, (region_id, session_id, text, archived_at, updated_at) in enumerate(_stream(
                archive, 'SELECT region_id, session_id, record, archived_at, updated_at FROM terminal_sessions '
                         'ORDER BY creation_time, region_id, session_id'), 1):
            record = stored_record(text, archived_at, updated_at, region_id, session_id)
            writer.writerow([neutralise(cell) for cell in csv_row(record)])
            if count % FETCH == 0:
                yield buffer.getvalue().encode('utf-8', errors='replace')
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode('utf-8', errors='replace')


def _file_digest(path: str) -> Optional[Tuple[int, bytes]]:
    """(size, sha256) of the file at ``path``, or None when there is none; the rules of file_safety apply."""
    try:
        descriptor = open_regular(path)
    except FileNotFoundError:
        return None
    except UnsafeFileError as error:
        raise ArchiveError(str(error))
    digest, size = hashlib.sha256(), 0
    with os.fdopen(descriptor, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 16), b''):
            digest.update(block)
            size += len(block)
    return size, digest.digest()


def export_csv(archive: ArchiveConnection, path: str, write: bool) -> bool:
    """Whether the CSV file at ``path`` differs from the archive's export; when it does and ``write``, replace it.

    Streams twice at most (once to compare, once to write), never holding the whole export.
    """
    try:
        check_target(path)
    except UnsafeFileError as error:
        raise ArchiveError(str(error))
    current = _file_digest(path)
    digest, size = hashlib.sha256(), 0
    for chunk in csv_chunks(archive):
        digest.update(chunk)
        size += len(chunk)
    changed = current != (size, digest.digest())
    if changed and write:
        write_atomic(path, csv_chunks(archive))
    return changed
