"""Every credential source the docs name, end to end through ansible-playbook, each asserting WHO signed the ECS calls.

The ECS endpoint shares an :class:`~ecs_endpoint.identities.IdentityRegistry` with the local STS (HTTPS on loopback)
and the instance-metadata service: it accepts only the static test keys and the keys those issued, and records the
identity behind each call - ``static:<key id>``, ``assumed:<role arn>/<session name>``, ``ecs-role:<role>``. Sources
read from files (CLI profiles, the INI file, an OIDC token) live in a sandboxed HOME the guard lets through only on an
explicit opt-in; the instance role needs 100.100.100.200, so its tests run inside a network namespace they create
(:mod:`support.netns`). Each test is one ansible-playbook run.
"""

from __future__ import annotations

import json

import pytest

from ecs_endpoint.identities import IdentityRegistry
from ecs_endpoint.server import EcsEndpoint
from ecs_endpoint.sts import StsEndpoint

from support.credential_sandbox import CredentialSandbox
from support.endpoints import seeded_regions
from support.keys import ACCESS_KEY_ID, CREDENTIALS, SECRETS, STS_KEY_ID, STS_SECRET, STS_TOKEN, secret_hits
from support.multi_task import run_tasks
from support.netns import run_in_netns
from support.playbooks import connection

MODULE = 'alicloud.ecs.ecs_terminal_session_info'
ACCOUNT = '1234567890123456'
ROLE = 'acs:ram::%s:role/collector' % ACCOUNT
PARTNER_ROLE = 'acs:ram::%s:role/partner-audit' % ACCOUNT
OIDC_PROVIDER = 'acs:ram::%s:oidc-provider/ack-rrsa-cluster1' % ACCOUNT
OIDC_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.oidc-token-do-not-leak-0001.c2ln'
INI_KEY_ID, INI_SECRET = 'LTAIinifilekey000000003', 'ini-secret-value-do-not-leak'
PROFILE_KEY_ID, PROFILE_SECRET = 'LTAIprofilekey00000004', 'profile-secret-value-do-not-leak'
ENV_KEY_ID, ENV_SECRET = 'LTAIenvkey0000000000005', 'env-secret-value-do-not-leak'
ROLES = {ROLE: {'external_id': None, 'oidc_provider': OIDC_PROVIDER},
         PARTNER_ROLE: {'external_id': 'tenant-42', 'oidc_provider': None}}
ALL_STATIC = dict(CREDENTIALS, **{key: {'secret': secret, 'security_token': None} for key, secret in
                                  ((INI_KEY_ID, INI_SECRET), (PROFILE_KEY_ID, PROFILE_SECRET), (ENV_KEY_ID, ENV_SECRET))})
STATIC_SECRETS = tuple(SECRETS) + (INI_SECRET, PROFILE_SECRET, ENV_SECRET, OIDC_TOKEN)


@pytest.fixture
def registry():
    return IdentityRegistry(ALL_STATIC)


@pytest.fixture
def services(registry):
    """``services(counts=None, sts=False, **sts_options)`` -> (ecs, sts or None), started on loopback, stopped after."""
    started = []

    def start(counts=None, sts=False, **sts_options):
        ecs = EcsEndpoint(seeded_regions(counts or {'cn-hangzhou': 30}), credentials=registry).start()
        started.append(ecs)
        sts_endpoint = None
        if sts:
            sts_endpoint = StsEndpoint(registry, roles=sts_options.pop('roles', ROLES), **sts_options).start()
            started.append(sts_endpoint)
        return ecs, sts_endpoint

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def sandbox(runner, tmp_path):
    return CredentialSandbox(tmp_path, runner.home)


def keyless(ecs, **extra):
    """Module arguments for ``ecs`` with no keys: the source under test provides them."""
    args = connection(ecs, **extra)
    args.pop('access_key_id')
    args.pop('access_key_secret')
    return args


def via_sts(sts):
    return {'sts_endpoint': sts.endpoint, 'ca_bundle': sts.ca_file}


