/* store_pg.c - the PostgreSQL environment store (store.h, store_impl.h): the
 * connection and its session, transactions, the ledger and the ops tables.
 * The catalog is pg_meta.c's, cursors pg_read.c's, writing pg_write.c's
 * (pg_impl.h divides them).
 *
 * An environment is one schema of one database: every name ferry reads or
 * writes is qualified by that schema (s->qschema), and the session's
 * search_path is empty, so that nothing resolves by accident.
 *
 * Transactions (s->state):
 *   idle --store_snapshot (BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY,
 *        then SELECT 1: PostgreSQL takes the snapshot at the first statement,
 *        so it is pinned there, before the caller's first read)--> snapshot
 *   idle --store_begin (BEGIN; SET CONSTRAINTS ALL DEFERRED)--> write
 *   write --store_commit (ferry_pg_before_commit, then COMMIT)--> idle. A
 *        failing COMMIT (a deferred foreign key) ends the transaction on the
 *        server all the same; its message carries the server's DETAIL (which
 *        key is missing). A failure of before_commit leaves "write": the
 *        caller rolls back.
 *   snapshot, write --store_rollback or destroy (ROLLBACK)--> idle; the
 *        tables written are forgotten (ferry_pg_forget_written).
 * A store opened FERRY_STORE_READ runs with default_transaction_read_only,
 * so that the server itself refuses any write on it.
 *
 * The ledger (ledger.h) is the schema "ferry" of the target database: tables
 * applied, offsets and outbox (an identity id, never reused). A write open
 * creates it when missing, and the environment's schema too, in one
 * transaction under an advisory lock, so that two processes opening at once
 * neither fail on each other's CREATE nor see half of it. Its statements are
 * prepared once per connection, with $n parameters, and run on the store's
 * connection, so inside the caller's transaction.
 *
 * Passwords: the URI may hold one (user:PASS@ or password=PASS). Messages
 * name the store by s->name, the URI with the password replaced by ***;
 * libpq's own messages at connection are scrubbed of it as well. */
#include "pg_impl.h"

#include "error.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_advisory_xact_lock key of the ledger's creation: "ferry" in ASCII. */
#define LEDGER_LOCK_KEY "435761935737"

static const ferry_store_ops_t pg_ops;
static const ferry_ledger_ops_t pg_ledger_ops;

/* ---- helpers shared with the other modules (pg_impl.h) ---- */

int ferry_pg_quote_ident(ferry_buf_t *b, const char *ident)
{
    if (ferry_buf_reserve(b, strlen(ident) + 2) || ferry_buf_append(b, "\"", 1))
        return FERRY_ENOMEM;
    for (const char *p = ident; *p; p++)
        if (ferry_buf_append(b, p, 1) || (*p == '"' && ferry_buf_append(b, p, 1)))
            return FERRY_ENOMEM;
    return ferry_buf_append(b, "\"", 1) ? FERRY_ENOMEM : FERRY_OK;
}

int ferry_pg_ready(pg_store_t *s, const char *what, char *errstr, size_t errstr_size)
{
    if (s->copying)
        return ferry_errf(errstr, errstr_size, FERRY_EORDER,
                          "store %s: %s: a cursor is still reading on this connection",
                          s->name, what);
    return FERRY_OK;
}

