/* import.c - the import job (see import.h); its consumer loop is
 * lib/daemons/importer.c.
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
 *   OPEN/GROUP/TABLE --PartBegin of the open attempt, numbered next, its
 *          rows and checksum those applied so far--> same state (begin_part)
 *   OPEN/GROUP/TABLE --a message of another attempt of the open export--> same
 *          state: ignored (a superseded attempt's, never applied)
 *   OPEN/GROUP/TABLE --ExportBegin of a later attempt of the open export-->
 *          OPEN                                            (supersede:
 *          ROLLBACK of what the open attempt applied, then begin_export
 *          for the new attempt, the remembered resume offset kept)
 *   OPEN  --ExportEnd, totals match--> IDLE                    (commit_export:
 *          export id and next offset written, then COMMIT)
 *   OPEN/GROUP/TABLE --anything out of order, undecodable, a failed check
 *          or a failed commit (a missing parent row)--> IDLE   (fail_export:
 *          ROLLBACK, then a small transaction storing only the offset past
 *          the export; FAILED status)
 *   OPEN/GROUP/TABLE --ExportAbort of the open export--> IDLE (abort_export,
 *          fail_export: the worker gave it up)
 *   OPEN/GROUP/TABLE --end of the partition--> same state (ferry_import_eof:
 *          the next part, a later attempt or an ExportAbort is to come)
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
 * Parts and attempts. An export arrives as parts, each a Kafka transaction
 * that becomes readable (read_committed) once the worker commits it; the
 * job applies each as it is read, into the export's one database
 * transaction, so the end of a partition with an export open means only
 * that its next part is not committed yet. Every message names its attempt
 * (header ferry.attempt; ExportBegin and PartBegin also in their bodies). A
 * worker that died mid-export leaves committed parts of an attempt that
 * never ends; the request's next owner begins a new attempt of the same
 * export id, whose ExportBegin makes the job roll back the old one and open
 * the new one (supersede). Messages of any attempt but the open one are
 * ignored, so a part of a superseded attempt is never applied, even one a
 * fenced worker managed to commit later. Each PartBegin states the rows and
 * checksum sent before it: a part lost or doubled fails the export at once.
 * An attempt's ExportBegin may lie after the remembered resume offset (the
 * attempt it superseded began before it): re-read after the commit, it is
 * not reported SKIPPED (its position joins the ring below).
 *
 * SKIPPED is published for the ExportBegin of an applied export the first
 * time the job meets that message in this run (a scheduler re-fire, a
 * worker's redo), not again when it is re-read after a seek back: the
 * positions already reported are kept in a ring of the last RECENT_MAX. */
#include "import.h"

#include "checksum.h"
#include "error.h"
#include "ledger.h"
#include "log.h"
#include "rowcodec.h"
#include "timeutil.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
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
    const char *attempt;     /* begin's attempt ("" when it names none) */
    int32_t part;            /* the number of the part being applied */
    int64_t begin_offset;    /* of the attempt's ExportBegin */
    int rows_logged;         /* "first rows applied" was logged */
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

    /* The open table (state == TABLE), all NULL otherwise. */
    struct {
        ferry_table_metadata_t *tm;
        ferry_rowcodec_t *codec;
        ferry_writer_t *writer;
        uint64_t *seeds;
    } open;
    ferry_checksum_t sum;

    ferry_buf_t event;       /* an encoded StatusEvent, reused */
    begin_pos_t recent[RECENT_MAX]; /* ExportBegins already reported SKIPPED */
    size_t nrecent;
};

static void check_invariants(const ferry_import_t *imp)
{
    assert((imp->state == IMPORT_IDLE) == (imp->begin == NULL));
    assert((imp->state == IMPORT_TABLE) == (imp->open.tm != NULL));
    assert(imp->state != IMPORT_IDLE || imp->resume < 0);
    assert(imp->open.writer == NULL || imp->state == IMPORT_TABLE);
    assert(imp->state != IMPORT_OPEN || imp->declared == imp->next);
    assert(imp->state != IMPORT_GROUP ||
           (imp->next < imp->declared && imp->declared < imp->group_end));
    assert(imp->state != IMPORT_TABLE ||
           (imp->next < imp->group_end && imp->declared == imp->group_end));
    (void)imp;
}

