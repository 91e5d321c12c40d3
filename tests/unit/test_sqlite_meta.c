/* test_sqlite_meta.c - reading the metadata of real SQLite schemas: each case
 * builds a schema in an in-memory database, reads it, and compares one table
 * (rendered as text, see describe()) and the list of objects read. */
#include "buf.h"
#include "error.h"
#include "meta.h"
#include "sqlite_meta.h"
#include "store.h"
#include "check_run.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "name DECL/type(len,scale) notnull pkN default D collate C; ... | unique(a,b) |
 *  fk(a,b) -> T(x,-) ON_DELETE kind [immediate|deferred] | without rowid |
 *  [unique ]index N(a desc NOCASE, b BINARY) | not carried: X" ("-": the
 *  target's key). */
static char *describe(const ferry_object_t *obj)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    char *s;

    for (size_t i = 0; i < obj->nfields; i++) {
        const ferry_field_t *f = &obj->fields[i];
        ferry_buf_printf(&b, "%s%s %s/%s", i ? "; " : "", f->name, f->decl_type,
                         ferry_type_name(f->type));
        if (f->length || f->scale)
            ferry_buf_printf(&b, "(%d,%d)", f->length, f->scale);
        if (!f->nullable)
            ferry_buf_puts(&b, " notnull");
        if (f->pk_pos)
            ferry_buf_printf(&b, " pk%d", f->pk_pos);
        if (f->default_sql)
            ferry_buf_printf(&b, " default %s", f->default_sql);
        if (f->collation)
            ferry_buf_printf(&b, " collate %s", f->collation);
    }
    for (size_t i = 0; i < obj->nuniques; i++) {
        ferry_buf_puts(&b, " | unique(");
        for (size_t j = 0; j < obj->uniques[i].nfields; j++)
            ferry_buf_printf(&b, "%s%s", j ? "," : "", obj->uniques[i].fields[j]);
        ferry_buf_puts(&b, ")");
    }
    for (size_t i = 0; i < obj->nrelations; i++) {
        const ferry_relation_t *r = &obj->relations[i];
        ferry_buf_puts(&b, " | fk(");
        for (size_t j = 0; j < r->nfields; j++)
            ferry_buf_printf(&b, "%s%s", j ? "," : "", r->fields[j]);
        ferry_buf_printf(&b, ") -> %s(", r->target);
        for (size_t j = 0; j < r->nfields; j++)
            ferry_buf_printf(&b, "%s%s", j ? "," : "", r->to_fields[j] ? r->to_fields[j] : "-");
        ferry_buf_printf(&b, ") %s %s", r->on_delete,
                         r->kind == FERRY_REL_INCLUDE ? "include" : "association");
        if (r->deferrable)
            ferry_buf_puts(&b, r->deferrable == FERRY_DEFER_DEFERRED ? " deferred" : " immediate");
    }
    if (obj->without_rowid)
        ferry_buf_puts(&b, " | without rowid");
    for (size_t i = 0; i < obj->nindexes; i++) {
        const ferry_index_t *x = &obj->indexes[i];
        ferry_buf_printf(&b, " | %sindex %s(", x->unique ? "unique " : "", x->name);
        for (size_t k = 0; k < x->ncols; k++)
            ferry_buf_printf(&b, "%s%s%s %s", k ? ", " : "", x->cols[k].name,
                             x->cols[k].desc ? " desc" : "",
                             x->cols[k].collation ? x->cols[k].collation : "-");
        ferry_buf_puts(&b, ")");
    }
    for (size_t i = 0; i < obj->nnot_carried; i++)
        ferry_buf_printf(&b, " | not carried: %s", obj->not_carried[i]);
    s = ferry_buf_strdup(&b);
    ferry_buf_free(&b);
    return s;
}

