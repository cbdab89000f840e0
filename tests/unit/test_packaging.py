"""The collection's packaging metadata: the execution environment file, galaxy.yml, and requirements.txt (with the
optional requirements-postgresql.txt) checked against what the code in plugins/ imports."""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / 'plugins'

# Which distribution provides an import name, for names that importlib.metadata cannot answer (the
# distribution is not installed where the tests run). Where both answer, they must agree.
KNOWN_DISTRIBUTIONS = {
    'alibabacloud_tea_openapi': 'alibabacloud-tea-openapi',
    'alibabacloud_credentials': 'alibabacloud-credentials',
    'darabonba': 'darabonba-core',
    'jmespath': 'jmespath',
    'psycopg': 'psycopg',
}

# Requirements of one optional feature, each in a file of its own next to requirements.txt: users install them only
# for that feature, execution environments always (requirements-ee.txt). The code must import them guarded (inside
# a try whose handler catches ImportError), so that everything else works without them.
OPTIONAL_REQUIREMENTS = {
    'requirements-postgresql.txt': 'the PostgreSQL archive store (database_url)',
}

# What meta/execution-environment.yml names: requirements.txt and every optional file, by -r lines only.
EE_REQUIREMENTS = 'requirements-ee.txt'

# Requirements that no code in plugins/ imports, each with the reason it is listed anyway.
NOT_IMPORTED = {}

# Top-level names that are not third-party packages: Ansible itself and the collection.
NOT_THIRD_PARTY = {'__future__', 'ansible', 'ansible_collections'}

# Calls that import the module named by their first (literal) argument.
IMPORTING_CALLS = {'find_spec', 'import_module', '__import__'}

# Code that runs on the managed host too: its imports must all be in requirements.txt. The rest of plugins/
# (doc fragments, filters, the inventory plugin) runs on the controller only, next to ansible-core, so it may also
# import what ansible-core itself requires (PyYAML, Jinja2, ...).
TARGET_SIDE = ('modules', 'module_utils')

# Galaxy: lowercase letters, digits and underscores; at most 20 tags.
TAG_RE = re.compile(r'^[a-z0-9_]+$')
MAX_TAGS = 20

# What the tarball must never hold, as (path, why).
NEVER_IN_TARBALL = [
    ('build/venv/bin/python', 'build output'),
    ('build/collections', 'build output'),
    ('.git/config', 'version control'),
    ('tests/output/junit.xml', 'ansible-test results'),
    ('plugins/filter/__pycache__/terminal_sessions.cpython-311.pyc', 'bytecode cache'),
    ('__pycache__/x.pyc', 'bytecode cache'),
    ('.pytest_cache/README.md', 'pytest cache'),
    ('tests/.pytest_cache/v/cache/nodeids', 'pytest cache'),
    ('.hypothesis/examples/x', 'hypothesis database'),
    ('build/.hypothesis/examples/x', 'hypothesis database'),
    ('.benchmarks/x.json', 'pytest-benchmark data'),
    ('.ansible/collections/x', 'ansible-lint cache'),
    ('alicloud-ecs-0.1.0.tar.gz', 'a built tarball'),
]


def canonical(name):
    """A distribution name as PyPI compares them (PEP 503)."""
    return re.sub(r'[-_.]+', '-', name).lower()


def load_yaml(name):
    with open(ROOT / name) as handle:
        return yaml.safe_load(handle)


# --- what the code imports, and what requirements.txt names ------------------------------------------------

IMPORT_ERRORS = {'ImportError', 'ModuleNotFoundError', 'Exception', 'BaseException'}


def catches_import_error(handler):
    """Whether an ``except`` clause catches an ImportError (bare, or naming it or a base class)."""
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(name, ast.Name) and name.id in IMPORT_ERRORS for name in types)