/* No export open: the state of a new job, and of one whose export ended
 * (what that export held already freed). */
static void set_idle(ferry_import_t *imp)
{
    imp->begin = NULL;
    imp->attempt = NULL;
    imp->decl = NULL;
    imp->stats = NULL;
    imp->partition = -1;
    imp->resume = -1;
    imp->state = IMPORT_IDLE;
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
    set_idle(imp);
    *out = imp;
    return FERRY_OK;
}

/* Frees the open table's decoder, writer and metadata (writers must go before
 * the transaction ends). */
static void close_table(ferry_import_t *imp)
{
    ferry_writer_destroy(imp->open.writer);
    ferry_rowcodec_destroy(imp->open.codec);
    ferry_table_metadata_free(imp->open.tm);
    free(imp->open.seeds);
    memset(&imp->open, 0, sizeof(imp->open));
    if (imp->state == IMPORT_TABLE)
        imp->state = IMPORT_OPEN;
}

/* Whether a message naming table (NULL: none named) belongs to the open table. */
static int in_open_table(const ferry_import_t *imp, const char *table)
{
    return imp->state == IMPORT_TABLE && (!table || !strcmp(table, imp->open.tm->object->name));
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
    set_idle(imp);
    check_invariants(imp);
}

void ferry_import_abandon(ferry_import_t *imp, int32_t partition)
{
    char stream[FERRY_STREAM_KEY_MAX];

    if (!imp || imp->state == IMPORT_IDLE || (partition >= 0 && partition != imp->partition))
        return;
    close_table(imp);
    ferry_store_rollback(imp->store);
    ferry_request_stream_key(imp->begin->request, stream, sizeof(stream));
    ferry_log(FERRY_LOG_INFO,
              "export id=%s stream=%s source=%s target=%s tables=0 rows=0 ms=%" PRId64
              " outcome=abandoned bytes=%" PRId64 " partition=%" PRId32
              " reason=\"rolled back; redone from the stored offset\"",
              imp->begin->export_id, stream, imp->begin->request->source, imp->target,
              ferry_now_ms() - imp->started_ms, imp->bytes, imp->partition);
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
    return ferry_ledger_outbox_add(imp->store, st->export_id, imp->event.data, imp->event.len,
                                   errstr, errstr_size);
}

/* Logs an outcome and hands it to the report callback; queued says whether
 * it waits in the store's outbox (the callback then need not publish it).
 * begin, when known, gives the stream key. The log line's keys, up to
 * outcome, are the worker's (worker.c), in the same order; inserted and
 * updated are the importer's own. */
static void report_status(ferry_import_t *imp, const ferry_status_t *st,
                          const ferry_export_begin_t *begin, int queued)
{
    int64_t inserted = 0, updated = 0;
    char stream[FERRY_STREAM_KEY_MAX] = "-";

    for (size_t i = 0; i < st->ntable_stats; i++) {
        inserted += st->table_stats[i].inserted;
        updated += st->table_stats[i].updated;
    }
    if (begin && begin->request)
        ferry_request_stream_key(begin->request, stream, sizeof(stream));
    ferry_log(st->state == FERRY_STATUS_FAILED ? FERRY_LOG_WARN : FERRY_LOG_INFO,
              "export id=%s stream=%s source=%s target=%s tables=%" PRId32 " rows=%" PRId64
              " ms=%" PRId64 " outcome=%s bytes=%" PRId64 " inserted=%" PRId64
              " updated=%" PRId64 "%s%s%s",
              st->export_id, stream, st->source ? st->source : "-", imp->target, st->tables,
              st->rows, st->duration_ms, ferry_status_state_name(st->state), st->bytes,
              inserted, updated, st->reason ? " reason=\"" : "", st->reason ? st->reason : "",
              st->reason ? "\"" : "");
    if (imp->report)
        imp->report(st, queued, imp->opaque);
}

