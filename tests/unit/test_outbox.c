/* test_outbox.c - the status outbox unit (lib/daemons/outbox.h) on a real
 * SQLite target, with a fake producer in place of Kafka: queued events are
 * produced once while in flight, a failure is produced again after the retry
 * time, delivered events are removed only between exports, and what is not
 * removed survives a restart. Times are passed in: nothing here waits. */
#include "error.h"
#include "ledger.h"
#include "outbox.h"
#include "store.h"
#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PRODUCED 32

/* ---- fixture: a target store, an outbox, a fake producer ---- */

typedef struct produced {
    int64_t id;
    char key[32];
    char event[32];
} produced_t;

static char dir[64], path[128], uri[160];
static char err[512];
static ferry_store_t *store;
static ferry_outbox_t *outbox;
static produced_t produced[MAX_PRODUCED];
static size_t nproduced;
static int refuse_key_len; /* produce refuses events whose key has this length; 0: none */
static int export_is_open;

static int fake_produce(void *opaque, int64_t id, const char *key, const void *event,
                        size_t len, char *errstr, size_t errstr_size)
{
    produced_t *p = &produced[nproduced];

    ck_assert_ptr_eq(opaque, &produced);
    if (refuse_key_len && strlen(key) == (size_t)refuse_key_len)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "queue full for %s", key);
    ck_assert_uint_lt(nproduced, MAX_PRODUCED);
    ck_assert_uint_lt(len, sizeof(p->event));
    p->id = id;
    snprintf(p->key, sizeof(p->key), "%s", key);
    memcpy(p->event, event, len);
    p->event[len] = '\0';
    nproduced++;
    return FERRY_OK;
}

static int fake_export_open(void *opaque)
{
    ck_assert_ptr_eq(opaque, &produced);
    return export_is_open;
}

static const ferry_outbox_io_t io = {fake_produce, fake_export_open, &produced};

