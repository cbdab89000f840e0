# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-side selection of sessions: the criteria DescribeTerminalSessions lacks. Pure Python."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import re

from typing import Any, Dict, Mapping, Optional

from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import is_active, is_port_forwarding

_AGE_RE = re.compile(r'\s*(\d+)\s*([smhdw])\s*')  # fullmatch: ``$`` would also match before a final newline
_AGE_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}

# The criteria and the type of value each takes; shared by the module's argument spec and the filters.
CRITERIA = {
    'username': 'list',
    'principal_id': 'list',
    'identity_type': 'list',
    'client_ip': 'list',
    'status': 'list',
    'active': 'bool',
    'port_forwarding': 'bool',
    'created_after': 'str',
    'created_before': 'str',
}


# The values the service documents for these fields; anything else is a typo that would match nothing.
KNOWN_VALUES = {
    'status': ('Connecting', 'Connected', 'Disconnected', 'Terminating', 'Terminated', 'Failed'),
    'identity_type': ('Account', 'RAMUser', 'AssumedRoleUser'),
}


class CriteriaError(ValueError):
    """A criterion that cannot be used; the message names it."""


def utc_now() -> datetime.datetime:
    """Now, as an aware UTC datetime."""
    return datetime.datetime.now(datetime.timezone.utc)


def parse_iso_time(text: Any) -> datetime.datetime:
    """An aware UTC datetime from ISO 8601 text (``Z`` or an offset; none means UTC); ValueError otherwise."""
    text = str(text).strip()
    moment = datetime.datetime.fromisoformat(text[:-1] + '+00:00' if text.endswith(('Z', 'z')) else text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def parse_time(value: Any, name: str, now: Optional[datetime.datetime] = None) -> datetime.datetime:
    """An aware UTC datetime from ISO 8601 text or a relative age such as ``24h`` or ``7d`` before ``now``."""
    match = _AGE_RE.fullmatch(str(value))
    try:
        if match:
            seconds = int(match.group(1)) * _AGE_UNITS[match.group(2)]
            return (now or utc_now()) - datetime.timedelta(seconds=seconds)
        return parse_iso_time(value)
    except OverflowError:
        raise CriteriaError('%s: %r is further in the past than a date can be' % (name, value))
    except ValueError:
        raise CriteriaError('%s: %r is neither an ISO 8601 time (2024-01-19T09:15:46Z) nor an age such as 24h or 7d'
                            % (name, value))


def session_time(session: Mapping[str, Any]) -> Optional[datetime.datetime]:
    """The session's creation time as an aware datetime, or None when absent or unreadable."""
    try:
        return parse_iso_time(session['creation_time'])
    except (KeyError, TypeError, ValueError):
        return None


def _networks(values, name):
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise CriteriaError('%s: %r is not an IP address or CIDR block' % (name, value))
    return networks


def _in_networks(address, networks):
    try:
        ip = ipaddress.ip_address(str(address).strip())
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


def _folded(values):
    return frozenset(str(value).lower() for value in values)


class Criteria:
    """Compiled criteria; :meth:`match` tells whether a normalised session meets all of them."""

    def __init__(self, criteria: Optional[Mapping[str, Any]] = None, now: Optional[datetime.datetime] = None,
                 prefix: str = 'filters') -> None:
        criteria = {key: value for key, value in (criteria or {}).items() if value is not None}
        unknown = sorted(set(criteria) - set(CRITERIA))
        if unknown:
            raise CriteriaError('%s: unknown criteria %s; known criteria are %s'
                                % (prefix, ', '.join(unknown), ', '.join(sorted(CRITERIA))))
        self.tests = []
        for name, known in KNOWN_VALUES.items():
            unknown = sorted(_folded(_as_list(criteria.get(name, ()))) - _folded(known))
            if unknown:
                raise CriteriaError('%s.%s: unknown value%s %s; known values are %s (any case)'
                                    % (prefix, name, 's' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(known)))
        for name in ('username', 'principal_id', 'identity_type'):
            if name in criteria:
                wanted = _folded(_as_list(criteria[name]))
                self.tests.append(_field_in(name, wanted))
        if 'client_ip' in criteria:
            networks = _networks(_as_list(criteria['client_ip']), '%s.client_ip' % prefix)
            self.tests.append(lambda s: _in_networks(s.get('client_ip'), networks))
        if 'status' in criteria:
            statuses = _folded(_as_list(criteria['status']))
            self.tests.append(lambda s: any(str(c.get('status', '')).lower() in statuses for c in s.get('connections', ())))
        if 'active' in criteria:
            active = bool(criteria['active'])
            self.tests.append(lambda s: is_active(s) == active)
        if 'port_forwarding' in criteria:
            forwarding = bool(criteria['port_forwarding'])
            self.tests.append(lambda s: is_port_forwarding(s) == forwarding)
        bounds = {}
        for name, after in (('created_after', True), ('created_before', False)):
            if name in criteria:
                bounds[name] = parse_time(criteria[name], '%s.%s' % (prefix, name), now)
                self.tests.append(_time_test(bounds[name], after))
        if len(bounds) == 2 and bounds['created_after'] >= bounds['created_before']:
            raise CriteriaError('%s.created_after (%s) is not before %s.created_before (%s): no session can match'
                                % (prefix, criteria['created_after'], prefix, criteria['created_before']))

    def __bool__(self) -> bool:
        return bool(self.tests)

    def match(self, session: Dict[str, Any]) -> bool:
        """Whether ``session`` (normalised) meets every criterion."""
        return all(test(session) for test in self.tests)


def _as_list(value):
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _field_in(name, wanted):
    return lambda session: str(session.get(name, '')).lower() in wanted


def _time_test(bound, after):
    def test(session):
        moment = session_time(session)
        if moment is None:
            return False
        return moment > bound if after else moment < bound
    return test


def filters_argument_spec():
    """The ``filters`` option (documented in the ``alicloud.ecs.alicloud.filters`` doc fragment).

    A dict option with sub-options: the module wrapper and the controller check them with ArgumentSpecValidator.
    """
    options = {name: dict(type=kind, elements='str') if kind == 'list' else dict(type=kind) for name, kind in CRITERIA.items()}
    return dict(type='dict', options=options)