int ferry_pg_error(pg_store_t *s, const PGresult *res, const char *what, char *errstr,
                   size_t errstr_size)
{
    const char *msg = NULL, *detail = NULL, *state = NULL;
    size_t n;

    if (res) {
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (!msg && PQresultStatus(res) != PGRES_FATAL_ERROR)
            msg = PQresStatus(PQresultStatus(res));
    }
    if (!msg)
        msg = PQerrorMessage(s->conn);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    return ferry_errf(errstr, errstr_size,
                      state && !strncmp(state, "23", 2) ? FERRY_ECONFLICT
                      : state && !strcmp(state, "53200") ? FERRY_ENOMEM
                                                         : FERRY_ESTORE,
                      "store %s: %s: %.*s%s%s%s", s->name, what, (int)n, msg,
                      detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
}

int ferry_pg_exec(pg_store_t *s, const char *sql, const char *what, char *errstr,
                  size_t errstr_size)
{
    PGresult *res;
    int rc;

    if ((rc = ferry_pg_ready(s, what, errstr, errstr_size)))
        return rc;
    res = PQexec(s->conn, sql);
    if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
        rc = FERRY_OK;
    else
        rc = ferry_pg_error(s, res, what, errstr, errstr_size);
    PQclear(res);
    return rc;
}

/* Replaces the n bytes at p (inside b) by "***". */
static int redact_at(ferry_buf_t *b, size_t at, size_t n)
{
    size_t tail = b->len - at - n;

    if (ferry_buf_reserve(b, 3))
        return FERRY_ENOMEM;
    memmove(b->data + at + 3, b->data + at + n, tail);
    memcpy(b->data + at, "***", 3);
    b->len = at + 3 + tail;
    return FERRY_OK;
}

char *ferry_pg_redact(const char *uri)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    const char *scheme_end = strstr(uri, "://");
    char *out = NULL;

    if (ferry_buf_puts(&b, uri))
        goto done;
    if (scheme_end) {
        /* user:PASS@host: the userinfo ends at the last '@' before the path */
        size_t start = (size_t)(scheme_end - uri) + 3, end = start, at = 0, colon = 0;
        while (end < b.len && b.data[end] != '/' && b.data[end] != '?')
            end++;
        for (size_t i = start; i < end; i++)
            if (b.data[i] == '@')
                at = i;
        for (size_t i = start; at && i < at && !colon; i++)
            if (b.data[i] == ':')
                colon = i;
        if (colon && redact_at(&b, colon + 1, at - colon - 1))
            goto done;
    }
    /* password=PASS as a URI query parameter or a key=value pair */
    for (size_t i = 0; i + 9 <= b.len; i++) {
        if (strncmp((const char *)b.data + i, "password=", 9) ||
            (i && b.data[i - 1] != '?' && b.data[i - 1] != '&' && b.data[i - 1] != ' '))
            continue;
        size_t v = i + 9, e = v;
        while (e < b.len && b.data[e] != '&' && b.data[e] != ' ')
            e++;
        if (redact_at(&b, v, e - v))
            goto done;
        i = v + 3;
    }
    out = ferry_buf_strdup(&b);
done:
    ferry_buf_free(&b);
    return out;
}

/* Replaces every occurrence of secret in msg (NUL-terminated, in place) by
 * asterisks: libpq's messages at connection may quote parts of the URI. */
static void scrub(char *msg, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    char *p;

    if (!n)
        return;
    while ((p = strstr(msg, secret)))
        memset(p, '*', n);
}

/* ---- open, destroy ---- */

static void pg_destroy(ferry_store_t *base)
{
    pg_store_t *s = (pg_store_t *)base;

    ferry_pg_cursor_detach(s);
    if (s->conn && s->state != PG_IDLE && PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    ferry_pg_forget_written(s);
    free(s->written);
    PQfinish(s->conn);
    free(s->name);
    free(s->schema);
    free(s->qschema);
    free(s);
}

/* The password the connection URI carries, or NULL (free with free()). */
static char *uri_password(const char *uri)
{
    PQconninfoOption *opts = PQconninfoParse(uri, NULL);
    char *pw = NULL;

    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "password") && o->val && *o->val)
            pw = strdup(o->val);
    PQconninfoFree(opts);
    return pw;
}

/* A URI libpq cannot parse is wrong for good: FERRY_EPERMANENT. */
static int check_uri(pg_store_t *s, const char *uri, char *errstr, size_t errstr_size)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri, &msg);
    int rc = FERRY_OK;

    if (!opts) {
        rc = ferry_errf(errstr, errstr_size, msg ? FERRY_EPERMANENT : FERRY_ENOMEM,
                        "store %s: not a valid PostgreSQL connection URI: %s", s->name,
                        msg ? msg : "out of memory");
        if (errstr && errstr_size) {
            size_t n = strlen(errstr);
            while (n && errstr[n - 1] == '\n')
                errstr[--n] = '\0';
        }
    }
    PQconninfoFree(opts);
    PQfreemem(msg);
    return rc;
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int connect_store(pg_store_t *s, const char *uri, char *errstr, size_t errstr_size)
{
    char *pw;
    int rc;

    /* defaults the URI may override: no connection attempt hangs for the
     * operating system's TCP timeout, and the server sees who connects */
    static const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                                       NULL};
    const char *values[] = {"10", "ferry", uri, NULL};

    s->conn = PQconnectdbParams(keys, values, 1);
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK) {
        /* the library never prints: the server's notices go nowhere */
        PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
        return FERRY_OK;
    }
    pw = uri_password(uri);
    rc = ferry_errf(errstr, errstr_size, s->conn ? FERRY_ESTORE : FERRY_ENOMEM,
                    "store %s: cannot connect: %s", s->name,
                    s->conn ? PQerrorMessage(s->conn) : "out of memory");
    if (errstr && errstr_size) {
        size_t n = strlen(errstr);
        while (n && errstr[n - 1] == '\n')
            errstr[--n] = '\0';
        scrub(errstr, pw);
    }
    free(pw);
    return rc;
}