def guarded_nodes(tree):
    """The nodes inside the body of a ``try`` that catches ImportError."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(catches_import_error(handler) for handler in node.handlers):
            for statement in node.body:
                guarded.update(id(inner) for inner in ast.walk(statement))
    return guarded


def imported_names(root, unguarded_only=False):
    """Top-level module name -> where it is imported ("path:line"), for every .py under ``root``.

    Counts ``import x``, ``from x import y`` (not relative imports) and calls such as ``find_spec('x')``;
    with ``unguarded_only``, only those outside a ``try`` that catches ImportError.
    """
    found = {}
    for path in sorted(root.rglob('*.py')):
        tree = ast.parse(path.read_text(), filename=str(path))
        guarded = guarded_nodes(tree) if unguarded_only else set()
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, 'id', None)
                if function in IMPORTING_CALLS:
                    names = [node.args[0].value]
            for name in names:
                found.setdefault(name.split('.')[0], []).append('%s:%d' % (path.relative_to(root.parent), node.lineno))
    return found


def third_party(names):
    return dict((name, where) for name, where in names.items()
                if name not in NOT_THIRD_PARTY and name not in sys.stdlib_module_names)


def distributions_of(name, installed=None, known=None):
    """The canonical names of the distributions that provide the import name ``name`` (empty when unknown).

    Raises AssertionError when the explicit table and the installed metadata disagree.
    """
    installed = importlib.metadata.packages_distributions() if installed is None else installed
    known = KNOWN_DISTRIBUTIONS if known is None else known
    from_metadata = set(canonical(dist) for dist in installed.get(name, ()))
    if name in known:
        assert not from_metadata or canonical(known[name]) in from_metadata, (
            'KNOWN_DISTRIBUTIONS says %s comes from %s, the installed metadata says %s'
            % (name, known[name], ', '.join(sorted(from_metadata))))
        return {canonical(known[name])}
    return from_metadata


def requirement_names(text, name='requirements.txt'):
    """Canonical distribution names of a requirements file's lines; options and URLs are refused."""
    names = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split(' #', 1)[0].strip()
        if not line or line.startswith('#'):
            continue
        assert not line.startswith('-'), '%s:%d: keep it a plain list of requirements, no options: %s' % (name, number, line)
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise AssertionError('%s:%d: %s' % (name, number, error))
        assert not requirement.url, '%s:%d: a URL requirement cannot be checked: %s' % (name, number, line)
        names.append(canonical(requirement.name))
    return names


def ansible_core_requirements():
    """Canonical names of the distributions ansible-core itself requires (without extras)."""
    found = set()
    for line in importlib.metadata.requires('ansible-core') or ():
        requirement = Requirement(line)
        if not (requirement.marker and 'extra' in str(requirement.marker)):
            found.add(canonical(requirement.name))
    return found


def runs_on_target(where):
    """Whether an import at ``where`` ("plugins/<type>/...:line") is in code that may run on a managed host."""
    parts = where.split('/')
    return len(parts) < 3 or parts[1] in TARGET_SIDE


