#!/usr/bin/env bash
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# A throw-away PostgreSQL server for the tests of the PostgreSQL archive store.
#
#   tests/tools/postgres.sh start   start a cluster (nothing happens when ours is already running)
#   tests/tools/postgres.sh stop    stop it and remove its directory (nothing happens when none runs)
#   tests/tools/postgres.sh env     print the shell variables of the running cluster (for eval)
#   tests/tools/postgres.sh running exit status 0 when ours is running, 1 otherwise
#
# The cluster lives in a new temporary directory (mktemp), listens on 127.0.0.1 only, on a free port, with its
# unix socket in that directory; every connection authenticates with scram-sha-256. Its one role,
# alicloud_ecs_test, is a superuser with a random password (the tests create a database per test and less
# privileged roles from it). Where to find it is written to build/postgres/env (shell, PG* variables) and
# build/postgres/connection.json ({"host", "port", "user", "password", "dbname"}), both mode 0600: the test
# fixtures (tests/support/postgres.py) read them.
#
# The server binaries come from /usr/lib/postgresql/<version>/bin (the newest version there). When there are none,
# Debian's postgresql package is installed with apt-get (as root). initdb refuses to run as root: as root the
# cluster runs as the `postgres` system user (created when missing), otherwise as the calling user.
#
# Environment:
#   POSTGRES_STATE_DIR   where env and connection.json go (default: <repository>/build/postgres)
set -euo pipefail

ROLE=alicloud_ecs_test
PREFIX=alicloud-ecs-postgres.

usage() {
    echo "usage: $0 start|stop|env|running" >&2
    exit 2
}

fail() {
    echo "postgres.sh: $*" >&2
    exit 1
}

[[ $# -eq 1 ]] || usage

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "${tools_dir}/../.." && pwd -P)"
state_dir="${POSTGRES_STATE_DIR:-${repo}/build/postgres}"
env_file="${state_dir}/env"
json_file="${state_dir}/connection.json"

# The newest server binaries on this machine, or nothing.
find_bindir() {
    local dir
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)"
    if [[ -n "${dir}" && -x "${dir}/initdb" && -x "${dir}/pg_ctl" && -x "${dir}/postgres" ]]; then
        echo "${dir}"
    fi
}

install_server() {
    [[ "$(id -u)" -eq 0 ]] || fail "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin, and installing them needs root (apt-get install postgresql)"
    command -v apt-get >/dev/null || fail "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin and no apt-get to install them"
    echo "postgres.sh: installing Debian's postgresql package"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
}

# The user the server runs as: initdb and postgres refuse root.
server_user() {
    if [[ "$(id -u)" -eq 0 ]]; then
        echo postgres
    else
        id -un
    fi
}

ensure_server_user() {
    if [[ "$(id -u)" -eq 0 ]] && ! getent passwd postgres >/dev/null; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    fi
}

# Runs a command as the server user, in the cluster directory.
as_server_user() {
    if [[ "$(id -u)" -eq 0 ]]; then
        (cd "${cluster_dir}" && runuser -u postgres -- "$@")
    else
        (cd "${cluster_dir}" && "$@")
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Loads PGHOST ... and ALICLOUD_ECS_POSTGRES_DIR/_BINDIR from the env file, when there is one.
load_env() {
    [[ -f "${env_file}" ]] || return 1
    # shellcheck disable=SC1090
    source "${env_file}"
    cluster_dir="${ALICLOUD_ECS_POSTGRES_DIR:-}"
    bindir="${ALICLOUD_ECS_POSTGRES_BINDIR:-}"
    [[ -n "${cluster_dir}" && -n "${bindir}" ]]
}

running() {
    [[ -d "${cluster_dir}/data" ]] && as_server_user "${bindir}/pg_ctl" status -D "${cluster_dir}/data" >/dev/null 2>&1
}

# Removes a cluster directory this script made (and only such a directory).
remove_cluster_dir() {
    local dir="$1"
    case "$(basename "${dir}")" in
        "${PREFIX}"*) rm -rf -- "${dir}" ;;
        *) fail "refusing to remove ${dir}: not a directory this script made" ;;
    esac
}

