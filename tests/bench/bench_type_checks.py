#!/usr/bin/env python
"""Micro-benchmark of the type checks on the per-record path (sessions.py, listing.py checked_session).

Prints nanoseconds per check for the ``x.__class__ is T`` shortcuts against plain ``isinstance``, and the time
normalize_session + checked_session take per record, for scale. The figures quoted in sessions.py come from here:
a shortcut is kept only where it saves something next to the per-record time.

  cd build && <TEST_ENV> python ../tests/bench/bench_type_checks.py
"""

from __future__ import annotations

import timeit

from collections.abc import Mapping

from ansible_collections.alicloud.ecs.plugins.module_utils.listing import checked_session
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import normalize_session

RECORD = {
    'SessionId': 's-bp1', 'CreationTime': '2026-01-01T00:00:00Z', 'Username': 'root', 'ClientIP': '10.0.0.1',
    'PrincipalId': '2000', 'IdentityType': 'RAMUser', 'TargetServer': '', 'PortNumber': None,
    'Connections': {'Connection': [{'InstanceId': 'i-1', 'Status': 'Connected', 'StartTime': '2026-01-01T00:00:01Z',
                                    'EndTime': '', 'ClosedReason': '', 'FailedDetail': ''}]},
}
CHECKS = (
    ('value.__class__ is list', 'isinstance(value, list)', []),
    ('value.__class__ in PLAIN', 'isinstance(value, PLAIN)', 'text'),
    ('value.__class__ is not str', 'not isinstance(value, str)', 'text'),
    ('value.__class__ is not dict and not isinstance(value, Mapping)', 'not isinstance(value, Mapping)', {}),
    ('value.__class__ is not dict and not isinstance(value, Mapping)',
     'not isinstance(value, dict) and not isinstance(value, Mapping)', {}),
)
NUMBER = 1000000


def nanoseconds(statement, names):
    return min(timeit.repeat(statement, globals=names, number=NUMBER, repeat=5)) / NUMBER * 1e9


def main():
    for shortcut, plain, value in CHECKS:
        names = {'value': value, 'PLAIN': (str, list, dict), 'Mapping': Mapping}
        print('%6.1f ns  %s\n%6.1f ns  %s\n' % (nanoseconds(shortcut, names), shortcut, nanoseconds(plain, names), plain))
    names = {'normalize_session': normalize_session, 'checked_session': checked_session, 'RECORD': RECORD}
    print('%6.0f ns  normalize_session per record' % nanoseconds("normalize_session(RECORD, 'cn-hangzhou')", names))
    print('%6.0f ns  checked_session per record' % nanoseconds("checked_session(RECORD, 'cn-hangzhou')", names))


if __name__ == '__main__':
    main()
