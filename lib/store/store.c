/* store.c - the store interface: opens a store by URI scheme and forwards each
 * call to the implementation's data operations (store_impl.h); ledger.c does
 * the same for the ledger. What every store shares (a table's checksum
 * through a cursor) lives here, once. */
#include "store.h"

#include "checksum.h"
#include "error.h"
#include "store_impl.h"

#include <stdlib.h>
#include <string.h>

int ferry_store_open(const char *uri, int mode, ferry_store_t **out, char *errstr,
                     size_t errstr_size)
{
    return ferry_store_open_schema(uri, NULL, mode, out, errstr, errstr_size);
}

int ferry_store_open_schema(const char *uri, const char *schema, int mode, ferry_store_t **out,
                            char *errstr, size_t errstr_size)
{
    const char *colon;

    *out = NULL;
    if (!uri || !(colon = strchr(uri, ':')) || colon == uri)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "store URI '%s' has no scheme (expected sqlite:PATH or "
                          "postgresql://...)",
                          uri ? uri : "(null)");
    /* Messages here name the scheme only: the rest may hold a password. */
    if (mode != FERRY_STORE_READ && mode != FERRY_STORE_WRITE)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "store %.*s: unknown open mode %d", (int)(colon - uri), uri, mode);
    if (!strncmp(uri, "sqlite:", 7)) {
        if (!uri[7])
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "store URI '%s' names no file", uri);
        if (schema)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "store %s: a SQLite store has no schemas (schema \"%s\")", uri,
                              schema);
        return ferry_store_sqlite_open(uri + 7, mode, out, errstr, errstr_size);
    }
    if (!strncmp(uri, "postgresql://", 13) || !strncmp(uri, "postgres://", 11))
        return ferry_store_pg_open(uri, schema, mode, out, errstr, errstr_size);
    return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                      "store URI scheme '%.*s' is unknown (expected sqlite:PATH or "
                      "postgresql://...)",
                      (int)(colon - uri), uri);
}

void ferry_store_destroy(ferry_store_t *store)
{
    if (store)
        store->ops->destroy(store);
}

int ferry_store_read_meta(ferry_store_t *store, ferry_objset_t **out, char *errstr,
                          size_t errstr_size)
{
    return store->ops->read_meta(store, out, errstr, errstr_size);
}

int ferry_store_cursor_open(ferry_store_t *store, const ferry_object_t *obj,
                            ferry_cursor_t **out, char *errstr, size_t errstr_size)
{
    return store->ops->cursor_open(store, obj, out, errstr, errstr_size);
}

int ferry_cursor_next(ferry_cursor_t *cur, const ferry_value_t **row, char *errstr,
                      size_t errstr_size)
{
    return cur->next(cur, row, errstr, errstr_size);
}

void ferry_cursor_destroy(ferry_cursor_t *cur)
{
    if (cur)
        cur->destroy(cur);
}

int ferry_store_begin(ferry_store_t *store, char *errstr, size_t errstr_size)
{
    return store->ops->begin(store, errstr, errstr_size);
}

int ferry_store_commit(ferry_store_t *store, char *errstr, size_t errstr_size)
{
    return store->ops->commit(store, errstr, errstr_size);
}

int ferry_store_checkpoint_later(ferry_store_t *store, char *errstr, size_t errstr_size)
{
    return store->ops->checkpoint_later
               ? store->ops->checkpoint_later(store, errstr, errstr_size)
               : FERRY_OK;
}

int ferry_store_checkpoint(ferry_store_t *store, char *errstr, size_t errstr_size)
{
    return store->ops->checkpoint ? store->ops->checkpoint(store, errstr, errstr_size)
                                  : FERRY_OK;
}

int ferry_store_rollback(ferry_store_t *store)
{
    return store->ops->rollback(store);
}

int ferry_store_snapshot(ferry_store_t *store, char *errstr, size_t errstr_size)
{
    return store->ops->snapshot(store, errstr, errstr_size);
}

int ferry_store_apply_object(ferry_store_t *store, const ferry_object_t *obj, int *created,
                             char *errstr, size_t errstr_size)
{
    if (created)
        *created = 0;
    return store->ops->apply_object(store, obj, created, errstr, errstr_size);
}

int ferry_store_has_object(ferry_store_t *store, const char *name)
{
    return store->ops->has_object(store, name);
}

int ferry_store_writer_open(ferry_store_t *store, const ferry_object_t *obj,
                            ferry_writer_t **out, char *errstr, size_t errstr_size)
{
    return store->ops->writer_open(store, obj, out, errstr, errstr_size);
}

int ferry_writer_put(ferry_writer_t *w, const ferry_value_t *row, int *inserted, char *errstr,
                     size_t errstr_size)
{
    return w->put(w, row, inserted, errstr, errstr_size);
}

int ferry_writer_flush(ferry_writer_t *w, int64_t *updated, char *errstr, size_t errstr_size)
{
    return w->flush(w, updated, errstr, errstr_size);
}

void ferry_writer_destroy(ferry_writer_t *w)
{
    if (w)
        w->destroy(w);
}

int ferry_store_check_fks(ferry_store_t *store, char *errstr, size_t errstr_size)
{
    return store->ops->check_fks(store, errstr, errstr_size);
}

int ferry_store_checksum_table(ferry_store_t *store, const ferry_object_t *obj,
                               ferry_checksum_t *out, char *errstr, size_t errstr_size)
{
    ferry_checksum_t sum = FERRY_CHECKSUM_INIT;
    ferry_cursor_t *cur = NULL;
    const ferry_value_t *row;
    uint64_t *seeds;
    int rc;

    if (!(seeds = calloc(obj->nfields ? obj->nfields : 1, sizeof(*seeds))))
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "checksum of %s: out of memory",
                          obj->name);
    for (size_t i = 0; i < obj->nfields; i++)
        seeds[i] = ferry_checksum_seed(obj->fields[i].name);
    rc = ferry_store_cursor_open(store, obj, &cur, errstr, errstr_size);
    while (!rc && (rc = ferry_cursor_next(cur, &row, errstr, errstr_size)) == 1) {
        ferry_checksum_add(&sum, seeds, row, obj->nfields);
        rc = 0;
    }
    ferry_cursor_destroy(cur);
    free(seeds);
    if (rc < 0)
        return rc;
    *out = sum;
    return FERRY_OK;
}
