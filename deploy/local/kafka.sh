#!/usr/bin/env bash
# deploy/local/kafka.sh start|stop|status|reset|delete-topics PREFIX
#
# A real, single-node Apache Kafka broker (KRaft, broker and controller in one
# process) on 127.0.0.1 for development and tests. The broker's own jars are
# resolved from Maven Central with Maven once and copied into a cache, so a
# second start downloads nothing. `delete-topics PREFIX` deletes every topic
# whose name starts with PREFIX (the demo and the benchmark clean up after
# themselves with it; each of their runs uses topics of its own).
#
# Environment:
#   FERRY_KAFKA_PORT     client port (default 9092); the controller uses PORT+1
#   FERRY_KAFKA_DIR      data, config, log and pid (default build/kafka)
#   FERRY_KAFKA_VERSION  org.apache.kafka:kafka_2.13 version (default below)
#   FERRY_KAFKA_CACHE    jar cache (default ~/.cache/ferry/kafka-VERSION)
#   FERRY_KAFKA_TIMEOUT  seconds to wait for the broker to accept clients (60)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

version=${FERRY_KAFKA_VERSION:-4.4.0}
dir=${FERRY_KAFKA_DIR:-$top/build/kafka}
# A broker keeps its port across restarts unless FERRY_KAFKA_PORT says otherwise.
dir_port=$(cat "$dir/port" 2>/dev/null || true) # the port of the last start in $dir
port=${FERRY_KAFKA_PORT:-${dir_port:-9092}}
cport=$((port + 1))
cache=${FERRY_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/kafka-$version}
timeout=${FERRY_KAFKA_TIMEOUT:-60}
cluster_id=ZmVycnlMb2NhbEthZmthMQ
pidfile=$dir/kafka.pid
logfile=$dir/broker.log

