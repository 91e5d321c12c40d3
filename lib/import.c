/* import.c - the import job and its consumer loop (see import.h).
 *
 * State machine of the import job (one export open at a time, because the
 * store has one write transaction at a time):
 *
 *   IDLE  --ExportBegin of an export not applied yet--> OPEN   (begin_export:
 *          BEGIN IMMEDIATE, foreign-key checks deferred to the commit; the
 *          plan must be in group order and its association targets exist,
 *          else on to fail_export)
 *   IDLE  --ExportBegin of an applied export--> IDLE           (begin_export,
 *          report_skipped: SKIPPED status, offset past it stored)
 *   IDLE  --any other message--> IDLE: the tail of an export that failed, was
 *          skipped, or began before the stored offset; ignored
 *   OPEN  --TableMetadata of the first table of the plan's next apply
 *          group--> GROUP                                      (declare_table:
 *          create or evolve the table, or check it exists for content=data;
 *          check its row schema; keep its metadata and row decoder)
 *   GROUP --TableMetadata of the group's next table--> GROUP   (declare_table)
 *   GROUP --the group's last TableMetadata--> TABLE            (declare_table,
 *          then open_table: the group's first table gets its row writer,
 *          whose prepared inserts need every table they refer to; a group
 *          of one table goes from OPEN to TABLE at once)
 *   TABLE --Rows--> TABLE                                      (apply_rows: upsert each)
 *   TABLE --TableEnd, counts and checksum match--> TABLE       (end_table, then
 *          open_table for the group's next table)
 *   TABLE --TableEnd of the group's last table, counts and checksum
 *          match--> OPEN                                       (end_table)
 *   OPEN  --ExportEnd, totals match--> IDLE                    (commit_export:
 *          export id and next offset written, then COMMIT)
 *   OPEN/GROUP/TABLE --anything out of order, undecodable, a failed check
 *          or a failed commit (a missing parent row)--> IDLE   (fail_export:
 *          ROLLBACK, then a small transaction storing only the offset past
 *          the export; FAILED status)
 *   OPEN/GROUP/TABLE --end of the partition with nothing pending behind
 *          it--> IDLE
 *          (ferry_import_eof -> fail_export: cut off without ExportEnd)
 *   OPEN/GROUP/TABLE --rebalance, shutdown--> IDLE             (ferry_import_abandon:
 *          ROLLBACK only; redone from the stored offset)
 * An apply group is the plan's tables of one group number (tables that
 * reference each other, or one table). Its TableMetadata messages all come
 * before the rows of any of its tables (README, "Topics and the export
 * stream"): SQLite cannot prepare an insert into a table whose foreign-key
 * parent does not exist yet, and within a group each table may be the
 * other's parent. Only the metadata and decoders of the group being declared
 * are kept, never rows.
 * Debug builds assert (check_invariants) that a transaction is open exactly
 * when the state is not IDLE, that a table is open (its metadata, decoder and
 * writer) exactly in TABLE, and where the plan indexes stand in each state.
 *
 * Interleaving. Two exports of different streams may share a partition and
 * their transactions may interleave in the log. Nothing is buffered: while
 * export A is open, messages of any other export B on that partition are
 * skipped and the offset of B's ExportBegin is remembered (the smallest such
 * offset, "resume"). When A ends (applied or failed) the stored next offset
 * is that remembered offset (else the offset past A) and the partition is
 * re-read from it (the *seek output); A's own messages met again are then
 * tails without an ExportBegin, and ignored. Hence the invariant: every
 * export whose ExportBegin lies before a partition's stored offset is done
 * (applied, failed or skipped), and an export at or after it that was applied
 * before is recognised by its id.
 *
 * Several partitions: only one export can be open, so the consumer pauses
 * every other assigned partition while one is open and resumes them after
 * (sync_pauses). A message of another partition that was fetched before the
 * pause took effect is handed back: *seek asks for it to be re-read.
 *
 * Cut off. Under read_committed the consumer sees a partition up to its last
 * stable offset (LSO). An export's transaction becomes visible at once when
 * committed, but an export of another stream whose transaction started inside
 * it and is still open holds the LSO back, so reaching the end of the
 * partition with an export open proves nothing by itself. The end proves a
 * cut-off export only when the high watermark equals that end: no transaction
 * is pending, everything committed has been read, and no ExportEnd came.
 * Otherwise the job waits for the next end-of-partition event (at the latest
 * when the pending transaction commits or times out).
 *
 * SKIPPED is published for the ExportBegin of an applied export the first
 * time the job meets that message in this run (a scheduler re-fire, a
 * worker's redo), not again when it is re-read after a seek back: the
 * positions already reported are kept in a ring of the last RECENT_MAX. */
#include "import.h"

#include "checksum.h"
#include "error.h"
#include "kafka.h"
#include "log.h"
#include "rowcodec.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define RECENT_MAX 1024
#define REASON_MAX 1024

enum job_state { IMPORT_IDLE, IMPORT_OPEN, IMPORT_GROUP, IMPORT_TABLE };

/* A table of the group being applied whose TableMetadata arrived and whose
 * rows have not begun. */
typedef struct declared_table {
    ferry_table_metadata_t *tm;
    ferry_rowcodec_t *codec; /* NULL without rows; borrows tm->object */
} declared_table_t;

typedef struct begin_pos {
    int32_t partition;
    int64_t offset;
} begin_pos_t;

struct ferry_import {
    ferry_store_t *store;
    char *target;
    char *topic;
    char *component;
    ferry_import_report_cb report;
    void *opaque;
    enum job_state state;

    /* The open export (state != IDLE). */
    ferry_export_begin_t *begin;
    int32_t partition;
    int64_t resume;          /* smallest ExportBegin offset of another export skipped, or -1 */
    int64_t started_ms;
    int64_t bytes;
    size_t next;             /* plan index of the table applied (TABLE) or next to apply */
    size_t declared;         /* plan index past the last table whose TableMetadata arrived */
    size_t group_end;        /* plan index past the last table of the group being applied */
    declared_table_t *decl;  /* one per plan table; set from its TableMetadata to its open */
    ferry_table_stat_t *stats; /* one per plan table; names borrowed from begin */
    ferry_checksum_t total;

    /* The open table (state == TABLE). */
    ferry_table_metadata_t *tm;
    ferry_rowcodec_t *codec;
    ferry_writer_t *writer;
    uint64_t *seeds;
    ferry_checksum_t sum;

    ferry_buf_t event;       /* an encoded StatusEvent, reused */
    begin_pos_t recent[RECENT_MAX]; /* ExportBegins already reported SKIPPED */
    size_t nrecent;
};

static void check_invariants(const ferry_import_t *imp)
{
    assert((imp->state == IMPORT_IDLE) == (imp->begin == NULL));
    assert((imp->state == IMPORT_TABLE) == (imp->tm != NULL));
    assert(imp->state != IMPORT_IDLE || imp->resume < 0);
    assert(imp->writer == NULL || imp->state == IMPORT_TABLE);
    assert(imp->state != IMPORT_OPEN || imp->declared == imp->next);
    assert(imp->state != IMPORT_GROUP ||
           (imp->next < imp->declared && imp->declared < imp->group_end));
    assert(imp->state != IMPORT_TABLE ||
           (imp->next < imp->group_end && imp->declared == imp->group_end));
    (void)imp;
}

int ferry_import_new(ferry_store_t *store, const char *target, const char *topic,
                     ferry_import_report_cb report, void *opaque, ferry_import_t **out,
                     char *errstr, size_t errstr_size)
{
    ferry_import_t *imp = calloc(1, sizeof(*imp));

    *out = NULL;
    if (!imp || !(imp->target = strdup(target)) || !(imp->topic = strdup(topic)) ||
        !(imp->component = malloc(strlen(target) + sizeof("import:")))) {
        ferry_import_destroy(imp);
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "import job for %s: out of memory",
                          target);
    }
    sprintf(imp->component, "import:%s", target);
    imp->store = store;
    imp->report = report;
    imp->opaque = opaque;
    imp->state = IMPORT_IDLE;
    imp->partition = -1;
    imp->resume = -1;
    *out = imp;
    return FERRY_OK;
}

