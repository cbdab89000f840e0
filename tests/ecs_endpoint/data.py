"""Deterministic, seeded DescribeTerminalSessions records in the real API shape."""
from __future__ import annotations

import datetime
import random
import re

TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'

_REGION_SHORT = {
    'cn-hangzhou': 'hz', 'cn-shanghai': 'sh', 'cn-beijing': 'bj', 'cn-shenzhen': 'sz',
    'cn-qingdao': 'qd', 'cn-zhangjiakou': 'zjk', 'cn-hongkong': 'hk', 'ap-southeast-1': 'sg',
    'us-west-1': 'usw1', 'eu-central-1': 'euc1',
}
USERNAMES = ('root', 'root', 'ecs-user', 'ecs-user', 'admin', 'deploy', 'ubuntu')
IDENTITY_TYPES = ('Account', 'RAMUser', 'RAMUser', 'AssumedRoleUser')
CLOSED_OK = ('ClientClosed', 'AgentSocketClosed')
FAILED_REASONS = ('InstanceNotExists', 'InstanceNotRunning', 'DeliveryTimeout', 'AgentNeedUpgrade',
                  'AgentNotOnline', 'MessageFormatInvalid')
FAILED_DETAIL = {
    'InstanceNotExists': 'The specified instance does not exist or has been released.',
    'InstanceNotRunning': 'The specified instance is not in the Running state.',
    'DeliveryTimeout': 'The connection request was not delivered to the instance in time.',
    'AgentNeedUpgrade': 'Cloud Assistant Agent on the instance must be upgraded to support Session Manager.',
    'AgentNotOnline': 'Cloud Assistant Agent is not connected to the Cloud Assistant server.',
    'MessageFormatInvalid': 'The message format is invalid.',
}
ACTIVE_STATUSES = ('Connected', 'Connected', 'Connecting', 'Terminating')


def region_short(region_id: str) -> str:
    """Short tag used in generated IDs (``cn-hangzhou`` -> ``hz``)."""
    return _REGION_SHORT.get(region_id) or re.sub('[^a-z0-9]', '', region_id.lower())


def default_instance_ids(region_id: str, count: int = 5) -> list:
    """``i-<short><nnn>`` instance IDs for a region."""
    return ['i-%s%03d' % (region_short(region_id), n + 1) for n in range(count)]


