/* test_kafka_read.c - lib/kafka's helpers for the end of a topic, on the real
 * broker: ferry_kafka_read_to_end reads what a partition holds when it is
 * called, no less and no more (`ferry-producer schedule list`), and
 * ferry_kafka_end_offsets places every partition at its end (`--wait`). */
#include "error.h"
#include "it_util.h"
#include "kafka.h"
#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The values read_to_end handed over, in order. */
typedef struct seen {
    char values[16][16];
    int64_t offsets[16];
    size_t n;
} seen_t;

static void collect(const rd_kafka_message_t *m, void *arg)
{
    seen_t *s = arg;

    ck_assert_uint_lt(s->n, 16);
    snprintf(s->values[s->n], sizeof(s->values[s->n]), "%.*s", (int)m->len,
             (const char *)m->payload);
    s->offsets[s->n++] = m->offset;
}

static rd_kafka_t *reader(const char *eof)
{
    char *group = it_unique("it.read.group");
    char err[512] = "";
    rd_kafka_t *rk = NULL;

    ck_assert_msg(ferry_kafka_consumer_new(NULL, FERRY_KAFKA_READER, group, NULL, &rk, err,
                                           sizeof(err), "bootstrap.servers", it_bootstrap(),
                                           "enable.partition.eof", eof, NULL) == 0,
                  "%s", err);
    free(group);
    return rk;
}

/* Without EOF reports the end is the high watermark found on entry: every
 * message there, in order, then it returns, even though more arrive. */
START_TEST(test_read_to_end_reads_what_was_there)
{
    char *topic = it_unique("it.read.some");
    char err[512] = "", value[32];
    seen_t seen = {0};
    rd_kafka_t *rk;

    it_create_topic(topic, 1, 0);
    for (int i = 0; i < 5; i++) {
        snprintf(value, sizeof(value), "m%d", i);
        it_produce(topic, "k", value, strlen(value));
    }
    rk = reader("false");
    ck_assert_msg(ferry_kafka_read_to_end(rk, topic, 0, 30000, collect, &seen, err,
                                          sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(seen.n, 5);
    for (int i = 0; i < (int)seen.n; i++) {
        snprintf(value, sizeof(value), "m%d", i);
        ck_assert_str_eq(seen.values[i], value);
        ck_assert_int_eq(seen.offsets[i], (int64_t)i);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(topic);
}
END_TEST

/* An empty partition is read at once, whether or not EOF is reported. */
START_TEST(test_read_to_end_of_empty_partition)
{
    char *topic = it_unique("it.read.empty");
    char err[512] = "";
    seen_t seen = {0};
    rd_kafka_t *rk;

    it_create_topic(topic, 1, 0);
    rk = reader(_i ? "true" : "false");
    ck_assert_msg(ferry_kafka_read_to_end(rk, topic, 0, 30000, collect, &seen, err,
                                          sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(seen.n, 0);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(topic);
}
END_TEST

/* Each partition is placed at its own high watermark. */
START_TEST(test_end_offsets_of_every_partition)
{
    char *topic = it_unique("it.read.ends");
    rd_kafka_topic_partition_list_t *parts = NULL;
    char err[512] = "";
    rd_kafka_t *rk = it_client(RD_KAFKA_PRODUCER, NULL), *r;
    const int64_t want[3] = {2, 0, 1};

    it_create_topic(topic, 3, 0);
    for (int32_t p = 0; p < 3; p++)
        for (int64_t i = 0; i < want[p]; i++)
            ck_assert_int_eq(ferry_kafka_produce(rk, topic, p, "k", 1, "v", 1, NULL, 0, 10000,
                                                 err, sizeof(err)),
                             0);
    ck_assert_msg(ferry_kafka_flush(rk, 30000, err, sizeof(err)) == 0, "%s", err);
    rd_kafka_destroy(rk);

    r = reader("false");
    ck_assert_msg(ferry_kafka_end_offsets(r, topic, 30000, &parts, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(parts->cnt, 3);
    for (int i = 0; i < parts->cnt; i++) {
        ck_assert_str_eq(parts->elems[i].topic, topic);
        ck_assert_int_eq(parts->elems[i].offset, want[parts->elems[i].partition]);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(r);
    free(topic);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_read");
    TCase *tc = tcase_create("kafka_read");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_read_to_end_reads_what_was_there);
    tcase_add_loop_test(tc, test_read_to_end_of_empty_partition, 0, 2);
    tcase_add_test(tc, test_end_offsets_of_every_partition);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
