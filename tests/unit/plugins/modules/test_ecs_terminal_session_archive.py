"""main() of ecs_terminal_session_archive with the listing patched: no endpoint, no playbook."""

from __future__ import annotations

from ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_archive import main


def test_creates_the_archive(run_module, listing, make_session, tmp_path):
    listing.sessions = [make_session('s-1'), make_session('s-2', creation_time='2024-01-18T09:15:46Z')]
    path = tmp_path / 'sessions.json'
    result = run_module(main, path=str(path), concurrency=2)
    assert not result['failed'] and result['changed'] and result['created']
    assert result['added'] == 2 and result['records'] == 2 and result['listed'] == 2
    assert path.exists() and 's-1' in path.read_text()
    assert listing.calls[0]['concurrency'] == 2 and listing.calls[0]['criteria'] is None
    again = run_module(main, path=str(path))
    assert not again['failed'] and not again['changed'] and again['unchanged'] == 2


def test_check_mode_writes_nothing(run_module, listing, make_session, tmp_path):
    listing.sessions = [make_session('s-1')]
    path = tmp_path / 'sessions.json'
    result = run_module(main, path=str(path), _ansible_check_mode=True)
    assert not result['failed'] and result['changed'] and result['added'] == 1
    assert not path.exists()


def test_a_listing_failure_leaves_the_archive_as_it_was(run_module, listing, make_session, throttled, tmp_path):
    listing.sessions = [make_session('s-1')]
    path = tmp_path / 'sessions.json'
    assert not run_module(main, path=str(path))['failed']
    before = path.read_bytes()
    listing.error = throttled
    result = run_module(main, path=str(path))
    assert result['failed'] and result['msg'].startswith('Failed to list terminal sessions (region cn-hangzhou)')
    assert result['path'] == str(path) and result['region_id'] == 'cn-hangzhou' and result['error_code'] == 'Throttling'
    assert path.read_bytes() == before


def test_bad_options_fail_before_the_listing(run_module, listing, tmp_path):
    path = str(tmp_path / 'sessions.json')
    for args, text in [
            (dict(path=path, concurrency=0), 'concurrency must be between 1 and 32, got 0'),
            (dict(path=path, listing_timeout=-1), 'listing_timeout must be more than 0'),
            (dict(path=path, keep_days=0), 'keep_days must be at least 1, got 0'),
            (dict(path=path, lock_timeout=-1), 'lock_timeout must be between 0 and'),
            (dict(path=str(tmp_path)), 'is a directory'),
            (dict(path=path, csv_path=path), 'csv_path must be neither the archive itself')]:
        result = run_module(main, **args)
        assert result['failed'] and text in result['msg'], (args, result['msg'])
        assert result.get('path') == args['path']
    assert listing.calls == []
