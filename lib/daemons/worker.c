/* worker.c - the export worker's loop (see worker.h).
 *
 * State machine of one attempt at a request (handle_request). An accepted
 * request is exported in parts (export.h), each its own transaction:
 *
 *   IDLE --consumer poll returns a request--> IN_TXN       (begin_txn)
 *   IN_TXN --undecodable, wrong key, invalid--> COMMITTING (settle_bad_request:
 *            DLQ record + offset, status rejected)
 *   IN_TXN --valid--> STREAMING                            (a new attempt id,
 *            the group metadata of now; ferry_export_stream into the
 *            records sink, produce_record)
 *   STREAMING --part full--> COMMITTING --> IDLE --> IN_TXN --> STREAMING
 *            (commit_part: the request's offset unadvanced, for the
 *            generation of the attempt's start; one consumer poll with no
 *            transaction open; begin_txn)
 *   STREAMING --stream written--> COMMITTING --> IDLE      (commit_request:
 *            the offset past the request, with the last part)
 *   STREAMING/COMMITTING --retryable (broker, network, source busy, fenced
 *            by a newer generation), stop--> ABORTING --> IDLE, consumer
 *            moved back to the request after a backoff (abort_txn,
 *            retry_wait, rewind_to); the parts already committed stay an
 *            unfinished attempt that the next attempt supersedes; after
 *            worker.max_attempts the request is settled as failed (with an
 *            ExportAbort, so that importers roll back those parts)
 *   STREAMING/COMMITTING --permanent (bad source data, a message the broker
 *            refuses)--> ABORTING --> IN_TXN --> COMMITTING  (settle_bad_request:
 *            status failed, ExportAbort)
 *   any --the producer failed for good (its transaction timed out and the
 *            broker fenced it)--> IDLE                     (renew_txp: a new
 *            producer with the same transactional.id; the attempt is retried)
 *   any --more than MAX_RENEWALS(w) replacements without a commit--> FATAL
 *
 * Transactional calls follow librdkafka's contract: a retriable error retries
 * the same call, txn_requires_abort aborts, anything else replaces the
 * producer. The request's offset is committed past the request only inside
 * the transaction that carries its outcome (the last part, or the DLQ
 * record), so the outcome and the offset become visible together or not at
 * all; every earlier part carries the unadvanced offset for the generation
 * the request was received in, so a worker the group left behind (paused
 * past its session) cannot commit another part. The consumer is polled only
 * between parts, never while a transaction is open (max.poll.interval.ms
 * exceeds the transaction timeout, which bounds a part); a request it
 * returns then is handed back (rewind_to) and read after the export.
 * Status events go through a separate idempotent producer, right after the
 * commit they report: notifications, lost if the worker dies in between. */
#include "worker.h"

#include "buf.h"
#include "catalog.h"
#include "error.h"
#include "export.h"
#include "kafka.h"
#include "log.h"
#include "protocol.h"
#include "timeutil.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TXN_CALL_TIMEOUT_MS 60000
/* How long producing one message of an export may wait for room in a full
 * local queue. */
#define PRODUCE_WAIT_MS 60000
/* Serve delivery reports every so many Rows messages even when the queue has
 * room. */
#define POLL_EVERY_ROWS_MESSAGES 64
/* How often a transactional call that timed out is retried. */
#define TXN_CALL_TRIES 5
/* The backoff between attempts at one request (worker.max_attempts of them
 * before a retryable failure is settled as failed). */
#define RETRY_BASE_MS 500
#define RETRY_MAX_MS 30000
/* Replacements of a failed transactional producer in a row, without a
 * commit in between, before the worker stops: more than one request's
 * attempts, fewer than an endless fight of two workers sharing an id. */
#define MAX_RENEWALS(w) ((w)->max_attempts + 2)

enum worker_state { W_IDLE, W_IN_TXN, W_STREAMING, W_COMMITTING, W_ABORTING, W_FATAL };

struct ferry_worker {
    const ferry_config_t *cfg;
    char *id;
    char component[128];
    ferry_catalog_t *cat;
    rd_kafka_t *consumer;
    rd_kafka_t *txp;    /* transactional: the export streams, DLQ records, offsets */
    rd_kafka_t *status; /* idempotent: lifecycle events */
    rd_kafka_topic_t **known; /* the topics txp writes, known to it from the start */
    size_t nknown;
    ferry_buf_t buf;
    enum worker_state state;
    rd_kafka_resp_err_t delivery_err; /* the first delivery error of the transaction */
    int32_t retry_partition;          /* the request being retried, and how often */
    int64_t retry_offset;
    int retry_count;
    int max_attempts;                 /* worker.max_attempts */
    int renewals;                     /* producers replaced since the last commit */
    char *cluster_id; /* of the requests' cluster, for generated export ids (rd_kafka_mem_free) */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    ferry_worker_t *w = opaque;
    (void)rk;
    if (m->err) {
        if (!w->delivery_err)
            w->delivery_err = m->err;
        ferry_log(FERRY_LOG_WARN, "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
                  rd_kafka_err2str(m->err));
    }
}

