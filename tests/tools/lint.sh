#!/usr/bin/env bash
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The linters of the Ansible ecosystem, run offline on this collection.
#
#   tests/tools/lint.sh ansible-lint <lint_venv> <collections_path>
#   tests/tools/lint.sh changelog <lint_venv>
#   tests/tools/lint.sh collection-docs <lint_venv>
#   tests/tools/lint.sh galaxy-importer <lint_venv>
#
# <lint_venv> is a virtualenv with the versions pinned in tests/lint-requirements.txt (the Makefile's
# `lint` and `changelog-lint` targets set it up under build/lint/venv, apart from build/venv).
# <collections_path> has ansible_collections/alicloud/ecs pointing at this repository, so that
# ansible-lint resolves the alicloud.ecs modules and action group of the playbooks.
#
# ansible-lint: the whole repository (build/ and tests/ are excluded in .ansible-lint) with the
#   production profile and --strict, so a warning fails too. Findings are fixed, never silenced: an
#   ignore file, a `noqa` comment, or a skip_list/warn_list in .ansible-lint fails the run. Every
#   playbook under docs/examples must have been syntax-checked as a playbook (a file that ansible-lint
#   took for another kind would otherwise pass unchecked). galaxy.yml's galaxy[no-changelog] check is
#   left out only while changelogs/changelog.yaml does not exist, that is until the first
#   `antsibull-changelog release`.
#   Then ansible-builder reads the dependencies of a collection built and installed from this tree,
#   as it does when an execution environment includes it: they must be requirements.txt, and no
#   system package; and it must accept the execution environment definitions of docs/examples
#   (`ansible-builder create` only writes a build context: nothing is downloaded or built).
# changelog: `antsibull-changelog lint` on changelogs/fragments, and `lint-changelog-yaml` on
#   changelogs/changelog.yaml once it exists.
# collection-docs: `antsibull-docs lint-collection-docs --plugin-docs` on the built tarball, installed
#   alone in a collections folder: the documentation of every module and plugin (schema, markup, every
#   O()/RV()/M()/P() reference resolved, to this collection and to ansible.builtin), as docs.ansible.com
#   renders it.
# galaxy-importer: what Galaxy runs on an upload, on the built tarball, with tests/galaxy-importer.cfg
#   (ansible-doc, ansible-lint, changelog and tag checks), then flake8 with galaxy-importer's settings on
#   the Python files of plugins/. Any warning or error fails: Galaxy would show it on the collection's page.
#
# Each run has a temporary HOME and no proxy variables, so nothing is read from or written to the
# user's configuration and nothing leaves the machine.
set -euo pipefail

usage() {
    echo "usage: $0 ansible-lint <lint_venv> <collections_path> | $0 {changelog|collection-docs|galaxy-importer} <lint_venv>" >&2
    exit 2
}

