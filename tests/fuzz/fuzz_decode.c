/* fuzz_decode.c - libFuzzer target over every decoder that reads untrusted
 * bytes: ferry_request_decode (Avro and JSON), the envelope decoders,
 * ferry_msg_peek and ferry_rowcodec_decode of a fixed table holding every
 * ferry type.
 *
 * Input: the first byte picks the decoder (its value modulo 9). Below 0x80 the
 * rest is a message BODY and the harness puts the right single-object header
 * in front, so that the fuzzer spends its time past the fingerprint check;
 * from 0x80 the rest is passed as is (framing errors, JSON requests).
 *
 * Beyond "no crash, no leak, no hang", whatever decodes must survive a round
 * trip: encode it again and decode that, and a row must come back identical
 * (kind and bytes), which is rowcodec's central promise.
 *
 * Build and run: see tests/fuzz/CMakeLists.txt. */
#include "avro_canon.h"
#include "protocol.h"
#include "rowcodec.h"

#include <stdlib.h>
#include <string.h>

static ferry_objset_t *set;
static const ferry_object_t *table;
static ferry_rowcodec_t *codec;
static ferry_buf_t framed = FERRY_BUF_INIT, again = FERRY_BUF_INIT;

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

static void fuzz_row(const uint8_t *msg, size_t len)
{
    const ferry_value_t *row, *row2;
    ferry_value_t copy[16];
    size_t n = table->nfields;
    char err[256];

    if (ferry_rowcodec_decode(codec, msg, len, &row, err, sizeof(err)))
        return;
    /* Encode reads the values while they still point into msg. */
    memcpy(copy, row, n * sizeof(*row));
    ferry_buf_reset(&again);
    if (ferry_rowcodec_encode(codec, copy, &again, err, sizeof(err)) ||
        ferry_rowcodec_decode(codec, again.data, again.len, &row2, err, sizeof(err)))
        abort();
    for (size_t i = 0; i < n; i++)
        if (!same_value(&copy[i], &row2[i]))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ferry_msg_type_t types[] = {
        FERRY_MSG_REQUEST,  FERRY_MSG_EXPORT_BEGIN, FERRY_MSG_TABLE_METADATA,
        FERRY_MSG_TABLE_END, FERRY_MSG_EXPORT_END,  FERRY_MSG_STATUS,
        FERRY_MSG_SCHEDULE, FERRY_MSG_ROW,          FERRY_MSG_UNKNOWN, /* peek */
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
        fp = t == FERRY_MSG_ROW ? ferry_rowcodec_fingerprint(codec) : ferry_msg_fingerprint(t);
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
    case FERRY_MSG_ROW:
        fuzz_row(msg, len);
        break;
    default:
        ferry_msg_peek(msg, len, &peeked, &fp, err, sizeof(err));
        break;
    }
    return 0;
}
