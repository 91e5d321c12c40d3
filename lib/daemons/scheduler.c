/* scheduler.c - durable schedules on Kafka and the scheduler daemon's loop.
 *
 * States of a scheduler (s->state) and the function performing each transition:
 *
 *   STANDBY     partition 0 of the schedules topic is not ours: nothing fires and
 *               the book of schedules is empty.
 *       -> REBUILDING  on_rebalance(), via start_rebuild(): partition 0 assigned,
 *                      read from the beginning (the group's committed offset is
 *                      never used: the topic itself is the state).
 *   REBUILDING  records go into the book; nothing fires. The end to reach is the
 *               high watermark taken after the assignment (query_end()).
 *       -> FIRING      finish_rebuild(): that offset or the partition's EOF is
 *                      reached; every schedule is taken over (take_over()).
 *       -> STANDBY     on_rebalance(), via stand_by(): revoked or lost.
 *   FIRING      fire_due() publishes what is due; a record arriving live replaces
 *               or removes one schedule, and a new schedule is taken over at once.
 *       -> STANDBY     on_rebalance(), via stand_by(): revoked or lost; a later
 *                      assignment rebuilds from the topic again.
 *
 * Only one group member holds partition 0, so only one scheduler fires, except
 * for the moments of a failover, when the old owner may not know yet that it
 * lost the partition: the deterministic export ids make such repeats harmless.
 *
 * Each schedule in the book has one due time to fire next (entry.next_due), set
 * by take_over() (ferry_schedule_first_due) and moved only by fire_entry()
 * (ferry_schedule_advance), which leaves a due time behind only once the broker
 * has confirmed the delivery of its request: a fire counts when
 * ferry_kafka_flush() empties the producer within CONFIRM_TIMEOUT_MS and the
 * delivery report callback counted no failure for the requests topic meanwhile.
 * Otherwise the due time stays and fires again, with the same export id, after
 * a back-off; a one-shot is removed (retire()) only after its delivered fire.
 * The producer's message timeout is bounded (DELIVERY_TIMEOUT_MS), so that the
 * outcome of a fire is known before the flush gives up; a pass stops firing
 * after its first unconfirmed delivery and after PASS_BUDGET_MS, which keeps
 * the loop responsive during a broker outage. */
#include "scheduler.h"

#include "error.h"
#include "kafka.h"
#include "log.h"
#include "schedule.h"
#include "timeutil.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Time given to the broker for the scheduler's metadata and offset queries. */
#define QUERY_TIMEOUT_MS 5000
#define PRODUCE_TIMEOUT_MS 10000
/* The takeover window is the session timeout plus this margin for the rebalance. */
#define WINDOW_MARGIN_MS 2000
/* The scheduler producer's message.timeout.ms: a fire's request is delivered
 * or reported failed within it. */
#define DELIVERY_TIMEOUT_MS 3000
/* How long a fire waits for its delivery report: the message timeout plus the
 * up to one second that librdkafka takes to notice an expired message. */
#define CONFIRM_TIMEOUT_MS (DELIVERY_TIMEOUT_MS + 1500)
/* After an unconfirmed fire, firing pauses for a delay that doubles from the
 * first to the second value while failures go on. */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 16000
/* A pass stops firing after this long (the rest fires in the next pass), so
 * that records, rebalances and shutdown are served in between. */
#define PASS_BUDGET_MS 2000

/* The live schedules, by id; few enough (hundreds) for linear search. */
typedef struct entry {
    ferry_schedule_t *sched; /* owned */
    int64_t next_due;        /* 0 until taken over, or when nothing is due any more */
    int64_t retry_at;        /* after a fire that could not be queued: not before */
    int64_t backoff_ms;      /* the current delay of such retries, 0 after a success */
} entry_t;

typedef struct book {
    entry_t *v;
    size_t n, cap;
} book_t;

static entry_t *book_find(book_t *b, const void *id, size_t len)
{
    for (size_t i = 0; i < b->n; i++)
        if (strlen(b->v[i].sched->id) == len && memcmp(b->v[i].sched->id, id, len) == 0)
            return &b->v[i];
    return NULL;
}

static void book_remove_at(book_t *b, size_t i)
{
    ferry_schedule_free(b->v[i].sched);
    b->v[i] = b->v[--b->n];
}

