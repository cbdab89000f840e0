#!/usr/bin/env python
"""Run the module's ``main()`` in this process with timers around its stages: the profile of one module run.

    module_probe.py ARGS_FILE        (ARGS_FILE as for ``python -m ...ecs_terminal_session_info ARGS_FILE``)

The module runs unchanged; only its collaborators are wrapped (a timer each, well under a microsecond a
call), so stdout is the module's own JSON result and the wall time is that of a module process. The stages
go to the JSON file named by ``$BENCH_PROBE_OUT``:

* ``import_ansible``, ``import_module``: importing ansible.module_utils.basic, then the module and its utils;
* ``sdk_import``: the first use of the SDK (``sdk._sdk()``), inside the listing;
* ``listing``: ``list_sessions`` (every page of every query, SDK import included); ``shaping``: the time its
  threads spent turning raw records into returned ones (``checked_session``, summed over threads);
* ``summaries``: ``session_ids_by_instance`` and ``summary_by_instance``;
* ``no_log_scrub``: ansible-core's ``remove_values`` over the whole result in ``exit_json`` (a deep copy that
  hides the values of no_log options); ``encode``: its JSON encoding and write of the result;
* ``rss_*``: resident memory (bytes) before the listing, after the SDK import, after the listing and after the scrub;
  ``peak_rss``;
* ``cpu_listing``, ``cpu_sdk_import``: CPU seconds of the process (all threads) during the listing and the SDK import;
* ``threads_after``: threads alive when the module returns.

With ``$BENCH_PROBE_TRACE=1`` the probe imports the SDK first, then records which top-level packages have a
Python function called while the module runs (``packages_called``): a package the SDK imports but never calls
on this path costs import time only.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import sysconfig
import threading
import time

STAGES = {}
LOCK = threading.Lock()
CALLED = set()


def rss_now():
    with open('/proc/self/statm') as stream:
        return int(stream.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def add(name, seconds):
    with LOCK:
        STAGES[name] = STAGES.get(name, 0.0) + seconds


def cpu_now():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wrap(owner, attribute, stage, after=None, first_only=False, before=None):
    """Replace ``owner.attribute`` by a timed call; ``before()`` runs before it, ``after()`` once it returns."""
    original = getattr(owner, attribute)
    state = {'done': False}

    def timed(*args, **kwargs):
        if first_only and state['done']:
            return original(*args, **kwargs)
        state['done'] = True
        if before is not None:
            before()
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            add(stage, time.perf_counter() - start)
            if after is not None:
                after()

    setattr(owner, attribute, timed)


def package_of(filename, roots):
    for root in roots:
        if filename.startswith(root):
            rest = filename[len(root):].lstrip('/')
            top = rest.split('/', 1)[0]
            return top[:-3] if top.endswith('.py') else top
    return None


def start_trace():
    roots = sorted(set(p for p in sys.path if p and os.path.isdir(p)) | {sysconfig.get_paths()['stdlib']}, key=len, reverse=True)
    seen_files = set()

    def profiler(frame, event, arg):  # pylint: disable=unused-argument
        if event == 'call':
            filename = frame.f_code.co_filename
            if filename not in seen_files:
                seen_files.add(filename)
                package = package_of(filename, roots)
                if package:
                    CALLED.add(package)

    threading.setprofile(profiler)
    sys.setprofile(profiler)


def stop_trace():
    sys.setprofile(None)
    threading.setprofile(None)


def main():
    out_path = os.environ['BENCH_PROBE_OUT']
    trace = os.environ.get('BENCH_PROBE_TRACE') == '1'
    stages = STAGES
    start = time.perf_counter()
    from ansible.module_utils import basic
    stages['import_ansible'] = time.perf_counter() - start
    mark = time.perf_counter()
    from ansible_collections.alicloud.ecs.plugins.module_utils import listing, sdk
    from ansible_collections.alicloud.ecs.plugins.modules import ecs_terminal_session_info as module
    stages['import_module'] = time.perf_counter() - mark

    stages['rss_before_listing'] = rss_now()
    wrap(sdk, '_sdk', 'sdk_import', first_only=True, before=lambda: stages.__setitem__('cpu_sdk_import', -cpu_now()),
         after=lambda: stages.update(cpu_sdk_import=stages['cpu_sdk_import'] + cpu_now(), rss_after_sdk_import=rss_now()))
    wrap(listing, 'checked_session', 'shaping')
    wrap(module, 'list_sessions', 'listing', before=lambda: stages.__setitem__('cpu_listing', -cpu_now()),
         after=lambda: stages.update(rss_after_listing=rss_now(), cpu_listing=stages['cpu_listing'] + cpu_now()))
    wrap(module, 'session_ids_by_instance', 'summaries')
    wrap(module, 'summary_by_instance', 'summaries')
    wrap(basic, 'remove_values', 'no_log_scrub', after=lambda: stages.__setitem__('rss_after_scrub', rss_now()))
    wrap(basic.AnsibleModule, '_record_module_result', 'encode')
    if trace:
        sdk._sdk()  # the import, outside the trace: only what runs afterwards counts as called
        start_trace()
    code = 0
    try:
        module.main()
    except SystemExit as done:
        code = done.code or 0
    finally:
        if trace:
            stop_trace()
        stages['total_in_process'] = time.perf_counter() - start
        stages['peak_rss'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        stages['threads_after'] = sorted(thread.name for thread in threading.enumerate())
        stages['packages_imported'] = sorted(set(name.split('.')[0] for name in sys.modules))
        stages['packages_called'] = sorted(CALLED)
        with open(out_path, 'w') as stream:
            json.dump(stages, stream)
    sys.exit(code)


if __name__ == '__main__':
    main()
