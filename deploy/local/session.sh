# deploy/local/session.sh - sourced by demo.sh and bench/e2e.sh: builds ferry in
# $build, starts the local broker unless it runs, and stops on exit what the
# caller started (the processes it adds to `pids`, and the broker), and deletes
# the topics whose name prefixes it adds to `topic_prefixes`.
#
# Needs: $top (the source tree) and $build (the build directory). Sets: port.
# Honours FERRY_KAFKA_DIR (default $build/kafka) and FERRY_KAFKA_PORT (default:
# the port that broker last used, else 9092), as deploy/local/kafka.sh does.

"$top/deploy/local/deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
export FERRY_KAFKA_DIR="${FERRY_KAFKA_DIR:-$build/kafka}"
broker_started=0
if ! "$top/deploy/local/kafka.sh" status >/dev/null 2>&1; then
  "$top/deploy/local/kafka.sh" start
  broker_started=1
fi
port=${FERRY_KAFKA_PORT:-$(cat "$FERRY_KAFKA_DIR/port")}

pids=()
topic_prefixes=()
session_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for t in "${topic_prefixes[@]}"; do "$top/deploy/local/kafka.sh" delete-topics "$t" || true; done
  if [ "$broker_started" = 1 ]; then "$top/deploy/local/kafka.sh" stop || true; fi
}
trap session_cleanup EXIT
