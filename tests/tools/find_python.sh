#!/usr/bin/env bash
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Print the absolute path of a Python <X.Y> interpreter that really runs.
#
#   tests/tools/find_python.sh <X.Y> [preferred_command...]
#
# Candidates, in order; the first one that runs, reports version X.Y and has the venv module wins:
#   1. the preferred commands (e.g. the Makefile's PYTHON), when they are that version;
#   2. `pyenv prefix X.Y`, with PYENV_ROOT set to the root of the pyenv found on PATH (or in
#      PYENV_ROOT), so that an empty or foreign HOME does not send pyenv to ~/.pyenv;
#   3. pythonX.Y on PATH (a pyenv shim for a version that is not selected refuses to run: skipped);
#   4. <root>/versions/X.Y*/bin/pythonX.Y for each pyenv root: $PYENV_ROOT, the root of the pyenv
#      or of the shims on PATH, $HOME/.pyenv (only when HOME is set), /root/.pyenv.
# The path printed is the interpreter's own (sys.executable), never a shim.
# Exits 1 with a message naming every candidate tried when none fits.
set -euo pipefail

if [[ $# -lt 1 || ! "$1" =~ ^[0-9]+\.[0-9]+$ ]]; then
    echo "usage: $0 <X.Y> [preferred_command...]" >&2
    exit 2
fi
want="$1"
shift

tried=()

# Print the interpreter's own path when $1 runs as Python ${want} with venv; fail otherwise.
check() {
    local candidate="$1" found
    tried+=("${candidate}")
    found="$("${candidate}" -c '
import sys, venv
print("%d.%d %s" % (sys.version_info[0], sys.version_info[1], sys.executable))' 2>/dev/null)" || return 1
    [[ "${found%% *}" == "${want}" && -x "${found#* }" ]] || return 1
    echo "${found#* }"
}

# 1. preferred commands
for candidate in "$@"; do
    check "${candidate}" && exit 0
done

# pyenv roots (each once), without relying on HOME when something better is known
roots=()
add_root() {
    local root="$1" known
    for known in "${roots[@]}"; do
        [[ "${known}" == "${root}" ]] && return 0
    done
    roots+=("${root}")
}
[[ -n "${PYENV_ROOT:-}" ]] && add_root "${PYENV_ROOT}"
if pyenv_bin="$(command -v pyenv 2>/dev/null)"; then
    # <root>/bin/pyenv -> <root>/libexec/pyenv (the link target); its root is two levels up either way
    add_root "$(dirname "$(dirname "$(readlink -f "${pyenv_bin}")")")"
fi
IFS=: read -r -a path_dirs <<<"${PATH:-}"
for dir in "${path_dirs[@]}"; do
    if [[ "${dir}" == */shims && -d "${dir%/shims}/versions" ]]; then
        add_root "${dir%/shims}"
    fi
done
[[ -n "${HOME:-}" ]] && add_root "${HOME}/.pyenv"
add_root /root/.pyenv

# 2. pyenv prefix, under each root that has versions
if [[ -n "${pyenv_bin:-}" ]]; then
    for root in "${roots[@]}"; do
        [[ -d "${root}/versions" ]] || continue
        if prefix="$(PYENV_ROOT="${root}" pyenv prefix "${want}" 2>/dev/null)"; then
            # pyenv prefix may print several prefixes separated by ':'; take the first
            check "${prefix%%:*}/bin/python${want}" && exit 0
        fi
    done
fi

# 3. pythonX.Y on PATH
if command -v "python${want}" >/dev/null 2>&1; then
    check "python${want}" && exit 0
fi

# 4. glob of the pyenv versions, newest patch release first
for root in "${roots[@]}"; do
    candidates=()
    for candidate in "${root}/versions/${want}"*/bin/"python${want}"; do
        [[ -e "${candidate}" ]] && candidates+=("${candidate}")
    done
    [[ ${#candidates[@]} -gt 0 ]] || continue
    while IFS= read -r candidate; do
        check "${candidate}" && exit 0
    done < <(printf '%s\n' "${candidates[@]}" | sort -rV)
done

echo "find_python.sh: no working Python ${want} found; tried: ${tried[*]:-no candidate}; pyenv roots looked at: ${roots[*]}" >&2
echo "find_python.sh: install it (e.g. pyenv install ${want}) or put a python${want} that runs on PATH" >&2
exit 1
