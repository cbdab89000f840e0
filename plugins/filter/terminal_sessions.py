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

from ansible.errors import AnsibleFilterError

from ansible_collections.alicloud.ecs.plugins.module_utils.controller import ControllerError, connect, option_names, sessions_of_instances
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import ENV_REGION, first_env
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import CRITERIA, CriteriaError
from ansible_collections.alicloud.ecs.plugins.module_utils.enrichment import (
    DATA_FORMS, DataError, criteria_from_kwargs, enrich, is_list, select, sessions_from_data, type_name)
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import sessions_by_instance, summary_by_instance
from ansible_collections.alicloud.ecs.plugins.plugin_utils.thread_warnings import warnings_shown_after
from ansible_collections.alicloud.ecs.plugins.plugin_utils.untrusted import untrusted

COLLECTION = 'alicloud.ecs'


def _fail(filter_name, message):
    return AnsibleFilterError('%s.%s: %s' % (COLLECTION, filter_name, message))


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


def terminal_sessions_by_instance(data, **criteria):
    """Instance ID -> full session records, newest first."""
    return untrusted(sessions_by_instance(_selected_sessions('terminal_sessions_by_instance', data, criteria)))


def terminal_session_summary(data, **criteria):
    """Instance ID -> summary of its sessions."""
    return untrusted(summary_by_instance(_selected_sessions('terminal_session_summary', data, criteria)))


def _host_names(hostvars, hosts):
    if hosts is None:
        return list(hostvars)
    if isinstance(hosts, str):
        return [hosts]
    if not is_list(hosts):
        raise _fail('enrich_hosts', 'hosts: expected a list of inventory host names (or one name); got %s' % type_name(hosts))
    for index, name in enumerate(hosts):
        if not isinstance(name, str):
            raise _fail('enrich_hosts', 'hosts[%d]: expected an inventory host name (a string); got %s' % (index, type_name(name)))
    return list(dict.fromkeys(hosts))


def _host_instance_ids(hostvars, names, instance_id_var):
    """(host, instance ID) for the named hosts that are in ``hostvars`` and have the variable set."""
    pairs = []
    for name in names:
        if name not in hostvars:
            continue
        host_vars = hostvars[name]
        if not isinstance(host_vars, Mapping):
            raise _fail('enrich_hosts', "hostvars[%r]: expected the variables of the host (a dict); got %s" % (name, type_name(host_vars)))
        instance_id = host_vars.get(instance_id_var)
        if instance_id is None:
            continue
        if not isinstance(instance_id, str):
            raise _fail('enrich_hosts', "hostvars[%r][%r] (instance_id_var): expected an instance ID (a string); got %s"
                        % (name, instance_id_var, type_name(instance_id)))
        instance_id = instance_id.strip()
        if instance_id:
            pairs.append((name, instance_id))
    return pairs


def _split_keywords(keywords):
    """(criteria, connection options) from the keyword arguments of enrich_hosts."""
    connection_names = option_names()
    criteria = dict((name, value) for name, value in keywords.items() if name in CRITERIA or name not in connection_names)
    options = dict((name, value) for name, value in keywords.items() if name not in criteria)
    return criteria, options


def enrich_hosts(hostvars, data=None, hosts=None, instance_id_var='instance_id', **keywords):
    """Inventory host -> its instance ID, sessions and summary, for hosts with an instance ID.

    Without ``data``, the sessions of the hosts' instance IDs are listed from Alibaba Cloud with
    the connection options among ``keywords`` (or the environment), through the module's own code.
    """
    if not isinstance(hostvars, Mapping):
        raise _fail('enrich_hosts', 'hostvars: expected a mapping of inventory host names to their variables, such as hostvars; got %s'
                    % type_name(hostvars))
    if not isinstance(instance_id_var, str) or not instance_id_var.strip():
        raise _fail('enrich_hosts', 'instance_id_var: expected the name of the variable holding the instance ID (a non-empty string); got %s'
                    % (type_name(instance_id_var) if not isinstance(instance_id_var, str) else 'an empty string'))
    names = _host_names(hostvars, hosts)
    criteria, options = _split_keywords(keywords)
    pairs = _host_instance_ids(hostvars, names, instance_id_var.strip())
    if data is not None:
        if options:
            raise _fail('enrich_hosts', 'give either data or connection options (%s), not both' % ', '.join(sorted(options)))
        sessions = _selected_sessions('enrich_hosts', data, criteria, also=('hosts', 'instance_id_var'))
        return untrusted(enrich(pairs, sessions))
    if not options and not first_env(os.environ, ENV_REGION):
        raise _fail('enrich_hosts', 'data: expected %s; got %s. Without data, give region_id and the connection options '
                    'to list the sessions from Alibaba Cloud' % (DATA_FORMS, type_name(data)))
    try:
        compiled = criteria_from_kwargs(criteria, also=('hosts', 'instance_id_var', 'connection options such as region_id'))
    except CriteriaError as error:
        raise _fail('enrich_hosts', error)
    try:
        connection = connect(options)
        with warnings_shown_after('%s.enrich_hosts' % COLLECTION, connection):
            sessions = sessions_of_instances(connection, [instance_id for _host, instance_id in pairs], compiled)
    except ControllerError as error:
        raise _fail('enrich_hosts', 'without data, the sessions are listed from Alibaba Cloud: %s' % error)
    return untrusted(enrich(pairs, sessions))


class FilterModule:
    """alicloud.ecs terminal session filters."""

    def filters(self):
        return {
            'terminal_sessions_by_instance': terminal_sessions_by_instance,
            'terminal_session_summary': terminal_session_summary,
            'enrich_hosts': enrich_hosts,
        }
