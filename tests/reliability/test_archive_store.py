"""The archive store under bad databases and faults: ecs_terminal_session_archive fails with a message naming the
cause, never a traceback, and leaves the stored history as it was.

Every case runs the real module through ansible-playbook at -vvvv with DEBUG=sdk against the local ECS endpoint,
which serves sessions the archive does not hold yet (so a run that did write would change rows). The history is
compared row by row (or byte by byte, for a file that is not an archive) before and after. The tests run as root,
which no file mode stops, so the unwritable and the full file systems are real: a read-only bind mount and a small
tmpfs, each mounted inside a private mount namespace (``unshare -m``) in which the module runs (``nsenter``).
PostgreSQL cases use the test server of tests/tools/postgres.sh: a database in read-only mode (as a read replica
is), a port nothing listens on, a wrong password, a lock held by another transaction.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from support.archive_data import normalised_sessions, write_v1_archive
from support.archive_runs import ArchiveRun
from support.campaign import free_port, module_args
from support.keys import DEBUG_ENV, SECRETS, secret_hits
from support.postgres import make_archive_store

REGION = 'cn-hangzhou'
TABLES = ('alicloud_ecs_archive_schema', 'terminal_sessions', 'terminal_session_instances', 'archive_regions',
          'archive_counters', 'change_log_positions')
MESSAGE_LIMIT = 1000


class MountNamespace:
    """A private mount namespace kept alive by a sleeping process; commands run in it through nsenter."""

    def __init__(self):
        self.process = subprocess.Popen(['unshare', '--mount', '--propagation', 'private', 'sleep', '3600'])  # pylint: disable=consider-using-with
        own = os.readlink('/proc/self/ns/mnt')
        deadline = time.monotonic() + 30
        while os.readlink('/proc/%d/ns/mnt' % self.process.pid) == own:
            assert time.monotonic() < deadline and self.process.poll() is None, 'unshare --mount did not start'
            time.sleep(0.01)
        self.prefix = ['nsenter', '--target', str(self.process.pid), '--mount', '--']

    def run(self, *command):
        subprocess.run(self.prefix + [str(part) for part in command], check=True, capture_output=True, text=True)

    def path(self, path):
        """``path`` as this namespace sees it, from outside (for the kernel; SQLite resolves /proc/<pid>/root away)."""
        return Path('/proc/%d/root' % self.process.pid) / Path(path).relative_to('/')

    def copy_out(self, folder, name, destination):
        """A copy of the SQLite archive ``folder/name`` and its side files, made inside, readable outside."""
        if destination.exists():
            shutil.rmtree(destination)
        destination.mkdir(mode=0o700)
        self.run('sh', '-c', 'cp -p "$0"/"$1" "$0"/"$1"-wal "$2"/ 2>/dev/null; test -f "$2/$1"', folder, name, destination)
        return make_archive_store('sqlite', destination)

    def close(self):
        self.process.kill()
        self.process.wait()


@pytest.fixture
def namespace():
    space = MountNamespace()
    yield space
    space.close()


class Case:
    """One failing run of the module: its result, its output, and what it must not reveal."""

    def __init__(self, run, secrets):
        self.run = run
        self.result = run.result or {}
        self.secrets = secrets

    @property
    def msg(self):
        return self.result.get('msg') or ''

    def secret_hits(self):
        return secret_hits(self.run.stdout + self.run.stderr + str(self.result), self.secrets)

    def tracebacks(self):
        return len(re.findall(r'Traceback \(most recent call last\)', self.run.stdout + self.run.stderr + self.msg))


def run_module(tmp_path, name, endpoint, store_options, prefix=(), **extra):
    args = module_args(endpoint, region_id=[REGION], **dict(store_options, **extra))
    secrets = set(SECRETS) | {value for key, value in args.items() if key in ('database_password', 'access_key_secret', 'security_token')}
    run = ArchiveRun(tmp_path / name, args, prefix=prefix, env=DEBUG_ENV, verbosity=4).wait()
    return Case(run, sorted(secrets))


def seeded(endpoint_factory):
    """An endpoint with 40 sessions; ``grow(endpoint)`` adds sessions the archive does not hold yet."""
    return endpoint_factory({REGION: 40})


def grow(endpoint, count=60):
    endpoint.generate_sessions(REGION, count, seed=11)


def history(store):
    """Every row of every table of the archive (what must not change)."""
    found = {}
    for table in TABLES:
        found[table] = store.rows(table, order_by='1' if table == 'alicloud_ecs_archive_schema' else '')
    return found


def file_digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check(record, case, store, what, fault, expected, unchanged):
    """Record the row of the report, then check: failed, message naming the cause, no traceback, nothing changed."""
    record(kind='archive', store=store, case=what, fault=fault, message=case.msg[:200], unchanged='yes' if unchanged else '**no**',
           tracebacks=case.tracebacks(), secret_hits=case.secret_hits())
    assert case.run.result is not None, 'the playbook did not run the module:\n%s' % case.run.stdout[-3000:]
    assert case.result.get('failed'), case.result
    # The cause must be in the words of the message, not in a path it names (the test's folders are named after it).
    assert re.search(expected, re.sub(r'/\S+', '<path>', case.msg), re.I), case.msg
    assert len(case.msg) < MESSAGE_LIMIT, case.msg
    assert case.tracebacks() == 0, case.run.stdout[-3000:]
    assert case.secret_hits() == 0
    assert unchanged


def archived_store(kind, tmp_path, endpoint, request, folder=None, prefix=()):
    """A store of ``kind`` (SQLite: in ``folder``) holding the endpoint's sessions, written by a first run of the module."""
    database = request.getfixturevalue('postgres_database') if kind == 'postgresql' else None
    store = make_archive_store(kind, folder or tmp_path, database)
    first = run_module(tmp_path, 'first', endpoint, store.options, prefix=prefix)
    assert not first.result.get('failed'), first.result
    assert first.result['added'] == 40
    return store


