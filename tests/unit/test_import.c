/* test_import.c - the import job fed with export streams built by the
 * protocol and row encoders, against real SQLite files (no broker): each
 * export applied atomically and exactly once, and every kind of bad stream
 * refused with nothing applied and the offset moved past it.
 *
 * The source model: Profile (group 0) and ProfileAppVisibility (group 1, a
 * detail of Profile that refers to Application, an association target that
 * the target environment holds already, with ids 1 and 2). */
#include "checksum.h"
#include "error.h"
#include "import.h"
#include "ledger.h"
#include "protocol.h"
#include "rowcodec.h"
#include "store.h"
#include "check_run.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC "ferry.records.prod"

/* ---- fixture: a target store, a job, the outcomes it reports ---- */

typedef struct outcome {
    ferry_status_state_t state;
    char *export_id;
    char *reason;
    int64_t rows, inserted, updated;
    int queued; /* also in the store's status outbox */
} outcome_t;

static char dir[64], db_path[128], uri[160];
static ferry_store_t *store;
static ferry_import_t *job;
static ferry_objset_t *model;
static outcome_t outcomes[64];
static size_t noutcomes;

static void capture(const ferry_status_t *st, int queued, void *opaque)
{
    outcome_t *o = &outcomes[noutcomes++];

    (void)opaque;
    o->queued = queued;
    ck_assert_uint_lt(noutcomes, 64);
    ck_assert_str_eq(st->component, "import:prod");
    o->state = st->state;
    o->export_id = strdup(st->export_id);
    o->reason = st->reason ? strdup(st->reason) : NULL;
    o->rows = st->rows;
    for (size_t i = 0; i < st->ntable_stats; i++) {
        o->inserted += st->table_stats[i].inserted;
        o->updated += st->table_stats[i].updated;
    }
}

static void build_model(void)
{
    static const char *const pav_profile[] = {"profile_id"}, *const pav_app[] = {"app_id"},
                             *const to_id[] = {"id"};
    ferry_object_t *app, *prof, *pav;

    model = ferry_objset_new();
    ck_assert_ptr_nonnull(app = ferry_objset_add(model, "Application"));
    ck_assert_int_eq(ferry_object_add_field(app, "id", "INTEGER", 0, NULL, 1), 0);
    ck_assert_int_eq(ferry_object_add_field(app, "name", "TEXT", 1, NULL, 0), 0);
    ck_assert_ptr_nonnull(prof = ferry_objset_add(model, "Profile"));
    ck_assert_int_eq(ferry_object_add_field(prof, "id", "INTEGER", 0, NULL, 1), 0);
    ck_assert_int_eq(ferry_object_add_field(prof, "name", "TEXT", 0, NULL, 0), 0);
    ck_assert_ptr_nonnull(pav = ferry_objset_add(model, "ProfileAppVisibility"));
    ck_assert_int_eq(ferry_object_add_field(pav, "id", "INTEGER", 0, NULL, 1), 0);
    ck_assert_int_eq(ferry_object_add_field(pav, "profile_id", "INTEGER", 0, NULL, 0), 0);
    ck_assert_int_eq(ferry_object_add_field(pav, "app_id", "INTEGER", 1, NULL, 0), 0);
    ck_assert_int_eq(ferry_object_add_relation(pav, "Profile", pav_profile, to_id, 1,
                                               FERRY_REL_INCLUDE, "CASCADE"),
                     0);
    ck_assert_int_eq(ferry_object_add_relation(pav, "Application", pav_app, to_id, 1,
                                               FERRY_REL_ASSOCIATION, "NO ACTION"),
                     0);
}

static const ferry_object_t *obj(const char *name)
{
    const ferry_object_t *o = ferry_objset_find(model, name);
    ck_assert_ptr_nonnull(o);
    return o;
}

static void new_job(void)
{
    char err[256];
    ck_assert_msg(ferry_import_new(store, "prod", TOPIC, capture, NULL, &job, err,
                                   sizeof(err)) == 0,
                  "%s", err);
}