def requirement_problems(root, requirements_text, installed=None, known=None, not_imported=None, core_requires=None,
                         optional=None):
    """What is wrong between the imports under ``root`` and a requirements file; an empty list when nothing is.

    ``optional`` maps the name of an optional requirements file to its text: what it names counts as required,
    provided every import of it is guarded and requirements.txt does not name it too.
    """
    not_imported = NOT_IMPORTED if not_imported is None else not_imported
    core_requires = ansible_core_requirements() if core_requires is None else core_requires
    required = requirement_names(requirements_text)
    optional_names = {file_name: requirement_names(text, file_name) for file_name, text in sorted((optional or {}).items())}
    problems = ['requirements.txt names %s twice' % name for name in sorted(set(n for n in required if required.count(n) > 1))]
    for file_name, names in optional_names.items():
        problems.extend('%s names %s, which requirements.txt names too' % (file_name, name) for name in names if name in required)
    optional_required = set(name for names in optional_names.values() for name in names)
    unguarded = third_party(imported_names(root, unguarded_only=True))
    provided = set()
    for name, where in sorted(third_party(imported_names(root)).items()):
        distributions = distributions_of(name, installed, known)
        if distributions & optional_required and not distributions & set(required):
            if name in unguarded:
                problems.append('%r (imported at %s) is an optional requirement: import it inside a try that catches '
                                'ImportError' % (name, ', '.join(unguarded[name])))
            required_here = set(required) | optional_required
        else:
            required_here = set(required)
        if distributions and distributions & required_here:
            provided |= distributions
            continue
        if not distributions:
            problems.append('cannot tell which distribution provides %r (imported at %s): add it to requirements.txt '
                            'and to KNOWN_DISTRIBUTIONS' % (name, ', '.join(where)))
        elif not distributions & set(required):
            if distributions & core_requires and not any(runs_on_target(place) for place in where):
                continue  # controller-side code, and ansible-core brings it
            problems.append('%r (imported at %s) comes from %s, which requirements.txt does not name'
                            % (name, ', '.join(where), ' or '.join(sorted(distributions))))
        provided |= distributions
    for name in required:
        if name not in provided and canonical(name) not in set(canonical(n) for n in not_imported):
            problems.append('requirements.txt names %s, which nothing in plugins/ imports (remove it, or list it in '
                            'NOT_IMPORTED with the reason)' % name)
    for file_name, names in optional_names.items():
        problems.extend('%s names %s, which nothing in plugins/ imports' % (file_name, name) for name in names if name not in provided)
    for name in not_imported:
        if canonical(name) in provided:
            problems.append('NOT_IMPORTED lists %s, which plugins/ does import' % name)
        if canonical(name) not in required:
            problems.append('NOT_IMPORTED lists %s, which requirements.txt does not name' % name)
    return problems


def test_every_third_party_import_of_plugins_is_in_requirements_and_nothing_else_is():
    found = third_party(imported_names(PLUGINS))
    # The SDK is there (a walk that found nothing would pass vacuously).
    assert {'alibabacloud_tea_openapi', 'alibabacloud_credentials', 'darabonba', 'jmespath', 'psycopg'} <= set(found)
    optional = dict((name, (ROOT / name).read_text()) for name in OPTIONAL_REQUIREMENTS)
    assert requirement_problems(PLUGINS, (ROOT / 'requirements.txt').read_text(), optional=optional) == []


def test_psycopg_comes_from_requirements_postgresql_and_the_tests_install_the_same():
    assert requirement_names((ROOT / 'requirements-postgresql.txt').read_text(), 'requirements-postgresql.txt') == ['psycopg']
    assert 'psycopg' not in requirement_names((ROOT / 'requirements.txt').read_text())
    # The tests run against the driver users get: the same requirement line (with the [binary] extra: no libpq needed).
    lines = [line.split(' #', 1)[0].strip() for name in ('requirements-postgresql.txt', 'tests/requirements.txt')
             for line in (ROOT / name).read_text().splitlines() if line.strip().lower().startswith('psycopg')]
    assert len(lines) == 2 and lines[0] == lines[1] and Requirement(lines[0]).extras == {'binary'}, lines