static char *int_text(char *buf, size_t n, int64_t v)
{
    snprintf(buf, n, "%" PRId64, v);
    return buf;
}

/* Makes txp learn topic's partitions now: else its first message to it
 * waits for the next metadata scan, up to a second. Only a speed-up: a topic
 * it cannot learn now (no leader yet) is learnt by that message. */
static void know_topic(ferry_worker_t *w, const char *topic)
{
    char why[512];

    if (ferry_kafka_know_topic(w->txp, topic, &w->known[w->nknown], 10000, why, sizeof(why)))
        ferry_log(FERRY_LOG_WARN, "%s; its first message may wait for metadata", why);
    else
        w->nknown++;
}

/* The transactional producer, its topics known (the dlq, each records
 * topic) and its transactions initialised. Replaces none: w->txp must be
 * NULL. */
static int make_txp(ferry_worker_t *w, char *errstr, size_t errstr_size)
{
    const ferry_config_t *cfg = w->cfg;
    char txn[32], linger[32], txid[300], batch[32];
    ferry_kafka_callbacks_t txp_callbacks = {.opaque = w, .on_delivery = on_delivery};
    rd_kafka_error_t *error;
    int rc;

    int_text(txn, sizeof(txn), ferry_config_int(cfg, "worker", "transaction_timeout_ms"));
    int_text(linger, sizeof(linger), ferry_config_int(cfg, "worker", "linger_ms"));
    int_text(batch, sizeof(batch), ferry_config_int(cfg, "worker", "batch_size"));
    snprintf(txid, sizeof(txid), "ferry-worker-%s", w->id);
    /* Bounded memory: a small local queue; a full one is waited out. The
     * message timeout may not exceed the transaction timeout. */
    rc = ferry_kafka_producer_new(cfg, FERRY_KAFKA_TRANSACTIONAL, txid, &txp_callbacks, &w->txp,
                                  errstr, errstr_size, "client.id", w->component,
                                  "transaction.timeout.ms", txn, "message.timeout.ms", txn,
                                  "linger.ms", linger, "batch.size", batch, "compression.codec",
                                  ferry_config_str(cfg, "worker", "compression"),
                                  "queue.buffering.max.kbytes", "16384",
                                  "queue.buffering.max.messages", "50000", "message.max.bytes",
                                  "16777216", NULL);
    if (rc)
        return rc;
    if (!w->known && !(w->known = calloc(ferry_config_env_count(cfg) + 1, sizeof(*w->known))))
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "out of memory");
    know_topic(w, ferry_config_topic(cfg, FERRY_TOPIC_DLQ));
    for (size_t i = 0; i < ferry_config_env_count(cfg); i++) {
        char records[256];
        if (!ferry_config_records_topic(cfg, ferry_config_env_name(cfg, i), records,
                                        sizeof(records)))
            know_topic(w, records);
    }
    error = rd_kafka_init_transactions(w->txp, TXN_CALL_TIMEOUT_MS);
    if (error) {
        rc = ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "init_transactions: %s",
                        rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return rc;
    }
    w->state = W_IDLE;
    return FERRY_OK;
}

/* Frees the transactional producer and the topic handles it owns. */
static void destroy_txp(ferry_worker_t *w)
{
    for (size_t i = 0; i < w->nknown; i++)
        rd_kafka_topic_destroy(w->known[i]);
    w->nknown = 0;
    if (w->txp)
        rd_kafka_destroy(w->txp);
    w->txp = NULL;
}

/* After the transactional producer failed for good (a transaction the
 * broker timed out and fenced: a part that could not be committed in time,
 * a paused process), a new one with the same transactional.id, so that the
 * worker goes on: its init_transactions aborts whatever the old one left
 * open, and the attempt is retried. Two live workers sharing an id would
 * fence each other forever: after MAX_RENEWALS(w) replacements without a
 * commit in between the worker gives up (FERRY_EFATAL). */
static int renew_txp(ferry_worker_t *w, char *errstr, size_t errstr_size)
{
    char why[512] = "";
    rd_kafka_resp_err_t err = rd_kafka_fatal_error(w->txp, why, sizeof(why));

    if (++w->renewals > MAX_RENEWALS(w))
        return ferry_errf(errstr, errstr_size, FERRY_EFATAL,
                          "the transactional producer failed %d times in a row without a commit "
                          "(another live worker with id %s?): %s", w->renewals, w->id, why);
    ferry_log(FERRY_LOG_WARN, "worker %s: the transactional producer failed (%s: %s); "
              "replacing it", w->id, rd_kafka_err2name(err), why);
    destroy_txp(w);
    return make_txp(w, errstr, errstr_size);
}

