/* importer.c - the import job's consumer loop (see importer.h): the group
 * member on ferry.records.<target>, the pauses and seeks the job asks for,
 * and the status producer, which publishes the store's status outbox
 * (outbox.h). */
#include "importer.h"

#include "error.h"
#include "import.h"
#include "kafka.h"
#include "ledger.h"
#include "log.h"
#include "outbox.h"
#include "timeutil.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define SEEK_TIMEOUT_MS 10000
#define STATUS_TIMEOUT_MS 5000
#define FLUSH_TIMEOUT_MS 10000
/* Delivered status events are removed once this many wait, or when idle. */
#define OUTBOX_REMOVE_BATCH 64

/* What the loop knows of each partition of the records topic. */
typedef struct part_state {
    int assigned;
    int at_eof;  /* reached its end and nothing was read since */
    int paused;
} part_state_t;

struct ferry_importer {
    const ferry_config_t *cfg;
    char *target;
    char topic[256];
    ferry_store_t *store;
    ferry_import_t *job;
    rd_kafka_t *consumer;
    rd_kafka_t *producer; /* idempotent: status events */
    part_state_t *parts;  /* indexed by partition */
    size_t nparts;
    int fatal;            /* FERRY_E* of a failure inside the rebalance callback, or 0 */
    char fatal_msg[512];
    ferry_buf_t hdr[4];   /* NUL-terminated header copies, reused */
    ferry_buf_t status;
    ferry_outbox_t *outbox; /* the store's status outbox, published through producer */
};

/* A status event's delivery report. An outbox event (its id as the
 * message's opaque) goes back to the outbox: delivered, it is removed later,
 * between exports; failed, it is produced again. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    ferry_importer_t *c = opaque;

    (void)rk;
    if (m->err)
        ferry_log(FERRY_LOG_WARN, "status delivery to %s failed: %s",
                  rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    ferry_outbox_delivered(c->outbox, (int64_t)(intptr_t)m->_private, !m->err, ferry_now_ms());
}

/* Produces one encoded StatusEvent on ferry.status, keyed by export id; id
 * is its outbox id, or 0 for an event that is not in the outbox. */
static int produce_status(ferry_importer_t *c, const char *export_id, const void *event,
                          size_t len, int64_t id, char *errstr, size_t errstr_size)
{
    ferry_kafka_header_t hdrs[2] = {{"ferry.type", "StatusEvent", (size_t)-1},
                                    {"ferry.export", export_id, (size_t)-1}};

    return ferry_kafka_produce_opaque(c->producer, ferry_config_topic(c->cfg, FERRY_TOPIC_STATUS),
                                      RD_KAFKA_PARTITION_UA, export_id, strlen(export_id), event,
                                      len, hdrs, 2, (void *)(intptr_t)id, STATUS_TIMEOUT_MS,
                                      errstr, errstr_size);
}

/* The outbox's produce: its events are keyed by export id. */
static int produce_queued(void *opaque, int64_t id, const char *key, const void *event,
                          size_t len, char *errstr, size_t errstr_size)
{
    return produce_status(opaque, key, event, len, id, errstr, errstr_size);
}

/* The outbox's question: is an export open (removal waits)? */
static int export_open(void *opaque)
{
    ferry_importer_t *c = opaque;

    return c->job && ferry_import_open_partition(c->job) >= 0;
}

/* Produces what the store's outbox holds and has not sent (outbox.h), and
 * serves the delivery reports that are in. Only while no store transaction
 * is open. A failure is logged; the outbox retries later. */
static void drain_outbox(ferry_importer_t *c)
{
    char err[512] = "";
    int rc = ferry_outbox_drain(c->outbox, ferry_now_ms(), err, sizeof(err));

    rd_kafka_poll(c->producer, 0);
    if (rc)
        ferry_log(FERRY_LOG_WARN, "status events queued in %s not published yet (again in %d ms): %s",
                  c->target, FERRY_OUTBOX_RETRY_MS, err);
}

/* Removes the delivered outbox events once at least min wait and no export
 * is open. On failure they stay, and are sent again. */
static void remove_delivered(ferry_importer_t *c, size_t min)
{
    char err[512];

    if (ferry_outbox_remove_delivered(c->outbox, min, err, sizeof(err)))
        ferry_log(FERRY_LOG_WARN, "delivered status events stay queued in %s: %s", c->target,
                  err);
}

