"""Benchmarks 10 and 11 of run_benchmarks.py: lean results (issue 18) - return_keys, session_fields, max_sessions_per_host 0.

10. The module task returning only summary_by_instance against the bare SDK loop (N = 10,000, one region) and against
    every key; seven regions of 2,000 against one, summaries only; the result size in bytes per session of each choice.
11. The terminal_sessions inventory plugin at 10,000 hosts and one region of 20,000 sessions (200 calls at 50 ms): its
    share of the wall time for each choice against ansible-core's constructed doing the same templating.

The runner (run_benchmarks.py) owns the endpoint and the report; these functions add their sections and goals to it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench_support import Series, check, mib, minimum_calls, run_playbook, run_process
from ecs_endpoint.data import make_sessions

LEAN_REGION, LEAN_COUNT = 'cn-hangzhou', 10000  # the region of benchmark 2, seeded by the runner
LEAN_REGIONS, LEAN_REGION_COUNT = ('ap-northeast-2', 'ap-southeast-6', 'ap-southeast-7', 'eu-west-2', 'me-central-1', 'cn-wuhan-lr',
                                   'na-south-1'), 2000
LEAN_INVENTORY_REGION, LEAN_INVENTORY_COUNT, LEAN_INVENTORY_HOSTS = 'cn-zhengzhou-jva', 20000, 10000
LEAN_INVENTORY_LATENCY_MS = 50
SUMMARY_ONLY = ['summary_by_instance']
# Each choice of the result, for its size: (label, module options).
SIZE_CHOICES = (
    ('every key (the default)', {}),
    ('sessions', {'return_keys': ['sessions']}),
    ('sessions, session_fields: session_id, creation_time, username, client_ip, instance_ids',
     {'return_keys': ['sessions'], 'session_fields': ['session_id', 'creation_time', 'username', 'client_ip', 'instance_ids']}),
    ('sessions_by_instance', {'return_keys': ['sessions_by_instance']}),
    ('summary_by_instance', {'return_keys': SUMMARY_ONLY}),
    ('summary_by_instance and sessions_by_instance', {'return_keys': ['summary_by_instance', 'sessions_by_instance']}),
)


def seed(regions, wanted):
    """Add the regions these benchmarks list to the endpoint's data (``regions``: region -> raw sessions)."""
    if wanted(10):
        for region in LEAN_REGIONS:
            regions.setdefault(region, make_sessions(region, LEAN_REGION_COUNT))
    if wanted(11):
        instances = ['i-lean%06d' % n for n in range(LEAN_INVENTORY_HOSTS)]
        regions[LEAN_INVENTORY_REGION] = make_sessions(LEAN_INVENTORY_REGION, LEAN_INVENTORY_COUNT, instance_ids=instances)


def _reset(bench, latency=None):
    """A task that restarts the endpoint's latency sequence, so every module task sees the same latencies."""
    task = {'name': 'reset the latency sequence', 'check_mode': False,
            'ansible.builtin.uri': {'url': '%s://%s/_emulator/faults' % (bench.endpoint.protocol, bench.endpoint.endpoint),
                                    'method': 'POST', 'body_format': 'json', 'body': {'latency_ms': latency or bench.latency},
                                    'use_proxy': False}}
    if bench.ca_file:
        task['ansible.builtin.uri']['ca_path'] = bench.ca_file
    return task


def _play(tasks):
    return [{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
             'tasks': [{'name': 'warm-up', 'ansible.builtin.ping': {}}] + tasks}]


def _same_summaries(first, second, calls):
    return {'name': 'check %s against %s' % (first, second), 'ansible.builtin.assert': {'quiet': True, 'that': [
        '%s.summary_by_instance == %s.summary_by_instance' % (first, second),
        '%s.summary_by_instance | length > 0' % first, '%s.api_calls == %d' % (first, calls), '%s.api_calls == %d' % (second, calls),
        '%s.sessions is not defined' % first, '%s.sessions_by_instance is not defined' % first]}}


