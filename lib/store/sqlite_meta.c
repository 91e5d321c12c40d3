/* sqlite_meta.c - the metadata of a SQLite database, read through the
 * table-valued pragma functions (pragma_table_list, pragma_table_xinfo,
 * pragma_index_list, pragma_index_xinfo, pragma_foreign_key_list; SQLite >= 3.37)
 * and sqlite3_table_column_metadata (a column's collation, AUTOINCREMENT).
 * Table and index names are always bound parameters, never formatted into
 * SQL, so any name (reserved words, quotes, spaces, unicode) reads the same way.
 *
 * Two facts have no pragma: a foreign key's deferrability and a table's CHECK
 * constraints. For those the table's CREATE TABLE text (sqlite_schema.sql) is
 * tokenized as SQLite does (quoted identifiers, strings, comments), and only
 * keywords are looked at: REFERENCES and CHECK are reserved words in SQLite
 * (never identifiers unless quoted), so each unquoted REFERENCES starts one
 * foreign-key clause, in declaration order, and each CHECK one constraint.
 * Nothing of that text is ever kept or replayed: the clause's DEFERRABLE words
 * become a ferry_defer_t, the CHECKs a count. If the REFERENCES do not match
 * the pragma's foreign keys one to one, deferrability is reported as not
 * carried rather than guessed.
 *
 * Indexes: CREATE [UNIQUE] INDEX on plain columns (any order, collation
 * BINARY/NOCASE/RTRIM) become ferry_index_t; partial ones, ones on
 * expressions or other collations are listed in the object's not_carried.
 * UNIQUE constraints of the table stay uniques. */
#include "sqlite_meta.h"

#include "error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ST_TABLES, ST_COLUMNS, ST_INDEXES, ST_INDEX_COLS, ST_INDEX_XINFO, ST_FKS, ST_SQL,
       ST_COUNT };

static const char *const reader_sql[ST_COUNT] = {
    /* Virtual tables and their shadow tables are read too, to say what they
     * are when a request names one (ferry_objset_add_excluded). */
    [ST_TABLES] = "SELECT name, wr, type FROM pragma_table_list"
                  " WHERE schema = 'main' AND type IN ('table', 'virtual', 'shadow')"
                  " ORDER BY name",
    /* hidden: 1 hidden column of a virtual table, 2/3 generated column. */
    [ST_COLUMNS] = "SELECT name, type, \"notnull\", dflt_value, pk, hidden"
                   " FROM pragma_table_xinfo(?1, 'main') ORDER BY cid",
    /* UNIQUE constraints ('u') and CREATE [UNIQUE] INDEX ('c'); the primary
     * key ('pk') is already known. */
    [ST_INDEXES] = "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1, 'main')"
                   " WHERE origin IN ('u', 'c') ORDER BY name",
    [ST_INDEX_COLS] = "SELECT name FROM pragma_index_info(?1, 'main') ORDER BY seqno",
    /* key columns only; cid -2: an expression, -1: the rowid. */
    [ST_INDEX_XINFO] = "SELECT cid, name, \"desc\", coll FROM pragma_index_xinfo(?1, 'main')"
                       " WHERE key = 1 ORDER BY seqno",
    /* ids count down from the last declared key: DESC gives declaration order. */
    [ST_FKS] = "SELECT id, \"table\", \"from\", \"to\", on_delete"
               " FROM pragma_foreign_key_list(?1, 'main') ORDER BY id DESC, seq",
    [ST_SQL] = "SELECT sql FROM sqlite_schema WHERE name = ?1 AND type = 'table'",
};

/* ---- a tokenizer of SQLite's SQL, for keywords only ---- */

enum { TK_END, TK_WORD, TK_NAME, TK_STRING, TK_OTHER };

typedef struct tok {
    int kind;      /* TK_WORD: an unquoted word; TK_NAME: a quoted identifier */
    const char *p; /* its text (quotes included) */
    size_t n;
} tok_t;