static void book_clear(book_t *b)
{
    while (b->n)
        book_remove_at(b, b->n - 1);
}

/* Applies one record of the schedules topic: its key's schedule is removed,
 * then added again from the value unless that is a tombstone, does not decode,
 * or (when validate is set) does not validate against min_interval_ms.
 * Returns the added entry, or NULL; *removed tells whether a schedule of that
 * key existed. */
static entry_t *book_apply(book_t *b, const rd_kafka_message_t *m, int validate,
                           int64_t min_interval_ms, int *removed)
{
    ferry_schedule_t *sched = NULL;
    entry_t *e = m->key ? book_find(b, m->key, m->key_len) : NULL;
    char err[512];
    int rc;

    *removed = e != NULL;
    if (e)
        book_remove_at(b, (size_t)(e - b->v));
    if (!m->key || !m->payload)
        return NULL;
    rc = ferry_schedule_decode(m->payload, m->len, &sched, err, sizeof(err));
    if (!rc && (strlen(sched->id) != m->key_len || memcmp(sched->id, m->key, m->key_len)))
        rc = ferry_errf(err, sizeof(err), FERRY_EINVAL, "the key is not the schedule's id \"%s\"",
                        sched->id);
    if (!rc && validate)
        rc = ferry_schedule_validate(sched, min_interval_ms, err, sizeof(err));
    if (rc) {
        ferry_log(FERRY_LOG_WARN, "scheduler skipped record topic=%s offset=%lld key=%.*s: %s",
                  rd_kafka_topic_name(m->rkt), (long long)m->offset, (int)m->key_len,
                  (const char *)m->key, err);
        ferry_schedule_free(sched);
        return NULL;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        entry_t *v = realloc(b->v, cap * sizeof(*v));
        if (!v) {
            ferry_log(FERRY_LOG_ERROR, "scheduler: out of memory for schedule %s", sched->id);
            ferry_schedule_free(sched);
            return NULL;
        }
        b->v = v;
        b->cap = cap;
    }
    e = &b->v[b->n++];
    memset(e, 0, sizeof(*e));
    e->sched = sched;
    return e;
}

enum state { STANDBY, REBUILDING, FIRING };

struct ferry_scheduler {
    const ferry_config_t *cfg;
    const char *topic;          /* the schedules topic */
    const char *requests_topic; /* where fires go */
    char *name;
    rd_kafka_t *producer, *consumer;
    enum state state;
    int64_t read_end; /* REBUILDING: the offset to reach, -1 until known */
    int64_t read_pos; /* REBUILDING: the offset after the last record applied */
    int64_t min_interval_ms, window_ms;
    book_t book;
    /* Requests that the broker refused or that expired, counted by on_delivery(). */
    unsigned long delivery_failures;
    /* After an unconfirmed delivery (the broker is likely away), no fire before
     * retry_at; backoff_ms is the current delay, 0 after a confirmed one. */
    int64_t retry_at, backoff_ms;
    int fatal;
    char fatal_reason[512];
};

static void on_client_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ferry_scheduler_t *s = opaque;

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[200];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        snprintf(s->fatal_reason, sizeof(s->fatal_reason), "%s: fatal error: %s",
                 rd_kafka_name(rk), why);
        s->fatal = 1;
        ferry_log(FERRY_LOG_ERROR, "scheduler %s", s->fatal_reason);
        return;
    }
    ferry_log(FERRY_LOG_WARN, "scheduler %s: %s: %s", rd_kafka_name(rk),
              rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Runs inside rd_kafka_poll and rd_kafka_flush of the producer. A failed
 * request is counted, so that fire_entry() does not take its fire as done. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    ferry_scheduler_t *s = opaque;

    (void)rk;
    if (!m->err)
        return;
    if (strcmp(rd_kafka_topic_name(m->rkt), s->requests_topic) == 0)
        s->delivery_failures++;
    ferry_log(FERRY_LOG_ERROR, "scheduler delivery failed topic=%s key=%.*s: %s",
              rd_kafka_topic_name(m->rkt), (int)m->key_len, (const char *)m->key,
              rd_kafka_err2str(m->err));
}

