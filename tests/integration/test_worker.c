/* test_worker.c - ferry-worker on the real broker: the export stream of a
 * request, exactly-once under SIGKILL, scale-out over a consumer group, and bad
 * input that is rejected while the worker keeps serving. */
#include "checksum.h"
#include "it_util.h"
#include "kafka.h"
#include "plan.h"
#include "protocol.h"
#include "rowcodec.h"
#include "store.h"
#include "timeutil.h"
#include "check_run.h"

#include <check.h>
#include <sqlite3.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One test's world: a seeded dev, a config with unique topics, workers. */
typedef struct world {
    char *dir;
    char *tag;
    char dev_uri[600];
    char config[1024];
    char records[300];
    char requests[300];
    char status[300];
    char dlq[300];
    pid_t workers[4];
    int nworkers;
} world_t;

static void world_init(world_t *w, const char *name, long rows, int partitions,
                       const char *worker_json)
{
    char envs[2048], extra[512];

    memset(w, 0, sizeof(*w));
    w->dir = it_tmpdir();
    w->tag = it_unique(name);
    ck_assert_int_eq(it_sh(NULL, "'%s/envtool/ferry-env' seed '%s/dev.db' --rows %ld >/dev/null",
                           it_build_dir(), w->dir, rows),
                     0);
    snprintf(w->dev_uri, sizeof(w->dev_uri), "sqlite:%s/dev.db", w->dir);
    snprintf(envs, sizeof(envs),
             "{ \"dev\": { \"store\": \"%s\" }, \"prod\": { \"store\": \"sqlite:%s/prod.db\" } }",
             w->dev_uri, w->dir);
    snprintf(extra, sizeof(extra), "\"worker\": %s", worker_json);
    snprintf(w->config, sizeof(w->config), "%s",
             it_write_config_n(w->dir, w->tag, partitions, envs, extra));
    snprintf(w->records, sizeof(w->records), "%s.records.prod", w->tag);
    snprintf(w->requests, sizeof(w->requests), "%s.requests", w->tag);
    snprintf(w->status, sizeof(w->status), "%s.status", w->tag);
    snprintf(w->dlq, sizeof(w->dlq), "%s.dlq", w->tag);
}

static pid_t world_start_worker(world_t *w, const char *id)
{
    char path[600], log[600];
    snprintf(path, sizeof(path), "%s/worker/ferry-worker", it_build_dir());
    snprintf(log, sizeof(log), "%s/worker-%s.log", w->dir, id);
    const char *argv[] = {path, "--config", w->config, "--id", id, NULL};
    pid_t pid = it_spawn(argv, log);
    w->workers[w->nworkers++] = pid;
    return pid;
}

static void world_destroy(world_t *w)
{
    for (int i = 0; i < w->nworkers; i++)
        if (w->workers[i] > 0)
            ck_assert_int_eq(it_stop(w->workers[i], SIGTERM, 30000), 0);
    it_sh(NULL, "rm -rf '%s'", w->dir);
    free(w->dir);
    free(w->tag);
}

/* export_id NULL: a request without one (the worker generates it). */
static void publish_request(world_t *w, const char *export_id, const char *objects_json,
                            const char *schedule_id)
{
    char json[1024], id[600] = "";
    int n;
    if (export_id)
        snprintf(id, sizeof(id), "\"export_id\":\"%s\",", export_id);
    if (schedule_id)
        n = snprintf(json, sizeof(json),
                     "{%s\"source\":\"dev\",\"target\":\"prod\","
                     "\"objects\":%s,\"schedule_id\":\"%s\"}",
                     id, objects_json, schedule_id);
    else
        n = snprintf(json, sizeof(json),
                     "{%s\"source\":\"dev\",\"target\":\"prod\",\"objects\":%s}", id,
                     objects_json);
    it_produce(w->requests, schedule_id ? schedule_id : "dev->prod", json, (size_t)n);
}

/* The export id of the first message of the type in msgs, or NULL. */
static const char *export_id_of(const it_msg_t *msgs, size_t n, const char *type)
{
    for (size_t i = 0; i < n; i++)
        if (msgs[i].type && !strcmp(msgs[i].type, type))
            return msgs[i].export_id;
    return NULL;
}

