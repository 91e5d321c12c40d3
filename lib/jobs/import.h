/* import.h - the import job: applies the export streams of one target
 * environment's records topic to its store, each export in one database
 * transaction, in plan order, exactly once.
 *
 * ferry_import_t is a state machine fed one records-topic message at a time
 * (ferry_import_feed) and told when a partition reaches its end
 * (ferry_import_eof). It knows nothing of Kafka clients: it reads and writes
 * the store, reports each export's outcome through a callback, and tells its
 * caller where a partition must be re-read from. The unit tests drive it
 * directly; lib/daemons/importer.h is the consumer loop around it.
 *
 * Outcomes: APPLIED (every table's rows, inserted and updated counts verified
 * against TableEnd and ExportEnd, committed with the export id and the next
 * offset), FAILED (rolled back; only the offset past the export is stored,
 * so it is not retried) and SKIPPED (an export id applied before).
 *
 * An export arrives in parts (Kafka transactions), each applied as it is
 * read, into the one database transaction of the export; an attempt at the
 * export that a later one supersedes is rolled back and its messages are
 * never applied (import.c). */
#ifndef FERRY_IMPORT_H
#define FERRY_IMPORT_H

#include "config.h"
#include "protocol.h"
#include "store.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ferry_import ferry_import_t;

/* One message of the records topic. The header strings (NUL-terminated; NULL
 * when the header is absent) and the payload are borrowed for the call. */
typedef struct ferry_import_msg {
    int32_t partition;
    int64_t offset;
    const char *type;      /* ferry.type: "ExportBegin", "TableMetadata", "Rows"... */
    const char *export_id; /* ferry.export */
    const char *table;     /* ferry.table (TableMetadata, Rows, TableEnd) */
    const void *payload;
    size_t len;
    const char *attempt;   /* ferry.attempt: the attempt at the export it belongs to */
} ferry_import_msg_t;

/* Receives each export's outcome as the StatusEvent to publish (state
 * APPLIED, FAILED or SKIPPED; component "import:<target>"). The event and its
 * strings are valid only during the call. queued is 1 when the event was
 * also queued in the store's status outbox (ferry_ledger_outbox_add) in the
 * transaction that stored the outcome - every APPLIED, and the FAILED of an
 * export that was rolled back and passed: whoever drains the outbox
 * publishes it, at least once even across a crash. Outcomes that are not
 * queued (SKIPPED, an undecodable ExportBegin) are reported again when their
 * message is read again. */
typedef void (*ferry_import_report_cb)(const ferry_status_t *status, int queued, void *opaque);

/* A new job applying to store (borrowed: it must outlive the job, and nothing
 * else may write to it meanwhile) the records of topic, which belongs to the
 * environment target. report may be NULL. *out is new; free with
 * ferry_import_destroy. FERRY_ENOMEM only. */
int ferry_import_new(ferry_store_t *store, const char *target, const char *topic,
                     ferry_import_report_cb report, void *opaque, ferry_import_t **out,
                     char *errstr, size_t errstr_size);
/* Rolls back an open export (it is redone from the stored offset) and frees
 * the job. Accepts NULL. */
void ferry_import_destroy(ferry_import_t *imp);

/* Applies one message. *seek is set to the offset msg->partition must be
 * re-read from, or -1 when consumption simply goes on: after an export
 * committed while messages of another export were skipped, and for a message
 * of a partition other than the open export's (it is re-read after that
 * export ends).
 *
 * A bad export is not an error of this call: it is rolled back, reported
 * FAILED and passed over. Returns 0, or a negative FERRY_E* code (errstr says
 * why) when the store cannot start a transaction or record an outcome; then
 * nothing of the message was kept, no export is open, and the caller should
 * stop: a restart resumes from the stored offsets. */
int ferry_import_feed(ferry_import_t *imp, const ferry_import_msg_t *msg, int64_t *seek,
                      char *errstr, size_t errstr_size);

/* partition reached its end: eof_offset is the offset the consumer would read
 * next (the last stable offset under read_committed) and high_watermark the
 * partition's high watermark (-1 when unknown). An export open on that
 * partition stays open: its committed parts were applied and its next part,
 * a later attempt or an ExportAbort is still to come (the request's offset
 * is committed only with the last part, so its export is redone or settled
 * by whoever owns the request). Nothing fails here; *seek is set to -1 and
 * the return value is 0. */
int ferry_import_eof(ferry_import_t *imp, int32_t partition, int64_t eof_offset,
                     int64_t high_watermark, int64_t *seek, char *errstr, size_t errstr_size);

/* Rolls back the open export if it is on partition (any partition when
 * partition is -1), without a status and without storing an offset: it is
 * redone from the stored offset by whoever consumes the partition next
 * (rebalance, shutdown). */
void ferry_import_abandon(ferry_import_t *imp, int32_t partition);

/* The partition of the open export, or -1 when none is open. */
int32_t ferry_import_open_partition(const ferry_import_t *imp);

#endif
