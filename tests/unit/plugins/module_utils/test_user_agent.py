# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The User-Agent the collection sends names the version galaxy.yml publishes."""

from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk

ROOT = Path(__file__).resolve().parents[4]


def test_the_user_agent_names_the_version_of_galaxy_yml():
    galaxy = yaml.safe_load((ROOT / 'galaxy.yml').read_text(encoding='utf-8'))
    assert sdk.USER_AGENT == 'AnsibleCollection/%s.%s-%s' % (galaxy['namespace'], galaxy['name'], galaxy['version'])
