# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a session-listing task returns: the keys it was asked for, sessions cut to the fields it was asked for.

Pure Python, no SDK. The info modules build their result with :func:`shaped_result` from the full records, so
summaries and ``query`` see every field whatever is returned; only what leaves the module is smaller. A large
result costs far more in ansible-core (no_log scrub, encoding, the copies for callbacks and register) and in AWX's
job events than the listing itself (docs/performance.md).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import (
    SESSION_FIELDS, session_ids_by_instance, summary_by_instance)

# The keys a task may choose, in the order the result has always had them.
RETURN_KEYS = ('sessions', 'sessions_by_instance', 'summary_by_instance')


class ResultShapeError(ValueError):
    """An option naming a key or field that does not exist; the message names it and lists the valid ones."""


def _unknown(option: str, given: Iterable[Any], valid: Sequence[str]) -> List[str]:
    if isinstance(given, (str, bytes)) or given is None:
        raise ResultShapeError(f"{option}: expected a list of names; got {type(given).__name__}")
    unknown = []
    for name in given:
        if not isinstance(name, str):
            raise ResultShapeError(f'{option}: expected a list of names; got a list with a {type(name).__name__}')
        if name not in valid and name not in unknown:
            unknown.append(name)
    if unknown:
        plural = 's' if len(unknown) > 1 else ''
        raise ResultShapeError(f"{option}: unknown name{plural} {', '.join(unknown)}; valid: {', '.join(valid)}")
    return [name for name in valid if name in set(given)]


def checked_return_keys(return_keys: Optional[Iterable[str]]) -> Tuple[str, ...]:
    """The keys of :data:`RETURN_KEYS` named in ``return_keys`` (None: all), in their result order.

    Raises :class:`ResultShapeError` naming an unknown key and listing the valid ones.
    """
    if return_keys is None:
        return RETURN_KEYS
    return tuple(_unknown('return_keys', return_keys, RETURN_KEYS))


def checked_session_fields(session_fields: Optional[Iterable[str]]) -> Optional[Tuple[str, ...]]:
    """The documented session fields named in ``session_fields``, in record order; None (not given) keeps every field.

    Raises :class:`ResultShapeError` for a field that is not documented (naming it and listing the valid ones) and
    for an empty list, which would return records without any field.
    """
    if session_fields is None:
        return None
    fields = tuple(_unknown('session_fields', session_fields, SESSION_FIELDS))
    if not fields:
        raise ResultShapeError('session_fields: name at least one field, or leave the option out for whole records; '
                               f"valid: {', '.join(SESSION_FIELDS)}")
    return fields


def trimmed(sessions: Iterable[Dict[str, Any]], fields: Optional[Sequence[str]]) -> List[Dict[str, Any]]:
    """``sessions`` with only ``fields`` (those a record has; None: the records themselves, not copied)."""
    if fields is None:
        return sessions if isinstance(sessions, list) else list(sessions)
    return [{field: session[field] for field in fields if field in session} for session in sessions]


def _trimmed_groups(groups, fields):
    """Instance ID -> its records trimmed to ``fields``; a group of session IDs is left as it is."""
    if fields is None:
        return groups
    cut = {}
    for instance_id, items in groups.items():
        cut[instance_id] = [item if isinstance(item, str) else {f: item[f] for f in fields if f in item} for item in items]
    return cut


def shaped_result(records: List[Dict[str, Any]], instance_ids: Optional[Iterable[str]] = None,
                  return_keys: Optional[Iterable[str]] = None, session_fields: Optional[Iterable[str]] = None,
                  query: Optional[Callable[[List[Dict[str, Any]]], Any]] = None,
                  group: Callable[..., Dict[str, list]] = session_ids_by_instance) -> Dict[str, Any]:
    """The session part of an info module's result, built from the full ``records`` (normalised, newest first).

    - ``summary_by_instance`` is computed from the full records whatever else is returned, so it is the same for
      every ``return_keys`` and ``session_fields``.
    - ``query`` (a callable, such as a compiled JMESPath expression's search) runs on the full records; its value
      is ``query_result``, returned whatever ``return_keys`` says. Its errors propagate to the caller.
    - Then only the keys of ``return_keys`` (default: all of :data:`RETURN_KEYS`, in that order) are kept, and each
      session record in them is cut to ``session_fields`` (default: every field).

    ``instance_ids`` are the keys of the groupings (see :func:`sessions.session_ids_by_instance`); ``group`` builds
    ``sessions_by_instance`` (session IDs by default; a grouping of records is trimmed like ``sessions``).
    Keys and fields are validated first: :class:`ResultShapeError` before any work.
    """
    keys = checked_return_keys(return_keys)
    fields = checked_session_fields(session_fields)
    instance_ids = list(instance_ids) if instance_ids else None
    result = {}
    for key in keys:
        if key == 'sessions':
            result[key] = trimmed(records, fields)
        elif key == 'sessions_by_instance':
            result[key] = _trimmed_groups(group(records, instance_ids), fields)
        else:
            result[key] = summary_by_instance(records, instance_ids)
    if query is not None:
        result['query_result'] = query(records)
    return result
