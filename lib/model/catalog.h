/* catalog.h - the preset dependency catalog (schemas/catalog/preset.json): the
 * preset system objects, their typed edges, and the objects that are never
 * exported (user tables).
 *
 * File format (JSON; keys starting with "_" are comments and ignored):
 *   {"objects": [
 *      {"name": "Process", "edges": [{"to": "ProcessDecision", "kind": "include"}]},
 *      {"name": "ProfileAppVisibility", "edges": [{"to": "Application", "kind": "association"}]},
 *      {"name": "User", "never_export": true}]}
 * "include": exporting the object pulls `to`; "association": the object refers
 * to `to`, which is not exported and must exist in the target. Every `to` must
 * be a declared object; names are unique; unknown keys are errors (a typo must
 * not silently drop an edge). */
#ifndef FERRY_CATALOG_H
#define FERRY_CATALOG_H

#include "meta.h"

#include <stddef.h>

/* The catalog binaries load unless told otherwise (FERRY_DATA_DIR is set by the
 * build to the tree's schemas/ directory). */
#ifdef FERRY_DATA_DIR
#define FERRY_CATALOG_DEFAULT_PATH FERRY_DATA_DIR "/catalog/preset.json"
#endif

typedef struct ferry_catalog ferry_catalog_t;

typedef struct ferry_catalog_edge {
    const char *to;         /* a catalog object */
    ferry_rel_kind_t kind;  /* FERRY_REL_INCLUDE or FERRY_REL_ASSOCIATION */
} ferry_catalog_edge_t;

/* Loads and validates the catalog at path. A missing file -> FERRY_ENOTFOUND,
 * an unreadable one -> FERRY_EIO; not JSON or a malformed catalog ->
 * FERRY_EINVAL with errstr naming the file, the object and the problem
 * (duplicate object, missing field, unknown edge kind, edge to an undeclared
 * object, unknown key). *out is new; free with
 * ferry_catalog_destroy (accepts NULL). */
int ferry_catalog_load(const char *path, ferry_catalog_t **out, char *errstr,
                       size_t errstr_size);
void ferry_catalog_destroy(ferry_catalog_t *cat);

/* The catalog's spelling of name (exact match first, then case-insensitive, as
 * store names resolve), or NULL when name is not a catalog object (a custom
 * object). Valid until the catalog is destroyed. */
const char *ferry_catalog_find(const ferry_catalog_t *cat, const char *name);
/* 1 if name is a catalog object marked never_export, else 0. */
int ferry_catalog_never_export(const ferry_catalog_t *cat, const char *name);
/* The edges of name in file order: returns their count and points *edges at
 * them (owned by the catalog). 0 for an object without edges or not in the
 * catalog. */
size_t ferry_catalog_edges(const ferry_catalog_t *cat, const char *name,
                           const ferry_catalog_edge_t **edges);

#endif
