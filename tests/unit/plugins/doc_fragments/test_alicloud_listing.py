from __future__ import annotations

import yaml

from ansible_collections.alicloud.ecs.plugins.doc_fragments.alicloud import ModuleDocFragment
from ansible_collections.alicloud.ecs.plugins.plugin_utils.controller_listing import LISTING_OPTIONS
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import listing_bounds_argument_spec


def test_the_listing_fragment_documents_the_bounds_as_the_code_defines_them():
    documented = yaml.safe_load(ModuleDocFragment.LISTING)['options']
    spec = listing_bounds_argument_spec()
    assert set(documented) == set(spec) == {'listing_timeout', 'max_pages'}
    for name, option in spec.items():
        assert documented[name]['type'] == option['type']
        assert documented[name]['default'] == option['default']
    # The controller's plugins take the same options as the modules.
    assert all(LISTING_OPTIONS[name] == option for name, option in spec.items())
