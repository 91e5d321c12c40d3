/* open_store.c - opening a store for a ferry-env subcommand (commands.h). */
#include "commands.h"

#include "error.h"

#include <stdio.h>

int ferry_env_open_store(const char *cmd, const char *uri, const char *schema,
                         ferry_store_t **store, ferry_objset_t **objs)
{
    char err[1024];
    int rc;

    if ((rc = ferry_store_open_schema(uri, schema, FERRY_STORE_READ, store, err,
                                       sizeof(err))) ||
        (rc = ferry_store_read_meta(*store, objs, err, sizeof(err)))) {
        fprintf(stderr, "ferry-env %s: %s\n", cmd, err);
        return rc == FERRY_ENOMEM ? 1 : 2;
    }
    return 0;
}
