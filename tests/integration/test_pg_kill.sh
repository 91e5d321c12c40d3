#!/usr/bin/env bash
# test_pg_kill.sh - the importer SIGKILLed at random points of a 200,000-row
# PostgreSQL -> PostgreSQL export and restarted each time (issue 16): in the
# end the target equals the source, the export is recorded applied once, and
# every imported row was written by the very transaction that recorded it
# (its xmin committed when the ledger row's did): nothing applied twice,
# nothing half applied.
# The kill points are random within the export's transaction (RANDOM seeded
# from the clock, printed so that a failure can be replayed with
# FERRY_KILL_SEED).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
e2e_init

rows=200000
seed=${FERRY_KILL_SEED:-$(date +%s)}
RANDOM=$seed
say "kill points seeded with FERRY_KILL_SEED=$seed"
e2e_pg_databases src tgt

pg src >/dev/null <<SQL
CREATE TABLE big (id bigint PRIMARY KEY, label text NOT NULL, amount numeric(14,4),
  at timestamptz, flag boolean);
CREATE TABLE big_line (big_id bigint NOT NULL REFERENCES big(id) ON DELETE CASCADE,
  n integer NOT NULL, note varchar(40), PRIMARY KEY (big_id, n));
INSERT INTO big SELECT g, 'row ' || g, g * 1.2345, timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second',
  g % 3 = 0 FROM generate_series(1, $rows / 2) g;
INSERT INTO big_line SELECT g, 1, 'line of ' || g FROM generate_series(1, $rows / 2) g;
SQL

E2E_PARTITIONS=1 e2e_config dev="${E2E_PG[src]}" prod="${E2E_PG[tgt]}"

e2e_start worker "$FERRY_WORKER_BIN" --config "$E2E_CFG" --id pg-kill-worker
# The producer waits for the outcome while importers come and go.
"$FERRY_PRODUCER_BIN" export --config "$E2E_CFG" --source dev --target prod --objects big \
  --wait --timeout 600 >"$E2E_TMP/producer.out" 2>&1 &
producer=$!

# The importer of the target is inside the export's transaction once its
# connection holds a transaction id (it has written): waited for on the
# server, polling pg_stat_activity every 5 ms, for at most 120 s. Only a
# connection opened after $1 (the server's clock) counts: a killed
# importer's backend may linger a moment.
wait_writing() {
  pg tgt "SET statement_timeout = '120s'" "DO \$\$ BEGIN
    LOOP
      PERFORM pg_stat_clear_snapshot();
      EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                        AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL
                        AND backend_start > '$1');
      PERFORM pg_sleep(0.005);
    END LOOP; END \$\$" >/dev/null
}
applied_count() { pg tgt "SELECT count(*) FROM ferry.applied" 2>/dev/null || echo 0; }

# Five importers, each SIGKILLed at a random point of the export's
# transaction (0-50 ms after it first wrote, while 200,000 rows take longer
# than that to write), each kill checked to have left nothing committed;
# then one that is let finish.
for round in 1 2 3 4 5; do
  t0=$(pg tgt "SELECT clock_timestamp()")
  e2e_start "import-$round" "$FERRY_IMPORT_BIN" --config "$E2E_CFG" --target prod
  wait_writing "$t0" || fail "importer $round did not start writing within 120 s"
  ms=$((RANDOM % 50))
  sleep "0.$(printf '%03d' "$ms")"
  kill -KILL "${E2E_PIDS[import-$round]}" 2>/dev/null || true
  wait "${E2E_PIDS[import-$round]}" 2>/dev/null || true
  unset "E2E_PIDS[import-$round]"
  [ "$(applied_count)" = 0 ] ||
    fail "importer $round was SIGKILLed after the export committed: the kill came too late to test anything"
  say "importer $round SIGKILLed ${ms} ms into the export's transaction; nothing committed"
done
e2e_start import-last "$FERRY_IMPORT_BIN" --config "$E2E_CFG" --target prod
rc=0
wait "$producer" || rc=$?
out=$(cat "$E2E_TMP/producer.out")
[ "$rc" = 0 ] && grep -q '^applied ' <<<"$out" || fail "the export was not applied: exit $rc: $out"
ok "applied after 5 SIGKILLed importers"

for t in "big ORDER BY id" "big_line ORDER BY big_id, n"; do
  a=$(pg src "SELECT md5(string_agg(x::text, E'\\n')) FROM (SELECT t::text FROM public.${t%% *} t
        ORDER BY ${t#* ORDER BY }) x")
  b=$(pg tgt "SELECT md5(string_agg(x::text, E'\\n')) FROM (SELECT t::text FROM public.${t%% *} t
        ORDER BY ${t#* ORDER BY }) x")
  [ "$a" = "$b" ] || fail "table ${t%% *} differs between source and target"
done
[ "$(pg tgt "SELECT count(*) FROM big")" = $((rows / 2)) ] || fail "big: wrong row count"
ok "target equals source ($rows rows)"

export_id=$(sed -n 's/^applied \([^ :]*\):.*/\1/p' "$E2E_TMP/producer.out" | head -1)
[ -n "$export_id" ] || fail "no export id in the producer's output: $out"
n=$(pg tgt "SELECT count(*) FROM ferry.applied WHERE export_id = '$export_id'")
[ "$n" = 1 ] || fail "export $export_id recorded applied $n times"
# Each row's writer, by the commit time of its xmin (the server keeps commit
# timestamps, deploy/local/postgres.sh; a subtransaction has its parent's).
stray=$(pg tgt "SELECT (SELECT count(*) FROM big
                             WHERE pg_xact_commit_timestamp(xmin) IS DISTINCT FROM a.t)
                           + (SELECT count(*) FROM big_line
                             WHERE pg_xact_commit_timestamp(xmin) IS DISTINCT FROM a.t)
                      FROM (SELECT pg_xact_commit_timestamp(xmin) AS t FROM ferry.applied
                            WHERE export_id = '$export_id') a")
[ "$stray" = 0 ] || fail "$stray rows were written by another transaction than the one that recorded the export"
ok "applied once: every row written by the transaction that recorded export $export_id"
e2e_stop import-last
e2e_stop worker