/* prod: the Application table with ids 1 and 2, as a real target holds it. */
static void setup(void)
{
    ferry_writer_t *w;
    ferry_value_t row[2] = {{FERRY_V_INT, 1, 0, NULL, 0}, {FERRY_V_TEXT, 0, 0, "crm", 3}};
    char err[512];

    snprintf(dir, sizeof(dir), "/tmp/ferry-import-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db_path, sizeof(db_path), "%s/prod.db", dir);
    snprintf(uri, sizeof(uri), "sqlite:%s", db_path);
    build_model();
    ck_assert_msg(ferry_store_open(uri, FERRY_STORE_WRITE, &store, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(ferry_store_begin(store, err, sizeof(err)), 0);
    ck_assert_msg(ferry_store_apply_object(store, obj("Application"), NULL, err, sizeof(err)) ==
                      0,
                  "%s", err);
    ck_assert_int_eq(ferry_store_writer_open(store, obj("Application"), &w, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_writer_put(w, row, NULL, err, sizeof(err)), 0);
    row[0].i = 2;
    row[1].p = "mail";
    row[1].n = 4;
    ck_assert_int_eq(ferry_writer_put(w, row, NULL, err, sizeof(err)), 0);
    ferry_writer_destroy(w);
    ck_assert_int_eq(ferry_store_commit(store, err, sizeof(err)), 0);
    noutcomes = 0;
    new_job();
}

static void teardown(void)
{
    char cmd[128];

    ferry_import_destroy(job);
    ferry_store_destroy(store);
    ferry_objset_destroy(model);
    for (size_t i = 0; i < noutcomes; i++) {
        free(outcomes[i].export_id);
        free(outcomes[i].reason);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- reading the target through its own connection ---- */

static int64_t sql_int(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;

    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static int has_table(const char *name)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master WHERE name = '%s'", name);
    return sql_int(sql) == 1;
}

static int is_applied(const char *export_id)
{
    int applied = 0;
    char err[256];
    ck_assert_msg(ferry_ledger_is_applied(store, export_id, &applied, err, sizeof(err)) == 0,
                  "%s", err);
    return applied;
}

/* The status events queued in the store's outbox, decoded, oldest first:
 * returns how many (at most max); free each with ferry_status_free. */
static size_t queued_events(ferry_status_t **out, size_t max)
{
    ferry_buf_t key = {0}, event = {0};
    int64_t id = 0;
    size_t n = 0;
    char err[256];

    for (;;) {
        ck_assert_msg(ferry_ledger_outbox_next(store, id, &id, &key, &event, err, sizeof(err)) == 0,
                      "%s", err);
        if (id < 0)
            break;
        ck_assert_uint_lt(n, max);
        ck_assert_msg(ferry_status_decode(event.data, event.len, &out[n], err, sizeof(err)) == 0,
                      "%s", err);
        ck_assert_str_eq((const char *)key.data, out[n]->export_id); /* the Kafka key */
        n++;
    }
    ferry_buf_free(&key);
    ferry_buf_free(&event);
    return n;
}

static void free_events(ferry_status_t **events, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ferry_status_free(events[i]);
}

static int64_t stored_offset(int32_t partition)
{
    int64_t next = -2;
    char err[256];
    ck_assert_int_eq(ferry_ledger_offset_get(store, TOPIC, partition, &next, err, sizeof(err)),
                     0);
    return next;
}

/* ---- building export streams ---- */

typedef struct tmsg {
    char type[32];
    char export_id[64];
    char table[64]; /* "" -> no header */
    char attempt[24]; /* "" -> no header */
    int no_export_header;
    ferry_buf_t payload;
} tmsg_t;

typedef struct stream {
    tmsg_t m[256];
    size_t n;
} stream_t;

/* How a stream departs from a well-formed one. */
typedef enum mutation {
    M_NONE = 0,
    M_ROW_BEFORE_METADATA, /* the first Profile row comes before its TableMetadata */
    M_TABLES_SWAPPED,      /* group 1 arrives before group 0 */
    M_TABLE_CHECKSUM,      /* Profile's TableEnd announces another checksum */
    M_TABLE_ROWS,          /* Profile's TableEnd announces one row more */
    M_EXPORT_TOTALS,       /* ExportEnd announces one row more */
    M_TABLE_MISSING,       /* ProfileAppVisibility never arrives */
    M_METADATA_FINGERPRINT,/* Profile's TableMetadata carries another table's row schema */
    M_ROW_OTHER_SCHEMA,    /* a Profile row encoded with Application's schema */
    M_ROW_GARBAGE,         /* a Profile row that does not decode */
    M_NO_EXPORT_HEADER,    /* a message without ferry.export inside the export */
    M_MISSING_PARENT,      /* a visibility row refers to Application 99 */
    M_ABORTED,             /* an ExportAbort instead of ExportEnd: the worker gave up */
    M_ASSOC_TABLE_MISSING, /* the plan's association target is not in prod */
    M_REPEATED_KEY,        /* after Profile's 10th row, its 5th id again, renamed "again" */
} mutation_t;

typedef struct spec {
    const char *export_id;
    ferry_content_t content;
    int first, last;   /* Profile ids first..last; visibilities for the same ids */
    const char *label; /* Profile names are "<label>-<id>" */
    mutation_t mut;
} spec_t;

/* The attempt that build() writes: in ExportBegin and every ferry.attempt
 * header ("": none, as an export of one attempt may be). */
static const char *build_attempt = "";

static tmsg_t *add(stream_t *s, const char *type, const char *export_id, const char *table)
{
    tmsg_t *m = &s->m[s->n++];

    ck_assert_uint_lt(s->n, 256);
    memset(m, 0, sizeof(*m));
    snprintf(m->attempt, sizeof(m->attempt), "%s", build_attempt);
    snprintf(m->type, sizeof(m->type), "%s", type);
    snprintf(m->export_id, sizeof(m->export_id), "%s", export_id);
    snprintf(m->table, sizeof(m->table), "%s", table ? table : "");
    return m;
}

static void add_begin(stream_t *s, const spec_t *sp)
{
    char *objects[] = {"Profile"};
    ferry_request_t req = {.export_id = (char *)sp->export_id, .source = "dev", .target = "prod",
                           .objects = objects, .nobjects = 1, .content = sp->content,
                           .requested_at_ms = 1};
    ferry_plan_table_t tables[2] = {{"Profile", NULL, 0}, {"ProfileAppVisibility", "Profile", 1}};
    ferry_plan_assoc_t assocs[1] = {{"ProfileAppVisibility", "Application"}};
    ferry_export_begin_t b = {(char *)sp->export_id, &req, tables, 2, assocs, 1, 2,
                              (char *)build_attempt};
    char err[256];

    if (sp->mut == M_ASSOC_TABLE_MISSING)
        assocs[0].to = "Applications";

    ck_assert_msg(ferry_export_begin_encode(&b, &add(s, "ExportBegin", sp->export_id, NULL)->payload,
                                            err, sizeof(err)) == 0,
                  "%s", err);
}

/* Appends one table: metadata, rows, end; merges its checksum into total. */
static void add_table(stream_t *s, const spec_t *sp, const char *table, int32_t group,
                      ferry_checksum_t *total, int64_t *ntotal)
{
    const ferry_object_t *o = obj(table);
    ferry_rowcodec_t *codec, *other;
    ferry_checksum_t sum = FERRY_CHECKSUM_INIT;
    uint64_t seeds[3];
    int with_rows = sp->content != FERRY_CONTENT_METADATA;
    int profile = !strcmp(table, "Profile");
    char err[256], hex[17], name[32];
    tmsg_t *meta = NULL;
    ferry_buf_t bodies = FERRY_BUF_INIT;
    size_t nbodies = 0;

    ck_assert_int_eq(ferry_rowcodec_new(o, &codec, err, sizeof(err)), 0);
    for (size_t i = 0; i < o->nfields; i++)
        seeds[i] = ferry_checksum_seed(o->fields[i].name);
    if (!(profile && sp->mut == M_ROW_BEFORE_METADATA)) {
        ferry_table_metadata_t tm = {(char *)sp->export_id, group, NULL, o,
                                     (char *)ferry_rowcodec_schema_json(codec),
                                     ferry_rowcodec_fingerprint(codec), with_rows};
        if (profile && sp->mut == M_METADATA_FINGERPRINT) {
            ck_assert_int_eq(ferry_rowcodec_new(obj("Application"), &other, err, sizeof(err)), 0);
            tm.row_schema_json = (char *)ferry_rowcodec_schema_json(other);
            tm.fingerprint = ferry_rowcodec_fingerprint(other);
        }
        meta = add(s, "TableMetadata", sp->export_id, table);
        ck_assert_int_eq(ferry_table_metadata_encode(&tm, &meta->payload, err, sizeof(err)), 0);
        if (profile && sp->mut == M_METADATA_FINGERPRINT)
            ferry_rowcodec_destroy(other);
    }
    /* Rows go two to a Rows message; a mutated first row goes alone. */
    for (int id = sp->first; with_rows && id <= sp->last; id++) {
        ferry_value_t row[3] = {{FERRY_V_INT, id, 0, NULL, 0}};
        int alone = profile && id == sp->first &&
                    (sp->mut == M_ROW_OTHER_SCHEMA || sp->mut == M_ROW_GARBAGE ||
                     sp->mut == M_NO_EXPORT_HEADER);
        tmsg_t *m;

        if (profile) {
            snprintf(name, sizeof(name), "%s-%d", sp->label, id);
            row[1] = (ferry_value_t){FERRY_V_TEXT, 0, 0, name, strlen(name)};
        } else {
            row[1] = (ferry_value_t){FERRY_V_INT, id, 0, NULL, 0};
            row[2] = (ferry_value_t){FERRY_V_INT, 1 + id % 2, 0, NULL, 0};
            if (sp->mut == M_MISSING_PARENT && id == sp->last)
                row[2].i = 99;
        }
        ferry_checksum_add(&sum, seeds, row, o->nfields);
        if (alone) {
            ferry_rowcodec_t *c = codec;
            m = add(s, "Rows", sp->export_id, table);
            if (sp->mut == M_ROW_GARBAGE) {
                ck_assert_int_eq(ferry_buf_puts(&m->payload, "\xc3\x01garbage"), 0);
                continue;
            }
            if (sp->mut == M_ROW_OTHER_SCHEMA)
                ck_assert_int_eq(ferry_rowcodec_new(obj("Application"), &c, err, sizeof(err)), 0);
            ck_assert_int_eq(ferry_rowcodec_encode(c, row, &bodies, err, sizeof(err)), 0);
            ck_assert_int_eq(ferry_rowcodec_frame_rows(c, 1, bodies.data, bodies.len, &m->payload,
                                                       err, sizeof(err)), 0);
            ferry_buf_reset(&bodies);
            if (c != codec)
                ferry_rowcodec_destroy(c);
            m->no_export_header = sp->mut == M_NO_EXPORT_HEADER;
            continue;
        }
        ck_assert_msg(ferry_rowcodec_encode(codec, row, &bodies, err, sizeof(err)) == 0, "%s",
                      err);
        if (profile && sp->mut == M_REPEATED_KEY && id == sp->first + 9) {
            ferry_value_t again[2] = {{FERRY_V_INT, sp->first + 4, 0, NULL, 0},
                                      {FERRY_V_TEXT, 0, 0, "again", 5}};
            ferry_checksum_add(&sum, seeds, again, o->nfields);
            ck_assert_int_eq(ferry_rowcodec_encode(codec, again, &bodies, err, sizeof(err)), 0);
            nbodies++;
        }
        if (++nbodies >= 2 || id == sp->last) {
            m = add(s, "Rows", sp->export_id, table);
            ck_assert_int_eq(ferry_rowcodec_frame_rows(codec, nbodies, bodies.data, bodies.len,
                                                       &m->payload, err, sizeof(err)), 0);
            ferry_buf_reset(&bodies);
            nbodies = 0;
        }
    }
    ferry_buf_free(&bodies);
    if (profile && sp->mut == M_ROW_BEFORE_METADATA) {
        ferry_table_metadata_t tm = {(char *)sp->export_id, group, NULL, o,
                                     (char *)ferry_rowcodec_schema_json(codec),
                                     ferry_rowcodec_fingerprint(codec), with_rows};
        meta = add(s, "TableMetadata", sp->export_id, table);
        ck_assert_int_eq(ferry_table_metadata_encode(&tm, &meta->payload, err, sizeof(err)), 0);
    }
    ferry_checksum_hex(&sum, hex);
    ferry_table_end_t te = {(char *)sp->export_id, (char *)table, (int64_t)sum.rows, hex};
    if (profile && sp->mut == M_TABLE_CHECKSUM)
        te.checksum = "0123456789abcdef";
    if (profile && sp->mut == M_TABLE_ROWS)
        te.rows++;
    ck_assert_int_eq(ferry_table_end_encode(&te, &add(s, "TableEnd", sp->export_id, table)->payload,
                                            err, sizeof(err)),
                     0);
    ferry_checksum_merge(total, &sum);
    *ntotal += 1;
    ferry_rowcodec_destroy(codec);
}

/* Appends a whole export to s. */
static void build(stream_t *s, const spec_t *sp)
{
    ferry_checksum_t total = FERRY_CHECKSUM_INIT;
    int64_t ntables = 0;
    char hex[17], err[256];

    add_begin(s, sp);
    if (sp->mut == M_TABLES_SWAPPED) {
        add_table(s, sp, "ProfileAppVisibility", 1, &total, &ntables);
        add_table(s, sp, "Profile", 0, &total, &ntables);
    } else {
        add_table(s, sp, "Profile", 0, &total, &ntables);
        if (sp->mut != M_TABLE_MISSING)
            add_table(s, sp, "ProfileAppVisibility", 1, &total, &ntables);
    }
    if (sp->mut == M_ABORTED) {
        ferry_export_abort_t ea = {(char *)sp->export_id, "a9", "the source is gone"};
        ck_assert_int_eq(ferry_export_abort_encode(&ea, &add(s, "ExportAbort", sp->export_id,
                                                             NULL)->payload, err, sizeof(err)),
                         0);
        return;
    }
    ferry_checksum_hex(&total, hex);
    ferry_export_end_t end = {(char *)sp->export_id, (int32_t)ntables, (int64_t)total.rows, hex};
    if (sp->mut == M_EXPORT_TOTALS)
        end.rows++;
    if (sp->mut == M_TABLE_MISSING)
        end.tables = 2;
    ck_assert_int_eq(ferry_export_end_encode(&end, &add(s, "ExportEnd", sp->export_id, NULL)->payload,
                                             err, sizeof(err)),
                     0);
}

static void stream_free(stream_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        ferry_buf_free(&s->m[i].payload);
    s->n = 0;
}

/* Appends copies of src's messages from..to-1 to dst. */
static void splice(stream_t *dst, const stream_t *src, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const tmsg_t *m = &src->m[i];
        tmsg_t *c = &dst->m[dst->n++];

        ck_assert_uint_lt(dst->n, 256);
        *c = *m;
        c->payload = (ferry_buf_t)FERRY_BUF_INIT;
        ck_assert_int_eq(ferry_buf_append(&c->payload, m->payload.data, m->payload.len), 0);
    }
}

/* The index of the first message of type (and table, unless NULL) in s. */
static size_t find_msg(const stream_t *s, const char *type, const char *table)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->m[i].type, type) && (!table || !strcmp(s->m[i].table, table)))
            return i;
    ck_abort_msg("no %s %s in the stream", type, table ? table : "");
    return 0;
}

/* ---- driving the job like a consumer of one partition ---- */

static int feed_one(const stream_t *s, int32_t partition, size_t i, int64_t *seek)
{
    const tmsg_t *t = &s->m[i];
    ferry_import_msg_t m = {partition, (int64_t)i, t->type,
                            t->no_export_header ? NULL : t->export_id,
                            t->table[0] ? t->table : NULL, t->payload.data, t->payload.len,
                            t->attempt[0] ? t->attempt : NULL};
    char err[512] = "";
    int rc = ferry_import_feed(job, &m, seek, err, sizeof(err));

    ck_assert_msg(rc == 0, "feed at offset %zu: %s", i, err);
    return rc;
}

/* Reads the log (offset = index) from `from` to its end, following the
 * seeks the job asks for, then reports the end (nothing pending behind it). */
static void consume(const stream_t *s, int32_t partition, size_t from)
{
    int64_t seek;
    char err[512];

    for (size_t i = from, steps = 0; i < s->n; steps++) {
        ck_assert_uint_lt(steps, 4 * 256);
        feed_one(s, partition, i, &seek);
        i = seek >= 0 ? (size_t)seek : i + 1;
    }
    ck_assert_int_eq(ferry_import_eof(job, partition, (int64_t)s->n, (int64_t)s->n, &seek, err,
                                      sizeof(err)),
                     0);
    if (seek >= 0)
        consume(s, partition, (size_t)seek);
}

/* ---- the refusals: one stream each, nothing applied, offset moved past ---- */

static const struct {
    const char *name;
    ferry_content_t content;
    mutation_t mut;
    const char *reason; /* a substring of the FAILED reason */
} refusals[] = {
    {"row before its TableMetadata", FERRY_CONTENT_ALL, M_ROW_BEFORE_METADATA,
     "rows of Profile arrived before its TableMetadata"},
    {"group before the group it depends on", FERRY_CONTENT_ALL, M_TABLES_SWAPPED,
     "ProfileAppVisibility (group 1) arrived before its predecessor Profile"},
    {"table checksum mismatch", FERRY_CONTENT_ALL, M_TABLE_CHECKSUM,
     "table Profile: TableEnd announces 3 rows with checksum 0123456789abcdef"},
    {"table row count mismatch", FERRY_CONTENT_ALL, M_TABLE_ROWS,
     "table Profile: TableEnd announces 4 rows"},
    {"export totals mismatch", FERRY_CONTENT_ALL, M_EXPORT_TOTALS, "ExportEnd announces 2 tables, 7 rows"},
    {"plan table missing", FERRY_CONTENT_ALL, M_TABLE_MISSING,
     "ended without table ProfileAppVisibility"},
    {"metadata fingerprint wrong", FERRY_CONTENT_ALL, M_METADATA_FINGERPRINT,
     "schema of Profile does not match its fingerprint"},
    {"row with an unknown fingerprint", FERRY_CONTENT_ALL, M_ROW_OTHER_SCHEMA,
     "table Profile: the Rows message at offset 2 does not decode"},
    {"row that does not decode", FERRY_CONTENT_ALL, M_ROW_GARBAGE,
     "table Profile: the Rows message at offset 2 does not decode"},
    {"message without export header", FERRY_CONTENT_ALL, M_NO_EXPORT_HEADER,
     "no ferry.export header"},
    {"row referencing a missing association target", FERRY_CONTENT_ALL, M_MISSING_PARENT,
     "Application"},
    {"given up by the worker (ExportAbort)", FERRY_CONTENT_ALL, M_ABORTED,
     "the worker gave export bad-1 up: the source is gone"},
    {"data-only into a missing table", FERRY_CONTENT_DATA, M_NONE,
     "data-only export: table Profile does not exist in prod"},
    {"association target table missing", FERRY_CONTENT_ALL, M_ASSOC_TABLE_MISSING,
     "association target Applications (referenced by ProfileAppVisibility) does not exist in "
     "prod"},
};

START_TEST(test_bad_export_is_refused_and_nothing_applied)
{
    static stream_t s;
    spec_t sp = {"bad-1", refusals[_i].content, 1, 3, "v1", refusals[_i].mut};
    ferry_status_t *events[4];

    build(&s, &sp);
    consume(&s, 0, 0);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_FAILED);
    ck_assert_str_eq(outcomes[0].export_id, "bad-1");
    ck_assert_msg(outcomes[0].reason && strstr(outcomes[0].reason, refusals[_i].reason),
                  "%s: reason \"%s\" lacks \"%s\"", refusals[_i].name,
                  outcomes[0].reason ? outcomes[0].reason : "(none)", refusals[_i].reason);
    /* The FAILED event was queued with the offset past the export, and
     * nothing else (no APPLIED left from a commit that failed). */
    ck_assert(outcomes[0].queued);
    ck_assert_uint_eq(queued_events(events, 4), 1);
    ck_assert_int_eq(events[0]->state, FERRY_STATUS_FAILED);
    ck_assert_str_eq(events[0]->export_id, "bad-1");
    ck_assert_str_eq(events[0]->reason, outcomes[0].reason);
    free_events(events, 1);
    ck_assert_msg(!has_table("Profile") && !has_table("ProfileAppVisibility"),
                  "%s: tables were created", refusals[_i].name);
    ck_assert(!is_applied("bad-1"));
    ck_assert_int_eq(ferry_import_open_partition(job), -1);
    /* Not retried: the offset is past the export (or past the failing message,
     * the rest being an orphan tail). */
    ck_assert_int_ge(stored_offset(0), 1);
    ck_assert_int_le(stored_offset(0), (int64_t)s.n);
    stream_free(&s);
}
END_TEST

/* ---- what must be applied ---- */

START_TEST(test_export_applied_in_order_with_offset_and_id)
{
    static stream_t s;
    spec_t sp = {"e-1", FERRY_CONTENT_ALL, 1, 10, "v1", M_NONE};
    ferry_status_t *events[4];

    build(&s, &sp);
    consume(&s, 2, 0);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_msg(outcomes[0].state == FERRY_STATUS_APPLIED, "%s", outcomes[0].reason);
    ck_assert_int_eq(outcomes[0].rows, 20);
    ck_assert_int_eq(outcomes[0].inserted, 20);
    ck_assert_int_eq(outcomes[0].updated, 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile"), 10);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM ProfileAppVisibility"), 10);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile WHERE name = 'v1-7'"), 1);
    ck_assert(is_applied("e-1"));
    ck_assert_int_eq(stored_offset(2), (int64_t)s.n);
    ck_assert_int_eq(stored_offset(0), -1);
    /* Committed with it: the APPLIED event, whole, waiting to be published. */
    ck_assert(outcomes[0].queued);
    ck_assert_uint_eq(queued_events(events, 4), 1);
    ck_assert_int_eq(events[0]->state, FERRY_STATUS_APPLIED);
    ck_assert_str_eq(events[0]->export_id, "e-1");
    ck_assert_str_eq(events[0]->component, "import:prod");
    ck_assert_int_eq(events[0]->rows, 20);
    ck_assert_uint_eq(events[0]->ntable_stats, 2);
    free_events(events, 1);
    stream_free(&s);
}
END_TEST

