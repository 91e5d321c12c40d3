/* test_config.c - the configuration file: pass-through of "kafka", environments
 * and their store URIs, topic settings, and errors that name file and key. */
#include "config.h"
#include "error.h"
#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *good =
    "{ \"kafka\": { \"bootstrap.servers\": \"127.0.0.1:9092\", \"linger.ms\": 5,"
    "              \"enable.idempotence\": true },"
    "  \"environments\": { \"prod\": { \"store\": \"sqlite:/var/lib/ferry/prod.db\" },"
    "                      \"dev\":  { \"store\": \"sqlite:/var/lib/ferry/dev.db\" } },"
    "  \"topics\": { \"requests\": \"r\", \"partitions\": 3 },"
    "  \"worker\": { \"transaction_timeout_ms\": 120000 } }";

START_TEST(test_parse_good_config)
{
    ferry_config_t *cfg = NULL;
    char err[256] = "";
    char topic[64];

    ck_assert_int_eq(ferry_config_parse(good, "good.json", &cfg, err, sizeof(err)), FERRY_OK);
    ck_assert_uint_eq(ferry_config_kafka_count(cfg), 3);
    ck_assert_str_eq(ferry_config_kafka_key(cfg, 0), "bootstrap.servers");
    ck_assert_str_eq(ferry_config_kafka_value(cfg, 0), "127.0.0.1:9092");
    ck_assert_str_eq(ferry_config_kafka_value(cfg, 1), "5");
    ck_assert_str_eq(ferry_config_kafka_value(cfg, 2), "true");
    ck_assert_uint_eq(ferry_config_env_count(cfg), 2);
    ck_assert_str_eq(ferry_config_env_name(cfg, 0), "dev");
    ck_assert_str_eq(ferry_config_env_store(cfg, "prod"), "sqlite:/var/lib/ferry/prod.db");
    ck_assert_ptr_null(ferry_config_env_store(cfg, "staging"));
    ck_assert_str_eq(ferry_config_topic(cfg, FERRY_TOPIC_REQUESTS), "r");
    ck_assert_str_eq(ferry_config_topic(cfg, FERRY_TOPIC_STATUS), "ferry.status");
    ck_assert_int_eq(ferry_config_partitions(cfg), 3);
    ck_assert_int_eq(ferry_config_replication(cfg), 1);
    ck_assert_int_eq(ferry_config_records_topic(cfg, "prod", topic, sizeof(topic)), FERRY_OK);
    ck_assert_str_eq(topic, "ferry.records.prod");
    ck_assert_int_eq(ferry_config_records_topic(cfg, "pr od", topic, sizeof(topic)), FERRY_EINVAL);
    ck_assert_int_eq(ferry_config_int(cfg, "worker", "transaction_timeout_ms"), 120000);
    /* absent: the settings table's default (README's, test_readme_states_every_setting) */
    ck_assert_int_eq(ferry_config_int(cfg, "worker", "linger_ms"), 20);
    ck_assert_str_eq(ferry_config_str(cfg, "worker", "compression"), "lz4");
    ck_assert_ptr_nonnull(strstr(ferry_config_catalog_path(cfg), "catalog/preset.json"));
    ferry_config_destroy(cfg);
}
END_TEST

/* Each bad configuration must fail with the right code and a message that
 * names the file and the offending key or problem. */
