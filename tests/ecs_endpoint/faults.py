"""Fault-injection plan: validated settings and the per-call decisions they lead to."""
from __future__ import annotations

import random
import threading
import time

from ecs_endpoint.errors import ApiError

DEFAULTS = {
    'throttle_first': 0,
    'throttle_code': 'Throttling.User',
    'throttle_status': 400,
    'throttle_retry_after_ms': None,
    'unavailable_first': 0,
    'error_rate': 0.0,
    'error_seed': 0,
    'latency_ms': 0,
    'token_loop': None,
    'malformed': None,
    'malformed_on_call': None,
    'empty_page_with_token': False,
    'forbidden': False,
    'reset_connection_on_call': None,
    'hang_on_call': None,
    'hang_seconds': 15.0,
    'rate_limit_per_second': None,
    'last_page_token_style': None,
    'end_forbidden': False,
    'end_failing_sessions': None,
    # Unbounded work: a fresh NextToken on every page, for ever (pages past the data are empty).
    'endless_tokens': False,
    # A 200 whose body is sent ``trickle_bytes_per_second`` at a time (headers at once, full Content-Length), on the
    # calls of ``trickle_on_call`` (every call when None); the endpoint gives up after ``trickle_max_seconds`` and
    # cuts the connection, so a client that never aborts still ends.
    'trickle_bytes_per_second': None,
    'trickle_max_seconds': 60.0,
    'trickle_on_call': None,
    # An HTTP 3xx with ``Location: redirect_location`` instead of an answer, before any signature check.
    'redirect_status': None,
    'redirect_location': None,
    # When set, DescribeTerminalSessions faults apply to calls for these regions only (the others are answered plainly).
    'only_regions': None,
}
TOKEN_LOOPS = (None, 'same', 'cycle')
MALFORMED = (None, 'truncated_json', 'html_502', 'xml_error')
TOKEN_STYLES = (None, 'absent', 'empty')

ACCESS_DENIED_DETAIL = {
    'PolicyType': 'AccountLevelIdentityBasedPolicy',
    'AuthPrincipalOwnerId': '1234567890123456',
    'AuthPrincipalType': 'SubUser',
    'AuthPrincipalDisplayName': 'session-auditor',
    'NoPermissionType': 'ImplicitDeny',
    'AuthAction': 'ecs:DescribeTerminalSessions',
    'EncodedDiagnosticMessage': 'AQEAAAAAaFtUZWtkZW1vLWRpYWdub3N0aWMtbWVzc2FnZS1ub3QtcmVhbA==',
}


def _calls(name, value):
    """None, or a frozenset of 1-based call numbers (int or list of ints)."""
    if value is None:
        return None
    values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError('%s must be a positive call number or a list of them' % name)
    return frozenset(values)


def _count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError('%s must be a non-negative integer' % name)
    return value


def _number(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError('%s must be a non-negative number' % name)
    return value


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError('%s must be one of %r' % (name, allowed))
    return value


def validate(settings: dict) -> dict:
    """Full, checked fault configuration (defaults filled in); ValueError on a bad key or value."""
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ValueError('unknown fault keys: %s' % ', '.join(unknown))
    cfg = dict(DEFAULTS)
    cfg.update(settings)
    for key in ('throttle_first', 'unavailable_first', 'error_seed'):
        cfg[key] = _count(key, cfg[key])
    for key in ('malformed_on_call', 'reset_connection_on_call', 'hang_on_call', 'trickle_on_call'):
        _calls(key, cfg[key])
    if not isinstance(cfg['throttle_code'], str) or not cfg['throttle_code']:
        raise ValueError('throttle_code must be a string')
    if cfg['throttle_status'] not in (400, 429, 503):
        raise ValueError('throttle_status must be 400, 429 or 503')
    _number('throttle_retry_after_ms', cfg['throttle_retry_after_ms'], allow_none=True)
    _number('hang_seconds', cfg['hang_seconds'])
    _number('rate_limit_per_second', cfg['rate_limit_per_second'], allow_none=True)
    if cfg['rate_limit_per_second'] == 0:
        raise ValueError('rate_limit_per_second must be positive')
    rate = _number('error_rate', cfg['error_rate'])
    if rate > 1:
        raise ValueError('error_rate must be within 0..1')
    latency = cfg['latency_ms']
    if isinstance(latency, (list, tuple)):
        if len(latency) != 2 or _number('latency_ms', latency[0]) > _number('latency_ms', latency[1]):
            raise ValueError('latency_ms pair must be (min, max)')
        cfg['latency_ms'] = [latency[0], latency[1]]
    else:
        _number('latency_ms', latency)
    _choice('token_loop', cfg['token_loop'], TOKEN_LOOPS)
    _choice('malformed', cfg['malformed'], MALFORMED)
    _choice('last_page_token_style', cfg['last_page_token_style'], TOKEN_STYLES)
    for key in ('empty_page_with_token', 'forbidden', 'end_forbidden', 'endless_tokens'):
        if not isinstance(cfg[key], bool):
            raise ValueError('%s must be a boolean' % key)
    failing = cfg['end_failing_sessions']
    if failing is not None and (not isinstance(failing, (list, tuple)) or not all(isinstance(item, str) for item in failing)):
        raise ValueError('end_failing_sessions must be a list of session IDs')
    if _number('trickle_bytes_per_second', cfg['trickle_bytes_per_second'], allow_none=True) == 0:
        raise ValueError('trickle_bytes_per_second must be positive')
    if not 0 < _number('trickle_max_seconds', cfg['trickle_max_seconds']) <= 600:
        raise ValueError('trickle_max_seconds must be within 0..600 (the endpoint always stops by itself)')
    status = cfg['redirect_status']
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 300 <= status <= 399):
        raise ValueError('redirect_status must be an HTTP 3xx status')
    if (status is None) != (cfg['redirect_location'] is None) or not isinstance(cfg['redirect_location'], (str, type(None))):
        raise ValueError('redirect_status and redirect_location (a string) go together')
    regions = cfg['only_regions']
    if regions is not None and (not isinstance(regions, (list, tuple)) or not all(isinstance(item, str) for item in regions)):
        raise ValueError('only_regions must be a list of region IDs')
    return cfg