static int count_type(const it_msg_t *msgs, size_t n, const char *type)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += msgs[i].type && !strcmp(msgs[i].type, type);
    return c;
}

/* Waits until the topic holds at least want messages of the type (read
 * committed); returns the messages read last. */
static size_t wait_for(const char *topic, const char *type, int want, int timeout_ms,
                       it_msg_t **out)
{
    int64_t deadline = ferry_now_ms() + timeout_ms;
    size_t n;

    for (;;) {
        n = it_consume_all(topic, "read_committed", 3000, out);
        if (count_type(*out, n, type) >= want || ferry_now_ms() > deadline)
            return n;
        it_msgs_free(*out, n);
        usleep(300000);
    }
}

/* Rows messages seen by check_export_stream, and the largest one's size. */
static size_t rows_messages, largest_rows_message;

/* Checks one complete export in msgs (in offset order on one partition):
 * tables in plan order, TableEnd counts and checksums equal to the source's,
 * and the decoded rows hash to the same checksum. Returns the rows seen. */
static long check_export_stream(const it_msg_t *msgs, size_t n, const char *export_id,
                                const char *dev_uri, const char *const *expect_tables,
                                size_t nexpect)
{
    json_t *sums = it_env_checksums(dev_uri);
    ferry_table_metadata_t *tm = NULL;
    ferry_rowcodec_t *codec = NULL;
    ferry_checksum_t sum = FERRY_CHECKSUM_INIT;
    uint64_t seeds[256];
    size_t table_no = 0;
    long rows = 0;
    int begins = 0, ends = 0;
    char err[512];

    for (size_t i = 0; i < n; i++) {
        const it_msg_t *m = &msgs[i];
        if (!m->type)
            continue;
        if (!strcmp(m->type, "ExportBegin")) {
            ferry_export_begin_t *b = NULL;
            ck_assert_int_eq(ferry_export_begin_decode(m->value, m->value_len, &b, err, sizeof(err)), 0);
            if (strcmp(b->export_id, export_id)) {
                ferry_export_begin_free(b);
                continue;
            }
            ck_assert_uint_eq(b->ntables, nexpect);
            for (size_t t = 0; t < nexpect; t++)
                ck_assert_str_eq(b->tables[t].name, expect_tables[t]);
            ferry_export_begin_free(b);
            begins++;
        } else if (!strcmp(m->type, "TableMetadata")) {
            ck_assert_int_eq(ferry_table_metadata_decode(m->value, m->value_len, &tm, err, sizeof(err)), 0);
            if (strcmp(tm->export_id, export_id)) {
                ferry_table_metadata_free(tm);
                tm = NULL;
                continue;
            }
            ck_assert_uint_lt(table_no, nexpect);
            ck_assert_str_eq(tm->object->name, expect_tables[table_no]);
            ck_assert_int_eq(ferry_rowcodec_new(tm->object, &codec, err, sizeof(err)), 0);
            ck_assert(ferry_rowcodec_fingerprint(codec) == tm->fingerprint);
            ck_assert_uint_le(tm->object->nfields, 256);
            for (size_t f = 0; f < tm->object->nfields; f++)
                seeds[f] = ferry_checksum_seed(tm->object->fields[f].name);
            sum = (ferry_checksum_t)FERRY_CHECKSUM_INIT;
        } else if (!strcmp(m->type, "Rows") && tm) {
            const ferry_value_t *row;
            int more;
            ck_assert_msg(ferry_rowcodec_rows_open(codec, m->value, m->value_len, err,
                                                   sizeof(err)) == 0, "%s", err);
            while ((more = ferry_rowcodec_rows_next(codec, &row, err, sizeof(err))) == 1)
                ferry_checksum_add(&sum, seeds, row, tm->object->nfields);
            ck_assert_msg(more == 0, "%s", err);
            rows_messages++;
            if (m->value_len > largest_rows_message)
                largest_rows_message = m->value_len;
        } else if (!strcmp(m->type, "TableEnd") && tm) {
            ferry_table_end_t *te = NULL;
            char hex[17];
            ck_assert_int_eq(ferry_table_end_decode(m->value, m->value_len, &te, err, sizeof(err)), 0);
            json_t *src = json_object_get(json_object_get(sums, "tables"), te->table);
            ck_assert_msg(src != NULL, "table %s not in the source checksums", te->table);
            ck_assert_int_eq(te->rows, json_integer_value(json_object_get(src, "rows")));
            ck_assert_str_eq(te->checksum, json_string_value(json_object_get(src, "checksum")));
            ferry_checksum_hex(&sum, hex);
            ck_assert_int_eq((long)sum.rows, te->rows);
            ck_assert_str_eq(hex, te->checksum);
            rows += te->rows;
            ferry_table_end_free(te);
            ferry_rowcodec_destroy(codec);
            codec = NULL;
            ferry_table_metadata_free(tm);
            tm = NULL;
            table_no++;
        } else if (!strcmp(m->type, "ExportEnd")) {
            ferry_export_end_t *e = NULL;
            ck_assert_int_eq(ferry_export_end_decode(m->value, m->value_len, &e, err, sizeof(err)), 0);
            if (!strcmp(e->export_id, export_id)) {
                ck_assert_int_eq(e->rows, rows);
                ck_assert_int_eq(e->tables, (int)nexpect);
                ends++;
            }
            ferry_export_end_free(e);
        }
    }
    ck_assert_int_eq(begins, 1);
    ck_assert_int_eq(ends, 1);
    ck_assert_uint_eq(table_no, nexpect);
    json_decref(sums);
    return rows;
}

