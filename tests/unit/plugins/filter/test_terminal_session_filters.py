from __future__ import annotations

import collections
import copy
import datetime
import json
import os
import subprocess
import sys
import textwrap

from collections.abc import Mapping, Sequence

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.alicloud.ecs.plugins.filter import terminal_sessions as plugin
from ansible_collections.alicloud.ecs.plugins.filter.terminal_sessions import (
    FilterModule, enrich_hosts, terminal_session_summary, terminal_sessions_by_instance)
from ansible_collections.alicloud.ecs.plugins.module_utils.sessions import empty_summary, summarize
from ansible_collections.alicloud.ecs.plugins.plugin_utils import enrichment
from ansible_collections.alicloud.ecs.plugins.plugin_utils.enrichment import DataError, enrich, sessions_from_data

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

# --- the fixture: three instances (i-a, i-b, i-c), four sessions ------------------------------
# s-1 reached i-a and i-b; s-2 failed on i-a; s-3 never connected; s-4 is a port forward through i-c.
RAW_SESSIONS = [
    {'SessionId': 's-1', 'RegionId': 'cn-hangzhou', 'CreationTime': '2024-01-19T09:15:46Z', 'Username': 'root',
     'ClientIP': '192.168.1.1', 'PrincipalId': '111', 'IdentityType': 'RAMUser', 'TargetServer': '', 'PortNumber': None,
     'Connections': {'Connection': [
         {'InstanceId': 'i-a', 'Status': 'Terminated', 'StartTime': '2024-01-19T09:16:40Z', 'EndTime': '2024-01-19T09:46:40Z',
          'ClosedReason': 'ClientClosed', 'FailedDetail': ''},
         {'InstanceId': 'i-b', 'Status': 'Connected', 'StartTime': '2024-01-19T09:17:00Z'},
     ]}},
    {'SessionId': 's-2', 'RegionId': 'cn-hangzhou', 'CreationTime': '2024-01-20T10:00:00Z', 'Username': 'ecs-user',
     'ClientIP': '10.0.0.5', 'PrincipalId': '222', 'IdentityType': 'Account',
     'Connections': {'Connection': [
         {'InstanceId': 'i-a', 'Status': 'Failed', 'StartTime': '2024-01-20T10:00:01Z',
          'FailedDetail': 'The Cloud Assistant agent is not online.'},
     ]}},
    {'SessionId': 's-3', 'RegionId': 'cn-hangzhou', 'CreationTime': '2024-01-21T08:00:00Z', 'Username': 'root',
     'ClientIP': '10.1.2.3', 'PrincipalId': '111', 'IdentityType': 'RAMUser', 'Connections': {'Connection': []}},
    {'SessionId': 's-4', 'RegionId': 'cn-hangzhou', 'CreationTime': '2024-01-18T00:00:00Z', 'Username': 'ecs-user',
     'ClientIP': '192.168.1.1', 'PrincipalId': '222', 'IdentityType': 'Account', 'TargetServer': '192.168.0.246',
     'PortNumber': 22,
     'Connections': {'Connection': [
         {'InstanceId': 'i-c', 'Status': 'Terminated', 'EndTime': '2024-01-18T00:05:00Z', 'ClosedReason': 'InstanceNotRunning'},
     ]}},
]

# Hand-written: what the module returns for RAW_SESSIONS, newest first.
S3 = {'session_id': 's-3', 'region_id': 'cn-hangzhou', 'creation_time': '2024-01-21T08:00:00Z', 'username': 'root',
      'client_ip': '10.1.2.3', 'principal_id': '111', 'identity_type': 'RAMUser', 'connections': [], 'instance_ids': []}
S2 = {'session_id': 's-2', 'region_id': 'cn-hangzhou', 'creation_time': '2024-01-20T10:00:00Z', 'username': 'ecs-user',
      'client_ip': '10.0.0.5', 'principal_id': '222', 'identity_type': 'Account', 'instance_ids': ['i-a'],
      'connections': [{'instance_id': 'i-a', 'status': 'Failed', 'start_time': '2024-01-20T10:00:01Z',
                       'failed_detail': 'The Cloud Assistant agent is not online.'}]}
