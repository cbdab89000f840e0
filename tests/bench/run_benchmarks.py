#!/usr/bin/env python
"""Performance benchmarks of alicloud.ecs (``make bench``): prints the figures and writes docs/performance.md.

Everything runs against the local ECS endpoint of tests/ecs_endpoint (HTTPS, per-call latency injected,
50 to 100 ms by default, like a nearby region), started in this process; the module, the bare SDK script
and ansible-playbook run as child processes. Each timed figure is the best of ``--repeat`` runs (the least
disturbed by other load on the machine) with the spread beside it. Figures never fail the run; it stops
only when something is functionally wrong (records missing or duplicated, a task failed).

  1. API calls against the minimum ceil(N/100), for N in 0, 1, 100, 101, 1,000 and 10,000
  2. N = 10,000, one region: the module task, the module process and the bare SDK loop, and the naive loop
  3. 1, 2, 4, 8 regions of 1,000 sessions each
  4. 1, 10, 50 instance IDs in one region (bounded concurrency)
  5. start-up: the module with no session against ansible.builtin.ping; what the module process imports
  6. 100,000 sessions: peak memory of the module process and the size of its result
  7. the enrichment filter at 10,000 hosts x 100,000 sessions (bench_enrich.py)
  8. a fleet-wide audit spread over Ansible's forks (the measured example of docs/scaling.md)
  9. the terminal_sessions inventory plugin: 10,000 hosts, 1 and 2 regions of 20,000 sessions, cold and cached
 10. lean results: the task returning only summaries against the bare SDK loop and every key; 7 regions against 1; sizes
 11. lean results: the inventory plugin's choices at 10,000 hosts against ansible-core's constructed (bench_lean.py)
 12. the archive on SQLite and PostgreSQL: one run merging 1,000 records into 1,000 to 1,000,000 archived ones,
     ecs_terminal_session_archive_info over 1,000,000 records, importing 1,000,000 version 1 records (bench_archive.py;
     needs the server of tests/tools/postgres.sh, which `make bench` starts)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import socket
import sys
import tempfile
import time
from pathlib import Path

from bench_support import (ACCESS_KEY_ID, ACCESS_KEY_SECRET, CREDENTIALS, HERE, MODULE, REPO, BenchError, Series, check, environment,
                           importtime_by_package, load_average, machine, mib, minimum_calls, run_playbook, run_process)
from bench_lean import bench_lean_inventory, bench_lean_module, seed as seed_lean
from ecs_endpoint.data import make_sessions, public_view, session_matches
from ecs_endpoint.server import EcsEndpoint

MAKE_COMMAND = 'make bench'
DIRECT_COMMAND = 'cd build && <TEST_ENV> python tests/bench/run_benchmarks.py'
CALL_CASES = ((0, 'cn-beijing'), (1, 'cn-zhangjiakou'), (100, 'cn-huhehaote'), (101, 'cn-wulanchabu'), (1000, 'cn-shenzhen'),
              (10000, 'cn-hangzhou'))
MAIN_REGION, MAIN_COUNT = 'cn-hangzhou', 10000
EMPTY_REGION = 'cn-beijing'
NAIVE_REGION, NAIVE_COUNT = 'cn-shenzhen', 1000
MULTI_REGIONS = ('cn-shenzhen', 'cn-shanghai', 'cn-qingdao', 'cn-heyuan', 'cn-guangzhou', 'cn-chengdu', 'cn-hongkong', 'ap-southeast-1')
INSTANCE_REGION, INSTANCE_COUNT, INSTANCES = 'ap-northeast-1', 4000, ['i-6we%017d' % n for n in range(1, 51)]
BIG_REGIONS = ('cn-hangzhou', 'us-west-1', 'us-east-1', 'eu-central-1', 'eu-west-1', 'ap-south-1', 'ap-southeast-2', 'ap-southeast-3',
               'ap-southeast-5', 'me-east-1')
FORK_REGIONS, FORK_COUNT = MULTI_REGIONS[:4], 1000
NO_MATCH = {'username': ['nobody-at-all']}
INVENTORY_REGIONS, INVENTORY_COUNT, INVENTORY_HOSTS = ('cn-nanjing', 'cn-fuzhou'), 20000, 10000


class Bench:
    """The endpoint, the environment of the children and the figures collected so far."""

    def __init__(self, args, tmp):
        self.args = args
        self.tmp = Path(tmp)
        self.env = environment(tmp)
        self.latency = args.latency
        self.figures = {}
        self.durations = []
        self.sections = []
        self.goals = []
        self.endpoint = None
        self.ca_file = None
        self.seed = {}

    def latency_text(self):
        if isinstance(self.latency, list):
            return '%g-%g' % tuple(self.latency)
        return '%g' % self.latency

    # the endpoint ------------------------------------------------------------------------------------------------
    def start(self):
        regions = {}
        for count, region in CALL_CASES:
            regions[region] = make_sessions(region, count)
        for region in MULTI_REGIONS:
            regions.setdefault(region, make_sessions(region, 1000))
        regions[INSTANCE_REGION] = make_sessions(INSTANCE_REGION, INSTANCE_COUNT, instance_ids=INSTANCES)
        if self.wanted(9):
            for index, region in enumerate(INVENTORY_REGIONS):
                instances = ['i-inv%d%06d' % (index, n) for n in range(INVENTORY_HOSTS // len(INVENTORY_REGIONS))]
                regions[region] = make_sessions(region, INVENTORY_COUNT, instance_ids=instances)
        if self.wanted(6):
            for region in BIG_REGIONS:
                regions.setdefault(region, make_sessions(region, 10000))
        seed_lean(regions, self.wanted)
        self.endpoint = EcsEndpoint(regions, credentials=CREDENTIALS, tls=not self.args.http, max_logged_requests=0)
        self.endpoint.start()
        self.ca_file = self.endpoint.ca_file
        self.seed = regions

    def stop(self):
        if self.endpoint is not None:
            self.endpoint.stop()

    def wanted(self, number):
        return not self.args.only or number in self.args.only

    def with_latency(self):
        """Latency on, its random sequence restarted: every run sees the same per-call latencies."""
        self.endpoint.set_faults(latency_ms=self.latency)
        self.endpoint.reset_stats()

    def without_latency(self):
        self.endpoint.set_faults()
        self.endpoint.reset_stats()

    def calls(self):
        return self.endpoint.stats()['calls']

    def connection(self, **extra):
        args = {'endpoint': self.endpoint.endpoint, 'protocol': self.endpoint.protocol, 'access_key_id': ACCESS_KEY_ID,
                'access_key_secret': ACCESS_KEY_SECRET, 'region_id': MAIN_REGION}
        if self.ca_file:
            args['ca_bundle'] = self.ca_file
        args.update(extra)
        return args

    # the children ------------------------------------------------------------------------------------------------
    def module_process(self, probe=False, trace=False, **extra):
        """The module as a bare process (``python -m ... ARGS_FILE``), or through module_probe.py for its stages."""
        args_file = self.tmp / 'module_args.json'
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': self.connection(**extra)}))
        env = dict(self.env)
        if probe:
            stages_file = self.tmp / 'probe.json'
            env.update(BENCH_PROBE_OUT=str(stages_file), BENCH_PROBE_TRACE='1' if trace else '0')
            done = run_process([sys.executable, str(HERE / 'module_probe.py'), str(args_file)], env)
        else:
            done = run_process([sys.executable, '-m', MODULE, str(args_file)], env)
        result = done.json()
        check(not result.get('failed'), 'the module failed: %s' % result.get('msg'))
        done.result = result
        done.stages = json.loads((self.tmp / 'probe.json').read_text()) if probe else None
        return done

    def bare_loop(self, region, page_size=100):
        command = [sys.executable, str(HERE / 'bare_sdk_loop.py'), '--endpoint', self.endpoint.endpoint, '--protocol',
                   self.endpoint.protocol, '--region', region, '--page-size', str(page_size)]
        if self.ca_file:
            command.extend(['--ca', self.ca_file])
        done = run_process(command, self.env)
        done.result = done.json()
        return done

    def expect_records(self, what, sessions, expected):
        ids = [(s['region_id'], s['session_id']) for s in sessions]
        check(len(ids) == len(set(ids)), '%s: %d records returned twice' % (what, len(ids) - len(set(ids))))
        missing, unexpected = len(set(expected) - set(ids)), len(set(ids) - set(expected))
        check(not missing and not unexpected, '%s: %d records missing, %d unexpected' % (what, missing, unexpected))

    def truth(self, regions, instance_ids=None):
        found = set()
        for region in regions:
            for raw in self.seed[region]:
                if not instance_ids or any(session_matches(raw, instance_id) for instance_id in instance_ids):
                    found.add((region, raw['SessionId']))
        return found

    # the report --------------------------------------------------------------------------------------------------
    def section(self, title, header, rows, notes=(), left=(0,)):
        lines = ['| %s |' % ' | '.join(header), '|%s' % ''.join(' --- |' if i in left else ' ---: |' for i in range(len(header)))]
        lines.extend('| %s |' % ' | '.join(str(cell) for cell in row) for row in rows)
        self.sections.append((title, lines, list(notes)))
        print('\n## %s\n' % title)
        print('\n'.join(lines))
        for note in notes:
            print('\n' + note)
        sys.stdout.flush()

    def goal(self, number, what, figure, target, met, why=''):
        self.goals.append((number, what, figure, target, 'met' if met else 'not met', why))


# 1 -------------------------------------------------------------------------------------------------------------------
def bench_calls(bench):
    bench.without_latency()
    rows, equal = [], True
    for count, region in CALL_CASES:
        bench.endpoint.reset_stats()
        done = bench.module_process(region_id=region)
        bench.expect_records('%d sessions' % count, done.result['sessions'], bench.truth([region]))
        calls = bench.calls()
        minimum = minimum_calls(count)
        same = done.result['api_calls'] == calls == minimum
        equal = equal and same
        rows.append(('{:,}'.format(count), minimum, done.result['api_calls'], calls, 'yes' if same else '**no**'))
    bench.section('1. API calls against the minimum', ('sessions N', 'minimum ceil(N/100), at least 1', 'module api_calls',
                                                       'endpoint calls', 'equal'), rows,
                  ['Page size 100 (the module\'s default); no latency here, the calls do not depend on it. Every record is '
                   'checked against the endpoint\'s data: none missing, none twice.'])
    bench.goal(1, 'API calls = ceil(N/100) for N = 0 ... 10,000', 'equal in %d of %d cases' % (
        sum(1 for row in rows if row[-1] == 'yes'), len(rows)), 'equal', equal)


# 2 -------------------------------------------------------------------------------------------------------------------
def module_task_plays(bench, conn, with_nomatch=True):
    reset = {'name': 'reset the latency sequence', 'check_mode': False,
             'ansible.builtin.uri': {'url': '%s://%s/_emulator/faults' % (bench.endpoint.protocol, bench.endpoint.endpoint),
                                     'method': 'POST', 'body_format': 'json', 'body': {'latency_ms': bench.latency},
                                     'use_proxy': False, 'ca_path': bench.ca_file}}
    if not bench.ca_file:
        del reset['ansible.builtin.uri']['ca_path']

    def expect(name, sessions):
        return {'name': 'check %s' % name, 'ansible.builtin.assert': {'quiet': True, 'that': [
            '%s.sessions | length == %d' % (name, sessions), '%s.api_calls == %d' % (name, minimum_calls(MAIN_COUNT)),
            "%s.sessions | map(attribute='session_id') | unique | length == %d" % (name, sessions)]}}

    tasks = [
        {'name': 'warm-up', 'ansible.builtin.ping': {}},
        {'name': 'ping', 'ansible.builtin.ping': {}},
        {'name': 'module', 'alicloud.ecs.ecs_terminal_session_info': conn, 'register': 'full'},
        expect('full', MAIN_COUNT),
    ]
    if with_nomatch:
        tasks.extend([reset, {'name': 'module, no record kept', 'alicloud.ecs.ecs_terminal_session_info': dict(conn, filters=NO_MATCH),
                              'register': 'kept_none'}, expect('kept_none', 0)])
    return [{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False, 'tasks': tasks}]


def controller_costs(stdout, repeat=2):
    """Time, in this process, what the controller does with a module's result: the profile of its handling."""
    from ansible.executor.task_result import CLEAN_EXCEPTIONS
    from ansible.module_utils.common.json import Direction, get_module_decoder
    from ansible.module_utils.json_utils import _filter_non_json_lines
    from ansible.utils.vars import transform_to_native_types
    from ansible.vars.clean import module_response_deepcopy, strip_internal_keys

    def decode():
        return json.loads(_filter_non_json_lines(stdout, objects_only=True)[0], cls=get_module_decoder('legacy', Direction.MODULE_TO_CONTROLLER))

    data = decode()
    steps = (
        ('decode the module\'s JSON (worker)', decode),
        ('pickle through the result queue (worker -> main)', lambda: pickle.loads(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))),
        ('copy for the callbacks (as_callback_task_result: module_response_deepcopy + strip_internal_keys)',
         lambda: strip_internal_keys(module_response_deepcopy(data), exceptions=CLEAN_EXCEPTIONS)),
        ('native copy when the stdout callback reads it (result.result: transform_to_native_types)', lambda: transform_to_native_types(data)),
        ('copy for register (module_response_deepcopy + strip_internal_keys)', lambda: strip_internal_keys(module_response_deepcopy(data))),
    )
    costs = []
    for name, step in steps:
        best = None
        for dummy in range(repeat):
            start = time.perf_counter()
            step()
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        costs.append((name, best))
    return costs


