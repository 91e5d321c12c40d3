/* config.c - loading and validating the configuration file (see config.h). */
#include "config.h"

#include "error.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct env_entry {
    char *name;
    char *store;
    char *schema; /* NULL: the store's default */
} env_entry_t;

struct ferry_config {
    json_t *root;        /* owns every string handed out below */
    char **kafka_keys;   /* borrowed from root */
    char **kafka_values; /* owned: converted to text */
    size_t nkafka;
    env_entry_t *envs;   /* sorted by name; strings borrowed from root */
    size_t nenvs;
    const char *topics[4];   /* borrowed from root or the settings table */
    const char *records_prefix;
    int partitions;
    int replication;
    char *catalog;
};

static const char *const compressions[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};

#define INT_SETTING(sec, key, dflt, lo, hi) {sec, key, FERRY_SETTING_INT, dflt, lo, hi, NULL, NULL}
#define TEXT_SETTING(sec, key, dflt, minlen, choices)                                          \
    {sec, key, FERRY_SETTING_TEXT, 0, minlen, 249, dflt, choices}

/* Every setting of the sections ferry reads; README's configuration table
 * says the same (tests/unit/test_config.c holds it to this). */
static const ferry_setting_t settings[] = {
    TEXT_SETTING("topics", "requests", "ferry.requests", 1, NULL),
    TEXT_SETTING("topics", "status", "ferry.status", 1, NULL),
    TEXT_SETTING("topics", "schedules", "ferry.schedules", 1, NULL),
    TEXT_SETTING("topics", "dlq", "ferry.dlq", 1, NULL),
    TEXT_SETTING("topics", "records_prefix", "ferry.records.", 0, NULL),
    INT_SETTING("topics", "partitions", 6, 1, 10000),
    INT_SETTING("topics", "replication_factor", 1, 1, 100),
    TEXT_SETTING("worker", "group_id", "ferry-workers", 1, NULL),
    INT_SETTING("worker", "transaction_timeout_ms", 10000, 1000, 3600000),
    INT_SETTING("worker", "session_timeout_ms", 10000, 1000, 3600000),
    INT_SETTING("worker", "linger_ms", 20, 0, 900000),
    INT_SETTING("worker", "batch_size", 1000000, 1, 2147483647),
    TEXT_SETTING("worker", "compression", "lz4", 1, compressions),
    INT_SETTING("worker", "rows_message_bytes", 65536, 1, 8 << 20),
    INT_SETTING("worker", "part_bytes", 16 << 20, 1, 1 << 30),
    INT_SETTING("worker", "max_attempts", 8, 1, 1000),
    TEXT_SETTING("importer", "group_id_prefix", "ferry-import-", 1, NULL),
    /* librdkafka's max.poll.interval.ms (300000) may not be shorter */
    INT_SETTING("importer", "session_timeout_ms", 10000, 1000, 300000),
    TEXT_SETTING("scheduler", "group_id", "ferry-scheduler", 1, NULL),
    INT_SETTING("scheduler", "session_timeout_ms", 6000, 1000, 300000),
    INT_SETTING("scheduler", "min_interval_ms", 1000, 1, 86400000),
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

/* The sections made of settings, in the order they are checked. */
static const char *const setting_sections[] = {"topics", "worker", "importer", "scheduler"};

const ferry_setting_t *ferry_config_settings(size_t *n)
{
    *n = NSETTINGS;
    return settings;
}

static const ferry_setting_t *find_setting(const char *section, const char *key)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (!strcmp(settings[i].section, section) && !strcmp(settings[i].key, key))
            return &settings[i];
    return NULL;
}

/* The top-level keys; anything else is a typo to report. */
static const char *const top_keys[] = {"kafka", "environments", "topics", "catalog",
                                       "worker", "importer", "scheduler", NULL};

static int in_list(const char *key, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(key, *list))
            return 1;
    return 0;
}

static int env_cmp(const void *a, const void *b)
{
    return strcmp(((const env_entry_t *)a)->name, ((const env_entry_t *)b)->name);
}

static char *scalar_text(const json_t *v)
{
    char num[64];

    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(num);
    }
    if (json_is_real(v)) {
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        return strdup(num);
    }
    if (json_is_boolean(v))
        return strdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