/* Frees the open table's decoder, writer and metadata (writers must go before
 * the transaction ends). */
static void close_table(ferry_import_t *imp)
{
    ferry_writer_destroy(imp->writer);
    ferry_rowcodec_destroy(imp->codec);
    ferry_table_metadata_free(imp->tm);
    free(imp->seeds);
    imp->writer = NULL;
    imp->codec = NULL;
    imp->tm = NULL;
    imp->seeds = NULL;
    if (imp->state == IMPORT_TABLE)
        imp->state = IMPORT_OPEN;
}

/* Forgets the open export; the transaction has already ended. */
static void close_export(ferry_import_t *imp)
{
    close_table(imp);
    for (size_t i = 0; imp->decl && i < imp->begin->ntables; i++) {
        ferry_rowcodec_destroy(imp->decl[i].codec); /* it borrows the metadata's object */
        ferry_table_metadata_free(imp->decl[i].tm);
    }
    ferry_export_begin_free(imp->begin);
    free(imp->decl);
    free(imp->stats);
    imp->begin = NULL;
    imp->decl = NULL;
    imp->stats = NULL;
    imp->partition = -1;
    imp->resume = -1;
    imp->state = IMPORT_IDLE;
    check_invariants(imp);
}

void ferry_import_abandon(ferry_import_t *imp, int32_t partition)
{
    if (!imp || imp->state == IMPORT_IDLE || (partition >= 0 && partition != imp->partition))
        return;
    close_table(imp);
    ferry_store_rollback(imp->store);
    ferry_log(FERRY_LOG_INFO, "export=%s target=%s outcome=abandoned partition=%" PRId32
              " (rolled back; redone from the stored offset)",
              imp->begin->export_id, imp->target, imp->partition);
    close_export(imp);
}

void ferry_import_destroy(ferry_import_t *imp)
{
    if (!imp)
        return;
    ferry_import_abandon(imp, -1);
    free(imp->target);
    free(imp->topic);
    free(imp->component);
    ferry_buf_free(&imp->event);
    free(imp);
}

int32_t ferry_import_open_partition(const ferry_import_t *imp)
{
    return imp->state == IMPORT_IDLE ? -1 : imp->partition;
}

/* ---- outcomes ---- */

/* The StatusEvent of an outcome: of the open export when begin is it (with
 * its duration, bytes and, when applied, its counts), else of export_id
 * alone. Its strings are borrowed from the job and the caller. */
static ferry_status_t status_of(const ferry_import_t *imp, ferry_status_state_t state,
                                const char *export_id, const ferry_export_begin_t *begin,
                                const char *reason)
{
    ferry_status_t st = {0};

    st.export_id = (char *)export_id;
    st.state = state;
    st.at_ms = ferry_now_ms();
    st.component = imp->component;
    st.source = begin && begin->request ? begin->request->source : NULL;
    st.target = imp->target;
    st.reason = (char *)reason;
    if (begin == imp->begin && imp->begin) {
        st.duration_ms = st.at_ms - imp->started_ms;
        st.bytes = imp->bytes;
        if (state == FERRY_STATUS_APPLIED) {
            st.tables = (int32_t)imp->begin->ntables;
            st.rows = (int64_t)imp->total.rows;
            st.table_stats = imp->stats;
            st.ntable_stats = imp->begin->ntables;
        }
    }
    return st;
}

/* Queues st in the store's status outbox, inside the open transaction: it
 * reaches ferry.status even if the importer dies right after the commit. */
static int queue_status(ferry_import_t *imp, const ferry_status_t *st, char *errstr,
                        size_t errstr_size)
{
    int rc;

    ferry_buf_reset(&imp->event);
    if ((rc = ferry_status_encode(st, &imp->event, errstr, errstr_size)))
        return rc;
    return ferry_store_outbox_add(imp->store, st->export_id, imp->event.data, imp->event.len,
                                  errstr, errstr_size);
}

/* Logs an outcome and hands it to the report callback; queued says whether
 * it waits in the store's outbox (the callback then need not publish it). */
static void report_status(ferry_import_t *imp, const ferry_status_t *st, int queued)
{
    int64_t inserted = 0, updated = 0;

    for (size_t i = 0; i < st->ntable_stats; i++) {
        inserted += st->table_stats[i].inserted;
        updated += st->table_stats[i].updated;
    }
    ferry_log(st->state == FERRY_STATUS_FAILED ? FERRY_LOG_WARN : FERRY_LOG_INFO,
              "export=%s target=%s tables=%" PRId32 " rows=%" PRId64 " inserted=%" PRId64
              " updated=%" PRId64 " ms=%" PRId64 " outcome=%s%s%s%s",
              st->export_id, imp->target, st->tables, st->rows, inserted, updated,
              st->duration_ms, ferry_status_state_name(st->state),
              st->reason ? " reason=\"" : "", st->reason ? st->reason : "",
              st->reason ? "\"" : "");
    if (imp->report)
        imp->report(st, queued, imp->opaque);
}

/* An outcome that is not queued: re-reading the log reports it again. */
static void report(ferry_import_t *imp, ferry_status_state_t state, const char *export_id,
                   const ferry_export_begin_t *begin, const char *reason)
{
    ferry_status_t st = status_of(imp, state, export_id, begin, reason);

    report_status(imp, &st, 0);
}

/* Folds the store's log back into the database after a commit, once what
 * the commit reports is out (store.h). Housekeeping: a failure loses nothing. */
static void checkpoint(ferry_import_t *imp)
{
    char why[512];

    if (ferry_store_checkpoint(imp->store, why, sizeof(why)))
        ferry_log(FERRY_LOG_WARN, "target=%s checkpoint failed: %s", imp->target, why);
}

/* Stores next as the partition's next offset in a transaction of its own,
 * and queues st with it unless st is NULL. */
static int store_offset(ferry_import_t *imp, int32_t partition, int64_t next,
                        const ferry_status_t *st, char *errstr, size_t errstr_size)
{
    int rc = ferry_store_begin(imp->store, errstr, errstr_size);

    if (!rc)
        rc = ferry_store_offset_set(imp->store, imp->topic, partition, next, errstr,
                                    errstr_size);
    if (!rc && st)
        rc = queue_status(imp, st, errstr, errstr_size);
    if (!rc)
        rc = ferry_store_commit(imp->store, errstr, errstr_size);
    if (rc)
        ferry_store_rollback(imp->store);
    else
        checkpoint(imp);
    return rc;
}

/* Rolls the open export back, stores the offset past it (or the remembered
 * resume offset) so that it is not retried, and reports it FAILED. Fails
 * only when that offset cannot be stored: then the export is redone after a
 * restart. */
static int fail_export(ferry_import_t *imp, const char *reason, int64_t past, int64_t *seek,
                       char *errstr, size_t errstr_size)
{
    int64_t next = imp->resume >= 0 ? imp->resume : past;
    ferry_status_t st;
    int rc;

    close_table(imp);
    ferry_store_rollback(imp->store);
    st = status_of(imp, FERRY_STATUS_FAILED, imp->begin->export_id, imp->begin, reason);
    rc = store_offset(imp, imp->partition, next, &st, errstr, errstr_size);
    if (rc) {
        close_export(imp);
        return rc;
    }
    report_status(imp, &st, 1);
    *seek = imp->resume;
    close_export(imp);
    return FERRY_OK;
}

