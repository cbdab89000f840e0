# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that key terminal sessions by instance and join them to inventory hosts.

The documentation of each filter is in its own file next to this one
(terminal_sessions_by_instance.yml, terminal_session_summary.yml, enrich_hosts.yml).

Every filter's output is built from session records, which come from the API: it is returned marked
as data for templating (plugin_utils/untrusted.py), whatever path the records took to get here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from collections.abc import Mapping
from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError

from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import ENV_REGION, first_env
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import CRITERIA, CriteriaError
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import sessions_by_instance, summary_by_instance
from ansible_collections.alicloud.ecs.plugins.plugin_utils.controller_listing import ControllerError, connect, option_names, sessions_of_instances
from ansible_collections.alicloud.ecs.plugins.plugin_utils.enrichment import (
    DATA_FORMS, DataError, criteria_from_kwargs, enrich, hosts_with_instance_ids, is_list, select, sessions_from_data, type_name)
from ansible_collections.alicloud.ecs.plugins.plugin_utils.thread_warnings import warnings_shown_after
from ansible_collections.alicloud.ecs.plugins.plugin_utils.untrusted import untrusted

COLLECTION = 'alicloud.ecs'


def _fail(filter_name, message):
    return AnsibleFilterError(f'{COLLECTION}.{filter_name}: {message}')


def _selected_sessions(filter_name, data, criteria, also=()):
    """The sessions of ``data`` that meet the criteria keyword arguments, newest first."""
    try:
        compiled = criteria_from_kwargs(criteria, also=also)
    except CriteriaError as error:
        raise _fail(filter_name, error)
    try:
        sessions = sessions_from_data(data)
    except DataError as error:
        raise _fail(filter_name, error)
    return select(sessions, compiled)


def terminal_sessions_by_instance(data: Any, **criteria: Any) -> Dict[str, List[Dict[str, Any]]]:
    """Instance ID -> full session records, newest first."""
    return untrusted(sessions_by_instance(_selected_sessions('terminal_sessions_by_instance', data, criteria)))


def terminal_session_summary(data: Any, **criteria: Any) -> Dict[str, Dict[str, Any]]:
    """Instance ID -> summary of its sessions."""
    return untrusted(summary_by_instance(_selected_sessions('terminal_session_summary', data, criteria)))


def _host_names(hostvars, hosts):
    if hosts is None:
        return list(hostvars)
    if isinstance(hosts, str):
        return [hosts]
    if not is_list(hosts):
        raise _fail('enrich_hosts', f'hosts: expected a list of inventory host names (or one name); got {type_name(hosts)}')
    for index, name in enumerate(hosts):
        if not isinstance(name, str):
            raise _fail('enrich_hosts', f'hosts[{index}]: expected an inventory host name (a string); got {type_name(name)}')
    return list(dict.fromkeys(hosts))


def _host_instance_ids(hostvars, names, instance_id_var):
    """(host, instance ID) for the named hosts that are in ``hostvars`` and have the variable set."""
    found, problems = hosts_with_instance_ids(((name, hostvars[name]) for name in names if name in hostvars), instance_id_var,
                                              stop_at_problem=True)
    for problem in problems:
        if problem.value == 'variables':
            raise _fail('enrich_hosts', f'hostvars[{problem.host!r}]: expected the variables of the host (a dict); got {problem.found}')
        raise _fail('enrich_hosts', f'hostvars[{problem.host!r}][{instance_id_var!r}] (instance_id_var): expected an instance ID '
                    f'(a string); got {problem.found}')
    return [(host.host, host.instance_id) for host in found]


def _split_keywords(keywords):
    """(criteria, connection options) from the keyword arguments of enrich_hosts."""
    connection_names = option_names()
    criteria = {name: value for name, value in keywords.items() if name in CRITERIA or name not in connection_names}
    options = {name: value for name, value in keywords.items() if name not in criteria}
    return criteria, options


def enrich_hosts(hostvars: Any, data: Any = None, hosts: Any = None, instance_id_var: Any = 'instance_id',
                 **keywords: Any) -> Dict[str, Dict[str, Any]]:
    """Inventory host -> its instance ID, sessions and summary, for hosts with an instance ID.

    Without ``data``, the sessions of the hosts' instance IDs are listed from Alibaba Cloud with
    the connection options among ``keywords`` (or the environment), through the module's own code.
    """
    if not isinstance(hostvars, Mapping):
        raise _fail('enrich_hosts', 'hostvars: expected a mapping of inventory host names to their variables, such as hostvars; '
                    f'got {type_name(hostvars)}')
    if not isinstance(instance_id_var, str) or not instance_id_var.strip():
        found = type_name(instance_id_var) if not isinstance(instance_id_var, str) else 'an empty string'
        raise _fail('enrich_hosts', f'instance_id_var: expected the name of the variable holding the instance ID (a non-empty string); got {found}')
    names = _host_names(hostvars, hosts)
    criteria, options = _split_keywords(keywords)
    pairs = _host_instance_ids(hostvars, names, instance_id_var.strip())
    if data is not None:
        if options:
            raise _fail('enrich_hosts', f"give either data or connection options ({', '.join(sorted(options))}), not both")
        sessions = _selected_sessions('enrich_hosts', data, criteria, also=('hosts', 'instance_id_var'))
        return untrusted(enrich(pairs, sessions))
    if not options and not first_env(os.environ, ENV_REGION):
        raise _fail('enrich_hosts', f'data: expected {DATA_FORMS}; got {type_name(data)}. Without data, give region_id and the '
                    'connection options to list the sessions from Alibaba Cloud')
    try:
        compiled = criteria_from_kwargs(criteria, also=('hosts', 'instance_id_var', 'connection options such as region_id'))
    except CriteriaError as error:
        raise _fail('enrich_hosts', error)
    try:
        connection = connect(options)
        with warnings_shown_after(f'{COLLECTION}.enrich_hosts', connection):
            sessions = sessions_of_instances(connection, [instance_id for _host, instance_id in pairs], compiled)
    except ControllerError as error:
        raise _fail('enrich_hosts', f'without data, the sessions are listed from Alibaba Cloud: {error}')
    return untrusted(enrich(pairs, sessions))


class FilterModule:
    """alicloud.ecs terminal session filters."""

    def filters(self) -> Dict[str, Any]:
        return {
            'terminal_sessions_by_instance': terminal_sessions_by_instance,
            'terminal_session_summary': terminal_session_summary,
            'enrich_hosts': enrich_hosts,
        }
