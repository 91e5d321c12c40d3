#!/usr/bin/python3
"""interop.py - python3-avro's side of test_python_interop.sh.

Checks ferry against an implementation it shares no code with (Debian's
python3-avro, plus the CRC-64-AVRO written here from the Avro specification):

  interop.py check TOOL SRC DIR
      1. canonical forms and fingerprints: for schemas/<Name>.avsc, the row
         schemas ferry generated and a few tricky schemas, ferry's canonical
         form (TOOL canon) must equal python3-avro's, and ferry's fingerprint
         the CRC-64-AVRO computed here;
      2. ferry -> python: every message TOOL dump wrote decodes with
         python3-avro (header stripped, schema from the .avsc) to the values
         TOOL says it wrote. Rows messages are read with the array schema
         built here from the row schema, {"type":"array","items": <row
         schema>}, as any reader given TableMetadata would build it; the
         fingerprint in their header must be the CRC-64-AVRO computed here of
         python3-avro's canonical form of that array schema;
      3. python -> ferry: the same values are encoded again by python3-avro,
         with the fingerprint computed here, into DIR/py_<name>.bin (Rows
         messages laid out as python3-avro's DatumWriter lays out an array:
         one block, then the end).
  interop.py compare DIR
      4. what TOOL decode read back from DIR/py_<name>.bin equals the values.

python3-avro 1.11.1's canonical_form deviates from the specification in two
documented ways, undone here before comparing (see normalise()): a primitive
carrying attributes is written {"type":"long"} instead of "long" (the
specification's [PRIMITIVES]: Java and C# write "long"), and a fixed type used
a second time is written out again instead of by its name. A third one is
avoided rather than undone: a nested record with "namespace": "" gets the
enclosing namespace, though the specification (and python3-avro's own Name
class) make "" the null namespace; ferry's schemas never use it, and
test_avro_canon.c pins ferry's reading of it.
"""

import datetime
import decimal
import io
import json
import math
import os
import re
import struct
import subprocess
import sys

import avro.io
import avro.schema

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
EPOCH_DAY = datetime.date(1970, 1, 1)
LOCAL_EPOCH = datetime.datetime(1970, 1, 1)
MICRO = datetime.timedelta(microseconds=1)

# ---- CRC-64-AVRO, from the specification's reference code ----------------

CRC64_EMPTY = 0xC15D213AA4D7A795
_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (CRC64_EMPTY & -(_fp & 1))
    _TABLE.append(_fp)


def crc64(data):
    fp = CRC64_EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


# ---- canonical form -------------------------------------------------------


def normalise(node, seen):
    """Undoes python3-avro 1.11.1's two deviations (module docstring)."""
    if isinstance(node, list):
        return [normalise(n, seen) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"type"} and node["type"] in PRIMITIVES:
        return node["type"]
    if "name" in node and node.get("type") in ("record", "enum", "fixed", "error"):
        if node["name"] in seen:
            return node["name"]
        seen.add(node["name"])
    return {k: normalise(v, seen) for k, v in node.items()}


def python_canonical(schema):
    raw = schema.canonical_form
    fixed = json.dumps(normalise(json.loads(raw), set()), separators=(",", ":"))
    return fixed, raw != fixed


TRICKY = [
    # namespaces: inherited, overridden, dotted names, references
    {"type": "record", "name": "R", "namespace": "a.b", "doc": "x", "aliases": ["Q"],
     "fields": [
         {"name": "f", "type": {"type": "fixed", "name": "F", "size": 4}, "doc": "d"},
         {"name": "g", "type": "F", "default": "abcd"},
         {"name": "h", "type": {"type": "enum", "name": "c.E", "symbols": ["X", "Y"]}},
         {"name": "i", "type": {"type": "array", "items": "c.E"}},
         {"name": "j", "type": {"type": "map", "values": ["null", "a.b.F", "R"]}},
         {"name": "k", "type": {"type": "record", "name": "Inner", "namespace": "x.y",
                                "fields": [{"name": "z", "type": "a.b.R"},
                                           {"name": "w", "type": "a.b.F", "default": "abcd"}]}},
         {"name": "l", "type": {"type": "long", "logicalType": "timestamp-millis"}},
         {"name": "m", "type": {"type": "fixed", "name": "D", "size": 16,
                                "logicalType": "decimal", "precision": 10, "scale": 2}},
     ]},
    "string",
    {"type": "int", "logicalType": "date"},
    ["null", "long", {"type": "array", "items": "double"}],
]


