# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The session archive's database: where it is, opening it, its schema (created, checked, migrated).

Two databases behind one small interface, :func:`open_archive`: a SQLite file (``path``, Python's ``sqlite3``,
WAL mode, a busy timeout) or a PostgreSQL database (``database_url``, psycopg 3, needed only for it). Both hold
the same schema (:data:`SCHEMA`), version :data:`SCHEMA_VERSION`, in the table ``alicloud_ecs_archive_schema``;
a newer version than this module knows is refused. Merging (:mod:`archive_merge`) and exporting
(:mod:`archive_export`) work on the :class:`ArchiveConnection` returned here.

The SQLite file is a file the module often writes as root: the rules of :mod:`file_safety` apply to it and to the
side files SQLite opens by name itself (``-wal``, ``-shm``, ``-journal``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os
import re
import sqlite3

from typing import Callable, List, Optional
from urllib.parse import quote, unquote, urlsplit

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import remember_secrets, scrub
from ansible_collections.alicloud.ecs.plugins.module_utils.file_safety import (
    SQLITE_SIDE_SUFFIXES, UnsafeFileError, check_target, open_regular)

# psycopg is needed only for database_url, and importing it takes up to a second: it is imported on the first
# PostgreSQL use (:func:`load_psycopg`), never for a SQLite archive. Finding it on the path is cheap and enough for
# the modules to fail early with missing_required_lib when it is not installed at all.
try:
    HAS_PSYCOPG = importlib.util.find_spec('psycopg') is not None
    PSYCOPG_IMPORT_ERROR = None if HAS_PSYCOPG else ImportError("No module named 'psycopg'")
except (ImportError, ValueError) as find_error:  # a broken installation
    HAS_PSYCOPG = False
    PSYCOPG_IMPORT_ERROR = find_error
_PSYCOPG = {}  # 'module' and 'error' once load_psycopg ran

PSYCOPG_REQUIREMENT = 'psycopg (psycopg[binary] >= 3.1)'
SCHEMA_VERSION = 1
SCHEMA_TABLE = 'alicloud_ecs_archive_schema'
SQLITE_MAGIC = b'SQLite format 3\x00'
V1_FORMAT = 'alicloud.ecs.terminal_sessions'
# Seconds to wait for the PostgreSQL server to answer a connection when the URL does not say.
DEFAULT_CONNECT_TIMEOUT = 10
APPLICATION_NAME = 'alicloud.ecs archive'

# Version 1 of the schema, the same text for both databases (TEXT timestamps 'YYYY-MM-DDTHH:MM:SSZ' sort as text).
SCHEMA = (
    'CREATE TABLE %s (version INTEGER NOT NULL)' % SCHEMA_TABLE,
    'CREATE TABLE terminal_sessions (region_id TEXT NOT NULL, session_id TEXT NOT NULL, creation_time TEXT NOT NULL,'
    ' record TEXT NOT NULL, archived_at TEXT NOT NULL, updated_at TEXT NULL, change_seq BIGINT NOT NULL,'
    ' PRIMARY KEY (region_id, session_id))',
    'CREATE INDEX terminal_sessions_creation_time ON terminal_sessions (creation_time)',
    'CREATE INDEX terminal_sessions_change_seq ON terminal_sessions (change_seq)',
    'CREATE TABLE terminal_session_instances (instance_id TEXT NOT NULL, region_id TEXT NOT NULL,'
    ' session_id TEXT NOT NULL, PRIMARY KEY (instance_id, region_id, session_id))',
    'CREATE TABLE archive_regions (region_id TEXT PRIMARY KEY, last_complete_listing_at TEXT NULL,'
    ' newest_creation_time TEXT NULL)',
    'CREATE TABLE archive_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)',
    'CREATE TABLE change_log_positions (path TEXT PRIMARY KEY, change_seq BIGINT NOT NULL)',
    "INSERT INTO archive_counters (name, value) VALUES ('change_seq', 0)",
    "INSERT INTO archive_counters (name, value) VALUES ('records', 0)",
    'INSERT INTO %s (version) VALUES (%d)' % (SCHEMA_TABLE, SCHEMA_VERSION),
)
# Tables of the schema: a database holding one of them without the version table is not ours to change.
TABLES = ('terminal_sessions', 'terminal_session_instances', 'archive_regions', 'archive_counters', 'change_log_positions')
# Schema migrations: MIGRATIONS[n] takes a database from version n to n + 1 (none yet).
MIGRATIONS = {}


class ArchiveStoreError(Exception):
    """The archive's database cannot be used; ``message`` names the cause, with every secret masked."""

    def __init__(self, message: str):
        self.message = scrub(message)
        super().__init__(self.message)


def failure_message(action: str, error: ArchiveStoreError) -> str:
    """``Action: message``, or the message alone when it says itself what could not be done ("cannot ..."), so a
    failure never says it twice."""
    message = error.message
    if message.lower().startswith('cannot '):
        return message[:1].upper() + message[1:]
    return '%s: %s' % (action, message)


class ArchiveLocation:
    """Where the archive is: ``path`` (a SQLite file) or ``database_url`` (PostgreSQL), exactly one of them."""

    def __init__(self, path: Optional[str] = None, database_url: Optional[str] = None,
                 database_password: Optional[str] = None):
        if (path is None) == (database_url is None):
            raise ArchiveStoreError('give exactly one of path and database_url')
        self.path = path
        self.database_url = database_url
        self.database_password = database_password
        remember_secrets([database_password])

    @property
    def dialect(self) -> str:
        return 'sqlite' if self.path is not None else 'postgresql'

    def label(self) -> str:
        """The path, or the URL with any password in it masked: safe to show."""
        if self.path is not None:
            return self.path
        url_password_of(self.database_url)  # remembers it, so scrub masks it
        return scrub(self.database_url)


class ArchiveConnection:
    """An open archive: ``connection`` (DB-API 2), ``dialect`` ('sqlite' or 'postgresql'), ``placeholder``
    ('?' or '%s'), ``schema_version`` (None for a database without the schema, only when opened read-only),
    ``created`` (whether this open created the schema). A context manager that closes the connection.

    A SQLite file opened read-only that does not exist yet gets an empty in-memory database, so
    ``connection`` is always usable; callers look at ``schema_version`` first.
    """

    def __init__(self, connection, dialect: str, schema_version: Optional[int], created: bool = False,
                 location: Optional[ArchiveLocation] = None, read_only: bool = False, lock_timeout: float = 0):
        self.connection = connection
        self.dialect = dialect
        self.placeholder = '?' if dialect == 'sqlite' else '%s'
        self.schema_version = schema_version
        self.created = created
        self.location = location
        self.read_only = read_only
        self.lock_timeout = lock_timeout

    def sql(self, statement: str) -> str:
        """``statement`` written with ``?`` placeholders, in this dialect's placeholder style."""
        return statement if self.dialect == 'sqlite' else statement.replace('%', '%%').replace('?', '%s')

    def execute(self, statement: str, parameters=()):
        """A cursor that ran ``statement`` (``?`` placeholders) with ``parameters``."""
        cursor = self.connection.cursor()
        cursor.execute(self.sql(statement), tuple(parameters))
        return cursor

    def executemany(self, statement: str, rows) -> None:
        cursor = self.connection.cursor()
        cursor.executemany(self.sql(statement), list(rows))
        cursor.close()

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


# --- PostgreSQL connection strings ----------------------------------------------------------------

def load_psycopg():
    """psycopg 3 (with its ``conninfo`` module loaded), imported on first use; None when it cannot be imported.

    The import error, if any, is then in ``_PSYCOPG['error']``.
    """
    if 'module' not in _PSYCOPG:
        try:
            import psycopg.conninfo  # binds psycopg, its conninfo module loaded too
        except ImportError as error:
            _PSYCOPG.update(module=None, error=error)
        else:
            _PSYCOPG.update(module=psycopg, error=None)
    return _PSYCOPG['module']


def _require_psycopg():
    psycopg = load_psycopg() if HAS_PSYCOPG else None
    if psycopg is None:
        raise ArchiveStoreError('database_url needs the Python package %s on the host the module runs on (pip install '
                                '"psycopg[binary]", or requirements-postgresql.txt of the collection): %s'
                                % (PSYCOPG_REQUIREMENT, _PSYCOPG.get('error') or PSYCOPG_IMPORT_ERROR))
    return psycopg


def _conninfo_dict(database_url: str) -> dict:
    psycopg = _require_psycopg()
    try:
        return psycopg.conninfo.conninfo_to_dict(database_url)
    except psycopg.ProgrammingError as error:
        raise ArchiveStoreError('database_url is neither a PostgreSQL URI (postgresql://user@host/database) nor a '
                                'libpq connection string (host=... dbname=...): %s' % _first_line(error))


_KEYWORD_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def _password_without_psycopg(database_url: str) -> Optional[str]:
    """The password of a URI's user information or of a ``password=`` keyword, read without libpq."""
    if '://' in database_url:
        try:
            password = urlsplit(database_url).password
        except ValueError:
            password = None
        return unquote(password) if password else None
    match = _KEYWORD_PASSWORD.search(database_url)
    if not match:
        return None
    value = match.group(1)
    return re.sub(r'\\(.)', r'\1', value[1:-1]) if value.startswith("'") else value


def url_password_forms(database_url: Optional[str]) -> List[str]:
    """The password inside ``database_url`` as libpq reads it and as it is written there (%-encoded in a URI)."""
    password = url_password_of(database_url)
    if not password:
        return []
    forms = [password]
    if '://' in database_url:
        try:
            forms.append(urlsplit(database_url).password or '')
        except ValueError:
            pass
    remember_secrets(forms)
    return [form for form in forms if form]


def url_password_of(database_url: Optional[str]) -> Optional[str]:
    """The password written inside ``database_url``, remembered as a secret (so every output masks it); or None."""
    if not database_url:
        return None
    password = None
    psycopg = load_psycopg() if HAS_PSYCOPG else None
    if psycopg is not None:
        try:
            password = psycopg.conninfo.conninfo_to_dict(database_url).get('password')
        except psycopg.ProgrammingError:
            password = None
    if password is None:
        password = _password_without_psycopg(database_url)
    remember_secrets([password])
    return password


def _first_line(error) -> str:
    """The error's text on one line. A PostgreSQL server error: its primary message and SQLSTATE, without the
    ``LINE 1: ... ^`` echo of the statement that follows it (the statement is ours, and long)."""
    sqlstate = getattr(error, 'sqlstate', None)
    if sqlstate:
        primary = getattr(getattr(error, 'diag', None), 'message_primary', None)
        if not primary:
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            primary = lines[0] if lines else type(error).__name__
        return '%s (SQLSTATE %s)' % (primary.strip(), sqlstate)
    text = str(error).strip() or type(error).__name__
    return ' '.join(line.strip() for line in text.splitlines() if line.strip())


def describe_database_error(error, action: str) -> str:
    """A message naming the cause of a psycopg error (server down, password refused, permission), no secret."""
    text = _first_line(error)
    lowered = text.lower()
    psycopg = _PSYCOPG.get('module')  # an error of psycopg means it was imported
    if 'password authentication failed' in lowered or 'no password supplied' in lowered:
        cause = 'the server refused the password (give database_password, PGPASSWORD or ~/.pgpass)'
    elif 'connection refused' in lowered or 'could not connect' in lowered or 'timeout expired' in lowered \
            or 'could not translate host name' in lowered:
        cause = 'the database server cannot be reached (is it running, and are host and port right?)'
    elif psycopg is not None and isinstance(error, psycopg.errors.InsufficientPrivilege):
        cause = 'the database role lacks a privilege'
    elif psycopg is not None and isinstance(error, psycopg.errors.LockNotAvailable):
        cause = 'another run held the lock for longer than lock_timeout'
    else:
        cause = None
    return '%s: %s%s' % (action, cause + ': ' if cause else '', text)


# --- opening --------------------------------------------------------------------------------------

def open_archive(location: ArchiveLocation, read_only: bool = False, create: bool = True, lock_timeout: float = 300,
                 warn: Optional[Callable[[str], None]] = None) -> ArchiveConnection:
    """Open the archive at ``location``; create (unless ``read_only`` or not ``create``) and migrate its schema.

    ``read_only`` never creates a file or database and never migrates: a missing SQLite file or a database without
    the schema gives an :class:`ArchiveConnection` whose ``schema_version`` is None (an empty archive). A database
    that is not an archive of this module, a version 1 JSON Lines archive at ``path`` (use ``import_path``), a
    newer schema, or any database error raises :class:`ArchiveStoreError`.
    """
    warn = warn or (lambda message: None)
    if location.path is not None:
        return _open_sqlite(location, read_only, create, lock_timeout)
    return _open_postgresql(location, read_only, create, lock_timeout, warn)


def _version_problem(version, label) -> Optional[str]:
    if version > SCHEMA_VERSION:
        return ('%s holds an archive of schema version %d, written by a newer alicloud.ecs; this one knows version %d '
                'and leaves it alone. Update the collection' % (label, version, SCHEMA_VERSION))
    return None


def _read_version(archive: ArchiveConnection, label: str) -> int:
    rows = archive.execute('SELECT version FROM %s' % SCHEMA_TABLE).fetchall()
    if len(rows) != 1 or not isinstance(rows[0][0], int):
        raise ArchiveStoreError('%s: the table %s must hold exactly one version number; it holds %d rows. It is not an '
                                'archive this module can use' % (label, SCHEMA_TABLE, len(rows)))
    problem = _version_problem(rows[0][0], label)
    if problem:
        raise ArchiveStoreError(problem)
    return rows[0][0]


def _migrate(archive: ArchiveConnection, version: int) -> int:
    """Run the migrations from ``version`` to :data:`SCHEMA_VERSION` in the caller's transaction."""
    while version < SCHEMA_VERSION:
        for statement in MIGRATIONS[version]:
            archive.execute(statement)
        version += 1
        archive.execute('UPDATE %s SET version = ?' % SCHEMA_TABLE, (version,))
    return version


# --- SQLite -----------------------------------------------------------------------------------------

def _is_v1_archive(first_line: bytes) -> bool:
    try:
        header = json.loads(first_line.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(header, dict) and header.get('_archive_format') == V1_FORMAT


def _sqlite_content(path: str) -> str:
    """'missing', 'empty', 'sqlite'; raises for a v1 JSON Lines archive or anything else."""
    try:
        descriptor = open_regular(path)
    except FileNotFoundError:
        return 'missing'
    with os.fdopen(descriptor, 'rb') as handle:
        start = handle.read(len(SQLITE_MAGIC))
        if not start:
            return 'empty'
        if start == SQLITE_MAGIC:
            return 'sqlite'
        first_line = start + handle.readline(1 << 20) if start.startswith(b'{') else b''
    if start.startswith(b'{') and _is_v1_archive(first_line.rstrip(b'\r\n')):
        raise ArchiveStoreError('%s is a JSON Lines archive of version 1 (the format of earlier releases), not a '
                                'database; it is left as it is. Give a new path and import it with import_path: %s'
                                % (path, path))
    raise ArchiveStoreError('%s is not an archive of this module (not a SQLite database); refusing to change it. Give '
                            'another path, or move the file away' % path)


def _sqlite_connect(target, uri: bool, lock_timeout: float):
    connection = sqlite3.connect(target, timeout=max(float(lock_timeout), 0.001), isolation_level=None, uri=uri,
                                 check_same_thread=False)
    connection.execute('PRAGMA busy_timeout = %d' % int(max(float(lock_timeout), 0.001) * 1000))
    return connection


def _sqlite_tables(connection) -> set:
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _create_new_file(path: str) -> None:
    """Create ``path`` exclusively with mode 0600 (never through a link), so SQLite opens a file of that mode."""
    try:
        descriptor = open_regular(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except (OSError, UnsafeFileError) as error:
        raise ArchiveStoreError('cannot create %s: %s' % (path, error))
    os.fchmod(descriptor, 0o600)
    os.close(descriptor)


def _on_read_only_file_system(path: str) -> bool:
    """Whether the folder of ``path`` is on a file system mounted read-only (SQLite then says only that it cannot
    open its side files)."""
    try:
        return bool(os.statvfs(os.path.dirname(os.path.abspath(path))).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _sqlite_error(path: str, action: str, error) -> ArchiveStoreError:
    text = str(error)
    lowered = text.lower()
    if 'locked' in lowered or 'busy' in lowered:
        text = 'another run held the database lock for longer than lock_timeout (%s)' % text
    elif 'readonly' in lowered or 'read-only' in lowered or _on_read_only_file_system(path):
        text = 'the database cannot be written (a read-only file system or file): %s' % text
    elif 'full' in lowered:
        text = 'the disk is full: %s' % text
    elif 'not a database' in lowered or 'malformed' in lowered:
        text = 'the file is not an archive of this module or is damaged: %s' % text
    return ArchiveStoreError('%s %s: %s' % (action, path, text))


def _open_sqlite(location: ArchiveLocation, read_only: bool, create: bool, lock_timeout: float) -> ArchiveConnection:
    path = location.path
    try:
        before = check_target(path, SQLITE_SIDE_SUFFIXES)[path]
        content = _sqlite_content(path)
    except UnsafeFileError as error:
        raise ArchiveStoreError(str(error))
    except OSError as error:
        raise ArchiveStoreError('cannot read %s: %s' % (path, error))
    if content in ('missing', 'empty') and (read_only or not create):
        connection = sqlite3.connect(':memory:', isolation_level=None, check_same_thread=False)
        return ArchiveConnection(connection, 'sqlite', None, location=location, read_only=True, lock_timeout=lock_timeout)
    if content == 'missing':
        _create_new_file(path)
        before = check_target(path, SQLITE_SIDE_SUFFIXES)[path]
    try:
        if read_only:
            connection = _sqlite_connect('file:%s?mode=ro' % quote(path), True, lock_timeout)
        else:
            connection = _sqlite_connect(path, False, lock_timeout)
    except sqlite3.Error as error:
        raise _sqlite_error(path, 'cannot open', error)
    _check_same_file(connection, path, before)
    archive = ArchiveConnection(connection, 'sqlite', None, location=location, read_only=read_only,
                                lock_timeout=lock_timeout)
    try:
        _prepare_sqlite(archive, path, read_only)
    except sqlite3.Error as error:
        archive.close()
        raise _sqlite_error(path, 'cannot use the archive', error)
    except ArchiveStoreError:
        archive.close()
        raise
    return archive


def _check_same_file(connection, path, before):
    """Refuse when ``path`` was swapped (for a link, say) between the checks and SQLite's open."""
    try:
        now = os.lstat(path)
    except OSError as error:
        connection.close()
        raise ArchiveStoreError('cannot look at %s: %s' % (path, error))
    if before is None or (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
        connection.close()
        raise ArchiveStoreError('%s changed while it was being opened (replaced by another file or a link); refusing '
                                'to use it' % path)


def _prepare_sqlite(archive: ArchiveConnection, path: str, read_only: bool) -> None:
    connection = archive.connection
    tables = _sqlite_tables(connection)
    if SCHEMA_TABLE not in tables and tables:
        raise ArchiveStoreError('%s is a SQLite database but not an archive of this module (it has no table %s); '
                                'refusing to change it. Give another path' % (path, SCHEMA_TABLE))
    if read_only:
        if SCHEMA_TABLE in tables:
            archive.schema_version = _read_version(archive, path)
        return
    if connection.execute('PRAGMA journal_mode').fetchone()[0].lower() != 'wal':
        connection.execute('PRAGMA journal_mode = WAL')
    connection.execute('PRAGMA synchronous = FULL')
    if SCHEMA_TABLE in tables:
        version = _read_version(archive, path)
        if version == SCHEMA_VERSION:  # the usual case: no write lock needed to open
            archive.schema_version = version
            return
    connection.execute('BEGIN IMMEDIATE')
    try:
        if SCHEMA_TABLE not in _sqlite_tables(connection):
            for statement in SCHEMA:
                connection.execute(statement)
            archive.created = True
            archive.schema_version = SCHEMA_VERSION
        else:
            archive.schema_version = _migrate(archive, _read_version(archive, path))
        connection.execute('COMMIT')
    except BaseException:
        connection.execute('ROLLBACK')
        raise


# --- PostgreSQL -------------------------------------------------------------------------------------

def _open_postgresql(location: ArchiveLocation, read_only: bool, create: bool, lock_timeout: float,
                     warn: Callable[[str], None]) -> ArchiveConnection:
    psycopg = _require_psycopg()
    label = location.label()
    options = _conninfo_dict(location.database_url)
    if options.get('password'):
        remember_secrets([options['password']])
        warn('database_url holds a password; it is masked in the output, but give it with database_password (no_log) '
             'or through PGPASSWORD or ~/.pgpass instead, so it is in no inventory or command line')
    extra = {'application_name': options.get('application_name') or APPLICATION_NAME}
    if not options.get('connect_timeout'):
        extra['connect_timeout'] = str(DEFAULT_CONNECT_TIMEOUT)
    if location.database_password is not None:
        extra['password'] = location.database_password
    try:
        conninfo = psycopg.conninfo.make_conninfo(location.database_url, **extra)
        connection = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as error:
        raise ArchiveStoreError(describe_database_error(error, 'cannot connect to the archive database %s' % label))
    archive = ArchiveConnection(connection, 'postgresql', None, location=location, read_only=read_only,
                                lock_timeout=lock_timeout)
    try:
        if read_only:
            connection.execute('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY')
        _prepare_postgresql(archive, label, read_only, create)
    except psycopg.Error as error:
        archive.close()
        raise ArchiveStoreError(describe_database_error(error, 'cannot use the archive database %s' % label))
    except ArchiveStoreError:
        archive.close()
        raise
    return archive


def _postgresql_tables(archive: ArchiveConnection) -> set:
    # pg_class read with this statement's snapshot, not to_regclass(): that answers from the session's catalog cache,
    # which may still remember a table as missing when another run created it while this one waited for the schema
    # lock (and this run would then create it again and fail).
    names = (SCHEMA_TABLE,) + TABLES
    rows = archive.execute('SELECT c.relname::text FROM pg_catalog.pg_class c WHERE c.relname::text = ANY(?::text[]) '
                           'AND pg_catalog.pg_table_is_visible(c.oid)', (list(names),)).fetchall()
    return {row[0] for row in rows}


def _prepare_postgresql(archive: ArchiveConnection, label: str, read_only: bool, create: bool) -> None:
    tables = _postgresql_tables(archive)
    if SCHEMA_TABLE not in tables and tables:
        found = ', '.join(sorted(tables))
        raise ArchiveStoreError('the database %s holds tables named like those of the archive (%s) but no %s: it is not '
                                'an archive of this module; refusing to change it' % (label, found, SCHEMA_TABLE))
    if read_only or (not create and SCHEMA_TABLE not in tables):
        if SCHEMA_TABLE in tables:
            archive.schema_version = _read_version(archive, label)
        return
    with archive.connection.transaction():
        # One creator or migrator at a time, whatever the number of controllers.
        _set_lock_timeout(archive)
        archive.execute("SELECT pg_advisory_xact_lock(hashtext('alicloud.ecs archive schema'))")
        if SCHEMA_TABLE not in _postgresql_tables(archive):
            for statement in SCHEMA:
                archive.execute(statement)
            archive.created = True
            archive.schema_version = SCHEMA_VERSION
        else:
            archive.schema_version = _migrate(archive, _read_version(archive, label))


def _set_lock_timeout(archive: ArchiveConnection) -> None:
    """PostgreSQL: wait at most lock_timeout for a lock in this transaction (0 means wait for ever there: 1 ms)."""
    if archive.dialect == 'postgresql':
        milliseconds = max(1, int(float(archive.lock_timeout) * 1000))
        archive.execute("SELECT set_config('lock_timeout', ?, true)", ('%dms' % milliseconds,))
