# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listing sessions from the controller (filters, the inventory plugin).

Options are checked against the modules' own argument spec, then listed through the modules'
own connection, pagination and retry code (module_utils/listing.py). The controller's process
environment is left as it was: ``DEBUG=sdk`` is set aside only while the SDK runs.

Nothing here shows anything: the plugins show the connection's warnings and the warnings of the
listing's threads through Display (plugin_utils/thread_warnings.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os

from collections.abc import Mapping
from typing import Any, Dict, Iterable, Iterator, List, MutableMapping, Optional, Set, Tuple, Union

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.connection import (
    Connection, OptionError, connection_argument_spec, option_secrets)
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialError
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import Criteria, CriteriaError, filters_argument_spec
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError, describe, remember_secrets, scrub
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import (
    ListingFailure, ListingResult, list_sessions, listing_argument_spec, listing_bounds, listing_problem, query_plan)
from ansible_collections.alicloud.ecs.plugins.plugin_utils.enrichment import type_name

LISTING_OPTIONS = listing_argument_spec(page_size=True)


class ControllerError(Exception):
    """A failure to report to the user as it is: options named, no secret, no traceback."""


def _plugin_argument_spec() -> Dict[str, Dict[str, Any]]:
    """The connection and listing options of the plugins: the modules' own specification of them."""
    spec = connection_argument_spec()
    spec.update(LISTING_OPTIONS)
    return spec


def option_names(aliases: bool = True) -> Union[Set[str], Dict[str, Tuple[str, ...]]]:
    """Every connection and listing option name a plugin accepts, with their aliases (a set).

    With ``aliases`` false: option name -> tuple of its aliases.
    """
    spec = _plugin_argument_spec()
    if not aliases:
        return {name: tuple(option.get('aliases', ())) for name, option in spec.items()}
    names = set(spec)
    for option in spec.values():
        names.update(option.get('aliases', ()))
    return names


@contextlib.contextmanager
def sdk_debug_set_aside(environ: Optional[MutableMapping[str, str]] = None) -> Iterator[None]:
    """Remove ``DEBUG=sdk`` while the SDK runs, so it prints no signed header; then put it back."""
    environ = os.environ if environ is None else environ
    saved = environ.get('DEBUG')
    if saved is not None and saved.strip().lower() == 'sdk':
        del environ['DEBUG']
    try:
        yield
    finally:
        if saved is not None:
            environ['DEBUG'] = saved


def connect(options: Mapping) -> Connection:
    """A :class:`Connection` for plugin keyword arguments, validated like module options."""
    # Masked in every message from here on (a proxy password, a key secret given to the wrong option).
    secrets = option_secrets(options)
    remember_secrets(secrets)
    validated = ArgumentSpecValidator(_plugin_argument_spec()).validate(dict(options))
    if validated.error_messages:
        raise ControllerError(scrub('; '.join(validated.error_messages), secrets))
    params = validated.validated_parameters
    problem = listing_problem(params)
    if problem:
        raise ControllerError(problem)
    try:
        return Connection(params)
    except (OptionError, CredentialError) as error:
        raise ControllerError(scrub(str(error), secrets))


def criteria_from_filters(filters: Optional[Mapping]) -> Optional[Criteria]:
    """A :class:`Criteria` from a ``filters`` dictionary, checked like the modules' option; None when not given."""
    if filters is None:
        return None
    if not isinstance(filters, Mapping):
        raise ControllerError('filters: expected a dictionary of criteria (username, status, created_after, ...); '
                              f'got {type_name(filters)}')
    validated = ArgumentSpecValidator({'filters': filters_argument_spec()}).validate({'filters': dict(filters)})
    if validated.error_messages:
        raise ControllerError('; '.join(validated.error_messages))
    try:
        return Criteria(validated.validated_parameters['filters'])
    except CriteriaError as error:
        raise ControllerError(str(error))


def _require_sdk(alternative):
    if not sdk.HAS_ALIBABA_SDK:
        raise ControllerError(f'the Python package {sdk.SDK_REQUIREMENT} is required to call Alibaba Cloud; '
                              f'install it on the controller{alternative}')
    # The SDK's loggers would print to the controller's stderr (an STS token in a failed refresh's URL).
    sdk.capture_sdk_logs()


def _list(connection, plan, criteria):
    """The :class:`ListingResult` of ``plan``: every page, retried per page, regions concurrently."""
    sdk.capture_sdk_logs()
    try:
        with sdk_debug_set_aside():
            return list_sessions(connection, plan, criteria, concurrency=connection.params['concurrency'],
                                 **listing_bounds(connection.params))
    except ListingFailure as failure:
        action = f'Failed to list terminal sessions ({failure.key.label()})'
        error = failure.error
        message = describe(error, action) if isinstance(error, AlicloudError) else f'{action}: {error}'
        raise ControllerError(scrub(message, connection.secrets()))


def sessions_of_instances(connection: Connection, instance_ids: Iterable[str],
                          criteria: Optional[Criteria] = None) -> List[Dict[str, Any]]:
    """The sessions of ``instance_ids`` in the regions of ``connection`` (see :func:`connect`), newest first, each once."""
    if not instance_ids:
        return []
    _require_sdk(' or pass the registered result of alicloud.ecs.ecs_terminal_session_info as data')
    plan = query_plan(connection.region_ids, sorted(set(instance_ids)), None, connection.params['max_results'])
    return _list(connection, plan, criteria).sessions


def listing_source(connection: Connection) -> Dict[str, Any]:
    """What a region listing through ``connection`` depends on, without any secret: to tell cached listings apart."""
    params, source = connection.params, connection.credential_source
    return {
        'region_ids': list(connection.region_ids),
        'endpoint': params.get('endpoint'),
        'endpoint_type': params.get('endpoint_type'),
        'protocol': params.get('protocol'),
        'credentials': [source.kind, source.access_key_id, source.profile, source.profile_file, source.role_name,
                        source.role_arn, source.external_id, source.role_policy, params.get('sts_endpoint')],
    }


def sessions_of_regions(connection: Connection, criteria: Optional[Criteria] = None) -> ListingResult:
    """Every session of the regions of ``connection`` (one listing per region), as a :class:`ListingResult`.

    A session is attributed to instances only through its connections' instance IDs.
    """
    _require_sdk('')
    plan = query_plan(connection.region_ids, None, None, connection.params['max_results'])
    return _list(connection, plan, criteria)
