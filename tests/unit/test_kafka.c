/* test_kafka.c - the librdkafka helpers that need no broker: the startup
 * warning for SASL/SCRAM with a librdkafka too old for Kafka 4, the
 * bootstrap address that error messages name, and the client constructors
 * (which properties win, and failures that leave nothing behind). */
#include "config.h"
#include "error.h"
#include "kafka.h"
#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

/* Each row: the "kafka" section's SASL pair (none when key is NULL), the
 * librdkafka version, and whether ferry must warn. */
static const struct {
    const char *key;
    const char *mechanism;
    int version;
    int warns;
} scram[] = {
    {"sasl.mechanism", "SCRAM-SHA-256", 0x020002ff, 1},  /* Debian 12's 2.0.2 */
    {"sasl.mechanism", "scram-sha-512", 0x020002ff, 1},  /* case does not matter */
    {"sasl.mechanisms", "SCRAM-SHA-512", 0x020002ff, 1}, /* librdkafka's alias */
    {"sasl.mechanism", "SCRAM-SHA-512", 0x020600ff, 1},  /* 2.6.0 */
    {"sasl.mechanism", "SCRAM-SHA-512", 0x020601fe, 1},  /* a 2.6.1 pre-release */
    {"sasl.mechanism", "SCRAM-SHA-512", 0x020601ff, 0},  /* 2.6.1, the fix */
    {"sasl.mechanism", "scram-sha-256", 0x020800ff, 0},  /* Debian 13's 2.8.0 */
    {"sasl.mechanism", "PLAIN", 0x020002ff, 0},
    {"sasl.mechanism", "GSSAPI", 0x020002ff, 0},
    {NULL, NULL, 0x020002ff, 0}, /* no SASL at all */
};

START_TEST(test_scram_warning_names_both_versions)
{
    char text[512], warning[512], err[256] = "";
    ferry_config_t *cfg = NULL;

    if (scram[_i].key)
        snprintf(text, sizeof(text),
                 "{ \"kafka\": { \"bootstrap.servers\": \"b:9092\", \"%s\": \"%s\" },"
                 "  \"environments\": { \"dev\": { \"store\": \"sqlite:/tmp/dev.db\" } } }",
                 scram[_i].key, scram[_i].mechanism);
    else
        snprintf(text, sizeof(text),
                 "{ \"environments\": { \"dev\": { \"store\": \"sqlite:/tmp/dev.db\" } } }");
    ck_assert_int_eq(ferry_config_parse(text, "scram.json", &cfg, err, sizeof(err)), 0);
    memset(warning, 'x', sizeof(warning));
    ck_assert_int_eq(ferry_kafka_scram_warning(cfg, scram[_i].version, warning, sizeof(warning)),
                     scram[_i].warns);
    if (scram[_i].warns) {
        char linked[32];
        snprintf(linked, sizeof(linked), "librdkafka %d.%d.%d", (scram[_i].version >> 24) & 0xff,
                 (scram[_i].version >> 16) & 0xff, (scram[_i].version >> 8) & 0xff);
        ck_assert_msg(strstr(warning, linked), "\"%s\" does not name %s", warning, linked);
        ck_assert_msg(strstr(warning, "2.6.1"), "\"%s\" does not name 2.6.1", warning);
        ck_assert_msg(strstr(warning, scram[_i].mechanism), "\"%s\" does not name %s", warning,
                      scram[_i].mechanism);
    } else {
        ck_assert_str_eq(warning, "");
    }
    ferry_config_destroy(cfg);
}
END_TEST

/* An error about an unreachable cluster must say which address was tried. */
START_TEST(test_bootstrap_is_named)
{
    char why[256], servers[256];
    rd_kafka_t *rk;

    ck_assert_int_eq(ferry_kafka_producer_new(NULL, FERRY_KAFKA_PLAIN, NULL, NULL, &rk, why,
                                              sizeof(why), "bootstrap.servers",
                                              "127.0.0.1:1,127.0.0.2:2", NULL),
                     0);
    ck_assert_str_eq(ferry_kafka_bootstrap(rk, servers, sizeof(servers)),
                     "127.0.0.1:1,127.0.0.2:2");
    rd_kafka_destroy(rk);

    ck_assert_int_eq(
        ferry_kafka_producer_new(NULL, FERRY_KAFKA_PLAIN, NULL, NULL, &rk, why, sizeof(why), NULL),
        0);
    ck_assert_str_eq(ferry_kafka_bootstrap(rk, servers, sizeof(servers)), "(not set)");
    rd_kafka_destroy(rk);
}
END_TEST

/* The configuration every constructor is given: "kafka" pairs that the
 * client kinds' fixed settings and the callers' extra pairs must override. */
static const char *const client_config =
    "{ \"kafka\": { \"bootstrap.servers\": \"127.0.0.1:1\", \"client.rack\": \"r1\","
    "             \"linger.ms\": \"7\", \"enable.idempotence\": \"false\","
    "             \"enable.auto.commit\": \"true\", \"group.id\": \"from-config\" },"
    "  \"environments\": { \"dev\": { \"store\": \"sqlite:/tmp/dev.db\" } } }";

enum client_kind { PLAIN, IDEMPOTENT, TRANSACTIONAL, CONSUMER, READER };

