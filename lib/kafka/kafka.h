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

/* A new librdkafka configuration holding every "kafka" pair of cfg, then the
 * given extra pairs (key, value, key, value, ..., NULL) which override them,
 * with librdkafka's log lines routed through ferry_log.
 * *out is new: hand it to rd_kafka_new (which takes ownership on success) or
 * free it with rd_kafka_conf_destroy. */
int ferry_kafka_conf_new(const ferry_config_t *cfg, rd_kafka_conf_t **out, char *errstr,
                         size_t errstr_size, ...);
/* Sets one property; errstr names the key. */
int ferry_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                         char *errstr, size_t errstr_size);

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
