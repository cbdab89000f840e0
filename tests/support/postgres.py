"""PostgreSQL for the archive store's tests: the server tests/tools/postgres.sh started, a database per test.

``tests/tools/postgres.sh start`` (``make test`` runs it) starts a throw-away cluster on 127.0.0.1 and writes
build/postgres/connection.json; ``PostgresServer.from_state()`` reads it. The fixtures here, imported by the
conftest of tests/unit, tests/integration and tests/reliability:

- ``postgres_server`` (session): the server, or a test failure that says how to start one (never a skip).
- ``postgres_database`` (function): a fresh database, dropped afterwards; ``.url`` (no password), ``.password``,
  ``.dsn_with_password``, ``.connect()``.
- ``postgres_app_role`` (function): a role with least privilege in that database: it owns nothing and may only
  SELECT, INSERT, UPDATE and DELETE rows of the tables the owner creates (what docs/archiving.md recommends).
- ``archive_store`` (function, parametrised 'sqlite' and 'postgresql'): the module options of a new store
  (``.options``) and ways to read rows back, so the same module test runs on both stores.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence
from urllib.parse import quote

import pytest

try:
    import psycopg
    from psycopg import sql as pg_sql
except ImportError:  # pragma: no cover - tests/requirements.txt installs it
    psycopg = None
    pg_sql = None

REPO = Path(__file__).resolve().parents[2]
# Where tests/tools/postgres.sh writes the connection (its POSTGRES_STATE_DIR, if set, wins).
STATE_DIR = Path(os.environ.get('POSTGRES_STATE_DIR') or REPO / 'build' / 'postgres')
START_HINT = 'run tests/tools/postgres.sh start (make test starts it)'
STORE_KINDS = ('sqlite', 'postgresql')


class PostgresUnavailable(Exception):
    """No server started, or the one started does not answer."""


def _url(host: str, port: int, user: str, dbname: str, password: Optional[str] = None) -> str:
    credentials = quote(user, safe='')
    if password is not None:
        credentials += ':' + quote(password, safe='')
    return 'postgresql://%s@%s:%d/%s' % (credentials, host, port, quote(dbname, safe=''))


class PostgresServer:
    """The cluster of tests/tools/postgres.sh: an administrator connection and databases made for tests."""

    def __init__(self, host: str, port: int, user: str, password: str, dbname: str = 'postgres'):
        self.host = host
        self.port = int(port)
        self.user = user
        self.password = password
        self.dbname = dbname

    @classmethod
    def from_state(cls, state_dir: Path = STATE_DIR) -> 'PostgresServer':
        path = Path(state_dir) / 'connection.json'
        if psycopg is None:
            raise PostgresUnavailable('psycopg is not installed (tests/requirements.txt)')
        try:
            data = json.loads(path.read_text(encoding='utf-8'))
        except FileNotFoundError:
            raise PostgresUnavailable('no PostgreSQL server for the tests (%s is missing): %s' % (path, START_HINT)) from None
        server = cls(data['host'], data['port'], data['user'], data['password'], data.get('dbname', 'postgres'))
        try:
            server.connect().close()
        except psycopg.OperationalError as exc:
            raise PostgresUnavailable('the PostgreSQL server of %s does not answer (%s): %s'
                                      % (path, str(exc).strip().splitlines()[0], START_HINT)) from None
        return server

    def connect(self, dbname: Optional[str] = None, autocommit: bool = True) -> Any:
        return psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               dbname=dbname or self.dbname, autocommit=autocommit, connect_timeout=10)

    def admin(self, statement: Any, params: Sequence[Any] = ()) -> None:
        with self.connect() as connection:
            connection.execute(statement, params)

    def create_database(self, prefix: str = 'archive_test') -> 'PostgresDatabase':
        name = '%s_%s' % (prefix, uuid.uuid4().hex[:12])
        self.admin(pg_sql.SQL('CREATE DATABASE {}').format(pg_sql.Identifier(name)))
        return PostgresDatabase(self, name)

    def drop_database(self, name: str) -> None:
        self.admin(pg_sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)').format(pg_sql.Identifier(name)))


class PostgresDatabase:
    """One database of the test server, connected to as a given role (the administrator unless told)."""

    def __init__(self, server: PostgresServer, name: str, user: Optional[str] = None, password: Optional[str] = None):
        self.server = server
        self.name = name
        self.user = user or server.user
        self.password = password if password is not None else server.password

    @property
    def url(self) -> str:
        """A libpq URI without the password (the module gets it as database_password)."""
        return _url(self.server.host, self.server.port, self.user, self.name)

    @property
    def dsn_with_password(self) -> str:
        """A libpq URI with the password inside (the case the module masks and warns about)."""
        return _url(self.server.host, self.server.port, self.user, self.name, self.password)

    def connect(self, autocommit: bool = False) -> Any:
        return psycopg.connect(self.url, password=self.password, autocommit=autocommit, connect_timeout=10)

    def as_role(self, user: str, password: str) -> 'PostgresDatabase':
        return PostgresDatabase(self.server, self.name, user, password)

    def query(self, statement: str, params: Sequence[Any] = ()) -> List[tuple]:
        with self.connect() as connection:
            return list(connection.execute(statement, params).fetchall())

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        with self.connect() as connection:
            connection.execute(statement, params)


class AppRole:
    """A login role that owns nothing and may only read and write the rows of the archive's tables."""

    def __init__(self, database: PostgresDatabase, name: str, password: str):
        self.name = name
        self.password = password
        self.database = database.as_role(name, password)
        self._owner_database = database

    @property
    def url(self) -> str:
        return self.database.url

    def grant_existing_tables(self) -> None:
        """Grants the row privileges on tables created before the role (the default privileges cover later ones)."""
        self._owner_database.execute(
            pg_sql.SQL('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}').format(pg_sql.Identifier(self.name)))