/* An outcome that is not queued: re-reading the log reports it again. */
static void report(ferry_import_t *imp, ferry_status_state_t state, const char *export_id,
                   const ferry_export_begin_t *begin, const char *reason)
{
    ferry_status_t st = status_of(imp, state, export_id, begin, reason);

    report_status(imp, &st, begin, 0);
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
        rc = ferry_ledger_offset_set(imp->store, imp->topic, partition, next, errstr,
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
    report_status(imp, &st, imp->begin, 1);
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

    imp->open.tm = d->tm;
    imp->open.codec = d->codec;
    d->tm = NULL;
    d->codec = NULL;
    imp->state = IMPORT_TABLE;
    imp->sum = (ferry_checksum_t)FERRY_CHECKSUM_INIT;
    if (!imp->open.tm->with_rows)
        return FERRY_OK;
    if ((rc = ferry_store_writer_open(imp->store, obj, &imp->open.writer, why, why_size)))
        return rc;
    if (!(imp->open.seeds = calloc(obj->nfields ? obj->nfields : 1, sizeof(*imp->open.seeds))))
        return ferry_errf(why, why_size, FERRY_ENOMEM, "table %s: out of memory", obj->name);
    for (size_t i = 0; i < obj->nfields; i++)
        imp->open.seeds[i] = ferry_checksum_seed(obj->fields[i].name);
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
                          msg->table ? msg->table : "a table", imp->open.tm->object->name);
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
        ferry_log(FERRY_LOG_WARN, "export id=%s target=%s table=%s not carried: %s",
                  b->export_id, imp->target, obj->name, obj->not_carried[k]);
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
                          imp->open.tm->object->name);
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

    if (!in_open_table(imp, msg->table))
        return misplaced(imp, "rows", msg->table, why, why_size);
    obj = imp->open.tm->object;
    if (!imp->open.tm->with_rows)
        return ferry_errf(why, why_size, FERRY_EORDER,
                          "rows of %s arrived but its TableMetadata announced none", obj->name);
    st = &imp->stats[imp->next];
    if ((rc = ferry_rowcodec_rows_open(imp->open.codec, msg->payload, msg->len, detail,
                                       sizeof(detail))))
        goto undecodable;
    while ((rc = ferry_rowcodec_rows_next(imp->open.codec, &row, detail, sizeof(detail))) == 1) {
        if ((rc = ferry_writer_put(imp->open.writer, row, &inserted, why, why_size)))
            return rc;
        st->rows++;
        if (inserted)
            st->inserted++;
        else
            st->updated++;
        ferry_checksum_add(&imp->sum, imp->open.seeds, row, obj->nfields);
    }
    if (!rc && !imp->rows_logged) {
        /* When the overlap of export and import shows: rows go in while
         * the worker still writes later parts. */
        imp->rows_logged = 1;
        ferry_log(FERRY_LOG_INFO, "export id=%s attempt=%s target=%s first rows applied ms=%" PRId64
                  " part=%" PRId32 " table=%s", imp->begin->export_id, imp->attempt, imp->target,
                  ferry_now_ms() - imp->started_ms, imp->part, obj->name);
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

    if (!in_open_table(imp, msg->table))
        return misplaced(imp, "the TableEnd", msg->table, why, why_size);
    /* Rows the writer kept to insert together are written now; a kept row
     * that met its key already present was updated instead. */
    if (imp->open.writer && (rc = ferry_writer_flush(imp->open.writer, &updated, why, why_size)))
        return rc;
    st = &imp->stats[imp->next];
    st->inserted -= updated;
    st->updated += updated;
    if ((rc = ferry_table_end_decode(msg->payload, msg->len, &te, why, why_size)))
        return rc;
    rc = same_export(imp, te->export_id, "TableEnd", msg, why, why_size);
    ferry_checksum_hex(&imp->sum, hex);
    if (!rc && strcmp(te->table, imp->open.tm->object->name))
        rc = ferry_errf(why, why_size, FERRY_EORDER, "TableEnd of %s arrived inside table %s",
                        te->table, imp->open.tm->object->name);
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
                          "ExportEnd arrived before the TableEnd of %s",
                          imp->open.tm->object->name);
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
    rc = ferry_ledger_mark_applied(imp->store, b->export_id, detail, why, why_size);
    free(detail);
    if (!rc)
        rc = ferry_ledger_offset_set(imp->store, imp->topic, imp->partition, next, why, why_size);
    st = status_of(imp, FERRY_STATUS_APPLIED, b->export_id, b, NULL);
    if (!rc)
        rc = queue_status(imp, &st, why, why_size);
    if (!rc)
        rc = ferry_store_commit(imp->store, why, why_size);
    if (rc)
        return rc;
    report_status(imp, &st, b, 1);
    /* Re-read from resume, this attempt's ExportBegin is met again: the
     * export is applied, and not to be reported SKIPPED for that. */
    if (imp->resume >= 0 && !recent_has(imp, imp->partition, imp->begin_offset))
        imp->recent[imp->nrecent++ % RECENT_MAX] = (begin_pos_t){imp->partition, imp->begin_offset};
    *seek = imp->resume;
    close_export(imp);
    checkpoint(imp);
    return FERRY_OK;
}