static const struct {
    const char *text;
    int err;
    const char *expect; /* substring of the message */
} bad[] = {
    {"{ \"environments\": ", FERRY_EINVAL, "malformed JSON"},
    {"[]", FERRY_EINVAL, "top level"},
    {"{ \"kafka\": {} }", FERRY_EINVAL, "no \"environments\""},
    {"{ \"environments\": {} }", FERRY_EINVAL, "at least one environment"},
    {"{ \"environments\": { \"dev\": { \"store\": \"mysql://x\" } } }", FERRY_EINVAL,
     "unknown store scheme"},
    {"{ \"environments\": { \"dev\": { } } }", FERRY_EINVAL, "environments.dev.store"},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:\" } } }", FERRY_EINVAL, "needs a path"},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\", \"x\": 1 } } }", FERRY_EINVAL,
     "environments.dev.x"},
    {"{ \"environmentz\": {} }", FERRY_EINVAL, "unknown key \"environmentz\""},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\" } }, \"kafka\": 3 }", FERRY_EINVAL,
     "\"kafka\" must be an object"},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\" } }, \"kafka\": {\"a\": [1]} }",
     FERRY_EINVAL, "kafka.a"},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\" } }, \"worker\": {\"grup_id\": "
     "\"x\"} }",
     FERRY_EINVAL, "worker.grup_id"},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\" } }, \"worker\": "
     "{\"rows_message_bytes\": 0} }",
     FERRY_EINVAL, "\"worker.rows_message_bytes\" must be an integer from 1 to 8388608"},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\" } }, \"worker\": "
     "{\"rows_message_bytes\": 8388609} }",
     FERRY_EINVAL, "\"worker.rows_message_bytes\" must be an integer from 1 to 8388608"},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\" } }, \"worker\": "
     "{\"rows_message_bytes\": \"64k\"} }",
     FERRY_EINVAL, "\"worker.rows_message_bytes\" must be an integer from 1 to 8388608"},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\" } }, \"topics\": {\"partitions\": "
     "0} }",
     FERRY_EINVAL, "topics.partitions"},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\" }, \"dev\": { \"store\": "
     "\"sqlite:b\" } } }",
     FERRY_EINVAL, "malformed JSON"},
    {"{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\", \"schema\": \"app\" } } }",
     FERRY_EINVAL, "\"environments.dev.schema\": a sqlite: store has no schemas"},
    {"{ \"environments\": { \"dev\": { \"store\": \"postgresql://h/db\", \"schema\": \"\" } } }",
     FERRY_EINVAL, "\"environments.dev.schema\" must be a string of 1 to 63 bytes"},
    {"{ \"environments\": { \"dev\": { \"store\": \"postgresql://h/db\", \"schema\": 3 } } }",
     FERRY_EINVAL, "\"environments.dev.schema\" must be a string"},
};

/* An environment is one schema of one database: the "schema" key, NULL when
 * absent (the store's default), for postgresql:// and postgres:// stores. */
START_TEST(test_environment_schema)
{
    ferry_config_t *cfg = NULL;
    char err[256] = "";

    ck_assert_msg(ferry_config_parse("{ \"environments\": {"
                                     " \"a\": { \"store\": \"postgresql://u@h/db\", \"schema\": \"app\" },"
                                     " \"b\": { \"store\": \"postgres://u@h/db\" },"
                                     " \"c\": { \"store\": \"sqlite:c.db\" } } }",
                                     "s.json", &cfg, err, sizeof(err)) == FERRY_OK,
                  "%s", err);
    ck_assert_str_eq(ferry_config_env_schema(cfg, "a"), "app");
    ck_assert_ptr_null(ferry_config_env_schema(cfg, "b"));
    ck_assert_ptr_null(ferry_config_env_schema(cfg, "c"));
    ck_assert_ptr_null(ferry_config_env_schema(cfg, "nope"));
    ck_assert_str_eq(ferry_config_env_store(cfg, "b"), "postgres://u@h/db");
    ferry_config_destroy(cfg);
}
END_TEST

/* A bad text setting is refused naming the key. */
static const struct {
    const char *section, *key, *value, *says;
} bad_texts[] = {
    {"worker", "compression", "\"lzma\"", "\"worker.compression\" must be one of none, gzip, "
                                         "snappy, lz4, zstd"},
    {"worker", "group_id", "\"\"", "\"worker.group_id\" must be a string of 1 to"},
    {"worker", "group_id", "7", "\"worker.group_id\" must be a string"},
    {"topics", "requests", "\"\"", "\"topics.requests\" must be a string of 1 to"},
    {"importer", "group_id_prefix", "null", "\"importer.group_id_prefix\" must be a string"},
};

static int parse_with(const char *section, const char *key, const char *value, char *err,
                      size_t err_size)
{
    char text[512];
    ferry_config_t *cfg = NULL;
    int rc;

    /* The longest transaction, so that no worker key meets the limits they
     * have together (test_worker_timing_checked_together). */
    int longest = !strcmp(section, "worker") && strcmp(key, "transaction_timeout_ms");

    snprintf(text, sizeof(text),
             "{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\" } }, \"%s\": "
             "{ %s\"%s\": %s } }",
             section, longest ? "\"transaction_timeout_ms\": 3600000, " : "", key, value);
    rc = ferry_config_parse(text, "r.json", &cfg, err, err_size);
    ferry_config_destroy(cfg);
    return rc;
}

/* Worker settings librdkafka refuses together, refused at load naming both
 * keys; their limits accepted. */
