# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench_timer: when each task starts, which hosts failed, when the play ends (tests/bench only).

Enabled by ``run_benchmarks.py`` through ``ANSIBLE_CALLBACK_PLUGINS``/``ANSIBLE_CALLBACKS_ENABLED``; writes a
JSON list of events to ``$BENCH_TIMER_FILE`` at the end of the run. It never looks at a result's data, so it
adds no cost of its own to the tasks it times: a task's time is from its start to the start of the next task,
which includes everything the controller does with the result (callbacks, ``register``).
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.events = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.events.append(['task', task.get_name(), time.time()])

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.events.append(['failed', result.task_name, time.time(), str(result.result.get('msg', ''))[:500]])

    def v2_runner_on_unreachable(self, result):
        self.events.append(['failed', result.task_name, time.time(), 'unreachable'])

    def v2_playbook_on_stats(self, stats):
        self.events.append(['end', '', time.time()])
        with open(os.environ['BENCH_TIMER_FILE'], 'w') as stream:
            json.dump(self.events, stream)
