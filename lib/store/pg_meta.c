/* pg_meta.c - the PostgreSQL store's catalog: tables of the environment's
 * schema and the type mapping (placeholder: no tables yet). */
#include "pg_impl.h"

#include "error.h"

int ferry_pg_read_meta(pg_store_t *s, const char *only, ferry_objset_t **out, char *errstr,
                       size_t errstr_size)
{
    (void)only;
    if (!(*out = ferry_objset_new()))
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "store %s: out of memory",
                          s->name);
    return FERRY_OK;
}