static int recent_has(const ferry_import_t *imp, int32_t partition, int64_t offset)
{
    size_t n = imp->nrecent < RECENT_MAX ? imp->nrecent : RECENT_MAX;

    for (size_t i = 0; i < n; i++)
        if (imp->recent[i].partition == partition && imp->recent[i].offset == offset)
            return 1;
    return 0;
}

/* Reports an applied export met again as SKIPPED, once per ExportBegin
 * message. begin may be NULL (then only the id is known). */
static void report_skipped(ferry_import_t *imp, const ferry_import_msg_t *msg,
                           const char *export_id, const ferry_export_begin_t *begin)
{
    if (recent_has(imp, msg->partition, msg->offset))
        return;
    imp->recent[imp->nrecent++ % RECENT_MAX] = (begin_pos_t){msg->partition, msg->offset};
    report(imp, FERRY_STATUS_SKIPPED, export_id, begin, NULL);
}

/* ---- the messages of an open export ---- */

static ferry_msg_type_t msg_type(const ferry_import_msg_t *msg)
{
    ferry_msg_type_t t = msg->type ? ferry_msg_type_from_name(msg->type) : FERRY_MSG_UNKNOWN;

    /* A message without the header still says what it is when it is an
     * envelope (rows are recognised by their header only). */
    if (!msg->type)
        ferry_msg_peek(msg->payload, msg->len, &t, NULL, NULL, 0);
    return t;
}

static ssize_t plan_index(const ferry_export_begin_t *b, const char *table)
{
    for (size_t i = 0; i < b->ntables; i++)
        if (!strcmp(b->tables[i].name, table))
            return (ssize_t)i;
    return -1;
}

/* The plan must list tables in non-decreasing group order within ngroups. */
static int check_plan(const ferry_export_begin_t *b, char *why, size_t why_size)
{
    if (!b->request)
        return ferry_errf(why, why_size, FERRY_EDECODE, "export %s carries no request",
                          b->export_id);
    for (size_t i = 0; i < b->ntables; i++) {
        const ferry_plan_table_t *t = &b->tables[i];
        if (t->group < 0 || t->group >= b->ngroups || (i && t->group < b->tables[i - 1].group))
            return ferry_errf(why, why_size, FERRY_EORDER,
                              "the plan of export %s is not in apply-group order at table %s "
                              "(group %" PRId32 " of %" PRId32 ")",
                              b->export_id, t->name, t->group, b->ngroups);
    }
    return FERRY_OK;
}

/* Association targets are not exported: they must exist in the target. */
static int check_assocs(ferry_import_t *imp, char *why, size_t why_size)
{
    for (size_t i = 0; i < imp->begin->nassocs; i++) {
        const ferry_plan_assoc_t *a = &imp->begin->assocs[i];
        if (ferry_store_has_object(imp->store, a->to) != 1)
            return ferry_errf(why, why_size, FERRY_ENOTFOUND,
                              "association target %s (referenced by %s) does not exist in %s",
                              a->to, a->from, imp->target);
    }
    return FERRY_OK;
}

static int same_export(const ferry_import_t *imp, const char *payload_id, const char *what,
                       const ferry_import_msg_t *msg, char *why, size_t why_size)
{
    if (strcmp(payload_id, imp->begin->export_id))
        return ferry_errf(why, why_size, FERRY_EDECODE,
                          "%s at offset %" PRId64 " belongs to export %s, not %s", what,
                          msg->offset, payload_id, imp->begin->export_id);
    return FERRY_OK;
}

/* The plan index past the last table of the apply group of plan table idx. */
static size_t group_end_of(const ferry_export_begin_t *b, size_t idx)
{
    size_t end = idx + 1;

    while (end < b->ntables && b->tables[end].group == b->tables[idx].group)
        end++;
    return end;
}

/* Opens the plan's next table for its rows, once every table of its apply
 * group exists: its metadata and decoder move out of their slot, and its
 * writer prepares its inserts (which SQLite refuses while a table they refer
 * to is missing). */
static int open_table(ferry_import_t *imp, char *why, size_t why_size)
{
    declared_table_t *d = &imp->decl[imp->next];
    const ferry_object_t *obj = d->tm->object;
    int rc;

    imp->tm = d->tm;
    imp->codec = d->codec;
    d->tm = NULL;
    d->codec = NULL;
    imp->state = IMPORT_TABLE;
    imp->sum = (ferry_checksum_t)FERRY_CHECKSUM_INIT;
    if (!imp->tm->with_rows)
        return FERRY_OK;
    if ((rc = ferry_store_writer_open(imp->store, obj, &imp->writer, why, why_size)))
        return rc;
    if (!(imp->seeds = calloc(obj->nfields ? obj->nfields : 1, sizeof(*imp->seeds))))
        return ferry_errf(why, why_size, FERRY_ENOMEM, "table %s: out of memory", obj->name);
    for (size_t i = 0; i < obj->nfields; i++)
        imp->seeds[i] = ferry_checksum_seed(obj->fields[i].name);
    return FERRY_OK;
}

/* A TableMetadata: the plan's next table to declare, created or evolved (or
 * checked to exist for content=data) and kept with its row decoder until its
 * rows begin; the group's last one opens the group's first table. */
static int declare_table(ferry_import_t *imp, const ferry_import_msg_t *msg, char *why,
                         size_t why_size)
{
    const ferry_export_begin_t *b = imp->begin;
    ferry_content_t content = b->request->content;
    ferry_table_metadata_t *tm = NULL;
    ferry_rowcodec_t *codec = NULL;
    const ferry_object_t *obj;
    ssize_t idx;
    int rc;

    if (imp->state == IMPORT_TABLE)
        return ferry_errf(why, why_size, FERRY_EORDER,
                          "TableMetadata of %s arrived before the TableEnd of %s",
                          msg->table ? msg->table : "a table", imp->tm->object->name);
    if ((rc = ferry_table_metadata_decode(msg->payload, msg->len, &tm, why, why_size)))
        return rc;
    obj = tm->object;
    if ((rc = same_export(imp, tm->export_id, "TableMetadata", msg, why, why_size)))
        goto out;
    if (msg->table && strcmp(msg->table, obj->name)) {
        rc = ferry_errf(why, why_size, FERRY_EDECODE,
                        "TableMetadata at offset %" PRId64 " is headed %s but describes %s",
                        msg->offset, msg->table, obj->name);
        goto out;
    }
    idx = plan_index(b, obj->name);
    if (idx < 0) {
        rc = ferry_errf(why, why_size, FERRY_EORDER, "table %s is not in the plan of export %s",
                        obj->name, b->export_id);
        goto out;
    }
    if ((size_t)idx < imp->declared) {
        rc = ferry_errf(why, why_size, FERRY_EORDER, "table %s arrived twice", obj->name);
        goto out;
    }
    if ((size_t)idx > imp->declared) {
        rc = ferry_errf(why, why_size, FERRY_EORDER,
                        "table %s (group %" PRId32 ") arrived before its predecessor %s "
                        "(group %" PRId32 ") in the plan",
                        obj->name, b->tables[idx].group, b->tables[imp->declared].name,
                        b->tables[imp->declared].group);
        goto out;
    }
    if (tm->group != b->tables[idx].group) {
        rc = ferry_errf(why, why_size, FERRY_EORDER,
                        "table %s says group %" PRId32 " but the plan puts it in group %" PRId32,
                        obj->name, tm->group, b->tables[idx].group);
        goto out;
    }
    if (!tm->with_rows != (content == FERRY_CONTENT_METADATA)) {
        rc = ferry_errf(why, why_size, FERRY_EORDER,
                        "TableMetadata of %s %s rows but the export's content is %s", obj->name,
                        tm->with_rows ? "announces" : "announces no", ferry_content_name(content));
        goto out;
    }

    if (content == FERRY_CONTENT_DATA) {
        if (ferry_store_has_object(imp->store, obj->name) != 1) {
            rc = ferry_errf(why, why_size, FERRY_ENOTFOUND,
                            "data-only export: table %s does not exist in %s", obj->name,
                            imp->target);
            goto out;
        }
    } else if ((rc = ferry_store_apply_object(imp->store, obj, NULL, why, why_size))) {
        goto out;
    }
    for (size_t k = 0; k < obj->nnot_carried; k++)
        ferry_log(FERRY_LOG_WARN, "target=%s table=%s not carried: %s", imp->target, obj->name,
                  obj->not_carried[k]);
    if (tm->with_rows) {
        if ((rc = ferry_rowcodec_new(obj, &codec, why, why_size)))
            goto out;
        if (ferry_rowcodec_fingerprint(codec) != tm->fingerprint) {
            rc = ferry_errf(why, why_size, FERRY_EDECODE,
                            "schema of %s does not match its fingerprint %016" PRIx64, obj->name,
                            tm->fingerprint);
            goto out;
        }
    }
    imp->decl[idx] = (declared_table_t){tm, codec};
    tm = NULL;
    codec = NULL;
    if (imp->state == IMPORT_OPEN)
        imp->group_end = group_end_of(b, (size_t)idx);
    imp->declared = (size_t)idx + 1;
    imp->state = IMPORT_GROUP;
    rc = imp->declared == imp->group_end ? open_table(imp, why, why_size) : FERRY_OK;
out:
    ferry_rowcodec_destroy(codec);
    ferry_table_metadata_free(tm);
    return rc;
}

