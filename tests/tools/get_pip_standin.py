# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test creates its sanity virtual environments without pip and then runs
``~/.ansible/test/cache/get_pip_<X_Y>.py`` (downloaded from a host this project
cannot reach) through its ``quiet_pip.py`` wrapper, e.g.::

    python get_pip_24_2.py --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel

This stand-in accepts the same command line. It bootstraps pip from the
interpreter's own ``ensurepip`` and then, in a subprocess, installs the
requested packages (the pinned pip) from the package index, as get-pip does
with ``pip install --upgrade --force-reinstall``. Without ``--no-setuptools`` /
``--no-wheel`` it also installs setuptools / wheel, like get-pip.

Fast path (~5 s): run pip straight from the pip wheel bundled in ``ensurepip/_bundled``
(``python pip-X.whl/pip install ...``, the way get-pip runs its embedded pip).
Fallback (~11 s, e.g. Debian's python3 without ``_bundled``): ``python -m ensurepip``,
then ``python -m pip install ...``, then remove the setuptools that only ensurepip
brought in when ``--no-setuptools`` was given.

tests/tools/sanity.sh copies this file into place when it is missing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import re
import subprocess
import sys

NAME_RE = re.compile(r'^([A-Za-z0-9][A-Za-z0-9._-]*)')
WHEEL_RE = re.compile(r'^pip-([0-9]+(?:\.[0-9]+)*)-.*\.whl$')


def _requested_names(args):
    """Return the lower-case project names among the positional requirements."""
    names = set()

    for arg in args:
        if arg.startswith('-'):
            continue

        match = NAME_RE.match(arg)

        if match:
            names.add(match.group(1).lower().replace('_', '-'))

    return names


def _run(cmd):
    """Run a command, exiting with its status on failure."""
    print('get-pip stand-in: %s' % ' '.join(cmd))
    sys.stdout.flush()
    status = subprocess.call(cmd)

    if status:
        sys.exit(status)


def _bundled_pip_wheel():
    """Return the newest pip wheel that ensurepip ships with this interpreter, or None."""
    spec = importlib.util.find_spec('ensurepip')

    if spec is None or not spec.origin:
        return None

    bundled = os.path.join(os.path.dirname(spec.origin), '_bundled')

    try:
        names = os.listdir(bundled)
    except OSError:
        return None  # e.g. Debian's python3, whose ensurepip takes its wheels from elsewhere

    versions = []

    for name in names:
        match = WHEEL_RE.match(name)

        if match:
            versions.append((tuple(int(part) for part in match.group(1).split('.')), name))

    return os.path.join(bundled, max(versions)[1]) if versions else None


def main():
    """Bootstrap pip with ensurepip, then install what the caller asked for."""
    args = sys.argv[1:]
    optional = {'setuptools': '--no-setuptools' not in args, 'wheel': '--no-wheel' not in args}
    pip_args = [arg for arg in args if arg not in ('--no-setuptools', '--no-wheel')]
    requested = _requested_names(pip_args)

    for name, wanted in sorted(optional.items()):
        if wanted and name not in requested:
            pip_args.append(name)

    install = ['install', '--upgrade', '--force-reinstall'] + pip_args
    wheel = _bundled_pip_wheel()

    if wheel:
        # What get-pip itself does: run a pip that is not installed (here ensurepip's bundled
        # wheel, importable as a zip) to install the requested pip. Nothing else gets installed.
        _run([sys.executable, os.path.join(wheel, 'pip')] + install)
        return

    if importlib.util.find_spec('ensurepip') is None:
        sys.exit('get-pip stand-in: %s has no ensurepip module; install pip for it by other means' % sys.executable)

    present_before = dict((name, importlib.util.find_spec(name) is not None) for name in optional)
    _run([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'])
    _run([sys.executable, '-m', 'pip'] + install)
    importlib.invalidate_caches()

    for name, wanted in sorted(optional.items()):
        if not wanted and name not in requested and not present_before[name] and importlib.util.find_spec(name) is not None:
            # ensurepip of Python <= 3.11 also installs setuptools; get-pip --no-setuptools would not have.
            _run([sys.executable, '-m', 'pip', 'uninstall', '--yes', '--quiet', name])


if __name__ == '__main__':
    main()
