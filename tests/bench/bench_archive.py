#!/usr/bin/env python
"""Benchmark: the session archive's cost per run does not grow with the history it keeps (``make bench``, 10).

On SQLite and on PostgreSQL (the server of tests/tools/postgres.sh, which ``make bench`` starts):

1. One run of ecs_terminal_session_archive merging 1,000 listed sessions into archives of 1,000, 100,000 and
   1,000,000 records: wall time and peak RSS of the module process. The archives are filled by direct SQL (SQLite
   executemany, PostgreSQL COPY) in the module's schema, which a first run of the module creates; their records
   spread over the three listed regions and 10,000 instances. "1,000 new": each run lists a region with 1,000
   sessions the archive does not hold yet (three regions, best of three); "1,000 unchanged": the same listing again.
2. ecs_terminal_session_archive_info for one instance over the 1,000,000 records (best of three), next to the same
   module on an empty archive (its start-up).
3. The import of a version 1 JSON Lines archive of 1,000,000 records (``import_path``) into an empty store.

The local ECS endpoint (plain HTTP, no injected latency: the figures are the store's) runs in this process; the
modules run as processes of their own (python -m ..., as ansible-playbook's AnsiballZ would run them, without
Ansible's start-up). Prints the sections as markdown, and with ``--json FILE`` writes them and the goals for
run_benchmarks.py.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bench_support import CREDENTIALS, ACCESS_KEY_ID, ACCESS_KEY_SECRET, BenchError, Series, check, environment, mib, run_process
from ecs_endpoint.data import make_sessions, public_view
from ecs_endpoint.server import EcsEndpoint

from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import normalize_session
from support.postgres import PostgresServer, PostgresUnavailable

ARCHIVE = 'ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_archive'
ARCHIVE_INFO = 'ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_archive_info'
LISTED_REGIONS = ('cn-hangzhou', 'cn-shanghai', 'cn-qingdao')
FRESH_REGIONS = ('cn-beijing', 'cn-zhangjiakou', 'cn-huhehaote')  # 1,000 sessions each, never archived before a run
EMPTY_REGION = 'cn-wulanchabu'
LISTED = 1000
SIZES = (1000, 100000, 1000000)
INSTANCES = 10000
PROBE_INSTANCE = 'i-bench%05d' % 4242
IMPORT_COUNT = 1000000
GOAL_RATIO, GOAL_RSS_MIB, GOAL_INFO_S = 1.5, 150, 1.0
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
BATCH = 20000


def templates(count=1000):
    """Normalised records to vary (shaping a million records through the endpoint's generator would take minutes)."""
    start = datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc)
    return [normalize_session(public_view(raw), 'cn-hangzhou') for raw in make_sessions('cn-hangzhou', count, start=start)]


# Marks put into the template records, replaced by each record's values in the JSON text (a million JSON round trips
# would make filling the archive, which is not what is measured, take longer than the measurements).
MARKS = {'region_id': '@@REGION@@', 'session_id': '@@SESSION@@', 'creation_time': '@@CREATED@@', 'instance': '@@INSTANCE@@'}


def _marked(record, sort_keys):
    record = json.loads(json.dumps(record))
    record.update(region_id=MARKS['region_id'], session_id=MARKS['session_id'], creation_time=MARKS['creation_time'],
                  instance_ids=[MARKS['instance']])
    for connection in record['connections']:
        connection['instance_id'] = MARKS['instance']
    return json.dumps(record, sort_keys=sort_keys, separators=(',', ':'))


def archived_lines(count, sort_keys=True, extra=''):
    """(region, session ID, creation time, instance, JSON text) of ``count`` records spread over LISTED_REGIONS and
    INSTANCES instances, created a minute apart from 2023 on; canonical JSON (the store's) unless ``sort_keys`` is
    false (a version 1 line, with ``extra`` inserted before its closing brace)."""
    shapes = [_marked(record, sort_keys) for record in templates()]
    base = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc)
    for index in range(count):
        region = LISTED_REGIONS[index % len(LISTED_REGIONS)]
        instance = 'i-bench%05d' % (index % INSTANCES)
        session = 's-arch%08d' % index
        created = (base + datetime.timedelta(seconds=60 * index)).strftime(TIME_FORMAT)
        text = shapes[index % len(shapes)].replace(MARKS['region_id'], region).replace(MARKS['session_id'], session) \
            .replace(MARKS['creation_time'], created).replace(MARKS['instance'], instance)
        if extra:
            text = text[:-1] + extra + '}'
        yield region, session, created, instance, text


