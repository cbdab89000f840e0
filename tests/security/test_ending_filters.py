"""Issue 13, item 3: ecs_terminal_session never ends a session that its filters exclude.

Reproduced before the fix: ``session_id: <an admin's Connected session>`` with ``filters: {username: root}``
ended it in the real run (changed=true), while check mode reported it "not found in the listing". Now an ID
the filters exclude is in not_ended as "excluded by filters" and is never sent to EndTerminalSession; an ID
the service does not list is sent only without filters (check mode: "would be tried"); check mode and the
real run agree on every ID.
"""

from __future__ import annotations

from support.playbooks import connection

MODULE = 'alicloud.ecs.ecs_terminal_session'
CREATED = '2026-11-27T10:00:00Z'


def open_session(session_id, username, instance_id='i-admin'):
    return {
        'SessionId': session_id, 'CreationTime': CREATED, 'Username': username, 'ClientIP': '10.0.0.9',
        'PrincipalId': '20001', 'IdentityType': 'RAMUser', '_targets': [instance_id],
        'Connections': {'Connection': [{'InstanceId': instance_id, 'Status': 'Connected', 'StartTime': CREATED}]},
    }


def statuses(endpoint, session_id):
    return [conn['Status'] for session in endpoint.sessions('cn-hangzhou') if session['SessionId'] == session_id
            for conn in session['Connections']['Connection']]


def outcome(result):
    """The decision for every ID: ended, or not ended with the kind of reason (request IDs aside)."""
    decided = dict((item['session_id'], 'ended') for item in result['ended'])
    for item in result['not_ended']:
        decided[item['session_id']] = 'not_ended'
    return decided


def test_an_id_the_filters_exclude_is_never_ended_and_check_mode_agrees(runner, endpoint_factory, security_record):
    endpoint = endpoint_factory({'cn-hangzhou': 3})
    endpoint.add_sessions('cn-hangzhou', [open_session('s-admin-open', 'admin'), open_session('s-root-open', 'root')])
    args = connection(endpoint, session_id=['s-admin-open', 's-root-open', 's-unknown'], filters={'username': 'root'})

    checked = runner.run_module(args, module=MODULE, check=True).result
    real = runner.run_module(args, module=MODULE).result

    admin_after = statuses(endpoint, 's-admin-open')
    ended_by_service = endpoint.stats()['ended']
    wrongly_ended = ended_by_service.count('s-admin-open') + (admin_after != ['Connected'])
    security_record('ending', 'session_id of an admin Connected session with filters username=root (real run)',
                    'not ended; reported as excluded by filters; still Connected', wrongly_ended)
    security_record('ending', 'the same in check mode', 'reported as not ended, excluded by filters, like the real run',
                    int(outcome(checked) != outcome(real)))

    assert not real.get('failed'), real
    assert ended_by_service == ['s-root-open']
    assert admin_after == ['Connected']
    assert statuses(endpoint, 's-root-open') == ['Terminated']
    reasons = dict((item['session_id'], item['reason']) for item in real['not_ended'])
    assert reasons['s-admin-open'] == 'excluded by filters'
    # With filters, an ID the service does not list is not sent: nothing tells whether they would exclude it.
    assert reasons['s-unknown'].startswith('not found in the listing')
    assert endpoint.stats()['end_calls'] == 1
    assert real['changed'] is True and [item['session_id'] for item in real['ended']] == ['s-root-open']

    assert not checked.get('failed'), checked
    assert outcome(checked) == outcome(real) == {'s-root-open': 'ended', 's-admin-open': 'not_ended',
                                                 's-unknown': 'not_ended'}
    check_reasons = dict((item['session_id'], item['reason']) for item in checked['not_ended'])
    assert check_reasons == reasons


def test_an_unlisted_id_is_tried_only_without_filters_and_check_mode_says_would_be_tried(
        runner, endpoint_factory, security_record):
    endpoint = endpoint_factory({'cn-hangzhou': 3})
    endpoint.add_sessions('cn-hangzhou', [open_session('s-admin-open', 'admin')])
    args = connection(endpoint, session_id=['s-admin-open', 's-unknown'])

    checked = runner.run_module(args, module=MODULE, check=True).result
    assert endpoint.stats()['end_calls'] == 0
    real = runner.run_module(args, module=MODULE).result

    security_record('ending', 'session_id without filters: check mode and real run agree on a listed and an unlisted ID',
                    'same ended / not_ended sets; the unlisted ID tried in the real run only', int(outcome(checked) != outcome(real)))
    assert not checked.get('failed') and not real.get('failed'), (checked, real)
    assert outcome(checked) == outcome(real) == {'s-admin-open': 'ended', 's-unknown': 'not_ended'}
    would = [item for item in checked['not_ended'] if item['session_id'] == 's-unknown']
    assert would[0]['would_try'] is True and would[0]['reason'].startswith('would be tried')
    unknown = [item for item in real['not_ended'] if item['session_id'] == 's-unknown']
    assert unknown[0]['error_code'] == 'InvalidSessionId.NotFound' and 'would_try' not in unknown[0]
    assert sorted(endpoint.stats()['ended']) == ['s-admin-open'] and endpoint.stats()['end_calls'] == 2
