/* test_kafka.c - the librdkafka helpers that need no broker: the startup
 * warning for SASL/SCRAM with a librdkafka too old for Kafka 4, and the
 * bootstrap address that error messages name. */
#include "config.h"
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
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk;

    ck_assert_int_eq(ferry_kafka_conf_new(NULL, &conf, why, sizeof(why), "bootstrap.servers",
                                          "127.0.0.1:1,127.0.0.2:2", NULL),
                     0);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    ck_assert_ptr_nonnull(rk);
    ck_assert_str_eq(ferry_kafka_bootstrap(rk, servers, sizeof(servers)),
                     "127.0.0.1:1,127.0.0.2:2");
    rd_kafka_destroy(rk);

    ck_assert_int_eq(ferry_kafka_conf_new(NULL, &conf, why, sizeof(why), NULL), 0);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    ck_assert_ptr_nonnull(rk);
    ck_assert_str_eq(ferry_kafka_bootstrap(rk, servers, sizeof(servers)), "(not set)");
    rd_kafka_destroy(rk);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka");
    TCase *tc = tcase_create("kafka");

    tcase_add_loop_test(tc, test_scram_warning_names_both_versions, 0,
                        (int)(sizeof(scram) / sizeof(scram[0])));
    tcase_add_test(tc, test_bootstrap_is_named);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