/* The next delay of an exponential back-off, from *delay_ms (0: none yet). */
static int64_t backoff(int64_t *delay_ms)
{
    *delay_ms = *delay_ms ? *delay_ms * 2 : BACKOFF_MIN_MS;
    if (*delay_ms > BACKOFF_MAX_MS)
        *delay_ms = BACKOFF_MAX_MS;
    return *delay_ms;
}

static void start_rebuild(ferry_scheduler_t *s)
{
    assert(s->book.n == 0);
    s->state = REBUILDING;
    s->read_end = -1;
    s->read_pos = 0;
    ferry_log(FERRY_LOG_INFO, "scheduler role=owner topic=%s: rebuilding schedules", s->topic);
}

static void stand_by(ferry_scheduler_t *s, const char *why)
{
    if (s->state != STANDBY)
        ferry_log(FERRY_LOG_INFO, "scheduler role=standby: %s, firing stops", why);
    s->state = STANDBY;
    book_clear(&s->book);
}

/* Runs inside rd_kafka_consumer_poll, so never concurrently with firing. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ferry_scheduler_t *s = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    int ours = rd_kafka_topic_partition_list_find(parts, s->topic, 0) != NULL;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
        if (ours && s->state == STANDBY)
            start_rebuild(s);
        else if (!ours && s->state == STANDBY)
            ferry_log(FERRY_LOG_INFO, "scheduler role=standby: another scheduler fires");
    } else {
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
        if (ours || !cooperative)
            stand_by(s, rd_kafka_assignment_lost(rk) ? "partition lost" : "partition revoked");
    }
    if (error) {
        ferry_log(FERRY_LOG_ERROR, "scheduler rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (aerr) {
        ferry_log(FERRY_LOG_ERROR, "scheduler rebalance: %s", rd_kafka_err2str(aerr));
    }
}

/* Queues the request of sched's fire at due, whose export id goes into id (of
 * FERRY_EXPORT_ID_MAX bytes); the caller confirms its delivery. FERRY_EFATAL
 * also stops the loop. */
static int fire(ferry_scheduler_t *s, const ferry_schedule_t *sched, int64_t due, int64_t now,
                char *id, char *err, size_t err_size)
{
    ferry_request_t req;
    int rc = ferry_schedule_fire_request(sched, due, now, id, FERRY_EXPORT_ID_MAX, &req);

    if (rc) {
        snprintf(id, FERRY_EXPORT_ID_MAX, "%s@%lld", sched->id, (long long)due);
        return ferry_errf(err, err_size, rc, "no export id for due time %lld", (long long)due);
    }
    rc = ferry_scheduler_send_request(s->producer, s->cfg, &req, err, err_size);
    if (rc == FERRY_EFATAL && !s->fatal) {
        s->fatal = 1;
        snprintf(s->fatal_reason, sizeof(s->fatal_reason), "%s", err);
    }
    return rc;
}

/* Waits until every queued message is delivered or reported failed, and tells
 * whether no request failed since the count was failures_before. */
static int confirm(ferry_scheduler_t *s, unsigned long failures_before, char *err,
                   size_t err_size)
{
    int rc = ferry_kafka_flush(s->producer, CONFIRM_TIMEOUT_MS, err, err_size);

    if (!rc && s->delivery_failures != failures_before)
        rc = ferry_errf(err, err_size, FERRY_EKAFKA, "the broker did not take the request");
    return rc;
}

/* Removes the schedule at book index i, which has nothing left to fire, from
 * the topic as well. */
static void retire(ferry_scheduler_t *s, size_t i)
{
    char err[512];
    const char *id = s->book.v[i].sched->id;

    if (ferry_scheduler_remove(s->producer, s->cfg, id, err, sizeof(err)))
        ferry_log(FERRY_LOG_ERROR, "scheduler cannot remove finished schedule %s: %s", id, err);
    else
        ferry_log(FERRY_LOG_INFO, "scheduler removed finished schedule=%s", id);
    book_remove_at(&s->book, i);
}

/* Sets the first due time of e, which this scheduler takes over now (the
 * takeover rule of schedule.h); fire_due() fires it. Returns 1 when the
 * schedule has nothing left to fire. */
static int take_over(ferry_scheduler_t *s, entry_t *e, int64_t now)
{
    if (ferry_schedule_first_due(e->sched, now, s->window_ms, &e->next_due))
        e->next_due = 0;
    return e->next_due == 0;
}

