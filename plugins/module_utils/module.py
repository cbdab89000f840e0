# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module wrapper: shared options, their checks, the listing, one failure path.

A module is its documentation plus a short ``main()``: build the argument spec from the shared
pieces (``connection_argument_spec`` is always added; ``selection_argument_spec`` and
``listing_argument_spec`` when the module lists sessions), then ``validate()``, ``require_sdk()``,
``list_sessions()`` and ``exit_json``. Every failure goes through ``fail_json`` (secrets masked).
Only public ansible-core APIs are used.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import functools
import traceback

from collections.abc import Mapping
from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.connection import (
    PROXY_OPTIONS, Connection, OptionError, connection_argument_spec)
from ansible_collections.alicloud.ecs.plugins.module_utils.credentials import CredentialError
from ansible_collections.alicloud.ecs.plugins.module_utils.criteria import Criteria, CriteriaError, filters_argument_spec
from ansible_collections.alicloud.ecs.plugins.module_utils.endpoints import proxy_credentials
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import AlicloudError, describe, scrub
from ansible_collections.alicloud.ecs.plugins.module_utils.jmespath_query import (
    HAS_JMESPATH, JMESPATH_IMPORT_ERROR, apply_query, compile_query)
from ansible_collections.alicloud.ecs.plugins.module_utils.listing import (
    ListingFailure, ListingResult, list_sessions, listing_bounds, listing_problem)
from ansible_collections.alicloud.ecs.plugins.module_utils.result_shape import (
    ResultShapeError, checked_return_keys, checked_session_fields, shaped_result)


class _Module(AnsibleModule):
    """AnsibleModule with the proxy passwords masked and NUL bytes logged visibly; public methods only.

    The proxy options stay visible (their host matters), but not their password: it joins the no_log values before
    anything is returned or logged, a failed argument check of ansible-core's included (``fail_json`` is what
    AnsibleModule calls then).
    """

    def __init__(self, *args, secrets_of=None, **kwargs):
        # secrets_of(params): further values to mask, found inside options that are not no_log themselves (a
        # password written in a database URL); set before ansible-core logs the invocation.
        self.secrets_of = secrets_of
        super().__init__(*args, **kwargs)

    def hide_proxy_passwords(self):
        for name in PROXY_OPTIONS:
            self.no_log_values.update(proxy_credentials(self.params.get(name)))
        if self.secrets_of is not None:
            self.no_log_values.update(value for value in self.secrets_of(self.params) if value)

    def fail_json(self, msg, **kwargs):  # pylint: disable=arguments-differ
        self.hide_proxy_passwords()
        super().fail_json(msg, **kwargs)

    def exit_json(self, **kwargs):
        self.hide_proxy_passwords()
        super().exit_json(**kwargs)

    def log(self, msg, log_args=None):
        """AnsibleModule.log, with the proxy passwords masked and NUL bytes written as ``\\x00``.

        syslog and journald refuse a NUL byte: ansible-core then fails the module while logging its invocation
        ("embedded null character"), before the option checks that name the option (a NUL in ca_bundle) can run.
        """
        self.hide_proxy_passwords()
        log_args = {key: _without_nul(remove_values(value, self.no_log_values)) for key, value in (log_args or {}).items()}
        super().log(_without_nul(remove_values(msg, self.no_log_values)), log_args)


def _without_nul(value):
    if isinstance(value, str):
        return value.replace('\x00', '\\x00')
    if isinstance(value, bytes):
        return value.replace(b'\x00', b'\\x00')
    return value


def split_suboptions(spec: Dict[str, dict]):
    """``spec`` with every dict option's sub-options taken out, and those options with their sub-options.

    ansible-core checks the sub-options of a value that is not a dict anyway: it reports it without naming the option
    or fails with a traceback (an integer, a boolean). Declared as plain dicts, such values get the usual message
    that names the option; :meth:`AlicloudModule.check_suboptions` then checks the sub-options of real dicts.
    """
    nested = {name: option for name, option in spec.items() if option.get('type') == 'dict' and option.get('options')}
    plain = {name: ({key: value for key, value in option.items() if key != 'options'} if name in nested else option)
             for name, option in spec.items()}
    return plain, nested


