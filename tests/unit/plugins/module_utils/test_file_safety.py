from __future__ import annotations

import os
import stat
import threading

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.file_safety import (
    SQLITE_SIDE_SUFFIXES, UnsafeFileError, check_directory, check_file, check_target, create_temporary,
    directory_problem, file_problem, open_regular, read_regular)


class Status:
    """A stand-in for os.stat_result: the pure checks look at st_mode only."""

    def __init__(self, mode):
        self.st_mode = mode


@pytest.fixture
def safe_dir(tmp_path):
    directory = tmp_path / 'safe'
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    return directory


def test_file_problem_names_each_reason():
    assert file_problem(Status(stat.S_IFREG | 0o600), 'f') is None
    assert file_problem(Status(stat.S_IFREG | 0o644), 'f') is None
    assert 'symlink' in file_problem(Status(stat.S_IFLNK | 0o777), 'f')
    assert 'FIFO' in file_problem(Status(stat.S_IFIFO | 0o600), 'f')
    assert 'a directory' in file_problem(Status(stat.S_IFDIR | 0o700), 'f')
    assert 'character device' in file_problem(Status(stat.S_IFCHR | 0o600), 'f')
    assert 'its group' in file_problem(Status(stat.S_IFREG | 0o660), 'f')
    assert 'writable by others (mode 0606)' in file_problem(Status(stat.S_IFREG | 0o606), 'f')
    assert 'group and others (mode 0666)' in file_problem(Status(stat.S_IFREG | 0o666), 'f')


def test_directory_problem_refuses_others_writable_even_sticky():
    assert directory_problem(Status(stat.S_IFDIR | 0o755), 'd') is None
    assert directory_problem(Status(stat.S_IFDIR | 0o775), 'd') is None  # the group is the user's choice
    assert 'writable by others (mode 0777)' in directory_problem(Status(stat.S_IFDIR | 0o777), 'd')
    assert 'even with the sticky bit' in directory_problem(Status(stat.S_IFDIR | 0o1777), 'd')
    assert 'not a directory' in directory_problem(Status(stat.S_IFREG | 0o600), 'd')


def test_check_file_does_not_follow_links(safe_dir, tmp_path):
    target = tmp_path / 'target'
    target.write_text('x')
    os.chmod(target, 0o600)
    (safe_dir / 'link').symlink_to(target)
    with pytest.raises(UnsafeFileError, match='symlink'):
        check_file(str(safe_dir / 'link'))
    (safe_dir / 'dangling').symlink_to(tmp_path / 'missing')
    with pytest.raises(UnsafeFileError, match='symlink'):
        check_file(str(safe_dir / 'dangling'))
    assert check_file(str(safe_dir / 'nothing')) is None
    assert check_file(str(target)).st_size == 1


def test_check_directory(tmp_path):
    with pytest.raises(UnsafeFileError, match='does not exist'):
        check_directory(str(tmp_path / 'missing'))
    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(UnsafeFileError, match='sticky'):
        check_directory(str(shared))


def test_check_target_checks_the_side_files_a_library_would_open(safe_dir, tmp_path):
    database = safe_dir / 'store.db'
    database.write_bytes(b'')
    os.chmod(database, 0o600)
    assert set(check_target(str(database), SQLITE_SIDE_SUFFIXES)) == set(
        [str(database)] + [str(database) + suffix for suffix in SQLITE_SIDE_SUFFIXES])
    (safe_dir / 'store.db-wal').symlink_to(tmp_path / 'elsewhere')
    with pytest.raises(UnsafeFileError, match='store.db-wal is a symlink'):
        check_target(str(database), SQLITE_SIDE_SUFFIXES)
    assert not (tmp_path / 'elsewhere').exists()


def test_open_regular_refuses_a_fifo_without_blocking(safe_dir):
    fifo = safe_dir / 'fifo'
    os.mkfifo(fifo, 0o600)
    outcome = []

    def attempt():
        try:
            read_regular(str(fifo))
        except UnsafeFileError as error:
            outcome.append(str(error))

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), 'reading a FIFO blocked'
    assert outcome and 'FIFO' in outcome[0]


def test_open_regular_creates_with_the_mode_and_refuses_foreign_writable(safe_dir):
    name = str(safe_dir / 'lock')
    descriptor = open_regular(name, os.O_RDONLY | os.O_CREAT, 0o600)
    os.close(descriptor)
    assert stat.S_IMODE(os.stat(name).st_mode) == 0o600
    os.chmod(name, 0o666)
    with pytest.raises(UnsafeFileError, match='writable by'):
        open_regular(name)
    with pytest.raises(FileNotFoundError):
        open_regular(str(safe_dir / 'missing'))
    with pytest.raises(UnsafeFileError, match='cannot'):
        open_regular(str(safe_dir / 'a\x00b'))


def test_read_regular(safe_dir):
    assert read_regular(str(safe_dir / 'missing')) is None
    (safe_dir / 'data').write_bytes(b'abc')
    os.chmod(safe_dir / 'data', 0o640)
    assert read_regular(str(safe_dir / 'data')) == b'abc'


def test_create_temporary_is_private_and_refuses_a_shared_directory(safe_dir, tmp_path):
    descriptor, name = create_temporary(str(safe_dir), '.x.')
    os.close(descriptor)
    assert os.path.dirname(name) == str(safe_dir) and stat.S_IMODE(os.stat(name).st_mode) == 0o600
    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(UnsafeFileError, match='writable by others'):
        create_temporary(str(shared), '.x.')
    assert os.listdir(shared) == []
