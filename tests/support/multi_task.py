"""Several cases in one ansible-playbook run: each task registered (errors ignored), every result kept in a file.

Starting Ansible costs a second or two; the cases of a test share one run. The playbook is written as JSON (which is
YAML), so values with control characters or a NUL byte reach the task as escapes, exactly. The run has a time limit:
a task that hangs (a FIFO opened for reading, say) fails the test with ``subprocess.TimeoutExpired`` instead of
hanging it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.playbooks import PlaybookRun


class TasksRun(PlaybookRun):
    """What one run produced: return code, output, and each case's registered result (None if it did not run)."""

    @property
    def results(self):
        return self.result

    @results.setter
    def results(self, value):
        self.result = value


def run_tasks(runner, cases, verbosity=0, env=None, play_vars=None, inventory='localhost,', extra_args=(), timeout=300):
    """Run ``cases`` (label -> task dict, e.g. ``{'alicloud.ecs.ecs_terminal_session_info': {...}}``) in one play."""
    result_file = runner.tmp_path / 'results.json'
    if result_file.exists():
        result_file.unlink()
    labels = list(cases)
    tasks = []
    for index, label in enumerate(labels):
        task = {'name': 'case %d: %s' % (index, label), 'register': 'case_%d' % index, 'ignore_errors': True}
        task.update(cases[label])
        tasks.append(task)
    keep = ', '.join("'case_%d': case_%d | default(None)" % (index, index) for index in range(len(labels)))
    tasks.append({'name': 'Keep the results for the test', 'check_mode': False,
                  'ansible.builtin.copy': {'content': '{{ {%s} | to_json }}' % keep, 'dest': str(result_file)}})
    playbook = runner.tmp_path / 'cases.yml'
    playbook.write_text(json.dumps([{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
                                     'vars': play_vars or {}, 'tasks': tasks}], indent=1))
    command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', inventory, str(playbook)]
    if verbosity:
        command.append('-' + 'v' * verbosity)
    command.extend(extra_args)
    completed = subprocess.run(command, env=runner.environment(env), capture_output=True, text=True, timeout=timeout,
                               check=False, cwd=str(runner.tmp_path))
    assert result_file.exists(), 'the playbook did not finish:\n%s\n%s' % (completed.stdout, completed.stderr)
    kept = json.loads(result_file.read_text())
    results = {label: kept.get('case_%d' % index) for index, label in enumerate(labels)}
    return TasksRun(completed, results)


def run_task_list(runner, tasks, **options):
    """:func:`run_tasks` for a list of tasks: ``results`` is then the list of their registered results, in order."""
    run = run_tasks(runner, {'task %d' % index: task for index, task in enumerate(tasks)}, **options)
    run.results = [run.results['task %d' % index] for index in range(len(tasks))]
    return run