START_TEST(test_second_export_updates_without_duplicates)
{
    static stream_t log;
    spec_t first = {"e-1", FERRY_CONTENT_ALL, 1, 10, "v1", M_NONE};
    spec_t second = {"e-2", FERRY_CONTENT_ALL, 6, 15, "v2", M_NONE};

    build(&log, &first);
    build(&log, &second);
    consume(&log, 0, 0);
    ck_assert_uint_eq(noutcomes, 2);
    ck_assert_int_eq(outcomes[1].state, FERRY_STATUS_APPLIED);
    ck_assert_int_eq(outcomes[1].inserted, 10); /* ids 11..15 in both tables */
    ck_assert_int_eq(outcomes[1].updated, 10);  /* ids 6..10 in both tables */
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile"), 15);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile WHERE name LIKE 'v2-%'"), 10);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile WHERE name = 'v1-5'"), 1);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM ProfileAppVisibility"), 15);
    stream_free(&log);
}
END_TEST

/* A key the stream repeats among the first rows into an empty table: their
 * multi-row insert fails and is redone row by row, the repeat updates the
 * row, and the outcome counts one update. */
START_TEST(test_repeated_key_into_empty_table_counts_an_update)
{
    static stream_t log;
    spec_t sp = {"rep-1", FERRY_CONTENT_ALL, 1, 100, "v1", M_REPEATED_KEY};

    build(&log, &sp);
    consume(&log, 0, 0);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_msg(outcomes[0].state == FERRY_STATUS_APPLIED, "%s", outcomes[0].reason);
    ck_assert_int_eq(outcomes[0].inserted, 200); /* 100 profiles, 100 visibilities */
    ck_assert_int_eq(outcomes[0].updated, 1);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile"), 100);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile WHERE id = 5 AND name = 'again'"), 1);
    stream_free(&log);
}
END_TEST