def shaping_speed(count=10000, repeat=7):
    """Microseconds to shape one raw record (``checked_session``), best of ``repeat`` over ``count`` records."""
    from ansible_collections.alicloud.ecs.plugins.module_utils.listing import checked_session
    raw = json.loads(json.dumps([public_view(s) for s in make_sessions(MAIN_REGION, count)]))
    best = None
    for dummy in range(repeat):
        start = time.perf_counter()
        for record in raw:
            checked_session(record, MAIN_REGION)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best / count * 1e6


def bench_head_to_head(bench):
    repeat = bench.args.repeat
    truth = bench.truth([MAIN_REGION])
    bare, bare_loop, module_wall, module_rss, bare_rss = Series(), Series(), Series(), Series(), Series()
    module_out = None
    for dummy in range(repeat):  # interleaved, so both see the same load
        bench.with_latency()
        done = bench.bare_loop(MAIN_REGION)
        check(done.result['sessions'] == done.result['unique_sessions'] == MAIN_COUNT, 'bare loop: %s' % done.result)
        check(done.result['calls'] == bench.calls() == minimum_calls(MAIN_COUNT), 'bare loop calls: %s' % done.result)
        bare.add(done.wall)
        bare_loop.add(done.result['loop_seconds'])
        bare_rss.add(done.peak_rss)
        bench.with_latency()
        done = bench.module_process()
        bench.expect_records('module process', done.result['sessions'], truth)
        check(done.result['api_calls'] == bench.calls() == minimum_calls(MAIN_COUNT), 'module calls: %s' % done.result['api_calls'])
        module_wall.add(done.wall)
        module_rss.add(done.peak_rss)
        module_out = done.stdout
    result_bytes = len(module_out.encode('utf-8'))
    result = json.loads(module_out)
    parts = dict((key, len(json.dumps(value).encode('utf-8'))) for key, value in result.items())

    task, nomatch, ping, plays = Series(), Series(), Series(), Series()
    for number in range(repeat):
        with_nomatch = number < 2  # two runs of the same 100 calls with a tiny result are enough to price the result
        bench.with_latency()
        run = run_playbook(bench.env, module_task_plays(bench, bench.connection(), with_nomatch), 'head_to_head')
        times = run.task_times()
        check(bench.calls() == 100 * (2 if with_nomatch else 1), 'module tasks: the endpoint counted %d calls' % bench.calls())
        task.add(times['module'][0])
        if with_nomatch:
            nomatch.add(times['module, no record kept'][0])
        ping.add(times['ping'][0])
        plays.add(run.completed.wall)

    bench.with_latency()
    naive = bench.bare_loop(NAIVE_REGION, page_size=0)
    check(naive.result['sessions'] == NAIVE_COUNT and naive.result['calls'] == minimum_calls(NAIVE_COUNT, 10), 'naive loop: %s' % naive.result)
    naive_full = None
    if bench.args.naive_full:
        bench.with_latency()
        naive_full = bench.bare_loop(MAIN_REGION, page_size=0)
        check(naive_full.result['sessions'] == MAIN_COUNT, 'naive loop: %s' % naive_full.result)
        naive_estimate = naive_full.wall
    else:
        naive_estimate = naive.result['import_seconds'] + naive.result['loop_seconds'] * MAIN_COUNT / NAIVE_COUNT

    bench.with_latency()
    probe = bench.module_process(probe=True)
    bench.expect_records('module probe', probe.result['sessions'], truth)
    stages = probe.stages
    controller = controller_costs(module_out)
    shaping = shaping_speed()
    bench.figures.update(module_rss_10k=module_rss.best, result_bytes_10k=result_bytes, probe_10k=stages, shaping_us=shaping)

    ratio_task, ratio_process = task.best / bare.best, module_wall.best / bare.best
    rows = [
        ('bare SDK loop, MaxResults=100 (process: start, SDK import, 100 calls)', bare.fmt(), '1.00', 100, mib(bare_rss.best)),
        ('  of which the loop alone', bare_loop.fmt(), '%.2f' % (bare_loop.best / bare.best), '', ''),
        ('module as a bare process (python -m ... args file)', module_wall.fmt(), '%.2f' % ratio_process, 100, mib(module_rss.best)),
        ('**module task in a playbook** (task start -> next task start)', task.fmt(), '**%.2f**' % ratio_task, 100, ''),
        ('module task, same 100 calls, filter keeps no record (result ~1 KB)', nomatch.fmt(), '%.2f' % (nomatch.best / bare.best), 100, ''),
        ('ansible.builtin.ping task in the same play (per-task overhead)', ping.fmt(), '%.2f' % (ping.best / bare.best), 0, ''),
        ('naive loop, API default page size 10, N = 1,000 (measured)', '%.2f' % naive.wall, '', naive.result['calls'], mib(naive.peak_rss)),
        ('naive loop, N = 10,000 (%s)' % ('measured' if naive_full else 'loop x 10 from the line above'), '%.1f' % naive_estimate,
         '%.1f' % (naive_estimate / bare.best), 1000, ''),
    ]
    rows = [(name, secs, ratio, calls, ('%.0f' % rss) if rss != '' else '') for name, secs, ratio, calls, rss in rows]
    result_cost = task.best - nomatch.best
    listing = stages['listing'] - stages.get('sdk_import', 0.0)
    profile_rows = [
        ('Python start + import ansible.module_utils.basic', '%.2f' % (probe.wall - stages['total_in_process'] + stages['import_ansible'])),
        ('import the module and its module_utils', '%.3f' % stages['import_module']),
        ('import the SDK (alibabacloud_tea_openapi.client)', '%.2f' % stages.get('sdk_import', 0.0)),
        ('listing: 100 calls, their latency, and shaping the records', '%.2f' % listing),
        ('  of which shaping 10,000 records (checked_session, %.1f µs a record)' % shaping, '%.2f' % stages.get('shaping', 0.0)),
        ('sessions_by_instance and summary_by_instance', '%.3f' % stages.get('summaries', 0.0)),
        ('exit_json: ansible-core\'s no_log scrub of the whole result (remove_values, a deep copy)', '%.2f' % stages.get('no_log_scrub', 0.0)),
        ('exit_json: JSON encoding and write (%.1f MB)' % (result_bytes / 1e6), '%.2f' % stages.get('encode', 0.0)),
        ('module process wall time (this run)', '%.2f' % probe.wall),
    ]
    controller_rows = [(name, '%.2f' % seconds) for name, seconds in controller]
    controller_total = sum(seconds for dummy, seconds in controller)
    in_module = sum(stages.get(name, 0.0) for name in ('shaping', 'summaries', 'no_log_scrub', 'encode'))
    parts_rows = [(key, '{:,}'.format(size), '%.1f %%' % (100.0 * size / result_bytes)) for key, size in
                  sorted(parts.items(), key=lambda item: -item[1])]
    bench.section('2. One region, 10,000 sessions: the module against the bare SDK loop', (
        'run', 'seconds: best (best–worst, n)', 'x bare loop', 'API calls', 'peak RSS MiB'), rows, [
        'Latency %s ms per call, the same sequence for every run. The task time runs from the start of the module task to the '
        'start of the next task (bench_timer callback), so it includes everything the controller does with the result but not '
        'ansible-playbook\'s own start (a whole play took %.1f-%.1f s).' % (bench.latency_text(), plays.best, plays.worst),
        'Ratios, nothing subtracted: module task / bare loop **%.2f** (goal 1.2), module process / bare loop **%.2f**. With the '
        'per-task overhead of a ping task subtracted (%.2f s): %.2f.' % (ratio_task, ratio_process, ping.best, (task.best - ping.best) / bare.best),
        'What the result costs: the same task with a filter that keeps no record (same 100 calls, a ~1 KB result) takes %.2f s, '
        'so the %.1f MB result of 10,000 records costs %.2f s, %.0f µs per record or %.2f s per MB: %.2f s in the module process '
        '(shaping, summaries, no_log scrub and encoding, 2a) and %.2f s on the controller, of which the steps of 2b, timed alone, '
        'account for %.2f s.' % (
            nomatch.best, result_bytes / 1e6, result_cost, 1e6 * result_cost / MAIN_COUNT, result_cost / (result_bytes / 1e6), in_module,
            result_cost - in_module, controller_total),
    ])
    bench.section('2a. Where the module process spends its time (module_probe.py, one run, N = 10,000)', ('stage', 'seconds'),
                  profile_rows, ['The network part is the same as the bare loop\'s (%.2f s for the loop alone); the module adds the '
                                 'SDK import that the bare script pays too, record shaping, and exit_json.' % bare_loop.best])
    bench.section('2b. What the controller does with the 10,000-record result (each step timed alone, best of 2)',
                  ('step', 'seconds'), controller_rows + [('sum', '%.2f' % controller_total)],
                  ['These are the steps ansible-core takes with every task result, proportional to its size: the worker decodes '
                   'the module\'s output and sends it to the main process, which copies it for the callbacks, again as native types '
                   'when the default stdout callback reads it, and again for `register`. In the play, the result cost %.2f s on the '
                   'controller (task with records - task without - the module\'s own share); the rest of it, beyond these steps timed '
                   'alone in the runner, is not attributed by this suite.' % (result_cost - in_module)])
    bench.section('2c. The returned result, 10,000 sessions (%s bytes of JSON, %.0f bytes a session)' % (
        '{:,}'.format(result_bytes), result_bytes / float(MAIN_COUNT)), ('key', 'bytes', 'share'), parts_rows, [
        'One copy of each record: sessions_by_instance holds session IDs, not records; fields the service left empty are left '
        'out. The raw API records of the same sessions are %s bytes of JSON.' % '{:,}'.format(
            len(json.dumps([public_view(s) for s in bench.seed[MAIN_REGION]], separators=(', ', ': ')).encode('utf-8')))])
    why = ('the listing itself is within it: the same task returning no record (same 100 calls) is %.2fx. The gap is the %.1f MB '
           'result (%.2f s): in the module process ansible-core\'s no_log scrub and the encoding in exit_json (%.2f s; the process is '
           '%.2fx), on the controller ansible-core\'s decoding and copies of the result for the callbacks and register (%.2f s, 2b)' % (
               nomatch.best / bare.best, result_bytes / 1e6, result_cost, stages.get('no_log_scrub', 0.0) + stages.get('encode', 0.0),
               ratio_process, result_cost - in_module))
    bench.goal(2, 'module task within 1.2x of the bare SDK loop, N = 10,000', '%.2fx (process %.2fx)' % (ratio_task, ratio_process),
               '<= 1.2x', ratio_task <= 1.2, '' if ratio_task <= 1.2 else why)


