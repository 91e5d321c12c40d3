/* cmd_describe.c - `ferry-env describe STORE [--json]`: every object of STORE
 * with its fields (name, declared type, ferry type, nullable, default, primary
 * key position), unique constraints and relations (fields -> target, include
 * or association, ON DELETE). --json prints
 *   {"objects":[{"name":..,"without_rowid":..,"fields":[{"name":..,"decl_type":..,
 *    "type":..,"nullable":..,"default":..|null,"pk_pos":N}],"uniques":[[..]],
 *    "relations":[{"fields":[..],"target":..,"to_fields":[..|null],"kind":..,
 *    "on_delete":..}]}]}
 * with objects in name order and fields in table order. */
#include "commands.h"

#include "error.h"
#include "meta.h"
#include "store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int describe_usage(void)
{
    fprintf(stderr, "usage: ferry-env describe STORE [--schema SCHEMA] [--json]\n");
    return 2;
}

static const char *kind_name(ferry_rel_kind_t kind)
{
    return kind == FERRY_REL_INCLUDE ? "include" : "association";
}

static json_t *names_json(char *const *names, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, names[i] ? json_string(names[i]) : json_null());
    return a;
}

static json_t *object_json(const ferry_object_t *o)
{
    json_t *fields = json_array(), *uniques = json_array(), *rels = json_array();

    for (size_t i = 0; i < o->nfields; i++) {
        const ferry_field_t *f = &o->fields[i];
        json_array_append_new(fields, json_pack("{s:s, s:s, s:s, s:b, s:s?, s:i}", "name",
                                                f->name, "decl_type", f->decl_type, "type",
                                                ferry_type_name(f->type), "nullable", f->nullable,
                                                "default", f->default_sql, "pk_pos", f->pk_pos));
    }
    for (size_t i = 0; i < o->nuniques; i++)
        json_array_append_new(uniques, names_json(o->uniques[i].fields, o->uniques[i].nfields));
    for (size_t i = 0; i < o->nrelations; i++) {
        const ferry_relation_t *r = &o->relations[i];
        json_array_append_new(rels, json_pack("{s:o, s:s, s:o, s:s, s:s?}", "fields",
                                              names_json(r->fields, r->nfields), "target",
                                              r->target, "to_fields",
                                              names_json(r->to_fields, r->nfields), "kind",
                                              kind_name(r->kind), "on_delete", r->on_delete));
    }
    return json_pack("{s:s, s:b, s:o, s:o, s:o}", "name", o->name, "without_rowid",
                     o->without_rowid, "fields", fields, "uniques", uniques, "relations", rels);
}

static void print_names(char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", names[i] ? names[i] : "(key)");
}

static void print_object(const ferry_object_t *o)
{
    printf("%s%s\n", o->name, o->without_rowid ? " (without rowid)" : "");
    for (size_t i = 0; i < o->nfields; i++) {
        const ferry_field_t *f = &o->fields[i];
        printf("  %-24s %-22s %-9s %s", f->name, *f->decl_type ? f->decl_type : "(none)",
               ferry_type_name(f->type), f->nullable ? "null" : "not null");
        if (f->pk_pos)
            printf(" pk %d", f->pk_pos);
        if (f->default_sql)
            printf(" default %s", f->default_sql);
        printf("\n");
    }
    for (size_t i = 0; i < o->nuniques; i++) {
        printf("  unique (");
        print_names(o->uniques[i].fields, o->uniques[i].nfields);
        printf(")\n");
    }
    for (size_t i = 0; i < o->nrelations; i++) {
        const ferry_relation_t *r = &o->relations[i];
        printf("  relation (");
        print_names(r->fields, r->nfields);
        printf(") -> %s(", r->target);
        print_names(r->to_fields, r->nfields);
        printf(") %s, on delete %s\n", kind_name(r->kind), r->on_delete ? r->on_delete : "-");
    }
}

int ferry_env_cmd_describe(int argc, char **argv)
{
    const char *store_uri = NULL, *schema = NULL;
    char *text = NULL;
    int json = 0, status = 1, rc;
    ferry_store_t *store = NULL;
    ferry_objset_t *objs = NULL;
    json_t *root = NULL, *list;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--schema") && i + 1 < argc)
            schema = argv[++i];
        else if (argv[i][0] == '-' || store_uri)
            return describe_usage();
        else
            store_uri = argv[i];
    }
    if (!store_uri)
        return describe_usage();
    if ((rc = ferry_env_open_store("describe", store_uri, schema, &store, &objs))) {
        status = rc;
        goto out;
    }
    if (!json) {
        for (size_t i = 0; i < ferry_objset_count(objs); i++)
            print_object(ferry_objset_at(objs, i));
    } else {
        root = json_pack("{s:[]}", "objects");
        list = json_object_get(root, "objects");
        for (size_t i = 0; list && i < ferry_objset_count(objs); i++)
            if (json_array_append_new(list, object_json(ferry_objset_at(objs, i))))
                list = NULL;
        if (!list || !(text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
            fprintf(stderr, "ferry-env describe: out of memory\n");
            goto out;
        }
        printf("%s\n", text);
    }
    status = fflush(stdout) ? 1 : 0;
out:
    free(text);
    json_decref(root);
    ferry_objset_destroy(objs);
    ferry_store_destroy(store);
    return status;
}
