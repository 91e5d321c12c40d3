/* kafka.h - librdkafka helpers shared by the binaries: client configuration from
 * the ferry config, topic creation through the Admin API, producing with
 * back-pressure, and message headers.
 *
 * Used the way librdkafka's examples use it: poll on every pass, on QUEUE_FULL
 * poll and retry, flush with a timeout and check the out-queue. */
#ifndef FERRY_KAFKA_H
#define FERRY_KAFKA_H

#include "config.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* The callbacks a client may take; any may be NULL. opaque is the client's
 * opaque (rd_kafka_opaque), passed to each of them. */
typedef struct ferry_kafka_callbacks {
    void *opaque;
    /* Producers: each message's delivery report. */
    void (*on_delivery)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
    /* Consumers that subscribe: assignments and revocations; the callback
     * assigns (rd_kafka_assign) itself. */
    void (*on_rebalance)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque);
    /* Client-level errors; NULL logs them as warnings (librdkafka retries
     * them itself; fatal ones also surface through the calls that fail). */
    void (*on_error)(rd_kafka_t *rk, int err, const char *reason, void *opaque);
} ferry_kafka_callbacks_t;

/* What a producer promises. */
typedef enum ferry_kafka_producer_kind {
    FERRY_KAFKA_PLAIN,         /* librdkafka's defaults: a retry may duplicate */
    FERRY_KAFKA_IDEMPOTENT,    /* enable.idempotence: no duplicate, in order */
    FERRY_KAFKA_TRANSACTIONAL, /* transactional.id: idempotent, and transactions */
} ferry_kafka_producer_kind_t;

/* Every client of ferry is made by one of the two constructors below, which
 * apply, in this order: every "kafka" pair of cfg (cfg may be NULL), the fixed
 * settings of the client's kind, then the extra pairs given as arguments
 * (key, value, key, value, ..., NULL), which override both; and route
 * librdkafka's log lines through ferry_log and its client errors to
 * cb->on_error (or the default warning). On success *out is a new client:
 * close a consumer with rd_kafka_consumer_close, then free it with
 * rd_kafka_destroy. On failure *out is NULL and nothing is left to free:
 * FERRY_EINVAL naming the property librdkafka refused, or FERRY_EKAFKA with
 * librdkafka's reason when it cannot create the client. */

/* A producer of that kind; txn_id is its transactional.id (required for
 * FERRY_KAFKA_TRANSACTIONAL, ignored otherwise). */
int ferry_kafka_producer_new(const ferry_config_t *cfg, ferry_kafka_producer_kind_t kind,
                             const char *txn_id, const ferry_kafka_callbacks_t *cb,
                             rd_kafka_t **out, char *errstr, size_t errstr_size, ...);

/* What a consumer does with its group (group_id: librdkafka wants one either
 * way). Neither commits offsets automatically (enable.auto.commit=false):
 * ferry commits them itself, or keeps them elsewhere. */
typedef enum ferry_kafka_consumer_kind {
    /* A member of the group, for rd_kafka_subscribe. The main queue is
     * redirected to the consumer's (rd_kafka_poll_set_consumer):
     * rd_kafka_consumer_poll serves every callback, and rd_kafka_poll must not
     * be called. */
    FERRY_KAFKA_MEMBER,
    /* A reader of assigned partitions (rd_kafka_assign) that never joins the
     * group. Its main queue stays its own: rd_kafka_poll serves the callbacks
     * while nothing is assigned. */
    FERRY_KAFKA_READER,
} ferry_kafka_consumer_kind_t;

/* A consumer of that kind in group group_id. */
int ferry_kafka_consumer_new(const ferry_config_t *cfg, ferry_kafka_consumer_kind_t kind,
                             const char *group_id, const ferry_kafka_callbacks_t *cb,
                             rd_kafka_t **out, char *errstr, size_t errstr_size, ...);

/* The bootstrap.servers rk was configured with, written to buf ("(not set)"
 * when it has none), for error messages that must say where ferry looked. */
const char *ferry_kafka_bootstrap(rd_kafka_t *rk, char *buf, size_t size);

/* The first librdkafka release (as rd_kafka_version() numbers it) that
 * authenticates with SASL/SCRAM to a Kafka 4 broker: older ones repeat the
 * client nonce in their final SCRAM message, which Kafka 4 refuses as
 * "invalid credentials" (Kafka 3.9 accepted it). */
#define FERRY_KAFKA_SCRAM_FIXED_VERSION 0x020601ff

/* Pure: when cfg's "kafka" section sets sasl.mechanism (or its alias
 * sasl.mechanisms) to SCRAM-SHA-256 or SCRAM-SHA-512, in any case, and version
 * (rd_kafka_version() of the linked library) is older than
 * FERRY_KAFKA_SCRAM_FIXED_VERSION, writes a warning naming both versions to
 * buf and returns 1; otherwise leaves buf empty and returns 0. */
int ferry_kafka_scram_warning(const ferry_config_t *cfg, int version, char *buf, size_t size);
/* Logs that warning for the linked librdkafka, if there is one (the daemons
 * and the producer call it at startup). */
