# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network guard for the alicloud.ecs tests: only loopback may be contacted.

Python imports ``sitecustomize`` at start-up from the first ``sys.path`` entry that
has one, so putting ``tests/guard`` on ``PYTHONPATH`` loads this module in every
test process and in the module subprocesses that ``ansible-playbook`` starts on
localhost (they inherit the environment). It then:

* scrubs the environment so that the Alibaba Cloud SDK finds no ambient
  credentials source (ECS metadata, CLI profile, credentials URI, OIDC/role) and
  no proxy, and drops ``DEBUG`` unless ``ALICLOUD_ECS_TEST_KEEP_DEBUG=1``;
* patches ``socket.socket.connect``/``connect_ex``/``sendto``/``sendmsg`` (on the
  class, so ``ssl.SSLSocket``, ``http.client``, ``urllib3``/``requests`` and
  ``asyncio`` are covered) to raise ``ConnectionRefusedError`` before any packet
  leaves for an IPv4/IPv6 address outside 127.0.0.0/8, ``::1`` and
  ``::ffff:127.0.0.0/104``, and for host names other than ``localhost`` (the C
  code would resolve them itself); AF_UNIX and other local families pass;
  AF_PACKET is refused;
* patches ``socket.getaddrinfo``, ``gethostbyname`` and ``gethostbyname_ex`` to
  raise ``socket.gaierror`` for every name but ``localhost`` (a DNS query would
  leave the machine; IP literals need none and pass, their connect is refused),
  and ``gethostbyaddr``/``getnameinfo`` (reverse DNS) for all but loopback;
* marks itself: ``socket._alicloud_ecs_guard = True`` and
  ``ALICLOUD_ECS_TEST_GUARD=1``.

Sandboxes (explicit opt-in, checked here, never assumed): ``ALICLOUD_ECS_TEST_SANDBOX``
is ``netns`` or ``home``, with ``ALICLOUD_ECS_TEST_SANDBOX_ROOT`` (the test's own
temporary directory: absolute, under the temporary directory of the system, owned by
this user, writable by no one else) and, for ``netns``,
``ALICLOUD_ECS_TEST_HOST_NETNS`` (``/proc/self/ns/net`` of the test, read before it
ran ``unshare -rn``).

* ``home``: when ``HOME`` is inside the root, the CLI profile is not forced off, and
  ``ALIBABA_CLOUD_ROLE_ARN`` and the ``ALIBABA_CLOUD_OIDC_*`` variables are kept (a
  variable naming a file, ``ALIBABA_CLOUD_OIDC_TOKEN_FILE`` or
  ``ALIBABA_CLOUD_CREDENTIALS_FILE``, only when that file is inside the root).
* ``netns``: what ``home`` allows, and, only when this process really runs in
  another network namespace than the recorded one (nothing it sends can leave the
  machine: the namespace has nothing but its loopback), the instance-metadata
  address 100.100.100.200 may be contacted and the metadata source is not forced
  off.

An opt-in that fails a check is dropped (``ALICLOUD_ECS_TEST_SANDBOX`` removed,
``ALICLOUD_ECS_TEST_SANDBOX_REFUSED`` says why) and the defaults above apply; one
that passes is announced in ``ALICLOUD_ECS_TEST_SANDBOX_ACTIVE``. Without the
``netns`` opt-in, 100.100.100.200 is refused with a message that says so.

Not covered: programs that are not Python (curl, ssh) and code calling the C
``_socket`` module directly. This module replaces any other ``sitecustomize``
further down ``sys.path`` (pyenv's interpreters ship none; Debian's
/usr/bin/python3 has one that only installs the apport hook) and does not chain
to it. Keep it small: it runs in every process, so it imports only
``os``, ``errno`` and ``socket``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import socket

_MESSAGE = 'alicloud.ecs test guard: refusing %s %s (only loopback is allowed)'

_SET_ENV = {
    'ALIBABA_CLOUD_ECS_METADATA_DISABLED': 'true',
    'ALIBABA_CLOUD_CLI_PROFILE_DISABLED': 'true',
    'ALICLOUD_ECS_TEST_GUARD': '1',
}

_UNSET_ENV = (
    'ALIBABA_CLOUD_CREDENTIALS_URI', 'ALIBABA_CLOUD_ROLE_ARN',
    'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy',
)

METADATA_ADDRESS = '100.100.100.200'
_METADATA_MESSAGE = ('alicloud.ecs test guard: refusing %s %s (the instance-metadata address is allowed only inside '
                     'a network namespace the test created: ALICLOUD_ECS_TEST_SANDBOX=netns)')