enum fired { FIRED_ALL, FIRED_SOME, NOT_QUEUED, NOT_DELIVERED };

/* Fires the due times of e that have come, one at a time, each confirmed
 * before e advances past it (ferry_schedule_advance), until deadline.
 * FIRED_ALL: nothing due is left (e->next_due 0: finished); FIRED_SOME: the
 * deadline came first; NOT_QUEUED: this schedule's request could not be queued
 * (e backs off alone); NOT_DELIVERED: a request went unconfirmed (the caller
 * backs off the whole scheduler). After a failure e->next_due is unchanged. */
static enum fired fire_entry(ferry_scheduler_t *s, entry_t *e, int64_t now, int64_t deadline)
{
    char id[FERRY_EXPORT_ID_MAX], err[512];

    while (e->next_due && e->next_due <= now) {
        int64_t due = e->next_due;
        unsigned long failures = s->delivery_failures;
        int queued, delivered = 0;

        if (ferry_now_ms() >= deadline)
            return FIRED_SOME;
        queued = fire(s, e->sched, due, now, id, err, sizeof(err)) == FERRY_OK;
        if (queued)
            delivered = confirm(s, failures, err, sizeof(err)) == FERRY_OK;
        if (ferry_schedule_advance(e->sched, due, delivered, now, s->window_ms, &e->next_due))
            e->next_due = 0;
        if (!queued) {
            e->retry_at = ferry_now_ms() + backoff(&e->backoff_ms);
            ferry_log(FERRY_LOG_ERROR, "scheduler fire failed export=%s (retry in %lld ms): %s",
                      id, (long long)e->backoff_ms, err);
            return NOT_QUEUED;
        }
        if (!delivered) {
            ferry_log(FERRY_LOG_ERROR, "scheduler fire not delivered export=%s: %s", id, err);
            return NOT_DELIVERED;
        }
        e->backoff_ms = 0;
        s->backoff_ms = 0;
        ferry_log(FERRY_LOG_INFO, "scheduler fired export=%s late_ms=%lld", id,
                  (long long)(ferry_now_ms() - due));
    }
    return FIRED_ALL;
}

static void finish_rebuild(ferry_scheduler_t *s)
{
    int64_t now = ferry_now_ms();

    assert(s->state == REBUILDING);
    s->state = FIRING;
    ferry_log(FERRY_LOG_INFO, "scheduler role=owner: firing, schedules=%zu", s->book.n);
    for (size_t i = 0; i < s->book.n;) {
        if (take_over(s, &s->book.v[i], now))
            retire(s, i);
        else
            i++;
    }
}

/* Learns where partition 0 ends now; reaching that offset ends the rebuild. */
static void query_end(ferry_scheduler_t *s)
{
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(s->consumer, s->topic, 0, &lo, &hi, QUERY_TIMEOUT_MS);

    if (err) {
        ferry_log(FERRY_LOG_WARN, "scheduler cannot query the end of %s: %s (retrying)",
                  s->topic, rd_kafka_err2str(err));
        return;
    }
    s->read_end = hi;
    if (hi <= lo || s->read_pos >= hi)
        finish_rebuild(s);
}

/* Fires every due time that has come, and returns when the next pass should
 * fire: the earliest next due time (INT64_MAX if none), or later while backing
 * off. A due time missed by more than the takeover window (the process was
 * stopped, the host slept) is skipped, as at a takeover, once a fire of that
 * schedule is delivered. */
static int64_t fire_due(ferry_scheduler_t *s, int64_t now)
{
    int64_t earliest = INT64_MAX, deadline = ferry_now_ms() + PASS_BUDGET_MS;
    int paused = now < s->retry_at; /* then only the next wake-up is computed */

    assert(s->state == FIRING);
    for (size_t i = 0; i < s->book.n;) {
        entry_t *e = &s->book.v[i];
        enum fired r = FIRED_SOME;
        int64_t wake;

        if (!paused && !s->fatal && e->retry_at <= now)
            r = fire_entry(s, e, now, deadline);
        if (r == FIRED_ALL && !e->next_due) {
            retire(s, i);
            continue;
        }
        if (r == NOT_DELIVERED) {
            s->retry_at = ferry_now_ms() + backoff(&s->backoff_ms);
            ferry_log(FERRY_LOG_WARN, "scheduler pauses firing for %lld ms",
                      (long long)s->backoff_ms);
            paused = 1;
        }
        wake = e->next_due > e->retry_at ? e->next_due : e->retry_at;
        if (wake < earliest)
            earliest = wake;
        i++;
    }
    return earliest < s->retry_at ? s->retry_at : earliest;
}