/* Says where a row (or TableEnd) of table arrived that does not belong here. */
static int misplaced(const ferry_import_t *imp, const char *what, const char *table, char *why,
                     size_t why_size)
{
    ssize_t idx = table ? plan_index(imp->begin, table) : -1;

    if (!table)
        return ferry_errf(why, why_size, FERRY_EORDER,
                          "%s without a ferry.table header arrived outside any table", what);
    if (idx < 0)
        return ferry_errf(why, why_size, FERRY_EORDER, "%s of %s, which is not in the plan",
                          what, table);
    if ((size_t)idx < imp->next)
        return ferry_errf(why, why_size, FERRY_EORDER, "%s of %s arrived after its TableEnd",
                          what, table);
    if ((size_t)idx < imp->declared && imp->state == IMPORT_TABLE)
        return ferry_errf(why, why_size, FERRY_EORDER,
                          "%s of %s arrived before the TableEnd of %s", what, table,
                          imp->tm->object->name);
    if ((size_t)idx < imp->declared)
        return ferry_errf(why, why_size, FERRY_EORDER,
                          "%s of %s arrived before the TableMetadata of %s, which its apply "
                          "group declares first",
                          what, table, imp->begin->tables[imp->declared].name);
    return ferry_errf(why, why_size, FERRY_EORDER, "%s of %s arrived before its TableMetadata",
                      what, table);
}

static int apply_rows(ferry_import_t *imp, const ferry_import_msg_t *msg, char *why,
                      size_t why_size)
{
    const ferry_object_t *obj;
    const ferry_value_t *row;
    ferry_table_stat_t *st;
    char detail[512];
    int inserted = 0, rc;

    if (imp->state != IMPORT_TABLE || (msg->table && strcmp(msg->table, imp->tm->object->name)))
        return misplaced(imp, "rows", msg->table, why, why_size);
    obj = imp->tm->object;
    if (!imp->tm->with_rows)
        return ferry_errf(why, why_size, FERRY_EORDER,
                          "rows of %s arrived but its TableMetadata announced none", obj->name);
    st = &imp->stats[imp->next];
    if ((rc = ferry_rowcodec_rows_open(imp->codec, msg->payload, msg->len, detail,
                                       sizeof(detail))))
        goto undecodable;
    while ((rc = ferry_rowcodec_rows_next(imp->codec, &row, detail, sizeof(detail))) == 1) {
        if ((rc = ferry_writer_put(imp->writer, row, &inserted, why, why_size)))
            return rc;
        st->rows++;
        if (inserted)
            st->inserted++;
        else
            st->updated++;
        ferry_checksum_add(&imp->sum, imp->seeds, row, obj->nfields);
    }
    if (!rc)
        return FERRY_OK;
undecodable:
    return ferry_errf(why, why_size, rc, "table %s: the Rows message at offset %" PRId64
                      " does not decode: %s", obj->name, msg->offset, detail);
}

static int end_table(ferry_import_t *imp, const ferry_import_msg_t *msg, char *why,
                     size_t why_size)
{
    ferry_table_end_t *te = NULL;
    ferry_table_stat_t *st;
    int64_t updated = 0;
    char hex[17];
    int rc;

    if (imp->state != IMPORT_TABLE || (msg->table && strcmp(msg->table, imp->tm->object->name)))
        return misplaced(imp, "the TableEnd", msg->table, why, why_size);
    /* Rows the writer kept to insert together are written now; a kept row
     * that met its key already present was updated instead. */
    if (imp->writer && (rc = ferry_writer_flush(imp->writer, &updated, why, why_size)))
        return rc;
    st = &imp->stats[imp->next];
    st->inserted -= updated;
    st->updated += updated;
    if ((rc = ferry_table_end_decode(msg->payload, msg->len, &te, why, why_size)))
        return rc;
    rc = same_export(imp, te->export_id, "TableEnd", msg, why, why_size);
    ferry_checksum_hex(&imp->sum, hex);
    if (!rc && strcmp(te->table, imp->tm->object->name))
        rc = ferry_errf(why, why_size, FERRY_EORDER, "TableEnd of %s arrived inside table %s",
                        te->table, imp->tm->object->name);
    else if (!rc && (te->rows < 0 || (uint64_t)te->rows != imp->sum.rows ||
                     strcmp(te->checksum, hex)))
        rc = ferry_errf(why, why_size, FERRY_ECHECKSUM,
                        "table %s: TableEnd announces %" PRId64 " rows with checksum %s, but %"
                        PRIu64 " rows with checksum %s were applied",
                        te->table, te->rows, te->checksum, imp->sum.rows, hex);
    ferry_table_end_free(te);
    if (rc)
        return rc;
    ferry_checksum_merge(&imp->total, &imp->sum);
    close_table(imp);
    if (++imp->next < imp->group_end)
        return open_table(imp, why, why_size);
    imp->state = IMPORT_OPEN;
    return FERRY_OK;
}

/* Writes the applied export's detail for the bookkeeping table: a JSON text,
 * new; free with free(). NULL on ENOMEM. */
static char *applied_detail(const ferry_import_t *imp, const ferry_import_msg_t *msg)
{
    json_t *tables = json_array(), *root;
    char *text;

    for (size_t i = 0; tables && i < imp->begin->ntables; i++)
        json_array_append_new(tables, json_pack("{s:s, s:I, s:I, s:I}", "table",
                                                imp->begin->tables[i].name, "rows",
                                                (json_int_t)imp->stats[i].rows, "inserted",
                                                (json_int_t)imp->stats[i].inserted, "updated",
                                                (json_int_t)imp->stats[i].updated));
    root = json_pack("{s:s?, s:s, s:i, s:I, s:I, s:o}", "source", imp->begin->request->source,
                     "content", ferry_content_name(imp->begin->request->content), "partition",
                     (int)msg->partition, "offset", (json_int_t)msg->offset, "rows",
                     (json_int_t)imp->total.rows, "tables", tables);
    text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return text;
}

