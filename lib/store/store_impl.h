/* store_impl.h - private to the store modules: the operations a store
 * implementation provides behind store.h. store.c dispatches on the URI scheme
 * and forwards every public call through these tables, so that another
 * database (PostgreSQL) slots in as one more store_<name>.c without callers
 * seeing the difference.
 *
 * An implementation embeds the base struct as its first member and casts back.
 * The argument checks common to all stores (NULL handles) happen in store.c;
 * the contract of each operation is the one of the public function of the same
 * name in store.h. */
#ifndef FERRY_STORE_IMPL_H
#define FERRY_STORE_IMPL_H

#include "store.h"

typedef struct ferry_store_ops {
    void (*destroy)(ferry_store_t *s);
    int (*read_meta)(ferry_store_t *s, ferry_objset_t **out, char *errstr, size_t errstr_size);
    int (*cursor_open)(ferry_store_t *s, const ferry_object_t *obj, ferry_cursor_t **out,
                       char *errstr, size_t errstr_size);
    int (*begin)(ferry_store_t *s, char *errstr, size_t errstr_size);
    int (*commit)(ferry_store_t *s, char *errstr, size_t errstr_size);
    int (*rollback)(ferry_store_t *s);
    int (*checkpoint_later)(ferry_store_t *s, char *errstr, size_t errstr_size); /* or NULL */
    int (*checkpoint)(ferry_store_t *s, char *errstr, size_t errstr_size);       /* or NULL */
    int (*snapshot)(ferry_store_t *s, char *errstr, size_t errstr_size);
    int (*apply_object)(ferry_store_t *s, const ferry_object_t *obj, int *created, char *errstr,
                        size_t errstr_size);
    int (*has_object)(ferry_store_t *s, const char *name);
    int (*writer_open)(ferry_store_t *s, const ferry_object_t *obj, ferry_writer_t **out,
                       char *errstr, size_t errstr_size);
    int (*check_fks)(ferry_store_t *s, char *errstr, size_t errstr_size);
    int (*export_applied)(ferry_store_t *s, const char *export_id, int *applied, char *errstr,
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
} ferry_store_ops_t;

struct ferry_store {
    const ferry_store_ops_t *ops;
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

#endif
