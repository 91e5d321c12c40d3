/* export.c - validate, plan and stream one export (see export.h). */
#include "export.h"

#include "buf.h"
#include "checksum.h"
#include "error.h"
#include "kafka.h"
#include "rowcodec.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long one produce call may wait for room in a full local queue. */
#define PRODUCE_WAIT_MS 60000
/* Serve delivery reports every so many messages even when the queue has room. */
#define POLL_EVERY_MESSAGES 64
/* A Rows message is sent once its row bodies reach this many bytes (and at
 * the end of the table): fewer, larger messages cost the worker, the broker and
 * the importer far less per row than one message per row. */

struct ferry_export {
    ferry_request_t *req;
    ferry_store_t *source;
    ferry_objset_t *objs;
    ferry_plan_t *plan;
    char topic[256];
    char key[600];
    size_t rows_message_bytes;
    ferry_buf_t buf;    /* reused for every message */
    ferry_buf_t bodies; /* row bodies of the next Rows message */
};

int ferry_export_prepare(const ferry_config_t *cfg, const ferry_catalog_t *cat,
                         const ferry_request_t *req, ferry_export_t **out, char *errstr,
                         size_t errstr_size)
{
    ferry_export_t *ex;
    const char *uri;
    int rc;

    *out = NULL;
    uri = ferry_config_env_store(cfg, req->source);
    if (!uri)
        return ferry_errf(errstr, errstr_size, FERRY_ENOTFOUND,
                          "unknown source environment \"%s\"", req->source);
    if (!ferry_config_env_store(cfg, req->target))
        return ferry_errf(errstr, errstr_size, FERRY_ENOTFOUND,
                          "unknown target environment \"%s\"", req->target);
    if (!strcmp(req->source, req->target))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "source and target are the same environment \"%s\"", req->source);

    ex = calloc(1, sizeof(*ex));
    if (!ex || !(ex->req = ferry_request_dup(req))) {
        free(ex);
        return FERRY_ENOMEM;
    }
    if (ferry_config_records_topic(cfg, req->target, ex->topic, sizeof(ex->topic))) {
        rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                        "environment \"%s\" gives no legal records topic name", req->target);
        goto fail;
    }
    ferry_request_stream_key(req, ex->key, sizeof(ex->key));
    ex->rows_message_bytes = (size_t)ferry_config_int(cfg, "worker", "rows_message_bytes");
    rc = ferry_store_open(uri, FERRY_STORE_READ, &ex->source, errstr, errstr_size);
    if (rc)
        goto fail;
    /* Metadata and every table's rows from one snapshot: a concurrent writer
     * cannot make the export carry a child without its parent. */
    rc = ferry_store_snapshot(ex->source, errstr, errstr_size);
    if (rc)
        goto fail;
    rc = ferry_store_read_meta(ex->source, &ex->objs, errstr, errstr_size);
    if (rc)
        goto fail;
    rc = ferry_plan_new(cat, ex->objs, (const char *const *)req->objects, req->nobjects,
                        &ex->plan, errstr, errstr_size);
    if (rc)
        goto fail;
    *out = ex;
    return FERRY_OK;
fail:
    ferry_export_destroy(ex);
    return rc;
}

void ferry_export_destroy(ferry_export_t *ex)
{
    if (!ex)
        return;
    ferry_plan_destroy(ex->plan);
    ferry_objset_destroy(ex->objs);
    ferry_store_destroy(ex->source);
    ferry_request_free(ex->req);
    ferry_buf_free(&ex->buf);
    ferry_buf_free(&ex->bodies);
    free(ex);
}

const ferry_plan_t *ferry_export_plan(const ferry_export_t *ex) { return ex->plan; }
const char *ferry_export_topic(const ferry_export_t *ex) { return ex->topic; }
const char *ferry_export_stream_key(const ferry_export_t *ex) { return ex->key; }

/* Produces the message in ex->buf with the stream's key and headers. */
static int send_buf(ferry_export_t *ex, rd_kafka_t *rk, ferry_msg_type_t type, const char *table,
                    ferry_export_stats_t *stats, char *errstr, size_t errstr_size)
{
    ferry_kafka_header_t hdrs[3] = {
        {"ferry.type", ferry_msg_type_name(type), (size_t)-1},
        {"ferry.export", ex->req->export_id, (size_t)-1},
        {"ferry.table", table, (size_t)-1},
    };
    int rc = ferry_kafka_produce(rk, ex->topic, RD_KAFKA_PARTITION_UA, ex->key, strlen(ex->key),
                                 ex->buf.data, ex->buf.len, hdrs, table ? 3 : 2, PRODUCE_WAIT_MS,
                                 errstr, errstr_size);
    if (!rc)
        stats->bytes += (int64_t)ex->buf.len;
    return rc;
}

