"""main() of ecs_terminal_session_archive with the listing patched: no endpoint, no playbook; both stores."""

from __future__ import annotations

import json

from ansible_collections.alicloud.ecs.plugins.module_utils.archive import header
from ansible_collections.alicloud.ecs.plugins.module_utils.module import AlicloudModule
from ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_archive import main


def test_creates_the_archive_then_keeps_it(run_module, listing, make_session, archive_store):
    listing.sessions = [make_session('s-1'), make_session('s-2', creation_time='2024-01-18T09:15:46Z')]
    result = run_module(main, concurrency=2, **archive_store.options)
    assert not result['failed'] and result['changed'] and result['created'], result
    assert result['added'] == 2 and result['records'] == 2 and result['listed'] == 2
    assert set(archive_store.records()) == {('cn-hangzhou', 's-1'), ('cn-hangzhou', 's-2')}
    assert listing.calls[0]['concurrency'] == 2 and listing.calls[0]['criteria'] is None
    if archive_store.kind == 'sqlite':
        assert result['path'] == archive_store.options['path'] and 'database' not in result
    else:
        assert result['database'] == archive_store.options['database_url'] and 'path' not in result
    again = run_module(main, **archive_store.options)
    assert not again['failed'] and not again['changed'] and not again['created'] and again['unchanged'] == 2
    assert 'imported' not in again and 'change_log_appended' not in again and 'csv_changed' not in again


def test_check_mode_creates_nothing(run_module, listing, make_session, archive_store):
    listing.sessions = [make_session('s-1')]
    result = run_module(main, _ansible_check_mode=True, **archive_store.options)
    assert not result['failed'] and result['changed'] and result['created'] and result['added'] == 1
    assert not archive_store.exists()


def test_a_listing_failure_leaves_the_archive_as_it_was(run_module, listing, make_session, throttled, archive_store):
    listing.sessions = [make_session('s-1')]
    assert not run_module(main, **archive_store.options)['failed']
    before = archive_store.rows()
    listing.error = throttled
    result = run_module(main, **archive_store.options)
    assert result['failed'] and result['msg'].startswith('Failed to list terminal sessions (region cn-hangzhou)')
    assert result['region_id'] == 'cn-hangzhou' and result['error_code'] == 'Throttling'
    assert archive_store.rows() == before


def test_a_version_1_path_names_import_path_and_import_path_imports_it(run_module, listing, make_session, tmp_path):
    tmp_path.chmod(0o755)
    old = tmp_path / 'sessions.jsonl'
    record = dict(make_session('s-old', creation_time='2024-01-02T00:00:00Z'), _archive={'archived_at': '2024-01-02T01:00:00Z'})
    old.write_text(json.dumps(header(1)) + '\n' + json.dumps(record) + '\n')
    old.chmod(0o600)
    listing.sessions = [make_session('s-1')]
    refused = run_module(main, path=str(old))
    assert refused['failed'] and 'import_path' in refused['msg'] and refused['path'] == str(old)
    assert listing.calls == [] and old.read_text().startswith('{')
    path = tmp_path / 'sessions.sqlite'
    imported = run_module(main, path=str(path), import_path=str(old))
    assert not imported['failed'] and (imported['imported'], imported['added'], imported['records']) == (1, 1, 2)
    assert run_module(main, path=str(path), import_path=str(old))['imported'] == 0


def test_a_password_in_the_url_is_masked_and_warned_about(run_module, listing, make_session, postgres_database,
                                                          monkeypatch):
    # ansible-core 2.19+ keeps warnings per process and drops repeats: record them where the module makes them.
    warnings = []
    original = AlicloudModule.warn
    monkeypatch.setattr(AlicloudModule, 'warn', lambda self, message: (warnings.append(message), original(self, message)))
    listing.sessions = [make_session('s-1')]
    result = run_module(main, database_url=postgres_database.dsn_with_password)
    assert not result['failed'], result
    assert postgres_database.password not in json.dumps(result) + json.dumps(warnings)
    assert '********' in result['database']
    assert len(warnings) == 1 and 'give it with database_password' in warnings[0]


def test_bad_options_fail_before_the_listing(run_module, listing, tmp_path):
    path = str(tmp_path / 'sessions.sqlite')
    for args, text in [
            (dict(path=path, concurrency=0), 'concurrency must be between 1 and 32, got 0'),
            (dict(path=path, listing_timeout=-1), 'listing_timeout must be more than 0'),
            (dict(path=path, keep_days=0), 'keep_days must be at least 1, got 0'),
            (dict(path=path, lock_timeout=-1), 'lock_timeout must be between 0 and'),
            (dict(path=str(tmp_path)), 'is a directory'),
            (dict(path=path, csv_path=path), 'csv_path and path name the same file'),
            (dict(path=path, jsonl_path=path + '-wal'), 'jsonl_path and path name the same file'),
            (dict(path=path, database_url='postgresql://u@127.0.0.1/d'), 'mutually exclusive'),
            (dict(), 'one of the following is required: path, database_url')]:
        result = run_module(main, **args)
        assert result['failed'] and text in result['msg'], (args, result['msg'])
    assert listing.calls == []


def test_without_psycopg_the_failure_names_it_and_masks_a_url_password(run_module, listing, monkeypatch):
    from ansible_collections.alicloud.ecs.plugins.modules import ecs_terminal_session_archive
    monkeypatch.setattr(ecs_terminal_session_archive, 'HAS_PSYCOPG', False)
    monkeypatch.setattr('ansible_collections.alicloud.ecs.plugins.module_utils.archive_store.HAS_PSYCOPG', False)
    result = run_module(main, database_url='postgresql://archiver:Wh0le-Secret%21@127.0.0.1:5432/sessions')
    assert result['failed'] and 'psycopg' in result['msg'] and listing.calls == []
    text = json.dumps(result)
    assert 'Wh0le-Secret' not in text, [(key, value) for key, value in result.items() if 'Wh0le-Secret' in json.dumps(value)]
    assert '********' in result['database']
