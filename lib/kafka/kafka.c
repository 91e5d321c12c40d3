/* kafka.c - librdkafka helpers (see kafka.h). */
#include "kafka.h"

#include "error.h"
#include "log.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <time.h>

/* Sets one property; errstr names the key. */
static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                    size_t errstr_size)
{
    char why[256];

    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "kafka property \"%s\": %s", key,
                          why);
    return FERRY_OK;
}

/* librdkafka's own log lines go through ferry_log, so that the library never
 * prints: syslog levels 0-3 are errors, 4 warnings, the rest (connection
 * chatter during a broker restart, for example) debug. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    ferry_log(level <= 3 ? FERRY_LOG_ERROR : level == 4 ? FERRY_LOG_WARN : FERRY_LOG_DEBUG,
              "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

/* Client-level errors (brokers down, authentication...): librdkafka retries
 * them itself, so they are warnings; fatal ones also surface through the
 * calls that fail. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    ferry_log(FERRY_LOG_WARN, "%s: %s: %s", rd_kafka_name(rk),
              rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* The one place where ferry calls rd_kafka_new (see kafka.h): cfg's pairs,
 * then fixed (key, value, ..., NULL), then the caller's extra pairs. */
static int client_new(rd_kafka_type_t type, const ferry_config_t *cfg, const char *const *fixed,
                      const ferry_kafka_callbacks_t *cb, va_list extra, rd_kafka_t **out,
                      char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *key;
    int rc = FERRY_OK;

    *out = NULL;
    for (size_t i = 0; cfg && i < ferry_config_kafka_count(cfg) && !rc; i++)
        rc = conf_set(conf, ferry_config_kafka_key(cfg, i), ferry_config_kafka_value(cfg, i),
                      errstr, errstr_size);
    for (size_t i = 0; !rc && fixed[i]; i += 2)
        rc = conf_set(conf, fixed[i], fixed[i + 1], errstr, errstr_size);
    while (!rc && (key = va_arg(extra, const char *)) != NULL)
        rc = conf_set(conf, key, va_arg(extra, const char *), errstr, errstr_size);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, cb && cb->on_error ? cb->on_error : error_cb);
    if (cb && cb->opaque)
        rd_kafka_conf_set_opaque(conf, cb->opaque);
    if (cb && cb->on_delivery)
        rd_kafka_conf_set_dr_msg_cb(conf, cb->on_delivery);
    if (cb && cb->on_rebalance)
        rd_kafka_conf_set_rebalance_cb(conf, cb->on_rebalance);
    /* rd_kafka_new owns conf only when it succeeds. */
    if (!(*out = rd_kafka_new(type, conf, errstr, errstr_size))) {
        rd_kafka_conf_destroy(conf);
        return FERRY_EKAFKA;
    }
    return FERRY_OK;
}

int ferry_kafka_producer_new(const ferry_config_t *cfg, ferry_kafka_producer_kind_t kind,
                             const char *txn_id, const ferry_kafka_callbacks_t *cb,
                             rd_kafka_t **out, char *errstr, size_t errstr_size, ...)
{
    const char *plain[] = {NULL};
    const char *idempotent[] = {"enable.idempotence", "true", NULL};
    const char *transactional[] = {"transactional.id", txn_id, NULL};
    const char *const *fixed = kind == FERRY_KAFKA_IDEMPOTENT      ? idempotent
                               : kind == FERRY_KAFKA_TRANSACTIONAL ? transactional
                                                                   : plain;
    va_list ap;
    int rc;

    if (kind == FERRY_KAFKA_TRANSACTIONAL && (!txn_id || !*txn_id)) {
        *out = NULL;
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "a transactional producer needs a transactional.id");
    }
    va_start(ap, errstr_size);
    rc = client_new(RD_KAFKA_PRODUCER, cfg, fixed, cb, ap, out, errstr, errstr_size);
    va_end(ap);
    return rc;
}

int ferry_kafka_consumer_new(const ferry_config_t *cfg, ferry_kafka_consumer_kind_t kind,
                             const char *group_id, const ferry_kafka_callbacks_t *cb,
                             rd_kafka_t **out, char *errstr, size_t errstr_size, ...)
{
    const char *fixed[] = {"group.id", group_id, "enable.auto.commit", "false", NULL};
    va_list ap;
    int rc;

    va_start(ap, errstr_size);
    rc = client_new(RD_KAFKA_CONSUMER, cfg, fixed, cb, ap, out, errstr, errstr_size);
    va_end(ap);
    if (!rc && kind == FERRY_KAFKA_MEMBER)
        rd_kafka_poll_set_consumer(*out);
    return rc;
}