static int send_begin(ferry_export_t *ex, rd_kafka_t *rk, ferry_export_stats_t *stats,
                      char *errstr, size_t errstr_size)
{
    size_t nt = ferry_plan_ntables(ex->plan), na = ferry_plan_nassocs(ex->plan);
    ferry_plan_table_t *tables = calloc(nt ? nt : 1, sizeof(*tables));
    ferry_plan_assoc_t *assocs = calloc(na ? na : 1, sizeof(*assocs));
    ferry_export_begin_t begin = {0};
    int rc;

    if (!tables || !assocs) {
        free(tables);
        free(assocs);
        return FERRY_ENOMEM;
    }
    for (size_t i = 0; i < nt; i++)
        tables[i] = *ferry_plan_table(ex->plan, i);
    for (size_t i = 0; i < na; i++)
        assocs[i] = *ferry_plan_assoc(ex->plan, i);
    begin.export_id = ex->req->export_id;
    begin.request = ex->req;
    begin.tables = tables;
    begin.ntables = nt;
    begin.assocs = assocs;
    begin.nassocs = na;
    begin.ngroups = ferry_plan_ngroups(ex->plan);
    ferry_buf_reset(&ex->buf);
    rc = ferry_export_begin_encode(&begin, &ex->buf, errstr, errstr_size);
    if (!rc)
        rc = send_buf(ex, rk, FERRY_MSG_EXPORT_BEGIN, NULL, stats, errstr, errstr_size);
    free(tables);
    free(assocs);
    return rc;
}

/* Sends the first nrows rows gathered in ex->bodies (their first len bytes)
 * as one Rows message; what follows them moves to the front. */
static int flush_rows(ferry_export_t *ex, rd_kafka_t *rk, const ferry_object_t *obj,
                      const ferry_rowcodec_t *codec, size_t nrows, size_t len,
                      ferry_export_stats_t *stats, char *errstr, size_t errstr_size)
{
    int rc;

    ferry_buf_reset(&ex->buf);
    rc = ferry_rowcodec_frame_rows(codec, nrows, ex->bodies.data, len, &ex->buf, errstr,
                                   errstr_size);
    if (!rc)
        rc = send_buf(ex, rk, FERRY_MSG_ROWS, obj->name, stats, errstr, errstr_size);
    if (!rc && ++stats->messages % POLL_EVERY_MESSAGES == 0)
        rd_kafka_poll(rk, 0);
    memmove(ex->bodies.data, ex->bodies.data + len, ex->bodies.len - len);
    ex->bodies.len -= len;
    return rc;
}

/* Streams the rows of obj through codec, packed into Rows messages of about
 * ex->rows_message_bytes each: a message ends once it reaches that size, and
 * a row that would take it past that size starts the next one, so a message
 * is never larger than the target or than its only row. */
static int send_rows(ferry_export_t *ex, rd_kafka_t *rk, const ferry_object_t *obj,
                     ferry_rowcodec_t *codec, const uint64_t *seeds, ferry_checksum_t *sum,
                     const volatile sig_atomic_t *stop, ferry_export_stats_t *stats,
                     char *errstr, size_t errstr_size)
{
    ferry_cursor_t *cur = NULL;
    const ferry_value_t *row;
    size_t nrows = 0, before;
    int rc = ferry_store_cursor_open(ex->source, obj, &cur, errstr, errstr_size);

    ferry_buf_reset(&ex->bodies);
    while (!rc && (rc = ferry_cursor_next(cur, &row, errstr, errstr_size)) == 1) {
        rc = FERRY_OK;
        if (stop && *stop) {
            rc = ferry_errf(errstr, errstr_size, FERRY_EABORT, "export %s stopped at table %s",
                            ex->req->export_id, obj->name);
            break;
        }
        before = ex->bodies.len;
        if ((rc = ferry_rowcodec_encode(codec, row, &ex->bodies, errstr, errstr_size)))
            break;
        ferry_checksum_add(sum, seeds, row, obj->nfields);
        if (nrows && ex->bodies.len > ex->rows_message_bytes) {
            /* Past the target with this row: the rows before it go now. */
            if ((rc = flush_rows(ex, rk, obj, codec, nrows, before, stats, errstr, errstr_size)))
                break;
            nrows = 0;
        }
        nrows++;
        if (ex->bodies.len >= ex->rows_message_bytes) {
            if ((rc = flush_rows(ex, rk, obj, codec, nrows, ex->bodies.len, stats, errstr,
                                 errstr_size)))
                break;
            nrows = 0;
        }
    }
    if (!rc && nrows)
        rc = flush_rows(ex, rk, obj, codec, nrows, ex->bodies.len, stats, errstr, errstr_size);
    ferry_cursor_destroy(cur);
    return rc;
}

/* The source object of a plan table. */
static int plan_object(const ferry_export_t *ex, const ferry_plan_table_t *pt,
                       const ferry_object_t **obj, char *errstr, size_t errstr_size)
{
    if (!(*obj = ferry_objset_find(ex->objs, pt->name)))
        return ferry_errf(errstr, errstr_size, FERRY_ENOTFOUND, "table %s vanished from %s",
                          pt->name, ex->req->source);
    return FERRY_OK;
}