static const struct {
    const char *what, *sql, *table, *expect;
    const char *objects; /* every object read, in name order, "|"-separated */
} cases[] = {
    {"reserved words as table and column names",
     "CREATE TABLE \"order\"(\"group\" TEXT, \"select\" INTEGER PRIMARY KEY,"
     " \"from\" INT REFERENCES \"order\"(\"select\"))",
     "order",
     "group TEXT/text; select INTEGER/integer notnull pk1; from INT/integer"
     " | fk(from) -> order(select) NO ACTION association",
     "order"},
    {"quotes and spaces in names",
     "CREATE TABLE \"a \"\"b\"\" c\"(\"x y\" TEXT NOT NULL DEFAULT 'it''s', \"q\"\"t\" VARCHAR(5))",
     "a \"b\" c", "x y TEXT/text notnull default 'it''s'; q\"t VARCHAR(5)/text(5,0)",
     "a \"b\" c"},
    {"composite primary key in key order",
     "CREATE TABLE cp(a TEXT, b INT, c REAL, PRIMARY KEY (b, a))", "cp",
     "a TEXT/text pk2; b INT/integer pk1; c REAL/real", "cp"},
    {"WITHOUT ROWID", "CREATE TABLE wr(k TEXT PRIMARY KEY, v) WITHOUT ROWID", "wr",
     "k TEXT/text notnull pk1; v /any | without rowid", "wr"},
    {"columns without a declared type and their defaults",
     "CREATE TABLE u(a, b DEFAULT 5, c DEFAULT CURRENT_TIMESTAMP)", "u",
     "a /any; b /any default 5; c /any default CURRENT_TIMESTAMP", "u"},
    {"unicode names",
     "CREATE TABLE \"Ünïcødé 表\"(\"名前\" TEXT, \"prix €\" DECIMAL(10,2))", "Ünïcødé 表",
     "名前 TEXT/text; prix € DECIMAL(10,2)/decimal(10,2)", "Ünïcødé 表"},
    {"self reference to the implicit primary key",
     "CREATE TABLE node(id INTEGER PRIMARY KEY, parent INT REFERENCES node ON DELETE CASCADE)",
     "node", "id INTEGER/integer notnull pk1; parent INT/integer | fk(parent) -> node(-) CASCADE include",
     "node"},
    {"a hostile name is only ever a bound parameter",
     "CREATE TABLE t(id); CREATE TABLE \"x\"\"; DROP TABLE t; --\"(id INT PRIMARY KEY, t_id "
     "REFERENCES t)",
     "x\"; DROP TABLE t; --", "id INT/integer pk1; t_id /any | fk(t_id) -> t(-) NO ACTION association",
     "t|x\"; DROP TABLE t; --"},
    {"unique constraints stay uniques; unique and plain indexes are indexes; partial and "
     "expression ones are named as not carried",
     "CREATE TABLE uq(id INTEGER PRIMARY KEY, a TEXT, b TEXT, c INT, UNIQUE(a, b));"
     "CREATE UNIQUE INDEX uq_c ON uq(c); CREATE UNIQUE INDEX uq_expr ON uq(lower(a));"
     "CREATE UNIQUE INDEX uq_part ON uq(b) WHERE c > 0; CREATE INDEX uq_plain ON uq(b)",
     "uq", "id INTEGER/integer notnull pk1; a TEXT/text; b TEXT/text; c INT/integer"
     " | unique(a,b) | unique index uq_c(c BINARY) | index uq_plain(b BINARY)"
     " | not carried: unique index \"uq_expr\" on an expression"
     " | not carried: partial unique index \"uq_part\"",
     "uq"},
    {"indexes: order, collations, several columns, hostile names; other collations are not "
     "carried",
     "CREATE TABLE ix(id INTEGER PRIMARY KEY, a TEXT COLLATE NOCASE, b INT, c TEXT);"
     "CREATE INDEX \"x; DROP TABLE t; --\" ON ix(b DESC, a);"
     "CREATE UNIQUE INDEX \"a\"\"quote\" ON ix(c COLLATE RTRIM, b);"
     "CREATE INDEX ix_c ON ix(c COLLATE nocase DESC);"
     "CREATE INDEX ix_expr ON ix(b, b + 1)",
     "ix", "id INTEGER/integer notnull pk1; a TEXT/text collate NOCASE; b INT/integer; c TEXT/text"
     " | unique index a\"quote(c RTRIM, b BINARY) | index ix_c(c desc NOCASE)"
     " | index x; DROP TABLE t; --(b desc BINARY, a NOCASE)"
     " | not carried: index \"ix_expr\" on an expression",
     "ix"},
    {"deferrable foreign keys, as SQLite's parser attaches DEFERRABLE to the key before it",
     "CREATE TABLE p(id INTEGER PRIMARY KEY);"
     "CREATE TABLE c(id INTEGER PRIMARY KEY,"
     " a INT REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED,"
     " b INT CONSTRAINT \"REFERENCES x\" REFERENCES p ON DELETE SET NULL DEFERRABLE INITIALLY IMMEDIATE,"
     " d INT REFERENCES p NOT NULL DEFAULT 'DEFERRABLE' DEFERRABLE INITIALLY DEFERRED,"
     " e INT REFERENCES p NOT DEFERRABLE INITIALLY DEFERRED, -- REFERENCES p DEFERRABLE\n"
     " f INT /* REFERENCES q */ REFERENCES p DEFERRABLE,"
     " g INT, h INT,"
     " CONSTRAINT \"a\"\"quote\" FOREIGN KEY (g) REFERENCES p(id) ON UPDATE CASCADE MATCH FULL"
     "   DEFERRABLE INITIALLY DEFERRED,"
     " FOREIGN KEY (h) REFERENCES \"p\" ON DELETE CASCADE)",
     "c", "id INTEGER/integer notnull pk1; a INT/integer; b INT/integer;"
     " d INT/integer notnull default 'DEFERRABLE'; e INT/integer; f INT/integer; g INT/integer;"
     " h INT/integer"
     " | fk(a) -> p(id) NO ACTION association deferred"
     " | fk(b) -> p(-) SET NULL association immediate"
     " | fk(d) -> p(-) NO ACTION association deferred"
     " | fk(e) -> p(-) NO ACTION association"
     " | fk(f) -> p(-) NO ACTION association immediate"
     " | fk(g) -> p(id) NO ACTION association deferred"
     " | fk(h) -> p(-) CASCADE include",
     "c|p"},
    {"CHECK constraints, AUTOINCREMENT and other collations are named as not carried",
     "CREATE TABLE k(id INTEGER PRIMARY KEY AUTOINCREMENT, n TEXT CHECK (n <> 'CHECK'),"
     " \"check\" INT, m INT, CONSTRAINT \"x; DROP TABLE t; --\" CHECK (m > 0));"
     "CREATE TABLE nc(t TEXT COLLATE RTRIM)",
     "k", "id INTEGER/integer notnull pk1; n TEXT/text; check INT/integer; m INT/integer"
     " | not carried: AUTOINCREMENT of column \"id\" (the target numbers new rows from its own"
     " largest key) | not carried: 2 CHECK constraints",
     "k|nc"},
    {"foreign keys: composite, ON DELETE actions, declaration order, target spelling",
     "CREATE TABLE Parent(k1 TEXT, k2 INT, PRIMARY KEY(k1, k2));"
     "CREATE TABLE other(id INTEGER PRIMARY KEY);"
     "CREATE TABLE child(id INTEGER PRIMARY KEY, p1 TEXT, p2 INT, q INT,"
     " FOREIGN KEY (p1, p2) REFERENCES parent(k1, k2) ON DELETE CASCADE,"
     " FOREIGN KEY (q) REFERENCES OTHER ON DELETE SET NULL,"
     " FOREIGN KEY (q) REFERENCES missing(x))",
     "child", "id INTEGER/integer notnull pk1; p1 TEXT/text; p2 INT/integer; q INT/integer"
     " | fk(p1,p2) -> Parent(k1,k2) CASCADE include | fk(q) -> other(-) SET NULL association"
     " | fk(q) -> missing(x) NO ACTION association",
     "Parent|child|other"},
    {"generated columns are left out, and named",
     "CREATE TABLE g(a INT, b INT GENERATED ALWAYS AS (a * 2) VIRTUAL,"
     " c INT AS (a + 1) STORED, d TEXT)",
     "g", "a INT/integer; d TEXT/text | not carried: generated column \"b\""
     " | not carried: generated column \"c\"", "g"},
    {"ferry_ and sqlite_ tables, views and temp tables are not user objects",
     "CREATE TABLE ferry_applied(id); CREATE TABLE seq(id INTEGER PRIMARY KEY AUTOINCREMENT);"
     "CREATE VIEW v AS SELECT 1; CREATE TEMP TABLE tmp(x); CREATE TABLE ferryboat(a)",
     "seq", "id INTEGER/integer notnull pk1 | not carried: AUTOINCREMENT of column \"id\" (the"
     " target numbers new rows from its own largest key)", "ferryboat|seq"},
    /* Regression: SQLite names are case-insensitive, so is the reserved prefix. */
    {"ferry_ in any case is reserved",
     "CREATE TABLE FERRY_APPLIED(id); CREATE TABLE Ferry_Offsets(topic);"
     "CREATE TABLE fErRy_x(a); CREATE TABLE t(id)",
     "t", "id /any", "t"},
};