# 3 -------------------------------------------------------------------------------------------------------------------
def bench_regions(bench):
    rows, walls, listings, exit_costs = [], {}, {}, {}
    for count in (1, 2, 4, 8):
        regions = list(MULTI_REGIONS[:count])
        wall, listing, cpu, exits, concurrency = Series(), Series(), Series(), Series(), 0
        for dummy in range(bench.args.repeat):
            bench.with_latency()
            done = bench.module_process(probe=True, region_id=regions)
            bench.expect_records('%d regions' % count, done.result['sessions'], bench.truth(regions))
            check(done.result['api_calls'] == bench.calls() == 10 * count, '%d regions: %d calls' % (count, bench.calls()))
            wall.add(done.wall)
            listing.add(done.stages['listing'] - done.stages.get('sdk_import', 0.0))
            cpu.add(done.stages['cpu_listing'] - done.stages.get('cpu_sdk_import', 0.0))
            exits.add(done.stages.get('no_log_scrub', 0.0) + done.stages.get('encode', 0.0))
            concurrency = max(concurrency, bench.endpoint.stats()['max_concurrency'])
        walls[count], listings[count], exit_costs[count] = wall, listing, exits
        rows.append((count, '{:,}'.format(1000 * count), 10 * count, concurrency, wall.fmt(), '%.2f' % (wall.best / walls[1].best),
                     listing.fmt(), '%.2f' % (listing.best / listings[1].best), '%.2f' % cpu.median,
                     '%.1f' % (1000 * cpu.median / (10 * count))))
    ratio, listing_ratio = walls[8].best / walls[1].best, listings[8].best / listings[1].best
    bench.section('3. Regions listed concurrently (1,000 sessions each)', (
        'regions', 'sessions', 'API calls', 'max calls in flight', 'module process s', 'x 1 region', 'listing s (no SDK import)',
        'x 1 region', 'listing CPU s', 'CPU ms a page (with one-time setup)'), rows, [
        'Module process through module_probe.py; concurrency 8 (the default). The listing column is the time in list_sessions '
        'without the SDK import; its CPU columns are the module process\'s CPU time meanwhile (all threads; median of the runs). '
        'The regions\' pages are fetched in parallel, but each page costs the module CPU (signing and sending the request, TLS, '
        'decoding the JSON, shaping 100 records) under one GIL, on %d cores shared with the endpoint; the rest of the process grows '
        'with the number of records returned (exit_json, see 2a). Here every region is served by the one local endpoint; against '
        'Alibaba Cloud each region has its own, and the SDK builds one HTTP session (an SSL context, about 0.1 s of CPU) per '
        'endpoint.' % (os.cpu_count() or 0)])
    bench.goal(3, '8 regions within 1.5x of one', '%.2fx (listing %.2fx)' % (ratio, listing_ratio), '<= 1.5x', ratio <= 1.5,
               '' if ratio <= 1.5 else 'the listing is %.2fx; the rest is the 8x larger result: exit_json\'s no_log scrub and encoding '
               'take %.2f s for 8,000 records against %.2f s for 1,000 (median)' % (listing_ratio, exit_costs[8].median, exit_costs[1].median))