static int commit_export(ferry_import_t *imp, const ferry_import_msg_t *msg, int64_t *seek,
                         char *why, size_t why_size)
{
    const ferry_export_begin_t *b = imp->begin;
    ferry_export_end_t *end = NULL;
    int64_t next = imp->resume >= 0 ? imp->resume : msg->offset + 1;
    char hex[17], *detail = NULL;
    ferry_status_t st;
    int rc;

    if (imp->state == IMPORT_TABLE)
        return ferry_errf(why, why_size, FERRY_EORDER,
                          "ExportEnd arrived before the TableEnd of %s", imp->tm->object->name);
    if (imp->state == IMPORT_GROUP)
        return ferry_errf(why, why_size, FERRY_EORDER,
                          "ExportEnd arrived before the TableMetadata of %s, which its apply "
                          "group declares first",
                          b->tables[imp->declared].name);
    if ((rc = ferry_export_end_decode(msg->payload, msg->len, &end, why, why_size)))
        return rc;
    rc = same_export(imp, end->export_id, "ExportEnd", msg, why, why_size);
    ferry_checksum_hex(&imp->total, hex);
    if (!rc && imp->next < b->ntables)
        rc = ferry_errf(why, why_size, FERRY_EORDER,
                        "export %s ended without table %s of its plan", b->export_id,
                        b->tables[imp->next].name);
    else if (!rc && ((size_t)end->tables != b->ntables || end->rows < 0 ||
                     (uint64_t)end->rows != imp->total.rows || strcmp(end->checksum, hex)))
        rc = ferry_errf(why, why_size, FERRY_ECHECKSUM,
                        "export %s: ExportEnd announces %" PRId32 " tables, %" PRId64
                        " rows, checksum %s, but %zu tables, %" PRIu64
                        " rows, checksum %s were applied",
                        b->export_id, end->tables, end->rows, end->checksum, b->ntables,
                        imp->total.rows, hex);
    ferry_export_end_free(end);
    if (rc)
        return rc;

    if (!(detail = applied_detail(imp, msg)))
        return ferry_errf(why, why_size, FERRY_ENOMEM, "export %s: out of memory", b->export_id);
    rc = ferry_store_mark_applied(imp->store, b->export_id, detail, why, why_size);
    free(detail);
    if (!rc)
        rc = ferry_store_offset_set(imp->store, imp->topic, imp->partition, next, why, why_size);
    st = status_of(imp, FERRY_STATUS_APPLIED, b->export_id, b, NULL);
    if (!rc)
        rc = queue_status(imp, &st, why, why_size);
    if (!rc)
        rc = ferry_store_commit(imp->store, why, why_size);
    if (rc)
        return rc;
    report_status(imp, &st, 1);
    *seek = imp->resume;
    close_export(imp);
    checkpoint(imp);
    return FERRY_OK;
}

/* A message of another export on the open export's partition: skipped now,
 * re-read from the remembered offset when the open export ends, unless that
 * export was applied before. */
static int other_export(ferry_import_t *imp, const ferry_import_msg_t *msg, ferry_msg_type_t t,
                        char *why, size_t why_size)
{
    int applied = 0, rc;

    if (t != FERRY_MSG_EXPORT_BEGIN)
        return FERRY_OK;
    if ((rc = ferry_store_export_applied(imp->store, msg->export_id, &applied, why, why_size)))
        return rc;
    if (applied)
        report_skipped(imp, msg, msg->export_id, NULL);
    else if (imp->resume < 0 || msg->offset < imp->resume)
        imp->resume = msg->offset;
    return FERRY_OK;
}

/* Dispatches a message of the open export's partition. Returns 0 or the
 * code of a failure of the export, described in why. */
static int feed_open(ferry_import_t *imp, const ferry_import_msg_t *msg, ferry_msg_type_t t,
                     int64_t *seek, char *why, size_t why_size)
{
    if (!msg->export_id || t == FERRY_MSG_UNKNOWN)
        return ferry_errf(why, why_size, FERRY_EDECODE,
                          "message at offset %" PRId64 " inside export %s has %s",
                          msg->offset, imp->begin->export_id,
                          !msg->export_id ? "no ferry.export header" : "an unknown type");
    if (strcmp(msg->export_id, imp->begin->export_id))
        return other_export(imp, msg, t, why, why_size);
    imp->bytes += (int64_t)msg->len;
    switch (t) {
    case FERRY_MSG_TABLE_METADATA:
        return declare_table(imp, msg, why, why_size);
    case FERRY_MSG_ROWS:
        return apply_rows(imp, msg, why, why_size);
    case FERRY_MSG_TABLE_END:
        return end_table(imp, msg, why, why_size);
    case FERRY_MSG_EXPORT_END:
        return commit_export(imp, msg, seek, why, why_size);
    case FERRY_MSG_EXPORT_BEGIN:
        return ferry_errf(why, why_size, FERRY_EORDER, "export %s began a second time at offset %"
                          PRId64, imp->begin->export_id, msg->offset);
    default:
        return ferry_errf(why, why_size, FERRY_EDECODE,
                          "a %s message at offset %" PRId64 " inside export %s",
                          ferry_msg_type_name(t), msg->offset, imp->begin->export_id);
    }
}

/* An ExportBegin while no export is open: skip it if applied before, else
 * open it. Store failures are fatal here (nothing has been consumed). */
static int begin_export(ferry_import_t *imp, const ferry_import_msg_t *msg, int64_t *seek,
                        char *errstr, size_t errstr_size)
{
    ferry_export_begin_t *b = NULL;
    char why[REASON_MAX];
    int applied = 0, rc;

    rc = ferry_export_begin_decode(msg->payload, msg->len, &b, why, sizeof(why));
    if (!rc && msg->export_id && strcmp(msg->export_id, b->export_id))
        rc = ferry_errf(why, sizeof(why), FERRY_EDECODE, "its header names export %s, its body %s",
                        msg->export_id, b->export_id);
    if (rc) {
        ferry_export_begin_free(b);
        ferry_log(FERRY_LOG_WARN, "%s[%" PRId32 "]@%" PRId64 ": undecodable ExportBegin: %s",
                  imp->topic, msg->partition, msg->offset, why);
        if (msg->export_id)
            report(imp, FERRY_STATUS_FAILED, msg->export_id, NULL, why);
        return FERRY_OK;
    }
    rc = ferry_store_export_applied(imp->store, b->export_id, &applied, errstr, errstr_size);
    if (!rc && applied) {
        report_skipped(imp, msg, b->export_id, b);
        rc = store_offset(imp, msg->partition, msg->offset + 1, NULL, errstr, errstr_size);
    }
    if (rc || applied) {
        ferry_export_begin_free(b);
        return rc;
    }
    if ((rc = ferry_store_begin(imp->store, errstr, errstr_size))) {
        ferry_export_begin_free(b);
        return rc;
    }
    if (!(imp->stats = calloc(b->ntables ? b->ntables : 1, sizeof(*imp->stats))) ||
        !(imp->decl = calloc(b->ntables ? b->ntables : 1, sizeof(*imp->decl)))) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "export %s: out of memory",
                        b->export_id);
        ferry_store_rollback(imp->store);
        ferry_export_begin_free(b);
        free(imp->stats);
        imp->stats = NULL;
        return rc;
    }
    for (size_t i = 0; i < b->ntables; i++)
        imp->stats[i].table = b->tables[i].name;
    imp->begin = b;
    imp->state = IMPORT_OPEN;
    imp->partition = msg->partition;
    imp->resume = -1;
    imp->started_ms = ferry_now_ms();
    imp->bytes = (int64_t)msg->len;
    imp->next = imp->declared = imp->group_end = 0;
    imp->total = (ferry_checksum_t)FERRY_CHECKSUM_INIT;
    check_invariants(imp);
    if (check_plan(b, why, sizeof(why)) || check_assocs(imp, why, sizeof(why)))
        return fail_export(imp, why, msg->offset + 1, seek, errstr, errstr_size);
    return FERRY_OK;
}