const char *ferry_kafka_bootstrap(rd_kafka_t *rk, char *buf, size_t size)
{
    size_t len = size;

    if (rd_kafka_conf_get(rd_kafka_conf(rk), "bootstrap.servers", buf, &len) != RD_KAFKA_CONF_OK ||
        !buf[0])
        snprintf(buf, size, "(not set)");
    return buf;
}

int ferry_kafka_scram_warning(const ferry_config_t *cfg, int version, char *buf, size_t size)
{
    const char *mechanism = NULL;

    if (size)
        buf[0] = '\0';
    if (version >= FERRY_KAFKA_SCRAM_FIXED_VERSION)
        return 0;
    /* "sasl.mechanisms" is librdkafka's alias of "sasl.mechanism": the last
     * one given is the one librdkafka applies. */
    for (size_t i = 0; cfg && i < ferry_config_kafka_count(cfg); i++)
        if (!strcmp(ferry_config_kafka_key(cfg, i), "sasl.mechanism") ||
            !strcmp(ferry_config_kafka_key(cfg, i), "sasl.mechanisms"))
            mechanism = ferry_config_kafka_value(cfg, i);
    if (!mechanism ||
        (strcasecmp(mechanism, "SCRAM-SHA-256") && strcasecmp(mechanism, "SCRAM-SHA-512")))
        return 0;
    snprintf(buf, size,
             "kafka.sasl.mechanism is %s, but librdkafka %d.%d.%d cannot authenticate with "
             "SASL/SCRAM to a Kafka 4 broker (it fails with \"invalid credentials\"); "
             "librdkafka 2.6.1 or newer can (README.md, Limits and decisions)",
             mechanism, (version >> 24) & 0xff, (version >> 16) & 0xff, (version >> 8) & 0xff);
    return 1;
}

void ferry_kafka_warn_scram(const ferry_config_t *cfg)
{
    char warning[512];

    if (ferry_kafka_scram_warning(cfg, rd_kafka_version(), warning, sizeof(warning)))
        ferry_log(FERRY_LOG_WARN, "%s", warning);
}

/* Names the topics of specs that the cluster does not have yet. */
static int missing_topics(rd_kafka_t *rk, const ferry_topic_spec_t *specs, size_t n,
                          int *missing, size_t *nmissing, int timeout_ms, char *errstr,
                          size_t errstr_size)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    char servers[256];

    if (err)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA,
                          "cannot list topics (bootstrap.servers %s, %d ms): %s",
                          ferry_kafka_bootstrap(rk, servers, sizeof(servers)), timeout_ms,
                          rd_kafka_err2str(err));
    *nmissing = 0;
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (int t = 0; t < md->topic_cnt && !found; t++)
            found = !strcmp(md->topics[t].topic, specs[i].name) &&
                    md->topics[t].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        missing[i] = !found;
        *nmissing += !found;
    }
    rd_kafka_metadata_destroy(md);
    return FERRY_OK;
}

int ferry_kafka_ensure_topics(rd_kafka_t *rk, const ferry_topic_spec_t *specs, size_t n,
                              int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_NewTopic_t *topics[16];
    int missing[16];
    size_t nmissing = 0, nt = 0;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_event_t *ev = NULL;
    char why[256];
    int rc;

    if (n > 16)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "too many topics at once (%zu)", n);
    rc = missing_topics(rk, specs, n, missing, &nmissing, timeout_ms, errstr, errstr_size);
    if (rc || nmissing == 0)
        return rc;

    for (size_t i = 0; i < n; i++) {
        if (!missing[i])
            continue;
        topics[nt] = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions,
                                           specs[i].replication, why, sizeof(why));
        if (!topics[nt]) {
            rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL, "topic %s: %s", specs[i].name,
                            why);
            goto out;
        }
        nt++;
        if (specs[i].compacted &&
            rd_kafka_NewTopic_set_config(topics[nt - 1], "cleanup.policy", "compact")) {
            rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL, "topic %s: cannot set compaction",
                            specs[i].name);
            goto out;
        }
        if (specs[i].max_message_bytes > 0) {
            char size[32];
            snprintf(size, sizeof(size), "%d", specs[i].max_message_bytes);
            if (rd_kafka_NewTopic_set_config(topics[nt - 1], "max.message.bytes", size)) {
                rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                "topic %s: cannot set max.message.bytes", specs[i].name);
                goto out;
            }
        }
    }
    q = rd_kafka_queue_new(rk);
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, why, sizeof(why));
    rd_kafka_CreateTopics(rk, topics, nt, opts, q);
    ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    if (!ev) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ETIMEOUT,
                        "creating topics: no answer within %d ms", timeout_ms);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        rc = ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "creating topics: %s",
                        rd_kafka_event_error_string(ev));
        goto out;
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **results = rd_kafka_CreateTopics_result_topics(res, &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
            /* Another process may have created it since we looked: that is fine. */
            if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                rc = ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "creating topic %s: %s",
                                rd_kafka_topic_result_name(results[i]),
                                rd_kafka_topic_result_error_string(results[i])
                                    ? rd_kafka_topic_result_error_string(results[i])
                                    : rd_kafka_err2str(err));
                goto out;
            }
        }
    }
    /* The broker answers before every partition has a leader; wait for the
     * metadata to show them so that the first produce does not fail. */
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        rc = missing_topics(rk, specs, n, missing, &nmissing, timeout_ms, errstr, errstr_size);
        if (rc || nmissing == 0)
            break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    if (q)
        rd_kafka_queue_destroy(q);
    for (size_t i = 0; i < nt; i++)
        rd_kafka_NewTopic_destroy(topics[i]);
    return rc;
}

