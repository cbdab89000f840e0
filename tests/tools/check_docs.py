#!/usr/bin/env python
"""Fail when any plugin of the collection is not fully documented for ansible-doc.

Sanity validates module documentation, but not filter documentation: a filter without its
.yml file only shows as UNDOCUMENTED in ``ansible-doc -l``. This check covers modules, filters
and inventory plugins, and renders each page as text the way users read it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

COLLECTION = 'alicloud.ecs'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_DOC = os.path.join(os.path.dirname(sys.executable), 'ansible-doc')
# Options documented by ansible-core's own doc fragments (ansible.builtin.inventory_cache), not by us, without a type.
CORE_UNTYPED_OPTIONS = {'cache_prefix'}


def ansible_doc(*args):
    completed = subprocess.run([ANSIBLE_DOC, *args], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit('ansible-doc %s failed:\n%s%s' % (' '.join(args), completed.stdout, completed.stderr))
    return completed.stdout


def listed(plugin_type):
    return json.loads(ansible_doc('-l', '-t', plugin_type, '--json', COLLECTION))


def check_options(name, options, problems, path=''):
    for option, spec in (options or {}).items():
        where = '%s: option %s%s' % (name, path, option)
        if not spec.get('description'):
            problems.append('%s has no description' % where)
        if not spec.get('type') and option != '_input' and option not in CORE_UNTYPED_OPTIONS:
            problems.append('%s has no type' % where)
        check_options(name, spec.get('suboptions'), problems, '%s%s.' % (path, option))


def check_returns(name, returns, problems, path=''):
    for key, spec in (returns or {}).items():
        where = '%s: return value %s%s' % (name, path, key)
        for field in ('description', 'type'):
            if not spec.get(field):
                problems.append('%s has no %s' % (where, field))
        if 'contains' not in spec and 'sample' not in spec and not path and key != '_value':
            problems.append('%s has no sample' % where)
        check_returns(name, spec.get('contains'), problems, '%s%s.' % (path, key))


def main():
    problems = []
    counts = {}
    for plugin_type in ('module', 'filter', 'inventory'):
        names = listed(plugin_type)
        counts[plugin_type] = len(names)
        for name, description in sorted(names.items()):
            if 'UNDOCUMENTED' in str(description):
                problems.append('%s %s is UNDOCUMENTED' % (plugin_type, name))
                continue
            doc = json.loads(ansible_doc('-t', plugin_type, '--json', name))[name]
            documentation = doc.get('doc') or {}
            check_options(name, documentation.get('options'), problems)
            if not (doc.get('examples') or '').strip():
                problems.append('%s has no examples' % name)
            if plugin_type != 'inventory' and not doc.get('return'):
                problems.append('%s has no return documentation' % name)
            if name.split('.')[-1] not in ansible_doc('-t', plugin_type, name):
                problems.append('%s does not render as text' % name)
            check_returns(name, doc.get('return'), problems)
            if plugin_type == 'filter':
                if '_input' not in (documentation.get('options') or {}):
                    problems.append('%s does not document _input' % name)
                if '_value' not in (doc.get('return') or {}):
                    problems.append('%s does not document _value' % name)
    source_filters = [f[:-4] for f in os.listdir(os.path.join(ROOT, 'plugins', 'filter'))
                      if f.endswith('.yml')] if os.path.isdir(os.path.join(ROOT, 'plugins', 'filter')) else []
    for name in source_filters:
        if '%s.%s' % (COLLECTION, name) not in listed('filter'):
            problems.append('filter %s has a .yml file but ansible-doc does not list it' % name)
    for plugin_type, folder in (('module', 'modules'), ('inventory', 'inventory')):
        sources = [f[:-3] for f in os.listdir(os.path.join(ROOT, 'plugins', folder)) if f.endswith('.py') and f != '__init__.py']
        if counts[plugin_type] != len(sources):
            problems.append('ansible-doc lists %d %s plugins of %s, plugins/%s has %d: is the collection on ANSIBLE_COLLECTIONS_PATH?'
                            % (counts[plugin_type], plugin_type, COLLECTION, folder, len(sources)))
    for problem in problems:
        print('ERROR: %s' % problem)
    print('documentation: %d modules, %d filters, %d inventory plugins checked, %d problems'
          % (counts['module'], counts['filter'], counts['inventory'], len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