def rows_of(count, archived_at='2024-01-01T00:00:00Z'):
    for seq, (region, session, created, instance, text) in enumerate(archived_lines(count), 1):
        yield (region, session, created, text, archived_at, None, seq), [(instance, region, session)]


class Store:
    """A store of one kind: module options, a DB-API connection, bulk loading."""

    def __init__(self, kind, tmp, server, name):
        self.kind = kind
        self.server = server
        if kind == 'sqlite':
            self.path = Path(tmp) / ('%s.sqlite' % name)
            self.options = {'path': str(self.path)}
            self.database = None
        else:
            self.database = server.create_database('bench_%s' % name)
            self.options = {'database_url': self.database.url, 'database_password': self.database.password}

    def connect(self):
        if self.kind == 'sqlite':
            return sqlite3.connect(str(self.path), isolation_level=None)
        return self.database.connect(autocommit=True)

    def load(self, count):
        """Fill the archive (its schema already made by the module) with ``count`` records; returns seconds."""
        started = time.perf_counter()
        newest = {}
        connection = self.connect()
        try:
            if self.kind == 'sqlite':
                connection.execute('BEGIN')
                sessions, instances = [], []
                for session_row, instance_rows in rows_of(count):
                    sessions.append(session_row)
                    instances.extend(instance_rows)
                    newest[session_row[0]] = max(newest.get(session_row[0], ''), session_row[2])
                    if len(sessions) >= BATCH:
                        self._sqlite_flush(connection, sessions, instances)
                self._sqlite_flush(connection, sessions, instances)
            else:
                connection.autocommit = False
                with connection.cursor() as cursor:
                    with cursor.copy('COPY terminal_sessions (region_id, session_id, creation_time, record, archived_at, '
                                     'updated_at, change_seq) FROM STDIN') as copy_sessions:
                        instances = []
                        for session_row, instance_rows in rows_of(count):
                            copy_sessions.write_row(session_row)
                            instances.extend(instance_rows)
                            newest[session_row[0]] = max(newest.get(session_row[0], ''), session_row[2])
                    with cursor.copy('COPY terminal_session_instances (instance_id, region_id, session_id) FROM STDIN') as copy_instances:
                        for row in instances:
                            copy_instances.write_row(row)
            mark = '?' if self.kind == 'sqlite' else '%s'
            listed_at = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime(TIME_FORMAT)
            for region, created in newest.items():
                connection.execute('INSERT INTO archive_regions (region_id, last_complete_listing_at, newest_creation_time) '
                                   'VALUES ({0}, {0}, {0})'.format(mark), (region, listed_at, created))
            for name in ('change_seq', 'records'):
                connection.execute('UPDATE archive_counters SET value = {0} WHERE name = {0}'.format(mark), (count, name))
            if self.kind == 'sqlite':
                connection.execute('COMMIT')
            else:
                connection.commit()
            if self.kind == 'postgresql':
                connection.autocommit = True
                connection.execute('VACUUM ANALYZE')
            else:
                connection.execute('ANALYZE')
                connection.execute('PRAGMA wal_checkpoint(TRUNCATE)')
        finally:
            connection.close()
        return time.perf_counter() - started

    @staticmethod
    def _sqlite_flush(connection, sessions, instances):
        connection.executemany('INSERT INTO terminal_sessions (region_id, session_id, creation_time, record, archived_at, '
                               'updated_at, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?)', sessions)
        connection.executemany('INSERT INTO terminal_session_instances (instance_id, region_id, session_id) VALUES (?, ?, ?)',
                               instances)
        del sessions[:], instances[:]

    def count(self):
        connection = self.connect()
        try:
            return connection.execute('SELECT count(*) FROM terminal_sessions').fetchone()[0]
        finally:
            connection.close()

    def size(self):
        """Bytes the archive takes: the SQLite file, or the PostgreSQL database."""
        if self.kind == 'sqlite':
            return sum(path.stat().st_size for path in self.path.parent.glob(self.path.name + '*'))
        return self.database.query('SELECT pg_database_size(current_database())')[0][0]

    def drop(self):
        if self.kind == 'sqlite':
            for path in self.path.parent.glob(self.path.name + '*'):
                path.unlink()
        else:
            self.server.drop_database(self.database.name)