int ferry_kafka_ensure_ferry_topics(rd_kafka_t *rk, const ferry_config_t *cfg, const char *target,
                                    int timeout_ms, char *errstr, size_t errstr_size)
{
    char records[256];
    int parts = ferry_config_partitions(cfg), repl = ferry_config_replication(cfg);
    ferry_topic_spec_t specs[5] = {
        {ferry_config_topic(cfg, FERRY_TOPIC_REQUESTS), parts, repl, 0, 0},
        {ferry_config_topic(cfg, FERRY_TOPIC_STATUS), parts, repl, 0, 0},
        {ferry_config_topic(cfg, FERRY_TOPIC_DLQ), parts, repl, 0, 16 << 20},
        {ferry_config_topic(cfg, FERRY_TOPIC_SCHEDULES), 1, repl, 1, 0},
        {records, parts, repl, 0, 16 << 20},
    };
    size_t n = 4;

    if (target) {
        if (ferry_config_records_topic(cfg, target, records, sizeof(records)))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "environment \"%s\" gives no legal records topic name", target);
        n = 5;
    }
    return ferry_kafka_ensure_topics(rk, specs, n, timeout_ms, errstr, errstr_size);
}

int ferry_kafka_know_topic(rd_kafka_t *rk, const char *topic, rd_kafka_topic_t **handle,
                           int timeout_ms, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;
    rd_kafka_topic_t *rkt;

    *handle = NULL;
    if (!(rkt = rd_kafka_topic_new(rk, topic, NULL)))
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "topic %s: %s", topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
    /* A topic created a moment ago may have no leader yet: asked again. */
    for (int64_t deadline = ferry_now_ms() + timeout_ms, left = timeout_ms;;) {
        err = rd_kafka_metadata(rk, 0, rkt, &md, (int)left);
        if (!err && (md->topic_cnt != 1 || md->topics[0].err))
            err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        if (md)
            rd_kafka_metadata_destroy(md);
        md = NULL;
        left = deadline - ferry_now_ms() - 100;
        if ((err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
             err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) ||
            left <= 0)
            break;
        usleep(100000);
    }
    if (err) {
        char servers[256];
        rd_kafka_topic_destroy(rkt);
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA,
                          "metadata of topic %s (bootstrap.servers %s): %s", topic,
                          ferry_kafka_bootstrap(rk, servers, sizeof(servers)),
                          rd_kafka_err2str(err));
    }
    *handle = rkt;
    return FERRY_OK;
}

/* Asks for partition's watermarks until the answer comes or timeout_ms have
 * passed: a topic created a moment ago may not have its leader ready yet. */
static rd_kafka_resp_err_t query_watermarks(rd_kafka_t *rk, const char *topic,
                                            int32_t partition, int timeout_ms, int64_t *lo,
                                            int64_t *hi)
{
    int64_t deadline = ferry_now_ms() + timeout_ms;
    rd_kafka_resp_err_t err;

    while ((err = rd_kafka_query_watermark_offsets(rk, topic, partition, lo, hi, timeout_ms)) &&
           ferry_now_ms() < deadline)
        rd_kafka_poll(rk, 100);
    return err;
}

int ferry_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                           int64_t *lo, int64_t *hi, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err = query_watermarks(rk, topic, partition, timeout_ms, lo, hi);

    if (err)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "%s [%d]: %s", topic,
                          (int)partition, rd_kafka_err2str(err));
    return FERRY_OK;
}

int ferry_kafka_end_offsets(rd_kafka_t *rk, const char *topic, int timeout_ms,
                            rd_kafka_topic_partition_list_t **out, char *errstr,
                            size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_topic_t *rkt;
    rd_kafka_resp_err_t err;
    int rc = FERRY_OK;

    *out = NULL;
    if (!(rkt = rd_kafka_topic_new(rk, topic, NULL)))
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "%s: %s", topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
    err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (!err && (md->topic_cnt != 1 || md->topics[0].err))
        err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (err) {
        rc = ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "%s: %s", topic,
                        rd_kafka_err2str(err));
        goto out;
    }
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int p = 0; p < md->topics[0].partition_cnt && !rc; p++) {
        int64_t lo, hi;
        rc = ferry_kafka_watermarks(rk, topic, p, timeout_ms, &lo, &hi, errstr, errstr_size);
        if (!rc)
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = hi;
    }
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (rc) {
        if (parts)
            rd_kafka_topic_partition_list_destroy(parts);
        return rc;
    }
    *out = parts;
    return FERRY_OK;
}