static void open_all(void)
{
    ck_assert_msg(ferry_store_open(uri, FERRY_STORE_WRITE, &store, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(ferry_outbox_new(store, &io, &outbox, err, sizeof(err)), 0);
}

/* A crash, or a stop: the process forgets everything but the store. */
static void close_all(void)
{
    ferry_outbox_destroy(outbox);
    ferry_store_destroy(store);
    outbox = NULL;
    store = NULL;
}

static void setup(void)
{
    strcpy(dir, "/tmp/ferry-outbox-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/target.db", dir);
    snprintf(uri, sizeof(uri), "sqlite:%s", path);
    nproduced = 0;
    refuse_key_len = 0;
    export_is_open = 0;
    open_all();
}

static void teardown(void)
{
    static const char *const files[] = {"target.db", "target.db-wal", "target.db-shm"};
    char p[256];

    close_all();
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* What the import job does: queue an event in a committed transaction and
 * report it queued. The event is "<key>!" so that a copy can be checked. */
static void queue(const char *key)
{
    char event[32];

    snprintf(event, sizeof(event), "%s!", key);
    ck_assert_int_eq(ferry_store_begin(store, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_add(store, key, event, strlen(event), err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_store_commit(store, err, sizeof(err)), 0);
    ferry_outbox_queued(outbox);
}

/* How many events the store's outbox holds. */
static size_t stored(void)
{
    ferry_buf_t key = {0}, event = {0};
    int64_t id = 0;
    size_t n = 0;

    for (;;) {
        ck_assert_int_eq(ferry_ledger_outbox_next(store, id, &id, &key, &event, err, sizeof(err)),
                         0);
        if (id < 0)
            break;
        n++;
    }
    ferry_buf_free(&key);
    ferry_buf_free(&event);
    return n;
}

/* The produced event i: its key, and the queued bytes, intact. */
static void ck_produced(size_t i, const char *key)
{
    char event[32];

    ck_assert_uint_lt(i, nproduced);
    snprintf(event, sizeof(event), "%s!", key);
    ck_assert_str_eq(produced[i].key, key);
    ck_assert_str_eq(produced[i].event, event);
    ck_assert_int_gt(produced[i].id, 0);
}

static void drain_ok(int64_t now_ms)
{
    ck_assert_msg(ferry_outbox_drain(outbox, now_ms, err, sizeof(err)) == 0, "%s", err);
}

/* ---- tests ---- */

START_TEST(test_queued_events_are_produced_once_while_in_flight)
{
    queue("e-1");
    queue("e-2");
    ck_assert_int_eq(ferry_outbox_due(outbox, 0), 1);
    drain_ok(0);
    ck_assert_uint_eq(nproduced, 2);
    ck_produced(0, "e-1"); /* oldest first */
    ck_produced(1, "e-2");
    ck_assert_int_lt(produced[0].id, produced[1].id);
    ck_assert_int_eq(ferry_outbox_due(outbox, 0), 0);

    /* In flight: a drain (after a new event, or at any time) skips them. */
    queue("e-3");
    ck_assert_int_eq(ferry_outbox_due(outbox, 0), 1);
    drain_ok(0);
    drain_ok(10 * FERRY_OUTBOX_RETRY_MS);
    ck_assert_uint_eq(nproduced, 3);
    ck_produced(2, "e-3");

    /* Delivered: not produced again either. */
    for (size_t i = 0; i < 3; i++)
        ferry_outbox_delivered(outbox, produced[i].id, 1, 0);
    ck_assert_uint_eq(ferry_outbox_delivered_count(outbox), 3);
    ck_assert_int_eq(ferry_outbox_due(outbox, 0), 0);
    drain_ok(0);
    ck_assert_uint_eq(nproduced, 3);
    /* Reports of events that are not in the outbox change nothing. */
    ferry_outbox_delivered(outbox, 0, 0, 0);
    ck_assert_int_eq(ferry_outbox_due(outbox, 0), 0);
}
END_TEST

START_TEST(test_failed_delivery_is_produced_again_after_the_retry_time)
{
    const int64_t t = 5000;

    queue("e-1");
    queue("e-2");
    drain_ok(0);
    ck_assert_uint_eq(nproduced, 2);
    ferry_outbox_delivered(outbox, produced[0].id, 0, t); /* failed */
    ferry_outbox_delivered(outbox, produced[1].id, 1, t); /* delivered */
    ck_assert_int_eq(ferry_outbox_due(outbox, t), 0);
    ck_assert_int_eq(ferry_outbox_due(outbox, t + FERRY_OUTBOX_RETRY_MS - 1), 0);
    ck_assert_int_eq(ferry_outbox_due(outbox, t + FERRY_OUTBOX_RETRY_MS), 1);
    drain_ok(t + FERRY_OUTBOX_RETRY_MS);
    ck_assert_uint_eq(nproduced, 3);
    ck_produced(2, "e-1"); /* the queued event, byte for byte, under its id */
    ck_assert_int_eq(produced[2].id, produced[0].id);
    ck_assert_int_eq(ferry_outbox_due(outbox, t + FERRY_OUTBOX_RETRY_MS), 0);
}
END_TEST

START_TEST(test_refused_produce_stops_the_drain_until_the_retry_time)
{
    const int64_t t = 7000;

    queue("e-1");
    queue("e-22");
    queue("e-3");
    refuse_key_len = 4; /* "e-22" */
    ck_assert_int_eq(ferry_outbox_drain(outbox, t, err, sizeof(err)), FERRY_EKAFKA);
    ck_assert_ptr_nonnull(strstr(err, "e-22"));
    ck_assert_uint_eq(nproduced, 1);
    ck_produced(0, "e-1");
    ck_assert_int_eq(ferry_outbox_due(outbox, t + FERRY_OUTBOX_RETRY_MS - 1), 0);
    ck_assert_int_eq(ferry_outbox_due(outbox, t + FERRY_OUTBOX_RETRY_MS), 1);
    refuse_key_len = 0;
    drain_ok(t + FERRY_OUTBOX_RETRY_MS);
    ck_assert_uint_eq(nproduced, 3); /* e-1 is still in flight: not again */
    ck_produced(1, "e-22");
    ck_produced(2, "e-3");
}
END_TEST

START_TEST(test_delivered_events_are_removed_only_while_no_export_is_open)
{
    queue("e-1");
    queue("e-2");
    drain_ok(0);
    ferry_outbox_delivered(outbox, produced[0].id, 1, 0);
    ferry_outbox_delivered(outbox, produced[1].id, 1, 0);

    export_is_open = 1;
    ck_assert_int_eq(ferry_outbox_remove_delivered(outbox, 1, err, sizeof(err)), 0);
    ck_assert_uint_eq(stored(), 2);
    ck_assert_uint_eq(ferry_outbox_delivered_count(outbox), 2);
    export_is_open = 0;
    /* In batches: fewer than min wait, nothing yet. */
    ck_assert_int_eq(ferry_outbox_remove_delivered(outbox, 3, err, sizeof(err)), 0);
    ck_assert_uint_eq(stored(), 2);
    ck_assert_int_eq(ferry_outbox_remove_delivered(outbox, 2, err, sizeof(err)), 0);
    ck_assert_uint_eq(stored(), 0);
    ck_assert_uint_eq(ferry_outbox_delivered_count(outbox), 0);
    drain_ok(0);
    ck_assert_uint_eq(nproduced, 2);
}
END_TEST

/* A removal that fails leaves the events queued: they are sent again. */
START_TEST(test_failed_removal_sends_the_events_again)
{
    queue("e-1");
    drain_ok(0);
    ferry_outbox_delivered(outbox, produced[0].id, 1, 0);
    /* The store refuses a transaction of the outbox's own (one is open). */
    ck_assert_int_eq(ferry_store_begin(store, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_outbox_remove_delivered(outbox, 1, err, sizeof(err)), FERRY_EORDER);
    ck_assert_uint_eq(stored(), 1);
    ck_assert_uint_eq(ferry_outbox_delivered_count(outbox), 0);
    ck_assert_int_eq(ferry_outbox_due(outbox, 0), 1);
    drain_ok(0);
    ck_assert_uint_eq(nproduced, 2);
    ck_produced(1, "e-1");
}
END_TEST

/* What a run did not remove is sent by the next one (at least once): events
 * in flight and delivered but not removed; removed ones are gone for good. */
START_TEST(test_what_was_not_removed_survives_a_restart)
{
    int64_t first;

    queue("e-1");
    queue("e-2");
    queue("e-3");
    drain_ok(0);
    first = produced[0].id;
    ferry_outbox_delivered(outbox, first, 1, 0);
    ck_assert_int_eq(ferry_outbox_remove_delivered(outbox, 1, err, sizeof(err)), 0);
    ferry_outbox_delivered(outbox, produced[1].id, 1, 0); /* delivered, not removed */
    close_all();                                          /* e-3 still in flight */

    nproduced = 0;
    open_all();
    ck_assert_int_eq(ferry_outbox_due(outbox, 0), 1);
    drain_ok(0);
    ck_assert_uint_eq(nproduced, 2);
    ck_produced(0, "e-2");
    ck_produced(1, "e-3");
    ck_assert_int_gt(produced[0].id, first);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("outbox");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_queued_events_are_produced_once_while_in_flight);
    tcase_add_test(tc, test_failed_delivery_is_produced_again_after_the_retry_time);
    tcase_add_test(tc, test_refused_produce_stops_the_drain_until_the_retry_time);
    tcase_add_test(tc, test_delivered_events_are_removed_only_while_no_export_is_open);
    tcase_add_test(tc, test_failed_removal_sends_the_events_again);
    tcase_add_test(tc, test_what_was_not_removed_survives_a_restart);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