# --- not an archive of this module ------------------------------------------------------------------------------

def _text_file(path):
    path.write_text('hello, this is not a database\n')


def _foreign_sqlite(path):
    with sqlite3.connect(str(path)) as database:
        database.execute('CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount TEXT)')
        database.execute("INSERT INTO invoices (amount) VALUES ('12.50')")
    database.close()


def _v1_archive(path):
    write_v1_archive(path, normalised_sessions(REGION, 5, start='2024-01-01T00:00:00Z'), 5)


@pytest.mark.parametrize('what, make, expected', [
    ('a text file', _text_file, r'not an archive of this module'),
    ('a SQLite database of another application', _foreign_sqlite, r'not an archive of this module'),
    ('a version 1 JSON Lines archive', _v1_archive, r'import_path'),
], ids=['text', 'foreign-sqlite', 'v1-jsonl'])
def test_a_file_that_is_not_our_archive_is_refused_and_left_alone(what, make, expected, endpoint_factory, tmp_path, record):
    endpoint = seeded(endpoint_factory)
    path = tmp_path / 'archive.sqlite'
    make(path)
    os.chmod(path, 0o600)
    before = file_digest(path)
    case = run_module(tmp_path, 'run', endpoint, {'path': str(path)})
    check(record, case, 'SQLite', 'path is %s' % what, 'the file at path is not ours', expected,
          file_digest(path) == before and sorted(p.name for p in tmp_path.glob('archive.sqlite*')) == ['archive.sqlite'])


# --- a schema from the future -------------------------------------------------------------------------------------

@pytest.mark.parametrize('kind', ['sqlite', 'postgresql'])
def test_a_schema_newer_than_the_module_is_refused(kind, endpoint_factory, tmp_path, record, request):
    endpoint = seeded(endpoint_factory)
    store = archived_store(kind, tmp_path, endpoint, request)
    store.query('UPDATE alicloud_ecs_archive_schema SET version = {p}', (99,))
    grow(endpoint)
    before = history(store)
    case = run_module(tmp_path, 'run', endpoint, store.options)
    check(record, case, store_label(kind), 'schema version 99 (a newer release wrote it)', 'schema table says 99',
          r'schema version 99.*newer', history(store) == before)


def store_label(kind):
    return {'sqlite': 'SQLite', 'postgresql': 'PostgreSQL'}[kind]


# --- a database the process cannot write ---------------------------------------------------------------------------

def test_sqlite_on_a_read_only_file_system(endpoint_factory, tmp_path, record, request, namespace):
    endpoint = seeded(endpoint_factory)
    folder = tmp_path / 'mounted'
    folder.mkdir(mode=0o700)
    store = archived_store('sqlite', tmp_path, endpoint, request, folder=folder)
    grow(endpoint)
    before, digest = history(store), file_digest(store.sqlite_path)
    namespace.run('mount', '--bind', folder, folder)
    namespace.run('mount', '-o', 'remount,bind,ro', folder)
    case = run_module(tmp_path, 'run', endpoint, store.options, prefix=namespace.prefix)
    check(record, case, 'SQLite', 'the archive on a read-only file system (bind mount, as root)', 'mount -o remount,bind,ro',
          r'read-only|readonly|cannot be written', history(store) == before and file_digest(store.sqlite_path) == digest)


