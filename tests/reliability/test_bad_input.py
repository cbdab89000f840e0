"""Bad input: every option with a wrong type, an out-of-range value or in a contradictory combination.

All cases run in one ansible-playbook run, each against an endpoint of its own, which must see no call.
"""

from __future__ import annotations

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.pagination import ListingKey, ResumePoint, encode_resume_token

from support.campaign import Campaign, module_args

DROP = object()
KEYS = ('access_key_id', 'access_key_secret', 'security_token')
OTHER_QUERY_TOKEN = encode_resume_token(ListingKey('cn-shanghai'), ResumePoint('AAAA', 3))

# (option, value given or a description of the combination, overrides, expected text naming the option, or a tuple of
# texts: ansible-core's own messages differ between releases, e.g. "is of type <class 'dict'>" before 2.19)
CASES = [
    ('access_key_id', 'LTAI key with spaces', {'access_key_id': 'LTAI key with spaces'}, 'access_key_id:'),
    ('access_key_id', "a list ['LTAIa', 'LTAIb']", {'access_key_id': ['LTAIa', 'LTAIb']}, 'access_key_id:'),
    ('access_key_secret', 'without access_key_id', {'access_key_id': DROP, 'security_token': DROP}, 'access_key_id is missing'),
    ('security_token', 'without access_key_id / access_key_secret', {'access_key_id': DROP, 'access_key_secret': DROP},
     'security_token needs access_key_id'),
    ('profile', 'together with access keys', {'profile': 'default'}, 'mutually exclusive with ecs_ram_role and profile'),
    ('shared_credentials_file', '/nonexistent/config.json', dict(dict.fromkeys(KEYS, DROP), profile='default',
                                                                 shared_credentials_file='/nonexistent/config.json'),
     'shared_credentials_file: cannot read'),
    ('ram_role_arn', 'audit-reader (not an ARN)', {'ram_role_arn': 'audit-reader'}, 'ram_role_arn:'),
    ('role_session_name', 'audit run (a space)', {'ram_role_arn': 'acs:ram::123456789012:role/audit', 'role_session_name': 'audit run'},
     'role_session_name:'),
    ('role_session_name', 'without ram_role_arn', {'role_session_name': 'audit'}, 'role_session_name is only used with ram_role_arn'),
    ('role_session_expiration', '60', {'ram_role_arn': 'acs:ram::123456789012:role/audit', 'role_session_expiration': 60},
     'role_session_expiration must be between 900 and 43200'),
    ('role_session_expiration', 'an hour', {'role_session_expiration': 'an hour'}, "argument 'role_session_expiration'"),
    ('ecs_ram_role', 'together with access keys', {'ecs_ram_role': 'reader'}, 'mutually exclusive with ecs_ram_role'),
    ('region_id', 'cn hangzhou', {'region_id': 'cn hangzhou'}, 'region_id:'),
    ('region_id', '[] (empty list)', {'region_id': []}, 'region_id needs at least one region'),
    ('region_id', "a dict {'cn-hangzhou': 1}", {'region_id': {'cn-hangzhou': 1}}, "argument 'region_id'"),
    ('endpoint', 'https://127.0.0.1:1 (a scheme)', {'endpoint': 'https://127.0.0.1:1'}, 'without a scheme'),
    ('endpoint', '127.0.0.1:70000', {'endpoint': '127.0.0.1:70000'}, 'endpoint '),
    ('endpoint_type', 'private', {'endpoint_type': 'private'}, 'endpoint_type'),
    ('protocol', 'ftp', {'protocol': 'ftp'}, 'protocol'),
    ('validate_certs', 'maybe', {'validate_certs': 'maybe'}, "argument 'validate_certs'"),
    ('ca_bundle', '/nonexistent/ca.pem', {'ca_bundle': '/nonexistent/ca.pem'}, 'ca_bundle: cannot read'),
    ('http_proxy', 'ftp://proxy.example.com:21', {'http_proxy': 'ftp://proxy.example.com:21'}, 'http_proxy:'),
    ('https_proxy', 'http:// (no host)', {'https_proxy': 'http://'}, 'https_proxy:'),
    ('connect_timeout', 'fast', {'connect_timeout': 'fast'}, "argument 'connect_timeout'"),
    ('connect_timeout', '0', {'connect_timeout': 0}, 'connect_timeout must be between'),
    ('connect_timeout', 'nan', {'connect_timeout': 'nan'}, 'connect_timeout must be between'),
    ('read_timeout', '601', {'read_timeout': 601}, 'read_timeout must be between'),
    ('retries', '-1', {'retries': -1}, 'retries must be between'),
    ('retries', '101', {'retries': 101}, 'retries must be between'),
    ('retries', 'many', {'retries': 'many'}, "argument 'retries'"),
    ('retry_delay', '-0.5', {'retry_delay': -0.5}, 'retry_delay must be between'),
    ('retry_delay', 'inf', {'retry_delay': 'inf'}, 'retry_delay must be between'),
    ('retry_max_delay', '601', {'retry_max_delay': 601}, 'retry_max_delay must be between'),
    ('instance_id', "a dict {'i-1': 1}", {'instance_id': {'i-1': 1}}, "argument 'instance_id'"),
    ('instance_id', "['i-1', ' '] (a blank ID)", {'instance_id': ['i-1', ' ']}, 'instance_id: an empty ID'),
    ('session_id', "'' (empty)", {'session_id': ''}, 'session_id: an empty ID'),
    ('max_results', '0', {'max_results': 0}, 'max_results must be between 1 and 100'),
    ('max_results', '101', {'max_results': 101}, 'max_results must be between 1 and 100'),
    ('max_results', 'ten', {'max_results': 'ten'}, "argument 'max_results'"),
    ('max_items', '0', {'max_items': 0}, 'max_items must be at least 1'),
    ('max_items', 'with two instance IDs', {'max_items': 5, 'instance_id': ['i-1', 'i-2']}, 'max_items and next_token need a single query'),
    ('next_token', 'AAAAAdDWBF2 (not from this module)', {'next_token': 'AAAAAdDWBF2'}, 'next_token cannot be used'),
    ('next_token', 'a token of a cn-shanghai listing', {'next_token': OTHER_QUERY_TOKEN}, 'next_token cannot be used: it belongs to another query'),
    ('next_token', 'with two regions', {'next_token': OTHER_QUERY_TOKEN, 'region_id': ['cn-hangzhou', 'cn-shanghai']},
     'max_items and next_token need a single query'),
    ('filters', 'a list [root]', {'filters': ['root']}, "argument 'filters'"),
    ('filters', 'true', {'filters': True}, "argument 'filters'"),
    ('filters', 'not key=value', {'filters': 'root only'}, "argument 'filters'"),
    ('filters', 'an unknown criterion colour', {'filters': {'colour': 'red'}}, 'filters.colour'),
    ('filters.username', "a dict {'root': 1}", {'filters': {'username': {'root': 1}}}, ("argument 'username' is of type", "found in 'filters'")),
    ('filters.principal_id', "a dict {'p': 1}", {'filters': {'principal_id': {'p': 1}}}, ("argument 'principal_id' is of type", "found in 'filters'")),
    ('filters.identity_type', 'Robot', {'filters': {'identity_type': 'Robot'}}, 'filters.identity_type: unknown value robot'),
    ('filters.client_ip', '10.0.0.0/33', {'filters': {'client_ip': '10.0.0.0/33'}}, 'filters.client_ip'),
    ('filters.status', 'Conected (a typo)', {'filters': {'status': ['Connected', 'Conected']}}, 'filters.status: unknown value conected'),
    ('filters.active', 'maybe', {'filters': {'active': 'maybe'}}, ("argument 'active' is of type", "found in 'filters'")),
    ('filters.port_forwarding', 'sometimes', {'filters': {'port_forwarding': 'sometimes'}}, ("argument 'port_forwarding' is of type", "found in 'filters'")),
    ('filters.created_after', 'last tuesday', {'filters': {'created_after': 'last tuesday'}}, 'filters.created_after'),
    ('filters.created_before', '99999999999999w', {'filters': {'created_before': '99999999999999w'}}, 'filters.created_before'),
    ('filters.created_after', 'later than created_before', {'filters': {'created_after': '1d', 'created_before': '7d'}},
     'filters.created_after (1d) is not before filters.created_before (7d)'),
    ('query', '[? (not JMESPath)', {'query': '[?'}, 'query:'),
    ('on_region_error', 'ignore', {'on_region_error': 'ignore'}, 'on_region_error'),
    ('concurrency', '0', {'concurrency': 0}, 'concurrency must be between 1 and 32'),
    ('concurrency', '33', {'concurrency': 33}, 'concurrency must be between 1 and 32'),
    ('concurrency', 'many', {'concurrency': 'many'}, "argument 'concurrency'"),
    ('listing_timeout', '0', {'listing_timeout': 0}, 'listing_timeout must be more than 0 and at most 604800 seconds'),
    ('listing_timeout', 'nan', {'listing_timeout': 'nan'}, 'listing_timeout must be more than 0'),
    ('listing_timeout', 'soon', {'listing_timeout': 'soon'}, "argument 'listing_timeout'"),
    ('max_pages', '0', {'max_pages': 0}, 'max_pages must be at least 1'),
    ('max_pages', 'many', {'max_pages': 'many'}, "argument 'max_pages'"),
    ('sts_endpoint', 'https://sts.example.com (a scheme)', {'sts_endpoint': 'https://sts.example.com'}, 'sts_endpoint '),
    ('external_id', 'a control character', {'ram_role_arn': 'acs:ram::123456789012:role/audit', 'external_id': 'abc\x07def'},
     'external_id: '),
    ('role_policy', 'not JSON', {'ram_role_arn': 'acs:ram::123456789012:role/audit', 'role_policy': '{"Statement": ['},
     'role_policy: '),
    ('return_keys', 'everything', {'return_keys': ['everything']}, 'return_keys'),
    ('session_fields', 'colour (not a field)', {'session_fields': ['colour']}, 'session_fields: unknown name colour'),
]