def test_an_optional_requirement_must_be_imported_guarded_and_named_once(tmp_path):
    plugins = tmp_path / 'plugins'
    (plugins / 'module_utils').mkdir(parents=True)
    store = plugins / 'module_utils' / 'store.py'
    store.write_text('import jmespath\ntry:\n    import psycopg\nexcept ImportError:\n    psycopg = None\n')
    installed = {'jmespath': ['jmespath'], 'psycopg': ['psycopg']}
    optional = {'requirements-postgresql.txt': 'psycopg[binary]>=3.1,<4\n'}
    assert requirement_problems(plugins, 'jmespath\n', installed=installed, known={}, optional=optional) == []
    assert requirement_problems(plugins, 'jmespath\n', installed=installed, known={}) == [
        "'psycopg' (imported at plugins/module_utils/store.py:3) comes from psycopg, which requirements.txt does not name"]
    store.write_text('import jmespath\nimport psycopg\ntry:\n    from psycopg import sql\nexcept (ValueError, ModuleNotFoundError):\n    sql = None\n')
    assert requirement_problems(plugins, 'jmespath\n', installed=installed, known={}, optional=optional) == [
        "'psycopg' (imported at plugins/module_utils/store.py:2) is an optional requirement: import it inside a try "
        "that catches ImportError"]
    store.write_text('import jmespath\ntry:\n    import psycopg\nexcept ValueError:\n    psycopg = None\n')
    assert len(requirement_problems(plugins, 'jmespath\n', installed=installed, known={}, optional=optional)) == 1
    store.write_text('import jmespath\n')
    assert requirement_problems(plugins, 'jmespath\npsycopg\n', installed=installed, known={},
                                optional=optional) == [
        'requirements-postgresql.txt names psycopg, which requirements.txt names too',
        'requirements.txt names psycopg, which nothing in plugins/ imports (remove it, or list it in NOT_IMPORTED with the reason)',
        'requirements-postgresql.txt names psycopg, which nothing in plugins/ imports']


def test_the_import_walk_sees_every_kind_of_import(tmp_path):
    package = tmp_path / 'plugins' / 'modules'
    package.mkdir(parents=True)
    (package / 'sample.py').write_text(
        'from __future__ import annotations\n'
        'import os, json\n'
        'import xml.etree.ElementTree\n'
        'from . import sibling\n'
        'from ansible.module_utils.basic import AnsibleModule\n'
        'from ansible_collections.alicloud.ecs.plugins.module_utils import sdk\n'
        'def later():\n'
        '    import requests.adapters\n'
        '    from yaml import safe_load\n'
        '    return importlib.util.find_spec("jmespath"), import_module("cryptography.x509")\n')
    names = imported_names(tmp_path / 'plugins')
    assert set(names) == {'__future__', 'os', 'json', 'xml', 'ansible', 'ansible_collections', 'requests', 'yaml',
                          'jmespath', 'cryptography'}
    assert names['requests'] == ['plugins/modules/sample.py:8']
    assert set(third_party(names)) == {'requests', 'yaml', 'jmespath', 'cryptography'}


def test_an_import_without_its_requirement_fails_the_check(tmp_path):
    plugins = tmp_path / 'plugins'
    plugins.mkdir()
    (plugins / 'uses.py').write_text('import jmespath\nimport requests\nimport not_a_known_module_xyz\n')
    installed = {'jmespath': ['jmespath'], 'requests': ['requests']}
    problems = requirement_problems(plugins, 'jmespath>=1.0\n', installed=installed, known={}, core_requires=set())
    assert problems == [
        "cannot tell which distribution provides 'not_a_known_module_xyz' (imported at plugins/uses.py:3): "
        "add it to requirements.txt and to KNOWN_DISTRIBUTIONS",
        "'requests' (imported at plugins/uses.py:2) comes from requests, which requirements.txt does not name",
    ]
    assert requirement_problems(plugins, 'jmespath\nRequests>=2\n', installed=installed, known={'not_a_known_module_xyz': 'xyz-dist'}) == [
        "'not_a_known_module_xyz' (imported at plugins/uses.py:3) comes from xyz-dist, which requirements.txt does not name"]
    assert requirement_problems(plugins, 'jmespath\nRequests>=2\nXYZ_Dist\n', installed=installed,
                                known={'not_a_known_module_xyz': 'xyz-dist'}) == []


