"""Helpers of the benchmark runner: processes with their peak memory, playbooks with per-task times, figures."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODULE = 'ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_info'
ACCESS_KEY_ID = 'LTAItestkey0000000000001'
ACCESS_KEY_SECRET = 'test-secret-value-do-not-leak'
CREDENTIALS = {ACCESS_KEY_ID: {'secret': ACCESS_KEY_SECRET, 'security_token': None}}


class BenchError(AssertionError):
    """Something is functionally wrong (records missing, a task failed): the run stops with this message."""


def check(condition, message):
    if not condition:
        raise BenchError(message)


class Completed:
    """A finished process: exit code, output, wall seconds and its own peak resident memory (bytes)."""

    def __init__(self, argv, returncode, stdout, stderr, wall, peak_rss):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.wall = wall
        self.peak_rss = peak_rss
        self.result = None
        self.stages = None

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError:
            raise BenchError('%s printed no JSON (exit %s):\n%s\n%s'
                             % (' '.join(self.argv[:3]), self.returncode, self.stdout[-2000:], self.stderr[-2000:]))


# Started by a small launcher, not by this process: a child forked from the runner (which holds the endpoint's records)
# would count the runner's resident pages in its own peak RSS until it execs. The launcher reads the child's own figures
# with wait4() and times it from its start to its end.
_LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
status, usage = os.wait4(proc.pid, 0)[1:]
wall = time.perf_counter() - start
with open(sys.argv[1], 'w') as stream:
    json.dump({'wall': wall, 'peak_rss': usage.ru_maxrss * 1024, 'returncode': os.waitstatus_to_exitcode(status)}, stream)
"""


def run_process(argv, env, timeout=900):
    """Run ``argv`` to the end: its output, wall time and peak RSS (its own, from wait4())."""
    tmp = Path(env['BENCH_TMP'])
    out_path, err_path, figures_path = tmp / 'process.out', tmp / 'process.err', tmp / 'process.json'
    if figures_path.exists():
        figures_path.unlink()
    with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
        proc = subprocess.Popen([sys.executable, '-c', _LAUNCHER, str(figures_path)] + list(argv),  # pylint: disable=consider-using-with
                                stdout=out, stderr=err, env=env, start_new_session=True)
        watchdog = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
        watchdog.start()
        try:
            proc.wait()
        finally:
            watchdog.cancel()
    check(figures_path.exists(), '%s was stopped after %d s' % (' '.join(argv[:3]), timeout))
    figures = json.loads(figures_path.read_text())
    return Completed(argv, figures['returncode'], out_path.read_text(errors='replace'), err_path.read_text(errors='replace'),
                     figures['wall'], figures['peak_rss'])


class Series:
    """Repeated measurements of one figure (seconds unless said otherwise)."""

    def __init__(self, values=None):
        self.values = list(values or [])

    def add(self, value):
        self.values.append(value)
        return value

    @property
    def best(self):
        return min(self.values)

    @property
    def median(self):
        return statistics.median(self.values)

    @property
    def worst(self):
        return max(self.values)

    def fmt(self, digits=2):
        """``best (worst, n=3)``: best of n, the least disturbed by other load; the worst shows the spread."""
        if len(self.values) == 1:
            return '%.*f' % (digits, self.values[0])
        return '%.*f (%.*f–%.*f, n=%d)' % (digits, self.best, digits, self.best, digits, self.worst, len(self.values))


def minimum_calls(count, page_size=100):
    return max(1, int(math.ceil(count / float(page_size))))


def mib(value):
    return value / 1048576.0


