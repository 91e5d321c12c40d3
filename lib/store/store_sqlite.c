/* store_sqlite.c - the SQLite environment store (store.h, store_impl.h).
 *
 * Safety: SQL text is built only from (a) constant fragments, (b) identifiers
 * that exist in the store's own catalog (read with ferry_sqlite_meta_read and
 * cached per schema version), always double-quoted with embedded quotes doubled,
 * and (c) for apply_object only, the incoming object's names (quoted), declared
 * types that pass a type-name grammar, literal defaults and whitelisted ON
 * DELETE actions. Values are always bound.
 *
 * Transactions (one state variable, txn):
 *   idle --store_begin (BEGIN IMMEDIATE; defer_foreign_keys)--> open
 *   open --store_commit (COMMIT)--> idle; a deferred foreign-key failure keeps
 *        the transaction open, returns FERRY_ECONFLICT, and the caller rolls back
 *   open --store_rollback--> idle: the catalog cache and the ledger's
 *        statements are dropped, since the transaction may have created tables.
 *   idle --store_snapshot (BEGIN; a read of sqlite_schema)--> snapshot: a
 *        deferred BEGIN reads nothing, so the read pins the snapshot there and
 *        then, before the caller's first read of metadata or rows
 *   snapshot --store_rollback or destroy (ROLLBACK)--> idle, as from "open".
 * apply_object requires "open"; begin and snapshot require "idle"; writers are
 * destroyed before leaving "open". Inside a snapshot the catalog cache keys on
 * the snapshot's schema version, so it stays right across its start and end.
 *
 * Upsert: `INSERT .. ON CONFLICT(pk) DO NOTHING`, and when that changed nothing
 * `UPDATE .. WHERE pk`: a row is never deleted (no cascade fires) and the pair
 * tells inserted from updated. Inserts, the common case (a first import),
 * cost one statement, as a bare ON CONFLICT DO UPDATE (which cannot count)
 * would; only updates pay the second. A SELECT probe first, or
 * UPDATE-then-INSERT, would make every insert pay two (README, Benchmarks).
 *
 * Tables without a primary key: a row is inserted only when no identical row
 * (every incoming column compared with IS) exists, which makes re-applying an
 * export idempotent; in a table created by this transaction the rows are
 * inserted as they come, duplicates included, since nothing can be there yet. */
#include "store_impl.h"

#include "buf.h"
#include "error.h"
#include "sqlite_meta.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct sqlite_store {
    ferry_store_t base;
    sqlite3 *db;
    char *path;
    int mode;
    enum { TXN_IDLE = 0, TXN_OPEN, TXN_SNAPSHOT } txn;
    ferry_objset_t *meta;    /* the catalog cache; NULL when stale */
    int meta_version;        /* PRAGMA schema_version it was read at */
    sqlite3_stmt *version;   /* PRAGMA schema_version */
    char **created;          /* tables created by the open transaction */
    size_t ncreated;
    int ledger_ready;        /* the ledger's tables exist and its statements below are prepared */
    char *flush_error;       /* a writer's flush failed in its destroy: commit fails with it */
    struct sqlite_writer *writers; /* open writers, detached when the store goes first */
    sqlite3_stmt *applied_get, *applied_put, *offset_get, *offset_put;
    sqlite3_stmt *outbox_put, *outbox_get, *outbox_del; /* write stores only */
} sqlite_store_t;

/* ---- small helpers ---- */

/* A SQL (or message) text under construction; the first failed append makes
 * every later one a no-op, so builders check once at the end. */
typedef struct sql {
    ferry_buf_t b;
    int failed;
} sql_t;

static void sql_add(sql_t *q, const char *s)
{
    if (!q->failed && ferry_buf_puts(&q->b, s))
        q->failed = 1;
}

static void sql_addf(sql_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql_addf(sql_t *q, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        q->failed = 1;
    else
        sql_add(q, tmp);
}

/* "name" with embedded double quotes doubled: the only way a name enters SQL. */
static void sql_ident(sql_t *q, const char *name)
{
    sql_add(q, "\"");
    for (const char *p = name; *p && !q->failed; p++)
        if (ferry_buf_append(&q->b, p, 1) || (*p == '"' && ferry_buf_append(&q->b, p, 1)))
            q->failed = 1;
    sql_add(q, "\"");
}

/* The NUL-terminated text, or NULL after a failed append. */
static const char *sql_text(sql_t *q)
{
    if (q->failed || ferry_buf_reserve(&q->b, 1))
        return NULL;
    q->b.data[q->b.len] = '\0';
    return (const char *)q->b.data;
}

/* A value as messages show it: numbers as they are, text quoted and cut. */
static void sql_value(sql_t *q, const ferry_value_t *v)
{
    switch (v->kind) {
    case FERRY_V_NULL:
        sql_add(q, "NULL");
        break;
    case FERRY_V_INT:
        sql_addf(q, "%lld", (long long)v->i);
        break;
    case FERRY_V_REAL:
        sql_addf(q, "%.17g", v->d);
        break;
    case FERRY_V_TEXT: {
        const unsigned char *p = v->p;
        size_t n = v->n > 40 ? 40 : v->n;
        while (n < v->n && n > 0 && (p[n] & 0xc0) == 0x80) /* cut between characters */
            n--;
        sql_addf(q, "'%.*s%s'", (int)n, (const char *)p, n < v->n ? "..." : "");
        break;
    }
    case FERRY_V_BLOB:
        sql_addf(q, "<blob of %zu bytes>", v->n);
        break;
    }
}

/* The ferry code for the last error on db: a violated constraint is the
 * target disagreeing with the data, anything else the store failing. */
static int err_code(sqlite3 *db)
{
    switch (sqlite3_errcode(db) & 0xff) { /* the primary code of an extended one */
    case SQLITE_CONSTRAINT:
        return FERRY_ECONFLICT;
    case SQLITE_NOMEM:
        return FERRY_ENOMEM;
    default:
        return FERRY_ESTORE;
    }
}

static int db_err(sqlite_store_t *s, char *errstr, size_t errstr_size, const char *what)
{
    return ferry_errf(errstr, errstr_size, err_code(s->db), "store %s: %s: %s", s->path, what,
                      sqlite3_errmsg(s->db));
}

static int exec(sqlite_store_t *s, const char *sql, char *errstr, size_t errstr_size,
                const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(s, errstr, errstr_size, what);
    return FERRY_OK;
}

static int prepare(sqlite_store_t *s, const char *sql, sqlite3_stmt **out, char *errstr,
                   size_t errstr_size, const char *what)
{
    if (!sql)
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: %s: out of memory",
                          s->path, what);
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return db_err(s, errstr, errstr_size, what);
    return FERRY_OK;
}

/* Field index by name, ASCII case-insensitive as SQLite resolves columns. */
static int field_ci(const ferry_object_t *obj, const char *name)
{
    for (size_t i = 0; i < obj->nfields; i++)
        if (!strcasecmp(obj->fields[i].name, name))
            return (int)i;
    return -1;
}

/* The spelling of the rowid that no column shadows, or NULL (WITHOUT ROWID, or
 * all three names taken). */
static const char *rowid_name(const ferry_object_t *t)
{
    static const char *const names[] = {"rowid", "_rowid_", "oid"};

    if (t->without_rowid)
        return NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (field_ci(t, names[i]) < 0)
            return names[i];
    return NULL;
}

/* Column i of a stepped statement as a borrowed value. */
static void column_value(sqlite3_stmt *st, int i, ferry_value_t *v)
{
    memset(v, 0, sizeof(*v));
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        v->kind = FERRY_V_INT;
        v->i = sqlite3_column_int64(st, i);
        break;
    case SQLITE_FLOAT:
        v->kind = FERRY_V_REAL;
        v->d = sqlite3_column_double(st, i);
        break;
    case SQLITE_TEXT:
        v->kind = FERRY_V_TEXT;
        v->p = sqlite3_column_text(st, i);
        v->n = (size_t)sqlite3_column_bytes(st, i);
        break;
    case SQLITE_BLOB:
        v->kind = FERRY_V_BLOB;
        v->p = sqlite3_column_blob(st, i);
        v->n = (size_t)sqlite3_column_bytes(st, i);
        if (!v->p)
            v->p = ""; /* an empty blob, not NULL */
        break;
    default:
        v->kind = FERRY_V_NULL;
    }
}

static int bind_value(sqlite3_stmt *st, int idx, const ferry_value_t *v)
{
    /* Empty text and blobs need a non-NULL pointer, or SQLite binds NULL. */
    switch (v->kind) {
    case FERRY_V_NULL:
        return sqlite3_bind_null(st, idx);
    case FERRY_V_INT:
        return sqlite3_bind_int64(st, idx, v->i);
    case FERRY_V_REAL:
        return sqlite3_bind_double(st, idx, v->d);
    case FERRY_V_TEXT:
        return sqlite3_bind_text64(st, idx, v->p ? v->p : "", v->n, SQLITE_STATIC, SQLITE_UTF8);
    case FERRY_V_BLOB:
        return sqlite3_bind_blob64(st, idx, v->p ? v->p : "", v->n, SQLITE_STATIC);
    }
    return SQLITE_MISUSE;
}