def test_controller_side_plugins_may_use_what_ansible_core_requires_but_modules_may_not(tmp_path):
    plugins = tmp_path / 'plugins'
    for folder in ('filter', 'modules', 'module_utils'):
        (plugins / folder).mkdir(parents=True)
    (plugins / 'filter' / 'docs.py').write_text('import yaml\n')
    installed = {'yaml': ['PyYAML']}
    assert 'pyyaml' in ansible_core_requirements()
    assert requirement_problems(plugins, '', installed=installed, known={}, core_requires={'pyyaml'}) == []
    (plugins / 'module_utils' / 'helper.py').write_text('import yaml\n')
    assert requirement_problems(plugins, '', installed=installed, known={}, core_requires={'pyyaml'}) == [
        "'yaml' (imported at plugins/filter/docs.py:1, plugins/module_utils/helper.py:1) comes from pyyaml, "
        "which requirements.txt does not name"]
    (plugins / 'module_utils' / 'helper.py').unlink()
    (plugins / 'filter' / 'more.py').write_text('import requests\n')
    assert requirement_problems(plugins, '', installed={'yaml': ['PyYAML'], 'requests': ['requests']}, known={},
                                core_requires={'pyyaml'}) == [
        "'requests' (imported at plugins/filter/more.py:1) comes from requests, which requirements.txt does not name"]


def test_a_requirement_nothing_imports_fails_the_check_unless_its_reason_is_given(tmp_path):
    plugins = tmp_path / 'plugins'
    plugins.mkdir()
    (plugins / 'uses.py').write_text('import jmespath\n')
    installed = {'jmespath': ['jmespath']}
    assert requirement_problems(plugins, 'jmespath\nPyYAML>=6\n', installed=installed, known={}) == [
        'requirements.txt names pyyaml, which nothing in plugins/ imports (remove it, or list it in NOT_IMPORTED with the reason)']
    assert requirement_problems(plugins, 'jmespath\nPyYAML>=6\n', installed=installed, known={},
                                not_imported={'PyYAML': 'a plugin of another collection needs it'}) == []
    assert requirement_problems(plugins, 'jmespath\njmespath<2\n', installed=installed, known={}) == [
        'requirements.txt names jmespath twice']
    assert requirement_problems(plugins, 'jmespath\n', installed=installed, known={}, not_imported={'jmespath': 'stale'}) == [
        'NOT_IMPORTED lists jmespath, which plugins/ does import']


def test_the_distribution_table_must_agree_with_the_installed_metadata():
    with pytest.raises(AssertionError, match='KNOWN_DISTRIBUTIONS says darabonba comes from darabonba'):
        distributions_of('darabonba', installed={'darabonba': ['darabonba-core']}, known={'darabonba': 'darabonba'})
    # Every entry of the real table agrees with what is installed here (the SDK is installed for the tests).
    installed = importlib.metadata.packages_distributions()
    for name, distribution in KNOWN_DISTRIBUTIONS.items():
        assert canonical(distribution) in set(canonical(dist) for dist in installed[name]), name


def test_requirements_parsing_refuses_what_cannot_be_checked():
    assert requirement_names('# comment\n\nFoo_Bar.baz >=1  # why\njmespath\n') == ['foo-bar-baz', 'jmespath']
    for text in ('-r other.txt\n', '--index-url https://example.invalid/\n', 'pkg @ https://example.invalid/pkg.whl\n', 'not a requirement!\n'):
        with pytest.raises(AssertionError):
            requirement_names(text)


# --- the execution environment ----------------------------------------------------------------------------

