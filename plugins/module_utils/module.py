# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module wrapper: shared connection options, their validation, one failure path."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from collections.abc import Mapping

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.validation import check_type_dict

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.connection import (
    PROXY_OPTIONS, Connection, OptionError, connection_argument_spec)
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialError
from ansible_collections.alicloud.ecs.plugins.module_utils.endpoints import proxy_credentials
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError, describe, scrub


class _Module(AnsibleModule):
    """AnsibleModule, except that an option with suboptions given something other than a dict is checked without them.

    ansible-core reports such a value without naming the option ("dictionary requested, could not parse JSON or
    key=value") or fails with a traceback (an integer or a boolean); checked as a plain dict option, the value gets
    the usual message that names the option.
    """

    def _load_params(self):
        super(_Module, self)._load_params()
        # The proxy options stay visible (their host matters), but not their password: added to the no_log values
        # before the arguments are even checked, so that no result (a failed check included) shows it.
        for name in PROXY_OPTIONS:
            self.no_log_values.update(proxy_credentials(self.params.get(name)))
        for name, spec in list(self.argument_spec.items()):
            given = [self.params[alias] for alias in [name] + list(spec.get('aliases') or ()) if alias in self.params]
            if spec.get('options') and spec.get('type') == 'dict' and any(not _dict_like(value) for value in given):
                self.argument_spec[name] = dict((key, value) for key, value in spec.items() if key != 'options')

    def log(self, msg, log_args=None):
        """AnsibleModule.log, with NUL bytes written as ``\\x00``.

        syslog and journald refuse a NUL byte: ansible-core then fails the module while logging its invocation
        ("embedded null character"), before the option checks that name the option (a NUL in ca_bundle) can run.
        """
        log_args = dict((key, _without_nul(value)) for key, value in (log_args or {}).items())
        super(_Module, self).log(_without_nul(msg), log_args)


def _without_nul(value):
    if isinstance(value, str):
        return value.replace('\x00', '\\x00')
    if isinstance(value, bytes):
        return value.replace(b'\x00', b'\\x00')
    return value


def _dict_like(value):
    if value is None or isinstance(value, Mapping):
        return True
    try:
        return isinstance(value, str) and isinstance(check_type_dict(value), Mapping)
    except TypeError:
        return False


class AlicloudModule:
    """An AnsibleModule with the connection options, their checks and one failure path.

    Module code builds its own argument spec, then: ``validate_connection()``, ``require_sdk()``,
    ``connection.client_for`` a region with ``connection.retry_policy()``, and
    ``fail_json_alicloud`` for any failure.
    """

    def __init__(self, argument_spec=None, **kwargs):
        spec = connection_argument_spec()
        spec.update(argument_spec or {})
        self.module = _Module(argument_spec=spec, **kwargs)
        for name in PROXY_OPTIONS:
            self.module.no_log_values.update(proxy_credentials(self.module.params.get(name)))
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.connection = None

    def fail_json(self, **kwargs):
        if isinstance(kwargs.get('msg'), str):
            kwargs['msg'] = self.scrub(kwargs['msg'])
        self.module.fail_json(**kwargs)

    def exit_json(self, **kwargs):
        self.module.exit_json(**kwargs)

    def warn(self, message):
        self.module.warn(self.scrub(message))

    def scrub(self, text):
        """``text`` with every secret of the connection options (and every one met since) masked, in any encoding."""
        return scrub(text, self.connection.secrets() if self.connection else [])

    @property
    def region_ids(self):
        return self.connection.region_ids

    def validate_connection(self):
        """Validate connection options and resolve credentials; fails the task with the option's name."""
        try:
            self.connection = Connection(self.params)
        except (OptionError, CredentialError) as error:
            self.fail_json(msg=str(error))
        for warning in self.connection.warnings():
            self.warn(warning)

    def require_sdk(self):
        if not sdk.HAS_ALIBABA_SDK:
            self.fail_json(msg=missing_required_lib(sdk.SDK_REQUIREMENT))
        sdk.neutralise_sdk_debug()
        # The SDK's loggers print to this process's stderr otherwise, which Ansible shows when a module fails badly.
        sdk.capture_sdk_logs()

    def describe_failure(self, error, action=None):
        """``msg`` plus the API error code, HTTP status and request ID of ``error``, with no secret."""
        if isinstance(error, AlicloudError):
            report = error.details()
            message = describe(error, action)
        else:
            report = {}
            message = '%s: %s: %s' % (action or 'Unexpected failure', type(error).__name__, error)
        report['msg'] = self.scrub(message)
        return report

    def fail_json_alicloud(self, error, action=None, **result):
        """Fail with one clear message, the API error code, HTTP status and request ID, and a scrubbed traceback."""
        result.update(self.describe_failure(error, action))
        result['exception'] = self.scrub(''.join(traceback.format_exception(type(error), error, error.__traceback__)))
        self.fail_json(**result)
