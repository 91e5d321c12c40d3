/* cmd_checksum.c - `ferry-env checksum STORE [OBJECT...] [--json]`: per table,
 * the row count and the order-independent content checksum (checksum.h) of
 * every object of STORE, or of the objects named. Two stores holding the same
 * data print the same output whatever their physical row order. Human output
 * is one "NAME rows=N checksum=HEX" line per table, by name; --json prints
 * {"tables":{"NAME":{"rows":N,"checksum":"HEX"}}} with sorted keys. */
#include "commands.h"

#include "checksum.h"
#include "error.h"
#include "store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checksum_usage(void)
{
    fprintf(stderr, "usage: ferry-env checksum STORE [OBJECT...] [--schema SCHEMA] [--json]\n");
    return 2;
}

int ferry_env_cmd_checksum(int argc, char **argv)
{
    const char *store_uri, *schema, **names = NULL;
    char err[1024], hex[17], *text = NULL;
    int json, status, unknown = 0, rc;
    ferry_store_t *store = NULL;
    ferry_objset_t *objs = NULL;
    json_t *tables = NULL, *root = NULL;
    unsigned char *pick = NULL; /* pick[i]: object i is checksummed */
    size_t n, nnames;

    status = ferry_env_parse_args("checksum", argc, argv, &store_uri, &schema, &names, &nnames,
                                  &json);
    if (status == 2)
        goto usage;
    if (status)
        goto out;
    status = 1;
    if (!(tables = json_object())) {
        fprintf(stderr, "ferry-env checksum: out of memory\n");
        goto out;
    }
    if ((rc = ferry_env_open_store("checksum", store_uri, schema, &store, &objs))) {
        status = rc;
        goto out;
    }
    n = ferry_objset_count(objs);
    if (!(pick = calloc(n + 1, 1))) {
        fprintf(stderr, "ferry-env checksum: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < nnames; i++) {
        const ferry_object_t *obj;
        if (!(obj = ferry_objset_find(objs, names[i]))) {
            /* the store is not named: its URI may hold a password */
            fprintf(stderr, "ferry-env checksum: the store has no object '%s'\n", names[i]);
            unknown = 1;
            continue;
        }
        for (size_t k = 0; k < n; k++)
            pick[k] |= ferry_objset_at(objs, k) == obj;
    }
    if (unknown) {
        status = 2;
        goto out;
    }
    /* Objects come in name order; named objects are printed in that order too. */
    for (size_t k = 0; k < n; k++) {
        const ferry_object_t *obj = ferry_objset_at(objs, k);
        ferry_checksum_t sum;
        if (nnames && !pick[k])
            continue;
        if ((rc = ferry_store_checksum_table(store, obj, &sum, err, sizeof(err)))) {
            fprintf(stderr, "ferry-env checksum: %s\n", err);
            goto out;
        }
        ferry_checksum_hex(&sum, hex);
        if (!json)
            printf("%s rows=%llu checksum=%s\n", obj->name, (unsigned long long)sum.rows, hex);
        else if (json_object_set_new(tables, obj->name,
                                     json_pack("{s:I,s:s}", "rows", (json_int_t)sum.rows,
                                               "checksum", hex))) {
            fprintf(stderr, "ferry-env checksum: out of memory\n");
            goto out;
        }
    }
    if (json) {
        root = json_pack("{s:O}", "tables", tables);
        if (!root || !(text = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT))) {
            fprintf(stderr, "ferry-env checksum: out of memory\n");
            goto out;
        }
        printf("%s\n", text);
    }
    status = fflush(stdout) ? 1 : 0;
    goto out;
usage:
    status = checksum_usage();
out:
    free(text);
    json_decref(root);
    json_decref(tables);
    free(pick);
    free(names);
    ferry_objset_destroy(objs);
    ferry_store_destroy(store);
    return status;
}