static int make_clients(ferry_worker_t *w, char *errstr, size_t errstr_size)
{
    const ferry_config_t *cfg = w->cfg;
    int64_t txn_ms = ferry_config_int(cfg, "worker", "transaction_timeout_ms");
    char poll_ms[32], session[32], heartbeat[32];
    rd_kafka_topic_partition_list_t *sub;
    int rc;

    /* The consumer is polled between the parts of an export, each shorter
     * than the transaction timeout. */
    int_text(poll_ms, sizeof(poll_ms), txn_ms + 60000);
    int_text(session, sizeof(session),
             ferry_config_int(cfg, "worker", "session_timeout_ms"));
    /* A short session needs heartbeats well inside it (librdkafka's default
     * interval, 3 s, would let a 3 s session time out while healthy). */
    int_text(heartbeat, sizeof(heartbeat),
             ferry_config_int(cfg, "worker", "session_timeout_ms") / 3 < 3000
                 ? ferry_config_int(cfg, "worker", "session_timeout_ms") / 3
                 : 3000);

    rc = ferry_kafka_consumer_new(cfg, FERRY_KAFKA_MEMBER,
                                  ferry_config_str(cfg, "worker", "group_id"), NULL,
                                  &w->consumer, errstr, errstr_size, "client.id", w->component,
                                  "auto.offset.reset", "earliest", "isolation.level",
                                  "read_committed", "session.timeout.ms", session,
                                  "heartbeat.interval.ms", heartbeat, "max.poll.interval.ms",
                                  poll_ms, NULL);
    if (rc)
        return rc;

    rc = ferry_kafka_producer_new(cfg, FERRY_KAFKA_IDEMPOTENT, NULL, NULL, &w->status, errstr,
                                  errstr_size, "client.id", w->component, "linger.ms", "5", NULL);
    if (rc)
        return rc;
    rc = ferry_kafka_ensure_ferry_topics(w->status, cfg, NULL, 30000, errstr, errstr_size);
    for (size_t i = 0; !rc && i < ferry_config_env_count(cfg); i++)
        rc = ferry_kafka_ensure_ferry_topics(w->status, cfg, ferry_config_env_name(cfg, i),
                                             30000, errstr, errstr_size);
    if (!rc)
        rc = make_txp(w, errstr, errstr_size);
    if (rc)
        return rc;

    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, ferry_config_topic(cfg, FERRY_TOPIC_REQUESTS),
                                      RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(w->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "subscribe: %s",
                          rd_kafka_err2str(err));
    return FERRY_OK;
}

int ferry_worker_new(const ferry_config_t *cfg, const char *id, ferry_worker_t **out,
                     char *errstr, size_t errstr_size)
{
    ferry_worker_t *w = calloc(1, sizeof(*w));
    int rc;

    *out = NULL;
    if (!w || !(w->id = strdup(id))) {
        free(w);
        return FERRY_ENOMEM;
    }
    w->cfg = cfg;
    w->retry_partition = -1;
    w->max_attempts = (int)ferry_config_int(cfg, "worker", "max_attempts");
    snprintf(w->component, sizeof(w->component), "worker:%s", id);
    rc = ferry_catalog_load(ferry_config_catalog_path(cfg), &w->cat, errstr, errstr_size);
    if (!rc)
        rc = make_clients(w, errstr, errstr_size);
    if (rc) {
        ferry_worker_destroy(w);
        return rc;
    }
    *out = w;
    return FERRY_OK;
}

void ferry_worker_destroy(ferry_worker_t *w)
{
    if (!w)
        return;
    if (w->consumer) {
        rd_kafka_consumer_close(w->consumer);
        rd_kafka_destroy(w->consumer);
    }
    if (w->cluster_id)
        rd_kafka_mem_free(NULL, w->cluster_id);
    destroy_txp(w);
    free(w->known);
    if (w->status) {
        rd_kafka_flush(w->status, 5000);
        rd_kafka_destroy(w->status);
    }
    ferry_catalog_destroy(w->cat);
    ferry_buf_free(&w->buf);
    free(w->id);
    free(w);
}

/* Publishes a lifecycle event; failures are logged, never fatal. */
static void publish_status(ferry_worker_t *w, const ferry_request_t *req, const char *export_id,
                           ferry_status_state_t state, const ferry_export_stats_t *stats,
                           int64_t ms, const char *reason)
{
    ferry_status_t st = {0};
    char err[512];

    st.export_id = (char *)export_id;
    st.state = state;
    st.at_ms = ferry_now_ms();
    st.component = w->component;
    st.source = req ? req->source : NULL;
    st.target = req ? req->target : NULL;
    st.tables = stats ? stats->tables : 0;
    st.rows = stats ? stats->rows : 0;
    st.bytes = stats ? stats->bytes : 0;
    st.duration_ms = ms;
    st.reason = (char *)reason;
    ferry_buf_reset(&w->buf);
    if (ferry_status_encode(&st, &w->buf, err, sizeof(err)) ||
        ferry_kafka_produce(w->status, ferry_config_topic(w->cfg, FERRY_TOPIC_STATUS),
                            RD_KAFKA_PARTITION_UA, export_id, strlen(export_id), w->buf.data,
                            w->buf.len,
                            (ferry_kafka_header_t[]){{"ferry.type", "StatusEvent", (size_t)-1},
                                                     {"ferry.export", export_id, (size_t)-1}},
                            2, 5000, err, sizeof(err)))
        ferry_log(FERRY_LOG_WARN, "status %s of %s not published: %s",
                  ferry_status_state_name(state), export_id, err);
    rd_kafka_poll(w->status, 0);
}

