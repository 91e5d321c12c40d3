/* test_export.c - the export job run on SQLite sources into an in-memory sink
 * (no broker): the stream's order, keys and headers, its content decoded with
 * the protocol and row decoders against the source read independently (the
 * sqlite3 library, and ferry's checksum through a store of its own), the
 * packing of Rows messages, content=metadata and content=data, and a sink or
 * stop that ends the job mid-stream.
 *
 * Sources: the sample environment (lib/sample) and small hand-made schemas,
 * one with two tables that reference each other (one apply group). */
#include "buf.h"
#include "catalog.h"
#include "checksum.h"
#include "config.h"
#include "error.h"
#include "export.h"
#include "protocol.h"
#include "rowcodec.h"
#include "seed.h"
#include "store.h"
#include "check_run.h"

#include <check.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_ID "exp-1"

/* ---- the in-memory sink ---- */

typedef struct record {
    ferry_msg_type_t type;
    char *table; /* NULL when the message has none */
    char *key;
    char *headers[FERRY_EXPORT_MAX_HEADERS][2];
    size_t nheaders;
    void *value;
    size_t len;
} record_t;

typedef struct memory_sink {
    record_t *recs; /* the messages emitted, in order */
    size_t n, cap;
    size_t calls;       /* emit calls, the failing one included */
    long fail_at;       /* the emit call (0-based) that fails; -1: none */
    size_t cuts[256];   /* ms->n at each cut */
    size_t ncuts;
    int fail_code;
    volatile sig_atomic_t *stop_on_rows; /* set when the first Rows arrives */
} memory_sink_t;

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int keep(void *opaque, const ferry_export_msg_t *msg, char *errstr, size_t errstr_size)
{
    memory_sink_t *ms = opaque;
    record_t *r;

    if ((long)ms->calls++ == ms->fail_at)
        return ferry_errf(errstr, errstr_size, ms->fail_code, "the sink refused message %zu",
                          ms->calls - 1);
    if (ms->n == ms->cap) {
        ms->cap = ms->cap ? 2 * ms->cap : 64;
        ck_assert_ptr_nonnull(ms->recs = realloc(ms->recs, ms->cap * sizeof(*ms->recs)));
    }
    r = &ms->recs[ms->n++];
    r->type = msg->type;
    r->table = dup_or_null(msg->table);
    r->key = strdup(msg->key);
    ck_assert_uint_le(msg->nheaders, FERRY_EXPORT_MAX_HEADERS);
    r->nheaders = msg->nheaders;
    for (size_t i = 0; i < msg->nheaders; i++) {
        r->headers[i][0] = strdup(msg->headers[i].name);
        r->headers[i][1] = dup_or_null(msg->headers[i].value);
    }
    ck_assert_ptr_nonnull(r->value = malloc(msg->len ? msg->len : 1));
    memcpy(r->value, msg->value, msg->len);
    r->len = msg->len;
    if (msg->type == FERRY_MSG_ROWS && ms->stop_on_rows)
        *ms->stop_on_rows = 1;
    return FERRY_OK;
}

static int cut(void *opaque, char *errstr, size_t errstr_size)
{
    memory_sink_t *ms = opaque;

    (void)errstr;
    (void)errstr_size;
    ck_assert_uint_lt(ms->ncuts, 256);
    ms->cuts[ms->ncuts++] = ms->n;
    return FERRY_OK;
}

static void sink_free(memory_sink_t *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        free(ms->recs[i].table);
        free(ms->recs[i].key);
        for (size_t h = 0; h < ms->recs[i].nheaders; h++) {
            free(ms->recs[i].headers[h][0]);
            free(ms->recs[i].headers[h][1]);
        }
        free(ms->recs[i].value);
    }
    free(ms->recs);
    memset(ms, 0, sizeof(*ms));
}

/* ---- fixture: a source environment, a config naming it, the catalog ---- */

static char dir[64], dev_path[128];
static ferry_catalog_t *cat;

