"""The user guide's credentials per deployment (docs/user-guide.md, "Credentials per deployment"): each example
playbook runs through ansible-playbook against the local ECS, STS and metadata endpoints, and the ECS endpoint says
which identity signed its calls."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecs_endpoint.data import make_sessions
from ecs_endpoint.identities import IdentityRegistry
from ecs_endpoint.server import EcsEndpoint
from ecs_endpoint.sts import StsEndpoint

from support.credential_sandbox import CredentialSandbox
from support.keys import ACCESS_KEY_ID, ACCESS_KEY_SECRET, CREDENTIALS, SECRETS, secret_hits
from support.netns import SETUP, host_netns

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / 'docs' / 'user-guide.md'
EXAMPLES = ROOT / 'docs' / 'examples'
DEPLOYMENT_EXAMPLES = ('user_guide/credentials_ecs_instance.yml', 'user_guide/credentials_ack_rrsa.yml',
                       'user_guide/credentials_role_per_account.yml', 'user_guide/credentials_cli_profile.yml',
                       'user_guide/credentials_vpc_no_internet.yml')
ENV_KEYS = {'ALIBABA_CLOUD_ACCESS_KEY_ID': ACCESS_KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': ACCESS_KEY_SECRET}
REGION = 'cn-hangzhou'


class Cloud:
    """An ECS endpoint and an STS endpoint (both https) sharing one identity registry, and one CA file for both."""

    def __init__(self, tmp_path, roles=None):
        self.identities = IdentityRegistry(CREDENTIALS)
        self.ecs = EcsEndpoint({REGION: make_sessions(REGION, 5)}, credentials=self.identities, tls=True).start()
        self.sts = StsEndpoint(self.identities, roles=roles).start()
        self.ca_bundle = tmp_path / 'local-cas.pem'
        self.ca_bundle.write_text(Path(self.ecs.ca_file).read_text() + Path(self.sts.ca_file).read_text())

    def stop(self):
        self.ecs.stop()
        self.sts.stop()

    def demo_vars(self):
        return {'demo_endpoint': self.ecs.endpoint, 'demo_sts_endpoint': self.sts.endpoint,
                'demo_ca_bundle': str(self.ca_bundle)}

    def secrets(self):
        """Every secret of this run: the test keys and every temporary key and token the STS handed out."""
        return list(SECRETS) + list(self.identities.secrets())


@pytest.fixture
def cloud(tmp_path):
    started = []

    def start(**kwargs):
        started.append(Cloud(tmp_path, **kwargs))
        return started[-1]

    yield start
    for each in started:
        each.stop()


def sandbox(runner):
    return CredentialSandbox(runner.tmp_path, runner.home)


def playbook_command(name, extra_vars):
    return [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', str(EXAMPLES / name),
            '-e', extra_vars]


def run_example(runner, name, extra_vars, env=None, secrets=SECRETS):
    command = playbook_command(name, json.dumps(extra_vars))
    completed = subprocess.run(command, env=runner.environment(dict({'ANSIBLE_LOCALHOST_WARNING': 'false'}, **(env or {}))),
                               cwd=str(runner.tmp_path), capture_output=True, text=True, timeout=300, check=False)
    output = completed.stdout + completed.stderr
    assert secret_hits(output, secrets) == 0
    return completed.returncode, output


def run_in_namespace(runner, name, services, env):
    """Run the example ``name`` inside a new network namespace with ``services`` (see support.netns.run_in_netns).

    The demo variables are written with the helper's placeholders, which it replaces once the endpoints are up.
    Returns the helper's report (rc, stdout, stderr, identities, metadata_calls, issued_secrets...).
    """
    unshare = shutil.which('unshare')
    assert unshare and shutil.which('ip'), 'unshare (util-linux) and ip (iproute2) are needed for this test'
    demo_vars = runner.tmp_path / 'demo-vars.json'
    demo_vars.write_text(json.dumps({'demo_endpoint': '@ECS_ENDPOINT@', 'demo_protocol': '@ECS_PROTOCOL@'}))
    run_env = runner.environment(dict(env, ANSIBLE_LOCALHOST_WARNING='false', ALICLOUD_ECS_TEST_HOST_NETNS=host_netns()))
    spec = {'services': services, 'static_keys': CREDENTIALS, 'command': playbook_command(name, '@%s' % demo_vars),
            'env': run_env, 'playbook': str(demo_vars), 'cwd': str(runner.tmp_path), 'timeout': 300}
    spec_file = runner.tmp_path / 'netns-spec.json'
    spec_file.write_text(json.dumps(spec))
    helper = [unshare, '-rn', 'sh', '-c', SETUP, 'netns-setup', sys.executable, '-m', 'support.netns', str(spec_file)]
    completed = subprocess.run(helper, env=run_env, capture_output=True, text=True, timeout=360, check=False)
    assert completed.returncode == 0, 'the namespace helper failed (%d):\n%s\n%s' % (
        completed.returncode, completed.stdout[-4000:], completed.stderr[-4000:])
    return json.loads(completed.stdout)


def test_ecs_instance_uses_the_instance_role_from_the_metadata_service(runner):
    env = sandbox(runner).env(mode='netns')
    report = run_in_namespace(runner, 'user_guide/credentials_ecs_instance.yml',
                              {'ecs': {'counts': {REGION: 4}}, 'metadata': {'role_name': 'AnsibleControllerRole'}}, env)
    output = report['stdout'] + report['stderr']
    assert report['sandbox'] == 'netns', report['sandbox_refused']
    assert report['rc'] == 0, output
    assert "session(s) in the last 24 hours, read with the instance's role" in output
    assert report['identities'] == ['ecs-role:AnsibleControllerRole']
    # Hardened mode: a token first, then the role's keys with it.
    assert [call['method'] for call in report['metadata_calls']][:1] == ['PUT']
    assert secret_hits(output, list(SECRETS) + report['issued_secrets']) == 0


def test_role_per_account_assumes_each_role_with_its_external_id_and_policy(runner, cloud):
    roles = {'acs:ram::111111111111:role/session-auditor': {'external_id': 'audit-2f6b81c4'},
             'acs:ram::222222222222:role/session-auditor': {'external_id': 'audit-93d0e2a7'}}
    local = cloud(roles=roles)
    rc, output = run_example(runner, 'user_guide/credentials_role_per_account.yml', local.demo_vars(), env=ENV_KEYS)
    assert rc == 0, output
    assert 'production: 5 session(s) in the last 24 hours' in output and 'staging: 5 session(s)' in output
    assert local.ecs.identities_seen() == ['assumed:%s/ansible-session-audit' % arn for arn in roles]
    issued = local.sts.issued
    assert [(key['role_arn'], key['external_id'], key['caller']) for key in issued] == [
        (arn, setting['external_id'], 'static:%s' % ACCESS_KEY_ID) for arn, setting in roles.items()]
    assert all(json.loads(key['policy']) == {'Version': '1', 'Statement': [
        {'Effect': 'Allow', 'Action': 'ecs:DescribeTerminalSessions', 'Resource': '*'}]} for key in issued)
    assert secret_hits(output, local.secrets()) == 0


def test_role_per_account_fails_naming_the_source_when_the_external_id_is_wrong(runner, cloud):
    local = cloud(roles={'acs:ram::111111111111:role/session-auditor': {'external_id': 'another-id'},
                         'acs:ram::222222222222:role/session-auditor': {'external_id': 'audit-93d0e2a7'}})
    rc, output = run_example(runner, 'user_guide/credentials_role_per_account.yml', local.demo_vars(), env=ENV_KEYS)
    assert rc != 0
    assert 'NoPermission' in output and 'acs:ram::111111111111:role/session-auditor' in output
    # The loop goes on to the next account, whose role is assumed as usual.
    assert local.ecs.identities_seen() == ['assumed:acs:ram::222222222222:role/session-auditor/ansible-session-audit']
    assert secret_hits(output, local.secrets()) == 0


def test_vpc_without_internet_assumes_the_role_at_the_sts_endpoint_given(runner, cloud):
    local = cloud()
    rc, output = run_example(runner, 'user_guide/credentials_vpc_no_internet.yml', local.demo_vars(), env=ENV_KEYS)
    assert rc == 0, output
    assert '5 session(s) in the last 24 hours, through the VPC endpoints' in output
    assert local.ecs.identities_seen() == ['assumed:acs:ram::123456789012:role/session-auditor/ansible-vpc-audit']
    assert [key['caller'] for key in local.sts.issued] == ['static:%s' % ACCESS_KEY_ID]
    assert secret_hits(output, local.secrets()) == 0


def test_cli_profile_of_mode_ram_role_arn_assumes_its_role(runner, cloud):
    local = cloud()
    config = {'current': 'default', 'profiles': [
        {'name': 'default', 'mode': 'AK', 'access_key_id': 'LTAIunused000000000009', 'access_key_secret': 'unused-x',
         'region_id': REGION},
        {'name': 'audit', 'mode': 'RamRoleArn', 'access_key_id': ACCESS_KEY_ID, 'access_key_secret': ACCESS_KEY_SECRET,
         'ram_role_arn': 'acs:ram::123456789012:role/laptop-auditor', 'ram_session_name': 'laptop-audit',
         'expired_seconds': 900, 'region_id': REGION},
    ]}
    sandbox(runner).cli_config(config['profiles'], current=config['current'])
    rc, output = run_example(runner, 'user_guide/credentials_cli_profile.yml', local.demo_vars(), env=sandbox(runner).env())
    assert rc == 0, output
    assert 'root session(s) in the last 7 days' in output
    assert local.ecs.identities_seen() == ['assumed:acs:ram::123456789012:role/laptop-auditor/laptop-audit']
    assert secret_hits(output, local.secrets()) == 0


def test_ack_rrsa_exchanges_the_pods_oidc_token(runner, cloud):
    provider = 'acs:ram::123456789012:oidc-provider/ack-rrsa-c0ffee'
    role = 'acs:ram::123456789012:role/awx-session-auditor'
    local = cloud(roles={role: {'oidc_provider': provider}})
    token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXd4OmF3eCJ9.c2lnbmF0dXJlLXdpcmU'
    local.sts.register_oidc_token(provider, token)
    token_file = sandbox(runner).oidc_token(token)
    env = sandbox(runner).env(ALIBABA_CLOUD_ROLE_ARN=role, ALIBABA_CLOUD_OIDC_PROVIDER_ARN=provider,
                              ALIBABA_CLOUD_OIDC_TOKEN_FILE=token_file, ALIBABA_CLOUD_ROLE_SESSION_NAME='awx-job-42')
    rc, output = run_example(runner, 'user_guide/credentials_ack_rrsa.yml', local.demo_vars(), env=env,
                             secrets=list(SECRETS) + [token])
    assert rc == 0, output
    assert 'open session(s), read with the pod' in output
    assert local.ecs.identities_seen() == ['assumed:%s/awx-job-42' % role]
    assert [(key['action'], key['caller']) for key in local.sts.issued] == [('AssumeRoleWithOIDC', 'oidc:%s' % provider)]
    assert secret_hits(output, local.secrets() + [token]) == 0


def test_ack_rrsa_with_an_empty_token_file_fails_naming_the_file(runner, cloud):
    local = cloud()
    token_file = sandbox(runner).oidc_token('')
    env = sandbox(runner).env(ALIBABA_CLOUD_ROLE_ARN='acs:ram::123456789012:role/awx-session-auditor',
                              ALIBABA_CLOUD_OIDC_PROVIDER_ARN='acs:ram::123456789012:oidc-provider/ack-rrsa-c0ffee',
                              ALIBABA_CLOUD_OIDC_TOKEN_FILE=token_file)
    rc, output = run_example(runner, 'user_guide/credentials_ack_rrsa.yml', local.demo_vars(), env=env)
    assert rc != 0
    assert str(token_file) in output and 'empty' in output
    assert local.sts.calls == [] and local.ecs.identities_seen() == []


# --- what the guide says -------------------------------------------------------------------------------------

def test_the_guide_embeds_the_deployment_examples_verbatim():
    guide = GUIDE.read_text()
    for name in DEPLOYMENT_EXAMPLES:
        text = (EXAMPLES / name).read_text()
        assert '```yaml\n' + text + '```\n' in guide, 'docs/examples/%s is not in docs/user-guide.md verbatim' % name
        assert '(examples/%s)' % name in guide, 'docs/user-guide.md does not link docs/examples/%s' % name


def test_every_deployment_example_is_run_by_a_test():
    source = Path(__file__).read_text()
    tests = [name for name in DEPLOYMENT_EXAMPLES if "run_example(runner, '%s'" % name in source
             or "run_in_namespace(runner, '%s'" % name in source]
    assert sorted(tests) == sorted(DEPLOYMENT_EXAMPLES)