def bench_lean_module(bench):
    """10: the task with summaries only and with every key, against the bare SDK loop; regions; sizes."""
    repeat = bench.args.repeat
    bare, lean, full, ping = Series(), Series(), Series(), Series()
    tasks = [
        {'name': 'ping', 'ansible.builtin.ping': {}},
        _reset(bench),
        {'name': 'summaries only', 'alicloud.ecs.ecs_terminal_session_info': bench.connection(return_keys=SUMMARY_ONLY), 'register': 'lean'},
        _reset(bench),
        {'name': 'every key', 'alicloud.ecs.ecs_terminal_session_info': bench.connection(), 'register': 'full'},
        _same_summaries('lean', 'full', minimum_calls(LEAN_COUNT)),
    ]
    for dummy in range(repeat):  # interleaved, so both see the same load
        bench.with_latency()
        done = bench.bare_loop(LEAN_REGION)
        check(done.result['sessions'] == done.result['unique_sessions'] == LEAN_COUNT, 'bare loop: %s' % done.result)
        bare.add(done.wall)
        bench.with_latency()
        run = run_playbook(bench.env, _play(tasks), 'lean_module')
        check(bench.calls() == 2 * minimum_calls(LEAN_COUNT), 'lean tasks: %d calls' % bench.calls())
        times = run.task_times()
        lean.add(times['summaries only'][0])
        full.add(times['every key'][0])
        ping.add(times['ping'][0])
    lean_ratio, full_ratio = lean.best / bare.best, full.best / bare.best

    one, seven, one_full, seven_full = Series(), Series(), Series(), Series()
    region_tasks = []
    for label, regions, keys in (('1 region, summaries only', LEAN_REGIONS[:1], SUMMARY_ONLY),
                                 ('7 regions, summaries only', LEAN_REGIONS, SUMMARY_ONLY),
                                 ('1 region, every key', LEAN_REGIONS[:1], None), ('7 regions, every key', LEAN_REGIONS, None)):
        options = bench.connection(region_id=list(regions))
        if keys:
            options['return_keys'] = keys
        region_tasks.extend([_reset(bench), {'name': label, 'alicloud.ecs.ecs_terminal_session_info': options}])
    for dummy in range(repeat):
        bench.with_latency()
        times = run_playbook(bench.env, _play(region_tasks), 'lean_regions').task_times()
        check(bench.calls() == 2 * 8 * minimum_calls(LEAN_REGION_COUNT), 'lean regions: %d calls' % bench.calls())
        one.add(times['1 region, summaries only'][0])
        seven.add(times['7 regions, summaries only'][0])
        one_full.add(times['1 region, every key'][0])
        seven_full.add(times['7 regions, every key'][0])
    regions_ratio, regions_full_ratio = seven.best / one.best, seven_full.best / one_full.best

    rows = [
        ('bare SDK loop, MaxResults=100 (process: start, SDK import, 100 calls)', bare.fmt(), '1.00', ''),
        ('**module task, return_keys: [summary_by_instance]**', lean.fmt(), '**%.2f**' % lean_ratio, ''),
        ('module task, every key (the default, as before)', full.fmt(), '%.2f' % full_ratio, ''),
        ('ansible.builtin.ping task in the same play (per-task overhead)', ping.fmt(), '%.2f' % (ping.best / bare.best), ''),
        ('1 region of 2,000, summaries only', one.fmt(), '', '1.00'),
        ('**7 regions of 2,000, summaries only**', seven.fmt(), '', '**%.2f**' % regions_ratio),
        ('1 region of 2,000, every key', one_full.fmt(), '', '1.00'),
        ('7 regions of 2,000, every key', seven_full.fmt(), '', '%.2f' % regions_full_ratio),
    ]
    bench.section('10. Lean results: the module task with summaries only', (
        'run', 'seconds: best (best–worst, n)', 'x bare loop (10,000 sessions)', 'x 1 region'), rows, [
        'Task times as in 2 (bench_timer: task start -> next task start), each task after one that restarts the latency sequence; '
        'the play checks that the summaries of the lean task equal those of the full one (same %d calls). Regions listed '
        'concurrently (concurrency 8), all served by the one local endpoint.' % minimum_calls(LEAN_COUNT)])
    bench.goal(5, 'task returning only summary_by_instance within 1.05x of the bare SDK loop, N = 10,000',
               '%.2fx (every key: %.2fx)' % (lean_ratio, full_ratio), '<= 1.05x', lean_ratio <= 1.05,
               '' if lean_ratio <= 1.05 else 'the task is %.2f s longer than the bare loop; ansible-playbook\'s own cost of a '
               'task, a ping in the same play, is %.2f s (%.2fx with it subtracted); the rest is the spread of a loaded machine '
               '(the bare loop spread %.2f-%.2f s)' % (lean.best - bare.best, ping.best, (lean.best - ping.best) / bare.best,
                                                       bare.best, bare.worst))
    bench.goal(6, '7 regions of 2,000 within 1.4x of one region of 2,000, summaries only',
               '%.2fx (every key: %.2fx)' % (regions_ratio, regions_full_ratio), '<= 1.4x', regions_ratio <= 1.4,
               '' if regions_ratio <= 1.4 else 'the listing of 7 regions on 2 cores (see 3): each page costs CPU under one GIL')

    sizes = []
    bench.without_latency()
    for label, options in SIZE_CHOICES:
        done = bench.module_process(**options)
        size = len(done.stdout.encode('utf-8'))
        sizes.append((label, '{:,}'.format(size), '%.0f' % (size / LEAN_COUNT)))
    bench.figures['lean_sizes'] = sizes
    bench.section('10a. Result size for each choice, 10,000 sessions over %d instances' % len(
        {conn['InstanceId'] for raw in bench.seed[LEAN_REGION] for conn in raw['Connections']['Connection']}),
        ('return_keys / session_fields', 'bytes of JSON', 'bytes a session'), sizes, [
        'The module process\'s whole output (the JSON ansible-core receives), request_ids and the other facts included. '
        'summary_by_instance does not grow with the sessions but with the instances and, within each, the distinct client '
        'addresses, users and principals it lists (here about 2,000 sessions an instance, from as many addresses); '
        'sessions_by_instance holds one ID per session and instance.'])