/* The job's report callback: an outcome queued in the store's outbox is
 * published from there at once (the job calls back after the transaction
 * that queued it, and before its checkpoint, which may take a while); any
 * other becomes a StatusEvent now. A failure to publish one is logged, never
 * fatal. */
static void publish_status(const ferry_status_t *st, int queued, void *opaque)
{
    ferry_importer_t *c = opaque;
    char err[512];

    if (queued) {
        ferry_outbox_queued(c->outbox);
        drain_outbox(c);
        return;
    }
    ferry_buf_reset(&c->status);
    if (ferry_status_encode(st, &c->status, err, sizeof(err)) ||
        produce_status(c, st->export_id, c->status.data, c->status.len, 0, err, sizeof(err)))
        ferry_log(FERRY_LOG_WARN, "status %s of %s not published: %s",
                  ferry_status_state_name(st->state), st->export_id, err);
    rd_kafka_poll(c->producer, 0);
}

static part_state_t *part(ferry_importer_t *c, int32_t partition)
{
    if (partition < 0)
        return NULL;
    if ((size_t)partition >= c->nparts) {
        size_t n = (size_t)partition + 1;
        part_state_t *p = realloc(c->parts, n * sizeof(*p));
        if (!p)
            return NULL;
        memset(p + c->nparts, 0, (n - c->nparts) * sizeof(*p));
        c->parts = p;
        c->nparts = n;
    }
    return &c->parts[partition];
}

static void set_fatal(ferry_importer_t *c, int err, const char *msg)
{
    if (!c->fatal) {
        snprintf(c->fatal_msg, sizeof(c->fatal_msg), "%s", msg);
        c->fatal = err;
    }
}

/* Assignment starts each partition at the next offset stored in the target
 * store (the beginning when none is stored): the store, not Kafka, holds the
 * truth of what was applied. Revocation rolls back an export open on a
 * revoked partition; its next owner redoes it from the stored offset. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ferry_importer_t *c = opaque;
    int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    rd_kafka_error_t *error;
    char why[512];

    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        part_state_t *p = part(c, tp->partition);
        int64_t next = -1;

        if (!p) {
            set_fatal(c, FERRY_ENOMEM, "out of memory");
            continue;
        }
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
            int rc = ferry_ledger_offset_get(c->store, c->topic, tp->partition, &next, why,
                                             sizeof(why));
            if (rc)
                set_fatal(c, rc, why);
            tp->offset = next >= 0 ? next : RD_KAFKA_OFFSET_BEGINNING;
            *p = (part_state_t){1, 0, 0};
            if (next >= 0)
                ferry_log(FERRY_LOG_INFO, "assigned %s[%" PRId32 "] from stored offset %" PRId64,
                          c->topic, tp->partition, next);
            else
                ferry_log(FERRY_LOG_INFO, "assigned %s[%" PRId32 "] from its beginning",
                          c->topic, tp->partition);
        } else {
            ferry_import_abandon(c->job, tp->partition);
            *p = (part_state_t){0, 0, 0};
            ferry_log(FERRY_LOG_INFO, "revoked %s[%" PRId32 "]", c->topic, tp->partition);
        }
    }
    if (cooperative) {
        error = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? rd_kafka_incremental_assign(rk, parts)
                                                             : rd_kafka_incremental_unassign(rk, parts);
        if (error) {
            snprintf(why, sizeof(why), "rebalance: %s", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            set_fatal(c, FERRY_EKAFKA, why);
        }
    } else {
        rd_kafka_resp_err_t e =
            rd_kafka_assign(rk, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? parts : NULL);
        if (e) {
            snprintf(why, sizeof(why), "rebalance: %s", rd_kafka_err2str(e));
            set_fatal(c, FERRY_EKAFKA, why);
        }
    }
    /* A partition paused when it was revoked may come back still paused:
     * start every new one fetching; sync_pauses pauses what must wait. */
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        rd_kafka_resume_partitions(rk, parts);
}

