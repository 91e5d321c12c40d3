#!/usr/bin/env bash
# test_values_interop.sh - values every Avro reader decodes as ferry does
# (issue 15, item 5), end to end on the real broker.
#
# A source table holds the values that are easy to get wrong: REALs in
# DECIMAL(38,23) and DECIMAL(10,2) columns (7.019261668669645E-8, whose
# decimal at scale 23 a correctly rounding reader turns into the double below
# it, and a few thousand random doubles of a fixed seed), TEXT that is not
# UTF-8 (x'fffe41', an overlong, a surrogate, a code point past U+10FFFF),
# text and blobs with NUL bytes and empty ones, the largest and smallest
# integers, doubles near the limits, dates and timestamps at the ends of the
# range Python's datetime can hold, and values of another storage class in
# typed columns. ferry-worker exports it to the records topic and ferry-import
# applies it to an empty target. Then:
#   1. python3-avro and python3-confluent-kafka (Debian's /usr/bin/python3,
#      read_committed) read the records topic, decode every Rows message with
#      the array of the row schema from its TableMetadata (its fingerprint
#      checked with tests/unit/interop.py's independent CRC-64-AVRO), read each
#      value as the README says (a decimal is its exact value rounded to the
#      nearest double; a record branch is TEXT whose bytes are not UTF-8), and
#      find every value equal to the source's: SQLite storage class (typeof)
#      and value, doubles bit for bit;
#   2. the target holds every row with the same typeof and value.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
e2e_init
"$E2E_PY" -c 'import avro.io, confluent_kafka' ||
  fail "$E2E_PY lacks python3-avro or python3-confluent-kafka (deploy/local/deps.sh)"

RANDOM_ROWS=3000
SEED=15
WAIT_S=120
src=$E2E_TMP/src.db
tgt=$E2E_TMP/tgt.db

cat >"$E2E_TMP/values.py" <<'PY'
import datetime, decimal, io, json, math, os, random, sqlite3, struct, sys, time

sys.path.insert(0, os.path.join(os.environ["FERRY_SOURCE_DIR"], "tests", "unit"))
import interop  # the independent CRC-64-AVRO and canonical form
import avro.io, avro.schema

TABLE = "Tricky Values"
COLUMNS = [("id", "INTEGER PRIMARY KEY"), ("d38", "DECIMAL(38,23)"), ("d10", "DECIMAL(10,2)"),
           ("d0", "NUMERIC(12)"), ("t", "TEXT"), ("b", "BLOB"), ("n", "INTEGER"), ("r", "REAL"),
           ("dt", "DATE"), ("ts", "TIMESTAMP"), ("flag", "BOOLEAN"), ("a", "")]
NAMES = [c for c, _ in COLUMNS]
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
EPOCH_DAY = datetime.date(1970, 1, 1)


def text(b):
    """A TEXT value from bytes, which need not be UTF-8 (bound as a blob, then CAST)."""
    return ("text", b)


# Per column, the values the rows cycle through (row k takes entry k % len).
# ("text", bytes) is inserted as CAST(? AS TEXT); anything else as it is.
TRICKY = {
    "d38": [7.019261668669645e-08, 0.1, 1e-23, -1e-23, 12345.678, 1 / 3, 5e-324,
            1.7976931348623157e308, -2.2250738585072014e-308, 0.5, 123456789012345.67,
            9.999999999999999e14, 2.0, None, text(b"\xff\xfeA"), b"\x00"],
    "d10": [12.34, -99999999.99, 99999999.99, 1e8, 0.01, 1.005, 0.07, 2 ** 53, 1 / 3, None],
    "d0": [0, -1, 999999999999, -999999999999, 10 ** 12, 1.5, None],
    "t": [text(b"\xff\xfeA"), text(b"\xc0\x80"), text(b"\xed\xa0\x80"),
          text(b"\xf4\x90\x80\x80"), text(b"\xe2\x82"), text(b"a\x00b"), text(b""),
          text("h\u00e9llo \u2713 \U0001d11e".encode()), text(b"\xef\xbf\xbf"), b"\xff", 7, None],
    "b": [b"", b"\x00", b"\x00\xff\x00", bytes(range(256)), text(b"\xfe"), None],
    "n": [-2 ** 63, 2 ** 63 - 1, 0, -1, 2 ** 53 + 1, 1.25, text(b"abc"), None],
    "r": [5e-324, -5e-324, 1.7976931348623157e308, -1.7976931348623157e308,
          2.2250738585072014e-308, 0.1, 1e300, 1e-300, 3.0000000000000004, None],
    "dt": [-719162, 2932896, 0, 19000, text(b"2024-01-01"), 2.5, None],
    "ts": [-62135596800000, 253402300799999, 0, 1700000000123, text(b"\xff"), None],
    "flag": [0, 1, 2, -1, None],
    "a": [text(b"\xff\xfe\x00"), b"", 1.5, -7, None],
}


