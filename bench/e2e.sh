#!/usr/bin/env bash
# bench/e2e.sh [ROWS] - end-to-end throughput and memory of ferry against a
# baseline, in one run on one machine.
#
#   ferry:    dev -> Kafka (one worker) -> prod (one importer), every table of
#             the sample environment but the association targets, timed from
#             publishing the request to the importer's "applied" status
#   baseline: sqlite3 dev.db .dump | sqlite3 copy.db, on the same data
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
# $build/e2e-bench/import-N.perf; the figures of such a run are not the
# benchmark's.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
rows=${1:-1000000}
runs=${FERRY_BENCH_RUNS:-5}
build="$top/build"
work="$build/e2e-bench"

# shellcheck source=deploy/local/session.sh
. "$top/deploy/local/session.sh"

mkdir -p "$work"
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

rss_kib() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
# CPU seconds (user + system) process $1 has used, all its threads.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat"; }
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
broker_cpu=()

# One export through a fresh worker and importer into a fresh target; sets
# rate, wrss, irss and n; wcpu and icpu (CPU seconds of worker and importer,
# their whole run) and bcpu (the broker's, from publishing to applied); and
# the timeline in seconds from t0: xs and xe (the worker's export), fr (the
# importer's first rows applied) and ap (applied).
run_ferry() {
  deploy/local/make-target.sh "$dev" "$work/prod.db"
  tag=bench.$(date +%s).$$.$1
  topic_prefixes=("$tag.") # deleted after the run, or on exit (session.sh)
  cat >"$work/ferry.json" <<EOF
{ "kafka": { "bootstrap.servers": "127.0.0.1:$port" },
  "environments": { "dev": { "store": "sqlite:$dev" }, "prod": { "store": "sqlite:$work/prod.db" } },
  "topics": { "requests": "$tag.requests", "status": "$tag.status", "schedules": "$tag.schedules",
              "dlq": "$tag.dlq", "records_prefix": "$tag.records.", "partitions": 1 } }
EOF
  "$build/worker/ferry-worker" --config "$work/ferry.json" --id bench 2>"$work/worker.log" &
  wpid=$!
  "$build/importer/ferry-import" --config "$work/ferry.json" --target prod 2>"$work/import.log" &
  ipid=$!
  pids=("$wpid" "$ipid")
  perf_pid=
  if [ "${FERRY_BENCH_PERF:-0}" = 1 ] && [ "$1" != 0 ]; then
    # shellcheck disable=SC2086 # options, split on purpose
    perf record ${FERRY_BENCH_PERF_OPTS:--g} -q -o "$work/import-$1.perf" -p "$ipid" 2>"$work/perf.log" &
    perf_pid=$!
  fi
  sleep 3 # both have joined their groups
  broker_pid=$(cat "$FERRY_KAFKA_DIR/kafka.pid" 2>/dev/null || true)
  bcpu=n/a
  [ -n "$broker_pid" ] && [ -r "/proc/$broker_pid/stat" ] && bcpu=$(cpu_s "$broker_pid")
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
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
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
  n=$(sqlite3 "$work/prod.db" "SELECT sum(cnt) FROM (SELECT 0 AS cnt $(
    sqlite3 "$dev" "SELECT ' UNION ALL SELECT count(*) FROM \"' || replace(name, '\"', '\"\"') || '\"'
      FROM sqlite_master WHERE type='table' AND name NOT IN ('User','Application')
      AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'ferry_%'" | tr '\n' ' '))")
  rate=$(echo "$n / ($t1 - $t0)" | bc -l)
}

# The broker's first export is slow (its JIT warms up): one round not counted.
echo "warm-up export (not counted)" >&2
run_ferry 0

for run in $(seq 1 "$runs"); do
  # Baseline: the SQLite CLI's dump piped into a new database.
  rm -f "$work/copy.db"
  t0=$(date +%s.%N)
  sqlite3 "$dev" .dump | sqlite3 "$work/copy.db"
  t1=$(date +%s.%N)
  base_rate+=("$(echo "$total_rows / ($t1 - $t0)" | bc -l)")

  run_ferry "$run"
  ferry_rate+=("$rate") worker_rss+=("$wrss") import_rss+=("$irss") moved+=("$n")
  ratio+=("$(echo "$rate / ${base_rate[-1]}" | bc -l)")
  ex_start+=("$xs") ex_end+=("$xe") first_rows+=("$fr") first_vs_end+=("$(minus "$fr" "$xe")")
  applied_at+=("$ap") worker_cpu+=("$wcpu") import_cpu+=("$icpu") broker_cpu+=("$bcpu")
  printf 'run %d: ferry %.0f rows/s (%d rows), baseline %.0f rows/s, ratio %.2f, worker %d KiB, importer %d KiB\n' \
    "$run" "$rate" "$n" "${base_rate[-1]}" "${ratio[-1]}" "$wrss" "$irss" >&2
  printf '       export %s-%s s, first rows applied %s s (%s s from the export'"'"'s end), applied %s s; CPU worker %s s, importer %s s, broker %s s\n' \
    "$(fig "$xs")" "$(fig "$xe")" "$(fig "$fr")" "$(fig "${first_vs_end[-1]}")" "$(fig "$ap")" \
    "$wcpu" "$icpu" "$(fig "$bcpu")" >&2
done

f=$(printf '%s\n' "${ferry_rate[@]}" | median)
b=$(printf '%s\n' "${base_rate[@]}" | median)
wr=$(printf '%s\n' "${worker_rss[@]}" | median)
ir=$(printf '%s\n' "${import_rss[@]}" | median)
printf '\nferry e2e benchmark: %d rows in the source, %s rows moved, median of %d runs\n' \
  "$total_rows" "${moved[0]}" "$runs"
printf '  ferry (worker + Kafka + importer): %10.0f rows/s\n' "$f"
printf '  baseline (sqlite3 .dump | sqlite3): %9.0f rows/s\n' "$b"
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
