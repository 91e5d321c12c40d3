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
 * body and are valid only while it lives too. A body that does not match the
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
