"""The module run through ansible-playbook with a hermetic environment, against the local ECS endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET


class PlaybookRun:
    """What one ansible-playbook run produced: its output and the registered result of the task under test."""

    def __init__(self, completed, result):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.result = result

    @property
    def output(self):
        return self.stdout + self.stderr + json.dumps(self.result)


class Runner:
    """Runs the module through ansible-playbook with a hermetic environment."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.home = tmp_path / 'home'
        self.home.mkdir()

    def environment(self, extra=None):
        env = dict(os.environ)
        for name in list(env):
            if name.startswith(('ALIBABA_CLOUD_', 'ALICLOUD_')) or name.lower().endswith('_proxy'):
                del env[name]
        env.update({
            'HOME': str(self.home),
            'ALIBABA_CLOUD_ECS_METADATA_DISABLED': 'true',
            'ALIBABA_CLOUD_CLI_PROFILE_DISABLED': 'true',
            'ANSIBLE_LOCAL_TEMP': str(self.tmp_path / 'ansible-local'),
            'ANSIBLE_REMOTE_TEMP': str(self.tmp_path / 'ansible-remote'),
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_RETRY_FILES_ENABLED': 'false',
            'ANSIBLE_DEPRECATION_WARNINGS': 'false',
            'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        })
        env.pop('DEBUG', None)
        env.update(extra or {})
        return env

    def run_module(self, args, extra_args=(), env=None, check=False, verbosity=0, tasks_before='',
                   module='alicloud.ecs.ecs_terminal_session_info'):
        """Run ``module`` with ``args``; the registered result is in ``PlaybookRun.result``."""
        result_file = self.tmp_path / 'result.json'
        if result_file.exists():
            result_file.unlink()
        playbook = self.tmp_path / 'playbook.yml'
        playbook.write_text(textwrap.dedent('''\
            - hosts: localhost
              connection: local
              gather_facts: false
              tasks:
            %s
                - name: Module under test
                  %s: %s
                  register: under_test
                  ignore_errors: true
                - name: Keep the result for the test
                  check_mode: false
                  ansible.builtin.copy:
                    content: "{{ under_test | to_json }}"
                    dest: %s
            ''') % (textwrap.indent(tasks_before, '    '), module, json.dumps(args), json.dumps(str(result_file))))
        command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', str(playbook)]
        if check:
            command.append('--check')
        if verbosity:
            command.append('-' + 'v' * verbosity)
        command.extend(extra_args)
        completed = subprocess.run(command, env=self.environment(env), capture_output=True, text=True,
                                   timeout=300, check=False)
        result = json.loads(result_file.read_text()) if result_file.exists() else None
        assert result is not None, 'the playbook did not run the module:\n%s\n%s' % (completed.stdout, completed.stderr)
        return PlaybookRun(completed, result)


def connection(endpoint, **extra):
    """Module arguments that point at ``endpoint`` with the test keys."""
    args = {
        'endpoint': endpoint.endpoint,
        'protocol': endpoint.protocol,
        'access_key_id': ACCESS_KEY_ID,
        'access_key_secret': ACCESS_KEY_SECRET,
        'region_id': 'cn-hangzhou',
        'retry_delay': 0.01,
        'retry_max_delay': 0.05,
    }
    if endpoint.protocol == 'https':
        args['ca_bundle'] = endpoint.ca_file
    args.update(extra)
    return args