START_TEST(test_read_schema)
{
    sqlite3 *db;
    ferry_objset_t *set = NULL;
    const ferry_object_t *obj;
    ferry_buf_t names = FERRY_BUF_INIT;
    char err[256] = "", *names_s, *got;

    ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, cases[_i].sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s",
                  cases[_i].what, sqlite3_errmsg(db));
    ck_assert_msg(ferry_sqlite_meta_read(db, &set, err, sizeof(err)) == FERRY_OK, "%s: %s",
                  cases[_i].what, err);
    for (size_t i = 0; i < ferry_objset_count(set); i++)
        ferry_buf_printf(&names, "%s%s", i ? "|" : "", ferry_objset_at(set, i)->name);
    names_s = ferry_buf_strdup(&names);
    ck_assert_msg(!strcmp(names_s, cases[_i].objects), "%s: objects '%s', expected '%s'",
                  cases[_i].what, names_s, cases[_i].objects);
    obj = ferry_objset_find(set, cases[_i].table);
    ck_assert_msg(obj != NULL, "%s: table '%s' not read", cases[_i].what, cases[_i].table);
    got = describe(obj);
    ck_assert_msg(!strcmp(got, cases[_i].expect), "%s:\n got      '%s'\n expected '%s'",
                  cases[_i].what, got, cases[_i].expect);
    free(got);
    free(names_s);
    ferry_buf_free(&names);
    ferry_objset_destroy(set);
    sqlite3_close(db);
}
END_TEST

