# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``query`` option: a JMESPath expression over the filtered session list."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from importlib.util import find_spec
from typing import Any, List

# Only looked up here: jmespath is imported on first use, so a task without `query` does not pay for it.
try:
    HAS_JMESPATH = find_spec('jmespath') is not None
except (ImportError, ValueError):
    HAS_JMESPATH = False
JMESPATH_IMPORT_ERROR = None if HAS_JMESPATH else 'ModuleNotFoundError: No module named jmespath'


def _jmespath():
    import jmespath  # here, not at the top: see above
    return jmespath


def compile_query(expression: str) -> Any:
    """A compiled expression; ValueError with the parser's explanation when it does not parse."""
    jmespath = _jmespath()
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as error:
        raise ValueError(f'query: {expression!r} is not a valid JMESPath expression: {error}')


def apply_query(compiled: Any, sessions: List[dict]) -> Any:
    """The value of ``compiled`` for the list ``sessions``; ValueError on a runtime type error."""
    jmespath = _jmespath()
    try:
        return compiled.search(sessions)
    except jmespath.exceptions.JMESPathError as error:
        raise ValueError(f'query: the expression failed on the session list: {error}')
