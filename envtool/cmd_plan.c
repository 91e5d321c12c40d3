/* cmd_plan.c - `ferry-env plan STORE OBJECT... [--json]`: the closure, the
 * associations that must already exist in the target, what is not carried,
 * and the apply groups of an export of OBJECT... from STORE (OBJECT "*":
 * every exportable table, and what was left out). The catalog is FERRY_CATALOG when set,
 * else the preset catalog of the tree. */
#include "commands.h"

#include "buf.h"
#include "catalog.h"
#include "error.h"
#include "plan.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int plan_usage(void)
{
    fprintf(stderr, "usage: ferry-env plan STORE OBJECT... [--schema SCHEMA] [--json]\n");
    return 2;
}

static void print_human(const ferry_plan_t *plan)
{
    size_t n = ferry_plan_ntables(plan);

    printf("closure (%zu object%s):\n", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        const ferry_plan_table_t *t = ferry_plan_table(plan, i);
        if (t->pulled_by)
            printf("  %-28s pulled in by %s\n", t->name, t->pulled_by);
        else
            printf("  %-28s requested\n", t->name);
    }
    printf("associations (must already exist in the target):%s\n",
           ferry_plan_nassocs(plan) ? "" : " none");
    for (size_t i = 0; i < ferry_plan_nassocs(plan); i++)
        printf("  %s -> %s\n", ferry_plan_assoc(plan, i)->from, ferry_plan_assoc(plan, i)->to);
    for (size_t i = 0, first = 1; i < n; i++) {
        char *const *items;
        size_t k = ferry_plan_not_carried(plan, i, &items);
        if (k && first) {
            printf("not carried (the target will not have them):\n");
            first = 0;
        }
        for (size_t j = 0; j < k; j++)
            printf("  %s: %s\n", ferry_plan_table(plan, i)->name, items[j]);
    }
    if (ferry_plan_nleft_out(plan))
        printf("left out:\n");
    for (size_t i = 0; i < ferry_plan_nleft_out(plan); i++) {
        const char *reason, *name = ferry_plan_left_out(plan, i, &reason);
        printf("  %s: %s\n", name, reason);
    }
    printf("apply groups (in order):\n");
    for (size_t i = 0; i < n; i++) {
        const ferry_plan_table_t *t = ferry_plan_table(plan, i);
        int starts = i == 0 || ferry_plan_table(plan, i - 1)->group != t->group;
        int ends = i + 1 == n || ferry_plan_table(plan, i + 1)->group != t->group;
        if (starts)
            printf("  %d: %s", (int)t->group, t->name);
        else
            printf(", %s", t->name);
        if (ends)
            printf("%s\n", starts ? "" : "  (together, foreign-key checks deferred)");
    }
}

int ferry_env_cmd_plan(int argc, char **argv)
{
    const char *store_uri, *schema, *catalog_path = getenv("FERRY_CATALOG"), **objects = NULL;
    size_t nobjects;
    int json, status, rc;
    char err[1024];
    ferry_catalog_t *cat = NULL;
    ferry_store_t *store = NULL;
    ferry_objset_t *objs = NULL;
    ferry_plan_t *plan = NULL;
    ferry_buf_t out = FERRY_BUF_INIT;

    status = ferry_env_parse_args("plan", argc, argv, &store_uri, &schema, &objects, &nobjects,
                                  &json);
    if (status == 2 || (!status && !nobjects))
        goto usage;
    if (status)
        goto out;
    status = 1;
    if (!catalog_path || !*catalog_path)
        catalog_path = FERRY_CATALOG_DEFAULT_PATH;

    if ((rc = ferry_catalog_load(catalog_path, &cat, err, sizeof(err)))) {
        fprintf(stderr, "ferry-env plan: %s\n", err);
        goto out;
    }
    if ((rc = ferry_env_open_store("plan", store_uri, schema, &store, &objs))) {
        status = rc;
        goto out;
    }
    if ((rc = ferry_plan_new(cat, objs, objects, nobjects, &plan, err, sizeof(err)))) {
        fprintf(stderr, "ferry-env plan: %s\n", err); /* no URI: it may hold a password */
        status = rc == FERRY_ENOMEM ? 1 : 2;
        goto out;
    }
    if (json) {
        if (ferry_plan_to_json(plan, &out) || ferry_buf_puts(&out, "\n")) {
            fprintf(stderr, "ferry-env plan: out of memory\n");
            goto out;
        }
        fwrite(out.data, 1, out.len, stdout);
    } else {
        print_human(plan);
    }
    status = fflush(stdout) ? 1 : 0;
    goto out;
usage:
    status = plan_usage();
out:
    ferry_buf_free(&out);
    ferry_plan_destroy(plan);
    ferry_objset_destroy(objs);
    ferry_store_destroy(store);
    ferry_catalog_destroy(cat);
    free(objects);
    return status;
}