static void handle_message(ferry_scheduler_t *s, const rd_kafka_message_t *m)
{
    entry_t *e;
    int removed = 0;

    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (s->state == REBUILDING && m->partition == 0)
                finish_rebuild(s);
        } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
            on_client_error(s->consumer, m->err, rd_kafka_message_errstr(m), s);
        } else {
            ferry_log(FERRY_LOG_WARN, "scheduler consumer: %s", rd_kafka_message_errstr(m));
        }
        return;
    }
    if (s->state == STANDBY || m->partition != 0)
        return;
    e = book_apply(&s->book, m, 1, s->min_interval_ms, &removed);
    if (s->state == REBUILDING) {
        s->read_pos = m->offset + 1;
        if (s->read_end >= 0 && s->read_pos >= s->read_end)
            finish_rebuild(s);
        return;
    }
    if (!e) {
        if (removed)
            ferry_log(FERRY_LOG_INFO, "scheduler schedule removed id=%.*s", (int)m->key_len,
                      (const char *)m->key);
        return;
    }
    ferry_log(FERRY_LOG_INFO, "scheduler schedule %s id=%s kind=%s",
              removed ? "replaced" : "added", e->sched->id, ferry_schedule_kind(e->sched));
    if (take_over(s, e, ferry_now_ms()))
        retire(s, (size_t)(e - s->book.v));
}

int ferry_scheduler_poll(ferry_scheduler_t *s, int timeout_ms, char *errstr, size_t errstr_size)
{
    int64_t wait = timeout_ms;
    rd_kafka_message_t *m;

    rd_kafka_poll(s->producer, 0);
    if (s->state == REBUILDING && s->read_end < 0)
        query_end(s);
    if (s->state == FIRING) {
        int64_t next = fire_due(s, ferry_now_ms()), now = ferry_now_ms();
        if (next - now < wait)
            wait = next > now ? next - now : 0;
    }
    /* The first message waits; the ones already fetched follow without waiting. */
    for (int i = 0; i < 1000 && !s->fatal; i++) {
        if (!(m = rd_kafka_consumer_poll(s->consumer, i == 0 ? (int)wait : 0)))
            break;
        handle_message(s, m);
        rd_kafka_message_destroy(m);
    }
    if (s->fatal)
        return ferry_errf(errstr, errstr_size, FERRY_EFATAL, "%s", s->fatal_reason);
    return FERRY_OK;
}

int ferry_scheduler_is_firing(const ferry_scheduler_t *s)
{
    return s->state == FIRING;
}

/* Fails unless the schedules topic has exactly one partition: with more, the
 * owner of partition 0 would see only part of the schedules. */
static int check_one_partition(ferry_scheduler_t *s, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->producer, s->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;
    int rc = FERRY_OK;

    if (!rkt)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "topic %s: %s", s->topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
    err = rd_kafka_metadata(s->producer, 0, rkt, &md, QUERY_TIMEOUT_MS);
    if (err)
        rc = ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "topic %s: %s", s->topic,
                        rd_kafka_err2str(err));
    else if (md->topic_cnt != 1 || md->topics[0].partition_cnt != 1)
        rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                        "topic %s has %d partitions; the scheduler needs exactly one", s->topic,
                        md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

