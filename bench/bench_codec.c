/* bench_codec.c - what a row costs on the hot path: a 6-field row (integer
 * id, text name, real amount, timestamp, boolean, nullable text) encoded into
 * Rows messages as the exporter packs them (ferry_rowcodec_encode of each
 * body, ferry_rowcodec_frame_rows once the bodies reach 64 KiB) and read back
 * (ferry_rowcodec_rows_open, then ferry_rowcodec_rows_next per row), next to
 * avro-c's generic values writing and reading the same fields without unions
 * or framing, as a yardstick; then the same for a row of a PostgreSQL table
 * (bigint id, text name, numeric(12,2) amount, timestamptz, date, uuid), whose
 * values are PostgreSQL's text taking the typed branches (decimal,
 * timestamp-micros, date, uuid: rowcodec.h).
 *
 *   bench_codec [rows per run, default 1000000] [runs, default 7]
 *
 * Prints the median over the runs, in microseconds per row. */
#include "rowcodec.h"

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "bench_codec: %s: %s\n", what, detail);
    exit(1);
}

/* The row of iteration i: values vary a little so that nothing is constant. */
static void fill_row(ferry_value_t *row, long i)
{
    static const char *const names[] = {"Queue", "Approval process", ("\xc3\x9cnic\xc3\xb6" "de")};
    const char *name = names[i % 3];
    row[0] = (ferry_value_t){.kind = FERRY_V_INT, .i = i};
    row[1] = (ferry_value_t){.kind = FERRY_V_TEXT, .p = name, .n = strlen(name)};
    row[2] = (ferry_value_t){.kind = FERRY_V_REAL, .d = 12.5 + (double)(i % 1000)};
    row[3] = (ferry_value_t){.kind = FERRY_V_INT, .i = 1700000000000LL + i};
    row[4] = (ferry_value_t){.kind = FERRY_V_INT, .i = i & 1};
    row[5] = i % 4 ? (ferry_value_t){.kind = FERRY_V_TEXT, .p = "a note", .n = 6}
                   : (ferry_value_t){.kind = FERRY_V_NULL};
}

/* PostgreSQL's texts of the PostgreSQL row, a pool the rows cycle through. */
#define PG_POOL 1000
static char pg_amount[PG_POOL][24], pg_created[PG_POOL][40], pg_day[PG_POOL][16],
    pg_uid[PG_POOL][40];

static void fill_pg_pool(void)
{
    for (int k = 0; k < PG_POOL; k++) {
        snprintf(pg_amount[k], sizeof(pg_amount[k]), "%s%d.%02d", k % 7 ? "" : "-", 12 + k * 37,
                 k % 100);
        snprintf(pg_created[k], sizeof(pg_created[k]), "2024-%02d-%02d %02d:%02d:%02d.%06d+00",
                 1 + k % 12, 1 + k % 28, k % 24, k % 60, (k * 7) % 60, (k * 7919) % 999999 + 1);
        snprintf(pg_day[k], sizeof(pg_day[k]), "%04d-%02d-%02d", 1900 + k % 200, 1 + k % 12,
                 1 + k % 28);
        snprintf(pg_uid[k], sizeof(pg_uid[k]), "%08x-9c0b-4ef8-bb6d-6bb9bd380a11",
                 (unsigned)k * 2654435761u);
    }
}

static void fill_pg_row(ferry_value_t *row, long i)
{
    static const char *const names[] = {"Queue", "Approval process", ("\xc3\x9cnic\xc3\xb6" "de")};
    int k = (int)(i % PG_POOL);
    row[0] = (ferry_value_t){.kind = FERRY_V_INT, .i = i};
    row[1] = (ferry_value_t){.kind = FERRY_V_TEXT, .p = names[i % 3], .n = strlen(names[i % 3])};
    row[2] = (ferry_value_t){.kind = FERRY_V_TEXT, .p = pg_amount[k], .n = strlen(pg_amount[k])};
    row[3] = (ferry_value_t){.kind = FERRY_V_TEXT, .p = pg_created[k], .n = strlen(pg_created[k])};
    row[4] = (ferry_value_t){.kind = FERRY_V_TEXT, .p = pg_day[k], .n = strlen(pg_day[k])};
    row[5] = (ferry_value_t){.kind = FERRY_V_TEXT, .p = pg_uid[k], .n = strlen(pg_uid[k])};
}

/* ---- ferry ------------------------------------------------------------- */

/* Bodies are framed into a Rows message once they reach this many bytes, the
 * exporter's default (worker.rows_message_bytes in the settings table, lib/base/config.c). */
#define ROWS_MESSAGE_BYTES 65536