int ferry_import_feed(ferry_import_t *imp, const ferry_import_msg_t *msg, int64_t *seek,
                      char *errstr, size_t errstr_size)
{
    ferry_msg_type_t t = msg_type(msg);
    char why[REASON_MAX];
    int rc;

    *seek = -1;
    check_invariants(imp);
    if (imp->state == IMPORT_IDLE) {
        if (t != FERRY_MSG_EXPORT_BEGIN)
            return FERRY_OK; /* the tail of an export failed, skipped or begun before */
        return begin_export(imp, msg, seek, errstr, errstr_size);
    }
    if (msg->partition != imp->partition) {
        *seek = msg->offset; /* fetched before the pause: read it after this export */
        return FERRY_OK;
    }
    rc = feed_open(imp, msg, t, seek, why, sizeof(why));
    check_invariants(imp);
    if (rc)
        return fail_export(imp, why, msg->offset + 1, seek, errstr, errstr_size);
    return FERRY_OK;
}

int ferry_import_eof(ferry_import_t *imp, int32_t partition, int64_t eof_offset,
                     int64_t high_watermark, int64_t *seek, char *errstr, size_t errstr_size)
{
    char why[REASON_MAX];

    *seek = -1;
    if (imp->state == IMPORT_IDLE || partition != imp->partition)
        return FERRY_OK;
    if (high_watermark > eof_offset) {
        ferry_log(FERRY_LOG_DEBUG,
                  "export=%s waits: %s[%" PRId32 "] is readable up to %" PRId64
                  ", a transaction is pending up to %" PRId64,
                  imp->begin->export_id, imp->topic, partition, eof_offset, high_watermark);
        return FERRY_OK;
    }
    snprintf(why, sizeof(why), "export %s cut off without ExportEnd (%s[%" PRId32 "] ends at %"
             PRId64 "%s%s)", imp->begin->export_id, imp->topic, partition, eof_offset,
             imp->tm ? ", inside table " : "", imp->tm ? imp->tm->object->name : "");
    return fail_export(imp, why, eof_offset, seek, errstr, errstr_size);
}

/* ---- the consumer loop ---- */

#define SEEK_TIMEOUT_MS 10000
#define STATUS_TIMEOUT_MS 5000
#define FLUSH_TIMEOUT_MS 10000
#define OUTBOX_RETRY_MS 2000
#define OUTBOX_REMOVE_BATCH 64

/* A set of outbox event ids (few: one per export in flight). */
typedef struct id_list {
    int64_t *ids;
    size_t n, cap;
} id_list_t;

static int ids_has(const id_list_t *l, int64_t id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->ids[i] == id)
            return 1;
    return 0;
}

static int ids_add(id_list_t *l, int64_t id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        int64_t *ids = realloc(l->ids, cap * sizeof(*ids));
        if (!ids)
            return FERRY_ENOMEM;
        l->ids = ids;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return FERRY_OK;
}

static void ids_remove(id_list_t *l, int64_t id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->ids[i] == id) {
            l->ids[i] = l->ids[--l->n];
            return;
        }
}

/* What the loop knows of each partition of the records topic. */
typedef struct part_state {
    int assigned;
    int at_eof;  /* reached its end and nothing was read since */
    int paused;
} part_state_t;

struct ferry_import_consumer {
    const ferry_config_t *cfg;
    char *target;
    char topic[256];
    ferry_store_t *store;
    ferry_import_t *job;
    rd_kafka_t *consumer;
    rd_kafka_t *producer; /* idempotent: status events */
    part_state_t *parts;  /* indexed by partition */
    size_t nparts;
    int fatal;            /* FERRY_E* of a failure inside the rebalance callback, or 0 */
    char fatal_msg[512];
    ferry_buf_t hdr[3];   /* NUL-terminated header copies, reused */
    ferry_buf_t status;
    int outbox_pending;     /* the store's status outbox may hold events not sent */
    int64_t outbox_retry_ms; /* not drained again before this time */
    ferry_buf_t outbox_key;
    id_list_t in_flight;    /* outbox events produced, not reported delivered yet */
    id_list_t delivered;    /* outbox events delivered, to remove */
};

/* A status event's delivery report. An outbox event (its id as the
 * message's opaque) delivered is removed later, between exports; one that
 * failed is produced again by the next drain. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    ferry_import_consumer_t *c = opaque;
    int64_t id = (int64_t)(intptr_t)m->_private;

    (void)rk;
    if (m->err)
        ferry_log(FERRY_LOG_WARN, "status delivery to %s failed: %s",
                  rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    if (id <= 0)
        return;
    ids_remove(&c->in_flight, id);
    if (m->err || ids_add(&c->delivered, id)) {
        c->outbox_pending = 1; /* still in the outbox: sent again */
        c->outbox_retry_ms = ferry_now_ms() + OUTBOX_RETRY_MS;
    }
}

/* Produces one encoded StatusEvent on ferry.status, keyed by export id; id
 * is its outbox id, or 0 for an event that is not in the outbox. */
static int produce_status(ferry_import_consumer_t *c, const char *export_id, const void *event,
                          size_t len, int64_t id, char *errstr, size_t errstr_size)
{
    ferry_kafka_header_t hdrs[2] = {{"ferry.type", "StatusEvent", (size_t)-1},
                                    {"ferry.export", export_id, (size_t)-1}};

    return ferry_kafka_produce_opaque(c->producer, ferry_config_topic(c->cfg, FERRY_TOPIC_STATUS),
                                      RD_KAFKA_PARTITION_UA, export_id, strlen(export_id), event,
                                      len, hdrs, 2, (void *)(intptr_t)id, STATUS_TIMEOUT_MS,
                                      errstr, errstr_size);
}

static void drain_outbox(ferry_import_consumer_t *c);

/* The job's report callback: an outcome queued in the store's outbox is
 * published from there at once (the job calls back after the transaction
 * that queued it, and before its checkpoint, which may take a while); any
 * other becomes a StatusEvent now. A failure to publish one is logged, never
 * fatal. */
static void publish_status(const ferry_status_t *st, int queued, void *opaque)
{
    ferry_import_consumer_t *c = opaque;
    char err[512];

    if (queued) {
        c->outbox_pending = 1;
        drain_outbox(c);
        return;
    }
    ferry_buf_reset(&c->status);
    if (ferry_status_encode(st, &c->status, err, sizeof(err)) ||
        produce_status(c, st->export_id, c->status.data, c->status.len, 0, err, sizeof(err)))
        ferry_log(FERRY_LOG_WARN, "status %s of %s not published: %s",
                  ferry_status_state_name(st->state), st->export_id, err);
    rd_kafka_poll(c->producer, 0);
}

/* Produces the status events queued in the store's outbox that are neither
 * in flight nor delivered, oldest first, each with its outbox id: it is
 * removed once its delivery is reported (remove_delivered), and produced
 * again after a failure, OUTBOX_RETRY_MS later - at least once, perhaps
 * twice. Never waits for a delivery. Runs only while no store transaction is
 * open. */
static void drain_outbox(ferry_import_consumer_t *c)
{
    int64_t id = 0;
    char err[512] = "";
    int rc;

    for (;;) {
        if ((rc = ferry_store_outbox_next(c->store, id, &id, &c->outbox_key, &c->status, err,
                                          sizeof(err))) ||
            id < 0)
            break;
        if (ids_has(&c->in_flight, id) || ids_has(&c->delivered, id))
            continue;
        if ((rc = ids_add(&c->in_flight, id))) {
            snprintf(err, sizeof(err), "out of memory");
            break;
        }
        if ((rc = produce_status(c, (const char *)c->outbox_key.data, c->status.data,
                                 c->status.len, id, err, sizeof(err)))) {
            ids_remove(&c->in_flight, id);
            break;
        }
    }
    rd_kafka_poll(c->producer, 0);
    if (rc) {
        ferry_log(FERRY_LOG_WARN, "status events queued in %s not published yet (again in %d ms): %s",
                  c->target, OUTBOX_RETRY_MS, err);
        c->outbox_retry_ms = ferry_now_ms() + OUTBOX_RETRY_MS;
        return;
    }
    c->outbox_pending = 0;
}

