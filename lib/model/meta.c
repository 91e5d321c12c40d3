/* meta.c - the metadata model: objects, fields, keys, relations, and the set of
 * objects of one environment (kept sorted by name for deterministic output and
 * binary search).
 *
 * Declared type -> ferry type (ferry_type_from_decl), case-insensitive. The
 * first word of the declaration is recognised by name first, because SQLite's
 * affinity alone would turn BOOLEAN, DATE and DATETIME into "numeric":
 *
 *   first word                         ferry type   length / scale
 *   BOOL, BOOLEAN                      boolean
 *   DATE                               date
 *   DATETIME, TIMESTAMP                timestamp
 *   DECIMAL, NUMERIC, NUMBER, MONEY    decimal      (p, s)
 *   (none: empty or NULL declaration)  any
 *
 * Anything else follows SQLite's affinity rules on the whole declaration, in
 * SQLite's order (https://sqlite.org/datatype3.html, 3.1):
 *
 *   contains INT                       integer      INT, BIGINT, TINYINT...
 *   contains CHAR, CLOB or TEXT        text         VARCHAR(n) -> length n
 *   contains BLOB                      blob
 *   contains REAL, FLOA or DOUB        real
 *   otherwise (numeric affinity)       decimal
 *
 * "(n)" or "(p, s)" after the name fills length and scale for every type.
 *
 * Names and type words compare case-insensitively with strcasecmp: ferry never
 * calls setlocale, so in the "C" locale it folds ASCII letters only, as SQLite
 * folds identifiers. */
#include "meta.h"

#include "error.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ferry_objset {
    ferry_object_t **objs; /* sorted by name (strcmp); each allocated on its own so
                            * that pointers survive growth of the array */
    size_t n, cap;
    char **excluded;       /* name, reason, name, reason... */
    size_t nexcluded;
};

static const char *const type_names[] = {
    [FERRY_T_TEXT] = "text",       [FERRY_T_INTEGER] = "integer",
    [FERRY_T_REAL] = "real",       [FERRY_T_DECIMAL] = "decimal",
    [FERRY_T_BOOLEAN] = "boolean", [FERRY_T_DATE] = "date",
    [FERRY_T_TIMESTAMP] = "timestamp", [FERRY_T_BLOB] = "blob",
    [FERRY_T_ANY] = "any",
    [FERRY_T_NUMERIC] = "numeric", [FERRY_T_DAY] = "day",
    [FERRY_T_TIME] = "time",       [FERRY_T_DATETIME] = "datetime",
    [FERRY_T_TIMESTAMPTZ] = "timestamptz", [FERRY_T_UUID] = "uuid",
    [FERRY_T_INTERVAL] = "interval", [FERRY_T_JSON] = "json",
    [FERRY_T_ENUM] = "enum",       [FERRY_T_ARRAY] = "array",
};

const char *ferry_type_name(ferry_type_t type)
{
    if ((unsigned)type < sizeof(type_names) / sizeof(type_names[0]))
        return type_names[type];
    return "any";
}

int ferry_type_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (!strcmp(name, type_names[i]))
            return (int)i;
    return -1;
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return 1;
    return 0;
}

/* Reads "(n)" or "(p, s)" from the first '(' of decl, if any. */
static void parse_params(const char *decl, int *length, int *scale)
{
    const char *p = strchr(decl, '(');
    long v[2] = {0, 0};
    char *end;

    if (!p)
        return;
    p++;
    for (int i = 0; i < 2; i++) {
        while (isspace((unsigned char)*p))
            p++;
        if (!isdigit((unsigned char)*p))
            break;
        v[i] = strtol(p, &end, 10);
        if (v[i] > INT_MAX)
            v[i] = INT_MAX;
        p = end;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != ',')
            break;
        p++;
    }
    if (length)
        *length = (int)v[0];
    if (scale)
        *scale = (int)v[1];
}

