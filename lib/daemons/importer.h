/* importer.h - ferry-import's loop: the consumer group member on
 * ferry.records.<target> (offsets kept in the target store, not in Kafka)
 * around the import job (lib/jobs/import.h), the pauses and seeks the job
 * asks for, and a status producer that publishes each outcome on
 * ferry.status (APPLIED and FAILED through the store's status outbox, so
 * that they are published at least once even when the importer dies right
 * after the commit). */
#ifndef FERRY_IMPORTER_H
#define FERRY_IMPORTER_H

#include "config.h"

#include <signal.h>
#include <stddef.h>

typedef struct ferry_importer ferry_importer_t;

/* Opens the store of environment target (read-write), creates the records
 * and status topics when missing, and creates the consumer (group
 * "<importer.group_id_prefix or ferry-import-><target>", read_committed) and
 * the idempotent status producer. cfg is borrowed and must outlive the
 * consumer. An environment the config does not declare -> FERRY_ENOTFOUND.
 * *out is new; free with ferry_importer_destroy. */
int ferry_importer_new(const ferry_config_t *cfg, const char *target, ferry_importer_t **out,
                       char *errstr, size_t errstr_size);

/* Consumes and applies until *stop is set (an open export is rolled back: it
 * is redone from the stored offset), or, with once, until every assigned
 * partition has reached its end with no export open. Returns 0 then, or a
 * negative FERRY_E* code on a fatal Kafka error or a store failure. */
int ferry_importer_run(ferry_importer_t *c, int once, const volatile sig_atomic_t *stop,
                       char *errstr, size_t errstr_size);

/* Rolls back an open export, leaves the group (closing the consumer), flushes
 * pending status events and frees everything. Accepts NULL. */
void ferry_importer_destroy(ferry_importer_t *c);

#endif