def check_canonical(tool, files):
    run = subprocess.run([tool, "canon"] + files, capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"FAIL {tool} canon: {run.stderr}")
    out = run.stdout.splitlines()
    assert len(out) == len(files), out
    normalised = 0
    for path, line in zip(files, out):
        ferry_canon, ferry_fp = line.split("\t")
        with open(path, encoding="utf-8") as f:
            schema = avro.schema.parse(f.read())
        canon, changed = python_canonical(schema)
        normalised += changed
        if canon != ferry_canon:
            sys.exit(f"FAIL canonical form of {path}:\n ferry  {ferry_canon}\n python {canon}")
        fp = crc64(canon.encode("utf-8"))
        if int(ferry_fp, 16) != fp:
            sys.exit(f"FAIL fingerprint of {path}: ferry {ferry_fp}, python {fp:016x}")
    print(f"ok: {len(files)} canonical forms and fingerprints agree "
          f"({normalised} needed python3-avro's deviations undone)")


def fingerprint(schema):
    return crc64(python_canonical(schema)[0].encode("utf-8"))


# ---- frames ----------------------------------------------------------------


def read_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    frames, off = [], 0
    while off < len(data):
        (n,) = struct.unpack(">I", data[off:off + 4])
        frames.append(data[off + 4:off + 4 + n])
        off += 4 + n
    return frames


def write_frames(path, messages):
    with open(path, "wb") as f:
        for m in messages:
            f.write(struct.pack(">I", len(m)) + m)


def header(schema):
    return b"\xc3\x01" + struct.pack("<Q", fingerprint(schema))


def body_of(msg, schema, where):
    if msg[:10] != header(schema):
        sys.exit(f"FAIL {where}: header {msg[:10].hex()} is not C3 01 + python's fingerprint "
                 f"{header(schema)[2:].hex()}")
    return msg[10:]


def read_datum(schema, body, where):
    buf = io.BytesIO(body)
    datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(buf))
    if buf.tell() != len(body):
        sys.exit(f"FAIL {where}: {len(body) - buf.tell()} bytes left after the datum")
    return datum


# ---- envelope values: python3-avro's objects <-> the tool's JSON ----------


def to_plain(schema, value):
    """python3-avro's decoded value -> the tool's JSON form."""
    t = schema.type
    if t == "record":
        return {f.name: to_plain(f.type, value[f.name]) for f in schema.fields}
    if t == "array":
        return [to_plain(schema.items, v) for v in value]
    if t == "union":
        if value is None:
            return None
        branch = next(s for s in schema.schemas if s.type != "null")
        return to_plain(branch, value)
    if t == "fixed":
        return value.hex()
    if t == "long" and schema.get_prop("logicalType") == "timestamp-millis":
        return (value - EPOCH) // datetime.timedelta(milliseconds=1)
    return value


def from_plain(schema, value):
    """The tool's JSON form -> what python3-avro's writer takes."""
    t = schema.type
    if t == "record":
        return {f.name: from_plain(f.type, value[f.name]) for f in schema.fields}
    if t == "array":
        return [from_plain(schema.items, v) for v in value]
    if t == "union":
        if value is None:
            return None
        branch = next(s for s in schema.schemas if s.type != "null")
        return from_plain(branch, value)
    if t == "fixed":
        return bytes.fromhex(value)
    if t == "long" and schema.get_prop("logicalType") == "timestamp-millis":
        return EPOCH + datetime.timedelta(milliseconds=value)
    return value


# ---- row cells ---------------------------------------------------------------


def logical(branch):
    return branch.get_prop("logicalType")


# ---- PostgreSQL's text of the logical values (written here from PostgreSQL's
# documented output: DateStyle ISO, TimeZone UTC, time fractions trimmed) ----