def assert_listed(result, ecs, region='cn-hangzhou'):
    assert result is not None and not result.get('failed'), (result or {}).get('msg', result)
    expected = sorted(s['SessionId'] for s in ecs.sessions(region))
    assert sorted(s['session_id'] for s in result['sessions']) == expected


def assert_no_secret(run, registry, *extra):
    hits = secret_hits(run.output, list(STATIC_SECRETS) + registry.secrets() + list(extra))
    assert not hits, hits


def test_static_keys_and_sts_token(runner, services, registry):
    ecs, _sts = services()
    run = run_tasks(runner, {
        'static': {MODULE: connection(ecs)},
        'sts-token': {MODULE: connection(ecs, access_key_id=STS_KEY_ID, access_key_secret=STS_SECRET, security_token=STS_TOKEN)},
    })
    for result in run.results.values():
        assert_listed(result, ecs)
    assert ecs.identities_seen() == ['static:' + ACCESS_KEY_ID, 'static:' + STS_KEY_ID]
    assert_no_secret(run, registry)


def test_ram_role_arn_with_session_name_expiration_external_id_and_policy(runner, services, registry):
    ecs, sts = services(sts=True)
    policy = {'Version': '1', 'Statement': [{'Effect': 'Allow', 'Action': 'ecs:DescribeTerminalSessions', 'Resource': '*'}]}
    args = connection(ecs, ram_role_arn=PARTNER_ROLE, role_session_name='nightly-audit', role_session_expiration=1800,
                      external_id='tenant-42', role_policy=policy, **via_sts(sts))
    run = runner.run_module(args)
    assert_listed(run.result, ecs)
    [issued] = sts.issued
    assert issued['action'] == 'AssumeRole' and issued['role_arn'] == PARTNER_ROLE
    assert issued['role_session_name'] == 'nightly-audit' and issued['duration_seconds'] == 1800
    assert issued['external_id'] == 'tenant-42' and json.loads(issued['policy']) == policy
    assert issued['caller'] == 'static:' + ACCESS_KEY_ID
    assert ecs.identities_seen() == ['assumed:%s/nightly-audit' % PARTNER_ROLE]
    assert_no_secret(run, registry)


def test_cli_profile_modes(runner, services, registry, sandbox):
    ecs, sts = services(sts=True)
    sandbox.cli_config([
        {'name': 'keys', 'mode': 'AK', 'access_key_id': PROFILE_KEY_ID, 'access_key_secret': PROFILE_SECRET},
        {'name': 'temporary', 'mode': 'StsToken', 'access_key_id': STS_KEY_ID, 'access_key_secret': STS_SECRET,
         'sts_token': STS_TOKEN},
        {'name': 'role', 'mode': 'RamRoleArn', 'access_key_id': PROFILE_KEY_ID, 'access_key_secret': PROFILE_SECRET,
         'ram_role_arn': ROLE, 'ram_session_name': 'profile-role', 'expired_seconds': 900},
        {'name': 'partner', 'mode': 'ChainableRamRoleArn', 'source_profile': 'role', 'ram_role_arn': PARTNER_ROLE,
         'ram_session_name': 'chained', 'external_id': 'tenant-42'},
    ], current='keys')
    cases = {name: {MODULE: keyless(ecs, profile=name, **via_sts(sts))} for name in ('keys', 'temporary', 'role', 'partner')}
    run = run_tasks(runner, cases, env=sandbox.env('home'))
    for result in run.results.values():
        assert_listed(result, ecs)
    assert ecs.identities_seen() == ['static:' + PROFILE_KEY_ID, 'static:' + STS_KEY_ID, 'assumed:%s/profile-role' % ROLE,
                                     'assumed:%s/chained' % PARTNER_ROLE]
    calls = [(r['role_arn'], r['role_session_name'], r['caller']) for r in sts.issued]
    assert calls[0] == (ROLE, 'profile-role', 'static:' + PROFILE_KEY_ID)
    assert calls[-1] == (PARTNER_ROLE, 'chained', 'assumed:%s/profile-role' % ROLE)  # the chain: role, then partner
    assert sts.issued[0]['duration_seconds'] == 900 and sts.issued[-1]['external_id'] == 'tenant-42'
    assert_no_secret(run, registry)


