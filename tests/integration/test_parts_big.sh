#!/usr/bin/env bash
# test_parts_big.sh - no ceiling on an export's size (issue 17, Done when 1
# and 2): with worker.transaction_timeout_ms at its minimum (1000) a
# 5,000,000-row sample environment is exported in parts (the default
# worker.part_bytes) and applied, and the target equals the source; the
# importer applied its first rows before the worker committed its last part
# (the two timestamps are compared: both logs are UTC RFC 3339 with
# milliseconds); the worker's and the importer's peak memory are printed.
# FERRY_PARTS_BIG_ROWS overrides the row count (for a quicker run by hand).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
e2e_init

ROWS=${FERRY_PARTS_BIG_ROWS:-5000000}
dev=$E2E_TMP/dev.db
prod=$E2E_TMP/prod.db

E2E_WORKER='"session_timeout_ms": 6000, "transaction_timeout_ms": 1000' \
  e2e_config dev="$dev" prod="$prod"

peak_kib() { awk '/^VmHWM/ { print $2 }' "/proc/${E2E_PIDS[$1]}/status"; }

say "seeding dev ($ROWS rows)"
"$FERRY_ENV_BIN" seed "$dev" --rows "$ROWS" >/dev/null
"$MAKE_TARGET" "$dev" "$prod" >/dev/null
e2e_start worker "$FERRY_WORKER_BIN" --config "$E2E_CFG" --id big
e2e_start importer "$FERRY_IMPORT_BIN" --config "$E2E_CFG" --target prod
e2e_wait_log worker "serving requests" 60
"$FERRY_PRODUCER_BIN" export --config "$E2E_CFG" --source dev --target prod --all --wait \
  --timeout 400 >"$E2E_TMP/producer.out" 2>&1 ||
  fail "the export did not apply: $(cat "$E2E_TMP/producer.out")"
id=$(head -1 "$E2E_TMP/producer.out")
published=$(grep "export id=$id .*outcome=published" "$E2E_TMP/worker.log")
parts=$(sed -E 's/.* parts=([0-9]+).*/\1/' <<<"$published")
[ "$parts" -gt 1 ] || fail "the export was not cut into parts: $published"
ok "$(grep -o "rows=[0-9]* ms=[0-9]*" <<<"$published" | head -1) exported in $parts parts of one transaction each (timeout 1000 ms)"

first=$(grep "export id=$id .*first rows applied" "$E2E_TMP/importer.log" | cut -d' ' -f1)
last=$(cut -d' ' -f1 <<<"$published")
[ -n "$first" ] || fail "the importer logged no first rows of $id"
[[ "$first" < "$last" ]] || fail "the first rows were applied at $first, after the last part at $last"
ok "first rows applied at $first, the worker's last part committed at $last"
say "peak memory: worker $(peak_kib worker) KiB, importer $(peak_kib importer) KiB"

e2e_same_tables "$dev" "$prod" "'User'"
ok "$E2E_SAME_N tables of $ROWS rows equal in the target"
e2e_stop worker
e2e_stop importer
