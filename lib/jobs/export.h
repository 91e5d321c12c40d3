/* export.h - one export on the worker side: validate a request against the
 * configuration and the source environment, plan it, and write its stream
 * (DESIGN.md section 5) to the target's records topic:
 *
 *   ExportBegin, then per apply group in plan order the TableMetadata of
 *   each of its tables, then per table of the group the Rows messages
 *   packing its rows (content all|data; rowcodec.h) and its TableEnd; then
 *   ExportEnd. (A group of one table: TableMetadata, Rows..., TableEnd.)
 *
 * Every message carries the stream key and the headers ferry.type,
 * ferry.export and (per table) ferry.table. The caller owns the Kafka
 * transaction around ferry_export_stream. */
#ifndef FERRY_EXPORT_H
#define FERRY_EXPORT_H

#include "catalog.h"
#include "config.h"
#include "plan.h"
#include "protocol.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdint.h>

typedef struct ferry_export ferry_export_t;

typedef struct ferry_export_stats {
    int32_t tables;
    int64_t rows;
    int64_t bytes;        /* encoded message bytes produced */
    int64_t messages;     /* Rows messages produced */
    char checksum[17];    /* merged over all tables (checksum.h) */
} ferry_export_stats_t;

/* Validates req and plans it: both environments declared, a legal records topic,
 * the source store readable, the requested objects present. *out is new; free
 * with ferry_export_destroy. The request is copied.
 * FERRY_EINVAL or FERRY_ENOTFOUND: the request is invalid and must be rejected
 * (errstr names the environment or objects); FERRY_EPERMANENT: the source
 * environment's store is one ferry cannot open; any other code is a failure
 * that may pass (for example a store that is down). */
int ferry_export_prepare(const ferry_config_t *cfg, const ferry_catalog_t *cat,
                         const ferry_request_t *req, ferry_export_t **out, char *errstr,
                         size_t errstr_size);
void ferry_export_destroy(ferry_export_t *ex);

const ferry_plan_t *ferry_export_plan(const ferry_export_t *ex);
/* The records topic and the stream key of this export. */
const char *ferry_export_topic(const ferry_export_t *ex);
const char *ferry_export_stream_key(const ferry_export_t *ex);

/* The former name of ferry_request_stream_key (protocol.h), kept only for
 * worker.c's handle_request, which another change edits: remove it once that
 * call uses the new name. */
static inline void ferry_export_key_of(const ferry_request_t *req, char *out, size_t out_size)
{
    ferry_request_stream_key(req, out, out_size);
}

/* Produces the whole stream into rk, which must be in an open transaction.
 * Rows are read from the source through a cursor and produced one by one, so
 * memory stays bounded; a full producer queue is waited out. Checks *stop
 * between rows and returns FERRY_EABORT when it is set. Fills *stats. */
int ferry_export_stream(ferry_export_t *ex, rd_kafka_t *rk, const volatile sig_atomic_t *stop,
                        ferry_export_stats_t *stats, char *errstr, size_t errstr_size);

#endif