def test_oidc_from_the_environment_of_ack_rrsa(runner, services, registry, sandbox):
    ecs, sts = services(sts=True)
    sts.register_oidc_token(OIDC_PROVIDER, OIDC_TOKEN)
    token_file = sandbox.oidc_token(OIDC_TOKEN)
    env = sandbox.env('home', ALIBABA_CLOUD_ROLE_ARN=ROLE, ALIBABA_CLOUD_OIDC_PROVIDER_ARN=OIDC_PROVIDER,
                      ALIBABA_CLOUD_OIDC_TOKEN_FILE=token_file, ALIBABA_CLOUD_ROLE_SESSION_NAME='awx-job-17')
    run = runner.run_module(keyless(ecs, **via_sts(sts)), env=env)
    assert_listed(run.result, ecs)
    assert [(r['action'], r['caller']) for r in sts.issued] == [('AssumeRoleWithOIDC', 'oidc:' + OIDC_PROVIDER)]
    assert ecs.identities_seen() == ['assumed:%s/awx-job-17' % ROLE]
    assert_no_secret(run, registry)


def test_ini_file_through_the_default_chain(runner, services, registry, sandbox):
    ecs, _sts = services()
    sandbox.ini_file({'default': {'type': 'access_key', 'access_key_id': INI_KEY_ID, 'access_key_secret': INI_SECRET}})
    named = sandbox.ini_file({'default': {'type': 'access_key', 'access_key_id': PROFILE_KEY_ID,
                                          'access_key_secret': PROFILE_SECRET}}, path=sandbox.root / 'elsewhere.ini')
    run = run_tasks(runner, {
        'home-ini': {MODULE: keyless(ecs)},
        'named-ini': {MODULE: keyless(ecs), 'environment': {'ALIBABA_CLOUD_CREDENTIALS_FILE': str(named)}},
    }, env=sandbox.env('home'))
    for result in run.results.values():
        assert_listed(result, ecs)
    assert ecs.identities_seen() == ['static:' + INI_KEY_ID, 'static:' + PROFILE_KEY_ID]
    assert_no_secret(run, registry)


def test_default_chain_order(runner, services, registry, sandbox):
    """Environment keys win over OIDC from the environment, which wins over a CLI profile, which wins over the INI file."""
    ecs, sts = services(sts=True)
    sts.register_oidc_token(OIDC_PROVIDER, OIDC_TOKEN)
    config = sandbox.cli_config([{'name': 'keys', 'mode': 'AK', 'access_key_id': PROFILE_KEY_ID,
                                  'access_key_secret': PROFILE_SECRET}])
    sandbox.ini_file({'default': {'type': 'access_key', 'access_key_id': INI_KEY_ID, 'access_key_secret': INI_SECRET}})
    oidc = {'ALIBABA_CLOUD_ROLE_ARN': ROLE, 'ALIBABA_CLOUD_OIDC_PROVIDER_ARN': OIDC_PROVIDER,
            'ALIBABA_CLOUD_OIDC_TOKEN_FILE': str(sandbox.oidc_token(OIDC_TOKEN)), 'ALIBABA_CLOUD_ROLE_SESSION_NAME': 'chain'}
    no_env_keys = {'ALIBABA_CLOUD_ACCESS_KEY_ID': '', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ''}
    run = run_tasks(runner, {
        'env-keys': {MODULE: keyless(ecs, **via_sts(sts)), 'environment': oidc},
        'oidc': {MODULE: keyless(ecs, **via_sts(sts)), 'environment': dict(oidc, **no_env_keys)},
        'profile': {MODULE: keyless(ecs), 'environment': no_env_keys},
        'drop-profile': {'ansible.builtin.file': {'path': str(config), 'state': 'absent'}},
        'ini': {MODULE: keyless(ecs), 'environment': no_env_keys},
    }, env=sandbox.env('home', ALIBABA_CLOUD_ACCESS_KEY_ID=ENV_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET=ENV_SECRET))
    for label in ('env-keys', 'oidc', 'profile', 'ini'):
        assert_listed(run.results[label], ecs)
    assert ecs.identities_seen() == ['static:' + ENV_KEY_ID, 'assumed:%s/chain' % ROLE, 'static:' + PROFILE_KEY_ID,
                                     'static:' + INI_KEY_ID]
    assert_no_secret(run, registry)


