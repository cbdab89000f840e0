#!/usr/bin/env python
"""Benchmark: enrich_hosts joins sessions to hosts in linear time; the naive Jinja join does not.

Prints figures only (no pass/fail): the join of 10,000 hosts with 100,000 sessions, its peak
memory, and beside it the naive ``selectattr`` per host on a smaller case, with the linear join
on that same case so the ratio is visible. Run it with ``make bench``.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
import tracemalloc

from ansible_collections.alicloud.ecs.plugins.filter.terminal_sessions import enrich_hosts
from ansible_collections.alicloud.ecs.plugins.plugin_utils.enrichment import sessions_from_data

STATUSES = ('Terminated', 'Terminated', 'Disconnected', 'Failed', 'Connected')
USERS = ('root', 'ecs-user', 'admin', 'deploy')


def make_sessions(count, instances, seed=0):
    """``count`` raw DescribeTerminalSessions records spread over ``instances`` instance IDs."""
    rng = random.Random(seed)
    sessions = []
    for index in range(count):
        instance = 'i-bench%06d' % rng.randrange(instances)
        sessions.append({
            'SessionId': 's-bench%07d' % index,
            'CreationTime': '2026-11-%02dT%02d:%02d:%02dZ' % (27 - index % 27, index % 24, index % 60, index % 59),
            'Username': USERS[index % len(USERS)],
            'ClientIP': '10.%d.%d.%d' % (index % 200, index % 250, index % 254 + 1),
            'PrincipalId': str(200000 + index % 97),
            'IdentityType': 'RAMUser',
            'RegionId': 'cn-hangzhou',
            'Connections': {'Connection': [{'InstanceId': instance, 'Status': STATUSES[index % len(STATUSES)],
                                            'StartTime': '2026-11-01T00:00:00Z'}]},
        })
    return sessions


def make_hostvars(hosts):
    return dict(('host%05d' % n, {'instance_id': 'i-bench%06d' % n}) for n in range(hosts))


def timed(function, *args, repeat=1):
    """The best of ``repeat`` runs (the least disturbed by other load) and the last result."""
    best, result = None, None
    for dummy in range(repeat):
        start = time.perf_counter()
        result = function(*args)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def peak_memory(function, *args):
    tracemalloc.start()
    function(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def naive_jinja(hostvars, sessions):
    """What a playbook author would write without the filter: one selectattr scan per host."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    template = ("{% set out = {} %}{% for name, hv in hostvars.items() %}"
                "{% set _ = out.update({name: sessions | selectattr('instance_ids', 'contains', hv.instance_id) | list}) %}"
                "{% endfor %}{{ out | length }}")
    try:
        from ansible.template import trust_as_template  # ansible-core 2.19+ renders only trusted templates
        template = trust_as_template(template)
    except ImportError:
        pass
    templar = Templar(loader=DataLoader(), variables={'hostvars': hostvars, 'sessions': sessions})
    return templar.template(template)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--sessions', type=int, default=100000)
    parser.add_argument('--naive-hosts', type=int, default=100)
    parser.add_argument('--naive-sessions', type=int, default=2000)
    args = parser.parse_args()

    raw = make_sessions(args.sessions, args.hosts)
    hostvars = make_hostvars(args.hosts)
    normalised_time, normalised = timed(sessions_from_data, raw, repeat=3)
    module_result = {'sessions': normalised}
    raw_time, enriched = timed(enrich_hosts, hostvars, raw, repeat=3)
    result_time = timed(enrich_hosts, hostvars, module_result, repeat=3)[0]
    peak = peak_memory(enrich_hosts, hostvars, module_result)
    assert len(enriched) == args.hosts
    assert sum(entry['summary']['session_count'] for entry in enriched.values()) == args.sessions

    small_raw = make_sessions(args.naive_sessions, args.naive_hosts, seed=1)
    small_hosts = make_hostvars(args.naive_hosts)
    small_sessions = sessions_from_data(small_raw)
    linear_small = timed(enrich_hosts, small_hosts, {"sessions": small_sessions}, repeat=3)[0]
    naive_small, count = timed(naive_jinja, small_hosts, small_sessions)
    assert int(count) == args.naive_hosts

    print('enrich_hosts benchmark (%s, Python %s, %s)' % (platform.machine(), platform.python_version(), platform.node() and 'local'))
    print('| case | hosts | sessions | seconds (best of 3; naive: 1 run) |')
    print('| --- | ---: | ---: | ---: |')
    print('| normalise raw API records once | - | %d | %.2f |' % (args.sessions, normalised_time))
    print('| enrich_hosts, raw API records (normalise + join) | %d | %d | %.2f |' % (args.hosts, args.sessions, raw_time))
    print('| enrich_hosts, registered module result | %d | %d | %.2f |' % (args.hosts, args.sessions, result_time))
    print('| enrich_hosts, registered module result | %d | %d | %.3f |' % (args.naive_hosts, args.naive_sessions, linear_small))
    print('| naive Jinja: selectattr per host | %d | %d | %.2f |' % (args.naive_hosts, args.naive_sessions, naive_small))
    print('peak memory of enrich_hosts on the large case (tracemalloc): %.1f MiB' % (peak / 1048576.0))
    print('naive / linear on the small case: %.0fx; the naive join grows with hosts x sessions, so the large case'
          ' would take about %.0f s' % (naive_small / linear_small,
                                        naive_small * (args.hosts * args.sessions) / (args.naive_hosts * args.naive_sessions)))


if __name__ == '__main__':
    main()
