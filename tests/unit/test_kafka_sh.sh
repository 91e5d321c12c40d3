#!/usr/bin/env bash
# test_kafka_sh.sh - deploy/local/kafka.sh refuses to start on a port that is
# taken, naming the port, and starts nothing; and it does not pass off the
# broker of its directory as one on another FERRY_KAFKA_PORT.
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

# A broker running in FERRY_KAFKA_DIR on another port than FERRY_KAFKA_PORT is
# not taken for the one asked for (session.sh and tests/run.sh would otherwise
# use it quietly): status says so and fails, start refuses, naming both ports.
# The "broker" is a process of our own holding the pid file.
sleep 60 &
sleeper=$!
trap 'kill "$holder" "$sleeper" 2>/dev/null || true; rm -rf "$dir"' EXIT
mkdir -p "$dir/other"
echo "$sleeper" >"$dir/other/kafka.pid"
echo 1111 >"$dir/other/port"
if out=$(FERRY_KAFKA_PORT=2222 FERRY_KAFKA_DIR=$dir/other "$src/deploy/local/kafka.sh" status 2>&1); then
  echo "FAIL: status succeeded for a broker on another port: $out" >&2
  exit 1
fi
case "$out" in
  *1111*"FERRY_KAFKA_PORT=2222"*) echo "ok: $out" ;;
  *) echo "FAIL: status does not name both ports: $out" >&2; exit 1 ;;
esac
if out=$(FERRY_KAFKA_PORT=2222 FERRY_KAFKA_DIR=$dir/other "$src/deploy/local/kafka.sh" start 2>&1); then
  echo "FAIL: start accepted a broker on another port: $out" >&2
  exit 1
fi
case "$out" in
  *"port 1111, not on FERRY_KAFKA_PORT=2222"*) echo "ok: $out" ;;
  *) echo "FAIL: start does not name both ports: $out" >&2; exit 1 ;;
esac
kill -0 "$sleeper" || { echo "FAIL: the running process was stopped" >&2; exit 1; }
