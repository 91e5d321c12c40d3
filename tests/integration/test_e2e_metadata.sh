#!/usr/bin/env bash
# test_e2e_metadata.sh - table definitions end to end on the real broker
# (issue 15 item 6): a Django-like source (deferrable foreign keys, indexes
# with DESC, NOCASE and several columns, hostile index names, a partial and an
# expression index, a CHECK, AUTOINCREMENT, an FTS5 virtual table) exported
# with `ferry-producer export --all` into an empty target. Checked with
# sqlite3 on the target, independently of ferry's code:
#  - the tables, the indexes (pragma_index_xinfo: columns, order, collation)
#    and the foreign keys (pragma_foreign_key_list) exist;
#  - an application-style transaction that inserts a child before its parent
#    (relying on DEFERRABLE INITIALLY DEFERRED) commits, while an immediate
#    key still refuses a missing parent;
#  - what is not carried is named in the worker's published line and the
#    importer's log, and what --all left out (the virtual table, its shadow
#    tables, sqlite_sequence) is named too and absent from the target.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
e2e_init

dev=$E2E_TMP/dev.db
prod=$E2E_TMP/prod.db

sql "$dev" "
CREATE TABLE page(id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT COLLATE NOCASE,
  status TEXT, CHECK (length(title) > 0));
CREATE TABLE rev(id INTEGER PRIMARY KEY,
  page_id INT REFERENCES page(id) DEFERRABLE INITIALLY DEFERRED,
  prev_id INT REFERENCES page(id) DEFERRABLE INITIALLY IMMEDIATE,
  at TEXT);
CREATE INDEX \"x; DROP TABLE t; --\" ON rev(page_id DESC, at);
CREATE UNIQUE INDEX \"a\"\"quote\" ON page(title COLLATE NOCASE, status);
CREATE UNIQUE INDEX page_live ON page(status) WHERE status IN ('live', 'draft');
CREATE INDEX page_lower ON page(lower(title));
CREATE VIRTUAL TABLE search USING fts5(body);
INSERT INTO page(title, status) VALUES ('Home', 'live'), ('About', 'draft');
INSERT INTO rev(id, page_id, prev_id, at) VALUES (1, 1, NULL, '2026-01-01');
INSERT INTO search(body) VALUES ('home page');"

e2e_config dev="$dev" prod="$prod"
e2e_start worker "$FERRY_WORKER_BIN" --config "$E2E_CFG" --id e2e-meta-worker --verbose
e2e_start import-prod "$FERRY_IMPORT_BIN" --config "$E2E_CFG" --target prod

rc=0
"$FERRY_PRODUCER_BIN" export --config "$E2E_CFG" --source dev --target prod --all \
  --wait --timeout 120 >"$E2E_TMP/producer.out" 2>&1 || rc=$?
out=$(cat "$E2E_TMP/producer.out")
[ "$rc" = 0 ] || fail "export --all: producer exited $rc: $out"
grep -q '^applied ' <<<"$out" || fail "export --all: not applied: $out"
ok "export --all applied"

# Tables: the two ordinary ones, nothing of the virtual table.
got=$(sql "$prod" "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema
                   WHERE type = 'table' AND name NOT LIKE 'ferry\\_%' ESCAPE '\\'
                   AND name <> 'sqlite_sequence' ORDER BY name)")
[ "$got" = "page,rev" ] || fail "target tables: '$got', expected 'page,rev'"
ok "target tables: $got"
[ "$(sql "$prod" "SELECT count(*) FROM rev")" = 1 ] || fail "rev's row did not arrive"

