/* wait.h - `ferry-producer export --wait`: follow the status topic until one
 * export is applied or has failed. */
#ifndef FERRY_PRODUCER_WAIT_H
#define FERRY_PRODUCER_WAIT_H

#include "config.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stddef.h>

/* A consumer assigned to every partition of the status topic at its current
 * end. Call it BEFORE publishing the request, so that no status event of the
 * export can be missed. *out is new: pass it to producer_wait_run, or free it
 * with producer_wait_end. */
int producer_wait_begin(const ferry_config_t *cfg, rd_kafka_t **out, char *errstr,
                        size_t errstr_size);

/* Follows the status events keyed by export_id until a final one, for at most
 * timeout_s seconds or until *stop is set. Prints the outcome: applied or
 * skipped (tables, rows, duration) on stdout -> 0; failed or rejected (the
 * reason) on stdout -> 1; progress and timeouts on stderr (timeout -> 1).
 * Always consumes rk. */
int producer_wait_run(rd_kafka_t *rk, const char *export_id, int timeout_s,
                      volatile sig_atomic_t *stop);

/* Closes and frees the consumer; accepts NULL. */
void producer_wait_end(rd_kafka_t *rk);

#endif