/* 1 if the query (one text parameter) returns a row, 0 if not, or a
 * negative code. */
static int exists(pg_store_t *s, const char *sql, const char *param, const char *what,
                  char *errstr, size_t errstr_size)
{
    PGresult *res = PQexecParams(s->conn, sql, param ? 1 : 0, NULL, &param, NULL, NULL, 0);
    int rc;

    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        rc = PQntuples(res) > 0;
    else
        rc = ferry_pg_error(s, res, what, errstr, errstr_size);
    PQclear(res);
    return rc;
}

static int ledger_present(pg_store_t *s, char *errstr, size_t errstr_size)
{
    return exists(s,
                  "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                  "ON n.oid = c.relnamespace WHERE n.nspname = 'ferry' AND c.relkind = 'r' "
                  "AND c.relname IN ('applied', 'offsets', 'outbox') HAVING count(*) = 3",
                  NULL, "looking for the ledger", errstr, errstr_size);
}

static int prepare(pg_store_t *s, const char *name, const char *sql, int nparams,
                   char *errstr, size_t errstr_size)
{
    PGresult *res = PQprepare(s->conn, name, sql, nparams, NULL);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK
                 ? FERRY_OK
                 : ferry_pg_error(s, res, "preparing the ledger's statements", errstr,
                                  errstr_size);
    PQclear(res);
    return rc;
}

/* Write opens: creates what is missing of the ledger and of the
 * environment's schema, in one transaction under the advisory lock. */
static int create_ledger(pg_store_t *s, char *errstr, size_t errstr_size)
{
    ferry_buf_t sql = FERRY_BUF_INIT;
    int rc;

    if (ferry_buf_puts(&sql, "BEGIN; SELECT pg_catalog.pg_advisory_xact_lock(" LEDGER_LOCK_KEY
                             "); CREATE SCHEMA IF NOT EXISTS ") ||
        ferry_pg_quote_ident(&sql, s->schema) ||
        ferry_buf_puts(&sql,
                       "; CREATE SCHEMA IF NOT EXISTS ferry;"
                       " CREATE TABLE IF NOT EXISTS ferry.applied (export_id text PRIMARY KEY,"
                       " applied_at timestamptz NOT NULL, detail text);"
                       " CREATE TABLE IF NOT EXISTS ferry.offsets (topic text,"
                       " \"partition\" integer, next_offset bigint NOT NULL,"
                       " PRIMARY KEY (topic, \"partition\"));"
                       /* an identity: an id is never given twice, even once the
                        * outbox is empty, so a late delivery report cannot
                        * remove a newer event */
                       " CREATE TABLE IF NOT EXISTS ferry.outbox (id bigint GENERATED ALWAYS"
                       " AS IDENTITY PRIMARY KEY, key text NOT NULL, event bytea NOT NULL);"
                       " COMMIT") ||
        ferry_buf_append(&sql, "", 1)) {
        ferry_buf_free(&sql);
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory",
                          s->name);
    }
    rc = ferry_pg_exec(s, (const char *)sql.data, "creating the ledger (schema ferry)", errstr,
                       errstr_size);
    if (rc)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    ferry_buf_free(&sql);
    return rc;
}

/* 1 when the ledger's tables are there and its statements prepared; 0 when
 * a read-only store has none (nothing applied, no offsets). */
