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
    ck_assert_int_eq(ferry_config_int(cfg, "worker", "transaction_timeout_ms", 1), 120000);
    ck_assert_int_eq(ferry_config_int(cfg, "worker", "linger_ms", 7), 7);
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
};

/* Every integer key's range as README states it: the bounds are accepted,
 * one past either bound and a string are refused, naming the key and range. */
static const struct {
    const char *section, *key;
    long long min, max;
} ranges[] = {
    {"worker", "transaction_timeout_ms", 1000, 3600000},
    {"worker", "session_timeout_ms", 1000, 3600000},
    {"worker", "linger_ms", 0, 900000},
    {"worker", "batch_size", 1, 2147483647},
    {"worker", "rows_message_bytes", 1, 8388608},
    {"importer", "session_timeout_ms", 1000, 300000},
    {"scheduler", "session_timeout_ms", 1000, 300000},
    {"scheduler", "min_interval_ms", 1, 86400000},
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
    {"{\"linger_ms\": 300000}", FERRY_EINVAL, "\"worker.linger_ms\" must be below"},
    {"{\"linger_ms\": 299999}", 0, NULL},
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

START_TEST(test_integer_keys_are_range_checked)
{
    char value[64], want[160], err[512];
    long long bad_numbers[3] = {ranges[_i].min - 1, ranges[_i].max + 1, ranges[_i].min};

    snprintf(value, sizeof(value), "%lld", ranges[_i].min);
    ck_assert_msg(parse_with(ranges[_i].section, ranges[_i].key, value, err, sizeof(err)) == 0,
                  "%s", err);
    snprintf(value, sizeof(value), "%lld", ranges[_i].max);
    ck_assert_msg(parse_with(ranges[_i].section, ranges[_i].key, value, err, sizeof(err)) == 0,
                  "%s", err);
    snprintf(want, sizeof(want), "\"%s.%s\" must be an integer from %lld to %lld",
             ranges[_i].section, ranges[_i].key, ranges[_i].min, ranges[_i].max);
    for (int b = 0; b < 3; b++) {
        /* below, above, and the lower bound as a string */
        snprintf(value, sizeof(value), b == 2 ? "\"%lld\"" : "%lld", bad_numbers[b]);
        ck_assert_int_eq(parse_with(ranges[_i].section, ranges[_i].key, value, err, sizeof(err)),
                         FERRY_EINVAL);
        ck_assert_msg(strstr(err, want) && strstr(err, "r.json"), "%s = %s: '%s'",
                      ranges[_i].key, value, err);
    }
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
    tcase_add_loop_test(tc, test_worker_timing_checked_together, 0,
                        sizeof(timings) / sizeof(timings[0]));
    tcase_add_loop_test(tc, test_integer_keys_are_range_checked, 0,
                        sizeof(ranges) / sizeof(ranges[0]));
    tcase_add_loop_test(tc, test_bad_config_names_file_and_key, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_missing_file_is_not_found);
    tcase_add_test(tc, test_load_from_file_reports_line);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