static const struct {
    const char *worker;
    int err;
    const char *says;
} timings[] = {
    {"{\"linger_ms\": 10000}", FERRY_EINVAL, "\"worker.linger_ms\" must be below"},
    {"{\"linger_ms\": 9999}", 0, NULL},
    {"{\"transaction_timeout_ms\": 1000, \"linger_ms\": 1000}", FERRY_EINVAL,
     "\"worker.transaction_timeout_ms\" (1000)"},
    {"{\"transaction_timeout_ms\": 1000, \"session_timeout_ms\": 61001}", FERRY_EINVAL,
     "\"worker.session_timeout_ms\" may exceed"},
    {"{\"transaction_timeout_ms\": 1000, \"session_timeout_ms\": 61000}", 0, NULL},
};

START_TEST(test_worker_timing_checked_together)
{
    char text[512], err[512] = "";
    ferry_config_t *cfg = NULL;
    int rc;

    snprintf(text, sizeof(text),
             "{ \"environments\": { \"dev\": { \"store\": \"sqlite:a\" } }, \"worker\": %s }",
             timings[_i].worker);
    rc = ferry_config_parse(text, "t.json", &cfg, err, sizeof(err));
    ck_assert_msg(rc == timings[_i].err, "%s: %d %s", timings[_i].worker, rc, err);
    ck_assert_msg(!timings[_i].says || (strstr(err, timings[_i].says) && strstr(err, "t.json")),
                  "%s: '%s'", timings[_i].worker, err);
    ferry_config_destroy(cfg);
}
END_TEST

/* Every integer setting's range (as README states it: test_readme_states_
 * every_setting): the bounds are accepted, one past either bound and a
 * string are refused, naming the key and range. */
START_TEST(test_integer_keys_are_range_checked)
{
    size_t n;
    const ferry_setting_t *st = ferry_config_settings(&n);
    int checked = 0;

    for (size_t i = 0; i < n; i++, st++) {
        char value[64], want[160], err[512];
        long long min = st->min, max = st->max, bad_numbers[3] = {min - 1, max + 1, min};

        if (st->type != FERRY_SETTING_INT)
            continue;
        checked++;
        snprintf(value, sizeof(value), "%lld", min);
        ck_assert_msg(parse_with(st->section, st->key, value, err, sizeof(err)) == 0, "%s", err);
        snprintf(value, sizeof(value), "%lld", max);
        ck_assert_msg(parse_with(st->section, st->key, value, err, sizeof(err)) == 0, "%s", err);
        snprintf(want, sizeof(want), "\"%s.%s\" must be an integer from %lld to %lld",
                 st->section, st->key, min, max);
        for (int b = 0; b < 3; b++) {
            /* below, above, and the lower bound as a string */
            snprintf(value, sizeof(value), b == 2 ? "\"%lld\"" : "%lld", bad_numbers[b]);
            ck_assert_int_eq(parse_with(st->section, st->key, value, err, sizeof(err)),
                             FERRY_EINVAL);
            ck_assert_msg(strstr(err, want) && strstr(err, "r.json"), "%s = %s: '%s'", st->key,
                          value, err);
        }
    }
    ck_assert_int_ge(checked, 10);
}
END_TEST

START_TEST(test_text_keys_are_checked)
{
    char err[512] = "";

    ck_assert_int_eq(parse_with(bad_texts[_i].section, bad_texts[_i].key, bad_texts[_i].value,
                                err, sizeof(err)),
                     FERRY_EINVAL);
    ck_assert_msg(strstr(err, bad_texts[_i].says) && strstr(err, "r.json"), "'%s'", err);
}
END_TEST

/* The column of a README table row ("| a | b | c |"), trimmed, into out. */
static int readme_column(const char *line, int col, char *out, size_t out_size)
{
    const char *p = line;
    for (int c = 0; c <= col; c++) {
        p = strchr(p, '|');
        if (!p)
            return 0;
        p++;
    }
    const char *end = strchr(p, '|');
    if (!end)
        return 0;
    while (p < end && *p == ' ')
        p++;
    while (end > p && end[-1] == ' ')
        end--;
    snprintf(out, out_size, "%.*s", (int)(end - p), p);
    return 1;
}

/* README's configuration table states each setting of the table exactly
 * once, with its default, an integer's range as "MIN to MAX" and a text's
 * allowed values; and it names no setting of these sections that the table
 * lacks. */
