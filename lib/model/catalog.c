/* catalog.c - loads and validates the preset dependency catalog (format in
 * catalog.h). Validation is strict and names file, object and problem, because
 * a catalog mistake otherwise shows up much later as a silently wrong closure. */
#include "catalog.h"

#include "error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct cat_object {
    char *name;
    int never_export;
    ferry_catalog_edge_t *edges; /* edge.to points at the target's name */
    size_t nedges;
} cat_object_t;

struct ferry_catalog {
    cat_object_t *objs; /* sorted by name (strcmp) */
    size_t n;
};

void ferry_catalog_destroy(ferry_catalog_t *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->n; i++) {
        free(cat->objs[i].name);
        free(cat->objs[i].edges);
    }
    free(cat->objs);
    free(cat);
}

static int obj_cmp(const void *a, const void *b)
{
    return strcmp(((const cat_object_t *)a)->name, ((const cat_object_t *)b)->name);
}

/* Exact match first, then ASCII case-insensitive (as SQLite resolves names). */
static const cat_object_t *lookup(const ferry_catalog_t *cat, const char *name)
{
    cat_object_t key = {.name = (char *)name};
    const cat_object_t *o = bsearch(&key, cat->objs, cat->n, sizeof(*cat->objs), obj_cmp);

    for (size_t i = 0; !o && i < cat->n; i++)
        if (!strcasecmp(cat->objs[i].name, name))
            o = &cat->objs[i];
    return o;
}

const char *ferry_catalog_find(const ferry_catalog_t *cat, const char *name)
{
    const cat_object_t *o = lookup(cat, name);
    return o ? o->name : NULL;
}

int ferry_catalog_never_export(const ferry_catalog_t *cat, const char *name)
{
    const cat_object_t *o = lookup(cat, name);
    return o ? o->never_export : 0;
}

size_t ferry_catalog_edges(const ferry_catalog_t *cat, const char *name,
                           const ferry_catalog_edge_t **edges)
{
    const cat_object_t *o = lookup(cat, name);
    *edges = o ? o->edges : NULL;
    return o ? o->nedges : 0;
}

/* Rejects keys other than allowed (comments "_..." excepted), so that a typo
 * such as "never_exprot" is an error rather than an ignored setting. */
static int check_keys(json_t *obj, const char *const *allowed, const char *path,
                      const char *where, char *errstr, size_t errstr_size)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        int ok = key[0] == '_';
        for (size_t i = 0; !ok && allowed[i]; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "catalog %s: %s: unknown key \"%s\"",
                              path, where, key);
    }
    return FERRY_OK;
}

/* Pass 1: names and never_export of every object. */
static int load_objects(ferry_catalog_t *cat, json_t *objects, const char *path, char *errstr,
                        size_t errstr_size)
{
    static const char *const keys[] = {"name", "edges", "never_export", NULL};
    size_t i;
    json_t *o;
    char where[256];

    cat->objs = calloc(json_array_size(objects) + 1, sizeof(*cat->objs));
    if (!cat->objs)
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "catalog %s: out of memory", path);
    json_array_foreach(objects, i, o) {
        json_t *name = json_object_get(o, "name"), *never = json_object_get(o, "never_export");
        int rc;

        snprintf(where, sizeof(where), "object #%zu", i + 1);
        if (!json_is_object(o))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "catalog %s: %s: not a JSON object",
                              path, where);
        if (!json_is_string(name) || !*json_string_value(name))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "catalog %s: %s: missing or empty \"name\"", path, where);
        for (size_t j = 0; j < cat->n; j++)
            if (!strcasecmp(cat->objs[j].name, json_string_value(name)))
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "catalog %s: object \"%s\": duplicate object (also \"%s\")", path,
                                  json_string_value(name), cat->objs[j].name);
        snprintf(where, sizeof(where), "object \"%.200s\"", json_string_value(name));
        if ((rc = check_keys(o, keys, path, where, errstr, errstr_size)))
            return rc;
        if (never && !json_is_boolean(never))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "catalog %s: %s: \"never_export\" must be true or false", path, where);
        if (!(cat->objs[cat->n].name = strdup(json_string_value(name))))
            return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "catalog %s: out of memory", path);
        cat->objs[cat->n].never_export = json_is_true(never);
        cat->n++;
    }
    qsort(cat->objs, cat->n, sizeof(*cat->objs), obj_cmp);
    return FERRY_OK;
}

