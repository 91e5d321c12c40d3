/* scheduler.h - durable schedules on Kafka and the scheduler daemon's loop.
 *
 * Schedules live only in the compacted, single-partition schedules topic
 * (config "topics"."schedules", default ferry.schedules), keyed by schedule id;
 * a tombstone (null value) removes one. Several schedulers may run: they join
 * one consumer group (config "scheduler"."group_id", default "ferry-scheduler")
 * subscribed to that topic, and only the member that is assigned its partition
 * 0 fires. That member rebuilds every schedule by reading the partition from the
 * beginning to its end, fires what the takeover rule of schedule.h says
 * (ferry_schedule_catch_up, window = session timeout + 2 s), then follows
 * additions and removals live and publishes each ExportRequest when due, keyed
 * by schedule id, with export id "<schedule id>@<due RFC 3339>". A fire counts
 * once the broker confirms its delivery: until then its due time stays and
 * fires again, with the same export id, after a back-off. A one-shot ("at")
 * schedule is removed with a tombstone once its fire was delivered.
 *
 * Settings read from the config's "scheduler" section: group_id,
 * session_timeout_ms (default 6000) and min_interval_ms (default 1000). */
#ifndef FERRY_SCHEDULER_H
#define FERRY_SCHEDULER_H

#include "config.h"
#include "protocol.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ferry_scheduler ferry_scheduler_t;

/* Creates a scheduler: its producer and group consumer, the ferry topics when
 * missing (Admin API), and checks that the schedules topic has exactly one
 * partition. name (may be NULL) becomes the clients' client.id and appears in
 * logs. cfg is borrowed and must outlive the scheduler. *out is new; stop it
 * with ferry_scheduler_close and free it with ferry_scheduler_destroy.
 * FERRY_EINVAL for a bad setting, FERRY_EKAFKA/FERRY_ETIMEOUT from the broker. */
int ferry_scheduler_new(const ferry_config_t *cfg, const char *name, ferry_scheduler_t **out,
                        char *errstr, size_t errstr_size);

/* One pass of the loop: fires what is due, waiting for each fire's delivery
 * (a few seconds at most when the broker does not answer), then serves the
 * clients for up to timeout_ms (less when a fire is due sooner), applying
 * schedule records and group rebalances. Call it in a loop; ~100 ms keeps
 * shutdown prompt. A failed fire is logged and does not stop the loop: its due
 * time fires again in a later pass, after a back-off. FERRY_EFATAL only for a
 * fatal client error, after which the caller closes and exits. */
int ferry_scheduler_poll(ferry_scheduler_t *s, int timeout_ms, char *errstr, size_t errstr_size);

/* Whether this scheduler currently owns partition 0 and fires (for logs and
 * tests). */
int ferry_scheduler_is_firing(const ferry_scheduler_t *s);

/* Leaves the group (another scheduler takes over at once instead of after the
 * session timeout) and flushes what was fired, for up to timeout_ms.
 * FERRY_ETIMEOUT if fires remain undelivered. */
int ferry_scheduler_close(ferry_scheduler_t *s, int timeout_ms, char *errstr, size_t errstr_size);

/* Frees s and its clients; accepts NULL. */
void ferry_scheduler_destroy(ferry_scheduler_t *s);

/* Publishes req on the requests topic with the headers ferry.type and
 * ferry.export, keyed by its stream key (ferry_request_stream_key: the schedule id,
 * or "source->target" for a one-off export), which the worker checks. rk is a
 * producer; the caller flushes. */
int ferry_scheduler_send_request(rd_kafka_t *rk, const ferry_config_t *cfg,
                                 const ferry_request_t *req, char *errstr, size_t errstr_size);

/* Publishes sched on the schedules topic, keyed by its id: it adds the
 * schedule, or replaces the one with the same id. The caller validates first
 * (ferry_schedule_validate) and flushes. */
int ferry_scheduler_put(rd_kafka_t *rk, const ferry_config_t *cfg, const ferry_schedule_t *sched,
                        char *errstr, size_t errstr_size);

/* Publishes the tombstone that removes schedule id. The caller flushes. */
int ferry_scheduler_remove(rd_kafka_t *rk, const ferry_config_t *cfg, const char *id,
                           char *errstr, size_t errstr_size);

/* Reads the schedules topic from the beginning to its current end (the ferry
 * topics must exist) and returns the live schedules, sorted by id: *out is a
 * new array of n new schedules; free it with ferry_scheduler_list_free.
 * Schedules that the scheduler would refuse (ferry_schedule_validate) are
 * listed too, so that they can be seen and removed; records that do not
 * decode are skipped (and logged). */
int ferry_scheduler_list(const ferry_config_t *cfg, int timeout_ms, ferry_schedule_t ***out,
                         size_t *n, char *errstr, size_t errstr_size);
void ferry_scheduler_list_free(ferry_schedule_t **list, size_t n);

#endif
