"""No secret of any credential source in any output, at -vvvv with ``DEBUG=sdk`` kept.

For every source the user guide names - static keys, an STS token, ``ram_role_arn`` through the local STS, OIDC from
the environment of ACK RRSA, a CLI profile, and ``ecs_ram_role`` through the instance-metadata service inside a network
namespace of the test's own - one play lists sessions (and fails once on purpose where the source can fail: a refused
role, an unknown instance role), and its output and registered results are scanned for every secret in each of its
encodings (tests/security/security_report.py): the key secrets and tokens given, the OIDC token, and every temporary
key and token the local STS and metadata service handed out, which the collection never knew in advance. Signatures
are not known in advance either: the output must hold none, found by their place (``Signature=...``, an
``Authorization`` header).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ecs_endpoint.data import make_sessions
from ecs_endpoint.identities import IdentityRegistry
from ecs_endpoint.server import EcsEndpoint
from ecs_endpoint.sts import StsEndpoint
from security_report import encodings
from support.credential_sandbox import CredentialSandbox
from support.keys import DEBUG_ENV, secret_hits
from support.netns import build_playbook, run_in_netns

REGION = 'cn-hangzhou'
# Characters that URL-encoding, repr and JSON escape differently, so each encoding is a different string to find.
KEY_ID = 'LTAIsweepsources00000001'
SECRET = 'src+Secret/"va\\lue"=42&more'
STS_KEY_ID = 'STS.sweepsources000000002'
STS_SECRET = 'sts+Secret/"x\\y"=7&z'
STS_TOKEN = 'CAIS+src/Token="t\\k"=9&end'
STATIC = {KEY_ID: {'secret': SECRET, 'security_token': None},
          STS_KEY_ID: {'secret': STS_SECRET, 'security_token': STS_TOKEN}}
OIDC_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzd2VlcCJ9.c3dlZXAtc2lnbmF0dXJlLW9pZGM+/='
ROLE = 'acs:ram::123456789012:role/sweep-auditor'
PROVIDER = 'acs:ram::123456789012:oidc-provider/ack-rrsa-sweep'
# A signature found by its place, unmasked: ``Signature=<value>`` (raw or %-encoded), or a V3 Authorization header.
SIGNATURE_RE = re.compile(r'Signature(?:=|%3D|%253D)(?!\*|%2A)[A-Za-z0-9+/%]{12,}|Signature=[0-9a-f]{64}', re.IGNORECASE)


class Cloud:
    """The local ECS endpoint and STS (https), sharing one identity registry that knows the sweep's static keys."""

    def __init__(self, tmp_path, roles=None):
        self.identities = IdentityRegistry(STATIC)
        self.ecs = EcsEndpoint({REGION: make_sessions(REGION, 12)}, credentials=self.identities, tls=True).start()
        self.sts = StsEndpoint(self.identities, roles=roles).start()
        self.sts.register_oidc_token(PROVIDER, OIDC_TOKEN)
        self.ca_bundle = tmp_path / 'local-cas.pem'
        self.ca_bundle.write_text(Path(self.ecs.ca_file).read_text() + Path(self.sts.ca_file).read_text())

    def stop(self):
        self.ecs.stop()
        self.sts.stop()

    def args(self, **extra):
        return dict({'region_id': REGION, 'endpoint': self.ecs.endpoint, 'sts_endpoint': self.sts.endpoint,
                     'ca_bundle': str(self.ca_bundle), 'retry_delay': 0.01, 'retry_max_delay': 0.05}, **extra)


@pytest.fixture
def cloud(tmp_path):
    started = []

    def start(**kwargs):
        started.append(Cloud(tmp_path, **kwargs))
        return started[-1]

    yield start
    for each in started:
        each.stop()


def info(args):
    return {'alicloud.ecs.ecs_terminal_session_info': args}