struct ferry_figures {
    double enc_us, dec_us;  /* per row */
    size_t row_bytes;       /* message bytes per row, framing included */
    size_t messages;        /* Rows messages per run */
};

/* The SQLite row (pg 0) or the PostgreSQL row (pg 1). */
static void bench_ferry(long n, int runs, int pg, struct ferry_figures *fig)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *obj = ferry_objset_add(set, "bench");
    ferry_rowcodec_t *c;
    ferry_buf_t bodies = FERRY_BUF_INIT, msgs = FERRY_BUF_INIT;
    ferry_value_t row[6];
    double enc[64], dec[64];
    /* Where each message starts in msgs; a message holds at least one row. */
    size_t *offsets = malloc((size_t)(n + 1) * sizeof(*offsets)), nmsgs = 0;
    char err[256];
    volatile int64_t sink = 0;

    if (!obj || !offsets)
        fail("setup", "out of memory");
    if (!pg && (ferry_object_add_field(obj, "id", "INTEGER", 0, NULL, 1) ||
                ferry_object_add_field(obj, "name", "TEXT", 0, NULL, 0) ||
                ferry_object_add_field(obj, "amount", "REAL", 0, NULL, 0) ||
                ferry_object_add_field(obj, "created", "TIMESTAMP", 0, NULL, 0) ||
                ferry_object_add_field(obj, "active", "BOOLEAN", 0, NULL, 0) ||
                ferry_object_add_field(obj, "note", "TEXT", 1, NULL, 0)))
        fail("setup", "out of memory");
    if (pg) {
        static const char *const names[] = {"id", "name", "amount", "created", "day", "uid"};
        static const char *const decls[] = {"bigint", "text", "numeric(12,2)",
                                            "timestamp with time zone", "date", "uuid"};
        static const ferry_type_t types[] = {FERRY_T_INTEGER, FERRY_T_TEXT, FERRY_T_NUMERIC,
                                             FERRY_T_TIMESTAMPTZ, FERRY_T_DAY, FERRY_T_UUID};
        obj->dialect = FERRY_DIALECT_POSTGRESQL;
        for (int k = 0; k < 6; k++) {
            if (ferry_object_add_field(obj, names[k], decls[k], 0, NULL, k == 0))
                fail("setup", "out of memory");
            obj->fields[k].type = types[k];
        }
        obj->fields[2].length = 12;
        obj->fields[2].scale = 2;
        fill_pg_pool();
    }
    if (ferry_rowcodec_new(obj, &c, err, sizeof(err)))
        fail("ferry_rowcodec_new", err);

    for (int r = 0; r < runs; r++) {
        size_t nrows = 0;
        long read = 0;
        double t0;

        /* Encode n rows into reused body and message buffers, as the exporter
         * does; the messages are kept one after the other for the decoder. */
        ferry_buf_reset(&bodies);
        ferry_buf_reset(&msgs);
        nmsgs = 0;
        t0 = now_s();
        for (long i = 0; i < n; i++) {
            if (pg)
                fill_pg_row(row, i);
            else
                fill_row(row, i);
            if (ferry_rowcodec_encode(c, row, &bodies, err, sizeof(err)))
                fail("encode", err);
            nrows++;
            if (bodies.len >= ROWS_MESSAGE_BYTES || i == n - 1) {
                offsets[nmsgs++] = msgs.len;
                if (ferry_rowcodec_frame_rows(c, nrows, bodies.data, bodies.len, &msgs, err,
                                              sizeof(err)))
                    fail("frame_rows", err);
                ferry_buf_reset(&bodies);
                nrows = 0;
            }
        }
        enc[r] = (now_s() - t0) * 1e6 / (double)n;
        offsets[nmsgs] = msgs.len;

        t0 = now_s();
        for (size_t m = 0; m < nmsgs; m++) {
            const ferry_value_t *out;
            int rc;
            if (ferry_rowcodec_rows_open(c, msgs.data + offsets[m], offsets[m + 1] - offsets[m],
                                         err, sizeof(err)))
                fail("rows_open", err);
            while ((rc = ferry_rowcodec_rows_next(c, &out, err, sizeof(err))) == 1) {
                sink += out[0].i + (int64_t)out[1].n;
                read++;
            }
            if (rc)
                fail("rows_next", err);
        }
        dec[r] = (now_s() - t0) * 1e6 / (double)n;
        if (read != n)
            fail("decode", "read back a different number of rows");
    }
    /* The fill_row cost is in the encode figure; it is a few ns. */
    fig->enc_us = median(enc, runs);
    fig->dec_us = median(dec, runs);
    fig->row_bytes = msgs.len / (size_t)n;
    fig->messages = nmsgs;
    ferry_buf_free(&bodies);
    ferry_buf_free(&msgs);
    free(offsets);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
    (void)sink;
}