/* The store's catalog, re-read when the schema version moved or a transaction
 * that may have changed it ended. Valid until the next call. */
static int catalog(sqlite_store_t *s, const ferry_objset_t **out, char *errstr,
                   size_t errstr_size)
{
    ferry_objset_t *fresh;
    int version, rc;

    if (sqlite3_step(s->version) != SQLITE_ROW) {
        rc = db_err(s, errstr, errstr_size, "reading the schema version");
        sqlite3_reset(s->version);
        return rc;
    }
    version = sqlite3_column_int(s->version, 0);
    sqlite3_reset(s->version);
    if (!s->meta || version != s->meta_version) {
        if ((rc = ferry_sqlite_meta_read(s->db, &fresh, errstr, errstr_size)))
            return rc;
        ferry_objset_destroy(s->meta);
        s->meta = fresh;
        s->meta_version = version;
    }
    *out = s->meta;
    return FERRY_OK;
}

static void forget_catalog(sqlite_store_t *s)
{
    ferry_objset_destroy(s->meta);
    s->meta = NULL;
}

/* The store's own object named name, or FERRY_ENOTFOUND. */
static int find_table(sqlite_store_t *s, const char *name, const ferry_object_t **out,
                      char *errstr, size_t errstr_size)
{
    const ferry_objset_t *cat;
    int rc = catalog(s, &cat, errstr, errstr_size);

    if (rc)
        return rc;
    if (!(*out = ferry_objset_find(cat, name)))
        return ferry_errf(errstr, errstr_size, FERRY_ENOTFOUND, "store %s has no object '%s'",
                          s->path, name);
    return FERRY_OK;
}

static int was_created(const sqlite_store_t *s, const char *name)
{
    for (size_t i = 0; i < s->ncreated; i++)
        if (!strcasecmp(s->created[i], name))
            return 1;
    return 0;
}

static void forget_created(sqlite_store_t *s)
{
    for (size_t i = 0; i < s->ncreated; i++)
        free(s->created[i]);
    free(s->created);
    s->created = NULL;
    s->ncreated = 0;
}

static void ledger_finalize(sqlite_store_t *s)
{
    sqlite3_finalize(s->applied_get);
    sqlite3_finalize(s->applied_put);
    sqlite3_finalize(s->offset_get);
    sqlite3_finalize(s->offset_put);
    sqlite3_finalize(s->outbox_put);
    sqlite3_finalize(s->outbox_get);
    sqlite3_finalize(s->outbox_del);
    s->applied_get = s->applied_put = s->offset_get = s->offset_put = NULL;
    s->outbox_put = s->outbox_get = s->outbox_del = NULL;
    s->ledger_ready = 0;
}

/* ---- open, destroy, metadata ---- */

static const ferry_store_ops_t sqlite_ops;
static const ferry_ledger_ops_t sqlite_ledger_ops;

static void detach_writers(sqlite_store_t *s);

static void sqlite_destroy(ferry_store_t *base)
{
    sqlite_store_t *s = (sqlite_store_t *)base;

    if (s->txn != TXN_IDLE)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    detach_writers(s);
    free(s->flush_error);
    ledger_finalize(s);
    sqlite3_finalize(s->version);
    forget_catalog(s);
    forget_created(s);
    /* close_v2: a cursor or writer still open may be destroyed after the store;
     * the connection goes when its last statement does. */
    sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

int ferry_store_sqlite_open(const char *path, int mode, ferry_store_t **out, char *errstr,
                            size_t errstr_size)
{
    /* One thread at a time uses a store (store.h): no per-call locking. */
    int flags = SQLITE_OPEN_NOMUTEX | (mode == FERRY_STORE_WRITE
                                           ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                           : SQLITE_OPEN_READONLY);
    sqlite_store_t *s = calloc(1, sizeof(*s));
    int rc;

    *out = NULL;
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory", path);
    }
    s->base.ops = &sqlite_ops;
    s->base.ledger = &sqlite_ledger_ops;
    s->mode = mode;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ESTORE, "store %s: cannot open: %s", path,
                        s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    /* Reading the schema version also proves the file is a database. */
    if ((rc = prepare(s, "PRAGMA schema_version", &s->version, errstr, errstr_size,
                      "opening")))
        goto fail;
    if (sqlite3_step(s->version) != SQLITE_ROW) {
        rc = db_err(s, errstr, errstr_size, "opening");
        goto fail;
    }
    sqlite3_reset(s->version);
    if (mode == FERRY_STORE_WRITE &&
        (rc = exec(s, "PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL", errstr, errstr_size,
                   "configuring")))
        goto fail;
    *out = &s->base;
    return FERRY_OK;
fail:
    sqlite_destroy(&s->base);
    return rc;
}

static int sqlite_read_meta(ferry_store_t *base, ferry_objset_t **out, char *errstr,
                            size_t errstr_size)
{
    return ferry_sqlite_meta_read(((sqlite_store_t *)base)->db, out, errstr, errstr_size);
}

static int sqlite_has_object(ferry_store_t *base, const char *name)
{
    const ferry_objset_t *cat = NULL;
    int rc = catalog((sqlite_store_t *)base, &cat, NULL, 0);

    return rc ? rc : ferry_objset_find(cat, name) != NULL;
}

/* ---- cursor ---- */

typedef struct sqlite_cursor {
    ferry_cursor_t base;
    sqlite_store_t *s;
    sqlite3_stmt *stmt;
    ferry_value_t *row;
    size_t n;
    int done;
    char *table;
} sqlite_cursor_t;

static int cursor_next(ferry_cursor_t *base, const ferry_value_t **row, char *errstr,
                       size_t errstr_size)
{
    sqlite_cursor_t *c = (sqlite_cursor_t *)base;
    int rc;

    if (c->done)
        return 0;
    rc = sqlite3_step(c->stmt);
    if (rc == SQLITE_DONE) {
        c->done = 1; /* stepping again would restart the query */
        return 0;
    }
    if (rc != SQLITE_ROW)
        return ferry_errf(errstr, errstr_size, FERRY_ESTORE, "store %s: reading %s: %s",
                          c->s->path, c->table, sqlite3_errmsg(c->s->db));
    for (size_t i = 0; i < c->n; i++)
        column_value(c->stmt, (int)i, &c->row[i]);
    *row = c->row;
    return 1;
}

static void cursor_destroy(ferry_cursor_t *base)
{
    sqlite_cursor_t *c = (sqlite_cursor_t *)base;

    sqlite3_finalize(c->stmt);
    free(c->row);
    free(c->table);
    free(c);
}

static int sqlite_cursor_open(ferry_store_t *base, const ferry_object_t *obj,
                              ferry_cursor_t **out, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    const ferry_object_t *t;
    sqlite_cursor_t *c = NULL;
    sql_t q = {FERRY_BUF_INIT, 0};
    size_t *pk = NULL, npk;
    const char *rowid;
    int rc;

    *out = NULL;
    if ((rc = find_table(s, obj->name, &t, errstr, errstr_size)))
        return rc;
    sql_add(&q, "SELECT ");
    for (size_t i = 0; i < obj->nfields; i++) {
        int j = field_ci(t, obj->fields[i].name);
        if (j < 0) {
            rc = ferry_errf(errstr, errstr_size, FERRY_ENOTFOUND,
                            "store %s: object %s has no field '%s'", s->path, t->name,
                            obj->fields[i].name);
            goto done;
        }
        sql_add(&q, i ? ", " : "");
        sql_ident(&q, t->fields[j].name);
    }
    if (!obj->nfields)
        sql_add(&q, "NULL");
    sql_add(&q, " FROM ");
    sql_ident(&q, t->name);
    if (!(pk = calloc(t->nfields + 1, sizeof(*pk)))) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory", s->path);
        goto done;
    }
    npk = ferry_object_pk(t, pk);
    if (npk) {
        sql_add(&q, " ORDER BY ");
        for (size_t k = 0; k < npk; k++) {
            sql_add(&q, k ? ", " : "");
            sql_ident(&q, t->fields[pk[k]].name);
        }
    } else if ((rowid = rowid_name(t))) {
        sql_add(&q, " ORDER BY ");
        sql_add(&q, rowid);
    }
    if (!(c = calloc(1, sizeof(*c))) || !(c->row = calloc(obj->nfields + 1, sizeof(*c->row))) ||
        !(c->table = strdup(t->name))) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory", s->path);
        goto done;
    }
    c->base.next = cursor_next;
    c->base.destroy = cursor_destroy;
    c->s = s;
    c->n = obj->nfields;
    rc = prepare(s, sql_text(&q), &c->stmt, errstr, errstr_size, "opening a cursor");