static int make_clients(ferry_importer_t *c, char *errstr, size_t errstr_size)
{
    const ferry_config_t *cfg = c->cfg;
    int64_t session_ms = ferry_config_int(cfg, "importer", "session_timeout_ms");
    char group[512], client[300], session[32], heartbeat[32];
    ferry_kafka_callbacks_t producer_callbacks = {.opaque = c, .on_delivery = on_delivery};
    ferry_kafka_callbacks_t consumer_callbacks = {.opaque = c, .on_rebalance = on_rebalance};
    rd_kafka_topic_partition_list_t *sub;
    rd_kafka_resp_err_t err;
    int rc;

    snprintf(group, sizeof(group), "%s%s",
             ferry_config_str(cfg, "importer", "group_id_prefix"), c->target);
    snprintf(client, sizeof(client), "ferry-import-%s", c->target);
    snprintf(session, sizeof(session), "%" PRId64, session_ms);
    /* A short session (a restarted importer rejoins sooner) needs heartbeats
     * well inside it. */
    snprintf(heartbeat, sizeof(heartbeat), "%" PRId64,
             session_ms / 3 < 3000 ? session_ms / 3 : 3000);

    rc = ferry_kafka_producer_new(cfg, FERRY_KAFKA_IDEMPOTENT, NULL, &producer_callbacks,
                                  &c->producer, errstr, errstr_size, "client.id", client,
                                  "linger.ms", "5", NULL);
    if (rc)
        return rc;
    rc = ferry_kafka_ensure_ferry_topics(c->producer, cfg, c->target, 30000, errstr,
                                         errstr_size);
    if (rc)
        return rc;

    /* Offsets live in the target store: never committed to Kafka, and the
     * end of each partition is reported (cut-off exports, --once). */
    rc = ferry_kafka_consumer_new(cfg, FERRY_KAFKA_MEMBER, group, &consumer_callbacks,
                                  &c->consumer, errstr, errstr_size, "client.id", client,
                                  "isolation.level",
                                  "read_committed", "enable.auto.offset.store", "false",
                                  "enable.partition.eof", "true", "auto.offset.reset", "earliest",
                                  "session.timeout.ms", session, "heartbeat.interval.ms",
                                  heartbeat,
                                  /* Bounded memory: librdkafka prefetches up to 64 MiB
                                   * per partition by default. (Lowering
                                   * queued.min.messages too stalls librdkafka 2.0.2's
                                   * fetcher for ~0.5 s each time the queue fills.) */
                                  "queued.max.messages.kbytes", "16384", NULL);
    if (rc)
        return rc;
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(c->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "subscribe to %s: %s", c->topic,
                          rd_kafka_err2str(err));
    return FERRY_OK;
}

int ferry_importer_new(const ferry_config_t *cfg, const char *target, ferry_importer_t **out,
                       char *errstr, size_t errstr_size)
{
    const char *uri = ferry_config_env_store(cfg, target);
    ferry_importer_t *c;
    int rc;

    *out = NULL;
    if (!uri)
        return ferry_errf(errstr, errstr_size, FERRY_ENOTFOUND,
                          "environment \"%s\" is not declared in the configuration", target);
    if (!(c = calloc(1, sizeof(*c))) || !(c->target = strdup(target))) {
        free(c);
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "out of memory");
    }
    c->cfg = cfg;
    rc = ferry_config_records_topic(cfg, target, c->topic, sizeof(c->topic));
    if (rc)
        ferry_errf(errstr, errstr_size, rc,
                   "environment \"%s\" gives no legal records topic name", target);
    if (!rc)
        rc = ferry_store_open_schema(uri, ferry_config_env_schema(cfg, target),
                                     FERRY_STORE_WRITE, &c->store, errstr, errstr_size);
    /* The job checkpoints after reporting each export, not inside its commit. */
    if (!rc)
        rc = ferry_store_checkpoint_later(c->store, errstr, errstr_size);
    if (!rc)
        rc = ferry_outbox_new(c->store,
                              &(ferry_outbox_io_t){.produce = produce_queued,
                                                   .export_open = export_open,
                                                   .opaque = c},
                              &c->outbox, errstr, errstr_size);
    if (!rc)
        rc = ferry_import_new(c->store, target, c->topic, publish_status, c, &c->job, errstr,
                              errstr_size);
    if (!rc)
        rc = make_clients(c, errstr, errstr_size);
    if (rc) {
        ferry_importer_destroy(c);
        return rc;
    }
    *out = c;
    return FERRY_OK;
}

