#!/usr/bin/env bash
# deploy/local/postgres.sh start|stop|status|url [DB]|createdb DB|dropdb DB
#
# A private PostgreSQL cluster of Debian's PostgreSQL (the server binaries of
# the newest installed major version under /usr/lib/postgresql) for
# development, tests and the demo: `initdb` into the build folder, its own
# port, listening on 127.0.0.1 and a socket in its own folder only. When run
# as root the cluster belongs to the `postgres` user (PostgreSQL refuses to
# run as root); its superuser is `postgres`, trusted on 127.0.0.1 and the
# socket, and never reachable from another machine.
#
#   start         initdb on first use, then start (idempotent)
#   stop          stop a running cluster (idempotent)
#   status        exit 0 when it accepts connections
#   url [DB]      print the libpq URI of database DB (default postgres)
#   createdb DB   create database DB (dropping one of that name first)
#   dropdb DB     drop database DB if it exists
#
# Environment:
#   FERRY_PG_PORT  port (default 55432)
#   FERRY_PG_DIR   cluster folder (default build/postgres)
#   FERRY_PG_TIMEOUT seconds to wait for the server (default 60)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

port=${FERRY_PG_PORT:-55432}
dir=${FERRY_PG_DIR:-$top/build/postgres}
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
timeout=${FERRY_PG_TIMEOUT:-60}
data=$dir/data
sock=$dir/run
logfile=$dir/server.log

die() { echo "postgres.sh: $*" >&2; exit 1; }
say() { echo "postgres.sh: $*" >&2; }

bindir() {
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$b" ] && [ -x "$b/initdb" ] ||
    die "Debian's PostgreSQL server is not installed; run deploy/local/deps.sh"
  echo "$b"
}

# Runs a server program as the cluster's owner: postgres when we are root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

psql_admin() {
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

accepts() { pg_isready -q -h 127.0.0.1 -p "$port" -t 2 >/dev/null 2>&1; }

valid_db() {
  [[ "$1" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] || die "not a plain database name: '$1'"
}

start() {
  local b
  b=$(bindir)
  if accepts; then
    if [ -f "$data/postmaster.pid" ]; then return 0; fi
    die "port $port is taken by a server that is not $data (set FERRY_PG_PORT)"
  fi
  # A server of this cluster already running on another port is not ours to use.
  if [ -f "$data/postmaster.pid" ]; then
    local pid other
    pid=$(sed -n 1p "$data/postmaster.pid")
    other=$(sed -n 4p "$data/postmaster.pid")
    if kill -0 "$pid" 2>/dev/null && [ "$other" != "$port" ]; then
      die "the server of $data already runs on port $other, not $port (set FERRY_PG_PORT=$other, or stop it)"
    fi
  fi
  mkdir -p "$dir" "$sock"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir" "$sock"
    runuser -u postgres -- test -w "$dir" ||
      die "the postgres user cannot reach $dir (a parent folder is closed to it); set FERRY_PG_DIR"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    say "initdb into $data"
    as_owner "$b/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  # Settings for tests: no durability waits, a small footprint, UTC, and commit
  # timestamps (tests tell which transaction wrote a row, subtransactions included).
  as_owner "$b/pg_ctl" -D "$data" -l "$logfile" -w -t "$timeout" start -o \
    "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
     -c full_page_writes=off -c shared_buffers=128MB -c max_connections=60 \
     -c timezone=UTC -c log_min_messages=warning -c track_commit_timestamp=on" >/dev/null ||
    { tail -20 "$logfile" >&2; die "the server did not start (log: $logfile)"; }
  local waited=0
  until accepts; do
    waited=$((waited + 1))
    [ "$waited" -le "$timeout" ] || die "the server does not accept connections (log: $logfile)"
    sleep 1
  done
  say "PostgreSQL on 127.0.0.1:$port ($data)"
}

stop() {
  [ -f "$data/postmaster.pid" ] || return 0
  as_owner "$(bindir)/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

cmd=${1:-}
case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) accepts && [ -f "$data/postmaster.pid" ] ;;
  url)
    db=${2:-postgres}
    valid_db "$db"
    echo "postgresql://postgres@127.0.0.1:$port/$db"
    ;;
  createdb)
    [ $# -eq 2 ] || die "usage: postgres.sh createdb DB"
    valid_db "$2"
    psql_admin -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" -c "CREATE DATABASE \"$2\""
    ;;
  dropdb)
    [ $# -eq 2 ] || die "usage: postgres.sh dropdb DB"
    valid_db "$2"
    psql_admin -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)"
    ;;
  *) die "usage: postgres.sh start|stop|status|url [DB]|createdb DB|dropdb DB" ;;
esac