/* A transactional call's error, classified the way librdkafka's contract
 * asks (examples/transactions.c): FERRY_ETIMEOUT when the same call may be
 * retried, FERRY_EKAFKA when the transaction must be aborted, FERRY_EFATAL
 * when the producer cannot go on (for example fenced by a newer instance). */
static int txn_check(ferry_worker_t *w, rd_kafka_error_t *error, const char *what, char *errstr,
                     size_t errstr_size)
{
    int rc;

    if (!error)
        return FERRY_OK;
    rc = rd_kafka_error_is_fatal(error)            ? FERRY_EFATAL
         : rd_kafka_error_is_retriable(error)      ? FERRY_ETIMEOUT
         : rd_kafka_error_txn_requires_abort(error) ? FERRY_EKAFKA
                                                    : FERRY_EFATAL;
    ferry_errf(errstr, errstr_size, rc, "%s: %s", what, rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    if (rc == FERRY_EFATAL)
        w->state = W_FATAL;
    return rc;
}

static int begin_txn(ferry_worker_t *w, char *errstr, size_t errstr_size)
{
    assert(w->state == W_IDLE);
    int rc = txn_check(w, rd_kafka_begin_transaction(w->txp), "begin_transaction", errstr,
                       errstr_size);
    if (rc) {
        /* begin only fails when the producer is unusable. */
        w->state = W_FATAL;
        return FERRY_EFATAL;
    }
    w->delivery_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    w->state = W_IN_TXN;
    return FERRY_OK;
}

/* Delivery errors that no retry can cure: the export must be settled. */
static int permanent_delivery_error(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
           err == RD_KAFKA_RESP_ERR_INVALID_RECORD || err == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE ||
           err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
}

/* Adds the offset `next` of the request at m to the transaction, for the
 * group generation cgmd names, and commits it; retriable errors retry the
 * same call. The broker refuses the offset of a member whose generation the
 * group has left behind, and the whole transaction with it: that fences a
 * worker that lost its partitions (a paused process) at its next part. cgmd
 * NULL: the consumer's current one. */
static int commit_txn(ferry_worker_t *w, const rd_kafka_message_t *m, int64_t next,
                      const rd_kafka_consumer_group_metadata_t *cgmd, char *errstr,
                      size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_consumer_group_metadata_t *own = cgmd ? NULL : rd_kafka_consumer_group_metadata(w->consumer);
    int rc, tries = 0;

    w->state = W_COMMITTING;
    rd_kafka_topic_partition_list_add(offsets, rd_kafka_topic_name(m->rkt), m->partition)->offset =
        next;
    do
        rc = txn_check(w, rd_kafka_send_offsets_to_transaction(w->txp, offsets, cgmd ? cgmd : own,
                                                               TXN_CALL_TIMEOUT_MS),
                       "send_offsets_to_transaction", errstr, errstr_size);
    while (rc == FERRY_ETIMEOUT && ++tries < TXN_CALL_TRIES);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (own)
        rd_kafka_consumer_group_metadata_destroy(own);
    tries = 0;
    while (!rc) {
        rc = txn_check(w, rd_kafka_commit_transaction(w->txp, TXN_CALL_TIMEOUT_MS),
                       "commit_transaction", errstr, errstr_size);
        if (rc != FERRY_ETIMEOUT || ++tries >= TXN_CALL_TRIES)
            break;
        rc = FERRY_OK;
    }
    if (rc == FERRY_ETIMEOUT)
        rc = FERRY_EKAFKA; /* still undecided: abort, which settles it */
    if (rc == FERRY_EKAFKA && permanent_delivery_error(w->delivery_err))
        rc = ferry_errf(errstr, errstr_size, FERRY_EPERMANENT, "a message was refused: %s",
                        rd_kafka_err2str(w->delivery_err));
    if (!rc) {
        w->state = W_IDLE;
        w->renewals = 0;
    }
    return rc;
}

/* Commits the transaction that carries the request's outcome with the
 * request's offset advanced past it. */
static int commit_request(ferry_worker_t *w, const rd_kafka_message_t *m,
                          const rd_kafka_consumer_group_metadata_t *cgmd, char *errstr,
                          size_t errstr_size)
{
    return commit_txn(w, m, m->offset + 1, cgmd, errstr, errstr_size);
}

/* Aborts the open transaction: nothing of it becomes visible. A producer
 * that cannot abort (failed for good) is replaced, which aborts it too;
 * FERRY_EFATAL only when that fails. */
static int abort_txn(ferry_worker_t *w)
{
    char err[512];
    int rc, tries = 0;

    if (w->state != W_FATAL) {
        w->state = W_ABORTING;
        do
            rc = txn_check(w, rd_kafka_abort_transaction(w->txp, TXN_CALL_TIMEOUT_MS),
                           "abort_transaction", err, sizeof(err));
        while (rc == FERRY_ETIMEOUT && ++tries < TXN_CALL_TRIES);
        if (!rc) {
            w->state = W_IDLE;
            return FERRY_OK;
        }
        ferry_log(FERRY_LOG_WARN, "%s", err);
    }
    /* The producer cannot abort: a new one (same transactional.id) does. */
    if ((rc = renew_txp(w, err, sizeof(err)))) {
        ferry_log(FERRY_LOG_ERROR, "%s", err);
        w->state = W_FATAL;
        return FERRY_EFATAL;
    }
    return FERRY_OK;
}

/* Moves the consumer back to the request, so that it is redone (by this
 * worker, or by the partition's next owner). */
static void rewind_to(ferry_worker_t *w, const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *error;

    rd_kafka_topic_partition_list_add(pos, rd_kafka_topic_name(m->rkt), m->partition)->offset =
        m->offset;
    error = rd_kafka_seek_partitions(w->consumer, pos, 10000);
    if (error) {
        ferry_log(FERRY_LOG_WARN, "seek back to %s[%d]@%" PRId64 ": %s",
                  rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset,
                  rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    rd_kafka_topic_partition_list_destroy(pos);
}

/* Inside the open transaction: the original request goes to the DLQ with the
 * reason in a header. */
static int produce_dlq(ferry_worker_t *w, const rd_kafka_message_t *m, const char *export_id,
                       const char *reason, char *errstr, size_t errstr_size)
{
    char partition[16], offset[32];
    ferry_kafka_header_t hdrs[5] = {
        {"ferry.export", export_id, (size_t)-1},
        {"ferry.error", reason, (size_t)-1},
        {"ferry.topic", rd_kafka_topic_name(m->rkt), (size_t)-1},
        {"ferry.partition", int_text(partition, sizeof(partition), m->partition), (size_t)-1},
        {"ferry.offset", int_text(offset, sizeof(offset), m->offset), (size_t)-1},
    };
    return ferry_kafka_produce(w->txp, ferry_config_topic(w->cfg, FERRY_TOPIC_DLQ),
                               RD_KAFKA_PARTITION_UA, m->key, m->key_len, m->payload, m->len,
                               hdrs, 5, 10000, errstr, errstr_size);
}

/* Inside the open transaction: an ExportAbort of req's export on its
 * records topic, so that an importer holding parts of an earlier attempt of
 * it open rolls them back. */
static int produce_abort(ferry_worker_t *w, const ferry_request_t *req, const char *reason,
                         char *errstr, size_t errstr_size)
{
    char topic[256], key[FERRY_STREAM_KEY_MAX], attempt[FERRY_ATTEMPT_MAX];
    ferry_export_abort_t ea = {req->export_id, attempt, (char *)reason};
    int rc;

    if (!ferry_config_env_store(w->cfg, req->target) ||
        ferry_config_records_topic(w->cfg, req->target, topic, sizeof(topic)))
        return FERRY_OK; /* no records topic: nothing of the export was written */
    ferry_request_stream_key(req, key, sizeof(key));
    ferry_export_attempt_id(w->id, attempt);
    ferry_buf_reset(&w->buf);
    if ((rc = ferry_export_abort_encode(&ea, &w->buf, errstr, errstr_size)))
        return rc;
    return ferry_kafka_produce(w->txp, topic, RD_KAFKA_PARTITION_UA, key, strlen(key), w->buf.data,
                               w->buf.len,
                               (ferry_kafka_header_t[]){{"ferry.type", "ExportAbort", (size_t)-1},
                                                        {"ferry.export", req->export_id, (size_t)-1},
                                                        {"ferry.attempt", attempt, (size_t)-1}},
                               3, 10000, errstr, errstr_size);
}

/* The export's log line. Its keys, up to outcome, are the importer's
 * (import.c), in the same order; bytes and messages are the worker's own. */
static void log_export(const char *export_id, const char *stream, const ferry_request_t *req,
                       const ferry_export_stats_t *st, int64_t ms, const char *outcome,
                       const char *reason)
{
    ferry_log(!strcmp(outcome, "published") ? FERRY_LOG_INFO : FERRY_LOG_WARN,
              "export id=%s stream=%s source=%s target=%s tables=%d rows=%" PRId64
              " ms=%" PRId64 " outcome=%s bytes=%" PRId64 " messages=%" PRId64 " parts=%" PRId32
              "%s%s%s",
              export_id, stream, req ? req->source : "-", req ? req->target : "-",
              st ? st->tables : 0, st ? st->rows : 0, ms, outcome, st ? st->bytes : 0,
              st ? st->messages : 0, st ? st->parts : 0, reason ? " reason=\"" : "", reason ? reason : "",
              reason ? "\"" : "");
}

/* Records a request that will never succeed as it is (rejected or failed): DLQ
 * record and offset in one transaction, then the status event, both naming
 * export_id (req is NULL for a request that could not be decoded). */
static int settle_bad_request(ferry_worker_t *w, const rd_kafka_message_t *m,
                              const ferry_request_t *req, const char *export_id,
                              ferry_status_state_t state, const char *reason, int64_t started,
                              char *errstr, size_t errstr_size)
{
    int rc;

    if (w->state == W_IDLE && (rc = begin_txn(w, errstr, errstr_size)))
        return rc;
    rc = produce_dlq(w, m, export_id, reason, errstr, errstr_size);
    if (!rc && state == FERRY_STATUS_FAILED && req)
        rc = produce_abort(w, req, reason, errstr, errstr_size);
    if (!rc)
        rc = commit_request(w, m, NULL, errstr, errstr_size);
    if (rc) {
        if (abort_txn(w) == FERRY_OK)
            rewind_to(w, m);
        return w->state == W_FATAL ? FERRY_EFATAL : rc;
    }
    publish_status(w, req, export_id, state, NULL, ferry_now_ms() - started, reason);
    log_export(export_id, "-", req, NULL, ferry_now_ms() - started,
               ferry_status_state_name(state), reason);
    return FERRY_OK;
}

/* The one verdict on an attempt at a request, from the code it ended with
 * and whether the request had been accepted (it decoded, named declared
 * environments and existing objects). Every FERRY_E* code is placed here,
 * and the switch has no default so that the compiler names a code that is
 * not: a code a lower module starts returning cannot silently turn a
 * failure into a retry storm, or a passing fault into a failure. */
enum attempt { ATTEMPT_DONE, ATTEMPT_RETRY, ATTEMPT_REJECT, ATTEMPT_FAIL, ATTEMPT_FATAL };

static enum attempt verdict(int rc, int accepted)
{
    switch ((enum ferry_err)rc) {
    case FERRY_OK:
        return ATTEMPT_DONE;
    case FERRY_EFATAL:
        return ATTEMPT_FATAL;
    /* The broker, the network or the source store may recover. */
    case FERRY_EKAFKA:
    case FERRY_ETIMEOUT:
    case FERRY_EABORT:
    case FERRY_ESTORE:
    case FERRY_EIO:
        return ATTEMPT_RETRY;
    /* Before acceptance, the request is wrong as it is (it names what the
     * config or the source lacks); after, the source's data is. */
    case FERRY_EINVAL:
    case FERRY_ENOTFOUND:
    case FERRY_EDECODE:
        return accepted ? ATTEMPT_FAIL : ATTEMPT_REJECT;
    /* No retry changes these: ferry cannot do it by design (an unsupported
     * store), the broker refuses a message for good, a size limit. */
    case FERRY_EPERMANENT:
    case FERRY_ENOMEM:
    case FERRY_ECONFLICT:
    case FERRY_ECHECKSUM:
    case FERRY_EORDER:
        return ATTEMPT_FAIL;
    }
    return ATTEMPT_FAIL; /* not a FERRY_E* code */
}

/* Counts attempts at the request at m; after a failed one, waits before the
 * next (exponential, capped) while serving the producers and watching stop.
 * Returns 1 when the request has had its last attempt. */
static int retry_wait(ferry_worker_t *w, const rd_kafka_message_t *m,
                      const volatile sig_atomic_t *stop)
{
    int64_t delay, until;

    if (w->retry_partition != m->partition || w->retry_offset != m->offset) {
        w->retry_partition = m->partition;
        w->retry_offset = m->offset;
        w->retry_count = 0;
    }
    if (++w->retry_count >= w->max_attempts)
        return 1;
    delay = RETRY_BASE_MS << (w->retry_count - 1);
    until = ferry_now_ms() + (delay < RETRY_MAX_MS ? delay : RETRY_MAX_MS);
    while (!*stop && ferry_now_ms() < until) {
        rd_kafka_poll(w->txp, 100);
        rd_kafka_poll(w->status, 0);
    }
    return 0;
}

/* The export's sink: each message of the stream produced to the export's
 * records topic, into the open transaction; a full local queue is waited out
 * (ferry_kafka_produce), and delivery reports are served every
 * POLL_EVERY_ROWS_MESSAGES Rows messages. A delivery that fails is counted
 * by on_delivery and fails the commit. A cut commits the open part with the
 * request's offset unadvanced (commit_part). */
typedef struct records_sink {
    ferry_worker_t *w;
    const char *export_id;
    const char *attempt;
    int32_t parts;                                 /* committed so far */
    const rd_kafka_message_t *m;                   /* the request */
    const rd_kafka_consumer_group_metadata_t *cgmd; /* the generation it was received in */
    const char *topic;
    int64_t rows_messages;
} records_sink_t;

static int produce_record(void *opaque, const ferry_export_msg_t *msg, char *errstr,
                          size_t errstr_size)
{
    records_sink_t *rs = opaque;
    rd_kafka_t *rk = rs->w->txp;
    ferry_kafka_header_t hdrs[FERRY_EXPORT_MAX_HEADERS];
    int rc;

    for (size_t i = 0; i < msg->nheaders; i++)
        hdrs[i] = (ferry_kafka_header_t){msg->headers[i].name, msg->headers[i].value, (size_t)-1};
    rc = ferry_kafka_produce(rk, rs->topic, RD_KAFKA_PARTITION_UA, msg->key, strlen(msg->key),
                             msg->value, msg->len, hdrs, msg->nheaders, PRODUCE_WAIT_MS, errstr,
                             errstr_size);
    if (!rc && msg->type == FERRY_MSG_ROWS && ++rs->rows_messages % POLL_EVERY_ROWS_MESSAGES == 0)
        rd_kafka_poll(rk, 0);
    return rc;
}

/* Ends a part of the export: commits the open transaction with the
 * request's current offset (unadvanced: the request is not done) for the
 * generation it was received in, so that a worker the group has left
 * behind commits nothing; then polls the consumer once (it must be polled
 * within max.poll.interval.ms, and a rebalance is served there), handing
 * back any request it returns, and opens the next transaction. */
static int commit_part(void *opaque, char *errstr, size_t errstr_size)
{
    records_sink_t *rs = opaque;
    ferry_worker_t *w = rs->w;
    rd_kafka_message_t *next;
    int rc = commit_txn(w, rs->m, rs->m->offset, rs->cgmd, errstr, errstr_size);

    if (rc)
        return rc;
    ferry_log(FERRY_LOG_DEBUG, "export id=%s attempt=%s part=%" PRId32 " committed",
              rs->export_id, rs->attempt, rs->parts++);
    if ((next = rd_kafka_consumer_poll(w->consumer, 0))) {
        if (!next->err)
            rewind_to(w, next); /* read again after this export */
        rd_kafka_message_destroy(next);
    }
    rd_kafka_poll(w->status, 0);
    if ((rc = begin_txn(w, errstr, errstr_size)))
        return rc;
    w->state = W_STREAMING;
    return FERRY_OK;
}

/* One attempt at a request, from begin to commit or abort. Returns
 * FERRY_EFATAL only when the worker cannot go on. */
static int handle_request(ferry_worker_t *w, const rd_kafka_message_t *m,
                          const volatile sig_atomic_t *stop, char *errstr, size_t errstr_size)
{
    ferry_request_t *req = NULL;
    ferry_export_t *ex = NULL;
    ferry_export_stats_t stats = {0};
    rd_kafka_consumer_group_metadata_t *cgmd = NULL;
    char why[1024] = "", key[FERRY_STREAM_KEY_MAX] = "", id[FERRY_EXPORT_ID_MAX];
    char attempt[FERRY_ATTEMPT_MAX];
    int64_t started = ferry_now_ms();
    int rc, accepted = 0;

    /* A request without an export id gets one derived from the message, the
     * same on every redo; the cluster's id is part of it, so it must be
     * known first (a redo elsewhere must derive the same). */
    if (!w->cluster_id && !(w->cluster_id = rd_kafka_clusterid(w->consumer, 5000))) {
        ferry_log(FERRY_LOG_WARN, "the cluster id is not known yet; request at %s [%d] %" PRId64
                  " waits", rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset);
        rewind_to(w, m);
        return FERRY_OK;
    }
    rc = ferry_request_derive_id(w->cluster_id, rd_kafka_topic_name(m->rkt), m->partition,
                                 m->offset, rd_kafka_message_timestamp(m, NULL), m->payload,
                                 m->len, id);
    if (!rc)
        rc = begin_txn(w, why, sizeof(why));
    if (rc) {
        rewind_to(w, m);
        goto out;
    }
    rc = ferry_request_decode_with_id(m->payload, m->len, id, &req, why, sizeof(why));
    if (rc) {
        /* Named by the id it carries, if one can be read: its client waits on it. */
        ferry_request_peek_id(m->payload, m->len, id, sizeof(id));
        rc = settle_bad_request(w, m, NULL, id, FERRY_STATUS_REJECTED, why, started, why,
                                sizeof(why));
        goto out;
    }
    /* Successive exports of one stream stay in order only if their requests
     * share a partition: the key must be the stream key. */
    ferry_request_stream_key(req, key, sizeof(key));
    if (m->key_len != strlen(key) || memcmp(m->key, key, m->key_len)) {
        snprintf(why, sizeof(why),
                 "the request's Kafka key is \"%.*s\", not its stream key \"%s\" (publish it "
                 "with that key so that exports of one stream stay in order)",
                 (int)(m->key_len > 200 ? 200 : m->key_len), m->key ? (const char *)m->key : "",
                 key);
        rc = settle_bad_request(w, m, req, req->export_id, FERRY_STATUS_REJECTED, why, started,
                                why, sizeof(why));
        goto out;
    }
    rc = ferry_export_prepare(w->cfg, w->cat, req, &ex, why, sizeof(why));
    if (!rc) {
        accepted = 1;
        publish_status(w, req, req->export_id, FERRY_STATUS_ACCEPTED, NULL, 0, NULL);
        /* Every part is committed for the generation the request came in. */
        cgmd = rd_kafka_consumer_group_metadata(w->consumer);
        ferry_export_attempt_id(w->id, attempt);
        ferry_export_set_attempt(ex, attempt);
        records_sink_t rs = {w, req->export_id, attempt, 0, m, cgmd, ferry_export_topic(ex), 0};
        ferry_export_sink_t sink = {produce_record, commit_part, &rs};
        ferry_log(FERRY_LOG_DEBUG, "export id=%s attempt=%s begins (request %s[%d]@%" PRId64 ")",
                  req->export_id, attempt, rd_kafka_topic_name(m->rkt), (int)m->partition,
                  m->offset);
        w->state = W_STREAMING;
        rc = ferry_export_stream(ex, &sink, stop, &stats, why, sizeof(why));
        if (!rc)
            rc = commit_request(w, m, cgmd, why, sizeof(why));
    }
    if (w->state == W_FATAL && rc != FERRY_OK) {
        /* The producer failed for good mid-attempt: replaced, and the
         * attempt counts as one that may pass. */
        char renew[512];
        if (renew_txp(w, renew, sizeof(renew))) {
            snprintf(why, sizeof(why), "%s", renew);
            rc = FERRY_EFATAL;
        } else {
            rc = FERRY_EKAFKA;
        }
    }
    switch (verdict(rc, accepted)) {
    case ATTEMPT_DONE: {
        int64_t ms = ferry_now_ms() - started;
        /* What the source has and the export does not carry, said once here. */
        ferry_buf_t notes = FERRY_BUF_INIT;
        const char *note = !ferry_plan_notes(ferry_export_plan(ex), &notes) && notes.len &&
                                   !ferry_buf_append(&notes, "", 1)
                               ? (const char *)notes.data
                               : NULL;
        w->retry_count = 0;
        publish_status(w, req, req->export_id, FERRY_STATUS_PUBLISHED, &stats, ms, note);
        log_export(req->export_id, ferry_export_stream_key(ex), req, &stats, ms, "published",
                   note);
        ferry_buf_free(&notes);
        break;
    }
    case ATTEMPT_FATAL:
        break;
    case ATTEMPT_RETRY:
        if (w->state != W_IDLE && abort_txn(w)) {
            rc = FERRY_EFATAL;
            break;
        }
        log_export(req->export_id, key, req, &stats, ferry_now_ms() - started, "aborted", why);
        if (stats.parts > 1)
            ferry_log(FERRY_LOG_WARN, "export id=%s attempt=%s aborted after %d parts; the next "
                      "attempt supersedes it", req->export_id, attempt, (int)stats.parts);
        if (*stop || !retry_wait(w, m, stop)) {
            /* Redone from the request; nothing of this attempt is visible. */
            rewind_to(w, m);
            rc = FERRY_OK;
            break;
        }
        {
            char last[1100];
            snprintf(last, sizeof(last), "gave up after %d attempts: %s", w->max_attempts, why);
            rc = settle_bad_request(w, m, req, req->export_id, FERRY_STATUS_FAILED, last, started,
                                    why, sizeof(why));
        }
        break;
    case ATTEMPT_REJECT:
    case ATTEMPT_FAIL:
        /* Retrying would fail the same way: settled now. */
        if (w->state != W_IDLE && abort_txn(w)) {
            rc = FERRY_EFATAL;
            break;
        }
        rc = settle_bad_request(w, m, req, req->export_id,
                                verdict(rc, accepted) == ATTEMPT_REJECT ? FERRY_STATUS_REJECTED
                                                                        : FERRY_STATUS_FAILED,
                                why, started, why, sizeof(why));
        break;
    }
out:
    if (cgmd)
        rd_kafka_consumer_group_metadata_destroy(cgmd);
    ferry_export_destroy(ex);
    ferry_request_free(req);
    if (rc == FERRY_EFATAL || w->state == W_FATAL)
        return ferry_errf(errstr, errstr_size, FERRY_EFATAL, "fatal: %s", why);
    return FERRY_OK;
}

int ferry_worker_run(ferry_worker_t *w, const volatile sig_atomic_t *stop, char *errstr,
                     size_t errstr_size)
{
    while (!*stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 100);
        rd_kafka_poll(w->txp, 0);
        rd_kafka_poll(w->status, 0);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                ferry_log(FERRY_LOG_WARN, "consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        int rc = handle_request(w, m, stop, errstr, errstr_size);
        rd_kafka_message_destroy(m);
        if (rc == FERRY_EFATAL)
            return rc;
    }
    return FERRY_OK;
}