PG_TYPES = {"numeric", "day", "time", "datetime", "timestamptz", "uuid", "interval", "json",
            "enum", "array"}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NUMERIC_RE = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def pg_time(t):
    text = f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return text + (f".{t.microsecond:06d}".rstrip("0") if t.microsecond else "")


def pg_date(d):
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def pg_timestamp(ts):
    return pg_date(ts) + " " + pg_time(ts)


def pg_text(ftype, value):
    """PostgreSQL's text of python3-avro's reading of a typed branch."""
    if ftype == "numeric" and isinstance(value, decimal.Decimal):
        return format(value, "f")
    if ftype == "day" and isinstance(value, datetime.date):
        return pg_date(value)
    if ftype == "time" and isinstance(value, datetime.time):
        return pg_time(value)
    if ftype == "timestamptz" and isinstance(value, datetime.datetime):
        if value.utcoffset() != datetime.timedelta(0):
            sys.exit(f"FAIL timestamp-micros read as {value!r}, not UTC")
        return pg_timestamp(value) + "+00"
    if ftype == "datetime" and isinstance(value, int) and not isinstance(value, bool):
        # python3-avro 1.11 does not know local-timestamp-micros: the long
        return pg_timestamp(LOCAL_EPOCH + value * MICRO)
    if ftype == "datetime" and isinstance(value, datetime.datetime) and not value.tzinfo:
        return pg_timestamp(value)
    if ftype == "uuid" and isinstance(value, str):
        return value
    return None


def pg_logical(ftype, branch, text):
    """The value python writes in the typed branch for PostgreSQL's text, or
    None when the text has no exact logical value (pg_text gives it back)."""
    lt = logical(branch)
    try:
        if ftype == "numeric" and lt == "decimal":
            scale, precision = branch.get_prop("scale"), branch.get_prop("precision")
            if not NUMERIC_RE.fullmatch(text):  # NaN, Infinity, exponents
                return None
            d = decimal.Decimal(text)
            with decimal.localcontext() as ctx:
                ctx.prec = 2000  # scaleb rounds to the context's 28 digits otherwise
                u = int(d.scaleb(scale))
            if (-d.as_tuple().exponent != scale
                    or len(str(abs(u))) > precision or (u == 0 and text.startswith("-"))
                    or format(d, "f") != text):
                return None
            return u
        if ftype == "day" and lt == "date":
            d = datetime.date.fromisoformat(text)
            return (d - EPOCH_DAY).days if pg_date(d) == text else None
        if ftype == "time" and lt == "time-micros":
            t = datetime.time.fromisoformat(text)
            if t.tzinfo or pg_time(t) != text:
                return None
            return ((t.hour * 60 + t.minute) * 60 + t.second) * 10**6 + t.microsecond
        if ftype == "datetime" and lt == "local-timestamp-micros":
            ts = datetime.datetime.fromisoformat(text)
            if ts.tzinfo or pg_timestamp(ts) != text:
                return None
            return (ts - LOCAL_EPOCH) // MICRO
        if ftype == "timestamptz" and lt == "timestamp-micros" and text.endswith("+00"):
            ts = datetime.datetime.fromisoformat(text[:-3])
            if ts.tzinfo or pg_timestamp(ts) != text[:-3]:
                return None
            return (ts - LOCAL_EPOCH) // MICRO
        if ftype == "uuid" and lt == "uuid":
            return text.encode("utf-8") if UUID_RE.fullmatch(text) else None
    except (ValueError, decimal.InvalidOperation):
        return None
    return None


