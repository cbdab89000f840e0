"""Local ECS endpoints for the suites: seeded data, and one factory that starts and stops them."""

from __future__ import annotations

import inspect
import threading
import time

from ecs_endpoint.data import make_sessions
from ecs_endpoint.errors import ApiError
from ecs_endpoint.server import EcsEndpoint

from support.keys import CREDENTIALS


def targets(raw_session):
    """The instances a seeded session reached: its connections' and the ones it was opened for."""
    found = set(raw_session.get('_targets', ()))
    found.update(conn['InstanceId'] for conn in (raw_session.get('Connections') or {}).get('Connection', []))
    return found


def seeded_regions(counts, seed=0):
    return {region: make_sessions(region, count, seed=seed + index) for index, (region, count) in enumerate(counts.items())}


class EndpointFactory:
    """``factory(counts, tls=False, faults=None, **settings)``: a started endpoint of ``endpoint_class``.

    ``counts`` is region -> number of seeded sessions (250 in cn-hangzhou by default), kept as ``seed_data``; every
    endpoint accepts the test keys. A keyword the endpoint class takes (``last_page_token_style``, FaultyEndpoint's
    ``before_call``...) goes to its constructor; any other is a fault setting (``latency_ms=150``), added to
    ``faults``. :meth:`stop` stops every endpoint started.
    """

    def __init__(self, endpoint_class=EcsEndpoint):
        self.endpoint_class = endpoint_class
        self.started = []
        self._constructor = set(inspect.signature(endpoint_class.__init__).parameters)
        for base in endpoint_class.__mro__[1:]:
            if issubclass(base, EcsEndpoint):
                self._constructor.update(inspect.signature(base.__init__).parameters)

    def __call__(self, counts=None, tls=False, faults=None, **settings):
        options = {name: value for name, value in settings.items() if name in self._constructor}
        faults = dict(faults or {}, **{name: value for name, value in settings.items() if name not in options})
        regions = seeded_regions(counts or {'cn-hangzhou': 250})
        endpoint = self.endpoint_class(regions, credentials=CREDENTIALS, tls=tls, faults=faults or None, **options)
        endpoint.seed_data = regions
        endpoint.start()
        self.started.append(endpoint)
        return endpoint

    def stop(self):
        for endpoint in self.started:
            endpoint.stop()


class FaultyEndpoint(EcsEndpoint):
    """The local endpoint with what its fault settings cannot express.

    ``before_call``: call number -> function(endpoint) run just before that call's page is computed (a
    concurrent writer, deterministically placed). ``clock_offset``: seconds the service's clock runs ahead
    of this host. ``failing_regions``: region -> page number from which that region answers
    ServiceUnavailable. ``served`` logs the session IDs of every page the endpoint handed out.
    """

    def __init__(self, regions, before_call=None, clock_offset=0, failing_regions=None, **kwargs):
        super().__init__(regions, **kwargs)
        self.before_call = dict(before_call or {})
        self.failing_regions = dict(failing_regions or {})
        self.served = []
        self.added = []
        self.expired = []
        self._pages = {}
        self._hook_lock = threading.Lock()
        if clock_offset:
            self._auth.clock = lambda: time.time() + clock_offset

    def _describe(self, params, plan, request_id):
        hook = self.before_call.pop(plan.index, None)
        if hook is not None:
            hook(self)
        region = params.get('RegionId')
        with self._hook_lock:
            self._pages[region] = page_number = self._pages.get(region, 0) + 1
        if region in self.failing_regions and page_number >= self.failing_regions[region]:
            raise ApiError('ServiceUnavailable')
        doc = super()._describe(params, plan, request_id)
        with self._hook_lock:
            self.served.append([s['SessionId'] for s in doc['Sessions']['Session']])
        return doc

    def insert_at_head(self, region, count):
        self.added.extend(self.generate_sessions(region, count, at_head=True, seed=99))

    def expire_tail(self, region, count):
        with self._lock:
            gone, self._regions[region] = self._regions[region][-count:], self._regions[region][:-count]
        self.expired.extend(s['SessionId'] for s in gone)