START_TEST(test_readme_states_every_setting)
{
    char path[1024], line[2048];
    size_t n;
    const ferry_setting_t *settings = ferry_config_settings(&n);
    int *seen = calloc(n, sizeof(int));
    const char *src = getenv("FERRY_SOURCE_DIR");
    FILE *f;

    ck_assert_ptr_nonnull(src);
    snprintf(path, sizeof(path), "%s/README.md", src);
    ck_assert_ptr_nonnull(f = fopen(path, "r"));
    while (fgets(line, sizeof(line), f)) {
        char key[128], dflt[256], meaning[1024], want[128];
        const ferry_setting_t *st = NULL;
        size_t i;

        if (strncmp(line, "| `", 3) || !readme_column(line, 0, key, sizeof(key)) ||
            !readme_column(line, 1, dflt, sizeof(dflt)) ||
            !readme_column(line, 2, meaning, sizeof(meaning)))
            continue;
        for (i = 0; i < n && !st; i++) {
            snprintf(want, sizeof(want), "`%s.%s`", settings[i].section, settings[i].key);
            if (!strcmp(key, want))
                st = &settings[i];
        }
        if (!st) {
            /* a row of another table, or a key outside the settings' sections */
            ck_assert_msg(strncmp(key, "`worker.", 8) && strncmp(key, "`importer.", 10) &&
                              strncmp(key, "`scheduler.", 11) && strncmp(key, "`topics.", 8),
                          "README names %s, which ferry does not have", key);
            continue;
        }
        seen[i - 1]++;
        if (st->type == FERRY_SETTING_INT) {
            snprintf(want, sizeof(want), "%lld", (long long)st->int_default);
            ck_assert_msg(!strcmp(dflt, want), "%s: README says %s, ferry %s", key, dflt, want);
            snprintf(want, sizeof(want), "%lld to %lld", (long long)st->min, (long long)st->max);
            ck_assert_msg(strstr(meaning, want), "%s: README does not give the range %s", key,
                          want);
        } else {
            snprintf(want, sizeof(want), "`%s`", st->text_default);
            ck_assert_msg(!strcmp(dflt, want), "%s: README says %s, ferry %s", key, dflt, want);
            for (const char *const *c = st->choices; c && *c; c++) {
                snprintf(want, sizeof(want), "`%s`", *c);
                ck_assert_msg(strstr(meaning, want), "%s: README does not list %s", key, want);
            }
        }
    }
    fclose(f);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(seen[i] == 1, "README states %s.%s %d times", settings[i].section,
                      settings[i].key, seen[i]);
    free(seen);
}
END_TEST

START_TEST(test_bad_config_names_file_and_key)
{
    ferry_config_t *cfg = (ferry_config_t *)1;
    char err[512] = "";
    int rc = ferry_config_parse(bad[_i].text, "bad.json", &cfg, err, sizeof(err));

    ck_assert_int_eq(rc, bad[_i].err);
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strstr(err, "bad.json") != NULL, "message does not name the file: %s", err);
    ck_assert_msg(strstr(err, bad[_i].expect) != NULL, "case %d: expected \"%s\" in \"%s\"", _i,
                  bad[_i].expect, err);
}
END_TEST

START_TEST(test_missing_file_is_not_found)
{
    ferry_config_t *cfg = NULL;
    char err[256] = "";

    ck_assert_int_eq(ferry_config_load("/nonexistent/ferry.json", &cfg, err, sizeof(err)),
                     FERRY_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/ferry.json"));
}
END_TEST

START_TEST(test_load_from_file_reports_line)
{
    char path[] = "/tmp/ferry-config-XXXXXX";
    int fd = mkstemp(path);
    ferry_config_t *cfg = NULL;
    char err[256] = "";

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "{\n \"environments\": {\n  \"dev\": ]\n}", 33), 33);
    close(fd);
    ck_assert_int_eq(ferry_config_load(path, &cfg, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, ":3:"));
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");

    tcase_add_test(tc, test_parse_good_config);
    tcase_add_test(tc, test_environment_schema);
    tcase_add_loop_test(tc, test_worker_timing_checked_together, 0,
                        sizeof(timings) / sizeof(timings[0]));
    tcase_add_test(tc, test_integer_keys_are_range_checked);
    tcase_add_loop_test(tc, test_text_keys_are_checked, 0,
                        (int)(sizeof(bad_texts) / sizeof(bad_texts[0])));
    tcase_add_test(tc, test_readme_states_every_setting);
    tcase_add_loop_test(tc, test_bad_config_names_file_and_key, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_missing_file_is_not_found);
    tcase_add_test(tc, test_load_from_file_reports_line);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
