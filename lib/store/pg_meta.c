/* pg_meta.c - the PostgreSQL store's catalog: the metadata of the tables of
 * the environment's schema, read from pg_class, pg_attribute, pg_type,
 * pg_attrdef, pg_constraint, pg_index, pg_enum and pg_depend by five queries
 * over the whole schema (not a round trip per table), every name a
 * parameter.
 *
 * Objects: ordinary and partitioned tables (relkind r, p). A partition is
 * read through its partitioned table and is not listed on its own; views,
 * materialized views and foreign tables are excluded objects with the
 * reason, and so are tables whose name is reserved for ferry (meta.h).
 *
 * Type mapping (PostgreSQL type -> ferry type; length and scale from the
 * type modifier):
 *
 *   smallint, integer, bigint          integer
 *   real, double precision             real
 *   numeric                            numeric       numeric(p,s) -> p, s
 *   text, varchar, char                text          varchar(n), char(n) -> n
 *   boolean                            boolean
 *   bytea                              blob
 *   date                               day
 *   time (without time zone)           time          time(p) -> p
 *   timestamp                          datetime      timestamp(p) -> p
 *   timestamptz                        timestamptz   timestamptz(p) -> p
 *   uuid                               uuid
 *   interval                           interval
 *   json, jsonb                        json
 *   an enum type                       enum          its labels, in order
 *   a one-dimensional array of those   array         as its element
 *
 * Any other type (money, point, inet, xml, ranges, domains, composite types,
 * arrays declared with more dimensions...) is described as it is, flagged
 * uncarriable: an export of its table fails naming table.column and type.
 *
 * decl_type is format_type()'s text ("character varying(80)", "integer[]"),
 * except for enums and arrays of them: the type's bare name ("mood",
 * "mood[]"), since the target creates the type in its own schema.
 *
 * Defaults: only literals are carried (a quoted string with an optional
 * cast, a number, true, false, NULL), as pg_get_expr() prints them. A
 * column's default nextval() of a sequence the column owns makes it
 * serial-style (FERRY_IDENTITY_SERIAL, no default); identity columns are
 * FERRY_IDENTITY_ALWAYS / BY_DEFAULT. Any other default, a non-default
 * collation, a generated column, CHECK and exclusion constraints, foreign
 * keys to other schemas, and indexes that are not plain (expressions,
 * predicates, INCLUDE columns, another access method than btree) are
 * described in not_carried. */
#include "pg_impl.h"

#include "error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Built-in type oids (pg_type.dat; fixed across versions). */
enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23,
    OID_TEXT = 25, OID_JSON = 114, OID_FLOAT4 = 700, OID_FLOAT8 = 701,
    OID_BPCHAR = 1042, OID_VARCHAR = 1043, OID_DATE = 1082, OID_TIME = 1083,
    OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_INTERVAL = 1186, OID_NUMERIC = 1700,
    OID_UUID = 2950, OID_JSONB = 3802,
};

/* The ferry type of a built-in scalar type, or -1 when ferry cannot carry it. */
static int scalar_type(unsigned long oid)
{
    switch (oid) {
    case OID_INT2: case OID_INT4: case OID_INT8: return FERRY_T_INTEGER;
    case OID_FLOAT4: case OID_FLOAT8: return FERRY_T_REAL;
    case OID_NUMERIC: return FERRY_T_NUMERIC;
    case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: return FERRY_T_TEXT;
    case OID_BOOL: return FERRY_T_BOOLEAN;
    case OID_BYTEA: return FERRY_T_BLOB;
    case OID_DATE: return FERRY_T_DAY;
    case OID_TIME: return FERRY_T_TIME;
    case OID_TIMESTAMP: return FERRY_T_DATETIME;
    case OID_TIMESTAMPTZ: return FERRY_T_TIMESTAMPTZ;
    case OID_UUID: return FERRY_T_UUID;
    case OID_INTERVAL: return FERRY_T_INTERVAL;
    case OID_JSON: case OID_JSONB: return FERRY_T_JSON;
    default: return -1;
    }
}

/* Length and scale of a type modifier of type oid (pg_type's typmodout
 * conventions: VARHDRSZ added for char types and numeric). */
