# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Session data as a play holds it -> one list of normalised records -> joined to inventory hosts (controller side only).

Pure Python, no SDK. The filter plugins are thin wrappers around these functions, and the inventory
plugin joins with them too; shaping, grouping and summaries are those of module_utils/sessions.py,
deduplication that of module_utils/listing.py, so a record looks the same whichever way it reached
the user.

The join (:func:`enrich`) takes the sessions as an argument and does not care where they came
from, so any other source of sessions can feed it the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import CRITERIA, Criteria, CriteriaError
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import merge_listings
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import (
    normalize_session, sessions_by_instance, summarize, with_text_fields)

try:
    from ansible.module_utils.datatag import native_type_name as _native_type_name
except ImportError:  # ansible-core before 2.19
    _native_type_name = None

# Before 2.19, ansible-core hands plugins its own subclasses of these (AnsibleUnicode, AnsibleSequence and
# AnsibleMapping from YAML, AnsibleUnsafeText and AnsibleUnsafeBytes from templating, NativeJinjaText...).
_NATIVE_TYPES = (bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset)

# What `data` may be, for error messages.
DATA_FORMS = ('the result registered from alicloud.ecs.ecs_terminal_session_info, its sessions list, '
              'a DescribeTerminalSessions response (with Sessions) or a list of them, or a list of sessions')

# The key of the first line of an ecs_terminal_session_archive file (JSON Lines).
ARCHIVE_HEADER_KEY = '_archive_format'

# merge_listings() takes listings; the records of `data` are one.
_Batch = namedtuple('_Batch', ['items'])


class DataError(TypeError):
    """``data`` is not one of :data:`DATA_FORMS`; the message says where and what was found."""


def type_name(value: Any) -> str:
    """The name of ``value``'s type as a playbook author knows it (``dict``, ``list``, ``str``...)."""
    if _native_type_name is not None:
        return _native_type_name(value)
    kind = type(value)
    if kind.__module__ == 'ansible' or kind.__module__.startswith('ansible.'):
        for base in kind.__mro__:
            if base in _NATIVE_TYPES:
                return base.__name__
    return kind.__name__