static void setup(void)
{
    char path[PATH_MAX], err[512] = "";
    const char *src = getenv("FERRY_SOURCE_DIR");

    snprintf(dir, sizeof(dir), "/tmp/ferry-export-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(dev_path, sizeof(dev_path), "%s/dev.db", dir);
    snprintf(path, sizeof(path), "%s/schemas/catalog/preset.json", src ? src : ".");
    ck_assert_msg(ferry_catalog_load(path, &cat, err, sizeof(err)) == FERRY_OK, "%s", err);
}

static void teardown(void)
{
    char cmd[128];

    ferry_catalog_destroy(cat);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void seed_sample(void)
{
    char err[512] = "";
    ck_assert_msg(ferry_seed_create(dev_path, NULL, 2000, 7, 0, NULL, err, sizeof(err)) == FERRY_OK,
                  "%s", err);
}

static void source_sql(const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;

    ck_assert_int_eq(sqlite3_open(dev_path, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s", msg);
    sqlite3_close(db);
}

/* More settings of the worker section for prepare ("" or ", \"k\": v"). */
static const char *worker_extra = "";

/* Prepares the export of the comma-separated objects from dev to prod. */
static ferry_export_t *prepare(const char *objects, ferry_content_t content,
                               int rows_message_bytes, ferry_config_t **cfg)
{
    char text[1024], err[512] = "", *copy = strdup(objects), *save = NULL;
    char *names[16];
    ferry_request_t req = {0};
    ferry_export_t *ex = NULL;

    snprintf(text, sizeof(text),
             "{ \"environments\": { \"dev\": { \"store\": \"sqlite:%s\" },"
             " \"prod\": { \"store\": \"sqlite:%s/prod.db\" } },"
             " \"worker\": { \"rows_message_bytes\": %d%s } }",
             dev_path, dir, rows_message_bytes, worker_extra);
    ck_assert_msg(ferry_config_parse(text, "test.json", cfg, err, sizeof(err)) == FERRY_OK, "%s",
                  err);
    for (char *t = strtok_r(copy, ",", &save); t && req.nobjects < 16; t = strtok_r(NULL, ",", &save))
        names[req.nobjects++] = t;
    req.export_id = EXPORT_ID;
    req.source = "dev";
    req.target = "prod";
    req.objects = names;
    req.content = content;
    req.requested_at_ms = 1700000000000;
    ck_assert_msg(ferry_export_prepare(*cfg, cat, &req, &ex, err, sizeof(err)) == FERRY_OK, "%s",
                  err);
    free(copy);
    return ex;
}

/* ---- reading the stream back ---- */

/* The stream as "Type(table) ..." with a run of Rows of one table written once
 * as "Rows(t)...". */
static char *shape(const memory_sink_t *ms)
{
    ferry_buf_t b = FERRY_BUF_INIT;

    for (size_t i = 0; i < ms->n; i++) {
        const record_t *r = &ms->recs[i];
        if (r->type == FERRY_MSG_ROWS && i > 0 && ms->recs[i - 1].type == FERRY_MSG_ROWS &&
            !strcmp(ms->recs[i - 1].table, r->table))
            continue;
        ck_assert_int_eq(ferry_buf_printf(&b, "%s%s%s%s%s%s", i ? " " : "",
                                          ferry_msg_type_name(r->type), r->table ? "(" : "",
                                          r->table ? r->table : "", r->table ? ")" : "",
                                          r->type == FERRY_MSG_ROWS ? "..." : ""),
                         0);
    }
    ck_assert_int_eq(ferry_buf_append(&b, "", 1), 0);
    return (char *)b.data;
}

/* The expected shape of the stream of plan (see export.h): ExportBegin, per
 * apply group the TableMetadata of each table, then per table its Rows (when
 * with_rows and the table has rows) and its TableEnd; ExportEnd. */
static char *expected_shape(const ferry_plan_t *plan, const int *has_rows)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    size_t nt = ferry_plan_ntables(plan);

    ck_assert_int_eq(ferry_buf_puts(&b, "ExportBegin"), 0);
    for (size_t i = 0, next; i < nt; i = next) {
        for (next = i; next < nt && ferry_plan_table(plan, next)->group ==
                                        ferry_plan_table(plan, i)->group;
             next++)
            ck_assert_int_eq(ferry_buf_printf(&b, " TableMetadata(%s)",
                                              ferry_plan_table(plan, next)->name),
                             0);
        for (size_t k = i; k < next; k++) {
            const char *t = ferry_plan_table(plan, k)->name;
            if (has_rows[k])
                ck_assert_int_eq(ferry_buf_printf(&b, " Rows(%s)...", t), 0);
            ck_assert_int_eq(ferry_buf_printf(&b, " TableEnd(%s)", t), 0);
        }
    }
    ck_assert_int_eq(ferry_buf_puts(&b, " ExportEnd"), 0);
    ck_assert_int_eq(ferry_buf_append(&b, "", 1), 0);
    return (char *)b.data;
}

/* Every message: the stream key, and the headers ferry.type (agreeing with
 * the message's own framing), ferry.export and, for a table's messages,
 * ferry.table, in that order and nothing else. */
static void check_headers(const memory_sink_t *ms, const char *key)
{
    for (size_t i = 0; i < ms->n; i++) {
        const record_t *r = &ms->recs[i];
        ferry_msg_type_t framed;
        int per_table = r->type == FERRY_MSG_TABLE_METADATA || r->type == FERRY_MSG_ROWS ||
                        r->type == FERRY_MSG_TABLE_END;
        char err[256];

        ck_assert_str_eq(r->key, key);
        ck_assert_uint_eq(r->nheaders, per_table ? 4 : 3);
        ck_assert_str_eq(r->headers[0][0], "ferry.type");
        ck_assert_str_eq(r->headers[0][1], ferry_msg_type_name(r->type));
        ck_assert_str_eq(r->headers[1][0], "ferry.export");
        ck_assert_str_eq(r->headers[1][1], EXPORT_ID);
        ck_assert_str_eq(r->headers[2][0], "ferry.attempt");
        ck_assert_str_eq(r->headers[2][1], "");
        if (per_table) {
            ck_assert_str_eq(r->headers[3][0], "ferry.table");
            ck_assert_str_eq(r->headers[3][1], r->table);
        } else {
            ck_assert_ptr_null(r->table);
        }
        ck_assert_int_eq(ferry_msg_peek(r->value, r->len, &framed, NULL, err, sizeof(err)), 0);
        /* A Rows message's fingerprint is its table's, not an envelope's. */
        ck_assert_int_eq(framed, r->type == FERRY_MSG_ROWS ? FERRY_MSG_UNKNOWN : r->type);
    }
}

/* A value as text: kind, then its exact content (hex for bytes). */
static void render_value(ferry_buf_t *b, int kind, int64_t i, double d, const void *p, size_t n)
{
    static const char *const kinds = "NIRTB";

    ck_assert_int_eq(ferry_buf_printf(b, "|%c:", kinds[kind]), 0);
    if (kind == FERRY_V_INT)
        ck_assert_int_eq(ferry_buf_printf(b, "%lld", (long long)i), 0);
    else if (kind == FERRY_V_REAL)
        ck_assert_int_eq(ferry_buf_printf(b, "%a", d), 0);
    else
        for (size_t k = 0; k < n; k++)
            ck_assert_int_eq(ferry_buf_printf(b, "%02x", ((const unsigned char *)p)[k]), 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct rows_seen {
    char **rows; /* rendered, sorted by check_rows */
    size_t n, cap;
} rows_seen_t;

static void rows_add(rows_seen_t *s, ferry_buf_t *b)
{
    ck_assert_int_eq(ferry_buf_append(b, "", 1), 0);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        ck_assert_ptr_nonnull(s->rows = realloc(s->rows, s->cap * sizeof(*s->rows)));
    }
    ck_assert_ptr_nonnull(s->rows[s->n++] = strdup((const char *)b->data));
    ferry_buf_reset(b);
}

static void rows_free(rows_seen_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i]);
    free(s->rows);
}

/* The rows of table as the sqlite3 library reads them from the source. */
static void source_rows(const char *table, rows_seen_t *out)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    ferry_buf_t b = FERRY_BUF_INIT;
    char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", table);

    ck_assert_int_eq(sqlite3_open_v2(dev_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s",
                  sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            int t = sqlite3_column_type(st, c);
            int kind = t == SQLITE_INTEGER ? FERRY_V_INT
                       : t == SQLITE_FLOAT ? FERRY_V_REAL
                       : t == SQLITE_TEXT  ? FERRY_V_TEXT
                       : t == SQLITE_BLOB  ? FERRY_V_BLOB
                                           : FERRY_V_NULL;
            const void *p = t == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, c)
                                             : sqlite3_column_blob(st, c);
            render_value(&b, kind, sqlite3_column_int64(st, c), sqlite3_column_double(st, c), p,
                         (size_t)sqlite3_column_bytes(st, c));
        }
        rows_add(out, &b);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    sqlite3_free(sql);
    ferry_buf_free(&b);
}

/* ferry's checksum of table, through a store opened apart from the job's. */
static void source_checksum(const char *table, char hex[17], int64_t *rows)
{
    ferry_store_t *store = NULL;
    ferry_objset_t *objs = NULL;
    ferry_checksum_t sum;
    char uri[160], err[512] = "";

    snprintf(uri, sizeof(uri), "sqlite:%s", dev_path);
    ck_assert_msg(ferry_store_open(uri, FERRY_STORE_READ, &store, err, sizeof(err)) == 0 &&
                      ferry_store_read_meta(store, &objs, err, sizeof(err)) == 0 &&
                      ferry_store_checksum_table(store, ferry_objset_find(objs, table), &sum,
                                                 err, sizeof(err)) == 0,
                  "%s", err);
    ferry_checksum_hex(&sum, hex);
    *rows = (int64_t)sum.rows;
    ferry_objset_destroy(objs);
    ferry_store_destroy(store);
}

/* Decodes the Rows messages first..end-1 of obj with codec, adding their
 * rows to sum and (rendered) to sent, and checks their packing: at most
 * target bytes of row bodies unless a message holds one row, and the row
 * that starts a message did not fit into the one before. Returns how many
 * messages. */
static size_t read_rows(const memory_sink_t *ms, size_t first, size_t end, ferry_rowcodec_t *codec,
                        const ferry_object_t *obj, size_t target, ferry_checksum_t *sum,
                        rows_seen_t *sent)
{
    ferry_buf_t row_text = FERRY_BUF_INIT, body = FERRY_BUF_INIT;
    uint64_t seeds[256];
    size_t prev_bytes = 0;
    char err[512] = "";

    ck_assert_uint_le(obj->nfields, 256);
    for (size_t f = 0; f < obj->nfields; f++)
        seeds[f] = ferry_checksum_seed(obj->fields[f].name);
    for (size_t m = first; m < end; m++) {
        const ferry_value_t *row;
        size_t nrows = 0, bodies = 0, first_body = 0;
        int more;

        ck_assert_msg(ferry_rowcodec_rows_open(codec, ms->recs[m].value, ms->recs[m].len, err,
                                               sizeof(err)) == 0,
                      "%s", err);
        while ((more = ferry_rowcodec_rows_next(codec, &row, err, sizeof(err))) == 1) {
            ferry_checksum_add(sum, seeds, row, obj->nfields);
            for (size_t f = 0; f < obj->nfields; f++)
                render_value(&row_text, row[f].kind, row[f].i, row[f].d, row[f].p, row[f].n);
            rows_add(sent, &row_text);
            ferry_buf_reset(&body);
            ck_assert_int_eq(ferry_rowcodec_encode(codec, row, &body, err, sizeof(err)), 0);
            if (!nrows++)
                first_body = body.len;
            bodies += body.len;
        }
        ck_assert_msg(more == 0, "%s", err);
        ck_assert_uint_gt(nrows, 0);
        ck_assert_msg(bodies <= target || nrows == 1,
                      "Rows(%s) #%zu: %zu rows, %zu bytes of bodies > %zu", obj->name,
                      m - first, nrows, bodies, target);
        ck_assert_msg(m == first || prev_bytes >= target || prev_bytes + first_body > target,
                      "Rows(%s) #%zu: its first row (%zu bytes) fitted into the previous "
                      "message (%zu bytes)",
                      obj->name, m - first, first_body, prev_bytes);
        prev_bytes = bodies;
    }
    ferry_buf_free(&row_text);
    ferry_buf_free(&body);
    return end - first;
}

/* What decoding a stream gave. */
typedef struct decoded {
    size_t rows_messages;
    int64_t bytes;
} decoded_t;

/* Decodes every message of the stream the way an importer would (the row
 * decoder built from the TableMetadata's object, its fingerprint checked)
 * and checks: the ExportBegin's request and plan are the export's; each
 * table's rows are exactly the source's (as sqlite3 reads them) and their
 * checksum is TableEnd's and ferry's own over the source; the ExportEnd
 * totals; each Rows message holds at most target bytes of row bodies unless
 * it holds one row, and the row that starts the next message of the table
 * did not fit into it. has_rows[i] receives whether plan table i has rows. */
static decoded_t check_content(const memory_sink_t *ms, const ferry_export_t *ex,
                               ferry_content_t content, size_t target, int *has_rows)
{
    const ferry_plan_t *plan = ferry_export_plan(ex);
    ferry_table_metadata_t *tms[64] = {0};
    ferry_checksum_t total = FERRY_CHECKSUM_INIT;
    decoded_t d = {0};
    size_t ntms = 0;
    int32_t tables_ended = 0;
    char err[512] = "";

    ck_assert_uint_le(ferry_plan_ntables(plan), 64);
    for (size_t i = 0; i < ms->n; i++) {
        const record_t *r = &ms->recs[i];
        d.bytes += (int64_t)r->len;
        if (r->type == FERRY_MSG_EXPORT_BEGIN) {
            ferry_export_begin_t *b = NULL;
            ck_assert_msg(ferry_export_begin_decode(r->value, r->len, &b, err, sizeof(err)) == 0,
                          "%s", err);
            ck_assert_str_eq(b->export_id, EXPORT_ID);
            ck_assert_str_eq(b->request->source, "dev");
            ck_assert_int_eq(b->request->content, content);
            ck_assert_uint_eq(b->ntables, ferry_plan_ntables(plan));
            for (size_t k = 0; k < b->ntables; k++) {
                ck_assert_str_eq(b->tables[k].name, ferry_plan_table(plan, k)->name);
                ck_assert_int_eq(b->tables[k].group, ferry_plan_table(plan, k)->group);
            }
            ck_assert_int_eq(b->ngroups, ferry_plan_ngroups(plan));
            ferry_export_begin_free(b);
        } else if (r->type == FERRY_MSG_TABLE_METADATA) {
            ferry_table_metadata_t *tm = NULL;
            ck_assert_msg(ferry_table_metadata_decode(r->value, r->len, &tm, err, sizeof(err)) ==
                              0,
                          "%s", err);
            ck_assert_str_eq(tm->object->name, r->table);
            ck_assert_int_eq(tm->with_rows, content != FERRY_CONTENT_METADATA);
            ck_assert_uint_lt(ntms, 64);
            tms[ntms++] = tm;
        } else if (r->type == FERRY_MSG_TABLE_END) {
            ferry_table_end_t *te = NULL;
            const ferry_table_metadata_t *tm = NULL;
            ferry_rowcodec_t *codec = NULL;
            ferry_checksum_t sum = FERRY_CHECKSUM_INIT;
            rows_seen_t sent = {0}, held = {0};
            char hex[17], src_hex[17];
            int64_t src_rows;
            size_t idx = 0;

            ck_assert_msg(ferry_table_end_decode(r->value, r->len, &te, err, sizeof(err)) == 0,
                          "%s", err);
            ck_assert_str_eq(te->table, r->table);
            for (size_t k = 0; k < ntms; k++)
                if (!strcmp(tms[k]->object->name, r->table))
                    tm = tms[k];
            ck_assert_msg(tm != NULL, "TableEnd(%s) without its TableMetadata", r->table);
            while (strcmp(ferry_plan_table(plan, idx)->name, r->table))
                idx++;
            ck_assert_msg(ferry_rowcodec_new(tm->object, &codec, err, sizeof(err)) == 0, "%s",
                          err);
            ck_assert_uint_eq(ferry_rowcodec_fingerprint(codec), tm->fingerprint);
            /* This table's Rows messages are the ones just before its TableEnd. */
            size_t first = i;
            while (first > 0 && ms->recs[first - 1].type == FERRY_MSG_ROWS &&
                   !strcmp(ms->recs[first - 1].table, r->table))
                first--;
            has_rows[idx] = first < i;
            d.rows_messages += read_rows(ms, first, i, codec, tm->object, target, &sum, &sent);

            ferry_checksum_hex(&sum, hex);
            ck_assert_int_eq(te->rows, (int64_t)sum.rows);
            ck_assert_str_eq(te->checksum, hex);
            if (content != FERRY_CONTENT_METADATA) {
                source_rows(r->table, &held);
                qsort(sent.rows, sent.n, sizeof(*sent.rows), cmp_str);
                qsort(held.rows, held.n, sizeof(*held.rows), cmp_str);
                ck_assert_uint_eq(sent.n, held.n);
                for (size_t k = 0; k < sent.n; k++)
                    ck_assert_str_eq(sent.rows[k], held.rows[k]);
                source_checksum(r->table, src_hex, &src_rows);
                ck_assert_str_eq(te->checksum, src_hex);
                ck_assert_int_eq(te->rows, src_rows);
            } else {
                ck_assert_int_eq(te->rows, 0);
            }
            ferry_checksum_merge(&total, &sum);
            tables_ended++;
            rows_free(&sent);
            rows_free(&held);
            ferry_rowcodec_destroy(codec);
            ferry_table_end_free(te);
        } else if (r->type == FERRY_MSG_EXPORT_END) {
            ferry_export_end_t *e = NULL;
            char hex[17];
            ck_assert_msg(ferry_export_end_decode(r->value, r->len, &e, err, sizeof(err)) == 0,
                          "%s", err);
            ferry_checksum_hex(&total, hex);
            ck_assert_int_eq(e->tables, tables_ended);
            ck_assert_int_eq(e->rows, (int64_t)total.rows);
            ck_assert_str_eq(e->checksum, hex);
            ferry_export_end_free(e);
        }
    }
    for (size_t k = 0; k < ntms; k++)
        ferry_table_metadata_free(tms[k]);
    return d;
}

/* Streams ex into a fresh sink; checks shape, headers and content. */
static void check_export(ferry_export_t *ex, ferry_content_t content, size_t target,
                         memory_sink_t *ms)
{
    ferry_export_sink_t sink = {keep, NULL, ms};
    ferry_export_stats_t stats;
    int has_rows[64] = {0};
    char err[512] = "", *got, *want;
    decoded_t d;

    ms->fail_at = -1;
    ck_assert_msg(ferry_export_stream(ex, &sink, NULL, &stats, err, sizeof(err)) == FERRY_OK,
                  "%s", err);
    check_headers(ms, ferry_export_stream_key(ex));
    d = check_content(ms, ex, content, target, has_rows);
    got = shape(ms);
    want = expected_shape(ferry_export_plan(ex), has_rows);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(stats.tables, (int32_t)ferry_plan_ntables(ferry_export_plan(ex)));
    ck_assert_int_eq(stats.messages, (int64_t)d.rows_messages);
    ck_assert_int_eq(stats.bytes, d.bytes);
    free(got);
    free(want);
}

/* ---- the sample environment, by content and Rows message size ---- */

static const struct {
    ferry_content_t content;
    int rows_message_bytes;
} sample_cases[] = {
    {FERRY_CONTENT_ALL, 65536}, /* the default: a table's rows in few messages */
    {FERRY_CONTENT_ALL, 300},   /* many messages: the packing bounds matter */
    {FERRY_CONTENT_ALL, 1},     /* every row larger than the target: one per message */
    {FERRY_CONTENT_DATA, 300},  /* the same stream as all, the request says data */
    {FERRY_CONTENT_METADATA, 65536}, /* no Rows, empty TableEnds */
};

START_TEST(test_sample_stream)
{
    ferry_config_t *cfg = NULL;
    ferry_export_t *ex;
    memory_sink_t ms = {0};

    seed_sample();
    ex = prepare("Queue,Order__CST,Category__CST,Order Note__CST", sample_cases[_i].content,
                 sample_cases[_i].rows_message_bytes, &cfg);
    check_export(ex, sample_cases[_i].content, (size_t)sample_cases[_i].rows_message_bytes, &ms);
    /* Rows were streamed (the check above saw each message). */
    if (sample_cases[_i].content != FERRY_CONTENT_METADATA) {
        size_t rows_msgs = 0;
        for (size_t i = 0; i < ms.n; i++)
            rows_msgs += ms.recs[i].type == FERRY_MSG_ROWS;
        ck_assert_uint_gt(rows_msgs, 0);
    }
    sink_free(&ms);
    ferry_export_destroy(ex);
    ferry_config_destroy(cfg);
}
END_TEST

/* ---- hand-made schemas: the exact stream ---- */

/* a and b reference each other with ON DELETE CASCADE (each pulls the other:
 * one apply group); c is a CASCADE detail of a (the next group). */
static const char cycle_sql[] =
    "PRAGMA foreign_keys = OFF;"
    "CREATE TABLE a(id INTEGER PRIMARY KEY, b_id INT REFERENCES b(id) ON DELETE CASCADE,"
    "  note TEXT);"
    "CREATE TABLE b(id INTEGER PRIMARY KEY, a_id INT REFERENCES a(id) ON DELETE CASCADE,"
    "  v REAL, raw BLOB);"
    "CREATE TABLE c(id INTEGER PRIMARY KEY, a_id INT NOT NULL REFERENCES a(id) ON DELETE CASCADE);"
    "INSERT INTO a VALUES (1, 10, 'one'), (2, NULL, 'två'), (3, 10, NULL);"
    "INSERT INTO b VALUES (10, 1, 0.5, x'00ff'), (11, 2, -1e300, NULL);"
    "INSERT INTO c VALUES (100, 1), (101, 3);";

static const struct {
    const char *what;
    ferry_content_t content;
    const char *stream;
} cycle_cases[] = {
    {"all: a group's metadata before its rows; a table's rows before its TableEnd",
     FERRY_CONTENT_ALL,
     "ExportBegin TableMetadata(a) TableMetadata(b) Rows(a)... TableEnd(a) Rows(b)... "
     "TableEnd(b) TableMetadata(c) Rows(c)... TableEnd(c) ExportEnd"},
    {"data: the same stream", FERRY_CONTENT_DATA,
     "ExportBegin TableMetadata(a) TableMetadata(b) Rows(a)... TableEnd(a) Rows(b)... "
     "TableEnd(b) TableMetadata(c) Rows(c)... TableEnd(c) ExportEnd"},
    {"metadata: no rows", FERRY_CONTENT_METADATA,
     "ExportBegin TableMetadata(a) TableMetadata(b) TableEnd(a) TableEnd(b) TableMetadata(c) "
     "TableEnd(c) ExportEnd"},
};

START_TEST(test_cycle_group_stream)
{
    ferry_config_t *cfg = NULL;
    ferry_export_t *ex;
    memory_sink_t ms = {0};
    char *got;

    source_sql(cycle_sql);
    ex = prepare("a", cycle_cases[_i].content, 65536, &cfg);
    check_export(ex, cycle_cases[_i].content, 65536, &ms);
    got = shape(&ms);
    ck_assert_msg(!strcmp(got, cycle_cases[_i].stream), "%s:\n got  %s\n want %s",
                  cycle_cases[_i].what, got, cycle_cases[_i].stream);
    ck_assert_str_eq(ms.recs[0].key, "dev->prod");
    free(got);
    sink_free(&ms);
    ferry_export_destroy(ex);
    ferry_config_destroy(cfg);
}
END_TEST

/* ---- a sink that fails, a stop ---- */

static const struct {
    const char *what;
    long fail_at; /* the emit call that fails; -1: the last one */
    int code;
} fail_cases[] = {
    {"ExportBegin refused", 0, FERRY_EKAFKA},
    {"a TableMetadata refused", 1, FERRY_EPERMANENT},
    {"a Rows message refused (queue full)", 4, FERRY_ETIMEOUT},
    {"ExportEnd refused", -1, FERRY_EFATAL},
};

START_TEST(test_sink_error_stops_the_job)
{
    ferry_config_t *cfg = NULL;
    ferry_export_t *ex;
    memory_sink_t ms = {0};
    ferry_export_sink_t sink = {keep, NULL, &ms};
    ferry_export_stats_t stats;
    char err[512] = "", want[64];
    long fail_at = fail_cases[_i].fail_at;
    int rc;

    seed_sample();
    ex = prepare("Order__CST", FERRY_CONTENT_ALL, 300, &cfg);
    if (fail_at < 0) {
        ms.fail_at = -1;
        ck_assert_int_eq(ferry_export_stream(ex, &sink, NULL, &stats, err, sizeof(err)), 0);
        fail_at = (long)ms.n - 1;
        sink_free(&ms);
    }
    ms.fail_at = fail_at;
    ms.fail_code = fail_cases[_i].code;
    rc = ferry_export_stream(ex, &sink, NULL, &stats, err, sizeof(err));
    ck_assert_msg(rc == fail_cases[_i].code, "%s: %d (%s)", fail_cases[_i].what, rc, err);
    snprintf(want, sizeof(want), "the sink refused message %ld", fail_at);
    ck_assert_str_eq(err, want);
    /* Nothing was emitted after the refused message. */
    ck_assert_uint_eq(ms.calls, (size_t)fail_at + 1);
    ck_assert_uint_eq(ms.n, (size_t)fail_at);
    if (fail_cases[_i].fail_at == 4)
        ck_assert_int_eq(ms.recs[3].type, FERRY_MSG_ROWS); /* the one refused is not the first */
    sink_free(&ms);
    ferry_export_destroy(ex);
    ferry_config_destroy(cfg);
}
END_TEST

START_TEST(test_stop_ends_the_job_between_rows)
{
    ferry_config_t *cfg = NULL;
    ferry_export_t *ex;
    volatile sig_atomic_t stop = 0;
    memory_sink_t ms = {.fail_at = -1, .stop_on_rows = &stop};
    ferry_export_sink_t sink = {keep, NULL, &ms};
    ferry_export_stats_t stats;
    char err[512] = "";

    seed_sample();
    ex = prepare("Order__CST", FERRY_CONTENT_ALL, 300, &cfg);
    ck_assert_int_eq(ferry_export_stream(ex, &sink, &stop, &stats, err, sizeof(err)),
                     FERRY_EABORT);
    ck_assert_ptr_nonnull(strstr(err, "export " EXPORT_ID " stopped at table"));
    /* The Rows message that saw the stop was the last one. */
    ck_assert_int_eq(ms.recs[ms.n - 1].type, FERRY_MSG_ROWS);
    ck_assert_int_eq(stats.messages, 1);
    sink_free(&ms);
    ferry_export_destroy(ex);
    ferry_config_destroy(cfg);
}
END_TEST

/* Cut into parts: each part (but one holding a single larger message)
 * within worker.part_bytes, each after the first opened by a PartBegin
 * numbering it and carrying the rows and checksum of every row emitted
 * before it; without its PartBegins the stream is the one a sink that never
 * cuts gets. */
START_TEST(test_parts_within_budget_numbered_with_what_came_before)
{
    enum { PART_BYTES = 6000 };
    ferry_config_t *cfg = NULL, *cfg1 = NULL;
    ferry_export_t *ex, *ex1;
    memory_sink_t ms = {.fail_at = -1}, whole = {.fail_at = -1};
    ferry_export_sink_t sink = {keep, cut, &ms}, one = {keep, NULL, &whole};
    ferry_export_stats_t stats, stats1;
    ferry_checksum_t running = FERRY_CHECKSUM_INIT;
    ferry_rowcodec_t *codecs[64] = {0};
    ferry_table_metadata_t *tms[64] = {0};
    uint64_t *seeds[64] = {0};
    char *names[64] = {0};
    size_t ntables = 0, k = 0, next_cut = 0, part_len = 0, part_msgs = 0;
    char err[512] = "", hex[17];

    seed_sample();
    worker_extra = ", \"part_bytes\": 6000";
    ex = prepare("Order__CST", FERRY_CONTENT_ALL, 1000, &cfg);
    worker_extra = "";
    ex1 = prepare("Order__CST", FERRY_CONTENT_ALL, 1000, &cfg1);
    ferry_export_set_attempt(ex, "00000000000000a1");
    ferry_export_set_attempt(ex1, "00000000000000a1");
    ck_assert_int_eq(ferry_export_stream(ex, &sink, NULL, &stats, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_export_stream(ex1, &one, NULL, &stats1, err, sizeof(err)), 0);
    ck_assert_int_gt(ms.ncuts, 3);
    ck_assert_int_eq(stats.parts, (int32_t)ms.ncuts + 1);
    ck_assert_int_eq(stats1.parts, 1);
    ck_assert_int_eq(stats.rows, stats1.rows);

    for (size_t i = 0; i < ms.n; i++) {
        const record_t *r = &ms.recs[i];

        ck_assert_str_eq(r->headers[2][1], "00000000000000a1");
        if (next_cut < ms.ncuts && ms.cuts[next_cut] == i) {
            ferry_part_begin_t *pb = NULL;
            /* The part that ends here kept to its budget, or is one message. */
            ck_assert_msg(part_len <= PART_BYTES || part_msgs == 1, "part %zu: %zu bytes", next_cut,
                          part_len);
            ck_assert_int_eq(r->type, FERRY_MSG_PART_BEGIN);
            ck_assert_int_eq(ferry_part_begin_decode(r->value, r->len, &pb, err, sizeof(err)), 0);
            ck_assert_int_eq(pb->part, (int32_t)++next_cut);
            ck_assert_str_eq(pb->attempt, "00000000000000a1");
            ck_assert_str_eq(pb->export_id, EXPORT_ID);
            ck_assert_int_eq(pb->rows, (int64_t)running.rows);
            ferry_checksum_hex(&running, hex);
            ck_assert_str_eq(pb->checksum, hex);
            ferry_part_begin_free(pb);
            part_len = r->len;
            part_msgs = 0;
            continue;
        }
        ck_assert_int_ne(r->type, FERRY_MSG_PART_BEGIN);
        part_len += r->len;
        part_msgs++;
        /* The same message as in the stream of one part. */
        ck_assert_uint_lt(k, whole.n);
        ck_assert_int_eq(whole.recs[k].type, r->type);
        ck_assert_uint_eq(whole.recs[k].len, r->len);
        ck_assert(!memcmp(whole.recs[k].value, r->value, r->len));
        k++;
        if (r->type == FERRY_MSG_TABLE_METADATA) {
            ferry_table_metadata_t *tm = NULL;
            const ferry_object_t *o;
            ck_assert_int_eq(ferry_table_metadata_decode(r->value, r->len, &tm, err, sizeof(err)), 0);
            o = tm->object;
            ck_assert_int_eq(ferry_rowcodec_new(o, &codecs[ntables], err, sizeof(err)), 0);
            ck_assert_ptr_nonnull(seeds[ntables] = calloc(o->nfields + 1, sizeof(uint64_t)));
            for (size_t f = 0; f < o->nfields; f++)
                seeds[ntables][f] = ferry_checksum_seed(o->fields[f].name);
            names[ntables] = strdup(o->name);
            tms[ntables++] = tm;
        } else if (r->type == FERRY_MSG_ROWS) {
            const ferry_value_t *row;
            size_t t = 0;
            int rc;
            while (t < ntables && strcmp(names[t], r->table))
                t++;
            ck_assert_uint_lt(t, ntables);
            ck_assert_int_eq(ferry_rowcodec_rows_open(codecs[t], r->value, r->len, err,
                                                      sizeof(err)), 0);
            while ((rc = ferry_rowcodec_rows_next(codecs[t], &row, err, sizeof(err))) == 1)
                ferry_checksum_add(&running, seeds[t], row, tms[t]->object->nfields);
            ck_assert_int_eq(rc, 0);
        }
    }
    ck_assert_uint_eq(next_cut, ms.ncuts);
    ck_assert_uint_eq(k, whole.n);
    ck_assert_int_eq(ms.recs[ms.n - 1].type, FERRY_MSG_EXPORT_END);
    for (size_t t = 0; t < ntables; t++) {
        ferry_rowcodec_destroy(codecs[t]);
        ferry_table_metadata_free(tms[t]);
        free(seeds[t]);
        free(names[t]);
    }
    sink_free(&ms);
    sink_free(&whole);
    ferry_export_destroy(ex);
    ferry_export_destroy(ex1);
    ferry_config_destroy(cfg);
    ferry_config_destroy(cfg1);
}
END_TEST

static Suite *export_suite(void)
{
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("stream");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_sample_stream, 0, sizeof(sample_cases) / sizeof(*sample_cases));
    tcase_add_loop_test(tc, test_cycle_group_stream, 0,
                        sizeof(cycle_cases) / sizeof(*cycle_cases));
    tcase_add_loop_test(tc, test_sink_error_stops_the_job, 0,
                        sizeof(fail_cases) / sizeof(*fail_cases));
    tcase_add_test(tc, test_stop_ends_the_job_between_rows);
    tcase_add_test(tc, test_parts_within_budget_numbered_with_what_came_before);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ferry_check_run(export_suite()); }
