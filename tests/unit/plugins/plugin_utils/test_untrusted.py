from __future__ import annotations

import pytest

from ansible.template import Templar
from ansible.parsing.dataloader import DataLoader

from ansible_collections.alicloud.ecs.plugins.plugin_utils.untrusted import TRUST_IS_TAGGED, untrusted

PAYLOAD = "{{ 'EVAL' ~ 'UATED' }}"


def record():
    return {'username': PAYLOAD, 'connections': [{'closed_reason': PAYLOAD}], 'closed_reasons': {PAYLOAD: 1}, 'count': 2}


def test_every_string_key_and_item_is_marked_before_2_19():
    marked = untrusted(record())
    assert marked == record()
    if TRUST_IS_TAGGED:  # ansible-core 2.19+: nothing to mark, the value itself comes back
        assert marked['username'].__class__ is str
    else:
        assert getattr(marked['username'], '__UNSAFE__', False)
        assert getattr(marked['connections'][0]['closed_reason'], '__UNSAFE__', False)
        assert all(getattr(key, '__UNSAFE__', False) for key in marked['closed_reasons'])


def template(text):
    """``text`` as a playbook's template: trusted as one (ansible-core 2.19+ trusts only tagged strings)."""
    if TRUST_IS_TAGGED:
        from ansible.template import trust_as_template  # pylint: disable=import-outside-toplevel
        return trust_as_template(text)
    return text


@pytest.mark.parametrize('marked, expected', [(True, PAYLOAD), (False, 'EVALUATED')])
def test_a_template_referring_to_the_value_returns_the_text_only_when_marked(marked, expected):
    value = untrusted(record()) if marked else record()
    if not marked and TRUST_IS_TAGGED:
        expected = PAYLOAD  # on 2.19+ a plain string from a plugin is never a template, marked or not
    templar = Templar(loader=DataLoader(), variables={'report': value})
    assert templar.template(template('{{ report.username }}')) == expected
    assert templar.template(template('{{ report.connections[0].closed_reason }}')) == expected
    assert templar.template(template('{{ report.closed_reasons | list | first }}')) == PAYLOAD  # keys are never templated
