/* pg_read.c - cursors of the PostgreSQL store (placeholder). */
#include "pg_impl.h"

#include "error.h"

int ferry_pg_cursor_open(pg_store_t *s, const ferry_object_t *obj, ferry_cursor_t **out,
                         char *errstr, size_t errstr_size)
{
    *out = NULL;
    return ferry_errf(errstr, errstr_size, FERRY_EPERMANENT,
                      "store %s: table %s: reading is not built yet", s->name, obj->name);
}

void ferry_pg_cursor_detach(pg_store_t *s)
{
    s->copying = NULL;
}
