/* fuzz_decode.c - libFuzzer target over every decoder that reads untrusted
 * bytes: ferry_request_decode (Avro and JSON), the envelope decoders,
 * ferry_msg_peek and the reading of Rows messages (ferry_rowcodec_rows_open
 * and _next) of a fixed table holding every ferry type.
 *
 * Input: the first byte picks the decoder (its value modulo 11). Below 0x80 the
 * rest is a message BODY and the harness puts the right single-object header
 * in front (for Rows, the table's Rows fingerprint), so that the fuzzer spends
 * its time past the fingerprint check; from 0x80 the rest is passed as is
 * (framing errors, JSON requests).
 *
 * Beyond "no crash, no leak, no hang", whatever decodes must survive a round
 * trip: encode it again and decode that. Every row a Rows message gives (also
 * those before a fault further on) is encoded again, the bodies framed as a
 * new Rows message, and reading that must give the same rows, identical (kind
 * and bytes), in order, and then the end: rowcodec's central promise.
 *
 * Build and run: see tests/fuzz/CMakeLists.txt. */
#include "avro_canon.h"
#include "error.h"
#include "protocol.h"
#include "rowcodec.h"

#include <stdlib.h>
#include <string.h>

static ferry_objset_t *set;
static const ferry_object_t *table;
static ferry_rowcodec_t *codec;
static ferry_buf_t framed = FERRY_BUF_INIT, again = FERRY_BUF_INIT, bodies = FERRY_BUF_INIT;
/* The rows read from the input (values point into it), nrows * nfields. */
static ferry_value_t *kept;
static size_t kept_cap;

static void setup(void)
{
    static const struct {
        const char *name, *decl;
        int nullable;
    } cols[] = {
        {"id", "INTEGER", 0},     {"name", "TEXT", 1},          {"amount", "DECIMAL(10,2)", 1},
        {"whole", "NUMERIC(5)", 1}, {"ratio", "REAL", 1},       {"flag", "BOOLEAN", 0},
        {"born", "DATE", 1},      {"seen", "TIMESTAMP", 1},     {"data", "BLOB", 1},
        {"any thing", NULL, 1},
    };
    ferry_object_t *obj;
    char err[256];

    set = ferry_objset_new();
    obj = set ? ferry_objset_add(set, "fuzz table") : NULL;
    for (size_t i = 0; obj && i < sizeof(cols) / sizeof(cols[0]); i++)
        if (ferry_object_add_field(obj, cols[i].name, cols[i].decl, cols[i].nullable, NULL,
                                   i == 0))
            obj = NULL;
    if (!obj || ferry_rowcodec_new(obj, &codec, err, sizeof(err)))
        abort();
    table = obj;
}

static int same_value(const ferry_value_t *a, const ferry_value_t *b)
{
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case FERRY_V_INT: return a->i == b->i;
    case FERRY_V_REAL: return !memcmp(&a->d, &b->d, sizeof(double));
    case FERRY_V_TEXT:
    case FERRY_V_BLOB: return a->n == b->n && (!a->n || !memcmp(a->p, b->p, a->n));
    default: return 1;
    }
}

/* Decodes, and if that worked encodes and decodes again, which must work. */
#define ROUND_TRIP(type, decode, encode, free_fn)                                   \
    do {                                                                            \
        type *m = NULL, *m2 = NULL;                                                 \
        if (decode(msg, len, &m, err, sizeof(err)) == 0) {                          \
            ferry_buf_reset(&again);                                                \
            if (encode(m, &again, err, sizeof(err)) ||                              \
                decode(again.data, again.len, &m2, err, sizeof(err)))               \
                abort();                                                            \
        }                                                                           \
        free_fn(m);                                                                 \
        free_fn(m2);                                                                \
    } while (0)

/* Keeps a shallow copy of row as row number k; it stays valid while the input
 * lives. */
static void keep(size_t k, const ferry_value_t *row)
{
    size_t n = table->nfields;

    if ((k + 1) * n > kept_cap) {
        size_t cap = kept_cap ? 2 * kept_cap : 64 * n;
        ferry_value_t *grown;
        while (cap < (k + 1) * n)
            cap *= 2;
        if (!(grown = realloc(kept, cap * sizeof(*kept))))
            abort();
        kept = grown;
        kept_cap = cap;
    }
    memcpy(&kept[k * n], row, n * sizeof(*row));
}

