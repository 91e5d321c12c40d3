/* store.h - the environment store interface: read metadata, stream rows,
 * and write rows in a transaction. This is what a second store (PostgreSQL)
 * writes; ferry's own bookkeeping in an import target is ledger.h.
 *
 * A store is opened by URI ("sqlite:/path/dev.db", "postgresql://...").
 * Nothing behind this interface leaks out of it: callers see only the metadata
 * model (meta.h) and values (value.h). Identifiers are always quoted and checked
 * against the store's own catalog; values are always bound parameters.
 * A store handle is used by one thread at a time; handles passed to these
 * functions are never NULL, except to the _destroy functions.
 *
 * What a store's author writes (store_impl.h): to be a source, open, read_meta,
 * cursors, snapshot and rollback (which ends a snapshot); to be a target
 * besides, begin and commit, apply_object, has_object, the writers and
 * check_fks, and the ledger's seven operations. The checksum of a table is
 * computed once for every store, through a cursor (store.c).
 *
 * Decision: the ledger (applied export ids, stored offsets, the status
 * outbox) is implemented by each store, not once in store.c on top of a
 * generic "run this SQL" primitive. It must be written on the store's own
 * connection, inside the transaction that writes the data; its records live
 * in the store's own namespace and dialect (SQLite: ferry_* tables of the
 * database, an AUTOINCREMENT id; PostgreSQL: a "ferry" schema of the target
 * database, an identity column, $n parameters); and a primitive that takes
 * SQL text would be the one door in this interface through which text
 * becomes SQL. Seven short prepared statements per store cost less. */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include "checksum.h"
#include "meta.h"
#include "value.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ferry_store ferry_store_t;
typedef struct ferry_cursor ferry_cursor_t;
typedef struct ferry_writer ferry_writer_t;

enum {
    FERRY_STORE_READ = 0,   /* open an existing store read-only */
    FERRY_STORE_WRITE = 1,  /* open read-write, creating the store if missing */
};

/* Opens the store at uri: "sqlite:PATH", or a libpq URI "postgresql://..."
 * ("postgres://..." too). A URI without a scheme or an unknown one ->
 * FERRY_EINVAL; unreadable or unreachable -> FERRY_ESTORE. On success *out is
 * a new store; free with ferry_store_destroy. Messages never show a password
 * the URI holds. */
int ferry_store_open(const char *uri, int mode, ferry_store_t **out, char *errstr,
                     size_t errstr_size);
/* The same for an environment, which is one schema of one database: schema
 * names it (NULL: the store's default, "public" on PostgreSQL). A PostgreSQL
 * schema that does not exist -> FERRY_ENOTFOUND when opening to read, and is
 * created when opening to write; a schema for a SQLite store -> FERRY_EINVAL. */
int ferry_store_open_schema(const char *uri, const char *schema, int mode, ferry_store_t **out,
                            char *errstr, size_t errstr_size);
/* Closes and frees; rolls back an open transaction. Accepts NULL. */
void ferry_store_destroy(ferry_store_t *store);

/* Reads the metadata of every user object (ferry's own ledger excluded).
 * *out is a new objset; free with ferry_objset_destroy. Relations are
 * FERRY_REL_INCLUDE for foreign keys declared ON DELETE CASCADE, else
 * FERRY_REL_ASSOCIATION. */
int ferry_store_read_meta(ferry_store_t *store, ferry_objset_t **out, char *errstr,
                          size_t errstr_size);

/* Streams the rows of obj (metadata read from this store) in primary-key order
 * (rowid order for a table without one). Values come in obj's field order. */
int ferry_store_cursor_open(ferry_store_t *store, const ferry_object_t *obj,
                            ferry_cursor_t **out, char *errstr, size_t errstr_size);
/* 1 and *row set (obj->nfields values, valid until the next call), 0 at the end,
 * or a negative FERRY_E* code. */
int ferry_cursor_next(ferry_cursor_t *cur, const ferry_value_t **row, char *errstr,
                      size_t errstr_size);
void ferry_cursor_destroy(ferry_cursor_t *cur);

/* Transactions. ferry_store_begin starts one with foreign-key checks deferred to
 * its commit; commit fails (and the caller must roll back) when a check fails. */