def environment(tmp):
    """The environment of every child: the caller's (make's TEST_ENV: network guard, collection path), made hermetic."""
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(('ALIBABA_CLOUD_', 'ALICLOUD_')) or name.lower().endswith('_proxy'):
            del env[name]
    env.pop('DEBUG', None)
    home = Path(tmp) / 'home'
    home.mkdir(parents=True, exist_ok=True)
    env.update({
        'HOME': str(home),
        'BENCH_TMP': str(tmp),
        'ALIBABA_CLOUD_ECS_METADATA_DISABLED': 'true',
        'ALIBABA_CLOUD_CLI_PROFILE_DISABLED': 'true',
        'ANSIBLE_LOCAL_TEMP': str(Path(tmp) / 'ansible-local'),
        'ANSIBLE_REMOTE_TEMP': str(Path(tmp) / 'ansible-remote'),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'ANSIBLE_DEPRECATION_WARNINGS': 'false',
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        'ANSIBLE_CALLBACK_PLUGINS': str(HERE / 'callback_plugins'),
        'ANSIBLE_CALLBACKS_ENABLED': 'bench_timer',
        'BENCH_ACCESS_KEY_ID': ACCESS_KEY_ID,
        'BENCH_ACCESS_KEY_SECRET': ACCESS_KEY_SECRET,
    })
    return env


class PlayRun:
    """One ansible-playbook run: the process and the task events of the bench_timer callback."""

    def __init__(self, completed, events, started):
        self.completed = completed
        self.events = events
        self.started = started

    def task_times(self):
        """Task name -> seconds from its start to the start of the next task (or the end of the play)."""
        marks = [event for event in self.events if event[0] in ('task', 'end')]
        times = {}
        for current, following in zip(marks, marks[1:]):
            if current[0] == 'task':
                times.setdefault(current[1], []).append(following[2] - current[2])
        return times

    def startup(self):
        """ansible-playbook's own start: from the process start to the first task."""
        first = [event for event in self.events if event[0] == 'task']
        return first[0][2] - self.started if first else None


def run_playbook(env, plays, name, inventory='localhost,', forks=None, extra_args=()):
    """Write ``plays`` (a list of plays, written as JSON, which YAML reads) and run it; fails on any failed task."""
    tmp = Path(env['BENCH_TMP'])
    playbook = tmp / ('%s.yml' % name)
    playbook.write_text(json.dumps(plays, indent=1))
    events_file = tmp / ('%s.events.json' % name)
    if events_file.exists():
        events_file.unlink()
    command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', inventory, str(playbook)]
    if forks:
        command.extend(['--forks', str(forks)])
    command.extend(extra_args)
    run_env = dict(env, BENCH_TIMER_FILE=str(events_file))
    started = time.time()
    completed = run_process(command, run_env)
    check(events_file.exists(), 'ansible-playbook did not run the play %s:\n%s\n%s' % (name, completed.stdout[-3000:], completed.stderr[-3000:]))
    events = json.loads(events_file.read_text())
    failed = [event for event in events if event[0] == 'failed']
    check(not failed and completed.returncode == 0, 'play %s failed: %s\n%s' % (name, failed, completed.stdout[-3000:]))
    return PlayRun(completed, events, started)


def machine():
    """What the figures were measured on."""
    info = {'cores': os.cpu_count(), 'python': platform.python_version(), 'system': '%s %s' % (platform.system(), platform.machine())}
    try:
        with open('/proc/meminfo') as stream:
            total_kb = int(re.search(r'MemTotal:\s+(\d+)', stream.read()).group(1))
        info['memory'] = '%.1f GiB' % (total_kb / 1048576.0)
    except (OSError, AttributeError):
        info['memory'] = 'unknown'
    try:
        with open('/proc/cpuinfo') as stream:
            info['cpu'] = re.search(r'model name\s*:\s*(.+)', stream.read()).group(1).strip()
    except (OSError, AttributeError):
        info['cpu'] = platform.processor() or 'unknown'
    versions = {}
    for dist in ('ansible-core', 'alibabacloud-tea-openapi', 'alibabacloud-credentials', 'darabonba-core', 'requests'):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = 'not installed'
    info['versions'] = versions
    return info


def load_average():
    try:
        return os.getloadavg()
    except OSError:
        return (float('nan'),) * 3


def importtime_by_package(stderr):
    """``python -X importtime`` output -> (total µs, {top-level package: self µs summed over its modules})."""
    by_package, total = {}, 0
    for line in stderr.splitlines():
        match = re.match(r'import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)', line)
        if not match:
            continue
        own, name = int(match.group(1)), match.group(4)
        total += own
        top = name.split('.')[0]
        by_package[top] = by_package.get(top, 0) + own
    return total, by_package