/* Removes the delivered outbox events, in one transaction of their own;
 * only while no export is open. On failure they stay, and are sent again. */
static void remove_delivered(ferry_import_consumer_t *c)
{
    char err[512];
    int rc;

    if (!c->delivered.n || (c->job && ferry_import_open_partition(c->job) >= 0))
        return;
    rc = ferry_store_begin(c->store, err, sizeof(err));
    for (size_t i = 0; !rc && i < c->delivered.n; i++)
        rc = ferry_store_outbox_remove(c->store, c->delivered.ids[i], err, sizeof(err));
    if (!rc)
        rc = ferry_store_commit(c->store, err, sizeof(err));
    if (rc) {
        ferry_store_rollback(c->store);
        ferry_log(FERRY_LOG_WARN, "delivered status events stay queued in %s: %s", c->target,
                  err);
        c->outbox_pending = 1;
    }
    c->delivered.n = 0;
}

static part_state_t *part(ferry_import_consumer_t *c, int32_t partition)
{
    if (partition < 0)
        return NULL;
    if ((size_t)partition >= c->nparts) {
        size_t n = (size_t)partition + 1;
        part_state_t *p = realloc(c->parts, n * sizeof(*p));
        if (!p)
            return NULL;
        memset(p + c->nparts, 0, (n - c->nparts) * sizeof(*p));
        c->parts = p;
        c->nparts = n;
    }
    return &c->parts[partition];
}

static void set_fatal(ferry_import_consumer_t *c, int err, const char *msg)
{
    if (!c->fatal) {
        snprintf(c->fatal_msg, sizeof(c->fatal_msg), "%s", msg);
        c->fatal = err;
    }
}

/* Assignment starts each partition at the next offset stored in the target
 * store (the beginning when none is stored): the store, not Kafka, holds the
 * truth of what was applied. Revocation rolls back an export open on a
 * revoked partition; its next owner redoes it from the stored offset. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ferry_import_consumer_t *c = opaque;
    int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    rd_kafka_error_t *error;
    char why[512];

    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        part_state_t *p = part(c, tp->partition);
        int64_t next = -1;

        if (!p) {
            set_fatal(c, FERRY_ENOMEM, "out of memory");
            continue;
        }
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
            int rc = ferry_store_offset_get(c->store, c->topic, tp->partition, &next, why,
                                            sizeof(why));
            if (rc)
                set_fatal(c, rc, why);
            tp->offset = next >= 0 ? next : RD_KAFKA_OFFSET_BEGINNING;
            *p = (part_state_t){1, 0, 0};
            if (next >= 0)
                ferry_log(FERRY_LOG_INFO, "assigned %s[%" PRId32 "] from stored offset %" PRId64,
                          c->topic, tp->partition, next);
            else
                ferry_log(FERRY_LOG_INFO, "assigned %s[%" PRId32 "] from its beginning",
                          c->topic, tp->partition);
        } else {
            ferry_import_abandon(c->job, tp->partition);
            *p = (part_state_t){0, 0, 0};
            ferry_log(FERRY_LOG_INFO, "revoked %s[%" PRId32 "]", c->topic, tp->partition);
        }
    }
    if (cooperative) {
        error = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? rd_kafka_incremental_assign(rk, parts)
                                                             : rd_kafka_incremental_unassign(rk, parts);
        if (error) {
            snprintf(why, sizeof(why), "rebalance: %s", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            set_fatal(c, FERRY_EKAFKA, why);
        }
    } else {
        rd_kafka_resp_err_t e =
            rd_kafka_assign(rk, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? parts : NULL);
        if (e) {
            snprintf(why, sizeof(why), "rebalance: %s", rd_kafka_err2str(e));
            set_fatal(c, FERRY_EKAFKA, why);
        }
    }
    /* A partition paused when it was revoked may come back still paused:
     * start every new one fetching; sync_pauses pauses what must wait. */
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        rd_kafka_resume_partitions(rk, parts);
}

static int make_clients(ferry_import_consumer_t *c, char *errstr, size_t errstr_size)
{
    const ferry_config_t *cfg = c->cfg;
    int64_t session_ms = ferry_config_int(cfg, "importer", "session_timeout_ms");
    char group[512], client[300], session[32], heartbeat[32];
    rd_kafka_conf_t *conf;
    rd_kafka_topic_partition_list_t *sub;
    rd_kafka_resp_err_t err;
    int rc;

    snprintf(group, sizeof(group), "%s%s",
             ferry_config_str(cfg, "importer", "group_id_prefix"), c->target);
    snprintf(client, sizeof(client), "ferry-import-%s", c->target);
    snprintf(session, sizeof(session), "%" PRId64, session_ms);
    /* A short session (a restarted importer rejoins sooner) needs heartbeats
     * well inside it. */
    snprintf(heartbeat, sizeof(heartbeat), "%" PRId64,
             session_ms / 3 < 3000 ? session_ms / 3 : 3000);

    rc = ferry_kafka_conf_new(cfg, &conf, errstr, errstr_size, "enable.idempotence", "true",
                              "client.id", client, "linger.ms", "5", NULL);
    if (rc)
        return rc;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (!(c->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size))) {
        rd_kafka_conf_destroy(conf);
        return FERRY_EKAFKA;
    }
    rc = ferry_kafka_ensure_ferry_topics(c->producer, cfg, c->target, 30000, errstr,
                                         errstr_size);
    if (rc)
        return rc;

    /* Offsets live in the target store: never auto-committed, and the end
     * of each partition is reported (cut-off exports, --once). */
    rc = ferry_kafka_conf_new(cfg, &conf, errstr, errstr_size, "group.id", group, "client.id",
                              client, "isolation.level", "read_committed", "enable.auto.commit",
                              "false", "enable.auto.offset.store", "false",
                              "enable.partition.eof", "true", "auto.offset.reset", "earliest",
                              "session.timeout.ms", session, "heartbeat.interval.ms",
                              heartbeat,
                              /* Bounded memory: librdkafka prefetches up to 64 MiB
                               * per partition by default. (Lowering
                               * queued.min.messages too stalls librdkafka 2.0.2's
                               * fetcher for ~0.5 s each time the queue fills.) */
                              "queued.max.messages.kbytes", "16384", NULL);
    if (rc)
        return rc;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    if (!(c->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size))) {
        rd_kafka_conf_destroy(conf);
        return FERRY_EKAFKA;
    }
    rd_kafka_poll_set_consumer(c->consumer);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(c->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "subscribe to %s: %s", c->topic,
                          rd_kafka_err2str(err));
    return FERRY_OK;
}

int ferry_import_consumer_new(const ferry_config_t *cfg, const char *target,
                              ferry_import_consumer_t **out, char *errstr, size_t errstr_size)
{
    const char *uri = ferry_config_env_store(cfg, target);
    ferry_import_consumer_t *c;
    int rc;

    *out = NULL;
    if (!uri)
        return ferry_errf(errstr, errstr_size, FERRY_ENOTFOUND,
                          "environment \"%s\" is not declared in the configuration", target);
    if (!(c = calloc(1, sizeof(*c))) || !(c->target = strdup(target))) {
        free(c);
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "out of memory");
    }
    c->cfg = cfg;
    c->outbox_pending = 1; /* what a previous run queued and did not publish */
    rc = ferry_config_records_topic(cfg, target, c->topic, sizeof(c->topic));
    if (rc)
        ferry_errf(errstr, errstr_size, rc,
                   "environment \"%s\" gives no legal records topic name", target);
    if (!rc)
        rc = ferry_store_open(uri, FERRY_STORE_WRITE, &c->store, errstr, errstr_size);
    /* The job checkpoints after reporting each export, not inside its commit. */
    if (!rc)
        rc = ferry_store_checkpoint_later(c->store, errstr, errstr_size);
    if (!rc)
        rc = ferry_import_new(c->store, target, c->topic, publish_status, c, &c->job, errstr,
                              errstr_size);
    if (!rc)
        rc = make_clients(c, errstr, errstr_size);
    if (rc) {
        ferry_import_consumer_destroy(c);
        return rc;
    }
    *out = c;
    return FERRY_OK;
}

