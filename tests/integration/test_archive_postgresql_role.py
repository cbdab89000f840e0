"""ecs_terminal_session_archive with the least-privilege PostgreSQL role docs/archiving.md recommends: a role that
owns nothing and may only SELECT, INSERT, UPDATE and DELETE rows. It cannot create the archive's tables (a clear
failure naming the missing privilege); once their owner has created them, it archives like the owner."""

from __future__ import annotations

from support.archive_runs import ArchiveRun, served_keys
from support.playbooks import connection


def test_a_least_privilege_role_archives_once_the_owner_created_the_tables(
        postgres_database, postgres_app_role, endpoint_factory, tmp_path):
    endpoint = endpoint_factory({'cn-hangzhou': 30})
    as_app = {'database_url': postgres_app_role.url, 'database_password': postgres_app_role.password}
    as_owner = {'database_url': postgres_database.url, 'database_password': postgres_database.password}

    refused = ArchiveRun(tmp_path / 'app-alone', connection(endpoint, **as_app)).result()
    assert refused.get('failed'), refused
    assert 'privilege' in refused['msg'] and 'Traceback' not in refused['msg'], refused['msg']
    assert postgres_database.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'") == [(0,)]

    created = ArchiveRun(tmp_path / 'owner', connection(endpoint, **as_owner)).result()
    assert not created.get('failed') and created['created'] is True and created['added'] == 30, created

    endpoint.generate_sessions('cn-hangzhou', 5, seed=9)
    merged = ArchiveRun(tmp_path / 'app', connection(endpoint, **as_app)).result()
    assert not merged.get('failed'), merged
    assert (merged['created'], merged['added'], merged['records']) == (False, 5, 35), merged
    stored = {tuple(row) for row in postgres_database.query('SELECT region_id, session_id FROM terminal_sessions')}
    assert stored == served_keys(endpoint, ['cn-hangzhou'])
