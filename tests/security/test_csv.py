"""Issue 13, item 11: the CSV export neutralises every cell a spreadsheet could read as a formula.

Before the fix only ``= + - @``, tab and carriage return got the leading ``'``; a cell starting with a space,
a line feed or the fullwidth ``＝＋－＠`` (which spreadsheets may fold to ASCII, and leading white space they
skip before looking for ``=``) went out as it was. Sessions whose username and target_server start with
those characters are archived with csv_path; every cell of the export must start with something harmless.
"""

from __future__ import annotations

import csv
import io

from support.playbooks import connection

ARCHIVE = 'alicloud.ecs.ecs_terminal_session_archive'
# Formula starts a spreadsheet honours, directly or after skipping leading white space.
PAYLOADS = {
    'space': ' =1+2',
    'line feed': '\n=1+2',
    'fullwidth equals': '\uff1dcmd|\' /C calc\'!A0',
    'fullwidth plus': '\uff0b1+2',
    'fullwidth minus': '\uff0d1+2',
    'fullwidth at': '\uff20SUM(1+2)',
    'ideographic space': '\u3000=1+2',
    'tab then equals': '\t=1+2',
}
DANGEROUS_STARTS = ('=', '+', '-', '@', '\uff1d', '\uff0b', '\uff0d', '\uff20')


def session(index, name, text):
    created = '2026-11-27T10:%02d:00Z' % index
    return {
        'SessionId': 's-csv-%02d' % index, 'CreationTime': created, 'Username': text, 'ClientIP': '10.0.0.9',
        'PrincipalId': '20001', 'IdentityType': 'RAMUser', 'TargetServer': text, 'PortNumber': 22,
        '_targets': ['i-csv'], '_case': name,
        'Connections': {'Connection': [{'InstanceId': 'i-csv', 'Status': 'Connected', 'StartTime': created}]},
    }


def unsafe(cell):
    """Whether a spreadsheet could take ``cell`` for a formula: a sign first, or after leading white space."""
    return cell.startswith(DANGEROUS_STARTS) or cell[:1].isspace() or cell.lstrip().startswith(DANGEROUS_STARTS)


def test_cells_starting_with_white_space_or_fullwidth_signs_are_neutralised(
        runner, endpoint_factory, tmp_path, security_record):
    endpoint = endpoint_factory({'cn-hangzhou': 0})
    seeded = [session(index, name, text) for index, (name, text) in enumerate(sorted(PAYLOADS.items()))]
    for record in seeded:
        record.pop('_case')
    endpoint.add_sessions('cn-hangzhou', seeded)
    directory = tmp_path / 'archive'
    directory.mkdir(mode=0o700)
    csv_path = directory / 'sessions.csv'
    run = runner.run_module(connection(endpoint, path=str(directory / 'sessions.jsonl'), csv_path=str(csv_path)),
                            module=ARCHIVE)
    assert not run.result.get('failed'), run.result
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding='utf-8'), newline='')))
    by_id = dict((row['session_id'], row) for row in rows)
    for index, (name, text) in enumerate(sorted(PAYLOADS.items())):
        row = by_id['s-csv-%02d' % index]
        hits = sum(unsafe(row[column]) for column in ('username', 'target_server'))
        security_record('injection', 'CSV cell starting with %s (%r)' % (name, text[:3]),
                        'cells that a spreadsheet could read as a formula', hits)
        assert hits == 0, (name, row)
        assert row['username'] == "'" + text and row['target_server'] == "'" + text
    assert not [cell for row in rows for cell in row.values() if unsafe(cell)]