/* Tables that are no objects are kept apart, each with what it is. */
START_TEST(test_virtual_shadow_and_internal_tables_say_what_they_are)
{
    static const struct {
        const char *name, *reason;
    } want[] = {
        {"docs", "\"docs\" is a virtual table (fts5)"},
        {"DOCS_DATA", "\"docs_data\" is a shadow table of virtual table \"docs\" (fts5)"},
        {"docs_idx", "shadow table of virtual table \"docs\""},
        {"sqlite_sequence", "sqlite_sequence is SQLite's internal table of AUTOINCREMENT"},
        {"ferry_applied", "ferry's own bookkeeping"},
    };
    sqlite3 *db;
    ferry_objset_t *set = NULL;
    char err[256] = "";

    ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "CREATE VIRTUAL TABLE docs USING fts5(title, body);"
                                  "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT);"
                                  "CREATE TABLE ferry_applied(id)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_msg(ferry_sqlite_meta_read(db, &set, err, sizeof(err)) == FERRY_OK, "%s", err);
    ck_assert_uint_eq(ferry_objset_count(set), 1);
    ck_assert_str_eq(ferry_objset_at(set, 0)->name, "t");
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *reason = ferry_objset_excluded_reason(set, want[i].name);
        ck_assert_msg(reason && strstr(reason, want[i].reason), "%s: '%s'", want[i].name,
                      reason ? reason : "(none)");
    }
    ck_assert_ptr_null(ferry_objset_excluded_reason(set, "t"));
    ferry_objset_destroy(set);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_not_a_database_is_a_store_error)
{
    char path[] = "/tmp/ferry-test-notadb-XXXXXX", err[256] = "";
    int fd = mkstemp(path);
    sqlite3 *db;
    ferry_objset_t *set = NULL;

    ck_assert_int_ne(fd, -1);
    ck_assert_int_gt(write(fd, "this is not a database, just text long enough\n", 46), 0);
    close(fd);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK); /* SQLite opens lazily */
    ck_assert_int_eq(ferry_sqlite_meta_read(db, &set, err, sizeof(err)), FERRY_ESTORE);
    ck_assert_ptr_null(set);
    ck_assert_msg(strstr(err, "not a database") != NULL, "message: %s", err);
    sqlite3_close(db);
    unlink(path);
}
END_TEST