static void typmod_params(unsigned long oid, long typmod, int *length, int *scale)
{
    *length = *scale = 0;
    if (typmod < 0)
        return;
    switch (oid) {
    case OID_VARCHAR:
    case OID_BPCHAR:
        if (typmod >= 4)
            *length = (int)(typmod - 4);
        break;
    case OID_NUMERIC:
        if (typmod >= 4) {
            *length = (int)(((typmod - 4) >> 16) & 0xffff);
            *scale = (int)((((typmod - 4) & 0x7ff) ^ 1024) - 1024); /* 11 bits, signed */
        }
        break;
    case OID_TIME:
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
        *length = (int)typmod;
        break;
    default:
        break;
    }
}

/* 1 when expr (as pg_get_expr prints it) is a literal: 'text' or a number,
 * true, false or NULL, each with an optional ::type cast. */
static int is_literal(const char *e)
{
    const char *p = e;

    if (*p == '\'') {
        for (p++; *p; p++)
            if (*p == '\'' && p[1] == '\'')
                p++;
            else if (*p == '\'')
                break;
        if (*p != '\'')
            return 0;
        p++;
    } else if (!strncmp(p, "true", 4) || !strncmp(p, "NULL", 4)) {
        p += 4;
    } else if (!strncmp(p, "false", 5)) {
        p += 5;
    } else {
        if (*p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p) || *p == '.')
            p++;
        if (*p == 'e' || *p == 'E') {
            p++;
            if (*p == '+' || *p == '-')
                p++;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    if (!*p)
        return 1;
    if (strncmp(p, "::", 2))
        return 0;
    /* a type name: letters, digits, spaces, quotes, dots, brackets and a
     * modifier; no operator, no string, no call */
    for (p += 2; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(" _.\"[](),", *p))
            return 0;
    return 1;
}

/* Cuts the cast off a quoted literal ('x'::public.mood -> 'x'). */
static void strip_cast(char *lit)
{
    char *p = lit + 1;

    for (; *p; p++)
        if (*p == '\'' && p[1] == '\'')
            p++;
        else if (*p == '\'')
            break;
    if (*p == '\'')
        p[1] = '\0';
}

/* The objects being built, by table oid (sorted for bsearch). */
typedef struct table_ref {
    unsigned long oid;
    ferry_object_t *obj;
} table_ref_t;

/* A field whose enum labels are read later. */
typedef struct enum_ref {
    unsigned long typid;
    ferry_object_t *obj;
    size_t field;
} enum_ref_t;

typedef struct meta_read {
    pg_store_t *s;
    const char *only;
    ferry_objset_t *set;
    table_ref_t *tables;
    size_t ntables;
    enum_ref_t *enums;
    size_t nenums, capenums;
    char *errstr;
    size_t errstr_size;
} meta_read_t;

static int ref_cmp(const void *a, const void *b)
{
    unsigned long x = ((const table_ref_t *)a)->oid, y = ((const table_ref_t *)b)->oid;
    return x < y ? -1 : x > y;
}

static ferry_object_t *table_of(const meta_read_t *m, const char *oid_text)
{
    table_ref_t key = {strtoul(oid_text, NULL, 10), NULL}, *t;

    t = bsearch(&key, m->tables, m->ntables, sizeof(*t), ref_cmp);
    return t ? t->obj : NULL;
}

static int oom(meta_read_t *m)
{
    return ferry_errf(m->errstr, m->errstr_size, FERRY_ENOMEM,
                      "store %s: reading the catalog: out of memory", m->s->name);
}

/* Runs a catalog query with $1 the schema and $2 the one table (or NULL). */
static int query(meta_read_t *m, const char *sql, const char *what, PGresult **res)
{
    const char *params[2] = {m->s->schema, m->only};
    int rc;

    *res = PQexecParams(m->s->conn, sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*res) == PGRES_TUPLES_OK)
        return FERRY_OK;
    rc = ferry_pg_error(m->s, *res, what, m->errstr, m->errstr_size);
    PQclear(*res);
    *res = NULL;
    return rc;
}

#define V(r, c) PQgetvalue(res, (r), (c))
#define IS_NULL(r, c) PQgetisnull(res, (r), (c))
#define TRUE_AT(r, c) (V(r, c)[0] == 't')