/* The plan the worker must follow, computed from the same environment. */
static size_t expected_plan(const char *dev_uri, const char *object, char ***names)
{
    ferry_store_t *st = NULL;
    ferry_objset_t *objs = NULL;
    ferry_catalog_t *cat = NULL;
    ferry_plan_t *plan = NULL;
    char err[512], path[600];
    const char *req[] = {object};

    snprintf(path, sizeof(path), "%s/schemas/catalog/preset.json", it_source_dir());
    ck_assert_int_eq(ferry_catalog_load(path, &cat, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_open(dev_uri, FERRY_STORE_READ, &st, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_read_meta(st, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_plan_new(cat, objs, req, 1, &plan, err, sizeof(err)), 0);
    size_t n = ferry_plan_ntables(plan);
    *names = calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        (*names)[i] = strdup(ferry_plan_table(plan, i)->name);
    ferry_plan_destroy(plan);
    ferry_objset_destroy(objs);
    ferry_store_destroy(st);
    ferry_catalog_destroy(cat);
    return n;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

START_TEST(test_queue_export_matches_source_closure)
{
    world_t w;
    it_msg_t *msgs;
    char **names;
    size_t n, nnames;

    world_init(&w, "wk.queue", 3000, 3,
               "{ \"session_timeout_ms\": 6000, \"rows_message_bytes\": 2048 }");
    nnames = expected_plan(w.dev_uri, "Queue", &names);
    ck_assert_uint_eq(nnames, 5);
    world_start_worker(&w, "w1");
    publish_request(&w, "queue-1", "[\"Queue\"]", NULL);
    n = wait_for(w.records, "ExportEnd", 1, 60000, &msgs);
    rows_messages = largest_rows_message = 0;
    long rows = check_export_stream(msgs, n, "queue-1", w.dev_uri, (const char *const *)names,
                                    nnames);
    ck_assert_int_gt(rows, 0);
    /* Rows are packed, and a message ends soon after reaching 2048 bytes
     * (the sample's rows are far below 1 KiB each). */
    ck_assert_uint_lt(rows_messages, (size_t)rows);
    ck_assert_uint_gt(rows_messages, nnames);
    ck_assert_uint_lt(largest_rows_message, 2048 + 1024);
    /* check_export_stream pinned the exact table list: never User. */
    for (size_t i = 0; i < nnames; i++)
        ck_assert_str_ne(names[i], "User");
    it_msgs_free(msgs, n);
    free_names(names, nnames);
    world_destroy(&w);
}
END_TEST

START_TEST(test_sigkill_mid_export_redone_exactly_once)
{
    world_t w;
    it_msg_t *msgs;
    char **names;
    size_t n, nnames;
    pid_t a;
    int64_t deadline;

    world_init(&w, "wk.kill", 300000, 3,
               "{ \"session_timeout_ms\": 6000, \"transaction_timeout_ms\": 10000 }");
    nnames = expected_plan(w.dev_uri, "Order__CST", &names);
    a = world_start_worker(&w, "a");
    sleep(3); /* the worker has created the topics */
    ck_assert_int_eq(it_high_watermarks(w.records), 0);
    publish_request(&w, NULL, "[\"Order__CST\"]", NULL); /* the worker makes its id */

    /* Kill worker a as soon as the first batch of the export is in the log,
     * uncommitted (the export takes about a second). */
    deadline = ferry_now_ms() + 60000;
    while (it_high_watermarks(w.records) == 0 && ferry_now_ms() < deadline)
        usleep(5000);
    ck_assert_int_eq(it_stop(a, SIGKILL, 5000), 128 + SIGKILL);
    w.workers[0] = -1;

    n = it_consume_all(w.records, "read_committed", 3000, &msgs);
    ck_assert_uint_eq(n, 0); /* nothing of the killed export is visible */
    it_msgs_free(msgs, n);

    world_start_worker(&w, "b");
    n = wait_for(w.records, "ExportEnd", 1, 120000, &msgs);
    ck_assert_int_eq(count_type(msgs, n, "ExportBegin"), 1);
    ck_assert_int_eq(count_type(msgs, n, "ExportEnd"), 1);
    {
        /* The redo kept the id the killed attempt had generated. */
        char *id = strdup(export_id_of(msgs, n, "ExportBegin"));
        it_msg_t *all;
        size_t nall;
        check_export_stream(msgs, n, id, w.dev_uri, (const char *const *)names, nnames);
        ck_assert_uint_eq(strlen(id), 32);
        nall = it_consume_all(w.records, "read_uncommitted", 3000, &all);
        ck_assert_int_eq(count_type(all, nall, "ExportBegin"), 2);
        for (size_t i = 0; i < nall; i++)
            ck_assert_str_eq(all[i].export_id, id);
        it_msgs_free(all, nall);
        free(id);
    }
    it_msgs_free(msgs, n);
    free_names(names, nnames);
    world_destroy(&w);
}
END_TEST

/* A source that can never be exported as it is (a column name that is not
 * UTF-8, a row larger than any Kafka message) is settled once as failed,
 * with one DLQ record, and the worker goes on: no retry storm, no blocked
 * partition. */
START_TEST(test_unexportable_source_fails_once)
{
    world_t w;
    it_msg_t *msgs;
    size_t n;
    int failed = 0, published = 0;
    char err[512];

    world_init(&w, "wk.unexp", 500, 3, "{ \"session_timeout_ms\": 6000 }");
    {
        char path[700];
        sqlite3 *db;
        snprintf(path, sizeof(path), "%s/dev.db", w.dir);
        ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(db,
                                      "CREATE TABLE Bad__CST (id INTEGER PRIMARY KEY, \"x\xffy\" TEXT);"
                                      "INSERT INTO Bad__CST VALUES (1, 'a');"
                                      "CREATE TABLE Big__CST (id INTEGER PRIMARY KEY, b BLOB);"
                                      "INSERT INTO Big__CST VALUES (1, zeroblob(17 * 1024 * 1024));",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
    }
    world_start_worker(&w, "u1");
    publish_request(&w, "bad-utf8", "[\"Bad__CST\"]", NULL);
    publish_request(&w, "too-big", "[\"Big__CST\"]", NULL);
    publish_request(&w, "good-2", "[\"Picklist\"]", NULL);
    n = wait_for(w.records, "ExportEnd", 1, 60000, &msgs);
    ck_assert_int_eq(count_type(msgs, n, "ExportEnd"), 1);
    it_msgs_free(msgs, n);
    sleep(5); /* a retry storm would show up as more DLQ records by now */

    n = it_consume_all(w.dlq, "read_committed", 5000, &msgs);
    ck_assert_uint_eq(n, 2);
    it_msgs_free(msgs, n);
    n = it_consume_all(w.status, "read_committed", 5000, &msgs);
    for (size_t k = 0; k < n; k++) {
        ferry_status_t *st = NULL;
        ck_assert_int_eq(ferry_status_decode(msgs[k].value, msgs[k].value_len, &st, err, sizeof(err)), 0);
        if (st->state == FERRY_STATUS_FAILED) {
            failed++;
            if (!strcmp(st->export_id, "too-big"))
                ck_assert_msg(strstr(st->reason, "too large") || strstr(st->reason, "Too large"),
                              "reason: %s", st->reason);
        }
        published += st->state == FERRY_STATUS_PUBLISHED;
        ferry_status_free(st);
    }
    it_msgs_free(msgs, n);
    ck_assert_int_eq(failed, 2);
    ck_assert_int_eq(published, 1);
    world_destroy(&w);
}
END_TEST

START_TEST(test_three_workers_share_requests)
{
    world_t w;
    it_msg_t *msgs;
    size_t n;
    char id[64], sched[64];
    int per_worker[3] = {0, 0, 0};
    char err[512];

    world_init(&w, "wk.scale", 500, 6, "{ \"session_timeout_ms\": 6000 }");
    world_start_worker(&w, "x0");
    world_start_worker(&w, "x1");
    world_start_worker(&w, "x2");
    sleep(12); /* let the group settle on three members */
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "scale-%d", i);
        snprintf(sched, sizeof(sched), "stream-%d", i);
        publish_request(&w, id, "[\"Connector\"]", sched);
    }
    n = wait_for(w.records, "ExportEnd", 30, 120000, &msgs);
    ck_assert_int_eq(count_type(msgs, n, "ExportBegin"), 30);
    ck_assert_int_eq(count_type(msgs, n, "ExportEnd"), 30);
    /* every export id exactly once */
    for (int i = 0; i < 30; i++) {
        int seen = 0;
        snprintf(id, sizeof(id), "scale-%d", i);
        for (size_t k = 0; k < n; k++)
            if (msgs[k].type && !strcmp(msgs[k].type, "ExportEnd")) {
                ferry_export_end_t *e = NULL;
                ck_assert_int_eq(ferry_export_end_decode(msgs[k].value, msgs[k].value_len, &e, err, sizeof(err)), 0);
                seen += !strcmp(e->export_id, id);
                ferry_export_end_free(e);
            }
        ck_assert_msg(seen == 1, "%s exported %d times", id, seen);
    }
    it_msgs_free(msgs, n);

    n = wait_for(w.status, "StatusEvent", 60, 30000, &msgs);
    for (size_t k = 0; k < n; k++) {
        ferry_status_t *st = NULL;
        ck_assert_int_eq(ferry_status_decode(msgs[k].value, msgs[k].value_len, &st, err, sizeof(err)), 0);
        /* Every StatusEvent names its export in ferry.export, as the importer's do. */
        ck_assert_msg(msgs[k].export_id && !strcmp(msgs[k].export_id, st->export_id),
                      "status %s of %s: ferry.export header %s", ferry_status_state_name(st->state),
                      st->export_id, msgs[k].export_id ? msgs[k].export_id : "(absent)");
        if (st->state == FERRY_STATUS_PUBLISHED)
            for (int i = 0; i < 3; i++) {
                char comp[32];
                snprintf(comp, sizeof(comp), "worker:x%d", i);
                per_worker[i] += !strcmp(st->component, comp);
            }
        ferry_status_free(st);
    }
    it_msgs_free(msgs, n);
    ck_assert_int_eq(per_worker[0] + per_worker[1] + per_worker[2], 30);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(per_worker[i] > 0, "worker x%d exported nothing", i);
    world_destroy(&w);
}
END_TEST

START_TEST(test_bad_requests_rejected_worker_keeps_serving)
{
    world_t w;
    it_msg_t *msgs;
    size_t n;
    int rejected = 0, published = 0, unknown_key_named = 0, failed_store = 0;
    char err[512];
    static const char garbage[] = "\x00\x01\x02 not a request";

    world_init(&w, "wk.bad", 500, 3, "{ \"session_timeout_ms\": 6000 }");
    {
        /* an environment whose store ferry cannot open by design */
        char envs[2048];
        snprintf(envs, sizeof(envs),
                 "{ \"dev\": { \"store\": \"%s\" }, \"prod\": { \"store\": \"sqlite:%s/prod.db\" },"
                 " \"pg\": { \"store\": \"postgresql://127.0.0.1:1/none?no_such_option=1\" } }",
                 w.dev_uri, w.dir);
        it_write_config_n(w.dir, w.tag, 3, envs, "\"worker\": { \"session_timeout_ms\": 6000 }");
    }
    world_start_worker(&w, "b1");
    it_produce(w.requests, "k", garbage, sizeof(garbage) - 1);
    const char *unknown_env = "{\"export_id\":\"bad-env\",\"source\":\"dev\",\"target\":\"staging\","
                              "\"objects\":[\"Queue\"]}";
    it_produce(w.requests, "dev->staging", unknown_env, strlen(unknown_env));
    const char *unknown_obj = "{\"export_id\":\"bad-obj\",\"source\":\"dev\",\"target\":\"prod\","
                              "\"objects\":[\"Queue\",\"NoSuchThing\"]}";
    it_produce(w.requests, "dev->prod", unknown_obj, strlen(unknown_obj));
    const char *wrong_key = "{\"export_id\":\"bad-key\",\"source\":\"dev\",\"target\":\"prod\","
                            "\"objects\":[\"Queue\"]}";
    it_produce(w.requests, "k", wrong_key, strlen(wrong_key));
    const char *unknown_key = "{\"export_id\":\"bad-unknown-key\",\"source\":\"dev\","
                              "\"target\":\"prod\",\"objects\":[\"Queue\"],\"priority\":1}";
    it_produce(w.requests, "dev->prod", unknown_key, strlen(unknown_key));
    const char *no_store = "{\"export_id\":\"bad-store\",\"source\":\"pg\",\"target\":\"prod\","
                           "\"objects\":[\"Queue\"]}";
    it_produce(w.requests, "pg->prod", no_store, strlen(no_store));
    publish_request(&w, "good-1", "[\"Picklist\"]", NULL);

    n = wait_for(w.records, "ExportEnd", 1, 60000, &msgs);
    ck_assert_int_eq(count_type(msgs, n, "ExportEnd"), 1);
    it_msgs_free(msgs, n);

    n = it_consume_all(w.dlq, "read_committed", 5000, &msgs);
    ck_assert_uint_eq(n, 6);
    {
        int found = 0, named = 0; /* the DLQ keeps the original bytes */
        for (size_t k = 0; k < n; k++) {
            int is_garbage = msgs[k].value_len == sizeof(garbage) - 1 &&
                             !memcmp(msgs[k].value, garbage, sizeof(garbage) - 1);
            found += is_garbage;
            /* every record names its export: the id it carries, else a generated one */
            ck_assert_ptr_nonnull(msgs[k].export_id);
            if (is_garbage)
                ck_assert_uint_eq(strspn(msgs[k].export_id, "0123456789abcdef"), 32);
            named += !strcmp(msgs[k].export_id, "bad-unknown-key");
        }
        ck_assert_int_eq(found, 1);
        ck_assert_int_eq(named, 1);
    }
    it_msgs_free(msgs, n);

    n = wait_for(w.status, "StatusEvent", 8, 30000, &msgs);
    for (size_t k = 0; k < n; k++) {
        ferry_status_t *st = NULL;
        ck_assert_int_eq(ferry_status_decode(msgs[k].value, msgs[k].value_len, &st, err, sizeof(err)), 0);
        ck_assert_msg(msgs[k].export_id && !strcmp(msgs[k].export_id, st->export_id),
                      "status %s of %s: ferry.export header %s", ferry_status_state_name(st->state),
                      st->export_id, msgs[k].export_id ? msgs[k].export_id : "(absent)");
        if (st->state == FERRY_STATUS_REJECTED) {
            rejected++;
            ck_assert_ptr_nonnull(st->reason);
            if (!strcmp(st->export_id, "bad-env"))
                ck_assert_ptr_nonnull(strstr(st->reason, "staging"));
            if (!strcmp(st->export_id, "bad-obj"))
                ck_assert_ptr_nonnull(strstr(st->reason, "NoSuchThing"));
            if (!strcmp(st->export_id, "bad-key"))
                ck_assert_ptr_nonnull(strstr(st->reason, "stream key \"dev->prod\""));
            if (!strcmp(st->export_id, "bad-unknown-key")) {
                ck_assert_ptr_nonnull(strstr(st->reason, "unknown key \"priority\""));
                unknown_key_named++;
            }
        }
        published += st->state == FERRY_STATUS_PUBLISHED;
        if (!strcmp(st->export_id, "bad-store")) {
            /* no retry can open it: failed on the first attempt, not rejected, not retried */
            ck_assert_ptr_nonnull(st->reason);
            ck_assert_int_eq(st->state, FERRY_STATUS_FAILED);
            ck_assert_ptr_nonnull(strstr(st->reason, "not a valid PostgreSQL connection URI"));
            ck_assert_ptr_null(strstr(st->reason, "gave up after"));
            failed_store++;
        }
        ferry_status_free(st);
    }
    it_msgs_free(msgs, n);
    ck_assert_int_eq(rejected, 5);
    ck_assert_int_eq(unknown_key_named, 1);
    ck_assert_int_eq(failed_store, 1);
    ck_assert_int_eq(published, 1);
    world_destroy(&w);
}
END_TEST

/* Deletes topic and waits until the cluster no longer lists it. */
static void delete_topic(const char *topic)
{
    rd_kafka_t *rk = it_client(RD_KAFKA_PRODUCER, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopic_t *del = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_event_t *ev;
    int64_t deadline = ferry_now_ms() + 60000;
    int gone = 0;

    rd_kafka_DeleteTopics(rk, &del, 1, NULL, q);
    ev = rd_kafka_queue_poll(q, 30000);
    ck_assert_ptr_nonnull(ev);
    ck_assert_msg(!rd_kafka_event_error(ev), "delete %s: %s", topic,
                  rd_kafka_event_error_string(ev));
    rd_kafka_event_destroy(ev);
    while (!gone && ferry_now_ms() < deadline) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            gone = md->topic_cnt == 1 &&
                   md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(rkt);
        if (!gone)
            usleep(200000);
    }
    ck_assert_msg(gone, "topic %s still listed 60 s after its deletion", topic);
    rd_kafka_DeleteTopic_destroy(del);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

/* The export id of the one export in the records topic with the given index
 * among ExportBegins (read committed), waiting for its ExportEnd. */
static char *generated_id(world_t *w, int nth)
{
    it_msg_t *msgs;
    size_t n = wait_for(w->records, "ExportEnd", nth + 1, 60000, &msgs);
    char *id = NULL;
    int seen = 0;

    ck_assert_int_eq(count_type(msgs, n, "ExportEnd"), nth + 1);
    for (size_t i = 0; i < n && !id; i++)
        if (msgs[i].type && !strcmp(msgs[i].type, "ExportBegin") && seen++ == nth)
            id = strdup(msgs[i].export_id);
    it_msgs_free(msgs, n);
    ck_assert_ptr_nonnull(id);
    return id;
}

/* A request without an export id, written after the requests topic was
 * deleted and created again, lands at the offset an earlier request had: it
 * must still get a new export id, else the importer skips it as applied. */
START_TEST(test_generated_id_new_after_requests_topic_recreated)
{
    world_t w;
    char envs[2048], worker[512], *first, *second;
    pid_t a;

    world_init(&w, "wk.ids", 200, 1, "{ \"session_timeout_ms\": 6000 }");
    snprintf(worker, sizeof(worker),
             "\"worker\": { \"session_timeout_ms\": 6000, \"group_id\": \"%s.g1\" }", w.tag);
    snprintf(envs, sizeof(envs),
             "{ \"dev\": { \"store\": \"%s\" }, \"prod\": { \"store\": \"sqlite:%s/prod.db\" } }",
             w.dev_uri, w.dir);
    it_write_config_n(w.dir, w.tag, 1, envs, worker);
    a = world_start_worker(&w, "g1");
    publish_request(&w, NULL, "[\"Picklist\"]", NULL);
    first = generated_id(&w, 0);
    ck_assert_uint_eq(strlen(first), 32);
    ck_assert_int_eq(it_stop(a, SIGTERM, 30000), 0);
    w.workers[0] = -1;

    delete_topic(w.requests);
    it_create_topic(w.requests, 1, 0);
    /* a fresh group, so that no offset committed for the old topic counts */
    snprintf(worker, sizeof(worker),
             "\"worker\": { \"session_timeout_ms\": 6000, \"group_id\": \"%s.g2\" }", w.tag);
    it_write_config_n(w.dir, w.tag, 1, envs, worker);
    world_start_worker(&w, "g2");
    publish_request(&w, NULL, "[\"Picklist\"]", NULL); /* the same bytes, the same offset */
    second = generated_id(&w, 1);
    ck_assert_str_ne(first, second);
    free(first);
    free(second);
    world_destroy(&w);
}
END_TEST

/* The broker stopped for 10 s in the middle of an export and started again:
 * the export completes or is redone, and exactly one complete export becomes
 * visible. Needs the broker managed by deploy/local/kafka.sh (FERRY_KAFKA_DIR,
 * set by tests/run.sh). */
START_TEST(test_broker_restart_mid_export)
{
    const char *kdir = getenv("FERRY_KAFKA_DIR");
    world_t w;
    it_msg_t *msgs;
    char **names;
    size_t n, nnames;
    int64_t deadline;

    ck_assert_msg(kdir && *kdir, "FERRY_KAFKA_DIR must name the broker of deploy/local/kafka.sh");
    /* Small Rows messages: the export is still being written after 1000. */
    world_init(&w, "wk.restart", 200000, 3,
               "{ \"session_timeout_ms\": 6000, \"transaction_timeout_ms\": 60000, "
               "\"rows_message_bytes\": 1024 }");
    nnames = expected_plan(w.dev_uri, "Order__CST", &names);
    world_start_worker(&w, "r1");
    publish_request(&w, "restart-1", "[\"Order__CST\"]", NULL);
    deadline = ferry_now_ms() + 60000;
    while (it_high_watermarks(w.records) < 1000 && ferry_now_ms() < deadline)
        usleep(20000);
    ck_assert_int_ge(it_high_watermarks(w.records), 1000);
    ck_assert_int_eq(it_sh(NULL, "FERRY_KAFKA_DIR='%s' '%s/deploy/local/kafka.sh' stop >&2", kdir,
                           it_source_dir()),
                     0);
    sleep(10);
    ck_assert_int_eq(it_sh(NULL, "FERRY_KAFKA_DIR='%s' '%s/deploy/local/kafka.sh' start >&2", kdir,
                           it_source_dir()),
                     0);
    n = wait_for(w.records, "ExportEnd", 1, 180000, &msgs);
    check_export_stream(msgs, n, "restart-1", w.dev_uri, (const char *const *)names, nnames);
    ck_assert_int_eq(count_type(msgs, n, "ExportBegin"), 1);
    it_msgs_free(msgs, n);
    free_names(names, nnames);
    world_destroy(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("worker");
    TCase *stream = tcase_create("stream"), *kill = tcase_create("kill"),
          *restart = tcase_create("restart");

    tcase_set_timeout(stream, 300);
    tcase_add_test(stream, test_queue_export_matches_source_closure);
    tcase_add_test(stream, test_bad_requests_rejected_worker_keeps_serving);
    tcase_add_test(stream, test_unexportable_source_fails_once);
    tcase_add_test(stream, test_three_workers_share_requests);
    tcase_add_test(stream, test_generated_id_new_after_requests_topic_recreated);
    suite_add_tcase(s, stream);
    tcase_set_timeout(kill, 300);
    tcase_add_test(kill, test_sigkill_mid_export_redone_exactly_once);
    suite_add_tcase(s, kill);
    tcase_set_timeout(restart, 300);
    tcase_add_test(restart, test_broker_restart_mid_export);
    suite_add_tcase(s, restart);
    return ferry_check_run(s);
}