/* ---- PostgreSQL metadata declared for SQLite ----------------------------- */

/* Each PostgreSQL type's SQLite declaration, the ferry type SQLite's column
 * reads back as, and the default SQLite gets. */
static const struct {
    ferry_type_t type;
    const char *decl;
    int length, scale;
    const char *dflt;
    const char *expect; /* describe() of the declared field "c" */
} pg_decls[] = {
    {FERRY_T_INTEGER, "bigint", 0, 0, "nextval('t_c_seq'::regclass)", "c INTEGER/integer"},
    {FERRY_T_INTEGER, "integer", 0, 0, "(-1)", "c INTEGER/integer default -1"},
    {FERRY_T_INTEGER, "smallint", 0, 0, "'-1'::integer", "c INTEGER/integer default '-1'"},
    {FERRY_T_REAL, "double precision", 0, 0, "1.5", "c REAL/real default 1.5"},
    {FERRY_T_BOOLEAN, "boolean", 0, 0, "true", "c BOOLEAN/boolean default TRUE"},
    {FERRY_T_BLOB, "bytea", 0, 0, "'\\x00'::bytea", "c BLOB/blob"},
    {FERRY_T_TEXT, "text", 0, 0, "'it''s'::text", "c TEXT/text default 'it''s'"},
    {FERRY_T_TEXT, "character varying(80)", 80, 0, "NULL::character varying",
     "c VARCHAR(80)/text(80,0) default NULL"},
    {FERRY_T_TEXT, "character varying", 0, 0, NULL, "c TEXT/text"},
    {FERRY_T_TEXT, "character(5)", 5, 0, NULL, "c CHAR(5)/text(5,0)"},
    {FERRY_T_NUMERIC, "numeric(10,2)", 10, 2, "0.00", "c NUMERIC(10,2)/decimal(10,2) default 0.00"},
    {FERRY_T_NUMERIC, "numeric(15,0)", 15, 0, NULL, "c NUMERIC(15,0)/decimal(15,0)"},
    {FERRY_T_NUMERIC, "numeric(16,0)", 16, 0, NULL, "c NUMERIC TEXT(16,0)/decimal(16,0)"},
    {FERRY_T_NUMERIC, "numeric(40,10)", 40, 10, NULL, "c NUMERIC TEXT(40,10)/decimal(40,10)"},
    {FERRY_T_NUMERIC, "numeric", 0, 0, NULL, "c NUMERIC TEXT/decimal"},
    {FERRY_T_NUMERIC, "numeric(3,5)", 3, 5, NULL, "c NUMERIC TEXT/decimal"},
    {FERRY_T_DAY, "date", 0, 0, "CURRENT_DATE", "c DATE TEXT/date"},
    {FERRY_T_DAY, "date", 0, 0, "'2024-01-01'::date", "c DATE TEXT/date default '2024-01-01'"},
    {FERRY_T_TIME, "time without time zone", 0, 0, NULL, "c TIME TEXT/text"},
    {FERRY_T_DATETIME, "timestamp(3) without time zone", 3, 0, "now()",
     "c TIMESTAMP TEXT/timestamp"},
    {FERRY_T_TIMESTAMPTZ, "timestamp with time zone", 0, 0, "CURRENT_TIMESTAMP",
     "c TIMESTAMPTZ TEXT/text"},
    {FERRY_T_UUID, "uuid", 0, 0, "gen_random_uuid()", "c UUID TEXT/text"},
    {FERRY_T_INTERVAL, "interval", 0, 0, "'1 day'::interval", "c TEXT/text default '1 day'"},
    {FERRY_T_JSON, "json", 0, 0, NULL, "c JSON TEXT/text"},
    {FERRY_T_JSON, "jsonb", 0, 0, "'{}'::jsonb", "c JSONB TEXT/text default '{}'"},
    {FERRY_T_ENUM, "mood", 0, 0, "'happy'::mood", "c ENUM TEXT/text default 'happy'"},
    {FERRY_T_ARRAY, "integer[]", 0, 0, "'{1,2}'::integer[]", "c ARRAY TEXT/text default '{1,2}'"},
    {FERRY_T_TEXT, "text", 0, 0, "('a'::text || 'b'::text)", "c TEXT/text"},
    {FERRY_T_INTEGER, "integer", 0, 0, "(1 + 2)", "c INTEGER/integer"},
};