int ferry_scheduler_new(const ferry_config_t *cfg, const char *name, ferry_scheduler_t **out,
                        char *errstr, size_t errstr_size)
{
    ferry_scheduler_t *s = calloc(1, sizeof(*s));
    rd_kafka_topic_partition_list_t *topics = NULL;
    int64_t session = ferry_config_int(cfg, "scheduler", "session_timeout_ms");
    char session_s[24], heartbeat_s[24], delivery_s[24], why[512];
    ferry_kafka_callbacks_t producer_callbacks = {
        .opaque = s, .on_delivery = on_delivery, .on_error = on_client_error};
    ferry_kafka_callbacks_t consumer_callbacks = {
        .opaque = s, .on_rebalance = on_rebalance, .on_error = on_client_error};
    rd_kafka_resp_err_t err;
    int rc;

    *out = NULL;
    if (!s || !(s->name = strdup(name ? name : "ferry-scheduler"))) {
        free(s);
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "scheduler: out of memory");
    }
    s->cfg = cfg;
    s->topic = ferry_config_topic(cfg, FERRY_TOPIC_SCHEDULES);
    s->requests_topic = ferry_config_topic(cfg, FERRY_TOPIC_REQUESTS);
    s->state = STANDBY;
    s->min_interval_ms = ferry_config_int(cfg, "scheduler", "min_interval_ms");
    s->window_ms = session + WINDOW_MARGIN_MS;
    snprintf(session_s, sizeof(session_s), "%lld", (long long)session);
    /* Ten heartbeats per session rather than the usual three: a survivor learns
     * of a dead owner's expiry within a tenth of the session timeout, which
     * keeps a failover well inside the takeover window. */
    snprintf(heartbeat_s, sizeof(heartbeat_s), "%lld",
             (long long)(session / 10 > 100 ? session / 10 : 100));

    snprintf(delivery_s, sizeof(delivery_s), "%d", DELIVERY_TIMEOUT_MS);
    rc = ferry_kafka_producer_new(cfg, FERRY_KAFKA_IDEMPOTENT, NULL, &producer_callbacks,
                                  &s->producer, why, sizeof(why), "client.id", s->name,
                                  "message.timeout.ms", delivery_s, NULL);
    if (rc) /* librdkafka's refusal: say which client; a bad property names itself */
        ferry_errf(errstr, errstr_size, rc, "%s%s",
                   rc == FERRY_EKAFKA ? "scheduler producer: " : "", why);
    if (!rc)
        rc = ferry_kafka_ensure_ferry_topics(s->producer, cfg, NULL, QUERY_TIMEOUT_MS, errstr,
                                             errstr_size);
    if (!rc)
        rc = check_one_partition(s, errstr, errstr_size);
    if (!rc) {
        rc = ferry_kafka_consumer_new(cfg, FERRY_KAFKA_MEMBER,
                                      ferry_config_str(cfg, "scheduler", "group_id"),
                                      &consumer_callbacks, &s->consumer, why, sizeof(why),
                                      "client.id", s->name, "session.timeout.ms", session_s,
                                      "heartbeat.interval.ms", heartbeat_s,
                                      "enable.partition.eof", "true", NULL);
        if (rc) /* librdkafka's refusal: say which client; a bad property names itself */
            ferry_errf(errstr, errstr_size, rc, "%s%s",
                       rc == FERRY_EKAFKA ? "scheduler consumer: " : "", why);
    }
    if (!rc) {
        topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, s->topic, RD_KAFKA_PARTITION_UA);
        if ((err = rd_kafka_subscribe(s->consumer, topics)))
            rc = ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "subscribing to %s: %s",
                            s->topic, rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(topics);
    }
    if (rc) {
        ferry_scheduler_destroy(s);
        return rc;
    }
    *out = s;
    return FERRY_OK;
}

int ferry_scheduler_close(ferry_scheduler_t *s, int timeout_ms, char *errstr, size_t errstr_size)
{
    /* Closing the consumer revokes partition 0 (firing stops) and leaves the
     * group, so that another scheduler takes over now. */
    rd_kafka_consumer_close(s->consumer);
    stand_by(s, "closing");
    return ferry_kafka_flush(s->producer, timeout_ms, errstr, errstr_size);
}

void ferry_scheduler_destroy(ferry_scheduler_t *s)
{
    if (!s)
        return;
    if (s->consumer)
        rd_kafka_destroy(s->consumer);
    if (s->producer)
        rd_kafka_destroy(s->producer);
    book_clear(&s->book);
    free(s->book.v);
    free(s->name);
    free(s);
}