# 4 -------------------------------------------------------------------------------------------------------------------
def bench_instances(bench):
    rows, bounded = [], True
    for count in (1, 10, 50):
        ids = INSTANCES[:count]
        minimum = sum(minimum_calls(sum(1 for raw in bench.seed[INSTANCE_REGION] if session_matches(raw, instance_id)))
                      for instance_id in ids)
        wall, listing, concurrency = Series(), Series(), 0
        for dummy in range(bench.args.repeat):
            bench.with_latency()
            done = bench.module_process(probe=True, region_id=INSTANCE_REGION, instance_id=ids)
            bench.expect_records('%d instance IDs' % count, done.result['sessions'], bench.truth([INSTANCE_REGION], ids))
            check(done.result['api_calls'] == bench.calls(), '%d instance IDs: module %d calls, endpoint %d' % (
                count, done.result['api_calls'], bench.calls()))
            wall.add(done.wall)
            listing.add(done.stages['listing'] - done.stages.get('sdk_import', 0.0))
            concurrency = max(concurrency, bench.endpoint.stats()['max_concurrency'])
            calls = done.result['api_calls']
            sessions = len(done.result['sessions'])
        rows.append((count, '{:,}'.format(sessions), calls, minimum, concurrency, wall.fmt(), listing.fmt()))
        bounded = bounded and concurrency <= 8 and calls == minimum
    bench.section('4. Instance IDs in one region (%s sessions over 50 instances)' % '{:,}'.format(INSTANCE_COUNT), (
        'instance IDs', 'sessions returned', 'API calls', 'minimum', 'max calls in flight', 'module process s', 'listing s'), rows, [
        'One query per instance ID, at most `concurrency` (default 8) at once: the endpoint saw at most %d calls in flight. '
        'The minimum is the sum over the IDs of ceil(sessions of that instance / 100).' % max(row[4] for row in rows)])
    bench.goal(4, '1, 10, 50 instance IDs: calls = minimum, at most `concurrency` (8) in flight', 'max %d in flight, calls %s' % (
        max(row[4] for row in rows), 'equal' if all(row[2] == row[3] for row in rows) else 'above the minimum'), '<= 8, equal', bounded)


