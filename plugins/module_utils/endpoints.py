# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the ECS API of a region answers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

ENDPOINT_TYPES = ('public', 'vpc')

# The official endpoint table; the SDK's own map sends some regions elsewhere even for VPC,
# so the endpoint is built here and the user can always override it.
_HOST_PATTERNS = {
    'public': 'ecs.{region}.aliyuncs.com',
    'vpc': 'ecs-vpc.{region}.aliyuncs.com',
}

_REGION_RE = re.compile(r'^[a-z]{2,}(-[a-z0-9]+)+$')
_ENDPOINT_RE = re.compile(r'^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$')


def is_region_id(value):
    return bool(_REGION_RE.match(value or ''))


def endpoint_problem(endpoint):
    """Why ``endpoint`` is not a usable host[:port], or None."""
    if '://' in endpoint:
        return 'give host[:port] without a scheme (use the protocol option for http or https)'
    if not _ENDPOINT_RE.match(endpoint):
        return 'expected host[:port], for example ecs.cn-hangzhou.aliyuncs.com'
    port = endpoint.rsplit(':', 1)[1] if ':' in endpoint and not endpoint.endswith(']') else None
    if port is not None and not 0 < int(port) < 65536:
        return 'the port must be between 1 and 65535'
    return None


def endpoint_for(region_id, endpoint_type='public', override=None):
    """The host[:port] to call for ``region_id``; ``override`` wins when given."""
    if override:
        return override
    return _HOST_PATTERNS[endpoint_type].format(region=region_id)


def proxy_problem(proxy):
    """Why ``proxy`` is not a usable proxy URL (http[s]://[user:password@]host[:port]), or None; never quotes it."""
    scheme, _sep, rest = proxy.rpartition('://')
    if scheme.lower() not in ('', 'http', 'https'):
        return 'the scheme must be http or https, for example http://proxy.example.com:3128'
    host = rest.split('/', 1)[0].rsplit('@', 1)[-1]
    if not host or endpoint_problem(host):
        return 'expected a proxy URL such as http://proxy.example.com:3128'
    return None
