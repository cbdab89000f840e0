# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the archive store: one parameterised query, rows streamed back as session records.

The database evaluates what its indexes answer - regions and session IDs (the primary key), instance IDs (the
``terminal_session_instances`` table) and the creation-time window of ``filters`` (the creation-time index). Every
other criterion, and the exact time bounds, are applied here by :class:`criteria.Criteria`, the code that
``ecs_terminal_session_info`` applies to what the service lists, so both modules select the same sessions.
Pure Python over a DB-API 2 connection; no driver is imported here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

from contextlib import closing, contextmanager

from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import Criteria, parse_time
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import with_text_fields

BOOKKEEPING = '_archive'
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
FETCH_ROWS = 500
# The archive stores creation times as 'YYYY-MM-DDTHH:MM:SSZ'. The database compares them as text, a second
# wider than the filters ask (a stored fraction of a second, '...:46.5Z', sorts before '...:46Z'); the exact
# bounds are applied in Python afterwards.
WINDOW_MARGIN = datetime.timedelta(seconds=1)


# The distinct regions of the archive, one index seek each ("loose index scan"): SQLite and PostgreSQL alike.
REGIONS_CTE = ('WITH RECURSIVE archived_regions(region_id) AS (SELECT MIN(region_id) FROM terminal_sessions UNION ALL '
               'SELECT (SELECT MIN(t.region_id) FROM terminal_sessions t WHERE t.region_id > a.region_id) '
               'FROM archived_regions a WHERE a.region_id IS NOT NULL) ')


class ArchiveQueryError(Exception):
    """A row of the archive that is not a session record; the message names it (region and session ID)."""


class ArchiveQuery(NamedTuple):
    """One SELECT over the archive with its parameters, in the placeholder style of the database."""
    sql: str
    parameters: Tuple[str, ...]


def time_window(filters: Optional[Mapping[str, Any]], now: datetime.datetime) -> Tuple[Optional[str], Optional[str]]:
    """The creation-time bounds (text, inclusive, a little wider than asked) implied by ``filters``, or None each.

    ``now`` must be the moment the :class:`Criteria` of the same filters counts ages from. Raises CriteriaError
    like Criteria for a value that is not a time.
    """
    bounds = []
    for name, margin in (('created_after', -WINDOW_MARGIN), ('created_before', WINDOW_MARGIN)):
        value = (filters or {}).get(name)
        if value is None:
            bounds.append(None)
            continue
        bound = parse_time(value, f'filters.{name}', now) + margin
        bounds.append(_text_time(bound))
    return bounds[0], bounds[1]


def _text_time(moment):
    try:
        return moment.strftime(TIME_FORMAT)
    except ValueError:  # before the year 1000 on some platforms: '0999' would not sort as four digits anyway
        return f'{moment.year:04d}' + moment.strftime(TIME_FORMAT)[len(str(moment.year)):]


def build_query(placeholder: str, region_ids: Sequence[str] = (), instance_ids: Sequence[str] = (),
                session_ids: Sequence[str] = (), created_after: Optional[str] = None,
                created_before: Optional[str] = None) -> ArchiveQuery:
    """The SELECT of the sessions that meet the database's share of the criteria (each list: any of its values).

    ``placeholder`` is ``?`` (sqlite3) or ``%s`` (psycopg). Values are always parameters, never SQL text.
    """
    conditions, parameters = [], []

    def any_of(column, values):
        conditions.append(f"{column} IN ({', '.join([placeholder] * len(values))})")
        parameters.extend(values)

    prefix = ''
    if region_ids:
        any_of('s.region_id', region_ids)
    elif session_ids:
        # The primary key starts with the region: with the archive's regions (a few, found by index seeks, one per
        # region) the database looks the sessions up by key instead of reading every row for their IDs.
        prefix = REGIONS_CTE
        conditions.append('s.region_id IN (SELECT region_id FROM archived_regions WHERE region_id IS NOT NULL)')
    if session_ids:
        any_of('s.session_id', session_ids)
    if created_after is not None:
        conditions.append(f's.creation_time >= {placeholder}')
        parameters.append(created_after)
    if created_before is not None:
        conditions.append(f's.creation_time <= {placeholder}')
        parameters.append(created_before)
    if instance_ids:
        # Driven by the instance table's primary key (instance_id first): the sessions of a few instances are found
        # without reading the others, however large the archive.
        wanted = ', '.join([placeholder] * len(instance_ids))
        conditions.append('(s.region_id, s.session_id) IN (SELECT i.region_id, i.session_id FROM terminal_session_instances i'
                          f' WHERE i.instance_id IN ({wanted}))')
        parameters.extend(instance_ids)
    sql = prefix + 'SELECT s.record, s.archived_at, s.updated_at, s.region_id, s.session_id FROM terminal_sessions s'
    if conditions:
        sql += ' WHERE ' + ' AND '.join(conditions)
    return ArchiveQuery(sql, tuple(parameters))


