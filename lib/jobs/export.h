/* export.h - one export on the worker side: validate a request against the
 * configuration and the source environment, plan it, and write its stream
 * (DESIGN.md section 5) through a sink:
 *
 *   ExportBegin, then per apply group in plan order the TableMetadata of
 *   each of its tables, then per table of the group the Rows messages
 *   packing its rows (content all|data; rowcodec.h) and its TableEnd; then
 *   ExportEnd. (A group of one table: TableMetadata, Rows..., TableEnd.)
 *
 * The stream is cut into parts of about worker.part_bytes each, each part
 * its own Kafka transaction: ExportBegin opens part 0; before a message that
 * would take the open part past the budget the job asks the sink to cut
 * (commit the part, open the next) and emits a PartBegin numbering the new
 * part and carrying the row count and checksum of everything before it;
 * ExportEnd closes the last part. A cut falls only between messages.
 *
 * Every message carries the stream key and the headers ferry.type,
 * ferry.export, ferry.attempt and (per table) ferry.table. The job knows nothing of Kafka
 * clients, the way the import job reports through a callback: the worker's
 * sink produces each message into its open Kafka transaction (worker.c),
 * and the unit tests collect them in memory. */
#ifndef FERRY_EXPORT_H
#define FERRY_EXPORT_H

#include "catalog.h"
#include "config.h"
#include "plan.h"
#include "protocol.h"

#include <signal.h>
#include <stdint.h>

typedef struct ferry_export ferry_export_t;

typedef struct ferry_export_stats {
    int32_t tables;
    int64_t rows;
    int64_t bytes;        /* encoded message bytes emitted */
    int64_t messages;     /* Rows messages emitted */
    int32_t parts;        /* parts begun (ExportBegin's and one per PartBegin) */
    char checksum[17];    /* merged over all tables (checksum.h) */
} ferry_export_stats_t;

/* Validates req and plans it: both environments declared, a legal records topic,
 * the source store readable, the requested objects present. *out is new; free
 * with ferry_export_destroy. The request is copied.
 * FERRY_EINVAL or FERRY_ENOTFOUND: the request is invalid and must be rejected
 * (errstr names the environment or objects); FERRY_EPERMANENT: the source
 * environment's store is one ferry cannot open, or a planned table has a
 * column of a type ferry cannot carry (errstr: "column table.column is of
 * type T..."); any other code is a failure
 * that may pass (for example a store that is down). */
int ferry_export_prepare(const ferry_config_t *cfg, const ferry_catalog_t *cat,
                         const ferry_request_t *req, ferry_export_t **out, char *errstr,
                         size_t errstr_size);
void ferry_export_destroy(ferry_export_t *ex);

const ferry_plan_t *ferry_export_plan(const ferry_export_t *ex);
/* The records topic and the stream key of this export. */
const char *ferry_export_topic(const ferry_export_t *ex);
const char *ferry_export_stream_key(const ferry_export_t *ex);

/* Names the attempt the next ferry_export_stream writes (copied, at most
 * FERRY_ATTEMPT_MAX - 1 bytes; "" until set). A worker gives every attempt
 * at a request its own id (ferry_export_attempt_id). */
void ferry_export_set_attempt(ferry_export_t *ex, const char *attempt);
/* A new attempt id: 16 lowercase hex digits hashed from who (a worker's
 * name), the process, the clock and a counter, so that two attempts never
 * share one. */
void ferry_export_attempt_id(const char *who, char out[FERRY_ATTEMPT_MAX]);


/* The most headers a message of the stream carries. */
#define FERRY_EXPORT_MAX_HEADERS 4

/* A header of a message of the stream: a NUL-terminated name and value. */
typedef struct ferry_export_header {
    const char *name;
    const char *value;
} ferry_export_header_t;

/* One message of the stream, as the job hands it to its sink. Everything is
 * borrowed for the call: a sink that keeps a message copies it. */
typedef struct ferry_export_msg {
    ferry_msg_type_t type;
    const char *table; /* the table of TableMetadata, Rows and TableEnd; else NULL */
    const char *key;   /* the stream key, NUL-terminated (the Kafka key) */
    const void *value; /* the encoded message (protocol.h, rowcodec.h) */
    size_t len;
    /* ferry.type, ferry.export, ferry.attempt and, with a table, ferry.table:
     * in that order */
    ferry_export_header_t headers[FERRY_EXPORT_MAX_HEADERS];
    size_t nheaders;
} ferry_export_msg_t;

/* Where the stream goes. emit writes one message, in stream order; it
 * returns 0, or a negative FERRY_E* code filling errstr, and then the job
 * stops with that code and errstr (nothing more is emitted). Waiting out
 * back-pressure is the sink's business: the job calls emit once per
 * message. cut ends the open part (the worker commits its transaction) and
 * opens the next; the job calls it between messages, and then emits the new
 * part's PartBegin. A failing cut stops the job the same way. NULL: the
 * stream is never cut (one part). opaque is the sink's own, passed to every
 * call. */
typedef struct ferry_export_sink {
    int (*emit)(void *opaque, const ferry_export_msg_t *msg, char *errstr, size_t errstr_size);
    int (*cut)(void *opaque, char *errstr, size_t errstr_size);
    void *opaque;
} ferry_export_sink_t;

/* Writes the whole stream to sink (borrowed for the call). Rows are read
 * from the source through a cursor and emitted a Rows message at a time, so
 * memory stays bounded. Checks *stop (stop may be NULL) between rows and
 * returns FERRY_EABORT when it is set. Fills *stats, also on failure (what
 * was emitted until then). */
int ferry_export_stream(ferry_export_t *ex, const ferry_export_sink_t *sink,
                        const volatile sig_atomic_t *stop, ferry_export_stats_t *stats,
                        char *errstr, size_t errstr_size);

#endif