done:
    if (rc && c)
        cursor_destroy(&c->base);
    else if (!rc)
        *out = &c->base;
    free(pk);
    ferry_buf_free(&q.b);
    return rc;
}

/* ---- transactions ---- */

/* FERRY_EORDER while a transaction or snapshot is open. */
static int need_idle(sqlite_store_t *s, char *errstr, size_t errstr_size)
{
    if (s->txn == TXN_IDLE)
        return FERRY_OK;
    return ferry_errf(errstr, errstr_size, FERRY_EORDER, "store %s: a %s is already open",
                      s->path, s->txn == TXN_OPEN ? "transaction" : "snapshot");
}

static int sqlite_begin(ferry_store_t *base, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc;

    if (s->mode != FERRY_STORE_WRITE)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "store %s is open read-only: no transaction", s->path);
    if ((rc = need_idle(s, errstr, errstr_size)))
        return rc;
    if ((rc = exec(s, "BEGIN IMMEDIATE", errstr, errstr_size, "beginning a transaction")))
        return rc;
    s->txn = TXN_OPEN;
    /* Mutual and self references are written in any order within an export;
     * parents are checked once, at commit. */
    return exec(s, "PRAGMA defer_foreign_keys=ON", errstr, errstr_size,
                "deferring foreign keys");
}

static int sqlite_check_fks(ferry_store_t *base, char *errstr, size_t errstr_size);

static int sqlite_checkpoint_later(ferry_store_t *base, char *errstr, size_t errstr_size)
{
    return exec((sqlite_store_t *)base, "PRAGMA wal_autocheckpoint=0", errstr, errstr_size,
                "deferring checkpoints");
}

static int sqlite_checkpoint(ferry_store_t *base, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc;

    if (s->mode != FERRY_STORE_WRITE || s->txn != TXN_IDLE)
        return FERRY_OK;
    /* PASSIVE: folds back what no reader needs, never waits for one (BUSY:
     * another connection is checkpointing already). */
    rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return db_err(s, errstr, errstr_size, "checkpointing");
    return FERRY_OK;
}

static int sqlite_commit(ferry_store_t *base, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc;

    if (s->txn != TXN_OPEN)
        return ferry_errf(errstr, errstr_size, FERRY_EORDER,
                          "store %s: commit without a transaction", s->path);
    if (s->flush_error) /* the caller rolls back */
        return ferry_errf(errstr, errstr_size, FERRY_ESTORE, "%s", s->flush_error);
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        if (sqlite3_extended_errcode(s->db) != SQLITE_CONSTRAINT_FOREIGNKEY)
            return db_err(s, errstr, errstr_size, "committing");
        /* The transaction stays open: name the first orphan, caller rolls back. */
        rc = sqlite_check_fks(base, errstr, errstr_size);
        return rc ? rc
                  : ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                               "store %s: commit failed on a foreign key", s->path);
    }
    s->txn = TXN_IDLE;
    forget_created(s);
    return FERRY_OK;
}

static int sqlite_rollback(ferry_store_t *base)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = FERRY_OK;

    /* SQLite may already have rolled back on its own (for example on SQLITE_FULL). */
    if (!sqlite3_get_autocommit(s->db) &&
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        rc = FERRY_ESTORE;
    s->txn = TXN_IDLE;
    free(s->flush_error);
    s->flush_error = NULL;
    forget_created(s);
    forget_catalog(s);
    ledger_finalize(s);
    return rc;
}

static int sqlite_snapshot(ferry_store_t *base, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    sqlite3_stmt *st = NULL;
    int rc, step;

    if ((rc = need_idle(s, errstr, errstr_size)))
        return rc;
    if ((rc = exec(s, "BEGIN", errstr, errstr_size, "beginning a snapshot")))
        return rc;
    s->txn = TXN_SNAPSHOT;
    /* BEGIN (deferred) takes no snapshot yet; the first read does, and the
     * read transaction then lasts until ROLLBACK. */
    if (!(rc = prepare(s, "SELECT count(*) FROM sqlite_schema", &st, errstr, errstr_size,
                       "beginning a snapshot"))) {
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (step != SQLITE_DONE)
            rc = db_err(s, errstr, errstr_size, "beginning a snapshot");
    }
    sqlite3_finalize(st);
    if (rc)
        sqlite_rollback(base);
    return rc;
}

/* ---- applying metadata ---- */

static int is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* A declared type passes when it is a type name SQLite reads as nothing else:
 * words, optionally followed by "(n)" or "(p, s)" with signed numbers, and no
 * word that would start a column constraint. Anything else could smuggle a
 * constraint or a second column into CREATE TABLE. */
static int decl_type_ok(const char *d)
{
    static const char *const constraint_words[] = {
        "CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT",
        "COLLATE", "REFERENCES", "GENERATED", "AS", "FOREIGN", "KEY", "ON",
    };
    const char *p = d;
    int words = 0;

    while (*p == ' ')
        p++;
    while (is_word_char(*p)) {
        const char *w = p;
        if (isdigit((unsigned char)*w))
            return 0;
        while (is_word_char(*p))
            p++;
        for (size_t i = 0; i < sizeof(constraint_words) / sizeof(constraint_words[0]); i++)
            if (strlen(constraint_words[i]) == (size_t)(p - w) &&
                !strncasecmp(w, constraint_words[i], (size_t)(p - w)))
                return 0;
        words++;
        while (*p == ' ')
            p++;
    }
    if (*p == '(') {
        if (!words)
            return 0;
        p++;
        for (int n = 0; n < 2; n++) {
            while (*p == ' ')
                p++;
            if (*p == '+' || *p == '-')
                p++;
            if (!isdigit((unsigned char)*p))
                return 0;
            while (isdigit((unsigned char)*p) || *p == '.')
                p++;
            while (*p == ' ')
                p++;
            if (*p != ',')
                break;
            p++;
        }
        if (*p++ != ')')
            return 0;
        while (*p == ' ')
            p++;
    }
    return *p == '\0';
}

static const char *const time_defaults[] = {"CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME"};

static int is_time_default(const char *d)
{
    for (size_t i = 0; i < sizeof(time_defaults) / sizeof(time_defaults[0]); i++)
        if (!strcasecmp(d, time_defaults[i]))
            return 1;
    return 0;
}

/* A default passes when it is a literal: a number, a 'string', NULL, TRUE,
 * FALSE or CURRENT_TIMESTAMP/DATE/TIME. Expressions are never pasted. */
static int default_ok(const char *d)
{
    const char *p = d;

    if (!strcasecmp(d, "NULL") || !strcasecmp(d, "TRUE") || !strcasecmp(d, "FALSE") ||
        is_time_default(d))
        return 1;
    if (*p == '\'') {
        for (p++; *p; p++) {
            if (*p != '\'')
                continue;
            if (p[1] != '\'')
                return p[1] == '\0'; /* the closing quote ends the text */
            p++;                      /* '' is a quote inside the string */
        }
        return 0;
    }
    if (*p == '+' || *p == '-')
        p++;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2])) {
        for (p += 2; isxdigit((unsigned char)*p); p++)
            ;
        return *p == '\0';
    }
    {
        const char *digits = p;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '.')
            for (p++; isdigit((unsigned char)*p); p++)
                ;
        if (p == digits || (p == digits + 1 && *digits == '.'))
            return 0;
        if (*p == 'e' || *p == 'E') {
            p++;
            if (*p == '+' || *p == '-')
                p++;
            if (!isdigit((unsigned char)*p))
                return 0;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    return *p == '\0';
}

/* The whitelisted spelling of an ON DELETE action; "" for none; NULL if not allowed. */
static const char *on_delete_sql(const char *action)
{
    static const char *const actions[] = {"CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT",
                                          "NO ACTION"};

    if (!action || !*action)
        return "";
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (!strcasecmp(action, actions[i]))
            return actions[i];
    return NULL;
}