class ArchiveBench:
    def __init__(self, tmp, server, repeat, sizes=SIZES, import_count=IMPORT_COUNT):
        self.sizes = sizes
        self.import_count = import_count
        self.tmp = Path(tmp)
        self.env = environment(tmp)
        self.server = server
        self.repeat = repeat
        regions = {region: make_sessions(region, LISTED, seed=7) for region in LISTED_REGIONS + FRESH_REGIONS}
        regions[EMPTY_REGION] = []
        self.endpoint = EcsEndpoint(regions, credentials=CREDENTIALS, tls=False, max_logged_requests=0)
        self.sections = []
        self.goals = []

    def module(self, name, **args):
        base = {'endpoint': self.endpoint.endpoint, 'protocol': 'http', 'access_key_id': ACCESS_KEY_ID,
                'access_key_secret': ACCESS_KEY_SECRET}
        args_file = self.tmp / 'module_args.json'
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': dict(base if name == ARCHIVE else {}, **args)}))
        done = run_process([sys.executable, '-m', name, str(args_file)], self.env, timeout=3600)
        result = done.json()
        check(not result.get('failed'), '%s failed: %s' % (name.rsplit('.', 1)[-1], result.get('msg')))
        done.result = result
        return done

    def section(self, title, header, rows, notes=()):
        self.sections.append({'title': title, 'header': list(header), 'rows': [list(map(str, row)) for row in rows], 'notes': list(notes)})
        print('\n## %s\n' % title)
        print('| %s |' % ' | '.join(header))
        print('|%s' % ''.join(' --- |' for _column in header))
        for row in rows:
            print('| %s |' % ' | '.join(str(cell) for cell in row))
        for note in notes:
            print('\n' + note)
        sys.stdout.flush()

    def goal(self, what, figure, target, met, why=''):
        self.goals.append({'what': what, 'figure': figure, 'target': target, 'met': bool(met), 'why': why})
        print('goal: %s: %s (target %s) - %s%s' % (what, figure, target, 'met' if met else 'not met', ('; ' + why) if why else ''))

    # 1 + 2 ----------------------------------------------------------------------------------------------------------
    def merges(self, kind, info_rows):
        rows, runs = [], {}
        for size in self.sizes:
            store = Store(kind, self.tmp, self.server, 'merge%d' % size)
            try:
                self.module(ARCHIVE, region_id=[EMPTY_REGION], **store.options)  # the module makes the schema
                load = store.load(size)
                check(store.count() == size, '%s: %d records loaded, %d expected' % (kind, store.count(), size))
                new_runs, same_runs = Series(), Series()
                peak_new, peak_same = 0, 0
                for region in FRESH_REGIONS[:self.repeat]:
                    done = self.module(ARCHIVE, region_id=[region], **store.options)
                    check(done.result['added'] == LISTED and done.result['listed'] == LISTED, '%s %d: %s' % (kind, size, done.result))
                    new_runs.add(done.wall)
                    peak_new = max(peak_new, done.peak_rss)
                for _repeat in range(self.repeat):
                    done = self.module(ARCHIVE, region_id=[FRESH_REGIONS[0]], **store.options)
                    check(done.result['added'] == 0 and done.result['updated'] == 0, '%s %d: %s' % (kind, size, done.result))
                    same_runs.add(done.wall)
                    peak_same = max(peak_same, done.peak_rss)
                runs[size] = (new_runs, peak_new)
                rows.append((kind, '{:,}'.format(size), '%.1f' % load, '%.0f' % (store.size() / 1048576.0), new_runs.fmt(),
                             '%.0f' % mib(peak_new), same_runs.fmt(), '%.0f' % mib(peak_same)))
                print('merge: %s' % ' | '.join(rows[-1]))
                sys.stdout.flush()
                if size == self.sizes[-1]:
                    info_rows.extend(self.info(kind, store, size))
            finally:
                store.drop()
        small, large = runs[self.sizes[0]], runs[self.sizes[-1]]
        ratio = large[0].best / small[0].best
        self.goal('%s: one run merging 1,000 listed records into %s vs %s archived' % (kind, '{:,}'.format(self.sizes[-1]),
                                                                                       '{:,}'.format(self.sizes[0])),
                  '%.2fx (%.2f s vs %.2f s)' % (ratio, large[0].best, small[0].best), '<= %.1fx' % GOAL_RATIO, ratio <= GOAL_RATIO)
        self.goal('%s: peak RSS of that run at %s records' % (kind, '{:,}'.format(self.sizes[-1])), '%.0f MiB' % mib(large[1]), '< %d MiB' % GOAL_RSS_MIB,
                  mib(large[1]) < GOAL_RSS_MIB)
        return rows

    def info(self, kind, store, size):
        expected = size // INSTANCES + (1 if int(PROBE_INSTANCE[-5:]) < size % INSTANCES else 0)
        times, peak, found = Series(), 0, None
        for _repeat in range(self.repeat):
            done = self.module(ARCHIVE_INFO, instance_id=[PROBE_INSTANCE], **store.options)
            found = len(done.result['sessions'])
            check(found == expected, 'archive_info returned %d sessions of %s, expected %d' % (found, PROBE_INSTANCE, expected))
            times.add(done.wall)
            peak = max(peak, done.peak_rss)
        empty = Store(kind, self.tmp, self.server, 'empty')
        try:
            self.module(ARCHIVE, region_id=[EMPTY_REGION], **empty.options)
            baseline = Series()
            for _repeat in range(self.repeat):
                baseline.add(self.module(ARCHIVE_INFO, instance_id=[PROBE_INSTANCE], **empty.options).wall)
        finally:
            empty.drop()
        print('archive_info: %s %d: %s, empty archive %s' % (kind, size, times.fmt(), baseline.fmt()))
        why = ''
        if times.best >= GOAL_INFO_S:
            why = ('the module\'s start-up: the same module on an empty archive takes %.2f s; the query over %s records adds '
                   '%.2f s' % (baseline.best, '{:,}'.format(size), max(times.best - baseline.best, 0)))
        self.goal('%s: ecs_terminal_session_archive_info, one instance over %s records' % (kind, '{:,}'.format(size)), '%.2f s' % times.best,
                  '< %.0f s' % GOAL_INFO_S, times.best < GOAL_INFO_S, why)
        return [(kind, '{:,}'.format(size), found, times.fmt(), '%.0f' % mib(peak), baseline.fmt())]

    # 3 ------------------------------------------------------------------------------------------------------------
    def imports(self, kind, source, source_size):
        store = Store(kind, self.tmp, self.server, 'import')
        try:
            done = self.module(ARCHIVE, region_id=[EMPTY_REGION], import_path=str(source), **store.options)
            check(done.result['imported'] == self.import_count and store.count() == self.import_count,
                  '%s import: %s imported, %d stored' % (kind, done.result.get('imported'), store.count()))
            size = store.size()
        finally:
            store.drop()
        return (kind, '{:,}'.format(self.import_count), '%.0f' % (source_size / 1048576.0), '%.1f' % done.wall,
                '{:,.0f}'.format(self.import_count / done.wall), '%.0f' % mib(done.peak_rss), '%.0f' % (size / 1048576.0),
                '%.0f' % (size / float(self.import_count)))


