"""Run a module's main() in-process, with its arguments set the way ansible-core's own tests do.

On ansible-core 2.19+ the arguments go through ``ansible.module_utils.testing.patch_module_args``; older cores have
no such helper, so ``basic._ANSIBLE_ARGS`` is patched directly there (a test seam of ansible-core, used by tests only).
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.alicloud.ecs.plugins.module_utils import module as module_wrapper
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import ListingFailure, ListingResult
from ansible_collections.alicloud.ecs.plugins.module_utils.pagination import Listing
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    patch_module_args = None

CONNECTION = {'region_id': ['cn-hangzhou'], 'access_key_id': 'LTAIkey', 'access_key_secret': 's3cret-value'}


@contextlib.contextmanager
def module_args(args):
    # A module process runs one module; a test worker runs many: each starts without the warnings and deprecations an
    # earlier one left in ansible-core's per-process lists (a test seam, as _ANSIBLE_ARGS below).
    module_warnings._global_warnings.clear()  # pylint: disable=protected-access
    module_warnings._global_deprecations.clear()  # pylint: disable=protected-access
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    saved = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))  # pylint: disable=protected-access
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved  # pylint: disable=protected-access


@pytest.fixture
def run_module():
    return run


def run(main, **args):
    """The result main() printed, given the connection options plus ``args``; ``failed`` is False on success."""
    args = dict(CONNECTION, **args)
    out = io.StringIO()
    with module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main()
    result = json.loads(out.getvalue())
    result.setdefault('failed', False)
    return result


@pytest.fixture
def make_session():
    return session


def session(session_id, instance_id='i-1', region_id='cn-hangzhou', status='Connected', creation_time='2024-01-19T09:15:46Z'):
    return {'session_id': session_id, 'region_id': region_id, 'instance_ids': [instance_id], 'creation_time': creation_time,
            'username': 'root', 'client_ip': '192.168.1.1', 'principal_id': '1', 'identity_type': 'Account',
            'target_server': '', 'connections': [{'instance_id': instance_id, 'status': status}]}


class FakeListing:
    """Stands for listing.list_sessions: records each call, answers with ``sessions`` or raises ``error``."""

    def __init__(self, sessions=(), error=None):
        self.sessions = list(sessions)
        self.error = error
        self.calls = []

    def __call__(self, connection, plan, criteria=None, max_items=None, start=None, concurrency=8, keep_going=False,
                 listing_timeout=None, max_pages=None):
        self.calls.append(dict(plan=plan, criteria=criteria, max_items=max_items, start=start, concurrency=concurrency,
                               keep_going=keep_going, listing_timeout=listing_timeout, max_pages=max_pages))
        if self.error is not None:
            failure = ListingFailure(plan[0], self.error)
            failure.api_calls = 2
            raise failure
        listings = []
        for key in plan:
            listing = Listing(key)
            listing.items = [item for item in self.sessions if item['region_id'] == key.region_id]
            listing.request_ids = ['REQ-%s' % key.region_id]
            listings.append(listing)
        sessions = [item for item in self.sessions if criteria is None or not criteria or criteria.match(item)]
        return ListingResult(sessions, listings, len(plan))


@pytest.fixture
def listing(monkeypatch):
    """Patch the listing with a :class:`FakeListing` (set its ``sessions`` or ``error``), and the SDK check."""
    fake = FakeListing()
    monkeypatch.setattr(module_wrapper, 'list_sessions', fake)
    monkeypatch.setattr(module_wrapper.AlicloudModule, 'require_sdk', lambda self: None)
    return fake


@pytest.fixture
def throttled():
    """A listing failure as the service reports it."""
    return AlicloudError('Request was denied due to request throttling.', code='Throttling', http_status=400,
                         request_id='REQ-THROTTLED')