int ferry_kafka_read_to_end(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                            void (*on_message)(const rd_kafka_message_t *m, void *arg), void *arg,
                            char *errstr, size_t errstr_size)
{
    int64_t lo = 0, hi = 0, pos = 0, deadline = ferry_now_ms() + timeout_ms;
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_resp_err_t err = query_watermarks(rk, topic, partition, timeout_ms, &lo, &hi);
    int rc = FERRY_OK, eof = 0;

    if (err)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "reading %s: %s", topic,
                          rd_kafka_err2str(err));
    if (hi <= lo)
        return FERRY_OK; /* nothing to read */
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "reading %s: %s", topic,
                          rd_kafka_err2str(err));
    while (!rc && pos < hi && !eof) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

        if (ferry_now_ms() > deadline)
            rc = ferry_errf(errstr, errstr_size, FERRY_ETIMEOUT,
                            "reading %s: end not reached within %d ms", topic, timeout_ms);
        else if (!m)
            continue;
        else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof = 1;
        else if (m->err)
            rc = ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "reading %s: %s", topic,
                            rd_kafka_message_errstr(m));
        else {
            on_message(m, arg);
            pos = m->offset + 1;
        }
        if (m)
            rd_kafka_message_destroy(m);
    }
    return rc;
}

int ferry_kafka_produce(rd_kafka_t *rk, const char *topic, int32_t partition, const void *key,
                        size_t key_len, const void *value, size_t value_len,
                        const ferry_kafka_header_t *headers, size_t nheaders, int timeout_ms,
                        char *errstr, size_t errstr_size)
{
    return ferry_kafka_produce_opaque(rk, topic, partition, key, key_len, value, value_len,
                                      headers, nheaders, NULL, timeout_ms, errstr, errstr_size);
}

int ferry_kafka_produce_opaque(rd_kafka_t *rk, const char *topic, int32_t partition,
                               const void *key, size_t key_len, const void *value,
                               size_t value_len, const ferry_kafka_header_t *headers,
                               size_t nheaders, void *opaque, int timeout_ms, char *errstr,
                               size_t errstr_size)
{
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_resp_err_t err;
    int64_t deadline = 0; /* read the clock only once the queue is full */

    for (;;) {
        if (nheaders) {
            hdrs = rd_kafka_headers_new(nheaders);
            for (size_t i = 0; i < nheaders; i++)
                rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value,
                                    headers[i].len == (size_t)-1 ? -1 : (ssize_t)headers[i].len);
        }
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_VALUE((void *)value, value_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque),
                                RD_KAFKA_V_END);
        if (!err)
            return FERRY_OK; /* the message owns the headers now */
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        hdrs = NULL;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            /* A message too large or malformed is refused the same way on
             * every retry: FERRY_EPERMANENT says so. */
            return ferry_errf(errstr, errstr_size,
                              err == RD_KAFKA_RESP_ERR__FATAL ? FERRY_EFATAL
                              : err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                                      err == RD_KAFKA_RESP_ERR__INVALID_ARG
                                  ? FERRY_EPERMANENT
                                  : FERRY_EKAFKA,
                              "producing a %zu-byte message to %s: %s", value_len, topic,
                              rd_kafka_err2str(err));
        if (!deadline)
            deadline = ferry_now_ms() + timeout_ms;
        else if (ferry_now_ms() >= deadline)
            return ferry_errf(errstr, errstr_size, FERRY_ETIMEOUT,
                              "producing to %s: local queue still full after %d ms", topic,
                              timeout_ms);
        /* Back-pressure: serve delivery reports until the queue has room. */
        rd_kafka_poll(rk, 50);
    }
}

const void *ferry_kafka_header_get(const rd_kafka_message_t *msg, const char *name, size_t *len)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *value = NULL;
    size_t size = 0;

    if (rd_kafka_message_headers(msg, &hdrs) || !hdrs)
        return NULL;
    if (rd_kafka_header_get_last(hdrs, name, &value, &size))
        return NULL;
    if (len)
        *len = size;
    return value;
}

int ferry_kafka_flush(rd_kafka_t *rk, int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_flush(rk, timeout_ms);
    if (rd_kafka_outq_len(rk) > 0)
        return ferry_errf(errstr, errstr_size, FERRY_ETIMEOUT,
                          "%d message(s) still undelivered after %d ms", rd_kafka_outq_len(rk),
                          timeout_ms);
    return FERRY_OK;
}