START_TEST(test_metadata_only_creates_empty_tables)
{
    static stream_t s;
    spec_t sp = {"meta-1", FERRY_CONTENT_METADATA, 1, 10, "v1", M_NONE};

    build(&s, &sp);
    consume(&s, 0, 0);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_msg(outcomes[0].state == FERRY_STATUS_APPLIED, "%s", outcomes[0].reason);
    ck_assert(has_table("Profile") && has_table("ProfileAppVisibility"));
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile"), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM ProfileAppVisibility"), 0);
    stream_free(&s);
}
END_TEST

START_TEST(test_data_only_into_existing_tables)
{
    static stream_t log;
    spec_t meta = {"meta-1", FERRY_CONTENT_METADATA, 0, 0, "v0", M_NONE};
    spec_t data = {"data-1", FERRY_CONTENT_DATA, 1, 4, "v1", M_NONE};

    build(&log, &meta);
    build(&log, &data);
    consume(&log, 0, 0);
    ck_assert_uint_eq(noutcomes, 2);
    ck_assert_msg(outcomes[1].state == FERRY_STATUS_APPLIED, "%s", outcomes[1].reason);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile"), 4);
    stream_free(&log);
}
END_TEST

/* A re-fire or a worker's redo: the same export id in a new copy of its
 * stream is skipped (reported once per copy), and changes nothing. */