CONSTRUCTED_GROUPS = {'has_root_sessions': "instance_id is match('i-lean00')", 'ecs_sessions_active': "instance_id is match('i-lean01')"}
CONSTRUCTED_COMPOSE = {'ecs_last_session_user': 'instance_id'}
PLUGIN_GROUPS = {'has_root_sessions': 'ecs_terminal_session_summary.root_session_count > 0',
                 'ecs_sessions_active': 'ecs_terminal_session_summary.active_session_count > 0'}
PLUGIN_COMPOSE = {'ecs_last_session_user': 'ecs_terminal_session_summary.last_session_user'}
INVENTORY_CHOICES = (
    ('every session kept (the default)', {}),
    ('session_fields: session_id, creation_time, username', {'session_fields': ['session_id', 'creation_time', 'username']}),
    ('max_sessions_per_host: 5', {'max_sessions_per_host': 5}),
    ('max_sessions_per_host: 0 (summaries only)', {'max_sessions_per_host': 0}),
)
INVENTORY_PLAY = """- name: Count the hosts the inventory grouped
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the size of the group
      ansible.builtin.copy:
        content: "{{ groups['has_root_sessions'] | default([]) | length }}"
        dest: "{{ result_file }}"
"""


def bench_lean_inventory(bench):
    """11: the inventory case of issue 18 - static hosts, + constructed, + the plugin for each choice."""
    folder = bench.tmp / 'lean-inventory'
    folder.mkdir(exist_ok=True)
    static = folder / '10-hosts.yml'
    hosts = {'host-%06d' % n: {'instance_id': 'i-lean%06d' % n} for n in range(LEAN_INVENTORY_HOSTS)}
    static.write_text(json.dumps({'all': {'hosts': hosts}}))
    constructed = folder / '20-constructed.yml'
    constructed.write_text(json.dumps({'plugin': 'ansible.builtin.constructed', 'strict': False, 'groups': CONSTRUCTED_GROUPS,
                                       'compose': CONSTRUCTED_COMPOSE}))
    source = folder / '20-terminal_sessions.yml'
    play = bench.tmp / 'lean_inventory_play.yml'
    play.write_text(INVENTORY_PLAY)
    result_file = bench.tmp / 'lean_inventory_result.txt'
    roots = {}
    for raw in bench.seed[LEAN_INVENTORY_REGION]:
        for conn in raw['Connections']['Connection']:
            roots[conn['InstanceId']] = roots.get(conn['InstanceId'], 0) + (raw.get('Username') == 'root')
    expected_roots = sum(1 for variables in hosts.values() if roots.get(variables['instance_id']))

    def play_run(sources, expected=None):
        bench.endpoint.set_faults(latency_ms=LEAN_INVENTORY_LATENCY_MS)
        bench.endpoint.reset_stats()
        done = run_process([str(Path(sys.executable).parent / 'ansible-playbook'), *sources, str(play), '-e', 'result_file=%s' % result_file],
                           bench.env)
        check(done.returncode == 0, 'ansible-playbook failed:\n%s\n%s' % (done.stdout[-3000:], done.stderr[-3000:]))
        if expected is not None:
            check(int(result_file.read_text()) == expected, 'has_root_sessions has %s hosts, expected %d' % (result_file.read_text(), expected))
        return done.wall, bench.calls(), done.peak_rss

    def plugin(options):
        config = dict(bench.connection(region_id=[LEAN_INVENTORY_REGION]), plugin='alicloud.ecs.terminal_sessions',
                      groups=PLUGIN_GROUPS, compose=PLUGIN_COMPOSE, **options)
        source.write_text(json.dumps(config))
        return ['-i', str(static), '-i', str(source)]

    static_only = play_run(['-i', str(static)], 0)
    with_constructed = play_run(['-i', str(static), '-i', str(constructed)])
    runs = [(label, play_run(plugin(options), expected_roots)) for label, options in INVENTORY_CHOICES]
    calls = minimum_calls(LEAN_INVENTORY_COUNT)
    for label, (wall, made, rss) in runs:
        check(made == calls, '%s: %d calls' % (label, made))
    floor = calls * LEAN_INVENTORY_LATENCY_MS / 1000.0
    constructed_share = with_constructed[0] - static_only[0]
    rows = [('the static hosts alone', '0', '%.1f' % static_only[0], '', '', '%.0f' % mib(static_only[2])),
            ('+ ansible.builtin.constructed, two groups and one compose', '0', '%.1f' % with_constructed[0], '%.1f' % constructed_share,
             '%.2f' % (1000 * constructed_share / LEAN_INVENTORY_HOSTS), '%.0f' % mib(with_constructed[2]))]
    for label, (wall, made, rss) in runs:
        share = wall - static_only[0]
        rows.append(('+ alicloud.ecs.terminal_sessions, %s' % label, '%d' % made, '%.1f' % wall, '%.1f' % share,
                     '%.2f' % (1000 * (share - floor) / LEAN_INVENTORY_HOSTS), '%.0f' % mib(rss)))
    lean_share = runs[-1][1][0] - static_only[0]
    target = 1.2 * (constructed_share + floor)
    bench.figures['lean_inventory'] = rows
    bench.section('11. Lean results: the inventory plugin, %s hosts, one region of %s sessions' % (
        '{:,}'.format(LEAN_INVENTORY_HOSTS), '{:,}'.format(LEAN_INVENTORY_COUNT)),
        ('ansible-playbook, inventory of', 'API calls', 'wall s', 'share s (wall - static alone)',
         'ms per host (share - network floor; constructed: share)', 'peak RSS MiB'), rows, [
        '%d calls at %d ms each, one region listed page after page: a network floor of %.0f s. A play on localhost, so the figures '
        'are the inventory\'s cost; one run per line. The plugin and constructed both evaluate two `groups` and one `compose` '
        'expression per host. Goal: the plugin\'s share with summaries only within 1.2x of constructed\'s share plus the floor: '
        '%.1f s against %.1f s (%.2fx).' % (calls, LEAN_INVENTORY_LATENCY_MS, floor, lean_share, constructed_share + floor,
                                            lean_share / (constructed_share + floor))])
    bench.goal(7, 'inventory plugin, 10,000 hosts, summaries only: share within 1.2x of constructed\'s share + network floor',
               '%.1f s against %.1f s + %.0f s (%.2fx)' % (lean_share, constructed_share, floor, lean_share / (constructed_share + floor)),
               '<= 1.2x', lean_share <= target,
               '' if lean_share <= target else 'see 11: the per-host cost beyond constructed\'s')
