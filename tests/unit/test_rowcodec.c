/* test_rowcodec.c - row schemas, row bodies and Rows messages:
 * decode(encode(v)) == v for every ferry type against every kind of value (the
 * identity the checksum relies on), the branch each value takes, the name
 * mapping, the published schemas, the reading of Rows messages (blocks as any
 * Avro writer may lay them out) and the decoder's refusal of every malformed
 * body and message. */
#include "avro_canon.h"
#include "error.h"
#include "rowcodec.h"

#include <avro.h>
#include "check_run.h"
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

struct col {
    const char *name, *decl;
    int nullable;
};

/* A new codec over a one-table objset built from cols; both freed by the
 * caller (codec first). */
static ferry_rowcodec_t *codec_of(const char *table, const struct col *cols, size_t n,
                                  ferry_objset_t **set)
{
    ferry_rowcodec_t *c = NULL;
    ferry_object_t *obj;
    char err[256] = "";

    *set = ferry_objset_new();
    ck_assert_ptr_nonnull(*set);
    obj = ferry_objset_add(*set, table);
    ck_assert_ptr_nonnull(obj);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(ferry_object_add_field(obj, cols[i].name, cols[i].decl, cols[i].nullable,
                                                NULL, 0), 0);
    ck_assert_msg(ferry_rowcodec_new(obj, &c, err, sizeof(err)) == 0, "%s", err);
    return c;
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

static void describe(const ferry_value_t *v, char *out, size_t size)
{
    static const char *const kinds[] = {"NULL", "INT", "REAL", "TEXT", "BLOB"};
    uint64_t bits;
    memcpy(&bits, &v->d, 8);
    if (v->kind == FERRY_V_INT)
        snprintf(out, size, "INT %lld", (long long)v->i);
    else if (v->kind == FERRY_V_REAL)
        snprintf(out, size, "REAL %.17g (%016llx)", v->d, (unsigned long long)bits);
    else
        snprintf(out, size, "%s (%zu bytes)", kinds[v->kind], v->n);
}

static double bits_to_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* Frames the nrows bodies in `bodies` as one Rows message, replacing msg. */
static void frame_rows(ferry_buf_t *msg, const ferry_rowcodec_t *c, size_t nrows,
                       const ferry_buf_t *bodies)
{
    char err[256] = "";

    ferry_buf_reset(msg);
    ck_assert_msg(ferry_rowcodec_frame_rows(c, nrows, bodies->data, bodies->len, msg, err,
                                            sizeof(err)) == 0, "%s", err);
}

/* Opens msg and reads rows until rows_next stops; *nread counts the rows it
 * gave. Returns what stopped it: rows_open's or rows_next's code. */
static int read_all(ferry_rowcodec_t *c, const void *msg, size_t len, size_t *nread, char *err,
                    size_t err_size)
{
    const ferry_value_t *row;
    int rc;

    *nread = 0;
    if ((rc = ferry_rowcodec_rows_open(c, msg, len, err, err_size)))
        return rc;
    while ((rc = ferry_rowcodec_rows_next(c, &row, err, err_size)) == 1)
        (*nread)++;
    return rc;
}

#define INT(x) {FERRY_V_INT, (x), 0, NULL, 0}
#define REAL(x) {FERRY_V_REAL, 0, (x), NULL, 0}
#define TEXT(s) {FERRY_V_TEXT, 0, 0, (s), sizeof(s) - 1}
#define BLOB(s) {FERRY_V_BLOB, 0, 0, (s), sizeof(s) - 1}
#define NUL {FERRY_V_NULL, 0, 0, NULL, 0}

/* ---- identity: every type x every value ---------------------------------- */

static const struct col types[] = {
    {"t", "TEXT", 1},           {"t", "VARCHAR(80)", 0},  {"i", "INTEGER", 1},
    {"i", "BIGINT", 0},         {"r", "REAL", 1},         {"r", "DOUBLE", 0},
    {"d", "DECIMAL(10,2)", 1},  {"d", "NUMERIC(5)", 0},   {"d", "DECIMAL(38,20)", 1},
    {"d", "DECIMAL(30,25)", 0}, {"d", "NUMERIC", 1},      {"b", "BOOLEAN", 1},
    {"b", "BOOL", 0},           {"dt", "DATE", 1},        {"dt", "DATE", 0},
    {"ts", "TIMESTAMP", 1},     {"ts", "DATETIME", 0},    {"bl", "BLOB", 1},
    {"bl", "BLOB", 0},          {"a", NULL, 1},           {"a", "", 0},
};

static const char long_text[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static ferry_value_t values[64];
static size_t nvalues;

static void make_values(void)
{
    static uint8_t all_bytes[256];
    const ferry_value_t v[] = {
        NUL,
        INT(0), INT(1), INT(-1), INT(2), INT(99999), INT(100000), INT(INT32_MAX),
        INT((int64_t)INT32_MAX + 1), INT(INT32_MIN), INT((int64_t)INT32_MIN - 1),
        INT(INT64_MAX), INT(INT64_MIN), INT(1700000000123LL), INT(-62135596800000LL),
        REAL(0.0), REAL(-0.0), REAL(1.25), REAL(0.1), REAL(12.34), REAL(1.005), REAL(-7.5),
        REAL(123.0), REAL(1e300), REAL(-1e-300), REAL(5e-324), REAL(9.2233720368547758e18),
        REAL(99999999.99), REAL(1e8), REAL(INFINITY), REAL(-INFINITY),
        REAL(bits_to_double(0x7ff8000000000123ULL)), REAL(bits_to_double(0xfff8000000000000ULL)),
        TEXT(""), TEXT("a"), TEXT("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e"), TEXT("a\0b"),
        TEXT("\xff\xfe not UTF-8"), TEXT("2024-01-01"), TEXT("12.34"),
        {FERRY_V_TEXT, 0, 0, long_text, sizeof(long_text) - 1},
        BLOB(""), BLOB("\0\0\0"), BLOB("\x01\x02 blob"),
        {FERRY_V_BLOB, 0, 0, all_bytes, sizeof(all_bytes)},
    };
    for (size_t i = 0; i < sizeof(all_bytes); i++)
        all_bytes[i] = (uint8_t)i;
    nvalues = sizeof(v) / sizeof(v[0]);
    ck_assert_uint_le(nvalues, sizeof(values) / sizeof(values[0]));
    memcpy(values, v, sizeof(v));
}

START_TEST(test_identity)
{
    const struct col *col = &types[_i];
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("t", col, 1, &set);
    ferry_buf_t b = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
    char err[256], what[96];

    make_values();
    for (size_t k = 0; k < nvalues; k++) {
        const ferry_value_t *row;
        int rc;

        describe(&values[k], what, sizeof(what));
        ferry_buf_reset(&b);
        rc = ferry_rowcodec_encode(c, &values[k], &b, err, sizeof(err));
        if (values[k].kind == FERRY_V_NULL && !col->nullable) {
            ck_assert_msg(rc == FERRY_EINVAL, "%s NOT NULL accepted NULL", col->decl);
            ck_assert_msg(strstr(err, "\"t\"") && strstr(err, "NOT NULL"), "%s", err);
            ck_assert_uint_eq(b.len, 0);
            continue;
        }
        ck_assert_msg(rc == 0, "%s: encode %s: %s", col->decl, what, err);
        rc = ferry_rowcodec_decode(c, b.data, b.len, &row, err, sizeof(err));
        ck_assert_msg(rc == 0, "%s: decode %s: %s", col->decl, what, err);
        ck_assert_msg(same_value(&row[0], &values[k]), "%s %s: came back as %s", col->decl,
                      what, (describe(&row[0], err, sizeof(err)), err));
        /* Text and blobs point into the body, not into a copy. */
        if (row[0].kind == FERRY_V_TEXT || row[0].kind == FERRY_V_BLOB)
            ck_assert((const uint8_t *)row[0].p >= b.data &&
                      (const uint8_t *)row[0].p + row[0].n <= b.data + b.len);

        /* The same through a Rows message, as rows travel. */
        frame_rows(&msg, c, 1, &b);
        ck_assert_msg(ferry_rowcodec_rows_open(c, msg.data, msg.len, err, sizeof(err)) == 0,
                      "%s", err);
        rc = ferry_rowcodec_rows_next(c, &row, err, sizeof(err));
        ck_assert_msg(rc == 1, "%s: rows_next %s: %d %s", col->decl, what, rc, err);
        ck_assert_msg(same_value(&row[0], &values[k]), "%s %s: came back from Rows as %s",
                      col->decl, what, (describe(&row[0], err, sizeof(err)), err));
        if (row[0].kind == FERRY_V_TEXT || row[0].kind == FERRY_V_BLOB)
            ck_assert((const uint8_t *)row[0].p >= msg.data &&
                      (const uint8_t *)row[0].p + row[0].n <= msg.data + msg.len);
        ck_assert_int_eq(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 0);
    }
    ferry_buf_free(&b);
    ferry_buf_free(&msg);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* ---- which branch a value takes ----------------------------------------- */

/* Branch labels: the Avro type name, the logical type for logical ones, the
 * full name for the record (defined in the first field, named in the others). */
#define TEXT_BYTES "ferry.rows.t_text"
static const struct {
    const char *decl;
    int nullable;
    ferry_value_t v;
    const char *branch;
} branches[] = {
    {"INTEGER", 1, NUL, "null"},
    {"INTEGER", 0, INT(5), "long"},
    {"INTEGER", 0, REAL(5.0), "double"},
    {"INTEGER", 0, TEXT("5"), "string"},
    {"INTEGER", 0, BLOB("5"), "bytes"},
    {"TEXT", 1, TEXT("x"), "string"},
    {"TEXT", 1, INT(1), "long"},
    {"REAL", 1, REAL(1.5), "double"},
    {"REAL", 1, INT(2), "long"},
    {"BLOB", 1, BLOB("x"), "bytes"},
    {"BLOB", 1, TEXT("x"), "string"},
    {"BOOLEAN", 1, INT(0), "boolean"},
    {"BOOLEAN", 1, INT(1), "boolean"},
    {"BOOLEAN", 1, INT(2), "long"},
    {"BOOLEAN", 1, INT(-1), "long"},
    {"BOOLEAN", 1, TEXT("true"), "string"},
    {"DATE", 1, INT(19000), "date"},
    {"DATE", 1, INT(INT32_MIN), "date"},
    {"DATE", 1, INT((int64_t)INT32_MAX + 1), "long"},
    {"DATE", 1, TEXT("2024-01-01"), "string"},
    {"TIMESTAMP", 1, INT(1700000000123LL), "timestamp-millis"},
    {"TIMESTAMP", 1, INT(INT64_MIN), "timestamp-millis"},
    {"TIMESTAMP", 1, REAL(1.5), "double"},
    {"TIMESTAMP", 1, TEXT("2024-01-01 10:00:00"), "string"},
    {"DECIMAL(10,2)", 1, REAL(12.34), "decimal"},
    {"DECIMAL(10,2)", 1, REAL(0.1), "decimal"},
    {"DECIMAL(10,2)", 1, REAL(-99999999.99), "decimal"},
    {"DECIMAL(10,2)", 1, REAL(1e8), "double"},     /* 10^10 unscaled: too many digits */
    {"DECIMAL(10,2)", 1, REAL(1.005), "double"},   /* not a whole number of cents */
    {"DECIMAL(10,2)", 1, REAL(-0.0), "double"},    /* the decimal 0 decodes as +0.0 */
    {"DECIMAL(10,2)", 1, REAL(NAN), "double"},
    {"DECIMAL(10,2)", 1, REAL(INFINITY), "double"},
    {"DECIMAL(10,2)", 1, INT(5), "long"},          /* scale 2 would decode as REAL */
    {"DECIMAL(10,2)", 1, TEXT("n/a"), "string"},
    {"NUMERIC(5)", 1, INT(99999), "decimal"},
    {"NUMERIC(5)", 1, INT(-99999), "decimal"},
    {"NUMERIC(5)", 1, INT(100000), "long"},
    {"NUMERIC(5)", 1, REAL(5.0), "double"},        /* scale 0 would decode as INT */
    {"NUMERIC", 1, INT(INT64_MIN), "decimal"},     /* precision 38 takes any int64 */
    {"DECIMAL(30,15)", 1, REAL(0.5), "decimal"},
    {"DECIMAL(30,25)", 1, REAL(0.5), "double"},    /* unscaled past 64 bits */
    {NULL, 1, INT(1), "long"},
    {NULL, 1, REAL(1), "double"},
    {NULL, 1, TEXT("x"), "string"},
    {NULL, 1, BLOB("x"), "bytes"},
    /* TEXT that is not UTF-8 (RFC 3629) travels in the record of its own. */
    {"TEXT", 1, TEXT("\xff\xfe" "A"), TEXT_BYTES},
    {"TEXT", 1, TEXT("\xc0\x80"), TEXT_BYTES},         /* overlong NUL */
    {"TEXT", 1, TEXT("\xe0\x80\xaf"), TEXT_BYTES},     /* overlong '/' */
    {"TEXT", 1, TEXT("\xf0\x80\x80\xaf"), TEXT_BYTES}, /* overlong '/' */
    {"TEXT", 1, TEXT("\xed\xa0\x80"), TEXT_BYTES},     /* surrogate U+D800 */
    {"TEXT", 1, TEXT("\xed\xbf\xbf"), TEXT_BYTES},     /* surrogate U+DFFF */
    {"TEXT", 1, TEXT("\xf4\x90\x80\x80"), TEXT_BYTES}, /* U+110000 */
    {"TEXT", 1, TEXT("\xf5\x80\x80\x80"), TEXT_BYTES},
    {"TEXT", 1, TEXT("\xe2\x82"), TEXT_BYTES},         /* cut short */
    {"TEXT", 1, TEXT("\x80"), TEXT_BYTES},             /* a lone continuation byte */
    {"TEXT", 1, TEXT("\xc3" "A"), TEXT_BYTES},           /* a lead without continuation */
    {"TEXT", 1, TEXT("01234567\xff"), TEXT_BYTES},      /* past the 8-byte ASCII skip */
    {"TEXT", 1, TEXT("0123456789abcdef\xed\xa0\x80"), TEXT_BYTES},
    {"INTEGER", 1, TEXT("\xff"), TEXT_BYTES},
    {"BLOB", 1, TEXT("\xff"), TEXT_BYTES},
    {NULL, 1, TEXT("\xff"), TEXT_BYTES},
    {"TEXT", 1, TEXT("a\0b"), "string"},                /* NUL is U+0000 */
    {"TEXT", 1, TEXT("\xc2\x80"), "string"},             /* U+0080 */
    {"TEXT", 1, TEXT("\xed\x9f\xbf"), "string"},         /* U+D7FF */
    {"TEXT", 1, TEXT("\xee\x80\x80"), "string"},         /* U+E000 */
    {"TEXT", 1, TEXT("\xef\xbf\xbf"), "string"},         /* U+FFFF */
    {"TEXT", 1, TEXT("\xf4\x8f\xbf\xbf"), "string"},     /* U+10FFFF */
    {"TEXT", 1, TEXT("0123456789abcdef\xf0\x9d\x84\x9e"), "string"},
    {"BLOB", 1, BLOB("\xff"), "bytes"},                /* a BLOB stays a BLOB */
};

static const char *branch_label(const char *schema_json, size_t index)
{
    static char label[32];
    json_t *root = json_loads(schema_json, 0, NULL);
    json_t *u = json_object_get(json_array_get(json_object_get(root, "fields"), 0), "type");
    json_t *b = json_array_get(u, index);
    const char *s = json_is_string(b) ? json_string_value(b)
                    : json_object_get(b, "logicalType")
                        ? json_string_value(json_object_get(b, "logicalType"))
                        : json_string_value(json_object_get(b, "name"));
    snprintf(label, sizeof(label), "%s", s ? s : "?");
    json_decref(root);
    return label;
}

START_TEST(test_branch)
{
    struct col col = {"c", branches[_i].decl, branches[_i].nullable};
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("t", &col, 1, &set);
    ferry_buf_t b = FERRY_BUF_INIT;
    const ferry_value_t *row;
    char err[256];
    const char *label;

    ck_assert_int_eq(ferry_rowcodec_encode(c, &branches[_i].v, &b, err, sizeof(err)), 0);
    /* Byte 0 of the body: the zigzag union index of the only field. */
    label = branch_label(ferry_rowcodec_schema_json(c), b.data[0] >> 1);
    ck_assert_msg(!strcmp(label, branches[_i].branch), "%s: took %s, expected %s",
                  branches[_i].decl ? branches[_i].decl : "(none)", label, branches[_i].branch);
    ck_assert_int_eq(ferry_rowcodec_decode(c, b.data, b.len, &row, err, sizeof(err)), 0);
    ck_assert(same_value(row, &branches[_i].v));
    ferry_buf_free(&b);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* ---- the schema --------------------------------------------------------- */

static const struct col reference[] = {
    {"id", "INTEGER", 0},     {"name", "VARCHAR(80)", 1}, {"amount", "DECIMAL(10,2)", 1},
    {"rate", "REAL", 1},      {"ok", "BOOLEAN", 0},       {"born", "DATE", 1},
    {"seen", "TIMESTAMP", 1}, {"data", "BLOB", 1},        {"any thing", NULL, 1},
};

/* Pinned: changing any of this changes the fingerprint on the wire, and every
 * importer of an older ferry would refuse the rows. */
static const char reference_canonical[] =
        "{\"name\":\"ferry.rows.Order_Line_809abf45\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"id\",\"type\":[\"long\",\"double\",\"string\",\"bytes\","
        "{\"name\":\"ferry.rows.Order_Line_809abf45_text\",\"type\":\"record\",\"fields\":"
        "[{\"name\":\"value\",\"type\":\"bytes\"}]}]},"
        "{\"name\":\"name\",\"type\":[\"null\",\"string\",\"long\",\"double\",\"bytes\","
        "\"ferry.rows.Order_Line_809abf45_text\"]},"
        "{\"name\":\"amount\",\"type\":[\"null\",{\"name\":\"ferry.rows.Order_Line_809abf45_amount_"
        "decimal\",\"type\":\"fixed\",\"size\":16},\"long\",\"double\",\"string\",\"bytes\","
        "\"ferry.rows.Order_Line_809abf45_text\"]},"
        "{\"name\":\"rate\",\"type\":[\"null\",\"double\",\"long\",\"string\",\"bytes\","
        "\"ferry.rows.Order_Line_809abf45_text\"]},"
        "{\"name\":\"ok\",\"type\":[\"boolean\",\"long\",\"double\",\"string\",\"bytes\","
        "\"ferry.rows.Order_Line_809abf45_text\"]},"
        "{\"name\":\"born\",\"type\":[\"null\",\"int\",\"long\",\"double\",\"string\",\"bytes\","
        "\"ferry.rows.Order_Line_809abf45_text\"]},"
        "{\"name\":\"seen\",\"type\":[\"null\",\"long\",\"double\",\"string\",\"bytes\","
        "\"ferry.rows.Order_Line_809abf45_text\"]},"
        "{\"name\":\"data\",\"type\":[\"null\",\"bytes\",\"long\",\"double\",\"string\","
        "\"ferry.rows.Order_Line_809abf45_text\"]},"
        "{\"name\":\"any_thing_2461f955\",\"type\":[\"null\",\"long\",\"double\",\"string\","
        "\"bytes\",\"ferry.rows.Order_Line_809abf45_text\"]}]}";

START_TEST(test_reference_schema_is_pinned)
{
    const char *canonical = reference_canonical;
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("Order Line", reference, 9, &set);
    ferry_buf_t canon = FERRY_BUF_INIT;
    char err[256];

    ck_assert_int_eq(ferry_avro_canonical_form(ferry_rowcodec_schema_json(c), &canon, err,
                                               sizeof(err)), 0);
    ck_assert_msg(canon.len == strlen(canonical) && !memcmp(canon.data, canonical, canon.len),
                  "canonical form changed:\n%.*s", (int)canon.len, canon.data);
    ck_assert(ferry_rowcodec_fingerprint(c) == ferry_avro_crc64(canonical, strlen(canonical)));
    ferry_buf_free(&canon);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* What the canonical form drops but other readers need. */
START_TEST(test_published_schema_keeps_logical_types_and_names)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("Order Line", reference, 9, &set);
    json_t *root = json_loads(ferry_rowcodec_schema_json(c), 0, NULL), *f;
    avro_schema_t parsed;
    size_t i;

    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(root, "namespace")), "ferry.rows");
    ck_assert_str_eq(json_string_value(json_object_get(root, "ferry.table")), "Order Line");
    json_array_foreach(json_object_get(root, "fields"), i, f) {
        ck_assert_str_eq(json_string_value(json_object_get(f, "ferry.column")), reference[i].name);
        ck_assert_str_eq(json_string_value(json_object_get(f, "ferry.type")),
                         ferry_type_name(ferry_type_from_decl(reference[i].decl, NULL, NULL)));
        /* Nullable fields default to null, so a later field can be added. */
        ck_assert_int_eq(json_object_get(f, "default") != NULL, reference[i].nullable);
        ck_assert_str_eq(json_string_value(json_object_get(f, "name")),
                         ferry_rowcodec_field_name(c, i));
    }
    f = json_array_get(json_object_get(json_array_get(json_object_get(root, "fields"), 2), "type"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(f, "logicalType")), "decimal");
    ck_assert_int_eq(json_integer_value(json_object_get(f, "precision")), 10);
    ck_assert_int_eq(json_integer_value(json_object_get(f, "scale")), 2);
    f = json_array_get(json_object_get(json_array_get(json_object_get(root, "fields"), 5), "type"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(f, "logicalType")), "date");
    f = json_array_get(json_object_get(json_array_get(json_object_get(root, "fields"), 6), "type"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(f, "logicalType")), "timestamp-millis");
    ck_assert_int_eq(avro_schema_from_json_length(ferry_rowcodec_schema_json(c),
                                                  strlen(ferry_rowcodec_schema_json(c)), &parsed), 0);
    avro_schema_decref(parsed);
    json_decref(root);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* A Rows message's schema is {"type":"array","items":<row schema>}: what any
 * Avro reader builds from the row schema in TableMetadata. The expected
 * fingerprints are computed here from that text and from the pinned canonical
 * form, not taken from the codec. */
START_TEST(test_rows_schema_is_the_array_of_the_row_schema)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("Order Line", reference, 9, &set);
    ferry_buf_t array = FERRY_BUF_INIT, canon = FERRY_BUF_INIT;
    json_t *rows, *row;
    avro_schema_t parsed;
    uint64_t want;
    char err[256];

    ck_assert_int_eq(ferry_buf_printf(&array, "{\"type\":\"array\",\"items\":%s}",
                                      ferry_rowcodec_schema_json(c)), 0);
    ck_assert_msg(ferry_avro_fingerprint((const char *)array.data, &want, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_msg(ferry_rowcodec_rows_fingerprint(c) == want, "Rows fingerprint %016llx, "
                  "expected %016llx", (unsigned long long)ferry_rowcodec_rows_fingerprint(c),
                  (unsigned long long)want);
    /* The canonical form of an array is {"type":"array","items":<canonical items>}. */
    ck_assert_int_eq(ferry_buf_printf(&canon, "{\"type\":\"array\",\"items\":%s}",
                                      reference_canonical), 0);
    ck_assert(ferry_rowcodec_rows_fingerprint(c) == ferry_avro_crc64(canon.data, canon.len));
    ck_assert(ferry_rowcodec_rows_fingerprint(c) != ferry_rowcodec_fingerprint(c));

    /* The published Rows schema is that array, with the row schema as published. */
    rows = json_loads(ferry_rowcodec_rows_schema_json(c), 0, NULL);
    row = json_loads(ferry_rowcodec_schema_json(c), 0, NULL);
    ck_assert_ptr_nonnull(rows);
    ck_assert_ptr_nonnull(row);
    ck_assert_uint_eq(json_object_size(rows), 2);
    ck_assert_str_eq(json_string_value(json_object_get(rows, "type")), "array");
    ck_assert(json_equal(json_object_get(rows, "items"), row));
    ck_assert_int_eq(avro_schema_from_json_length(ferry_rowcodec_rows_schema_json(c),
                                                  strlen(ferry_rowcodec_rows_schema_json(c)),
                                                  &parsed), 0);
    avro_schema_decref(parsed);
    json_decref(rows);
    json_decref(row);
    ferry_buf_free(&array);
    ferry_buf_free(&canon);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* Decimal precision defaults to 38 and is capped there; scale is clamped to it. */
static const struct {
    const char *decl;
    int precision, scale;
} decimals[] = {
    {"DECIMAL(10,2)", 10, 2}, {"NUMERIC", 38, 0},      {"DECIMAL(50,3)", 38, 3},
    {"NUMERIC(5)", 5, 0},     {"DECIMAL(4,9)", 4, 4},
};

START_TEST(test_decimal_parameters)
{
    struct col col = {"d", decimals[_i].decl, 1};
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("t", &col, 1, &set);
    json_t *root = json_loads(ferry_rowcodec_schema_json(c), 0, NULL);
    json_t *fixed = json_array_get(
        json_object_get(json_array_get(json_object_get(root, "fields"), 0), "type"), 1);

    ck_assert_int_eq(json_integer_value(json_object_get(fixed, "precision")), decimals[_i].precision);
    ck_assert_int_eq(json_integer_value(json_object_get(fixed, "scale")), decimals[_i].scale);
    ck_assert_int_eq(json_integer_value(json_object_get(fixed, "size")), 16);
    json_decref(root);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* ---- decimals every reader reads as ferry does --------------------------- */

/* The unscaled value of the decimal in a body of one NOT NULL decimal field
 * (branch 0), or 0 with *is_decimal 0 when the value took another branch. */
static int64_t body_unscaled(const ferry_buf_t *b, int *is_decimal)
{
    uint64_t u = 0;

    *is_decimal = b->len == 17 && b->data[0] == 0;
    if (!*is_decimal)
        return 0;
    for (int k = 9; k < 17; k++)
        u = (u << 8) | b->data[k];
    for (int k = 1; k < 9; k++)
        ck_assert_uint_eq(b->data[k], (u >> 63) ? 0xff : 0);
    return (int64_t)u;
}

/* Encodes x in c (one NOT NULL decimal field of scale `scale`) and checks the
 * two promises: a decimal written is one that glibc's strtod (correctly
 * rounded, like Python's float(Decimal) and Java's BigDecimal.doubleValue)
 * reads as exactly x, and ferry's own decoder gives back x bit for bit.
 * Returns whether the decimal branch was taken; *unscaled its value. */
static int check_real(ferry_rowcodec_t *c, int scale, double x, int64_t *unscaled)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    ferry_value_t v = REAL(x);
    const ferry_value_t *row;
    char err[256], text[64];
    int is_decimal;

    v.d = x;
    ck_assert_msg(ferry_rowcodec_encode(c, &v, &b, err, sizeof(err)) == 0, "%s", err);
    *unscaled = body_unscaled(&b, &is_decimal);
    if (is_decimal) {
        double back;
        snprintf(text, sizeof(text), "%llde-%d", (long long)*unscaled, scale);
        back = strtod(text, NULL);
        ck_assert_msg(!memcmp(&back, &x, 8), "%.17g at scale %d written as %s, which reads as "
                      "%.17g", x, scale, text, back);
    } else {
        ck_assert_msg(b.len == 9 && b.data[0] == 4, /* [decimal, long, double, ...] */
                      "%.17g at scale %d: neither decimal nor "
                      "double (%zu bytes, branch byte %u)", x, scale, b.len, b.data[0]);
    }
    ck_assert_msg(ferry_rowcodec_decode(c, b.data, b.len, &row, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_msg(row[0].kind == FERRY_V_REAL && !memcmp(&row[0].d, &x, 8),
                  "%.17g at scale %d (%s) decoded as %.17g", x, scale,
                  is_decimal ? text : "double", row[0].d);
    ferry_buf_free(&b);
    return is_decimal;
}

static const struct {
    const char *decl;
    double x;
    int decimal;      /* whether it takes the decimal branch */
    int64_t unscaled; /* and the decimal it is */
} exact_decimals[] = {
    /* 1e23 is no double: x * 1e23 rounds to ...644, whose decimal reads as
     * the double below x; ...645 is the one that reads as x. */
    {"DECIMAL(38,23)", 7.019261668669645e-08, 1, 7019261668669645LL},
    {"DECIMAL(38,23)", 0.0, 1, 0},
    {"DECIMAL(38,23)", -0.0, 0, 0},                 /* the decimal 0 reads as +0.0 */
    {"DECIMAL(38,23)", 1e-23, 1, 1},
    {"DECIMAL(38,23)", 0.5, 0, 0},                  /* 5 * 10^22: past 64 bits */
    {"DECIMAL(38,30)", 1e-30, 1, 1},
    {"DECIMAL(38,30)", 5e-324, 0, 0},
    {"DECIMAL(38,20)", 0.01, 1, 1000000000000000000LL},
    {"DECIMAL(38,20)", 0.1, 0, 0},                  /* 10^19: past 64 bits */
    {"DECIMAL(38,10)", 123456789.123, 1, 1234567891230000000LL}, /* its shortest decimal */
    {"DECIMAL(18,17)", 0.30000000000000004, 1, 30000000000000004LL},
    {"DECIMAL(38,16)", 0.30000000000000004, 0, 0},  /* its 17th digit is past scale 16 */
    {"DECIMAL(10,2)", 0.1, 1, 10},
    {"DECIMAL(10,2)", 0.07, 1, 7},
    {"DECIMAL(10,2)", 12.34, 1, 1234},
    {"DECIMAL(10,2)", -99999999.99, 1, -9999999999LL},
    {"DECIMAL(10,2)", 1e8, 0, 0},                   /* 10^10: more digits than 10 */
    {"DECIMAL(10,2)", 1.005, 0, 0},                 /* 1.00499999999999989...: no cent */
    {"DECIMAL(10,2)", 1.0 / 3, 0, 0},
    {"DECIMAL(30,15)", 0.5, 1, 500000000000000LL},
    {"DECIMAL(38,2)", 9007199254740993.0, 1, 900719925474099200LL}, /* 2^53 + 2 */
    {"DECIMAL(38,1)", 1e300, 0, 0},
    {"DECIMAL(38,1)", INFINITY, 0, 0},
    {"DECIMAL(38,1)", NAN, 0, 0},
};

START_TEST(test_decimal_reads_back_exactly)
{
    struct col col = {"d", exact_decimals[_i].decl, 0};
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("t", &col, 1, &set);
    int64_t unscaled;
    int decimal = check_real(c, ferry_objset_at(set, 0)->fields[0].scale, exact_decimals[_i].x,
                             &unscaled);

    ck_assert_msg(decimal == exact_decimals[_i].decimal, "%s %.17g: decimal branch %d, expected %d",
                  exact_decimals[_i].decl, exact_decimals[_i].x, decimal,
                  exact_decimals[_i].decimal);
    if (decimal)
        ck_assert_msg(unscaled == exact_decimals[_i].unscaled, "%s %.17g: unscaled %lld, "
                      "expected %lld", exact_decimals[_i].decl, exact_decimals[_i].x,
                      (long long)unscaled, (long long)exact_decimals[_i].unscaled);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A few thousand doubles (fixed seed) at every scale 0..38 of DECIMAL(38,s):
 * arbitrary finite bits, and doubles read from decimals of up to 15 digits.
 * Every one keeps both promises of check_real; a decimal of up to 15 digits
 * whose last digit is within the scale, and whose unscaled value fits 64
 * bits, must take the decimal branch (15 digits always survive a double). */
START_TEST(test_decimal_random_doubles)
{
    enum { NSCALES = 39, NVALUES = 6000 };
    ferry_objset_t *sets[NSCALES];
    ferry_rowcodec_t *codecs[NSCALES];
    uint64_t seed = 0x5eed0015u;
    size_t taken = 0, must = 0;

    for (int s = 0; s < NSCALES; s++) {
        char decl[32];
        struct col col = {"d", decl, 0};
        snprintf(decl, sizeof(decl), "DECIMAL(38,%d)", s);
        codecs[s] = codec_of("t", &col, 1, &sets[s]);
    }
    for (int i = 0; i < NVALUES; i++) {
        int s = i % NSCALES, k = 0, fits = 0;
        uint64_t r = xorshift(&seed);
        double x;
        int64_t unscaled;

        if (i % 3 == 0) {
            memcpy(&x, &r, 8);
            if (!isfinite(x))
                continue;
        } else {
            /* digits * 10^-k, digits of up to 15 (or 6) digits, k in 0..32 */
            int64_t digits = (int64_t)(r % (i % 3 == 1 ? 1000000000000000ULL : 1000000ULL));
            char text[48];
            int64_t u = digits;
            k = (int)(xorshift(&seed) % 33);
            if (r >> 63)
                digits = -digits;
            snprintf(text, sizeof(text), "%llde-%d", (long long)digits, k);
            x = strtod(text, NULL);
            fits = k <= s;
            for (int z = k; fits && z < s; z++)
                fits = u <= INT64_MAX / 10 && (u *= 10, 1);
        }
        if (check_real(codecs[s], s, x, &unscaled))
            taken++;
        else
            ck_assert_msg(!fits || s == 0, "%.17g at scale %d: a decimal that fits took the "
                          "double branch", x, s);
        must += fits && s > 0;
    }
    /* Not a test that cannot fail: many values did go through the decimal branch. */
    ck_assert_msg(taken >= must && must > NVALUES / 8, "%zu decimals, %zu required", taken, must);
    for (int s = 0; s < NSCALES; s++) {
        ferry_rowcodec_destroy(codecs[s]);
        ferry_objset_destroy(sets[s]);
    }
}
END_TEST

/* Name mapping, pinned (it is part of the fingerprint). */
static const struct {
    const char *column;
    const char *field;
} names[] = {
    {"id", "id"},
    {"_ok9", "_ok9"},
    {"order", "order"},
    {"a b", "a_b_6ec37bf3"},
    {"1x", "_1x_34edb98c"},
    {"", "__a4d7a795"},
    {"\"quoted\"", "_quoted__8c1eb143"},
    {"caf\xc3\xa9", "caf___c1272ea9"},
};

START_TEST(test_field_names)
{
    struct col cols[sizeof(names) / sizeof(names[0])];
    ferry_objset_t *set;
    ferry_rowcodec_t *c;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        cols[i] = (struct col){names[i].column, "TEXT", 1};
    c = codec_of("t", cols, sizeof(names) / sizeof(names[0]), &set);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_str_eq(ferry_rowcodec_field_name(c, i), names[i].field);
    ck_assert_ptr_null(ferry_rowcodec_field_name(c, 99));
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

static const struct {
    const char *table;
    const char *record;
} records[] = {
    {"Queue", "Queue"},
    {"my table", "my_table_c654fed9"},
    {"int", "int_291bbb5f"},   /* a primitive type name cannot name a record */
    {"1st", "_1st_2d35fb62"},
};

START_TEST(test_record_names)
{
    struct col col = {"x", "TEXT", 1};
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of(records[_i].table, &col, 1, &set);
    json_t *root = json_loads(ferry_rowcodec_schema_json(c), 0, NULL);

    ck_assert_str_eq(json_string_value(json_object_get(root, "name")), records[_i].record);
    json_decref(root);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* A mapped name that lands on an existing column name moves on to "_2"; a
 * valid name is never the one to move. Repeated names (only possible in
 * decoded metadata) are mapped too. */
START_TEST(test_name_collisions)
{
    char taken[64];
    struct col cols[3] = {{"a b", "TEXT", 1}, {taken, "TEXT", 1}, {"x", "TEXT", 1}};
    struct col dup[2] = {{"x", "TEXT", 1}, {"x", "INTEGER", 1}};
    ferry_objset_t *set;
    ferry_rowcodec_t *c;
    char want[80];

    snprintf(taken, sizeof(taken), "a_b_%08x",
             (unsigned)(ferry_avro_crc64("a b", 3) & 0xffffffffu));
    c = codec_of("t", cols, 3, &set);
    snprintf(want, sizeof(want), "%s_2", taken);
    ck_assert_str_eq(ferry_rowcodec_field_name(c, 0), want);
    ck_assert_str_eq(ferry_rowcodec_field_name(c, 1), taken);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);

    c = codec_of("t", dup, 2, &set);
    snprintf(want, sizeof(want), "x_%08x", (unsigned)(ferry_avro_crc64("x", 1) & 0xffffffffu));
    ck_assert_str_eq(ferry_rowcodec_field_name(c, 0), "x");
    ck_assert_str_eq(ferry_rowcodec_field_name(c, 1), want);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

START_TEST(test_invalid_utf8_name_rejected)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *obj = ferry_objset_add(set, "t");
    ferry_rowcodec_t *c = (ferry_rowcodec_t *)1;
    char err[256] = "";

    ck_assert_int_eq(ferry_object_add_field(obj, "bad\xff", "TEXT", 1, NULL, 0), 0);
    ck_assert_int_eq(ferry_rowcodec_new(obj, &c, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "UTF-8"), "%s", err);
    ferry_objset_destroy(set);
    ferry_rowcodec_destroy(NULL);
}
END_TEST

/* Regression: an object with a huge field count (built by hand, not decoded)
 * stalled the codec's name assignment, which compares every name with every
 * other. SQLite's column limit is the codec's. */
static const struct {
    size_t fields;
    int rc;
} field_limits[] = {{2000, 0}, {2001, FERRY_EINVAL}};

START_TEST(test_field_count_limit)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *obj = ferry_objset_add(set, "wide");
    ferry_rowcodec_t *c = (ferry_rowcodec_t *)1;
    char err[256] = "", name[32];

    for (size_t i = 0; i < field_limits[_i].fields; i++) {
        snprintf(name, sizeof(name), "c%zu", i);
        ck_assert_int_eq(ferry_object_add_field(obj, name, "INTEGER", 1, NULL, 0), 0);
    }
    ck_assert_int_eq(ferry_rowcodec_new(obj, &c, err, sizeof(err)), field_limits[_i].rc);
    if (field_limits[_i].rc) {
        ck_assert_ptr_null(c);
        ck_assert_msg(strstr(err, "table \"wide\"") && strstr(err, "limit of 2000"), "%s", err);
    } else {
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(ferry_rowcodec_field_name(c, 1999), "c1999");
    }
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* 2000 columns whose names all map to one Avro name get that name and then
 * the suffixes _2.._2000, in column order, all distinct (the suffix search
 * resumes per base, so hostile metadata cannot stall the codec). */
START_TEST(test_many_columns_mapping_to_one_name)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *obj = ferry_objset_add(set, "dup");
    ferry_rowcodec_t *c = NULL;
    char err[256] = "", expect[64];
    const char *base;

    for (size_t i = 0; i < FERRY_OBJECT_MAX_FIELDS; i++)
        ck_assert_int_eq(ferry_object_add_field(obj, "a b", "TEXT", 1, NULL, 0), 0);
    ck_assert_int_eq(ferry_rowcodec_new(obj, &c, err, sizeof(err)), 0);
    base = ferry_rowcodec_field_name(c, 0);
    for (size_t i = 1; i < FERRY_OBJECT_MAX_FIELDS; i++) {
        snprintf(expect, sizeof(expect), "%s_%zu", base, i + 1);
        ck_assert_str_eq(ferry_rowcodec_field_name(c, i), expect);
    }
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* ---- bodies ------------------------------------------------------------- */

START_TEST(test_encode_appends_bodies_and_reuses_the_buffer)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("Order Line", reference, 9, &set);
    ferry_value_t row[9] = {INT(1), TEXT("n"), REAL(1.5), REAL(0.25), INT(1),
                            INT(3), INT(4), BLOB("b"), NUL};
    ferry_buf_t b = FERRY_BUF_INIT;
    const ferry_value_t *out1, *out2;
    uint8_t *data;
    size_t one;
    char err[256];

    ck_assert_int_eq(ferry_rowcodec_encode(c, row, &b, err, sizeof(err)), 0);
    one = b.len;
    ck_assert_int_eq(ferry_rowcodec_encode(c, row, &b, err, sizeof(err)), 0);
    ck_assert_uint_eq(b.len, 2 * one);
    ck_assert(!memcmp(b.data, b.data + one, one));
    /* A body is the fields alone, no header: id takes branch 0 ("long") and
     * is 1 (zigzag 02), then name takes branch 1 ("string"): "n". */
    ck_assert(!memcmp(b.data, "\x00\x02" "\x02\x02n", 5));
    ck_assert_int_eq(ferry_rowcodec_decode(c, b.data, one, &out1, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_rowcodec_decode(c, b.data + one, one, &out2, err, sizeof(err)), 0);
    ck_assert_ptr_eq(out1, out2); /* one values array, reused */
    for (int i = 0; i < 9; i++)
        ck_assert(same_value(&out2[i], &row[i]));

    /* Steady state: a reset buffer is refilled in place. */
    data = b.data;
    for (int n = 0; n < 1000; n++) {
        ferry_buf_reset(&b);
        ck_assert_int_eq(ferry_rowcodec_encode(c, row, &b, err, sizeof(err)), 0);
    }
    ck_assert_ptr_eq(b.data, data);

    /* A failed encode leaves the buffer as it was. */
    row[0] = (ferry_value_t)NUL;
    ck_assert_int_eq(ferry_rowcodec_encode(c, row, &b, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_uint_eq(b.len, one);
    ck_assert_msg(strstr(err, "Order Line") && strstr(err, "\"id\""), "%s", err);
    row[0] = (ferry_value_t){(ferry_vkind_t)42, 0, 0, NULL, 0};
    ck_assert_int_eq(ferry_rowcodec_encode(c, row, &b, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_uint_eq(b.len, one);
    ferry_buf_free(&b);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* A row of no columns is an empty body, and travels as one. */
START_TEST(test_table_without_columns)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("empty", NULL, 0, &set);
    ferry_buf_t b = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
    const ferry_value_t *row;
    size_t nread;
    char err[256];

    ck_assert_int_eq(ferry_rowcodec_encode(c, NULL, &b, err, sizeof(err)), 0);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(ferry_rowcodec_decode(c, b.data, b.len, &row, err, sizeof(err)), 0);
    frame_rows(&msg, c, 1, &b);
    ck_assert_msg(read_all(c, msg.data, msg.len, &nread, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(nread, 1);
    /* Rows of no bytes still come back one by one. */
    ferry_buf_reset(&msg);
    frame_rows(&msg, c, 3, &b);
    ck_assert_msg(read_all(c, msg.data, msg.len, &nread, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(nread, 3);
    /* Bytes framed as no rows are refused. */
    ck_assert_int_eq(ferry_rowcodec_frame_rows(c, 0, "x", 1, &msg, err, sizeof(err)), FERRY_EINVAL);
    ferry_buf_free(&b);
    ferry_buf_free(&msg);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* A table whose bodies are written by hand below: each field's branches are
 *   id     [long, double, string, bytes, text]
 *   name   [null, string, long, double, bytes, text]
 *   flag   [null, boolean, long, double, string, bytes, text]
 *   born   [null, int/date, long, double, string, bytes, text]
 *   amount [null, fixed/decimal, long, double, string, bytes, text]
 * where text is the record {value: bytes} of TEXT that is not UTF-8. */
static const struct col hand[] = {
    {"id", "INTEGER", 0}, {"name", "TEXT", 1}, {"flag", "BOOLEAN", 1},
    {"born", "DATE", 1},  {"amount", "DECIMAL(10,2)", 1},
};

#define GOOD_ID "\x00\x04"
#define GOOD_NAME "\x02\x02x"
#define GOOD_FLAG "\x02\x01"
#define GOOD_BORN "\x02\x04"
#define GOOD_AMOUNT "\x02" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x04\xd2"
#define GOOD GOOD_ID GOOD_NAME GOOD_FLAG GOOD_BORN GOOD_AMOUNT /* 26 bytes */
/* id 3, name NULL, flag false, born NULL, amount NULL: 7 bytes */
#define GOOD2 "\x00\x06" "\x00" "\x02\x00" "\x00" "\x00"

static const ferry_value_t good_row[5] = {INT(2), TEXT("x"), INT(1), INT(2), REAL(12.34)};
static const ferry_value_t good2_row[5] = {INT(3), NUL, INT(0), NUL, NUL};
/* id 4, name the TEXT ff fe (branch 5, the record: its bytes), the rest NULL */
#define GOOD3 "\x00\x08" "\x0a\x04\xff\xfe" "\x00" "\x00" "\x00"
static const ferry_value_t good3_row[5] = {INT(4), TEXT("\xff\xfe"), NUL, NUL, NUL};

#define BODY(s) s, sizeof(s) - 1

static const struct {
    const char *what;
    const char *body;
    size_t len;
    const char *column; /* named in errstr; NULL: the table only */
} bad_bodies[] = {
    {"trailing byte", BODY(GOOD "\x00"), NULL},
    {"union index past the branches", BODY("\x08\x04"), "id"},
    {"negative union index", BODY("\x01\x04"), "id"},
    {"11-byte varint", BODY("\x00\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"), "id"},
    {"negative length", BODY(GOOD_ID "\x02\x01"), "name"},
    {"length past the end", BODY(GOOD_ID "\x02\x0ax"), "name"},
    {"huge length", BODY(GOOD_ID "\x02\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01"), "name"},
    {"boolean 2", BODY(GOOD_ID GOOD_NAME "\x02\x02"), "flag"},
    {"date past 32 bits", BODY(GOOD_ID GOOD_NAME GOOD_FLAG "\x02\x80\x80\x80\x80\x10"), "born"},
    {"decimal wider than 64 bits",
     BODY(GOOD_ID GOOD_NAME GOOD_FLAG GOOD_BORN "\x02\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\x04\xd2"),
     "amount"},
    {"decimal cut short", BODY(GOOD_ID GOOD_NAME GOOD_FLAG GOOD_BORN "\x02\0\0\0"), "amount"},
    /* What python3-avro refuses (UnicodeDecodeError) or reads otherwise. */
    {"string that is not UTF-8", BODY(GOOD_ID "\x02\x04\xff\xfe"), "name"},
    {"string holding a surrogate", BODY(GOOD_ID "\x02\x06\xed\xa0\x80"), "name"},
    {"decimal of more digits than its precision (10^10 in DECIMAL(10,2))",
     BODY(GOOD_ID GOOD_NAME GOOD_FLAG GOOD_BORN "\x02" "\0\0\0\0\0\0\0\0\0\0\0\x02\x54\x0b\xe4\x00"),
     "amount"},
    {"decimal of more digits than its precision (-10^10)",
     BODY(GOOD_ID GOOD_NAME GOOD_FLAG GOOD_BORN "\x02\xff\xff\xff\xff\xff\xff\xff\xff"
          "\xff\xff\xff\xfd\xab\xf4\x1c\x00"),
     "amount"},
};

/* A message of the given Avro body behind the single-object header with fp. */
static void hand_message(ferry_buf_t *b, uint64_t fp, const void *body, size_t len)
{
    ferry_buf_reset(b);
    ck_assert_int_eq(ferry_avro_frame_header(b, fp), 0);
    ck_assert_int_eq(ferry_buf_append(b, body, len), 0);
}

static void assert_row(const ferry_value_t *got, const ferry_value_t *want, size_t n,
                       const char *what)
{
    char a[96], b[96];
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(same_value(&got[i], &want[i]), "%s field %zu: got %s, expected %s", what,
                      i, (describe(&got[i], a, sizeof(a)), a),
                      (describe(&want[i], b, sizeof(b)), b));
}

START_TEST(test_hand_written_body_decodes)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("hand", hand, 5, &set);
    ferry_buf_t enc = FERRY_BUF_INIT;
    const ferry_value_t *row;
    char err[256];

    ck_assert_msg(ferry_rowcodec_decode(c, GOOD, sizeof(GOOD) - 1, &row, err, sizeof(err)) == 0,
                  "%s", err);
    assert_row(row, good_row, 5, "GOOD");
    ck_assert_msg(ferry_rowcodec_decode(c, GOOD2, sizeof(GOOD2) - 1, &row, err, sizeof(err)) == 0,
                  "%s", err);
    assert_row(row, good2_row, 5, "GOOD2");
    ck_assert_msg(ferry_rowcodec_decode(c, GOOD3, sizeof(GOOD3) - 1, &row, err, sizeof(err)) == 0,
                  "%s", err);
    assert_row(row, good3_row, 5, "GOOD3");
    ck_assert_int_eq(ferry_rowcodec_encode(c, good3_row, &enc, err, sizeof(err)), 0);
    ck_assert_uint_eq(enc.len, sizeof(GOOD3) - 1);
    ck_assert(!memcmp(enc.data, GOOD3, enc.len));
    ferry_buf_reset(&enc);
    /* And ferry writes exactly those bytes. */
    ck_assert_int_eq(ferry_rowcodec_encode(c, good_row, &enc, err, sizeof(err)), 0);
    ck_assert_uint_eq(enc.len, sizeof(GOOD) - 1);
    ck_assert(!memcmp(enc.data, GOOD, enc.len));
    ferry_buf_free(&enc);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* Refused as a body, and as the first row of a Rows message, where the error
 * names the row too. */
START_TEST(test_decode_rejects_body)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("hand", hand, 5, &set);
    ferry_buf_t b = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
    const ferry_value_t *row;
    char err[256] = "", quoted[32] = "";
    size_t nread;

    if (bad_bodies[_i].column)
        snprintf(quoted, sizeof(quoted), "\"%s\"", bad_bodies[_i].column);
    ck_assert_msg(ferry_rowcodec_decode(c, bad_bodies[_i].body, bad_bodies[_i].len, &row, err,
                                        sizeof(err)) == FERRY_EDECODE,
                  "%s: accepted", bad_bodies[_i].what);
    ck_assert_msg(strstr(err, "\"hand\""), "%s: '%s'", bad_bodies[_i].what, err);
    ck_assert_msg(!*quoted || strstr(err, quoted), "%s: '%s' does not name %s",
                  bad_bodies[_i].what, err, quoted);

    ck_assert_int_eq(ferry_buf_append(&b, "\x02", 1), 0);
    ck_assert_int_eq(ferry_buf_append(&b, bad_bodies[_i].body, bad_bodies[_i].len), 0);
    ck_assert_int_eq(ferry_buf_append(&b, "\x00", 1), 0);
    hand_message(&msg, ferry_rowcodec_rows_fingerprint(c), b.data, b.len);
    ck_assert_msg(read_all(c, msg.data, msg.len, &nread, err, sizeof(err)) == FERRY_EDECODE,
                  "%s: accepted in a Rows message", bad_bodies[_i].what);
    ck_assert_msg(strstr(err, "\"hand\""), "%s: '%s'", bad_bodies[_i].what, err);
    ck_assert_msg(!*quoted || (strstr(err, quoted) && strstr(err, "row 1")),
                  "%s: '%s' does not name row 1 and %s", bad_bodies[_i].what, err, quoted);
    ferry_buf_free(&b);
    ferry_buf_free(&msg);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

START_TEST(test_decode_rejects_every_truncated_body)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("hand", hand, 5, &set);
    const ferry_value_t *row;
    char err[256];

    for (size_t len = 0; len < sizeof(GOOD) - 1; len++) {
        ck_assert_msg(ferry_rowcodec_decode(c, GOOD, len, &row, err, sizeof(err)) ==
                          FERRY_EDECODE, "prefix of %zu bytes accepted", len);
        ck_assert_msg(strstr(err, "\"hand\""), "prefix of %zu bytes: '%s'", len, err);
    }
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* ---- Rows messages ------------------------------------------------------ */

/* Row i of the reference table: id i, then values cycling through every kind,
 * non-NULL where the column is NOT NULL. */
static void reference_row(ferry_value_t *row, size_t i)
{
    row[0] = (ferry_value_t)INT((int64_t)i);
    for (size_t k = 1; k < 9; k++) {
        row[k] = values[(i * 7 + k * 3) % nvalues];
        if (row[k].kind == FERRY_V_NULL && !reference[k].nullable)
            row[k] = (ferry_value_t)INT((int64_t)(i % 2));
    }
}

/* A Rows message is the single-object header with the Rows fingerprint, one
 * block holding the bodies exactly as encoded, and the end of the array; it
 * is appended to what the buffer holds. */
START_TEST(test_frame_rows_layout)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("Order Line", reference, 9, &set);
    ferry_buf_t bodies = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
    uint64_t fp = ferry_rowcodec_rows_fingerprint(c);
    ferry_value_t row[9];
    const uint8_t *p;
    char err[256];

    make_values();
    for (size_t i = 0; i < 3; i++) {
        reference_row(row, i);
        ck_assert_msg(ferry_rowcodec_encode(c, row, &bodies, err, sizeof(err)) == 0, "%s", err);
    }
    ck_assert_int_eq(ferry_buf_append(&msg, "xy", 2), 0);
    ck_assert_msg(ferry_rowcodec_frame_rows(c, 3, bodies.data, bodies.len, &msg, err,
                                            sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(msg.len, 2 + FERRY_AVRO_HEADER_SIZE + 1 + bodies.len + 1);
    p = msg.data;
    ck_assert(!memcmp(p, "xy\xC3\x01", 4));
    for (int k = 0; k < 8; k++)
        ck_assert_int_eq(p[4 + k], (uint8_t)(fp >> (8 * k)));
    ck_assert_int_eq(p[12], 0x06); /* zigzag 3 */
    ck_assert(!memcmp(p + 13, bodies.data, bodies.len));
    ck_assert_int_eq(p[13 + bodies.len], 0x00);

    /* No rows: the header and the end of the array. */
    ferry_buf_reset(&msg);
    ck_assert_int_eq(ferry_rowcodec_frame_rows(c, 0, NULL, 0, &msg, err, sizeof(err)), 0);
    ck_assert_uint_eq(msg.len, FERRY_AVRO_HEADER_SIZE + 1);
    ck_assert_int_eq(msg.data[FERRY_AVRO_HEADER_SIZE], 0x00);
    ferry_buf_free(&bodies);
    ferry_buf_free(&msg);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* Every row comes back, in order, and then the end, which stays the end; the
 * next message through the same codec starts afresh. */
START_TEST(test_rows_round_trip_in_order)
{
    enum { NROWS = 200, NSECOND = 10 };
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("Order Line", reference, 9, &set);
    ferry_buf_t bodies = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
    ferry_value_t want[9];
    const ferry_value_t *row;
    char err[256], what[32];
    int rc;

    make_values();
    for (size_t i = 0; i < NROWS; i++) {
        reference_row(want, i);
        ck_assert_msg(ferry_rowcodec_encode(c, want, &bodies, err, sizeof(err)) == 0, "%s", err);
    }
    frame_rows(&msg, c, NROWS, &bodies);
    ck_assert_msg(ferry_rowcodec_rows_open(c, msg.data, msg.len, err, sizeof(err)) == 0, "%s",
                  err);
    for (size_t i = 0; i < NROWS; i++) {
        rc = ferry_rowcodec_rows_next(c, &row, err, sizeof(err));
        ck_assert_msg(rc == 1, "row %zu of %d: %d %s", i + 1, NROWS, rc, err);
        reference_row(want, i);
        snprintf(what, sizeof(what), "row %zu", i + 1);
        assert_row(row, want, 9, what);
    }
    ck_assert_int_eq(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 0);

    /* A second, shorter message: rows NROWS-1 down to NROWS-NSECOND. */
    ferry_buf_reset(&bodies);
    for (size_t i = NROWS; i > NROWS - NSECOND; i--) {
        reference_row(want, i - 1);
        ck_assert_int_eq(ferry_rowcodec_encode(c, want, &bodies, err, sizeof(err)), 0);
    }
    frame_rows(&msg, c, NSECOND, &bodies);
    ck_assert_int_eq(ferry_rowcodec_rows_open(c, msg.data, msg.len, err, sizeof(err)), 0);
    for (size_t i = NROWS; i > NROWS - NSECOND; i--) {
        ck_assert_int_eq(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 1);
        reference_row(want, i - 1);
        snprintf(what, sizeof(what), "second message, row id %zu", i - 1);
        assert_row(row, want, 9, what);
    }
    ck_assert_int_eq(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 0);
    ferry_buf_free(&bodies);
    ferry_buf_free(&msg);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

START_TEST(test_rows_empty_message_ends_at_once)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("hand", hand, 5, &set);
    ferry_buf_t none = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
    const ferry_value_t *row;
    char err[256];

    frame_rows(&msg, c, 0, &none);
    ck_assert_msg(ferry_rowcodec_rows_open(c, msg.data, msg.len, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 0);
    ferry_buf_free(&msg);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* Rows messages written by other Avro writers: the same two rows (GOOD, then
 * GOOD2) in any block layout the specification allows. */
static const struct {
    const char *what;
    const char *body;
    size_t len;
} layouts[] = {
    {"one block of two", BODY("\x04" GOOD GOOD2 "\x00")},
    {"two blocks of one", BODY("\x02" GOOD "\x02" GOOD2 "\x00")},
    /* count -2 (zigzag 03), then the block's size, 33 bytes (zigzag 42) */
    {"negative count with byte size", BODY("\x03\x42" GOOD GOOD2 "\x00")},
    /* count -1, 26 bytes (zigzag 34), then a block of count 1 */
    {"negative count, then a positive one", BODY("\x01\x34" GOOD "\x02" GOOD2 "\x00")},
};

START_TEST(test_rows_block_layouts)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("hand", hand, 5, &set);
    ferry_buf_t msg = FERRY_BUF_INIT;
    const ferry_value_t *row;
    char err[256];
    int rc;

    /* The sizes written into the layouts above. */
    ck_assert_uint_eq(sizeof(GOOD) - 1, 26);
    ck_assert_uint_eq(sizeof(GOOD2) - 1, 7);
    hand_message(&msg, ferry_rowcodec_rows_fingerprint(c), layouts[_i].body, layouts[_i].len);
    ck_assert_msg(ferry_rowcodec_rows_open(c, msg.data, msg.len, err, sizeof(err)) == 0, "%s: %s",
                  layouts[_i].what, err);
    rc = ferry_rowcodec_rows_next(c, &row, err, sizeof(err));
    ck_assert_msg(rc == 1, "%s: first row: %d %s", layouts[_i].what, rc, err);
    assert_row(row, good_row, 5, layouts[_i].what);
    rc = ferry_rowcodec_rows_next(c, &row, err, sizeof(err));
    ck_assert_msg(rc == 1, "%s: second row: %d %s", layouts[_i].what, rc, err);
    assert_row(row, good2_row, 5, layouts[_i].what);
    rc = ferry_rowcodec_rows_next(c, &row, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s: end: %d %s", layouts[_i].what, rc, err);
    ferry_buf_free(&msg);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* Malformed Rows bodies: the rows before the fault are given, then
 * FERRY_EDECODE naming the table (and what went wrong). */
static const struct {
    const char *what;
    const char *body;
    size_t len;
    size_t rows_before;
    const char *says; /* in errstr besides the table; NULL: nothing more */
} bad_messages[] = {
    {"count larger than the rows present", BODY("\x04" GOOD "\x00"), 1, "row 2"},
    {"count larger than the bytes left", BODY("\x7e" GOOD "\x00"), 0, "block count"},
    {"no end of the array", BODY("\x02" GOOD), 1, NULL},
    {"no block at all", BODY(""), 0, NULL},
    {"trailing bytes after the end", BODY("\x02" GOOD "\x00\x00"), 1, "trailing"},
    {"trailing bytes after an empty array", BODY("\x00\x02"), 0, "trailing"},
    {"block size past the end", BODY("\x01\x7e" GOOD "\x00"), 0, "block size"},
    {"negative block size", BODY("\x01\x01" GOOD "\x00"), 0, "block size"},
    /* count -1 with 27 (zigzag 36) and 25 bytes (32): the row takes 26 */
    {"block size larger than its rows", BODY("\x01\x36" GOOD "\x02" GOOD2 "\x00"), 1,
     "byte size"},
    {"block size smaller than its rows", BODY("\x01\x32" GOOD "\x02" GOOD2 "\x00"), 1,
     "byte size"},
    {"bad second row", BODY("\x04" GOOD GOOD_ID "\x02\x0ax\x00"), 1, "row 2 column \"name\""},
};

START_TEST(test_rows_rejects_message)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("hand", hand, 5, &set);
    ferry_buf_t msg = FERRY_BUF_INIT;
    const ferry_value_t *row;
    char err[256] = "";
    size_t nread;
    int rc;

    hand_message(&msg, ferry_rowcodec_rows_fingerprint(c), bad_messages[_i].body,
                 bad_messages[_i].len);
    rc = read_all(c, msg.data, msg.len, &nread, err, sizeof(err));
    ck_assert_msg(rc == FERRY_EDECODE, "%s: %d after %zu rows", bad_messages[_i].what, rc, nread);
    ck_assert_msg(nread == bad_messages[_i].rows_before, "%s: %zu rows before the error",
                  bad_messages[_i].what, nread);
    ck_assert_msg(strstr(err, "\"hand\""), "%s: '%s'", bad_messages[_i].what, err);
    ck_assert_msg(!bad_messages[_i].says || strstr(err, bad_messages[_i].says),
                  "%s: '%s' does not say %s", bad_messages[_i].what, err, bad_messages[_i].says);
    /* After the error the message is done: no stale or further rows. */
    ck_assert_int_ne(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 1);
    ferry_buf_free(&msg);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* A message cut anywhere is refused, never read as a shorter complete one. */
START_TEST(test_rows_rejects_every_truncation)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("hand", hand, 5, &set);
    ferry_buf_t msg = FERRY_BUF_INIT;
    char err[256];
    size_t nread;
    int rc;

    hand_message(&msg, ferry_rowcodec_rows_fingerprint(c), BODY("\x04" GOOD GOOD2 "\x00"));
    ck_assert_int_eq(read_all(c, msg.data, msg.len, &nread, err, sizeof(err)), 0);
    ck_assert_uint_eq(nread, 2);
    for (size_t len = 0; len < msg.len; len++) {
        err[0] = '\0';
        rc = read_all(c, msg.data, len, &nread, err, sizeof(err));
        ck_assert_msg(rc == FERRY_EDECODE, "prefix of %zu bytes: %d after %zu rows", len, rc,
                      nread);
        /* Cut inside the header, the framing is what is wrong (rows_open). */
        ck_assert_msg(len < FERRY_AVRO_HEADER_SIZE || strstr(err, "\"hand\""),
                      "prefix of %zu bytes: '%s'", len, err);
    }
    ferry_buf_free(&msg);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* rows_open reads only this table's Rows messages: not a bare row record
 * under the row schema's fingerprint, not another marker. A failed open
 * leaves nothing to read, even mid-way through an earlier message. */
START_TEST(test_rows_open_rejects_framing_and_fingerprint)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = codec_of("hand", hand, 5, &set);
    ferry_buf_t good = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
    const ferry_value_t *row;
    char err[256];

    hand_message(&good, ferry_rowcodec_rows_fingerprint(c), BODY("\x04" GOOD GOOD2 "\x00"));
    ck_assert_int_eq(ferry_rowcodec_rows_open(c, good.data, good.len, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 1);

    /* The row schema's fingerprint instead of the Rows one. */
    hand_message(&msg, ferry_rowcodec_fingerprint(c), BODY("\x04" GOOD GOOD2 "\x00"));
    ck_assert_int_eq(ferry_rowcodec_rows_open(c, msg.data, msg.len, err, sizeof(err)),
                     FERRY_EDECODE);
    ck_assert_msg(strstr(err, "fingerprint") && strstr(err, "\"hand\""), "%s", err);
    ck_assert_int_ne(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 1);

    /* One bit off. */
    hand_message(&msg, ferry_rowcodec_rows_fingerprint(c) ^ 0x100, BODY("\x00"));
    ck_assert_int_eq(ferry_rowcodec_rows_open(c, msg.data, msg.len, err, sizeof(err)),
                     FERRY_EDECODE);
    ck_assert_msg(strstr(err, "fingerprint") && strstr(err, "\"hand\""), "%s", err);

    /* Not the single-object marker. */
    ferry_buf_reset(&msg);
    ck_assert_int_eq(ferry_buf_append(&msg, good.data, good.len), 0);
    msg.data[0] = 0xC4;
    ck_assert_int_eq(ferry_rowcodec_rows_open(c, msg.data, msg.len, err, sizeof(err)),
                     FERRY_EDECODE);
    msg.data[0] = 0xC3;
    msg.data[1] = 0x02;
    ck_assert_int_eq(ferry_rowcodec_rows_open(c, msg.data, msg.len, err, sizeof(err)),
                     FERRY_EDECODE);
    ck_assert_int_ne(ferry_rowcodec_rows_next(c, &row, err, sizeof(err)), 1);
    ferry_buf_free(&good);
    ferry_buf_free(&msg);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* ---- PostgreSQL's types ------------------------------------------------- */

/* A codec over one nullable column "c" of a PostgreSQL-dialect table "t" of
 * the given ferry type, precision and scale. */
static ferry_rowcodec_t *pg_codec_of(ferry_type_t type, int length, int scale,
                                     ferry_objset_t **set)
{
    ferry_rowcodec_t *c = NULL;
    ferry_object_t *obj;
    char err[256] = "";

    *set = ferry_objset_new();
    ck_assert_ptr_nonnull(*set);
    obj = ferry_objset_add(*set, "t");
    ck_assert_ptr_nonnull(obj);
    obj->dialect = FERRY_DIALECT_POSTGRESQL;
    ck_assert_int_eq(ferry_object_add_field(obj, "c", "pg decl", 1, NULL, 0), 0);
    obj->fields[0].type = type;
    obj->fields[0].length = length;
    obj->fields[0].scale = scale;
    ck_assert_msg(ferry_rowcodec_new(obj, &c, err, sizeof(err)) == 0, "%s", err);
    return c;
}

#define STRING_WRAP "ferry.rows.t_string"
#define LONG_WRAP "ferry.rows.t_long"
#define BYTES_WRAP "ferry.rows.t_bytes"
#define N40 "123456789012345678901234567890"

/* The branch each PostgreSQL value takes: the logical type only when the
 * text is exactly what PostgreSQL prints for the value it parses to. */
static const struct {
    ferry_type_t type;
    int length, scale;
    ferry_value_t v;
    const char *branch;
} pg_branches[] = {
    {FERRY_T_NUMERIC, 40, 10, TEXT(N40 ".0123456789"), "decimal"},    /* 40 digits */
    {FERRY_T_NUMERIC, 40, 10, TEXT("-" N40 ".0123456789"), "decimal"},
    {FERRY_T_NUMERIC, 40, 10, TEXT("0.0000000000"), "decimal"},
    {FERRY_T_NUMERIC, 40, 10, TEXT("-0.0010000000"), "decimal"},
    {FERRY_T_NUMERIC, 40, 10, TEXT("1" N40 ".0123456789"), "string"}, /* 41 digits */
    {FERRY_T_NUMERIC, 40, 10, TEXT("-0.0000000000"), "string"},       /* no negative zero */
    {FERRY_T_NUMERIC, 40, 10, TEXT("1.5"), "string"},                 /* not 10 decimals */
    {FERRY_T_NUMERIC, 40, 10, TEXT("01.0000000000"), "string"},
    {FERRY_T_NUMERIC, 40, 10, TEXT("+1.0000000000"), "string"},
    {FERRY_T_NUMERIC, 40, 10, TEXT(".0000000000"), "string"},
    {FERRY_T_NUMERIC, 40, 10, TEXT("1e5"), "string"},
    {FERRY_T_NUMERIC, 40, 10, TEXT("NaN"), "string"},
    {FERRY_T_NUMERIC, 40, 10, TEXT("Infinity"), "string"},
    {FERRY_T_NUMERIC, 40, 10, TEXT("-Infinity"), "string"},
    {FERRY_T_NUMERIC, 40, 10, BLOB("x"), BYTES_WRAP},                 /* "bytes" is taken */
    {FERRY_T_NUMERIC, 40, 10, INT(1), "long"},
    {FERRY_T_NUMERIC, 5, 0, TEXT("12345"), "decimal"},               /* zero scale */
    {FERRY_T_NUMERIC, 5, 0, TEXT("-99999"), "decimal"},
    {FERRY_T_NUMERIC, 5, 0, TEXT("0"), "decimal"},
    {FERRY_T_NUMERIC, 5, 0, TEXT("123456"), "string"},
    {FERRY_T_NUMERIC, 5, 0, TEXT("1.0"), "string"},
    {FERRY_T_NUMERIC, 3, 3, TEXT("0.123"), "decimal"},               /* scale = precision */
    {FERRY_T_NUMERIC, 3, 3, TEXT("-0.500"), "decimal"},
    {FERRY_T_NUMERIC, 3, 3, TEXT("1.000"), "string"},
    {FERRY_T_NUMERIC, 0, 0, TEXT("1.5"), "string"},                  /* no precision */
    {FERRY_T_NUMERIC, 0, 0, TEXT("0.00100000000000000000"), "string"},
    {FERRY_T_NUMERIC, 3, 5, TEXT("0.00123"), "string"},              /* scale > precision */
    {FERRY_T_NUMERIC, 2, -3, TEXT("12000"), "string"},               /* negative scale */
    {FERRY_T_DAY, 0, 0, TEXT("2024-02-29"), "date"},
    {FERRY_T_DAY, 0, 0, TEXT("1970-01-01"), "date"},
    {FERRY_T_DAY, 0, 0, TEXT("0001-01-01"), "date"},
    {FERRY_T_DAY, 0, 0, TEXT("9999-12-31"), "date"},
    {FERRY_T_DAY, 0, 0, TEXT("1900-02-28"), "date"},
    {FERRY_T_DAY, 0, 0, TEXT("1900-02-29"), "string"},               /* no such day */
    {FERRY_T_DAY, 0, 0, TEXT("2023-02-29"), "string"},
    {FERRY_T_DAY, 0, 0, TEXT("0044-03-15 BC"), "string"},
    {FERRY_T_DAY, 0, 0, TEXT("0001-01-01 BC"), "string"},
    {FERRY_T_DAY, 0, 0, TEXT("infinity"), "string"},
    {FERRY_T_DAY, 0, 0, TEXT("-infinity"), "string"},
    {FERRY_T_DAY, 0, 0, TEXT("10000-01-01"), "string"},              /* 5-digit year */
    {FERRY_T_DAY, 0, 0, TEXT("0000-01-01"), "string"},
    {FERRY_T_DAY, 0, 0, TEXT("2024-1-01"), "string"},
    {FERRY_T_DAY, 0, 0, INT(5), "long"},
    {FERRY_T_TIME, 0, 0, TEXT("00:00:00"), "time-micros"},
    {FERRY_T_TIME, 0, 0, TEXT("23:59:59.999999"), "time-micros"},
    {FERRY_T_TIME, 0, 0, TEXT("12:34:56.5"), "time-micros"},
    {FERRY_T_TIME, 0, 0, TEXT("12:34:56.000001"), "time-micros"},
    {FERRY_T_TIME, 0, 0, TEXT("24:00:00"), "string"},                /* python's time has none */
    {FERRY_T_TIME, 0, 0, TEXT("12:34:56.500"), "string"},            /* not trimmed */
    {FERRY_T_TIME, 0, 0, TEXT("12:34:56."), "string"},
    {FERRY_T_TIME, 0, 0, TEXT("12:34:56.1234567"), "string"},
    {FERRY_T_TIME, 0, 0, TEXT("12:60:00"), "string"},
    {FERRY_T_TIME, 0, 0, TEXT("12:34"), "string"},
    {FERRY_T_TIME, 0, 0, INT(5), LONG_WRAP},                         /* "long" is taken */
    {FERRY_T_DATETIME, 0, 0, TEXT("2024-01-01 00:00:00"), "local-timestamp-micros"},
    {FERRY_T_DATETIME, 0, 0, TEXT("1969-12-31 23:59:59.999999"), "local-timestamp-micros"},
    {FERRY_T_DATETIME, 0, 0, TEXT("0001-01-01 00:00:00"), "local-timestamp-micros"},
    {FERRY_T_DATETIME, 0, 0, TEXT("9999-12-31 23:59:59.999999"), "local-timestamp-micros"},
    {FERRY_T_DATETIME, 0, 0, TEXT("2100-03-01 08:00:00.25"), "local-timestamp-micros"},
    {FERRY_T_DATETIME, 0, 0, TEXT("2024-01-01 00:00:00+00"), "string"},
    {FERRY_T_DATETIME, 0, 0, TEXT("2024-01-01T00:00:00"), "string"},
    {FERRY_T_DATETIME, 0, 0, TEXT("2024-01-01 24:00:00"), "string"},
    {FERRY_T_DATETIME, 0, 0, TEXT("0001-01-01 00:00:00 BC"), "string"},
    {FERRY_T_DATETIME, 0, 0, TEXT("10000-01-01 00:00:00"), "string"},
    {FERRY_T_DATETIME, 0, 0, TEXT("infinity"), "string"},
    {FERRY_T_DATETIME, 0, 0, REAL(1.5), "double"},
    {FERRY_T_TIMESTAMPTZ, 0, 0, TEXT("2024-01-01 12:00:00+00"), "timestamp-micros"},
    {FERRY_T_TIMESTAMPTZ, 0, 0, TEXT("1901-12-13 20:45:52.000123+00"), "timestamp-micros"},
    {FERRY_T_TIMESTAMPTZ, 0, 0, TEXT("2024-01-01 12:00:00"), "string"},
    {FERRY_T_TIMESTAMPTZ, 0, 0, TEXT("2024-01-01 12:00:00+01"), "string"},
    {FERRY_T_TIMESTAMPTZ, 0, 0, TEXT("2024-01-01 12:00:00+00:00"), "string"},
    {FERRY_T_TIMESTAMPTZ, 0, 0, TEXT("-infinity"), "string"},
    {FERRY_T_TIMESTAMPTZ, 0, 0, INT(7), LONG_WRAP},
    {FERRY_T_UUID, 0, 0, TEXT("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "uuid"},
    {FERRY_T_UUID, 0, 0, TEXT("00000000-0000-0000-0000-000000000000"), "uuid"},
    {FERRY_T_UUID, 0, 0, TEXT("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), STRING_WRAP},
    {FERRY_T_UUID, 0, 0, TEXT("a0eebc999c0b4ef8bb6d6bb9bd380a11"), STRING_WRAP},
    {FERRY_T_UUID, 0, 0, TEXT("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"), STRING_WRAP},
    {FERRY_T_UUID, 0, 0, TEXT("\xff"), TEXT_BYTES},
    {FERRY_T_INTERVAL, 0, 0, TEXT("1 day 02:00:00"), "string"},
    {FERRY_T_JSON, 0, 0, TEXT("{\"a\": [1, 2.50]}"), "string"},
    {FERRY_T_JSON, 0, 0, TEXT("123"), "string"},
    {FERRY_T_ENUM, 0, 0, TEXT("happy"), "string"},
    {FERRY_T_ARRAY, 0, 0, TEXT("{1,NULL,3}"), "string"},
};

START_TEST(test_pg_branch)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = pg_codec_of(pg_branches[_i].type, pg_branches[_i].length,
                                      pg_branches[_i].scale, &set);
    ferry_buf_t b = FERRY_BUF_INIT, again = FERRY_BUF_INIT;
    const ferry_value_t *row;
    char err[256], got[64], want[64];
    const char *label;

    ck_assert_int_eq(ferry_rowcodec_encode(c, &pg_branches[_i].v, &b, err, sizeof(err)), 0);
    label = branch_label(ferry_rowcodec_schema_json(c), b.data[0] >> 1);
    ck_assert_msg(!strcmp(label, pg_branches[_i].branch), "%s %.*s: took %s, expected %s",
                  ferry_type_name(pg_branches[_i].type), (int)pg_branches[_i].v.n,
                  pg_branches[_i].v.p ? (const char *)pg_branches[_i].v.p : "",
                  label, pg_branches[_i].branch);
    ck_assert_int_eq(ferry_rowcodec_decode(c, b.data, b.len, &row, err, sizeof(err)), 0);
    describe(row, got, sizeof(got));
    describe(&pg_branches[_i].v, want, sizeof(want));
    ck_assert_msg(same_value(row, &pg_branches[_i].v), "%s: decoded %s, expected %s",
                  ferry_type_name(pg_branches[_i].type), got, want);
    /* What decoding gave encodes to the same body. */
    ck_assert_int_eq(ferry_rowcodec_encode(c, row, &again, err, sizeof(err)), 0);
    ck_assert(again.len == b.len && !memcmp(again.data, b.data, b.len));
    ferry_buf_free(&b);
    ferry_buf_free(&again);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* Bodies of the typed branches as Avro writes them: a decimal's unscaled
 * value in the fewest bytes of big-endian two's complement, days, micros. */
static const struct {
    ferry_type_t type;
    int length, scale;
    const char *text;
    const char *body;
    size_t len;
} pg_bodies[] = {
    {FERRY_T_NUMERIC, 3, 2, "1.50", "\x02\x04\x00\x96", 4},           /* 150 = 0x0096 */
    {FERRY_T_NUMERIC, 3, 2, "-1.50", "\x02\x04\xff\x6a", 4},          /* -150 */
    {FERRY_T_NUMERIC, 3, 2, "0.00", "\x02\x02\x00", 3},
    {FERRY_T_NUMERIC, 3, 0, "-128", "\x02\x02\x80", 3},
    {FERRY_T_NUMERIC, 3, 0, "127", "\x02\x02\x7f", 3},
    {FERRY_T_NUMERIC, 3, 0, "128", "\x02\x04\x00\x80", 4},
    {FERRY_T_NUMERIC, 30, 0, "-18446744073709551616", /* -2^64 */
     "\x02\x12\xff\x00\x00\x00\x00\x00\x00\x00\x00", 11},
    {FERRY_T_DAY, 0, 0, "1970-01-02", "\x02\x02", 2},
    {FERRY_T_DAY, 0, 0, "1969-12-31", "\x02\x01", 2},
    {FERRY_T_TIME, 0, 0, "00:00:00.000001", "\x02\x02", 2},
    {FERRY_T_DATETIME, 0, 0, "1970-01-01 00:00:00.000001", "\x02\x02", 2},
    {FERRY_T_TIMESTAMPTZ, 0, 0, "1969-12-31 23:59:59.999999+00", "\x02\x01", 2},
    {FERRY_T_UUID, 0, 0, "00000000-0000-0000-0000-000000000000",
     "\x02\x48" "00000000-0000-0000-0000-000000000000", 38},
};

START_TEST(test_pg_typed_bodies)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = pg_codec_of(pg_bodies[_i].type, pg_bodies[_i].length,
                                      pg_bodies[_i].scale, &set);
    ferry_value_t v = {FERRY_V_TEXT, 0, 0, pg_bodies[_i].text, strlen(pg_bodies[_i].text)};
    ferry_buf_t b = FERRY_BUF_INIT;
    const ferry_value_t *row;
    char err[256];

    ck_assert_int_eq(ferry_rowcodec_encode(c, &v, &b, err, sizeof(err)), 0);
    ck_assert_msg(b.len == pg_bodies[_i].len && !memcmp(b.data, pg_bodies[_i].body, b.len),
                  "%s: body of %zu bytes, expected %zu", pg_bodies[_i].text, b.len,
                  pg_bodies[_i].len);
    ck_assert_int_eq(ferry_rowcodec_decode(c, pg_bodies[_i].body, pg_bodies[_i].len, &row, err,
                                           sizeof(err)), 0);
    ck_assert(same_value(row, &v));
    ferry_buf_free(&b);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* Widest numerics: 1000 digits each way, and every length of nines. */
START_TEST(test_pg_numeric_widest)
{
    static char text[1100];
    ferry_objset_t *set;
    ferry_rowcodec_t *c = pg_codec_of(FERRY_T_NUMERIC, 1000, 500, &set);
    ferry_buf_t b = FERRY_BUF_INIT;
    const ferry_value_t *row;
    char err[256];

    for (int digits = 1; digits <= 1000; digits += (digits < 60 ? 1 : 37)) {
        for (int neg = 0; neg < 2; neg++) {
            size_t n = 0;
            int ints = digits > 500 ? digits - 500 : 0;
            ferry_value_t v;
            if (neg)
                text[n++] = '-';
            if (!ints)
                text[n++] = '0';
            for (int k = 0; k < ints; k++)
                text[n++] = '9';
            text[n++] = '.';
            for (int k = 0; k < 500; k++)
                text[n++] = (char)(k < 500 - (digits - ints) ? '0' : '1' + (k % 9));
            v = (ferry_value_t){FERRY_V_TEXT, 0, 0, text, n};
            ferry_buf_reset(&b);
            ck_assert_int_eq(ferry_rowcodec_encode(c, &v, &b, err, sizeof(err)), 0);
            ck_assert_msg(!strcmp(branch_label(ferry_rowcodec_schema_json(c), b.data[0] >> 1),
                                  "decimal"), "%d digits: not the decimal branch", digits);
            ck_assert_int_eq(ferry_rowcodec_decode(c, b.data, b.len, &row, err, sizeof(err)), 0);
            ck_assert_msg(same_value(row, &v), "%d digits: not read back", digits);
        }
    }
    ferry_buf_free(&b);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* A typed branch holding what has no PostgreSQL text of its type. */
static const struct {
    ferry_type_t type;
    int length, scale;
    const char *body;
    size_t len;
    const char *why;
} pg_bad_bodies[] = {
    {FERRY_T_NUMERIC, 3, 2, "\x02\x04\x03\xe8", 4, "more digits"},   /* 10.00 in numeric(3,2) */
    {FERRY_T_NUMERIC, 3, 2, "\x02\x04\xfc\x18", 4, "more digits"},   /* -10.00 */
    {FERRY_T_DAY, 0, 0, "\x02\xc2\x82\xe6\x02", 5, "years 1 to 9999"}, /* 2932897: 10000-01-01 */
    {FERRY_T_DAY, 0, 0, "\x02\xf5\xe4\x57", 4, "years 1 to 9999"},   /* -719163: year 0 */
    {FERRY_T_TIME, 0, 0, "\x02\x80\x80\xbb\xdd\x83\x05", 7, "time-micros"}, /* 86400000000 */
    {FERRY_T_TIME, 0, 0, "\x02\x01", 2, "time-micros"},              /* -1 */
    {FERRY_T_TIMESTAMPTZ, 0, 0, "\x02\x81\x80\xde\xf2\xdf\xff\xdf\xdc\x01", 10,
     "years 1 to 9999"},                                                 /* 0001-01-01 - 1 us */
};

START_TEST(test_pg_decode_refuses)
{
    ferry_objset_t *set;
    ferry_rowcodec_t *c = pg_codec_of(pg_bad_bodies[_i].type, pg_bad_bodies[_i].length,
                                      pg_bad_bodies[_i].scale, &set);
    const ferry_value_t *row;
    char err[256] = "";

    ck_assert_int_eq(ferry_rowcodec_decode(c, pg_bad_bodies[_i].body, pg_bad_bodies[_i].len,
                                           &row, err, sizeof(err)), FERRY_EDECODE);
    ck_assert_msg(strstr(err, "\"c\"") && strstr(err, pg_bad_bodies[_i].why), "'%s'", err);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* Each field keeps its ferry type and, for PostgreSQL, its declared type;
 * the records that take a storage class's place are defined once. */
START_TEST(test_pg_schema_attributes)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *obj = ferry_objset_add(set, "t");
    static const ferry_type_t pg_types[] = {FERRY_T_TIME, FERRY_T_TIMESTAMPTZ, FERRY_T_UUID,
                                         FERRY_T_JSON};
    static const char *const decls[] = {"time without time zone", "timestamp with time zone",
                                        "uuid", "jsonb"};
    ferry_rowcodec_t *c = NULL;
    char err[256] = "";
    ferry_buf_t canon = FERRY_BUF_INIT;
    json_t *root, *fields;
    avro_schema_t schema;

    obj->dialect = FERRY_DIALECT_POSTGRESQL;
    for (size_t i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof(name), "c%zu", i);
        ck_assert_int_eq(ferry_object_add_field(obj, name, decls[i], 1, NULL, 0), 0);
        obj->fields[i].type = pg_types[i];
    }
    ck_assert_msg(ferry_rowcodec_new(obj, &c, err, sizeof(err)) == 0, "%s", err);
    root = json_loads(ferry_rowcodec_schema_json(c), 0, NULL);
    fields = json_object_get(root, "fields");
    for (size_t i = 0; i < 4; i++) {
        json_t *f = json_array_get(fields, i);
        ck_assert_str_eq(json_string_value(json_object_get(f, "ferry.type")),
                         ferry_type_name(pg_types[i]));
        ck_assert_str_eq(json_string_value(json_object_get(f, "ferry.decl")), decls[i]);
    }
    /* "ferry.rows.t_long" defined by c0, named by c1 (after null and the typed branch). */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(
                         json_array_get(fields, 0), "type"), 2), "name")), LONG_WRAP);
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_array_get(fields, 1), "type"), 2)),
                     LONG_WRAP);
    ck_assert_int_eq(avro_schema_from_json_length(ferry_rowcodec_schema_json(c),
                                                  strlen(ferry_rowcodec_schema_json(c)), &schema),
                     0);
    avro_schema_decref(schema);
    ck_assert_int_eq(ferry_avro_canonical_form(ferry_rowcodec_schema_json(c), &canon, err,
                                               sizeof(err)), 0);
    ck_assert_int_eq(ferry_buf_append(&canon, "", 1), 0);
    ck_assert_ptr_null(strstr((const char *)canon.data, "ferry.decl"));
    ferry_buf_free(&canon);
    json_decref(root);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

static Suite *rowcodec_suite(void)
{
    Suite *s = suite_create("rowcodec");
    TCase *tc = tcase_create("values");
    tcase_add_loop_test(tc, test_identity, 0, sizeof(types) / sizeof(types[0]));
    tcase_add_loop_test(tc, test_branch, 0, sizeof(branches) / sizeof(branches[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("schema");
    tcase_add_test(tc, test_reference_schema_is_pinned);
    tcase_add_test(tc, test_published_schema_keeps_logical_types_and_names);
    tcase_add_test(tc, test_rows_schema_is_the_array_of_the_row_schema);
    tcase_add_loop_test(tc, test_decimal_parameters, 0, sizeof(decimals) / sizeof(decimals[0]));
    tcase_add_loop_test(tc, test_decimal_reads_back_exactly, 0,
                        sizeof(exact_decimals) / sizeof(exact_decimals[0]));
    tcase_add_test(tc, test_decimal_random_doubles);
    tcase_add_test(tc, test_field_names);
    tcase_add_loop_test(tc, test_record_names, 0, sizeof(records) / sizeof(records[0]));
    tcase_add_test(tc, test_name_collisions);
    tcase_add_test(tc, test_invalid_utf8_name_rejected);
    tcase_add_test(tc, test_many_columns_mapping_to_one_name);
    tcase_add_loop_test(tc, test_field_count_limit, 0,
                        sizeof(field_limits) / sizeof(field_limits[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("bodies");
    tcase_add_test(tc, test_encode_appends_bodies_and_reuses_the_buffer);
    tcase_add_test(tc, test_table_without_columns);
    tcase_add_test(tc, test_hand_written_body_decodes);
    tcase_add_loop_test(tc, test_decode_rejects_body, 0, sizeof(bad_bodies) / sizeof(bad_bodies[0]));
    tcase_add_test(tc, test_decode_rejects_every_truncated_body);
    suite_add_tcase(s, tc);
    tc = tcase_create("rows messages");
    tcase_add_test(tc, test_frame_rows_layout);
    tcase_add_test(tc, test_rows_round_trip_in_order);
    tcase_add_test(tc, test_rows_empty_message_ends_at_once);
    tcase_add_loop_test(tc, test_rows_block_layouts, 0, sizeof(layouts) / sizeof(layouts[0]));
    tcase_add_loop_test(tc, test_rows_rejects_message, 0,
                        sizeof(bad_messages) / sizeof(bad_messages[0]));
    tcase_add_test(tc, test_rows_rejects_every_truncation);
    tcase_add_test(tc, test_rows_open_rejects_framing_and_fingerprint);
    tcase_add_loop_test(tc, test_pg_branch, 0, sizeof(pg_branches) / sizeof(pg_branches[0]));
    tcase_add_loop_test(tc, test_pg_typed_bodies, 0, sizeof(pg_bodies) / sizeof(pg_bodies[0]));
    tcase_add_test(tc, test_pg_numeric_widest);
    tcase_add_loop_test(tc, test_pg_decode_refuses, 0,
                        sizeof(pg_bad_bodies) / sizeof(pg_bad_bodies[0]));
    tcase_add_test(tc, test_pg_schema_attributes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ferry_check_run(rowcodec_suite());
}
