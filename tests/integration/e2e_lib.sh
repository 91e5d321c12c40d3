# tests/integration/e2e_lib.sh - helpers for the end-to-end script tests
# (sourced, not run): a temp dir and background processes cleaned up on any
# exit, a ferry config with a per-run topic prefix, the binaries, JSON checks
# in Debian's python3, and a clear FAIL message with the processes' logs.
#
# A test sources this file, calls e2e_init, then uses:
#   say MSG / ok MSG / fail MSG         progress, a passed check, a failed one
#   e2e_config ENV=STORE...             writes $E2E_CFG (one environment each)
#   e2e_config_to FILE ENV=STORE...     the same into FILE ($E2E_WORKER: the worker's
#                                       settings, $E2E_PARTITIONS: partitions)
#   e2e_pg_databases NAME...            fresh PostgreSQL databases, dropped at exit
#   pg NAME SQL...                      psql on one of them (-At, stops on an error)
#   e2e_same_tables DEV PROD EXCLUDED   every SQLite table of DEV but EXCLUDED equal
#                                       in PROD, by checksum
#   e2e_start NAME CMD...               runs CMD in the background, log $E2E_TMP/NAME.log
#   e2e_alive NAME / e2e_stop NAME      liveness; SIGTERM and require exit 0
#   e2e_wait_log NAME REGEX SECONDS     waits until NAME's log matches
#   e2e_py SUBCOMMAND ARGS...           the JSON checks of e2e.py (below)
#   sql DB SQL                          sqlite3 with a busy timeout
#
# Environment: FERRY_SOURCE_DIR, FERRY_BUILD_DIR, FERRY_BOOTSTRAP, FERRY_PG_URL
# (ctest sets them); FERRY_E2E_KEEP=1 keeps the temp dir for a post-mortem.

E2E_SRC=${FERRY_SOURCE_DIR:?FERRY_SOURCE_DIR is not set}
E2E_BUILD=${FERRY_BUILD_DIR:?FERRY_BUILD_DIR is not set}
E2E_BOOTSTRAP=${FERRY_BOOTSTRAP:-127.0.0.1:9092}
E2E_PY=/usr/bin/python3
FERRY_ENV_BIN=$E2E_BUILD/envtool/ferry-env
FERRY_WORKER_BIN=$E2E_BUILD/worker/ferry-worker
FERRY_IMPORT_BIN=$E2E_BUILD/importer/ferry-import
FERRY_PRODUCER_BIN=$E2E_BUILD/producer/ferry-producer
MAKE_TARGET=$E2E_SRC/deploy/local/make-target.sh

declare -A E2E_PIDS=()
declare -A E2E_PG=() # NAME -> the URI of a database e2e_pg_databases made
E2E_T0=$(date +%s)

say() { printf '[%3ds] %s\n' $(($(date +%s) - E2E_T0)) "$*"; }
ok() { say "ok   $*"; }

# Prints the failure, the tail of every process log, and exits 1 (the EXIT
# trap then stops the processes and removes the temp dir).
fail() {
  say "FAIL $*" >&2
  local log
  for log in "$E2E_TMP"/*.log; do
    [ -f "$log" ] || continue
    echo "---- last lines of $(basename "$log") ----" >&2
    tail -n 25 "$log" >&2
  done
  exit 1
}

sql() { sqlite3 -cmd '.timeout 10000' "$1" "$2"; }

e2e_cleanup() {
  local status=$? name pid i
  trap - EXIT
  for name in "${!E2E_PIDS[@]}"; do
    kill -TERM "${E2E_PIDS[$name]}" 2>/dev/null || true
  done
  for name in "${!E2E_PIDS[@]}"; do
    pid=${E2E_PIDS[$name]}
    for i in $(seq 1 100); do e2e_pid_gone "$pid" && break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  # The databases, once nothing uses them.
  for name in "${!E2E_PG[@]}"; do
    psql -X -q -At "$E2E_PG_ADMIN" \
      -c "DROP DATABASE IF EXISTS \"${E2E_PG[$name]##*/}\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  if [ "${FERRY_E2E_KEEP:-0}" = 1 ]; then
    echo "kept $E2E_TMP" >&2
  else
    rm -rf "$E2E_TMP"
  fi
  exit "$status"
}

