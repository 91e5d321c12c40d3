/* pg_impl.h - private to the PostgreSQL store's modules (store_pg.c: the
 * connection, transactions, the ledger and the ops tables; pg_meta.c: the
 * catalog and the type mapping; pg_read.c: cursors; pg_write.c: creating and
 * evolving tables, writers, foreign-key checks and moving generators).
 *
 * One connection per store, its session set up at open: client_encoding
 * UTF8, DateStyle ISO, TimeZone UTC, IntervalStyle postgres,
 * extra_float_digits 3, search_path empty (every name is schema-qualified and
 * quoted). Identifiers are always quoted with ferry_sql_quote_ident (sqltext.h), never
 * pasted; values are always parameters or COPY data. */
#ifndef FERRY_PG_IMPL_H
#define FERRY_PG_IMPL_H

#include "buf.h"
#include "sqltext.h"
#include "store_impl.h"

#include <libpq-fe.h>

/* What the store is doing on its connection. */
typedef enum pg_state {
    PG_IDLE = 0,  /* no transaction */
    PG_SNAPSHOT,  /* REPEATABLE READ, READ ONLY (ferry_store_snapshot) */
    PG_WRITE,     /* a write transaction (ferry_store_begin) */
} pg_state_t;

struct pg_cursor;
typedef struct pg_pending_fk pg_pending_fk_t; /* pg_write.c */
typedef struct pg_later_key pg_later_key_t;   /* pg_write.c */
struct pg_writer;                             /* pg_write.c */

typedef struct pg_store {
    ferry_store_t base; /* first: store.c sees only this */
    PGconn *conn;
    char *name;         /* the URI with any password replaced by ***: messages use this */
    char *schema;       /* the environment's schema, as given (default "public") */
    char *qschema;      /* the same, quoted: "public" */
    pg_state_t state;
    int mode;           /* FERRY_STORE_READ or FERRY_STORE_WRITE */
    /* Tables written in the current write transaction whose identity columns
     * and owned sequences are moved past their largest value before commit
     * (pg_write.c keeps the list; store_pg.c calls ferry_pg_before_commit). */
    char **written;
    size_t nwritten, capwritten;
    int ledger_ready;   /* the ledger's tables exist and its statements are prepared */
    /* The cursor whose COPY holds the connection (pg_read.c), or NULL: no
     * other statement can run until it ends (ferry_pg_ready). */
    struct pg_cursor *copying;
    /* pg_write.c's too, for the current write transaction: the tables it
     * created (a table without a key takes duplicate rows there), the
     * foreign keys waiting for their parent table to be created, the writer
     * whose COPY is open on the connection (ended before any other
     * statement), and a counter naming staging tables. */
    char **created;
    size_t ncreated;
    pg_pending_fk_t *pending;
    size_t npending;
    /* The primary keys of tables this transaction created, added after the
     * table's rows (pg_write.c), and a count of those added so far: a
     * writer opened before one was added notices it there. */
    pg_later_key_t *keys;
    size_t nkeys;
    unsigned keys_added;
    struct pg_writer *writing;
    unsigned nstage;
    char *flush_error;  /* a writer's last rows failed in its destroy: commit fails */
} pg_store_t;

/* Runs a statement without parameters whose result is not needed (sql is
 * ferry's own text with identifiers quoted). 0, or FERRY_ESTORE with the
 * server's message after what. */
int ferry_pg_exec(pg_store_t *s, const char *sql, const char *what, char *errstr,
                  size_t errstr_size);

/* 0 when the connection can take a statement; FERRY_EORDER naming what
 * when a cursor's COPY still holds it. */
int ferry_pg_ready(pg_store_t *s, const char *what, char *errstr, size_t errstr_size);

/* Fills errstr with "store NAME: what: message (detail)" from res (or, when
 * res is NULL, the connection's last error) and returns the ferry code of its
 * SQLSTATE: an integrity violation (class 23) FERRY_ECONFLICT, out of memory
 * FERRY_ENOMEM, anything else FERRY_ESTORE. */
int ferry_pg_error(pg_store_t *s, const PGresult *res, const char *what, char *errstr,
                   size_t errstr_size);

/* A copy of a libpq URI or connection string with the password (user:PASS@,
 * password=PASS) replaced by ***, for messages; NULL on ENOMEM. */
char *ferry_pg_redact(const char *uri);

/* pg_meta.c: reads the metadata of every user table of the schema (or, with
 * only != NULL, of that one table only; *out then holds it or is empty) */
int ferry_pg_read_meta(pg_store_t *s, const char *only, ferry_objset_t **out, char *errstr,
                       size_t errstr_size);

/* pg_read.c: a cursor over obj's rows in primary-key order (store.h). */
int ferry_pg_cursor_open(pg_store_t *s, const ferry_object_t *obj, ferry_cursor_t **out,
                         char *errstr, size_t errstr_size);

/* pg_read.c: the cursor still copying (if any) lets go of the connection
 * (its COPY cancelled) for the store's rollback or destroy; its next call
 * fails and its destroy frees only itself. */
void ferry_pg_cursor_detach(pg_store_t *s);

/* pg_write.c: the target's data operations (contracts of store.h).
 * apply_object also notes in obj->not_carried each default, identity or
 * collation it does not create (the importer logs them after applying):
 * obj is the caller's incoming metadata, changed only there. */
int ferry_pg_apply_object(pg_store_t *s, const ferry_object_t *obj, int *created, char *errstr,
                          size_t errstr_size);
int ferry_pg_has_object(pg_store_t *s, const char *name);
int ferry_pg_writer_open(pg_store_t *s, const ferry_object_t *obj, ferry_writer_t **out,
                         char *errstr, size_t errstr_size);
int ferry_pg_check_fks(pg_store_t *s, char *errstr, size_t errstr_size);
/* Before the commit of a write transaction: adds the foreign keys still
 * waiting for their parent (FERRY_ECONFLICT naming the first whose parent is
 * still missing), then moves every identity column and owned sequence of the
 * tables written past the largest value they hold, and forgets the
 * transaction's lists. */
int ferry_pg_before_commit(pg_store_t *s, char *errstr, size_t errstr_size);
/* Frees what pg_write.c keeps for the current transaction (the lists above,
 * arrays included): at rollback, after commit and at destroy. */
void ferry_pg_forget_written(pg_store_t *s);

#endif
