/* test_broker.c - what ferry needs from the broker, proven on the real one with
 * Debian's librdkafka: every compression codec we may enable, consumer groups
 * with committed offsets, the idempotent producer, and transactions (commit,
 * abort, send_offsets_to_transaction) read back with read_committed. */
#include "error.h"
#include "it_util.h"
#include "kafka.h"
#include "timeutil.h"
#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void produce_batch(rd_kafka_t *rk, const char *topic, const char *prefix, int n)
{
    char value[64], err[256] = "";

    for (int i = 0; i < n; i++) {
        snprintf(value, sizeof(value), "%s-%d", prefix, i);
        ck_assert_msg(ferry_kafka_produce(rk, topic, RD_KAFKA_PARTITION_UA, prefix,
                                          strlen(prefix), value, strlen(value), NULL, 0, 5000,
                                          err, sizeof(err)) == 0,
                      "%s", err);
    }
}

static int count_prefix(const it_msg_t *msgs, size_t n, const char *prefix)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += !strncmp(msgs[i].value, prefix, strlen(prefix));
    return c;
}

static void check_error(rd_kafka_error_t *error, const char *what)
{
    if (error) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: %s", what, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        ck_abort_msg("%s", msg);
    }
}

static const char *codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};

/* ferry_kafka_know_topic: a topic that exists gives a handle of that topic;
 * one that does not is an error naming it (after retrying for the timeout,
 * as a topic created a moment ago may have no leader yet). That the first
 * message then goes out without waiting for a metadata scan is a matter of
 * speed, shown by bench/e2e.sh, not asserted here. */
