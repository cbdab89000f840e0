"""ansible-playbook runs of the archive modules that a test can start side by side, wrap and kill.

``Runner.run_module`` waits for its run; the concurrency and fault tests of the archive need runs that overlap,
run inside a mount namespace (a command prefix such as ``nsenter``), or die by SIGKILL at a chosen moment. Each
:class:`ArchiveRun` has a folder of its own (its HOME, its Ansible temp folders, its playbook and result file), so any
number can run at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from support.playbooks import PlaybookRun, Runner

ARCHIVE_MODULE = 'alicloud.ecs.ecs_terminal_session_archive'
ARCHIVE_INFO_MODULE = 'alicloud.ecs.ecs_terminal_session_archive_info'
# The module's own process: AnsiballZ runs the module inside the wrapper's process (runpy), whose file is named so.
MODULE_PROCESS_MARK = 'AnsiballZ_ecs_terminal_session_archive.py'


class ArchiveRun:
    """One ansible-playbook run of a module task, started at once; ``wait()`` gives its :class:`PlaybookRun`."""

    def __init__(self, folder: Path, args: Dict[str, Any], module: str = ARCHIVE_MODULE, check: bool = False,
                 prefix: Sequence[str] = (), env: Optional[Dict[str, str]] = None, verbosity: int = 0):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.runner = Runner(folder)
        self.result_file = folder / 'result.json'
        playbook = folder / 'playbook.yml'
        playbook.write_text(textwrap.dedent('''\
            - hosts: localhost
              connection: local
              gather_facts: false
              tasks:
                - name: Module under test
                  %s: %s
                  register: under_test
                  ignore_errors: true
                - name: Keep the result for the test
                  check_mode: false
                  ansible.builtin.copy:
                    content: "{{ under_test | to_json }}"
                    dest: %s
            ''') % (module, json.dumps(args), json.dumps(str(self.result_file))))
        command = list(prefix) + [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', str(playbook)]
        if check:
            command.append('--check')
        if verbosity:
            command.append('-' + 'v' * verbosity)
        self.stdout_file = folder / 'stdout.txt'
        self.stderr_file = folder / 'stderr.txt'
        with open(self.stdout_file, 'w') as out, open(self.stderr_file, 'w') as err:
            self.process = subprocess.Popen(command, env=self.runner.environment(env), stdout=out, stderr=err,  # pylint: disable=consider-using-with
                                            text=True, start_new_session=True)

    def wait(self, timeout: float = 300) -> PlaybookRun:
        """The finished run; its ``result`` is None when the play never registered one (the module was killed)."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError('ansible-playbook ran longer than %d s:\n%s' % (timeout, self.stdout_file.read_text()[-3000:]))
        completed = subprocess.CompletedProcess(self.process.args, self.process.returncode, self.stdout_file.read_text(),
                                                self.stderr_file.read_text())
        result = json.loads(self.result_file.read_text()) if self.result_file.exists() else None
        return PlaybookRun(completed, result)

    def result(self, timeout: float = 300) -> Dict[str, Any]:
        """The registered result of a run that must have reached the module's end."""
        run = self.wait(timeout)
        assert run.result is not None, 'the playbook did not run the module:\n%s\n%s' % (run.stdout[-3000:], run.stderr[-3000:])
        return run.result

    def module_pids(self) -> List[int]:
        """The processes of this run that execute the archive module (inside AnsiballZ)."""
        found = []
        for pid in descendants(self.process.pid):
            try:
                cmdline = Path('/proc/%d/cmdline' % pid).read_bytes().split(b'\0')
            except OSError:
                continue
            parts = [part.decode('utf-8', 'replace') for part in cmdline if part]
            # The Python process itself, not the shells that start it (their command line ends with the same name).
            if parts and os.path.basename(parts[0]).startswith('python') \
                    and any(part.endswith(MODULE_PROCESS_MARK) and ' ' not in part for part in parts[1:]):
                found.append(pid)
        return found

    def wait_for_module_process(self, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.module_pids()
            if pids:
                return pids[0]
            assert self.process.poll() is None, 'ansible-playbook ended before the module started:\n%s' % self.stdout_file.read_text()
            time.sleep(0.02)
        raise AssertionError('the module process did not start in %d s' % timeout)


def descendants(pid: int) -> List[int]:
    """Every process below ``pid`` (from /proc: children of children ...)."""
    children: Dict[int, List[int]] = {}
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        for child in children.get(current, []):
            found.append(child)
            queue.append(child)
    return found


def served_keys(endpoint, regions: Sequence[str]) -> set:
    """(region, session ID) of every session the endpoint lists for ``regions``."""
    return {(region, raw['SessionId']) for region in regions for raw in endpoint.sessions(region)}
