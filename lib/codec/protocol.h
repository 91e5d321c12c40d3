/* protocol.h - ferry's messages on Kafka (DESIGN.md section 5) and their Avro
 * single-object encoding (C3 01, 8-byte little-endian CRC-64-AVRO fingerprint of
 * the schema's Parsing Canonical Form, then the Avro binary body).
 *
 * Schemas live in schemas/ (one .avsc per message, namespace "ferry"); the same text is compiled
 * into the library. Every decoder distrusts its input: truncated or oversized
 * data, a wrong magic or an unknown fingerprint give FERRY_EDECODE and a message,
 * never a crash or an unbounded allocation.
 *
 * Ownership: structs returned by *_decode are new; free them with the matching
 * *_free (accepts NULL). Structs passed to *_encode are only read. Encoders
 * append to a ferry_buf_t the caller owns and may reuse. */
#ifndef FERRY_PROTOCOL_H
#define FERRY_PROTOCOL_H

#include "buf.h"
#include "meta.h"
#include "plan.h"

#include <stddef.h>
#include <stdint.h>

/* The kinds of message, also the value of the `ferry.type` header. */
typedef enum ferry_msg_type {
    FERRY_MSG_UNKNOWN = 0,
    FERRY_MSG_REQUEST,        /* "ExportRequest" */
    FERRY_MSG_EXPORT_BEGIN,   /* "ExportBegin" */
    FERRY_MSG_TABLE_METADATA, /* "TableMetadata" */
    FERRY_MSG_ROWS,           /* "Rows": data records, an Avro array of its table's row schema */
    FERRY_MSG_TABLE_END,      /* "TableEnd" */
    FERRY_MSG_EXPORT_END,     /* "ExportEnd" */
    FERRY_MSG_STATUS,         /* "StatusEvent" */
    FERRY_MSG_SCHEDULE,       /* "Schedule" */
    FERRY_MSG_PART_BEGIN,     /* "PartBegin": opens each part of an export but the first */
    FERRY_MSG_EXPORT_ABORT,   /* "ExportAbort": an export given up */
} ferry_msg_type_t;

const char *ferry_msg_type_name(ferry_msg_type_t t);
ferry_msg_type_t ferry_msg_type_from_name(const char *name);

/* The type of a framed message from its fingerprint (FERRY_MSG_UNKNOWN for a
 * fingerprint of no envelope schema, for example a row's). *fingerprint (if not
 * NULL) receives the fingerprint. FERRY_EDECODE if the framing is wrong. A
 * JSON request (first byte '{') is FERRY_MSG_REQUEST with fingerprint 0. */
int ferry_msg_peek(const void *buf, size_t len, ferry_msg_type_t *type, uint64_t *fingerprint,
                   char *errstr, size_t errstr_size);

/* The schema of an envelope message type as compiled in from
 * schemas/<name>.avsc (static, NUL-terminated), and the CRC-64-AVRO of its
 * Parsing Canonical Form; NULL and 0 for FERRY_MSG_ROWS (see rowcodec.h) and FERRY_MSG_UNKNOWN. */
const char *ferry_msg_schema_json(ferry_msg_type_t t);
uint64_t ferry_msg_fingerprint(ferry_msg_type_t t);

/* Limits on the untrusted names of requests and schedules. */
#define FERRY_NAME_MAX 256            /* bytes in an environment, object or schedule name */
#define FERRY_EXPORT_ID_MAX 512       /* bytes in an export id with its NUL */
#define FERRY_REQUEST_MAX_OBJECTS 1000

typedef enum ferry_content {
    FERRY_CONTENT_ALL = 0,
    FERRY_CONTENT_METADATA,
    FERRY_CONTENT_DATA,
} ferry_content_t;

const char *ferry_content_name(ferry_content_t c);   /* "all", "metadata", "data" */
int ferry_content_from_name(const char *name);       /* -1 for unknown */

/* ExportRequest: "copy these objects from source to target". */
typedef struct ferry_request {
    char *export_id;       /* unique; for a schedule fire "<schedule_id>@<due RFC 3339>" */
    char *source;          /* environment names, as declared in the config */
    char *target;
    char **objects;
    size_t nobjects;
    ferry_content_t content;
    int64_t requested_at_ms; /* Unix ms */
    char *schedule_id;     /* NULL for a one-off export */
    int64_t due_ms;        /* the schedule's due time, 0 for one-off */
} ferry_request_t;

/* Accepts Avro single-object encoding or the JSON form (first byte '{'; see
 * README). Validates shape only (non-empty names, at least one object).
 * JSON form: {"export_id": "...", "source": "dev", "target": "prod",
 * "objects": ["Queue", ...], "content": "all"|"metadata"|"data",
 * "requested_at": "2024-05-01T12:00:00Z" or Unix ms, "schedule_id": "..." or
 * null, "due": RFC 3339 or Unix ms}; source, target and objects are required.
 * An absent or empty export_id gets 32 random hex digits; an absent
 * requested_at the time of decoding. Names: 1..FERRY_NAME_MAX bytes of UTF-8
 * without control characters; 1..FERRY_REQUEST_MAX_OBJECTS objects.
 * Undecodable bytes (bad JSON, bad Avro) -> FERRY_EDECODE; a request of the
 * wrong shape (missing or unknown key, bad name, too many objects) ->
 * FERRY_EINVAL, errstr naming the key. */