/* Pass 2: the edges of each object, now that every target can be checked. */
static int load_edges(ferry_catalog_t *cat, json_t *objects, const char *path, char *errstr,
                      size_t errstr_size)
{
    static const char *const keys[] = {"to", "kind", NULL};
    size_t i, j;
    json_t *o, *e;
    char where[256];

    json_array_foreach(objects, i, o) {
        json_t *edges = json_object_get(o, "edges");
        const char *name = json_string_value(json_object_get(o, "name"));
        cat_object_t *obj = (cat_object_t *)lookup(cat, name);

        if (!edges)
            continue;
        if (!json_is_array(edges))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "catalog %s: object \"%s\": \"edges\" must be an array", path, name);
        obj->edges = calloc(json_array_size(edges) + 1, sizeof(*obj->edges));
        if (!obj->edges)
            return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "catalog %s: out of memory", path);
        json_array_foreach(edges, j, e) {
            const char *to = json_string_value(json_object_get(e, "to"));
            const char *kind = json_string_value(json_object_get(e, "kind"));
            const cat_object_t *target;
            int rc;

            snprintf(where, sizeof(where), "object \"%.200s\": edge #%zu", name, j + 1);
            if (!json_is_object(e))
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "catalog %s: %s: not a JSON object", path, where);
            if ((rc = check_keys(e, keys, path, where, errstr, errstr_size)))
                return rc;
            if (!to || !kind)
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "catalog %s: %s: missing \"%s\"", path, where, to ? "kind" : "to");
            if (strcmp(kind, "include") && strcmp(kind, "association"))
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "catalog %s: %s: unknown edge kind \"%s\" (include or association)",
                                  path, where, kind);
            if (!(target = lookup(cat, to)) || strcmp(target->name, to))
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "catalog %s: %s: edge to undeclared object \"%s\"", path, where, to);
            obj->edges[obj->nedges].to = target->name;
            obj->edges[obj->nedges].kind =
                strcmp(kind, "include") ? FERRY_REL_ASSOCIATION : FERRY_REL_INCLUDE;
            obj->nedges++;
        }
    }
    return FERRY_OK;
}

int ferry_catalog_load(const char *path, ferry_catalog_t **out, char *errstr,
                       size_t errstr_size)
{
    ferry_catalog_t *cat = NULL;
    json_error_t jerr;
    json_t *root, *objects;
    int rc;

    *out = NULL;
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_cannot_open_file)
            return ferry_errf(errstr, errstr_size, access(path, F_OK) ? FERRY_ENOTFOUND : FERRY_EIO,
                              "catalog %s: %s", path, jerr.text);
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "catalog %s: not valid JSON: line %d: %s",
                          path, jerr.line, jerr.text);
    }
    objects = json_object_get(root, "objects");
    if (!json_is_object(root) || !json_is_array(objects)) {
        rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                        "catalog %s: expected a JSON object with an \"objects\" array", path);
        goto out;
    }
    if (!(cat = calloc(1, sizeof(*cat)))) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "catalog %s: out of memory", path);
        goto out;
    }
    if ((rc = check_keys(root, (const char *const[]){"objects", NULL}, path, "top level", errstr,
                         errstr_size)) ||
        (rc = load_objects(cat, objects, path, errstr, errstr_size)) ||
        (rc = load_edges(cat, objects, path, errstr, errstr_size)))
        goto out;
    *out = cat;
    cat = NULL;
out:
    ferry_catalog_destroy(cat);
    json_decref(root);
    return rc;
}