_FILE_VARIABLES = ('ALIBABA_CLOUD_OIDC_TOKEN_FILE', 'ALIBABA_CLOUD_CREDENTIALS_FILE')
# What a passed opt-in allows in this process: set once by _sandbox().
_ALLOW = {'metadata': False, 'profiles': False}

_INET_FAMILIES = (socket.AF_INET, getattr(socket, 'AF_INET6', None))
_REFUSED_FAMILIES = (getattr(socket, 'AF_PACKET', None),)
_V6_LOOPBACK = b'\x00' * 15 + b'\x01'
_V4_MAPPED = b'\x00' * 10 + b'\xff\xff'


def _inside(path, root):
    """True when the real path of ``path`` is strictly inside the directory ``root`` (a real path)."""
    real = os.path.realpath(path)
    return real != root and real.startswith(root + os.sep)


def _sandbox_root():
    """The checked real path of ALICLOUD_ECS_TEST_SANDBOX_ROOT, or raise ValueError saying why it is refused."""
    root = os.environ.get('ALICLOUD_ECS_TEST_SANDBOX_ROOT') or ''
    if not os.path.isabs(root) or os.path.islink(root) or not os.path.isdir(root):
        raise ValueError('ALICLOUD_ECS_TEST_SANDBOX_ROOT is not an absolute path of a directory')
    root = os.path.realpath(root)
    temp = os.path.realpath(os.environ.get('TMPDIR') or '/tmp')
    if not root.startswith(temp + os.sep):
        raise ValueError('ALICLOUD_ECS_TEST_SANDBOX_ROOT is not under %s' % temp)
    status = os.stat(root)
    if status.st_uid != os.getuid() or status.st_mode & 0o022:
        raise ValueError('ALICLOUD_ECS_TEST_SANDBOX_ROOT is not private to this user')
    if not os.path.isdir(os.environ.get('HOME') or '') or not _inside(os.environ['HOME'], root):
        raise ValueError('HOME is not inside ALICLOUD_ECS_TEST_SANDBOX_ROOT')
    return root


def _own_network_namespace():
    """True when this process runs in another network namespace than the one recorded before ``unshare``."""
    recorded = os.environ.get('ALICLOUD_ECS_TEST_HOST_NETNS') or ''
    try:
        current = os.readlink('/proc/self/ns/net')
    except OSError:
        return False
    return recorded.startswith('net:[') and recorded.endswith(']') and current != recorded


def _sandbox():
    """Check the sandbox opt-in (see the module docstring); returns the names of the variables to keep."""
    mode = os.environ.pop('ALICLOUD_ECS_TEST_SANDBOX', None)
    os.environ.pop('ALICLOUD_ECS_TEST_SANDBOX_ACTIVE', None)
    os.environ.pop('ALICLOUD_ECS_TEST_SANDBOX_REFUSED', None)
    if not mode:
        return ()
    try:
        if mode not in ('home', 'netns'):
            raise ValueError('unknown sandbox %r' % mode)
        root = _sandbox_root()
        if mode == 'netns' and not _own_network_namespace():
            raise ValueError('not in a network namespace of its own')
    except (OSError, ValueError) as exc:
        os.environ['ALICLOUD_ECS_TEST_SANDBOX_REFUSED'] = str(exc)
        return ()
    for name in _FILE_VARIABLES:
        if os.environ.get(name) and not _inside(os.environ[name], root):
            del os.environ[name]
    os.environ['ALICLOUD_ECS_TEST_SANDBOX'] = os.environ['ALICLOUD_ECS_TEST_SANDBOX_ACTIVE'] = mode
    _ALLOW['profiles'] = True
    _ALLOW['metadata'] = mode == 'netns'
    return ('ALIBABA_CLOUD_ROLE_ARN',)


def _scrub_environment():
    """Make the environment safe before any test code or SDK reads it."""
    keep = _sandbox()
    for name in list(os.environ):
        if name in keep or (name.startswith('ALIBABA_CLOUD_OIDC_') and _ALLOW['profiles']):
            continue
        if name in _UNSET_ENV or name.startswith('ALIBABA_CLOUD_OIDC_'):
            del os.environ[name]

    if os.environ.get('ALICLOUD_ECS_TEST_KEEP_DEBUG') != '1':
        os.environ.pop('DEBUG', None)

    forced = dict(_SET_ENV)
    if _ALLOW['metadata']:
        del forced['ALIBABA_CLOUD_ECS_METADATA_DISABLED']  # the sandbox's own setting stands
    if _ALLOW['profiles']:
        del forced['ALIBABA_CLOUD_CLI_PROFILE_DISABLED']
    os.environ.update(forced)