/* A PartBegin of the open attempt: the next part's number, and the rows and
 * checksum of everything before it equal to what was applied. */
static int begin_part(ferry_import_t *imp, const ferry_import_msg_t *msg, char *why,
                      size_t why_size)
{
    ferry_part_begin_t *pb = NULL;
    ferry_checksum_t before = imp->total;
    char hex[17];
    int rc;

    if ((rc = ferry_part_begin_decode(msg->payload, msg->len, &pb, why, why_size)))
        return rc;
    if (imp->state == IMPORT_TABLE)
        ferry_checksum_merge(&before, &imp->sum);
    ferry_checksum_hex(&before, hex);
    rc = same_export(imp, pb->export_id, "PartBegin", msg, why, why_size);
    if (!rc && pb->part != imp->part + 1)
        rc = ferry_errf(why, why_size, FERRY_EORDER,
                        "export %s attempt %s: part %" PRId32 " arrived after part %" PRId32,
                        pb->export_id, imp->attempt, pb->part, imp->part);
    else if (!rc && (pb->rows < 0 || (uint64_t)pb->rows != before.rows ||
                     strcmp(pb->checksum, hex)))
        rc = ferry_errf(why, why_size, FERRY_ECHECKSUM,
                        "export %s: part %" PRId32 " follows %" PRId64 " rows with checksum %s, "
                        "but %" PRIu64 " rows with checksum %s were applied",
                        pb->export_id, pb->part, pb->rows, pb->checksum, before.rows, hex);
    if (!rc)
        imp->part = pb->part;
    ferry_part_begin_free(pb);
    return rc;
}