static int word_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Reads the token at *pp into t and advances *pp past it; whitespace and
 * comments are skipped. An unterminated quote or comment ends the text. */
static void tok_next(const char **pp, tok_t *t)
{
    const char *p = *pp;

    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else {
            break;
        }
    }
    t->p = p;
    if (!*p) {
        t->kind = TK_END;
    } else if (*p == '\'' || *p == '"' || *p == '`' || *p == '[') {
        char close = *p == '[' ? ']' : *p;
        t->kind = *p == '\'' ? TK_STRING : TK_NAME;
        for (p++; *p; p++) {
            if (*p != close)
                continue;
            if (close != ']' && p[1] == close) {
                p++; /* a doubled quote is one quote character */
                continue;
            }
            p++;
            break;
        }
    } else if (word_char((unsigned char)*p)) {
        t->kind = TK_WORD;
        while (word_char((unsigned char)*p))
            p++;
    } else {
        t->kind = TK_OTHER;
        p++;
    }
    t->n = (size_t)(p - t->p);
    *pp = p;
}

static int tok_is(const tok_t *t, const char *word)
{
    return t->kind == TK_WORD && strlen(word) == t->n && !strncasecmp(t->p, word, t->n);
}

/* Scans a CREATE TABLE text: the deferrability of each foreign key in
 * declaration order (up to max of them into defer; *nrefs counts all) and
 * the number of CHECK constraints. As in SQLite's parser, a DEFERRABLE
 * clause applies to the foreign key declared last before it (a column's
 * clause may even follow other constraints of the column), NOT DEFERRABLE
 * never defers, and DEFERRABLE defers only with INITIALLY DEFERRED. */
static void scan_table_sql(const char *sql, ferry_defer_t *defer, size_t max, size_t *nrefs,
                           size_t *nchecks)
{
    const char *p = sql, *save;
    tok_t t, prev = {TK_END, "", 0}, u;

    *nrefs = *nchecks = 0;
    for (tok_next(&p, &t); t.kind != TK_END; prev = t, tok_next(&p, &t)) {
        ferry_defer_t d;
        if (tok_is(&t, "CHECK")) {
            (*nchecks)++;
        } else if (tok_is(&t, "REFERENCES")) {
            if (*nrefs < max)
                defer[*nrefs] = FERRY_DEFER_NONE;
            (*nrefs)++;
        } else if (tok_is(&t, "DEFERRABLE")) {
            d = tok_is(&prev, "NOT") ? FERRY_DEFER_NONE : FERRY_DEFER_IMMEDIATE;
            save = p;
            tok_next(&p, &u);
            if (tok_is(&u, "INITIALLY")) {
                tok_next(&p, &u);
                if (d && tok_is(&u, "DEFERRED"))
                    d = FERRY_DEFER_DEFERRED;
            } else {
                p = save;
            }
            if (*nrefs && *nrefs <= max)
                defer[*nrefs - 1] = d;
        }
    }
}

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

/* Adds a formatted "not carried" item to obj. */
static int not_carried(reader_t *r, ferry_object_t *obj, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int not_carried(reader_t *r, ferry_object_t *obj, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    int n, rc = FERRY_ENOMEM;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (text = malloc((size_t)n + 1))) {
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
        rc = ferry_object_add_not_carried(obj, text);
    }
    free(text);
    if (rc)
        return ferry_errf(r->errstr, r->errstr_size, FERRY_ENOMEM,
                          "reading table \"%s\": out of memory", obj->name);
    return FERRY_OK;
}