e2e_init() {
  local b
  for b in "$FERRY_ENV_BIN" "$FERRY_WORKER_BIN" "$FERRY_IMPORT_BIN" "$FERRY_PRODUCER_BIN"; do
    [ -x "$b" ] || { echo "FAIL: $b is not built" >&2; exit 1; }
  done
  command -v sqlite3 >/dev/null || { echo "FAIL: the sqlite3 CLI is missing" >&2; exit 1; }
  [ -x "$E2E_PY" ] || { echo "FAIL: $E2E_PY is missing" >&2; exit 1; }
  E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferry-e2e.XXXXXX")
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
  E2E_TAG=e2e.$(date +%s).$$.$RANDOM
  E2E_CFG=$E2E_TMP/ferry.json
  e2e_write_py
}

# e2e_config_to FILE ENV=STORE... : a config naming these environments, topics
# under the unique prefix $E2E_TAG, short session timeouts. STORE is a SQLite
# file, or a URI with its scheme (postgresql://...); ENV@SCHEMA=URI gives the
# environment a schema. $E2E_WORKER (JSON members) are the worker's settings
# instead of a 6 s session, $E2E_PARTITIONS (default 3) the partitions.
e2e_config_to() {
  local file=$1 envs="" pair name store schema sep=""
  local worker=${E2E_WORKER:-'"session_timeout_ms": 6000'}
  shift
  for pair in "$@"; do
    name=${pair%%=*}
    store=${pair#*=}
    schema=""
    if [[ "$name" == *@* ]]; then
      schema=", \"schema\": \"${name#*@}\""
      name=${name%%@*}
    fi
    [[ "$store" == *://* ]] || store="sqlite:$store"
    envs+="$sep\"$name\": { \"store\": \"$store\"$schema }"
    sep=", "
  done
  cat >"$file" <<EOF
{ "kafka": { "bootstrap.servers": "$E2E_BOOTSTRAP" },
  "environments": { $envs },
  "topics": { "requests": "$E2E_TAG.requests", "status": "$E2E_TAG.status",
              "schedules": "$E2E_TAG.schedules", "dlq": "$E2E_TAG.dlq",
              "records_prefix": "$E2E_TAG.records.", "partitions": ${E2E_PARTITIONS:-3} },
  "worker": { $worker },
  "importer": { "session_timeout_ms": 6000 } }
EOF
}

e2e_config() { e2e_config_to "$E2E_CFG" "$@"; }

# e2e_pg_databases NAME... : one new database per NAME on the server of
# FERRY_PG_URL (deploy/local/postgres.sh, started by tests/run.sh), named
# after the run, its URI in E2E_PG[NAME]; e2e_cleanup drops them.
e2e_pg_databases() {
  local name db
  E2E_PG_ADMIN=${FERRY_PG_URL:?FERRY_PG_URL is not set (tests/run.sh starts deploy/local/postgres.sh)}
  command -v psql >/dev/null || { echo "FAIL: psql is missing" >&2; exit 1; }
  for name in "$@"; do
    db="e2e_$$_${RANDOM}_$name"
    psql -X -q -v ON_ERROR_STOP=1 "$E2E_PG_ADMIN" -c "CREATE DATABASE \"$db\"" >/dev/null ||
      fail "cannot create database $db"
    E2E_PG[$name]="${E2E_PG_ADMIN%/*}/$db"
  done
}

# pg NAME SQL... : runs each SQL (one -c each) on database NAME, unaligned,
# tuples only, stopping at the first error.
pg() {
  local db=${E2E_PG[$1]:?no database $1} q args=()
  shift
  for q in "$@"; do args+=(-c "$q"); done
  psql -X -q -v ON_ERROR_STOP=1 -At "$db" "${args[@]}"
}

# e2e_same_tables DEV PROD EXCLUDED : every table of the SQLite file DEV but
# EXCLUDED (a SQL list of names, e.g. "'User'") has the same checksum and row
# count in the SQLite file PROD (ferry-env checksum); their number in E2E_SAME_N.
e2e_same_tables() {
  local tables
  "$FERRY_ENV_BIN" checksum "sqlite:$1" --json >"$E2E_TMP/same-dev.json"
  "$FERRY_ENV_BIN" checksum "sqlite:$2" --json >"$E2E_TMP/same-prod.json"
  mapfile -t tables < <(sql "$1" "SELECT name FROM sqlite_master WHERE type = 'table'
                                  AND name NOT IN ($3) AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
  e2e_py same "$E2E_TMP/same-dev.json" "$E2E_TMP/same-prod.json" "${tables[@]}" >/dev/null ||
    fail "the target differs from the source: $(e2e_py same "$E2E_TMP/same-dev.json" \
          "$E2E_TMP/same-prod.json" "${tables[@]}")"
  E2E_SAME_N=${#tables[@]}
}

# A pid that has exited: gone, or a zombie not yet reaped.
e2e_pid_gone() {
  [ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

e2e_start() {
  local name=$1
  shift
  "$@" >"$E2E_TMP/$name.log" 2>&1 &
  E2E_PIDS[$name]=$!
  say "started $name (pid $!): $*"
}

e2e_alive() {
  local pid=${E2E_PIDS[$1]:?no process $1}
  e2e_pid_gone "$pid" && fail "$1 (pid $pid) has exited unexpectedly; see $1.log"
  return 0
}

# SIGTERM, then the exit status must be 0 within 30 s.
e2e_stop() {
  local name=$1 pid=${E2E_PIDS[$1]:?no process $1} i rc=0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 300); do e2e_pid_gone "$pid" && break; sleep 0.1; done
  if ! e2e_pid_gone "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "E2E_PIDS[$name]"
    fail "$name (pid $pid) did not exit within 30 s of SIGTERM"
  fi
  wait "$pid" || rc=$?
  unset "E2E_PIDS[$name]"
  [ "$rc" = 0 ] || fail "$name exited with status $rc after SIGTERM (expected 0)"
  ok "$name exited 0 after SIGTERM"
}

e2e_wait_log() {
  local name=$1 re=$2 secs=$3 i
  for i in $(seq 1 $((secs * 10))); do
    grep -Eq "$re" "$E2E_TMP/$name.log" 2>/dev/null && return 0
    e2e_alive "$name"
    sleep 0.1
  done
  fail "$name did not log /$re/ within $secs s"
}

e2e_py() { "$E2E_PY" "$E2E_TMP/e2e.py" "$@"; }

# The JSON side of the checks, one subcommand each; each prints what is wrong
# and exits 1, or prints a short summary and exits 0.
e2e_write_py() {
  cat >"$E2E_TMP/e2e.py" <<'PY'
import json, sys

def load(path):
    with open(path) as f:
        return json.load(f)

def tables(path):
    return load(path)["tables"]

def die(msg):
    print(msg)
    sys.exit(1)

def closure(plan_path):
    """The names of a plan's objects, one a line."""
    doc = load(plan_path)
    names = [o["name"] for o in doc["objects"]]
    if not names:
        die("plan has no objects")
    print("\n".join(names))

def same(dev_path, tgt_path, *names):
    """Each named table has the same row count and checksum in both."""
    dev, tgt = tables(dev_path), tables(tgt_path)
    bad = []
    for n in names:
        if n not in dev:
            bad.append(f"{n}: not in the source checksum")
        elif n not in tgt:
            bad.append(f"{n}: missing in the target")
        elif dev[n] != tgt[n]:
            bad.append(f"{n}: source {dev[n]} != target {tgt[n]}")
    if bad:
        die("; ".join(bad))
    print(f"{len(names)} tables equal")

def only(tgt_path, *allowed):
    """The target's checksum lists no table outside allowed."""
    extra = sorted(n for n in tables(tgt_path) if n not in allowed)
    if extra:
        die("tables outside the expected set: " + ", ".join(
            f"{n} ({tables(tgt_path)[n]['rows']} rows)" for n in extra))

def rows(path, name):
    t = tables(path)
    print(t[name]["rows"] if name in t else -1)

def find_object(doc, name):
    """The object named name in a describe --json document, whatever its
    nesting: a dict with that "name" and a "fields" list."""
    stack = [doc]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            if x.get("name") == name and isinstance(x.get("fields"), list):
                return x
            for k, v in x.items():
                if k == name and isinstance(v, dict) and isinstance(v.get("fields"), list):
                    return v
                stack.append(v)
        elif isinstance(x, list):
            stack.extend(x)
    return None

FIELD_KEYS = ("name", "type", "decl_type", "nullable", "default", "pk_pos")

def fields(doc, name):
    obj = find_object(doc, name)
    if obj is None:
        return None
    out = []
    for f in obj["fields"]:
        out.append(tuple((k, f.get(k)) for k in FIELD_KEYS if k in f))
    return out

def describe_same(dev_path, tgt_path, *names):
    """Each named object has the same fields (name, type, declared type,
    nullability, key position) in both describe --json documents."""
    dev, tgt = load(dev_path), load(tgt_path)
    bad = []
    for n in names:
        a, b = fields(dev, n), fields(tgt, n)
        if a is None:
            bad.append(f"{n}: not described in the source")
        elif b is None:
            bad.append(f"{n}: not described in the target")
        elif a != b:
            bad.append(f"{n}: source fields {a} != target fields {b}")
        elif not a or not all(dict(f).get("type") for f in a):
            bad.append(f"{n}: describe gives no field names/types: {a}")
    if bad:
        die("; ".join(bad))
    print(f"{len(names)} objects described alike")

globals()[sys.argv[1]](*sys.argv[2:])
PY
}