/* Each row: a kind of client, and a property with the value it must end with. */
static const struct {
    enum client_kind kind;
    const char *key;
    const char *value;
} props[] = {
    {PLAIN, "client.rack", "r1"},           /* the config's pairs reach every client */
    {PLAIN, "linger.ms", "1"},              /* an extra pair overrides the config's */
    {PLAIN, "enable.idempotence", "false"}, /* a plain producer keeps the config's */
    {IDEMPOTENT, "enable.idempotence", "true"},
    {IDEMPOTENT, "client.rack", "r1"},
    {TRANSACTIONAL, "transactional.id", "txn-1"},
    {TRANSACTIONAL, "linger.ms", "1"},
    {CONSUMER, "group.id", "the-group"},
    {CONSUMER, "enable.auto.commit", "false"},
    {CONSUMER, "client.rack", "r1"},
    {CONSUMER, "session.timeout.ms", "7000"},
    {READER, "group.id", "the-group"},
    {READER, "enable.auto.commit", "false"},
    {READER, "session.timeout.ms", "7000"},
};

/* A client of kind built from client_config, with one extra pair each. */
static int make_client(enum client_kind kind, const ferry_config_t *cfg, void *opaque,
                       rd_kafka_t **rk, char *why, size_t why_size)
{
    ferry_kafka_callbacks_t cb = {.opaque = opaque};

    switch (kind) {
    case PLAIN:
        return ferry_kafka_producer_new(cfg, FERRY_KAFKA_PLAIN, NULL, &cb, rk, why, why_size,
                                        "linger.ms", "1", NULL);
    case IDEMPOTENT:
        return ferry_kafka_producer_new(cfg, FERRY_KAFKA_IDEMPOTENT, NULL, &cb, rk, why,
                                        why_size, "linger.ms", "1", NULL);
    case TRANSACTIONAL:
        /* The config's enable.idempotence=false would refuse a transactional
         * producer: the caller overrides it. */
        return ferry_kafka_producer_new(cfg, FERRY_KAFKA_TRANSACTIONAL, "txn-1", &cb, rk, why,
                                        why_size, "enable.idempotence", "true", "linger.ms", "1",
                                        NULL);
    case CONSUMER:
        return ferry_kafka_consumer_new(cfg, FERRY_KAFKA_MEMBER, "the-group", &cb, rk, why,
                                        why_size, "session.timeout.ms", "7000", NULL);
    case READER:
        return ferry_kafka_consumer_new(cfg, FERRY_KAFKA_READER, "the-group", NULL, rk, why,
                                        why_size, "session.timeout.ms", "7000", NULL);
    }
    return FERRY_EINVAL;
}

START_TEST(test_constructor_settings_win_in_order)
{
    char err[256] = "", value[256];
    size_t len = sizeof(value);
    ferry_config_t *cfg = NULL;
    rd_kafka_t *rk = NULL;
    int opaque;

    ck_assert_int_eq(ferry_config_parse(client_config, "clients.json", &cfg, err, sizeof(err)),
                     0);
    ck_assert_msg(make_client(props[_i].kind, cfg, &opaque, &rk, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(rd_kafka_conf_get(rd_kafka_conf(rk), props[_i].key, value, &len),
                     RD_KAFKA_CONF_OK);
    ck_assert_msg(!strcmp(value, props[_i].value), "%s is \"%s\", not \"%s\"", props[_i].key,
                  value, props[_i].value);
    if (props[_i].kind != READER)
        ck_assert_ptr_eq(rd_kafka_opaque(rk), &opaque);
    rd_kafka_destroy(rk);
    ferry_config_destroy(cfg);
}
END_TEST

/* A failed construction returns no client and leaks nothing (the sanitizer
 * pass checks the latter): a property librdkafka refuses is named, and a
 * configuration it refuses as a whole is FERRY_EKAFKA with its reason. */
START_TEST(test_constructor_failures_leave_nothing)
{
    char err[256] = "";
    rd_kafka_t *rk = (rd_kafka_t *)&err;

    ck_assert_int_eq(ferry_kafka_consumer_new(NULL, FERRY_KAFKA_MEMBER, "g", NULL, &rk, err,
                                              sizeof(err), "no.such.property", "1", NULL),
                     FERRY_EINVAL);
    ck_assert_ptr_null(rk);
    ck_assert_msg(strstr(err, "no.such.property"), "\"%s\" does not name the property", err);

    rk = (rd_kafka_t *)&err;
    ck_assert_int_eq(ferry_kafka_producer_new(NULL, FERRY_KAFKA_TRANSACTIONAL, "txn-1", NULL, &rk,
                                              err, sizeof(err), "enable.idempotence", "false",
                                              NULL),
                     FERRY_EKAFKA);
    ck_assert_ptr_null(rk);
    ck_assert_str_ne(err, "");

    rk = (rd_kafka_t *)&err;
    ck_assert_int_eq(ferry_kafka_producer_new(NULL, FERRY_KAFKA_TRANSACTIONAL, NULL, NULL, &rk,
                                              err, sizeof(err), NULL),
                     FERRY_EINVAL);
    ck_assert_ptr_null(rk);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka");
    TCase *tc = tcase_create("kafka");

    tcase_add_loop_test(tc, test_scram_warning_names_both_versions, 0,
                        (int)(sizeof(scram) / sizeof(scram[0])));
    tcase_add_test(tc, test_bootstrap_is_named);
    tcase_add_loop_test(tc, test_constructor_settings_win_in_order, 0,
                        (int)(sizeof(props) / sizeof(props[0])));
    tcase_add_test(tc, test_constructor_failures_leave_nothing);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