S1 = {'session_id': 's-1', 'region_id': 'cn-hangzhou', 'creation_time': '2024-01-19T09:15:46Z', 'username': 'root',
      'client_ip': '192.168.1.1', 'principal_id': '111', 'identity_type': 'RAMUser', 'instance_ids': ['i-a', 'i-b'],
      'connections': [{'instance_id': 'i-a', 'status': 'Terminated', 'start_time': '2024-01-19T09:16:40Z',
                       'end_time': '2024-01-19T09:46:40Z', 'closed_reason': 'ClientClosed'},
                      {'instance_id': 'i-b', 'status': 'Connected', 'start_time': '2024-01-19T09:17:00Z'}]}
S4 = {'session_id': 's-4', 'region_id': 'cn-hangzhou', 'creation_time': '2024-01-18T00:00:00Z', 'username': 'ecs-user',
      'client_ip': '192.168.1.1', 'principal_id': '222', 'identity_type': 'Account', 'target_server': '192.168.0.246',
      'port_number': 22, 'instance_ids': ['i-c'],
      'connections': [{'instance_id': 'i-c', 'status': 'Terminated', 'end_time': '2024-01-18T00:05:00Z',
                       'closed_reason': 'InstanceNotRunning'}]}
NORMALISED = [S3, S2, S1, S4]

EXPECTED_BY_INSTANCE = {'i-a': [S2, S1], 'i-b': [S1], 'i-c': [S4]}

SUMMARY_A = {
    'session_count': 2, 'active_session_count': 0, 'last_session_time': '2024-01-20T10:00:00Z',
    'last_session_user': 'ecs-user', 'last_client_ip': '10.0.0.5', 'usernames': ['ecs-user', 'root'],
    'client_ips': ['10.0.0.5', '192.168.1.1'], 'principal_ids': ['111', '222'], 'root_session_count': 1,
    'failed_connection_count': 1, 'port_forwarding_session_count': 0, 'closed_reasons': {'ClientClosed': 1},
}
SUMMARY_B = {
    'session_count': 1, 'active_session_count': 1, 'last_session_time': '2024-01-19T09:15:46Z',
    'last_session_user': 'root', 'last_client_ip': '192.168.1.1', 'usernames': ['root'],
    'client_ips': ['192.168.1.1'], 'principal_ids': ['111'], 'root_session_count': 1,
    'failed_connection_count': 0, 'port_forwarding_session_count': 0, 'closed_reasons': {},
}
SUMMARY_C = {
    'session_count': 1, 'active_session_count': 0, 'last_session_time': '2024-01-18T00:00:00Z',
    'last_session_user': 'ecs-user', 'last_client_ip': '192.168.1.1', 'usernames': ['ecs-user'],
    'client_ips': ['192.168.1.1'], 'principal_ids': ['222'], 'root_session_count': 0,
    'failed_connection_count': 0, 'port_forwarding_session_count': 1, 'closed_reasons': {'InstanceNotRunning': 1},
}
SUMMARY_NONE = {
    'session_count': 0, 'active_session_count': 0, 'last_session_time': None, 'last_session_user': None,
    'last_client_ip': None, 'usernames': [], 'client_ips': [], 'principal_ids': [], 'root_session_count': 0,
    'failed_connection_count': 0, 'port_forwarding_session_count': 0, 'closed_reasons': {},
}
EXPECTED_SUMMARY = {'i-a': SUMMARY_A, 'i-b': SUMMARY_B, 'i-c': SUMMARY_C}

# web1, web2, db1 have sessions; spare1 has an instance but no session; lb1 and blank have no instance ID.
HOSTVARS = {
    'web1': {'instance_id': 'i-a', 'ansible_host': '10.0.0.1'},
    'web2': {'instance_id': 'i-b'},
    'lb1': {'ansible_host': '10.0.0.9'},
    'db1': {'instance_id': 'i-c'},
    'spare1': {'instance_id': 'i-d'},
    'blank': {'instance_id': ''},
}
EXPECTED_HOSTS = {
    'web1': {'instance_id': 'i-a', 'sessions': [S2, S1], 'summary': SUMMARY_A},
    'web2': {'instance_id': 'i-b', 'sessions': [S1], 'summary': SUMMARY_B},
    'db1': {'instance_id': 'i-c', 'sessions': [S4], 'summary': SUMMARY_C},
    'spare1': {'instance_id': 'i-d', 'sessions': [], 'summary': SUMMARY_NONE},
}