/* Which relations of the schema are objects (the rest: excluded). */
#define SELECT_RELATIONS \
    "SELECT c.oid, c.relname, c.relkind, c.relispartition, " \
    "  (SELECT p.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p " \
    "   ON p.oid = i.inhparent WHERE i.inhrelid = c.oid LIMIT 1) " \
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
    "WHERE n.nspname = $1 AND ($2::text IS NULL OR c.relname = $2) " \
    "AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname"

/* The tables that are objects, as a FROM item "c" joined to its schema. */
#define OBJECT_TABLES \
    "pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
    "AND n.nspname = $1 AND ($2::text IS NULL OR c.relname = $2) " \
    "AND c.relkind IN ('r', 'p') AND NOT c.relispartition"

static int read_relations(meta_read_t *m)
{
    PGresult *res;
    int rc;

    if ((rc = query(m, SELECT_RELATIONS, "reading the tables", &res)))
        return rc;
    if (!(m->tables = calloc((size_t)PQntuples(res) + 1, sizeof(*m->tables)))) {
        PQclear(res);
        return oom(m);
    }
    for (int r = 0; r < PQntuples(res) && !rc; r++) {
        const char *name = V(r, 1), *why = NULL;
        char reason[512];
        char kind = V(r, 2)[0];

        if (kind == 'v')
            why = "a view, not a table";
        else if (kind == 'm')
            why = "a materialized view, not a table";
        else if (kind == 'f')
            why = "a foreign table: its rows live elsewhere";
        else if (TRUE_AT(r, 3)) {
            snprintf(reason, sizeof(reason),
                     "a partition of \"%s\": its rows are exported with that table",
                     IS_NULL(r, 4) ? "?" : V(r, 4));
            why = reason;
        } else if (ferry_name_reserved(name))
            why = "its name is reserved for ferry's bookkeeping";
        if (why) {
            if (ferry_objset_add_excluded(m->set, name, why))
                rc = oom(m);
            continue;
        }
        m->tables[m->ntables].oid = strtoul(V(r, 0), NULL, 10);
        if (!(m->tables[m->ntables].obj = ferry_objset_add(m->set, name)))
            rc = oom(m);
        else
            m->tables[m->ntables++].obj->dialect = FERRY_DIALECT_POSTGRESQL;
    }
    PQclear(res);
    qsort(m->tables, m->ntables, sizeof(*m->tables), ref_cmp);
    return rc;
}

