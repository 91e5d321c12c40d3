#!/usr/bin/env bash
# test_envtool.sh - ferry-env seed, checksum and describe from the command line:
# exit statuses, output formats, determinism, and that a copy of the rows in
# another physical order checksums the same.
set -u
env_tool="${FERRY_BUILD_DIR:?}/envtool/ferry-env"
work=$(mktemp -d /tmp/ferry-envtool-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect STATUS DESCRIPTION COMMAND...: runs COMMAND, output in $work/out, $work/err
expect() {
    local want=$1 what=$2 got
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    got=$?
    [ "$got" = "$want" ] || fail "$what: exit $got, wanted $want ($(head -c 300 "$work/err"))"
}

expect 0 "seed" "$env_tool" seed "$work/a.db" --rows 2000 --seed 9
grep -q "^seeded $work/a.db: [0-9]* rows in 33 tables" "$work/out" || fail "seed summary: $(cat "$work/out")"
expect 2 "seed refuses an existing file" "$env_tool" seed "$work/a.db" --rows 10
grep -q -- "--force" "$work/err" || fail "seed refusal names --force: $(cat "$work/err")"
expect 0 "seed --force" "$env_tool" seed "$work/b.db" --rows 2000 --seed 9 --force
expect 2 "seed with a bad row count" "$env_tool" seed "$work/c.db" --rows many
expect 2 "seed without a path" "$env_tool" seed --rows 10

expect 0 "checksum" "$env_tool" checksum "sqlite:$work/a.db"
cp "$work/out" "$work/a.sum"
[ "$(wc -l <"$work/a.sum")" = 33 ] || fail "checksum prints one line per table"
grep -vqE '^[^ ].* rows=[0-9]+ checksum=[0-9a-f]{16}$' "$work/a.sum" && fail "checksum line format: $(head -3 "$work/a.sum")"
LC_ALL=C sort -c "$work/a.sum" || fail "checksum lines are sorted by name"
grep -q '^Order Note__CST rows=' "$work/a.sum" || fail "checksum names the awkward table as it is"
grep -q '^ferry_' "$work/a.sum" && fail "checksum shows bookkeeping tables"
expect 0 "checksum of the same seed" "$env_tool" checksum "sqlite:$work/b.db"
cmp -s "$work/out" "$work/a.sum" || fail "the same rows and seed give the same checksums"

# The same rows in reverse physical order checksum the same.
sqlite3 "$work/a.db" "CREATE TABLE rev AS SELECT * FROM Queue ORDER BY id DESC;
                       DELETE FROM Queue; INSERT INTO Queue SELECT * FROM rev; DROP TABLE rev;"
expect 0 "checksum after reordering" "$env_tool" checksum "sqlite:$work/a.db" Queue
grep -F "$(grep '^Queue ' "$work/a.sum")" "$work/out" >/dev/null || fail "checksum depends on row order"

expect 0 "checksum --json of named objects" "$env_tool" checksum "sqlite:$work/a.db" Role "Order Note__CST" --json
python3 - "$work/out" <<'EOF' || fail "checksum --json format: $(cat "$work/out")"
import json, re, sys
text = open(sys.argv[1]).read().strip()
doc = json.loads(text)
assert list(doc) == ["tables"], doc
assert sorted(doc["tables"]) == ["Order Note__CST", "Role"], doc
for t in doc["tables"].values():
    assert set(t) == {"rows", "checksum"} and isinstance(t["rows"], int)
    assert re.fullmatch("[0-9a-f]{16}", t["checksum"])
assert text == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False), text
EOF
expect 2 "checksum of an unknown object" "$env_tool" checksum "sqlite:$work/a.db" Role NoSuchThing
grep -q "NoSuchThing" "$work/err" || fail "unknown object is named: $(cat "$work/err")"
expect 2 "checksum of an unreachable postgresql store" "$env_tool" checksum "postgresql://u:s3cret@127.0.0.1:1/x"
grep -q "cannot connect" "$work/err" || fail "postgresql message: $(cat "$work/err")"
grep -q "s3cret" "$work/err" && fail "the password is shown: $(cat "$work/err")"