class LazyDict(Mapping):
    """A read-only mapping that is not a dict, like the lazy containers of ansible-core 2.19."""

    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


class LazyList(Sequence):
    """A read-only sequence that is not a list."""

    def __init__(self, data):
        self._data = data

    def __getitem__(self, index):
        return self._data[index]

    def __len__(self):
        return len(self._data)


def lazy(value):
    if isinstance(value, dict):
        return LazyDict(dict((key, lazy(item)) for key, item in value.items()))
    if isinstance(value, list):
        return LazyList([lazy(item) for item in value])
    return value


def raw():
    return copy.deepcopy(RAW_SESSIONS)


def registered():
    return {'changed': False, 'sessions': copy.deepcopy(NORMALISED), 'api_calls': 1, 'request_ids': ['r-1'],
            'sessions_by_instance': {'i-a': ['s-2', 's-1'], 'i-b': ['s-1'], 'i-c': ['s-4']}}


def data_forms():
    """Every accepted form of the same four sessions."""
    pages = [{'RequestId': 'r-1', 'NextToken': 't-1', 'Sessions': {'Session': raw()[:2]}},
             {'RequestId': 'r-2', 'Sessions': raw()[2:]}]
    return {
        'registered result': registered(),
        'sessions list': copy.deepcopy(NORMALISED),
        'response, wrapped': {'RequestId': 'r-1', 'Sessions': {'Session': raw()}},
        'response, bare list': {'RequestId': 'r-1', 'Sessions': raw()},
        'list of responses': pages,
        'list of responses, overlapping': pages + [{'Sessions': {'Session': raw()[1:3]}}],
        'raw sessions': raw(),
        'raw sessions, shuffled and repeated': raw()[::-1] + raw()[:1],
        'raw sessions, tuple': tuple(raw()),
        'lazy registered result': lazy(registered()),
        'lazy responses': lazy(pages),
    }


FORMS = data_forms()


# --- the normaliser ---------------------------------------------------------------------------

@pytest.mark.parametrize('form', sorted(FORMS))
def test_every_form_gives_the_same_sessions(form):
    assert sessions_from_data(FORMS[form]) == NORMALISED


@pytest.mark.parametrize('form', sorted(FORMS))
def test_every_form_gives_the_same_filter_results(form):
    data = FORMS[form]
    assert terminal_sessions_by_instance(data) == EXPECTED_BY_INSTANCE
    assert terminal_session_summary(data) == EXPECTED_SUMMARY
    assert enrich_hosts(HOSTVARS, data) == EXPECTED_HOSTS


def test_single_wrapped_session_and_empty_forms():
    single = {'Sessions': {'Session': raw()[1]}}
    assert sessions_from_data(single) == [S2]
    for empty in ([], {'sessions': []}, {'sessions': None}, {'Sessions': None}, {'Sessions': {'Session': None}},
                  {'Sessions': {}}, [{'Sessions': []}]):
        assert sessions_from_data(empty) == []
        assert terminal_sessions_by_instance(empty) == {}
        assert terminal_session_summary(empty) == {}


def test_input_is_not_changed():
    data = registered()
    before = copy.deepcopy(data)
    enrich_hosts(HOSTVARS, data)
    terminal_session_summary(data)
    assert data == before


def test_duplicates_keep_every_instance_id():
    first = {'SessionId': 's-9', 'RegionId': 'cn-hangzhou', 'CreationTime': '2024-01-19T00:00:00Z', 'instance_ids': ['i-x']}
    again = dict(first, instance_ids=['i-y'])
    other_region = dict(first, RegionId='cn-shanghai')
    sessions = sessions_from_data([first, again, other_region])
    assert [(s['region_id'], s['instance_ids']) for s in sessions] == [('cn-hangzhou', ['i-x', 'i-y']), ('cn-shanghai', ['i-x'])]