START_TEST(test_redelivered_export_is_skipped)
{
    static stream_t log;
    spec_t first = {"e-1", FERRY_CONTENT_ALL, 1, 3, "v1", M_NONE};
    spec_t again = {"e-1", FERRY_CONTENT_ALL, 1, 3, "changed", M_NONE};
    ferry_status_t *events[4];
    int64_t seek;
    size_t copy;

    build(&log, &first);
    copy = log.n;
    build(&log, &again);
    consume(&log, 0, 0);
    ck_assert_uint_eq(noutcomes, 2);
    ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_APPLIED);
    ck_assert_int_eq(outcomes[1].state, FERRY_STATUS_SKIPPED);
    ck_assert_str_eq(outcomes[1].export_id, "e-1");
    /* SKIPPED is not queued: re-reading the log reports it again. */
    ck_assert(!outcomes[1].queued);
    ck_assert_uint_eq(queued_events(events, 4), 1);
    ck_assert_int_eq(events[0]->state, FERRY_STATUS_APPLIED);
    free_events(events, 1);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile WHERE name LIKE 'changed%'"), 0);
    ck_assert_int_eq(stored_offset(0), (int64_t)copy + 1);
    /* The same message read again (a seek back, a restart) is not reported again. */
    feed_one(&log, 0, copy, &seek);
    ck_assert_uint_eq(noutcomes, 2);
    stream_free(&log);
}
END_TEST

/* Two streams on one partition whose transactions interleave: B is skipped
 * while A is open, then re-read from its ExportBegin once A committed. */
START_TEST(test_interleaved_exports_both_applied)
{
    static stream_t a, b, log;
    spec_t sa = {"A", FERRY_CONTENT_ALL, 1, 5, "a", M_NONE};
    spec_t sb = {"B", FERRY_CONTENT_ALL, 6, 9, "b", M_NONE};
    size_t i = 0, j = 0, b_end = 0;

    build(&a, &sa);
    build(&b, &sb);
    while (i < a.n || j < b.n) {
        if (i < a.n)
            log.m[log.n++] = a.m[i++];
        if (j < b.n && (i % 2 || i >= a.n))
            log.m[log.n++] = b.m[j++];
    }
    a.n = b.n = 0;
    for (size_t k = 0; k < log.n; k++)
        if (!strcmp(log.m[k].type, "ExportEnd") && !strcmp(log.m[k].export_id, "B"))
            b_end = k;
    consume(&log, 1, 0);
    ck_assert_uint_eq(noutcomes, 2);
    ck_assert_str_eq(outcomes[0].export_id, "A");
    ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_APPLIED);
    ck_assert_str_eq(outcomes[1].export_id, "B");
    ck_assert_msg(outcomes[1].state == FERRY_STATUS_APPLIED, "%s", outcomes[1].reason);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile"), 9);
    /* Past B; what follows is A's tail, read again and ignored. */
    ck_assert_int_eq(stored_offset(1), (int64_t)b_end + 1);
    stream_free(&log);
}
END_TEST

/* The end of a partition while a transaction is pending behind it proves
 * nothing: the rest of the export may come once that transaction commits. */
START_TEST(test_end_with_pending_transaction_waits)
{
    static stream_t s;
    spec_t sp = {"e-1", FERRY_CONTENT_ALL, 1, 3, "v1", M_NONE};
    size_t half;
    int64_t seek;
    char err[256];

    build(&s, &sp);
    half = s.n / 2;
    for (size_t i = 0; i < half; i++)
        feed_one(&s, 0, i, &seek);
    ck_assert_int_eq(ferry_import_eof(job, 0, (int64_t)half, (int64_t)half + 5, &seek, err,
                                      sizeof(err)),
                     0);
    ck_assert_uint_eq(noutcomes, 0);
    ck_assert_int_eq(ferry_import_open_partition(job), 0);
    consume(&s, 0, half);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_APPLIED);
    stream_free(&s);
}
END_TEST

/* Between two parts the partition's end is reached with nothing pending:
 * the export stays open (its next part comes), nothing fails. */
START_TEST(test_end_between_parts_waits_for_the_next_part)
{
    static stream_t s;
    spec_t sp = {"e-1", FERRY_CONTENT_ALL, 1, 3, "v1", M_NONE};
    size_t end;
    int64_t seek;
    char err[256];

    build(&s, &sp);
    end = s.n - 1; /* the ExportEnd, in the next part */
    for (size_t i = 0; i < end; i++)
        feed_one(&s, 0, i, &seek);
    ck_assert_int_eq(ferry_import_eof(job, 0, (int64_t)end, (int64_t)end, &seek, err,
                                      sizeof(err)),
                     0);
    ck_assert_int_eq(seek, -1);
    ck_assert_uint_eq(noutcomes, 0);
    ck_assert_int_eq(ferry_import_open_partition(job), 0);
    consume(&s, 0, end);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_APPLIED);
    stream_free(&s);
}
END_TEST

/* A later attempt supersedes the open one: what the first applied is
 * rolled back, and its messages met after the second began (a zombie's) are
 * never applied. */
START_TEST(test_later_attempt_supersedes_and_stale_parts_are_ignored)
{
    static stream_t a1, a2, log;
    spec_t old = {"e-1", FERRY_CONTENT_ALL, 1, 10, "old", M_NONE};
    spec_t new = {"e-1", FERRY_CONTENT_ALL, 1, 10, "new", M_NONE};
    size_t a1_rows_end;

    build_attempt = "a1";
    build(&a1, &old);
    build_attempt = "a2";
    build(&a2, &new);
    build_attempt = "";
    a1_rows_end = find_msg(&a1, "TableEnd", "Profile");
    splice(&log, &a1, 0, a1_rows_end);          /* a1 applied up into Profile's rows */
    splice(&log, &a2, 0, 3);                    /* a2 begins */
    splice(&log, &a1, 2, a1.n);                 /* a1's later parts, after a2 began */
    splice(&log, &a2, 3, a2.n);
    consume(&log, 0, 0);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_msg(outcomes[0].state == FERRY_STATUS_APPLIED, "%s", outcomes[0].reason);
    ck_assert_int_eq(outcomes[0].rows, 20);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile WHERE name LIKE 'old-%'"), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile WHERE name LIKE 'new-%'"), 10);
    ck_assert(is_applied("e-1"));
    ck_assert_int_eq(stored_offset(0), (int64_t)log.n);
    stream_free(&a1);
    stream_free(&a2);
    stream_free(&log);
}
END_TEST