def random_double(rng):
    """Decimals of a few digits at scales 0..30, and arbitrary finite doubles."""
    kind = rng.randrange(4)
    if kind == 0:
        return float(f"{rng.randrange(-10**15, 10**15)}e-{rng.randrange(0, 31)}")
    if kind == 1:
        return float(f"{rng.randrange(-10**6, 10**6)}e-{rng.randrange(0, 31)}")
    if kind == 2:
        return rng.uniform(-1e6, 1e6)
    while True:
        x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(x):
            return x


def seed(path, nrandom, seed_):
    db = sqlite3.connect(path)
    cols = ", ".join(f'"{c}" {t}' for c, t in COLUMNS)
    db.execute(f'CREATE TABLE "{TABLE}" ({cols})')
    rows = []
    longest = max(len(v) for v in TRICKY.values())
    for k in range(longest):
        rows.append([k + 1] + [TRICKY[c][k % len(TRICKY[c])] for c in NAMES[1:]])
    rng = random.Random(seed_)
    for k in range(nrandom):
        rows.append([longest + k + 1] + [random_double(rng) if c in ("d38", "d10", "r") else None
                                         for c in NAMES[1:]])
    for row in rows:
        exprs, args = [], []
        for v in row:
            if isinstance(v, tuple):
                exprs.append("CAST(? AS TEXT)")
                args.append(v[1])
            else:
                exprs.append("?")
                args.append(v)
        db.execute(f'INSERT INTO "{TABLE}" VALUES ({", ".join(exprs)})', args)
    db.commit()
    print(f"{len(rows)} rows")


def cell(kind, value):
    """(typeof, value) with doubles as their bits: what 'equal' means here."""
    if kind == "real":
        return (kind, struct.pack(">d", value).hex())
    return (kind, value)


def source_rows(path):
    db = sqlite3.connect(path)
    db.text_factory = bytes
    sel = ", ".join(f'typeof("{c}"), "{c}"' for c in NAMES)
    out = {}
    for r in db.execute(f'SELECT {sel} FROM "{TABLE}"'):
        cells = [cell(r[2 * i].decode(), r[2 * i + 1]) for i in range(len(NAMES))]
        out[cells[0][1]] = cells
    return out


