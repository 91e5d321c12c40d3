#!/usr/bin/env bash
# test_kafka_sh.sh - deploy/local/kafka.sh refuses to start on a port that is
# taken, naming the port, and starts nothing.
set -euo pipefail
src=${FERRY_SOURCE_DIR:?}
dir=$(mktemp -d)
trap 'kill "$holder" 2>/dev/null || true; rm -rf "$dir"' EXIT

# Hold a free port with a listener of our own.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(1); time.sleep(60)" &
holder=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

if out=$(FERRY_KAFKA_PORT=$port FERRY_KAFKA_DIR=$dir/kafka "$src/deploy/local/kafka.sh" start 2>&1); then
  echo "FAIL: kafka.sh started on a taken port: $out" >&2
  exit 1
fi
case "$out" in
  *"port $port is already in use"*) echo "ok: $out" ;;
  *) echo "FAIL: the message does not name port $port: $out" >&2; exit 1 ;;
esac
[ ! -f "$dir/kafka/kafka.pid" ] || { echo "FAIL: a broker was started" >&2; exit 1; }