static int ledger_tables(pg_store_t *s, char *errstr, size_t errstr_size)
{
    int rc;

    if (s->ledger_ready)
        return 1;
    if ((rc = ferry_pg_ready(s, "using the ledger", errstr, errstr_size)))
        return rc;
    if ((rc = ledger_present(s, errstr, errstr_size)) <= 0)
        return rc;
    if ((rc = prepare(s, "ferry_applied_get", "SELECT 1 FROM ferry.applied WHERE export_id = $1",
                      1, errstr, errstr_size)) ||
        (rc = prepare(s, "ferry_offset_get",
                      "SELECT next_offset FROM ferry.offsets WHERE topic = $1 AND "
                      "\"partition\" = $2",
                      2, errstr, errstr_size)))
        return rc;
    if (s->mode == FERRY_STORE_WRITE &&
        ((rc = prepare(s, "ferry_applied_put",
                       "INSERT INTO ferry.applied (export_id, applied_at, detail) "
                       "VALUES ($1, pg_catalog.now(), $2) ON CONFLICT (export_id) DO NOTHING",
                       2, errstr, errstr_size)) ||
         (rc = prepare(s, "ferry_offset_put",
                       "INSERT INTO ferry.offsets (topic, \"partition\", next_offset) "
                       "VALUES ($1, $2, $3) ON CONFLICT (topic, \"partition\") "
                       "DO UPDATE SET next_offset = excluded.next_offset",
                       3, errstr, errstr_size)) ||
         (rc = prepare(s, "ferry_outbox_put",
                       "INSERT INTO ferry.outbox (key, event) VALUES ($1, $2)", 2, errstr,
                       errstr_size)) ||
         (rc = prepare(s, "ferry_outbox_get",
                       "SELECT id, key, event FROM ferry.outbox WHERE id > $1 ORDER BY id "
                       "LIMIT 1",
                       1, errstr, errstr_size)) ||
         (rc = prepare(s, "ferry_outbox_del", "DELETE FROM ferry.outbox WHERE id = $1", 1,
                       errstr, errstr_size))))
        return rc;
    s->ledger_ready = 1;
    return 1;
}

int ferry_store_pg_open(const char *uri, const char *schema, int mode, ferry_store_t **out,
                        char *errstr, size_t errstr_size)
{
    pg_store_t *s = calloc(1, sizeof(*s));
    ferry_buf_t q = FERRY_BUF_INIT;
    int rc, have_schema;

    *out = NULL;
    if (!schema)
        schema = "public";
    if (!s || !(s->name = ferry_pg_redact(uri)) || !(s->schema = strdup(schema)) ||
        ferry_pg_quote_ident(&q, schema) || !(s->qschema = ferry_buf_strdup(&q))) {
        ferry_buf_free(&q);
        if (s)
            pg_destroy(&s->base);
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store: out of memory");
    }
    ferry_buf_free(&q);
    s->base.ops = &pg_ops;
    s->base.ledger = &pg_ledger_ops;
    s->mode = mode;
    if (!*schema || !strcmp(schema, "ferry") || !strncmp(schema, "pg_", 3) ||
        !strcmp(schema, "information_schema")) {
        rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                        "store %s: schema \"%s\" cannot be an environment (%s)", s->name,
                        schema,
                        !strcmp(schema, "ferry") ? "it holds ferry's ledger"
                        : *schema                ? "it is PostgreSQL's own"
                                                 : "empty name");
        goto fail;
    }
    if ((rc = check_uri(s, uri, errstr, errstr_size)) ||
        (rc = connect_store(s, uri, errstr, errstr_size)))
        goto fail;
    if ((rc = ferry_pg_exec(s,
                            mode == FERRY_STORE_WRITE
                                ? "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO';"
                                  " SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres';"
                                  " SET extra_float_digits = 3; SET bytea_output = 'hex';"
                                  " SELECT pg_catalog.set_config('search_path', '', false)"
                                : "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO';"
                                  " SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres';"
                                  " SET extra_float_digits = 3; SET bytea_output = 'hex';"
                                  " SET default_transaction_read_only = on;"
                                  " SELECT pg_catalog.set_config('search_path', '', false)",
                            "setting up the session", errstr, errstr_size)))
        goto fail;
    if ((have_schema = exists(s, "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
                              schema, "looking for the schema", errstr, errstr_size)) < 0) {
        rc = have_schema;
        goto fail;
    }
    if (mode == FERRY_STORE_WRITE) {
        /* only what is missing is created: a target whose ledger and schema
         * exist needs no CREATE privilege */
        if ((rc = ledger_present(s, errstr, errstr_size)) < 0 ||
            ((!rc || !have_schema) && (rc = create_ledger(s, errstr, errstr_size))) ||
            (rc = ledger_tables(s, errstr, errstr_size)) < 0)
            goto fail;
    } else if (!have_schema) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOTFOUND,
                        "store %s: schema \"%s\" does not exist", s->name, schema);
        goto fail;
    }
    *out = &s->base;
    return FERRY_OK;