# --- terminal_sessions_by_instance and terminal_session_summary --------------------------------

def test_by_instance_hand_computed():
    result = terminal_sessions_by_instance(registered())
    assert result == EXPECTED_BY_INSTANCE
    assert [s['session_id'] for s in result['i-a']] == ['s-2', 's-1']  # newest first


def test_summary_hand_computed_and_keys():
    result = terminal_session_summary(raw())
    assert result == EXPECTED_SUMMARY
    for summary in result.values():
        assert sorted(summary) == sorted(empty_summary())


@pytest.mark.parametrize('criteria, expected', [
    ({'username': 'root'}, {'i-a': ['s-1'], 'i-b': ['s-1']}),
    ({'username': ['ROOT', 'nobody']}, {'i-a': ['s-1'], 'i-b': ['s-1']}),
    ({'principal_id': 222}, {'i-a': ['s-2'], 'i-c': ['s-4']}),
    ({'identity_type': 'account'}, {'i-a': ['s-2'], 'i-c': ['s-4']}),
    ({'client_ip': '192.168.0.0/16'}, {'i-a': ['s-1'], 'i-b': ['s-1'], 'i-c': ['s-4']}),
    ({'status': ['failed']}, {'i-a': ['s-2']}),
    ({'active': True}, {'i-a': ['s-1'], 'i-b': ['s-1']}),
    ({'active': 'no'}, {'i-a': ['s-2'], 'i-c': ['s-4']}),
    ({'port_forwarding': 'yes'}, {'i-c': ['s-4']}),
    ({'port_forwarding': False}, {'i-a': ['s-2', 's-1'], 'i-b': ['s-1']}),
    ({'created_after': '2024-01-19T12:00:00Z'}, {'i-a': ['s-2']}),
    ({'created_before': '2024-01-19T12:00:00+00:00'}, {'i-a': ['s-1'], 'i-b': ['s-1'], 'i-c': ['s-4']}),
    ({'created_after': datetime.datetime(2024, 1, 19, 12, tzinfo=datetime.timezone.utc)}, {'i-a': ['s-2']}),
    ({'created_after': '2024-01-18T12:00:00Z', 'username': 'root'}, {'i-a': ['s-1'], 'i-b': ['s-1']}),
    ({'username': None, 'active': None}, {'i-a': ['s-2', 's-1'], 'i-b': ['s-1'], 'i-c': ['s-4']}),
    ({'username': []}, {}),
    ({'created_after': '7d'}, {}),
])
def test_criteria_keyword_arguments(criteria, expected):
    result = terminal_sessions_by_instance(registered(), **criteria)
    assert dict((key, [s['session_id'] for s in value]) for key, value in result.items()) == expected
    summaries = terminal_session_summary(raw(), **criteria)
    assert sorted(summaries) == sorted(expected)
    assert all(summaries[key]['session_count'] == len(ids) for key, ids in expected.items())


