# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules for every file the collection writes, often as root: no symlinks, regular files only, nobody else can write.

A task running as root that follows a symlink planted in a shared directory overwrites whatever the link
points at; a file another user can write may be swapped or edited between runs; a FIFO blocks ``open()``
for ever. So each path is checked, without following links, before it is opened, and each descriptor is
checked again (``fstat``) after:

- the path must not be a symlink (``lstat``, then ``O_NOFOLLOW`` when opening, which also closes the race);
- it must be a regular file (opened with ``O_NONBLOCK``, so a FIFO planted there cannot block the open);
- no group or others may write it (its owner may be anyone: a file created beforehand by the user, with the
  owner they chose and a mode that others cannot write, stays usable);
- its directory must not be writable by others, even with the sticky bit (anyone could plant a link there).

Callers that hand a path to a library which opens files itself (Python's sqlite3 follows symlinks and creates
the ``-wal``, ``-shm`` and ``-journal`` side files on its own) check the path and its side files first with
:func:`check_target` and ``side_suffixes``.

Pure checks (:func:`file_problem`, :func:`directory_problem`) take ``os.stat_result`` values; the rest are thin
wrappers around system calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat
import tempfile

from typing import Dict, Iterable, List, Optional, Tuple

# Files Python's sqlite3 creates next to a database file, following symlinks.
SQLITE_SIDE_SUFFIXES = ('-wal', '-shm', '-journal')

_NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)
_NONBLOCK = getattr(os, 'O_NONBLOCK', 0)
_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


class UnsafeFileError(Exception):
    """A path the collection refuses to open or write; the message names the path and says why."""