def run_cases(runner, cases, env):
    """Run ``cases`` (label -> task) in one play at -vvvv with DEBUG=sdk; (completed process, label -> result)."""
    result_file = runner.tmp_path / 'results.json'
    playbook = build_playbook(runner, cases, result_file)
    command = [str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', str(playbook), '-vvvv']
    completed = subprocess.run(command, env=runner.environment(dict(DEBUG_ENV, **env)), capture_output=True, text=True,
                               timeout=300, check=False, cwd=str(runner.tmp_path))
    kept = json.loads(result_file.read_text()) if result_file.exists() else {}
    return completed, {label: kept.get('case_%d' % index) for index, label in enumerate(cases)}


def sweep(security_record, source, checked, text, secrets):
    """Record and return the hits of ``secrets`` (every encoding) and of unmasked signatures in ``text``."""
    secrets = [secret for secret in dict.fromkeys(secrets) if secret]
    hits = secret_hits(text, secrets)
    signatures = SIGNATURE_RE.findall(text)
    security_record('secrets', 'Credential source %s: %d secrets in %d encodings each, and signatures, at -vvvv with '
                    'DEBUG=sdk' % (source, len(secrets), len(encodings(secrets[0]))), checked, hits + len(signatures))
    return hits, signatures


def assert_listed(results, label):
    result = results[label]
    assert result is not None and not result.get('failed'), result
    assert len(result['sessions']) == 12


def test_static_keys_and_sts_token(runner, cloud, security_record):
    local = cloud()
    completed, results = run_cases(runner, {
        'static keys': info(local.args(access_key_id=KEY_ID, access_key_secret=SECRET)),
        'STS token': info(local.args(access_key_id=STS_KEY_ID, access_key_secret=STS_SECRET, security_token=STS_TOKEN)),
        'a wrong secret': info(local.args(access_key_id=KEY_ID, access_key_secret=STS_SECRET, retries=0)),
    }, {})
    text = completed.stdout + completed.stderr + json.dumps(results)
    hits, signatures = sweep(security_record, 'static keys and STS token', 'a listing with each, and one refused '
                             '(SignatureDoesNotMatch)', text, [SECRET, STS_SECRET, STS_TOKEN])
    assert_listed(results, 'static keys')
    assert_listed(results, 'STS token')
    assert results['a wrong secret']['error_code'] == 'SignatureDoesNotMatch'
    assert local.ecs.identities_seen() == ['static:%s' % KEY_ID, 'static:%s' % STS_KEY_ID]
    assert (hits, signatures) == (0, [])


def test_ram_role_arn_through_the_local_sts(runner, cloud, security_record):
    local = cloud(roles={ROLE: {'external_id': 'sweep-ext-01'}})
    role = dict(access_key_id=KEY_ID, access_key_secret=SECRET, ram_role_arn=ROLE, role_session_name='sweep-role')
    completed, results = run_cases(runner, {
        'assumed': info(local.args(external_id='sweep-ext-01', **role)),
        'refused (wrong external ID)': info(local.args(external_id='sweep-ext-99', retries=0, **role)),
    }, {})
    text = completed.stdout + completed.stderr + json.dumps(results)
    issued = local.identities.secrets()
    hits, signatures = sweep(security_record, 'ram_role_arn (local STS)', 'a role assumed and one refused (NoPermission); '
                             'the caller\'s secret and every key and token STS issued', text, [SECRET] + issued)
    assert_listed(results, 'assumed')
    assert results['refused (wrong external ID)']['failed'] and 'NoPermission' in results['refused (wrong external ID)']['msg']
    assert local.ecs.identities_seen() == ['assumed:%s/sweep-role' % ROLE]
    assert len(issued) >= 2  # the issued key's secret and token were known to the sweep
    assert (hits, signatures) == (0, [])


def test_oidc_from_the_environment_of_ack_rrsa(runner, cloud, security_record):
    local = cloud(roles={ROLE: {'oidc_provider': PROVIDER}})
    sandbox = CredentialSandbox(runner.tmp_path, runner.home)
    token_file = sandbox.oidc_token(OIDC_TOKEN)
    env = sandbox.env(ALIBABA_CLOUD_ROLE_ARN=ROLE, ALIBABA_CLOUD_OIDC_PROVIDER_ARN=PROVIDER,
                      ALIBABA_CLOUD_OIDC_TOKEN_FILE=token_file, ALIBABA_CLOUD_ROLE_SESSION_NAME='sweep-oidc')
    completed, results = run_cases(runner, {'OIDC': info(local.args())}, env)
    text = completed.stdout + completed.stderr + json.dumps(results)
    hits, signatures = sweep(security_record, 'OIDC (ACK RRSA)', 'a listing with the role assumed with the OIDC token; '
                             'the token and every key and token STS issued', text, [OIDC_TOKEN] + local.identities.secrets())
    assert_listed(results, 'OIDC')
    assert local.ecs.identities_seen() == ['assumed:%s/sweep-oidc' % ROLE]
    assert (hits, signatures) == (0, [])


def test_cli_profiles(runner, cloud, security_record):
    local = cloud()
    sandbox = CredentialSandbox(runner.tmp_path, runner.home)
    sandbox.cli_config([
        {'name': 'keys', 'mode': 'AK', 'access_key_id': KEY_ID, 'access_key_secret': SECRET, 'region_id': REGION},
        {'name': 'token', 'mode': 'StsToken', 'access_key_id': STS_KEY_ID, 'access_key_secret': STS_SECRET,
         'sts_token': STS_TOKEN, 'region_id': REGION},
        {'name': 'role', 'mode': 'RamRoleArn', 'access_key_id': KEY_ID, 'access_key_secret': SECRET,
         'ram_role_arn': ROLE, 'ram_session_name': 'sweep-profile', 'expired_seconds': 900, 'region_id': REGION},
    ])
    completed, results = run_cases(runner, {name: info(local.args(profile=name)) for name in ('keys', 'token', 'role')},
                                   sandbox.env())
    text = completed.stdout + completed.stderr + json.dumps(results)
    hits, signatures = sweep(security_record, 'CLI profile', 'a listing with profiles of modes AK, StsToken and '
                             'RamRoleArn; their secrets and every key and token STS issued', text,
                             [SECRET, STS_SECRET, STS_TOKEN] + local.identities.secrets())
    for name in ('keys', 'token', 'role'):
        assert_listed(results, name)
    assert local.ecs.identities_seen() == ['static:%s' % KEY_ID, 'static:%s' % STS_KEY_ID,
                                           'assumed:%s/sweep-profile' % ROLE]
    assert (hits, signatures) == (0, [])


def test_ecs_ram_role_in_a_network_namespace(runner, security_record):
    sandbox = CredentialSandbox(runner.tmp_path, runner.home)
    cases = {
        'instance role': info({'region_id': REGION, 'endpoint': '@ECS_ENDPOINT@', 'protocol': '@ECS_PROTOCOL@',
                               'ecs_ram_role': 'SweepInstanceRole'}),
        'another role (404)': info({'region_id': REGION, 'endpoint': '@ECS_ENDPOINT@', 'protocol': '@ECS_PROTOCOL@',
                                    'ecs_ram_role': 'NotThisInstancesRole', 'retries': 0}),
    }
    run = run_in_netns(runner, cases, {'ecs': {'counts': {REGION: 12}}, 'metadata': {'role_name': 'SweepInstanceRole'}},
                       env=dict(DEBUG_ENV, **sandbox.env(mode='netns')), static_keys=STATIC, verbosity=4)
    issued = run.report['issued_secrets']
    hits, signatures = sweep(security_record, 'ecs_ram_role (metadata service, network namespace)', 'a listing with the '
                             'instance role and one for a role the instance does not have (404); every key and token '
                             'the metadata service issued', run.output, issued + [SECRET, STS_SECRET, STS_TOKEN])
    assert run.report['sandbox'] == 'netns', run.report['sandbox_refused']
    assert_listed(run.results, 'instance role')
    assert run.results['another role (404)']['failed']
    assert run.identities == ['ecs-role:SweepInstanceRole']
    assert len(issued) >= 2
    assert (hits, signatures) == (0, [])


def test_the_signature_pattern_finds_signatures():
    """The control for the signature check: unmasked signatures are found, masked ones are not."""
    assert SIGNATURE_RE.findall('GET https://sts/?Action=AssumeRole&Signature=q2Jb%2BxYz0123456789abc%3D&Version=1')
    assert SIGNATURE_RE.findall('Authorization: ACS3-HMAC-SHA256 Credential=x,SignedHeaders=host,Signature=%s' % ('ab' * 32))
    assert SIGNATURE_RE.findall('%26Signature%3Dq2Jb%252BxYz0123456789abc')
    assert not SIGNATURE_RE.findall('&Signature=********&Version=1') and not SIGNATURE_RE.findall('SignatureMethod=HMAC')
