/* pg_write.c - the PostgreSQL store as an import target: creating and
 * evolving tables, writers, foreign-key checks, moving generators.
 * (Placeholder: every operation is refused until it is written.) */
#include "pg_impl.h"

#include "error.h"

#include <stdlib.h>

int ferry_pg_apply_object(pg_store_t *s, const ferry_object_t *obj, int *created, char *errstr,
                          size_t errstr_size)
{
    (void)s;
    (void)created;
    return ferry_errf(errstr, errstr_size, FERRY_EPERMANENT,
                      "table %s: writing to a PostgreSQL store is not built yet", obj->name);
}

int ferry_pg_has_object(pg_store_t *s, const char *name)
{
    (void)s;
    (void)name;
    return 0;
}

int ferry_pg_writer_open(pg_store_t *s, const ferry_object_t *obj, ferry_writer_t **out,
                         char *errstr, size_t errstr_size)
{
    (void)s;
    *out = NULL;
    return ferry_errf(errstr, errstr_size, FERRY_EPERMANENT,
                      "table %s: writing to a PostgreSQL store is not built yet", obj->name);
}

int ferry_pg_check_fks(pg_store_t *s, char *errstr, size_t errstr_size)
{
    (void)s;
    (void)errstr;
    (void)errstr_size;
    return 0;
}

int ferry_pg_before_commit(pg_store_t *s, char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    ferry_pg_forget_written(s);
    return 0;
}

void ferry_pg_forget_written(pg_store_t *s)
{
    for (size_t i = 0; i < s->nwritten; i++)
        free(s->written[i]);
    s->nwritten = 0;
}
