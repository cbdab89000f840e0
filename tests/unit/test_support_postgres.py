"""The PostgreSQL test fixtures do what the archive tests rely on: a real server on loopback with scram
authentication, a database of one's own per test, and a least-privilege role that can write rows but not tables."""

from __future__ import annotations

import psycopg
import pytest

from support.postgres import STORE_KINDS, PostgresServer


def test_server_is_loopback_only_with_scram_authentication(postgres_server: PostgresServer):
    with postgres_server.connect() as connection:
        assert connection.execute('SHOW listen_addresses').fetchone()[0] == '127.0.0.1'
        assert connection.execute('SHOW password_encryption').fetchone()[0] == 'scram-sha-256'
    with pytest.raises(psycopg.OperationalError, match='password authentication failed'):
        psycopg.connect(host=postgres_server.host, port=postgres_server.port, user=postgres_server.user,
                        password='not-' + postgres_server.password, dbname='postgres', connect_timeout=10).close()


def test_each_test_gets_an_empty_database_of_its_own(postgres_database):
    assert '@' in postgres_database.url and postgres_database.password not in postgres_database.url
    assert postgres_database.password in postgres_database.dsn_with_password
    tables = postgres_database.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
    assert tables == [(0,)]
    with postgres_database.connect() as connection:
        assert connection.execute('SELECT current_database()').fetchone()[0] == postgres_database.name


def test_app_role_writes_rows_but_cannot_create_or_alter_tables(postgres_database, postgres_app_role):
    postgres_database.execute('CREATE TABLE archive_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)')
    app = postgres_app_role.database
    app.execute("INSERT INTO archive_counters VALUES ('change_seq', 1)")
    app.execute("UPDATE archive_counters SET value = 2 WHERE name = 'change_seq'")
    assert app.query('SELECT value FROM archive_counters FOR UPDATE') == [(2,)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute('CREATE TABLE intruder (x INTEGER)')
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute('ALTER TABLE archive_counters ADD COLUMN extra TEXT')
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute('TRUNCATE archive_counters')
    app.execute("DELETE FROM archive_counters WHERE name = 'change_seq'")


def test_archive_store_runs_on_both_kinds(archive_store):
    assert archive_store.kind in STORE_KINDS
    assert not archive_store.exists()
    connection = archive_store.connect()
    try:
        cursor = connection.cursor()
        cursor.execute('CREATE TABLE alicloud_ecs_archive_schema (version INTEGER NOT NULL)')
        cursor.execute('INSERT INTO alicloud_ecs_archive_schema VALUES (%s)' % archive_store.placeholder, (1,))
        connection.commit()
    finally:
        connection.close()
    assert archive_store.exists()
    assert archive_store.rows('alicloud_ecs_archive_schema', order_by='version') == [{'version': 1}]
    assert archive_store.query('SELECT version FROM alicloud_ecs_archive_schema WHERE version = {p}', (1,)) == [(1,)]
    if archive_store.kind == 'sqlite':
        assert set(archive_store.options) == {'path'}
    else:
        assert set(archive_store.options) == {'database_url', 'database_password'}
