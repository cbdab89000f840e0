# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data from Alibaba Cloud handed to templating as data, never as a template (controller side only).

Session records are typed by whoever opens a session (a user name, a port-forwarding target) or by
whoever answers the API call: a ``{{ ... }}`` in them must come back as text, not run.

Before ansible-core 2.19 any plain string a template reaches is itself templated, and ansible-core
marks as unsafe only what it produced itself (module results, lookups). The filters and the
inventory plugin build new strings and containers (normalised records, snake_case keys, summaries,
records read from a cache), so they mark their output with ``wrap_var``, ansible-core's public API
for it. From 2.19 on only strings ansible-core tags as trusted (those of playbooks and inventory
files) are templates, so the output of a plugin is data already and is returned as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    # Present from ansible-core 2.19 on, which trusts as a template only what it tagged itself.
    from ansible.module_utils import datatag as _datatag  # noqa: F401 pylint: disable=unused-import
except ImportError:
    from ansible.utils.unsafe_proxy import wrap_var as _wrap_var

    TRUST_IS_TAGGED = False
else:
    _wrap_var = None
    TRUST_IS_TAGGED = True


def untrusted(value):
    """``value`` (strings, dict keys and values, list items, recursively) marked as data for templating.

    On ansible-core 2.19+ ``value`` itself: nothing in it is trusted as a template.
    """
    if TRUST_IS_TAGGED:
        return value
    return _wrap_var(value)