class ArchiveStore:
    """A new archive store for one test: module options and the rows the module wrote."""

    def __init__(self, kind: str, options: Dict[str, str], sqlite_path: Optional[Path] = None,
                 database: Optional[PostgresDatabase] = None):
        self.kind = kind
        self.options = options
        self.sqlite_path = sqlite_path
        self.database = database

    @property
    def placeholder(self) -> str:
        return '?' if self.kind == 'sqlite' else '%s'

    def connect(self) -> Any:
        """A DB-API 2 connection to the store (the caller closes it)."""
        if self.kind == 'sqlite':
            return sqlite3.connect(str(self.sqlite_path))
        return self.database.connect()

    def exists(self) -> bool:
        """Whether the store holds the archive's schema (check mode must not create it)."""
        if self.kind == 'sqlite':
            if not self.sqlite_path.exists():
                return False
            statement = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alicloud_ecs_archive_schema'"
        else:
            statement = "SELECT count(*) FROM information_schema.tables WHERE table_name = 'alicloud_ecs_archive_schema'"
        return self.query(statement)[0][0] > 0

    def query(self, statement: str, params: Sequence[Any] = ()) -> List[tuple]:
        """Rows of a statement written with ``{p}`` for each placeholder: ``store.query('... = {p}', (x,))``."""
        statement = statement.replace('{p}', self.placeholder)
        connection = self.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(statement, tuple(params))
            rows = [tuple(row) for row in cursor.fetchall()] if cursor.description else []
            connection.commit()
            return rows
        finally:
            connection.close()

    def rows(self, table: str = 'terminal_sessions', order_by: str = '') -> List[Dict[str, Any]]:
        """Every row of a table as dicts, in a stable order (the primary key unless told)."""
        order = order_by or {
            'terminal_sessions': 'region_id, session_id',
            'terminal_session_instances': 'instance_id, region_id, session_id',
            'archive_regions': 'region_id',
            'archive_counters': 'name',
            'change_log_positions': 'path',
        }.get(table, '1')
        connection = self.connect()
        try:
            cursor = connection.cursor()
            cursor.execute('SELECT * FROM %s ORDER BY %s' % (table, order))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
        finally:
            connection.close()

    def records(self) -> Dict[tuple, Dict[str, Any]]:
        """``{(region_id, session_id): record}`` with the record JSON decoded."""
        return {(row['region_id'], row['session_id']): json.loads(row['record']) for row in self.rows()}


def _server_or_fail() -> PostgresServer:
    try:
        return PostgresServer.from_state()
    except PostgresUnavailable as exc:
        reason = str(exc)
    pytest.fail(reason, pytrace=False)
    raise AssertionError(reason)  # not reached: pytest.fail raises


@pytest.fixture(scope='session')
def postgres_server() -> PostgresServer:
    """The test server (a failure naming tests/tools/postgres.sh when there is none)."""
    return _server_or_fail()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[PostgresDatabase]:  # pylint: disable=redefined-outer-name
    """A fresh database owned by the test administrator, dropped (with its connections) afterwards."""
    database = postgres_server.create_database()
    try:
        yield database
    finally:
        postgres_server.drop_database(database.name)


@pytest.fixture
def postgres_app_role(postgres_server: PostgresServer, postgres_database: PostgresDatabase) -> Iterator[AppRole]:  # pylint: disable=redefined-outer-name
    """A least-privilege role of ``postgres_database``: CONNECT, USAGE on public, and row privileges on the tables
    the administrator creates (ALTER DEFAULT PRIVILEGES), nothing else: it cannot create or alter a table."""
    name = 'archive_app_%s' % uuid.uuid4().hex[:12]
    password = uuid.uuid4().hex
    role = pg_sql.Identifier(name)
    postgres_server.admin(pg_sql.SQL('CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {}').format(
        role, pg_sql.Literal(password)))
    try:
        postgres_server.admin(pg_sql.SQL('GRANT CONNECT ON DATABASE {} TO {}').format(pg_sql.Identifier(postgres_database.name), role))
        with postgres_server.connect(postgres_database.name) as connection:
            connection.execute(pg_sql.SQL('REVOKE CREATE ON SCHEMA public FROM PUBLIC'))
            connection.execute(pg_sql.SQL('GRANT USAGE ON SCHEMA public TO {}').format(role))
            connection.execute(pg_sql.SQL('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}')
                               .format(role))
        app_role = AppRole(postgres_database, name, password)
        app_role.grant_existing_tables()
        yield app_role
    finally:
        with postgres_server.connect(postgres_database.name) as connection:
            connection.execute(pg_sql.SQL('DROP OWNED BY {}').format(role))
        postgres_server.admin(pg_sql.SQL('DROP ROLE IF EXISTS {}').format(role))


def make_archive_store(kind: str, tmp_path: Path, database: Optional[PostgresDatabase] = None) -> ArchiveStore:
    """A new store of a kind: a SQLite path in tmp_path (not created), or the given PostgreSQL database."""
    if kind == 'sqlite':
        path = tmp_path / 'archive.sqlite'
        return ArchiveStore(kind, {'path': str(path)}, sqlite_path=path)
    return ArchiveStore(kind, {'database_url': database.url, 'database_password': database.password}, database=database)


@pytest.fixture(params=STORE_KINDS)
def archive_store(request, tmp_path: Path) -> ArchiveStore:
    """The same test on a SQLite file and on a PostgreSQL database (the server only needed for the latter)."""
    database = request.getfixturevalue('postgres_database') if request.param == 'postgresql' else None
    return make_archive_store(request.param, tmp_path, database)
