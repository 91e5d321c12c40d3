/* ledger.c - ferry's bookkeeping in an import target (ledger.h): forwards
 * each call to the store's ledger operations (store_impl.h), and refuses the
 * calls on a store that has none. */
#include "ledger.h"

#include "error.h"
#include "store_impl.h"

/* FERRY_OK when store keeps a ledger, else FERRY_EPERMANENT with errstr. */
static int has_ledger(const ferry_store_t *store, char *errstr, size_t errstr_size)
{
    if (store->ledger)
        return FERRY_OK;
    return ferry_errf(errstr, errstr_size, FERRY_EPERMANENT,
                      "this store cannot be an import target: it keeps no ledger");
}

int ferry_ledger_is_applied(ferry_store_t *store, const char *export_id, int *applied,
                            char *errstr, size_t errstr_size)
{
    int rc = has_ledger(store, errstr, errstr_size);

    *applied = 0;
    return rc ? rc : store->ledger->is_applied(store, export_id, applied, errstr, errstr_size);
}

int ferry_ledger_mark_applied(ferry_store_t *store, const char *export_id, const char *detail,
                              char *errstr, size_t errstr_size)
{
    int rc = has_ledger(store, errstr, errstr_size);

    return rc ? rc : store->ledger->mark_applied(store, export_id, detail, errstr, errstr_size);
}

int ferry_ledger_offset_get(ferry_store_t *store, const char *topic, int32_t partition,
                            int64_t *next_offset, char *errstr, size_t errstr_size)
{
    int rc = has_ledger(store, errstr, errstr_size);

    *next_offset = -1;
    return rc ? rc
              : store->ledger->offset_get(store, topic, partition, next_offset, errstr,
                                          errstr_size);
}

int ferry_ledger_offset_set(ferry_store_t *store, const char *topic, int32_t partition,
                            int64_t next_offset, char *errstr, size_t errstr_size)
{
    int rc = has_ledger(store, errstr, errstr_size);

    return rc ? rc
              : store->ledger->offset_set(store, topic, partition, next_offset, errstr,
                                          errstr_size);
}

int ferry_ledger_outbox_add(ferry_store_t *store, const char *key, const void *event,
                            size_t len, char *errstr, size_t errstr_size)
{
    int rc = has_ledger(store, errstr, errstr_size);

    return rc ? rc : store->ledger->outbox_add(store, key, event, len, errstr, errstr_size);
}

int ferry_ledger_outbox_next(ferry_store_t *store, int64_t after, int64_t *id, ferry_buf_t *key,
                             ferry_buf_t *event, char *errstr, size_t errstr_size)
{
    int rc = has_ledger(store, errstr, errstr_size);

    *id = -1;
    return rc ? rc
              : store->ledger->outbox_next(store, after, id, key, event, errstr, errstr_size);
}

int ferry_ledger_outbox_remove(ferry_store_t *store, int64_t id, char *errstr,
                               size_t errstr_size)
{
    int rc = has_ledger(store, errstr, errstr_size);

    return rc ? rc : store->ledger->outbox_remove(store, id, errstr, errstr_size);
}