int ferry_scheduler_send_request(rd_kafka_t *rk, const ferry_config_t *cfg,
                                 const ferry_request_t *req, char *errstr, size_t errstr_size)
{
    ferry_buf_t buf = FERRY_BUF_INIT;
    char key[2 * FERRY_NAME_MAX + 3];
    ferry_kafka_header_t headers[] = {
        {"ferry.type", ferry_msg_type_name(FERRY_MSG_REQUEST), (size_t)-1},
        {"ferry.export", req->export_id, (size_t)-1},
    };
    int rc = ferry_request_encode(req, &buf, errstr, errstr_size);

    ferry_request_stream_key(req, key, sizeof(key));
    if (!rc)
        rc = ferry_kafka_produce(rk, ferry_config_topic(cfg, FERRY_TOPIC_REQUESTS),
                                 RD_KAFKA_PARTITION_UA, key, strlen(key), buf.data, buf.len,
                                 headers, 2, PRODUCE_TIMEOUT_MS, errstr, errstr_size);
    ferry_buf_free(&buf);
    return rc;
}

int ferry_scheduler_put(rd_kafka_t *rk, const ferry_config_t *cfg, const ferry_schedule_t *sched,
                        char *errstr, size_t errstr_size)
{
    ferry_buf_t buf = FERRY_BUF_INIT;
    ferry_kafka_header_t type = {"ferry.type", ferry_msg_type_name(FERRY_MSG_SCHEDULE),
                                 (size_t)-1};
    int rc = ferry_schedule_encode(sched, &buf, errstr, errstr_size);

    if (!rc)
        rc = ferry_kafka_produce(rk, ferry_config_topic(cfg, FERRY_TOPIC_SCHEDULES), 0, sched->id,
                                 strlen(sched->id), buf.data, buf.len, &type, 1,
                                 PRODUCE_TIMEOUT_MS, errstr, errstr_size);
    ferry_buf_free(&buf);
    return rc;
}

int ferry_scheduler_remove(rd_kafka_t *rk, const ferry_config_t *cfg, const char *id,
                           char *errstr, size_t errstr_size)
{
    return ferry_kafka_produce(rk, ferry_config_topic(cfg, FERRY_TOPIC_SCHEDULES), 0, id,
                               strlen(id), NULL, 0, NULL, 0, PRODUCE_TIMEOUT_MS, errstr,
                               errstr_size);
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(ferry_schedule_t *const *)a)->id, (*(ferry_schedule_t *const *)b)->id);
}

/* ferry_kafka_read_to_end's callback of ferry_scheduler_list. */
static void list_apply(const rd_kafka_message_t *m, void *arg)
{
    int removed;

    book_apply(arg, m, 0, 0, &removed);
}

int ferry_scheduler_list(const ferry_config_t *cfg, int timeout_ms, ferry_schedule_t ***out,
                         size_t *n, char *errstr, size_t errstr_size)
{
    const char *topic = ferry_config_topic(cfg, FERRY_TOPIC_SCHEDULES);
    rd_kafka_t *rk = NULL;
    book_t book = {0};
    int rc;
    char why[512], group[512];

    *out = NULL;
    *n = 0;

    /* A reader: its group is never joined nor committed to. */
    snprintf(group, sizeof(group), "%s.reader",
             ferry_config_str(cfg, "scheduler", "group_id"));
    rc = ferry_kafka_consumer_new(cfg, FERRY_KAFKA_READER, group, NULL, &rk, why, sizeof(why),
                                  "enable.partition.eof", "true", NULL);
    if (rc == FERRY_EKAFKA) /* librdkafka's refusal: say which client */
        return ferry_errf(errstr, errstr_size, rc, "reading %s: %s", topic, why);
    if (rc) /* a property librdkafka refused names itself */
        return ferry_errf(errstr, errstr_size, rc, "%s", why);
    rc = ferry_kafka_read_to_end(rk, topic, 0, timeout_ms, list_apply, &book, errstr,
                                 errstr_size);
    if (!rc && book.n && !(*out = malloc(book.n * sizeof(**out))))
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "reading %s: out of memory", topic);
    if (!rc) {
        for (size_t i = 0; i < book.n; i++)
            (*out)[i] = book.v[i].sched;
        *n = book.n;
        book.n = 0; /* the schedules now belong to *out */
        if (*n)
            qsort(*out, *n, sizeof(**out), by_id);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    book_clear(&book);
    free(book.v);
    return rc;
}

void ferry_scheduler_list_free(ferry_schedule_t **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        ferry_schedule_free(list[i]);
    free(list);
}