int ferry_store_begin(ferry_store_t *store, char *errstr, size_t errstr_size);
int ferry_store_commit(ferry_store_t *store, char *errstr, size_t errstr_size);
int ferry_store_rollback(ferry_store_t *store);

/* Log housekeeping, for stores with a write-ahead log (no-ops otherwise). By
 * default a commit may also fold the log back into the database, which makes
 * that commit slower by about the time it took to write the data. After
 * ferry_store_checkpoint_later, commits never do: the caller runs
 * ferry_store_checkpoint when it has time (the importer: after reporting
 * the export applied). A checkpoint never waits for readers; what readers
 * still use is folded back by a later one. */
int ferry_store_checkpoint_later(ferry_store_t *store, char *errstr, size_t errstr_size);
int ferry_store_checkpoint(ferry_store_t *store, char *errstr, size_t errstr_size);

/* Starts a read transaction so that every later read (metadata, cursors,
 * checksums) sees one consistent snapshot of the store until
 * ferry_store_destroy (or ferry_store_rollback, which ends it). Meant for
 * reading, on a store opened either way; ferry_store_begin is refused while
 * it lasts. Another transaction or snapshot already open -> FERRY_EORDER; the
 * store failing -> FERRY_ESTORE, and no snapshot is open. On SQLite a
 * snapshot of a WAL database lets writers go on; one of a rollback-journal
 * database holds its shared lock, so writers wait (up to their busy timeout)
 * until it ends. */
int ferry_store_snapshot(ferry_store_t *store, char *errstr, size_t errstr_size);

/* Creates obj in the store when missing, or evolves the existing table: missing
 * nullable columns are added. A conflicting column type, a new NOT NULL column
 * without default, or a different primary key -> FERRY_ECONFLICT naming the
 * table and column, and nothing changed. *created (if not NULL) is set to 1
 * when the table was created. Must run inside a transaction. */
int ferry_store_apply_object(ferry_store_t *store, const ferry_object_t *obj, int *created,
                             char *errstr, size_t errstr_size);
/* 1 if an object of that name exists in the store, 0 if not. */
int ferry_store_has_object(ferry_store_t *store, const char *name);

/* Upserts rows of obj's shape (incoming metadata; the table must exist) by
 * primary key through prepared statements: a row whose key exists is updated
 * in place (never deleted and re-inserted, so no cascade fires), otherwise
 * inserted. obj's fields must be columns of the stored table and include its
 * key (else FERRY_ECONFLICT naming them); columns obj lacks keep their
 * defaults. A table without a primary key gets a row only when no identical
 * row exists (re-applying is idempotent), except in a table this transaction
 * created, which takes rows as they come, duplicates included. Free with
 * ferry_writer_destroy before commit/rollback. */
int ferry_store_writer_open(ferry_store_t *store, const ferry_object_t *obj,
                            ferry_writer_t **out, char *errstr, size_t errstr_size);
/* Writes one row (obj->nfields values, only read during the call); *inserted
 * (if not NULL) is 1 for an insert, 0 for an update.
 * Into a table that was empty when the writer opened, rows are new as a rule:
 * the writer may then keep a copy of the row and insert many in one statement
 * later (*inserted is 1). ferry_writer_flush writes what is kept; a kept row
 * whose key turns out to exist after all is upserted like any other and
 * counted in *updated (if not NULL). ferry_writer_destroy flushes too; a
 * failure there makes the transaction's commit fail with its message. */
int ferry_writer_put(ferry_writer_t *w, const ferry_value_t *row, int *inserted, char *errstr,
                     size_t errstr_size);
int ferry_writer_flush(ferry_writer_t *w, int64_t *updated, char *errstr, size_t errstr_size);
void ferry_writer_destroy(ferry_writer_t *w);

/* Inside a transaction: finds the first foreign-key violation (a row whose
 * parent is missing) and describes it in errstr naming table, key and parent:
 * FERRY_ECONFLICT; 0 when there is none. */
int ferry_store_check_fks(ferry_store_t *store, char *errstr, size_t errstr_size);

/* The content checksum (checksum.h) and row count of obj's rows as its cursor
 * yields them: one column seed per field name, every row added. *out is
 * filled only on success. Works on any store, inside or outside a
 * transaction. */
int ferry_store_checksum_table(ferry_store_t *store, const ferry_object_t *obj,
                               ferry_checksum_t *out, char *errstr, size_t errstr_size);

#endif
