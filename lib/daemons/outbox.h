/* outbox.h - publishing an import target's status outbox (ledger.h): the
 * APPLIED and FAILED events the import job queued in the target database, in
 * the transaction that stored the outcome, reach ferry.status at least once,
 * whatever dies when.
 *
 * An event is produced with its outbox id (ferry_outbox_drain), which its
 * delivery report gives back (ferry_outbox_delivered). While it is in flight
 * it is not produced again; delivered, it is removed from the outbox later,
 * in batches, in a transaction of its own taken only while no export is open
 * (ferry_outbox_remove_delivered); failed, it is produced again by a drain
 * FERRY_OUTBOX_RETRY_MS later. Nothing here waits for a delivery. An event
 * delivered but not removed yet when the process stops is produced again by
 * the next run: at least once, perhaps twice (a copy is the queued event byte
 * for byte, so a reader can drop it).
 *
 * The outbox keeps no events in memory, only the ids of those in flight and
 * delivered (few: about one per export since the last removal). It is used
 * by one thread: the delivery reports come from the producer's poll in the
 * thread that drains. Times are passed in (milliseconds of any one clock). */
#ifndef FERRY_OUTBOX_H
#define FERRY_OUTBOX_H

#include "store.h"

#include <stddef.h>
#include <stdint.h>

/* How long after a failure (to produce, or a failed delivery report) the
 * outbox is drained again. */
#define FERRY_OUTBOX_RETRY_MS 2000

typedef struct ferry_outbox ferry_outbox_t;

/* What the outbox asks of its user; opaque is passed back to both. */
typedef struct ferry_outbox_io {
    /* Hands one queued event to the producer: key (NUL-terminated) and event
     * are borrowed for the call; id must come back in ferry_outbox_delivered
     * with its delivery report. Returns 0, or a negative FERRY_E* code (with
     * errstr) when the event was not handed over: the drain stops there and
     * is tried again after the retry time. Must not wait for the delivery. */
    int (*produce)(void *opaque, int64_t id, const char *key, const void *event, size_t len,
                   char *errstr, size_t errstr_size);
    /* 1 while an export is open (its store transaction, or its report), else
     * 0: removal waits, since it takes a transaction of its own. */
    int (*export_open)(void *opaque);
    void *opaque;
} ferry_outbox_io_t;

/* A new outbox publishing the ledger of store (borrowed: it must outlive the
 * outbox; opened FERRY_STORE_WRITE) through io (copied). What a previous run
 * left queued is due at once. *out is new; free with ferry_outbox_destroy.
 * FERRY_ENOMEM only. */
int ferry_outbox_new(ferry_store_t *store, const ferry_outbox_io_t *io, ferry_outbox_t **out,
                     char *errstr, size_t errstr_size);
/* Frees the outbox; the store keeps what it holds (the next run sends what
 * was not removed). Accepts NULL. */
void ferry_outbox_destroy(ferry_outbox_t *ob);

/* An event was queued and its transaction committed: the outbox is due. */
void ferry_outbox_queued(ferry_outbox_t *ob);
/* 1 when a drain is due at now_ms: something may be queued and unsent, and
 * the retry time after a failure has passed; else 0. */
int ferry_outbox_due(const ferry_outbox_t *ob, int64_t now_ms);

/* Produces every queued event that is neither in flight nor delivered,
 * oldest first. Call it outside any transaction of the store (inside one it
 * would see events that may still roll back), whether or not the outbox is
 * due. Returns 0 when every such event was handed over. On a failure of the
 * store or of produce, returns its negative FERRY_E* code (errstr says why):
 * what was handed over stays in flight, and the rest is due again at
 * now_ms + FERRY_OUTBOX_RETRY_MS. */
int ferry_outbox_drain(ferry_outbox_t *ob, int64_t now_ms, char *errstr, size_t errstr_size);

/* The delivery report of the event produced with id (ids <= 0 are ignored:
 * events that are not in the outbox). Delivered (ok), it waits for removal;
 * failed, or not recorded for lack of memory, it is produced again by the
 * next drain, which is due at now_ms + FERRY_OUTBOX_RETRY_MS. */
void ferry_outbox_delivered(ferry_outbox_t *ob, int64_t id, int ok, int64_t now_ms);

/* The number of delivered events waiting for removal. */
size_t ferry_outbox_delivered_count(const ferry_outbox_t *ob);

/* Removes the delivered events from the store in one transaction of its
 * own, when at least min (1 if 0) are waiting and no export is open;
 * otherwise does nothing and returns 0. On a store failure the transaction
 * is rolled back, those events stay queued and are due again (sent twice),
 * and the FERRY_E* code is returned with errstr. */
int ferry_outbox_remove_delivered(ferry_outbox_t *ob, size_t min, char *errstr,
                                  size_t errstr_size);

#endif
