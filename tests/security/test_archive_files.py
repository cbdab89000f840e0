"""Issue 13, item 4: the archive module, run as root, never writes through a link or into a file others control.

Reproduced before the fix, in a world-writable directory: a symlink at csv_path made the run replace the
link's target (a root-owned 0600 file); one at path or at <path>.lock created files at the target; a file
planted by another user (mode 0666) was filled with records and kept its owner and mode; a FIFO at path
hung the task. Each case runs here as one task of a single ansible-playbook run with a time limit, in a
directory of mode 0777, one of 0o1777 (sticky) and a safe one of 0755 (where the file rules themselves are
what refuses); a file created beforehand by the user (another owner, mode 0640) in the safe directory must
stay usable and keep its owner and mode.
"""

from __future__ import annotations

import os
import stat

import pytest

from support.multi_task import run_task_list
from support.playbooks import connection

ARCHIVE = 'alicloud.ecs.ecs_terminal_session_archive'
NOBODY = 65534
PRECIOUS = b'root-only content that must survive\n'
DIRECTORIES = {'open': 0o777, 'sticky': 0o1777, 'safe': 0o755}


def _private_file(path):
    path.write_bytes(PRECIOUS)
    os.chown(path, 0, 0)
    os.chmod(path, 0o600)
    return path


def _plant(directory, private, label):
    """The planted cases in ``directory``: (case, module args, what must hold afterwards, expected words)."""
    cases = []
    link_target = private / ('%s-created-by-path' % label)
    (directory / 'a1.jsonl').symlink_to(link_target)
    cases.append(('symlink at path to a missing file', {'path': str(directory / 'a1.jsonl')},
                  ('absent', link_target), 'symlink'))
    wal_target = private / ('%s-created-by-wal' % label)
    (directory / 'a2.jsonl-wal').symlink_to(wal_target)
    cases.append(('symlink at <path>-wal (a side file SQLite opens itself) to a missing file',
                  {'path': str(directory / 'a2.jsonl')}, ('absent', wal_target), 'symlink'))
    lock_target = private / ('%s-created-by-lock' % label)
    (directory / 'a6.jsonl.lock').symlink_to(lock_target)
    cases.append(('symlink at <jsonl_path>.lock to a missing file',
                  {'path': str(directory / 'a6.sqlite'), 'jsonl_path': str(directory / 'a6.jsonl')},
                  ('absent', lock_target), 'symlink'))
    csv_target = _private_file(private / ('%s-precious.csv' % label))
    (directory / 'a3.csv').symlink_to(csv_target)
    cases.append(('symlink at csv_path to a root-owned 0600 file',
                  {'path': str(directory / 'a3.jsonl'), 'csv_path': str(directory / 'a3.csv')},
                  ('intact', csv_target), 'symlink'))
    foreign = directory / 'a4.jsonl'
    foreign.write_bytes(b'')
    os.chown(foreign, NOBODY, NOBODY)
    os.chmod(foreign, 0o666)
    cases.append(('file of another user (uid %d), mode 0666, at path' % NOBODY, {'path': str(foreign)},
                  ('empty', foreign), 'writable by'))
    os.mkfifo(directory / 'a5.jsonl', 0o600)
    cases.append(('FIFO at path', {'path': str(directory / 'a5.jsonl')}, ('fifo', directory / 'a5.jsonl'), 'FIFO'))
    cases.append(('FIFO at path, check mode', {'path': str(directory / 'a5.jsonl'), '_check': True},
                  ('fifo', directory / 'a5.jsonl'), 'FIFO'))
    return cases


def _violations(kind, path):
    """What went wrong with the planted ``path`` after the run (empty when nothing)."""
    if kind == 'absent':
        return ['%s was created through the link' % path] if os.path.lexists(path) else []
    status = os.lstat(path)
    if kind == 'intact':
        problems = []
        if path.read_bytes() != PRECIOUS:
            problems.append('the content of %s changed' % path)
        if (stat.S_IMODE(status.st_mode), status.st_uid) != (0o600, 0):
            problems.append('%s is now mode %04o, uid %d' % (path, stat.S_IMODE(status.st_mode), status.st_uid))
        return problems
    if kind == 'empty':
        return ['records were written into %s' % path] if status.st_size else []
    if kind == 'fifo':
        return [] if stat.S_ISFIFO(status.st_mode) else ['%s is no longer the FIFO' % path]
    raise AssertionError(kind)


