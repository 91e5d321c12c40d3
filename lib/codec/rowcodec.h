/* rowcodec.h - the Avro row schema of a table and the encoding of its rows:
 * the hot path of an export.
 *
 * Rows travel in "Rows" messages: the single-object encoding (C3 01, 8-byte
 * fingerprint, body) under the schema {"type":"array","items":<row schema>}.
 * Each row is one data record encoded with the row schema; a message packs
 * many of them as one Avro array, so any Avro reader given the row schema
 * (from TableMetadata) reads a message as a list of rows.
 *
 * Row schema: one record "ferry.rows.<table>" with one field per column, in
 * column order, keeping the table name in "ferry.table" and each column's name
 * in "ferry.column" and ferry type in "ferry.type". A name that is not a valid
 * Avro name (or a repeated column name, or a table named like a primitive
 * type) is mapped deterministically: each invalid byte becomes '_', a leading
 * digit gets '_' before it, then come "_" and 8 hex digits, the low 32 bits of
 * the CRC-64-AVRO of the original name; a mapped name still taken gets "_2",
 * "_3"... A decimal column's fixed type is named "<record>_<field>_decimal".
 *
 * SQLite columns may hold values of any storage class, so every field is a
 * union: "null" (nullable columns only), the typed branch of the column's
 * ferry type (text "string", integer "long", real "double", boolean "boolean",
 * blob "bytes", date int/date, timestamp long/timestamp-millis, decimal
 * fixed(16)/decimal(p,s); none for "any"), then "long", "double", "string",
 * "bytes" for the storage classes the typed branch does not already carry,
 * and last the record "ferry.rows.<record>_text" {value: bytes} for TEXT
 * whose bytes are not UTF-8 (RFC 3629), which "string" cannot carry to other
 * readers (defined in the first field's union, named in the others). A value
 * takes the typed branch only when decoding it gives back exactly the same
 * value (kind and bytes); otherwise the branch of its storage class. So
 * decode(encode(row)) == row for every row, and every Avro reader that reads
 * a decimal as its exact value rounded to the nearest double reads the same
 * values. Decimal(p, s): p as declared, 38 when unknown or larger, s clamped
 * to 0..p; the typed branch carries an INT when s is 0 and a REAL when s > 0:
 * the double nearest to unscaled * 10^-s (as strtod, Python's float(Decimal)
 * and Java's BigDecimal.doubleValue round it), with an unscaled value of at
 * most p digits and 64 bits. A REAL takes it only when such a decimal reads
 * back as exactly that double. The decoder refuses decimals wider than that
 * and "string" values that are not UTF-8.
 *
 * PostgreSQL's types (meta.h: values are FERRY_V_TEXT in PostgreSQL's text
 * output) have standard logical types where one exists. The typed branch
 * carries a value only when its text is exactly what PostgreSQL prints for
 * the value it parses to (pgtext.h), and decoding it gives back that text;
 * any other value takes its storage class's branch, text as "string":
 *   numeric(p,s), 0 <= s <= p <= 1000: bytes/decimal(p,s) (the unscaled value
 *     in the fewest bytes of two's complement: no 38-digit limit); the text
 *     has exactly s fraction digits, at most p digits; NaN, Infinity and
 *     numeric without a precision are text;
 *   date: int/date, years 0001 to 9999 (BC, infinity: text);
 *   time: long/time-micros, 00:00:00 to 23:59:59.999999 (24:00:00 is text:
 *     most readers' times stop before it);
 *   timestamp: long/local-timestamp-micros, and timestamptz ("...+00"):
 *     long/timestamp-micros, years 0001 to 9999. A timestamp without time
 *     zone is a wall-clock reading, not an instant: the Avro specification
 *     (1.10 and later) gives it local-timestamp-micros, and timestamp-micros
 *     is an instant on the global timeline. Debian's python3-avro 1.11 does
 *     not know local-timestamp-micros and reads the plain long (microseconds
 *     from 1970-01-01 00:00:00 on the same wall clock), which is still exact;
 *     taking timestamp-micros instead would make it (and Java) read a UTC
 *     instant that the source never stored;
 *   uuid: string/uuid, lower-case 8-4-4-4-12 only;
 *   interval, json, jsonb, enum, arrays: "string" (an Avro enum's symbols
 *     must be Avro names, which enum labels need not be).
 * A union holds one branch of each unnamed type, so where the typed branch
 * is a "long", "string" or "bytes" the storage class of that Avro type
 * travels in a record of one field named after it (the same bytes):
 * "ferry.rows.<record>_long" {integer: long}, "..._string" {text: string},
 * "..._bytes" {blob: bytes}, defined once per row schema. Each field keeps
 * "ferry.type"; a PostgreSQL table's also "ferry.decl", the declared type
 * (json or jsonb, an array's element type, an enum's name).
 *
 * Steady state allocates nothing: encode appends to the caller's buffer, and
 * decode fills an array owned by the codec. A codec is used by one thread at a
 * time. */
