"""No file of plugins/ calls or overrides a private ansible-core name.

Private: a name with one leading underscore (``_load_params``, ``basic._ANSIBLE_ARGS``), not a dunder. Flagged:

- importing one from ansible-core (``from ansible.module_utils.basic import _load_params``);
- reading or writing an attribute with such a name (``basic._ANSIBLE_ARGS``, ``self._name``, also through
  ``getattr``/``setattr``/``hasattr``/``delattr`` with a literal name) that the collection does not define itself;
- defining a method with such a name in a class derived from an ansible-core class that has it (an override).

The collection's own private names (functions, classes, variables, ``self._x`` attributes, parameters) are allowed,
except a name that is also an attribute of an ansible-core class the collection derives from: using that one is
a use of ansible-core's. Allowed as well: the helpers every inventory plugin uses (the issue 14 list).
"""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

PLUGINS = pathlib.Path(__file__).resolve().parents[2] / 'plugins'
INVENTORY_HELPERS = frozenset({'_read_config_data', '_set_composite_vars', '_add_host_to_composed_groups',
                               '_add_host_to_keyed_groups', '_cache'})
ATTRIBUTE_FUNCTIONS = frozenset({'getattr', 'setattr', 'hasattr', 'delattr'})


def is_private(name):
    return name.startswith('_') and not name.startswith('__')


def is_core_module(module):
    return module == 'ansible' or module.startswith('ansible.')


def core_imports(tree):
    """Local name -> (module, attribute or None) for every import from ansible-core."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and is_core_module(node.module) and not node.level:
            for alias in node.names:
                found[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if is_core_module(alias.name):
                    found[alias.asname or alias.name.split('.')[0]] = (alias.name, None)
    return found


def core_bases(tree, imports):
    """The ansible-core classes the classes of ``tree`` derive from, by class name."""
    bases = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for base in node.bases:
            root = base
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in imports:
                bases.setdefault(node.name, []).append(resolve(base, imports))
    return bases


def resolve(expression, imports):
    """The object an expression rooted in an ansible-core import names (``basic.AnsibleModule``)."""
    parts = []
    while isinstance(expression, ast.Attribute):
        parts.insert(0, expression.attr)
        expression = expression.value
    module, attribute = imports[expression.id]
    found = importlib.import_module(module)
    for part in ([attribute] if attribute else []) + parts:
        found = getattr(found, part)
    return found


def own_names(trees):
    """Every name the collection defines: functions, classes, variables, parameters, ``self.``/``cls.`` attributes."""
    names = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id in ('self', 'cls')):
                names.add(node.attr)
    return names


def violations(trees):
    """(file, line, what) for each use of a private ansible-core name in ``trees`` (file -> parsed module)."""
    found = []
    per_file = {}
    core_private = set()
    for path, tree in trees.items():
        imports = core_imports(tree)
        bases = core_bases(tree, imports)
        per_file[path] = (imports, bases)
        for classes in bases.values():
            for cls in classes:
                core_private.update(name for name in dir(cls) if is_private(name))
    own = (own_names(trees) - core_private) | INVENTORY_HELPERS
    for path, tree in trees.items():
        imports, bases = per_file[path]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and is_core_module(node.module):
                found.extend((path, node.lineno, f'import {node.module}.{alias.name}')
                             for alias in node.names if is_private(alias.name))
            elif isinstance(node, ast.Attribute) and is_private(node.attr) and node.attr not in own:
                found.append((path, node.lineno, f'attribute {node.attr}'))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ATTRIBUTE_FUNCTIONS
                  and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
                  and is_private(node.args[1].value) and node.args[1].value not in own):
                found.append((path, node.lineno, f'{node.func.id} {node.args[1].value}'))
            elif isinstance(node, ast.ClassDef) and node.name in bases:
                inherited = {name for cls in bases[node.name] for name in dir(cls)}
                found.extend((path, item.lineno, f'override {node.name}.{item.name}') for item in node.body
                             if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_private(item.name)
                             and item.name in inherited and item.name not in INVENTORY_HELPERS)
    return found


def parsed(sources):
    return {name: ast.parse(text) for name, text in sources.items()}


def test_no_plugin_file_uses_a_private_ansible_core_name():
    trees = {str(path.relative_to(PLUGINS)): ast.parse(path.read_text(encoding='utf-8')) for path in sorted(PLUGINS.rglob('*.py'))}
    assert trees
    assert violations(trees) == []


@pytest.mark.parametrize('source, what', [
    ('from ansible.module_utils.basic import _load_params\n', 'import ansible.module_utils.basic._load_params'),
    ('from ansible.module_utils import basic\nbasic._ANSIBLE_ARGS = b""\n', 'attribute _ANSIBLE_ARGS'),
    ('from ansible.module_utils.basic import AnsibleModule\n'
     'class M(AnsibleModule):\n    def _load_params(self):\n        super()._load_params()\n', 'override M._load_params'),
    ('def name(module):\n    return module._name\n', 'attribute _name'),
    ('def name(module):\n    return getattr(module, "_name")\n', 'getattr _name'),
    # A private name the collection defines elsewhere is still ansible-core's on a class derived from ansible-core's.
    ('from ansible.module_utils.basic import AnsibleModule\n'
     'class M(AnsibleModule):\n    def check(self):\n        self._log_invocation()\n'
     'def _log_invocation():\n    pass\n', 'attribute _log_invocation'),
])
def test_the_check_finds(source, what):
    assert [found[2] for found in violations(parsed({'plugin.py': source}))][:1] == [what]


def test_the_check_allows_the_collections_own_names_and_the_inventory_helpers():
    source = ('from ansible.plugins.inventory import BaseInventoryPlugin\n'
              'class Thing:\n    def __init__(self):\n        self._lock = None\n    def _helper(self):\n        return self._lock\n'
              'class InventoryModule(BaseInventoryPlugin):\n    def _populate(self):\n        pass\n'
              '    def parse(self, inventory, loader, path, cache=True):\n'
              '        self._read_config_data(path)\n        self._cache[path] = Thing()._helper()\n')
    assert violations(parsed({'plugin.py': source})) == []