/* A PartBegin must follow exactly what was applied before it: its number
 * the next, its rows and checksum those of the rows applied so far. */
static const struct {
    const char *name;
    int32_t part;
    int rows_delta;
    const char *reason; /* NULL: applied */
} part_begins[] = {
    {"the next part after what was applied", 1, 0, NULL},
    {"a part skipped", 2, 0, "part 2 arrived after part 0"},
    {"a row missing before it", 1, 1, "part 1 follows 11 rows"},
};

START_TEST(test_part_begin_verified_against_what_was_applied)
{
    static stream_t whole, log;
    spec_t sp = {"e-1", FERRY_CONTENT_ALL, 1, 10, "v1", M_NONE};
    ferry_table_end_t *te = NULL;
    size_t cut;
    char err[256];

    build(&whole, &sp);
    cut = find_msg(&whole, "TableEnd", "Profile") + 1;
    ck_assert_int_eq(ferry_table_end_decode(whole.m[cut - 1].payload.data,
                                            whole.m[cut - 1].payload.len, &te, err, sizeof(err)),
                     0);
    splice(&log, &whole, 0, cut);
    ferry_part_begin_t pb = {"e-1", "", part_begins[_i].part, te->rows + part_begins[_i].rows_delta,
                             te->checksum};
    ck_assert_int_eq(ferry_part_begin_encode(&pb, &add(&log, "PartBegin", "e-1", NULL)->payload,
                                             err, sizeof(err)),
                     0);
    splice(&log, &whole, cut, whole.n);
    ferry_table_end_free(te);
    consume(&log, 0, 0);
    ck_assert_uint_eq(noutcomes, 1);
    if (!part_begins[_i].reason) {
        ck_assert_msg(outcomes[0].state == FERRY_STATUS_APPLIED, "%s", outcomes[0].reason);
    } else {
        ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_FAILED);
        ck_assert_msg(strstr(outcomes[0].reason, part_begins[_i].reason), "%s: \"%s\" lacks \"%s\"",
                      part_begins[_i].name, outcomes[0].reason, part_begins[_i].reason);
        ck_assert(!has_table("Profile"));
    }
    stream_free(&whole);
    stream_free(&log);
}
END_TEST

/* A message of a paused partition fetched before the pause is handed back. */
START_TEST(test_message_of_another_partition_is_handed_back)
{
    static stream_t s;
    spec_t sp = {"e-1", FERRY_CONTENT_ALL, 1, 3, "v1", M_NONE};
    int64_t seek;

    build(&s, &sp);
    feed_one(&s, 0, 0, &seek);
    feed_one(&s, 1, 7, &seek);
    ck_assert_int_eq(seek, 7);
    ck_assert_int_eq(ferry_import_open_partition(job), 0);
    consume(&s, 0, 1);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_APPLIED);
    stream_free(&s);
}
END_TEST

/* Rebalance or shutdown mid-export: rolled back, no status, no offset; the
 * export is redone in full from its ExportBegin. */
START_TEST(test_abandoned_export_is_redone)
{
    static stream_t s;
    spec_t sp = {"e-1", FERRY_CONTENT_ALL, 1, 3, "v1", M_NONE};
    int64_t seek;

    build(&s, &sp);
    for (size_t i = 0; i < s.n - 2; i++)
        feed_one(&s, 0, i, &seek);
    ferry_import_abandon(job, 1); /* another partition: no effect */
    ck_assert_int_eq(ferry_import_open_partition(job), 0);
    ferry_import_abandon(job, 0);
    ck_assert_int_eq(ferry_import_open_partition(job), -1);
    ck_assert_uint_eq(noutcomes, 0);
    ck_assert(!has_table("Profile"));
    ck_assert_int_eq(stored_offset(0), -1);
    /* A restarted importer starts over with a fresh job. */
    ferry_import_destroy(job);
    new_job();
    consume(&s, 0, 0);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_APPLIED);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile"), 3);
    stream_free(&s);
}
END_TEST

/* Foreign input outside any export is passed over; the next export applies. */
START_TEST(test_undecodable_message_outside_export_is_skipped)
{
    static stream_t log;
    spec_t sp = {"e-1", FERRY_CONTENT_ALL, 1, 3, "v1", M_NONE};
    tmsg_t *junk;

    junk = add(&log, "ExportBegin", "junk-1", NULL);
    ck_assert_int_eq(ferry_buf_puts(&junk->payload, "not avro"), 0);
    junk = add(&log, "Rows", "junk-2", "Profile");
    ck_assert_int_eq(ferry_buf_puts(&junk->payload, "\xc3\x01zzzzzzzzzz"), 0);
    build(&log, &sp);
    consume(&log, 0, 0);
    ck_assert_uint_eq(noutcomes, 2);
    ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_FAILED); /* junk-1 is named by its header */
    ck_assert_str_eq(outcomes[0].export_id, "junk-1");
    ck_assert_int_eq(outcomes[1].state, FERRY_STATUS_APPLIED);
    stream_free(&log);
}
END_TEST

/* After a failure the partition goes on with the next export. */
START_TEST(test_failed_export_does_not_stop_the_next)
{
    static stream_t log;
    spec_t bad = {"bad-1", FERRY_CONTENT_ALL, 1, 3, "v1", M_MISSING_PARENT};
    spec_t good = {"good-1", FERRY_CONTENT_ALL, 1, 3, "v2", M_NONE};

    build(&log, &bad);
    build(&log, &good);
    consume(&log, 0, 0);
    ck_assert_uint_eq(noutcomes, 2);
    ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_FAILED);
    ck_assert_msg(strstr(outcomes[0].reason, "ProfileAppVisibility") &&
                      strstr(outcomes[0].reason, "Application"),
                  "%s", outcomes[0].reason);
    ck_assert_int_eq(outcomes[1].state, FERRY_STATUS_APPLIED);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM Profile WHERE name LIKE 'v2-%'"), 3);
    ck_assert(!is_applied("bad-1"));
    ck_assert_int_eq(stored_offset(0), (int64_t)log.n);
    stream_free(&log);
}
END_TEST

/* ---- apply groups: tables that reference each other, into a fresh target ---- */

/* Tables of id INTEGER PRIMARY KEY and one NOT NULL reference per name in
 * refs ("<table>_id" to that table; the table itself: a self reference,
 * nullable). Added to the model. */