def write_v1(path, count):
    with open(path, 'w', encoding='utf-8') as stream:
        stream.write(json.dumps({'_archive_format': 'alicloud.ecs.terminal_sessions', 'version': 1, 'records': count}) + '\n')
        for line in archived_lines(count, sort_keys=False, extra=',"_archive":{"archived_at":"2024-01-01T00:00:00Z"}'):
            stream.write(line[-1] + '\n')
    return path.stat().st_size


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--repeat', type=int, default=3, help='runs of each timed figure (default 3, at most 3)')
    parser.add_argument('--json', type=Path, help='write the sections and goals here (for run_benchmarks.py)')
    parser.add_argument('--stores', default='sqlite,postgresql', help='stores to measure (default sqlite,postgresql)')
    parser.add_argument('--sizes', type=lambda text: tuple(int(part) for part in text.split(',')), default=SIZES,
                        help='archive sizes (default 1000,100000,1000000; for a quick try only)')
    parser.add_argument('--import-count', type=int, default=IMPORT_COUNT, help='records of the import (default 1,000,000)')
    args = parser.parse_args()
    args.repeat = max(1, min(args.repeat, len(FRESH_REGIONS)))
    try:
        server = PostgresServer.from_state()
    except PostgresUnavailable as error:
        raise BenchError(str(error))
    started = time.time()
    with tempfile.TemporaryDirectory(prefix='alicloud-ecs-bench-archive-') as tmp:
        bench = ArchiveBench(tmp, server, args.repeat, args.sizes, args.import_count)
        bench.endpoint.start()
        try:
            merge_rows, info_rows, import_rows = [], [], []
            kinds = args.stores.split(',')
            for kind in kinds:
                merge_rows.extend(bench.merges(kind, info_rows))
            source = Path(tmp) / 'v1.jsonl'
            source_size = write_v1(source, args.import_count)
            for kind in kinds:
                import_rows.append(bench.imports(kind, source, source_size))
                print('import: %s' % ' | '.join(import_rows[-1]))
                sys.stdout.flush()
        finally:
            bench.endpoint.stop()
    wall = time.time() - started
    bench.section('12. The archive: one run merging 1,000 listed records into archives of growing size', (
        'store', 'archived records', 'filled by direct SQL in s', 'archive MiB', '1,000 new: module process s', 'peak RSS MiB',
        '1,000 unchanged: s', 'peak RSS MiB'), merge_rows, [
        'Each archive holds its records over the three listed regions and %s instances, filled by direct SQL (not '
        'timed as a run). "1,000 new": a run listing a region with 1,000 sessions the archive does not hold (best of %d, '
        'a new region each time); "1,000 unchanged": a region listed again. The module process alone (python -m, as '
        'AnsiballZ runs it; ansible-playbook\'s own start-up excluded), against the local endpoint without latency, so '
        'the figures are the listing of 10 pages plus the store\'s work.' % ('{:,}'.format(INSTANCES), args.repeat)])
    bench.section('12a. ecs_terminal_session_archive_info: one instance over %s archived records' % '{:,}'.format(args.sizes[-1]), (
        'store', 'archived records', 'sessions returned', 'module process s', 'peak RSS MiB', 'same module, empty archive: s'),
        info_rows, ['Best of %d. The instance index (terminal_session_instances) finds the instance\'s sessions; the '
                    'empty archive shows what the module\'s start-up costs by itself.' % args.repeat])
    bench.section('12b. Importing a version 1 JSON Lines archive of %s records (import_path)' % '{:,}'.format(args.import_count), (
        'store', 'records', 'file MiB', 'module process s', 'records per second', 'peak RSS MiB', 'archive MiB after',
        'bytes per record'), import_rows, ['One run each, into an empty store, with a listing of an empty region in the '
                                           'same transaction. The file is streamed in batches of 500 records.'])
    print('\narchive benchmark done in %.0f s' % wall)
    if args.json:
        args.json.write_text(json.dumps({'sections': bench.sections, 'goals': bench.goals, 'wall': wall}))


if __name__ == '__main__':
    try:
        main()
    except BenchError as error:
        sys.stderr.write('archive benchmark failed: %s\n' % error)
        sys.exit(1)
    sys.exit(0)
