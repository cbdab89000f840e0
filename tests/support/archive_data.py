"""Session records for the archive's concurrency, fault and benchmark runs, and version 1 JSON Lines archives of them.

A version 1 archive (the format of earlier releases, now the input of ``import_path``) is written here from its
description - a header line ``{"_archive_format": "alicloud.ecs.terminal_sessions", "version": 1, "records": N}``,
then one normalised session record a line with its bookkeeping ``_archive`` - streamed, so a million records need no
memory to speak of.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator

from ecs_endpoint.data import make_sessions, public_view

from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import normalize_session

V1_FORMAT = 'alicloud.ecs.terminal_sessions'


def normalised_sessions(region: str, count: int, seed: int = 0, start: Any = None, first_index: int = 0,
                        instance_ids=None) -> Iterator[Dict[str, Any]]:
    """``count`` seeded sessions of ``region`` as the module stores them (newest first)."""
    for raw in make_sessions(region, count, instance_ids=instance_ids, seed=seed, start=start, first_index=first_index):
        yield normalize_session(public_view(raw), region)


def canonical_json(record: Dict[str, Any]) -> str:
    """The store's form of a record: sorted keys, no spaces."""
    return json.dumps(record, sort_keys=True, separators=(',', ':'))


def write_v1_archive(path: Path, records: Iterable[Dict[str, Any]], count: int, archived_at: str = '2024-01-01T00:00:00Z') -> int:
    """Write a version 1 archive of ``count`` records; returns its size in bytes."""
    written = 0
    with open(path, 'w', encoding='utf-8') as stream:
        stream.write(json.dumps({'_archive_format': V1_FORMAT, 'version': 1, 'records': count}, separators=(',', ':')) + '\n')
        for record in records:
            line = dict(record)
            line['_archive'] = {'archived_at': archived_at}
            stream.write(json.dumps(line, separators=(',', ':')) + '\n')
            written += 1
    assert written == count, 'wrote %d records, the header says %d' % (written, count)
    return path.stat().st_size