# 5 -------------------------------------------------------------------------------------------------------------------
def startup_plays(bench):
    tasks = [{'name': 'warm-up', 'ansible.builtin.ping': {}}]
    for number in range(1, 4):
        tasks.append({'name': 'ping %d' % number, 'ansible.builtin.ping': {}})
        tasks.append({'name': 'module %d' % number, 'alicloud.ecs.ecs_terminal_session_info': bench.connection(region_id=EMPTY_REGION)})
    tasks.append({'name': 'end', 'ansible.builtin.meta': 'noop'})
    return [{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False, 'tasks': tasks}]


def bench_startup(bench):
    bench.with_latency()
    run = run_playbook(bench.env, startup_plays(bench), 'startup')
    times = run.task_times()
    ping = Series(times['ping %d' % n][0] for n in range(1, 4))
    module = Series(times['module %d' % n][0] for n in range(1, 4))
    process, rss = Series(), Series()
    for dummy in range(bench.args.repeat):
        bench.with_latency()
        done = bench.module_process(region_id=EMPTY_REGION)
        process.add(done.wall)
        rss.add(done.peak_rss)
    bench.with_latency()
    probe = bench.module_process(probe=True, region_id=EMPTY_REGION)
    stages = probe.stages
    bench.with_latency()
    called = set(bench.module_process(probe=True, trace=True, region_id=EMPTY_REGION).stages['packages_called'])
    args_file = bench.tmp / 'module_args.json'
    imports = run_process([sys.executable, '-X', 'importtime', '-m', MODULE, str(args_file)], bench.env)
    sdk_only = run_process([sys.executable, '-X', 'importtime', '-c', 'import alibabacloud_tea_openapi.client'], bench.env)
    total, by_package = importtime_by_package(imports.stderr)
    sdk_total = importtime_by_package(sdk_only.stderr)[0]
    importers = first_importers(imports.stderr)
    unused = dict((name, us) for name, us in by_package.items()
                  if name not in called and name not in STDLIB_BASICS and not name.startswith('_'))  # _x: C modules, never traced
    bench.figures.update(module_rss_0=rss.best)
    rows = [
        ('ansible.builtin.ping task', ping.fmt(), ''),
        ('ecs_terminal_session_info task, region without sessions (1 call)', module.fmt(), '%.2f s' % (module.best - ping.best)),
        ('the module as a bare process, same query', process.fmt(), ''),
        ('  Python start + import ansible.module_utils.basic', '%.2f' % (probe.wall - stages['total_in_process'] + stages['import_ansible']), ''),
        ('  import the module and its module_utils', '%.3f' % stages['import_module'], ''),
        ('  import the SDK (alibabacloud_tea_openapi.client; -X importtime alone: %.2f s)' % (sdk_total / 1e6),
         '%.2f' % stages.get('sdk_import', 0.0), ''),
        ('  one call (%s ms latency; the SDK\'s HTTP session, SSL context and TLS handshake) and exit' % bench.latency_text(),
         '%.2f' % (stages['total_in_process'] - stages['import_ansible'] - stages['import_module'] - stages.get('sdk_import', 0.0)), ''),
    ]
    bench.section('5. Start-up: the module with no session against ansible.builtin.ping', ('what', 'seconds', 'more than ping'), rows, [
        'Tasks in one play, alternating, 3 of each (the first task of the play, a warm-up, is not counted). Peak RSS of the module '
        'process: %.0f MiB. Threads alive when the module returns: %s; with explicit keys the SDK builds no credential chain, so '
        'no credential-refresh scheduler or thread is started.' % (mib(rss.best), ', '.join(stages['threads_after']))])
    unused_rows = [(name, '%.0f' % (us / 1000.0), importers.get(name, ('-', '-'))[0], importers.get(name, ('-', '-'))[1])
                   for name, us in sorted(unused.items(), key=lambda item: -item[1]) if us >= 3000]
    through = {}
    for name, us in unused.items():
        root = importers.get(name, ('-', '-'))[1]
        through[root] = through.get(root, 0) + us
    bench.section('5a. Imported by the module process but never called on its path (-X importtime, packages >= 3 ms)', (
        'package', 'import ms', 'imported by', 'through'), unused_rows, [
        'The module process imports %d top-level packages in %.2f s (-X importtime, which inflates it); %.2f s of that is in '
        'packages none of whose Python functions runs while the module lists sessions with explicit keys (module_probe.py traces '
        'every call after the SDK import): %s. The SDK imports its part at module level (alibabacloud_tea_openapi.client imports '
        'darabonba.core, which imports aiohttp, and alibabacloud_credentials, which imports Tea.core (aiohttp, asyncio) and the ECS '
        'RAM role provider (apscheduler)), so the module could skip it only by stubbing sys.modules or patching the SDK, which it does '
        'not do; the bare SDK script pays the same. The module\'s own avoidable import, jmespath (about 20 ms), is now imported only '
        'when `query` is given.' % (len(by_package), total / 1e6, sum(unused.values()) / 1e6, ', '.join(
            '%.0f ms through %s' % (us / 1000.0, root) for root, us in sorted(through.items(), key=lambda item: -item[1]) if us >= 5000))],
        left=(0, 2, 3))


STDLIB_BASICS = frozenset(('builtins', 'sys', 'encodings', 'codecs', 'io', 'abc', 'site', 'os', 'stat', 'posixpath', 'genericpath',
                           '_frozen_importlib', '_frozen_importlib_external', 'zipimport', 'sitecustomize', 'runpy', 'importlib', '__main__',
                           '_distutils_hack'))


def first_importers(stderr):
    """Top-level package -> (the module that first imported it, the top-level import it came through).

    From ``-X importtime``, where a module's imports are printed before it, one level deeper.
    """
    entries = []
    for line in stderr.splitlines():
        if line.startswith('import time:') and '|' in line and not line.endswith('imported package'):
            name_part = line.split('|', 2)[2]
            depth = len(name_part) - len(name_part.lstrip(' '))
            entries.append((depth, name_part.strip()))
    importers = {}
    for index, (depth, name) in enumerate(entries):
        top = name.split('.')[0]
        if top in importers:
            continue
        current_depth, parent, root = depth, None, name
        for later_depth, later_name in entries[index + 1:]:
            if later_depth < current_depth:
                current_depth = later_depth
                if parent is None and later_name.split('.')[0] != top:
                    parent = later_name
                if later_name.split('.')[0] == 'ansible_collections':
                    break
                root = later_name
                if later_depth == 0:
                    break
        importers[top] = (parent or '-', root)
    return importers