def _kind(mode):
    for test, name in ((stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO (named pipe)'), (stat.S_ISSOCK, 'a socket'),
                       (stat.S_ISCHR, 'a character device'), (stat.S_ISBLK, 'a block device'), (stat.S_ISLNK, 'a symlink')):
        if test(mode):
            return name
    return 'not a regular file'


def file_problem(status: os.stat_result, path: str) -> Optional[str]:
    """Why the file whose ``lstat``/``fstat`` is ``status`` must not be written, or None."""
    if stat.S_ISLNK(status.st_mode):
        return ('%s is a symlink; refusing to follow it (it could point at any file). Remove the link, or give the '
                'path of the file itself' % path)
    if not stat.S_ISREG(status.st_mode):
        return '%s is %s, not a regular file' % (path, _kind(status.st_mode))
    if status.st_mode & _WRITABLE_BY_OTHERS:
        return ('%s is writable by %s (mode %04o); anyone who can write it could change it between runs. Remove that '
                'write permission (chmod go-w) if the file is yours'
                % (path, 'group and others' if status.st_mode & stat.S_IWGRP and status.st_mode & stat.S_IWOTH
                   else 'others' if status.st_mode & stat.S_IWOTH else 'its group', stat.S_IMODE(status.st_mode)))
    return None


def directory_problem(status: os.stat_result, directory: str) -> Optional[str]:
    """Why files must not be written in the directory whose ``stat`` is ``status``, or None."""
    if not stat.S_ISDIR(status.st_mode):
        return '%s is not a directory' % directory
    if status.st_mode & stat.S_IWOTH:
        return ('the directory %s is writable by others (mode %04o%s), so anyone could plant a symlink or a file of '
                'theirs there; use a directory only its owner (and group) can write'
                % (directory, stat.S_IMODE(status.st_mode), ', even with the sticky bit' if status.st_mode & stat.S_ISVTX else ''))
    return None


def directory_of(path: str) -> str:
    return os.path.dirname(path) or '.'


def _status(look, path, kind, problem_of, missing=None):
    """``look(path)`` (``os.stat`` or ``os.lstat``) when ``problem_of`` finds nothing wrong with it; else
    :class:`UnsafeFileError`. A missing path gives None, or ``missing`` (a message) raised as the error."""
    try:
        status = look(path)
    except FileNotFoundError:
        if missing:
            raise UnsafeFileError(missing)
        return None
    except (OSError, ValueError) as error:
        raise UnsafeFileError('cannot look at %s%s: %s' % (kind, path, error))
    problem = problem_of(status, path)
    if problem:
        raise UnsafeFileError(problem)
    return status


def check_directory(directory: str) -> os.stat_result:
    """Refuse (:class:`UnsafeFileError`) a missing directory or one writable by others; returns its ``stat``."""
    return _status(os.stat, directory, 'the directory ', directory_problem,
                   missing='the directory %s does not exist; create it first' % directory)


def check_file(path: str) -> Optional[os.stat_result]:
    """``lstat`` of ``path`` when it is a file the rules allow, None when there is nothing there; else :class:`UnsafeFileError`."""
    return _status(os.lstat, path, '', file_problem)


def side_files(path: str, side_suffixes: Iterable[str] = ()) -> List[str]:
    return [path + suffix for suffix in side_suffixes]


def check_target(path: str, side_suffixes: Iterable[str] = ()) -> Dict[str, Optional[os.stat_result]]:
    """Check the directory of ``path``, ``path`` and each ``path + suffix`` of ``side_suffixes``.

    Returns ``{file: lstat or None}`` for ``path`` and its side files. Use it before handing the path to code
    that opens files by name itself (``sqlite3.connect``: pass :data:`SQLITE_SIDE_SUFFIXES`).
    """
    check_directory(directory_of(path))
    return {name: check_file(name) for name in [path] + side_files(path, side_suffixes)}


def _checked_descriptor(descriptor, path):
    try:
        problem = file_problem(os.fstat(descriptor), path)
    except OSError as error:
        problem = 'cannot look at %s: %s' % (path, error)
    if problem:
        os.close(descriptor)
        raise UnsafeFileError(problem)
    return descriptor


def _open_error(path, error):
    if error.errno == errno.ELOOP:
        return UnsafeFileError('%s is a symlink; refusing to follow it' % path)
    return UnsafeFileError('cannot open %s: %s' % (path, error.strerror or error))


def open_regular(path: str, flags: int = os.O_RDONLY, mode: int = 0o600) -> int:
    """A descriptor of ``path`` opened with ``flags`` plus ``O_NOFOLLOW|O_NONBLOCK``, checked with ``fstat``.

    Raises FileNotFoundError when there is no file (and ``flags`` lack ``O_CREAT``), :class:`UnsafeFileError`
    for a symlink, anything but a regular file, or a file writable by group or others. ``O_NONBLOCK`` makes the
    open of a FIFO return at once; it has no effect on a regular file.
    """
    check_file(path)  # the clear message for what is there now; the flags and fstat below close the race
    try:
        descriptor = os.open(path, flags | _NOFOLLOW | _NONBLOCK | _CLOEXEC, mode)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise _open_error(path, error)
    except ValueError as error:  # a NUL byte in the path
        raise UnsafeFileError('cannot open %s: %s' % (path, error))
    return _checked_descriptor(descriptor, path)


def read_regular(path: str) -> Optional[bytes]:
    """The bytes of ``path``, or None when there is no such file; the rules of :func:`open_regular` apply."""
    check_directory(directory_of(path))
    try:
        descriptor = open_regular(path)
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, 'rb') as handle:
        return handle.read()


def create_temporary(directory: str, prefix: str, suffix: str = '.tmp') -> Tuple[int, str]:
    """``(descriptor, name)`` of a new, empty file only its owner can use, in ``directory``.

    ``mkstemp`` opens with ``O_CREAT|O_EXCL|O_NOFOLLOW`` and mode 0600, so nothing planted can be reused; the
    descriptor is checked once more all the same.
    """
    check_directory(directory)
    descriptor, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    try:
        return _checked_descriptor(descriptor, name), name
    except UnsafeFileError:
        _unlink_quietly(name)
        raise


def _unlink_quietly(name):
    try:
        os.unlink(name)
    except OSError:
        pass