static void add_linked_table(const char *name, const char *const *refs, size_t nrefs)
{
    static const char *const to_id[] = {"id"};
    ferry_object_t *o;
    char col[64];

    ck_assert_ptr_nonnull(o = ferry_objset_add(model, name));
    ck_assert_int_eq(ferry_object_add_field(o, "id", "INTEGER", 0, NULL, 1), 0);
    for (size_t i = 0; i < nrefs; i++) {
        const char *cols[1] = {col};
        int self = !strcmp(refs[i], name);
        snprintf(col, sizeof(col), "%s_id", refs[i]);
        ck_assert_int_eq(ferry_object_add_field(o, col, "INTEGER", self, NULL, 0), 0);
        ck_assert_int_eq(ferry_object_add_relation(o, refs[i], cols, to_id, 1, FERRY_REL_INCLUDE,
                                                   "NO ACTION"),
                         0);
    }
}

/* Ring2 <-> Pair2; A3 -> B3 -> C3 -> A3; Tree -> Tree; Xa <-> Yb with
 * Xa -> Xa, and Zc -> Xa after them. */
static void build_linked_model(void)
{
    add_linked_table("Pair2", (const char *const[]){"Ring2"}, 1);
    add_linked_table("Ring2", (const char *const[]){"Pair2"}, 1);
    add_linked_table("A3", (const char *const[]){"B3"}, 1);
    add_linked_table("B3", (const char *const[]){"C3"}, 1);
    add_linked_table("C3", (const char *const[]){"A3"}, 1);
    add_linked_table("Tree", (const char *const[]){"Tree"}, 1);
    add_linked_table("Xa", (const char *const[]){"Xa", "Yb"}, 2);
    add_linked_table("Yb", (const char *const[]){"Xa"}, 1);
    add_linked_table("Zc", (const char *const[]){"Xa"}, 1);
}

/* How a linked export's stream is laid out. */
typedef enum layout {
    L_GROUPED = 0,      /* per group: every TableMetadata, then each table's rows and end */
    L_PER_TABLE,        /* per table: TableMetadata, rows, TableEnd (no group declared first) */
    L_LATER_GROUP_META, /* the next group's TableMetadata inside the group's declaration */
    L_NEXT_GROUP_EARLY, /* the next group's TableMetadata before the group's first TableEnd */
    L_LAST_CHECKSUM,    /* the group's last TableEnd announces another checksum */
} layout_t;

typedef struct linked_spec {
    const char *tables[4]; /* plan order */
    int32_t groups[4];
    size_t ntables;
    int rows;              /* ids 1..rows in every table */
} linked_spec_t;

/* The rows of table: id i refers to id i of every other table, and to id
 * i % rows + 1 of itself (a later row; the last refers to the first). */
static void linked_row(const ferry_object_t *o, int i, int rows, ferry_value_t *row)
{
    row[0] = (ferry_value_t){FERRY_V_INT, i, 0, NULL, 0};
    for (size_t k = 0; k < o->nrelations; k++)
        row[1 + k] = (ferry_value_t){FERRY_V_INT,
                                     strcmp(o->relations[k].target, o->name) ? i : i % rows + 1,
                                     0, NULL, 0};
}

static void add_linked_metadata(stream_t *s, const char *export_id, const char *table,
                                int32_t group)
{
    const ferry_object_t *o = obj(table);
    ferry_rowcodec_t *codec;
    char err[256];

    ck_assert_int_eq(ferry_rowcodec_new(o, &codec, err, sizeof(err)), 0);
    ferry_table_metadata_t tm = {(char *)export_id, group, NULL, o,
                                 (char *)ferry_rowcodec_schema_json(codec),
                                 ferry_rowcodec_fingerprint(codec), 1};
    ck_assert_int_eq(ferry_table_metadata_encode(&tm, &add(s, "TableMetadata", export_id,
                                                           table)->payload,
                                                 err, sizeof(err)),
                     0);
    ferry_rowcodec_destroy(codec);
}

/* The rows of table, in one Rows message, and its TableEnd. */
static void add_linked_rows(stream_t *s, const char *export_id, const char *table, int rows,
                            int wrong_checksum, ferry_checksum_t *total)
{
    const ferry_object_t *o = obj(table);
    ferry_rowcodec_t *codec;
    ferry_checksum_t sum = FERRY_CHECKSUM_INIT;
    ferry_buf_t bodies = FERRY_BUF_INIT;
    ferry_value_t row[4];
    uint64_t seeds[4];
    char err[256], hex[17];

    ck_assert_uint_le(o->nfields, 4);
    ck_assert_int_eq(ferry_rowcodec_new(o, &codec, err, sizeof(err)), 0);
    for (size_t i = 0; i < o->nfields; i++)
        seeds[i] = ferry_checksum_seed(o->fields[i].name);
    for (int i = 1; i <= rows; i++) {
        linked_row(o, i, rows, row);
        ck_assert_int_eq(ferry_rowcodec_encode(codec, row, &bodies, err, sizeof(err)), 0);
        ferry_checksum_add(&sum, seeds, row, o->nfields);
    }
    ck_assert_int_eq(ferry_rowcodec_frame_rows(codec, (size_t)rows, bodies.data, bodies.len,
                                               &add(s, "Rows", export_id, table)->payload, err,
                                               sizeof(err)),
                     0);
    ferry_checksum_hex(&sum, hex);
    ferry_table_end_t te = {(char *)export_id, (char *)table, (int64_t)sum.rows,
                            wrong_checksum ? "0123456789abcdef" : hex};
    ck_assert_int_eq(ferry_table_end_encode(&te, &add(s, "TableEnd", export_id, table)->payload,
                                            err, sizeof(err)),
                     0);
    ferry_checksum_merge(total, &sum);
    ferry_buf_free(&bodies);
    ferry_rowcodec_destroy(codec);
}

/* Appends a whole export of sp's tables (content all) laid out as lay says. */
static void build_linked(stream_t *s, const char *export_id, const linked_spec_t *sp,
                         layout_t lay)
{
    char *objects[] = {(char *)sp->tables[0]};
    ferry_request_t req = {.export_id = (char *)export_id, .source = "dev", .target = "prod",
                           .objects = objects, .nobjects = 1, .content = FERRY_CONTENT_ALL,
                           .requested_at_ms = 1};
    ferry_plan_table_t tables[4];
    ferry_export_begin_t b = {(char *)export_id, &req, tables, sp->ntables, NULL, 0,
                              sp->groups[sp->ntables - 1] + 1, NULL};
    ferry_checksum_t total = FERRY_CHECKSUM_INIT;
    char err[256], hex[17];

    for (size_t i = 0; i < sp->ntables; i++)
        tables[i] = (ferry_plan_table_t){(char *)sp->tables[i], NULL, sp->groups[i]};
    ck_assert_int_eq(ferry_export_begin_encode(&b, &add(s, "ExportBegin", export_id, NULL)->payload,
                                               err, sizeof(err)),
                     0);
    for (size_t first = 0, end; first < sp->ntables; first = end) {
        end = first + 1;
        while (end < sp->ntables && sp->groups[end] == sp->groups[first])
            end++;
        for (size_t i = first; lay != L_PER_TABLE && i < end; i++) {
            if (lay == L_LATER_GROUP_META && first == 0 && i == end - 1 && end < sp->ntables)
                add_linked_metadata(s, export_id, sp->tables[end], sp->groups[end]);
            add_linked_metadata(s, export_id, sp->tables[i], sp->groups[i]);
        }
        if (lay == L_NEXT_GROUP_EARLY && first == 0 && end < sp->ntables)
            add_linked_metadata(s, export_id, sp->tables[end], sp->groups[end]);
        for (size_t i = first; i < end; i++) {
            if (lay == L_PER_TABLE)
                add_linked_metadata(s, export_id, sp->tables[i], sp->groups[i]);
            add_linked_rows(s, export_id, sp->tables[i], sp->rows,
                            lay == L_LAST_CHECKSUM && i == end - 1, &total);
        }
    }
    ferry_checksum_hex(&total, hex);
    ferry_export_end_t end = {(char *)export_id, (int32_t)sp->ntables, (int64_t)total.rows, hex};
    ck_assert_int_eq(ferry_export_end_encode(&end, &add(s, "ExportEnd", export_id, NULL)->payload,
                                             err, sizeof(err)),
                     0);
}

