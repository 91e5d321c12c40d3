#!/usr/bin/env bash
# test_unreachable_broker.sh - when no broker answers, every daemon and the
# producer give up with an error that names the bootstrap.servers they tried
# (not only librdkafka's "Local: Broker transport failure"), and exit non-zero.
# Runs the worker, the importer, the scheduler and a producer export at once
# against a port nobody listens on; the worker and the importer wait 30 s for
# the cluster before they give up, so this test takes about that long.
set -euo pipefail
src=${FERRY_SOURCE_DIR:?}
build=${FERRY_BUILD_DIR:?}
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A port that was free a moment ago; nothing listens on it.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bootstrap=127.0.0.1:$port
cat >"$tmp/ferry.json" <<EOF
{ "kafka": { "bootstrap.servers": "$bootstrap" },
  "environments": { "dev": { "store": "sqlite:$tmp/dev.db" }, "prod": { "store": "sqlite:$tmp/prod.db" } } }
EOF
"$build/envtool/ferry-env" seed "$tmp/dev.db" --rows 10 >/dev/null
cp "$tmp/dev.db" "$tmp/prod.db"

"$build/worker/ferry-worker" --config "$tmp/ferry.json" --id unreachable >"$tmp/worker.log" 2>&1 &
pids+=($!)
"$build/importer/ferry-import" --config "$tmp/ferry.json" --target prod >"$tmp/importer.log" 2>&1 &
pids+=($!)
"$build/producer/ferry-producer" scheduler --config "$tmp/ferry.json" >"$tmp/scheduler.log" 2>&1 &
pids+=($!)
"$build/producer/ferry-producer" export --config "$tmp/ferry.json" --source dev --target prod \
  --objects Queue >"$tmp/producer.log" 2>&1 &
pids+=($!)

names=(worker importer scheduler producer)
for i in "${!names[@]}"; do
  name=${names[$i]}
  rc=0
  wait "${pids[$i]}" || rc=$?
  [ "$rc" != 0 ] || fail "$name exited 0 without a broker: $(cat "$tmp/$name.log")"
  # The binary's own last line (not a timestamped log line, which librdkafka's
  # threads may still write after it) says why it gave up: it must name the address.
  last=$(grep -v '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T' "$tmp/$name.log" | tail -n 1)
  case "$last" in
    *"bootstrap.servers $bootstrap"*) echo "ok $name (exit $rc): $last" ;;
    *) fail "$name's error does not name bootstrap.servers $bootstrap: $last (log: $(cat "$tmp/$name.log"))" ;;
  esac
done
