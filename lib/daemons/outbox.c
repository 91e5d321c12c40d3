/* outbox.c - publishing an import target's status outbox (see outbox.h).
 *
 * State of one queued event, as the outbox knows it (the store holds the
 * event itself; these are its id's whereabouts in memory):
 *   queued    --ferry_outbox_drain: produce accepted--> in flight
 *   in flight --ferry_outbox_delivered, ok--> delivered
 *   in flight --ferry_outbox_delivered, failed--> queued (due after the retry time)
 *   delivered --ferry_outbox_remove_delivered: removal committed--> gone
 *   delivered --removal failed--> queued (due at once)
 * A restart forgets in flight and delivered: everything still in the store
 * is queued again. pending says that some event may be queued; retry_ms
 * holds the drain back after a failure. */
#include "outbox.h"

#include "buf.h"
#include "error.h"
#include "ledger.h"

#include <stdlib.h>

/* A set of outbox event ids (few: about one per export in flight). */
typedef struct id_list {
    int64_t *ids;
    size_t n, cap;
} id_list_t;

struct ferry_outbox {
    ferry_store_t *store;
    ferry_outbox_io_t io;
    int pending;          /* the store may hold events neither in flight nor delivered */
    int64_t retry_ms;     /* not due again before this time */
    id_list_t in_flight;  /* produced, no delivery report yet */
    id_list_t delivered;  /* delivered, to remove */
    ferry_buf_t key, event; /* the event being produced, reused */
};

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

int ferry_outbox_new(ferry_store_t *store, const ferry_outbox_io_t *io, ferry_outbox_t **out,
                     char *errstr, size_t errstr_size)
{
    ferry_outbox_t *ob = calloc(1, sizeof(*ob));

    *out = NULL;
    if (!ob)
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "status outbox: out of memory");
    ob->store = store;
    ob->io = *io;
    ob->pending = 1; /* what a previous run queued and did not publish */
    *out = ob;
    return FERRY_OK;
}

void ferry_outbox_destroy(ferry_outbox_t *ob)
{
    if (!ob)
        return;
    free(ob->in_flight.ids);
    free(ob->delivered.ids);
    ferry_buf_free(&ob->key);
    ferry_buf_free(&ob->event);
    free(ob);
}

void ferry_outbox_queued(ferry_outbox_t *ob)
{
    ob->pending = 1;
}

int ferry_outbox_due(const ferry_outbox_t *ob, int64_t now_ms)
{
    return ob->pending && now_ms >= ob->retry_ms;
}

int ferry_outbox_drain(ferry_outbox_t *ob, int64_t now_ms, char *errstr, size_t errstr_size)
{
    int64_t id = 0;
    int rc;

    for (;;) {
        if ((rc = ferry_ledger_outbox_next(ob->store, id, &id, &ob->key, &ob->event, errstr,
                                           errstr_size)) ||
            id < 0)
            break;
        if (ids_has(&ob->in_flight, id) || ids_has(&ob->delivered, id))
            continue;
        if ((rc = ids_add(&ob->in_flight, id))) {
            ferry_errf(errstr, errstr_size, rc, "out of memory");
            break;
        }
        if ((rc = ob->io.produce(ob->io.opaque, id, (const char *)ob->key.data, ob->event.data,
                                 ob->event.len, errstr, errstr_size))) {
            ids_remove(&ob->in_flight, id);
            break;
        }
    }
    if (rc) {
        ob->pending = 1;
        ob->retry_ms = now_ms + FERRY_OUTBOX_RETRY_MS;
        return rc;
    }
    ob->pending = 0;
    return FERRY_OK;
}

void ferry_outbox_delivered(ferry_outbox_t *ob, int64_t id, int ok, int64_t now_ms)
{
    if (id <= 0)
        return;
    ids_remove(&ob->in_flight, id);
    if (!ok || ids_add(&ob->delivered, id)) {
        ob->pending = 1; /* still in the outbox: sent again */
        ob->retry_ms = now_ms + FERRY_OUTBOX_RETRY_MS;
    }
}

size_t ferry_outbox_delivered_count(const ferry_outbox_t *ob)
{
    return ob->delivered.n;
}

int ferry_outbox_remove_delivered(ferry_outbox_t *ob, size_t min, char *errstr,
                                  size_t errstr_size)
{
    int rc;

    if (!ob->delivered.n || ob->delivered.n < min || ob->io.export_open(ob->io.opaque))
        return FERRY_OK;
    rc = ferry_store_begin(ob->store, errstr, errstr_size);
    for (size_t i = 0; !rc && i < ob->delivered.n; i++)
        rc = ferry_ledger_outbox_remove(ob->store, ob->delivered.ids[i], errstr, errstr_size);
    if (!rc)
        rc = ferry_store_commit(ob->store, errstr, errstr_size);
    if (rc) {
        ferry_store_rollback(ob->store);
        ob->pending = 1;
    }
    ob->delivered.n = 0;
    return rc;
}