/* The collation and AUTOINCREMENT of column f, from SQLite's own catalog. */
static int column_extras(reader_t *r, ferry_object_t *obj, ferry_field_t *f)
{
    const char *coll = NULL, *canon;
    int autoinc = 0;

    if (sqlite3_table_column_metadata(r->db, "main", obj->name, f->name, NULL, &coll, NULL, NULL,
                                      &autoinc) != SQLITE_OK)
        return store_err(r, "columns", obj->name);
    if (autoinc && not_carried(r, obj,
                               "AUTOINCREMENT of column \"%s\" (the target numbers new rows "
                               "from its own largest key)", f->name))
        return FERRY_ENOMEM;
    if (!coll || !strcasecmp(coll, "BINARY"))
        return FERRY_OK;
    if (!(canon = ferry_collation_name(coll)))
        return not_carried(r, obj, "collation %s of column \"%s\"", coll, f->name);
    if (ferry_object_set_collation(f, canon))
        return ferry_errf(r->errstr, r->errstr_size, FERRY_ENOMEM,
                          "reading table \"%s\": out of memory", obj->name);
    return FERRY_OK;
}

static int read_columns(reader_t *r, ferry_object_t *obj)
{
    sqlite3_stmt *st = bind_name(r, ST_COLUMNS, obj->name);
    int rc, step;

    if (!st)
        return store_err(r, "columns", obj->name);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *decl = (const char *)sqlite3_column_text(st, 1);
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (sqlite3_column_int(st, 5)) { /* generated: cannot be inserted */
            if ((rc = not_carried(r, obj, "generated column \"%s\"", name)))
                return rc;
            continue;
        }
        rc = ferry_object_add_field(obj, name, decl && *decl ? decl : NULL,
                                    !sqlite3_column_int(st, 2),
                                    (const char *)sqlite3_column_text(st, 3),
                                    sqlite3_column_int(st, 4));
        if (rc)
            return ferry_errf(r->errstr, r->errstr_size, rc, "reading columns of table \"%s\": %s",
                              obj->name, ferry_err_name(rc));
    }
    if (step != SQLITE_DONE)
        return store_err(r, "columns", obj->name);
    for (size_t i = 0; i < obj->nfields; i++)
        if ((rc = column_extras(r, obj, &obj->fields[i])))
            return rc;
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

/* One CREATE [UNIQUE] INDEX idx of obj: added to obj's indexes when ferry
 * can rebuild it, else named in obj's not_carried. */
static int read_index(reader_t *r, ferry_object_t *obj, const char *idx, int unique, int partial)
{
    sqlite3_stmt *st;
    strv_t names = {0}, colls = {0};
    int *desc = NULL, step, rc = FERRY_OK;
    const char *why = NULL;
    char coll_why[160];

    if (partial)
        return not_carried(r, obj, "partial %sindex \"%s\"", unique ? "unique " : "", idx);
    if (!(st = bind_name(r, ST_INDEX_XINFO, idx)))
        return store_err(r, "indexes", obj->name);
    while (!why && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *coll = (const char *)sqlite3_column_text(st, 3);
        int *grown;
        if (sqlite3_column_int(st, 0) < 0) {
            why = "on an expression";
            break;
        }
        if (!ferry_collation_name(coll)) {
            snprintf(coll_why, sizeof(coll_why), "with collation %.100s", coll ? coll : "?");
            why = coll_why;
            break;
        }
        if (!(grown = realloc(desc, (names.n + 1) * sizeof(*desc)))) {
            rc = FERRY_ENOMEM;
            goto out;
        }
        desc = grown;
        desc[names.n] = sqlite3_column_int(st, 2) != 0;
        if ((rc = strv_push(&names, sqlite3_column_text(st, 1))) ||
            (rc = strv_push(&colls, (const unsigned char *)ferry_collation_name(coll))))
            goto out;
    }
    if (!why && step != SQLITE_DONE) {
        rc = store_err(r, "indexes", obj->name);
        goto out;
    }
    if (why)
        rc = not_carried(r, obj, "%sindex \"%s\" %s", unique ? "unique " : "", idx, why);
    else if (names.n)
        rc = ferry_object_add_index(obj, idx, unique, (const char *const *)names.v, desc,
                                    (const char *const *)colls.v, names.n);
out:
    if (rc == FERRY_ENOMEM)
        ferry_errf(r->errstr, r->errstr_size, rc,
                   "reading indexes of table \"%s\": out of memory", obj->name);
    free(desc);
    strv_clear(&names);
    strv_clear(&colls);
    return rc;
}