ferry_type_t ferry_type_from_decl(const char *decl, int *length, int *scale)
{
    static const struct {
        const char *word;
        ferry_type_t type;
    } named[] = {
        {"BOOL", FERRY_T_BOOLEAN},       {"BOOLEAN", FERRY_T_BOOLEAN},
        {"DATE", FERRY_T_DATE},          {"DATETIME", FERRY_T_TIMESTAMP},
        {"TIMESTAMP", FERRY_T_TIMESTAMP}, {"DECIMAL", FERRY_T_DECIMAL},
        {"NUMERIC", FERRY_T_DECIMAL},    {"NUMBER", FERRY_T_DECIMAL},
        {"MONEY", FERRY_T_DECIMAL},
    };
    char word[16];
    size_t wlen = 0;

    if (length)
        *length = 0;
    if (scale)
        *scale = 0;
    if (!decl)
        return FERRY_T_ANY;
    while (isspace((unsigned char)*decl))
        decl++;
    if (!*decl)
        return FERRY_T_ANY;
    parse_params(decl, length, scale);

    while (decl[wlen] && !isspace((unsigned char)decl[wlen]) && decl[wlen] != '(' &&
           wlen < sizeof(word) - 1) {
        word[wlen] = decl[wlen];
        wlen++;
    }
    word[wlen] = '\0';
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (!strcasecmp(word, named[i].word))
            return named[i].type;

    if (contains_ci(decl, "INT"))
        return FERRY_T_INTEGER;
    if (contains_ci(decl, "CHAR") || contains_ci(decl, "CLOB") || contains_ci(decl, "TEXT"))
        return FERRY_T_TEXT;
    if (contains_ci(decl, "BLOB"))
        return FERRY_T_BLOB;
    if (contains_ci(decl, "REAL") || contains_ci(decl, "FLOA") || contains_ci(decl, "DOUB"))
        return FERRY_T_REAL;
    return FERRY_T_DECIMAL;
}

/* ---- names ---- */

int ferry_name_reserved(const char *name)
{
    return !strncasecmp(name, "sqlite_", 7) || !strncasecmp(name, "ferry_", 6);
}

void ferry_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- object set ---- */

ferry_objset_t *ferry_objset_new(void)
{
    return calloc(1, sizeof(ferry_objset_t));
}

static void object_free(ferry_object_t *obj)
{
    for (size_t i = 0; i < obj->nfields; i++) {
        free(obj->fields[i].name);
        free(obj->fields[i].decl_type);
        free(obj->fields[i].default_sql);
        free(obj->fields[i].collation);
        ferry_strv_free(obj->fields[i].labels, obj->fields[i].nlabels);
    }
    free(obj->fields);
    for (size_t i = 0; i < obj->nuniques; i++)
        ferry_strv_free(obj->uniques[i].fields, obj->uniques[i].nfields);
    free(obj->uniques);
    for (size_t i = 0; i < obj->nrelations; i++) {
        ferry_relation_t *r = &obj->relations[i];
        free(r->target);
        ferry_strv_free(r->fields, r->nfields);
        ferry_strv_free(r->to_fields, r->nfields);
        free(r->on_delete);
    }
    free(obj->relations);
    for (size_t i = 0; i < obj->nindexes; i++) {
        ferry_index_t *x = &obj->indexes[i];
        for (size_t k = 0; k < x->ncols; k++) {
            free(x->cols[k].name);
            free(x->cols[k].collation);
        }
        free(x->cols);
        free(x->name);
    }
    free(obj->indexes);
    ferry_strv_free(obj->not_carried, obj->nnot_carried);
    free(obj->name);
    free(obj);
}

void ferry_objset_destroy(ferry_objset_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        object_free(set->objs[i]);
    free(set->objs);
    ferry_strv_free(set->excluded, 2 * set->nexcluded);
    free(set);
}

