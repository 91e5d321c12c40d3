/* avro_canon.h - the Avro pieces avro-c 1.11 lacks, shared by every ferry
 * message: the Parsing Canonical Form of a schema, its CRC-64-AVRO
 * fingerprint, the single-object framing (C3 01, the fingerprint as 8 bytes
 * little-endian, the body), and one bounds-checked reader and one writer of the
 * Avro binary encoding (zigzag varints, length-prefixed bytes, doubles).
 *
 * All of it follows the Avro 1.11 specification ("Parsing Canonical Form for
 * Schemas", "Schema Fingerprints", "Single-object encoding", "Binary
 * Encoding"). The reader distrusts its input: every length is checked against
 * the bytes left before it is used, and nothing it does allocates. */
#ifndef FERRY_AVRO_CANON_H
#define FERRY_AVRO_CANON_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

/* ---- schemas ---------------------------------------------------------- */

/* Appends the Parsing Canonical Form of schema_json (NUL-terminated Avro
 * schema JSON) to out. The schema must be well formed: every name valid, every
 * referenced name defined earlier, no name defined twice. Not JSON ->
 * FERRY_EDECODE; not a valid schema -> FERRY_EINVAL with errstr naming the
 * offending type or field. On failure out->len is left as it was. */
int ferry_avro_canonical_form(const char *schema_json, ferry_buf_t *out, char *errstr,
                              size_t errstr_size);

/* 1 if name is a valid Avro simple name, [A-Za-z_][A-Za-z0-9_]*, else 0. */
int ferry_avro_name_valid(const char *name);
/* 1 if name is one of Avro's primitive type names ("null"... "string"), which
 * no named type may take, else 0. */
int ferry_avro_is_primitive(const char *name);

/* The CRC-64-AVRO of data (0xc15d213aa4d7a795 for no data). */
uint64_t ferry_avro_crc64(const void *data, size_t len);

/* *fp = CRC-64-AVRO of the canonical form of schema_json. Errors as
 * ferry_avro_canonical_form. */
int ferry_avro_fingerprint(const char *schema_json, uint64_t *fp, char *errstr,
                           size_t errstr_size);

/* ---- single-object framing ------------------------------------------- */

#define FERRY_AVRO_HEADER_SIZE 10

/* Appends C3 01 and fp (8 bytes, little-endian) to out. 0 or FERRY_ENOMEM. */
int ferry_avro_frame_header(ferry_buf_t *out, uint64_t fp);

/* Splits a framed message: *fp receives the fingerprint, *body and *body_len
 * the rest (pointing into buf). Shorter than the header or a wrong marker ->
 * FERRY_EDECODE with errstr saying which. */
int ferry_avro_frame_parse(const void *buf, size_t len, uint64_t *fp, const uint8_t **body,
                           size_t *body_len, char *errstr, size_t errstr_size);

/* ---- binary encoding: writer ------------------------------------------ */

/* Most bytes a long takes as a zigzag varint. */
#define FERRY_AVRO_LONG_MAX_SIZE 10

/* Unchecked writers for hot paths: write at p, into room the caller has
 * reserved, and return the position after what they wrote. */
uint8_t *ferry_avro_put_long(uint8_t *p, int64_t v);
uint8_t *ferry_avro_put_double(uint8_t *p, double v);
uint8_t *ferry_avro_put_bytes(uint8_t *p, const void *data, size_t n); /* length + data */

/* Appending writers: 0 or FERRY_ENOMEM. A string is written as its bytes
 * without the NUL. */
int ferry_avro_write_long(ferry_buf_t *b, int64_t v);
int ferry_avro_write_boolean(ferry_buf_t *b, int v);
int ferry_avro_write_double(ferry_buf_t *b, double v);
int ferry_avro_write_bytes(ferry_buf_t *b, const void *data, size_t n);
int ferry_avro_write_string(ferry_buf_t *b, const char *s);

/* ---- binary encoding: reader ------------------------------------------ */

/* A cursor over bytes the caller owns. Every read returns 0 or FERRY_EDECODE;
 * on failure `why` says what was wrong (a static string) and the position is
 * unspecified: stop reading. */
typedef struct ferry_avro_reader {
    const uint8_t *start;
    const uint8_t *p;
    const uint8_t *end;
    const char *why;
} ferry_avro_reader_t;

void ferry_avro_reader_init(ferry_avro_reader_t *r, const void *buf, size_t len);
static inline size_t ferry_avro_reader_left(const ferry_avro_reader_t *r)
{
    return (size_t)(r->end - r->p);
}
static inline size_t ferry_avro_reader_offset(const ferry_avro_reader_t *r)
{
    return (size_t)(r->p - r->start);
}

/* A zigzag varint of at most 10 bytes. */
int ferry_avro_read_long(ferry_avro_reader_t *r, int64_t *v);
/* A long that must fit an Avro int (32 bits). */
int ferry_avro_read_int(ferry_avro_reader_t *r, int32_t *v);
/* One byte, 0 or 1. */
int ferry_avro_read_boolean(ferry_avro_reader_t *r, int *v);
int ferry_avro_read_double(ferry_avro_reader_t *r, double *v);
/* bytes or string: *data points into the input, valid while it lives. */
int ferry_avro_read_bytes(ferry_avro_reader_t *r, const uint8_t **data, size_t *n);
int ferry_avro_read_fixed(ferry_avro_reader_t *r, size_t size, const uint8_t **data);
/* A union branch or enum symbol index, which must be below n. */
int ferry_avro_read_index(ferry_avro_reader_t *r, size_t n, size_t *index);
/* The item count of the next array or map block (0: the end). A negative
 * count's byte size is read and checked against the bytes left; *end is then
 * the reader offset at which the block's items must end, else 0. A count
 * above the bytes left is rejected: every item of ferry's messages takes at
 * least one byte. */
int ferry_avro_read_block(ferry_avro_reader_t *r, size_t *count, size_t *end);
/* After the last item of a block: fails unless the block announced no byte
 * size (end 0) or its items took exactly that many bytes. */
int ferry_avro_end_block(ferry_avro_reader_t *r, size_t end);

#endif