def record_from_row(record: str, archived_at: str, updated_at: Optional[str], region_id: str = '?',
                    session_id: str = '?') -> Dict[str, Any]:
    """A session as the archive returns it: the stored record plus ``_archive`` (``archived_at``, ``updated_at``)."""
    try:
        session = json.loads(record)
    except (TypeError, ValueError, RecursionError) as error:
        raise ArchiveQueryError(f'the archived record of session {session_id} (region {region_id}) is not JSON: {error}')
    if not isinstance(session, dict):
        raise ArchiveQueryError(f'the archived record of session {session_id} (region {region_id}) is a JSON '
                                f'{type(session).__name__}, not a session record')
    for name in ('connections', 'instance_ids'):
        if not isinstance(session.get(name, []), list):
            raise ArchiveQueryError(f'the archived record of session {session_id} (region {region_id}) has a {name} '
                                    'that is not a list')
    session.pop(BOOKKEEPING, None)
    bookkeeping = {'archived_at': archived_at}
    if updated_at:
        bookkeeping['updated_at'] = updated_at
    session[BOOKKEEPING] = bookkeeping
    return session


@contextmanager
def _streaming_cursor(archive):
    """A cursor that streams: psycopg reads a whole result into memory unless the cursor lives on the server, and
    a server-side cursor lives in a transaction (the store's PostgreSQL connections are in autocommit mode)."""
    if archive.dialect != 'postgresql':
        cursor = archive.connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
        return
    with archive.connection.transaction():
        with archive.connection.cursor(name='alicloud_ecs_archive_info') as cursor:
            yield cursor


def stream_records(archive: Any, query: ArchiveQuery, fetch_rows: int = FETCH_ROWS) -> Iterator[Dict[str, Any]]:
    """The records ``query`` selects, ``fetch_rows`` rows at a time from the database."""
    with _streaming_cursor(archive) as cursor:
        cursor.execute(query.sql, query.parameters)
        while True:
            rows = cursor.fetchmany(fetch_rows)
            if not rows:
                return
            for record, archived_at, updated_at, region_id, session_id in rows:
                yield record_from_row(record, archived_at, updated_at, region_id, session_id)


def select_sessions(archive: Any, criteria: Criteria, region_ids: Sequence[str] = (), instance_ids: Sequence[str] = (),
                    session_ids: Sequence[str] = (), window: Tuple[Optional[str], Optional[str]] = (None, None)
                    ) -> List[Dict[str, Any]]:
    """The archived sessions in the regions, instances and sessions given (each list: any of them; empty: all),
    within ``window`` (from :func:`time_window`), that meet ``criteria``; in no particular order.

    ``archive`` is an open archive store (``.connection``, ``.dialect``, ``.placeholder``). Only the matching rows
    are read from the database, a batch at a time; only the sessions selected are kept.
    """
    query = build_query(archive.placeholder, region_ids, instance_ids, session_ids, *window)
    # Closed here, even when a record fails: its cursor must not outlive the connection (closed by the caller next).
    with closing(stream_records(archive, query)) as records:
        return [checked(session) for session in records if _matches(criteria, session)]


def _matches(criteria, session):
    try:
        return criteria.match(session)
    except (AttributeError, TypeError, ValueError) as error:  # a connection that is not a dict, say
        raise ArchiveQueryError(f"the archived record of session {session.get('session_id')} (region "
                                f"{session.get('region_id')}) cannot be used: {type(error).__name__}: {error}")


def checked(session: Dict[str, Any]) -> Dict[str, Any]:
    """``session`` with its text fields checked (sessions.with_text_fields), as the listing checks what it reads.

    Only for the sessions selected: the criteria read any field safely, and most rows of a broad window are dropped.
    """
    try:
        return with_text_fields(session)
    except TypeError as error:
        raise ArchiveQueryError(f"the archived record of session {session.get('session_id')} (region "
                                f"{session.get('region_id')}) cannot be used: {error}")
