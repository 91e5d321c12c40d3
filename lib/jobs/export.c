/* export.c - validate, plan and stream one export (see export.h). */
#include "export.h"

#include "buf.h"
#include "checksum.h"
#include "error.h"
#include "rowcodec.h"
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


struct ferry_export {
    ferry_request_t *req;
    ferry_store_t *source;
    ferry_objset_t *objs;
    ferry_plan_t *plan;
    char topic[256];
    char key[FERRY_STREAM_KEY_MAX];
    /* A Rows message is sent once its row bodies reach this many bytes (and
     * at the end of the table): fewer, larger messages cost the worker, the
     * broker and the importer far less per row than one message per row. */
    size_t rows_message_bytes;
    /* A part (one Kafka transaction) is cut before a message that would take
     * it past this many bytes: the transaction stays short whatever the
     * export's size. */
    size_t part_bytes;
    char attempt[FERRY_ATTEMPT_MAX];
    ferry_buf_t buf;    /* reused for every message */
    ferry_buf_t part;   /* a PartBegin, encoded while buf holds the message it precedes */
    ferry_buf_t bodies; /* row bodies of the next Rows message */
};

/* Every column of every planned table is of a type ferry carries: else
 * FERRY_EPERMANENT naming table.column and its type, before anything is
 * sent. */
static int check_carried(const ferry_export_t *ex, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < ferry_plan_ntables(ex->plan); i++) {
        const ferry_object_t *obj =
            ferry_objset_find(ex->objs, ferry_plan_table(ex->plan, i)->name);
        for (size_t k = 0; obj && k < obj->nfields; k++)
            if (obj->fields[k].uncarriable)
                return ferry_errf(errstr, errstr_size, FERRY_EPERMANENT,
                                  "column %s.%s is of type %s, which ferry cannot carry",
                                  obj->name, obj->fields[k].name, obj->fields[k].decl_type);
    }
    return FERRY_OK;
}

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
    ex->part_bytes = (size_t)ferry_config_int(cfg, "worker", "part_bytes");
    rc = ferry_store_open_schema(uri, ferry_config_env_schema(cfg, req->source),
                                 FERRY_STORE_READ, &ex->source, errstr, errstr_size);
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
    if (rc || (rc = check_carried(ex, errstr, errstr_size)))
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
    ferry_buf_free(&ex->part);
    free(ex);
}

const ferry_plan_t *ferry_export_plan(const ferry_export_t *ex) { return ex->plan; }
const char *ferry_export_topic(const ferry_export_t *ex) { return ex->topic; }
const char *ferry_export_stream_key(const ferry_export_t *ex) { return ex->key; }

void ferry_export_set_attempt(ferry_export_t *ex, const char *attempt)
{
    snprintf(ex->attempt, sizeof(ex->attempt), "%s", attempt ? attempt : "");
}

void ferry_export_attempt_id(const char *who, char out[FERRY_ATTEMPT_MAX])
{
    static uint64_t counter;
    struct timespec ts;
    char seed[600];
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    n = snprintf(seed, sizeof(seed), "%s/%ld/%lld.%ld/%" PRIu64, who ? who : "", (long)getpid(),
                 (long long)ts.tv_sec, ts.tv_nsec, ++counter);
    snprintf(out, FERRY_ATTEMPT_MAX, "%016" PRIx64,
             ferry_checksum_bytes(seed, n < (int)sizeof(seed) ? (size_t)n : sizeof(seed) - 1));
}

/* One table whose rows are being sent: its codec and column seeds, the
 * checksum of its rows emitted so far and of those waiting in ex->bodies
 * (nrows of them). */
typedef struct table_state {
    const ferry_object_t *obj;
    ferry_rowcodec_t *codec;
    uint64_t *seeds;
    ferry_checksum_t sum;
    ferry_checksum_t pending;
    size_t nrows;
} table_state_t;

/* One run of ferry_export_stream: where the messages go and what it
 * counts. */
typedef struct stream {
    ferry_export_t *ex;
    const ferry_export_sink_t *sink;
    const volatile sig_atomic_t *stop;
    ferry_export_stats_t *stats;
    ferry_checksum_t total; /* over the tables ended so far */
    const table_state_t *table; /* the table whose rows are being sent, or NULL */
    size_t part_len;            /* bytes emitted in the open part */
    size_t part_msgs;           /* messages emitted in the open part, its PartBegin aside */
} stream_t;

/* Emits one message (value, len) with the stream's key and headers. */
static int emit(stream_t *s, ferry_msg_type_t type, const char *table, const void *value,
                size_t len, char *errstr, size_t errstr_size)
{
    ferry_export_t *ex = s->ex;
    ferry_export_msg_t msg = {
        .type = type,
        .table = table,
        .key = ex->key,
        .value = value,
        .len = len,
        .headers = {{"ferry.type", ferry_msg_type_name(type)},
                    {"ferry.export", ex->req->export_id},
                    {"ferry.attempt", ex->attempt},
                    {"ferry.table", table}},
        .nheaders = table ? 4 : 3,
    };
    int rc = s->sink->emit(s->sink->opaque, &msg, errstr, errstr_size);

    if (!rc) {
        s->stats->bytes += (int64_t)len;
        s->part_len += len;
        s->part_msgs += type != FERRY_MSG_PART_BEGIN;
    }
    return rc;
}

