/* test_import.c - ferry-import on the real broker.
 *
 * A test-side "fake worker" writes export streams as the worker does (one
 * Kafka transaction per export, protocol and row encoders, rows read from a
 * dev SQLite store through a cursor), with deliberate defects where a case
 * needs them. The importer (the library loop in-process with --once
 * semantics, or the ferry-import binary for the crash test) applies them to
 * prod, which holds only the association target (Application 1 and 2). */
#include "config.h"
#include "error.h"
#include "import.h"
#include "importer.h"
#include "it_util.h"
#include "kafka.h"
#include "ledger.h"
#include "protocol.h"
#include "rowcodec.h"
#include "store.h"
#include "timeutil.h"
#include "check_run.h"

#include <check.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Rows a Rows message of the fake worker carries (the real one packs ~64 KiB). */
#define ROWS_PER_MESSAGE 16

/* ---- environments: dev (the source) and prod (the target) ---- */

typedef struct env {
    char *dir;
    char *tag;
    char *cfg_path;
    char records[256];
    char status[256];
    char dev[512];  /* store URIs */
    char prod[512];
} env_t;

static const char *const app_ddl =
    "CREATE TABLE Application (id INTEGER PRIMARY KEY, name TEXT);"
    "INSERT INTO Application VALUES (1, 'crm'), (2, 'mail');";
static const char *const dev_ddl =
    "CREATE TABLE Profile (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT);"
    "CREATE TABLE ProfileAppVisibility (id INTEGER PRIMARY KEY,"
    " profile_id INTEGER NOT NULL REFERENCES Profile(id) ON DELETE CASCADE,"
    " app_id INTEGER REFERENCES Application(id));";