# Indexes, as SQLite reports them.
got=$(sql "$prod" "SELECT group_concat(name || ' ' || \"desc\" || ' ' || coll, ', ')
                   FROM pragma_index_xinfo('x; DROP TABLE t; --') WHERE key")
[ "$got" = "page_id 1 BINARY, at 0 BINARY" ] || fail "index 'x; DROP TABLE t; --': '$got'"
got=$(sql "$prod" "SELECT group_concat(name || ' ' || coll, ', ')
                   FROM pragma_index_xinfo('a\"quote') WHERE key")
[ "$got" = "title NOCASE, status BINARY" ] || fail "index 'a\"quote': '$got'"
got=$(sql "$prod" "SELECT \"unique\" FROM pragma_index_list('page') WHERE name = 'a\"quote'")
[ "$got" = 1 ] || fail "index 'a\"quote' is not unique on the target"
got=$(sql "$prod" "SELECT count(*) FROM sqlite_schema WHERE name IN ('page_live', 'page_lower')")
[ "$got" = 0 ] || fail "a partial or expression index was replayed"
ok "indexes carried: columns, DESC, NOCASE, unique; partial and expression ones not"

# Foreign keys exist ...
got=$(sql "$prod" "SELECT group_concat(\"from\" || '->' || \"table\", ',')
                   FROM (SELECT * FROM pragma_foreign_key_list('rev') ORDER BY \"from\")")
[ "$got" = "page_id->page,prev_id->page" ] || fail "foreign keys of rev: '$got'"
# ... the deferred one lets the application insert a child before its parent ...
sqlite3 "$prod" "PRAGMA foreign_keys = ON; BEGIN;
  INSERT INTO rev(id, page_id) VALUES (2, 77);
  INSERT INTO page(id, title, status) VALUES (77, 'Later', 'draft');
  COMMIT;" 2>"$E2E_TMP/app.err" || fail "child before parent failed on the target: $(cat "$E2E_TMP/app.err")"
[ "$(sql "$prod" "SELECT count(*) FROM rev WHERE id = 2")" = 1 ] || fail "the deferred insert is missing"
# ... and the immediate one still refuses a missing parent at once.
if sqlite3 "$prod" "PRAGMA foreign_keys = ON; BEGIN; INSERT INTO rev(id, prev_id) VALUES (3, 88); COMMIT;" \
     2>"$E2E_TMP/app2.err"; then
  fail "an immediate foreign key accepted a missing parent"
fi
grep -q "FOREIGN KEY constraint failed" "$E2E_TMP/app2.err" || fail "unexpected error: $(cat "$E2E_TMP/app2.err")"
ok "DEFERRABLE INITIALLY DEFERRED carried; INITIALLY IMMEDIATE checks at once"

# What is not carried and what --all left out is said, not dropped silently.
e2e_wait_log worker 'outcome=published' 30
line=$(grep 'outcome=published' "$E2E_TMP/worker.log" | head -n 1)
for want in 'not carried: page: ' 'AUTOINCREMENT of column "id"' 'partial unique index "page_live"' \
            'index "page_lower" on an expression' '1 CHECK constraint' \
            '"search" is a virtual table (fts5)' 'shadow table of virtual table "search"' \
            'sqlite_sequence is SQLite'; do
  grep -qF "$want" <<<"$line" || fail "worker's published line lacks '$want': $line"
done
ok "worker: $line"
e2e_wait_log import-prod 'export id=[^ ]+ target=prod table=page not carried: partial unique index "page_live"' 30
ok "importer logged what is not carried"

# One vocabulary on both sides: the importer's line for the export has the
# worker's keys, in the same order, with the same values (ms apart).
common='export id=[^ ]+ stream=[^ ]+ source=[^ ]+ target=[^ ]+ tables=[0-9]+ rows=[0-9]+ ms=[0-9]+ outcome=[a-z]+ bytes=[0-9]+'
wkeys=$(grep -oE "$common" <<<"$line" | sed -E 's/ ms=[0-9]+ outcome=[a-z]+//') ||
  fail "worker's line is not in the common vocabulary: $line"
id=$(sed -E 's/^export id=([^ ]+) .*/\1/' <<<"$wkeys")
e2e_wait_log import-prod "export id=$id .* outcome=applied" 30
iline=$(grep -E "export id=$id .* outcome=applied" "$E2E_TMP/import-prod.log" | head -n 1)
ikeys=$(grep -oE "$common" <<<"$iline" | sed -E 's/ ms=[0-9]+ outcome=[a-z]+//') ||
  fail "importer's line is not in the common vocabulary: $iline"
[ "$wkeys" = "$ikeys" ] || fail "worker and importer disagree: '$wkeys' vs '$ikeys'"
grep -qE "stream=dev->prod source=dev target=prod .* outcome=published bytes=[0-9]+ messages=[0-9]+" <<<"$line" ||
  fail "worker's line: $line"
grep -qE " outcome=applied bytes=[0-9]+ inserted=[0-9]+ updated=[0-9]+" <<<"$iline" || fail "importer's line: $iline"
ok "worker and importer log one vocabulary: $ikeys"

e2e_stop import-prod
e2e_stop worker
"$E2E_SRC/deploy/local/kafka.sh" delete-topics "$E2E_TAG." >/dev/null 2>&1 || true