expect 0 "describe" "$env_tool" describe "sqlite:$work/a.db"
grep -q '^Order Note__CST$' "$work/out" || fail "describe lists Order Note__CST"
grep -q 'relation (order_id) -> Order__CST(id) include, on delete CASCADE' "$work/out" ||
    fail "describe shows the master-detail relation"
expect 0 "describe --json" "$env_tool" describe "sqlite:$work/a.db" --json
python3 - "$work/out" <<'EOF' || fail "describe --json content"
import json, sys
doc = json.load(open(sys.argv[1]))
objs = {o["name"]: o for o in doc["objects"]}
assert len(objs) == 33, len(objs)
note = objs["Order Note__CST"]
assert [f["name"] for f in note["fields"]][:4] == ["id", "order_id", "group", "order"], note
line = objs["OrderLine__CST"]
assert [f["pk_pos"] for f in line["fields"]][:2] == [1, 2], line["fields"]
rel = [r for r in line["relations"] if r["target"] == "Order__CST"][0]
assert rel["kind"] == "include" and rel["on_delete"] == "CASCADE" and rel["fields"] == ["order_id"]
order = objs["Order__CST"]
assert order["uniques"] == [["order_no"]], order["uniques"]
assert [r["kind"] for r in order["relations"]] == ["association"]
user = objs["User"]["fields"]
assert user[4] == {"name": "active", "decl_type": "BOOLEAN", "type": "boolean", "nullable": False,
                   "default": "1", "pk_pos": 0}, user[4]
EOF
expect 2 "describe a missing store" "$env_tool" describe "sqlite:$work/missing.db"

# A PostgreSQL environment (one schema of a database of its own on the
# FERRY_PG_URL server): describe and checksum it; the same rows in a SQLite
# store checksum the same.
pg_url=${FERRY_PG_URL:?FERRY_PG_URL is not set}
pg_db="ferry_envtool_$$"
pg_db_url="${pg_url%/*}/$pg_db"
trap 'psql -qX "$pg_url" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1; rm -rf "$work"' EXIT
psql -qX -v ON_ERROR_STOP=1 "$pg_url" -c "CREATE DATABASE $pg_db" >/dev/null || fail "create $pg_db"
psql -qX -v ON_ERROR_STOP=1 "$pg_db_url" >/dev/null <<'EOF' || fail "fill $pg_db"
CREATE SCHEMA app;
CREATE TABLE app."Ticket" (id bigint PRIMARY KEY, title text NOT NULL, weight integer);
INSERT INTO app."Ticket" SELECT i, 'ticket ' || i, i % 7 FROM generate_series(1, 500) i;
CREATE TABLE public.elsewhere (id int PRIMARY KEY);
EOF
sqlite3 "$work/t.db" "CREATE TABLE \"Ticket\" (id INTEGER PRIMARY KEY, title TEXT NOT NULL, weight INTEGER);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
  INSERT INTO \"Ticket\" SELECT i, 'ticket ' || i, i % 7 FROM n;"
expect 0 "describe a postgresql schema" "$env_tool" describe "$pg_db_url" --schema app
grep -q '^Ticket$' "$work/out" || fail "describe lists Ticket: $(cat "$work/out")"
grep -q 'elsewhere' "$work/out" && fail "describe shows another schema's table"
grep -q 'title .*text .*text .*not null' "$work/out" || fail "describe shows the column types: $(cat "$work/out")"
expect 0 "checksum a postgresql schema" "$env_tool" checksum "$pg_db_url" --schema app
cp "$work/out" "$work/pg.sum"
grep -q '^Ticket rows=500 ' "$work/pg.sum" || fail "checksum of Ticket: $(cat "$work/pg.sum")"
expect 0 "checksum the same rows in sqlite" "$env_tool" checksum "sqlite:$work/t.db"
cmp -s "$work/out" "$work/pg.sum" || fail "the same rows checksum alike: $(cat "$work/out") vs $(cat "$work/pg.sum")"
expect 2 "describe a missing schema" "$env_tool" describe "$pg_db_url" --schema nowhere
grep -q '"nowhere"' "$work/err" || fail "the missing schema is named: $(cat "$work/err")"

[ "$failures" = 0 ] && echo "test_envtool: all checks passed"
exit $((failures > 0))