static void sql(const char *uri, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql(const char *uri, const char *fmt, ...)
{
    char text[2048], *err = NULL;
    sqlite3 *db;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    ck_assert_int_eq(sqlite3_open(uri + strlen("sqlite:"), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ck_assert_msg(sqlite3_exec(db, text, NULL, NULL, &err) == SQLITE_OK, "%s: %s", text, err);
    sqlite3_close(db);
}

static int64_t sql_int(const char *uri, const char *query)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;

    ck_assert_int_eq(sqlite3_open_v2(uri + strlen("sqlite:"), &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    if (sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* Profiles first..last (every third without a note) and their visibilities. */
static void add_profiles(const char *uri, int first, int last)
{
    sql(uri,
        "WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
        "INSERT INTO Profile SELECT i, 'profile ' || i, CASE WHEN i %% 3 = 0 THEN NULL "
        "ELSE 'note ' || i END FROM n;"
        "WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
        "INSERT INTO ProfileAppVisibility SELECT i, i, 1 + i %% 2 FROM n;",
        first, last, first, last);
}

static void env_setup(env_t *e, int profiles)
{
    char envs[1200], extra[512];

    memset(e, 0, sizeof(*e));
    e->dir = it_tmpdir();
    e->tag = it_unique("imp");
    snprintf(e->dev, sizeof(e->dev), "sqlite:%s/dev.db", e->dir);
    snprintf(e->prod, sizeof(e->prod), "sqlite:%s/prod.db", e->dir);
    snprintf(envs, sizeof(envs), "{ \"dev\": { \"store\": \"%s\" }, \"prod\": { \"store\": \"%s\" } }",
             e->dev, e->prod);
    /* A group of its own, and a short session so that a restarted importer
     * rejoins soon after its killed predecessor. */
    snprintf(extra, sizeof(extra),
             "\"importer\": { \"group_id_prefix\": \"%s.import-\", \"session_timeout_ms\": 3000 }",
             e->tag);
    e->cfg_path = strdup(it_write_config(e->dir, e->tag, envs, extra));
    snprintf(e->records, sizeof(e->records), "%s.records.prod", e->tag);
    snprintf(e->status, sizeof(e->status), "%s.status", e->tag);
    it_create_topic(e->records, 3, 0);
    it_create_topic(e->status, 3, 0);
    sql(e->dev, "%s%s", app_ddl, dev_ddl);
    add_profiles(e->dev, 1, profiles);
    sql(e->prod, "%s", app_ddl);
}

static void env_teardown(env_t *e)
{
    ck_assert_int_eq(it_sh(NULL, "rm -rf '%s'", e->dir), 0);
    free(e->dir);
    free(e->tag);
    free(e->cfg_path);
}

/* ---- the fake worker ---- */

typedef enum mutation {
    M_NONE = 0,
    M_ROW_BEFORE_METADATA, /* Profile's first row precedes its TableMetadata */
    M_TABLE_CHECKSUM,      /* Profile's TableEnd announces another checksum */
    M_ABORTED,             /* an ExportAbort instead of ExportEnd: the worker gave up */
} mutation_t;

static const char *const plan_tables[2] = {"Profile", "ProfileAppVisibility"};

/* One export stream, produced message by message (so that two can be
 * interleaved): ExportBegin, per table TableMetadata + rows + TableEnd,
 * ExportEnd. */
typedef struct stream {
    const char *export_id;
    ferry_content_t content;
    mutation_t mut;
    ferry_store_t *dev;
    ferry_objset_t *objs;
    enum { S_BEGIN, S_METADATA, S_ROWS, S_LATE_METADATA, S_TABLE_END, S_EXPORT_END, S_DONE } step;
    size_t table;
    const ferry_object_t *obj;
    ferry_rowcodec_t *codec;
    ferry_cursor_t *cur;
    uint64_t seeds[8];
    ferry_checksum_t sum, total;
    ferry_buf_t buf;
    ferry_buf_t bodies; /* rows of the next Rows message */
    const char *type;   /* of the message in buf */
    const char *tname;  /* its table, or NULL */
} stream_t;

static void stream_open(stream_t *s, const env_t *e, const char *export_id,
                        ferry_content_t content, mutation_t mut)
{
    char err[512];

    memset(s, 0, sizeof(*s));
    s->export_id = export_id;
    s->content = content;
    s->mut = mut;
    ck_assert_msg(ferry_store_open(e->dev, FERRY_STORE_READ, &s->dev, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_msg(ferry_store_read_meta(s->dev, &s->objs, err, sizeof(err)) == 0, "%s", err);
}

static void stream_close(stream_t *s)
{
    ferry_cursor_destroy(s->cur);
    ferry_rowcodec_destroy(s->codec);
    ferry_objset_destroy(s->objs);
    ferry_store_destroy(s->dev);
    ferry_buf_free(&s->buf);
    ferry_buf_free(&s->bodies);
}

static void encode_metadata(stream_t *s)
{
    ferry_table_metadata_t tm = {(char *)s->export_id, (int32_t)s->table, NULL, s->obj,
                                 (char *)ferry_rowcodec_schema_json(s->codec),
                                 ferry_rowcodec_fingerprint(s->codec),
                                 s->content != FERRY_CONTENT_METADATA};
    char err[256];

    ck_assert_int_eq(ferry_table_metadata_encode(&tm, &s->buf, err, sizeof(err)), 0);
    s->type = "TableMetadata";
}

/* Puts the next message in s->buf; 0 when the stream is complete. */
static int stream_next(stream_t *s)
{
    char err[512], hex[17];
    const ferry_value_t *row;
    int rc;

    ferry_buf_reset(&s->buf);
    s->tname = s->table < 2 ? plan_tables[s->table] : NULL;
    switch (s->step) {
    case S_BEGIN: {
        char *objects[] = {"Profile"};
        ferry_request_t req = {(char *)s->export_id, "dev", "prod", objects, 1, s->content, 1,
                               NULL, 0};
        ferry_plan_table_t tables[2] = {{"Profile", NULL, 0},
                                        {"ProfileAppVisibility", "Profile", 1}};
        ferry_plan_assoc_t assoc = {"ProfileAppVisibility", "Application"};
        ferry_export_begin_t b = {(char *)s->export_id, &req, tables, 2, &assoc, 1, 2, NULL};
        ck_assert_int_eq(ferry_export_begin_encode(&b, &s->buf, err, sizeof(err)), 0);
        s->type = "ExportBegin";
        s->tname = NULL;
        s->step = S_METADATA;
        return 1;
    }
    case S_METADATA:
        if (s->table == 2) {
            s->step = S_EXPORT_END;
            return stream_next(s);
        }
        s->obj = ferry_objset_find(s->objs, plan_tables[s->table]);
        ck_assert_ptr_nonnull(s->obj);
        ck_assert_int_eq(ferry_rowcodec_new(s->obj, &s->codec, err, sizeof(err)), 0);
        for (size_t i = 0; i < s->obj->nfields; i++)
            s->seeds[i] = ferry_checksum_seed(s->obj->fields[i].name);
        s->sum = (ferry_checksum_t)FERRY_CHECKSUM_INIT;
        if (s->content != FERRY_CONTENT_METADATA)
            ck_assert_int_eq(ferry_store_cursor_open(s->dev, s->obj, &s->cur, err, sizeof(err)),
                             0);
        s->step = S_ROWS;
        if (s->mut == M_ROW_BEFORE_METADATA && s->table == 0)
            return stream_next(s); /* the metadata follows the first row */
        encode_metadata(s);
        return 1;
    case S_ROWS: {
        /* Up to ROWS_PER_MESSAGE rows a message, like the worker packs them. */
        size_t n = 0;
        ferry_buf_reset(&s->bodies);
        while (n < ROWS_PER_MESSAGE && s->cur &&
               (rc = ferry_cursor_next(s->cur, &row, err, sizeof(err))) == 1) {
            ck_assert_int_eq(ferry_rowcodec_encode(s->codec, row, &s->bodies, err, sizeof(err)),
                             0);
            ferry_checksum_add(&s->sum, s->seeds, row, s->obj->nfields);
            n++;
            if (s->mut == M_ROW_BEFORE_METADATA && s->table == 0 && s->sum.rows == 1) {
                s->step = S_LATE_METADATA;
                break;
            }
        }
        if (n) {
            ck_assert_int_eq(ferry_rowcodec_frame_rows(s->codec, n, s->bodies.data, s->bodies.len,
                                                       &s->buf, err, sizeof(err)), 0);
            s->type = "Rows";
            return 1;
        }
        s->step = S_TABLE_END;
        return stream_next(s);
    }
    case S_LATE_METADATA:
        encode_metadata(s);
        s->step = S_ROWS;
        return 1;
    case S_TABLE_END: {
        ferry_checksum_hex(&s->sum, hex);
        ferry_table_end_t te = {(char *)s->export_id, (char *)s->obj->name, (int64_t)s->sum.rows,
                                hex};
        if (s->mut == M_TABLE_CHECKSUM && s->table == 0)
            te.checksum = "00000000deadbeef";
        ck_assert_int_eq(ferry_table_end_encode(&te, &s->buf, err, sizeof(err)), 0);
        ferry_checksum_merge(&s->total, &s->sum);
        ferry_cursor_destroy(s->cur);
        ferry_rowcodec_destroy(s->codec);
        s->cur = NULL;
        s->codec = NULL;
        s->type = "TableEnd";
        s->table++;
        s->step = S_METADATA;
        return 1;
    }
    case S_EXPORT_END: {
        ferry_checksum_hex(&s->total, hex);
        ferry_export_end_t end = {(char *)s->export_id, 2, (int64_t)s->total.rows, hex};
        s->step = S_DONE;
        if (s->mut == M_ABORTED) {
            ferry_export_abort_t ea = {(char *)s->export_id, "", "gave up"};
            ck_assert_int_eq(ferry_export_abort_encode(&ea, &s->buf, err, sizeof(err)), 0);
            s->type = "ExportAbort";
            return 1;
        }
        ck_assert_int_eq(ferry_export_end_encode(&end, &s->buf, err, sizeof(err)), 0);
        s->type = "ExportEnd";
        return 1;
    }
    case S_DONE:
        break;
    }
    return 0;
}

static void stream_produce(rd_kafka_t *rk, const env_t *e, int32_t partition, const char *key,
                           const stream_t *s)
{
    ferry_kafka_header_t hdrs[3] = {{"ferry.type", s->type, (size_t)-1},
                                    {"ferry.export", s->export_id, (size_t)-1},
                                    {"ferry.table", s->tname, (size_t)-1}};
    char err[512];

    ck_assert_msg(ferry_kafka_produce(rk, e->records, partition, key, strlen(key), s->buf.data,
                                      s->buf.len, hdrs, s->tname ? 3 : 2, 30000, err,
                                      sizeof(err)) == 0,
                  "%s", err);
}

static void txn_check(rd_kafka_error_t *error, const char *what)
{
    if (error) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: %s", what, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        ck_abort_msg("%s", msg);
    }
}

static rd_kafka_t *worker_new(void)
{
    char *txid = it_unique("imp.fake-worker");
    rd_kafka_t *rk = it_client(RD_KAFKA_PRODUCER, "transactional.id", txid, "linger.ms", "20",
                               NULL);

    free(txid);
    txn_check(rd_kafka_init_transactions(rk, 30000), "init_transactions");
    return rk;
}

/* Writes one whole export in one transaction to partition (or by key). */
static void send_export_to(const env_t *e, int32_t partition, const char *export_id,
                           ferry_content_t content, mutation_t mut)
{
    rd_kafka_t *rk = worker_new();
    stream_t s;

    stream_open(&s, e, export_id, content, mut);
    txn_check(rd_kafka_begin_transaction(rk), "begin_transaction");
    while (stream_next(&s))
        stream_produce(rk, e, partition, "dev->prod", &s);
    txn_check(rd_kafka_commit_transaction(rk, 60000), "commit_transaction");
    stream_close(&s);
    rd_kafka_destroy(rk);
}

static void send_export(const env_t *e, const char *export_id, ferry_content_t content,
                        mutation_t mut)
{
    send_export_to(e, RD_KAFKA_PARTITION_UA, export_id, content, mut);
}

/* ---- the importer, in-process ---- */

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
}

/* Runs the consumer loop until every partition has been read to its end. */
static void import_once(const env_t *e)
{
    ferry_config_t *cfg;
    ferry_importer_t *c;
    char err[1024] = "";
    int rc;

    ck_assert_msg(ferry_config_load(e->cfg_path, &cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(ferry_importer_new(cfg, "prod", &c, err, sizeof(err)) == 0, "%s", err);
    timed_out = 0;
    signal(SIGALRM, on_alarm);
    alarm(90);
    rc = ferry_importer_run(c, 1, &timed_out, err, sizeof(err));
    alarm(0);
    ferry_importer_destroy(c);
    ferry_config_destroy(cfg);
    ck_assert_msg(rc == 0, "import: %s", err);
    ck_assert_msg(!timed_out, "the importer did not reach the end of its partitions in 90 s");
}

/* ---- checking the outcome ---- */

/* What ferry.status says of one export. The importer's applied and failed
 * events are delivered at least once (README, Guarantees): one queued in the
 * target's outbox is sent again when the importer dies before it removed it,
 * and the copy is the queued event byte for byte. An export applied (or
 * failed) once therefore shows exactly one distinct event of that state,
 * however many copies; an export applied twice would show two, with their own
 * times. */
typedef struct outcome {
    int applied, failed, skipped;       /* events, copies included */
    int applied_events, failed_events;  /* distinct events */
    int64_t rows, inserted, updated;    /* of the applied event */
    char reason[1024];                  /* of the failed event */
} outcome_t;

static int same_event(const it_msg_t *a, const it_msg_t *b)
{
    return a->value_len == b->value_len && !memcmp(a->value, b->value, a->value_len);
}

static outcome_t outcome_of(const env_t *e, const char *export_id)
{
    outcome_t o = {0};
    it_msg_t *msgs;
    size_t n = it_consume_all(e->status, "read_committed", 5000, &msgs);
    char err[256];

    for (size_t i = 0; i < n; i++) {
        ferry_status_t *st = NULL;
        int copy = 0;
        ck_assert_msg(ferry_status_decode(msgs[i].value, msgs[i].value_len, &st, err,
                                          sizeof(err)) == 0,
                      "%s", err);
        for (size_t j = 0; j < i && !copy; j++)
            copy = same_event(&msgs[i], &msgs[j]);
        if (!strcmp(st->export_id, export_id)) {
            ck_assert_str_eq(st->component, "import:prod");
            o.skipped += st->state == FERRY_STATUS_SKIPPED;
            if (st->state == FERRY_STATUS_FAILED) {
                o.failed++;
                o.failed_events += !copy;
                snprintf(o.reason, sizeof(o.reason), "%s", st->reason ? st->reason : "");
            }
            if (st->state == FERRY_STATUS_APPLIED) {
                o.applied++;
                o.applied_events += !copy;
                o.rows = st->rows;
                o.inserted = o.updated = 0;
                for (size_t t = 0; t < st->ntable_stats; t++) {
                    o.inserted += st->table_stats[t].inserted;
                    o.updated += st->table_stats[t].updated;
                }
            }
        }
        ferry_status_free(st);
    }
    it_msgs_free(msgs, n);
    return o;
}

/* Applied once and reported at least once, never failed. */
#define ck_assert_applied_once(o, id)                                                             \
    ck_assert_msg((o).applied >= 1 && (o).applied_events == 1 && (o).failed == 0,                 \
                  "%s: %d applied events (%d distinct), %d failed: %s", (id), (o).applied,        \
                  (o).applied_events, (o).failed, (o).reason)

static ferry_checksum_t checksum_of(const char *uri, const char *table)
{
    ferry_store_t *st;
    ferry_objset_t *objs;
    ferry_checksum_t sum = FERRY_CHECKSUM_INIT;
    char err[512];

    ck_assert_msg(ferry_store_open(uri, FERRY_STORE_READ, &st, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(ferry_store_read_meta(st, &objs, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(ferry_objset_find(objs, table), "%s has no table %s", uri, table);
    ck_assert_msg(ferry_store_checksum_table(st, ferry_objset_find(objs, table), &sum, err,
                                             sizeof(err)) == 0,
                  "%s", err);
    ferry_objset_destroy(objs);
    ferry_store_destroy(st);
    return sum;
}

/* prod holds exactly dev's rows of the exported tables. */
static void assert_prod_equals_dev(const env_t *e)
{
    for (size_t i = 0; i < 2; i++) {
        ferry_checksum_t d = checksum_of(e->dev, plan_tables[i]);
        ferry_checksum_t p = checksum_of(e->prod, plan_tables[i]);
        ck_assert_msg(d.rows == p.rows && d.sum == p.sum,
                      "%s: dev has %llu rows (%016llx), prod %llu (%016llx)", plan_tables[i],
                      (unsigned long long)d.rows, (unsigned long long)d.sum,
                      (unsigned long long)p.rows, (unsigned long long)p.sum);
    }
}

static int prod_has_table(const env_t *e, const char *table)
{
    char q[256];
    snprintf(q, sizeof(q), "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
             table);
    return sql_int(e->prod, q) == 1;
}

static int prod_applied(const env_t *e, const char *export_id)
{
    char q[256];
    snprintf(q, sizeof(q), "SELECT count(*) FROM ferry_applied WHERE export_id = '%s'",
             export_id);
    return (int)sql_int(e->prod, q);
}

/* ---- the tests ---- */

START_TEST(test_export_applies_in_dependency_order)
{
    env_t e;
    outcome_t o;

    env_setup(&e, 50);
    send_export(&e, "e-1", FERRY_CONTENT_ALL, M_NONE);
    import_once(&e);
    o = outcome_of(&e, "e-1");
    ck_assert_applied_once(o, "e-1");
    ck_assert_int_eq(o.rows, 100);
    ck_assert_int_eq(o.inserted, 100);
    assert_prod_equals_dev(&e);
    ck_assert_int_eq(prod_applied(&e, "e-1"), 1);
    env_teardown(&e);
}
END_TEST

/* A later export of changed and added rows updates prod, resuming from the
 * offsets stored there: no duplicates, changed values win. */
START_TEST(test_second_export_updates_prod)
{
    env_t e;
    outcome_t o;

    env_setup(&e, 50);
    send_export(&e, "e-1", FERRY_CONTENT_ALL, M_NONE);
    import_once(&e);
    sql(e.dev, "UPDATE Profile SET name = name || ' (renamed)', note = NULL WHERE id <= 10;"
               "UPDATE ProfileAppVisibility SET app_id = NULL WHERE id = 50;");
    add_profiles(e.dev, 51, 60);
    send_export(&e, "e-2", FERRY_CONTENT_ALL, M_NONE);
    import_once(&e);
    o = outcome_of(&e, "e-2");
    ck_assert_applied_once(o, "e-2");
    ck_assert_int_eq(o.inserted, 20);
    ck_assert_int_eq(o.updated, 100);
    o = outcome_of(&e, "e-1");
    ck_assert_applied_once(o, "e-1");
    ck_assert_int_eq(prod_applied(&e, "e-1") + prod_applied(&e, "e-2"), 2);
    assert_prod_equals_dev(&e);
    ck_assert_int_eq(sql_int(e.prod, "SELECT count(*) FROM Profile"), 60);
    ck_assert_int_eq(sql_int(e.prod, "SELECT count(*) FROM Profile WHERE name LIKE '%renamed%'"),
                     10);
    env_teardown(&e);
}
END_TEST

/* A re-fire or a worker's redo publishes the same export id again: skipped. */
START_TEST(test_redelivered_export_is_skipped)
{
    env_t e;
    outcome_t o;

    env_setup(&e, 20);
    send_export(&e, "e-1", FERRY_CONTENT_ALL, M_NONE);
    sql(e.dev, "UPDATE Profile SET name = 'changed'");
    send_export(&e, "e-1", FERRY_CONTENT_ALL, M_NONE);
    import_once(&e);
    o = outcome_of(&e, "e-1");
    ck_assert_applied_once(o, "e-1");
    ck_assert_int_eq(o.skipped, 1);
    ck_assert_int_eq(sql_int(e.prod, "SELECT count(*) FROM Profile WHERE name = 'changed'"), 0);
    ck_assert_int_eq(sql_int(e.prod, "SELECT count(*) FROM Profile"), 20);
    env_teardown(&e);
}
END_TEST

START_TEST(test_metadata_only_creates_empty_tables)
{
    env_t e;
    outcome_t o;

    env_setup(&e, 20);
    send_export(&e, "m-1", FERRY_CONTENT_METADATA, M_NONE);
    import_once(&e);
    o = outcome_of(&e, "m-1");
    ck_assert_applied_once(o, "m-1");
    ck_assert(prod_has_table(&e, "Profile") && prod_has_table(&e, "ProfileAppVisibility"));
    ck_assert_int_eq(sql_int(e.prod, "SELECT count(*) FROM Profile"), 0);
    ck_assert_int_eq(sql_int(e.prod, "SELECT count(*) FROM ProfileAppVisibility"), 0);
    env_teardown(&e);
}
END_TEST

/* Each bad export fails with a reason naming what is wrong, leaves prod as
 * it was, and the importer goes on with the next export. */
static const struct {
    const char *name;
    ferry_content_t content;
    mutation_t mut;
    const char *dev_sql; /* run on dev before the bad export, undone after */
    const char *undo_sql;
    const char *reason[2];
} refusals[] = {
    {"data-only into a missing table", FERRY_CONTENT_DATA, M_NONE, NULL, NULL,
     {"data-only export: table Profile does not exist in prod", NULL}},
    {"row referencing a missing association target", FERRY_CONTENT_ALL, M_NONE,
     "INSERT INTO Application VALUES (99, 'erp');"
     "UPDATE ProfileAppVisibility SET app_id = 99 WHERE id = 7",
     "UPDATE ProfileAppVisibility SET app_id = 2 WHERE id = 7; DELETE FROM Application WHERE id = 99",
     {"references missing Application", "99"}},
    {"checksum mismatch", FERRY_CONTENT_ALL, M_TABLE_CHECKSUM, NULL, NULL,
     {"table Profile: TableEnd announces 20 rows with checksum 00000000deadbeef", NULL}},
    {"rows before TableMetadata", FERRY_CONTENT_ALL, M_ROW_BEFORE_METADATA, NULL, NULL,
     {"rows of Profile arrived before its TableMetadata", NULL}},
    {"given up by the worker (ExportAbort)", FERRY_CONTENT_ALL, M_ABORTED, NULL, NULL,
     {"the worker gave export bad-1 up: gave up", NULL}},
};

START_TEST(test_bad_export_fails_and_changes_nothing)
{
    env_t e;
    outcome_t o;

    env_setup(&e, 20);
    if (refusals[_i].dev_sql)
        sql(e.dev, "%s", refusals[_i].dev_sql);
    send_export(&e, "bad-1", refusals[_i].content, refusals[_i].mut);
    import_once(&e);
    o = outcome_of(&e, "bad-1");
    ck_assert_msg(o.failed >= 1 && o.failed_events == 1 && o.applied == 0,
                  "%s: %d failed events (%d distinct), applied %d", refusals[_i].name, o.failed,
                  o.failed_events, o.applied);
    for (size_t k = 0; k < 2 && refusals[_i].reason[k]; k++)
        ck_assert_msg(strstr(o.reason, refusals[_i].reason[k]), "%s: reason \"%s\" lacks \"%s\"",
                      refusals[_i].name, o.reason, refusals[_i].reason[k]);
    ck_assert_msg(!prod_has_table(&e, "Profile") && !prod_has_table(&e, "ProfileAppVisibility"),
                  "%s: prod changed", refusals[_i].name);
    ck_assert_int_eq(prod_applied(&e, "bad-1"), 0);
    ck_assert_int_eq(sql_int(e.prod, "SELECT count(*) FROM Application"), 2);

    if (refusals[_i].undo_sql)
        sql(e.dev, "%s", refusals[_i].undo_sql);
    send_export(&e, "good-1", FERRY_CONTENT_ALL, M_NONE);
    import_once(&e);
    o = outcome_of(&e, "good-1");
    ck_assert_applied_once(o, "good-1");
    ck_assert_int_eq(outcome_of(&e, "bad-1").failed_events, 1); /* not retried */
    assert_prod_equals_dev(&e);
    env_teardown(&e);
}
END_TEST

/* Two streams whose transactions interleave on one partition: the importer
 * applies one, then seeks back to the other's ExportBegin and applies it. A
 * third export on another partition waits (paused) while one is open. */
START_TEST(test_interleaved_exports_both_applied)
{
    env_t e;
    rd_kafka_t *wa, *wb;
    stream_t a, b;
    int more_a = 1, more_b = 1;
    char err[256];
    outcome_t oa, ob, oc;

    env_setup(&e, 10);
    send_export_to(&e, 1, "C", FERRY_CONTENT_ALL, M_NONE);
    wa = worker_new();
    wb = worker_new();
    stream_open(&a, &e, "A", FERRY_CONTENT_ALL, M_NONE);
    stream_open(&b, &e, "B", FERRY_CONTENT_DATA, M_NONE);
    txn_check(rd_kafka_begin_transaction(wa), "begin A");
    txn_check(rd_kafka_begin_transaction(wb), "begin B");
    /* Flushing after each message fixes the interleaving in the log. */
    while (more_a || more_b) {
        if (more_a && (more_a = stream_next(&a))) {
            stream_produce(wa, &e, 0, "dev->prod", &a);
            ck_assert_int_eq(ferry_kafka_flush(wa, 10000, err, sizeof(err)), 0);
        }
        if (more_b && (more_b = stream_next(&b))) {
            stream_produce(wb, &e, 0, "schedule-b", &b);
            ck_assert_int_eq(ferry_kafka_flush(wb, 10000, err, sizeof(err)), 0);
        }
    }
    txn_check(rd_kafka_commit_transaction(wb, 60000), "commit B");
    txn_check(rd_kafka_commit_transaction(wa, 60000), "commit A");
    stream_close(&a);
    stream_close(&b);
    rd_kafka_destroy(wa);
    rd_kafka_destroy(wb);

    import_once(&e);
    oa = outcome_of(&e, "A");
    ob = outcome_of(&e, "B");
    oc = outcome_of(&e, "C");
    ck_assert_applied_once(oa, "A");
    ck_assert_applied_once(ob, "B");
    ck_assert_applied_once(oc, "C");
    ck_assert_int_eq(oa.inserted + oa.updated, 20);
    ck_assert_int_eq(ob.updated, 20);
    ck_assert_int_eq(oc.inserted + oc.updated, 20);
    ck_assert_int_eq(oa.skipped + ob.skipped + oc.skipped, 0);
    assert_prod_equals_dev(&e);
    env_teardown(&e);
}
END_TEST

/* An importer that died right after committing an export, before its status
 * was out, left the APPLIED event in the target's status outbox (queued in
 * the export's own transaction; unit test_import checks that part). The next
 * run publishes it on ferry.status, once delivered removes it, and publishes
 * what it applies itself; a run after that publishes the old event no more. */
START_TEST(test_status_queued_by_a_dead_importer_is_published)
{
    env_t e;
    outcome_t o, lost_copies;
    ferry_store_t *st;
    ferry_buf_t event = {0};
    ferry_status_t lost = {.export_id = "e-lost", .state = FERRY_STATUS_APPLIED,
                           .component = "import:prod", .target = "prod", .tables = 2,
                           .rows = 7};
    char err[256];

    env_setup(&e, 10);
    lost.at_ms = ferry_now_ms();
    ck_assert_int_eq(ferry_status_encode(&lost, &event, err, sizeof(err)), 0);
    ck_assert_msg(ferry_store_open(e.prod, FERRY_STORE_WRITE, &st, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(ferry_store_begin(st, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_add(st, "e-lost", event.data, event.len, err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_store_commit(st, err, sizeof(err)), 0);
    ferry_store_destroy(st);
    ferry_buf_free(&event);

    import_once(&e); /* nothing to import: the queued event alone goes out */
    lost_copies = outcome_of(&e, "e-lost");
    ck_assert_applied_once(lost_copies, "e-lost");
    ck_assert_int_eq(lost_copies.rows, 7);
    ck_assert_int_eq(sql_int(e.prod, "SELECT count(*) FROM ferry_outbox"), 0);

    send_export(&e, "e-1", FERRY_CONTENT_ALL, M_NONE);
    import_once(&e);
    o = outcome_of(&e, "e-1");
    ck_assert_applied_once(o, "e-1");
    ck_assert_int_eq(o.rows, 20);
    /* Removed once delivered: not one copy more. */
    ck_assert_int_eq(outcome_of(&e, "e-lost").applied, lost_copies.applied);
    ck_assert_int_eq(sql_int(e.prod, "SELECT count(*) FROM ferry_outbox"), 0);
    env_teardown(&e);
}
END_TEST

static const char *importer_binary(void)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/importer/ferry-import", it_build_dir());
    return path;
}

START_TEST(test_unknown_environment_exits_2)
{
    env_t e;
    const char *argv[] = {importer_binary(), "--config", NULL, "--target", "nowhere", NULL};
    char log[600];

    env_setup(&e, 1);
    argv[2] = e.cfg_path;
    snprintf(log, sizeof(log), "%s/import.log", e.dir);
    ck_assert_int_eq(it_stop(it_spawn(argv, log), 0, 10000), 2);
    ck_assert_int_eq(it_sh(NULL, "grep -q 'environment \"nowhere\" is not declared' '%s'", log),
                     0);
    env_teardown(&e);
}
END_TEST

/* 1 when another connection holds a write transaction on prod (the importer
 * inside an export): BEGIN IMMEDIATE without a busy timeout finds it busy. */
static int prod_writing(const env_t *e)
{
    sqlite3 *db;
    int busy;

    ck_assert_int_eq(sqlite3_open(e->prod + strlen("sqlite:"), &db), SQLITE_OK);
    busy = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_BUSY;
    if (!busy)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return busy;
}

static int log_count(const char *log, const char *what)
{
    char *out = NULL;
    int n;

    it_sh(&out, "grep -c '%s' '%s' 2>/dev/null", what, log);
    n = atoi(out);
    free(out);
    return n;
}

/* The ferry-import binary stopped with SIGTERM once, then killed with SIGKILL
 * at random points of a 200,000-row export (and of the next one) and
 * restarted each time: prod ends equal to dev, and each export is applied
 * once. Its applied status is published at least once: a kill right after
 * the commit leaves it in the outbox, and the next run sends it again. */
START_TEST(test_sigkill_mid_export_then_restart)
{
    env_t e;
    const char *argv[] = {importer_binary(), "--config", NULL, "--target", "prod", NULL, NULL};
    char log[600];
    int kills = 0, mid_export = 0, status;
    int64_t t0 = ferry_now_ms(), applied, applied_before;
    outcome_t big, small;

    env_setup(&e, 100000);
    argv[2] = e.cfg_path;
    snprintf(log, sizeof(log), "%s/import.log", e.dir);
    send_export(&e, "big-1", FERRY_CONTENT_ALL, M_NONE);
    sql(e.dev, "UPDATE Profile SET note = 'second' WHERE id %% 1000 = 0");
    add_profiles(e.dev, 100001, 100100);
    send_export(&e, "small-2", FERRY_CONTENT_ALL, M_NONE);
    fprintf(stderr, "sigkill: streams written in %lld ms\n", (long long)(ferry_now_ms() - t0));

    srand((unsigned)getpid());
    for (int round = 0; round < 5; round++) {
        /* Later rounds kill later: into the first export, near its commit,
         * into the second, after both. */
        int assigned = log_count(log, "assigned "), wait_ms = round * 250 + rand() % 250;
        int writing = 0;
        int64_t deadline = ferry_now_ms() + 60000;
        pid_t pid;

        applied_before = sql_int(e.prod, "SELECT count(*) FROM ferry_applied");
        pid = it_spawn(argv, log);
        /* A random point of the apply: it starts once partitions are assigned. */
        while (log_count(log, "assigned ") == assigned && ferry_now_ms() < deadline)
            usleep(20000);
        if (round == 1) {
            /* Inside an export whatever the machine's speed: within 20 ms
             * of its transaction's start (big-1's, or small-2's when a fast
             * machine applied big-1 before round 0's SIGTERM). */
            while (!(writing = prod_writing(&e)) && ferry_now_ms() < deadline)
                usleep(5000);
            wait_ms = rand() % 20;
        }
        usleep((useconds_t)wait_ms * 1000);
        if (round == 0) {
            /* SIGTERM: the open export rolled back, the group left, exit 0. */
            ck_assert_int_eq(it_stop(pid, SIGTERM, 20000), 0);
            continue;
        }
        status = it_stop(pid, SIGKILL, 10000);
        kills += status == 128 + SIGKILL;
        applied = sql_int(e.prod, "SELECT count(*) FROM ferry_applied");
        /* killed inside an export's transaction, which did not commit */
        mid_export += writing && applied == applied_before;
        fprintf(stderr, "sigkill: round %d killed %d ms %s (status %d), applied: %lld\n", round,
                wait_ms, writing ? "into the export's transaction" : "after the assignment",
                status, (long long)applied);
    }
    /* A kill fell inside one of the 200,000-row exports. */
    ck_assert_int_eq(mid_export, 1);
    ck_assert_int_ge(kills, 3);
    argv[5] = "--once";
    status = it_stop(it_spawn(argv, log), 0, 120000);
    ck_assert_msg(status == 0, "the last importer exited %d (log %s)", status, log);

    assert_prod_equals_dev(&e);
    ck_assert_int_eq(sql_int(e.prod, "SELECT count(*) FROM Profile"), 100100);
    ck_assert_int_eq(prod_applied(&e, "big-1"), 1);
    ck_assert_int_eq(prod_applied(&e, "small-2"), 1);
    big = outcome_of(&e, "big-1");
    small = outcome_of(&e, "small-2");
    ck_assert_applied_once(big, "big-1");
    ck_assert_applied_once(small, "small-2");
    ck_assert_int_eq(big.rows, 200000);
    ck_assert_int_eq(small.rows, 200200);
    fprintf(stderr, "sigkill: applied events published: big-1 %d, small-2 %d\n", big.applied,
            small.applied);
    fprintf(stderr, "sigkill: done in %lld ms\n", (long long)(ferry_now_ms() - t0));
    env_teardown(&e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("import");
    TCase *tc = tcase_create("broker");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_export_applies_in_dependency_order);
    tcase_add_test(tc, test_second_export_updates_prod);
    tcase_add_test(tc, test_redelivered_export_is_skipped);
    tcase_add_test(tc, test_metadata_only_creates_empty_tables);
    tcase_add_loop_test(tc, test_bad_export_fails_and_changes_nothing, 0,
                        sizeof(refusals) / sizeof(refusals[0]));
    tcase_add_test(tc, test_interleaved_exports_both_applied);
    tcase_add_test(tc, test_status_queued_by_a_dead_importer_is_published);
    tcase_add_test(tc, test_unknown_environment_exits_2);
    tcase_add_test(tc, test_sigkill_mid_export_then_restart);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
