"""A sandbox for the credential sources read from files: a temporary HOME with ~/.aliyun/config.json (CLI profiles),
an INI credentials file, an OIDC token file - all written by the test, inside the test's own temporary directory.

The loopback guard (tests/guard/sitecustomize.py) forces the CLI-profile source off and drops the OIDC/role variables
unless the environment opts in: :meth:`CredentialSandbox.env` gives the opt-in (``ALICLOUD_ECS_TEST_SANDBOX=home``,
the sandbox root, HOME inside it), which the guard honours only after checking that HOME and every file variable lie
inside that root, a private directory under the system's temporary directory.
"""

from __future__ import annotations

import configparser
import io
import json
import os
from pathlib import Path


def _write_private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)
    return path


class CredentialSandbox:
    """Files of credential sources under ``root`` (the test's tmp_path); ``home`` is the Runner's HOME."""

    def __init__(self, root: Path, home: Path):
        self.root = Path(root)
        self.home = Path(home)
        assert str(self.home.resolve()).startswith(str(self.root.resolve()) + os.sep), 'HOME must be inside the sandbox root'

    def cli_config(self, profiles, current=None) -> Path:
        """Write ~/.aliyun/config.json with ``profiles`` (a list of profile dicts, each with a name and a mode)."""
        doc = {'current': current or profiles[0]['name'], 'profiles': profiles, 'meta_path': ''}
        return _write_private(self.home / '.aliyun' / 'config.json', json.dumps(doc, indent=2))

    def ini_file(self, sections, path=None) -> Path:
        """Write an INI credentials file (default ~/.alibabacloud/credentials.ini): section name -> {key: value}."""
        parser = configparser.ConfigParser()
        for name, values in sections.items():
            parser[name] = dict(values)
        text = io.StringIO()
        parser.write(text)
        return _write_private(Path(path) if path else self.home / '.alibabacloud' / 'credentials.ini', text.getvalue())

    def oidc_token(self, text, name='oidc-token') -> Path:
        """Write an OIDC token file (as ACK mounts it for RRSA) inside the sandbox; returns its path."""
        return _write_private(self.root / 'var-run-secrets' / name, text)

    def env(self, mode='home', **extra) -> dict:
        """The opt-in for the guard plus HOME, and ``extra`` variables (the source under test)."""
        env = {'ALICLOUD_ECS_TEST_SANDBOX': mode, 'ALICLOUD_ECS_TEST_SANDBOX_ROOT': str(self.root), 'HOME': str(self.home),
               'ALIBABA_CLOUD_CLI_PROFILE_DISABLED': 'false',
               'ALIBABA_CLOUD_ECS_METADATA_DISABLED': 'false' if mode == 'netns' else 'true'}
        env.update({name: str(value) for name, value in extra.items()})
        return env
