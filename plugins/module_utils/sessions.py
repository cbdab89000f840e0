# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Terminal session records: shaped once, then grouped. Pure Python, no SDK.

The module and the filter plugins share these functions, so a record looks the same
whichever way it reached the user.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Optional

ACTIVE_STATUSES = frozenset(('Connecting', 'Connected'))

_CAMEL_BOUNDARY = re.compile(r'((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))')


@lru_cache(maxsize=4096)
def snake_case(name: str) -> str:
    """``FailedDetail`` -> ``failed_detail``, ``ClientIP`` -> ``client_ip``; snake names pass unchanged.

    Every field DescribeTerminalSessions documents converts right this way (SessionId, ClientIP, PortNumber...):
    tests/unit/plugins/module_utils/test_sessions.py checks the names the collection returns.
    """
    return _CAMEL_BOUNDARY.sub(r'_\1', name).lower()


def _is_empty(value):
    return value is None or value == '' or value == [] or value == {}


def unwrap_list(value: Any, inner_key: str) -> List[Any]:
    """A list given bare or wrapped XML-style (``{"Session": [...]}``); None becomes []."""
    if value is None:
        return []
    if isinstance(value, list):  # the common case, without the slower ABC checks below
        return list(value)
    if isinstance(value, Mapping):
        value = value.get(inner_key, [])
        if value is None:
            return []
        if isinstance(value, Mapping):
            return [value]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f'expected a list of {inner_key.lower()} records')
    return list(value)


_EMPTY_VALUES = (None, '', [], {})
_PLAIN_TYPES = (str, list, dict)
_NESTED_KEYS = frozenset(('Connections', 'connections', 'instance_ids'))


def _shape(raw, skip=()):
    """``raw`` with snake_case keys, without the keys in ``skip`` and the values in :data:`_EMPTY_VALUES`.

    One loop and one new dict per record: this runs for every record of every page.
    """
    shaped = {}
    for key, value in raw.items():
        if key in skip:
            continue
        if isinstance(value, _PLAIN_TYPES):
            if not value:
                continue
        elif value in _EMPTY_VALUES:
            continue
        if not isinstance(key, str):
            raise TypeError(f'a record has the key {key!r}, a {type(key).__name__}; keys are field names (strings)')
        shaped[snake_case(key)] = value
    return shaped


def _is_normalised(raw):
    """A record this module already shaped (fed back in from a registered result): nothing to redo."""
    return 'session_id' in raw and 'region_id' in raw and 'SessionId' not in raw and isinstance(raw.get('connections'), list) \
        and isinstance(raw.get('instance_ids'), list)


def normalize_connection(raw: Mapping) -> Dict[str, Any]:
    """One connection of a session, with snake_case keys and without the fields the service left empty."""
    # isinstance(raw, dict) first: a dict skips the Mapping ABC check, 22 ns instead of 125 ns, 2.5 % of the 4 us a
    # record takes (tests/bench/bench_type_checks.py); `__class__ is` shortcuts saved 5 ns at most and are gone.
    if not isinstance(raw, dict) and not isinstance(raw, Mapping):
        raise TypeError('expected each connection to be a dictionary')
    return _shape(raw)


def normalize_session(raw: Mapping, region_id: Optional[str] = None,
                      queried_instance_id: Optional[str] = None) -> Dict[str, Any]:
    """One session as the collection returns it.

    Keys are snake_case; fields the service left empty are left out, except
    ``session_id``, ``region_id``, ``connections`` and ``instance_ids`` which are always
    there. ``instance_ids`` lists the instances the session reached: those of its
    connections and, for a query filtered by instance, that instance. Unknown fields the
    service adds later pass through. Already-normalised records pass through unchanged in
    meaning, so data may be fed back in.
    """
    if not isinstance(raw, dict) and not isinstance(raw, Mapping):  # the dict shortcut: see normalize_connection
        raise TypeError('expected each session to be a dictionary')
    if 'SessionId' not in raw and _is_normalised(raw) and not queried_instance_id and (not region_id or raw['region_id'] == region_id):
        return raw
    connections_raw = raw.get('Connections', raw.get('connections'))
    session = _shape(raw, _NESTED_KEYS)
    connections = [normalize_connection(item) for item in unwrap_list(connections_raw, 'Connection')]
    session['connections'] = connections
    instance_ids = set()
    for instance_id in raw.get('instance_ids') or ():
        if not isinstance(instance_id, str):
            raise TypeError(f'instance_ids of session {_named(raw)} holds {_kind(instance_id)}, not only strings')
        instance_ids.add(instance_id)
    for conn in connections:
        if conn.get('instance_id'):
            if not isinstance(conn['instance_id'], str):
                raise TypeError('the InstanceId of a connection of session %s is %s, not a string'
                                % (_named(raw), _kind(conn['instance_id'])))
            instance_ids.add(conn['instance_id'])
    if queried_instance_id:
        instance_ids.add(queried_instance_id)
    session['instance_ids'] = sorted(instance_ids)
    session.setdefault('session_id', None)
    if region_id:
        session['region_id'] = region_id
    else:
        session.setdefault('region_id', None)
    return session


