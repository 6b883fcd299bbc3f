#!/usr/bin/env bash
# Runs a private PostgreSQL 15 cluster for local runs and tests: `postgres.sh start|stop|status|url|destroy`.
# Idempotent: start reuses a running cluster and (re)creates the project's role and database if missing.
# `destroy` stops the cluster and removes its data directory; it only acts on a PG_DATA_DIR given by the caller
# (a test's private cluster), never on the local one that `make up` and `make test` share.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${PG_PORT:-15432}
role=${PG_ROLE:-connector}
db=${PG_DATABASE:-connector}
# Local-only credentials for a cluster that listens on loopback; production DSNs come from Secrets.
password=${PG_PASSWORD:-connector-local}
bindir=$(dirname "$(readlink -f "$(command -v pg_ctl || echo /usr/lib/postgresql/15/bin/pg_ctl)")")
[ -x "$bindir/pg_ctl" ] || bindir=/usr/lib/postgresql/15/bin

# A new machine may have the PostgreSQL client but not the server: install Debian's (the cluster we run is our own).
install_server() {
  [ -x "$bindir/initdb" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "postgres: installing postgresql-15 from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
    bindir=/usr/lib/postgresql/15/bin
  fi
  [ -x "$bindir/initdb" ] || { echo "postgres: no PostgreSQL 15 server (initdb); install postgresql-15" >&2; exit 1; }
}

# Before the data directory is chosen below: installing creates the postgres account that the choice asks about.
if [ "${1:-start}" = start ]; then install_server; fi

# initdb and pg_ctl refuse to run as root: run them as the postgres account, with data it can reach.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
datadir=${PG_DATA_DIR:-$root/.cache/postgres}
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$(dirname "$datadir")" 2>/dev/null; then
  mkdir -p "$(dirname "$datadir")"
  runuser -u postgres -- test -x "$(dirname "$datadir")" 2>/dev/null || datadir=/tmp/connector-postgres-$(echo "$datadir" | md5sum | cut -c1-8)
fi

url() { echo "postgresql://$role:$password@127.0.0.1:$port/$db"; }
running() { as_owner "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; }
psql_admin() { as_owner psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

start() {
  if [ ! -f "$datadir/PG_VERSION" ]; then
    mkdir -p "$datadir"
    [ "$(id -u)" = 0 ] && chown postgres: "$datadir"
    chmod 700 "$datadir"
    as_owner "$bindir/initdb" -D "$datadir" -U postgres --auth-local=trust --auth-host=trust -E UTF8 >/dev/null
  fi
  if ! running; then
    local t0=$SECONDS
    # fsync off: a throwaway local cluster; durability of this cluster is not what the tests measure.
    as_owner "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 start \
      -o "-h 127.0.0.1 -p $port -k $datadir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
    echo "postgres: started on 127.0.0.1:$port in $((SECONDS - t0))s (data $datadir)"
  else
    echo "postgres: already running on 127.0.0.1:$port"
  fi
  if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != 1 ]; then
    psql_admin -c "CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password'"
  fi
  # Tests drop their databases WITH (FORCE), which must also end an autovacuum worker that happens to be in one;
  # without pg_signal_backend that fails ("must be a member of the role whose process is being terminated").
  if [ "$(psql_admin -c "SELECT pg_has_role('$role', 'pg_signal_backend', 'MEMBER')")" != t ]; then
    psql_admin -c "GRANT pg_signal_backend TO $role"
  fi
  if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE $db OWNER $role"
  fi
}

stop() {
  if running; then as_owner "$bindir/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null; echo "postgres: stopped"; else echo "postgres: not running"; fi
}

destroy() {
  if [ -z "${PG_DATA_DIR:-}" ]; then echo "postgres: destroy needs PG_DATA_DIR (it never removes the local cluster)" >&2; exit 2; fi
  if [ -d "$datadir" ]; then stop; fi
  # The data may sit in the /tmp fallback above rather than under PG_DATA_DIR: remove whichever was used.
  rm -rf "$datadir"
  echo "postgres: removed $datadir"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "postgres: running on 127.0.0.1:$port"; else echo "postgres: stopped"; exit 1; fi ;;
  url) url ;;
  destroy) destroy ;;
  *) echo "usage: $0 start|stop|status|url|destroy" >&2; exit 2 ;;
esac