/* Checks everything of obj that will reach SQL text, before any statement runs. */
static int check_object(const ferry_object_t *obj, char *errstr, size_t errstr_size)
{
    if (!obj->name || !*obj->name)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "object without a name");
    if (ferry_name_reserved(obj->name))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "object '%s': names starting with sqlite_ or ferry_ are reserved",
                          obj->name);
    if (!obj->nfields)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "object '%s' has no fields",
                          obj->name);
    for (size_t i = 0; i < obj->nfields; i++) {
        const ferry_field_t *f = &obj->fields[i];
        if (!*f->name || field_ci(obj, f->name) != (int)i)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "object '%s': field '%s' is empty or repeated", obj->name,
                              f->name);
        if (!decl_type_ok(f->decl_type))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "object '%s' field '%s': declared type '%s' is not a plain "
                              "type name",
                              obj->name, f->name, f->decl_type);
        if (f->default_sql && !default_ok(f->default_sql))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "object '%s' field '%s': default '%s' is not a literal",
                              obj->name, f->name, f->default_sql);
        if (f->collation && !ferry_collation_name(f->collation))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "object '%s' field '%s': collation '%s' is not BINARY, NOCASE "
                              "or RTRIM",
                              obj->name, f->name, f->collation);
    }
    if (obj->without_rowid && !ferry_object_pk(obj, NULL))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "object '%s': WITHOUT ROWID needs a primary key", obj->name);
    for (size_t i = 0; i < obj->nuniques; i++)
        for (size_t k = 0; k < obj->uniques[i].nfields; k++)
            if (field_ci(obj, obj->uniques[i].fields[k]) < 0)
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "object '%s': unique constraint names unknown field '%s'",
                                  obj->name, obj->uniques[i].fields[k]);
    for (size_t i = 0; i < obj->nrelations; i++) {
        const ferry_relation_t *r = &obj->relations[i];
        if (!r->nfields || !*r->target)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "object '%s': relation %zu has no fields or target", obj->name, i);
        if (!on_delete_sql(r->on_delete))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "object '%s': relation to '%s': ON DELETE '%s' is not allowed",
                              obj->name, r->target, r->on_delete);
        if ((unsigned)r->deferrable > FERRY_DEFER_DEFERRED)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "object '%s': relation to '%s': unknown deferrability",
                              obj->name, r->target);
        for (size_t k = 0; k < r->nfields; k++) {
            if (field_ci(obj, r->fields[k]) < 0)
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "object '%s': relation to '%s' names unknown field '%s'",
                                  obj->name, r->target, r->fields[k]);
            if (!r->to_fields[k] != !r->to_fields[0] || (r->to_fields[k] && !*r->to_fields[k]))
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "object '%s': relation to '%s' names its target fields "
                                  "only in part",
                                  obj->name, r->target);
        }
    }
    for (size_t i = 0; i < obj->nindexes; i++) {
        const ferry_index_t *x = &obj->indexes[i];
        if (!*x->name || !x->ncols || !strncasecmp(x->name, "sqlite_", 7))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "object '%s': index '%s' has no name, no column or a name "
                              "reserved by SQLite",
                              obj->name, x->name);
        for (size_t j = 0; j < i; j++)
            if (!strcasecmp(obj->indexes[j].name, x->name))
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "object '%s': index '%s' is declared twice", obj->name,
                                  x->name);
        for (size_t k = 0; k < x->ncols; k++) {
            if (field_ci(obj, x->cols[k].name) < 0)
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "object '%s': index '%s' names unknown field '%s'", obj->name,
                                  x->name, x->cols[k].name);
            if (x->cols[k].collation && !ferry_collation_name(x->cols[k].collation))
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "object '%s': index '%s': collation '%s' is not BINARY, "
                                  "NOCASE or RTRIM",
                                  obj->name, x->name, x->cols[k].collation);
        }
    }
    return FERRY_OK;
}

static void sql_column_def(sql_t *q, const ferry_field_t *f)
{
    sql_ident(q, f->name);
    if (*f->decl_type) {
        sql_add(q, " ");
        sql_add(q, f->decl_type);
    }
    if (!f->nullable)
        sql_add(q, " NOT NULL");
    if (f->default_sql) {
        sql_add(q, " DEFAULT ");
        sql_add(q, f->default_sql);
    }
    if (f->collation) {
        sql_add(q, " COLLATE ");
        sql_add(q, ferry_collation_name(f->collation)); /* whitelisted by check_object */
    }
}

static void sql_ident_list(sql_t *q, char *const *names, size_t n)
{
    sql_add(q, "(");
    for (size_t k = 0; k < n; k++) {
        sql_add(q, k ? ", " : "");
        sql_ident(q, names[k]);
    }
    sql_add(q, ")");
}

static int create_table(sqlite_store_t *s, const ferry_object_t *obj, char *errstr,
                        size_t errstr_size)
{
    sql_t q = {FERRY_BUF_INIT, 0};
    size_t *pk = calloc(obj->nfields, sizeof(*pk)), npk;
    char **created;
    int rc;

    if (!pk)
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory", s->path);
    sql_add(&q, "CREATE TABLE ");
    sql_ident(&q, obj->name);
    sql_add(&q, " (");
    for (size_t i = 0; i < obj->nfields; i++) {
        sql_add(&q, i ? ", " : "");
        sql_column_def(&q, &obj->fields[i]);
    }
    if ((npk = ferry_object_pk(obj, pk))) {
        sql_add(&q, ", PRIMARY KEY (");
        for (size_t k = 0; k < npk; k++) {
            sql_add(&q, k ? ", " : "");
            sql_ident(&q, obj->fields[pk[k]].name);
        }
        sql_add(&q, ")");
    }
    for (size_t i = 0; i < obj->nuniques; i++) {
        sql_add(&q, ", UNIQUE ");
        sql_ident_list(&q, obj->uniques[i].fields, obj->uniques[i].nfields);
    }
    for (size_t i = 0; i < obj->nrelations; i++) {
        const ferry_relation_t *r = &obj->relations[i];
        const char *action = on_delete_sql(r->on_delete);
        sql_add(&q, ", FOREIGN KEY ");
        sql_ident_list(&q, r->fields, r->nfields);
        sql_add(&q, " REFERENCES ");
        sql_ident(&q, r->target);
        if (r->to_fields[0])
            sql_ident_list(&q, r->to_fields, r->nfields);
        if (*action) {
            sql_add(&q, " ON DELETE ");
            sql_add(&q, action);
        }
        if (r->deferrable == FERRY_DEFER_IMMEDIATE)
            sql_add(&q, " DEFERRABLE INITIALLY IMMEDIATE");
        else if (r->deferrable == FERRY_DEFER_DEFERRED)
            sql_add(&q, " DEFERRABLE INITIALLY DEFERRED");
    }
    sql_add(&q, obj->without_rowid ? ") WITHOUT ROWID" : ")");
    free(pk);
    rc = sql_text(&q) ? exec(s, sql_text(&q), errstr, errstr_size, "creating a table")
                      : ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory",
                                   s->path);
    ferry_buf_free(&q.b);
    if (rc)
        return rc;
    created = realloc(s->created, (s->ncreated + 1) * sizeof(*created));
    if (!created || !(created[s->ncreated] = strdup(obj->name))) {
        if (created)
            s->created = created;
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory", s->path);
    }
    s->created = created;
    s->ncreated++;
    return FERRY_OK;
}

/* The first column where obj's primary key and the existing table t's differ,
 * or NULL when they are the same key. */
static const char *pk_difference(const ferry_object_t *obj, const ferry_object_t *t)
{
    size_t *a = calloc(obj->nfields + 1, sizeof(*a)), *b = calloc(t->nfields + 1, sizeof(*b));
    size_t na = ferry_object_pk(obj, a), nb = ferry_object_pk(t, b);
    const char *diff = NULL;

    if (!a || !b)
        diff = obj->name; /* out of memory: refuse rather than guess */
    for (size_t k = 0; !diff && k < (na > nb ? na : nb); k++) {
        if (k >= na)
            diff = t->fields[b[k]].name;
        else if (k >= nb || strcasecmp(obj->fields[a[k]].name, t->fields[b[k]].name))
            diff = obj->fields[a[k]].name;
    }
    free(a);
    free(b);
    return diff;
}

/* Compares obj with the existing table t and adds the missing nullable (or
 * defaulted) columns; every check runs before the first ALTER. */
static int evolve_table(sqlite_store_t *s, const ferry_object_t *obj, const ferry_object_t *t,
                        char *errstr, size_t errstr_size)
{
    const char *diff = pk_difference(obj, t);
    char *table = NULL;
    int rc = FERRY_OK, adds = 0;

    if (diff)
        return ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                          "table %s: primary key differs from the existing one at column %s",
                          t->name, diff);
    for (size_t i = 0; i < obj->nfields; i++) {
        const ferry_field_t *f = &obj->fields[i];
        int j = field_ci(t, f->name);
        if (j >= 0) {
            const ferry_field_t *have = &t->fields[j];
            if (have->type != f->type && have->type != FERRY_T_ANY)
                return ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                                  "table %s column %s: type %s ('%s') conflicts with the "
                                  "existing %s ('%s')",
                                  t->name, have->name, ferry_type_name(f->type), f->decl_type,
                                  ferry_type_name(have->type), have->decl_type);
            continue;
        }
        if (!f->nullable && (!f->default_sql || !strcasecmp(f->default_sql, "NULL")))
            return ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                              "table %s column %s: a new NOT NULL column without a default "
                              "cannot be added",
                              t->name, f->name);
        if (f->default_sql && is_time_default(f->default_sql))
            return ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                              "table %s column %s: a new column defaulting to %s cannot be "
                              "added",
                              t->name, f->name, f->default_sql);
        adds++;
    }
    /* t points into the catalog cache, which the first ALTER makes stale. */
    if (adds && !(table = strdup(t->name)))
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory", s->path);
    for (size_t i = 0; !rc && adds && i < obj->nfields; i++) {
        sql_t q = {FERRY_BUF_INIT, 0};
        if (field_ci(t, obj->fields[i].name) >= 0)
            continue;
        sql_add(&q, "ALTER TABLE ");
        sql_ident(&q, table);
        sql_add(&q, " ADD COLUMN ");
        sql_column_def(&q, &obj->fields[i]);
        rc = sql_text(&q) ? exec(s, sql_text(&q), errstr, errstr_size, "adding a column")
                          : ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                                       "store %s: out of memory", s->path);
        ferry_buf_free(&q.b);
    }
    free(table);
    return rc;
}