[[ $# -ge 2 ]] || usage
mode="$1"
lint_venv="$(cd "$2" && pwd -P)"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
[[ -x "${lint_venv}/bin/python" ]] || { echo "lint.sh: ${lint_venv} is not a virtualenv" >&2; exit 2; }

scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT
mkdir "${scratch}/home"
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy NO_PROXY no_proxy
export HOME="${scratch}/home"
export PATH="${lint_venv}/bin:${PATH}"
export NO_COLOR=1
cd "${repo}"

run_changelog_lint() {
    local rc=0
    echo "lint.sh: antsibull-changelog $(antsibull-changelog --version 2>&1 | awk '{print $NF}'): lint changelogs/fragments"
    antsibull-changelog lint || rc=$?
    if [[ -e changelogs/changelog.yaml ]]; then
        echo "lint.sh: antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml"
        antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml || rc=$?
    fi
    if [[ ${rc} -ne 0 ]]; then
        echo "lint.sh: antsibull-changelog found problems (exit ${rc})" >&2
        exit 1
    fi
    echo "lint.sh: changelog fragments pass antsibull-changelog lint"
}

# The playbooks of docs/examples, found by content: a YAML list of plays.
example_playbooks() {
    python - <<'EOF'
import pathlib
import yaml


class Loader(yaml.SafeLoader):
    """Reads Ansible's own tags (!vault, !unsafe) as plain values."""


Loader.add_multi_constructor('!', lambda loader, suffix, node: None)

for path in sorted(pathlib.Path('docs/examples').rglob('*')):
    if path.suffix not in ('.yml', '.yaml') or not path.is_file():
        continue
    try:
        data = yaml.load(path.read_text(), Loader=Loader)
    except yaml.YAMLError:
        print(path)  # not YAML at all: ansible-lint reports it, and it must have been checked as a playbook
        continue
    plays = ('hosts', 'import_playbook', 'ansible.builtin.import_playbook')
    if isinstance(data, list) and data and all(isinstance(play, dict) and any(key in play for key in plays) for play in data):
        print(path)
EOF
}

run_ansible_lint() {
    local collections="$1"
    collections="$(cd "${collections}" && pwd -P)"
    [[ -e "${collections}/ansible_collections/alicloud/ecs/galaxy.yml" ]] \
        || { echo "lint.sh: ${collections} has no ansible_collections/alicloud/ecs (run make setup)" >&2; exit 2; }

    local ignore_file
    for ignore_file in .ansible-lint-ignore .config/ansible-lint-ignore.txt; do
        if [[ -e "${ignore_file}" ]]; then
            echo "lint.sh: ${ignore_file} exists; fix the findings instead of ignoring them" >&2
            exit 1
        fi
    done
    if grep -rnE --include='*.yml' --include='*.yaml' '#[[:space:]]*noqa' docs meta changelogs galaxy.yml; then
        echo "lint.sh: the lines above silence ansible-lint with noqa; fix the findings instead" >&2
        exit 1
    fi
    python - <<'EOF'
import sys
import yaml

with open('.ansible-lint') as handle:
    config = yaml.safe_load(handle) or {}
silencing = [key for key in ('skip_list', 'warn_list') if config.get(key)]
if silencing or config.get('profile') != 'production':
    sys.exit('lint.sh: .ansible-lint must use the production profile and skip or downgrade no rule (%s)'
             % ', '.join(silencing or ['profile: %s' % config.get('profile')]))
EOF

    local args=(--offline --profile production --strict --nocolor -v)
    if [[ ! -e changelogs/changelog.yaml ]]; then
        echo "lint.sh: no changelogs/changelog.yaml yet (made by the first antsibull-changelog release):" \
             "galaxy[no-changelog] is not checked in this run"
        args+=(--skip-list 'galaxy[no-changelog]')
    fi

    local log="${scratch}/ansible-lint.log" rc=0
    echo "lint.sh: $(ansible-lint --version 2>&1 | head -1)"
    echo "lint.sh: (cd ${repo} && ANSIBLE_COLLECTIONS_PATH=${collections} ansible-lint ${args[*]})"
    ANSIBLE_COLLECTIONS_PATH="${collections}" ansible-lint "${args[@]}" >"${log}" 2>&1 || rc=$?
    grep -vE '^(INFO|DEBUG) ' "${log}" || true
    if [[ ${rc} -ne 0 ]]; then
        echo "lint.sh: ansible-lint failed (exit ${rc})" >&2
        exit 1
    fi

    local playbook missing=() count=0
    while IFS= read -r playbook; do
        count=$((count + 1))
        grep -qF "Executing syntax check on playbook ${playbook} " "${log}" || missing+=("${playbook}")
    done < <(example_playbooks)
    if [[ ${count} -eq 0 ]]; then
        echo "lint.sh: found no playbook under docs/examples" >&2
        exit 1
    fi
    if [[ ${#missing[@]} -gt 0 ]]; then
        printf 'lint.sh: ansible-lint did not check as a playbook: %s\n' "${missing[@]}" >&2
        echo "lint.sh: (ansible-lint decides a file's kind from its path; add a 'kinds' entry to .ansible-lint)" >&2
        exit 1
    fi
    echo "lint.sh: ansible-lint passed the production profile; all ${count} playbooks of docs/examples syntax-checked and linted"

    check_execution_environment
}

# What ansible-builder would install for this collection, read from a build of it like any other.
check_execution_environment() {
    local build="${scratch}/ee" out
    mkdir -p "${build}"
    ansible-galaxy collection build --force --output-path "${build}" "${repo}" >/dev/null
    ANSIBLE_COLLECTIONS_PATH="${build}/installed" \
        ansible-galaxy collection install --force -p "${build}/installed" "${build}"/alicloud-ecs-*.tar.gz >/dev/null
    out="$(ansible-builder introspect --sanitize "${build}/installed" 2>&1)" \
        || { echo "${out}" >&2; echo "lint.sh: ansible-builder introspect failed" >&2; exit 1; }
    BUILDER_OUTPUT="${out}" python - <<'EOF'
import os
import sys

import yaml

found = yaml.safe_load(os.environ['BUILDER_OUTPUT'].split('---', 1)[1])
python = sorted(line.split('#')[0].strip() for line in found.get('python') or [])
# meta/execution-environment.yml names requirements-ee.txt, which includes these two.
sources = ('requirements.txt', 'requirements-postgresql.txt')
expected = sorted(line.split('#')[0].strip() for name in sources for line in open(name) if line.split('#')[0].strip())
problems = []
if python != expected:
    problems.append('ansible-builder would install %s, %s say %s' % (python, ' and '.join(sources), expected))
if found.get('system'):
    problems.append('ansible-builder would install system packages %s' % found['system'])
for problem in problems:
    print('lint.sh: %s' % problem, file=sys.stderr)
if problems:
    sys.exit(1)
print('lint.sh: ansible-builder introspect of the built collection: %d Python requirements (%s), '
      'no system package' % (len(python), ' + '.join(sources)))
EOF

    # The execution environment definitions the guide gives users must be ones ansible-builder accepts.
    local definition count=0
    while IFS= read -r -d '' definition; do
        count=$((count + 1))
        out="$(ansible-builder create --file "${definition}" --context "${build}/context-${count}" 2>&1)" \
            || { echo "${out}" >&2; echo "lint.sh: ansible-builder refuses ${definition}" >&2; exit 1; }
        echo "lint.sh: ansible-builder create accepts ${definition}"
    done < <(find docs/examples -name 'execution-environment.y*ml' -print0 | sort -z)
}

# The collection as Galaxy receives it: `ansible-galaxy collection build` of this tree, in ${scratch}/dist.
# Sets the caller's `tarball`.
build_tarball() {
    mkdir -p "${scratch}/dist"
    ansible-galaxy collection build --force --output-path "${scratch}/dist" "${repo}" >/dev/null
    tarball="$(echo "${scratch}"/dist/alicloud-ecs-*.tar.gz)"
    [[ -f "${tarball}" ]] || { echo "lint.sh: ansible-galaxy collection build made no tarball" >&2; exit 1; }
}

run_collection_docs() {
    local tarball collections="${scratch}/collections" rc=0
    build_tarball
    mkdir -p "${collections}/ansible_collections/alicloud/ecs"
    tar -xzf "${tarball}" -C "${collections}/ansible_collections/alicloud/ecs"
    echo "lint.sh: antsibull-docs $(antsibull-docs --version 2>&1 | tail -1): lint-collection-docs --plugin-docs on $(basename "${tarball}")"
    (cd "${collections}/ansible_collections/alicloud/ecs" \
        && ANSIBLE_COLLECTIONS_PATH="${collections}" antsibull-docs lint-collection-docs --plugin-docs \
            --validate-collection-refs all --disallow-unknown-collection-refs --check-extra-docs-refs .) || rc=$?
    if [[ ${rc} -ne 0 ]]; then
        echo "lint.sh: antsibull-docs found problems in the documentation (exit ${rc})" >&2
        exit 1
    fi
    echo "lint.sh: antsibull-docs lint-collection-docs passed on the built collection"
}

run_galaxy_importer() {
    local tarball log="${scratch}/galaxy-importer.log" rc=0
    build_tarball
    mkdir -p "${scratch}/importer/tmp"
    echo "lint.sh: galaxy-importer $(python -c 'from importlib.metadata import version; print(version("galaxy-importer"))')" \
         "with tests/galaxy-importer.cfg on $(basename "${tarball}")"
    (cd "${scratch}/importer" \
        && GALAXY_IMPORTER_CONFIG="${repo}/tests/galaxy-importer.cfg" \
           GALAXY_IMPORTER_TMP_ROOT_DIR="${scratch}/importer/tmp" \
           GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP="${scratch}/importer/tmp/ansible" \
           python -m galaxy_importer.main "${tarball}") >"${log}" 2>&1 || rc=$?
    grep -vE '^(Loading|Linting) ' "${log}" || true
    local problems=() expected
    [[ ${rc} -eq 0 ]] || problems+=("galaxy-importer exited with ${rc}")
    if grep -qE '^(WARNING|ERROR|CRITICAL)' "${log}"; then
        problems+=("galaxy-importer reported the warnings or errors above")
    fi
    if grep -q 'Traceback' "${log}"; then
        problems+=("galaxy-importer failed with a traceback")
    fi
    # Each check must have run, not been skipped for a missing tool.
    for expected in 'Getting doc strings via ansible-doc' 'Linting collection via ansible-lint' \
                    '...ansible-lint run complete' 'Importer processing completed successfully'; do
        grep -qF -- "${expected}" "${log}" || problems+=("galaxy-importer did not say '${expected}'")
    done
    if [[ ${#problems[@]} -gt 0 ]]; then
        printf 'lint.sh: %s\n' "${problems[@]}" >&2
        exit 1
    fi

    # flake8 as galaxy-importer runs it (run_flake8), on the Python files only: its options, from its constants.
    local extracted="${scratch}/importer/extracted" flake8_args=()
    mkdir -p "${extracted}"
    tar -xzf "${tarball}" -C "${extracted}"
    mapfile -t flake8_args < <(python -c 'from galaxy_importer import constants as c
print("--isolated")
print("--extend-ignore=%s" % c.FLAKE8_IGNORE_ERRORS)
print("--select=%s" % c.FLAKE8_SELECT_ERRORS)
print("--max-line-length=%s" % c.FLAKE8_MAX_LINE_LENGTH)')
    [[ ${#flake8_args[@]} -eq 4 ]] || { echo "lint.sh: could not read galaxy-importer's flake8 settings" >&2; exit 1; }
    echo "lint.sh: flake8 $(flake8 --version | head -1 | awk '{print $1}') ${flake8_args[*]} on the Python files of plugins/"
    (cd "${extracted}" && find plugins -name '*.py' -print0 | sort -z | xargs -0 flake8 "${flake8_args[@]}") \
        || { echo "lint.sh: flake8 (galaxy-importer's settings) found problems" >&2; exit 1; }
    echo "lint.sh: galaxy-importer passed with no warning (ansible-doc, ansible-lint, changelog, tags), and flake8"
}

case "${mode}" in
    ansible-lint) [[ $# -eq 3 ]] || usage; run_ansible_lint "$3" ;;
    changelog) [[ $# -eq 2 ]] || usage; run_changelog_lint ;;
    collection-docs) [[ $# -eq 2 ]] || usage; run_collection_docs ;;
    galaxy-importer) [[ $# -eq 2 ]] || usage; run_galaxy_importer ;;
    *) usage ;;
esac