# 6 -------------------------------------------------------------------------------------------------------------------
def bench_memory(bench):
    bench.without_latency()
    done = bench.module_process(region_id=list(BIG_REGIONS))
    total = 10000 * len(BIG_REGIONS)
    bench.expect_records('%d sessions' % total, done.result['sessions'], bench.truth(BIG_REGIONS))
    check(done.result['api_calls'] == bench.calls() == 100 * len(BIG_REGIONS), '100,000 sessions: %d calls' % bench.calls())
    size = len(done.stdout.encode('utf-8'))
    base = bench.figures.get('module_rss_0')
    probe = bench.figures.get('probe_10k')
    rows = [('sessions', '{:,}'.format(total)), ('API calls', done.result['api_calls']), ('module process wall time s', '%.1f' % done.wall),
            ('result, bytes of JSON', '{:,}'.format(size)), ('result bytes per session', '%.0f' % (size / float(total))),
            ('peak RSS of the module process (wait4 ru_maxrss) MiB', '%.0f' % mib(done.peak_rss))]
    if base:
        rows.append(('  over the same process with no session (%.0f MiB), per session' % mib(base), '%.0f bytes' % ((done.peak_rss - base) / total)))
    notes = ['10 regions of 10,000 sessions in one task (concurrency 8), no latency: memory does not depend on it, and the local '
             'endpoint rescans a region for every page, which would make a single 100,000-session region slow for reasons of the '
             'test endpoint only.']
    if probe and probe.get('rss_after_scrub'):
        held = probe['rss_after_listing'] - probe.get('rss_after_sdk_import', probe['rss_before_listing'])
        scrub = probe['rss_after_scrub'] - probe['rss_after_listing']
        text = probe['peak_rss'] - probe['rss_after_scrub']
        notes.append('Where the memory goes (module_probe.py at 10,000 sessions, resident memory after each stage): the records as '
                     'the module holds them, once, after the SDK import: +%.0f MiB (%.0f bytes a session, allocator slack of the '
                     'listing\'s pages included); ansible-core\'s no_log scrub in exit_json builds a second copy of every list and '
                     'dict: +%.0f MiB; the JSON text and print()\'s formatted copy of it: +%.0f MiB more at the peak. The module keeps no '
                     'copy of its own: sessions_by_instance holds IDs, merging and sorting move references, a page is dropped once '
                     'shaped, and shaped records share the strings of the raw ones.' % (mib(held), held / float(MAIN_COUNT), mib(scrub),
                                                                                        mib(text)))
    bench.section('6. 100,000 sessions: peak memory and result size', ('figure', 'value'), rows, notes)


# 7 -------------------------------------------------------------------------------------------------------------------
def bench_enrich(bench):
    done = run_process([sys.executable, str(HERE / 'bench_enrich.py'), '--naive-hosts', '50', '--naive-sessions', '1000'], bench.env)
    check(done.returncode == 0, 'bench_enrich.py failed:\n%s\n%s' % (done.stdout[-3000:], done.stderr[-3000:]))
    lines = done.stdout.strip().splitlines()
    table = [line for line in lines if line.startswith('|')]
    notes = [line for line in lines[1:] if not line.startswith('|')]
    header = [cell.strip() for cell in table[0].strip('|').split('|')]
    rows = [[cell.strip() for cell in line.strip('|').split('|')] for line in table[2:]]
    bench.section('7. The enrichment filter, 10,000 hosts x 100,000 sessions (bench_enrich.py, %.0f s)' % done.wall, header, rows,
                  notes + ['The first two lines include shaping the raw API records (`normalize_session`, made faster with this suite: '
                           'see "Changes").'])


# 8 -------------------------------------------------------------------------------------------------------------------
def bench_forks(bench):
    inventory = bench.tmp / 'audit_inventory.ini'
    inventory.write_text('[audit]\n' + ''.join('audit-%s region=%s\n' % (region, region) for region in FORK_REGIONS))
    per_host = {'name': 'sessions of the region of this inventory entry', 'delegate_to': 'localhost', 'register': 'listed',
                'alicloud.ecs.ecs_terminal_session_info': bench.connection(region_id='{{ region }}')}
    check_task = {'name': 'check', 'ansible.builtin.assert': {'that': ['listed.sessions | length == %d' % FORK_COUNT], 'quiet': True}}
    plays = [{'hosts': 'audit', 'gather_facts': False, 'tasks': [per_host, check_task]}]
    one_task = [{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False, 'tasks': [
        {'name': 'sessions of the region of this inventory entry', 'register': 'listed',
         'alicloud.ecs.ecs_terminal_session_info': bench.connection(region_id=list(FORK_REGIONS))},
        {'name': 'check',
         'ansible.builtin.assert': {'quiet': True, 'that': ['listed.sessions | length == %d' % (FORK_COUNT * len(FORK_REGIONS))]}}]}]
    rows = []
    for label, forks, playbook, hosts in (('4 inventory entries, forks 1', 1, plays, str(inventory)),
                                          ('4 inventory entries, forks 4', 4, plays, str(inventory)),
                                          ('1 task on localhost, region_id: 4 regions (concurrency 8)', None, one_task, 'localhost,')):
        bench.with_latency()
        run = run_playbook(bench.env, playbook, 'forks', inventory=hosts, forks=forks)
        seconds = run.task_times()['sessions of the region of this inventory entry'][0]
        stats = bench.endpoint.stats()
        check(stats['calls'] == minimum_calls(FORK_COUNT) * len(FORK_REGIONS), 'forks: %d calls' % stats['calls'])
        rows.append((label, '%.2f' % seconds, stats['calls'], stats['max_concurrency'], '%.2f' % run.completed.wall))
    bench.figures['forks'] = rows
    bench.section('8. A fleet-wide audit over Ansible\'s forks (4 regions of %s sessions; the example of docs/scaling.md)' % '{:,}'.format(
        FORK_COUNT), ('how', 'task seconds', 'API calls', 'max calls in flight', 'ansible-playbook wall s'), rows,
        ['One run each (not best of n). Each inventory entry carries its region; the task runs on the controller (delegate_to: '
         'localhost), one module process per entry, as many at once as forks allow.'])


# 10 ------------------------------------------------------------------------------------------------------------------
def bench_archive(bench):
    figures = bench.tmp / 'bench_archive.json'
    done = run_process([sys.executable, str(HERE / 'bench_archive.py'), '--repeat', str(min(bench.args.repeat, 3)), '--json',
                        str(figures)], bench.env, timeout=7200)
    check(done.returncode == 0 and figures.exists(), 'bench_archive.py failed:\n%s\n%s' % (done.stdout[-3000:], done.stderr[-3000:]))
    data = json.loads(figures.read_text())
    for section in data['sections']:
        bench.section('%s (bench_archive.py, %.0f s)' % (section['title'], data['wall']) if section is data['sections'][0] else section['title'],
                      section['header'], section['rows'], section['notes'])
    for goal in data['goals']:
        bench.goal(10, goal['what'], goal['figure'], goal['target'], goal['met'], goal['why'])