#ifndef FERRY_ROWCODEC_H
#define FERRY_ROWCODEC_H

#include "buf.h"
#include "meta.h"
#include "value.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ferry_rowcodec ferry_rowcodec_t;

/* Builds the row schema of obj (borrowed: it must outlive the codec) and checks
 * that avro-c parses it. A name that is not valid UTF-8 -> FERRY_EINVAL naming
 * it; more than FERRY_OBJECT_MAX_FIELDS fields -> FERRY_EINVAL naming the
 * table. *out is new; free with ferry_rowcodec_destroy (accepts NULL). */
int ferry_rowcodec_new(const ferry_object_t *obj, ferry_rowcodec_t **out, char *errstr,
                       size_t errstr_size);
void ferry_rowcodec_destroy(ferry_rowcodec_t *c);

/* The row schema JSON as published (logical types and ferry.* attributes
 * kept). Owned by the codec. */
const char *ferry_rowcodec_schema_json(const ferry_rowcodec_t *c);
/* CRC-64-AVRO of the row schema's Parsing Canonical Form. */
uint64_t ferry_rowcodec_fingerprint(const ferry_rowcodec_t *c);
/* The Avro field name of column i (the column name, or its mapping). */
const char *ferry_rowcodec_field_name(const ferry_rowcodec_t *c, size_t i);

/* The schema of a Rows message (the array around the row schema) and the
 * CRC-64-AVRO of its Parsing Canonical Form. Owned by the codec. */
const char *ferry_rowcodec_rows_schema_json(const ferry_rowcodec_t *c);
uint64_t ferry_rowcodec_rows_fingerprint(const ferry_rowcodec_t *c);

/* Appends the body of one row (obj->nfields values in field order: the Avro
 * binary of one row record, no framing) to out. A NULL in a NOT NULL column or
 * a value of no known kind -> FERRY_EINVAL naming the table and column; out is
 * then left as it was. */
int ferry_rowcodec_encode(ferry_rowcodec_t *c, const ferry_value_t *row, ferry_buf_t *out,
                          char *errstr, size_t errstr_size);

/* Appends one complete Rows message holding nrows row bodies (len bytes at
 * bodies, as ferry_rowcodec_encode wrote them one after the other) to out.
 * FERRY_EINVAL if nrows is 0 but len is not. */
int ferry_rowcodec_frame_rows(const ferry_rowcodec_t *c, size_t nrows, const void *bodies,
                              size_t len, ferry_buf_t *out, char *errstr, size_t errstr_size);

/* Decodes one row body (no framing) into *row: obj->nfields values owned by
 * the codec, valid until its next decode; text and blob values point into
 * body and are valid only while it lives too (the text a PostgreSQL type's
 * typed branch decodes to is the codec's, valid until its next decode). A body that does not match the
 * schema (truncated, a bad length or union index, trailing bytes) ->
 * FERRY_EDECODE naming the table and the field. Nothing is allocated. */
int ferry_rowcodec_decode(ferry_rowcodec_t *c, const void *body, size_t len,
                          const ferry_value_t **row, char *errstr, size_t errstr_size);

/* Reading a Rows message: _open checks the framing and that the fingerprint
 * is this table's Rows schema (else FERRY_EDECODE); each _next then gives one
 * row as ferry_rowcodec_decode does (1), the end of the message (0; trailing
 * bytes after the array are FERRY_EDECODE), or FERRY_EDECODE naming the
 * table, the row's position and the field; after a failed open or next, every
 * _next fails again until the next _open. msg must live while rows are read;
 * the codec reads one message at a time. */
int ferry_rowcodec_rows_open(ferry_rowcodec_t *c, const void *msg, size_t len, char *errstr,
                             size_t errstr_size);
int ferry_rowcodec_rows_next(ferry_rowcodec_t *c, const ferry_value_t **row, char *errstr,
                             size_t errstr_size);

#endif