def _fmt(moment: datetime.datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def _principal(rng: random.Random, identity: str) -> str:
    if identity == 'Account':
        return '1%015d' % rng.randrange(10 ** 15)
    if identity == 'RAMUser':
        return '2%015d' % rng.randrange(10 ** 15)
    return '3%015d:%s' % (rng.randrange(10 ** 15), rng.choice(('ops-session', 'ci-runner', 'alice')))


def _client_ip(rng: random.Random) -> str:
    net = rng.choice(('203.0.113', '198.51.100', '192.0.2', '10.20.30'))
    return '%s.%d' % (net, rng.randrange(1, 255))


def _connection(rng: random.Random, instance_id: str, created: datetime.datetime, active: bool) -> dict:
    started = created + datetime.timedelta(seconds=rng.randrange(0, 6))
    conn = {'InstanceId': instance_id, 'StartTime': _fmt(started)}
    if active:
        conn['Status'] = rng.choice(ACTIVE_STATUSES)
        return conn
    ended = started + datetime.timedelta(seconds=rng.randrange(3, 7200))
    roll = rng.random()
    if roll < 0.15:
        reason = rng.choice(FAILED_REASONS)
        ended = started + datetime.timedelta(seconds=rng.randrange(1, 30))
        conn.update(Status='Failed', ClosedReason=reason, FailedDetail=FAILED_DETAIL[reason])
    elif roll < 0.6:
        conn.update(Status='Disconnected', ClosedReason=rng.choice(CLOSED_OK))
    else:
        conn.update(Status='Terminated', ClosedReason=rng.choice(CLOSED_OK))
    conn['EndTime'] = _fmt(ended)
    return conn


def make_sessions(region_id, count, instance_ids=None, seed=0, start=None, first_index=0):
    """Return ``count`` session dicts, newest first (CreationTime strictly decreasing).

    Everything is a function of (region_id, count, instance_ids, seed, start, first_index).
    ``start`` (datetime or ``YYYY-MM-DDTHH:MM:SSZ``) is the newest CreationTime; it defaults
    to the current UTC time truncated to the minute so records fall in the 4-week retention.
    ``first_index`` offsets the numbers in SessionId (``s-<short>-<n>``) so later batches stay unique.
    Each dict carries ``_targets`` (instances the session aimed at), never sent to clients.
    """
    rng = random.Random('%s|%s|%s' % (region_id, seed, first_index))
    instances = list(instance_ids) if instance_ids else default_instance_ids(region_id)
    if start is None:
        start = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    elif isinstance(start, str):
        start = datetime.datetime.strptime(start, TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)
    short = region_short(region_id)
    created = start
    sessions = []
    for i in range(count):
        if i:
            created -= datetime.timedelta(seconds=rng.randrange(30, 5400))
        identity = rng.choice(IDENTITY_TYPES)
        session = {
            'SessionId': 's-%s-%06d' % (short, first_index + count - i),
            'CreationTime': _fmt(created),
            'Username': rng.choice(USERNAMES),
            'ClientIP': _client_ip(rng),
            'PrincipalId': _principal(rng, identity),
            'IdentityType': identity,
        }
        if rng.random() < 0.15:
            session['PortNumber'] = rng.choice((22, 3306, 5432, 6379, 8080))
            if rng.random() < 0.5:
                session['TargetServer'] = '192.168.0.%d' % rng.randrange(2, 250)
        roll = rng.random()
        targets = [rng.choice(instances)]
        if roll < 0.05 and len(instances) > 1:
            targets.append(rng.choice([x for x in instances if x != targets[0]]))
        active = i < max(1, count // 20) and rng.random() < 0.5
        if 0.05 <= roll < 0.08:
            connections = []
        else:
            connections = [_connection(rng, inst, created, active) for inst in targets]
        session['Connections'] = {'Connection': connections}
        session['_targets'] = targets
        sessions.append(session)
    return sessions


def public_view(session: dict) -> dict:
    """Copy of a session without internal (``_``-prefixed) keys, connections copied too."""
    out = {k: v for k, v in session.items() if not k.startswith('_')}
    conns = session.get('Connections', {}).get('Connection', [])
    out['Connections'] = {'Connection': [dict(c) for c in conns]}
    return out


def session_matches(session: dict, instance_id=None, session_id=None) -> bool:
    """Server-side filter: by SessionId and by targeted/connected InstanceId."""
    if session_id and session.get('SessionId') != session_id:
        return False
    if instance_id:
        conns = session.get('Connections', {}).get('Connection', [])
        targeted = set(session.get('_targets', [])) | {c.get('InstanceId') for c in conns}
        if instance_id not in targeted:
            return False
    return True


def custom_session(session_id, instance_id, creation_time, connection=None, targets=None, **fields):
    """One raw session record with the field values a test chooses (API names: ``Username='root'``).

    ``connection`` holds the fields of its single connection (``Status``, ``ClosedReason``...), whose
    ``InstanceId`` defaults to ``instance_id``; ``None`` gives a Disconnected connection. ``targets``:
    the instances it aimed at (by default ``instance_id``), for the endpoint's InstanceId filter.
    """
    conn = {'InstanceId': instance_id, 'StartTime': creation_time, 'EndTime': creation_time,
            'Status': 'Disconnected', 'ClosedReason': 'ClientClosed'}
    conn.update(connection or {})
    session = {'SessionId': session_id, 'CreationTime': creation_time}
    session.update(fields)
    session['Connections'] = {'Connection': [conn]}
    session['_targets'] = list(targets) if targets is not None else [instance_id]
    return session
