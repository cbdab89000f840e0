# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ending terminal sessions: which to end (pure), then EndTerminalSession one by one.

A session is ended only while it is open; one that is closing (Terminating) or closed is
skipped, so running the same task twice changes nothing the second time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import ACTIVE_STATUSES

Session = Dict[str, Any]

END_ACTION = 'EndTerminalSession'
CLOSING_STATUSES = frozenset(('Terminating',))


def state_of(session: Session, instance_ids: Optional[Iterable[str]] = None) -> str:
    """``open``, ``closing`` or ``closed``: over all connections, or only those to ``instance_ids``."""
    statuses = {conn.get('status') for conn in session.get('connections', ())
                if not instance_ids or conn.get('instance_id') in instance_ids}
    if statuses & ACTIVE_STATUSES:
        return 'open'
    if statuses & CLOSING_STATUSES:
        return 'closing'
    return 'closed'


def choose(sessions: Iterable[Session], instance_ids: Optional[Iterable[str]] = None) -> Tuple[List[Session], List[Session]]:
    """(sessions to end, skipped entries) for listed ``sessions``.

    With ``instance_ids`` a session is open when it is open on one of those instances; ending it
    closes it everywhere, so each target lists the other instances it reached.
    """
    targets, skipped = [], []
    selected = set(instance_ids or ())
    for session in sessions:
        state = state_of(session, selected)
        if state == 'open':
            targets.append(session)
            continue
        why = 'already closing (a connection is Terminating)' if state == 'closing' else 'already closed'
        on_selected = sorted(selected & set(session.get('instance_ids', ())))
        if on_selected:
            why += f" on {', '.join(on_selected)}"
        skipped.append(entry(session, reason=why))
    return targets, skipped


def entry(session: Session, **fields: Any) -> Session:
    """A result entry for ``session``: its ID, region and instances, plus ``fields``."""
    found = {'session_id': session['session_id'], 'region_id': session.get('region_id'),
             'instance_ids': list(session.get('instance_ids', ()))}
    found.update(fields)
    return found


def is_unknown_session(error: AlicloudError) -> bool:
    """The service does not know the session (HTTP 404 with a session error code)."""
    return error.http_status == 404 and 'Session' in (error.code or '')


def is_permission_refused(error: AlicloudError) -> bool:
    """RAM refused the call: HTTP 403 or a Forbidden code."""
    return error.http_status == 403 or (error.code or '').startswith('Forbidden')


class Outcome:
    """What ending the targets did: ``ended``, ``skipped``, ``failures``, and whether a refusal stopped the run."""

    def __init__(self):
        self.ended = []
        self.skipped = []
        self.failures = []
        self.refused = None


def end_sessions(client_for: Callable[[str], Any], policy: Any, counter: Any, targets: Iterable[Session],
                 selected: Iterable[str] = (), check_mode: bool = False,
                 describe_error: Callable[[AlicloudError], str] = str) -> Outcome:
    """Call EndTerminalSession for each target (a normalised session) in turn.

    A session the service does not know is skipped with its error code; a refused permission
    stops the run, the rest being skipped as not attempted; any other failure is recorded and
    the run goes on. In check mode nothing is called and every target is reported as ended.
    """
    outcome = Outcome()
    selected = set(selected)
    for session in targets:
        others = sorted(set(session.get('instance_ids', ())) - selected) if selected else []
        extra = {'other_instance_ids': others} if selected else {}
        if outcome.refused is not None:
            outcome.skipped.append(entry(session, reason='not attempted: the permission was refused for an earlier session'))
            continue
        if check_mode:
            outcome.ended.append(entry(session, **extra))
            continue
        client = client_for(session['region_id'])
        query = {'RegionId': session['region_id'], 'SessionId': session['session_id']}
        try:
            body = policy.call(lambda: client.call(END_ACTION, query), on_attempt=counter.increment)
        except AlicloudError as error:
            if is_unknown_session(error):
                outcome.skipped.append(entry(session, reason='the service does not know the session', error_code=error.code,
                                             request_id=error.request_id))
                continue
            failure = entry(session, msg=describe_error(error))
            failure.update(error.details())
            outcome.failures.append(failure)
            if is_permission_refused(error):
                outcome.refused = error
            continue
        outcome.ended.append(entry(session, request_id=body.get('RequestId'), **extra))
    return outcome


def unlisted_session(session_id: str, region_id: str) -> Session:
    """A stand-in record for a session ID the listing did not return: tried as it is."""
    return {'session_id': session_id, 'region_id': region_id, 'instance_ids': [], 'connections': []}


EXCLUDED = 'excluded by filters'
WOULD_BE_TRIED = ('would be tried: not in the listing, so the real run sends it to EndTerminalSession and reports '
                  'the service\'s answer')
NOT_TRIED_WITH_FILTERS = ('not found in the listing; not sent to EndTerminalSession, since the filters cannot be '
                          'checked for a session the service does not list')


def split_by_criteria(sessions: Iterable[Session], criteria: Any = None) -> Tuple[List[Session], List[Session]]:
    """(sessions that meet ``criteria``, a not-ended entry for each of the others), order kept.

    The sessions asked for by ID are listed without the criteria and split here, so an ID the filters
    exclude is told apart from one the service does not list: the first is never ended, the second may be tried.
    """
    if not criteria:
        return list(sessions), []
    selected, excluded = [], []
    for session in sessions:
        if criteria.match(session):
            selected.append(session)
        else:
            excluded.append(entry(session, reason=EXCLUDED))
    return selected, excluded


def unlisted(session_ids: Iterable[str], listed: Iterable[Session], region_ids: Sequence[str], filtered: bool = False,
             check_mode: bool = False) -> Tuple[List[Session], List[Session]]:
    """(stand-ins to send to EndTerminalSession, not-ended entries) for the IDs of ``session_ids`` not ``listed``.

    Only without filters is such an ID sent (in every region), to get the service's own error code; check mode
    reports it instead as would be tried (``would_try``), once. With filters it is never sent: nothing tells
    whether they would exclude it.
    """
    listed_ids = {session['session_id'] for session in listed}
    absent = [session_id for session_id in session_ids if session_id not in listed_ids]
    if filtered:
        return [], [entry(unlisted_session(session_id, region_ids[0]), reason=NOT_TRIED_WITH_FILTERS) for session_id in absent]
    if check_mode:
        return [], [entry(unlisted_session(session_id, region_ids[0]), reason=WOULD_BE_TRIED, would_try=True)
                    for session_id in absent]
    return [unlisted_session(session_id, region_id) for session_id in absent for region_id in region_ids], []