/* 1 when the two index definitions are the same (names compared as SQLite
 * does; a missing collation is BINARY). */
static int same_index(const ferry_index_t *a, const ferry_index_t *b)
{
    if (!a->unique != !b->unique || a->ncols != b->ncols)
        return 0;
    for (size_t k = 0; k < a->ncols; k++) {
        const char *ca = a->cols[k].collation ? a->cols[k].collation : "BINARY";
        const char *cb = b->cols[k].collation ? b->cols[k].collation : "BINARY";
        if (strcasecmp(a->cols[k].name, b->cols[k].name) || !a->cols[k].desc != !b->cols[k].desc ||
            strcasecmp(ca, cb))
            return 0;
    }
    return 1;
}

/* Decides for each index of obj whether it must be created (need[i] = 1) or
 * exists already with the same definition on the same table (0). A schema
 * object of that name that is anything else (another definition, another
 * table, an index ferry does not model such as a partial one, a table) ->
 * FERRY_ECONFLICT naming it: CREATE INDEX IF NOT EXISTS would silently keep
 * the other one. Runs before anything is changed. */
static int plan_indexes(sqlite_store_t *s, const ferry_objset_t *cat, const ferry_object_t *obj,
                        char *need, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT type, tbl_name FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE",
                     &st, errstr, errstr_size, "looking up an index");

    for (size_t i = 0; !rc && i < obj->nindexes; i++) {
        const ferry_index_t *x = &obj->indexes[i];
        const ferry_object_t *t;
        const char *type, *table;
        int step;

        need[i] = 1;
        sqlite3_reset(st);
        if (sqlite3_bind_text(st, 1, x->name, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            ((step = sqlite3_step(st)) != SQLITE_ROW && step != SQLITE_DONE)) {
            rc = db_err(s, errstr, errstr_size, "looking up an index");
            break;
        }
        if (step == SQLITE_DONE)
            continue;
        type = (const char *)sqlite3_column_text(st, 0);
        table = (const char *)sqlite3_column_text(st, 1);
        if (type && !strcmp(type, "index") && table && !strcasecmp(table, obj->name) &&
            (t = ferry_objset_find(cat, table)))
            for (size_t j = 0; j < t->nindexes && need[i]; j++)
                if (!strcasecmp(t->indexes[j].name, x->name) && same_index(&t->indexes[j], x))
                    need[i] = 0;
        if (need[i])
            rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                            "table %s: index %s exists in the target (%s on table %s) with "
                            "another definition; drop or rename it there",
                            obj->name, x->name, type ? type : "?", table ? table : "?");
    }
    sqlite3_finalize(st);
    return rc;
}

/* CREATE [UNIQUE] INDEX IF NOT EXISTS for the indexes of obj marked in need,
 * built from the model: quoted names, whitelisted collations, ASC/DESC. */
static int create_indexes(sqlite_store_t *s, const ferry_object_t *obj, const char *need,
                          char *errstr, size_t errstr_size)
{
    int rc = FERRY_OK;

    for (size_t i = 0; !rc && i < obj->nindexes; i++) {
        const ferry_index_t *x = &obj->indexes[i];
        sql_t q = {FERRY_BUF_INIT, 0};
        if (!need[i])
            continue;
        sql_add(&q, x->unique ? "CREATE UNIQUE INDEX IF NOT EXISTS " : "CREATE INDEX IF NOT EXISTS ");
        sql_ident(&q, x->name);
        sql_add(&q, " ON ");
        sql_ident(&q, obj->name);
        sql_add(&q, " (");
        for (size_t k = 0; k < x->ncols; k++) {
            sql_add(&q, k ? ", " : "");
            sql_ident(&q, x->cols[k].name);
            if (x->cols[k].collation) {
                sql_add(&q, " COLLATE ");
                sql_add(&q, ferry_collation_name(x->cols[k].collation));
            }
            sql_add(&q, x->cols[k].desc ? " DESC" : " ASC");
        }
        sql_add(&q, ")");
        rc = sql_text(&q) ? exec(s, sql_text(&q), errstr, errstr_size, "creating an index")
                          : ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                                       "store %s: out of memory", s->path);
        ferry_buf_free(&q.b);
    }
    return rc;
}

static int sqlite_apply_object(ferry_store_t *base, const ferry_object_t *obj, int *created,
                               char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    const ferry_objset_t *cat;
    const ferry_object_t *t;
    ferry_objset_t *declared = NULL;
    char *need = NULL;
    int rc;

    if (s->txn != TXN_OPEN)
        return ferry_errf(errstr, errstr_size, FERRY_EORDER,
                          "store %s: applying object '%s' outside a transaction", s->path,
                          obj->name);
    /* Another dialect's object is created and compared as SQLite declares
     * it (sqlite_meta.h): its column types are then those this table reads
     * back, and a type conflict is one with what SQLite would hold. */
    if ((rc = ferry_sqlite_meta_declare(obj, &declared, &obj, errstr, errstr_size)))
        return rc;
    if ((rc = check_object(obj, errstr, errstr_size)) ||
        (rc = catalog(s, &cat, errstr, errstr_size)))
        goto out;
    if (!(need = calloc(obj->nindexes + 1, 1))) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory", s->path);
        goto out;
    }
    if ((rc = plan_indexes(s, cat, obj, need, errstr, errstr_size)))
        goto out;
    if ((t = ferry_objset_find(cat, obj->name))) {
        rc = evolve_table(s, obj, t, errstr, errstr_size);
    } else if (!(rc = create_table(s, obj, errstr, errstr_size)) && created) {
        *created = 1;
    }
    if (!rc)
        rc = create_indexes(s, obj, need, errstr, errstr_size);
out:
    free(need);
    ferry_objset_destroy(declared);
    return rc;
}

/* ---- writer ---- */

/* Rows one multi-row INSERT of a writer carries at most, and the text and
 * blob bytes kept before the rows are written anyway (one by one). */
#define BATCH_ROWS 64
#define KEPT_BYTES_MAX (4 << 20)

typedef struct sqlite_writer {
    ferry_writer_t base;
    sqlite_store_t *s;
    sqlite3_stmt *insert; /* inserts, or does nothing on a key (or identical row) present */
    sqlite3_stmt *update; /* by key; NULL when there is nothing to update */
    size_t n;
    size_t *key;          /* incoming indexes of the key columns, for messages */
    size_t nkey;
    char *table;
    /* Into a table empty at open: rows kept (values copied, text and blob
     * bytes in `bytes` at offsets) and inserted batch_rows at a time. */
    sqlite3_stmt *batch;  /* plain multi-row INSERT; NULL: no batching */
    size_t batch_rows;
    size_t kept;
    int64_t updated;      /* kept rows that were updates, since the last flush */
    ferry_value_t *vals;  /* batch_rows * n */
    size_t *offs;         /* byte offsets of text and blob values */
    ferry_buf_t bytes;
    struct sqlite_writer *next; /* in s->writers */
} sqlite_writer_t;

/* A writer outliving its store must not touch it. */
static void detach_writers(sqlite_store_t *s)
{
    for (sqlite_writer_t *w = s->writers; w; w = w->next)
        w->s = NULL;
}

static int bind_row(sqlite3_stmt *st, const ferry_value_t *row, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bind_value(st, (int)i + 1, &row[i]) != SQLITE_OK)
            return -1;
    return 0;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int writer_fail(sqlite_writer_t *w, const ferry_value_t *row, char *errstr,
                       size_t errstr_size)
{
    int err = err_code(w->s->db);
    sql_t q = {FERRY_BUF_INIT, 0};

    for (size_t k = 0; k < w->nkey; k++) {
        sql_add(&q, k ? ", " : "");
        sql_value(&q, &row[w->key[k]]);
    }
    err = ferry_errf(errstr, errstr_size, err, "table %s row with key (%s): %s", w->table,
                     sql_text(&q) ? sql_text(&q) : "?", sqlite3_errmsg(w->s->db));
    ferry_buf_free(&q.b);
    return err;
}