/* Index of the first object whose name is >= name (strcmp order). */
static size_t lower_bound(const ferry_objset_t *set, const char *name)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(set->objs[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

ferry_object_t *ferry_objset_add(ferry_objset_t *set, const char *name)
{
    size_t at = lower_bound(set, name);
    ferry_object_t *obj;

    if (at < set->n && !strcmp(set->objs[at]->name, name))
        return NULL;
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        ferry_object_t **objs = realloc(set->objs, cap * sizeof(*objs));
        if (!objs)
            return NULL;
        set->objs = objs;
        set->cap = cap;
    }
    obj = calloc(1, sizeof(*obj));
    if (!obj || !(obj->name = strdup(name))) {
        free(obj);
        return NULL;
    }
    memmove(&set->objs[at + 1], &set->objs[at], (set->n - at) * sizeof(*set->objs));
    set->objs[at] = obj;
    set->n++;
    return obj;
}

const ferry_object_t *ferry_objset_find(const ferry_objset_t *set, const char *name)
{
    size_t at = lower_bound(set, name);

    if (at < set->n && !strcmp(set->objs[at]->name, name))
        return set->objs[at];
    for (size_t i = 0; i < set->n; i++)
        if (!strcasecmp(set->objs[i]->name, name))
            return set->objs[i];
    return NULL;
}

size_t ferry_objset_count(const ferry_objset_t *set)
{
    return set->n;
}

const ferry_object_t *ferry_objset_at(const ferry_objset_t *set, size_t i)
{
    return i < set->n ? set->objs[i] : NULL;
}

int ferry_objset_add_excluded(ferry_objset_t *set, const char *name, const char *reason)
{
    char **v = realloc(set->excluded, 2 * (set->nexcluded + 1) * sizeof(*v));

    if (!v)
        return FERRY_ENOMEM;
    set->excluded = v;
    v += 2 * set->nexcluded;
    v[0] = strdup(name);
    v[1] = strdup(reason);
    if (!v[0] || !v[1]) {
        free(v[0]);
        free(v[1]);
        return FERRY_ENOMEM;
    }
    set->nexcluded++;
    return FERRY_OK;
}

size_t ferry_objset_nexcluded(const ferry_objset_t *set)
{
    return set->nexcluded;
}

const char *ferry_objset_excluded_at(const ferry_objset_t *set, size_t i, const char **reason)
{
    if (i >= set->nexcluded)
        return NULL;
    if (reason)
        *reason = set->excluded[2 * i + 1];
    return set->excluded[2 * i];
}

const char *ferry_objset_excluded_reason(const ferry_objset_t *set, const char *name)
{
    for (size_t i = 0; i < set->nexcluded; i++)
        if (!strcasecmp(set->excluded[2 * i], name))
            return set->excluded[2 * i + 1];
    return NULL;
}

const char *ferry_collation_name(const char *collation)
{
    static const char *const names[] = {"BINARY", "NOCASE", "RTRIM"};

    for (size_t i = 0; collation && i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcasecmp(collation, names[i]))
            return names[i];
    return NULL;
}

/* ---- builders ---- */

/* A copy of n strings; NULL entries stay NULL. NULL on ENOMEM. src may be NULL
 * (all entries NULL). */
static char **strv_dup(const char *const *src, size_t n)
{
    char **v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return NULL;
    for (size_t i = 0; src && i < n; i++) {
        if (src[i] && !(v[i] = strdup(src[i]))) {
            ferry_strv_free(v, n);
            return NULL;
        }
    }
    return v;
}

/* Grows *arr (element size elem) by one zeroed slot at index *n. */
static void *grow_one(void *arr, size_t n, size_t elem)
{
    char *p = realloc(arr, (n + 1) * elem);
    if (p)
        memset(p + n * elem, 0, elem);
    return p;
}

int ferry_object_add_field(ferry_object_t *obj, const char *name, const char *decl,
                           int nullable, const char *default_sql, int pk_pos)
{
    ferry_field_t *fields = grow_one(obj->fields, obj->nfields, sizeof(*fields)), *f;

    if (!fields)
        return FERRY_ENOMEM;
    obj->fields = fields;
    f = &fields[obj->nfields];
    f->name = strdup(name);
    f->decl_type = strdup(decl ? decl : "");
    f->default_sql = default_sql ? strdup(default_sql) : NULL;
    if (!f->name || !f->decl_type || (default_sql && !f->default_sql)) {
        free(f->name);
        free(f->decl_type);
        free(f->default_sql);
        return FERRY_ENOMEM;
    }
    f->type = ferry_type_from_decl(decl, &f->length, &f->scale);
    f->nullable = nullable;
    f->pk_pos = pk_pos;
    obj->nfields++;
    return FERRY_OK;
}

int ferry_object_add_unique(ferry_object_t *obj, const char *const *fields, size_t nfields)
{
    ferry_unique_t *u = grow_one(obj->uniques, obj->nuniques, sizeof(*u));

    if (!u)
        return FERRY_ENOMEM;
    obj->uniques = u;
    if (!(u[obj->nuniques].fields = strv_dup(fields, nfields)))
        return FERRY_ENOMEM;
    u[obj->nuniques].nfields = nfields;
    obj->nuniques++;
    return FERRY_OK;
}

int ferry_object_add_relation(ferry_object_t *obj, const char *target,
                              const char *const *fields, const char *const *to_fields,
                              size_t nfields, ferry_rel_kind_t kind, const char *on_delete)
{
    ferry_relation_t *rels = grow_one(obj->relations, obj->nrelations, sizeof(*rels)), *r;

    if (!rels)
        return FERRY_ENOMEM;
    obj->relations = rels;
    r = &rels[obj->nrelations];
    r->target = strdup(target);
    r->fields = strv_dup(fields, nfields);
    r->to_fields = strv_dup(to_fields, nfields);
    r->on_delete = on_delete ? strdup(on_delete) : NULL;
    if (!r->target || !r->fields || !r->to_fields || (on_delete && !r->on_delete)) {
        free(r->target);
        ferry_strv_free(r->fields, nfields);
        ferry_strv_free(r->to_fields, nfields);
        free(r->on_delete);
        memset(r, 0, sizeof(*r));
        return FERRY_ENOMEM;
    }
    r->nfields = nfields;
    r->kind = kind;
    obj->nrelations++;
    return FERRY_OK;
}

int ferry_object_set_collation(ferry_field_t *f, const char *collation)
{
    char *c = collation ? strdup(collation) : NULL;

    if (collation && !c)
        return FERRY_ENOMEM;
    free(f->collation);
    f->collation = c;
    return FERRY_OK;
}

int ferry_field_set_labels(ferry_field_t *f, const char *const *labels, size_t n)
{
    char **v = n ? calloc(n, sizeof(char *)) : NULL;

    if (n && !v)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] = strdup(labels[i]))) {
            ferry_strv_free(v, n);
            return FERRY_ENOMEM;
        }
    }
    ferry_strv_free(f->labels, f->nlabels);
    f->labels = v;
    f->nlabels = n;
    return FERRY_OK;
}

