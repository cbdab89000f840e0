"""End to end with the real alibabacloud-tea-openapi client: V3, V2, STS, HTTPS, paging, filters."""
from __future__ import annotations

import json

import pytest

from ecs_endpoint.data import make_sessions
from ecs_endpoint.server import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

STS = {'STS.testkey0001': {'secret': 'sts-secret-do-not-leak', 'security_token': 'sts-token-0001'}}
ALL_CREDS = dict(STS, **{DEFAULT_ACCESS_KEY_ID: {'secret': DEFAULT_ACCESS_KEY_SECRET, 'security_token': None}})
QUERY = {'RegionId': 'cn-hangzhou', 'MaxResults': '100'}


def _ids(bodies):
    return [s['SessionId'] for b in bodies for s in b['Sessions']['Session']]


def _assert_no_secret_on_wire(endpoint, *secrets):
    wire = json.dumps(endpoint.stats()['requests'])
    for secret in secrets:
        assert secret not in wire


@pytest.mark.parametrize('algorithm', [None, 'v2'])
@pytest.mark.parametrize('style', ['absent', 'empty'])
def test_pages_cover_every_session_once(make_endpoint, sdk, algorithm, style):
    endpoint = make_endpoint(last_page_token_style=style)
    bodies = sdk.pages(sdk.client(endpoint, signature_algorithm=algorithm), QUERY)
    assert len(bodies) == 3 and endpoint.stats()['calls'] == 3
    expected = [s['SessionId'] for s in endpoint.sessions('cn-hangzhou')]
    assert _ids(bodies) == expected and len(set(expected)) == 250
    last = bodies[-1]
    assert ('NextToken' not in last) if style == 'absent' else (last['NextToken'] == '')
    assert all(b['NextToken'] for b in bodies[:-1])
    times = [s['CreationTime'] for b in bodies for s in b['Sessions']['Session']]
    assert times == sorted(times, reverse=True)
    assert all('_targets' not in s and 'Connection' in s['Connections'] for b in bodies for s in b['Sessions']['Session'])
    assert len({b['RequestId'] for b in bodies}) == 3
    _assert_no_secret_on_wire(endpoint, DEFAULT_ACCESS_KEY_SECRET)


def test_get_method_and_default_max_results(endpoint, sdk):
    body = sdk.call(sdk.client(endpoint), {'RegionId': 'cn-shanghai'}, method='GET')
    assert len(body['Sessions']['Session']) == 10 and body['NextToken']
    assert endpoint.stats()['requests'][0]['method'] == 'GET'


def test_instance_filter_includes_sessions_without_connections(make_endpoint, sdk):
    sessions = make_sessions('cn-hangzhou', 250, start='2024-06-01T00:00:00Z')
    lonely = next(s for s in sessions if not s['Connections']['Connection'])
    instance = lonely['_targets'][0]
    endpoint = make_endpoint({'cn-hangzhou': sessions})
    bodies = sdk.pages(sdk.client(endpoint), dict(QUERY, InstanceId=instance))
    ids = _ids(bodies)
    assert lonely['SessionId'] in ids
    assert ids == [s['SessionId'] for s in sessions if instance in s['_targets']]
    one = sdk.call(sdk.client(endpoint), {'RegionId': 'cn-hangzhou', 'SessionId': lonely['SessionId']})
    assert _ids([one]) == [lonely['SessionId']] and 'NextToken' not in one


def test_https_with_generated_ca(make_endpoint, sdk):
    endpoint = make_endpoint(tls=True)
    assert endpoint.protocol == 'https' and endpoint.ca_file
    bodies = sdk.pages(sdk.client(endpoint), QUERY)
    assert len(_ids(bodies)) == 250


def test_https_rejects_unknown_ca(make_endpoint, sdk):
    endpoint = make_endpoint(tls=True)
    client = sdk.Client(sdk.Config(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
                                   endpoint=endpoint.endpoint, protocol='https'))
    with pytest.raises(sdk.UnretryableException):
        sdk.call(client, QUERY)


def test_https_ca_file_removed_on_stop(make_endpoint):
    import os  # pylint: disable=import-outside-toplevel
    endpoint = make_endpoint(tls=True)
    path = endpoint.ca_file
    assert os.path.exists(path)
    endpoint.stop()
    assert not os.path.exists(path) and endpoint.ca_file is None


@pytest.mark.parametrize('algorithm', [None, 'v2'])
def test_sts_credentials(make_endpoint, sdk, algorithm):
    endpoint = make_endpoint(credentials=ALL_CREDS)
    good = sdk.client(endpoint, 'STS.testkey0001', 'sts-secret-do-not-leak', 'sts-token-0001', signature_algorithm=algorithm)
    assert len(sdk.call(good, QUERY)['Sessions']['Session']) == 100
    wrong = sdk.client(endpoint, 'STS.testkey0001', 'sts-secret-do-not-leak', 'sts-token-9999', signature_algorithm=algorithm)
    missing = sdk.client(endpoint, 'STS.testkey0001', 'sts-secret-do-not-leak', None, signature_algorithm=algorithm)
    extra = sdk.client(endpoint, token='sts-token-0001', signature_algorithm=algorithm)
    for client in (wrong, missing, extra):
        with pytest.raises(sdk.exceptions.ClientException) as info:
            sdk.call(client, QUERY)
        assert info.value.code == 'InvalidSecurityToken.MismatchWithAccessKey' and info.value.status_code == 400
    _assert_no_secret_on_wire(endpoint, 'sts-secret-do-not-leak', DEFAULT_ACCESS_KEY_SECRET)
    if algorithm is None:
        headers = endpoint.stats()['requests'][0]['headers']
        assert headers['x-acs-security-token'] == 'sts-token-0001'
        assert 'x-acs-security-token' in headers['Authorization']