int ferry_request_decode(const void *buf, size_t len, ferry_request_t **out, char *errstr,
                         size_t errstr_size);
/* The same, with fallback_id (copied) as the export id of a request that has
 * none: the worker passes ferry_request_derive_id's, so that a request redone
 * after a failure keeps its id and is applied once downstream. */
int ferry_request_decode_with_id(const void *buf, size_t len, const char *fallback_id,
                                 ferry_request_t **out, char *errstr, size_t errstr_size);
/* Length of an export id from ferry_request_derive_id (without its NUL). */
#define FERRY_DERIVED_ID_LEN 32
/* The export id the worker gives a request that carries none: 32 lowercase
 * hex digits, two unrelated 64-bit hashes of where and when the request was
 * written (cluster id, topic, partition, offset, the message's timestamp)
 * and of its bytes. The same message always gets the same id, so a request
 * redone after a failure is applied once downstream; a request written at
 * the same offset after the topic was deleted and created again, or on
 * another cluster, gets another. cluster_id may be NULL (unknown).
 * 0, or FERRY_ENOMEM. */
int ferry_request_derive_id(const char *cluster_id, const char *topic, int32_t partition,
                            int64_t offset, int64_t timestamp_ms, const void *payload, size_t len,
                            char out[FERRY_DERIVED_ID_LEN + 1]);
/* The export id that a request which ferry_request_decode refused carries,
 * so that its rejection can name it: the JSON form's "export_id" (whatever
 * else is wrong with the request), or the Avro form's when the body decodes.
 * Copied to id (NUL-terminated) only when it is a valid id (as the decoder
 * checks it) that fits id_size. 0, FERRY_ENOTFOUND when there is none that
 * can be read, or FERRY_ENOMEM. */
int ferry_request_peek_id(const void *buf, size_t len, char *id, size_t id_size);
int ferry_request_encode(const ferry_request_t *req, ferry_buf_t *out, char *errstr,
                         size_t errstr_size);
/* The JSON form (as accepted by ferry_request_decode), appended to out. */
int ferry_request_to_json(const ferry_request_t *req, ferry_buf_t *out);
/* A deep copy, or NULL on ENOMEM. */
ferry_request_t *ferry_request_dup(const ferry_request_t *req);
void ferry_request_free(ferry_request_t *req);
/* The size of a buffer that holds any stream key and its NUL. */
#define FERRY_STREAM_KEY_MAX 600
/* The stream key of a request, the Kafka key of the request and of its export
 * stream: its schedule id, or "source->target". Writes into out (truncated to
 * out_size). */
void ferry_request_stream_key(const ferry_request_t *req, char *out, size_t out_size);

/* ExportBegin: opens one export on a records topic. */
typedef struct ferry_export_begin {
    char *export_id;
    ferry_request_t *request;
    ferry_plan_table_t *tables;
    size_t ntables;
    ferry_plan_assoc_t *assocs;
    size_t nassocs;
    int32_t ngroups;
    char *attempt;  /* the attempt it opens; NULL encodes as "" */
} ferry_export_begin_t;

int ferry_export_begin_encode(const ferry_export_begin_t *m, ferry_buf_t *out, char *errstr,
                              size_t errstr_size);
int ferry_export_begin_decode(const void *buf, size_t len, ferry_export_begin_t **out,
                              char *errstr, size_t errstr_size);
void ferry_export_begin_free(ferry_export_begin_t *m);

/* TableMetadata: one object's definition and the Avro schema of its rows.
 * The object carries its dialect, and each field its identity and labels;
 * the decoder refuses an unknown dialect, identity or type name, labels on a
 * field that is neither enum nor array, more than FERRY_FIELD_MAX_LABELS
 * labels or one longer than FERRY_LABEL_MAX bytes (PostgreSQL's own limit is
 * 63), naming the field of the message at fault. */
#define FERRY_FIELD_MAX_LABELS 10000
#define FERRY_LABEL_MAX 255
typedef struct ferry_table_metadata {
    char *export_id;
    int32_t group;
    ferry_objset_t *set;           /* owns object */
    const ferry_object_t *object;  /* the table, with fields, keys and relations */
    char *row_schema_json;         /* the row schema as published (logical types kept) */
    uint64_t fingerprint;          /* CRC-64-AVRO of the row schema's canonical form */
    int with_rows;                 /* 0 when content=metadata: no rows follow */
} ferry_table_metadata_t;

/* Encodes from a borrowed object (m->set is ignored by the encoder). */
int ferry_table_metadata_encode(const ferry_table_metadata_t *m, ferry_buf_t *out, char *errstr,
                                size_t errstr_size);
int ferry_table_metadata_decode(const void *buf, size_t len, ferry_table_metadata_t **out,
                                char *errstr, size_t errstr_size);