void ferry_kafka_warn_scram(const ferry_config_t *cfg);

typedef struct ferry_topic_spec {
    const char *name;
    int partitions;
    int replication;
    int compacted; /* cleanup.policy=compact */
    int max_message_bytes; /* max.message.bytes; 0: the broker's default */
} ferry_topic_spec_t;

/* Creates the topics that do not exist yet (an existing topic is left as it
 * is). Waits up to timeout_ms. FERRY_EKAFKA naming the topic on failure. */
int ferry_kafka_ensure_topics(rd_kafka_t *rk, const ferry_topic_spec_t *specs, size_t n,
                              int timeout_ms, char *errstr, size_t errstr_size);
/* ferry's own topics: requests, status, dlq (configured partitions and
 * replication), schedules (one partition, compacted) and, when target is not
 * NULL, the records topic of that environment (messages up to 16 MiB, so
 * that a row with a large text or blob fits). */
int ferry_kafka_ensure_ferry_topics(rd_kafka_t *rk, const ferry_config_t *cfg, const char *target,
                                    int timeout_ms, char *errstr, size_t errstr_size);

/* Makes producer rk learn the partitions of topic now, and keep them known:
 * otherwise its first message to a topic waits for the next periodic
 * metadata scan, up to a second (a transactional producer also registers the
 * partition with its transaction only then). *handle keeps the topic known;
 * release it with rd_kafka_topic_destroy before rk. FERRY_EKAFKA naming the
 * topic when its metadata cannot be had in timeout_ms. */
int ferry_kafka_know_topic(rd_kafka_t *rk, const char *topic, rd_kafka_topic_t **handle,
                           int timeout_ms, char *errstr, size_t errstr_size);

/* Where partition of topic starts and ends now: its low and high
 * watermarks (the offset its next message will have). A topic created a
 * moment ago may have no leader yet: the query is repeated, polling rk, until
 * it succeeds or timeout_ms have passed (each query may take timeout_ms).
 * FERRY_EKAFKA "<topic> [<partition>]: <reason>" when it fails. */
int ferry_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                           int64_t *lo, int64_t *hi, char *errstr, size_t errstr_size);

/* Every partition of topic at its end now (ferry_kafka_watermarks' high
 * watermark, each partition with its own timeout_ms): assigned, the list makes
 * rk read only what is produced from now on, which OFFSET_END cannot promise
 * (it is resolved only when the fetcher starts). *out is new: free it with
 * rd_kafka_topic_partition_list_destroy. FERRY_EKAFKA "<topic>: <reason>" when
 * the topic is unknown, as ferry_kafka_watermarks otherwise. */
int ferry_kafka_end_offsets(rd_kafka_t *rk, const char *topic, int timeout_ms,
                            rd_kafka_topic_partition_list_t **out, char *errstr,
                            size_t errstr_size);

/* Reads partition of topic from its beginning to the end it has when called
 * (or to the partition's EOF, if rk reports it), handing each message to
 * on_message(m, arg) (m stays rk's). rk is a reader (FERRY_KAFKA_READER)
 * with nothing assigned; the partition is assigned here and stays so.
 * FERRY_ETIMEOUT when the end is not reached within timeout_ms, FERRY_EKAFKA
 * on a broker error, each "reading <topic>: <reason>". */
int ferry_kafka_read_to_end(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                            void (*on_message)(const rd_kafka_message_t *m, void *arg), void *arg,
                            char *errstr, size_t errstr_size);

/* A header to attach to a produced message. */
typedef struct ferry_kafka_header {
    const char *name;
    const void *value;
    size_t len; /* (size_t)-1: value is a NUL-terminated string */
} ferry_kafka_header_t;

/* Produces one message (payload copied), polling and retrying while the local
 * queue is full for up to timeout_ms. value may be NULL (a tombstone).
 * FERRY_EPERMANENT when the message can never be produced (too large),
 * FERRY_ETIMEOUT when the queue stayed full, FERRY_EFATAL on a fatal client
 * error, FERRY_EKAFKA otherwise. */
int ferry_kafka_produce(rd_kafka_t *rk, const char *topic, int32_t partition, const void *key,
                        size_t key_len, const void *value, size_t value_len,
                        const ferry_kafka_header_t *headers, size_t nheaders, int timeout_ms,
                        char *errstr, size_t errstr_size);

/* The same, with opaque as the message's own opaque (rd_kafka_message_t's
 * _private in its delivery report). */
int ferry_kafka_produce_opaque(rd_kafka_t *rk, const char *topic, int32_t partition,
                               const void *key, size_t key_len, const void *value,
                               size_t value_len, const ferry_kafka_header_t *headers,
                               size_t nheaders, void *opaque, int timeout_ms, char *errstr,
                               size_t errstr_size);

/* The value of header name of msg (NULL if absent); *len receives its size. */
const void *ferry_kafka_header_get(const rd_kafka_message_t *msg, const char *name, size_t *len);

/* Flushes the producer for up to timeout_ms; FERRY_ETIMEOUT if messages remain. */
int ferry_kafka_flush(rd_kafka_t *rk, int timeout_ms, char *errstr, size_t errstr_size);

#endif
