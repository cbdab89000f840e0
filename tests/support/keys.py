"""The test keys the local endpoint accepts, and how to look for them in output."""

from __future__ import annotations

import sys
from pathlib import Path

ACCESS_KEY_ID = 'LTAItestkey0000000000001'
ACCESS_KEY_SECRET = 'test-secret-value-do-not-leak'
STS_KEY_ID = 'STS.testkey00000000000002'
STS_SECRET = 'sts-secret-value-do-not-leak'
STS_TOKEN = 'sts-token-value-do-not-leak-CAIS0000000000000000'
SECRETS = (ACCESS_KEY_SECRET, STS_SECRET, STS_TOKEN)
CREDENTIALS = {
    ACCESS_KEY_ID: {'secret': ACCESS_KEY_SECRET, 'security_token': None},
    STS_KEY_ID: {'secret': STS_SECRET, 'security_token': STS_TOKEN},
}

# The SDK's request log stays on for the runs that ask for it (the guard drops DEBUG unless told to keep it).
DEBUG_ENV = {'DEBUG': 'sdk', 'ALICLOUD_ECS_TEST_KEEP_DEBUG': '1'}

# The encodings a secret is searched in are the security report's (tests/security/security_report.py).
_SECURITY = str(Path(__file__).resolve().parents[1] / 'security')
if _SECURITY not in sys.path:
    sys.path.insert(0, _SECURITY)
from security_report import scan  # noqa: E402 pylint: disable=wrong-import-position


def secret_hits(text, secrets=SECRETS):
    """Occurrences of ``secrets`` in ``text``, raw, URL-encoded, repr-escaped and JSON-escaped."""
    return scan(text, secrets)