START_TEST(test_pg_declared_for_sqlite)
{
    ferry_objset_t *set = ferry_objset_new(), *declared = NULL;
    ferry_object_t *obj = ferry_objset_add(set, "t");
    const ferry_object_t *out = NULL;
    char err[256] = "", *got;

    obj->dialect = FERRY_DIALECT_POSTGRESQL;
    ck_assert_int_eq(ferry_object_add_field(obj, "c", pg_decls[_i].decl, 1, pg_decls[_i].dflt, 0),
                     0);
    obj->fields[0].type = pg_decls[_i].type;
    obj->fields[0].length = pg_decls[_i].length;
    obj->fields[0].scale = pg_decls[_i].scale;
    ck_assert_int_eq(ferry_object_set_collation(&obj->fields[0], "NOCASE"), 0);
    ck_assert_int_eq(ferry_sqlite_meta_declare(obj, &declared, &out, err, sizeof(err)), 0);
    ck_assert_ptr_ne(out, obj);
    ck_assert_int_eq(out->dialect, FERRY_DIALECT_SQLITE);
    got = describe(out);
    ck_assert_msg(!strcmp(got, pg_decls[_i].expect), "%s:\n got      '%s'\n expected '%s'",
                  pg_decls[_i].decl, got, pg_decls[_i].expect);
    free(got);
    ferry_objset_destroy(declared);
    ferry_objset_destroy(set);
}
END_TEST

/* A SQLite object is declared as it is. */
START_TEST(test_sqlite_object_declared_as_it_is)
{
    ferry_objset_t *set = ferry_objset_new(), *declared = NULL;
    ferry_object_t *obj = ferry_objset_add(set, "t");
    const ferry_object_t *out = NULL;
    char err[256] = "";

    ck_assert_int_eq(ferry_object_add_field(obj, "c", "DATE", 1, "CURRENT_DATE", 0), 0);
    ck_assert_int_eq(ferry_sqlite_meta_declare(obj, &declared, &out, err, sizeof(err)), 0);
    ck_assert_ptr_eq(out, obj);
    ck_assert_ptr_null(declared);
    ferry_objset_destroy(set);
}
END_TEST

/* PostgreSQL's values (text in PostgreSQL's output, ints, reals, blobs) put
 * into the SQLite table created from its metadata, as SQLite keeps them:
 * typeof() and the value, read with SQLite itself. */
