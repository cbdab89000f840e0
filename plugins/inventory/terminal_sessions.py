# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: terminal_sessions
version_added: 0.1.0
short_description: Add ECS terminal session facts and groups to the hosts of other inventory sources
description:
  - Listed in an inventory after the sources that define the hosts (a static file, alibaba.alicloud's C(alicloud_ecs),
    a constructed source, ...), this source adds to each host whose variable O(instance_id_var) holds an ECS
    instance ID the Session Manager sessions that reached that instance, and their summary. It adds no host.
  - It lists every session of each region of O(region_id) with C(DescribeTerminalSessions), regions
    concurrently, every page, each page retried on its own, through the client, pagination and record code of
    M(alicloud.ecs.ecs_terminal_session_info).
  - A region listing attributes a session to instances through its connections' instance IDs. A session that
    never connected (its connection attempt never reached an instance) has none and is added to no host.
  - Each host with an instance ID gets two variables - C(ecs_terminal_sessions), its sessions as
    RV(alicloud.ecs.ecs_terminal_session_info#module:sessions) returns them, newest first (at most
    O(max_sessions_per_host), left out when it is V(0); only the fields of O(session_fields), when given); and
    C(ecs_terminal_session_summary), the summary of all of its selected sessions,
    the one RV(alicloud.ecs.ecs_terminal_session_info#module:summary_by_instance) and the
    P(alicloud.ecs.terminal_session_summary#filter) filter compute. A host whose instance had no session gets an
    empty list and the summary of no sessions (all counts 0). A host without the variable, or with it empty, is
    left untouched, and so are its groups.
  - Groups and variables can be built from these facts with O(groups), O(keyed_groups) and O(compose), for
    example a group C(ecs_sessions_active) of the hosts with an open session, for plays to target directly.
  - With O(cache) the session records are kept in the inventory cache for O(cache_timeout) seconds, so repeated
    runs (a busy AWX instance, for example) do not call the API each time. The cache holds the records of the
    regions, not the join, so hosts added since are still matched; a change of region, endpoint or credentials
    in the configuration is a cache miss.
  - The configuration file's name must end in C(terminal_sessions.yml) or C(terminal_sessions.yaml).
  - The plugin runs on the controller, so the Python packages of the requirements must be installed there
    (in the execution environment, for Automation Platform).
author:
  - alicloud.ecs maintainers (@alicloud-ecs)
extends_documentation_fragment:
  - alicloud.ecs.alicloud.plugins
  - alicloud.ecs.alicloud.filters
  - alicloud.ecs.alicloud.listing
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin; it tells Ansible that the file is this plugin's configuration.
    type: str
    required: true
    choices: [alicloud.ecs.terminal_sessions]
  instance_id_var:
    description:
      - The host variable (set by an earlier inventory source, on the host or on one of its groups) that holds
        the host's ECS instance ID, such as C(i-bp67acfmxazb4ph2xxxx).
      - The variable must hold the ID itself; a value that is not a string is reported and the host left untouched
        (with O(strict), the source fails).
    type: str
    default: instance_id
  max_sessions_per_host:
    description:
      - At most this many sessions, the newest, in each host's C(ecs_terminal_sessions). The summary still covers
        all of the host's selected sessions.
      - V(0) leaves C(ecs_terminal_sessions) out altogether; each host gets only C(ecs_terminal_session_summary). This is
        the cheapest form for an inventory that only groups hosts by their summaries - ansible-core stores, vets and
        templates every host variable, and a large list per host multiplies that work (see docs/inventory.md for the
        cost per host of each choice). Release 0.1.0 set the variable to an empty list for V(0).
      - By default every session is kept.
    type: int
  session_fields:
    version_added: 0.2.0
    description:
      - Keep only these fields of each session in C(ecs_terminal_sessions); by default every field.
      - Only the documented fields of RV(alicloud.ecs.ecs_terminal_session_info#module:sessions) can be named -
        C(session_id), C(region_id), C(creation_time), C(username), C(client_ip), C(principal_id), C(identity_type),
        C(target_server), C(port_number), C(instance_ids), C(connections). Any other name fails the source before any
        API call, with the list of valid names.
      - The summary C(ecs_terminal_session_summary) is always computed from the full records.
    type: list
    elements: str
  concurrency:
    description: How many listing calls may run at the same time, across regions (1 to 32).
    type: int
    default: 8
  max_results:
    description: Sessions asked for per page (C(MaxResults)), 1 to 100.
    type: int
    default: 100
notes:
  - Sessions are kept by Alibaba Cloud for about four weeks; older ones are not listed.
  - Each region costs one API call per 100 of its sessions, whatever the number of hosts; O(filters) select
    sessions on this side and do not reduce the calls.
  - A listing that fails (after its retries) fails this inventory source, with the error code and request ID;
    Ansible then reports the source as not parsed and the hosts keep the variables of the other sources only.
  - The records are evidence only if every session is recorded - M(alicloud.ecs.ecs_session_manager_info) reads
    whether Session Manager is enabled and where each region delivers its session records (OSS, with which
    encryption, or Simple Log Service), and M(alicloud.ecs.ecs_session_manager) sets that posture.
seealso:
  - module: alicloud.ecs.ecs_terminal_session_info
  - module: alicloud.ecs.ecs_session_manager_info
  - module: alicloud.ecs.ecs_session_manager
'''

EXAMPLES = r'''
# inventory/10-hosts.yml is any source that defines the hosts and their instance IDs; here a static file.
# inventory/20-terminal_sessions.yml (the name must end in terminal_sessions.yml):
plugin: alicloud.ecs.terminal_sessions
region_id:
  - cn-hangzhou
  - cn-shanghai
# The host variable holding the instance ID (alibaba.alicloud's alicloud_ecs sets instance_id).
instance_id_var: instance_id
max_sessions_per_host: 20
# Only the last four weeks' sessions are kept by the service; select fewer with the module's criteria.
filters:
  created_after: 7d
groups:
  ecs_sessions_active: ecs_terminal_session_summary.active_session_count > 0
  has_root_sessions: ecs_terminal_session_summary.root_session_count > 0
keyed_groups:
  - key: ecs_terminal_session_summary.usernames
    prefix: ecs_session_user
compose:
  ecs_last_session_user: ecs_terminal_session_summary.last_session_user
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible/alicloud_terminal_sessions
cache_timeout: 900
# Credentials come from the environment (ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET),
# an ECS RAM role (ecs_ram_role: audit-reader) or a CLI profile (profile: audit); keep keys out of this file.
'''

from collections.abc import Mapping
from typing import Any, Dict, Tuple

from ansible.errors import AnsibleParserError
from ansible.inventory.helpers import get_group_vars
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.vars import combine_vars

from ansible_collections.alicloud.ecs.plugins.module_utils.result_shape import ResultShapeError, checked_session_fields, trimmed
from ansible_collections.alicloud.ecs.plugins.plugin_utils.controller_listing import (
    ControllerError, connect, criteria_from_filters, listing_source, option_names, sessions_of_regions)
from ansible_collections.alicloud.ecs.plugins.plugin_utils.enrichment import enrich, hosts_with_instance_ids, select
from ansible_collections.alicloud.ecs.plugins.plugin_utils.thread_warnings import warnings_shown_after
from ansible_collections.alicloud.ecs.plugins.plugin_utils.untrusted import untrusted

SESSIONS_VAR = 'ecs_terminal_sessions'
SUMMARY_VAR = 'ecs_terminal_session_summary'

# What the cache holds: the records of the regions, and which listing they came from.
CACHE_FORMAT = 'alicloud.ecs.terminal_sessions/1'


def _native(value: Any) -> Any:
    """Plain Python containers and strings, for values read from a configuration file (tagged on ansible-core 2.19+)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _native(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_native(item) for item in value]
    return value


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Joins terminal session records to the hosts already in the inventory, by instance ID."""

    NAME = 'alicloud.ecs.terminal_sessions'

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(('terminal_sessions.yml', 'terminal_sessions.yaml'))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        try:
            connection = connect(self._option_values(config))
            criteria = criteria_from_filters(_native(self.get_option('filters')))
        except ControllerError as error:
            raise AnsibleParserError(f'{self.NAME}: {error}')
        limit = self.get_option('max_sessions_per_host')
        if limit is not None and limit < 0:
            raise AnsibleParserError(f'{self.NAME}: max_sessions_per_host must be at least 0, got {limit:d}')
        try:
            fields = checked_session_fields(_native(self.get_option('session_fields')))
        except ResultShapeError as error:
            raise AnsibleParserError(f'{self.NAME}: {error}')

        hosts = self._hosts_with_instance_ids()
        if not hosts:
            self.display.warning(f"{self.NAME}: no host has the variable {self.get_option('instance_id_var')!r}; "
                                 'list this source after the sources that define the hosts')
            return
        sessions = select(self._region_sessions(path, cache, connection), criteria)
        self._populate(hosts, sessions, limit, fields)

    def _option_values(self, config):
        """The connection and listing options written in the configuration file (by name or alias).

        The others are left to the module code, which applies the same defaults and reads the environment
        variables in its own order (Ansible's configuration would take the last one set).
        """
        values = {}
        for name, aliases in option_names(aliases=False).items():
            if any(key in config for key in (name,) + aliases):
                value = self.get_option(name)
                if value is not None:
                    values[name] = _native(value)
        return values

    def _hosts_with_instance_ids(self) -> Dict[str, Tuple[str, Dict[str, Any]]]:
        """Host name -> (instance ID, the host's variables) for the hosts that have one."""
        name = self.get_option('instance_id_var')
        strict = self.get_option('strict')
        hosts = ((host.name, combine_vars(get_group_vars(host.get_groups()), host.get_vars())) for host in self.inventory.hosts.values())
        found, problems = hosts_with_instance_ids(hosts, name, stop_at_problem=strict)
        for problem in problems:
            message = f'{self.NAME}: host {problem.host}: the variable {name!r} should hold an instance ID (a string); got {problem.found}'
            if strict:
                raise AnsibleParserError(message)
            self.display.warning(message + '; the host is left untouched')
        return {host.host: (str(host.instance_id), host.variables) for host in found}

    def _region_sessions(self, path, cache, connection):
        """The sessions of the configured regions that reached an instance, from the cache when it is fresh."""
        source = listing_source(connection)
        use_cache = self.get_option('cache')
        key = self.get_cache_key(path)
        if use_cache and cache:
            try:
                cached = self._cache[key]
            except KeyError:
                cached = None
            if isinstance(cached, Mapping) and cached.get('format') == CACHE_FORMAT and cached.get('source') == source:
                return cached['sessions']
        try:
            # The options' warnings and those of the listing's threads, shown from here once it is done.
            with warnings_shown_after(self.NAME, connection, self.display):
                listed = sessions_of_regions(connection)
        except ControllerError as error:
            raise AnsibleParserError(f'{self.NAME}: {error}')
        sessions = [session for session in listed.sessions if session['instance_ids']]
        self.display.vvv('%s: %d sessions reached an instance in %s (%d API calls)'
                         % (self.NAME, len(sessions), ', '.join(connection.region_ids), listed.api_calls))
        if use_cache:
            self._cache[key] = {'format': CACHE_FORMAT, 'source': source, 'sessions': sessions}
        return sessions

    def _populate(self, hosts, sessions, limit, fields=None):
        strict = self.get_option('strict')
        enriched = enrich([(name, instance_id) for name, (instance_id, _variables) in hosts.items()], sessions)
        for name, facts in enriched.items():
            # With max_sessions_per_host 0 the list is left out: every host variable costs ansible-core per host.
            added = {} if limit == 0 else {SESSIONS_VAR: trimmed(facts['sessions'] if limit is None else facts['sessions'][:limit], fields)}
            added[SUMMARY_VAR] = facts['summary']
            # Session records come from the API or the cache (a port-forwarding target is typed by whoever opened
            # the session): data, never templates, also for compose, groups and keyed_groups below.
            added = untrusted(added)
            for variable, value in added.items():
                self.inventory.set_variable(name, variable, value)
            variables = combine_vars(hosts[name][1], added)
            self._set_composite_vars(self.get_option('compose'), variables, name, strict=strict)
            # ``variables`` already holds the host's own and group variables: no need for core to fetch them again.
            self._add_host_to_composed_groups(self.get_option('groups'), variables, name, strict=strict, fetch_hostvars=False)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, name, strict=strict, fetch_hostvars=False)
