# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listing sessions from the controller (filters, the inventory plugin).

Options are checked against the modules' own argument spec, then listed through the modules'
own connection, pagination and retry code. The controller's process environment is left as it
was: ``DEBUG=sdk`` is set aside only while the SDK runs.

Nothing here shows anything: the plugins show the connection's warnings and the warnings of the
listing's threads through Display (plugins/plugin_utils/thread_warnings.py), which modules cannot import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os

from collections.abc import Mapping

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.connection import (
    Connection, OptionError, connection_argument_spec, option_secrets)
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialError
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import Criteria, CriteriaError, filters_argument_spec
from ansible_collections.alicloud.ecs.plugins.module_utils.enrichment import type_name
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError, describe, remember_secrets, scrub
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import (
    ListingFailure, list_sessions, listing_bounds, listing_bounds_argument_spec, listing_bounds_problem, query_plan)

LISTING_OPTIONS = dict({
    'concurrency': dict(type='int', default=8),
    'max_results': dict(type='int', default=100),
}, **listing_bounds_argument_spec())


class ControllerError(Exception):
    """A failure to report to the user as it is: options named, no secret, no traceback."""


def option_names(aliases=True):
    """Every connection and listing option name a plugin accepts, with their aliases (a set).

    With ``aliases`` false: option name -> tuple of its aliases.
    """
    spec = connection_argument_spec()
    spec.update(LISTING_OPTIONS)
    if not aliases:
        return dict((name, tuple(option.get('aliases', ()))) for name, option in spec.items())
    names = set(spec)
    for option in spec.values():
        names.update(option.get('aliases', ()))
    return names


@contextlib.contextmanager
def sdk_debug_set_aside(environ=None):
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


def connect(options):
    """A :class:`Connection` for plugin keyword arguments, validated like module options."""
    spec = connection_argument_spec()
    spec.update(LISTING_OPTIONS)
    # Masked in every message from here on (a proxy password, a key secret given to the wrong option).
    secrets = option_secrets(options)
    remember_secrets(secrets)
    validated = ArgumentSpecValidator(spec).validate(dict(options))
    if validated.error_messages:
        raise ControllerError(scrub('; '.join(validated.error_messages), secrets))
    params = validated.validated_parameters
    for name, low, high in (('concurrency', 1, 32), ('max_results', 1, 100)):
        if not low <= params[name] <= high:
            raise ControllerError('%s must be between %d and %d, got %d' % (name, low, high, params[name]))
    if listing_bounds_problem(params):
        raise ControllerError(listing_bounds_problem(params))
    try:
        return Connection(params)
    except (OptionError, CredentialError) as error:
        raise ControllerError(scrub(str(error), secrets))


def criteria_from_filters(filters):
    """A :class:`Criteria` from a ``filters`` dictionary, checked like the modules' option; None when not given."""
    if filters is None:
        return None
    if not isinstance(filters, Mapping):
        raise ControllerError('filters: expected a dictionary of criteria (username, status, created_after, ...); got %s'
                              % type_name(filters))
    validated = ArgumentSpecValidator({'filters': filters_argument_spec()}).validate({'filters': dict(filters)})
    if validated.error_messages:
        raise ControllerError('; '.join(validated.error_messages))
    try:
        return Criteria(validated.validated_parameters['filters'])
    except CriteriaError as error:
        raise ControllerError(str(error))


def _require_sdk(alternative):
    if not sdk.HAS_ALIBABA_SDK:
        raise ControllerError('the Python package %s is required to call Alibaba Cloud; install it on the controller%s'
                              % (sdk.SDK_REQUIREMENT, alternative))
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
        action = 'Failed to list terminal sessions (%s)' % failure.key.label()
        error = failure.error
        message = describe(error, action) if isinstance(error, AlicloudError) else '%s: %s' % (action, error)
        raise ControllerError(scrub(message, connection.secrets()))


def sessions_of_instances(connection, instance_ids, criteria=None):
    """The sessions of ``instance_ids`` in the regions of ``connection`` (see :func:`connect`), newest first, each once."""
    if not instance_ids:
        return []
    _require_sdk(' or pass the registered result of alicloud.ecs.ecs_terminal_session_info as data')
    plan = query_plan(connection.region_ids, sorted(set(instance_ids)), None, connection.params['max_results'])
    return _list(connection, plan, criteria).sessions


def listing_source(connection):
    """What a region listing through ``connection`` depends on, without any secret: to tell cached listings apart."""
    params, source = connection.params, connection.credential_source
    return {
        'region_ids': list(connection.region_ids),
        'endpoint': params.get('endpoint'),
        'endpoint_type': params.get('endpoint_type'),
        'protocol': params.get('protocol'),
        'credentials': [source.kind, source.access_key_id, source.profile, source.profile_file, source.role_name,
                        source.role_arn],
    }


def sessions_of_regions(connection, criteria=None):
    """Every session of the regions of ``connection`` (one listing per region), as a :class:`ListingResult`.

    A session is attributed to instances only through its connections' instance IDs.
    """
    _require_sdk('')
    plan = query_plan(connection.region_ids, None, None, connection.params['max_results'])
    return _list(connection, plan, criteria)