/* The upsert of one row: insert, or update by key when it exists. */
static int upsert(sqlite_writer_t *w, const ferry_value_t *row, int *inserted, char *errstr,
                  size_t errstr_size)
{
    int ins;

    if (bind_row(w->insert, row, w->n))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "table %s: a value cannot be bound",
                          w->table);
    if (step_done(w->insert) != SQLITE_OK)
        return writer_fail(w, row, errstr, errstr_size);
    ins = sqlite3_changes(w->s->db) > 0;
    if (!ins && w->update) {
        if (bind_row(w->update, row, w->n))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "table %s: a value cannot be bound", w->table);
        if (step_done(w->update) != SQLITE_OK)
            return writer_fail(w, row, errstr, errstr_size);
    }
    if (inserted)
        *inserted = ins;
    return FERRY_OK;
}

/* Points the text and blob values of the kept rows into w->bytes (which may
 * have moved while they were kept). */
static void point_kept_rows(sqlite_writer_t *w)
{
    for (size_t i = 0; i < w->kept * w->n; i++)
        if (w->vals[i].kind == FERRY_V_TEXT || w->vals[i].kind == FERRY_V_BLOB)
            w->vals[i].p = w->vals[i].n ? w->bytes.data + w->offs[i] : NULL;
}

/* Writes the kept rows; those that met their key present are counted in
 * w->updated. */
static int write_kept(sqlite_writer_t *w, char *errstr, size_t errstr_size)
{
    size_t kept = w->kept;
    int rc = FERRY_OK, ins;

    point_kept_rows(w);
    w->kept = 0;
    /* A full batch in one statement. If a constraint fails (a key present
     * after all, a NULL in a NOT NULL column...), OR ABORT has undone the
     * statement alone: the rows then go one by one, which names the culprit
     * or updates the row. Any other failure is the transaction's. */
    if (kept && kept == w->batch_rows) {
        for (size_t i = 0; i < kept * w->n; i++)
            if (bind_value(w->batch, (int)i + 1, &w->vals[i]) != SQLITE_OK)
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "table %s: a value cannot be bound", w->table);
        if ((rc = step_done(w->batch)) == SQLITE_OK)
            kept = 0;
        else if ((rc & 0xff) != SQLITE_CONSTRAINT || sqlite3_get_autocommit(w->s->db))
            return ferry_errf(errstr, errstr_size, err_code(w->s->db),
                              "table %s: inserting %zu rows: %s", w->table, kept,
                              sqlite3_errmsg(w->s->db));
        rc = FERRY_OK;
    }
    for (size_t i = 0; !rc && i < kept; i++)
        if (!(rc = upsert(w, &w->vals[i * w->n], &ins, errstr, errstr_size)) && !ins)
            w->updated++;
    ferry_buf_reset(&w->bytes);
    return rc;
}

static int writer_flush(ferry_writer_t *base, int64_t *updated, char *errstr, size_t errstr_size)
{
    sqlite_writer_t *w = (sqlite_writer_t *)base;
    int rc = write_kept(w, errstr, errstr_size);

    if (updated)
        *updated = w->updated;
    w->updated = 0;
    return rc;
}

static int writer_put(ferry_writer_t *base, const ferry_value_t *row, int *inserted,
                      char *errstr, size_t errstr_size)
{
    sqlite_writer_t *w = (sqlite_writer_t *)base;
    ferry_value_t *slot;

    if (!w->batch)
        return upsert(w, row, inserted, errstr, errstr_size);
    slot = &w->vals[w->kept * w->n];
    for (size_t f = 0; f < w->n; f++) {
        slot[f] = row[f];
        if (row[f].kind == FERRY_V_TEXT || row[f].kind == FERRY_V_BLOB) {
            w->offs[w->kept * w->n + f] = w->bytes.len;
            if (row[f].n && ferry_buf_append(&w->bytes, row[f].p, row[f].n))
                return ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                                  "table %s: out of memory keeping a row", w->table);
        }
    }
    if (inserted)
        *inserted = 1;
    if (++w->kept == w->batch_rows || w->bytes.len >= KEPT_BYTES_MAX)
        return write_kept(w, errstr, errstr_size);
    return FERRY_OK;
}

static void writer_destroy(ferry_writer_t *base)
{
    sqlite_writer_t *w = (sqlite_writer_t *)base;
    char why[512];

    if (!w)
        return;
    /* Kept rows belong to the open transaction; never write them outside. */
    if (w->s && w->kept && w->s->txn == TXN_OPEN && !sqlite3_get_autocommit(w->s->db) &&
        write_kept(w, why, sizeof(why)) && !w->s->flush_error)
        w->s->flush_error = strdup(why);
    for (sqlite_writer_t **at = w->s ? &w->s->writers : NULL; at && *at; at = &(*at)->next)
        if (*at == w) {
            *at = w->next;
            break;
        }
    sqlite3_finalize(w->batch);
    free(w->vals);
    free(w->offs);
    ferry_buf_free(&w->bytes);

    sqlite3_finalize(w->insert);
    sqlite3_finalize(w->update);
    free(w->key);
    free(w->table);
    free(w);
}

/* Appends "INSERT OR ABORT INTO t (c1, c2...)": the table's columns for the
 * n incoming fields (col[i], see writer_sql). OR ABORT: whatever conflict
 * clause the table declares, a failing statement undoes itself only, never
 * the transaction around it. */
static void insert_into(sql_t *q, const ferry_object_t *t, const int *col, size_t n)
{
    sql_add(q, "INSERT OR ABORT INTO ");
    sql_ident(q, t->name);
    sql_add(q, " (");
    for (size_t i = 0; i < n; i++) {
        sql_add(q, i ? ", " : "");
        sql_ident(q, t->fields[col[i]].name);
    }
    sql_add(q, ")");
}

/* Appends "?first, ..., ?first+n-1". */
static void placeholders(sql_t *q, size_t first, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sql_addf(q, "%s?%zu", i ? ", " : "", first + i);
}

/* Appends "(?first, ..., ?first+n-1)". */
static void values_tuple(sql_t *q, size_t first, size_t n)
{
    sql_add(q, "(");
    placeholders(q, first, n);
    sql_add(q, ")");
}

/* The writer's statements, from the store's spelling of every name. col[i] is
 * the table's field for incoming field i; parameter ?i+1 is incoming value i
 * in both statements, so one binding loop serves either. */
static int writer_sql(sqlite_writer_t *w, const ferry_object_t *t, const int *col,
                      const size_t *tpk, size_t ntpk, char *errstr, size_t errstr_size)
{
    sql_t ins = {FERRY_BUF_INIT, 0}, upd = {FERRY_BUF_INIT, 0};
    int rc, nset = 0;

    insert_into(&ins, t, col, w->n);
    if (ntpk || was_created(w->s, t->name)) {
        sql_add(&ins, " VALUES ");
        values_tuple(&ins, 1, w->n);
    } else {
        sql_add(&ins, " SELECT ");
        placeholders(&ins, 1, w->n);
        sql_add(&ins, " WHERE NOT EXISTS (SELECT 1 FROM ");
        sql_ident(&ins, t->name);
        for (size_t i = 0; i < w->n; i++) {
            sql_add(&ins, i ? " AND " : " WHERE ");
            sql_ident(&ins, t->fields[col[i]].name);
            sql_addf(&ins, " IS ?%zu", i + 1);
        }
        sql_add(&ins, ")");
    }
    if (ntpk) {
        sql_add(&ins, " ON CONFLICT ");
        sql_add(&upd, "UPDATE OR ABORT ");
        sql_ident(&upd, t->name);
        sql_add(&upd, " SET ");
        for (size_t i = 0; i < w->n; i++) {
            if (t->fields[col[i]].pk_pos > 0)
                continue;
            sql_add(&upd, nset++ ? ", " : "");
            sql_ident(&upd, t->fields[col[i]].name);
            sql_addf(&upd, " = ?%zu", i + 1);
        }
        for (size_t k = 0; k < ntpk; k++) {
            sql_add(&ins, k ? ", " : "(");
            sql_ident(&ins, t->fields[tpk[k]].name);
            sql_add(&upd, k ? " AND " : " WHERE ");
            sql_ident(&upd, t->fields[tpk[k]].name);
            sql_addf(&upd, " = ?%zu", w->key[k] + 1);
        }
        sql_add(&ins, ") DO NOTHING");
    }
    rc = prepare(w->s, sql_text(&ins), &w->insert, errstr, errstr_size, "preparing an insert");
    if (!rc && nset)
        rc = prepare(w->s, sql_text(&upd), &w->update, errstr, errstr_size,
                     "preparing an update");
    ferry_buf_free(&ins.b);
    ferry_buf_free(&upd.b);
    return rc;
}