# the report ------------------------------------------------------------------------------------------------------------
CHANGES = (
    'Changes to plugins/ made with this suite, each measured when it was made, on this machine, A/B against the code without it '
    '(these before/after figures are not re-measured by each run):',
    '',
    '- Record shaping (`sessions.normalize_session`, `_shape`, `unwrap_list`; `listing.checked_session`): one pass and one dict per '
    'record instead of two, type checks by exact class before the slower abstract-base-class checks, text checks only for values '
    'that are not already text. The same records, key order included (checked on 10,000 seeded records and by the unit and property '
    'tests). `checked_session`, what the module does to every record: 20.8-25.7 µs -> 7.8-9.3 µs; `normalize_session`, what '
    'the filters do to raw API records: 10.3-12.7 µs -> 6.0-7.4 µs (three A/B runs, each the best of 7 over 10,000 records). '
    'The module at 10,000 sessions spends about 0.13 s less, the filters on 100,000 raw records about 0.5 s less.',
    '- `jmespath` is imported when `query` is given, not on every run: the module\'s own import time drops by about 20 ms '
    '(-X importtime: jmespath_query 23 ms -> 0.6 ms).',
    '- A client\'s first API call is made alone (`sdk.RpcClient.call`). The SDK builds its HTTP session for an endpoint on the '
    'first call, an SSL context that loads the system and the certifi CA bundles (about 0.1 s of CPU), in a cache without a lock, '
    'so queries that started together on one endpoint each built one (and opened a second connection each). 50 instance IDs '
    'in one region: listing 1.51 s -> 0.85 s (best of 4), its CPU 0.95 s -> 0.35 s (median); 8 regions sharing one endpoint: '
    'listing 1.60 s -> 1.25 s, CPU 1.09 s -> 0.49 s. The other queries wait for the first call, one round trip.',
)


# 9 -------------------------------------------------------------------------------------------------------------------
INVENTORY_PLAY = """- name: Count the hosts the inventory grouped
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the size of the group
      ansible.builtin.copy:
        content: "{{ groups['has_root_sessions'] | default([]) | length }}"
        dest: "{{ result_file }}"
"""


