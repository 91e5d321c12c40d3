#!/usr/bin/env bash
# bench/e2e.sh [--postgresql] [ROWS] - end-to-end throughput and memory of
# ferry against a baseline, in one run on one machine.
#
#   ferry:    dev -> Kafka (one worker) -> prod (one importer), every table of
#             the sample environment but the association targets, timed from
#             publishing the request to the importer's "applied" status
#   baseline: sqlite3 dev.db .dump | sqlite3 copy.db, on the same data
#
# With --postgresql, dev is a database of the local PostgreSQL cluster
# (deploy/local/postgres.sh, started like the broker if it does not run;
# FERRY_PG_PORT and FERRY_PG_DIR honoured), seeded once per ROWS with
# `ferry-env seed` (the same rows as the SQLite file), and prod a fresh
# database of the same cluster holding only the association targets (User and
# Application, deploy/local/make-target.sh), as for SQLite. The baseline moves
# the same tables into another such database, timed alike:
#
#   pg_dump --no-owner --no-privileges -t 'public."T"'... dev |
#     psql -X -q -v ON_ERROR_STOP=1 --single-transaction copy
#
# what a user moving tables between databases would type: the plain format
# (the one psql reads; COPY blocks, the keys, indexes and foreign keys added
# after the rows), no owners or grants (the roles of another database may not
# exist), one transaction that stops at the first error (ferry's import is one
# transaction too). Both sides count the same rows, and the figures add the
# PostgreSQL server's CPU seconds (the cluster's processes, from publishing to
# the end of the daemons' sessions; for the baseline, its whole run).
#
# Prints rows/s of both, their ratio, the peak RSS (VmHWM) and CPU seconds
# of the worker and the importer, and the broker's CPU seconds. Runs
# FERRY_BENCH_RUNS times (default 5), each ferry run right after its baseline
# run, and reports medians (the ratio: the median of the runs' ratios, as
# this machine's speed drifts). One ferry export before them warms the broker
# up and is not counted. A benchmark: it prints figures, it asserts nothing.
#
# The timeline of each ferry run, in seconds from publishing the request, from
# the daemons' logs: the worker's export (its start and end), the importer's
# first applied rows (its "first rows applied" line, "n/a" from an importer
# that does not write one) and the importer's commit. The first rows against
# the export's end show the overlap: negative, the importer applied rows
# before the worker had finished.
#
# FERRY_BENCH_PERF=1 records the importer of every counted run with
# `perf record -g` (other options in FERRY_BENCH_PERF_OPTS) into
# $build/e2e-bench/import-N.perf (and, with --postgresql, the worker into
# worker-N.perf); the figures of such a run are not the benchmark's.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
postgresql=0
if [ "${1:-}" = --postgresql ]; then
  postgresql=1
  shift
fi
case "${1:-}" in
  -*) echo "usage: bench/e2e.sh [--postgresql] [ROWS]" >&2; exit 2 ;;
esac
rows=${1:-1000000}
runs=${FERRY_BENCH_RUNS:-5}
build="$top/build"
work="$build/e2e-bench"

# shellcheck source=deploy/local/session.sh
. "$top/deploy/local/session.sh"