static int send_metadata(ferry_export_t *ex, rd_kafka_t *rk, const ferry_plan_table_t *pt,
                         ferry_export_stats_t *stats, char *errstr, size_t errstr_size)
{
    const ferry_object_t *obj;
    ferry_rowcodec_t *codec = NULL;
    int rc;

    if ((rc = plan_object(ex, pt, &obj, errstr, errstr_size)) ||
        (rc = ferry_rowcodec_new(obj, &codec, errstr, errstr_size)))
        return rc;
    ferry_table_metadata_t tm = {
        .export_id = ex->req->export_id,
        .group = pt->group,
        .object = obj,
        .row_schema_json = (char *)ferry_rowcodec_schema_json(codec),
        .fingerprint = ferry_rowcodec_fingerprint(codec),
        .with_rows = ex->req->content != FERRY_CONTENT_METADATA,
    };
    ferry_buf_reset(&ex->buf);
    rc = ferry_table_metadata_encode(&tm, &ex->buf, errstr, errstr_size);
    if (!rc)
        rc = send_buf(ex, rk, FERRY_MSG_TABLE_METADATA, obj->name, stats, errstr, errstr_size);
    ferry_rowcodec_destroy(codec);
    return rc;
}

/* The rows (content all|data) and the TableEnd of a table whose
 * TableMetadata was sent. */
static int send_table(ferry_export_t *ex, rd_kafka_t *rk, const ferry_plan_table_t *pt,
                      ferry_checksum_t *total, const volatile sig_atomic_t *stop,
                      ferry_export_stats_t *stats, char *errstr, size_t errstr_size)
{
    const ferry_object_t *obj;
    ferry_rowcodec_t *codec = NULL;
    ferry_checksum_t sum = FERRY_CHECKSUM_INIT;
    uint64_t *seeds = NULL;
    char hex[17];
    int rc;

    if ((rc = plan_object(ex, pt, &obj, errstr, errstr_size)) ||
        (rc = ferry_rowcodec_new(obj, &codec, errstr, errstr_size)))
        return rc;
    seeds = calloc(obj->nfields ? obj->nfields : 1, sizeof(*seeds));
    if (!seeds) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < obj->nfields; i++)
        seeds[i] = ferry_checksum_seed(obj->fields[i].name);

    if (ex->req->content != FERRY_CONTENT_METADATA)
        rc = send_rows(ex, rk, obj, codec, seeds, &sum, stop, stats, errstr, errstr_size);
    if (!rc) {
        ferry_checksum_hex(&sum, hex);
        ferry_table_end_t te = {ex->req->export_id, obj->name, (int64_t)sum.rows, hex};
        ferry_buf_reset(&ex->buf);
        rc = ferry_table_end_encode(&te, &ex->buf, errstr, errstr_size);
        if (!rc)
            rc = send_buf(ex, rk, FERRY_MSG_TABLE_END, obj->name, stats, errstr, errstr_size);
    }
    if (!rc) {
        ferry_checksum_merge(total, &sum);
        stats->tables++;
        stats->rows += (int64_t)sum.rows;
    }
out:
    free(seeds);
    ferry_rowcodec_destroy(codec);
    return rc;
}

/* One apply group, the plan's tables first..end-1: the TableMetadata of
 * each, then the rows and TableEnd of each. The target creates every table
 * of the group before it inserts a row into any (the tables of a group
 * refer to each other). */
static int send_group(ferry_export_t *ex, rd_kafka_t *rk, size_t first, size_t end,
                      ferry_checksum_t *total, const volatile sig_atomic_t *stop,
                      ferry_export_stats_t *stats, char *errstr, size_t errstr_size)
{
    int rc = FERRY_OK;

    for (size_t i = first; !rc && i < end; i++)
        rc = send_metadata(ex, rk, ferry_plan_table(ex->plan, i), stats, errstr, errstr_size);
    for (size_t i = first; !rc && i < end; i++)
        rc = send_table(ex, rk, ferry_plan_table(ex->plan, i), total, stop, stats, errstr,
                        errstr_size);
    return rc;
}

int ferry_export_stream(ferry_export_t *ex, rd_kafka_t *rk, const volatile sig_atomic_t *stop,
                        ferry_export_stats_t *stats, char *errstr, size_t errstr_size)
{
    ferry_checksum_t total = FERRY_CHECKSUM_INIT;
    size_t nt = ferry_plan_ntables(ex->plan);
    int rc;

    memset(stats, 0, sizeof(*stats));
    rc = send_begin(ex, rk, stats, errstr, errstr_size);
    for (size_t i = 0, next; !rc && i < nt; i = next) {
        next = i + 1;
        while (next < nt && ferry_plan_table(ex->plan, next)->group ==
                                ferry_plan_table(ex->plan, i)->group)
            next++;
        rc = send_group(ex, rk, i, next, &total, stop, stats, errstr, errstr_size);
    }
    if (rc)
        return rc;
    ferry_checksum_hex(&total, stats->checksum);
    ferry_export_end_t end = {ex->req->export_id, stats->tables, stats->rows, stats->checksum};
    ferry_buf_reset(&ex->buf);
    rc = ferry_export_end_encode(&end, &ex->buf, errstr, errstr_size);
    if (!rc)
        rc = send_buf(ex, rk, FERRY_MSG_EXPORT_END, NULL, stats, errstr, errstr_size);
    return rc;
}