static const struct {
    const char *col, *decl;
    ferry_type_t type;
    int length, scale;
    ferry_value_t v;
    const char *kept; /* "typeof|value" */
} pg_values[] = {
    {"id", "bigint", FERRY_T_INTEGER, 0, 0, {FERRY_V_INT, 1, 0, NULL, 0}, "integer|1"},
    {"n10", "numeric(10,2)", FERRY_T_NUMERIC, 10, 2, {FERRY_V_TEXT, 0, 0, "1.50", 4}, "real|1.5"},
    {"n10nan", "numeric(10,2)", FERRY_T_NUMERIC, 10, 2, {FERRY_V_TEXT, 0, 0, "NaN", 3},
     "text|NaN"},
    {"n40", "numeric(40,10)", FERRY_T_NUMERIC, 40, 10,
     {FERRY_V_TEXT, 0, 0, "123456789012345678901234567890.0123456789", 41},
     "text|123456789012345678901234567890.0123456789"},
    {"nfree", "numeric", FERRY_T_NUMERIC, 0, 0,
     {FERRY_V_TEXT, 0, 0, "0.00100000000000000000", 22}, "text|0.00100000000000000000"},
    {"d", "date", FERRY_T_DAY, 0, 0, {FERRY_V_TEXT, 0, 0, "infinity", 8}, "text|infinity"},
    {"t", "time without time zone", FERRY_T_TIME, 0, 0, {FERRY_V_TEXT, 0, 0, "12:00:00", 8},
     "text|12:00:00"},
    {"ts", "timestamp without time zone", FERRY_T_DATETIME, 0, 0,
     {FERRY_V_TEXT, 0, 0, "2024-01-01 00:00:00", 19}, "text|2024-01-01 00:00:00"},
    {"iv", "interval", FERRY_T_INTERVAL, 0, 0, {FERRY_V_TEXT, 0, 0, "10", 2}, "text|10"},
    {"j", "jsonb", FERRY_T_JSON, 0, 0, {FERRY_V_TEXT, 0, 0, "123", 3}, "text|123"},
    {"e", "mood", FERRY_T_ENUM, 0, 0, {FERRY_V_TEXT, 0, 0, "1", 1}, "text|1"},
    {"a", "text[]", FERRY_T_ARRAY, 0, 0, {FERRY_V_TEXT, 0, 0, "{1}", 3}, "text|{1}"},
    {"u", "uuid", FERRY_T_UUID, 0, 0, {FERRY_V_TEXT, 0, 0, "1e5", 3}, "text|1e5"},
    {"vc", "character varying(3)", FERRY_T_TEXT, 3, 0, {FERRY_V_TEXT, 0, 0, "007", 3},
     "text|007"},
    {"b", "boolean", FERRY_T_BOOLEAN, 0, 0, {FERRY_V_INT, 1, 0, NULL, 0}, "integer|1"},
    {"r", "real", FERRY_T_REAL, 0, 0, {FERRY_V_REAL, 0, 0.5, NULL, 0}, "real|0.5"},
    {"by", "bytea", FERRY_T_BLOB, 0, 0, {FERRY_V_BLOB, 0, 0, "\0", 1}, "blob|00"},
};
#define NPGVALUES (sizeof(pg_values) / sizeof(pg_values[0]))

static ferry_object_t *pg_table(ferry_objset_t *set)
{
    ferry_object_t *obj = ferry_objset_add(set, "pg");

    obj->dialect = FERRY_DIALECT_POSTGRESQL;
    for (size_t i = 0; i < NPGVALUES; i++) {
        ck_assert_int_eq(ferry_object_add_field(obj, pg_values[i].col, pg_values[i].decl, i > 0,
                                                NULL, i == 0), 0);
        obj->fields[i].type = pg_values[i].type;
        obj->fields[i].length = pg_values[i].length;
        obj->fields[i].scale = pg_values[i].scale;
    }
    obj->fields[0].identity = FERRY_IDENTITY_ALWAYS;
    return obj;
}