fail:
    pg_destroy(&s->base);
    return rc;
}

/* ---- transactions ---- */

static int need_idle(pg_store_t *s, const char *what, char *errstr, size_t errstr_size)
{
    if (s->state != PG_IDLE)
        return ferry_errf(errstr, errstr_size, FERRY_EORDER,
                          "store %s: %s: a %s is already open", s->name, what,
                          s->state == PG_SNAPSHOT ? "snapshot" : "transaction");
    return ferry_pg_ready(s, what, errstr, errstr_size);
}

static int pg_snapshot(ferry_store_t *base, char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;
    int rc;

    if ((rc = need_idle(s, "beginning a snapshot", errstr, errstr_size)))
        return rc;
    rc = ferry_pg_exec(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1",
                       "beginning a snapshot", errstr, errstr_size);
    if (rc) {
        PQclear(PQexec(s->conn, "ROLLBACK"));
        return rc;
    }
    s->state = PG_SNAPSHOT;
    return FERRY_OK;
}

static int pg_begin(ferry_store_t *base, char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;
    int rc;

    if ((rc = need_idle(s, "beginning a transaction", errstr, errstr_size)))
        return rc;
    rc = ferry_pg_exec(s, "BEGIN; SET CONSTRAINTS ALL DEFERRED", "beginning a transaction",
                       errstr, errstr_size);
    if (rc) {
        PQclear(PQexec(s->conn, "ROLLBACK"));
        return rc;
    }
    s->state = PG_WRITE;
    return FERRY_OK;
}

static int pg_commit(ferry_store_t *base, char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;
    PGresult *res;
    int rc;

    if (s->state != PG_WRITE)
        return ferry_errf(errstr, errstr_size, FERRY_EORDER,
                          "store %s: committing: no write transaction is open", s->name);
    if ((rc = ferry_pg_ready(s, "committing", errstr, errstr_size)) ||
        (rc = ferry_pg_before_commit(s, errstr, errstr_size)))
        return rc;
    res = PQexec(s->conn, "COMMIT");
    s->state = PG_IDLE;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = ferry_pg_error(s, res, "committing", errstr, errstr_size);
    else if (strcmp(PQcmdStatus(res), "COMMIT"))
        /* a statement of the transaction had failed: COMMIT rolled it back */
        rc = ferry_errf(errstr, errstr_size, FERRY_ESTORE,
                        "store %s: committing: the transaction had failed and was rolled back",
                        s->name);
    PQclear(res);
    return rc;
}

static int pg_rollback(ferry_store_t *base)
{
    pg_store_t *s = (pg_store_t *)base;
    int rc = FERRY_OK;

    ferry_pg_forget_written(s);
    if (s->state == PG_IDLE)
        return FERRY_OK;
    ferry_pg_cursor_detach(s); /* a cursor still reading ends here */
    s->state = PG_IDLE;
    if (ferry_pg_exec(s, "ROLLBACK", "rolling back", NULL, 0))
        rc = FERRY_ESTORE;
    return rc;
}

/* ---- reading, writing: the other modules ---- */

static int pg_read_meta(ferry_store_t *base, ferry_objset_t **out, char *errstr,
                        size_t errstr_size)
{
    return ferry_pg_read_meta((pg_store_t *)base, NULL, out, errstr, errstr_size);
}

static int pg_cursor_open(ferry_store_t *base, const ferry_object_t *obj, ferry_cursor_t **out,
                          char *errstr, size_t errstr_size)
{
    return ferry_pg_cursor_open((pg_store_t *)base, obj, out, errstr, errstr_size);
}

static int pg_apply_object(ferry_store_t *base, const ferry_object_t *obj, int *created,
                           char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;

    if (s->state != PG_WRITE)
        return ferry_errf(errstr, errstr_size, FERRY_EORDER,
                          "store %s: table %s: applying needs a write transaction", s->name,
                          obj->name);
    return ferry_pg_apply_object(s, obj, created, errstr, errstr_size);
}

