/* config.h - the configuration file (DESIGN.md section 3), parsed with jansson.
 *
 *   { "kafka": { "bootstrap.servers": "127.0.0.1:9092", ... },   passed to librdkafka as is
 *     "environments": { "dev": { "store": "sqlite:/var/lib/ferry/dev.db" },
 *                       "prod": { "store": "postgresql://ferry@db/prod", "schema": "app" } },
 *     "topics": { "requests": "ferry.requests", "records_prefix": "ferry.records.",
 *                 "status": "ferry.status", "schedules": "ferry.schedules",
 *                 "dlq": "ferry.dlq", "partitions": 6, "replication_factor": 1 },
 *     "catalog": "path/to/preset.json",
 *     "worker":    { "group_id": ..., "transaction_timeout_ms": ..., ... },
 *     "importer":  { "group_id_prefix": ..., ... },
 *     "scheduler": { "group_id": ..., "min_interval_ms": ..., ... } }
 *
 * Only "environments" is required. Unknown top-level keys and unknown keys in
 * the sections ferry reads are errors (a typo must not silently fall back to a
 * default). Errors name the file and the key. */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ferry_config ferry_config_t;

/* The topics of DESIGN.md section 5. */
typedef enum ferry_topic {
    FERRY_TOPIC_REQUESTS = 0,
    FERRY_TOPIC_STATUS,
    FERRY_TOPIC_SCHEDULES,
    FERRY_TOPIC_DLQ,
} ferry_topic_t;

/* Loads and validates the file at path. *out is new; free with
 * ferry_config_destroy (accepts NULL). Missing file -> FERRY_ENOTFOUND;
 * malformed JSON, a missing or empty "environments", an unknown store scheme or
 * an unknown key -> FERRY_EINVAL. */
int ferry_config_load(const char *path, ferry_config_t **out, char *errstr, size_t errstr_size);
/* The same from text; name is used in messages in place of a file name. */
int ferry_config_parse(const char *text, const char *name, ferry_config_t **out, char *errstr,
                       size_t errstr_size);
void ferry_config_destroy(ferry_config_t *cfg);

/* The "kafka" pairs, in file order; values are strings (numbers and booleans
 * in the file are converted to their text). */
size_t ferry_config_kafka_count(const ferry_config_t *cfg);
const char *ferry_config_kafka_key(const ferry_config_t *cfg, size_t i);
const char *ferry_config_kafka_value(const ferry_config_t *cfg, size_t i);

/* Environments, sorted by name. */
size_t ferry_config_env_count(const ferry_config_t *cfg);
const char *ferry_config_env_name(const ferry_config_t *cfg, size_t i);
/* The store URI of the environment named name, or NULL if it is not declared. */
const char *ferry_config_env_store(const ferry_config_t *cfg, const char *name);
/* Its "schema" (PostgreSQL stores: an environment is one schema of one
 * database), or NULL when the file gives none (the store's default,
 * "public"). Refused at load for a sqlite: store. */
const char *ferry_config_env_schema(const ferry_config_t *cfg, const char *name);

const char *ferry_config_topic(const ferry_config_t *cfg, ferry_topic_t topic);
/* Writes the records topic of environment target ("ferry.records.<target>").
 * FERRY_EINVAL if it does not fit or the name is not a legal topic name. */
int ferry_config_records_topic(const ferry_config_t *cfg, const char *target, char *out,
                               size_t out_size);
int ferry_config_partitions(const ferry_config_t *cfg);
int ferry_config_replication(const ferry_config_t *cfg);

/* The preset catalog's path (default FERRY_DATA_DIR "/catalog/preset.json"). */
const char *ferry_config_catalog_path(const ferry_config_t *cfg);

/* One setting of the sections "topics", "worker", "importer" and
 * "scheduler". One table of them (config.c) is all that validation, defaults
 * and lookups read; README's configuration table is held to it by a test. */
typedef enum ferry_setting_type { FERRY_SETTING_INT, FERRY_SETTING_TEXT } ferry_setting_type_t;

typedef struct ferry_setting {
    const char *section;
    const char *key;
    ferry_setting_type_t type;
    int64_t int_default;         /* FERRY_SETTING_INT */
    int64_t min, max;            /* an integer's range; a text's length in bytes */
    const char *text_default;    /* FERRY_SETTING_TEXT */
    const char *const *choices;  /* a text's allowed values (NULL-terminated), or NULL */
} ferry_setting_t;

/* The table (static storage) and its length in *n. */
const ferry_setting_t *ferry_config_settings(size_t *n);

/* The value of a setting of the table: the file's, else the table's
 * default. Asking for a key the table does not have, or for the wrong type,
 * is a programming error (an assertion in debug builds; 0 or "" otherwise). */
int64_t ferry_config_int(const ferry_config_t *cfg, const char *section, const char *key);
const char *ferry_config_str(const ferry_config_t *cfg, const char *section, const char *key);

#endif
