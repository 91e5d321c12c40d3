/* sqlite_meta.c - the metadata of a SQLite database, read through the
 * table-valued pragma functions (pragma_table_list, pragma_table_xinfo,
 * pragma_index_list, pragma_index_info, pragma_foreign_key_list; SQLite >= 3.37).
 * Table names are always bound parameters, never formatted into SQL, so any
 * name (reserved words, quotes, spaces, unicode) reads the same way. */
#include "sqlite_meta.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ST_TABLES, ST_COLUMNS, ST_INDEXES, ST_INDEX_COLS, ST_FKS, ST_COUNT };

static const char *const reader_sql[ST_COUNT] = {
    [ST_TABLES] = "SELECT name, wr FROM pragma_table_list"
                  " WHERE schema = 'main' AND type = 'table' ORDER BY name",
    /* hidden: 1 hidden column of a virtual table, 2/3 generated column. */
    [ST_COLUMNS] = "SELECT name, type, \"notnull\", dflt_value, pk"
                   " FROM pragma_table_xinfo(?1, 'main') WHERE hidden = 0 ORDER BY cid",
    /* UNIQUE constraints ('u') and CREATE UNIQUE INDEX ('c'); the primary key
     * ('pk') is already known, and a partial index constrains only some rows. */
    [ST_INDEXES] = "SELECT name FROM pragma_index_list(?1, 'main')"
                   " WHERE \"unique\" = 1 AND origin IN ('u', 'c') AND partial = 0"
                   " ORDER BY name",
    [ST_INDEX_COLS] = "SELECT name FROM pragma_index_info(?1, 'main') ORDER BY seqno",
    /* ids count down from the last declared key: DESC gives declaration order. */
    [ST_FKS] = "SELECT id, \"table\", \"from\", \"to\", on_delete"
               " FROM pragma_foreign_key_list(?1, 'main') ORDER BY id DESC, seq",
};

typedef struct reader {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    char *errstr;
    size_t errstr_size;
} reader_t;

/* A growable list of owned strings (NULL entries allowed). */
typedef struct strv {
    char **v;
    size_t n;
} strv_t;

static int strv_push(strv_t *s, const unsigned char *str)
{
    char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
    if (!v)
        return FERRY_ENOMEM;
    s->v = v;
    v[s->n] = NULL;
    if (str && !(v[s->n] = strdup((const char *)str)))
        return FERRY_ENOMEM;
    s->n++;
    return FERRY_OK;
}

static void strv_clear(strv_t *s)
{
    ferry_strv_free(s->v, s->n);
    s->v = NULL;
    s->n = 0;
}

static int store_err(reader_t *r, const char *what, const char *table)
{
    return ferry_errf(r->errstr, r->errstr_size, FERRY_ESTORE, "reading %s of table \"%s\": %s",
                      what, table, sqlite3_errmsg(r->db));
}

/* Resets st and binds name as ?1. */
static sqlite3_stmt *bind_name(reader_t *r, int which, const char *name)
{
    sqlite3_stmt *st = r->st[which];
    sqlite3_reset(st);
    if (sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        return NULL;
    return st;
}

/* An INTEGER PRIMARY KEY of a rowid table is the rowid: never NULL, although
 * SQLite reports it as nullable. */
static void mark_rowid_alias(ferry_object_t *obj)
{
    size_t idx;
    if (obj->without_rowid || ferry_object_pk(obj, NULL) != 1)
        return;
    ferry_object_pk(obj, &idx);
    if (!strcasecmp(obj->fields[idx].decl_type, "INTEGER"))
        obj->fields[idx].nullable = 0;
}

static int read_columns(reader_t *r, ferry_object_t *obj)
{
    sqlite3_stmt *st = bind_name(r, ST_COLUMNS, obj->name);
    int rc, step;

    if (!st)
        return store_err(r, "columns", obj->name);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *decl = (const char *)sqlite3_column_text(st, 1);
        rc = ferry_object_add_field(obj, (const char *)sqlite3_column_text(st, 0),
                                    decl && *decl ? decl : NULL, !sqlite3_column_int(st, 2),
                                    (const char *)sqlite3_column_text(st, 3),
                                    sqlite3_column_int(st, 4));
        if (rc)
            return ferry_errf(r->errstr, r->errstr_size, rc, "reading columns of table \"%s\": %s",
                              obj->name, ferry_err_name(rc));
    }
    if (step != SQLITE_DONE)
        return store_err(r, "columns", obj->name);
    mark_rowid_alias(obj);
    return FERRY_OK;
}

/* Columns of index idx into cols; *expr set when the index is on an expression
 * (not a column list, so not a unique constraint of fields). */
static int read_index_cols(reader_t *r, const char *table, const char *idx, strv_t *cols,
                           int *expr)
{
    sqlite3_stmt *st = bind_name(r, ST_INDEX_COLS, idx);
    int step;

    *expr = 0;
    if (!st)
        return store_err(r, "unique indexes", table);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 0);
        if (!name)
            *expr = 1;
        else if (strv_push(cols, name))
            return ferry_errf(r->errstr, r->errstr_size, FERRY_ENOMEM,
                              "reading unique indexes of table \"%s\": out of memory", table);
    }
    if (step != SQLITE_DONE)
        return store_err(r, "unique indexes", table);
    return FERRY_OK;
}