def cell_of(field, value):
    """python3-avro's value of a row field -> the tool's cell."""
    ftype = field.get_prop("ferry.type")
    if value is None:
        return {"k": "null"}
    if ftype in PG_TYPES and not isinstance(value, dict):
        text = pg_text(ftype, value)
        if text is not None:
            return {"k": "text", "v": text.encode("utf-8").hex()}
    if isinstance(value, dict) and "integer" in value:  # storage classes displaced by
        return {"k": "int", "v": value["integer"]}      # a typed branch's Avro type
    if isinstance(value, dict) and "text" in value:
        return {"k": "text", "v": value["text"].encode("utf-8").hex()}
    if isinstance(value, dict) and "blob" in value:
        return {"k": "blob", "v": value["blob"].hex()}
    if isinstance(value, bool):
        return {"k": "int", "v": int(value)}
    if isinstance(value, int):
        return {"k": "int", "v": value}
    if isinstance(value, float):
        return {"k": "real", "v": struct.pack(">d", value).hex()}
    if isinstance(value, str):
        return {"k": "text", "v": value.encode("utf-8").hex()}
    if isinstance(value, bytes):
        return {"k": "blob", "v": value.hex()}
    if isinstance(value, dict):  # the record branch: TEXT whose bytes are not UTF-8
        return {"k": "text", "v": value["value"].hex()}
    if isinstance(value, datetime.datetime):
        return {"k": "int", "v": (value - EPOCH) // datetime.timedelta(milliseconds=1)}
    if isinstance(value, datetime.date):
        return {"k": "int", "v": (value - EPOCH_DAY).days}
    if isinstance(value, decimal.Decimal):
        # ferry's reading of a decimal: scale 0 an integer, else the double
        # nearest to its exact value (float(Decimal) rounds correctly)
        scale = next(b.get_prop("scale") for b in field.type.schemas if logical(b) == "decimal")
        if scale == 0:
            return {"k": "int", "v": int(value)}
        return {"k": "real", "v": struct.pack(">d", float(value)).hex()}
    sys.exit(f"FAIL unexpected value {value!r} in field {field.name}")


def is_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def decimal_of(branch, x):
    """The unscaled value of a decimal of the branch's scale and precision
    that reads back as exactly the double x (x's shortest decimal), or None."""
    scale, precision = branch.get_prop("scale"), branch.get_prop("precision")
    if not math.isfinite(x) or math.copysign(1, x) < 0 and x == 0:
        return None
    d = decimal.Decimal(repr(x)).scaleb(scale)
    if d != d.to_integral_value():
        return None
    u = int(d)
    if abs(u) >= 10 ** precision or not -2**63 <= u < 2**63:
        return None
    return u if float(decimal.Decimal(u).scaleb(-scale)) == x else None


def branch_for(field, cell):
    """Picks the branch python writes a cell with, as any writer following the
    row schema's documentation would: the typed branch where it carries the
    value exactly (booleans, dates, decimals, timestamps), TEXT that is not
    UTF-8 in the record branch, else the branch of the value's storage class."""
    branches = field.type.schemas
    kind = cell["k"]
    ftype = field.get_prop("ferry.type")
    if ftype in PG_TYPES:
        if kind == "text" and is_utf8(bytes.fromhex(cell["v"])):
            text = bytes.fromhex(cell["v"]).decode("utf-8")
            for i, b in enumerate(branches):
                if logical(b):
                    v = pg_logical(ftype, b, text)
                    if v is not None:
                        return i, v
        # SQLite's typed branches below are not these types' own
        branches = [b if not logical(b) else None for b in branches]
    for i, b in enumerate(branches):
        if b is None:
            continue
        lt = logical(b)
        if kind == "null" and b.type == "null":
            return i, None
        if kind == "text" and b.type == "record" and not is_utf8(bytes.fromhex(cell["v"])):
            return i, bytes.fromhex(cell["v"])
        if kind == "real" and lt == "decimal" and b.get_prop("scale") > 0:
            u = decimal_of(b, struct.unpack(">d", bytes.fromhex(cell["v"]))[0])
            if u is not None:
                return i, u
        if kind != "int":
            continue
        v = cell["v"]
        if b.type == "boolean" and v in (0, 1):
            return i, bool(v)
        if lt == "date" and -2**31 <= v < 2**31:
            return i, v
        if lt == "timestamp-millis":
            return i, v
        if lt == "decimal" and b.get_prop("scale") == 0 and abs(v) < 10 ** b.get_prop("precision"):
            return i, v
    plain = {"int": "long", "real": "double", "text": "string", "blob": "bytes"}[kind]
    wrap = {"int": "integer", "text": "text", "blob": "blob"}.get(kind)
    for i, b in enumerate(branches):
        if b is None:
            continue
        if ((b.type == plain and not logical(b)) or
                (b.type == "record" and b.fields[0].name == wrap)):
            v = cell["v"]
            if kind == "real":
                v = struct.unpack(">d", bytes.fromhex(v))[0]
            elif kind == "text":
                v = bytes.fromhex(v)
            elif kind == "blob":
                v = bytes.fromhex(v)
            return i, v
    sys.exit(f"FAIL no branch for {cell} in field {field.name}")


def write_row(enc, schema, row):
    """A row body written with python3-avro's encoder, branch by branch."""
    for field, cell in zip(schema.fields, row):
        i, v = branch_for(field, cell)
        b = field.type.schemas[i]
        enc.write_long(i)
        if b.type == "null":
            pass
        elif b.type == "boolean":
            enc.write_boolean(v)
        elif b.type == "int":
            enc.write_int(v)
        elif b.type == "long" or (b.type == "record" and b.fields[0].type.type == "long"):
            enc.write_long(v)
        elif b.type == "double":
            enc.write_double(v)
        elif b.type == "bytes" and logical(b) == "decimal":
            # big-endian two's complement, with one byte to spare at times
            enc.write_bytes(v.to_bytes((v.bit_length() + 8) // 8, "big", signed=True))
        elif b.type in ("string", "bytes", "record"):  # the record's one field: bytes, string
            enc.write_bytes(v)
        elif b.type == "fixed":
            enc.write(v.to_bytes(b.size, "big", signed=True))


def write_rows(schema, rows):
    """The body of a Rows message (schema: the array of the row schema) as
    python3-avro's DatumWriter writes an array: the item count, the items,
    then 0; an empty array is the 0 alone."""
    buf = io.BytesIO()
    enc = avro.io.BinaryEncoder(buf)
    if rows:
        enc.write_long(len(rows))
        for row in rows:
            write_row(enc, schema.items, row)
    enc.write_long(0)
    return buf.getvalue()


def cells_of(schema, datum):
    """python3-avro's reading of a Rows message -> the tool's rows of cells."""
    return [[cell_of(f, d[f.name]) for f in schema.items.fields] for d in datum]


# ---- phases ----------------------------------------------------------------


def load_schema(path):
    with open(path, encoding="utf-8") as f:
        return avro.schema.parse(f.read())


def rows_schema(path):
    """The schema of a Rows message, built from the row schema at path."""
    with open(path, encoding="utf-8") as f:
        row = json.load(f)
    return avro.schema.parse(json.dumps({"type": "array", "items": row}))


def schema_of(entry, src, tmp):
    if entry["kind"] == "rows":
        schema = rows_schema(os.path.join(tmp, entry["name"] + ".avsc"))
        # What ferry publishes as the Rows schema is that same array.
        published = load_schema(os.path.join(tmp, entry["name"] + ".rows.avsc"))
        if python_canonical(published)[0] != python_canonical(schema)[0]:
            sys.exit(f"FAIL {entry['name']}: ferry's Rows schema is not the array of its row "
                     f"schema:\n ferry  {python_canonical(published)[0]}\n python "
                     f"{python_canonical(schema)[0]}")
        return schema
    return load_schema(os.path.join(src, "schemas", entry["type"] + ".avsc"))


def check(tool, src, tmp):
    files = sorted(os.path.join(src, "schemas", f) for f in os.listdir(os.path.join(src, "schemas"))
                   if f.endswith(".avsc"))
    files += sorted(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".avsc"))
    for i, s in enumerate(TRICKY):
        path = os.path.join(tmp, f"tricky_{i}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(s, f)
        files.append(path)
    check_canonical(tool, files)
    check_older_metadata(src)

    with open(os.path.join(tmp, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    messages = rows_messages = rows = 0
    for entry in manifest:
        name = entry["name"]
        schema = schema_of(entry, src, tmp)
        with open(os.path.join(tmp, name + ".json"), encoding="utf-8") as f:
            expected = json.load(f)
        frames = read_frames(os.path.join(tmp, name + ".bin"))
        if len(frames) != len(expected):
            sys.exit(f"FAIL {name}: {len(frames)} messages, {len(expected)} expected")
        out = []
        for k, (msg, want) in enumerate(zip(frames, expected)):
            where = f"{name}[{k}]"
            # body_of: the header carries the fingerprint computed here.
            datum = read_datum(schema, body_of(msg, schema, where), where)
            if entry["kind"] == "rows":
                got = cells_of(schema, datum)
                body = write_rows(schema, want)
                again = cells_of(schema, read_datum(schema, body, where + " as python wrote it"))
                if again != want:
                    sys.exit(f"FAIL {where}: python3-avro misread its own Rows message\n "
                             f"{again}\nwrote\n {want}")
                out.append(header(schema) + body)
                rows_messages += 1
                rows += len(want)
            else:
                got = to_plain(schema, datum)
                buf = io.BytesIO()
                avro.io.DatumWriter(schema).write(from_plain(schema, want),
                                                  avro.io.BinaryEncoder(buf))
                out.append(header(schema) + buf.getvalue())
            if got != want:
                sys.exit(f"FAIL {where}: python3-avro read\n {got}\nferry wrote\n {want}")
            messages += 1
        write_frames(os.path.join(tmp, "py_" + name + ".bin"), out)
    print(f"ok: python3-avro decodes the {messages} messages ferry encoded to their values "
          f"({rows_messages} Rows messages of {rows} rows, each with the fingerprint of "
          f"python's canonical form of the array schema)")


NEW_FIELDS = {"ObjectDefinition": {"dialect"}, "FieldDefinition": {"identity", "labels"}}


def without_new_fields(node):
    """TableMetadata's schema as it was before PostgreSQL: a copy of the JSON
    without the fields added for it."""
    if isinstance(node, list):
        return [without_new_fields(n) for n in node]
    if not isinstance(node, dict):
        return node
    drop = NEW_FIELDS.get(node.get("name"), set()) if node.get("type") == "record" else set()
    return {k: (without_new_fields([f for f in v if f["name"] not in drop]) if k == "fields"
                else without_new_fields(v)) for k, v in node.items()}


def check_older_metadata(src):
    """A TableMetadata written with the schema before PostgreSQL reads with
    today's as a SQLite object: each new field has its default."""
    with open(os.path.join(src, "schemas", "TableMetadata.avsc"), encoding="utf-8") as f:
        new = json.load(f)
    old_schema = avro.schema.parse(json.dumps(without_new_fields(new)))
    new_schema = avro.schema.parse(json.dumps(new))
    field = {"name": "id", "decl_type": "INTEGER", "type": "integer", "nullable": False,
             "default_sql": None, "length": 0, "scale": 0, "pk_pos": 1, "collation": None}
    datum = {"export_id": "old", "group": 0,
             "object": {"name": "t", "fields": [field], "uniques": [], "relations": [],
                        "without_rowid": False, "indexes": [], "not_carried": []},
             "row_schema": "\"long\"", "row_fingerprint": b"\0" * 8, "with_rows": True}
    buf = io.BytesIO()
    avro.io.DatumWriter(old_schema).write(datum, avro.io.BinaryEncoder(buf))
    buf.seek(0)
    got = avro.io.DatumReader(old_schema, new_schema).read(avro.io.BinaryDecoder(buf))
    f = got["object"]["fields"][0]
    if (got["object"]["dialect"], f["identity"], f["labels"]) != ("sqlite", "none", []):
        sys.exit(f"FAIL an older TableMetadata reads as {got['object']}")
    print("ok: a TableMetadata of the schema before PostgreSQL reads with the defaults "
          "(dialect sqlite, identity none, no labels)")


def compare(tmp):
    with open(os.path.join(tmp, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    messages = 0
    for entry in manifest:
        name = entry["name"]
        with open(os.path.join(tmp, name + ".json"), encoding="utf-8") as f:
            expected = json.load(f)
        with open(os.path.join(tmp, "py_" + name + ".out.json"), encoding="utf-8") as f:
            got = json.load(f)
        if got != expected:
            sys.exit(f"FAIL {name}: ferry read back\n {got}\npython3-avro wrote\n {expected}")
        messages += len(got)
    print(f"ok: ferry decodes the {messages} messages python3-avro encoded to their values")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 3 and sys.argv[1] == "compare":
        compare(sys.argv[2])
    else:
        sys.exit("usage: interop.py check TOOL SRC DIR | compare DIR")