static int parse_kafka(ferry_config_t *cfg, const json_t *kafka, const char *name, char *errstr,
                       size_t errstr_size)
{
    const char *key;
    json_t *value;
    size_t n = json_object_size(kafka), i = 0;

    if (!json_is_object(kafka))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "%s: \"kafka\" must be an object of librdkafka properties", name);
    cfg->kafka_keys = calloc(n ? n : 1, sizeof(char *));
    cfg->kafka_values = calloc(n ? n : 1, sizeof(char *));
    if (!cfg->kafka_keys || !cfg->kafka_values)
        return FERRY_ENOMEM;
    json_object_foreach((json_t *)kafka, key, value) {
        char *text = scalar_text(value);
        if (!text)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "%s: \"kafka.%s\" must be a string, number or boolean", name, key);
        cfg->kafka_keys[i] = (char *)key;
        cfg->kafka_values[i] = text;
        cfg->nkafka = ++i;
    }
    return FERRY_OK;
}

static int parse_environments(ferry_config_t *cfg, const json_t *envs, const char *name,
                              char *errstr, size_t errstr_size)
{
    const char *key;
    json_t *value;
    size_t i = 0;

    if (!envs)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "%s: no \"environments\": declare at least one", name);
    if (!json_is_object(envs) || json_object_size(envs) == 0)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "%s: \"environments\" must be an object with at least one environment",
                          name);
    cfg->envs = calloc(json_object_size(envs), sizeof(env_entry_t));
    if (!cfg->envs)
        return FERRY_ENOMEM;
    json_object_foreach((json_t *)envs, key, value) {
        const json_t *store = json_is_object(value) ? json_object_get(value, "store") : NULL;
        const json_t *schema;
        const char *uri;
        const char *k2;
        json_t *v2;

        if (!json_is_string(store))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "%s: \"environments.%s.store\" is missing or not a string", name,
                              key);
        json_object_foreach(value, k2, v2) {
            (void)v2;
            if (strcmp(k2, "store") && strcmp(k2, "schema"))
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "%s: unknown key \"environments.%s.%s\"", name, key, k2);
        }
        uri = json_string_value(store);
        if ((schema = json_object_get(value, "schema")) &&
            (!json_is_string(schema) || !json_string_length(schema) ||
             json_string_length(schema) > 63))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "%s: \"environments.%s.schema\" must be a string of 1 to 63 "
                              "bytes",
                              name, key);
        if (schema && !strncmp(uri, "sqlite:", 7))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "%s: \"environments.%s.schema\": a sqlite: store has no schemas",
                              name, key);
        if (strncmp(uri, "sqlite:", 7) && strncmp(uri, "postgresql://", 13) &&
            strncmp(uri, "postgres://", 11))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "%s: \"environments.%s.store\": unknown store scheme in \"%s\" "
                              "(expected sqlite:PATH or postgresql://...)",
                              name, key, uri);
        if (!strncmp(uri, "sqlite:", 7) && uri[7] == '\0')
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "%s: \"environments.%s.store\": sqlite: needs a path", name, key);
        cfg->envs[i].name = (char *)key;
        cfg->envs[i].store = (char *)uri;
        cfg->envs[i].schema = schema ? (char *)json_string_value(schema) : NULL;
        cfg->nenvs = ++i;
    }
    qsort(cfg->envs, cfg->nenvs, sizeof(env_entry_t), env_cmp);
    return FERRY_OK;
}

/* One value against its setting: the type, an integer's range, a text's
 * length and allowed values. */
static int check_setting(const ferry_setting_t *st, const json_t *value, const char *name,
                         char *errstr, size_t errstr_size)
{
    if (st->type == FERRY_SETTING_INT) {
        if (!json_is_integer(value) || json_integer_value(value) < st->min ||
            json_integer_value(value) > st->max)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "%s: \"%s.%s\" must be an integer from %" PRId64 " to %" PRId64,
                              name, st->section, st->key, st->min, st->max);
        return FERRY_OK;
    }
    if (!json_is_string(value) || json_string_length(value) < (size_t)st->min ||
        json_string_length(value) > (size_t)st->max)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "%s: \"%s.%s\" must be a string of %" PRId64 " to %" PRId64 " bytes",
                          name, st->section, st->key, st->min, st->max);
    if (st->choices && !in_list(json_string_value(value), st->choices)) {
        char list[128] = "";
        for (const char *const *c = st->choices; *c; c++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                     c == st->choices ? "" : ", ", *c);
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s: \"%s.%s\" must be one of %s",
                          name, st->section, st->key, list);
    }
    return FERRY_OK;
}

/* The sections made of settings: objects whose every key is a setting of
 * the table with a value it accepts. */