def suboption_secrets(spec: Dict[str, dict], params: Any) -> List[str]:
    """The values of the no_log sub-options (at any depth) of validated ``params``."""
    found = []
    if not isinstance(params, Mapping):
        return found
    for name, option in spec.items():
        value = params.get(name)
        if value is None:
            continue
        if option.get('no_log'):
            found.extend(str(item) for item in (value if isinstance(value, (list, tuple)) else [value]))
        if option.get('options'):
            for item in value if isinstance(value, list) else [value]:
                found.extend(suboption_secrets(option['options'], item))
    return found


def selection_argument_spec() -> Dict[str, dict]:
    """``instance_id`` and ``session_id`` (checked by :meth:`AlicloudModule.ids`) and ``filters``: which sessions a task is about."""
    return dict(
        instance_id=dict(type='list', elements='str', aliases=['instance_ids']),
        session_id=dict(type='list', elements='str', aliases=['session_ids']),
        filters=filters_argument_spec(),
    )


def unique_ids(values: Optional[List[str]]) -> List[str]:
    """``values`` stripped, each once, in the order given."""
    return list(dict.fromkeys(value.strip() for value in values or ()))


class AlicloudModule:
    """An AnsibleModule with the connection options, the listing, their checks and one failure path."""

    def __init__(self, argument_spec: Optional[Dict[str, dict]] = None, connection_options: bool = True, **kwargs):
        """``connection_options=False`` for a module that never calls Alibaba Cloud (it reads the archive store)."""
        spec = connection_argument_spec() if connection_options else {}
        spec.update(argument_spec or {})
        plain, self.suboptions = split_suboptions(spec)
        self.module = _Module(argument_spec=plain, **kwargs)
        self.module.hide_proxy_passwords()
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.connection = None
        self.check_suboptions()

    def check_suboptions(self):
        """Check the sub-options of every dict option that has them, as ansible-core would, with its messages."""
        for name, option in self.suboptions.items():
            if self.params.get(name) is None:
                continue
            spec = {name: option}
            validated = ArgumentSpecValidator(spec).validate({name: self.params[name]})
            self.module.no_log_values.update(suboption_secrets(spec, validated.validated_parameters))
            self.params[name] = validated.validated_parameters[name]
            if validated.error_messages:
                message = validated.error_messages[0]
                if isinstance(validated.errors[0], UnsupportedError):
                    message = f'Unsupported parameters for this module: {message}'
                self.fail_json(msg=message)

    def fail_json(self, **kwargs):
        if isinstance(kwargs.get('msg'), str):
            kwargs['msg'] = self.scrub(kwargs['msg'])
        self.module.fail_json(**kwargs)

    def exit_json(self, **kwargs):
        self.module.exit_json(**kwargs)

    def warn(self, message: str):
        self.module.warn(self.scrub(message))

    def scrub(self, text: str) -> str:
        """``text`` with every secret of the connection options (and every one met since) masked, in any encoding."""
        return scrub(text, self.connection.secrets() if self.connection else [])

    @property
    def region_ids(self) -> List[str]:
        return self.connection.region_ids

    def validate_connection(self):
        """Validate connection options and resolve credentials; fails the task with the option's name."""
        try:
            self.connection = Connection(self.params)
        except (OptionError, CredentialError) as error:
            self.fail_json(msg=str(error))
        for warning in self.connection.warnings():
            self.warn(warning)

    def validate(self, **result):
        """:meth:`validate_connection`, then the listing options (``concurrency``, ``max_results``, bounds)."""
        self.validate_connection()
        problem = listing_problem(self.params)
        if problem:
            self.fail_json(msg=problem, **result)

    def ids(self, name: str, blank: str) -> List[str]:
        """The IDs of option ``name``, each once; fails with ``blank`` (formatted with ``name``) on an empty one."""
        if any(not value.strip() for value in self.params[name] or ()):
            self.fail_json(msg=blank.format(name=name))
        return unique_ids(self.params[name])

    def criteria(self, now: Optional[datetime.datetime] = None) -> Criteria:
        """The compiled ``filters`` (ages counted back from ``now``); fails naming the criterion that cannot be used."""
        try:
            return Criteria(self.params['filters'], now=now)
        except CriteriaError as error:
            self.fail_json(msg=str(error))

    def compiled_query(self) -> Any:
        """The compiled ``query`` option, None without one; fails when jmespath is missing or the expression is wrong."""
        if not self.params.get('query'):
            return None
        if not HAS_JMESPATH:
            self.fail_json(msg=missing_required_lib('jmespath'), exception=JMESPATH_IMPORT_ERROR)
        try:
            return compile_query(self.params['query'])
        except ValueError as error:
            self.fail_json(msg=str(error))

    def result_shape(self) -> None:
        """Fails, before any work, when ``return_keys`` or ``session_fields`` names a key or field that does not exist."""
        try:
            checked_return_keys(self.params.get('return_keys'))
            checked_session_fields(self.params.get('session_fields'))
        except ResultShapeError as error:
            self.fail_json(msg=str(error))

    def session_result(self, sessions: List[Dict[str, Any]], instance_ids: Optional[List[str]], query: Any,
                       changed: bool = False, **facts) -> Dict[str, Any]:
        """The result of a module that returns sessions (newest first): ``changed``, the keys of ``return_keys`` cut
        to ``session_fields`` (:func:`result_shape.shaped_result`), then ``facts``, then ``query_result`` when
        ``query`` (from :meth:`compiled_query`) is given. One place for both info modules.

        Summaries and the query always see the full records. A query that fails on the data fails the task with the
        ``api_calls`` fact.
        """
        try:
            shaped = shaped_result(sessions, instance_ids or None, self.params.get('return_keys'),
                                   self.params.get('session_fields'),
                                   query=None if query is None else functools.partial(apply_query, query))
        except ValueError as error:
            self.fail_json(msg=str(error), **{key: value for key, value in facts.items() if key == 'api_calls'})
        query_given = 'query_result' in shaped
        query_result = shaped.pop('query_result', None)
        result = dict(changed=changed, **shaped, **facts)
        if query_given:
            result['query_result'] = query_result
        return result

    def require_sdk(self):
        if not sdk.HAS_ALIBABA_SDK:
            self.fail_json(msg=missing_required_lib(sdk.SDK_REQUIREMENT))
        sdk.neutralise_sdk_debug()
        # The SDK's loggers print to this process's stderr otherwise, which Ansible shows when a module fails badly.
        sdk.capture_sdk_logs()

    def list_sessions(self, plan, criteria=None, action: str = 'Failed to list terminal sessions', result=None,
                      **options) -> ListingResult:
        """The listing of ``plan`` with the module's listing options; a failure fails the task with ``result``.

        ``options`` go to :func:`listing.list_sessions` (``max_items``, ``start``, ``keep_going``).
        """
        try:
            return list_sessions(self.connection, plan, criteria, concurrency=self.params['concurrency'],
                                 **listing_bounds(self.params), **options)
        except ListingFailure as failure:
            self.fail_json_alicloud(failure.error, f'{action} ({failure.key.label()})', api_calls=failure.api_calls,
                                    region_id=failure.key.region_id, **(result or {}))

    def describe_failure(self, error: BaseException, action: Optional[str] = None) -> Dict[str, Any]:
        """``msg`` plus the API error code, HTTP status and request ID of ``error``, with no secret."""
        if isinstance(error, AlicloudError):
            report = error.details()
            message = describe(error, action)
        else:
            report = {}
            message = f'{action or "Unexpected failure"}: {type(error).__name__}: {error}'
        report['msg'] = self.scrub(message)
        return report

    def fail_json_alicloud(self, error: BaseException, action: Optional[str] = None, **result):
        """Fail with one clear message, the API error code, HTTP status and request ID, and a scrubbed traceback."""
        result.update(self.describe_failure(error, action))
        result['exception'] = self.scrub(''.join(traceback.format_exception(type(error), error, error.__traceback__)))
        self.fail_json(**result)