static const struct {
    const char *name;
    linked_spec_t spec;
} linked[] = {
    {"two tables that reference each other", {{"Pair2", "Ring2"}, {0, 0}, 2, 40}},
    {"three tables in a ring", {{"A3", "B3", "C3"}, {0, 0, 0}, 3, 40}},
    {"a table that references itself", {{"Tree"}, {0}, 1, 40}},
    {"a cycle with a self reference, then a table referring to it",
     {{"Xa", "Yb", "Zc"}, {0, 0, 1}, 3, 40}},
};

/* Every table of an apply group is created before the first row of any:
 * SQLite refuses to prepare an insert into a table whose parent is missing. */
START_TEST(test_apply_group_into_a_fresh_target)
{
    static stream_t s;
    const linked_spec_t *sp = &linked[_i].spec;
    char q[256];

    build_linked_model();
    build_linked(&s, "g-1", sp, L_GROUPED);
    consume(&s, 0, 0);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_msg(outcomes[0].state == FERRY_STATUS_APPLIED, "%s: %s", linked[_i].name,
                  outcomes[0].reason);
    ck_assert_int_eq(outcomes[0].rows, sp->rows * (int64_t)sp->ntables);
    ck_assert_int_eq(outcomes[0].inserted, sp->rows * (int64_t)sp->ntables);
    ck_assert(is_applied("g-1"));
    ck_assert_int_eq(stored_offset(0), (int64_t)s.n);
    for (size_t t = 0; t < sp->ntables; t++) {
        const ferry_object_t *o = obj(sp->tables[t]);
        snprintf(q, sizeof(q), "SELECT count(*) FROM \"%s\"", o->name);
        ck_assert_int_eq(sql_int(q), sp->rows);
        snprintf(q, sizeof(q), "SELECT count(*) FROM pragma_foreign_key_list('%s')", o->name);
        ck_assert_int_eq(sql_int(q), (int64_t)o->nrelations);
        /* Each reference arrived as sent (the last row's self reference wraps). */
        if (strcmp(o->relations[0].target, o->name))
            snprintf(q, sizeof(q), "SELECT count(*) FROM \"%s\" WHERE \"%s_id\" = id",
                     o->name, o->relations[0].target);
        else
            snprintf(q, sizeof(q),
                     "SELECT count(*) FROM \"%s\" WHERE \"%s_id\" = id %% %d + 1", o->name,
                     o->name, sp->rows);
        ck_assert_int_eq(sql_int(q), sp->rows);
    }
    ck_assert_int_eq(sql_int("SELECT count(*) FROM pragma_foreign_key_check"), 0);
    stream_free(&s);
}
END_TEST

static const struct {
    const char *name;
    layout_t layout;
    const char *reason;
} linked_refusals[] = {
    {"rows before the group's last TableMetadata", L_PER_TABLE,
     "rows of Xa arrived before the TableMetadata of Yb, which its apply group declares first"},
    {"the next group's TableMetadata inside the group's", L_LATER_GROUP_META,
     "table Zc (group 1) arrived before its predecessor Yb (group 0) in the plan"},
    {"the next group's TableMetadata before the group's rows", L_NEXT_GROUP_EARLY,
     "TableMetadata of Zc arrived before the TableEnd of Xa"},
    {"a wrong checksum on the group's last table", L_LAST_CHECKSUM,
     "table Yb: TableEnd announces 40 rows with checksum 0123456789abcdef"},
};

START_TEST(test_apply_group_out_of_order_is_refused)
{
    static stream_t s;

    build_linked_model();
    build_linked(&s, "g-bad", &linked[3].spec, linked_refusals[_i].layout);
    consume(&s, 0, 0);
    ck_assert_uint_eq(noutcomes, 1);
    ck_assert_int_eq(outcomes[0].state, FERRY_STATUS_FAILED);
    ck_assert_msg(outcomes[0].reason && strstr(outcomes[0].reason, linked_refusals[_i].reason),
                  "%s: reason \"%s\" lacks \"%s\"", linked_refusals[_i].name,
                  outcomes[0].reason ? outcomes[0].reason : "(none)",
                  linked_refusals[_i].reason);
    ck_assert(!has_table("Xa") && !has_table("Yb") && !has_table("Zc"));
    ck_assert(!is_applied("g-bad"));
    ck_assert_int_eq(ferry_import_open_partition(job), -1);
    ck_assert_int_ge(stored_offset(0), 1);
    stream_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("import");
    TCase *tc = tcase_create("job");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_bad_export_is_refused_and_nothing_applied, 0,
                        sizeof(refusals) / sizeof(refusals[0]));
    tcase_add_test(tc, test_export_applied_in_order_with_offset_and_id);
    tcase_add_test(tc, test_second_export_updates_without_duplicates);
    tcase_add_test(tc, test_repeated_key_into_empty_table_counts_an_update);
    tcase_add_test(tc, test_metadata_only_creates_empty_tables);
    tcase_add_test(tc, test_data_only_into_existing_tables);
    tcase_add_test(tc, test_redelivered_export_is_skipped);
    tcase_add_test(tc, test_interleaved_exports_both_applied);
    tcase_add_test(tc, test_end_with_pending_transaction_waits);
    tcase_add_test(tc, test_message_of_another_partition_is_handed_back);
    tcase_add_test(tc, test_end_between_parts_waits_for_the_next_part);
    tcase_add_test(tc, test_later_attempt_supersedes_and_stale_parts_are_ignored);
    tcase_add_loop_test(tc, test_part_begin_verified_against_what_was_applied, 0,
                        sizeof(part_begins) / sizeof(part_begins[0]));
    tcase_add_test(tc, test_abandoned_export_is_redone);
    tcase_add_test(tc, test_undecodable_message_outside_export_is_skipped);
    tcase_add_test(tc, test_failed_export_does_not_stop_the_next);
    tcase_add_loop_test(tc, test_apply_group_into_a_fresh_target, 0,
                        sizeof(linked) / sizeof(linked[0]));
    tcase_add_loop_test(tc, test_apply_group_out_of_order_is_refused, 0,
                        sizeof(linked_refusals) / sizeof(linked_refusals[0]));
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