static int read_indexes(reader_t *r, ferry_object_t *obj)
{
    sqlite3_stmt *st = bind_name(r, ST_INDEXES, obj->name);
    strv_t names = {0}, cols = {0};
    char *kinds = NULL; /* per index: 'u' constraint, 'c'/'C' plain/unique index, 'p'/'P' partial */
    int rc = FERRY_OK, step, expr;

    if (!st)
        return store_err(r, "indexes", obj->name);
    /* Index names first: the per-index statements must not run while
     * ST_INDEXES steps on a name they may reset. */
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *origin = (const char *)sqlite3_column_text(st, 2);
        int unique = sqlite3_column_int(st, 1), partial = sqlite3_column_int(st, 3);
        char *grown = realloc(kinds, names.n + 1);
        if (!grown) {
            rc = FERRY_ENOMEM;
            goto out;
        }
        kinds = grown;
        kinds[names.n] = origin && *origin == 'u' ? 'u'
                         : partial               ? (unique ? 'P' : 'p')
                                                 : (unique ? 'C' : 'c');
        if ((rc = strv_push(&names, sqlite3_column_text(st, 0))))
            goto out;
    }
    if (step != SQLITE_DONE) {
        rc = store_err(r, "indexes", obj->name);
        goto out;
    }
    for (size_t i = 0; i < names.n; i++) {
        if (kinds[i] != 'u') {
            if ((rc = read_index(r, obj, names.v[i], kinds[i] == 'C' || kinds[i] == 'P',
                                 kinds[i] == 'p' || kinds[i] == 'P')))
                goto out;
            continue;
        }
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
                   "reading indexes of table \"%s\": out of memory", obj->name);
    free(kinds);
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

/* The CREATE TABLE text of table (NULL when it has none); owned by the statement. */
static const char *table_sql(reader_t *r, const char *table)
{
    sqlite3_stmt *st = bind_name(r, ST_SQL, table);
    return st && sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
}

/* Deferrability of obj's foreign keys and its CHECK constraints, from its
 * CREATE TABLE text (see the top of the file). */
static int read_table_sql(reader_t *r, ferry_object_t *obj)
{
    const char *sql = table_sql(r, obj->name);
    ferry_defer_t *defer = calloc(obj->nrelations + 1, sizeof(*defer));
    size_t nrefs = 0, nchecks = 0;
    int rc = FERRY_OK;

    if (!defer)
        return ferry_errf(r->errstr, r->errstr_size, FERRY_ENOMEM,
                          "reading table \"%s\": out of memory", obj->name);
    if (sql)
        scan_table_sql(sql, defer, obj->nrelations, &nrefs, &nchecks);
    if (nrefs == obj->nrelations) {
        for (size_t i = 0; i < nrefs; i++)
            obj->relations[i].deferrable = defer[i];
    } else {
        rc = not_carried(r, obj, "deferrability of its foreign keys (%zu declared, %zu read)",
                         nrefs, obj->nrelations);
    }
    if (!rc && nchecks)
        rc = not_carried(r, obj, "%zu CHECK constraint%s", nchecks, nchecks > 1 ? "s" : "");
    free(defer);
    return rc;
}

/* The module of virtual table name ("fts5"), copied into out. */
static void vtab_module(reader_t *r, const char *name, char *out, size_t size)
{
    const char *sql = table_sql(r, name), *p = sql;
    tok_t t;

    snprintf(out, size, "unknown module");
    for (tok_next(&p, &t); sql && t.kind != TK_END; tok_next(&p, &t)) {
        if (tok_is(&t, "USING")) {
            tok_next(&p, &t);
            if (t.kind == TK_WORD || t.kind == TK_NAME)
                snprintf(out, size, "%.*s", (int)(t.n > 64 ? 64 : t.n), t.p);
            return;
        }
    }
}

