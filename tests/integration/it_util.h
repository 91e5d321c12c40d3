/* it_util.h - helpers for integration tests on the real broker.
 *
 * Tests get the broker from FERRY_BOOTSTRAP (default 127.0.0.1:9092) and give
 * every topic and group a unique name (it_unique) so that tests sharing one
 * broker never see each other's messages. Helpers abort the test (ck_abort)
 * on failure, so callers need no error handling. */
#ifndef FERRY_IT_UTIL_H
#define FERRY_IT_UTIL_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

const char *it_bootstrap(void);
/* "<prefix>.<pid>.<counter>.<random>": unique across runs and processes. */
char *it_unique(const char *prefix);
/* Creates a topic with n partitions (cleanup.policy=compact if compacted). */
void it_create_topic(const char *topic, int partitions, int compacted);
/* A new client of the given type; extra properties as key, value, ..., NULL. */
rd_kafka_t *it_client(rd_kafka_type_t type, ...);

/* One consumed message, copied. */
typedef struct it_msg {
    int32_t partition;
    int64_t offset;
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    char *type; /* the ferry.type header or NULL */
    char *export_id; /* the ferry.export header or NULL */
} it_msg_t;

/* Reads every partition of topic from the beginning with the given isolation
 * level ("read_committed" or "read_uncommitted") until the end offsets seen
 * at the start are reached, or until idle_ms pass without a message. Returns
 * the number of messages in *out (free with it_msgs_free). */
size_t it_consume_all(const char *topic, const char *isolation, int idle_ms, it_msg_t **out);
void it_msgs_free(it_msg_t *msgs, size_t n);

/* Paths in the source and build trees. */
const char *it_source_dir(void);
const char *it_build_dir(void);
/* Writes a ferry config file naming the given bootstrap and environments and
 * unique topic names derived from tag; returns its path (static buffer). Extra
 * JSON members (already formatted, e.g. "\"worker\": {...}") may be NULL. */
const char *it_write_config(const char *dir, const char *tag, const char *envs_json,
                            const char *extra_json);
/* The same with a given partition count for ferry's topics (it_write_config: 3). */
const char *it_write_config_n(const char *dir, const char *tag, int partitions,
                              const char *envs_json, const char *extra_json);

#endif

#include <sys/types.h>

/* Starts argv[0] (a path) with its output appended to log_path; returns its pid. */
pid_t it_spawn(const char *const argv[], const char *log_path);
/* Sends sig (0: none) and waits up to timeout_ms for the process to exit;
 * returns its exit status, 128+signal if killed, or -1 if still running. */
int it_stop(pid_t pid, int sig, int timeout_ms);
/* Runs a shell command; returns its exit status and, if out is not NULL, its
 * standard output (free with free()). */
int it_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Produces one message (plain producer, flushed). */
void it_produce(const char *topic, const char *key, const void *value, size_t len);
/* A fresh temporary directory (mkdtemp), under a root that is removed with
 * everything in it when the suite's process exits, whether its tests passed
 * or failed. A test may remove its own sooner. */
char *it_tmpdir(void);
/* The checksum JSON of `ferry-env checksum STORE --json` parsed into a
 * jansson object (json_t *, cast to void * to keep jansson out of this header). */
void *it_env_checksums(const char *store_uri);
/* The sum over partitions of the topic's high watermarks (messages written,
 * committed or not): a cheap progress probe. */
int64_t it_high_watermarks(const char *topic);