/* ---- avro-c generic values (yardstick) ---------------------------------- */

static const char plain_schema[] =
    "{\"type\":\"record\",\"name\":\"bench\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"amount\",\"type\":\"double\"},{\"name\":\"created\",\"type\":\"long\"},"
    "{\"name\":\"active\",\"type\":\"boolean\"},{\"name\":\"note\",\"type\":[\"null\",\"string\"]}]}";

static void bench_avro_c(long n, int runs, double *enc_us, double *dec_us)
{
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value, field, branch;
    avro_writer_t writer;
    avro_reader_t reader;
    size_t cap = (size_t)n * 64, used;
    char *buf = malloc(cap);
    ferry_value_t row[6];
    double enc[64], dec[64];

    if (!buf || avro_schema_from_json_length(plain_schema, sizeof(plain_schema) - 1, &schema) ||
        !(iface = avro_generic_class_from_schema(schema)) ||
        avro_generic_value_new(iface, &value))
        fail("avro-c setup", avro_strerror());
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        writer = avro_writer_memory(buf, (int64_t)cap);
        for (long i = 0; i < n; i++) {
            fill_row(row, i);
            avro_value_get_by_index(&value, 0, &field, NULL);
            avro_value_set_long(&field, row[0].i);
            avro_value_get_by_index(&value, 1, &field, NULL);
            avro_value_set_string_len(&field, row[1].p, row[1].n + 1);
            avro_value_get_by_index(&value, 2, &field, NULL);
            avro_value_set_double(&field, row[2].d);
            avro_value_get_by_index(&value, 3, &field, NULL);
            avro_value_set_long(&field, row[3].i);
            avro_value_get_by_index(&value, 4, &field, NULL);
            avro_value_set_boolean(&field, (int)row[4].i);
            avro_value_get_by_index(&value, 5, &field, NULL);
            if (row[5].kind == FERRY_V_NULL) {
                avro_value_set_branch(&field, 0, &branch);
                avro_value_set_null(&branch);
            } else {
                avro_value_set_branch(&field, 1, &branch);
                avro_value_set_string_len(&branch, row[5].p, row[5].n + 1);
            }
            if (avro_value_write(writer, &value))
                fail("avro_value_write", avro_strerror());
        }
        enc[r] = (now_s() - t0) * 1e6 / (double)n;
        used = (size_t)avro_writer_tell(writer);
        avro_writer_free(writer);

        t0 = now_s();
        reader = avro_reader_memory(buf, (int64_t)used);
        for (long i = 0; i < n; i++)
            if (avro_value_read(reader, &value))
                fail("avro_value_read", avro_strerror());
        dec[r] = (now_s() - t0) * 1e6 / (double)n;
        avro_reader_free(reader);
    }
    *enc_us = median(enc, runs);
    *dec_us = median(dec, runs);
    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    free(buf);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int runs = argc > 2 ? atoi(argv[2]) : 7;
    struct ferry_figures fig, pgfig;
    double ae, ad;

    if (n < 1 || runs < 1 || runs > 64)
        fail("usage", "bench_codec [rows per run >= 1] [runs 1..64]");
    bench_ferry(n, runs, 0, &fig);
    bench_avro_c(n, runs, &ae, &ad);
    bench_ferry(n, runs, 1, &pgfig);
    printf("row: integer id, text name, real amount, timestamp, boolean, nullable text\n");
    printf("%ld rows per run, median of %d runs, microseconds per row\n", n, runs);
    printf("ferry rowcodec encode   %.3f us/row  (into %zu Rows messages of ~%d KiB, "
           "%zu bytes per row, framing included)\n", fig.enc_us, fig.messages,
           ROWS_MESSAGE_BYTES / 1024, fig.row_bytes);
    printf("ferry rowcodec decode   %.3f us/row  (rows_open per message, rows_next per row)\n",
           fig.dec_us);
    printf("avro-c generic write    %.3f us/row  (yardstick: no unions, no framing)\n", ae);
    printf("avro-c generic read     %.3f us/row\n", ad);
    printf("PostgreSQL row: bigint id, text name, numeric(12,2), timestamptz, date, uuid (text)\n");
    printf("ferry rowcodec encode   %.3f us/row  (%zu bytes per row; typed branches parse "
           "the text)\n", pgfig.enc_us, pgfig.row_bytes);
    printf("ferry rowcodec decode   %.3f us/row  (typed branches format the text)\n",
           pgfig.dec_us);
    return 0;
}
