/* ledger.h - ferry's own bookkeeping in an import target: which exports were
 * applied, the next offset to consume per records partition, and the status
 * outbox. It lives in the target database, beside the data it describes, and
 * is written in the caller's transaction (ferry_store_begin .. commit), so an
 * export's rows, its id, the offset past it and the event reporting it
 * commit or roll back together: that is what makes an import exactly once.
 *
 * Each store keeps these records in its own namespace (SQLite: the tables
 * ferry_applied, ferry_offsets and ferry_outbox; PostgreSQL: a "ferry"
 * schema of the target database), which is never read as user objects.
 * Why each store implements the ledger itself rather than once on generic
 * SQL: see store.h.
 *
 * Only the import uses the ledger: a store that is only ever a source may
 * provide none (store_impl.h); every call on it then fails with
 * FERRY_EPERMANENT. On a store opened FERRY_STORE_READ the reads report what
 * is there (nothing applied, no offsets when ferry never wrote to it) and
 * the writes fail with FERRY_EINVAL. */
#ifndef FERRY_LEDGER_H
#define FERRY_LEDGER_H

#include "buf.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

/* Sets *applied to 1 when export_id was marked applied, else 0. */
int ferry_ledger_is_applied(ferry_store_t *store, const char *export_id, int *applied,
                            char *errstr, size_t errstr_size);
/* Marks export_id applied, with detail (JSON text, or NULL) and the time.
 * An id marked before -> FERRY_ECONFLICT naming it. */
int ferry_ledger_mark_applied(ferry_store_t *store, const char *export_id, const char *detail,
                              char *errstr, size_t errstr_size);

/* The next offset to consume for topic/partition, or -1 when none is stored. */
int ferry_ledger_offset_get(ferry_store_t *store, const char *topic, int32_t partition,
                            int64_t *next_offset, char *errstr, size_t errstr_size);
int ferry_ledger_offset_set(ferry_store_t *store, const char *topic, int32_t partition,
                            int64_t next_offset, char *errstr, size_t errstr_size);

/* The status outbox (write stores): status events that must reach
 * ferry.status at least once, whatever dies when (lib/daemons/outbox.h
 * publishes them). ferry_ledger_outbox_add queues one (its Kafka key and
 * encoded value) in the caller's transaction, so that it commits or rolls
 * back with the outcome it reports; its id is greater than every id given
 * before, and never reused, even once the outbox is empty.
 * ferry_ledger_outbox_next copies the queued event with the smallest id
 * above after into key (NUL-terminated, the NUL not counted in key->len) and
 * event, and sets *id (-1 when there is none); ferry_ledger_outbox_remove
 * deletes one once it was delivered. Both work inside or outside a
 * transaction; inside one they see what it queued. */
int ferry_ledger_outbox_add(ferry_store_t *store, const char *key, const void *event,
                            size_t len, char *errstr, size_t errstr_size);
int ferry_ledger_outbox_next(ferry_store_t *store, int64_t after, int64_t *id, ferry_buf_t *key,
                             ferry_buf_t *event, char *errstr, size_t errstr_size);
int ferry_ledger_outbox_remove(ferry_store_t *store, int64_t id, char *errstr,
                               size_t errstr_size);

#endif