static int parse_sections(const json_t *root, const char *name, char *errstr,
                          size_t errstr_size)
{
    for (size_t i = 0; i < sizeof(setting_sections) / sizeof(setting_sections[0]); i++) {
        const json_t *sec = json_object_get(root, setting_sections[i]);
        const char *key;
        json_t *value;
        int rc;

        if (!sec)
            continue;
        if (!json_is_object(sec))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s: \"%s\" must be an object",
                              name, setting_sections[i]);
        json_object_foreach((json_t *)sec, key, value) {
            const ferry_setting_t *st = find_setting(setting_sections[i], key);
            if (!st)
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "%s: unknown key \"%s.%s\"", name, setting_sections[i], key);
            if ((rc = check_setting(st, value, name, errstr, errstr_size)))
                return rc;
        }
    }
    return FERRY_OK;
}

/* What librdkafka requires of the worker's settings together: its messages
 * time out with the transaction (message.timeout.ms > linger.ms), and a
 * transaction may last the poll interval (max.poll.interval.ms, the
 * transaction timeout + 60000, >= session.timeout.ms). */
static int check_worker_timing(const ferry_config_t *cfg, const char *name, char *errstr,
                               size_t errstr_size)
{
    int64_t txn = ferry_config_int(cfg, "worker", "transaction_timeout_ms");

    if (ferry_config_int(cfg, "worker", "linger_ms") >= txn)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "%s: \"worker.linger_ms\" must be below \"worker.transaction_timeout_ms\""
                          " (%" PRId64 ")", name, txn);
    if (ferry_config_int(cfg, "worker", "session_timeout_ms") > txn + 60000)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "%s: \"worker.session_timeout_ms\" may exceed "
                          "\"worker.transaction_timeout_ms\" (%" PRId64 ") by 60000 at most",
                          name, txn);
    return FERRY_OK;
}

static int parse_root(ferry_config_t *cfg, const char *name, char *errstr, size_t errstr_size)
{
    const char *key;
    json_t *v;
    int rc;

    if (!json_is_object(cfg->root))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s: the top level must be an object",
                          name);
    json_object_foreach(cfg->root, key, v) {
        if (!in_list(key, top_keys))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s: unknown key \"%s\"", name,
                              key);
    }
    v = json_object_get(cfg->root, "kafka");
    if (v && (rc = parse_kafka(cfg, v, name, errstr, errstr_size)))
        return rc;
    if ((rc = parse_environments(cfg, json_object_get(cfg->root, "environments"), name, errstr,
                                 errstr_size)))
        return rc;
    if ((rc = parse_sections(cfg->root, name, errstr, errstr_size)))
        return rc;
    cfg->topics[FERRY_TOPIC_REQUESTS] = ferry_config_str(cfg, "topics", "requests");
    cfg->topics[FERRY_TOPIC_STATUS] = ferry_config_str(cfg, "topics", "status");
    cfg->topics[FERRY_TOPIC_SCHEDULES] = ferry_config_str(cfg, "topics", "schedules");
    cfg->topics[FERRY_TOPIC_DLQ] = ferry_config_str(cfg, "topics", "dlq");
    cfg->records_prefix = ferry_config_str(cfg, "topics", "records_prefix");
    cfg->partitions = (int)ferry_config_int(cfg, "topics", "partitions");
    cfg->replication = (int)ferry_config_int(cfg, "topics", "replication_factor");
    if ((rc = check_worker_timing(cfg, name, errstr, errstr_size)))
        return rc;
    v = json_object_get(cfg->root, "catalog");
    if (v && !json_is_string(v))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s: \"catalog\" must be a path",
                          name);
    cfg->catalog = strdup(v ? json_string_value(v) : FERRY_DATA_DIR "/catalog/preset.json");
    return cfg->catalog ? FERRY_OK : FERRY_ENOMEM;
}

static ferry_config_t *config_alloc(void)
{
    return calloc(1, sizeof(ferry_config_t));
}

static int config_finish(ferry_config_t *cfg, const char *name, ferry_config_t **out,
                         char *errstr, size_t errstr_size)
{
    int rc = parse_root(cfg, name, errstr, errstr_size);
    if (rc) {
        if (rc == FERRY_ENOMEM)
            ferry_errf(errstr, errstr_size, rc, "%s: out of memory", name);
        ferry_config_destroy(cfg);
        return rc;
    }
    *out = cfg;
    return FERRY_OK;
}