/* Ends the open part and begins the next with its PartBegin: the rows
 * emitted so far (the tables ended, and the open table's emitted rows; not
 * those still waiting in ex->bodies) and their checksum. */
static int next_part(stream_t *s, char *errstr, size_t errstr_size)
{
    ferry_export_t *ex = s->ex;
    ferry_checksum_t before = s->total;
    char hex[17];
    int rc;

    if (s->table)
        ferry_checksum_merge(&before, &s->table->sum);
    ferry_checksum_hex(&before, hex);
    ferry_part_begin_t pb = {ex->req->export_id, ex->attempt, s->stats->parts, (int64_t)before.rows,
                             hex};
    ferry_buf_reset(&ex->part);
    if ((rc = ferry_part_begin_encode(&pb, &ex->part, errstr, errstr_size)) ||
        (rc = s->sink->cut(s->sink->opaque, errstr, errstr_size)))
        return rc;
    s->part_len = 0;
    s->part_msgs = 0;
    s->stats->parts++;
    return emit(s, FERRY_MSG_PART_BEGIN, NULL, ex->part.data, ex->part.len, errstr, errstr_size);
}

/* Emits the message in ex->buf, first cutting the open part when the
 * message would take it past ex->part_bytes (never before the export's first
 * message, and a part holds at least one message after its PartBegin). */
static int send_buf(stream_t *s, ferry_msg_type_t type, const char *table, char *errstr,
                    size_t errstr_size)
{
    ferry_export_t *ex = s->ex;
    int rc;

    if (s->sink->cut && type != FERRY_MSG_EXPORT_BEGIN && s->part_msgs &&
        s->part_len + ex->buf.len > ex->part_bytes &&
        (rc = next_part(s, errstr, errstr_size)))
        return rc;
    return emit(s, type, table, ex->buf.data, ex->buf.len, errstr, errstr_size);
}

static int send_begin(stream_t *s, char *errstr, size_t errstr_size)
{
    ferry_export_t *ex = s->ex;
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
    begin.attempt = ex->attempt;
    ferry_buf_reset(&ex->buf);
    rc = ferry_export_begin_encode(&begin, &ex->buf, errstr, errstr_size);
    if (!rc)
        rc = send_buf(s, FERRY_MSG_EXPORT_BEGIN, NULL, errstr, errstr_size);
    free(tables);
    free(assocs);
    return rc;
}

/* Sends the t->nrows rows gathered in ex->bodies (its first len bytes) as
 * one Rows message; what follows them moves to the front. */
static int flush_rows(stream_t *s, table_state_t *t, size_t len, char *errstr,
                      size_t errstr_size)
{
    ferry_export_t *ex = s->ex;
    int rc;

    ferry_buf_reset(&ex->buf);
    rc = ferry_rowcodec_frame_rows(t->codec, t->nrows, ex->bodies.data, len, &ex->buf, errstr,
                                   errstr_size);
    if (!rc)
        rc = send_buf(s, FERRY_MSG_ROWS, t->obj->name, errstr, errstr_size);
    if (!rc)
        s->stats->messages++;
    ferry_checksum_merge(&t->sum, &t->pending);
    t->pending = (ferry_checksum_t)FERRY_CHECKSUM_INIT;
    memmove(ex->bodies.data, ex->bodies.data + len, ex->bodies.len - len);
    ex->bodies.len -= len;
    t->nrows = 0;
    return rc;
}

/* Streams the rows of t->obj, packed into Rows messages of about
 * ex->rows_message_bytes each: a message ends once it reaches that size, and
 * a row that would take it past that size starts the next one, so a message
 * is never larger than the target or than its only row. */