START_TEST(test_pg_values_kept_by_sqlite)
{
    char path[] = "/tmp/ferry-test-pgmap-XXXXXX", uri[64], err[256] = "", sql[256];
    int fd = mkstemp(path), created = 0, inserted = 0;
    ferry_objset_t *set = ferry_objset_new(), *meta = NULL;
    ferry_object_t *obj = pg_table(set);
    ferry_value_t row[NPGVALUES];
    ferry_store_t *st = NULL;
    ferry_writer_t *w = NULL;
    sqlite3 *db;

    ck_assert_int_ne(fd, -1);
    close(fd);
    unlink(path);
    snprintf(uri, sizeof(uri), "sqlite:%s", path);
    for (size_t i = 0; i < NPGVALUES; i++)
        row[i] = pg_values[i].v;
    ck_assert_msg(ferry_store_open(uri, FERRY_STORE_WRITE, &st, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(ferry_store_begin(st, err, sizeof(err)), 0);
    ck_assert_msg(ferry_store_apply_object(st, obj, &created, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(created, 1);
    ck_assert_msg(ferry_store_writer_open(st, obj, &w, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(ferry_writer_put(w, row, &inserted, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(ferry_writer_flush(w, NULL, err, sizeof(err)), 0);
    ferry_writer_destroy(w);
    ck_assert_msg(ferry_store_commit(st, err, sizeof(err)) == 0, "%s", err);

    /* The same metadata again: no conflict, nothing to add. */
    ck_assert_int_eq(ferry_store_begin(st, err, sizeof(err)), 0);
    created = -1;
    ck_assert_msg(ferry_store_apply_object(st, obj, &created, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(created, 0);
    ck_assert_int_eq(ferry_store_commit(st, err, sizeof(err)), 0);

    /* The column read back: a uuid column is text; an incoming uuid where
     * the table has an integer is a conflict naming table and column. */
    obj->fields[1].type = FERRY_T_UUID;
    obj->fields[0].type = FERRY_T_UUID;
    ck_assert_int_eq(ferry_store_begin(st, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_apply_object(st, obj, &created, err, sizeof(err)),
                     FERRY_ECONFLICT);
    ck_assert_msg(strstr(err, "table pg column id") && strstr(err, "'UUID TEXT'") &&
                      strstr(err, "existing integer"), "%s", err);
    ck_assert_int_eq(ferry_store_rollback(st), 0);
    ferry_store_destroy(st);

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    for (size_t i = 0; i < NPGVALUES; i++) {
        sqlite3_stmt *q;
        char got[512];
        snprintf(sql, sizeof(sql), "SELECT typeof(\"%s\"), CASE typeof(\"%s\") WHEN 'blob' "
                 "THEN hex(\"%s\") ELSE \"%s\" END FROM pg", pg_values[i].col, pg_values[i].col,
                 pg_values[i].col, pg_values[i].col);
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
        snprintf(got, sizeof(got), "%s|%s", sqlite3_column_text(q, 0), sqlite3_column_text(q, 1));
        ck_assert_msg(!strcmp(got, pg_values[i].kept), "%s %s: kept '%s', expected '%s'",
                      pg_values[i].col, pg_values[i].decl, got, pg_values[i].kept);
        sqlite3_finalize(q);
    }
    /* What the created table reads back as: SQLite's own types. */
    ck_assert_int_eq(ferry_sqlite_meta_read(db, &meta, err, sizeof(err)), 0);
    {
        char *got = describe(ferry_objset_find(meta, "pg"));
        const char *want = "id INTEGER/integer notnull pk1; n10 NUMERIC(10,2)/decimal(10,2); "
                           "n10nan NUMERIC(10,2)/decimal(10,2); n40 NUMERIC TEXT(40,10)/"
                           "decimal(40,10); nfree NUMERIC TEXT/decimal; d DATE TEXT/date; "
                           "t TIME TEXT/text; ts TIMESTAMP TEXT/timestamp; iv TEXT/text; "
                           "j JSONB TEXT/text; e ENUM TEXT/text; a ARRAY TEXT/text; "
                           "u UUID TEXT/text; vc VARCHAR(3)/text(3,0); b BOOLEAN/boolean; "
                           "r REAL/real; by BLOB/blob";
        ck_assert_msg(!strcmp(got, want), "\n got      '%s'\n expected '%s'", got, want);
        free(got);
    }
    ferry_objset_destroy(meta);
    sqlite3_close(db);
    unlink(path);
    ferry_objset_destroy(set);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sqlite_meta");
    TCase *tc = tcase_create("sqlite_meta");

    tcase_add_loop_test(tc, test_read_schema, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_not_a_database_is_a_store_error);
    tcase_add_test(tc, test_virtual_shadow_and_internal_tables_say_what_they_are);
    tcase_add_loop_test(tc, test_pg_declared_for_sqlite, 0, sizeof(pg_decls) / sizeof(pg_decls[0]));
    tcase_add_test(tc, test_sqlite_object_declared_as_it_is);
    tcase_add_test(tc, test_pg_values_kept_by_sqlite);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