/* Records why table name (of pragma_table_list type type) is no object. */
static int exclude(reader_t *r, ferry_objset_t *set, const strv_t *names, const char *types,
                   const char *name, char type)
{
    char why[1024], module[80];
    const char *owner = NULL;

    if (!strcasecmp(name, "sqlite_schema") || !strcasecmp(name, "sqlite_temp_schema"))
        return FERRY_OK; /* the catalog itself */
    if (type == 'v') {
        vtab_module(r, name, module, sizeof(module));
        snprintf(why, sizeof(why),
                 "\"%.200s\" is a virtual table (%s): its rows live in the module's own shadow "
                 "tables, which ferry does not copy; create it in the target and rebuild it "
                 "from the exported tables there", name, module);
    } else if (type == 's') {
        for (size_t i = 0; i < names->n; i++) {
            size_t len = strlen(names->v[i]);
            if (types[i] == 'v' && !strncasecmp(name, names->v[i], len) && name[len] == '_' &&
                (!owner || len > strlen(owner)))
                owner = names->v[i];
        }
        if (owner)
            vtab_module(r, owner, module, sizeof(module));
        snprintf(why, sizeof(why),
                 "\"%.200s\" is a shadow table of virtual table \"%.200s\" (%s): the module "
                 "alone writes it, so it is never exported", name, owner ? owner : "?",
                 owner ? module : "unknown module");
    } else if (!strcasecmp(name, "sqlite_sequence")) {
        snprintf(why, sizeof(why),
                 "sqlite_sequence is SQLite's internal table of AUTOINCREMENT counters: SQLite "
                 "keeps it itself, and the target keeps its own");
    } else if (!strncasecmp(name, "sqlite_", 7)) {
        snprintf(why, sizeof(why), "\"%.200s\" is one of SQLite's internal tables", name);
    } else {
        snprintf(why, sizeof(why), "\"%.200s\" is ferry's own bookkeeping, never exported", name);
    }
    if (ferry_objset_add_excluded(set, name, why))
        return ferry_errf(r->errstr, r->errstr_size, FERRY_ENOMEM,
                          "reading table \"%s\": out of memory", name);
    return FERRY_OK;
}

int ferry_sqlite_meta_read(sqlite3 *db, ferry_objset_t **out, char *errstr, size_t errstr_size)
{
    reader_t r = {.db = db, .errstr = errstr, .errstr_size = errstr_size};
    ferry_objset_t *set = ferry_objset_new();
    strv_t names = {0};
    char *types = NULL; /* per name: 't' table, 'v' virtual, 's' shadow */
    int *wr = NULL;
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

    st = r.st[ST_TABLES];
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 2);
        char *t2 = realloc(types, names.n + 1);
        int *w2 = realloc(wr, (names.n + 1) * sizeof(*wr));
        if (t2)
            types = t2;
        if (w2)
            wr = w2;
        if (!t2 || !w2 || strv_push(&names, sqlite3_column_text(st, 0))) {
            rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "listing tables: out of memory");
            goto out;
        }
        types[names.n - 1] = type ? type[0] : 't';
        wr[names.n - 1] = sqlite3_column_int(st, 1);
    }
    if (step != SQLITE_DONE) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ESTORE, "listing tables: %s",
                        sqlite3_errmsg(db));
        goto out;
    }
    /* All objects first, so that foreign keys can resolve their targets. */
    for (size_t i = 0; i < names.n; i++) {
        ferry_object_t *obj;
        if (types[i] != 't' || ferry_name_reserved(names.v[i])) {
            if ((rc = exclude(&r, set, &names, types, names.v[i], types[i])))
                goto out;
            continue;
        }
        if (!(obj = ferry_objset_add(set, names.v[i]))) {
            rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                            "reading table \"%s\": out of memory", names.v[i]);
            goto out;
        }
        obj->without_rowid = wr[i];
    }

    for (size_t i = 0; i < ferry_objset_count(set); i++) {
        /* The set hands out const objects for reading; this reader built them. */
        ferry_object_t *obj = (ferry_object_t *)ferry_objset_at(set, i);
        if ((rc = read_columns(&r, obj)) || (rc = read_indexes(&r, obj)) ||
            (rc = read_fks(&r, set, obj)) || (rc = read_table_sql(&r, obj)))
            goto out;
    }
    *out = set;
    set = NULL;