class CallPlan:
    """What the faults decided for one DescribeTerminalSessions call."""

    def __init__(self, index):
        self.index = index
        self.reset = False
        self.hang_seconds = 0.0
        self.latency_seconds = 0.0
        self.error = None
        self.fault_name = None
        self.malformed = None
        self.token_loop = None
        self.empty_first_page = False
        self.last_page_token_style = None
        self.endless_tokens = False
        self.trickle = None  # (bytes per second, max seconds)
        self.redirect = None  # (status, location)


class FaultPlan:
    """Thread-safe fault state; call numbers restart at 1 whenever the settings are replaced."""

    def __init__(self, settings=None):
        self._lock = threading.Lock()
        self._apply(validate(settings or {}))

    def _apply(self, cfg):
        self._cfg = cfg
        self._index = 0
        self._rng = random.Random(cfg['error_seed'])
        self._latency_rng = random.Random(cfg['error_seed'] + 1)
        rate = cfg['rate_limit_per_second']
        self._bucket = float(max(1.0, rate)) if rate else 0.0
        self._bucket_time = time.monotonic()

    def replace(self, settings: dict) -> dict:
        """Replace every setting (unspecified ones back to defaults); returns the new config."""
        cfg = validate(settings)
        with self._lock:
            self._apply(cfg)
            return dict(cfg)

    def config(self) -> dict:
        """Snapshot of the current settings."""
        with self._lock:
            return dict(self._cfg)

    def _rate_limited(self, rate) -> bool:
        now = time.monotonic()
        self._bucket = min(float(max(1.0, rate)), self._bucket + (now - self._bucket_time) * rate)
        self._bucket_time = now
        if self._bucket >= 1.0:
            self._bucket -= 1.0
            return False
        return True

    def begin_call(self, region=None) -> CallPlan:
        """Number this call and decide every fault for it (none when ``only_regions`` leaves ``region`` out)."""
        with self._lock:
            cfg = self._cfg
            self._index += 1
            plan = CallPlan(self._index)
            idx = plan.index
            if cfg['only_regions'] is not None and region not in cfg['only_regions']:
                return plan
            plan.endless_tokens = cfg['endless_tokens']
            if cfg['trickle_bytes_per_second'] and idx in (_calls('t', cfg['trickle_on_call']) or (idx,)):
                plan.trickle = (float(cfg['trickle_bytes_per_second']), float(cfg['trickle_max_seconds']))
            if cfg['redirect_status'] is not None:
                plan.redirect = (cfg['redirect_status'], cfg['redirect_location'])
            plan.reset = idx in (_calls('r', cfg['reset_connection_on_call']) or ())
            if idx in (_calls('h', cfg['hang_on_call']) or ()):
                plan.hang_seconds = float(cfg['hang_seconds'])
            latency = cfg['latency_ms']
            if isinstance(latency, list):
                latency = self._latency_rng.uniform(latency[0], latency[1])
            plan.latency_seconds = latency / 1000.0
            plan.error, plan.fault_name = self._error_for(cfg, idx)
            on_calls = _calls('m', cfg['malformed_on_call'])
            if cfg['malformed'] and (on_calls is None or idx in on_calls):
                plan.malformed = cfg['malformed']
            plan.token_loop = cfg['token_loop']
            plan.empty_first_page = cfg['empty_page_with_token']
            plan.last_page_token_style = cfg['last_page_token_style']
            return plan

    def _error_for(self, cfg, idx):
        if cfg['forbidden']:
            return ApiError('Forbidden.RAM', extra={'AccessDeniedDetail': dict(ACCESS_DENIED_DETAIL)}), 'forbidden'
        rate = cfg['rate_limit_per_second']
        if rate and self._rate_limited(rate):
            return ApiError('Throttling.User'), 'rate_limit'
        throttled = cfg['throttle_first']
        if idx <= throttled:
            headers = {}
            if cfg['throttle_retry_after_ms'] is not None:
                headers['x-acs-retry-after'] = str(int(cfg['throttle_retry_after_ms']))
            return ApiError(cfg['throttle_code'], status=cfg['throttle_status'], headers=headers), 'throttle'
        if idx <= throttled + cfg['unavailable_first']:
            return ApiError('ServiceUnavailable'), 'unavailable'
        if cfg['error_rate'] and self._rng.random() < cfg['error_rate']:
            code = 'InternalError' if self._rng.random() < 0.5 else 'ServiceUnavailable'
            return ApiError(code), 'error_rate'
        return None, None