void ferry_table_metadata_free(ferry_table_metadata_t *m);

/* TableEnd and ExportEnd. */
typedef struct ferry_table_end {
    char *export_id;
    char *table;
    int64_t rows;
    char *checksum;        /* 16 hex digits (checksum.h) */
} ferry_table_end_t;

int ferry_table_end_encode(const ferry_table_end_t *m, ferry_buf_t *out, char *errstr,
                           size_t errstr_size);
int ferry_table_end_decode(const void *buf, size_t len, ferry_table_end_t **out, char *errstr,
                           size_t errstr_size);
void ferry_table_end_free(ferry_table_end_t *m);

typedef struct ferry_export_end {
    char *export_id;
    int32_t tables;
    int64_t rows;
    char *checksum;        /* the merged checksum over all tables */
} ferry_export_end_t;

int ferry_export_end_encode(const ferry_export_end_t *m, ferry_buf_t *out, char *errstr,
                            size_t errstr_size);
int ferry_export_end_decode(const void *buf, size_t len, ferry_export_end_t **out, char *errstr,
                            size_t errstr_size);
void ferry_export_end_free(ferry_export_end_t *m);

/* The size of a buffer holding an attempt id (16 hex digits) and its NUL. */
#define FERRY_ATTEMPT_MAX 17

/* PartBegin: opens part `part` (1, 2, ...) of an attempt at an export; rows
 * and checksum are those of every row sent in the attempt's earlier parts. */
typedef struct ferry_part_begin {
    char *export_id;
    char *attempt;
    int32_t part;
    int64_t rows;
    char *checksum;        /* 16 hex digits (checksum.h) */
} ferry_part_begin_t;

int ferry_part_begin_encode(const ferry_part_begin_t *m, ferry_buf_t *out, char *errstr,
                            size_t errstr_size);
int ferry_part_begin_decode(const void *buf, size_t len, ferry_part_begin_t **out, char *errstr,
                            size_t errstr_size);
void ferry_part_begin_free(ferry_part_begin_t *m);

/* ExportAbort: the worker gave up the export (its request settled failed). */
typedef struct ferry_export_abort {
    char *export_id;
    char *attempt;
    char *reason;
} ferry_export_abort_t;

int ferry_export_abort_encode(const ferry_export_abort_t *m, ferry_buf_t *out, char *errstr,
                              size_t errstr_size);
int ferry_export_abort_decode(const void *buf, size_t len, ferry_export_abort_t **out,
                              char *errstr, size_t errstr_size);
void ferry_export_abort_free(ferry_export_abort_t *m);

/* StatusEvent on ferry.status, keyed by export id. */
typedef enum ferry_status_state {
    FERRY_STATUS_ACCEPTED = 0,
    FERRY_STATUS_PUBLISHED,
    FERRY_STATUS_APPLIED,
    FERRY_STATUS_FAILED,
    FERRY_STATUS_REJECTED,
    FERRY_STATUS_SKIPPED,   /* an export id applied before: not applied again */
} ferry_status_state_t;

const char *ferry_status_state_name(ferry_status_state_t s);
/* The inverse of ferry_status_state_name; -1 for an unknown name. */
int ferry_status_state_from_name(const char *name);

typedef struct ferry_table_stat {
    char *table;
    int64_t rows;
    int64_t inserted;
    int64_t updated;
} ferry_table_stat_t;

typedef struct ferry_status {
    char *export_id;
    ferry_status_state_t state;
    int64_t at_ms;
    char *component;       /* "worker:<id>", "import:<target>" */
    char *source;          /* may be NULL */
    char *target;          /* may be NULL */
    int32_t tables;
    int64_t rows;
    int64_t bytes;
    int64_t duration_ms;
    char *reason;          /* NULL unless failed/rejected */
    ferry_table_stat_t *table_stats;
    size_t ntable_stats;
} ferry_status_t;

int ferry_status_encode(const ferry_status_t *m, ferry_buf_t *out, char *errstr,
                        size_t errstr_size);
int ferry_status_decode(const void *buf, size_t len, ferry_status_t **out, char *errstr,
                        size_t errstr_size);
void ferry_status_free(ferry_status_t *m);

/* Schedule on the compacted ferry.schedules topic, keyed by id. Exactly one of
 * every_ms (> 0), cron (non-NULL) or at_ms (> 0, a one-shot) is set. */
typedef struct ferry_schedule {
    char *id;
    char *source;
    char *target;
    char **objects;
    size_t nobjects;
    ferry_content_t content;
    int64_t every_ms;
    int64_t from_ms;       /* the first due time of an interval schedule */
    char *cron;            /* "SEC MIN HOUR DOM MON DOW" */
    int64_t at_ms;
    int64_t created_ms;
} ferry_schedule_t;

int ferry_schedule_encode(const ferry_schedule_t *m, ferry_buf_t *out, char *errstr,
                          size_t errstr_size);
int ferry_schedule_decode(const void *buf, size_t len, ferry_schedule_t **out, char *errstr,
                          size_t errstr_size);
void ferry_schedule_free(ferry_schedule_t *m);

#endif