static int pg_has_object(ferry_store_t *base, const char *name)
{
    return ferry_pg_has_object((pg_store_t *)base, name);
}

static int pg_writer_open(ferry_store_t *base, const ferry_object_t *obj, ferry_writer_t **out,
                          char *errstr, size_t errstr_size)
{
    return ferry_pg_writer_open((pg_store_t *)base, obj, out, errstr, errstr_size);
}

static int pg_check_fks(ferry_store_t *base, char *errstr, size_t errstr_size)
{
    return ferry_pg_check_fks((pg_store_t *)base, errstr, errstr_size);
}

/* ---- the ledger (ledger.h) ---- */

static int ledger_writable(pg_store_t *s, char *errstr, size_t errstr_size)
{
    int rc;

    if (s->mode != FERRY_STORE_WRITE)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "store %s is open read-only",
                          s->name);
    if ((rc = ferry_pg_ready(s, "using the ledger", errstr, errstr_size)))
        return rc;
    rc = ledger_tables(s, errstr, errstr_size);
    if (rc == 0) /* dropped since the open */
        rc = ferry_errf(errstr, errstr_size, FERRY_ESTORE, "store %s: the ledger is missing",
                        s->name);
    return rc < 0 ? rc : FERRY_OK;
}

/* Runs the prepared statement name; *res is its result when it succeeded
 * (the caller clears it), else NULL and the error is described. */
static int run(pg_store_t *s, const char *name, int n, const char *const *vals,
               const int *lens, const int *fmts, int binary, const char *what,
               PGresult **res, char *errstr, size_t errstr_size)
{
    int rc;

    *res = NULL;
    if ((rc = ferry_pg_ready(s, what, errstr, errstr_size)))
        return rc;
    *res = PQexecPrepared(s->conn, name, n, vals, lens, fmts, binary);
    if (PQresultStatus(*res) == PGRES_COMMAND_OK || PQresultStatus(*res) == PGRES_TUPLES_OK)
        return FERRY_OK;
    rc = ferry_pg_error(s, *res, what, errstr, errstr_size);
    PQclear(*res);
    *res = NULL;
    return rc;
}

static int pg_is_applied(ferry_store_t *base, const char *export_id, int *applied,
                         char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;
    PGresult *res;
    int rc = ledger_tables(s, errstr, errstr_size);

    *applied = 0;
    if (rc <= 0)
        return rc;
    if ((rc = run(s, "ferry_applied_get", 1, &export_id, NULL, NULL, 0,
                  "reading applied exports", &res, errstr, errstr_size)))
        return rc;
    *applied = PQntuples(res) > 0;
    PQclear(res);
    return FERRY_OK;
}

static int pg_mark_applied(ferry_store_t *base, const char *export_id, const char *detail,
                           char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;
    const char *vals[2] = {export_id, detail};
    PGresult *res;
    int rc;

    if ((rc = ledger_writable(s, errstr, errstr_size)) ||
        (rc = run(s, "ferry_applied_put", 2, vals, NULL, NULL, 0, "marking an export applied",
                  &res, errstr, errstr_size)))
        return rc;
    /* ON CONFLICT DO NOTHING: a second mark is told apart without failing
     * (and so aborting) the caller's transaction */
    if (!strcmp(PQcmdTuples(res), "0"))
        rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                        "store %s: export %s was already marked applied", s->name, export_id);
    PQclear(res);
    return rc;
}

static int pg_offset_get(ferry_store_t *base, const char *topic, int32_t partition,
                         int64_t *next_offset, char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;
    char part[16];
    const char *vals[2] = {topic, part};
    PGresult *res;
    int rc = ledger_tables(s, errstr, errstr_size);

    *next_offset = -1;
    if (rc <= 0)
        return rc;
    snprintf(part, sizeof(part), "%" PRId32, partition);
    if ((rc = run(s, "ferry_offset_get", 2, vals, NULL, NULL, 0, "reading offsets", &res,
                  errstr, errstr_size)))
        return rc;
    if (PQntuples(res) > 0)
        *next_offset = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return FERRY_OK;
}

