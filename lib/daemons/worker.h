/* worker.h - the export worker: a member of the consumer group on the requests
 * topic that turns each request into one export stream, in one Kafka
 * transaction together with the request's offset (consume-transform-produce).
 *
 * A worker that dies mid-export leaves nothing visible to read_committed
 * consumers; the request's offset was not committed, so whichever worker owns
 * the partition next redoes it. */
#ifndef FERRY_WORKER_H
#define FERRY_WORKER_H

#include "config.h"

#include <signal.h>
#include <stddef.h>

typedef struct ferry_worker ferry_worker_t;

/* Creates the worker's clients (consumer, transactional producer, status
 * producer), creates missing topics and initialises transactions. id names the
 * worker in logs and status events and makes its transactional.id
 * ("ferry-worker-<id>"): a restarted worker with the same id fences its
 * predecessor at once. cfg is borrowed and must outlive the worker. */
int ferry_worker_new(const ferry_config_t *cfg, const char *id, ferry_worker_t **out,
                     char *errstr, size_t errstr_size);

/* Serves requests until *stop is set (returns 0) or a fatal error (returns
 * FERRY_EFATAL, errstr says why). The export in hand when *stop is set is
 * aborted if the stop is seen between two of its rows (the consumer is moved
 * back to its request), else finished and committed. The run does not leave
 * the consumer group: ferry_worker_destroy does, and then another member
 * redoes an aborted request. */
int ferry_worker_run(ferry_worker_t *w, const volatile sig_atomic_t *stop, char *errstr,
                     size_t errstr_size);

/* Closes the consumer (leaving the group) and frees everything. Accepts NULL. */
void ferry_worker_destroy(ferry_worker_t *w);

#endif