mkdir -p "$work"
if [ "$postgresql" = 1 ]; then
  export FERRY_PG_DIR="${FERRY_PG_DIR:-$build/postgres}"
  pg_started=0
  if ! deploy/local/postgres.sh status; then
    deploy/local/postgres.sh start
    pg_started=1
  fi
  # The worker and importer first (session.sh), then the cluster they use.
  bench_cleanup() {
    session_cleanup
    if [ "$pg_started" = 1 ]; then deploy/local/postgres.sh stop || true; fi
  }
  trap bench_cleanup EXIT
  pgq() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
  export PGOPTIONS='-c client_min_messages=warning' # no "does not exist, skipping"
  # Seeded once per ROWS: into a scratch database, renamed when complete.
  devdb=ferry_bench_dev_$rows
  if [ "$(pgq "$(deploy/local/postgres.sh url)" -c \
      "SELECT count(*) FROM pg_database WHERE datname = '$devdb'")" != 1 ]; then
    echo "seeding $rows rows into database $devdb" >&2
    deploy/local/postgres.sh createdb ferry_bench_seeding
    "$build/envtool/ferry-env" seed "$(deploy/local/postgres.sh url ferry_bench_seeding)" \
      --rows "$rows" >&2
    pgq "$(deploy/local/postgres.sh url)" -c "ALTER DATABASE ferry_bench_seeding RENAME TO $devdb"
  fi
  dev=$(deploy/local/postgres.sh url "$devdb")
  # The moved tables, one a line.
  mapfile -t tables < <(pgq "$dev" -c "SELECT c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
    AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND c.relname NOT IN ('User', 'Application') ORDER BY c.relname")
  objects=$(IFS=,; echo "${tables[*]}")
  # SELECT sum(n) FROM (each moved table's count(*)), quoted by the server.
  count_sql=$(pgq "$dev" -c "SELECT 'SELECT ' || string_agg(
      format('(SELECT count(*) FROM public.%I)', c.relname), ' + ') FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
    AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND c.relname NOT IN ('User', 'Application')")
  total_rows=$(pgq "$dev" -c "$count_sql")
  dump_args=(--no-owner --no-privileges)
  for t in "${tables[@]}"; do dump_args+=(-t "public.\"${t//\"/\"\"}\""); done
  baseline_name='pg_dump | psql'
else
  if [ ! -f "$work/dev-$rows.db" ]; then
    echo "seeding $rows rows into $work/dev-$rows.db" >&2
    "$build/envtool/ferry-env" seed "$work/dev-$rows.db" --rows "$rows" >&2
  fi
  dev="$work/dev-$rows.db"
  objects=$(sqlite3 "$dev" "SELECT group_concat(name, ',') FROM sqlite_master WHERE type='table'
    AND name NOT IN ('User','Application') AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'ferry_%'")
  total_rows=0
  for t in $(sqlite3 "$dev" "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'" | tr ' ' '#'); do
    t=${t//#/ }
    n=$(sqlite3 "$dev" "SELECT count(*) FROM \"${t//\"/\"\"}\"")
    total_rows=$((total_rows + n))
  done
  baseline_name='sqlite3 .dump | sqlite3'
fi

rss_kib() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
# CPU seconds (user + system) process $1 has used, all its threads.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat"; }
# CPU seconds of the PostgreSQL cluster so far: the postmaster with its ended
# children (cutime, cstime) and its live ones (backends, background workers).
pg_cpu_s() {
  local pm
  pm=$(head -1 "$FERRY_PG_DIR/data/postmaster.pid")
  {
    awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat"
    for c in $(pgrep -P "$pm"); do awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || true; done
  } | awk -v hz="$(getconf CLK_TCK)" '{ t += $1 } END { printf "%.2f\n", t / hz }'
}
# The median of numbers, one a line; "n/a" when there is none.
median() {
  grep -v '^n/a$' | sort -g | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : "n/a" }'
}
# Seconds since the epoch of the first log line of file matching pattern
# (its leading timestamp, 2026-12-06T02:25:40.746Z), or n/a.
log_time() {
  local ts
  ts=$(grep -m1 -e "$2" "$1" | cut -d' ' -f1) || true
  if [ -n "$ts" ]; then date -u -d "$ts" +%s.%N; else echo n/a; fi
}
# a - b to the millisecond, or n/a when either is.
minus() {
  if [ "$1" = n/a ] || [ "$2" = n/a ]; then echo n/a; else printf '%.3f\n' "$(echo "$1 - $2" | bc -l)"; fi
}
# A figure for printf %s: n/a, or the number with two decimals.
fig() { if [ "$1" = n/a ]; then echo n/a; else printf '%.2f' "$1"; fi; }

ferry_rate=() base_rate=() ratio=() worker_rss=() import_rss=() moved=()
ex_start=() ex_end=() first_rows=() first_vs_end=() applied_at=() worker_cpu=() import_cpu=()
broker_cpu=() ferry_pg_cpu=() base_pg_cpu=()

# One export through a fresh worker and importer into a fresh target; sets
# rate, wrss, irss and n; wcpu and icpu (CPU seconds of worker and importer,
# their whole run), bcpu (the broker's, from publishing to applied) and, with
# --postgresql, pcpu (the cluster's, from publishing to the daemons' end);
# and the timeline in seconds from t0: xs and xe (the worker's export), fr
# (the importer's first rows applied) and ap (applied).
run_ferry() {
  if [ "$postgresql" = 1 ]; then
    deploy/local/postgres.sh createdb ferry_bench_prod
    prod=$(deploy/local/postgres.sh url ferry_bench_prod)
    deploy/local/make-target.sh "$dev" "$prod"
    dev_store=$dev prod_store=$prod
  else
    deploy/local/make-target.sh "$dev" "$work/prod.db"
    dev_store=sqlite:$dev prod_store=sqlite:$work/prod.db
  fi
  tag=bench.$(date +%s).$$.$1
  topic_prefixes=("$tag.") # deleted after the run, or on exit (session.sh)
  cat >"$work/ferry.json" <<EOC
{ "kafka": { "bootstrap.servers": "127.0.0.1:$port" },
  "environments": { "dev": { "store": "$dev_store" }, "prod": { "store": "$prod_store" } },
  "topics": { "requests": "$tag.requests", "status": "$tag.status", "schedules": "$tag.schedules",
              "dlq": "$tag.dlq", "records_prefix": "$tag.records.", "partitions": 1 } }
EOC
  "$build/worker/ferry-worker" --config "$work/ferry.json" --id bench 2>"$work/worker.log" &
  wpid=$!
  "$build/importer/ferry-import" --config "$work/ferry.json" --target prod 2>"$work/import.log" &
  ipid=$!
  pids=("$wpid" "$ipid")
  perf_pids=()
  if [ "${FERRY_BENCH_PERF:-0}" = 1 ] && [ "$1" != 0 ]; then
    # shellcheck disable=SC2086 # options, split on purpose
    perf record ${FERRY_BENCH_PERF_OPTS:--g} -q -o "$work/import-$1.perf" -p "$ipid" 2>"$work/perf.log" &
    perf_pids+=($!)
    if [ "$postgresql" = 1 ]; then
      # shellcheck disable=SC2086
      perf record ${FERRY_BENCH_PERF_OPTS:--g} -q -o "$work/worker-$1.perf" -p "$wpid" 2>>"$work/perf.log" &
      perf_pids+=($!)
    fi
  fi
  sleep 3 # both have joined their groups
  broker_pid=$(cat "$FERRY_KAFKA_DIR/kafka.pid" 2>/dev/null || true)
  bcpu=n/a pcpu=n/a
  [ -n "$broker_pid" ] && [ -r "/proc/$broker_pid/stat" ] && bcpu=$(cpu_s "$broker_pid")
  [ "$postgresql" = 1 ] && pcpu=$(pg_cpu_s)
  t0=$(date +%s.%N)
  # The producer's lines (accepted, published, applied...) go to a log, not
  # between the rows of the table; shown if the export fails.
  if ! "$build/producer/ferry-producer" export --config "$work/ferry.json" --source dev \
      --target prod --objects "$objects" --wait --timeout 3600 >"$work/export.out" \
      2>"$work/export.log"; then
    cat "$work/export.log" >&2
    echo "e2e.sh: the export failed (logs in $work)" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  [ "$bcpu" != n/a ] && bcpu=$(minus "$(cpu_s "$broker_pid")" "$bcpu")
  wrss=$(rss_kib "$wpid")
  irss=$(rss_kib "$ipid")
  wcpu=$(cpu_s "$wpid")
  icpu=$(cpu_s "$ipid")
  for p in "${perf_pids[@]}"; do kill -INT "$p"; wait "$p" || true; done
  kill -TERM "$wpid" "$ipid"
  wait "$wpid" "$ipid" || true
  pids=()
  local wline ms
  wline=$(grep -m1 'outcome=published' "$work/worker.log" || true)
  ms=$(sed -n 's/.* ms=\([0-9]*\) .*/\1/p' <<<"$wline")
  xe=$(minus "$(log_time "$work/worker.log" 'outcome=published')" "$t0")
  xs=n/a
  if [ -n "$ms" ] && [ "$xe" != n/a ]; then xs=$(minus "$xe" "$(echo "$ms / 1000" | bc -l)"); fi
  fr=$(minus "$(log_time "$work/import.log" 'first rows applied')" "$t0")
  ap=$(minus "$(log_time "$work/import.log" 'outcome=applied')" "$t0")
  # A run's topics hold ~80 MB: keep the broker as small as it started.
  deploy/local/kafka.sh delete-topics "$tag." 2>"$work/delete-topics.log" ||
    cat "$work/delete-topics.log" >&2
  topic_prefixes=()
  if [ "$postgresql" = 1 ]; then
    sleep 1 # the daemons' backends have ended and been counted
    pcpu=$(minus "$(pg_cpu_s)" "$pcpu")
    n=$(pgq "$prod" -c "$count_sql")
  else
    n=$(sqlite3 "$work/prod.db" "SELECT sum(cnt) FROM (SELECT 0 AS cnt $(
      sqlite3 "$dev" "SELECT ' UNION ALL SELECT count(*) FROM \"' || replace(name, '\"', '\"\"') || '\"'
        FROM sqlite_master WHERE type='table' AND name NOT IN ('User','Application')
        AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'ferry_%'" | tr '\n' ' '))")
  fi
  rate=$(echo "$n / ($t1 - $t0)" | bc -l)
}

# One baseline run; sets brate and, with --postgresql, bpcu (the cluster's
# CPU seconds) and bn (the rows the copy holds).
run_baseline() {
  if [ "$postgresql" = 1 ]; then
    deploy/local/postgres.sh createdb ferry_bench_copy
    copy=$(deploy/local/postgres.sh url ferry_bench_copy)
    deploy/local/make-target.sh "$dev" "$copy"
    sleep 1
    bpcu=$(pg_cpu_s)
    t0=$(date +%s.%N)
    pg_dump "${dump_args[@]}" "$dev" | psql -X -q -v ON_ERROR_STOP=1 --single-transaction "$copy" >/dev/null
    t1=$(date +%s.%N)
    sleep 1
    bpcu=$(minus "$(pg_cpu_s)" "$bpcu")
    bn=$(pgq "$copy" -c "$count_sql")
    [ "$bn" = "$total_rows" ] ||
      { echo "e2e.sh: the baseline copied $bn rows of $total_rows" >&2; exit 1; }
  else
    rm -f "$work/copy.db"
    t0=$(date +%s.%N)
    sqlite3 "$dev" .dump | sqlite3 "$work/copy.db"
    t1=$(date +%s.%N)
    bpcu=n/a
  fi
  brate=$(echo "$total_rows / ($t1 - $t0)" | bc -l)
}

# The broker's first export is slow (its JIT warms up): one round not counted.
echo "warm-up export (not counted)" >&2
run_ferry 0

for run in $(seq 1 "$runs"); do
  run_baseline
  base_rate+=("$brate") base_pg_cpu+=("$bpcu")

  run_ferry "$run"
  ferry_rate+=("$rate") worker_rss+=("$wrss") import_rss+=("$irss") moved+=("$n")
  ratio+=("$(echo "$rate / ${base_rate[-1]}" | bc -l)")
  ex_start+=("$xs") ex_end+=("$xe") first_rows+=("$fr") first_vs_end+=("$(minus "$fr" "$xe")")
  applied_at+=("$ap") worker_cpu+=("$wcpu") import_cpu+=("$icpu") broker_cpu+=("$bcpu")
  ferry_pg_cpu+=("$pcpu")
  printf 'run %d: ferry %.0f rows/s (%d rows), baseline %.0f rows/s, ratio %.2f, worker %d KiB, importer %d KiB\n' \
    "$run" "$rate" "$n" "${base_rate[-1]}" "${ratio[-1]}" "$wrss" "$irss" >&2
  printf '       export %s-%s s, first rows applied %s s (%s s from the export'"'"'s end), applied %s s; CPU worker %s s, importer %s s, broker %s s\n' \
    "$(fig "$xs")" "$(fig "$xe")" "$(fig "$fr")" "$(fig "${first_vs_end[-1]}")" "$(fig "$ap")" \
    "$wcpu" "$icpu" "$(fig "$bcpu")" >&2
  if [ "$postgresql" = 1 ]; then
    printf '       PostgreSQL server CPU: ferry %s s, baseline %s s\n' "$(fig "$pcpu")" "$(fig "$bpcu")" >&2
  fi
done

f=$(printf '%s\n' "${ferry_rate[@]}" | median)
b=$(printf '%s\n' "${base_rate[@]}" | median)
wr=$(printf '%s\n' "${worker_rss[@]}" | median)
ir=$(printf '%s\n' "${import_rss[@]}" | median)
if [ "$postgresql" = 1 ]; then
  printf '\nferry e2e benchmark, PostgreSQL to PostgreSQL: %d rows in the moved tables, %s rows moved, median of %d runs\n' \
    "$total_rows" "${moved[0]}" "$runs"
else
  printf '\nferry e2e benchmark: %d rows in the source, %s rows moved, median of %d runs\n' \
    "$total_rows" "${moved[0]}" "$runs"
fi
printf '  ferry (worker + Kafka + importer): %10.0f rows/s\n' "$f"
printf '  baseline (%s): %*.0f rows/s\n' "$baseline_name" $((32 - ${#baseline_name})) "$b"
printf '  ratio ferry / baseline:             %9.2f (the median of the runs'"'"' ratios)\n' \
  "$(printf '%s\n' "${ratio[@]}" | median)"
printf '  peak RSS worker:   %6.1f MiB\n' "$(echo "$wr / 1024" | bc -l)"
printf '  peak RSS importer: %6.1f MiB\n' "$(echo "$ir / 1024" | bc -l)"
printf '  timeline, seconds from publishing the request (medians):\n'
printf '    worker export:        %s to %s\n' "$(fig "$(printf '%s\n' "${ex_start[@]}" | median)")" \
  "$(fig "$(printf '%s\n' "${ex_end[@]}" | median)")"
printf '    first rows applied:   %s (%s from the export'"'"'s end; negative: while the worker exported)\n' \
  "$(fig "$(printf '%s\n' "${first_rows[@]}" | median)")" \
  "$(fig "$(printf '%s\n' "${first_vs_end[@]}" | median)")"
printf '    importer committed:   %s\n' "$(fig "$(printf '%s\n' "${applied_at[@]}" | median)")"
printf '  CPU seconds (medians): worker %s, importer %s (their whole run), broker %s (publishing to applied)\n' \
  "$(printf '%s\n' "${worker_cpu[@]}" | median)" "$(printf '%s\n' "${import_cpu[@]}" | median)" \
  "$(fig "$(printf '%s\n' "${broker_cpu[@]}" | median)")"
if [ "$postgresql" = 1 ]; then
  printf '  PostgreSQL server CPU seconds (medians): ferry %s, baseline %s\n' \
    "$(fig "$(printf '%s\n' "${ferry_pg_cpu[@]}" | median)")" \
    "$(fig "$(printf '%s\n' "${base_pg_cpu[@]}" | median)")"
fi