# The fields the service documents as strings, which grouping and summaries use as keys or compare.
TEXT_FIELDS = ('session_id', 'region_id', 'creation_time', 'username', 'client_ip', 'principal_id', 'identity_type',
               'target_server')
CONNECTION_TEXT_FIELDS = ('instance_id', 'status', 'start_time', 'end_time', 'closed_reason', 'failed_detail')

# Every field of a normalised session the collection documents (the module's RETURN lists exactly these, in this
# order): the text fields, the port, and the three that normalize_session always builds. Fields the service adds later
# pass through normalize_session but are not documented, so session_fields cannot name them.
SESSION_FIELDS = TEXT_FIELDS + ('port_number', 'instance_ids', 'connections')


def _kind(value):
    """``a list``, ``a dict``...: how a message names the type of a value that should have been text."""
    if isinstance(value, Mapping):
        return 'a dict'
    if isinstance(value, (list, tuple, set, frozenset)):
        return 'a list'
    return f'a {type(value).__name__.lower()}'


def _text_or_none(value, name, what):
    """``value`` as text (numbers become text), None or absent as it is; TypeError naming the field otherwise."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f'{name} of {what} is {_kind(value)}, not a string')


def with_text_fields(session: Dict[str, Any]) -> Dict[str, Any]:
    """``session`` (normalised) with every field documented as a string checked: text, or None.

    Numbers become text (a copy is made; the record given is not changed). A list, dict or boolean where a
    string belongs raises TypeError naming the field and the session, instead of failing later as a bare
    ``unhashable type`` or a comparison of str with list while grouping, summarising or sorting.
    """
    session_id = session.get('session_id')
    if session_id is not None and not isinstance(session_id, str):
        what = 'a session'
    else:
        what = f'session {session_id}' if session_id else 'a session without a session_id'
    fixed = {}
    for name in TEXT_FIELDS:
        if name in session:
            value = _text_or_none(session[name], name, what)
            if value is not session[name]:
                fixed[name] = value
    instance_ids = session.get('instance_ids') or ()
    for instance_id in instance_ids:
        if not isinstance(instance_id, str):
            raise TypeError(f'instance_ids of {what} holds {_kind(instance_id)}, not only strings')
    connections = []
    for connection in session.get('connections') or ():
        if not isinstance(connection, Mapping):
            raise TypeError(f'a connection of {what} is {_kind(connection)}, not a dict')
        changed = {}
        for name in CONNECTION_TEXT_FIELDS:
            if name in connection:
                value = _text_or_none(connection[name], name, f'a connection of {what}')
                if value is not connection[name]:
                    changed[name] = value
        connections.append(dict(connection, **changed) if changed else connection)
    if any(new is not old for new, old in zip(connections, session.get('connections') or ())):
        fixed['connections'] = connections
    return dict(session, **fixed) if fixed else session


def _named(raw):
    """The session ID of a raw or normalised record for a message, whatever its type."""
    session_id = raw.get('SessionId', raw.get('session_id'))
    return session_id if isinstance(session_id, str) and session_id else '(no session ID)'


def newest_first(sessions: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Sessions ordered newest first (ISO 8601 UTC times sort as text), ties by session ID."""
    ordered = sorted(sessions, key=lambda s: s.get('session_id') or '')
    ordered.sort(key=lambda s: s.get('creation_time') or '', reverse=True)
    return ordered


