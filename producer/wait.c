/* wait.c - following the status topic for one export (see wait.h). */
#include "wait.h"

#include "error.h"
#include "kafka.h"
#include "protocol.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_TIMEOUT_MS 10000

int producer_wait_begin(const ferry_config_t *cfg, rd_kafka_t **out, char *errstr,
                        size_t errstr_size)
{
    const char *topic = ferry_config_topic(cfg, FERRY_TOPIC_STATUS);
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_resp_err_t err;
    char why[512];
    int rc;

    *out = NULL;
    /* A reader: its group is never joined nor committed to. */
    rc = ferry_kafka_consumer_new(cfg, FERRY_KAFKA_READER, "ferry-producer.wait", NULL, &rk, why,
                                  sizeof(why), NULL);
    if (rc == FERRY_EKAFKA) /* librdkafka's refusal: say which client */
        return ferry_errf(errstr, errstr_size, rc, "following %s: %s", topic, why);
    if (rc) /* a property librdkafka refused names itself */
        return ferry_errf(errstr, errstr_size, rc, "%s", why);
    /* Explicit end offsets, not OFFSET_END: that one is resolved only when the
     * fetcher starts, possibly after the export's first events. */
    rc = ferry_kafka_end_offsets(rk, topic, QUERY_TIMEOUT_MS, &parts, why, sizeof(why));
    if (rc)
        ferry_errf(errstr, errstr_size, rc, "following %s", why);
    else if ((err = rd_kafka_assign(rk, parts)))
        rc = ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "following %s: %s", topic,
                        rd_kafka_err2str(err));
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (rc) {
        producer_wait_end(rk);
        return rc;
    }
    *out = rk;
    return FERRY_OK;
}

void producer_wait_end(rd_kafka_t *rk)
{
    if (!rk)
        return;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* Prints a final event; returns the exit status, or -1 for an event that is
 * not final. */
static int report(const ferry_status_t *st)
{
    const char *state = ferry_status_state_name(st->state);

    switch (st->state) {
    case FERRY_STATUS_APPLIED:
    case FERRY_STATUS_SKIPPED:
        printf("%s %s: %d tables, %lld rows in %lld ms%s\n", state, st->export_id, st->tables,
               (long long)st->rows, (long long)st->duration_ms,
               st->state == FERRY_STATUS_SKIPPED ? " (applied before)" : "");
        for (size_t i = 0; i < st->ntable_stats; i++)
            printf("  %s: %lld rows (%lld inserted, %lld updated)\n", st->table_stats[i].table,
                   (long long)st->table_stats[i].rows, (long long)st->table_stats[i].inserted,
                   (long long)st->table_stats[i].updated);
        return 0;
    case FERRY_STATUS_FAILED:
    case FERRY_STATUS_REJECTED:
        printf("%s %s: %s\n", state, st->export_id, st->reason ? st->reason : "(no reason given)");
        return 1;
    default:
        fprintf(stderr, "ferry-producer: export %s %s by %s\n", st->export_id, state,
                st->component ? st->component : "?");
        return -1;
    }
}

int producer_wait_run(rd_kafka_t *rk, const char *export_id, int timeout_s,
                      volatile sig_atomic_t *stop)
{
    int64_t deadline = ferry_now_ms() + (int64_t)timeout_s * 1000;
    size_t id_len = strlen(export_id);
    const char *last = "published";
    int rc = -1;

    while (rc < 0 && !*stop && ferry_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        ferry_status_t *st = NULL;
        char err[512];

        if (!m)
            continue;
        if (m->err) {
            fprintf(stderr, "ferry-producer: following status: %s\n", rd_kafka_message_errstr(m));
        } else if (m->key_len == id_len && memcmp(m->key, export_id, id_len) == 0) {
            if (ferry_status_decode(m->payload, m->len, &st, err, sizeof(err)))
                fprintf(stderr, "ferry-producer: undecodable status event for %s: %s\n",
                        export_id, err);
            else if (strcmp(st->export_id, export_id) == 0 && (rc = report(st)) < 0)
                last = ferry_status_state_name(st->state);
            ferry_status_free(st);
        }
        rd_kafka_message_destroy(m);
    }
    producer_wait_end(rk);
    if (rc >= 0)
        return rc;
    if (*stop)
        fprintf(stderr, "ferry-producer: interrupted waiting for export %s (last state: %s)\n",
                export_id, last);
    else
        fprintf(stderr, "ferry-producer: no outcome for export %s within %d s (last state: %s)\n",
                export_id, timeout_s, last);
    return 1;
}
