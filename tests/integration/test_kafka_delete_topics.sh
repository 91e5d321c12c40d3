#!/usr/bin/env bash
# test_kafka_delete_topics.sh - `deploy/local/kafka.sh delete-topics PREFIX`
# (what the demo and the benchmark clean up with) deletes exactly the topics
# whose names start with PREFIX, on the real broker: a topic whose name only
# shares a shorter prefix stays; without a prefix it refuses, naming why.
set -euo pipefail
src=${FERRY_SOURCE_DIR:?}
bootstrap=${FERRY_BOOTSTRAP:-127.0.0.1:9092}
export FERRY_KAFKA_PORT=${bootstrap##*:}
p=ferry-it-del.$(date +%s%N)

topics() { # prints the names of the topics starting with $1, sorted
  /usr/bin/python3 - "$bootstrap" "$1" <<'PYEOF'
import sys
from confluent_kafka.admin import AdminClient
ts = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=30).topics
print(" ".join(sorted(t for t in ts if t.startswith(sys.argv[2]))))
PYEOF
}

/usr/bin/python3 - "$bootstrap" "$p" <<'PYEOF'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
names = [sys.argv[2] + s for s in (".a", ".b", "x.keep")]
for f in admin.create_topics([NewTopic(n, 1, 1) for n in names]).values():
    f.result()
PYEOF
before=$(topics "$p")
[ "$before" = "$p.a $p.b ${p}x.keep" ] || { echo "FAIL: setup made '$before'" >&2; exit 1; }

if out=$("$src/deploy/local/kafka.sh" delete-topics 2>&1); then
  echo "FAIL: delete-topics without a prefix succeeded: $out" >&2; exit 1
fi
case "$out" in *"needs a topic name prefix"*) ;; *) echo "FAIL: $out" >&2; exit 1 ;; esac

"$src/deploy/local/kafka.sh" delete-topics "$p."
after=""
for _ in $(seq 1 50); do # metadata may lag the deletion briefly
  after=$(topics "$p")
  [ "$after" = "${p}x.keep" ] && break
  sleep 0.2
done
[ "$after" = "${p}x.keep" ] || { echo "FAIL: left '$after', wanted only ${p}x.keep" >&2; exit 1; }
"$src/deploy/local/kafka.sh" delete-topics "${p}x."
echo "ok: deleted $p.a and $p.b, kept ${p}x.keep"
