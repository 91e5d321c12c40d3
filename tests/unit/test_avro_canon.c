/* test_avro_canon.c - Parsing Canonical Form (each transformation of the Avro
 * specification), CRC-64-AVRO, single-object framing, and the binary reader's
 * refusal of every malformed input. */
#include "avro_canon.h"
#include "error.h"
#include "check_run.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- canonical form ----------------------------------------------------- */

static const struct {
    const char *rule;
    const char *schema;
    const char *canonical;
} canon_cases[] = {
    {"PRIMITIVES: a bare name stays", "\"int\"", "\"int\""},
    {"PRIMITIVES: object form", "{\"type\":\"string\"}", "\"string\""},
    {"PRIMITIVES: logical type dropped", "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}",
     "\"long\""},
    {"WHITESPACE", " [ \"null\" ,\n\t\"long\" ] ", "[\"null\",\"long\"]"},
    {"STRIP and ORDER: record",
     "{\"fields\":[{\"type\":\"int\",\"doc\":\"d\",\"name\":\"a\",\"default\":1,\"order\":\"descending\"}],"
     "\"doc\":\"x\",\"aliases\":[\"Old\"],\"name\":\"R\",\"type\":\"record\",\"x-custom\":true}",
     "{\"name\":\"R\",\"type\":\"record\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"},
    {"STRIP and ORDER: enum", "{\"symbols\":[\"A\",\"B\"],\"type\":\"enum\",\"name\":\"E\",\"default\":\"A\"}",
     "{\"name\":\"E\",\"type\":\"enum\",\"symbols\":[\"A\",\"B\"]}"},
    {"INTEGERS: quoted size with leading zeros", "{\"type\":\"fixed\",\"size\":\"016\",\"name\":\"F\"}",
     "{\"name\":\"F\",\"type\":\"fixed\",\"size\":16}"},
    {"STRINGS: escapes become UTF-8 (here plain ASCII)",
     "{\"type\":\"fixed\",\"name\":\"\\u0041b\",\"size\":1}",
     "{\"name\":\"Ab\",\"type\":\"fixed\",\"size\":1}"},
    {"FULLNAMES: namespace attribute folded in",
     "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"fields\":[]}",
     "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":[]}"},
    {"FULLNAMES: a dotted name ignores namespace",
     "{\"type\":\"enum\",\"name\":\"x.E\",\"namespace\":\"ignored\",\"symbols\":[\"S\"]}",
     "{\"name\":\"x.E\",\"type\":\"enum\",\"symbols\":[\"S\"]}"},
    {"FULLNAMES: nested types inherit the namespace; references resolve in it",
     "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":["
     "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}},"
     "{\"name\":\"g\",\"type\":\"F\"},{\"name\":\"h\",\"type\":{\"type\":\"n.F\"}},"
     "{\"name\":\"i\",\"type\":{\"type\":\"array\",\"items\":\"R\"}}]}",
     "{\"name\":\"n.R\",\"type\":\"record\",\"fields\":[{\"name\":\"f\",\"type\":{\"name\":\"n.F\","
     "\"type\":\"fixed\",\"size\":2}},{\"name\":\"g\",\"type\":\"n.F\"},{\"name\":\"h\",\"type\":\"n.F\"},"
     "{\"name\":\"i\",\"type\":{\"type\":\"array\",\"items\":\"n.R\"}}]}"},
    {"FULLNAMES: a nested dotted name sets the namespace below it",
     "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":["
     "{\"name\":\"f\",\"type\":{\"type\":\"record\",\"name\":\"m.S\",\"fields\":["
     "{\"name\":\"g\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}}]}},"
     "{\"name\":\"h\",\"type\":\"m.E\"}]}",
     "{\"name\":\"n.R\",\"type\":\"record\",\"fields\":[{\"name\":\"f\",\"type\":{\"name\":\"m.S\","
     "\"type\":\"record\",\"fields\":[{\"name\":\"g\",\"type\":{\"name\":\"m.E\",\"type\":\"enum\","
     "\"symbols\":[\"A\"]}}]}},{\"name\":\"h\",\"type\":\"m.E\"}]}"},
    {"FULLNAMES: an empty namespace is the null namespace",
     "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":["
     "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"namespace\":\"\",\"size\":1}}]}",
     "{\"name\":\"n.R\",\"type\":\"record\",\"fields\":[{\"name\":\"f\",\"type\":{\"name\":\"F\","
     "\"type\":\"fixed\",\"size\":1}}]}"},
    {"map and array", "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"bytes\"}}",
     "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"bytes\"}}"},
    {"decimal fixed keeps only name, type and size",
     "{\"type\":\"fixed\",\"name\":\"D\",\"size\":16,\"logicalType\":\"decimal\",\"precision\":10,"
     "\"scale\":2}",
     "{\"name\":\"D\",\"type\":\"fixed\",\"size\":16}"},
};

START_TEST(test_canonical_form)
{
    ferry_buf_t out = FERRY_BUF_INIT;
    char err[256] = "";

    ck_assert_msg(ferry_avro_canonical_form(canon_cases[_i].schema, &out, err, sizeof(err)) == 0,
                  "%s: %s", canon_cases[_i].rule, err);
    ck_assert_msg(out.len == strlen(canon_cases[_i].canonical) &&
                      !memcmp(out.data, canon_cases[_i].canonical, out.len),
                  "%s:\n got  %.*s\n want %s", canon_cases[_i].rule, (int)out.len, out.data,
                  canon_cases[_i].canonical);
    ferry_buf_free(&out);
}
END_TEST

static const struct {
    const char *what;
    const char *schema;
    int rc;
    const char *in_errstr;
} bad_schemas[] = {
    {"not JSON", "{\"type\":", FERRY_EDECODE, "not JSON"},
    {"duplicate keys", "{\"type\":\"int\",\"type\":\"long\"}", FERRY_EDECODE, "not JSON"},
    {"unknown type name", "\"Nope\"", FERRY_EINVAL, "Nope"},
    {"reference before definition",
     "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"F\"}]}",
     FERRY_EINVAL, "\"F\""},
    {"short name resolved in the wrong namespace",
     "{\"type\":\"record\",\"name\":\"a.R\",\"fields\":[{\"name\":\"f\",\"type\":"
     "{\"type\":\"fixed\",\"name\":\"b.F\",\"size\":1}},{\"name\":\"g\",\"type\":\"F\"}]}",
     FERRY_EINVAL, "\"F\""},
    {"defined twice",
     "[{\"type\":\"fixed\",\"name\":\"F\",\"size\":1},{\"type\":\"fixed\",\"name\":\"F\",\"size\":1}]",
     FERRY_EINVAL, "defined twice"},
    {"invalid name", "{\"type\":\"fixed\",\"name\":\"1F\",\"size\":1}", FERRY_EINVAL, "1F"},
    {"invalid namespace", "{\"type\":\"fixed\",\"name\":\"F\",\"namespace\":\"a..b\",\"size\":1}",
     FERRY_EINVAL, "a..b.F"},
    {"primitive name as a type name", "{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}",
     FERRY_EINVAL, "int"},
    {"field without a type", "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\"}]}",
     FERRY_EINVAL, "\"R\""},
    {"record without fields", "{\"type\":\"record\",\"name\":\"R\"}", FERRY_EINVAL, "\"R\""},
    {"enum with a bad symbol", "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"a b\"]}",
     FERRY_EINVAL, "\"E\""},
    {"fixed with a negative size", "{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", FERRY_EINVAL,
     "\"F\""},
    {"fixed with a non-numeric size", "{\"type\":\"fixed\",\"name\":\"F\",\"size\":\"1x\"}",
     FERRY_EINVAL, "\"F\""},
    {"array without items", "{\"type\":\"array\"}", FERRY_EINVAL, "items"},
    {"object without type", "{\"name\":\"x\"}", FERRY_EINVAL, "type"},
    {"NUL in a name", "{\"type\":\"fixed\",\"name\":\"F\\u0000G\",\"size\":1}", FERRY_EINVAL,
     "name"},
};

START_TEST(test_canonical_form_rejects)
{
    ferry_buf_t out = FERRY_BUF_INIT;
    char err[256] = "";

    ck_assert_int_eq(ferry_buf_append(&out, "kept", 4), 0);
    ck_assert_msg(ferry_avro_canonical_form(bad_schemas[_i].schema, &out, err, sizeof(err)) ==
                      bad_schemas[_i].rc,
                  "%s: expected %s", bad_schemas[_i].what, ferry_err_name(bad_schemas[_i].rc));
    ck_assert_msg(strstr(err, bad_schemas[_i].in_errstr), "%s: errstr '%s' lacks '%s'",
                  bad_schemas[_i].what, err, bad_schemas[_i].in_errstr);
    ck_assert_uint_eq(out.len, 4); /* output untouched on failure */
    ferry_buf_free(&out);
}
END_TEST

/* ---- fingerprints ------------------------------------------------------- */

/* The primitives' 64-bit Rabin fingerprints listed in the Avro project's
 * share/test/data/schema-tests.txt. */
static const struct {
    const char *schema;
    int64_t fp;
} fingerprints[] = {
    {"\"null\"", 7195948357588979594LL},   {"\"boolean\"", -6970731678124411036LL},
    {"\"int\"", 8247732601305521295LL},    {"\"long\"", -3434872931120570953LL},
    {"\"float\"", 5583340709985441680LL},  {"\"double\"", -8181574048448539266LL},
    {"\"bytes\"", 5746618253357095269LL},  {"\"string\"", -8142146995180207161LL},
    {"{\"type\":\"int\",\"doc\":\"the same schema\"}", 8247732601305521295LL},
};

START_TEST(test_fingerprint)
{
    uint64_t fp = 0;
    char err[256] = "";
    ck_assert_msg(ferry_avro_fingerprint(fingerprints[_i].schema, &fp, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_msg(fp == (uint64_t)fingerprints[_i].fp, "%s: %016llx", fingerprints[_i].schema,
                  (unsigned long long)fp);
}
END_TEST

START_TEST(test_crc64_of_nothing_is_the_seed)
{
    ck_assert(ferry_avro_crc64("", 0) == 0xc15d213aa4d7a795ULL);
}
END_TEST

START_TEST(test_names)
{
    ck_assert(ferry_avro_name_valid("_a9"));
    ck_assert(ferry_avro_name_valid("Queue"));
    ck_assert(!ferry_avro_name_valid(""));
    ck_assert(!ferry_avro_name_valid("9a"));
    ck_assert(!ferry_avro_name_valid("a b"));
    ck_assert(!ferry_avro_name_valid("a.b"));
    ck_assert(!ferry_avro_name_valid("\xc3\xa9"));
    ck_assert(ferry_avro_is_primitive("string"));
    ck_assert(!ferry_avro_is_primitive("record"));
}
END_TEST

/* ---- framing ------------------------------------------------------------ */

START_TEST(test_frame_round_trip)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    const uint8_t *body;
    size_t body_len;
    uint64_t fp = 0;
    static const uint8_t expect[] = {0xC3, 0x01, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 'x'};

    ck_assert_int_eq(ferry_avro_frame_header(&b, 0x0102030405060708ULL), 0);
    ck_assert_int_eq(ferry_buf_append(&b, "x", 1), 0);
    ck_assert_uint_eq(b.len, sizeof(expect));
    ck_assert(!memcmp(b.data, expect, sizeof(expect)));
    ck_assert_int_eq(ferry_avro_frame_parse(b.data, b.len, &fp, &body, &body_len, NULL, 0), 0);
    ck_assert(fp == 0x0102030405060708ULL);
    ck_assert_ptr_eq(body, b.data + 10);
    ck_assert_uint_eq(body_len, 1);
    ferry_buf_free(&b);
}
END_TEST

static const struct {
    const char *what;
    const char *bytes;
    size_t len;
    const char *in_errstr;
} bad_frames[] = {
    {"empty", "", 0, "shorter"},
    {"header cut short", "\xC3\x01\x00\x00\x00\x00\x00\x00\x00", 9, "shorter"},
    {"wrong first byte", "\xC4\x01\x00\x00\x00\x00\x00\x00\x00\x00", 10, "C4 01"},
    {"wrong second byte", "\xC3\x02\x00\x00\x00\x00\x00\x00\x00\x00", 10, "C3 02"},
    {"JSON", "{\"source\":\"dev\"}", 16, "7B 22"},
};

START_TEST(test_frame_rejects)
{
    const uint8_t *body;
    size_t body_len;
    uint64_t fp;
    char err[256] = "";

    ck_assert_int_eq(ferry_avro_frame_parse(bad_frames[_i].bytes, bad_frames[_i].len, &fp, &body,
                                            &body_len, err, sizeof(err)),
                     FERRY_EDECODE);
    ck_assert_msg(strstr(err, bad_frames[_i].in_errstr), "%s: '%s'", bad_frames[_i].what, err);
}
END_TEST

/* ---- binary encoding ---------------------------------------------------- */

/* Zigzag varints from the specification's table and the edges of int64. */
static const struct {
    int64_t v;
    const char *bytes;
    size_t len;
} longs[] = {
    {0, "\x00", 1},
    {-1, "\x01", 1},
    {1, "\x02", 1},
    {-2, "\x03", 1},
    {2, "\x04", 1},
    {-64, "\x7f", 1},
    {64, "\x80\x01", 2},
    {INT32_MAX, "\xfe\xff\xff\xff\x0f", 5},
    {INT64_MAX, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10},
    {INT64_MIN, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10},
};

START_TEST(test_long_round_trip)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    ferry_avro_reader_t r;
    int64_t v = 12345;

    ck_assert_int_eq(ferry_avro_write_long(&b, longs[_i].v), 0);
    ck_assert_uint_eq(b.len, longs[_i].len);
    ck_assert(!memcmp(b.data, longs[_i].bytes, b.len));
    ferry_avro_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(ferry_avro_read_long(&r, &v), 0);
    ck_assert(v == longs[_i].v);
    ck_assert_uint_eq(ferry_avro_reader_left(&r), 0);
    ferry_buf_free(&b);
}
END_TEST

START_TEST(test_scalars_round_trip)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    ferry_avro_reader_t r;
    const uint8_t *p;
    size_t n;
    double d;
    int flag;
    uint64_t nan_bits = 0x7ff8000000000123ULL, got_bits;
    double nan_in;

    memcpy(&nan_in, &nan_bits, 8);
    ck_assert_int_eq(ferry_avro_write_double(&b, nan_in), 0);
    ck_assert_int_eq(ferry_avro_write_double(&b, -0.0), 0);
    ck_assert_int_eq(ferry_avro_write_boolean(&b, 7), 0);
    ck_assert_int_eq(ferry_avro_write_string(&b, "h\xc3\xa9"), 0);
    ck_assert_int_eq(ferry_avro_write_bytes(&b, "", 0), 0);
    ferry_avro_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(ferry_avro_read_double(&r, &d), 0);
    memcpy(&got_bits, &d, 8);
    ck_assert(got_bits == nan_bits);
    ck_assert_int_eq(ferry_avro_read_double(&r, &d), 0);
    ck_assert(d == 0 && signbit(d));
    ck_assert_int_eq(ferry_avro_read_boolean(&r, &flag), 0);
    ck_assert_int_eq(flag, 1);
    ck_assert_int_eq(ferry_avro_read_bytes(&r, &p, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(!memcmp(p, "h\xc3\xa9", 3));
    ck_assert_int_eq(ferry_avro_read_bytes(&r, &p, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(ferry_avro_reader_left(&r), 0);
    ferry_buf_free(&b);
}
END_TEST

enum op { OP_LONG, OP_INT, OP_BOOLEAN, OP_DOUBLE, OP_BYTES, OP_FIXED4, OP_INDEX3, OP_BLOCK };

static const struct {
    const char *what;
    enum op op;
    const char *bytes;
    size_t len;
} bad_reads[] = {
    {"no bytes for a long", OP_LONG, "", 0},
    {"varint cut short", OP_LONG, "\x80\x80", 2},
    {"11-byte varint", OP_LONG, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11},
    {"10th byte past bit 63", OP_LONG, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02", 10},
    {"int past 32 bits", OP_INT, "\x80\x80\x80\x80\x10", 5},
    {"boolean 2", OP_BOOLEAN, "\x02", 1},
    {"no boolean", OP_BOOLEAN, "", 0},
    {"double cut short", OP_DOUBLE, "\x00\x00\x00\x00\x00\x00\x00", 7},
    {"negative length", OP_BYTES, "\x01", 1},
    {"length past the end", OP_BYTES, "\x08\x61\x62\x63", 4},
    {"huge length", OP_BYTES, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10},
    {"fixed cut short", OP_FIXED4, "\x00\x00\x00", 3},
    {"negative union index", OP_INDEX3, "\x01", 1},
    {"union index out of range", OP_INDEX3, "\x06", 1},
    {"block count past the bytes left", OP_BLOCK, "\x08\x00\x00", 3},
    {"block of INT64_MIN items", OP_BLOCK, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10},
    {"negative block size", OP_BLOCK, "\x03\x01\x00", 3},
    {"block size past the end", OP_BLOCK, "\x03\x20\x00", 3},
};

START_TEST(test_reader_rejects)
{
    ferry_avro_reader_t r;
    const uint8_t *p;
    size_t n, end;
    int64_t l;
    int32_t i;
    int flag;
    double d;
    int rc = 0;

    ferry_avro_reader_init(&r, bad_reads[_i].bytes, bad_reads[_i].len);
    switch (bad_reads[_i].op) {
    case OP_LONG: rc = ferry_avro_read_long(&r, &l); break;
    case OP_INT: rc = ferry_avro_read_int(&r, &i); break;
    case OP_BOOLEAN: rc = ferry_avro_read_boolean(&r, &flag); break;
    case OP_DOUBLE: rc = ferry_avro_read_double(&r, &d); break;
    case OP_BYTES: rc = ferry_avro_read_bytes(&r, &p, &n); break;
    case OP_FIXED4: rc = ferry_avro_read_fixed(&r, 4, &p); break;
    case OP_INDEX3: rc = ferry_avro_read_index(&r, 3, &n); break;
    case OP_BLOCK: rc = ferry_avro_read_block(&r, &n, &end); break;
    }
    ck_assert_msg(rc == FERRY_EDECODE, "%s: accepted", bad_reads[_i].what);
    ck_assert_ptr_nonnull(r.why);
}
END_TEST

START_TEST(test_block_with_byte_size)
{
    /* -2 items, 2 bytes, then the items "\x02\x04": a count of 2, ending at
     * offset 4; the two longs fill it exactly. */
    ferry_avro_reader_t r;
    size_t n = 0, end = 0;
    int64_t v;
    ferry_avro_reader_init(&r, "\x03\x04\x02\x04", 4);
    ck_assert_int_eq(ferry_avro_read_block(&r, &n, &end), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(end, 4);
    ck_assert_uint_eq(ferry_avro_reader_left(&r), 2);
    ck_assert_int_eq(ferry_avro_read_long(&r, &v), 0);
    ck_assert_int_eq(ferry_avro_read_long(&r, &v), 0);
    ck_assert_int_eq(ferry_avro_end_block(&r, end), 0);
    /* A positive count announces no size: nothing to check. */
    ferry_avro_reader_init(&r, "\x02\x02", 2);
    ck_assert_int_eq(ferry_avro_read_block(&r, &n, &end), 0);
    ck_assert_uint_eq(end, 0);
    ck_assert_int_eq(ferry_avro_end_block(&r, end), 0);
}
END_TEST

START_TEST(test_block_size_must_match_its_items)
{
    /* -1 item in 2 bytes, but the item "\x02" takes one: the block's size lies. */
    ferry_avro_reader_t r;
    size_t n = 0, end = 0;
    int64_t v;
    ferry_avro_reader_init(&r, "\x01\x04\x02\x00", 4);
    ck_assert_int_eq(ferry_avro_read_block(&r, &n, &end), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ferry_avro_read_long(&r, &v), 0);
    ck_assert_int_eq(ferry_avro_end_block(&r, end), FERRY_EDECODE);
    ck_assert_ptr_nonnull(strstr(r.why, "byte size"));
}
END_TEST

static Suite *avro_canon_suite(void)
{
    Suite *s = suite_create("avro_canon");
    TCase *tc = tcase_create("canonical form");
    tcase_add_loop_test(tc, test_canonical_form, 0, sizeof(canon_cases) / sizeof(canon_cases[0]));
    tcase_add_loop_test(tc, test_canonical_form_rejects, 0,
                        sizeof(bad_schemas) / sizeof(bad_schemas[0]));
    tcase_add_loop_test(tc, test_fingerprint, 0, sizeof(fingerprints) / sizeof(fingerprints[0]));
    tcase_add_test(tc, test_crc64_of_nothing_is_the_seed);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("framing");
    tcase_add_test(tc, test_frame_round_trip);
    tcase_add_loop_test(tc, test_frame_rejects, 0, sizeof(bad_frames) / sizeof(bad_frames[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("binary");
    tcase_add_loop_test(tc, test_long_round_trip, 0, sizeof(longs) / sizeof(longs[0]));
    tcase_add_test(tc, test_scalars_round_trip);
    tcase_add_loop_test(tc, test_reader_rejects, 0, sizeof(bad_reads) / sizeof(bad_reads[0]));
    tcase_add_test(tc, test_block_with_byte_size);
    tcase_add_test(tc, test_block_size_must_match_its_items);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ferry_check_run(avro_canon_suite());
}