int ferry_object_add_index(ferry_object_t *obj, const char *name, int unique,
                           const char *const *names, const int *desc,
                           const char *const *collations, size_t ncols)
{
    ferry_index_t *xs = grow_one(obj->indexes, obj->nindexes, sizeof(*xs)), *x;

    if (!xs)
        return FERRY_ENOMEM;
    obj->indexes = xs;
    x = &xs[obj->nindexes];
    x->unique = unique;
    if (!(x->name = strdup(name)) || !(x->cols = calloc(ncols ? ncols : 1, sizeof(*x->cols))))
        goto fail;
    for (size_t k = 0; k < ncols; k++) {
        x->cols[k].desc = desc ? desc[k] : 0;
        x->ncols = k + 1;
        if (!(x->cols[k].name = strdup(names[k])) ||
            (collations && collations[k] && !(x->cols[k].collation = strdup(collations[k]))))
            goto fail;
    }
    x->ncols = ncols;
    obj->nindexes++;
    return FERRY_OK;
fail:
    for (size_t k = 0; x->cols && k < x->ncols; k++) {
        free(x->cols[k].name);
        free(x->cols[k].collation);
    }
    free(x->cols);
    free(x->name);
    memset(x, 0, sizeof(*x));
    return FERRY_ENOMEM;
}

int ferry_object_add_not_carried(ferry_object_t *obj, const char *what)
{
    char **v = realloc(obj->not_carried, (obj->nnot_carried + 1) * sizeof(*v));

    if (!v)
        return FERRY_ENOMEM;
    obj->not_carried = v;
    if (!(v[obj->nnot_carried] = strdup(what)))
        return FERRY_ENOMEM;
    obj->nnot_carried++;
    return FERRY_OK;
}

int ferry_object_field_index(const ferry_object_t *obj, const char *name)
{
    for (size_t i = 0; i < obj->nfields; i++)
        if (!strcmp(obj->fields[i].name, name))
            return (int)i;
    return -1;
}

size_t ferry_object_pk(const ferry_object_t *obj, size_t *idx)
{
    size_t n = 0;

    /* Insertion by pk_pos keeps key order even if positions have gaps. */
    for (size_t i = 0; i < obj->nfields; i++) {
        size_t j;
        if (obj->fields[i].pk_pos <= 0)
            continue;
        if (idx) {
            for (j = n; j > 0 && obj->fields[idx[j - 1]].pk_pos > obj->fields[i].pk_pos; j--)
                idx[j] = idx[j - 1];
            idx[j] = i;
        }
        n++;
    }
    return n;
}