static int read_uniques(reader_t *r, ferry_object_t *obj)
{
    sqlite3_stmt *st = bind_name(r, ST_INDEXES, obj->name);
    strv_t names = {0}, cols = {0};
    int rc = FERRY_OK, step, expr;

    if (!st)
        return store_err(r, "unique indexes", obj->name);
    /* Index names first: ST_INDEX_COLS must not run while ST_INDEXES steps on a
     * name it may reset. */
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = strv_push(&names, sqlite3_column_text(st, 0))))
            goto out;
    if (step != SQLITE_DONE) {
        rc = store_err(r, "unique indexes", obj->name);
        goto out;
    }
    for (size_t i = 0; i < names.n; i++) {
        if ((rc = read_index_cols(r, obj->name, names.v[i], &cols, &expr)))
            goto out;
        if (!expr && cols.n &&
            (rc = ferry_object_add_unique(obj, (const char *const *)cols.v, cols.n)))
            goto out;
        strv_clear(&cols);
    }
out:
    if (rc == FERRY_ENOMEM)
        ferry_errf(r->errstr, r->errstr_size, rc,
                   "reading unique indexes of table \"%s\": out of memory", obj->name);
    strv_clear(&names);
    strv_clear(&cols);
    return rc;
}

/* Adds the foreign key gathered in from/to; target is resolved to the spelling
 * of the referenced table when it exists (SQLite matches names
 * case-insensitively). */
static int flush_fk(ferry_objset_t *set, ferry_object_t *obj, const char *target,
                    const char *on_delete, strv_t *from, strv_t *to)
{
    const ferry_object_t *t = ferry_objset_find(set, target);
    int cascade = !strcasecmp(on_delete, "CASCADE");
    int rc = ferry_object_add_relation(obj, t ? t->name : target, (const char *const *)from->v,
                                       (const char *const *)to->v, from->n,
                                       cascade ? FERRY_REL_INCLUDE : FERRY_REL_ASSOCIATION,
                                       on_delete);
    strv_clear(from);
    strv_clear(to);
    return rc;
}

static int read_fks(reader_t *r, ferry_objset_t *set, ferry_object_t *obj)
{
    sqlite3_stmt *st = bind_name(r, ST_FKS, obj->name);
    strv_t from = {0}, to = {0};
    char *target = NULL, *on_delete = NULL;
    int rc = FERRY_OK, step, id = -1;

    if (!st)
        return store_err(r, "foreign keys", obj->name);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 0) != id) {
            if (target && (rc = flush_fk(set, obj, target, on_delete, &from, &to)))
                goto out;
            free(target);
            free(on_delete);
            id = sqlite3_column_int(st, 0);
            target = strdup((const char *)sqlite3_column_text(st, 1));
            on_delete = strdup((const char *)sqlite3_column_text(st, 4));
            if (!target || !on_delete) {
                rc = FERRY_ENOMEM;
                goto out;
            }
        }
        if ((rc = strv_push(&from, sqlite3_column_text(st, 2))) ||
            (rc = strv_push(&to, sqlite3_column_text(st, 3))))
            goto out;
    }
    if (step != SQLITE_DONE) {
        rc = store_err(r, "foreign keys", obj->name);
        goto out;
    }
    if (target)
        rc = flush_fk(set, obj, target, on_delete, &from, &to);
out:
    if (rc == FERRY_ENOMEM)
        ferry_errf(r->errstr, r->errstr_size, rc,
                   "reading foreign keys of table \"%s\": out of memory", obj->name);
    free(target);
    free(on_delete);
    strv_clear(&from);
    strv_clear(&to);
    return rc;
}

int ferry_sqlite_meta_read(sqlite3 *db, ferry_objset_t **out, char *errstr, size_t errstr_size)
{
    reader_t r = {.db = db, .errstr = errstr, .errstr_size = errstr_size};
    ferry_objset_t *set = ferry_objset_new();
    sqlite3_stmt *st;
    int rc = FERRY_OK, step;

    *out = NULL;
    if (!set)
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "reading metadata: out of memory");
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v2(db, reader_sql[i], -1, &r.st[i], NULL) != SQLITE_OK) {
            rc = ferry_errf(errstr, errstr_size, FERRY_ESTORE, "reading metadata: %s",
                            sqlite3_errmsg(db));
            goto out;
        }
    }

    /* All objects first, so that foreign keys can resolve their targets. */
    st = r.st[ST_TABLES];
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        ferry_object_t *obj;
        if (ferry_name_reserved(name)) /* SQLite's and ferry's own tables */
            continue;
        if (!(obj = ferry_objset_add(set, name))) {
            rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                            "reading table \"%s\": out of memory", name);
            goto out;
        }
        obj->without_rowid = sqlite3_column_int(st, 1);
    }
    if (step != SQLITE_DONE) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ESTORE, "listing tables: %s",
                        sqlite3_errmsg(db));
        goto out;
    }

    for (size_t i = 0; i < ferry_objset_count(set); i++) {
        /* The set hands out const objects for reading; this reader built them. */
        ferry_object_t *obj = (ferry_object_t *)ferry_objset_at(set, i);
        if ((rc = read_columns(&r, obj)) || (rc = read_uniques(&r, obj)) ||
            (rc = read_fks(&r, set, obj)))
            goto out;
    }
    *out = set;
    set = NULL;
out:
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(r.st[i]);
    ferry_objset_destroy(set);
    return rc;
}
