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
import struct
import subprocess
import sys

import avro.io
import avro.schema

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
EPOCH_DAY = datetime.date(1970, 1, 1)

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


def cell_of(field, value):
    """python3-avro's value of a row field -> the tool's cell."""
    if value is None:
        return {"k": "null"}
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
    for i, b in enumerate(branches):
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
    for i, b in enumerate(branches):
        if b.type == plain and not logical(b):
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
        elif b.type == "long":
            enc.write_long(v)
        elif b.type == "double":
            enc.write_double(v)
        elif b.type in ("string", "bytes", "record"):  # the record's one field is bytes
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