void ferry_importer_destroy(ferry_importer_t *c)
{
    char err[256];

    if (!c)
        return;
    /* Closing runs the revoke callback, which needs the job and the store. */
    if (c->consumer) {
        rd_kafka_consumer_close(c->consumer);
        rd_kafka_destroy(c->consumer);
    }
    ferry_import_destroy(c->job);
    c->job = NULL;
    if (c->producer) {
        if (ferry_kafka_flush(c->producer, FLUSH_TIMEOUT_MS, err, sizeof(err)))
            ferry_log(FERRY_LOG_WARN, "status events: %s", err);
        if (c->outbox)
            remove_delivered(c, 1); /* the job is gone: no export is open */
        rd_kafka_destroy(c->producer);
    }
    ferry_outbox_destroy(c->outbox); /* after the producer: its reports go there */
    ferry_store_destroy(c->store);
    for (size_t i = 0; i < sizeof(c->hdr) / sizeof(c->hdr[0]); i++)
        ferry_buf_free(&c->hdr[i]);
    ferry_buf_free(&c->status);
    free(c->parts);
    free(c->target);
    free(c);
}

/* Pauses every assigned partition but the one of the open export, or resumes
 * them all when none is open (one store transaction at a time). */
static int sync_pauses(ferry_importer_t *c, char *errstr, size_t errstr_size)
{
    int32_t open = ferry_import_open_partition(c->job);
    rd_kafka_topic_partition_list_t *lists[2] = {NULL, NULL}; /* resume, pause */
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

    for (size_t i = 0; i < c->nparts; i++) {
        part_state_t *p = &c->parts[i];
        int want = p->assigned && open >= 0 && (int32_t)i != open;
        if (want == p->paused)
            continue;
        if (!lists[want])
            lists[want] = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_list_add(lists[want], c->topic, (int32_t)i);
        p->paused = want;
    }
    if (lists[1])
        err = rd_kafka_pause_partitions(c->consumer, lists[1]);
    if (lists[0] && !err)
        err = rd_kafka_resume_partitions(c->consumer, lists[0]);
    if (lists[0])
        rd_kafka_topic_partition_list_destroy(lists[0]);
    if (lists[1])
        rd_kafka_topic_partition_list_destroy(lists[1]);
    if (err)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "pausing/resuming %s: %s",
                          c->topic, rd_kafka_err2str(err));
    return FERRY_OK;
}

/* Re-reads partition from offset; messages fetched before are purged. */
static int seek_to(ferry_importer_t *c, int32_t partition, int64_t offset, char *errstr,
                   size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *error;
    part_state_t *p = part(c, partition);
    int rc = FERRY_OK;

    rd_kafka_topic_partition_list_add(l, c->topic, partition)->offset = offset;
    error = rd_kafka_seek_partitions(c->consumer, l, SEEK_TIMEOUT_MS);
    if (error || l->elems[0].err)
        rc = ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "seek %s[%" PRId32 "] to %" PRId64
                        ": %s", c->topic, partition, offset,
                        error ? rd_kafka_error_string(error) : rd_kafka_err2str(l->elems[0].err));
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(l);
    if (p)
        p->at_eof = 0;
    return rc;
}

/* A NUL-terminated copy of header name of m in buffer b, or NULL. */
static const char *header(ferry_buf_t *b, const rd_kafka_message_t *m, const char *name)
{
    size_t len = 0;
    const void *v = ferry_kafka_header_get(m, name, &len);

    ferry_buf_reset(b);
    if (!v || ferry_buf_append(b, v, len) || ferry_buf_append(b, "", 1))
        return NULL;
    return (const char *)b->data;
}