def test_expired_sts_token(make_endpoint, sdk):
    creds = {'STS.old': {'secret': 's', 'security_token': 't', 'expired': True}}
    endpoint = make_endpoint(credentials=creds)
    with pytest.raises(sdk.exceptions.ClientException) as info:
        sdk.call(sdk.client(endpoint, 'STS.old', 's', 't'), QUERY)
    assert info.value.code == 'InvalidSecurityToken.Expired'


@pytest.mark.parametrize('algorithm', [None, 'v2'])
def test_wrong_secret_and_unknown_key(endpoint, sdk, algorithm):
    with pytest.raises(sdk.exceptions.ClientException) as info:
        sdk.call(sdk.client(endpoint, secret='not-the-secret', signature_algorithm=algorithm), QUERY)
    err = info.value
    assert err.code == 'SignatureDoesNotMatch' and err.status_code == 400 and err.request_id
    assert 'server string to sign is:' in err.data['Message']
    assert DEFAULT_ACCESS_KEY_SECRET not in json.dumps(err.data) and 'not-the-secret' not in json.dumps(err.data)
    assert set(err.data) >= {'RequestId', 'HostId', 'Code', 'Message', 'Recommend'}
    with pytest.raises(sdk.exceptions.ClientException) as info:
        sdk.call(sdk.client(endpoint, access_key_id='LTAInobody', signature_algorithm=algorithm), QUERY)
    assert info.value.code == 'InvalidAccessKeyId.NotFound' and info.value.status_code == 404
    stats = endpoint.stats()
    assert stats['auth_failures'] == 2 and stats['calls'] == 2
    assert stats['by_code'] == {'SignatureDoesNotMatch': 1, 'InvalidAccessKeyId.NotFound': 1}


@pytest.mark.parametrize('query, code, status', [
    ({}, 'MissingParameter', 400),
    ({'RegionId': 'cn-nowhere'}, 'InvalidRegionId.NotFound', 404),
    ({'RegionId': 'cn-hangzhou', 'MaxResults': '0'}, 'InvalidParameter.MaxResults', 400),
    ({'RegionId': 'cn-hangzhou', 'MaxResults': '101'}, 'InvalidParameter.MaxResults', 400),
    ({'RegionId': 'cn-hangzhou', 'MaxResults': 'ten'}, 'InvalidParameter.MaxResults', 400),
    ({'RegionId': 'cn-hangzhou', 'MaxResults': '-5'}, 'InvalidParameter.MaxResults', 400),
    ({'RegionId': 'cn-hangzhou', 'NextToken': 'AAAAAdDWBF2****'}, 'InvalidParameter.NextToken', 400),
])
def test_parameter_errors(endpoint, sdk, query, code, status):
    with pytest.raises(sdk.exceptions.ClientException) as info:
        sdk.call(sdk.client(endpoint), query)
    assert (info.value.code, info.value.status_code) == (code, status)


@pytest.mark.parametrize('change', [{'MaxResults': '50'}, {'InstanceId': 'i-hz001'}, {'SessionId': 's-hz-000001'}, {'RegionId': 'cn-shanghai'}])
def test_next_token_bound_to_query(endpoint, sdk, change):
    client = sdk.client(endpoint)
    token = sdk.call(client, QUERY)['NextToken']
    assert sdk.call(client, dict(QUERY, NextToken=token))['Sessions']['Session']
    with pytest.raises(sdk.exceptions.ClientException) as info:
        sdk.call(client, dict(QUERY, NextToken=token, **change))
    assert info.value.code == 'InvalidParameter.NextToken'


def test_token_from_another_server_rejected(make_endpoint, sdk):
    first, second = make_endpoint(), make_endpoint()
    token = sdk.call(sdk.client(first), QUERY)['NextToken']
    with pytest.raises(sdk.exceptions.ClientException) as info:
        sdk.call(sdk.client(second), dict(QUERY, NextToken=token))
    assert info.value.code == 'InvalidParameter.NextToken'


def test_records_inserted_while_paging(endpoint, sdk):
    client = sdk.client(endpoint)
    before = [s['SessionId'] for s in endpoint.sessions('cn-hangzhou')]
    first = sdk.call(client, QUERY)
    added = endpoint.generate_sessions('cn-hangzhou', 5)
    rest = sdk.pages(client, dict(QUERY, NextToken=first['NextToken']))
    ids = _ids([first] + rest)
    assert set(before) <= set(ids) and not set(added) & set(ids)
    assert len(ids) - len(set(ids)) == 5  # offsets shift: the client has to de-duplicate by SessionId
    assert len(sdk.pages(client, QUERY)[0]['Sessions']['Session']) == 100
    assert _ids(sdk.pages(client, QUERY))[:5] == added