def read_value(field, v):
    """python3-avro's value of a row field, read as README says -> (typeof, value)."""
    if v is None:
        return cell("null", None)
    if isinstance(v, bool):
        return cell("integer", int(v))
    if isinstance(v, int):
        return cell("integer", v)
    if isinstance(v, float):
        return cell("real", v)
    if isinstance(v, str):
        return cell("text", v.encode("utf-8"))
    if isinstance(v, bytes):
        return cell("blob", v)
    if isinstance(v, dict):  # the record branch: TEXT whose bytes are not UTF-8
        (b,) = v.values()
        return cell("text", b)
    if isinstance(v, datetime.datetime):
        return cell("integer", (v - EPOCH) // datetime.timedelta(milliseconds=1))
    if isinstance(v, datetime.date):
        return cell("integer", (v - EPOCH_DAY).days)
    if isinstance(v, decimal.Decimal):
        scale = next(b.get_prop("scale") for b in field.type.schemas
                     if b.get_prop("logicalType") == "decimal")
        if scale == 0:
            return cell("integer", int(v))
        return cell("real", float(v))  # the exact decimal, correctly rounded
    raise SystemExit(f"FAIL unexpected value {v!r} in field {field.name}")


def header(msg, name):
    for k, v in msg.headers() or []:
        if k == name:
            return v.decode()
    return None


def read_topic(bootstrap, topic, src_path, timeout_s):
    from confluent_kafka import Consumer
    want = source_rows(src_path)
    tm_schema = interop.load_schema(os.path.join(os.environ["FERRY_SOURCE_DIR"], "schemas",
                                                 "TableMetadata.avsc"))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"values-{os.getpid()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    c.subscribe([topic])
    rows_schema, seen, messages, bad = None, {}, 0, []
    deadline = time.time() + timeout_s
    done = False
    try:
        while not done and time.time() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            t = header(msg, "ferry.type")
            if t == "TableMetadata":
                tm = interop.read_datum(tm_schema, msg.value()[10:], "TableMetadata")
                if tm["object"]["name"] == TABLE:
                    rows_schema = avro.schema.parse(json.dumps(
                        {"type": "array", "items": json.loads(tm["row_schema"])}))
            elif t == "Rows" and header(msg, "ferry.table") == TABLE:
                if rows_schema is None:
                    raise SystemExit("FAIL a Rows message before its TableMetadata")
                body = interop.body_of(msg.value(), rows_schema, "Rows")  # checks the fingerprint
                # A UnicodeDecodeError here is a TEXT value in the string branch
                # that is not UTF-8: let it fail the test with its trace.
                for datum in interop.read_datum(rows_schema, body, "Rows"):
                    got = [read_value(f, datum[f.name]) for f in rows_schema.items.fields]
                    seen[got[0][1]] = got
                messages += 1
            elif t == "ExportEnd":
                done = True
    finally:
        c.close()
    if not done:
        raise SystemExit(f"FAIL no ExportEnd on {topic} within {timeout_s} s")
    for key, cells in sorted(want.items()):
        if key not in seen:
            bad.append(f"row id={key} missing")
            continue
        for name, w, g in zip(NAMES, cells, seen[key]):
            if w != g:
                bad.append(f"row id={key} column {name}: source {w}, python3-avro read {g}")
    if len(seen) != len(want):
        bad.append(f"{len(seen)} rows read, the source has {len(want)}")
    if bad:
        raise SystemExit("FAIL " + f"{len(bad)} differences:\n  " + "\n  ".join(bad[:40]))
    print(f"{len(seen)} rows in {messages} Rows messages decoded by python3-avro equal the source")


def target(src_path, tgt_path):
    want, got = source_rows(src_path), source_rows(tgt_path)
    bad = [f"row id={k}: source {want[k]}, target {got.get(k)}"
           for k in sorted(want) if got.get(k) != want[k]]
    if len(got) != len(want):
        bad.append(f"the target has {len(got)} rows, the source {len(want)}")
    if bad:
        raise SystemExit("FAIL " + f"{len(bad)} differences:\n  " + "\n  ".join(bad[:40]))
    print(f"{len(got)} rows equal in the target (typeof and value)")


if __name__ == "__main__":
    {"seed": lambda p, n, s: seed(p, int(n), int(s)),
     "read": lambda b, t, p, s: read_topic(b, t, p, float(s)),
     "target": target}[sys.argv[1]](*sys.argv[2:])
PY
vpy() { "$E2E_PY" "$E2E_TMP/values.py" "$@"; }

msg=$(vpy seed "$src" "$RANDOM_ROWS" "$SEED") || fail "seeding the source: $msg"
ok "source seeded: $msg"
sqlite3 "$tgt" 'PRAGMA user_version = 0' || fail "cannot create the target"

e2e_config dev="$src" prod="$tgt"
e2e_start worker "$FERRY_WORKER_BIN" --config "$E2E_CFG" --id values-worker
e2e_wait_log worker 'serving requests' 60
e2e_start import "$FERRY_IMPORT_BIN" --config "$E2E_CFG" --target prod

out=$E2E_TMP/producer.out
rc=0
"$FERRY_PRODUCER_BIN" export --config "$E2E_CFG" --source dev --target prod \
  --objects "Tricky Values" --wait --timeout "$WAIT_S" >"$out" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "the export failed (producer exit $rc): $(cat "$out")"
ok "exported: $(grep -E '^applied ' "$out" | head -n 1)"

msg=$(vpy read "$E2E_BOOTSTRAP" "$E2E_TAG.records.prod" "$src" 60 2>&1) ||
  fail "python3-avro's reading of the records topic: $msg"
ok "$msg"
msg=$(vpy target "$src" "$tgt" 2>&1) || fail "the target: $msg"
ok "$msg"

e2e_stop worker
e2e_stop import
ok "test_values_interop passed"