def is_list(value: Any) -> bool:
    """A sequence that is not text: lists and tuples, plain or lazy (ansible-core 2.19+)."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


# --- data -> sessions ------------------------------------------------------------------------------

def _records(data):
    """(location, raw record) pairs of ``data``, in the order given; DataError when the shape is wrong."""
    if isinstance(data, Mapping):
        if 'sessions' in data:
            return _listed(data['sessions'], 'data.sessions', 'a list of sessions')
        if 'Sessions' in data:
            return _response_records(data, 'data')
        keys = ', '.join(sorted(str(key) for key in data)) or 'none'
        raise DataError(f'data: expected {DATA_FORMS}; got a dict without sessions or Sessions (keys: {keys})')
    if not is_list(data):
        raise DataError(f'data: expected {DATA_FORMS}; got {type_name(data)}')
    pairs = []
    for index, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise DataError(f"{_where(('data', index))}: expected a session or a DescribeTerminalSessions response "
                            f'(a dict); got {type_name(item)}')
        if 'Sessions' in item:
            pairs.extend(_response_records(item, _where(('data', index))))
        else:
            pairs.append((('data', index), item))
    return pairs


def _response_records(response, where):
    sessions = response['Sessions']
    where = f'{where}.Sessions'
    if isinstance(sessions, Mapping):
        sessions = sessions.get('Session')
        where = f'{where}.Session'
        if isinstance(sessions, Mapping):
            return [(where, sessions)]
    return _listed(sessions, where, 'a list of sessions')


def _listed(items, where, expected):
    if items is None:
        return []
    if not is_list(items):
        raise DataError(f'{where}: expected {expected}; got {type_name(items)}')
    return [((where, index), item) for index, item in enumerate(items)]


def _where(location):
    """``data[3]`` from ``('data', 3)``: locations are formatted only for an error message."""
    return '%s[%d]' % location if isinstance(location, tuple) else location


def sessions_from_data(data: Any) -> List[Dict[str, Any]]:
    """Every session of ``data`` once, normalised, newest first.

    ``data`` is one of :data:`DATA_FORMS`. Records are shaped by :func:`normalize_session`
    (records already in snake_case keep their meaning) and deduplicated by region and session
    ID; a session given more than once keeps every instance ID it was given with.
    Raises :class:`DataError`.
    """
    records = []
    for location, raw in _records(data):
        if not isinstance(raw, Mapping):
            raise DataError(f'{_where(location)}: expected a session (a dict); got {type_name(raw)}')
        if ARCHIVE_HEADER_KEY in raw:
            continue  # the header line of an ecs_terminal_session_archive file, read with the records
        region_id = raw.get('RegionId')
        if region_id is not None and not isinstance(region_id, str):
            raise DataError(f'{_where(location)}: RegionId is {type_name(region_id)}, not a string')
        try:
            records.append(with_text_fields(normalize_session(raw, region_id=region_id or None)))
        except TypeError as error:
            raise DataError(f'{_where(location)}: {error}')
    return merge_listings([_Batch(records)])


# --- keyword arguments -> criteria ------------------------------------------------------------------

def _criterion_list(name, value):
    values = [value] if isinstance(value, (str, int, float)) else value
    if isinstance(value, bool) or not is_list(values):
        raise CriteriaError(f'criteria.{name}: expected a string or a list of strings; got {type_name(value)}')
    for item in values:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise CriteriaError(f'criteria.{name}: expected a string or a list of strings; got a list with a {type_name(item)}')
    return [str(item) for item in values]


def _criterion_bool(name, value):
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise CriteriaError(f'criteria.{name}: expected a boolean (true or false); got {type_name(value)} {value!r}')


def _criterion_str(name, value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if not isinstance(value, str):
        raise CriteriaError(f'criteria.{name}: expected a string (an ISO 8601 time or an age such as 7d); got {type_name(value)}')
    return value


_CRITERION_TYPES = {'list': _criterion_list, 'bool': _criterion_bool, 'str': _criterion_str}


def criteria_from_kwargs(kwargs: Mapping, now: Optional[datetime.datetime] = None, also: Iterable[str] = ()) -> Criteria:
    """A :class:`Criteria` from keyword arguments named like the module's ``filters``.

    Values are checked and converted as the module's argument spec would (a single string for a
    list, ``yes``/``no`` for a boolean); None means not given. ``also`` names the other keyword
    arguments of the caller, for the message about unknown ones. Raises :class:`CriteriaError`,
    whose message starts with the argument, as ``criteria.<name>``.
    """
    unknown = sorted(set(kwargs) - set(CRITERIA))
    if unknown:
        plural = 's' if len(unknown) > 1 else ''
        expected = ', '.join(list(also) + sorted(CRITERIA))
        raise CriteriaError(f"unknown keyword argument{plural} {', '.join(unknown)}; expected {expected}")
    checked = {name: _CRITERION_TYPES[CRITERIA[name]](name, value) for name, value in kwargs.items() if value is not None}
    return Criteria(checked, now=now, prefix='criteria')


def select(sessions: Iterable[Dict[str, Any]], criteria: Optional[Criteria] = None) -> List[Dict[str, Any]]:
    """The sessions that meet ``criteria`` (a :class:`Criteria`; empty or None keeps all), order kept."""
    if not criteria:
        return list(sessions)
    return [session for session in sessions if criteria.match(session)]


# --- inventory hosts -> instance IDs -> their sessions ---------------------------------------------

class HostProblem(NamedTuple):
    """Why a host was left out: ``value`` is ``'variables'`` (the host's variables are not a mapping) or
    ``'instance_id'`` (the variable does not hold a string); ``found`` is the type name of what it holds."""

    host: str
    value: str
    found: str


class HostInstance(NamedTuple):
    """A host, its instance ID (stripped) and the variables it was read from."""

    host: str
    instance_id: str
    variables: Mapping


def hosts_with_instance_ids(hosts: Iterable[Tuple[str, Any]], variable: str,
                            stop_at_problem: bool = False) -> Tuple[List[HostInstance], List[HostProblem]]:
    """The hosts whose ``variable`` holds an instance ID, and the hosts whose data is wrong.

    ``hosts`` are (host name, the host's variables) pairs, read in turn (from a generator, no host is read after
    the one the walk stops at). A host without the variable, or with it None or blank, is skipped. A host whose
    variables are not a mapping, or whose variable is not a string, is a :class:`HostProblem`: the caller
    decides whether it is an error or a warning. With ``stop_at_problem`` the walk stops at the first one.
    """
    found = []
    problems = []
    for name, variables in hosts:
        problem = None
        if not isinstance(variables, Mapping):
            problem = HostProblem(name, 'variables', type_name(variables))
        else:
            instance_id = variables.get(variable)
            if isinstance(instance_id, str):
                instance_id = instance_id.strip()
                if instance_id:
                    found.append(HostInstance(name, instance_id, variables))
            elif instance_id is not None:
                problem = HostProblem(name, 'instance_id', type_name(instance_id))
        if problem is not None:
            problems.append(problem)
            if stop_at_problem:
                break
    return found, problems


def enrich(host_instance_ids: Iterable[Tuple[str, str]], sessions: Iterable[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Inventory host -> ``{"instance_id", "sessions", "summary"}``, for (host, instance ID) pairs.

    ``sessions`` are normalised records, newest first. They are grouped once, for the instance
    IDs asked for only, then each host is a lookup: linear in hosts plus sessions. An instance
    without sessions gets ``[]`` and the summary of no sessions. Hosts sharing an instance ID
    share its summary's values.
    """
    pairs = list(host_instance_ids)
    grouped = sessions_by_instance(sessions, {instance_id for _host, instance_id in pairs})
    summaries = {}
    enriched = {}
    for host, instance_id in pairs:
        if instance_id not in summaries:
            summaries[instance_id] = summarize(grouped[instance_id], instance_id)
        enriched[host] = {
            'instance_id': instance_id,
            'sessions': list(grouped[instance_id]),
            'summary': dict(summaries[instance_id]),
        }
    return enriched