/* 1 if table t holds no row (or cannot be read: then the plain path). */
static int table_empty(sqlite_store_t *s, const ferry_object_t *t)
{
    sql_t q = {FERRY_BUF_INIT, 0};
    sqlite3_stmt *st = NULL;
    int empty = 0;

    sql_add(&q, "SELECT 1 FROM ");
    sql_ident(&q, t->name);
    sql_add(&q, " LIMIT 1");
    if (sql_text(&q) && sqlite3_prepare_v2(s->db, sql_text(&q), -1, &st, NULL) == SQLITE_OK)
        empty = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    ferry_buf_free(&q.b);
    return empty;
}

/* The plain multi-row INSERT of w->batch_rows rows, and room to keep them. */
static int batch_sql(sqlite_writer_t *w, const ferry_object_t *t, const int *col, char *errstr,
                     size_t errstr_size)
{
    sql_t q = {FERRY_BUF_INIT, 0};
    size_t vars = (size_t)sqlite3_limit(w->s->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);

    w->batch_rows = vars / w->n < BATCH_ROWS ? vars / w->n : BATCH_ROWS;
    if (w->batch_rows < 2)
        return FERRY_OK;
    insert_into(&q, t, col, w->n);
    sql_add(&q, " VALUES ");
    for (size_t r = 0; r < w->batch_rows; r++) {
        sql_add(&q, r ? ", " : "");
        values_tuple(&q, 1 + r * w->n, w->n);
    }
    /* A statement SQLite will not take (too long, say) leaves rows one by one. */
    if (!sql_text(&q) || sqlite3_prepare_v2(w->s->db, sql_text(&q), -1, &w->batch, NULL)) {
        sqlite3_finalize(w->batch);
        w->batch = NULL;
    }
    ferry_buf_free(&q.b);
    if (w->batch && (!(w->vals = calloc(w->batch_rows * w->n, sizeof(*w->vals))) ||
                     !(w->offs = calloc(w->batch_rows * w->n, sizeof(*w->offs)))))
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory",
                          w->s->path);
    return FERRY_OK;
}

static int sqlite_writer_open(ferry_store_t *base, const ferry_object_t *obj,
                              ferry_writer_t **out, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    const ferry_object_t *t;
    sqlite_writer_t *w = NULL;
    int *col = NULL, rc;
    size_t *tpk = NULL, ntpk;

    *out = NULL;
    if (s->mode != FERRY_STORE_WRITE)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "store %s is open read-only",
                          s->path);
    if (!obj->nfields)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "object '%s' has no fields",
                          obj->name);
    if ((rc = find_table(s, obj->name, &t, errstr, errstr_size)))
        return rc;
    if (!(w = calloc(1, sizeof(*w))) || !(w->table = strdup(t->name)) ||
        !(col = calloc(obj->nfields + 1, sizeof(*col))) ||
        !(tpk = calloc(t->nfields + 1, sizeof(*tpk))) ||
        !(w->key = calloc(t->nfields + 1, sizeof(*w->key)))) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory", s->path);
        goto done;
    }
    w->base.put = writer_put;
    w->base.flush = writer_flush;
    w->base.destroy = writer_destroy;
    w->s = s;
    w->next = s->writers;
    s->writers = w;
    w->n = obj->nfields;
    for (size_t i = 0; i < obj->nfields; i++) {
        if ((col[i] = field_ci(t, obj->fields[i].name)) < 0) {
            rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT, "table %s has no column %s",
                            t->name, obj->fields[i].name);
            goto done;
        }
    }
    ntpk = ferry_object_pk(t, tpk);
    for (size_t k = 0; k < ntpk; k++) {
        size_t i;
        for (i = 0; i < obj->nfields && col[i] != (int)tpk[k]; i++)
            ;
        if (i == obj->nfields) {
            rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                            "table %s: incoming rows lack key column %s", t->name,
                            t->fields[tpk[k]].name);
            goto done;
        }
        w->key[w->nkey++] = i;
    }
    rc = writer_sql(w, t, col, tpk, ntpk, errstr, errstr_size);
    /* Rows into an empty table (a new one, for a table without a key) are
     * new as a rule: inside a transaction they go in many to a statement. */
    if (!rc && s->txn == TXN_OPEN && (ntpk ? table_empty(s, t) : was_created(s, t->name)))
        rc = batch_sql(w, t, col, errstr, errstr_size);
done:
    free(col);
    free(tpk);
    if (rc)
        writer_destroy(&w->base);
    else
        *out = &w->base;
    return rc;
}

/* ---- foreign-key check ---- */

/* Appends "(a=1, b='x')": the named columns of the row at rowid id of t. */
static void describe_row(sqlite_store_t *s, const ferry_object_t *t, const char *rowid,
                         int64_t id, const char *const *cols, size_t ncols, sql_t *msg)
{
    sql_t q = {FERRY_BUF_INIT, 0};
    sqlite3_stmt *st = NULL;
    ferry_value_t v;

    sql_add(&q, "SELECT ");
    for (size_t k = 0; k < ncols; k++) {
        sql_add(&q, k ? ", " : "");
        sql_ident(&q, cols[k]);
    }
    sql_add(&q, " FROM ");
    sql_ident(&q, t->name);
    sql_addf(&q, " WHERE %s = ?1", rowid);
    if (ncols && sql_text(&q) &&
        sqlite3_prepare_v2(s->db, sql_text(&q), -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            for (size_t k = 0; k < ncols; k++) {
                column_value(st, (int)k, &v);
                sql_add(msg, k ? ", " : "(");
                sql_add(msg, cols[k]);
                sql_add(msg, "=");
                sql_value(msg, &v);
            }
            sql_add(msg, ")");
        }
    }
    sqlite3_finalize(st);
    ferry_buf_free(&q.b);
}

/* Fills cols (room for t->nfields) with the catalog's names of the child
 * columns of t's foreign key fkid; returns their count. */
static size_t fk_columns(sqlite_store_t *s, const ferry_object_t *t, int fkid, const char **cols)
{
    sqlite3_stmt *st;
    size_t n = 0;

    if (sqlite3_prepare_v2(s->db, "SELECT \"from\" FROM pragma_foreign_key_list(?1) "
                                  "WHERE id = ?2 ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, fkid);
    while (n < t->nfields && sqlite3_step(st) == SQLITE_ROW) {
        int j = field_ci(t, (const char *)sqlite3_column_text(st, 0));
        if (j >= 0)
            cols[n++] = t->fields[j].name;
    }
    sqlite3_finalize(st);
    return n;
}

static int sqlite_check_fks(ferry_store_t *base, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    sqlite3_stmt *st = NULL;
    const ferry_objset_t *cat;
    const ferry_object_t *t;
    const char **names = NULL, *rowid = NULL;
    sql_t msg = {FERRY_BUF_INIT, 0};
    size_t *pk = NULL, n;
    int rc;

    if ((rc = prepare(s, "SELECT \"table\", rowid, parent, fkid FROM pragma_foreign_key_check",
                      &st, errstr, errstr_size, "checking foreign keys")))
        return rc;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? FERRY_OK : db_err(s, errstr, errstr_size, "checking foreign keys");
        goto done;
    }
    if ((rc = catalog(s, &cat, errstr, errstr_size)))
        goto done;
    t = ferry_objset_find(cat, (const char *)sqlite3_column_text(st, 0));
    if (t && sqlite3_column_type(st, 1) != SQLITE_NULL)
        rowid = rowid_name(t);
    sql_add(&msg, "table ");
    sql_add(&msg, (const char *)sqlite3_column_text(st, 0));
    if (rowid && (pk = calloc(t->nfields + 1, sizeof(*pk))) &&
        (names = calloc(t->nfields + 1, sizeof(*names)))) {
        /* The offending row's key (its rowid when it has none), then the
         * child columns of the broken foreign key with their values. */
        n = ferry_object_pk(t, pk);
        for (size_t k = 0; k < n; k++)
            names[k] = t->fields[pk[k]].name;
        if (!n)
            names[n++] = rowid;
        sql_add(&msg, " row with key ");
        describe_row(s, t, rowid, sqlite3_column_int64(st, 1), names, n, &msg);
        n = fk_columns(s, t, sqlite3_column_int(st, 3), names);
        sql_add(&msg, " references missing ");
        sql_add(&msg, (const char *)sqlite3_column_text(st, 2));
        describe_row(s, t, rowid, sqlite3_column_int64(st, 1), names, n, &msg);
    } else {
        sql_add(&msg, " has a row that references missing ");
        sql_add(&msg, (const char *)sqlite3_column_text(st, 2));
    }
    rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT, "%s",
                    sql_text(&msg) ? sql_text(&msg) : "a foreign key is violated");
done:
    free(pk);
    free(names);
    sqlite3_finalize(st);
    ferry_buf_free(&msg.b);
    return rc;
}

/* ---- the ledger (ledger.h) ---- */

/* 1 when the ledger's tables are there and their statements ready; 0 when
 * a read-only store has none (nothing applied, no offsets). Write stores
 * create them on first use, in the caller's transaction if one is open. */