static int handle(ferry_importer_t *c, const rd_kafka_message_t *m, char *errstr,
                  size_t errstr_size)
{
    part_state_t *p = part(c, m->partition);
    int64_t seek = -1, lo = -1, hi = -1;
    char reason[512];
    int rc;

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (rd_kafka_get_watermark_offsets(c->consumer, c->topic, m->partition, &lo, &hi))
            hi = -1;
        rc = ferry_import_eof(c->job, m->partition, m->offset, hi, &seek, errstr, errstr_size);
        if (p)
            p->at_eof = 1;
    } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(c->consumer, reason, sizeof(reason));
        return ferry_errf(errstr, errstr_size, FERRY_EFATAL, "consumer: %s", reason);
    } else if (m->err) {
        ferry_log(FERRY_LOG_WARN, "consumer: %s", rd_kafka_message_errstr(m));
        return FERRY_OK;
    } else {
        ferry_import_msg_t msg = {
            .partition = m->partition,
            .offset = m->offset,
            .type = header(&c->hdr[0], m, "ferry.type"),
            .export_id = header(&c->hdr[1], m, "ferry.export"),
            .table = header(&c->hdr[2], m, "ferry.table"),
            .attempt = header(&c->hdr[3], m, "ferry.attempt"),
            .payload = m->payload,
            .len = m->len,
        };
        rc = ferry_import_feed(c->job, &msg, &seek, errstr, errstr_size);
        if (p)
            p->at_eof = 0;
    }
    if (!rc && seek >= 0)
        rc = seek_to(c, m->partition, seek, errstr, errstr_size);
    return rc;
}

/* --once: every assigned partition at its end, no export open. */
static int all_done(const ferry_importer_t *c)
{
    size_t assigned = 0;

    for (size_t i = 0; i < c->nparts; i++) {
        if (!c->parts[i].assigned)
            continue;
        if (!c->parts[i].at_eof)
            return 0;
        assigned++;
    }
    return assigned > 0 && ferry_import_open_partition(c->job) < 0;
}

/* The next message, or NULL after 100 ms without one. flowing is the
 * partition of the previous message when it carried data, else -1.
 *
 * librdkafka 2.0.2 stops fetching a partition whose local queue holds more
 * than queued.max.messages.kbytes and reconsiders it only when its broker
 * thread next wakes up, up to a second later (2.1 made that delay
 * configurable, fetch.queue.backoff.ms). The importer empties its 16 MiB in
 * a few hundred ms, and then sat idle for the rest of that second, about
 * once per 16 MiB of an export: 2.5 s of a 4 s import (README,
 * Benchmarks). A request to the partition's leader wakes that thread, so
 * when the queue runs dry while data was flowing, the importer asks for the
 * partition's watermarks (a small read-only request) before it waits. */
static rd_kafka_message_t *next_message(ferry_importer_t *c, int32_t flowing)
{
    rd_kafka_message_t *m;
    int64_t low, high;

    if (flowing < 0)
        return rd_kafka_consumer_poll(c->consumer, 100);
    if ((m = rd_kafka_consumer_poll(c->consumer, 0)))
        return m;
    rd_kafka_query_watermark_offsets(c->consumer, c->topic, flowing, &low, &high, 100);
    return rd_kafka_consumer_poll(c->consumer, 100);
}

int ferry_importer_run(ferry_importer_t *c, int once, const volatile sig_atomic_t *stop,
                       char *errstr, size_t errstr_size)
{
    int rc = FERRY_OK;
    int32_t flowing = -1;

    ferry_log(FERRY_LOG_INFO, "importing %s into %s%s", c->topic, c->target,
              once ? " (until the end of every partition)" : "");
    while (!rc && !(stop && *stop)) {
        rd_kafka_message_t *m = next_message(c, flowing);
        int idle = !m;

        flowing = m && !m->err ? m->partition : -1;
        if (m) {
            rc = handle(c, m, errstr, errstr_size);
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(c->producer, 0);
        if (ferry_import_open_partition(c->job) < 0) {
            /* A transaction of its own: when idle, or once many are due, not
             * one more commit for every export of a busy stream. */
            remove_delivered(c, idle ? 1 : OUTBOX_REMOVE_BATCH);
            if (ferry_outbox_due(c->outbox, ferry_now_ms()))
                drain_outbox(c);
        }
        if (!rc && c->fatal)
            rc = ferry_errf(errstr, errstr_size, c->fatal, "%s", c->fatal_msg);
        if (!rc)
            rc = sync_pauses(c, errstr, errstr_size);
        if (!rc && once && all_done(c))
            break;
    }
    /* Stopping (or failing) mid-export: roll back; the stored offset still
     * points at its ExportBegin, so it is redone from there. */
    ferry_import_abandon(c->job, -1);
    if (ferry_outbox_due(c->outbox, INT64_MAX))
        drain_outbox(c); /* a last try, retry time or not; what fails waits for the next run */
    return rc;
}