def test_credentials_expiring_mid_run_are_renewed(runner, services, registry):
    """A listing that outlives its temporary keys continues with fresh ones, never with an expired key."""
    ecs, sts = services(counts={'cn-hangzhou': 120}, sts=True, expiration_seconds=1)
    ecs.set_faults(latency_ms=400)
    run = runner.run_module(connection(ecs, ram_role_arn=ROLE, role_session_name='long-listing', max_results=20,
                                       **via_sts(sts)))
    assert_listed(run.result, ecs)
    seen = [r for r in ecs.stats()['requests'] if r['identity']]
    keys = {r['access_key_id'] for r in seen if r['status'] == 200}
    assert len(keys) >= 2, keys  # six pages at 0.4 s outlive a 1 s key: at least one renewal
    assert keys <= {issued.access_key_id for issued in registry.issued}
    assert set(ecs.identities_seen()) == {'assumed:%s/long-listing' % ROLE}
    assert_no_secret(run, registry)


def test_a_key_revoked_before_its_stated_expiration_is_renewed_and_the_page_sent_once_more(runner, services, registry):
    """STS states an hour, the service refuses the key earlier: the page refused is sent again with a new key."""
    ecs, sts = services(counts={'cn-hangzhou': 120}, sts=True, expiration_seconds=3600)
    ecs.revoke_issued_keys_after(3)
    run = runner.run_module(connection(ecs, ram_role_arn=ROLE, role_session_name='revoked-early', max_results=20,
                                       **via_sts(sts)))
    assert_listed(run.result, ecs)
    requests = ecs.stats()['requests']
    first, second = [key.access_key_id for key in registry.issued]
    # Pages 1-3 with the first key, page 4 refused (the key is not attributed: refused), then sent again with the
    # second key, which reads pages 5-6 too.
    outcomes = [(r['access_key_id'], r['status'], r['code']) for r in requests]
    assert outcomes == [(first, 200, None)] * 3 + [(None, 400, 'InvalidSecurityToken.Expired')] + [(second, 200, None)] * 3
    assert requests[3]['query'].get('NextToken') == requests[4]['query'].get('NextToken')  # the same page, once more
    assert [r['role_session_name'] for r in sts.issued] == ['revoked-early', 'revoked-early']
    assert_no_secret(run, registry)


def test_a_renewal_the_sts_refuses_fails_clearly_with_no_partial_listing(runner, services, registry):
    ecs, sts = services(counts={'cn-hangzhou': 120}, sts=True, expiration_seconds=3600)
    ecs.revoke_issued_keys_after(2)
    sts.refuse_after(1)  # the role's trust policy changed during the run
    run = runner.run_module(connection(ecs, ram_role_arn=ROLE, role_session_name='refused', max_results=20,
                                       **via_sts(sts)))
    result = run.result
    assert result['failed'], result
    assert ROLE in result['msg'] and 'NoPermission' in result['msg'], result['msg']
    assert 'Traceback' not in result['msg']
    assert not result.get('sessions'), result  # the two pages read are not presented as the listing
    outcomes = [(r['status'], r['code']) for r in ecs.stats()['requests']]
    assert outcomes == [(200, None), (200, None), (400, 'InvalidSecurityToken.Expired')]  # page 3 is not sent again
    assert len(registry.issued) == 1
    assert_no_secret(run, registry)