static void fuzz_rows(const uint8_t *msg, size_t len)
{
    const ferry_value_t *row;
    size_t n = table->nfields, nrows = 0;
    char err[256];
    int rc;

    if (ferry_rowcodec_rows_open(codec, msg, len, err, sizeof(err)))
        return;
    ferry_buf_reset(&bodies);
    /* Encode reads the values while they still point into msg. */
    while ((rc = ferry_rowcodec_rows_next(codec, &row, err, sizeof(err))) == 1) {
        keep(nrows++, row);
        if (ferry_rowcodec_encode(codec, row, &bodies, err, sizeof(err)))
            abort();
    }
    if (rc != 0 && rc != FERRY_EDECODE)
        abort();
    ferry_buf_reset(&again);
    if (ferry_rowcodec_frame_rows(codec, nrows, bodies.data, bodies.len, &again, err,
                                  sizeof(err)) ||
        ferry_rowcodec_rows_open(codec, again.data, again.len, err, sizeof(err)))
        abort();
    for (size_t k = 0; k < nrows; k++) {
        if (ferry_rowcodec_rows_next(codec, &row, err, sizeof(err)) != 1)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!same_value(&kept[k * n + i], &row[i]))
                abort();
    }
    if (ferry_rowcodec_rows_next(codec, &row, err, sizeof(err)) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ferry_msg_type_t types[] = {
        FERRY_MSG_REQUEST,  FERRY_MSG_EXPORT_BEGIN, FERRY_MSG_TABLE_METADATA,
        FERRY_MSG_TABLE_END, FERRY_MSG_EXPORT_END,  FERRY_MSG_STATUS,
        FERRY_MSG_SCHEDULE, FERRY_MSG_ROWS,         FERRY_MSG_UNKNOWN, /* peek */
        FERRY_MSG_PART_BEGIN, FERRY_MSG_EXPORT_ABORT,
    };
    ferry_msg_type_t t, peeked;
    const uint8_t *msg;
    size_t len;
    uint64_t fp;
    char err[256];

    if (!codec)
        setup();
    if (size == 0)
        return 0;
    t = types[data[0] % (sizeof(types) / sizeof(types[0]))];
    if (data[0] >= 0x80) {
        msg = data + 1;
        len = size - 1;
    } else {
        ferry_buf_reset(&framed);
        fp = t == FERRY_MSG_ROWS ? ferry_rowcodec_rows_fingerprint(codec)
                                 : ferry_msg_fingerprint(t);
        if (ferry_avro_frame_header(&framed, fp) ||
            ferry_buf_append(&framed, data + 1, size - 1))
            abort();
        msg = framed.data;
        len = framed.len;
    }
    switch (t) {
    case FERRY_MSG_REQUEST:
        ROUND_TRIP(ferry_request_t, ferry_request_decode, ferry_request_encode,
                   ferry_request_free);
        break;
    case FERRY_MSG_EXPORT_BEGIN:
        ROUND_TRIP(ferry_export_begin_t, ferry_export_begin_decode, ferry_export_begin_encode,
                   ferry_export_begin_free);
        break;
    case FERRY_MSG_TABLE_METADATA:
        ROUND_TRIP(ferry_table_metadata_t, ferry_table_metadata_decode,
                   ferry_table_metadata_encode, ferry_table_metadata_free);
        break;
    case FERRY_MSG_TABLE_END:
        ROUND_TRIP(ferry_table_end_t, ferry_table_end_decode, ferry_table_end_encode,
                   ferry_table_end_free);
        break;
    case FERRY_MSG_EXPORT_END:
        ROUND_TRIP(ferry_export_end_t, ferry_export_end_decode, ferry_export_end_encode,
                   ferry_export_end_free);
        break;
    case FERRY_MSG_STATUS:
        ROUND_TRIP(ferry_status_t, ferry_status_decode, ferry_status_encode, ferry_status_free);
        break;
    case FERRY_MSG_SCHEDULE:
        ROUND_TRIP(ferry_schedule_t, ferry_schedule_decode, ferry_schedule_encode,
                   ferry_schedule_free);
        break;
    case FERRY_MSG_PART_BEGIN:
        ROUND_TRIP(ferry_part_begin_t, ferry_part_begin_decode, ferry_part_begin_encode,
                   ferry_part_begin_free);
        break;
    case FERRY_MSG_EXPORT_ABORT:
        ROUND_TRIP(ferry_export_abort_t, ferry_export_abort_decode, ferry_export_abort_encode,
                   ferry_export_abort_free);
        break;
    case FERRY_MSG_ROWS:
        fuzz_rows(msg, len);
        break;
    default:
        ferry_msg_peek(msg, len, &peeked, &fp, err, sizeof(err));
        break;
    }
    return 0;
}