static int ledger_tables(sqlite_store_t *s, char *errstr, size_t errstr_size)
{
    static const char *const ddl =
        "CREATE TABLE IF NOT EXISTS ferry_applied (export_id TEXT PRIMARY KEY, "
        "applied_at INTEGER, detail TEXT);"
        "CREATE TABLE IF NOT EXISTS ferry_offsets (topic TEXT, \"partition\" INTEGER, "
        "next_offset INTEGER, PRIMARY KEY (topic, \"partition\"));"
        /* AUTOINCREMENT: an id is never reused, even once the table is empty,
         * so a late delivery report cannot remove a newer event. */
        "CREATE TABLE IF NOT EXISTS ferry_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "key TEXT NOT NULL, event BLOB NOT NULL)";
    sqlite3_stmt *st;
    int rc, present;

    if (s->ledger_ready)
        return 1;
    if (s->mode == FERRY_STORE_WRITE) {
        if ((rc = exec(s, ddl, errstr, errstr_size, "creating the bookkeeping tables")))
            return rc;
    } else {
        if ((rc = prepare(s, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                             "name IN ('ferry_applied', 'ferry_offsets')",
                          &st, errstr, errstr_size, "looking for the bookkeeping tables")))
            return rc;
        present = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2;
        sqlite3_finalize(st);
        if (!present)
            return 0;
    }
    if ((rc = prepare(s, "SELECT 1 FROM ferry_applied WHERE export_id = ?1", &s->applied_get,
                      errstr, errstr_size, "preparing bookkeeping")) ||
        (rc = prepare(s, "SELECT next_offset FROM ferry_offsets WHERE topic = ?1 AND "
                         "\"partition\" = ?2",
                      &s->offset_get, errstr, errstr_size, "preparing bookkeeping")))
        goto fail;
    if (s->mode == FERRY_STORE_WRITE &&
        ((rc = prepare(s, "INSERT INTO ferry_applied (export_id, applied_at, detail) "
                          "VALUES (?1, ?2, ?3)",
                       &s->applied_put, errstr, errstr_size, "preparing bookkeeping")) ||
         (rc = prepare(s, "INSERT INTO ferry_offsets (topic, \"partition\", next_offset) "
                          "VALUES (?1, ?2, ?3) ON CONFLICT (topic, \"partition\") "
                          "DO UPDATE SET next_offset = excluded.next_offset",
                       &s->offset_put, errstr, errstr_size, "preparing bookkeeping")) ||
         (rc = prepare(s, "INSERT INTO ferry_outbox (key, event) VALUES (?1, ?2)",
                       &s->outbox_put, errstr, errstr_size, "preparing bookkeeping")) ||
         (rc = prepare(s, "SELECT id, key, event FROM ferry_outbox WHERE id > ?1 ORDER BY id "
                          "LIMIT 1",
                       &s->outbox_get, errstr, errstr_size, "preparing bookkeeping")) ||
         (rc = prepare(s, "DELETE FROM ferry_outbox WHERE id = ?1", &s->outbox_del, errstr,
                       errstr_size, "preparing bookkeeping"))))
        goto fail;
    s->ledger_ready = 1;
    return 1;
fail:
    ledger_finalize(s);
    return rc;
}

static int ledger_writable(sqlite_store_t *s, char *errstr, size_t errstr_size)
{
    if (s->mode != FERRY_STORE_WRITE)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "store %s is open read-only",
                          s->path);
    int rc = ledger_tables(s, errstr, errstr_size);
    return rc < 0 ? rc : FERRY_OK;
}

static int sqlite_is_applied(ferry_store_t *base, const char *export_id, int *applied,
                                 char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = ledger_tables(s, errstr, errstr_size);

    *applied = 0;
    if (rc <= 0)
        return rc;
    sqlite3_bind_text(s->applied_get, 1, export_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s->applied_get);
    sqlite3_reset(s->applied_get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(s, errstr, errstr_size, "reading applied exports");
    *applied = rc == SQLITE_ROW;
    return FERRY_OK;
}

static int sqlite_mark_applied(ferry_store_t *base, const char *export_id, const char *detail,
                               char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    struct timespec now;
    int rc = ledger_writable(s, errstr, errstr_size);

    if (rc)
        return rc;
    clock_gettime(CLOCK_REALTIME, &now);
    sqlite3_bind_text(s->applied_put, 1, export_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->applied_put, 2, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    sqlite3_bind_text(s->applied_put, 3, detail, -1, SQLITE_STATIC); /* NULL binds NULL */
    if (step_done(s->applied_put) != SQLITE_OK)
        return ferry_errf(errstr, errstr_size, err_code(s->db),
                          "store %s: marking export %s applied: %s", s->path, export_id,
                          sqlite3_errmsg(s->db));
    return FERRY_OK;
}

static int sqlite_offset_get(ferry_store_t *base, const char *topic, int32_t partition,
                             int64_t *next_offset, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = ledger_tables(s, errstr, errstr_size);

    *next_offset = -1;
    if (rc <= 0)
        return rc;
    sqlite3_bind_text(s->offset_get, 1, topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(s->offset_get, 2, partition);
    rc = sqlite3_step(s->offset_get);
    if (rc == SQLITE_ROW)
        *next_offset = sqlite3_column_int64(s->offset_get, 0);
    sqlite3_reset(s->offset_get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(s, errstr, errstr_size, "reading offsets");
    return FERRY_OK;
}

static int sqlite_offset_set(ferry_store_t *base, const char *topic, int32_t partition,
                             int64_t next_offset, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = ledger_writable(s, errstr, errstr_size);

    if (rc)
        return rc;
    sqlite3_bind_text(s->offset_put, 1, topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(s->offset_put, 2, partition);
    sqlite3_bind_int64(s->offset_put, 3, next_offset);
    if (step_done(s->offset_put) != SQLITE_OK)
        return db_err(s, errstr, errstr_size, "storing an offset");
    return FERRY_OK;
}

static int sqlite_outbox_add(ferry_store_t *base, const char *key, const void *event,
                             size_t len, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = ledger_writable(s, errstr, errstr_size);

    if (rc)
        return rc;
    sqlite3_bind_text(s->outbox_put, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(s->outbox_put, 2, event, len, SQLITE_STATIC);
    if (step_done(s->outbox_put) != SQLITE_OK)
        return db_err(s, errstr, errstr_size, "queueing a status event");
    return FERRY_OK;
}

static int sqlite_outbox_next(ferry_store_t *base, int64_t after, int64_t *id, ferry_buf_t *key,
                              ferry_buf_t *event, char *errstr, size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = ledger_writable(s, errstr, errstr_size);
    sqlite3_stmt *st = s->outbox_get;

    *id = -1;
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, after);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(st, 2);
        size_t vlen = (size_t)sqlite3_column_bytes(st, 2);
        const char *k = (const char *)sqlite3_column_text(st, 1);
        size_t klen = (size_t)sqlite3_column_bytes(st, 1);

        ferry_buf_reset(key);
        ferry_buf_reset(event);
        if ((k && ferry_buf_append(key, k, klen)) || ferry_buf_append(key, "", 1) ||
            (vlen && ferry_buf_append(event, v, vlen))) {
            sqlite3_reset(st);
            return ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                              "store %s: reading a status event: out of memory", s->path);
        }
        key->len--; /* the NUL is kept, not counted */
        *id = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(s, errstr, errstr_size, "reading queued status events");
    return FERRY_OK;
}

static int sqlite_outbox_remove(ferry_store_t *base, int64_t id, char *errstr,
                                size_t errstr_size)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = ledger_writable(s, errstr, errstr_size);

    if (rc)
        return rc;
    sqlite3_bind_int64(s->outbox_del, 1, id);
    if (step_done(s->outbox_del) != SQLITE_OK)
        return db_err(s, errstr, errstr_size, "removing a delivered status event");
    return FERRY_OK;
}

static const ferry_store_ops_t sqlite_ops = {
    .destroy = sqlite_destroy,
    .read_meta = sqlite_read_meta,
    .cursor_open = sqlite_cursor_open,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .checkpoint_later = sqlite_checkpoint_later,
    .checkpoint = sqlite_checkpoint,
    .snapshot = sqlite_snapshot,
    .apply_object = sqlite_apply_object,
    .has_object = sqlite_has_object,
    .writer_open = sqlite_writer_open,
    .check_fks = sqlite_check_fks,
};

static const ferry_ledger_ops_t sqlite_ledger_ops = {
    .is_applied = sqlite_is_applied,
    .mark_applied = sqlite_mark_applied,
    .offset_get = sqlite_offset_get,
    .offset_set = sqlite_offset_set,
    .outbox_add = sqlite_outbox_add,
    .outbox_next = sqlite_outbox_next,
    .outbox_remove = sqlite_outbox_remove,
};
