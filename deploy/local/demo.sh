#!/usr/bin/env bash
# deploy/local/demo.sh [--postgresql] - the whole story on the embedded default
# (SQLite environments, the local Kafka broker), or with --postgresql on
# PostgreSQL environments (the local cluster of deploy/local/postgres.sh):
#
#   1. build ferry and start the local broker (if none runs); with
#      --postgresql, the local PostgreSQL too (if it does not run)
#   2. seed a source environment "dev" and a target "prod" that holds only the
#      association targets (User, Application), as a real target would
#   3. start one worker and one importer for prod
#   4. export five roots: the preset objects Queue and Process, and the custom
#      objects Customer__CST, Category__CST and Order__CST (which pulls in its
#      details OrderLine__CST and "Order Note__CST"): 16 tables in all
#   5. compare `ferry-env checksum` of dev and prod for the exported tables
#
# Exits non-zero if anything differs. Everything lives in build/demo; each run
# uses its own topic names, so runs never see each other's exports. Headings
# are bold only on a terminal (and not with NO_COLOR set).
#
# With --postgresql, dev and prod are two databases of the local cluster,
# ferry_demo_dev and ferry_demo_prod, created afresh on each run (each in its
# default schema public): two databases rather than two schemas of one, as
# dev and prod live apart in practice, prod's ledger (its schema "ferry") then
# sits beside prod's tables only, and a run starts over with one createdb
# each. The broker and the cluster are stopped on exit if the demo started
# them; FERRY_PG_PORT and FERRY_PG_DIR are honoured as postgres.sh does.
set -euo pipefail

usage() { echo "usage: deploy/local/demo.sh [--postgresql]"; }
postgresql=0
for arg in "$@"; do
  case "$arg" in
    --postgresql) postgresql=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
rows=${FERRY_DEMO_ROWS:-5000}
objects=${FERRY_DEMO_OBJECTS:-Queue,Process,Customer__CST,Category__CST,Order__CST}
build="$top/build"
work="$build/demo"
bin="$build"

# shellcheck source=deploy/local/term.sh
. "$top/deploy/local/term.sh"
say() { ferry_heading "$@"; }

say "1/5 build and broker"
# shellcheck source=deploy/local/session.sh
. "$top/deploy/local/session.sh"
echo "built ferry-producer, ferry-worker, ferry-import, ferry-env in $build"
pg_started=0
if [ "$postgresql" = 1 ]; then
  export FERRY_PG_DIR="${FERRY_PG_DIR:-$build/postgres}"
  if ! deploy/local/postgres.sh status; then
    deploy/local/postgres.sh start
    pg_started=1
  fi
fi
# The worker and importer first (session.sh), then the cluster they use.
demo_cleanup() {
  session_cleanup
  if [ "$pg_started" = 1 ]; then deploy/local/postgres.sh stop || true; fi
}
trap demo_cleanup EXIT

say "2/5 environments"
rm -rf "$work"
mkdir -p "$work"
if [ "$postgresql" = 1 ]; then
  deploy/local/postgres.sh createdb ferry_demo_dev
  deploy/local/postgres.sh createdb ferry_demo_prod
  dev=$(deploy/local/postgres.sh url ferry_demo_dev)
  prod=$(deploy/local/postgres.sh url ferry_demo_prod)
else
  dev=sqlite:$work/dev.db
  prod=sqlite:$work/prod.db
fi
"$bin/envtool/ferry-env" seed "$dev" --rows "$rows"
deploy/local/make-target.sh "$dev" "$prod"
# Tables are the lines of `describe` that are not indented.
echo "dev:  $("$bin/envtool/ferry-env" describe "$dev" | grep -vc '^ ') tables ($dev)"
echo "prod: $("$bin/envtool/ferry-env" describe "$prod" | grep -v '^ ' | paste -sd, - | sed 's/,/, /g') ($prod)"

run=demo.$(date +%s).$$
topic_prefixes=("$run.") # deleted on exit (session.sh)
cat >"$work/ferry.json" <<EOF
{
  "kafka": { "bootstrap.servers": "127.0.0.1:$port" },
  "environments": {
    "dev":  { "store": "$dev" },
    "prod": { "store": "$prod" }
  },
  "topics": { "requests": "$run.requests", "status": "$run.status", "schedules": "$run.schedules",
              "dlq": "$run.dlq", "records_prefix": "$run.records.", "partitions": 3 }
}
EOF

say "3/5 worker and importer"
"$bin/worker/ferry-worker" --config "$work/ferry.json" --id demo-worker 2>"$work/worker.log" &
pids+=($!)
"$bin/importer/ferry-import" --config "$work/ferry.json" --target prod 2>"$work/import.log" &
pids+=($!)
echo "worker pid ${pids[0]} (log $work/worker.log), importer pid ${pids[1]} (log $work/import.log)"

say "4/5 export $objects from dev to prod"
IFS=, read -r -a objs <<<"$objects"
"$bin/envtool/ferry-env" plan "$dev" "${objs[@]}"
echo
# The producer's first line on stdout is the bare export id (for scripts):
# labelled here; its report of the applied export follows as it is.
"$bin/producer/ferry-producer" export --config "$work/ferry.json" --source dev --target prod \
  --objects "$objects" --wait --timeout 180 |
  { read -r id && echo "published export request $id"; cat; }

say "5/5 equality check (ferry-env checksum of dev and prod)"
mapfile -t tables < <("$bin/envtool/ferry-env" plan "$dev" "${objs[@]}" --json |
  /usr/bin/python3 -c 'import json,sys; print("\n".join(o["name"] for o in json.load(sys.stdin)["objects"]))')
"$bin/envtool/ferry-env" checksum "$dev" "${tables[@]}" >"$work/dev.sums"
"$bin/envtool/ferry-env" checksum "$prod" "${tables[@]}" >"$work/prod.sums"
printf '%-68s %s\n' dev prod
paste -d'|' "$work/dev.sums" "$work/prod.sums" | awk -F'|' '{ printf "%-68s %s  %s\n", $1, $2, ($1 == $2 ? "ok" : "DIFFERS") }'
if cmp -s "$work/dev.sums" "$work/prod.sums"; then
  echo
  echo "prod equals dev for every exported table ($(wc -l <"$work/dev.sums") tables)"
else
  echo
  echo "prod DIFFERS from dev" >&2
  exit 1
fi