void ferry_import_consumer_destroy(ferry_import_consumer_t *c)
{
    char err[256];

    if (!c)
        return;
    /* Closing runs the revoke callback, which needs the job and the store. */
    if (c->consumer) {
        rd_kafka_consumer_close(c->consumer);
        rd_kafka_destroy(c->consumer);
    }
    ferry_import_destroy(c->job);
    c->job = NULL;
    if (c->producer) {
        if (ferry_kafka_flush(c->producer, FLUSH_TIMEOUT_MS, err, sizeof(err)))
            ferry_log(FERRY_LOG_WARN, "status events: %s", err);
        if (c->store)
            remove_delivered(c); /* the job is gone: no export is open */
        rd_kafka_destroy(c->producer);
    }
    free(c->in_flight.ids);
    free(c->delivered.ids);
    ferry_store_destroy(c->store);
    for (size_t i = 0; i < sizeof(c->hdr) / sizeof(c->hdr[0]); i++)
        ferry_buf_free(&c->hdr[i]);
    ferry_buf_free(&c->status);
    ferry_buf_free(&c->outbox_key);
    free(c->parts);
    free(c->target);
    free(c);
}

/* Pauses every assigned partition but the one of the open export, or resumes
 * them all when none is open (one store transaction at a time). */
static int sync_pauses(ferry_import_consumer_t *c, char *errstr, size_t errstr_size)
{
    int32_t open = ferry_import_open_partition(c->job);
    rd_kafka_topic_partition_list_t *lists[2] = {NULL, NULL}; /* resume, pause */
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

    for (size_t i = 0; i < c->nparts; i++) {
        part_state_t *p = &c->parts[i];
        int want = p->assigned && open >= 0 && (int32_t)i != open;
        if (want == p->paused)
            continue;
        if (!lists[want])
            lists[want] = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_list_add(lists[want], c->topic, (int32_t)i);
        p->paused = want;
    }
    if (lists[1])
        err = rd_kafka_pause_partitions(c->consumer, lists[1]);
    if (lists[0] && !err)
        err = rd_kafka_resume_partitions(c->consumer, lists[0]);
    if (lists[0])
        rd_kafka_topic_partition_list_destroy(lists[0]);
    if (lists[1])
        rd_kafka_topic_partition_list_destroy(lists[1]);
    if (err)
        return ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "pausing/resuming %s: %s",
                          c->topic, rd_kafka_err2str(err));
    return FERRY_OK;
}

/* Re-reads partition from offset; messages fetched before are purged. */
static int seek_to(ferry_import_consumer_t *c, int32_t partition, int64_t offset, char *errstr,
                   size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *error;
    part_state_t *p = part(c, partition);
    int rc = FERRY_OK;

    rd_kafka_topic_partition_list_add(l, c->topic, partition)->offset = offset;
    error = rd_kafka_seek_partitions(c->consumer, l, SEEK_TIMEOUT_MS);
    if (error || l->elems[0].err)
        rc = ferry_errf(errstr, errstr_size, FERRY_EKAFKA, "seek %s[%" PRId32 "] to %" PRId64
                        ": %s", c->topic, partition, offset,
                        error ? rd_kafka_error_string(error) : rd_kafka_err2str(l->elems[0].err));
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(l);
    if (p)
        p->at_eof = 0;
    return rc;
}

/* A NUL-terminated copy of header name of m in buffer b, or NULL. */
static const char *header(ferry_buf_t *b, const rd_kafka_message_t *m, const char *name)
{
    size_t len = 0;
    const void *v = ferry_kafka_header_get(m, name, &len);

    ferry_buf_reset(b);
    if (!v || ferry_buf_append(b, v, len) || ferry_buf_append(b, "", 1))
        return NULL;
    return (const char *)b->data;
}

static int handle(ferry_import_consumer_t *c, const rd_kafka_message_t *m, char *errstr,
                  size_t errstr_size)
{
    part_state_t *p = part(c, m->partition);
    int64_t seek = -1, lo = -1, hi = -1;
    char reason[512];
    int rc;

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (rd_kafka_get_watermark_offsets(c->consumer, c->topic, m->partition, &lo, &hi))
            hi = -1;
        rc = ferry_import_eof(c->job, m->partition, m->offset, hi, &seek, errstr, errstr_size);
        if (p)
            p->at_eof = 1;
    } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(c->consumer, reason, sizeof(reason));
        return ferry_errf(errstr, errstr_size, FERRY_EFATAL, "consumer: %s", reason);
    } else if (m->err) {
        ferry_log(FERRY_LOG_WARN, "consumer: %s", rd_kafka_message_errstr(m));
        return FERRY_OK;
    } else {
        ferry_import_msg_t msg = {
            .partition = m->partition,
            .offset = m->offset,
            .type = header(&c->hdr[0], m, "ferry.type"),
            .export_id = header(&c->hdr[1], m, "ferry.export"),
            .table = header(&c->hdr[2], m, "ferry.table"),
            .payload = m->payload,
            .len = m->len,
        };
        rc = ferry_import_feed(c->job, &msg, &seek, errstr, errstr_size);
        if (p)
            p->at_eof = 0;
    }
    if (!rc && seek >= 0)
        rc = seek_to(c, m->partition, seek, errstr, errstr_size);
    return rc;
}

/* --once: every assigned partition at its end, no export open. */
static int all_done(const ferry_import_consumer_t *c)
{
    size_t assigned = 0;

    for (size_t i = 0; i < c->nparts; i++) {
        if (!c->parts[i].assigned)
            continue;
        if (!c->parts[i].at_eof)
            return 0;
        assigned++;
    }
    return assigned > 0 && ferry_import_open_partition(c->job) < 0;
}

int ferry_import_consumer_run(ferry_import_consumer_t *c, int once,
                              const volatile sig_atomic_t *stop, char *errstr,
                              size_t errstr_size)
{
    int rc = FERRY_OK;

    ferry_log(FERRY_LOG_INFO, "importing %s into %s%s", c->topic, c->target,
              once ? " (until the end of every partition)" : "");
    while (!rc && !(stop && *stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->consumer, 100);
        int idle = !m;
        if (m) {
            rc = handle(c, m, errstr, errstr_size);
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(c->producer, 0);
        if (ferry_import_open_partition(c->job) < 0) {
            /* A transaction of its own: when idle, or once many are due, not
             * one more commit for every export of a busy stream. */
            if (idle || c->delivered.n >= OUTBOX_REMOVE_BATCH)
                remove_delivered(c);
            if (c->outbox_pending && ferry_now_ms() >= c->outbox_retry_ms)
                drain_outbox(c);
        }
        if (!rc && c->fatal)
            rc = ferry_errf(errstr, errstr_size, c->fatal, "%s", c->fatal_msg);
        if (!rc)
            rc = sync_pauses(c, errstr, errstr_size);
        if (!rc && once && all_done(c))
            break;
    }
    /* Stopping (or failing) mid-export: roll back; the stored offset still
     * points at its ExportBegin, so it is redone from there. */
    ferry_import_abandon(c->job, -1);
    if (c->outbox_pending)
        drain_outbox(c); /* a last try; what fails waits for the next run */
    return rc;
}