def case_name(index):
    return 'bad-input-%02d' % index


@pytest.fixture(scope='module')
def runs(endpoint_factory, campaign_dir):
    campaign = Campaign(campaign_dir)
    for index, (_option, _value, overrides, _text) in enumerate(CASES):
        endpoint = endpoint_factory({'cn-hangzhou': 3, 'cn-shanghai': 3})
        args = module_args(endpoint)
        for name, value in overrides.items():
            if value is DROP:
                args.pop(name, None)
            else:
                args[name] = value
        campaign.add(case_name(index), args, endpoint)
    return campaign.run()


def test_every_module_option_is_covered():
    """A new option without a bad-input case fails this test."""
    from ansible_collections.alicloud.ecs.plugins.modules.ecs_terminal_session_info import argument_spec  # pylint: disable=import-outside-toplevel
    from ansible_collections.alicloud.ecs.plugins.module_utils.connection import connection_argument_spec  # pylint: disable=import-outside-toplevel
    spec = dict(connection_argument_spec(), **argument_spec())
    options = set(spec) | set('filters.%s' % name for name in spec['filters']['options'])
    assert options - set(option for option, _value, _overrides, _text in CASES) == set()


@pytest.mark.parametrize('index', range(len(CASES)), ids=['%s=%s' % (case[0], case[1]) for case in CASES])
def test_bad_input_fails_before_any_call_naming_the_option(runs, record, index):
    option, value, _overrides, text = CASES[index]
    run = runs[case_name(index)]
    calls = run.stats()['calls']
    record(kind='bad_input', option=option, value=value, message=run.msg[:160], endpoint_calls=calls, secret_hits=run.secret_hits())
    assert run.failed, run.result
    for fragment in text if isinstance(text, tuple) else (text,):
        assert fragment in run.msg, run.msg
    assert option.split('.')[-1] in run.msg
    assert 'Traceback' not in run.msg and 'MODULE FAILURE' not in run.msg
    assert calls == 0 and not run.result.get('api_calls')
    assert 'sessions' not in run.result
    assert run.secret_hits() == 0