def test_planted_links_fifos_and_foreign_files_are_refused_and_a_precreated_file_stays_usable(
        runner, endpoint_factory, tmp_path, security_record):
    assert os.geteuid() == 0, 'these cases need root, as in CI: the defect is about a task running as root'
    endpoint = endpoint_factory({'cn-hangzhou': 5})
    private = tmp_path / 'private'
    private.mkdir(mode=0o700)
    cases, tasks = [], []
    for label, mode in DIRECTORIES.items():
        directory = tmp_path / label
        directory.mkdir()
        os.chmod(directory, mode)
        for case, args, check, words in _plant(directory, private, label):
            check_mode = args.pop('_check', False)
            cases.append(('%s (directory mode %04o)' % (case, mode), check, words if label == 'safe' else
                          ('sticky bit' if label == 'sticky' else 'writable by others')))
            task = {'name': cases[-1][0], ARCHIVE: connection(endpoint, **args)}
            if check_mode:
                task['check_mode'] = True
            tasks.append(task)

    # The user's own files, created beforehand: another owner, a mode others cannot write.
    safe = tmp_path / 'safe'
    precreated, precreated_csv = safe / 'kept.jsonl', safe / 'kept.csv'
    for path in (precreated, precreated_csv):
        path.write_bytes(b'')
        os.chown(path, NOBODY, NOBODY)
        os.chmod(path, 0o640)
    tasks.append({'name': 'pre-created 0640 files of another owner', ARCHIVE: connection(
        endpoint, path=str(precreated), csv_path=str(precreated_csv))})
    before_private = sorted(os.listdir(private))

    run = run_task_list(runner, tasks, timeout=180)

    refused = run.results[:len(cases)]
    for (case, check, words), result in zip(cases, refused):
        problems = _violations(*check)
        if not result.get('failed'):
            problems.append('the task did not fail')
        elif words not in result['msg'] or 'Traceback' in result['msg']:
            problems.append('the message does not say why (%r expected): %s' % (words, result['msg']))
        security_record('files', case, 'refused with the reason; link target neither created nor changed; '
                        'planted file not written', len(problems))
        assert not problems, (case, problems, result)
    assert sorted(os.listdir(private)) == before_private

    kept = run.results[-1]
    problems = []
    for path in (precreated, precreated_csv):
        status = os.lstat(path)
        if (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) != (NOBODY, NOBODY, 0o640):
            problems.append('%s is now uid %d gid %d mode %04o' % (path, status.st_uid, status.st_gid,
                                                                   stat.S_IMODE(status.st_mode)))
    if kept.get('failed') or kept.get('records') != 5:
        problems.append('the run did not archive the 5 sessions: %s' % kept.get('msg'))
    if not precreated_csv.read_text(encoding='utf-8').startswith('region_id,session_id'):
        problems.append('the CSV export was not written')
    security_record('files', 'pre-created archive and CSV (uid %d, mode 0640) in a 0755 directory' % NOBODY,
                    'used, and owner and mode kept after the atomic rewrite', len(problems))
    assert not problems, (problems, kept)

    # Nothing the module wrote is writable by group or others; only the planted foreign files are.
    writable = sorted(str(path) for label in DIRECTORIES for path in (tmp_path / label).iterdir()
                      if not path.is_symlink() and stat.S_ISREG(path.lstat().st_mode) and path.lstat().st_mode & 0o022)
    assert writable == sorted(str(tmp_path / label / 'a4.jsonl') for label in DIRECTORIES), writable
    assert 'Traceback' not in run.output


@pytest.mark.parametrize('mode', [0o777, 0o1777])
def test_a_world_writable_directory_is_refused_for_a_new_archive(runner, endpoint_factory, tmp_path, mode, security_record):
    """Even with nothing planted yet: the next run could find a link there, so the directory itself is refused."""
    endpoint = endpoint_factory({'cn-hangzhou': 2})
    directory = tmp_path / 'shared'
    directory.mkdir()
    os.chmod(directory, mode)
    run = runner.run_module(connection(endpoint, path=str(directory / 'sessions.jsonl')), module=ARCHIVE)
    created = sorted(os.listdir(directory))
    security_record('files', 'new archive in an empty directory of mode %04o' % mode, 'refused; nothing created',
                    len(created))
    assert run.result['failed'] and 'writable by others' in run.result['msg'], run.result
    assert created == []
    assert endpoint.stats()['calls'] == 0