/* An ExportAbort of the open export: the worker gave it up. */
static int abort_export(ferry_import_t *imp, const ferry_import_msg_t *msg, char *why,
                        size_t why_size)
{
    ferry_export_abort_t *ea = NULL;
    int rc = ferry_export_abort_decode(msg->payload, msg->len, &ea, why, why_size);

    if (!rc && !(rc = same_export(imp, ea->export_id, "ExportAbort", msg, why, why_size)))
        rc = ferry_errf(why, why_size, FERRY_EABORT, "the worker gave export %s up: %s",
                        ea->export_id, ea->reason);
    ferry_export_abort_free(ea);
    return rc;
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
    if ((rc = ferry_ledger_is_applied(imp->store, msg->export_id, &applied, why, why_size)))
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
    if (t == FERRY_MSG_EXPORT_ABORT)
        return abort_export(imp, msg, why, why_size);
    /* A message of another attempt: one this attempt superseded (a worker
     * that died or was fenced after this one began), never applied. A later
     * attempt's ExportBegin is handled by ferry_import_feed. */
    if (t != FERRY_MSG_EXPORT_BEGIN && strcmp(msg->attempt ? msg->attempt : "", imp->attempt))
        return FERRY_OK;
    imp->bytes += (int64_t)msg->len;
    switch (t) {
    case FERRY_MSG_PART_BEGIN:
        return begin_part(imp, msg, why, why_size);
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
 * open it; resume is the remembered offset of another export's ExportBegin
 * skipped before (by an attempt this one supersedes), or -1. Store failures
 * are fatal here (nothing has been consumed). */
static int begin_export(ferry_import_t *imp, const ferry_import_msg_t *msg, int64_t resume,
                        int64_t *seek, char *errstr, size_t errstr_size)
{
    ferry_export_begin_t *b = NULL;
    char why[REASON_MAX];
    int applied = 0, rc;

    rc = ferry_export_begin_decode(msg->payload, msg->len, &b, why, sizeof(why));
    if (!rc && msg->export_id && strcmp(msg->export_id, b->export_id))
        rc = ferry_errf(why, sizeof(why), FERRY_EDECODE, "its header names export %s, its body %s",
                        msg->export_id, b->export_id);
    else if (!rc && strcmp(msg->attempt ? msg->attempt : "", b->attempt ? b->attempt : ""))
        rc = ferry_errf(why, sizeof(why), FERRY_EDECODE, "its header names attempt %s, its body %s",
                        msg->attempt ? msg->attempt : "(none)", b->attempt ? b->attempt : "");
    if (rc) {
        ferry_export_begin_free(b);
        ferry_log(FERRY_LOG_WARN, "%s[%" PRId32 "]@%" PRId64 ": undecodable ExportBegin: %s",
                  imp->topic, msg->partition, msg->offset, why);
        if (msg->export_id)
            report(imp, FERRY_STATUS_FAILED, msg->export_id, NULL, why);
        return FERRY_OK;
    }
    rc = ferry_ledger_is_applied(imp->store, b->export_id, &applied, errstr, errstr_size);
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
    imp->attempt = b->attempt ? b->attempt : "";
    imp->part = 0;
    imp->begin_offset = msg->offset;
    imp->rows_logged = 0;
    imp->state = IMPORT_OPEN;
    imp->partition = msg->partition;
    imp->resume = resume;
    imp->started_ms = ferry_now_ms();
    imp->bytes = (int64_t)msg->len;
    imp->next = imp->declared = imp->group_end = 0;
    imp->total = (ferry_checksum_t)FERRY_CHECKSUM_INIT;
    check_invariants(imp);
    if (check_plan(b, why, sizeof(why)) || check_assocs(imp, why, sizeof(why)))
        return fail_export(imp, why, msg->offset + 1, seek, errstr, errstr_size);
    return FERRY_OK;
}

/* A later attempt at the open export began (the worker that wrote the open
 * attempt died or lost its partitions, and the request's next owner started
 * over): what the open attempt applied is rolled back, and the new attempt
 * opens in its place. Exports skipped meanwhile are still re-read after it
 * (resume is kept). */
static int supersede(ferry_import_t *imp, const ferry_import_msg_t *msg, int64_t *seek,
                     char *errstr, size_t errstr_size)
{
    int64_t resume = imp->resume;

    ferry_log(FERRY_LOG_INFO, "export id=%s target=%s attempt=%s abandoned after %" PRId32
              " parts: attempt %s began at %s[%" PRId32 "]@%" PRId64, imp->begin->export_id,
              imp->target, imp->attempt, imp->part + 1, msg->attempt ? msg->attempt : "",
              imp->topic,
              msg->partition, msg->offset);
    close_table(imp);
    ferry_store_rollback(imp->store);
    close_export(imp);
    return begin_export(imp, msg, resume, seek, errstr, errstr_size);
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
        return begin_export(imp, msg, -1, seek, errstr, errstr_size);
    }
    if (msg->partition != imp->partition) {
        *seek = msg->offset; /* fetched before the pause: read it after this export */
        return FERRY_OK;
    }
    if (t == FERRY_MSG_EXPORT_BEGIN && msg->export_id &&
        !strcmp(msg->export_id, imp->begin->export_id) &&
        strcmp(msg->attempt ? msg->attempt : "", imp->attempt))
        return supersede(imp, msg, seek, errstr, errstr_size);
    rc = feed_open(imp, msg, t, seek, why, sizeof(why));
    check_invariants(imp);
    if (rc)
        return fail_export(imp, why, msg->offset + 1, seek, errstr, errstr_size);
    return FERRY_OK;
}

int ferry_import_eof(ferry_import_t *imp, int32_t partition, int64_t eof_offset,
                     int64_t high_watermark, int64_t *seek, char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    *seek = -1;
    if (imp->state == IMPORT_IDLE || partition != imp->partition)
        return FERRY_OK;
    ferry_log(FERRY_LOG_DEBUG,
              "export id=%s attempt=%s waits after part %" PRId32 ": %s[%" PRId32
              "] is read up to %" PRId64 " (high watermark %" PRId64 ")",
              imp->begin->export_id, imp->attempt, imp->part, imp->topic, partition, eof_offset,
              high_watermark);
    return FERRY_OK;
}