die() { echo "kafka.sh: $*" >&2; exit 1; }
say() { echo "kafka.sh: $*" >&2; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True when the running broker of $dir listens on another port than the
# FERRY_KAFKA_PORT asked for: the caller must not use it as if it were that one.
port_differs() { [ -n "$dir_port" ] && [ "$port" != "$dir_port" ]; }

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

accepts_clients() {
  kcat -b "127.0.0.1:$port" -L -m 3 >/dev/null 2>&1
}

# Resolve kafka_2.13 and its runtime dependencies into the cache, once.
fetch_jars() {
  if [ -f "$cache/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) is not installed; run deploy/local/deps.sh"
  say "resolving org.apache.kafka:kafka_2.13:$version from Maven Central into $cache"
  local work
  work=$(mktemp -d)
  sed "s/@KAFKA_VERSION@/$version/" "$here/kafka-pom.xml" >"$work/pom.xml"
  if ! (cd "$work" && mvn -q -B dependency:copy-dependencies \
          -DincludeScope=runtime -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1); then
    tail -20 "$work/mvn.log" >&2
    rm -rf "$work"
    die "could not resolve Kafka $version with Maven"
  fi
  mkdir -p "$cache"
  rm -rf "$cache/libs"
  mv "$work/libs" "$cache/libs"
  touch "$cache/.complete"
  rm -rf "$work"
}

write_config() {
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Written by deploy/local/kafka.sh: a single-node KRaft broker tuned for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=false
# One node: every internal topic has one replica and few partitions.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fast tests: no initial rebalance delay, short sessions allowed.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
group.consumer.min.session.timeout.ms=1000
group.consumer.min.heartbeat.interval.ms=500
transaction.abort.timed.out.transaction.cleanup.interval.ms=5000
transaction.remove.expired.transaction.cleanup.interval.ms=60000
log.cleaner.backoff.ms=1000
log.retention.check.interval.ms=60000
EOF
}

start() {
  if pid=$(running_pid); then
    if port_differs; then
      die "the broker in $dir already runs (pid $pid) on port $dir_port, not on FERRY_KAFKA_PORT=$port; stop it first, or use another FERRY_KAFKA_DIR"
    fi
    say "already running (pid $pid) on port $port"
    return 0
  fi
  if port_in_use "$port"; then
    die "port $port is already in use by another process; set FERRY_KAFKA_PORT to a free port"
  fi
  if port_in_use "$cport"; then
    die "controller port $cport (FERRY_KAFKA_PORT+1) is already in use by another process"
  fi
  command -v java >/dev/null || die "java is not installed; run deploy/local/deps.sh"
  command -v kcat >/dev/null || die "kcat is not installed; run deploy/local/deps.sh"
  fetch_jars
  write_config
  echo "$port" >"$dir/port"
  local cp="$cache/libs/*"
  if [ ! -f "$dir/data/meta.properties" ]; then
    say "formatting storage in $dir/data"
    java -Xmx256m -cp "$cp" -Dlog4j2.configurationFile="$here/log4j2.properties" \
      -Dferry.kafka.log="$dir/format.log" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
      >"$dir/format.out" 2>&1 || { cat "$dir/format.out" >&2; die "storage format failed"; }
  fi
  say "starting Kafka $version on 127.0.0.1:$port (log: $logfile)"
  # Its own session: a test harness that kills its process group (Check does)
  # must not take the broker with it.
  setsid nohup java -Xms128m -Xmx384m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.properties" \
    -Dferry.kafka.log="$logfile" \
    -cp "$cp" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 &
  echo $! >"$pidfile"
  local waited=0
  while ! accepts_clients; do
    if ! running_pid >/dev/null; then
      tail -30 "$logfile" "$dir/stdout.log" >&2 2>/dev/null || true
      die "the broker exited during start-up (see $logfile)"
    fi
    if [ "$waited" -ge "$((timeout * 2))" ]; then
      tail -30 "$logfile" >&2 2>/dev/null || true
      stop >/dev/null 2>&1 || true
      die "the broker did not accept clients on 127.0.0.1:$port within ${timeout}s"
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  say "ready on 127.0.0.1:$port"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    say "not running"
    rm -f "$pidfile"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "broker did not stop in 30s; killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  say "stopped"
}

status() {
  if pid=$(running_pid); then
    if port_differs; then
      echo "running (pid $pid) on 127.0.0.1:$dir_port, not on FERRY_KAFKA_PORT=$port"
      return 1
    fi
    if accepts_clients; then
      echo "running (pid $pid) on 127.0.0.1:$port, accepting clients"
    else
      echo "running (pid $pid) on 127.0.0.1:$port, not accepting clients yet"
    fi
    return 0
  fi
  echo "not running"
  return 3
}

# Deletes the topics whose names start with $1 (not the broker's internal ones).
delete_topics() {
  [ -n "${1:-}" ] || die "delete-topics needs a topic name prefix"
  /usr/bin/python3 - "127.0.0.1:$port" "$1" <<'PYEOF'
import sys
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
try:
    topics = admin.list_topics(timeout=30).topics
except Exception as e:
    sys.exit(f"kafka.sh: cannot list the topics of the broker at {sys.argv[1]}: {e}")
names = [t for t in topics if t.startswith(sys.argv[2]) and not t.startswith("__")]
failed = 0
for name, future in (admin.delete_topics(names, operation_timeout=30).items() if names else []):
    try:
        future.result()
    except Exception as e:  # the broker's reason, named with the topic
        print(f"kafka.sh: could not delete topic {name}: {e}", file=sys.stderr)
        failed += 1
print(f"kafka.sh: deleted {len(names) - failed} topic(s) starting with {sys.argv[2]}",
      file=sys.stderr)
sys.exit(1 if failed else 0)
PYEOF
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$dir"; say "removed $dir" ;;
  fetch) fetch_jars ;;
  delete-topics) delete_topics "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|reset|delete-topics PREFIX" >&2; exit 2 ;;
esac