out:
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(r.st[i]);
    strv_clear(&names);
    free(types);
    free(wr);
    ferry_objset_destroy(set);
    return rc;
}

/* ---- metadata of another dialect, declared for SQLite ---- */

static int starts_ci(const char *s, const char *prefix)
{
    return !strncasecmp(s, prefix, strlen(prefix));
}

/* Numeric precisions up to which SQLite's numeric affinity keeps every value
 * (it converts text to a REAL, which holds 15 significant digits). */
#define SQLITE_EXACT_DIGITS 15

const char *ferry_sqlite_decl_of(const ferry_field_t *f, char *buf, size_t size)
{
    const char *d = f->decl_type;
    int p = f->length, s = f->scale;

    switch (f->type) {
    case FERRY_T_INTEGER: return "INTEGER";
    case FERRY_T_REAL: return "REAL";
    case FERRY_T_BOOLEAN: return "BOOLEAN";
    case FERRY_T_BLOB: return "BLOB";
    case FERRY_T_TEXT:
        if (p > 0 && (starts_ci(d, "character varying") || starts_ci(d, "varchar")))
            snprintf(buf, size, "VARCHAR(%d)", p);
        else if (p > 0 && (starts_ci(d, "character") || starts_ci(d, "char") ||
                           starts_ci(d, "bpchar")))
            snprintf(buf, size, "CHAR(%d)", p);
        else
            snprintf(buf, size, "TEXT");
        return buf;
    case FERRY_T_NUMERIC:
    case FERRY_T_DECIMAL:
        if (p < 1 || s < 0 || s > p)
            snprintf(buf, size, "NUMERIC TEXT");
        else if (p <= SQLITE_EXACT_DIGITS)
            snprintf(buf, size, "NUMERIC(%d,%d)", p, s);
        else
            snprintf(buf, size, "NUMERIC TEXT(%d,%d)", p, s);
        return buf;
    case FERRY_T_DATE:
    case FERRY_T_DAY: return "DATE TEXT";
    case FERRY_T_TIMESTAMP:
    case FERRY_T_DATETIME: return "TIMESTAMP TEXT";
    case FERRY_T_TIME: return "TIME TEXT";
    case FERRY_T_TIMESTAMPTZ: return "TIMESTAMPTZ TEXT";
    case FERRY_T_UUID: return "UUID TEXT";
    case FERRY_T_JSON: return !strcasecmp(d, "jsonb") ? "JSONB TEXT" : "JSON TEXT";
    case FERRY_T_ENUM: return "ENUM TEXT";
    case FERRY_T_ARRAY: return "ARRAY TEXT";
    case FERRY_T_INTERVAL: return "TEXT";
    case FERRY_T_ANY:
    default: return "";
    }
}

/* The default of a PostgreSQL field as SQLite would evaluate it to the same
 * value, into buf (as long as d), or NULL: a quoted literal (its "::type"
 * cast dropped), a number (PostgreSQL puts a negative one in parentheses),
 * true, false or NULL. A BLOB's quoted default would be text: left out. */
