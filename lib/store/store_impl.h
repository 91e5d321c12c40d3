/* store_impl.h - private to the store modules: what a store implementation
 * provides behind store.h and ledger.h. store.c dispatches on the URI scheme
 * and forwards every public call through these tables, so that another
 * database (PostgreSQL) slots in as one more store_<name>.c without callers
 * seeing the difference.
 *
 * An implementation embeds the base struct as its first member and casts back.
 * The contract of each operation is the one of the public function of the
 * same name in store.h or ledger.h, handles included: they are never NULL
 * (store.c does not check them; the _destroy functions accept NULL and do
 * not call the operation then). What store.c does for every store: parse the
 * URI and the open mode, clear *created before apply_object, treat a NULL
 * checkpoint operation as a no-op, compute checksums through a cursor, and
 * refuse the ledger of a store that has none. */
#ifndef FERRY_STORE_IMPL_H
#define FERRY_STORE_IMPL_H

#include "ledger.h"
#include "store.h"

/* The data operations: what every store writes. */
typedef struct ferry_store_ops {
    void (*destroy)(ferry_store_t *s);

    /* Reading: enough for a source. rollback ends a snapshot, and the
     * transaction of a target. */
    int (*read_meta)(ferry_store_t *s, ferry_objset_t **out, char *errstr, size_t errstr_size);
    int (*cursor_open)(ferry_store_t *s, const ferry_object_t *obj, ferry_cursor_t **out,
                       char *errstr, size_t errstr_size);
    int (*snapshot)(ferry_store_t *s, char *errstr, size_t errstr_size);
    int (*rollback)(ferry_store_t *s);

    /* Transactions and writing: a target besides (a store that is only a
     * source refuses them with an error). */
    int (*begin)(ferry_store_t *s, char *errstr, size_t errstr_size);
    int (*commit)(ferry_store_t *s, char *errstr, size_t errstr_size);
    int (*apply_object)(ferry_store_t *s, const ferry_object_t *obj, int *created, char *errstr,
                        size_t errstr_size);
    int (*has_object)(ferry_store_t *s, const char *name);
    int (*writer_open)(ferry_store_t *s, const ferry_object_t *obj, ferry_writer_t **out,
                       char *errstr, size_t errstr_size);
    int (*check_fks)(ferry_store_t *s, char *errstr, size_t errstr_size);

    /* Log housekeeping: NULL for a store without a write-ahead log. */
    int (*checkpoint_later)(ferry_store_t *s, char *errstr, size_t errstr_size);
    int (*checkpoint)(ferry_store_t *s, char *errstr, size_t errstr_size);
} ferry_store_ops_t;

/* ferry's bookkeeping (ledger.h): what a store that can be an import target
 * writes besides, in its own namespace, on the connection and in the
 * transaction of the data operations above (store.h says why per store). */
typedef struct ferry_ledger_ops {
    int (*is_applied)(ferry_store_t *s, const char *export_id, int *applied, char *errstr,
                      size_t errstr_size);
    int (*mark_applied)(ferry_store_t *s, const char *export_id, const char *detail,
                        char *errstr, size_t errstr_size);
    int (*offset_get)(ferry_store_t *s, const char *topic, int32_t partition,
                      int64_t *next_offset, char *errstr, size_t errstr_size);
    int (*offset_set)(ferry_store_t *s, const char *topic, int32_t partition,
                      int64_t next_offset, char *errstr, size_t errstr_size);
    int (*outbox_add)(ferry_store_t *s, const char *key, const void *event, size_t len,
                      char *errstr, size_t errstr_size);
    int (*outbox_next)(ferry_store_t *s, int64_t after, int64_t *id, ferry_buf_t *key,
                       ferry_buf_t *event, char *errstr, size_t errstr_size);
    int (*outbox_remove)(ferry_store_t *s, int64_t id, char *errstr, size_t errstr_size);
} ferry_ledger_ops_t;

struct ferry_store {
    const ferry_store_ops_t *ops;
    const ferry_ledger_ops_t *ledger; /* NULL: the store is only ever a source */
};

struct ferry_cursor {
    int (*next)(ferry_cursor_t *c, const ferry_value_t **row, char *errstr, size_t errstr_size);
    void (*destroy)(ferry_cursor_t *c);
};

struct ferry_writer {
    int (*put)(ferry_writer_t *w, const ferry_value_t *row, int *inserted, char *errstr,
               size_t errstr_size);
    int (*flush)(ferry_writer_t *w, int64_t *updated, char *errstr, size_t errstr_size);
    void (*destroy)(ferry_writer_t *w);
};

/* The SQLite store (store_sqlite.c): path is a file name as given after
 * "sqlite:". Contract of ferry_store_open. */
int ferry_store_sqlite_open(const char *path, int mode, ferry_store_t **out, char *errstr,
                            size_t errstr_size);

/* The PostgreSQL store (store_pg.c): uri is any libpq connection URI,
 * schema the environment's (NULL: "public"). Contract of
 * ferry_store_open_schema. */
int ferry_store_pg_open(const char *uri, const char *schema, int mode, ferry_store_t **out,
                        char *errstr, size_t errstr_size);

#endif