static int pg_offset_set(ferry_store_t *base, const char *topic, int32_t partition,
                         int64_t next_offset, char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;
    char part[16], off[24];
    const char *vals[3] = {topic, part, off};
    PGresult *res;
    int rc;

    snprintf(part, sizeof(part), "%" PRId32, partition);
    snprintf(off, sizeof(off), "%" PRId64, next_offset);
    if ((rc = ledger_writable(s, errstr, errstr_size)) ||
        (rc = run(s, "ferry_offset_put", 3, vals, NULL, NULL, 0, "storing an offset", &res,
                  errstr, errstr_size)))
        return rc;
    PQclear(res);
    return FERRY_OK;
}

static int pg_outbox_add(ferry_store_t *base, const char *key, const void *event, size_t len,
                         char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;
    const char *vals[2] = {key, event ? (const char *)event : ""};
    int lens[2] = {0, (int)len}, fmts[2] = {0, 1};
    PGresult *res;
    int rc;

    if (len > INT32_MAX)
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                          "store %s: a status event of %zu bytes is too large", s->name, len);
    if ((rc = ledger_writable(s, errstr, errstr_size)) ||
        (rc = run(s, "ferry_outbox_put", 2, vals, lens, fmts, 0, "queueing a status event",
                  &res, errstr, errstr_size)))
        return rc;
    PQclear(res);
    return FERRY_OK;
}

static int pg_outbox_next(ferry_store_t *base, int64_t after, int64_t *id, ferry_buf_t *key,
                          ferry_buf_t *event, char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;
    char a[24];
    const char *vals[1] = {a};
    PGresult *res;
    int rc;

    *id = -1;
    snprintf(a, sizeof(a), "%" PRId64, after);
    if ((rc = ledger_writable(s, errstr, errstr_size)) ||
        (rc = run(s, "ferry_outbox_get", 1, vals, NULL, NULL, 1,
                  "reading queued status events", &res, errstr, errstr_size)))
        return rc;
    if (PQntuples(res) > 0) {
        uint32_t hi, lo;

        ferry_buf_reset(key);
        ferry_buf_reset(event);
        if (PQgetlength(res, 0, 0) != 8) {
            PQclear(res);
            return ferry_errf(errstr, errstr_size, FERRY_ESTORE,
                              "store %s: a queued status event has a malformed id", s->name);
        }
        memcpy(&hi, PQgetvalue(res, 0, 0), 4);
        memcpy(&lo, PQgetvalue(res, 0, 0) + 4, 4);
        if (ferry_buf_append(key, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1)) ||
            ferry_buf_append(key, "", 1) ||
            ferry_buf_append(event, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2))) {
            PQclear(res);
            return ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                              "store %s: reading a status event: out of memory", s->name);
        }
        key->len--; /* the NUL is kept, not counted */
        *id = (int64_t)(((uint64_t)ntohl(hi) << 32) | ntohl(lo));
    }
    PQclear(res);
    return FERRY_OK;
}

static int pg_outbox_remove(ferry_store_t *base, int64_t id, char *errstr, size_t errstr_size)
{
    pg_store_t *s = (pg_store_t *)base;
    char v[24];
    const char *vals[1] = {v};
    PGresult *res;
    int rc;

    snprintf(v, sizeof(v), "%" PRId64, id);
    if ((rc = ledger_writable(s, errstr, errstr_size)) ||
        (rc = run(s, "ferry_outbox_del", 1, vals, NULL, NULL, 0,
                  "removing a delivered status event", &res, errstr, errstr_size)))
        return rc;
    PQclear(res);
    return FERRY_OK;
}

static const ferry_store_ops_t pg_ops = {
    .destroy = pg_destroy,
    .read_meta = pg_read_meta,
    .cursor_open = pg_cursor_open,
    .snapshot = pg_snapshot,
    .rollback = pg_rollback,
    .begin = pg_begin,
    .commit = pg_commit,
    .apply_object = pg_apply_object,
    .has_object = pg_has_object,
    .writer_open = pg_writer_open,
    .check_fks = pg_check_fks,
};

static const ferry_ledger_ops_t pg_ledger_ops = {
    .is_applied = pg_is_applied,
    .mark_applied = pg_mark_applied,
    .offset_get = pg_offset_get,
    .offset_set = pg_offset_set,
    .outbox_add = pg_outbox_add,
    .outbox_next = pg_outbox_next,
    .outbox_remove = pg_outbox_remove,
};
