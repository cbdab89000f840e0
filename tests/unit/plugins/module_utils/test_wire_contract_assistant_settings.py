"""The strict local endpoint against the wire contract of the Session Manager posture calls.

The contract itself (the collection's requests against the official generated ECS SDK's, every field of the official
answer read) is the DescribeCloudAssistantSettings and ModifyCloudAssistantSettings rows of
test_wire_contract.CONTRACTS. What is left here is the local endpoint's side (tests/ecs_endpoint/assistant_settings.py,
which the integration tests use in place of the cloud): it must accept every request of those rows, from the collection
and from the official client alike, and its answer must read the same through the official models and the collection.
"""

from __future__ import annotations

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils import errors
from ansible_collections.alicloud.ecs.plugins.module_utils import session_manager as sm

from ecs_endpoint.server import EcsEndpoint
from support.keys import CREDENTIALS

import test_wire_contract as wire

ROWS = {contract.action: contract for contract in wire.CONTRACTS if contract.action in (sm.DESCRIBE_ACTION, sm.MODIFY_ACTION)}
CASES = [pytest.param(action, case, id='%s-%s' % (action, case)) for action, contract in sorted(ROWS.items())
         for case in contract.cases]
REGIONS = sorted({params['RegionId'] for contract in ROWS.values() for params in contract.cases.values()})
KEYS = wire.KEYS['static keys']


@pytest.fixture(autouse=True)
def fresh_secret_registry(monkeypatch):
    monkeypatch.setattr(errors, 'SECRETS', errors._Registry())


@pytest.fixture
def endpoint():
    server = EcsEndpoint({region: [] for region in REGIONS}, credentials=CREDENTIALS).start()
    yield server
    server.stop()


def last_request(endpoint):
    request = endpoint.stats()['requests'][-1]
    assert request['status'] == 200, request
    return request


def test_both_rows_are_in_the_table():
    assert sorted(ROWS) == sorted((sm.DESCRIBE_ACTION, sm.MODIFY_ACTION))


@pytest.mark.parametrize('action, case', CASES)
def test_the_endpoint_accepts_what_both_clients_send(endpoint, action, case):
    contract, params = ROWS[action], ROWS[action].cases[case]
    contract.send(wire.connection_to(endpoint.endpoint, KEYS, params['RegionId']), params)
    ours = last_request(endpoint)
    wire.official_call(wire.official_client(endpoint.endpoint, KEYS), contract, params)
    theirs = last_request(endpoint)
    assert ours['query'] == theirs['query'] == params


def test_the_answer_parsed_by_the_official_models_and_by_the_collection_agree(endpoint):
    region = wire.REGION
    endpoint.assistant.set_delivery(region, oss={'Enabled': True, 'BucketName': 'audit-bucket-1', 'Prefix': 'p',
                                                 'EncryptionType': 'KMS', 'EncryptionAlgorithm': 'SM4', 'EncryptionKeyId': 'k-1'},
                                    sls={'Enabled': True, 'ProjectName': 'audit-project', 'LogstoreName': 'session_logs'})
    endpoint.assistant.session_manager_enabled = True
    contract = ROWS[sm.DESCRIBE_ACTION]
    params = next(params for params in contract.cases.values() if params['RegionId'] == region)
    model = wire.official_call(wire.official_client(endpoint.endpoint, KEYS), contract, params).body
    facts = contract.parse(wire.connection_to(endpoint.endpoint, KEYS, region), region)
    oss = model.oss_delivery_configs.oss_delivery_config[0]
    sls = model.sls_delivery_configs.sls_delivery_config[0]
    assert facts['session_manager_enabled'] is model.session_manager_config.session_manager_enabled is True
    assert facts['oss_delivery'] == {name: getattr(oss, name) for name, _api in sm.OSS_FIELDS}
    assert facts['sls_delivery'] == {name: getattr(sls, name) for name, _api in sm.SLS_FIELDS}
    assert oss.delivery_type == sm.SESSION_DELIVERY_TYPE
