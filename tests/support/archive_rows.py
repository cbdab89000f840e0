"""Archive rows for the reader's tests: varied sessions, and rows inserted as the store's schema says.

The rows follow the schema of plugins/module_utils/archive_store.py (version 1) through plain SQL, so the reader is
tested on data shaped exactly as the archive module's merge writes it, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json

REGIONS = ('cn-hangzhou', 'cn-shanghai', 'cn-beijing')
USERS = ('root', 'ecs-user', 'deploy', 'Root')


def canonical(record):
    return json.dumps(record, sort_keys=True, separators=(',', ':'))


def make_session(number):
    """A varied, deterministic session: regions, instances (some sessions reach two), users, times, statuses."""
    region = REGIONS[number % 3]
    instances = [f'i-{number % 7}'] + ([f'i-{(number + 1) % 7}'] if number % 5 == 0 else [])
    day = 1 + number % 28
    record = {
        'session_id': f's-{number:04d}',
        'region_id': region,
        'creation_time': f'2024-{1 + number % 2:02d}-{day:02d}T{number % 24:02d}:{number % 60:02d}:00Z',
        'username': USERS[number % 4],
        'client_ip': f'10.{number % 3}.0.{number % 250}',
        'principal_id': str(100 + number % 4),
        'identity_type': ('Account', 'RAMUser', 'AssumedRoleUser')[number % 3],
        'connections': [{'instance_id': instance, 'status': ('Connected', 'Terminated', 'Failed')[(number + k) % 3]}
                        for k, instance in enumerate(instances)],
        'instance_ids': sorted(instances),
    }
    if number % 6 == 0:
        record['port_number'] = 22
        record['target_server'] = '192.168.0.10'
    return record


SESSIONS = [make_session(number) for number in range(120)]


def insert(archive, records, archived_at='2024-03-01T00:00:00Z', updated_at=None):
    """Rows as the schema of the store says (direct SQL, as the archive module's merge writes them)."""
    p = archive.placeholder
    cursor = archive.connection.cursor()
    for seq, record in enumerate(records, 1):
        cursor.execute(f'INSERT INTO terminal_sessions (region_id, session_id, creation_time, record, archived_at, '
                       f'updated_at, change_seq) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})',
                       (record['region_id'], record['session_id'], record.get('creation_time', ''), canonical(record),
                        archived_at, updated_at, seq))
        for instance_id in record['instance_ids']:
            cursor.execute(f'INSERT INTO terminal_session_instances (instance_id, region_id, session_id) '
                           f'VALUES ({p}, {p}, {p})', (instance_id, record['region_id'], record['session_id']))
    cursor.close()
    if not getattr(archive.connection, 'autocommit', True):
        archive.connection.commit()


def populate(options, records, archived_at='2024-03-01T00:00:00Z', updated_at=None):
    """Create the store of module ``options`` (``path`` or ``database_url`` + ``database_password``) and add ``records``."""
    from ansible_collections.alicloud.ecs.plugins.module_utils.archive_store import ArchiveLocation, open_archive

    with open_archive(ArchiveLocation(**options), read_only=False, create=True, lock_timeout=10) as archive:
        insert(archive, records, archived_at, updated_at)