START_TEST(test_know_topic_gives_a_handle_or_names_the_missing_topic)
{
    char *topic = it_unique("it.know"), *missing = it_unique("it.know-missing");
    rd_kafka_t *rk = it_client(RD_KAFKA_PRODUCER, NULL);
    rd_kafka_topic_t *rkt = NULL;
    char err[512] = "";

    it_create_topic(topic, 3, 0);
    ck_assert_msg(ferry_kafka_know_topic(rk, topic, &rkt, 10000, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_ptr_nonnull(rkt);
    ck_assert_str_eq(rd_kafka_topic_name(rkt), topic);
    rd_kafka_topic_destroy(rkt);

    ck_assert_int_eq(ferry_kafka_know_topic(rk, missing, &rkt, 1000, err, sizeof(err)),
                     FERRY_EKAFKA);
    ck_assert_ptr_null(rkt);
    ck_assert_msg(strstr(err, missing), "%s", err);
    rd_kafka_destroy(rk);
    free(topic);
    free(missing);
}
END_TEST

START_TEST(test_every_compression_codec_round_trips)
{
    char *topic = it_unique("it.codec");
    rd_kafka_t *rk;
    it_msg_t *msgs;
    size_t n;
    char err[256] = "";

    it_create_topic(topic, 1, 0);
    rk = it_client(RD_KAFKA_PRODUCER, "compression.codec", codecs[_i], "linger.ms", "5", NULL);
    produce_batch(rk, topic, codecs[_i], 100);
    ck_assert_msg(ferry_kafka_flush(rk, 10000, err, sizeof(err)) == 0, "%s: %s", codecs[_i], err);
    rd_kafka_destroy(rk);
    n = it_consume_all(topic, "read_committed", 10000, &msgs);
    ck_assert_int_eq(count_prefix(msgs, n, codecs[_i]), 100);
    it_msgs_free(msgs, n);
    free(topic);
}
END_TEST

START_TEST(test_idempotent_producer_delivers_once)
{
    char *topic = it_unique("it.idem");
    rd_kafka_t *rk;
    it_msg_t *msgs;
    size_t n;
    char err[256] = "";

    it_create_topic(topic, 2, 0);
    rk = it_client(RD_KAFKA_PRODUCER, "enable.idempotence", "true", "compression.codec", "lz4",
                   NULL);
    produce_batch(rk, topic, "idem", 500);
    ck_assert_msg(ferry_kafka_flush(rk, 10000, err, sizeof(err)) == 0, "%s", err);
    rd_kafka_destroy(rk);
    n = it_consume_all(topic, "read_committed", 10000, &msgs);
    ck_assert_int_eq(n, 500);
    it_msgs_free(msgs, n);
    free(topic);
}
END_TEST

START_TEST(test_consumer_group_commits_offsets)
{
    char *topic = it_unique("it.group"), *group = it_unique("it.group");
    rd_kafka_t *prod, *cons;
    rd_kafka_topic_partition_list_t *sub, *committed;
    int got = 0;
    int64_t deadline;
    char err[256] = "";

    it_create_topic(topic, 1, 0);
    prod = it_client(RD_KAFKA_PRODUCER, NULL);
    produce_batch(prod, topic, "grp", 10);
    ck_assert(ferry_kafka_flush(prod, 10000, err, sizeof(err)) == 0);
    rd_kafka_destroy(prod);

    cons = it_client(RD_KAFKA_CONSUMER, "group.id", group, "auto.offset.reset", "earliest",
                     "enable.auto.commit", "false", "session.timeout.ms", "6000", NULL);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    ck_assert(rd_kafka_subscribe(cons, sub) == 0);
    rd_kafka_topic_partition_list_destroy(sub);
    deadline = ferry_now_ms() + 30000;
    while (got < 10 && ferry_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 100);
        if (m && !m->err)
            got++;
        if (m)
            rd_kafka_message_destroy(m);
    }
    ck_assert_int_eq(got, 10);
    ck_assert(rd_kafka_commit(cons, NULL, 0) == 0);
    committed = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(committed, topic, 0);
    ck_assert(rd_kafka_committed(cons, committed, 10000) == 0);
    ck_assert_int_eq(committed->elems[0].offset, 10);
    rd_kafka_topic_partition_list_destroy(committed);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    free(topic);
    free(group);
}
END_TEST

/* The claim ferry's exactly-once rests on: a read_committed consumer sees the
 * committed batch and nothing of the aborted one. The read_uncommitted read
 * proves the aborted batch really reached the log, so the first assertion
 * would fail with the wrong isolation level. */
START_TEST(test_transaction_commit_and_abort)
{
    char *topic = it_unique("it.txn"), *txid = it_unique("it.txn");
    rd_kafka_t *rk;
    it_msg_t *msgs;
    size_t n;

    it_create_topic(topic, 3, 0);
    rk = it_client(RD_KAFKA_PRODUCER, "transactional.id", txid, "compression.codec", "zstd",
                   NULL);
    check_error(rd_kafka_init_transactions(rk, 30000), "init_transactions");

    check_error(rd_kafka_begin_transaction(rk), "begin (commit)");
    produce_batch(rk, topic, "committed", 50);
    check_error(rd_kafka_commit_transaction(rk, 30000), "commit");

    check_error(rd_kafka_begin_transaction(rk), "begin (abort)");
    produce_batch(rk, topic, "aborted", 50);
    rd_kafka_flush(rk, 10000); /* the aborted batch is in the log before the abort */
    check_error(rd_kafka_abort_transaction(rk, 30000), "abort");
    rd_kafka_destroy(rk);

    n = it_consume_all(topic, "read_committed", 10000, &msgs);
    ck_assert_int_eq(count_prefix(msgs, n, "committed"), 50);
    ck_assert_int_eq(count_prefix(msgs, n, "aborted"), 0);
    it_msgs_free(msgs, n);

    n = it_consume_all(topic, "read_uncommitted", 10000, &msgs);
    ck_assert_int_eq(count_prefix(msgs, n, "committed"), 50);
    ck_assert_int_eq(count_prefix(msgs, n, "aborted"), 50);
    it_msgs_free(msgs, n);
    free(topic);
    free(txid);
}
END_TEST

/* consume-transform-produce: the input offset is committed inside the output
 * transaction; after an abort the group's offset has not moved. */
START_TEST(test_send_offsets_to_transaction)
{
    char *in = it_unique("it.ctp.in"), *outt = it_unique("it.ctp.out");
    char *group = it_unique("it.ctp"), *txid = it_unique("it.ctp");
    rd_kafka_t *prod, *cons;
    rd_kafka_topic_partition_list_t *offsets, *sub;
    rd_kafka_consumer_group_metadata_t *cgmd;
    it_msg_t *msgs;
    size_t n;
    int got = 0;
    int64_t deadline;
    char err[256] = "";

    it_create_topic(in, 1, 0);
    it_create_topic(outt, 1, 0);
    prod = it_client(RD_KAFKA_PRODUCER, NULL);
    produce_batch(prod, in, "req", 4);
    ck_assert(ferry_kafka_flush(prod, 10000, err, sizeof(err)) == 0);
    rd_kafka_destroy(prod);

    cons = it_client(RD_KAFKA_CONSUMER, "group.id", group, "auto.offset.reset", "earliest",
                     "enable.auto.commit", "false", "isolation.level", "read_committed", NULL);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, in, RD_KAFKA_PARTITION_UA);
    ck_assert(rd_kafka_subscribe(cons, sub) == 0);
    rd_kafka_topic_partition_list_destroy(sub);
    deadline = ferry_now_ms() + 30000;
    while (got < 4 && ferry_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 100);
        if (m && !m->err)
            got++;
        if (m)
            rd_kafka_message_destroy(m);
    }
    ck_assert_int_eq(got, 4);

    prod = it_client(RD_KAFKA_PRODUCER, "transactional.id", txid, NULL);
    check_error(rd_kafka_init_transactions(prod, 30000), "init_transactions");
    cgmd = rd_kafka_consumer_group_metadata(cons);

    /* An aborted attempt: output invisible, offset not committed. */
    check_error(rd_kafka_begin_transaction(prod), "begin");
    produce_batch(prod, outt, "aborted", 4);
    offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, in, 0)->offset = 2;
    check_error(rd_kafka_send_offsets_to_transaction(prod, offsets, cgmd, 30000), "send_offsets");
    rd_kafka_topic_partition_list_destroy(offsets);
    check_error(rd_kafka_abort_transaction(prod, 30000), "abort");

    offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, in, 0);
    ck_assert(rd_kafka_committed(cons, offsets, 10000) == 0);
    ck_assert_int_lt(offsets->elems[0].offset, 2);
    rd_kafka_topic_partition_list_destroy(offsets);

    /* The committed attempt: output visible and offset 4 committed with it. */
    check_error(rd_kafka_begin_transaction(prod), "begin");
    produce_batch(prod, outt, "done", 4);
    offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, in, 0)->offset = 4;
    check_error(rd_kafka_send_offsets_to_transaction(prod, offsets, cgmd, 30000), "send_offsets");
    rd_kafka_topic_partition_list_destroy(offsets);
    check_error(rd_kafka_commit_transaction(prod, 30000), "commit");
    rd_kafka_consumer_group_metadata_destroy(cgmd);

    offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, in, 0);
    ck_assert(rd_kafka_committed(cons, offsets, 10000) == 0);
    ck_assert_int_eq(offsets->elems[0].offset, 4);
    rd_kafka_topic_partition_list_destroy(offsets);

    n = it_consume_all(outt, "read_committed", 10000, &msgs);
    ck_assert_int_eq(count_prefix(msgs, n, "done"), 4);
    ck_assert_int_eq(count_prefix(msgs, n, "aborted"), 0);
    it_msgs_free(msgs, n);

    rd_kafka_destroy(prod);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    free(in);
    free(outt);
    free(group);
    free(txid);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("broker");
    TCase *tc = tcase_create("broker");

    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_every_compression_codec_round_trips, 0,
                        (int)(sizeof(codecs) / sizeof(codecs[0])));
    tcase_add_test(tc, test_know_topic_gives_a_handle_or_names_the_missing_topic);
    tcase_add_test(tc, test_idempotent_producer_delivers_once);
    tcase_add_test(tc, test_consumer_group_commits_offsets);
    tcase_add_test(tc, test_transaction_commit_and_abort);
    tcase_add_test(tc, test_send_offsets_to_transaction);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