def test_postgresql_database_in_read_only_mode(endpoint_factory, tmp_path, record, request, postgres_server):
    endpoint = seeded(endpoint_factory)
    store = archived_store('postgresql', tmp_path, endpoint, request)
    grow(endpoint)
    before = history(store)
    postgres_server.admin('ALTER DATABASE "%s" SET default_transaction_read_only = on' % store.database.name)
    case = run_module(tmp_path, 'run', endpoint, store.options)
    check(record, case, 'PostgreSQL', 'the database accepts no writes (as a read replica)', 'default_transaction_read_only = on',
          r'read-only', history(store) == before)


# --- a full disk -----------------------------------------------------------------------------------------------

def test_sqlite_on_a_full_disk(endpoint_factory, tmp_path, record, request, namespace):
    endpoint = seeded(endpoint_factory)
    folder = tmp_path / 'small'
    folder.mkdir(mode=0o700)
    namespace.run('mount', '-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', folder)
    store = archived_store('sqlite', tmp_path, endpoint, request, folder=folder, prefix=namespace.prefix)
    before = history(namespace.copy_out(folder, 'archive.sqlite', tmp_path / 'copy'))
    # Fill the file system but 64 KiB: room to open the archive, not to write 600 more sessions.
    free = os.statvfs(namespace.path(folder))
    namespace.run('dd', 'if=/dev/zero', 'of=%s' % (folder / 'filler'), 'bs=4096',
                  'count=%d' % max(0, free.f_bavail * free.f_frsize // 4096 - 16))
    grow(endpoint, 600)
    case = run_module(tmp_path, 'run', endpoint, store.options, prefix=namespace.prefix)
    namespace.run('rm', '-f', folder / 'filler')
    after = namespace.copy_out(folder, 'archive.sqlite', tmp_path / 'copy')
    unchanged = history(after) == before and after.query('PRAGMA integrity_check') == [('ok',)]
    check(record, case, 'SQLite', 'the disk fills up during the merge (4 MiB tmpfs, 64 KiB left)', 'ENOSPC', r'disk is full',
          unchanged)
    # With room again, the next run merges everything.
    again = run_module(tmp_path, 'again', endpoint, store.options, prefix=namespace.prefix)
    assert not again.result.get('failed'), again.result
    assert len(namespace.copy_out(folder, 'archive.sqlite', tmp_path / 'copy').rows()) == 640


# --- PostgreSQL down, or refusing the password -----------------------------------------------------------------------

def test_postgresql_server_down(endpoint_factory, tmp_path, record, postgres_database):
    endpoint = seeded(endpoint_factory)
    url = 'postgresql://%s@127.0.0.1:%d/%s?connect_timeout=5' % (postgres_database.user, free_port(), postgres_database.name)
    case = run_module(tmp_path, 'run', endpoint, {'database_url': url, 'database_password': postgres_database.password})
    check(record, case, 'PostgreSQL', 'nothing listens on the port', 'a free loopback port', r'cannot be reached',
          postgres_database.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'") == [(0,)])


def test_postgresql_refuses_the_password(endpoint_factory, tmp_path, record, request):
    endpoint = seeded(endpoint_factory)
    store = archived_store('postgresql', tmp_path, endpoint, request)
    grow(endpoint)
    before = history(store)
    options = dict(store.options, database_password='wrong-' + store.options['database_password'])
    case = run_module(tmp_path, 'run', endpoint, options)
    check(record, case, 'PostgreSQL', 'a wrong database_password', 'scram-sha-256 refuses it', r'refused the password',
          history(store) == before)


# --- a lock held past lock_timeout ---------------------------------------------------------------------------------

@pytest.mark.parametrize('kind', ['sqlite', 'postgresql'])
def test_a_lock_held_past_lock_timeout(kind, endpoint_factory, tmp_path, record, request):
    endpoint = seeded(endpoint_factory)
    store = archived_store(kind, tmp_path, endpoint, request)
    grow(endpoint)
    before = history(store)
    if kind == 'sqlite':
        holder = sqlite3.connect(str(store.sqlite_path), isolation_level=None)
        holder.execute('BEGIN IMMEDIATE')
        fault = 'another connection holds the write lock (BEGIN IMMEDIATE)'
    else:
        holder = store.database.connect()
        holder.execute('SELECT region_id FROM archive_regions WHERE region_id = %s FOR UPDATE', (REGION,))
        fault = 'another transaction holds the region\'s row (SELECT ... FOR UPDATE)'
    try:
        started = time.monotonic()
        case = run_module(tmp_path, 'run', endpoint, store.options, lock_timeout=2)
        waited = time.monotonic() - started
    finally:
        if kind == 'postgresql':
            holder.rollback()
        else:
            holder.execute('ROLLBACK')
        holder.close()
    check(record, case, store_label(kind), 'a lock held past lock_timeout (2 s)', fault, r'lock_timeout', history(store) == before)
    assert waited >= 2
