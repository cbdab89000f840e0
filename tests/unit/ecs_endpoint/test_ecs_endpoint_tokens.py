"""NextToken issuer."""
from __future__ import annotations

import pytest

from ecs_endpoint.tokens import TokenIssuer

BINDING = ('cn-hangzhou', '', '', 100)


def test_roundtrip_and_binding():
    issuer = TokenIssuer()
    token = issuer.issue(BINDING, 200)
    assert issuer.resolve(token, BINDING) == 200
    for other in [('cn-hangzhou', '', '', 50), ('cn-hangzhou', 'i-hz001', '', 100), ('cn-shanghai', '', '', 100)]:
        with pytest.raises(ValueError):
            issuer.resolve(token, other)
    with pytest.raises(ValueError):
        TokenIssuer().resolve(token, BINDING)


@pytest.mark.parametrize('bad', ['', 'AAAA', 'not a token!', 'AAAAAdDWBF2****'])
def test_garbage_rejected(bad):
    with pytest.raises(ValueError):
        TokenIssuer().resolve(bad, BINDING)