def test_the_execution_environment_file_names_files_that_exist_and_ship():
    definition = load_yaml('meta/execution-environment.yml')
    assert definition['version'] == 1
    dependencies = definition['dependencies']
    assert set(dependencies) <= {'python', 'system'}, 'a collection declares only python and system dependencies'
    assert dependencies['python'] == EE_REQUIREMENTS
    ignored = load_yaml('galaxy.yml').get('build_ignore', [])
    for kind, name in dependencies.items():
        # ansible-builder reads the file from the installed collection, by a path relative to its root.
        assert isinstance(name, str) and not Path(name).is_absolute() and '..' not in Path(name).parts, (kind, name)
        assert (ROOT / name).is_file(), '%s dependencies: %s does not exist' % (kind, name)
        assert (ROOT / name).read_text().strip(), '%s dependencies: %s is empty' % (kind, name)
        assert not build_ignored(name, ignored), '%s is left out of the tarball by build_ignore' % name
    assert not build_ignored('meta/execution-environment.yml', ignored)
    # No system package is needed: every dependency installs from a wheel (see the user guide). A bindep.txt at
    # the root would not be read anyway while meta/execution-environment.yml exists.
    assert 'system' not in dependencies and not (ROOT / 'bindep.txt').exists()


def test_execution_environments_install_requirements_txt_and_every_optional_file():
    # ansible-builder takes one file per collection and follows its -r lines (relative to that file's folder).
    included = []
    for line in (ROOT / EE_REQUIREMENTS).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        option, _space, name = line.partition(' ')
        assert option == '-r' and name.strip(), '%s: only -r lines, the requirements live in the files they name: %s' % (EE_REQUIREMENTS, line)
        assert (ROOT / name.strip()).is_file(), name
        included.append(name.strip())
    assert sorted(included) == sorted(['requirements.txt'] + list(OPTIONAL_REQUIREMENTS))
    ignored = load_yaml('galaxy.yml').get('build_ignore', [])
    assert [name for name in [EE_REQUIREMENTS] + included if build_ignored(name, ignored)] == []


# --- galaxy.yml ---------------------------------------------------------------------------------------------

def build_ignored(path, patterns):
    """Whether ansible-galaxy leaves ``path`` out of the tarball: a pattern matches it or one of its folders."""
    parts = Path(path).parts
    candidates = ['/'.join(parts[:index]) for index in range(1, len(parts) + 1)]
    defaults = ['.git', '*.pyc', '*.retry', 'tests/output', 'alicloud-ecs-*.tar.gz']
    skipped_dirs = {'CVS', '.bzr', '.hg', '.git', '.svn', '__pycache__', '.tox'}
    return any(part in skipped_dirs for part in parts[:-1]) or \
        any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates for pattern in list(patterns) + defaults)


def test_galaxy_yml_is_complete_for_publishing():
    galaxy = load_yaml('galaxy.yml')
    assert (galaxy['namespace'], galaxy['name']) == ('alicloud', 'ecs')
    assert re.match(r'^\d+\.\d+\.\d+$', str(galaxy['version']))
    for key in ('readme', 'authors', 'description', 'license', 'tags', 'repository', 'documentation', 'homepage', 'issues'):
        assert galaxy.get(key), 'galaxy.yml: %s is missing or empty' % key
    assert (ROOT / galaxy['readme']).is_file()
    assert galaxy['dependencies'] == {}
    tags = galaxy['tags']
    assert len(tags) <= MAX_TAGS and len(set(tags)) == len(tags)
    assert [tag for tag in tags if not TAG_RE.match(tag) or len(tag) > 64] == []
    for key in ('repository', 'documentation', 'homepage', 'issues'):
        assert galaxy[key].startswith('https://'), key


def test_build_ignore_keeps_build_output_and_caches_out_and_the_collection_in():
    ignored = load_yaml('galaxy.yml')['build_ignore']
    for path, why in NEVER_IN_TARBALL:
        assert build_ignored(path, ignored), '%s (%s) would be in the tarball' % (path, why)
    for path in ('plugins/modules/ecs_terminal_session_info.py', 'meta/runtime.yml', 'meta/execution-environment.yml',
                 'requirements.txt', 'requirements-postgresql.txt', 'requirements-ee.txt', 'README.md', 'docs/user-guide.md', 'docs/examples/session_facts.yml',
                 'changelogs/config.yaml', 'tests/unit/test_packaging.py'):
        assert not build_ignored(path, ignored), '%s would be left out of the tarball' % path