def is_active(session: Dict[str, Any]) -> bool:
    """A session is active while one of its connections is Connecting or Connected."""
    return any(conn.get('status') in ACTIVE_STATUSES for conn in session.get('connections', ()))


def is_port_forwarding(session: Dict[str, Any]) -> bool:
    """A session forwards a port when the service gave it a port number or a target server."""
    return not _is_empty(session.get('port_number')) or not _is_empty(session.get('target_server'))


def session_ids_by_instance(sessions: Iterable[Dict[str, Any]],
                            instance_ids: Optional[Iterable[str]] = None) -> Dict[str, List[str]]:
    """Instance ID -> IDs of its sessions, in the order of ``sessions``.

    With ``instance_ids`` the keys are exactly those IDs, each present even when empty;
    otherwise every instance a session reached is a key.
    """
    grouped = {instance_id: [] for instance_id in instance_ids or ()}
    for session in sessions:
        for instance_id in session.get('instance_ids', ()):
            if instance_ids is None:
                grouped.setdefault(instance_id, []).append(session['session_id'])
            elif instance_id in grouped:
                grouped[instance_id].append(session['session_id'])
    return grouped


def sessions_by_instance(sessions: Iterable[Dict[str, Any]],
                         instance_ids: Optional[Iterable[str]] = None) -> Dict[str, List[Dict[str, Any]]]:
    """Like :func:`session_ids_by_instance`, with the full records."""
    grouped = {instance_id: [] for instance_id in instance_ids or ()}
    for session in sessions:
        for instance_id in session.get('instance_ids', ()):
            if instance_ids is None:
                grouped.setdefault(instance_id, []).append(session)
            elif instance_id in grouped:
                grouped[instance_id].append(session)
    return grouped


def empty_summary() -> Dict[str, Any]:
    """The summary of no session."""
    return {
        'session_count': 0,
        'active_session_count': 0,
        'last_session_time': None,
        'last_session_user': None,
        'last_client_ip': None,
        'usernames': [],
        'client_ips': [],
        'principal_ids': [],
        'root_session_count': 0,
        'failed_connection_count': 0,
        'port_forwarding_session_count': 0,
        'closed_reasons': {},
    }


def summarize(sessions: List[Dict[str, Any]], instance_id: Optional[str] = None) -> Dict[str, Any]:
    """Counts and facts over ``sessions`` (newest first) for compliance checks.

    With ``instance_id``, connection-level counts (active sessions, failed connections, closed
    reasons) look only at that instance's connections.
    """
    summary = empty_summary()
    if not sessions:
        return summary
    newest = sessions[0]
    summary.update(session_count=len(sessions), last_session_time=newest.get('creation_time'),
                   last_session_user=newest.get('username'), last_client_ip=newest.get('client_ip'))
    active = failed = root = forwarding = 0
    reasons = {}
    usernames, client_ips, principal_ids = set(), set(), set()
    for session in sessions:
        is_open = False
        for conn in session.get('connections', ()):
            if instance_id is not None and conn.get('instance_id') not in (None, instance_id):
                continue
            status = conn.get('status')
            if status in ACTIVE_STATUSES:
                is_open = True
            elif status == 'Failed':
                failed += 1
            reason = conn.get('closed_reason')
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
        active += is_open
        username = session.get('username')
        if username:
            usernames.add(username)
            root += username == 'root'
        if session.get('client_ip'):
            client_ips.add(session['client_ip'])
        if session.get('principal_id'):
            principal_ids.add(session['principal_id'])
        forwarding += is_port_forwarding(session)
    summary.update(active_session_count=active, failed_connection_count=failed, root_session_count=root,
                   port_forwarding_session_count=forwarding, closed_reasons=reasons, usernames=sorted(usernames),
                   client_ips=sorted(client_ips), principal_ids=sorted(principal_ids))
    return summary


def summary_by_instance(sessions: Iterable[Dict[str, Any]],
                        instance_ids: Optional[Iterable[str]] = None) -> Dict[str, Dict[str, Any]]:
    """Instance ID -> :func:`summarize` of its sessions (keys as in :func:`sessions_by_instance`)."""
    grouped = sessions_by_instance(sessions, instance_ids)
    return {instance_id: summarize(items, instance_id) for instance_id, items in grouped.items()}