def bench_inventory(bench):
    """ansible-playbook with a static source of 10,000 hosts, then with the plugin after it; checked with ansible-inventory."""
    folder = bench.tmp / 'inventory'
    folder.mkdir(exist_ok=True)
    static = folder / '10-hosts.yml'
    hosts = {}
    for index, region in enumerate(INVENTORY_REGIONS):
        for n in range(INVENTORY_HOSTS // len(INVENTORY_REGIONS)):
            hosts['host-%d-%06d' % (index, n)] = {'instance_id': 'i-inv%d%06d' % (index, n)}
    static.write_text(json.dumps({'all': {'hosts': hosts}}))
    source = folder / '20-terminal_sessions.yml'
    play = bench.tmp / 'inventory_play.yml'
    play.write_text(INVENTORY_PLAY)
    result_file = bench.tmp / 'inventory_result.txt'
    sessions, roots = {}, {}
    for region in INVENTORY_REGIONS:
        for raw in bench.seed[region]:
            for conn in raw['Connections']['Connection']:
                sessions[conn['InstanceId']] = sessions.get(conn['InstanceId'], 0) + 1
                roots[conn['InstanceId']] = roots.get(conn['InstanceId'], 0) + (raw.get('Username') == 'root')

    def configure(regions, cached=False):
        config = dict(bench.connection(region_id=list(regions)), plugin='alicloud.ecs.terminal_sessions',
                      max_sessions_per_host=5, groups={'has_root_sessions': 'ecs_terminal_session_summary.root_session_count > 0'})
        if cached:
            config.update(cache=True, cache_plugin='ansible.builtin.jsonfile', cache_connection=str(bench.tmp / 'inventory-cache'))
        source.write_text(json.dumps(config))
        return ['-i', str(static)] + (['-i', str(source)] if regions else [])

    def play_run(regions, cached=False):
        sources = configure(regions, cached)
        bench.with_latency()
        done = run_process([str(Path(sys.executable).parent / 'ansible-playbook'), *sources, str(play), '-e', 'result_file=%s' % result_file],
                           bench.env)
        check(done.returncode == 0, 'ansible-playbook failed:\n%s\n%s' % (done.stdout[-3000:], done.stderr[-3000:]))
        expected = sum(1 for name, variables in hosts.items() if roots.get(variables['instance_id'])
                       and INVENTORY_REGIONS[int(name[5])] in regions)
        check(int(result_file.read_text()) == expected, 'has_root_sessions has %s hosts, expected %d' % (result_file.read_text(), expected))
        return done.wall, bench.calls(), done.peak_rss

    static_only = play_run(())
    one = play_run(INVENTORY_REGIONS[:1])
    two = play_run(INVENTORY_REGIONS)
    filled = play_run(INVENTORY_REGIONS, cached=True)
    warm = play_run(INVENTORY_REGIONS, cached=True)
    check(warm[1] == 0, 'the cached run made %d calls' % warm[1])

    # Every host's facts, once, through ansible-inventory (its JSON output of ~100 MB is not timed).
    listing = bench.tmp / 'inventory.json'
    done = run_process([str(Path(sys.executable).parent / 'ansible-inventory'), *configure(INVENTORY_REGIONS, cached=True),
                        '--list', '--output', str(listing)], bench.env)
    check(done.returncode == 0, 'ansible-inventory failed:\n%s' % done.stderr[-3000:])
    for name, variables in json.loads(listing.read_text())['_meta']['hostvars'].items():
        count = variables['ecs_terminal_session_summary']['session_count']
        check(count == sessions.get(variables['instance_id'], 0), '%s: %d sessions' % (name, count))
        check(len(variables['ecs_terminal_sessions']) == min(5, count), '%s: %d sessions listed' % (name, len(variables['ecs_terminal_sessions'])))

    rows = []
    for label, (wall, calls, rss) in (('static source alone', static_only), ('+ plugin, 1 region', one), ('+ plugin, 2 regions', two),
                                      ('+ plugin, 2 regions, cache filled', filled), ('+ plugin, 2 regions, from the cache', warm)):
        rows.append([label, '%d' % calls, '%.1f' % wall, '%.1f' % (wall - static_only[0]), '%.0f' % mib(rss)])
    notes = ['%d hosts; %d sessions per region over %d instances each; a play on localhost, so the figures are the inventory\'s '
             'cost; one run per line. Each host\'s session count and list were checked once through ansible-inventory '
             '(its ~100 MB JSON output is not timed).' % (INVENTORY_HOSTS, INVENTORY_COUNT, INVENTORY_HOSTS // len(INVENTORY_REGIONS)),
             'Two regions (twice the calls) take %.2fx the time of one: regions are listed concurrently.'
             % ((two[0] - static_only[0]) / max(one[0] - static_only[0], 0.001)),
             'From the cache the plugin makes no call; what remains is the join and ansible-core storing two variables and '
             'evaluating one `groups` expression per host.']
    bench.section('9. The terminal_sessions inventory plugin, %d hosts' % INVENTORY_HOSTS,
                  ('ansible-playbook, inventory of', 'API calls', 'seconds', 'plugin share (s)', 'peak RSS (MiB)'), rows, notes)


def write_report(bench, path, started, wall, load_before, load_after):
    info = machine()
    versions = ', '.join('%s %s' % item for item in info['versions'].items())
    lines = [
        '# Performance of alicloud.ecs',
        '',
        'Generated by `tests/bench/run_benchmarks.py` at the end of its last run; do not edit, the next run overwrites it.',
        'Every figure comes from that run, against the local ECS endpoint of `tests/ecs_endpoint` (%s, started in the runner\'s '
        'process) with %s ms of latency injected per API call, drawn from the same seeded sequence for every run. The module, the '
        'bare SDK script and ansible-playbook run as separate processes. Timed figures are the best of %d runs, with the spread '
        '(best–worst) beside them.' % ('plain HTTP' if bench.args.http else 'HTTPS', bench.latency_text(), bench.args.repeat),
        '',
        '- Date: %s' % datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        '- Command: `%s`, which runs `%s` (TEST_ENV as in the Makefile)' % (MAKE_COMMAND, DIRECT_COMMAND),
        '- This run: `%s` (%.0f s: %s)' % (' '.join(['python', 'tests/bench/run_benchmarks.py'] + sys.argv[1:]), wall, ', '.join(
            'benchmark %d %.0f s' % item for item in bench.durations)),
        '- Machine: %s cores (%s), %s memory, %s; load average %.2f before the run, %.2f after' % (
            info['cores'], info['cpu'], info['memory'], info['system'], load_before[0], load_after[0]),
        '- Python %s; %s' % (info['python'], versions),
        '',
        '## Goals',
        '',
        '| # | goal | measured | target | status | where the gap comes from |',
        '| --- | --- | --- | --- | --- | --- |',
    ]
    lines.extend('| %s | %s | %s | %s | %s | %s |' % goal for goal in bench.goals)
    for title, table, notes in bench.sections:
        lines.extend(['', '## %s' % title, ''])
        lines.extend(table)
        for note in notes:
            lines.extend(['', note])
    lines.extend(['', '## Changes', ''])
    lines.extend(CHANGES)
    lines.append('')
    path.write_text('\n'.join(lines))


def merge_report(bench, path, started, wall, load_before, load_after):
    """Put the sections and goals of a partial run (--only) into the report of the last full run, each section saying when it ran."""
    info = machine()
    lines = path.read_text().split('\n')
    run_note = ('This section comes from a partial run, `%s` (%s, %.0f s; load average %.2f before, %.2f after; %s), not from the '
                'full run dated at the top.' % (' '.join(['python', 'tests/bench/run_benchmarks.py'] + sys.argv[1:]),
                                                datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
                                                wall, load_before[0], load_after[0],
                                                ', '.join('%s %s' % item for item in info['versions'].items())))
    for goal in bench.goals:
        row = '| %s | %s | %s | %s | %s | %s |' % goal
        numbers = [index for index, line in enumerate(lines) if line.startswith('| %s | ' % goal[0])]
        if numbers:
            lines[numbers[0]] = row
        else:
            last = max(index for index, line in enumerate(lines) if line.startswith('| ') and index < lines.index('## 1. API calls against the minimum'))
            lines.insert(last + 1, row)
    for title, table, notes in bench.sections:
        block = ['## %s' % title, ''] + table
        for note in notes + [run_note]:
            block.extend(['', note])
        block.append('')
        heading = '## %s' % title
        if heading in lines:
            start = lines.index(heading)
            end = next((index for index in range(start + 1, len(lines)) if lines[index].startswith('## ')), len(lines))
            lines[start:end] = block
        else:
            at = lines.index('## Changes')
            lines[at:at] = block
    path.write_text('\n'.join(lines))


def parse_latency(text):
    values = [float(part) for part in text.split(',')]
    if len(values) == 1:
        return values[0]
    if len(values) != 2 or values[0] > values[1]:
        raise argparse.ArgumentTypeError('expected MS or MIN,MAX')
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--repeat', type=int, default=3, help='runs of each timed figure (default 3)')
    parser.add_argument('--latency', type=parse_latency, default=[50, 100], help='ms per call, MS or MIN,MAX (default 50,100)')
    parser.add_argument('--naive-full', action='store_true', help='run the naive loop at N = 10,000 (about 1,000 calls)')
    parser.add_argument('--http', action='store_true', help='plain HTTP instead of HTTPS')
    parser.add_argument('--only', type=lambda text: [int(part) for part in text.split(',')], help='benchmarks to run, e.g. 2,5')
    parser.add_argument('--output', type=Path, default=REPO / 'docs' / 'performance.md',
                        help='the report (default docs/performance.md; written only when every benchmark ran)')
    parser.add_argument('--merge', action='store_true',
                        help='with --only: replace the sections and goals of the benchmarks run in the report, keeping the rest')
    args = parser.parse_args()
    check(getattr(socket, '_alicloud_ecs_guard', False), 'the loopback-only network guard is not loaded: run through `make bench`')
    started, load_before = time.time(), load_average()
    with tempfile.TemporaryDirectory(prefix='alicloud-ecs-bench-') as tmp:
        bench = Bench(args, tmp)
        bench.start()
        try:
            print('alicloud.ecs benchmarks: latency %s ms per call, best of %d; endpoint %s://%s' % (
                bench.latency_text(), args.repeat, bench.endpoint.protocol, bench.endpoint.endpoint))
            for number, function in ((1, bench_calls), (2, bench_head_to_head), (3, bench_regions), (4, bench_instances),
                                     (5, bench_startup), (6, bench_memory), (7, bench_enrich), (8, bench_forks), (9, bench_inventory),
                                     (10, bench_lean_module), (11, bench_lean_inventory),
                                     (12, bench_archive)):
                if bench.wanted(number):
                    began = time.time()
                    function(bench)
                    bench.durations.append((number, time.time() - began))
                    print('\n(benchmark %d: %.0f s)' % bench.durations[-1])
        finally:
            bench.stop()
    wall = time.time() - started
    print('\n## Goals\n')
    for goal in bench.goals:
        print('%s. %s: %s (target %s) - %s%s' % (goal[0], goal[1], goal[2], goal[3], goal[4], ('; ' + goal[5]) if goal[5] else ''))
    print('\nbenchmarks done in %.0f s' % wall)
    if not args.only:
        write_report(bench, args.output, started, wall, load_before, load_average())
        print('wrote %s' % args.output)
    elif args.merge:
        merge_report(bench, args.output, started, wall, load_before, load_average())
        print('updated %s' % args.output)


if __name__ == '__main__':
    try:
        main()
    except BenchError as error:
        sys.stderr.write('benchmark failed: %s\n' % error)
        sys.exit(1)
    sys.exit(0)