def test_relative_age_keeps_recent_sessions():
    recent = dict(raw()[0], SessionId='s-new',
                  CreationTime=(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ'))
    data = raw() + [recent]
    assert [s['session_id'] for s in terminal_sessions_by_instance(data, created_after='1d')['i-b']] == ['s-new']
    assert terminal_session_summary(data, created_after='24h')['i-a']['session_count'] == 1
    assert [s['session_id'] for s in enrich_hosts(HOSTVARS, data, created_after='7d')['web1']['sessions']] == ['s-new']


def test_summary_with_criteria_is_the_summary_of_the_selection():
    result = terminal_session_summary(registered(), username='root')
    assert result['i-a'] == summarize([S1], 'i-a')
    assert result['i-a']['closed_reasons'] == {'ClientClosed': 1}
    assert result['i-a']['last_session_user'] == 'root'


# --- enrich_hosts -------------------------------------------------------------------------------

def test_enrich_hosts_hand_computed():
    result = enrich_hosts(HOSTVARS, registered())
    assert result == EXPECTED_HOSTS
    assert list(result) == ['web1', 'web2', 'db1', 'spare1']  # order of hostvars
    assert result['spare1']['summary'] == summarize([]) == empty_summary()


def test_enrich_hosts_selected_hosts():
    result = enrich_hosts(HOSTVARS, raw(), hosts=['db1', 'lb1', 'ghost', 'web1', 'db1'])
    assert list(result) == ['db1', 'web1']  # order of hosts; no instance ID, unknown, repeated names left out
    assert result == {'db1': EXPECTED_HOSTS['db1'], 'web1': EXPECTED_HOSTS['web1']}
    assert enrich_hosts(HOSTVARS, raw(), hosts='web2') == {'web2': EXPECTED_HOSTS['web2']}
    assert enrich_hosts(HOSTVARS, raw(), hosts=('spare1',)) == {'spare1': EXPECTED_HOSTS['spare1']}
    assert enrich_hosts(HOSTVARS, raw(), hosts=[]) == {}
    assert enrich_hosts(HOSTVARS, raw(), hosts=['ghost']) == {}


def test_enrich_hosts_other_variable_and_shared_instance():
    hostvars = {'a': {'ecs_id': ' i-b '}, 'b': {'ecs_id': 'i-b', 'instance_id': 'i-a'}, 'c': {'instance_id': 'i-a'}, 'd': {'ecs_id': None}}
    result = enrich_hosts(hostvars, raw(), instance_id_var='ecs_id')
    assert result == {'a': EXPECTED_HOSTS['web2'], 'b': EXPECTED_HOSTS['web2']}


def test_enrich_hosts_criteria():
    result = enrich_hosts(HOSTVARS, FORMS['list of responses'], hosts=['web1', 'web2', 'spare1'], active=True)
    assert result == {
        'web1': {'instance_id': 'i-a', 'sessions': [S1], 'summary': summarize([S1], 'i-a')},
        'web2': EXPECTED_HOSTS['web2'],
        'spare1': EXPECTED_HOSTS['spare1'],
    }
    # the selection counts only the connections to the host's own instance
    assert result['web1']['summary']['active_session_count'] == 0
    assert result['web1']['summary']['closed_reasons'] == {'ClientClosed': 1}


class CountingHostVars(Mapping):
    """Like ansible-core's HostVars: a Mapping of host names to lazily built per-host Mappings."""

    def __init__(self, hostvars):
        self._hostvars = hostvars
        self.lookups = []

    def __getitem__(self, name):
        self.lookups.append(name)
        return LazyDict(self._hostvars[name])

    def __contains__(self, name):
        return name in self._hostvars

    def __iter__(self):
        return iter(self._hostvars)

    def __len__(self):
        return len(self._hostvars)


def test_enrich_hosts_with_a_hostvars_like_object():
    hostvars = CountingHostVars(HOSTVARS)
    assert enrich_hosts(hostvars, lazy(registered())) == EXPECTED_HOSTS
    assert sorted(hostvars.lookups) == sorted(HOSTVARS)  # each host read once
    hostvars.lookups = []
    assert enrich_hosts(hostvars, registered(), hosts=lazy(['web1', 'ghost'])) == {'web1': EXPECTED_HOSTS['web1']}
    assert hostvars.lookups == ['web1']  # only the named hosts are read


def test_enrich_groups_once(monkeypatch):
    calls = []
    real = enrichment.sessions_by_instance

    def counting(sessions, instance_ids=None):
        calls.append(instance_ids)
        return real(sessions, instance_ids)

    monkeypatch.setattr(enrichment, 'sessions_by_instance', counting)
    sessions = [dict(S1, session_id='s-%d' % n, instance_ids=['i-%d' % (n % 50)], connections=[]) for n in range(500)]
    hostvars = dict(('host%d' % n, {'instance_id': 'i-%d' % (n % 80)}) for n in range(400))
    result = enrich_hosts(hostvars, sessions)
    assert len(calls) == 1
    assert calls[0] == set('i-%d' % n for n in range(80))
    assert len(result) == 400
    assert result['host7']['summary']['session_count'] == 10
    assert result['host70']['sessions'] == [] and result['host70']['summary'] == empty_summary()


def test_enrich_core_function():
    assert enrich([('h1', 'i-a'), ('h2', 'i-zz')], NORMALISED) == {
        'h1': EXPECTED_HOSTS['web1'], 'h2': {'instance_id': 'i-zz', 'sessions': [], 'summary': SUMMARY_NONE}}
    assert enrich([], NORMALISED) == {}


# --- errors ---------------------------------------------------------------------------------------

def error_of(function, *args, **kwargs):
    with pytest.raises(AnsibleFilterError) as caught:
        function(*args, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize('name', ['terminal_sessions_by_instance', 'terminal_session_summary', 'enrich_hosts'])
@pytest.mark.parametrize('data, fragments', [
    (42, ['data: expected the result registered from alicloud.ecs.ecs_terminal_session_info', 'got int']),
    ('s-1', ['data: expected', 'got str']),
    (None, ['data: expected', 'got NoneType']),
    ({'changed': False, 'skipped': True}, ['data: expected', 'got a dict without sessions or Sessions (keys: changed, skipped)']),
    ({'sessions': 'oops'}, ['data.sessions: expected a list of sessions; got str']),
    ({'sessions': [S1, 'oops']}, ['data.sessions[1]: expected a session (a dict); got str']),
    ({'Sessions': 7}, ['data.Sessions: expected a list of sessions; got int']),
    ({'Sessions': {'Session': 'x'}}, ['data.Sessions.Session: expected a list of sessions; got str']),
    ([RAW_SESSIONS[0], ['nested']], ['data[1]: expected a session or a DescribeTerminalSessions response (a dict); got list']),
    ([{'Sessions': [RAW_SESSIONS[0], 3]}], ['data[0].Sessions[1]: expected a session (a dict); got int']),
    ([{'SessionId': 's-1', 'Connections': ['x']}], ['data[0]: expected each connection to be a dictionary']),
])
def test_data_errors_name_the_filter_and_argument(name, data, fragments):
    function = getattr(plugin, name)
    args = (HOSTVARS, data) if name == 'enrich_hosts' else (data,)
    message = error_of(function, *args)
    assert message.startswith('alicloud.ecs.%s: data' % name)
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize('hostvars, expected', [
    (['web1'], 'alicloud.ecs.enrich_hosts: hostvars: expected a mapping of inventory host names to their variables, '
               'such as hostvars; got list'),
    ('web1', 'alicloud.ecs.enrich_hosts: hostvars: expected a mapping of inventory host names to their variables, '
             'such as hostvars; got str'),
    ({'web1': 'i-a'}, "alicloud.ecs.enrich_hosts: hostvars['web1']: expected the variables of the host (a dict); got str"),
    ({'web1': {'instance_id': ['i-a']}},
     "alicloud.ecs.enrich_hosts: hostvars['web1']['instance_id'] (instance_id_var): expected an instance ID (a string); got list"),
])
def test_hostvars_errors(hostvars, expected):
    assert error_of(enrich_hosts, hostvars, registered()) == expected


@pytest.mark.parametrize('kwargs, expected', [
    ({'hosts': 5}, 'alicloud.ecs.enrich_hosts: hosts: expected a list of inventory host names (or one name); got int'),
    ({'hosts': {'web1': 1}}, 'alicloud.ecs.enrich_hosts: hosts: expected a list of inventory host names (or one name); got dict'),
    ({'hosts': ['web1', 3]}, 'alicloud.ecs.enrich_hosts: hosts[1]: expected an inventory host name (a string); got int'),
    ({'instance_id_var': 5}, 'alicloud.ecs.enrich_hosts: instance_id_var: expected the name of the variable holding the '
                             'instance ID (a non-empty string); got int'),
    ({'instance_id_var': ' '}, 'alicloud.ecs.enrich_hosts: instance_id_var: expected the name of the variable holding the '
                               'instance ID (a non-empty string); got an empty string'),
    ({'host': 'web1'}, 'alicloud.ecs.enrich_hosts: unknown keyword argument host; expected hosts, instance_id_var, active, '
                       'client_ip, created_after, created_before, identity_type, port_forwarding, principal_id, status, username'),
])
def test_enrich_hosts_argument_errors(kwargs, expected):
    assert error_of(enrich_hosts, HOSTVARS, registered(), **kwargs) == expected


@pytest.mark.parametrize('name', ['terminal_sessions_by_instance', 'terminal_session_summary', 'enrich_hosts'])
@pytest.mark.parametrize('kwargs, fragments', [
    ({'created_after': 'soon'}, ["criteria.created_after: 'soon' is neither an ISO 8601 time"]),
    ({'created_before': 7}, ['criteria.created_before: expected a string (an ISO 8601 time or an age such as 7d); got int']),
    ({'client_ip': 'not-an-ip'}, ["criteria.client_ip: 'not-an-ip' is not an IP address or CIDR block"]),
    ({'active': 'maybe'}, ["criteria.active: expected a boolean (true or false); got str 'maybe'"]),
    ({'port_forwarding': [True]}, ['criteria.port_forwarding: expected a boolean (true or false); got list']),
    ({'username': {'root': 1}}, ['criteria.username: expected a string or a list of strings; got dict']),
    ({'username': True}, ['criteria.username: expected a string or a list of strings; got bool']),
    ({'status': ['Failed', ['x']]}, ['criteria.status: expected a string or a list of strings; got a list with a list']),
    ({'userName': 'root', 'since': '7d'}, ['unknown keyword arguments since, userName; expected ', 'username']),
])
def test_criteria_errors_name_the_filter_and_argument(name, kwargs, fragments):
    function = getattr(plugin, name)
    args = (HOSTVARS, registered()) if name == 'enrich_hosts' else (registered(),)
    message = error_of(function, *args, **kwargs)
    assert message.startswith('alicloud.ecs.%s: ' % name)
    for fragment in fragments:
        assert fragment in message


def test_error_type_names_are_native():
    # Values as this ansible-core hands them to a filter: read from an inventory file (tagged with their origin
    # from 2.19 on; AnsibleUnicode, AnsibleSequence before) or marked unsafe by templating (AnsibleUnsafeText before 2.19).
    loaded = DataLoader().load('count: 42\nhosts: [web1]\nname: web1\n', file_name='/inventory/hosts.yml')
    assert {type(loaded['hosts']), type(loaded['name'])}.isdisjoint({list, str})  # wrapped, or this proves nothing
    assert error_of(terminal_session_summary, loaded['count']).endswith('got int')
    assert error_of(terminal_session_summary, loaded['name']).endswith('got str')
    assert error_of(enrich_hosts, loaded['hosts'], registered()).endswith('got list')
    assert error_of(enrich_hosts, HOSTVARS, registered(), hosts=loaded['count']).endswith('got int')
    assert error_of(terminal_session_summary, wrap_var('web1')).endswith('got str')
    assert error_of(terminal_session_summary, wrap_var(b'web1')).endswith('got bytes')
    # a subclass that is not ansible-core's keeps its own name, on every core
    assert enrichment.type_name(collections.OrderedDict()) == 'OrderedDict'


def test_data_error_is_a_type_error():
    with pytest.raises(DataError) as caught:
        sessions_from_data(3.5)
    assert isinstance(caught.value, TypeError)
    assert str(caught.value).endswith('got float')


def test_filter_module_exposes_the_three_filters():
    assert FilterModule().filters() == {
        'terminal_sessions_by_instance': terminal_sessions_by_instance,
        'terminal_session_summary': terminal_session_summary,
        'enrich_hosts': enrich_hosts,
    }


def test_every_filter_has_its_documentation_file():
    for name in FilterModule().filters():
        with open(os.path.join(REPO, 'plugins', 'filter', '%s.yml' % name)) as source:
            doc = yaml.safe_load(source)
        assert doc['DOCUMENTATION']['name'] == name
        assert doc['DOCUMENTATION']['version_added'] == '0.1.0' or str(doc['DOCUMENTATION']['version_added']) == '0.1.0'
        assert '_input' in doc['DOCUMENTATION']['options']
        assert '_value' in doc['RETURN']
        assert doc['EXAMPLES'].strip()


# --- through a real template, with real HostVars (a separate process: it installs the collection loader) ---

PLAY_SCRIPT = textwrap.dedent('''
    import json, sys
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar
    from ansible.vars.hostvars import HostVars
    from ansible.vars.manager import VariableManager

    collections_path, inventory, data, template = sys.argv[1:5]
    init_plugin_loader([collections_path])
    try:
        from ansible._internal._datatag._tags import TrustedAsTemplate
        trust = TrustedAsTemplate().tag
    except ImportError:
        trust = lambda text: text
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[inventory])
    variable_manager = VariableManager(loader=loader, inventory=inventory)
    hostvars = HostVars(inventory=inventory, variable_manager=variable_manager, loader=loader)
    templar = Templar(loader=loader, variables={'hostvars': hostvars, 'terminal_sessions': json.loads(data),
                                                'groups': {'web': ['web1', 'web2', 'ghost']}})
    try:
        print(json.dumps({'result': templar.template(trust(template))}))
    except Exception as error:
        print(json.dumps({'error': str(error)}))
''')

INVENTORY = textwrap.dedent('''
    all:
      hosts:
        web1:
          instance_id: "{{ 'i-' ~ 'a' }}"
        web2:
          instance_id: i-b
        lb1: {}
        spare1:
          instance_id: i-d
''')


def run_template(tmp_path, template, data):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(INVENTORY)
    collections_path = os.path.dirname(os.path.dirname(os.path.dirname(REPO)))
    if not os.path.isdir(os.path.join(collections_path, 'ansible_collections', 'alicloud', 'ecs')):
        collections_path = os.path.join(REPO, 'build', 'collections')
    env = dict(os.environ, HOME=str(tmp_path), ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'))
    completed = subprocess.run([sys.executable, '-c', PLAY_SCRIPT, collections_path, str(inventory), json.dumps(data), template],
                               capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_through_a_template_with_real_hostvars(tmp_path):
    outcome = run_template(tmp_path, "{{ hostvars | alicloud.ecs.enrich_hosts(terminal_sessions) }}", registered())
    assert outcome == {'result': {'web1': EXPECTED_HOSTS['web1'], 'web2': EXPECTED_HOSTS['web2'],
                                  'spare1': EXPECTED_HOSTS['spare1']}}
    outcome = run_template(tmp_path, "{{ hostvars | alicloud.ecs.enrich_hosts(terminal_sessions, hosts=groups['web'], active=true) }}",
                           {'Sessions': {'Session': raw()}})
    assert outcome == {'result': {'web1': {'instance_id': 'i-a', 'sessions': [S1], 'summary': summarize([S1], 'i-a')},
                                  'web2': EXPECTED_HOSTS['web2']}}
    outcome = run_template(tmp_path, "{{ terminal_sessions | alicloud.ecs.terminal_session_summary(created_after='2024-01-19T12:00:00Z') }}",
                           raw())
    assert outcome == {'result': {'i-a': summarize([S2], 'i-a')}}
    outcome = run_template(tmp_path, "{{ terminal_sessions.sessions | alicloud.ecs.terminal_sessions_by_instance }}", registered())
    assert outcome == {'result': EXPECTED_BY_INSTANCE}
    outcome = run_template(tmp_path, "{{ hostvars | alicloud.ecs.enrich_hosts(terminal_sessions, hosts=5) }}", registered())
    assert 'alicloud.ecs.enrich_hosts: hosts: expected a list of inventory host names (or one name); got int' in outcome['error']


def test_an_archive_read_whole_skips_its_header_line():
    header = {'_archive_format': 'alicloud.ecs.terminal_sessions', 'version': 1, 'records': 1}
    record = {'session_id': 's-1', 'region_id': 'cn-hangzhou', 'creation_time': '2024-01-19T09:15:46Z',
              'connections': [{'instance_id': 'i-a', 'status': 'Terminated'}], 'instance_ids': ['i-a']}
    assert plugin.terminal_sessions_by_instance([header, record]) == {'i-a': [record]}