int ferry_config_parse(const char *text, const char *name, ferry_config_t **out, char *errstr,
                       size_t errstr_size)
{
    json_error_t jerr;
    ferry_config_t *cfg = config_alloc();

    *out = NULL;
    if (!cfg)
        return FERRY_ENOMEM;
    cfg->root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!cfg->root) {
        ferry_config_destroy(cfg);
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s:%d:%d: malformed JSON: %s",
                          name, jerr.line, jerr.column, jerr.text);
    }
    return config_finish(cfg, name, out, errstr, errstr_size);
}

int ferry_config_load(const char *path, ferry_config_t **out, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    ferry_config_t *cfg;
    FILE *f;

    *out = NULL;
    f = fopen(path, "r");
    if (!f)
        return ferry_errf(errstr, errstr_size, errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
                          "%s: cannot open the configuration file: %s", path, strerror(errno));
    cfg = config_alloc();
    if (!cfg) {
        fclose(f);
        return FERRY_ENOMEM;
    }
    cfg->root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!cfg->root) {
        ferry_config_destroy(cfg);
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s:%d:%d: malformed JSON: %s",
                          path, jerr.line, jerr.column, jerr.text);
    }
    return config_finish(cfg, path, out, errstr, errstr_size);
}

void ferry_config_destroy(ferry_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nkafka; i++)
        free(cfg->kafka_values[i]);
    free(cfg->kafka_values);
    free(cfg->kafka_keys);
    free(cfg->envs);
    free(cfg->catalog);
    json_decref(cfg->root);
    free(cfg);
}

size_t ferry_config_kafka_count(const ferry_config_t *cfg) { return cfg->nkafka; }
const char *ferry_config_kafka_key(const ferry_config_t *cfg, size_t i) { return cfg->kafka_keys[i]; }
const char *ferry_config_kafka_value(const ferry_config_t *cfg, size_t i) { return cfg->kafka_values[i]; }
size_t ferry_config_env_count(const ferry_config_t *cfg) { return cfg->nenvs; }
const char *ferry_config_env_name(const ferry_config_t *cfg, size_t i) { return cfg->envs[i].name; }
const char *ferry_config_topic(const ferry_config_t *cfg, ferry_topic_t t) { return cfg->topics[t]; }
int ferry_config_partitions(const ferry_config_t *cfg) { return cfg->partitions; }
int ferry_config_replication(const ferry_config_t *cfg) { return cfg->replication; }
const char *ferry_config_catalog_path(const ferry_config_t *cfg) { return cfg->catalog; }

static const env_entry_t *find_env(const ferry_config_t *cfg, const char *name)
{
    env_entry_t key = {(char *)name, NULL, NULL};

    return name ? bsearch(&key, cfg->envs, cfg->nenvs, sizeof(env_entry_t), env_cmp) : NULL;
}

const char *ferry_config_env_store(const ferry_config_t *cfg, const char *name)
{
    const env_entry_t *e = find_env(cfg, name);
    return e ? e->store : NULL;
}

const char *ferry_config_env_schema(const ferry_config_t *cfg, const char *name)
{
    const env_entry_t *e = find_env(cfg, name);
    return e ? e->schema : NULL;
}

int ferry_config_records_topic(const ferry_config_t *cfg, const char *target, char *out,
                               size_t out_size)
{
    int n = snprintf(out, out_size, "%s%s", cfg->records_prefix, target);

    if (n < 0 || (size_t)n >= out_size || n > 249)
        return FERRY_EINVAL;
    /* Kafka topic names: [a-zA-Z0-9._-] only. */
    for (const char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return FERRY_EINVAL;
    return FERRY_OK;
}

static const json_t *section_value(const ferry_config_t *cfg, const char *section,
                                   const char *key)
{
    const json_t *sec = json_object_get(cfg->root, section);
    return sec ? json_object_get(sec, key) : NULL;
}

int64_t ferry_config_int(const ferry_config_t *cfg, const char *section, const char *key)
{
    const ferry_setting_t *st = find_setting(section, key);
    const json_t *v = section_value(cfg, section, key);

    assert(st && st->type == FERRY_SETTING_INT);
    if (!st)
        return 0;
    /* parse_sections accepted only integers here */
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : st->int_default;
}

const char *ferry_config_str(const ferry_config_t *cfg, const char *section, const char *key)
{
    const ferry_setting_t *st = find_setting(section, key);
    const json_t *v = section_value(cfg, section, key);

    assert(st && st->type == FERRY_SETTING_TEXT);
    if (!st)
        return "";
    return json_is_string(v) ? json_string_value(v) : st->text_default;
}
