# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the ECS API of a region answers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import ipaddress
import re

from typing import List, Mapping, Optional, Sequence
from urllib.parse import quote, unquote

ENDPOINT_TYPES = ('public', 'vpc')

# The official endpoint table; the SDK's own map sends some regions elsewhere even for VPC,
# so the endpoint is built here and the user can always override it.
_HOST_PATTERNS = {
    'public': 'ecs.{region}.aliyuncs.com',
    'vpc': 'ecs-vpc.{region}.aliyuncs.com',
}

# Checked with fullmatch: ``$`` also matches before a final newline, which would then reach a URL or a header.
_REGION_RE = re.compile(r'[a-z]{2,}(-[a-z0-9]+)+')
_HOST_RE = re.compile(r'[A-Za-z0-9.-]+')
_IPV6_RE = re.compile(r'\[[0-9A-Fa-f:.]+\]')
_PORT_RE = re.compile(r'[0-9]{1,5}')
_SCHEME_RE = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*')
_PERCENT_ENCODED_RE = re.compile(r'%[0-9A-Fa-f]{2}')
MAX_REGION_LENGTH = 64
# RFC 1035: a name of at most 253 characters, in labels of 1 to 63.
MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63


def is_region_id(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_REGION_LENGTH and bool(_REGION_RE.fullmatch(value))


def _host_problem(host):
    if _IPV6_RE.fullmatch(host):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return 'the address in brackets is not an IPv6 address'
        return None
    if not _HOST_RE.fullmatch(host):
        return 'expected host[:port], for example ecs.cn-hangzhou.aliyuncs.com'
    if len(host) > MAX_HOST_LENGTH:
        return 'the host name has %d characters; a host name has at most %d' % (len(host), MAX_HOST_LENGTH)
    labels = host[:-1].split('.') if host.endswith('.') else host.split('.')
    if any(not label for label in labels):
        return 'the host name has an empty label (two dots in a row, or a leading dot)'
    longest = max(len(label) for label in labels)
    if longest > MAX_LABEL_LENGTH:
        return 'a label of the host name has %d characters; a label has at most %d' % (longest, MAX_LABEL_LENGTH)
    return None


def endpoint_problem(endpoint: object) -> Optional[str]:
    """Why ``endpoint`` is not a usable host[:port], or None; never quotes it."""
    if not isinstance(endpoint, str) or not endpoint:
        return 'expected host[:port], for example ecs.cn-hangzhou.aliyuncs.com'
    if '://' in endpoint:
        return 'give host[:port] without a scheme (use the protocol option for http or https)'
    host, port = endpoint, None
    if not endpoint.endswith(']') and ':' in endpoint:
        host, port = endpoint.rsplit(':', 1)
    problem = _host_problem(host)
    if problem:
        return problem
    if port is not None and not (_PORT_RE.fullmatch(port) and 0 < int(port) < 65536):
        return 'the port must be between 1 and 65535'
    return None


def endpoint_for(region_id: str, endpoint_type: str = 'public', override: Optional[str] = None) -> str:
    """The host[:port] to call for ``region_id``; ``override`` wins when given."""
    if override:
        return override
    return _HOST_PATTERNS[endpoint_type].format(region=region_id)


STS_PUBLIC_ENDPOINT = 'sts.aliyuncs.com'


def sts_endpoint_for(override: Optional[str] = None, endpoint_type: str = 'public', region_ids: Sequence[str] = (),
                     profile_region: Optional[str] = None, profile_vpc: Optional[bool] = None,
                     environ: Optional[Mapping[str, str]] = None) -> str:
    """The host[:port] of the STS endpoint for the role assumptions of a task, first rule that applies.

    ``override`` (the sts_endpoint option); a CLI profile's own ``sts_region`` (and ``enable_vpc``);
    ``endpoint_type`` vpc: ``sts-vpc.<first region>.aliyuncs.com``, so that a controller in a VPC without internet
    can assume roles; the SDK's variables ALIBABA_CLOUD_STS_REGION and ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED;
    ``sts.aliyuncs.com``.
    """
    environ = environ or {}
    env_vpc = (environ.get('ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED') or '').strip().lower() == 'true'
    if override:
        return override
    if profile_region:
        return '%s.%s.aliyuncs.com' % ('sts-vpc' if (profile_vpc if profile_vpc is not None else env_vpc) else 'sts',
                                       profile_region)
    if endpoint_type == 'vpc' and region_ids:
        return 'sts-vpc.%s.aliyuncs.com' % region_ids[0]
    env_region = environ.get('ALIBABA_CLOUD_STS_REGION')
    if env_region:
        return '%s.%s.aliyuncs.com' % ('sts-vpc' if env_vpc else 'sts', env_region)
    return STS_PUBLIC_ENDPOINT


class ProxyError(ValueError):
    """A proxy URL that cannot be used; the message never quotes the URL (it may hold a password)."""


class Proxy:
    """A proxy URL split into its parts: ``scheme``, ``user``, ``password`` (decoded), ``host`` (host[:port]).

    ``url`` is the URL rebuilt with the user and password %-encoded, as requests and urllib3 read it.
    """

    def __init__(self, scheme, user, password, host):
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host

    @property
    def url(self) -> str:
        if self.user is None:
            return f'{self.scheme}://{self.host}'
        userinfo = quote(self.user, safe='')
        if self.password is not None:
            userinfo += ':' + quote(self.password, safe='')
        return f'{self.scheme}://{userinfo}@{self.host}'


def _decoded(value):
    """``value`` %-decoded when it holds %-escapes (a password written as the URL standard asks), else as given."""
    if value is not None and _PERCENT_ENCODED_RE.search(value):
        return unquote(value)
    return value


def _split_proxy(proxy):
    """(scheme, userinfo or None, the rest after the user information); lenient, for finding the password."""
    scheme, sep, rest = proxy.partition('://')
    if not sep or not _SCHEME_RE.fullmatch(scheme):
        # No scheme: ``://`` (if any) is inside the password.
        scheme, rest = '', proxy
    # The host follows the last ``@``: a password may hold ``@``, ``/``, ``:``, ``#`` or ``?`` unencoded.
    userinfo, sep, hostpart = rest.rpartition('@')
    return scheme, (userinfo if sep else None), hostpart


def proxy_credentials(proxy: Optional[str]) -> List[str]:
    """The secret values of a proxy URL, as given and decoded: its password, or its user when it has no password.

    Lenient: works on a URL that is otherwise unusable, so that its password is hidden from the error about it too.
    """
    if not isinstance(proxy, str):
        return []
    userinfo = _split_proxy(proxy)[1]
    if not userinfo:
        return []
    user, sep, password = userinfo.partition(':')
    secret = password if sep else user
    found = [secret, _decoded(secret)]
    found.append(quote(found[1], safe=''))
    # The Proxy-Authorization header carries user:password in base64.
    found.append(base64.b64encode(('%s:%s' % (_decoded(user), _decoded(password))).encode('utf-8')).decode('ascii'))
    return [value for value in dict.fromkeys(found) if value]


def parse_proxy(proxy: str) -> Proxy:
    """The :class:`Proxy` of ``proxy`` (http[s]://[user[:password]@]host[:port]); :class:`ProxyError` if unusable."""
    if not isinstance(proxy, str) or not proxy:
        raise ProxyError('expected a proxy URL such as http://proxy.example.com:3128')
    if any(ord(char) < 32 or ord(char) == 127 for char in proxy):
        raise ProxyError('the proxy URL has a control character (a newline from a file?); the URL is not shown, '
                         'it may hold a password')
    if proxy != proxy.strip():
        raise ProxyError('the proxy URL starts or ends with white space; the URL is not shown, it may hold a password')
    scheme, userinfo, hostpart = _split_proxy(proxy)
    if scheme.lower() not in ('', 'http', 'https'):
        raise ProxyError('the scheme must be http or https, for example http://proxy.example.com:3128')
    host, _sep, path = hostpart.partition('/')
    if path or not host:
        raise ProxyError('expected a proxy URL such as http://proxy.example.com:3128 (a proxy URL has no path)')
    problem = endpoint_problem(host)
    if problem:
        raise ProxyError(f'the proxy host: {problem}')
    user = password = None
    if userinfo is not None:
        user, sep, password = userinfo.partition(':')
        user, password = _decoded(user), (_decoded(password) if sep else None)
    return Proxy(scheme.lower() or 'http', user, password, host)


def proxy_problem(proxy: Optional[str]) -> Optional[str]:
    """Why ``proxy`` is not a usable proxy URL (http[s]://[user:password@]host[:port]), or None; never quotes it."""
    try:
        parse_proxy(proxy)
    except ProxyError as error:
        return str(error)
    return None
