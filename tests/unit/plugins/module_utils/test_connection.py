from __future__ import annotations

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils.connection import (
    Connection, OptionError, connection_argument_spec, option_secrets, validate_connection)
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import scrub


def params(**given):
    values = dict((name, spec.get('default')) for name, spec in connection_argument_spec().items())
    values.update(region_id=['cn-hangzhou'], access_key_id='LTAIkey', access_key_secret='s3cret-value')
    values.update(given)
    return values


@pytest.mark.parametrize('name', ['ca_bundle', 'shared_credentials_file'])
def test_a_nul_byte_in_a_path_option_is_named(name):
    with pytest.raises(OptionError) as caught:
        validate_connection(params(**{name: '/tmp/ca\x00.pem'}))
    assert str(caught.value) == '%s: the path contains a NUL byte, which no file name can hold' % name


@pytest.mark.parametrize('name, value', [('ram_role_arn', 'acs:ram::1:role/r\n'), ('ecs_ram_role', 'role\n'),
                                         ('profile', 'default\n'), ('region_id', ['cn-h\u00e1ngzhou'])])
def test_values_are_checked_whole(name, value):
    with pytest.raises(OptionError) as caught:
        validate_connection(params(**{name: value}))
    assert str(caught.value).startswith(name)


def test_the_sdk_gets_the_proxy_with_its_password_encoded_and_messages_mask_it():
    given = 'http://auditor:p#ss?w@rd@127.0.0.1:3128'
    connection = Connection(params(http_proxy=given), environ={})
    assert 'p#ss?w@rd' in connection.secrets() and 's3cret-value' in connection.secrets()
    assert option_secrets({'secret_key': 'alias-secret', 'https_proxy': given})[:2] == ['alias-secret', 'p#ss?w@rd']
    assert scrub('proxy %s failed' % given) == 'proxy http://auditor:********@127.0.0.1:3128 failed'