stop_cluster() {
    if ! load_env; then
        rm -rf -- "${state_dir}"
        return 0
    fi
    if running; then
        as_server_user "${bindir}/pg_ctl" stop -D "${cluster_dir}/data" -m fast -w >/dev/null
    fi
    if [[ -d "${cluster_dir}" ]]; then
        remove_cluster_dir "${cluster_dir}"
    fi
    rm -rf -- "${state_dir}"
    echo "postgres.sh: stopped"
}

write_state() {
    local port="$1" password="$2" old_umask
    old_umask="$(umask)"
    umask 077
    mkdir -p "${state_dir}"
    {
        printf 'export PGHOST=%q\n' 127.0.0.1
        printf 'export PGPORT=%q\n' "${port}"
        printf 'export PGUSER=%q\n' "${ROLE}"
        printf 'export PGPASSWORD=%q\n' "${password}"
        printf 'export PGDATABASE=%q\n' postgres
        printf 'export ALICLOUD_ECS_POSTGRES_DIR=%q\n' "${cluster_dir}"
        printf 'export ALICLOUD_ECS_POSTGRES_BINDIR=%q\n' "${bindir}"
        printf 'export ALICLOUD_ECS_POSTGRES_SOCKET_DIR=%q\n' "${cluster_dir}"
    } >"${env_file}.tmp"
    printf '{"host": "127.0.0.1", "port": %d, "user": "%s", "password": "%s", "dbname": "postgres", "socket_dir": "%s"}\n' \
        "${port}" "${ROLE}" "${password}" "${cluster_dir}" >"${json_file}.tmp"
    mv -f "${env_file}.tmp" "${env_file}"
    mv -f "${json_file}.tmp" "${json_file}"
    umask "${old_umask}"
}

start_cluster() {
    if load_env && running; then
        echo "postgres.sh: already running on 127.0.0.1:${PGPORT} (${cluster_dir})"
        return 0
    fi
    # A state left by a cluster that is gone (a reboot, a killed job): start afresh.
    if [[ -f "${env_file}" ]]; then
        if [[ -n "${cluster_dir:-}" && -d "${cluster_dir}" ]]; then
            remove_cluster_dir "${cluster_dir}"
        fi
        rm -rf -- "${state_dir}"
    fi

    bindir="$(find_bindir)"
    if [[ -z "${bindir}" ]]; then
        install_server
        bindir="$(find_bindir)"
        [[ -n "${bindir}" ]] || fail "apt-get installed postgresql, yet no server binaries are in /usr/lib/postgresql/*/bin"
    fi
    ensure_server_user

    cluster_dir="$(mktemp -d "/tmp/${PREFIX}XXXXXXXX")"
    chmod 0755 "${cluster_dir}"
    local password
    password="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    (umask 077 && printf '%s\n' "${password}" >"${cluster_dir}/pwfile")
    if [[ "$(id -u)" -eq 0 ]]; then
        chown "$(server_user)" "${cluster_dir}" "${cluster_dir}/pwfile"
    fi

    if ! as_server_user "${bindir}/initdb" --pgdata="${cluster_dir}/data" --username="${ROLE}" --pwfile="${cluster_dir}/pwfile" \
            --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-instructions >"${cluster_dir}/initdb.log" 2>&1; then
        cat "${cluster_dir}/initdb.log" >&2
        remove_cluster_dir "${cluster_dir}"
        fail "initdb failed"
    fi
    rm -f -- "${cluster_dir}/pwfile"

    # A free port can be taken between finding it and binding it: a few tries.
    local port attempt
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        if as_server_user "${bindir}/pg_ctl" start -D "${cluster_dir}/data" -w -t 60 -l "${cluster_dir}/server.log" \
                -o "-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${cluster_dir} -c max_connections=200" \
                >/dev/null; then
            write_state "${port}" "${password}"
            echo "postgres.sh: PostgreSQL $("${bindir}/postgres" --version | awk '{print $3}') on 127.0.0.1:${port} (${cluster_dir}); connection in ${state_dir}"
            return 0
        fi
        echo "postgres.sh: start on port ${port} failed (attempt ${attempt})" >&2
    done
    cat "${cluster_dir}/server.log" >&2 || true
    remove_cluster_dir "${cluster_dir}"
    fail "the server did not start"
}

case "$1" in
    start) start_cluster ;;
    stop) stop_cluster ;;
    env)
        load_env || fail "no cluster started (tests/tools/postgres.sh start)"
        cat "${env_file}"
        ;;
    running) load_env && running ;;
    *) usage ;;
esac
