"""The collection's own credential path against the local STS and ECS endpoints on loopback, in process: ca_bundle
reaches the STS call (no SSL_CERT_FILE), the AssumeRole parameters arrive, and an expired key is renewed once.

The end-to-end tests through ansible-playbook (tests/integration/test_credentials_e2e.py) cover every source; these
keep the mechanisms close to the code that makes them.
"""
from __future__ import annotations

import json

import pytest

from ecs_endpoint.data import make_sessions
from ecs_endpoint.identities import IdentityRegistry, assumed_identity
from ecs_endpoint.server import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, EcsEndpoint
from ecs_endpoint.sts import StsEndpoint

from ansible_collections.alicloud.ecs.plugins.module_utils import errors, sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.connection import Connection, connection_argument_spec
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError

ROLE = 'acs:ram::1234567890123456:role/collector'
POLICY = '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]}'
QUERY = {'RegionId': 'cn-hangzhou', 'MaxResults': 10}


@pytest.fixture(autouse=True)
def fresh_secret_registry(monkeypatch):
    """A registry of its own per test, and no SDK log line left for the next test (the buffer is process-wide)."""
    monkeypatch.setattr(errors, 'SECRETS', errors._Registry())
    yield
    sdk.drain_sdk_logs()


@pytest.fixture
def registry():
    return IdentityRegistry({DEFAULT_ACCESS_KEY_ID: {'secret': DEFAULT_ACCESS_KEY_SECRET, 'security_token': None}})


@pytest.fixture
def sts(registry):
    endpoint = StsEndpoint(registry, roles={ROLE: {'external_id': 'tenant-42', 'oidc_provider': None}}).start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def ecs(registry):
    endpoint = EcsEndpoint({'cn-hangzhou': make_sessions('cn-hangzhou', 5)}, credentials=registry).start()
    yield endpoint
    endpoint.stop()


def connection(tmp_path, ecs, sts, **given):
    params = {name: spec.get('default') for name, spec in connection_argument_spec().items()}
    params.update(region_id=['cn-hangzhou'], access_key_id=DEFAULT_ACCESS_KEY_ID,
                  access_key_secret=DEFAULT_ACCESS_KEY_SECRET, endpoint=ecs.endpoint, protocol='http',
                  ram_role_arn=ROLE, role_session_name='unit-run', external_id='tenant-42', role_policy=POLICY,
                  sts_endpoint=sts.endpoint, ca_bundle=sts.ca_file, retries=0)
    params.update(given)
    return Connection(params, {'HOME': str(tmp_path)})


def test_the_role_is_assumed_through_the_sts_endpoint_option_trusting_ca_bundle(tmp_path, ecs, sts):
    client = connection(tmp_path, ecs, sts).client_for('cn-hangzhou')
    body = client.call('DescribeTerminalSessions', QUERY)
    assert len(body['Sessions']['Session']) == 5
    assert ecs.identities_seen() == [assumed_identity(ROLE, 'unit-run')]
    (issued,) = sts.issued
    assert issued['external_id'] == 'tenant-42' and json.loads(issued['policy']) == json.loads(POLICY)


def test_without_ca_bundle_the_sts_certificate_is_not_trusted(tmp_path, ecs, sts):
    client = connection(tmp_path, ecs, sts, ca_bundle=None).client_for('cn-hangzhou')
    with pytest.raises(AlicloudError) as failed:
        client.call('DescribeTerminalSessions', QUERY)
    assert failed.value.code == 'CredentialsNotFound' and ROLE in str(failed.value)
    assert 'CERTIFICATE_VERIFY_FAILED' in str(failed.value) and sts.issued == []


def test_an_expired_key_is_renewed_and_the_page_sent_once_more(tmp_path, ecs, sts, registry):
    client = connection(tmp_path, ecs, sts).client_for('cn-hangzhou')
    client.call('DescribeTerminalSessions', QUERY)
    (first,) = registry.issued
    registry.expire_now(first.access_key_id)
    body = client.call('DescribeTerminalSessions', QUERY)
    assert len(body['Sessions']['Session']) == 5
    assert len(sts.issued) == 2 and registry.issued[1].access_key_id != first.access_key_id


def test_an_unreachable_sts_fails_naming_the_source_without_the_signed_url(tmp_path, ecs, sts):
    closed = '127.0.0.1:1'
    client = connection(tmp_path, ecs, sts, sts_endpoint=closed).client_for('cn-hangzhou')
    with pytest.raises(AlicloudError) as failed:
        client.call('DescribeTerminalSessions', QUERY)
    text = str(failed.value)
    assert ROLE in text and failed.value.code == 'CredentialsNotFound' and not failed.value.retryable
    assert '?(query not shown)' in text and 'Connection refused' in text
    assert 'Signature=' not in text and DEFAULT_ACCESS_KEY_ID not in text.split('(from the options)')[1]
    assert DEFAULT_ACCESS_KEY_SECRET not in text