static int send_rows(stream_t *s, table_state_t *t, char *errstr, size_t errstr_size)
{
    ferry_export_t *ex = s->ex;
    ferry_cursor_t *cur = NULL;
    const ferry_value_t *row;
    size_t before;
    int rc = ferry_store_cursor_open(ex->source, t->obj, &cur, errstr, errstr_size);

    ferry_buf_reset(&ex->bodies);
    t->nrows = 0;
    while (!rc && (rc = ferry_cursor_next(cur, &row, errstr, errstr_size)) == 1) {
        rc = FERRY_OK;
        if (s->stop && *s->stop) {
            rc = ferry_errf(errstr, errstr_size, FERRY_EABORT, "export %s stopped at table %s",
                            ex->req->export_id, t->obj->name);
            break;
        }
        before = ex->bodies.len;
        if ((rc = ferry_rowcodec_encode(t->codec, row, &ex->bodies, errstr, errstr_size)))
            break;
        /* Past the target with this row: the rows before it go now. */
        if (t->nrows && ex->bodies.len > ex->rows_message_bytes &&
            (rc = flush_rows(s, t, before, errstr, errstr_size)))
            break;
        ferry_checksum_add(&t->pending, t->seeds, row, t->obj->nfields);
        t->nrows++;
        if (ex->bodies.len >= ex->rows_message_bytes &&
            (rc = flush_rows(s, t, ex->bodies.len, errstr, errstr_size)))
            break;
    }
    if (!rc && t->nrows)
        rc = flush_rows(s, t, ex->bodies.len, errstr, errstr_size);
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

static int send_metadata(stream_t *s, const ferry_plan_table_t *pt, char *errstr,
                         size_t errstr_size)
{
    ferry_export_t *ex = s->ex;
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
        rc = send_buf(s, FERRY_MSG_TABLE_METADATA, obj->name, errstr, errstr_size);
    ferry_rowcodec_destroy(codec);
    return rc;
}

/* The rows (content all|data) and the TableEnd of a table whose
 * TableMetadata was sent. */
static int send_table(stream_t *s, const ferry_plan_table_t *pt, char *errstr,
                      size_t errstr_size)
{
    ferry_export_t *ex = s->ex;
    table_state_t t = {.sum = FERRY_CHECKSUM_INIT, .pending = FERRY_CHECKSUM_INIT};
    char hex[17];
    int rc;

    if ((rc = plan_object(ex, pt, &t.obj, errstr, errstr_size)) ||
        (rc = ferry_rowcodec_new(t.obj, &t.codec, errstr, errstr_size)))
        return rc;
    t.seeds = calloc(t.obj->nfields ? t.obj->nfields : 1, sizeof(*t.seeds));
    if (!t.seeds) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < t.obj->nfields; i++)
        t.seeds[i] = ferry_checksum_seed(t.obj->fields[i].name);

    s->table = &t;
    if (ex->req->content != FERRY_CONTENT_METADATA)
        rc = send_rows(s, &t, errstr, errstr_size);
    if (!rc) {
        ferry_checksum_hex(&t.sum, hex);
        ferry_table_end_t te = {ex->req->export_id, t.obj->name, (int64_t)t.sum.rows, hex};
        ferry_buf_reset(&ex->buf);
        rc = ferry_table_end_encode(&te, &ex->buf, errstr, errstr_size);
        if (!rc)
            rc = send_buf(s, FERRY_MSG_TABLE_END, t.obj->name, errstr, errstr_size);
    }
    s->table = NULL;
    if (!rc) {
        ferry_checksum_merge(&s->total, &t.sum);
        s->stats->tables++;
        s->stats->rows += (int64_t)t.sum.rows;
    }
out:
    free(t.seeds);
    ferry_rowcodec_destroy(t.codec);
    return rc;
}

/* One apply group, the plan's tables first..end-1: the TableMetadata of
 * each, then the rows and TableEnd of each. The target creates every table
 * of the group before it inserts a row into any (the tables of a group
 * refer to each other). */
static int send_group(stream_t *s, size_t first, size_t end, char *errstr, size_t errstr_size)
{
    int rc = FERRY_OK;

    for (size_t i = first; !rc && i < end; i++)
        rc = send_metadata(s, ferry_plan_table(s->ex->plan, i), errstr, errstr_size);
    for (size_t i = first; !rc && i < end; i++)
        rc = send_table(s, ferry_plan_table(s->ex->plan, i), errstr, errstr_size);
    return rc;
}

int ferry_export_stream(ferry_export_t *ex, const ferry_export_sink_t *sink,
                        const volatile sig_atomic_t *stop, ferry_export_stats_t *stats,
                        char *errstr, size_t errstr_size)
{
    stream_t s = {ex, sink, stop, stats, FERRY_CHECKSUM_INIT, NULL, 0, 0};
    size_t nt = ferry_plan_ntables(ex->plan);
    int rc;

    memset(stats, 0, sizeof(*stats));
    stats->parts = 1;
    rc = send_begin(&s, errstr, errstr_size);
    for (size_t i = 0, next; !rc && i < nt; i = next) {
        next = i + 1;
        while (next < nt && ferry_plan_table(ex->plan, next)->group ==
                                ferry_plan_table(ex->plan, i)->group)
            next++;
        rc = send_group(&s, i, next, errstr, errstr_size);
    }
    if (rc)
        return rc;
    ferry_checksum_hex(&s.total, stats->checksum);
    ferry_export_end_t end = {ex->req->export_id, stats->tables, stats->rows, stats->checksum};
    ferry_buf_reset(&ex->buf);
    rc = ferry_export_end_encode(&end, &ex->buf, errstr, errstr_size);
    if (!rc)
        rc = send_buf(&s, FERRY_MSG_EXPORT_END, NULL, errstr, errstr_size);
    return rc;
}
