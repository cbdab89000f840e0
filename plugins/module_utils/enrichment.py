# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Session data as a play holds it -> one list of normalised records -> joined to inventory hosts.

Pure Python, no SDK. The filter plugins are thin wrappers around these functions; shaping,
grouping and summaries are those of :mod:`sessions`, deduplication that of :mod:`listing`, so a
record looks the same whichever way it reached the user.

The join (:func:`enrich`) takes the sessions as an argument and does not care where they came
from, so any other source of sessions can feed it the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from collections import namedtuple
from collections.abc import Mapping, Sequence

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


def type_name(value):
    """The name of ``value``'s type as a playbook author knows it (``dict``, ``list``, ``str``...)."""
    if _native_type_name is not None:
        return _native_type_name(value)
    kind = type(value)
    if kind.__module__ == 'ansible' or kind.__module__.startswith('ansible.'):
        for base in kind.__mro__:
            if base in _NATIVE_TYPES:
                return base.__name__
    return kind.__name__


def is_list(value):
    """A sequence that is not text: lists and tuples, plain or lazy (ansible-core 2.19+)."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _records(data):
    """(location, raw record) pairs of ``data``, in the order given; DataError when the shape is wrong."""
    if isinstance(data, Mapping):
        if 'sessions' in data:
            return _listed(data['sessions'], 'data.sessions', 'a list of sessions')
        if 'Sessions' in data:
            return _response_records(data, 'data')
        raise DataError('data: expected %s; got a dict without sessions or Sessions (keys: %s)'
                        % (DATA_FORMS, ', '.join(sorted(str(key) for key in data)) or 'none'))
    if not is_list(data):
        raise DataError('data: expected %s; got %s' % (DATA_FORMS, type_name(data)))
    pairs = []
    for index, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise DataError('%s: expected a session or a DescribeTerminalSessions response (a dict); got %s'
                            % (_where(('data', index)), type_name(item)))
        if 'Sessions' in item:
            pairs.extend(_response_records(item, _where(('data', index))))
        else:
            pairs.append((('data', index), item))
    return pairs


def _response_records(response, where):
    sessions = response['Sessions']
    where = '%s.Sessions' % where
    if isinstance(sessions, Mapping):
        sessions = sessions.get('Session')
        where = '%s.Session' % where
        if isinstance(sessions, Mapping):
            return [(where, sessions)]
    return _listed(sessions, where, 'a list of sessions')


def _listed(items, where, expected):
    if items is None:
        return []
    if not is_list(items):
        raise DataError('%s: expected %s; got %s' % (where, expected, type_name(items)))
    return [((where, index), item) for index, item in enumerate(items)]


def _where(location):
    """``data[3]`` from ``('data', 3)``: locations are formatted only for an error message."""
    return '%s[%d]' % location if isinstance(location, tuple) else location


def sessions_from_data(data):
    """Every session of ``data`` once, normalised, newest first.

    ``data`` is one of :data:`DATA_FORMS`. Records are shaped by :func:`normalize_session`
    (records already in snake_case keep their meaning) and deduplicated by region and session
    ID; a session given more than once keeps every instance ID it was given with.
    Raises :class:`DataError`.
    """
    records = []
    for location, raw in _records(data):
        if not isinstance(raw, Mapping):
            raise DataError('%s: expected a session (a dict); got %s' % (_where(location), type_name(raw)))
        if ARCHIVE_HEADER_KEY in raw:
            continue  # the header line of an ecs_terminal_session_archive file, read with the records
        region_id = raw.get('RegionId')
        if region_id is not None and not isinstance(region_id, str):
            raise DataError('%s: RegionId is %s, not a string' % (_where(location), type_name(region_id)))
        try:
            records.append(with_text_fields(normalize_session(raw, region_id=region_id or None)))
        except TypeError as error:
            raise DataError('%s: %s' % (_where(location), error))
    return merge_listings([_Batch(records)])


def _criterion_list(name, value):
    values = [value] if isinstance(value, (str, int, float)) else value
    if isinstance(value, bool) or not is_list(values):
        raise CriteriaError('criteria.%s: expected a string or a list of strings; got %s' % (name, type_name(value)))
    for item in values:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise CriteriaError('criteria.%s: expected a string or a list of strings; got a list with a %s'
                                % (name, type_name(item)))
    return [str(item) for item in values]


def _criterion_bool(name, value):
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise CriteriaError('criteria.%s: expected a boolean (true or false); got %s %r' % (name, type_name(value), value))


def _criterion_str(name, value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if not isinstance(value, str):
        raise CriteriaError('criteria.%s: expected a string (an ISO 8601 time or an age such as 7d); got %s'
                            % (name, type_name(value)))
    return value


_CRITERION_TYPES = {'list': _criterion_list, 'bool': _criterion_bool, 'str': _criterion_str}


def criteria_from_kwargs(kwargs, now=None, also=()):
    """A :class:`Criteria` from keyword arguments named like the module's ``filters``.

    Values are checked and converted as the module's argument spec would (a single string for a
    list, ``yes``/``no`` for a boolean); None means not given. ``also`` names the other keyword
    arguments of the caller, for the message about unknown ones. Raises :class:`CriteriaError`,
    whose message starts with the argument, as ``criteria.<name>``.
    """
    unknown = sorted(set(kwargs) - set(CRITERIA))
    if unknown:
        raise CriteriaError('unknown keyword argument%s %s; expected %s'
                            % ('s' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(list(also) + sorted(CRITERIA))))
    checked = dict((name, _CRITERION_TYPES[CRITERIA[name]](name, value))
                   for name, value in kwargs.items() if value is not None)
    return Criteria(checked, now=now, prefix='criteria')


def select(sessions, criteria=None):
    """The sessions that meet ``criteria`` (a :class:`Criteria`; empty or None keeps all), order kept."""
    if not criteria:
        return list(sessions)
    return [session for session in sessions if criteria.match(session)]


def enrich(host_instance_ids, sessions):
    """Inventory host -> ``{"instance_id", "sessions", "summary"}``, for (host, instance ID) pairs.

    ``sessions`` are normalised records, newest first. They are grouped once, for the instance
    IDs asked for only, then each host is a lookup: linear in hosts plus sessions. An instance
    without sessions gets ``[]`` and the summary of no sessions. Hosts sharing an instance ID
    share its summary's values.
    """
    pairs = list(host_instance_ids)
    grouped = sessions_by_instance(sessions, set(instance_id for _host, instance_id in pairs))
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