static int note(meta_read_t *m, ferry_object_t *obj, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int note(meta_read_t *m, ferry_object_t *obj, const char *fmt, ...)
{
    char what[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return ferry_object_add_not_carried(obj, what) ? oom(m) : FERRY_OK;
}

#define SELECT_COLUMNS \
    "SELECT a.attrelid, a.attname, a.attnotnull, a.atttypmod, a.attndims, a.attidentity, " \
    "  a.attgenerated, t.oid, t.typtype, et.oid, et.typtype, " \
    "  CASE WHEN t.typtype = 'e' THEN pg_catalog.quote_ident(t.typname) " \
    "       WHEN et.typtype = 'e' THEN pg_catalog.quote_ident(et.typname) || '[]' " \
    "       ELSE pg_catalog.format_type(a.atttypid, a.atttypmod) END, " \
    "  pg_catalog.pg_get_expr(d.adbin, d.adrelid), " \
    "  EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep JOIN pg_catalog.pg_class sq " \
    "    ON sq.oid = dep.objid AND sq.relkind = 'S' " \
    "    WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass " \
    "    AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass " \
    "    AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'a'), " \
    "  a.attcollation <> t.typcollation " \
    "FROM " OBJECT_TABLES " " \
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 " \
    "  AND NOT a.attisdropped " \
    "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid " \
    "LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' " \
    "  AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc " \
    "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum " \
    "ORDER BY a.attrelid, a.attnum"

/* The ferry type of a column, or -1: scalar types, enums and
 * one-dimensional arrays of either. */
static int column_type(unsigned long typid, char typtype, unsigned long elemid, char elemtype,
                       int has_elem, int ndims)
{
    if (has_elem) {
        if (ndims > 1 || (scalar_type(elemid) < 0 && elemtype != 'e'))
            return -1;
        return FERRY_T_ARRAY;
    }
    if (typtype == 'e')
        return FERRY_T_ENUM;
    return typtype == 'b' ? scalar_type(typid) : -1;
}

static int read_columns(meta_read_t *m)
{
    PGresult *res;
    int rc;

    if ((rc = query(m, SELECT_COLUMNS, "reading the columns", &res)))
        return rc;
    for (int r = 0; r < PQntuples(res) && !rc; r++) {
        ferry_object_t *obj = table_of(m, V(r, 0));
        const char *name = V(r, 1), *def = IS_NULL(r, 12) ? NULL : V(r, 12);
        unsigned long typid = strtoul(V(r, 7), NULL, 10);
        unsigned long elemid = IS_NULL(r, 9) ? 0 : strtoul(V(r, 9), NULL, 10);
        char elemtype = IS_NULL(r, 10) ? 0 : V(r, 10)[0], ident = V(r, 5)[0];
        int type = column_type(typid, V(r, 8)[0], elemid, elemtype, !IS_NULL(r, 9),
                               atoi(V(r, 4)));
        int serial = !ident && def && !strncmp(def, "nextval(", 8) && TRUE_AT(r, 13);
        int literal = def && !serial && !V(r, 6)[0] && is_literal(def);
        ferry_field_t *f;

        if (!obj)
            continue;
        if (ferry_object_add_field(obj, name, V(r, 11), !TRUE_AT(r, 2),
                                   literal ? def : NULL, 0)) {
            rc = oom(m);
            break;
        }
        f = &obj->fields[obj->nfields - 1];
        if (literal && f->default_sql && f->default_sql[0] == '\'' &&
            (type == FERRY_T_ENUM || type == FERRY_T_ARRAY))
            strip_cast(f->default_sql); /* the cast names the type's schema */
        f->type = type < 0 ? FERRY_T_ANY : (ferry_type_t)type;
        f->uncarriable = type < 0;
        typmod_params(elemid ? elemid : typid, atol(V(r, 3)), &f->length, &f->scale);
        f->identity = ident == 'a'   ? FERRY_IDENTITY_ALWAYS
                      : ident == 'd' ? FERRY_IDENTITY_BY_DEFAULT
                      : serial       ? FERRY_IDENTITY_SERIAL
                                     : FERRY_IDENTITY_NONE;
        if (type == FERRY_T_ENUM || (type == FERRY_T_ARRAY && elemtype == 'e')) {
            if (m->nenums == m->capenums) {
                size_t cap = m->capenums ? 2 * m->capenums : 16;
                enum_ref_t *e = realloc(m->enums, cap * sizeof(*e));
                if (!e) {
                    rc = oom(m);
                    break;
                }
                m->enums = e;
                m->capenums = cap;
            }
            m->enums[m->nenums++] = (enum_ref_t){type == FERRY_T_ENUM ? typid : elemid, obj,
                                                 obj->nfields - 1};
        }
        if (V(r, 6)[0])
            rc = note(m, obj, "generated column \"%s\" (AS %s)", name, def ? def : "?");
        else if (def && !literal && !serial)
            rc = note(m, obj, "default of column \"%s\": %s", name, def);
        if (!rc && TRUE_AT(r, 14))
            rc = note(m, obj, "collation of column \"%s\"", name);
    }
    PQclear(res);
    return rc;
}

static int enum_cmp(const void *a, const void *b)
{
    unsigned long x = ((const enum_ref_t *)a)->typid, y = ((const enum_ref_t *)b)->typid;
    return x < y ? -1 : x > y;
}

/* Labels of every enum type a column uses, in their order. */
static int read_enum_labels(meta_read_t *m)
{
    PGresult *res;
    const char **labels = NULL;
    int rc, start = 0;

    if (!m->nenums)
        return FERRY_OK;
    if ((rc = query(m,
                    "SELECT e.enumtypid, e.enumlabel FROM pg_catalog.pg_enum e WHERE "
                    "e.enumtypid IN (SELECT CASE WHEN t.typtype = 'e' THEN t.oid "
                    "ELSE t.typelem END FROM " OBJECT_TABLES
                    " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
                    "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid) "
                    "ORDER BY e.enumtypid, e.enumsortorder",
                    "reading enum labels", &res)))
        return rc;
    qsort(m->enums, m->nenums, sizeof(*m->enums), enum_cmp);
    if (!(labels = calloc((size_t)PQntuples(res) + 1, sizeof(*labels)))) {
        PQclear(res);
        return oom(m);
    }
    for (int r = 0; r < PQntuples(res); r++)
        labels[r] = V(r, 1);
    /* one run of rows per type: give it to every field of that type */
    for (int r = 1; r <= PQntuples(res) && !rc; r++) {
        if (r < PQntuples(res) && !strcmp(V(r, 0), V(start, 0)))
            continue;
        enum_ref_t key = {strtoul(V(start, 0), NULL, 10), NULL, 0};
        for (size_t i = 0; i < m->nenums && !rc; i++)
            if (!enum_cmp(&m->enums[i], &key) &&
                ferry_field_set_labels(&m->enums[i].obj->fields[m->enums[i].field],
                                       labels + start, (size_t)(r - start)))
                rc = oom(m);
        start = r;
    }
    free(labels);
    PQclear(res);
    return rc;
}

/* One row per key column of each constraint (a CHECK on no column: one row
 * with NULL columns). */
#define SELECT_CONSTRAINTS \
    "SELECT con.oid, con.conrelid, con.conname, con.contype, a.attname, fa.attname, " \
    "  fc.relname, fn.nspname, con.confdeltype, con.condeferrable, con.condeferred, " \
    "  pg_catalog.pg_get_constraintdef(con.oid) " \
    "FROM " OBJECT_TABLES " " \
    "JOIN pg_catalog.pg_constraint con ON con.conrelid = c.oid " \
    "LEFT JOIN LATERAL unnest(con.conkey, COALESCE(con.confkey, con.conkey)) " \
    "  WITH ORDINALITY AS k(attnum, fattnum, pos) ON true " \
    "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum " \
    "LEFT JOIN pg_catalog.pg_attribute fa ON fa.attrelid = con.confrelid " \
    "  AND fa.attnum = k.fattnum " \
    "LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid " \
    "LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace " \
    "ORDER BY con.conrelid, con.contype, con.conname, con.oid, k.pos"

static const char *on_delete_name(char action)
{
    switch (action) {
    case 'c': return "CASCADE";
    case 'n': return "SET NULL";
    case 'd': return "SET DEFAULT";
    case 'r': return "RESTRICT";
    default: return "NO ACTION";
    }
}

/* Rows [first, end) of res: one constraint of obj. */
static int add_constraint(meta_read_t *m, ferry_object_t *obj, PGresult *res, int first,
                          int end)
{
    const char *name = V(first, 2);
    char type = V(first, 3)[0];
    const char **cols = calloc((size_t)(end - first) * 2 + 1, sizeof(*cols)), **to;
    size_t n = 0;
    int rc = FERRY_OK;

    if (!cols)
        return oom(m);
    to = cols + (end - first);
    for (int r = first; r < end; r++)
        if (!IS_NULL(r, 4)) {
            cols[n] = V(r, 4);
            to[n++] = IS_NULL(r, 5) ? NULL : V(r, 5);
        }
    if (type == 'p') {
        for (size_t k = 0; k < n; k++) {
            int i = ferry_object_field_index(obj, cols[k]);
            if (i >= 0)
                obj->fields[i].pk_pos = (int)k + 1;
        }
    } else if (type == 'u') {
        if (ferry_object_add_unique(obj, cols, n))
            rc = oom(m);
    } else if (type == 'f' && !IS_NULL(first, 7) && !strcmp(V(first, 7), m->s->schema)) {
        char action = V(first, 8)[0];
        if (ferry_object_add_relation(obj, V(first, 6), cols, to, n,
                                      action == 'c' ? FERRY_REL_INCLUDE : FERRY_REL_ASSOCIATION,
                                      on_delete_name(action)))
            rc = oom(m);
        else
            obj->relations[obj->nrelations - 1].deferrable =
                !TRUE_AT(first, 9)    ? FERRY_DEFER_NONE
                : TRUE_AT(first, 10) ? FERRY_DEFER_DEFERRED
                                     : FERRY_DEFER_IMMEDIATE;
    } else if (type == 'n') {
        /* a NOT NULL constraint (PostgreSQL 18): the column's nullable says it */
    } else if (type == 'f') {
        rc = note(m, obj, "foreign key \"%s\" to a table of another schema (%s)", name,
                  V(first, 11));
    } else {
        rc = note(m, obj, "constraint \"%s\": %s", name, V(first, 11));
    }
    free(cols);
    return rc;
}

/* Runs sql, whose rows come in runs of one constraint or index (column 0
 * its oid, column 1 its table's), and hands each run of an object to add. */
static int read_runs(meta_read_t *m, const char *sql, const char *what,
                     int (*add)(meta_read_t *m, ferry_object_t *obj, PGresult *res, int first,
                                int end))
{
    PGresult *res;
    int rc, first = 0;

    if ((rc = query(m, sql, what, &res)))
        return rc;
    for (int r = 1; r <= PQntuples(res) && !rc; r++) {
        ferry_object_t *obj;

        if (r < PQntuples(res) && !strcmp(V(r, 0), V(first, 0)))
            continue;
        if ((obj = table_of(m, V(first, 1))))
            rc = add(m, obj, res, first, r);
        first = r;
    }
    PQclear(res);
    return rc;
}

/* One row per key column of each index that is no constraint's. */
#define SELECT_INDEXES \
    "SELECT i.indexrelid, i.indrelid, ic.relname, i.indisunique, am.amname, " \
    "  i.indexprs IS NOT NULL, i.indpred IS NOT NULL, i.indnkeyatts < i.indnatts, " \
    "  a.attname, (i.indoption[k.pos - 1] & 1) = 1, " \
    "  i.indcollation[k.pos - 1] <> COALESCE(a.attcollation, 0) " \
    "FROM " OBJECT_TABLES " " \
    "JOIN pg_catalog.pg_index i ON i.indrelid = c.oid " \
    "JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid " \
    "JOIN pg_catalog.pg_am am ON am.oid = ic.relam " \
    "LEFT JOIN LATERAL unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, pos) " \
    "  ON k.pos <= i.indnkeyatts " \
    "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum " \
    "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint x WHERE x.conindid = " \
    "  i.indexrelid AND x.conrelid = i.indrelid AND x.contype IN ('p', 'u', 'x')) " \
    "ORDER BY i.indrelid, ic.relname, i.indexrelid, k.pos"

static int add_index(meta_read_t *m, ferry_object_t *obj, PGresult *res, int first, int end)
{
    const char *name = V(first, 2), *why = NULL;
    const char **cols = calloc((size_t)(end - first) + 1, sizeof(*cols));
    int *desc = calloc((size_t)(end - first) + 1, sizeof(*desc));
    size_t n = 0;
    int rc = FERRY_OK;

    if (!cols || !desc) {
        free(cols);
        free(desc);
        return oom(m);
    }
    if (TRUE_AT(first, 5))
        why = "expression index";
    else if (TRUE_AT(first, 6))
        why = "partial index";
    else if (TRUE_AT(first, 7))
        why = "index with INCLUDE columns";
    else if (strcmp(V(first, 4), "btree"))
        why = "index of another method than btree";
    for (int r = first; r < end && !why; r++) {
        if (IS_NULL(r, 8))
            why = "expression index";
        else if (TRUE_AT(r, 10))
            why = "index with a collation of its own";
        else {
            desc[n] = TRUE_AT(r, 9);
            cols[n++] = V(r, 8);
        }
    }
    if (why)
        rc = note(m, obj, "%s \"%s\"", why, name);
    else if (ferry_object_add_index(obj, name, TRUE_AT(first, 3), cols, desc, NULL, n))
        rc = oom(m);
    free(cols);
    free(desc);
    return rc;
}

int ferry_pg_read_meta(pg_store_t *s, const char *only, ferry_objset_t **out, char *errstr,
                       size_t errstr_size)
{
    meta_read_t m = {.s = s, .only = only, .errstr = errstr, .errstr_size = errstr_size};
    int rc;

    *out = NULL;
    if ((rc = ferry_pg_ready(s, "reading the catalog", errstr, errstr_size)))
        return rc;
    if (!(m.set = ferry_objset_new()))
        return oom(&m);
    if (!(rc = read_relations(&m)) && m.ntables && !(rc = read_columns(&m)) &&
        !(rc = read_enum_labels(&m)) &&
        !(rc = read_runs(&m, SELECT_CONSTRAINTS, "reading the constraints", add_constraint)))
        rc = read_runs(&m, SELECT_INDEXES, "reading the indexes", add_index);
    free(m.tables);
    free(m.enums);
    if (rc) {
        ferry_objset_destroy(m.set);
        return rc;
    }
    *out = m.set;
    return FERRY_OK;
}