static const char *sqlite_default_of(const ferry_field_t *f, char *buf)
{
    const char *d = f->default_sql, *p;
    size_t n;

    if (!d)
        return NULL;
    if (*d == '\'') {
        for (p = d + 1; *p; p++) {
            if (*p == '\'' && p[1] == '\'')
                p++;
            else if (*p == '\'')
                break;
        }
        if (*p != '\'' || f->type == FERRY_T_BLOB || (p[1] && strncmp(p + 1, "::", 2)))
            return NULL;
        n = (size_t)(p + 1 - d);
        memcpy(buf, d, n);
        buf[n] = '\0';
        return buf;
    }
    if (!strcasecmp(d, "true") || !strcasecmp(d, "false"))
        return !strcasecmp(d, "true") ? "TRUE" : "FALSE";
    if (!strcasecmp(d, "NULL") || starts_ci(d, "NULL::"))
        return "NULL";
    n = strlen(d);
    if (*d == '(' && n > 2 && d[n - 1] == ')') {
        d++;
        n -= 2;
    }
    for (p = d + (*d == '-'); p < d + n && (isdigit((unsigned char)*p) || *p == '.'); p++)
        ;
    if (p != d + n || n == 0 || !isdigit((unsigned char)d[*d == '-']))
        return NULL;
    memcpy(buf, d, n);
    buf[n] = '\0';
    return buf;
}

int ferry_sqlite_meta_declare(const ferry_object_t *obj, ferry_objset_t **set,
                              const ferry_object_t **out, char *errstr, size_t errstr_size)
{
    ferry_object_t *o = NULL;
    char decl[48], *def = NULL;
    int rc = FERRY_ENOMEM;

    *set = NULL;
    *out = obj;
    if (obj->dialect == FERRY_DIALECT_SQLITE)
        return FERRY_OK;
    if (!(*set = ferry_objset_new()) || !(o = ferry_objset_add(*set, obj->name)))
        goto fail;
    for (size_t i = 0; i < obj->nfields; i++) {
        const ferry_field_t *f = &obj->fields[i];
        const char *d;
        free(def);
        if (!(def = malloc(f->default_sql ? strlen(f->default_sql) + 1 : 1)))
            goto fail;
        d = sqlite_default_of(f, def);
        if (ferry_object_add_field(o, f->name, ferry_sqlite_decl_of(f, decl, sizeof(decl)),
                                   f->nullable, d, f->pk_pos))
            goto fail;
    }
    for (size_t i = 0; i < obj->nuniques; i++)
        if (ferry_object_add_unique(o, (const char *const *)obj->uniques[i].fields,
                                    obj->uniques[i].nfields))
            goto fail;
    for (size_t i = 0; i < obj->nrelations; i++) {
        const ferry_relation_t *r = &obj->relations[i];
        if (ferry_object_add_relation(o, r->target, (const char *const *)r->fields,
                                      (const char *const *)r->to_fields, r->nfields, r->kind,
                                      r->on_delete))
            goto fail;
        o->relations[i].deferrable = r->deferrable;
    }
    for (size_t i = 0; i < obj->nindexes; i++) {
        const ferry_index_t *x = &obj->indexes[i];
        const char **names = calloc(x->ncols + 1, sizeof(*names));
        int *desc = calloc(x->ncols + 1, sizeof(*desc));
        int bad = !names || !desc;
        for (size_t k = 0; !bad && k < x->ncols; k++) {
            names[k] = x->cols[k].name;
            desc[k] = x->cols[k].desc;
        }
        bad = bad || ferry_object_add_index(o, x->name, x->unique, names, desc, NULL, x->ncols);
        free(names);
        free(desc);
        if (bad)
            goto fail;
    }
    for (size_t i = 0; i < obj->nnot_carried; i++)
        if (ferry_object_add_not_carried(o, obj->not_carried[i]))
            goto fail;
    free(def);
    *out = o;
    return FERRY_OK;
fail:
    free(def);
    ferry_objset_destroy(*set);
    *set = NULL;
    *out = NULL;
    return ferry_errf(errstr, errstr_size, rc, "object '%s': out of memory", obj->name);
}
