#!/usr/bin/env bash
# A throwaway PostgreSQL server for the job store's tests (src/jobs/persist).
#
#   eval "$(bash .ci/postgres.sh)"     # then: cargo test --lib persist
#
# Installs Debian's `postgresql` package if it is missing, starts a cluster of
# its own (not the package's) on a free loopback port with trust
# authentication, creates the database `gradest_test`, and prints one line on
# stdout:  export GRADEST_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/gradest_test
# Everything else goes to stderr. Idempotent: a second run finds the running
# cluster and prints the same line. The cluster trades durability for speed
# (fsync off): it is for tests only. Stop it with
#   su postgres -c "pg_ctl -D ${GRADEST_PG_DIR:-/tmp/gradest-pg}/data stop"
set -euo pipefail
exec 3>&1 1>&2   # fd 3: the export line; everything else to stderr

base="${GRADEST_PG_DIR:-/tmp/gradest-pg}"
data="$base/data"

pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
    echo "postgres.sh: installing postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi
bin="$(pg_bin)"

# Runs a command as the postgres user when we are root (the server refuses to
# run as root), else as ourselves.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/bash -c "$*"
    else
        bash -c "$*"
    fi
}

port_in_use() {
    (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

mkdir -p "$base"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$base"; fi

if [ ! -f "$data/PG_VERSION" ]; then
    as_pg "'$bin/initdb' -D '$data' -U postgres -A trust -E UTF8 --no-sync" >&2
fi

running() { as_pg "'$bin/pg_ctl' -D '$data' status" >/dev/null 2>&1; }
if running && [ ! -f "$base/port" ]; then
    as_pg "'$bin/pg_ctl' -D '$data' -m fast -w stop" </dev/null >&2 3>&-
fi
if running; then
    port="$(cat "$base/port")"
else
    # a server that died leaves its pid file behind; pg_ctl copes, but say so
    if [ -f "$data/postmaster.pid" ]; then
        echo "postgres.sh: removing the stale $data/postmaster.pid" >&2
        rm -f "$data/postmaster.pid"
    fi
    port=5433
    while port_in_use "$port"; do port=$((port + 1)); done
    echo "$port" >"$base/port"
    as_pg "'$bin/pg_ctl' -D '$data' -l '$base/server.log' -w -t 30 \
        -o \"-p $port -k '$base' -c listen_addresses=127.0.0.1 -c fsync=off \
              -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\" \
        start" </dev/null >&2 3>&-   # the server must not hold fd 3: "$(...)" would wait for it
fi

psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
if [ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'gradest_test'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE gradest_test" >&2
fi

echo "export GRADEST_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/gradest_test" >&3