def _classify(host):
    """Return 'loopback', 'literal' (another IP address, no DNS needed) or 'name' for a host."""
    if host is None:
        return 'loopback'  # getaddrinfo(None, port) answers with the loopback (or wildcard) address

    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode('ascii', 'replace')

    if not isinstance(host, str):
        return 'name'

    host = host.strip().lower()

    if host.rstrip('.') == 'localhost':
        return 'loopback'

    try:
        return 'loopback' if socket.inet_pton(socket.AF_INET, host)[0] == 127 else 'literal'
    except (OSError, ValueError):
        pass

    try:
        packed = socket.inet_pton(socket.AF_INET6, host.split('%', 1)[0])
    except (OSError, ValueError, AttributeError):
        return 'name'

    if packed == _V6_LOOPBACK or (packed[:12] == _V4_MAPPED and packed[12] == 127):
        return 'loopback'

    return 'literal'


def _describe(address):
    """Render an address for the error message."""
    if isinstance(address, tuple) and len(address) >= 2:
        host = address[0]

        if isinstance(host, (bytes, bytearray)):
            host = bytes(host).decode('ascii', 'replace')

        if isinstance(host, str) and ':' in host:
            return '[%s]:%s' % (host, address[1])

        return '%s:%s' % (host, address[1])

    return repr(address)


def _check(sock, address, what='connection to'):
    """Raise unless the socket's peer address is loopback (or the family is a local one)."""
    try:
        family = sock.family
    except (AttributeError, OSError):
        family = None

    if family in _INET_FAMILIES:
        if isinstance(address, tuple) and address and _classify(address[0]) == 'loopback':
            return
        if isinstance(address, tuple) and address and address[0] == METADATA_ADDRESS and family == socket.AF_INET:
            if _ALLOW['metadata']:
                return
            raise ConnectionRefusedError(errno.ECONNREFUSED, _METADATA_MESSAGE % (what, _describe(address)))
    elif family is not None and family not in _REFUSED_FAMILIES:
        return  # AF_UNIX, AF_NETLINK, ...: nothing leaves the machine

    raise ConnectionRefusedError(errno.ECONNREFUSED, _MESSAGE % (what, _describe(address)))


def _check_name(host, what='name lookup of', literals=True):
    """Raise socket.gaierror if resolving the host would need DNS (forward, or reverse without literals)."""
    if _classify(host) not in (('loopback', 'literal') if literals else ('loopback',)):
        raise socket.gaierror(socket.EAI_NONAME, _MESSAGE % (what, host))


def _install():
    """Patch the socket module once."""
    if getattr(socket, '_alicloud_ecs_guard', False):
        return

    cls = socket.socket
    real = dict((name, getattr(cls, name)) for name in ('connect', 'connect_ex', 'sendto', 'sendmsg') if hasattr(cls, name))

    def connect(self, address):
        _check(self, address)
        return real['connect'](self, address)

    def connect_ex(self, address):
        _check(self, address)
        return real['connect_ex'](self, address)

    def sendto(self, data, *args):
        if args:
            _check(self, args[-1], 'datagram to')
        return real['sendto'](self, data, *args)

    def sendmsg(self, buffers, *args):
        if len(args) >= 3 and args[2] is not None:
            _check(self, args[2], 'datagram to')
        return real['sendmsg'](self, buffers, *args)

    for func in (connect, connect_ex, sendto, sendmsg):
        if func.__name__ in real:
            func.__doc__ = getattr(real[func.__name__], '__doc__', None)
            setattr(cls, func.__name__, func)

    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_gethostbyname_ex = socket.gethostbyname_ex
    real_gethostbyaddr = socket.gethostbyaddr
    real_getnameinfo = socket.getnameinfo

    def getaddrinfo(host, *args, **kwargs):
        _check_name(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host):
        _check_name(host)
        return real_gethostbyname(host)

    def gethostbyname_ex(host):
        _check_name(host)
        return real_gethostbyname_ex(host)

    def gethostbyaddr(host):
        _check_name(host, 'address lookup of', literals=False)
        return real_gethostbyaddr(host)

    def getnameinfo(sockaddr, flags):
        if not flags & socket.NI_NUMERICHOST:
            _check_name(sockaddr[0] if isinstance(sockaddr, tuple) and sockaddr else sockaddr, 'address lookup of', literals=False)
        return real_getnameinfo(sockaddr, flags)

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex
    socket.gethostbyaddr = gethostbyaddr
    socket.getnameinfo = getnameinfo
    socket._alicloud_ecs_guard = True  # pylint: disable=protected-access


_scrub_environment()
_install()