def test_bad_input_fails_at_the_credential_step_naming_the_source(runner, services, registry, sandbox, tmp_path):
    ecs, sts = services(sts=True)
    sts.register_oidc_token(OIDC_PROVIDER, OIDC_TOKEN)
    empty = sandbox.oidc_token('', name='empty-token')
    oidc = {'ALIBABA_CLOUD_ROLE_ARN': ROLE, 'ALIBABA_CLOUD_OIDC_PROVIDER_ARN': OIDC_PROVIDER}
    with_role = dict(via_sts(sts), ram_role_arn=ROLE)
    cases = {
        'role-arn-of-another-form': ({MODULE: dict(connection(ecs, **with_role), ram_role_arn='arn:aws:iam::1:role/x')},
                                     'ram_role_arn'),
        'external-id-with-control-character': ({MODULE: connection(ecs, external_id='tenant\n42', **with_role)}, 'external_id'),
        'policy-not-json': ({MODULE: connection(ecs, role_policy='Allow everything', **with_role)}, 'role_policy'),
        'sts-unreachable': ({MODULE: connection(ecs, ram_role_arn=ROLE, sts_endpoint='127.0.0.1:9', ca_bundle=sts.ca_file)},
                            'RAM role'),
        'oidc-token-file-missing': ({MODULE: keyless(ecs, **via_sts(sts)),
                                     'environment': dict(oidc, ALIBABA_CLOUD_OIDC_TOKEN_FILE=str(tmp_path / 'no-token'))},
                                    'OIDC token file'),
        'oidc-token-file-empty': ({MODULE: keyless(ecs, **via_sts(sts)),
                                   'environment': dict(oidc, ALIBABA_CLOUD_OIDC_TOKEN_FILE=str(empty))}, 'OIDC token file'),
    }
    run = run_tasks(runner, {label: task for label, (task, _word) in cases.items()}, env=sandbox.env('home'))
    for label, (_task, word) in cases.items():
        result = run.results[label]
        assert result['failed'], (label, result)
        assert word in result['msg'], (label, result['msg'])
        assert 'Traceback' not in result['msg'], label
    assert ecs.identities_seen() == [] and ecs.stats()['calls'] == 0
    assert sts.issued == []
    assert_no_secret(run, registry, 'tenant\n42')


def test_ecs_ram_role_and_the_ecs_ram_role_profile_in_a_network_namespace(runner, sandbox):
    """The instance role through the hardened metadata service at 100.100.100.200, as on an ECS instance."""
    sandbox.cli_config([{'name': 'instance', 'mode': 'EcsRamRole', 'ram_role_name': 'EcsCollectorRole'}])
    target = {'endpoint': '@ECS_ENDPOINT@', 'protocol': 'http', 'region_id': 'cn-hangzhou', 'retry_delay': 0.01,
              'retry_max_delay': 0.05}
    cases = {
        'option': {MODULE: dict(target, ecs_ram_role='EcsCollectorRole')},
        'unknown-role': {MODULE: dict(target, ecs_ram_role='NotThisInstancesRole')},
        'profile': {MODULE: dict(target, profile='instance')},
    }
    run = run_in_netns(runner, cases, {'ecs': {'counts': {'cn-hangzhou': 30}}, 'metadata': {'role_name': 'EcsCollectorRole'}},
                       env=sandbox.env('netns'))
    report = run.report
    assert report['sandbox'] == 'netns', report['sandbox_refused']
    for label in ('option', 'profile'):
        assert not run.results[label].get('failed'), run.results[label]
        assert len(run.results[label]['sessions']) == 30
    failed = run.results['unknown-role']
    assert failed['failed'] and 'NotThisInstancesRole' in failed['msg'] and 'metadata' in failed['msg'], failed['msg']
    assert 'HttpCode=404' in failed['msg'] and '401' not in failed['msg'], failed['msg']  # token mode only, no IMDSv1
    assert run.identities == ['ecs-role:EcsCollectorRole', 'ecs-role:EcsCollectorRole']
    calls = report['metadata_calls']
    assert calls[0]['method'] == 'PUT' and calls[0]['path'] == '/latest/api/token'  # hardened mode first
    assert not [call for call in calls if call['forwarded']]  # never through a proxy
    assert {record['role_name'] for record in report['metadata_issued']} == {'EcsCollectorRole'}
    hits = secret_hits(run.output, list(STATIC_SECRETS) + report['issued_secrets'])
    assert not hits, hits
