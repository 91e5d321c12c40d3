/* test_store_sqlite.c - the store interface on SQLite: opening by URI, copying
 * awkward schemas and their rows from one store into a fresh one (the checksums
 * must match), hostile names that must stay names, schema evolution and its
 * conflicts, upsert counting, deferred foreign keys, rollback and the ledger.
 * Every test works in its own temporary directory. */
#include "checksum.h"
#include "error.h"
#include "ledger.h"
#include "meta.h"
#include "store.h"
#include "store_impl.h"
#include "check_run.h"

#include <check.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char dir[64];
static char err[1024];

static void setup(void)
{
    strcpy(dir, "/tmp/ferry-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

static const char *uri(const char *file)
{
    static char buf[2][256];
    static int next;
    char *b = buf[next++ % 2];
    snprintf(b, sizeof(buf[0]), "sqlite:%s/%s", dir, file);
    return b;
}

/* Runs sql on the database file directly, as a user of SQLite would. */
static void sql_on(const char *file, const char *sql)
{
    char path[256], *msg = NULL;
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        ck_abort_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* The value of the single-value query sql on file, as text ("" for NULL). */
static char *query(const char *file, const char *sql)
{
    static char out[4096];
    char path[256];
    sqlite3 *db;
    sqlite3_stmt *st;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static ferry_store_t *open_store(const char *file, int mode)
{
    ferry_store_t *s = NULL;
    int rc = ferry_store_open(uri(file), mode, &s, err, sizeof(err));
    ck_assert_msg(rc == 0, "open %s: %s", file, err);
    return s;
}

/* What an importer does: every object of src applied to dst and its rows
 * upserted, in one transaction. Returns the commit's result. */
static int copy_store(ferry_store_t *src, ferry_store_t *dst, int64_t *inserted)
{
    ferry_objset_t *objs = NULL;
    int rc;

    ck_assert_msg(ferry_store_read_meta(src, &objs, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(ferry_store_begin(dst, err, sizeof(err)) == 0, "%s", err);
    for (size_t i = 0; i < ferry_objset_count(objs); i++)
        ck_assert_msg(ferry_store_apply_object(dst, ferry_objset_at(objs, i), NULL, err,
                                               sizeof(err)) == 0,
                      "apply: %s", err);
    for (size_t i = 0; i < ferry_objset_count(objs); i++) {
        const ferry_object_t *obj = ferry_objset_at(objs, i);
        ferry_cursor_t *cur = NULL;
        ferry_writer_t *w = NULL;
        const ferry_value_t *row;
        int ins;

        ck_assert_msg(ferry_store_cursor_open(src, obj, &cur, err, sizeof(err)) == 0, "%s", err);
        ck_assert_msg(ferry_store_writer_open(dst, obj, &w, err, sizeof(err)) == 0, "%s", err);
        while ((rc = ferry_cursor_next(cur, &row, err, sizeof(err))) == 1) {
            ck_assert_msg(ferry_writer_put(w, row, &ins, err, sizeof(err)) == 0, "put: %s", err);
            if (inserted)
                *inserted += ins;
        }
        ck_assert_msg(rc == 0, "%s", err);
        ferry_writer_destroy(w);
        ferry_cursor_destroy(cur);
    }
    ferry_objset_destroy(objs);
    rc = ferry_store_commit(dst, err, sizeof(err));
    if (rc)
        ferry_store_rollback(dst);
    return rc;
}

/* Same objects (names, fields, types, keys) and the same checksums. */
static void assert_same(ferry_store_t *a, ferry_store_t *b)
{
    ferry_objset_t *oa = NULL, *ob = NULL;

    ck_assert_int_eq(ferry_store_read_meta(a, &oa, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_read_meta(b, &ob, err, sizeof(err)), 0);
    ck_assert_uint_eq(ferry_objset_count(oa), ferry_objset_count(ob));
    for (size_t i = 0; i < ferry_objset_count(oa); i++) {
        const ferry_object_t *x = ferry_objset_at(oa, i), *y = ferry_objset_at(ob, i);
        ferry_checksum_t cx, cy;
        ck_assert_str_eq(x->name, y->name);
        ck_assert_uint_eq(x->nfields, y->nfields);
        for (size_t f = 0; f < x->nfields; f++) {
            ck_assert_str_eq(x->fields[f].name, y->fields[f].name);
            ck_assert_int_eq(x->fields[f].type, y->fields[f].type);
            ck_assert_int_eq(x->fields[f].pk_pos, y->fields[f].pk_pos);
        }
        ck_assert_uint_eq(x->nrelations, y->nrelations);
        ck_assert_uint_eq(x->nuniques, y->nuniques);
        ck_assert_int_eq(x->without_rowid, y->without_rowid);
        ck_assert_msg(ferry_store_checksum_table(a, x, &cx, err, sizeof(err)) == 0, "%s", err);
        ck_assert_msg(ferry_store_checksum_table(b, y, &cy, err, sizeof(err)) == 0, "%s", err);
        ck_assert_msg(cx.rows == cy.rows && cx.sum == cy.sum,
                      "%s: %llu rows %016llx vs %llu rows %016llx", x->name,
                      (unsigned long long)cx.rows, (unsigned long long)cx.sum,
                      (unsigned long long)cy.rows, (unsigned long long)cy.sum);
    }
    ferry_objset_destroy(oa);
    ferry_objset_destroy(ob);
}

/* ---- opening by URI ---- */

static const struct {
    const char *uri;
    int mode, rc;
    const char *msg; /* a part of errstr */
} opens[] = {
    {"postgresql://db.example/ferry?no_such_option=1", FERRY_STORE_READ, FERRY_EPERMANENT,
     "not a valid PostgreSQL connection URI"},
    {"mysql://db.example/ferry", FERRY_STORE_READ, FERRY_EINVAL, "'mysql'"},
    {"just-a-path.db", FERRY_STORE_READ, FERRY_EINVAL, "no scheme"},
    {"sqlite:", FERRY_STORE_WRITE, FERRY_EINVAL, "names no file"},
    {"sqlite:/nonexistent-dir/x.db", FERRY_STORE_READ, FERRY_ESTORE, "/nonexistent-dir/x.db"},
    {"sqlite:/nonexistent-dir/x.db", FERRY_STORE_WRITE, FERRY_ESTORE, "cannot open"},
};

START_TEST(test_open_by_uri)
{
    ferry_store_t *s = (ferry_store_t *)&s;

    err[0] = '\0';
    ck_assert_int_eq(ferry_store_open(opens[_i].uri, opens[_i].mode, &s, err, sizeof(err)),
                     opens[_i].rc);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err, opens[_i].msg), "'%s' lacks '%s'", err, opens[_i].msg);
}
END_TEST

START_TEST(test_open_rejects_a_file_that_is_no_database)
{
    char path[256];
    FILE *f;
    ferry_store_t *s;

    snprintf(path, sizeof(path), "%s/junk.db", dir);
    f = fopen(path, "w");
    fputs("this is not a SQLite database, just some text long enough to have a header...", f);
    fclose(f);
    ck_assert_int_eq(ferry_store_open(uri("junk.db"), FERRY_STORE_READ, &s, err, sizeof(err)),
                     FERRY_ESTORE);
    ck_assert_ptr_nonnull(strstr(err, "junk.db"));
}
END_TEST

/* ---- the awkward corpus: read, apply to a fresh store, copy, compare ---- */

static const struct {
    const char *what, *sql;
} corpus[] = {
    {"reserved words",
     "CREATE TABLE \"order\"(\"group\" INTEGER PRIMARY KEY, \"select\" TEXT, \"from\" REAL,"
     " \"where\" BOOLEAN NOT NULL DEFAULT 0);"
     "INSERT INTO \"order\" VALUES (1, 'a', 1.5, 1), (2, NULL, NULL, 0), (-7, 'z', -0.25, 1);"},
    {"quotes and spaces in names",
     "CREATE TABLE \"my \"\"quoted\"\" table\"(\"a b\" TEXT PRIMARY KEY, \"c\"\"d\" INTEGER,"
     " \"e'f\" TEXT DEFAULT 'it''s');"
     "INSERT INTO \"my \"\"quoted\"\" table\" VALUES ('k 1', 1, 'x'), ('k\"2', NULL, 'it''s');"},
    {"composite primary key",
     "CREATE TABLE cp(a INTEGER, b TEXT, c REAL, d DECIMAL(12,2), PRIMARY KEY (b, a));"
     "INSERT INTO cp VALUES (2, 'x', 1.0, 10.25), (1, 'x', 2.0, 3), (1, 'w', NULL, NULL);"},
    {"WITHOUT ROWID",
     "CREATE TABLE wr(k TEXT PRIMARY KEY, v BLOB, n INTEGER) WITHOUT ROWID;"
     "INSERT INTO wr VALUES ('b', x'00ff00', 1), ('a', x'', 2), ('c', NULL, NULL);"},
    {"untyped columns holding every kind",
     "CREATE TABLE u(id PRIMARY KEY, x, y);"
     "INSERT INTO u VALUES (1, 'text', 2.5), ('two', x'0102', NULL), (3.5, 42, '42'),"
     " (x'ff', NULL, -1);"},
    {"blobs with zero bytes and empty blobs",
     "CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
     "INSERT INTO b VALUES (1, x'00'), (2, x''), (3, zeroblob(1000)), (4, randomblob(70000));"},
    {"1 MB texts and unicode",
     "CREATE TABLE big(id INTEGER PRIMARY KEY, body TEXT, note VARCHAR(80));"
     "INSERT INTO big VALUES (1, hex(randomblob(524288)), 'Zoë 東京 😀'),"
     " (2, hex(randomblob(600000)) || 'é', 'Москва'), (3, '', '');"},
    {"NULLs everywhere, no primary key",
     "CREATE TABLE n(a INTEGER, b TEXT, c REAL, d BLOB, e DATE, f DATETIME);"
     "INSERT INTO n VALUES (NULL, NULL, NULL, NULL, NULL, NULL), (1, NULL, NULL, NULL, NULL,"
     " NULL), (NULL, 'x', NULL, NULL, '2024-02-29', NULL), (NULL, NULL, NULL, x'00', NULL,"
     " 1700000000000);"},
    {"self reference, child before parent in key order",
     "CREATE TABLE tree(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES tree(id),"
     " name TEXT NOT NULL);"
     "INSERT INTO tree VALUES (3, NULL, 'root'), (1, 3, 'leaf'), (2, 1, 'leaf of leaf');"},
    {"mutual references and a cascade",
     "CREATE TABLE a(id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b(id));"
     "CREATE TABLE b(id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id) ON DELETE CASCADE);"
     "INSERT INTO a VALUES (1, 2), (2, NULL);"
     "INSERT INTO b VALUES (2, 1), (5, 2);"},
    {"unique constraints, defaults and a text key",
     "CREATE TABLE usr(login TEXT PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE,"
     " score REAL DEFAULT -1.5e3, active BOOLEAN DEFAULT TRUE, created DATETIME DEFAULT"
     " CURRENT_TIMESTAMP, first TEXT, last TEXT, UNIQUE (first, last));"
     "INSERT INTO usr(login, email, first, last) VALUES ('zed', 'z@x', 'Z', 'Ed'),"
     " ('amy', 'a@x', 'A', 'My');"},
    {"non-Latin names",
     "CREATE TABLE \"Ünïcödé 表\"(\"名前\" TEXT PRIMARY KEY, \"значение\" INTEGER);"
     "INSERT INTO \"Ünïcödé 表\" VALUES ('一', 1), ('二', 2);"},
};

START_TEST(test_corpus_round_trip)
{
    ferry_store_t *src, *dst;
    int64_t inserted = 0;

    sql_on("src.db", corpus[_i].sql);
    src = open_store("src.db", FERRY_STORE_READ);
    dst = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_msg(copy_store(src, dst, &inserted) == 0, "%s: %s", corpus[_i].what, err);
    ck_assert_int_gt(inserted, 0);
    assert_same(src, dst);
    /* A second copy updates every row and changes nothing. */
    inserted = 0;
    ck_assert_msg(copy_store(src, dst, &inserted) == 0, "%s: %s", corpus[_i].what, err);
    ck_assert_int_eq(inserted, 0);
    assert_same(src, dst);
    ferry_store_destroy(src);
    ferry_store_destroy(dst);
}
END_TEST

START_TEST(test_cursor_streams_in_key_order)
{
    static const char *const want[] = {"w/1", "x/1", "x/2"};
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_cursor_t *cur;
    const ferry_value_t *row;
    char got[32];
    size_t n = 0;

    sql_on("src.db", corpus[2].sql);
    s = open_store("src.db", FERRY_STORE_READ);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_cursor_open(s, ferry_objset_find(objs, "cp"), &cur, err,
                                             sizeof(err)),
                     0);
    while (ferry_cursor_next(cur, &row, err, sizeof(err)) == 1) {
        ck_assert_uint_lt(n, N(want));
        snprintf(got, sizeof(got), "%.*s/%lld", (int)row[1].n, (const char *)row[1].p,
                 (long long)row[0].i);
        ck_assert_str_eq(got, want[n++]);
    }
    ck_assert_uint_eq(n, N(want));
    ck_assert_int_eq(ferry_cursor_next(cur, &row, err, sizeof(err)), 0); /* stays at the end */
    ferry_cursor_destroy(cur);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* ---- hostile names ---- */

START_TEST(test_hostile_names_stay_names)
{
    ferry_store_t *src, *dst;
    ferry_objset_t *objs;

    sql_on("src.db", "CREATE TABLE y(id INTEGER PRIMARY KEY, v TEXT);"
                     "INSERT INTO y VALUES (1, 'keep me');"
                     "CREATE TABLE \"x\"\"; DROP TABLE y; --\"(\"x\"\"; DROP TABLE y; --\" TEXT"
                     " PRIMARY KEY, \"v'); DROP TABLE y; --\" TEXT UNIQUE,"
                     " \"y\"\"id\" INTEGER REFERENCES y(id) ON DELETE CASCADE);"
                     "INSERT INTO \"x\"\"; DROP TABLE y; --\" VALUES ('k\"; DROP TABLE y; --',"
                     " 'v''); DROP TABLE y; --', 1);");
    /* The target already holds y with its own row: nothing may drop it. */
    sql_on("dst.db", "CREATE TABLE y(id INTEGER PRIMARY KEY, v TEXT);"
                     "INSERT INTO y VALUES (2, 'target row');");
    src = open_store("src.db", FERRY_STORE_READ);
    dst = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_read_meta(src, &objs, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(ferry_objset_find(objs, "x\"; DROP TABLE y; --"));
    ck_assert_int_eq(ferry_objset_find(objs, "x\"; DROP TABLE y; --")->fields[0].pk_pos, 1);
    ck_assert_int_eq(copy_store(src, dst, NULL), 0);
    ck_assert_int_eq(ferry_store_has_object(dst, "x\"; DROP TABLE y; --"), 1);
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(id || v, ',') FROM y"),
                     "1keep me,2target row");
    ck_assert_str_eq(query("dst.db", "SELECT \"v'); DROP TABLE y; --\" FROM "
                                     "\"x\"\"; DROP TABLE y; --\""),
                     "v'); DROP TABLE y; --");
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM sqlite_schema WHERE type='table'"),
                     "2");
    ferry_objset_destroy(objs);
    ferry_store_destroy(src);
    ferry_store_destroy(dst);
}
END_TEST

/* Incoming metadata whose text would reach SQL is refused before anything runs. */
static const struct {
    const char *what, *table, *field, *decl, *dflt, *on_delete;
    const char *msg;
} refused[] = {
    {"a second column in a type", "t", "a", "TEXT, evil INTEGER", NULL, NULL, "declared type"},
    {"a constraint in a type", "t", "a", "TEXT PRIMARY KEY", NULL, NULL, "declared type"},
    {"a statement in a type", "t", "a", "INT); DROP TABLE y; --", NULL, NULL, "declared type"},
    {"a collation in a type", "t", "a", "TEXT COLLATE NOCASE", NULL, NULL, "declared type"},
    {"an expression default", "t", "a", "INTEGER", "(1+1)", NULL, "not a literal"},
    {"a function default", "t", "a", "TEXT", "datetime('now')", NULL, "not a literal"},
    {"an unterminated string default", "t", "a", "TEXT", "'x''", NULL, "not a literal"},
    {"a string default with a tail", "t", "a", "TEXT", "'x'); DROP TABLE y; --", NULL,
     "not a literal"},
    {"an ON DELETE with a statement", "t", "a", "INTEGER", NULL, "CASCADE; DROP TABLE y",
     "ON DELETE"},
    {"ferry's bookkeeping name", "ferry_applied", "a", "TEXT", NULL, NULL, "reserved"},
    {"ferry's bookkeeping name in capitals", "FERRY_APPLIED", "a", "TEXT", NULL, NULL,
     "reserved"},
    {"ferry's bookkeeping name in mixed case", "Ferry_Offsets", "a", "TEXT", NULL, NULL,
     "reserved"},
    {"SQLite's own name", "sqlite_schema", "a", "TEXT", NULL, NULL, "reserved"},
};

START_TEST(test_apply_refuses_unsafe_metadata)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *o = ferry_objset_add(set, refused[_i].table);
    ferry_store_t *dst;
    const char *to[] = {"id"};

    sql_on("dst.db", "CREATE TABLE y(id INTEGER PRIMARY KEY)");
    ck_assert_int_eq(ferry_object_add_field(o, "id", "INTEGER", 0, NULL, 1), 0);
    ck_assert_int_eq(ferry_object_add_field(o, refused[_i].field, refused[_i].decl, 1,
                                            refused[_i].dflt, 0),
                     0);
    if (refused[_i].on_delete)
        ck_assert_int_eq(ferry_object_add_relation(o, "y", (const char *[]){"a"}, to, 1,
                                                   FERRY_REL_INCLUDE, refused[_i].on_delete),
                         0);
    dst = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_begin(dst, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_apply_object(dst, o, NULL, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_msg(strstr(err, refused[_i].msg), "%s: '%s'", refused[_i].what, err);
    ck_assert_int_eq(ferry_store_commit(dst, err, sizeof(err)), 0);
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(name) FROM sqlite_schema"), "y");
    ferry_store_destroy(dst);
    ferry_objset_destroy(set);
}
END_TEST

/* ---- evolving an existing table ---- */

static const char *const existing =
    "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, anything);"
    "INSERT INTO item VALUES (1, 'one', 1, NULL);";

typedef struct field_spec {
    const char *name, *decl;
    int nullable;
    const char *dflt;
    int pk;
} field_spec_t;

static const struct {
    const char *what;
    field_spec_t fields[6];
    int rc;
    const char *msg;  /* a part of errstr: names table and column */
    const char *cols; /* the table's columns afterwards */
} evolutions[] = {
    {"the same table changes nothing",
     {{"id", "INTEGER", 0, NULL, 1}, {"name", "TEXT", 0, NULL, 0}, {"qty", "INTEGER", 1, NULL, 0}},
     0, "", "id,name,qty,anything"},
    {"missing nullable columns are added",
     {{"id", "INTEGER", 0, NULL, 1},
      {"note", "VARCHAR(80)", 1, NULL, 0},
      {"QTY", "BIGINT", 1, NULL, 0},
      {"flag", "BOOLEAN", 0, "0", 0}},
     0, "", "id,name,qty,anything,note,flag"},
    {"an untyped column accepts any type",
     {{"id", "INTEGER", 0, NULL, 1}, {"anything", "BLOB", 1, NULL, 0}}, 0, "",
     "id,name,qty,anything"},
    {"a conflicting type",
     {{"id", "INTEGER", 0, NULL, 1}, {"extra", "TEXT", 1, NULL, 0}, {"qty", "TEXT", 1, NULL, 0}},
     FERRY_ECONFLICT, "table item column qty", "id,name,qty,anything"},
    {"a new NOT NULL column without a default",
     {{"id", "INTEGER", 0, NULL, 1}, {"extra", "TEXT", 1, NULL, 0}, {"must", "TEXT", 0, NULL, 0}},
     FERRY_ECONFLICT, "table item column must", "id,name,qty,anything"},
    {"a new NOT NULL column defaulting to NULL",
     {{"id", "INTEGER", 0, NULL, 1}, {"must", "TEXT", 0, "NULL", 0}}, FERRY_ECONFLICT,
     "table item column must", "id,name,qty,anything"},
    {"a composite key over the existing one",
     {{"id", "INTEGER", 0, NULL, 1}, {"extra", "TEXT", 1, NULL, 0}, {"name", "TEXT", 0, NULL, 2}},
     FERRY_ECONFLICT, "table item: primary key differs from the existing one at column name",
     "id,name,qty,anything"},
    {"another key column",
     {{"id", "INTEGER", 0, NULL, 0}, {"name", "TEXT", 0, NULL, 1}}, FERRY_ECONFLICT,
     "table item: primary key differs from the existing one at column name",
     "id,name,qty,anything"},
    {"no key at all",
     {{"id", "INTEGER", 0, NULL, 0}, {"name", "TEXT", 0, NULL, 0}}, FERRY_ECONFLICT,
     "at column id", "id,name,qty,anything"},
};

START_TEST(test_apply_evolves_or_conflicts)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *o = ferry_objset_add(set, "Item"); /* SQLite names are case-insensitive */
    ferry_store_t *dst;
    char before[4096];
    int created = -1;

    for (const field_spec_t *f = evolutions[_i].fields; f->name; f++)
        ck_assert_int_eq(ferry_object_add_field(o, f->name, f->decl, f->nullable, f->dflt, f->pk),
                         0);
    sql_on("dst.db", existing);
    snprintf(before, sizeof(before), "%s", query("dst.db", "SELECT sql FROM sqlite_schema"));
    dst = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_begin(dst, err, sizeof(err)), 0);
    err[0] = '\0';
    ck_assert_int_eq(ferry_store_apply_object(dst, o, &created, err, sizeof(err)),
                     evolutions[_i].rc);
    ck_assert_int_eq(created, 0);
    ck_assert_msg(strstr(err, evolutions[_i].msg), "%s: '%s'", evolutions[_i].what, err);
    ck_assert_int_eq(ferry_store_commit(dst, err, sizeof(err)), 0);
    ferry_store_destroy(dst);
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(name) FROM pragma_table_info('item')"),
                     evolutions[_i].cols);
    if (evolutions[_i].rc)
        ck_assert_str_eq(query("dst.db", "SELECT sql FROM sqlite_schema"), before);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM item"), "1");
    ferry_objset_destroy(set);
}
END_TEST

/* ---- table definitions carried: checked on the target with SQLite's own
 * pragmas and behaviour, never with text this code wrote ---- */

/* A Django-like schema: deferrable keys of both kinds, indexes with DESC,
 * NOCASE and several columns, hostile index names, and what is not carried. */
static const char django[] =
    "CREATE TABLE page(id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT COLLATE NOCASE,"
    " status TEXT, CHECK (length(title) > 0));"
    "CREATE TABLE rev(id INTEGER PRIMARY KEY,"
    " page_id INT REFERENCES page(id) DEFERRABLE INITIALLY DEFERRED,"
    " prev_id INT REFERENCES page(id) DEFERRABLE INITIALLY IMMEDIATE,"
    " plain_id INT REFERENCES page(id), at TEXT);"
    "CREATE INDEX \"x; DROP TABLE t; --\" ON rev(page_id DESC, at);"
    "CREATE UNIQUE INDEX \"a\"\"quote\" ON page(title COLLATE NOCASE, status);"
    "CREATE UNIQUE INDEX page_live ON page(status) WHERE status IN ('live', 'draft');"
    "CREATE INDEX page_lower ON page(lower(title));"
    "INSERT INTO page(title, status) VALUES ('Home', 'live');";

/* The result code of sql run on file with foreign keys on, as an application runs it. */
static int app_sql(const char *file, const char *sql)
{
    char path[256];
    sqlite3 *db;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

START_TEST(test_definitions_carried_to_an_empty_target)
{
    ferry_store_t *src, *dst;

    sql_on("src.db", django);
    src = open_store("src.db", FERRY_STORE_READ);
    dst = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_msg(copy_store(src, dst, NULL) == 0, "%s", err);
    ferry_store_destroy(dst);
    ferry_store_destroy(src);

    /* Indexes: columns, order and collations as SQLite reports them. */
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(name || ' ' || \"desc\" || ' ' || coll, ', ')"
                                     " FROM pragma_index_xinfo('x; DROP TABLE t; --') WHERE key"),
                     "page_id 1 BINARY, at 0 BINARY");
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(name || ' ' || \"desc\" || ' ' || coll, ', ')"
                                     " FROM pragma_index_xinfo('a\"quote') WHERE key"),
                     "title 0 NOCASE, status 0 BINARY");
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(name || ':' || \"unique\" || ':' || origin"
                                     " || ':' || partial, ' ') FROM pragma_index_list('page')"),
                     "a\"quote:1:c:0");
    ck_assert_str_eq(query("dst.db", "SELECT tbl_name FROM sqlite_schema"
                                     " WHERE name = 'x; DROP TABLE t; --'"),
                     "rev");
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                                     " AND name IN ('page', 'rev')"),
                     "2");
    /* The column's NOCASE came along: 'HOME' finds 'Home' without an index. */
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM page NOT INDEXED WHERE title = 'HOME'"),
                     "1");
    /* DEFERRABLE INITIALLY DEFERRED: the child before its parent in one
     * transaction, as the application does. */
    ck_assert_int_eq(app_sql("dst.db", "BEGIN; INSERT INTO rev(id, page_id) VALUES (1, 7);"
                                       " INSERT INTO page(id, title) VALUES (7, 'Later'); COMMIT"),
                     SQLITE_OK);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM rev WHERE page_id = 7"), "1");
    /* ... and the immediate and plain ones still check at once. */
    ck_assert_int_eq(app_sql("dst.db", "BEGIN; INSERT INTO rev(id, prev_id) VALUES (2, 8)"),
                     SQLITE_CONSTRAINT);
    ck_assert_int_eq(app_sql("dst.db", "BEGIN; INSERT INTO rev(id, plain_id) VALUES (3, 9)"),
                     SQLITE_CONSTRAINT);
    /* Not carried: the partial and the expression index. */
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM sqlite_schema"
                                     " WHERE name IN ('page_live', 'page_lower')"),
                     "0");
}
END_TEST

/* An index of the same name: the same definition is kept (re-applying
 * changes nothing); another one is a conflict naming it, and nothing changes. */
static const struct {
    const char *what, *existing;
    int rc;
    const char *msg;
} index_clashes[] = {
    {"the same index", "CREATE INDEX \"x; DROP TABLE t; --\" ON rev(page_id DESC, at)", 0, ""},
    {"other columns", "CREATE INDEX \"x; DROP TABLE t; --\" ON rev(at)", FERRY_ECONFLICT,
     "index x; DROP TABLE t; -- exists in the target (index on table rev) with another"},
    {"another order", "CREATE INDEX \"X; drop table t; --\" ON rev(page_id, at)",
     FERRY_ECONFLICT, "index x; DROP TABLE t; --"},
    {"a partial index", "CREATE INDEX \"x; DROP TABLE t; --\" ON rev(page_id DESC, at)"
     " WHERE at IS NOT NULL", FERRY_ECONFLICT, "another definition"},
    {"another table's", "CREATE TABLE other(a, b);"
     "CREATE INDEX \"x; DROP TABLE t; --\" ON other(a)", FERRY_ECONFLICT, "on table other"},
};

START_TEST(test_index_of_the_same_name)
{
    ferry_store_t *src, *dst;
    ferry_objset_t *objs = NULL;
    char before[4096];

    sql_on("src.db", django);
    sql_on("dst.db", "CREATE TABLE page(id INTEGER PRIMARY KEY, title TEXT, status TEXT);"
                     "CREATE TABLE rev(id INTEGER PRIMARY KEY, page_id INT, prev_id INT,"
                     " plain_id INT, at TEXT)");
    sql_on("dst.db", index_clashes[_i].existing);
    snprintf(before, sizeof(before), "%s",
             query("dst.db", "SELECT group_concat(sql, ';') FROM sqlite_schema"));
    src = open_store("src.db", FERRY_STORE_READ);
    dst = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_read_meta(src, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_begin(dst, err, sizeof(err)), 0);
    err[0] = '\0';
    ck_assert_int_eq(ferry_store_apply_object(dst, ferry_objset_find(objs, "rev"), NULL, err,
                                              sizeof(err)),
                     index_clashes[_i].rc);
    ck_assert_msg(strstr(err, index_clashes[_i].msg), "%s: '%s'", index_clashes[_i].what, err);
    ck_assert_int_eq(ferry_store_commit(dst, err, sizeof(err)), 0);
    ferry_store_destroy(dst);
    ferry_store_destroy(src);
    ferry_objset_destroy(objs);
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(sql, ';') FROM sqlite_schema"), before);
}
END_TEST

/* An existing table gets the indexes it lacks. */
START_TEST(test_existing_table_gets_missing_indexes)
{
    ferry_store_t *src, *dst;

    sql_on("src.db", django);
    sql_on("dst.db", "CREATE TABLE page(id INTEGER PRIMARY KEY, title TEXT, status TEXT)");
    src = open_store("src.db", FERRY_STORE_READ);
    dst = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_msg(copy_store(src, dst, NULL) == 0, "%s", err);
    ck_assert_msg(copy_store(src, dst, NULL) == 0, "again: %s", err);
    ferry_store_destroy(dst);
    ferry_store_destroy(src);
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(name || ' ' || coll, ', ')"
                                     " FROM pragma_index_xinfo('a\"quote') WHERE key"),
                     "title NOCASE, status BINARY");
}
END_TEST

START_TEST(test_apply_needs_a_transaction)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *o = ferry_objset_add(set, "t");
    ferry_store_t *dst = open_store("dst.db", FERRY_STORE_WRITE);

    ck_assert_int_eq(ferry_object_add_field(o, "a", "TEXT", 1, NULL, 0), 0);
    ck_assert_int_eq(ferry_store_apply_object(dst, o, NULL, err, sizeof(err)), FERRY_EORDER);
    ck_assert_int_eq(ferry_store_has_object(dst, "t"), 0);
    ferry_store_destroy(dst);
    ferry_objset_destroy(set);
}
END_TEST

/* ---- writing ---- */

START_TEST(test_upsert_counts_inserts_and_updates)
{
    static const struct {
        int64_t id;
        const char *v;
        int inserted;
    } puts_[] = {{1, "a", 1}, {2, "b", 1}, {1, "A", 0}, {3, "c", 1}, {2, "B", 0}};
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_writer_t *w;
    int ins;

    sql_on("dst.db", "CREATE TABLE kv(id INTEGER PRIMARY KEY, v TEXT UNIQUE);"
                     "CREATE TABLE audit(kv_id INTEGER REFERENCES kv(id) ON DELETE CASCADE);"
                     "INSERT INTO kv VALUES (9, 'z'); INSERT INTO audit VALUES (1), (9);");
    s = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "kv"), &w, err,
                                             sizeof(err)),
                     0);
    for (size_t i = 0; i < N(puts_); i++) {
        ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = puts_[i].id},
                                {.kind = FERRY_V_TEXT, .p = puts_[i].v, .n = 1}};
        ck_assert_msg(ferry_writer_put(w, row, &ins, err, sizeof(err)) == 0, "%s", err);
        ck_assert_int_eq(ins, puts_[i].inserted);
    }
    {
        /* Another unique constraint is not the key: the row is refused, named. */
        ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = 4},
                                {.kind = FERRY_V_TEXT, .p = "z", .n = 1}};
        ck_assert_int_eq(ferry_writer_put(w, row, &ins, err, sizeof(err)), FERRY_ECONFLICT);
        ck_assert_msg(strstr(err, "table kv row with key (4)"), "%s", err);
    }
    ferry_writer_destroy(w);
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), 0);
    ferry_store_destroy(s);
    ferry_objset_destroy(objs);
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(id || v, ',') FROM kv"), "1A,2B,3c,9z");
    /* Updates are updates, not delete + insert: the cascade did not fire. */
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM audit"), "2");
}
END_TEST

/* Into an empty table the writer keeps rows and inserts them many to a
 * statement: everything put arrives, in a batch that meets a repeated key the
 * row is updated (and counted so by the flush), a row a batch cannot take is
 * named, and rows still kept when the writer goes are committed with it. */
START_TEST(test_empty_table_takes_rows_in_batches)
{
    enum { NROWS = 1000 };
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_writer_t *w;
    int64_t updated = -1;
    char v[32];
    int ins, rc = 0;

    sql_on("dst.db", "CREATE TABLE kv(id INTEGER PRIMARY KEY, v TEXT NOT NULL, b BLOB);"
                     "CREATE TABLE kv2(id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
    s = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);

    /* Every row put arrives; row 101 repeats key 100 and updates it. The
     * text buffer is reused, so the writer must copy what it keeps; empty
     * text and blobs stay values, not NULL. */
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "kv"), &w, err,
                                             sizeof(err)), 0);
    for (int i = 1; i <= NROWS; i++) {
        if (i == 101)
            snprintf(v, sizeof(v), "again");
        else if (i % 7)
            snprintf(v, sizeof(v), "v%d", i);
        else
            v[0] = '\0';
        ferry_value_t row[3] = {{.kind = FERRY_V_INT, .i = i == 101 ? 100 : i},
                                {.kind = FERRY_V_TEXT, .p = v, .n = strlen(v)},
                                {.kind = FERRY_V_BLOB, .p = v, .n = i % 5 ? strlen(v) : 0}};
        ck_assert_msg(ferry_writer_put(w, row, &ins, err, sizeof(err)) == 0, "%s", err);
    }
    ck_assert_int_eq(ferry_writer_flush(w, &updated, err, sizeof(err)), 0);
    ck_assert_int_eq(updated, 1);
    ferry_writer_destroy(w);
    ck_assert_msg(ferry_store_commit(s, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM kv"), "999");
    ck_assert_str_eq(query("dst.db", "SELECT v FROM kv WHERE id = 100"), "again");
    ck_assert_str_eq(query("dst.db", "SELECT v || '|' || CAST(b AS TEXT) FROM kv WHERE id = 999"),
                     "v999|v999");
    ck_assert_str_eq(query("dst.db", "SELECT quote(v) || quote(b) FROM kv WHERE id = 35"),
                     "''X''");

    /* A row no statement can take (NULL into NOT NULL) is named, whether
     * its batch is full or still kept; nothing of the transaction stays. */
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "kv2"), &w, err,
                                             sizeof(err)), 0);
    for (int i = 0; i < 200 && !rc; i++) {
        ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = 5000 + i},
                                {.kind = FERRY_V_TEXT, .p = "ok", .n = 2}};
        if (i == 150)
            row[1] = (ferry_value_t){.kind = FERRY_V_NULL};
        rc = ferry_writer_put(w, row, &ins, err, sizeof(err));
    }
    if (!rc)
        rc = ferry_writer_flush(w, NULL, err, sizeof(err));
    ck_assert_int_eq(rc, FERRY_ECONFLICT);
    ck_assert_msg(strstr(err, "table kv2 row with key (5150)"), "%s", err);
    ferry_writer_destroy(w);
    ck_assert_int_eq(ferry_store_rollback(s), 0);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM kv2"), "0");

    /* Rows still kept when the writer goes are written with it... */
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "kv2"), &w, err,
                                             sizeof(err)), 0);
    for (int i = 1; i <= 70; i++) {
        snprintf(v, sizeof(v), "w%d", i);
        ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = i},
                                {.kind = FERRY_V_TEXT, .p = v, .n = strlen(v)}};
        ck_assert_msg(ferry_writer_put(w, row, &ins, err, sizeof(err)) == 0, "%s", err);
    }
    ferry_writer_destroy(w);
    ck_assert_msg(ferry_store_commit(s, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) || ' ' || max(id) FROM kv2"), "70 70");
    ck_assert_str_eq(query("dst.db", "SELECT v FROM kv2 WHERE id = 70"), "w70");

    /* ...and a failure there fails the commit, naming the row. */
    sql_on("dst.db", "DELETE FROM kv2");
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "kv2"), &w, err,
                                             sizeof(err)), 0);
    for (int i = 1; i <= 3; i++) {
        ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = i}, {.kind = FERRY_V_NULL}};
        ck_assert_msg(ferry_writer_put(w, row, &ins, err, sizeof(err)) == 0, "%s", err);
    }
    ferry_writer_destroy(w);
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), FERRY_ESTORE);
    ck_assert_msg(strstr(err, "table kv2 row with key (1)"), "%s", err);
    ck_assert_int_eq(ferry_store_rollback(s), 0);
    ferry_store_destroy(s);
    ferry_objset_destroy(objs);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM kv2"), "0");
}
END_TEST

/* The table's own conflict clauses do not change what a write does: a
 * failing batch never takes the transaction with it (ON CONFLICT ROLLBACK)
 * and a repeated key updates the row (ON CONFLICT IGNORE would keep the
 * first). */
START_TEST(test_batches_ignore_the_tables_conflict_clauses)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_writer_t *w;
    int64_t updated = 0;
    char v[32];
    int ins, rc = 0;

    sql_on("dst.db", "CREATE TABLE rb(id INTEGER PRIMARY KEY, v TEXT NOT NULL ON CONFLICT ROLLBACK);"
                     "CREATE TABLE ig(id INTEGER PRIMARY KEY ON CONFLICT IGNORE, v TEXT);"
                     "CREATE TABLE other(id INTEGER PRIMARY KEY)");
    s = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "other"), &w, err,
                                             sizeof(err)), 0);
    {
        ferry_value_t row[1] = {{.kind = FERRY_V_INT, .i = 1}};
        ck_assert_int_eq(ferry_writer_put(w, row, &ins, err, sizeof(err)), 0);
    }
    ferry_writer_destroy(w);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "rb"), &w, err,
                                             sizeof(err)), 0);
    for (int i = 0; i < 100 && !rc; i++) {
        ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = i},
                                {.kind = FERRY_V_TEXT, .p = "x", .n = 1}};
        if (i == 10)
            row[1] = (ferry_value_t){.kind = FERRY_V_NULL};
        rc = ferry_writer_put(w, row, &ins, err, sizeof(err));
    }
    ck_assert_int_eq(rc, FERRY_ECONFLICT);
    ck_assert_msg(strstr(err, "table rb row with key (10)"), "%s", err);
    ferry_writer_destroy(w);
    /* Still one transaction: what it wrote before is there until it ends. */
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "ig"), &w, err,
                                             sizeof(err)), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(v, sizeof(v), "v%d", i);
        ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = i == 50 ? 7 : i},
                                {.kind = FERRY_V_TEXT, .p = v, .n = strlen(v)}};
        ck_assert_msg(ferry_writer_put(w, row, &ins, err, sizeof(err)) == 0, "%s", err);
    }
    ck_assert_int_eq(ferry_writer_flush(w, &updated, err, sizeof(err)), 0);
    ck_assert_int_eq(updated, 1);
    ferry_writer_destroy(w);
    ck_assert_msg(ferry_store_commit(s, err, sizeof(err)) == 0, "%s", err);
    ferry_store_destroy(s);
    ferry_objset_destroy(objs);
    /* The transaction survived the failure (the caller chose to commit):
     * the row written before it and rb's rows before the culprit. */
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM other"), "1");
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM rb"), "10");
    ck_assert_str_eq(query("dst.db", "SELECT count(*) || ' ' || (SELECT v FROM ig WHERE id = 7) FROM ig"),
                     "99 v50");
}
END_TEST

/* A writer may outlive its store: its destroy then touches nothing of it. */
START_TEST(test_writer_destroyed_after_its_store)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_writer_t *w;
    int ins;

    sql_on("dst.db", "CREATE TABLE kv(id INTEGER PRIMARY KEY, v TEXT)");
    s = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "kv"), &w, err,
                                             sizeof(err)), 0);
    for (int i = 0; i < 10; i++) {
        ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = i},
                                {.kind = FERRY_V_TEXT, .p = "kept", .n = 4}};
        ck_assert_int_eq(ferry_writer_put(w, row, &ins, err, sizeof(err)), 0);
    }
    ferry_store_destroy(s); /* rolls back; the kept rows go nowhere */
    ferry_writer_destroy(w);
    ferry_objset_destroy(objs);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM kv"), "0");
}
END_TEST

/* After checkpoint_later a commit leaves its pages in the log; a checkpoint
 * then writes them into the database file. */
START_TEST(test_checkpoint_runs_when_asked)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_writer_t *w;
    struct stat before, after, wal;
    char path[600], walpath[620];
    int ins;

    sql_on("dst.db", "CREATE TABLE kv(id INTEGER PRIMARY KEY, v TEXT)");
    s = open_store("dst.db", FERRY_STORE_WRITE);
    snprintf(path, sizeof(path), "%s", uri("dst.db") + strlen("sqlite:"));
    snprintf(walpath, sizeof(walpath), "%s-wal", path);
    ck_assert_int_eq(ferry_store_checkpoint_later(s, err, sizeof(err)), 0);
    ck_assert_int_eq(stat(path, &before), 0);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "kv"), &w, err,
                                             sizeof(err)), 0);
    for (int i = 0; i < 200000; i++) {
        ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = i},
                                {.kind = FERRY_V_TEXT, .p = "some text to fill pages", .n = 23}};
        ck_assert_int_eq(ferry_writer_put(w, row, &ins, err, sizeof(err)), 0);
    }
    ferry_writer_destroy(w);
    ck_assert_msg(ferry_store_commit(s, err, sizeof(err)) == 0, "%s", err);
    /* More pages in the log than SQLite's automatic checkpoint lets pass
     * (1000), none folded back yet. */
    ck_assert_int_eq(stat(walpath, &wal), 0);
    ck_assert_int_gt(wal.st_size, 1000 * 4096);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_int_eq(after.st_size, before.st_size);
    ck_assert_int_eq(ferry_store_checkpoint(s, err, sizeof(err)), 0);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_int_gt(after.st_size, before.st_size + 1000 * 4096);
    ferry_store_destroy(s);
    ferry_objset_destroy(objs);
}
END_TEST

START_TEST(test_table_without_key_skips_identical_rows)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_writer_t *w;
    ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = 1}, {.kind = FERRY_V_NULL}};
    int ins;

    sql_on("src.db", "CREATE TABLE log(a INTEGER, b TEXT)");
    s = open_store("src.db", FERRY_STORE_READ);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ferry_store_destroy(s);

    /* Existing table: an identical row (NULLs compared with IS) is not added again. */
    sql_on("dst.db", "CREATE TABLE log(a INTEGER, b TEXT); INSERT INTO log VALUES (1, NULL)");
    s = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_at(objs, 0), &w, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_writer_put(w, row, &ins, err, sizeof(err)), 0);
    ck_assert_int_eq(ins, 0);
    row[0].i = 2;
    ck_assert_int_eq(ferry_writer_put(w, row, &ins, err, sizeof(err)), 0);
    ck_assert_int_eq(ins, 1);
    ck_assert_int_eq(ferry_writer_put(w, row, &ins, err, sizeof(err)), 0);
    ck_assert_int_eq(ins, 0);
    ferry_writer_destroy(w);
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), 0);
    ferry_store_destroy(s);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM log"), "2");

    /* Created by this transaction: rows come as they are, duplicates included. */
    s = open_store("new.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_apply_object(s, ferry_objset_at(objs, 0), &ins, err, sizeof(err)),
                     0);
    ck_assert_int_eq(ins, 1);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_at(objs, 0), &w, err, sizeof(err)), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ferry_writer_put(w, row, &ins, err, sizeof(err)), 0);
        ck_assert_int_eq(ins, 1);
    }
    ferry_writer_destroy(w);
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), 0);
    ferry_store_destroy(s);
    ck_assert_str_eq(query("new.db", "SELECT count(*) FROM log"), "2");
    ferry_objset_destroy(objs);
}
END_TEST

START_TEST(test_writer_checks_names_against_the_store)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *ghost = ferry_objset_add(set, "ghost"), *kv = ferry_objset_add(set, "kv");
    ferry_store_t *s;
    ferry_writer_t *w = (ferry_writer_t *)&w;

    ferry_object_add_field(ghost, "id", "INTEGER", 0, NULL, 1);
    ferry_object_add_field(kv, "id", "INTEGER", 0, NULL, 1);
    ferry_object_add_field(kv, "v\"; DROP TABLE kv; --", "TEXT", 1, NULL, 0);
    sql_on("dst.db", "CREATE TABLE kv(id INTEGER PRIMARY KEY, v TEXT)");
    s = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_writer_open(s, ghost, &w, err, sizeof(err)), FERRY_ENOTFOUND);
    ck_assert_ptr_null(w);
    ck_assert_ptr_nonnull(strstr(err, "'ghost'"));
    ck_assert_int_eq(ferry_store_writer_open(s, kv, &w, err, sizeof(err)), FERRY_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err, "table kv has no column v\"; DROP TABLE kv; --"));
    ferry_store_destroy(s);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM sqlite_schema"), "1");
    ferry_objset_destroy(set);
}
END_TEST

/* ---- transactions ---- */

START_TEST(test_missing_parent_fails_commit_naming_row_and_parent)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_writer_t *w;
    ferry_value_t row[2] = {{.kind = FERRY_V_INT, .i = 7}, {.kind = FERRY_V_INT, .i = 99}};

    sql_on("dst.db", "CREATE TABLE \"Order\"(id INTEGER PRIMARY KEY);"
                     "CREATE TABLE line(id INTEGER PRIMARY KEY, order_id INTEGER"
                     " REFERENCES \"Order\"(id) ON DELETE CASCADE)");
    s = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_find(objs, "line"), &w, err,
                                             sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_writer_put(w, row, NULL, err, sizeof(err)), 0); /* deferred */
    ferry_writer_destroy(w);
    ck_assert_int_eq(ferry_store_check_fks(s, err, sizeof(err)), FERRY_ECONFLICT);
    ck_assert_str_eq(err, "table line row with key (id=7) references missing Order(order_id=99)");
    err[0] = '\0';
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), FERRY_ECONFLICT);
    ck_assert_str_eq(err, "table line row with key (id=7) references missing Order(order_id=99)");
    ck_assert_int_eq(ferry_store_rollback(s), 0);
    ferry_store_destroy(s);
    ferry_objset_destroy(objs);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM line"), "0");
}
END_TEST

START_TEST(test_rollback_leaves_nothing)
{
    ferry_store_t *src, *dst;
    ferry_objset_t *objs;
    ferry_writer_t *w;
    ferry_value_t row[4] = {{.kind = FERRY_V_INT, .i = 1}, {.kind = FERRY_V_TEXT, .p = "a", .n = 1},
                            {.kind = FERRY_V_REAL, .d = 1}, {.kind = FERRY_V_INT, .i = 1}};
    int applied = 1;

    sql_on("src.db", corpus[0].sql);
    src = open_store("src.db", FERRY_STORE_READ);
    ck_assert_int_eq(ferry_store_read_meta(src, &objs, err, sizeof(err)), 0);
    dst = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_begin(dst, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_apply_object(dst, ferry_objset_at(objs, 0), NULL, err,
                                              sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_store_writer_open(dst, ferry_objset_at(objs, 0), &w, err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_writer_put(w, row, NULL, err, sizeof(err)), 0);
    ferry_writer_destroy(w);
    ck_assert_int_eq(ferry_ledger_mark_applied(dst, "e1", "detail", err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_offset_set(dst, "t", 0, 10, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_has_object(dst, "order"), 1);
    ck_assert_int_eq(ferry_store_rollback(dst), 0);

    ck_assert_int_eq(ferry_store_has_object(dst, "order"), 0);
    ck_assert_int_eq(ferry_ledger_is_applied(dst, "e1", &applied, err, sizeof(err)), 0);
    ck_assert_int_eq(applied, 0);
    /* The store works on after a rollback: the same transaction again commits. */
    ck_assert_int_eq(ferry_store_begin(dst, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_apply_object(dst, ferry_objset_at(objs, 0), NULL, err,
                                              sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_ledger_mark_applied(dst, "e1", NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_commit(dst, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_is_applied(dst, "e1", &applied, err, sizeof(err)), 0);
    ck_assert_int_eq(applied, 1);
    ferry_store_destroy(dst);
    ferry_store_destroy(src);
    ferry_objset_destroy(objs);
    ck_assert_str_eq(query("dst.db", "SELECT count(*) FROM \"order\""), "0");
}
END_TEST

START_TEST(test_read_only_store_refuses_writes)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_writer_t *w;
    int64_t off = 0;
    int applied = 1;

    sql_on("src.db", corpus[0].sql);
    s = open_store("src.db", FERRY_STORE_READ);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_int_eq(ferry_store_writer_open(s, ferry_objset_at(objs, 0), &w, err, sizeof(err)),
                     FERRY_EINVAL);
    ck_assert_int_eq(ferry_ledger_mark_applied(s, "e", NULL, err, sizeof(err)), FERRY_EINVAL);
    /* No ledger yet: nothing applied, no offset. */
    ck_assert_int_eq(ferry_ledger_is_applied(s, "e", &applied, err, sizeof(err)), 0);
    ck_assert_int_eq(applied, 0);
    ck_assert_int_eq(ferry_ledger_offset_get(s, "t", 0, &off, err, sizeof(err)), 0);
    ck_assert_int_eq(off, -1);
    ferry_store_destroy(s);
    ferry_objset_destroy(objs);
}
END_TEST

/* ---- the ledger ---- */

START_TEST(test_ledger_round_trip)
{
    ferry_store_t *s = open_store("dst.db", FERRY_STORE_WRITE);
    ferry_objset_t *objs;
    int64_t off;
    int applied;

    ck_assert_int_eq(ferry_ledger_offset_get(s, "ferry.records.prod", 3, &off, err, sizeof(err)),
                     0);
    ck_assert_int_eq(off, -1);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_mark_applied(s, "exp-1", "{\"rows\":3}", err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_offset_set(s, "ferry.records.prod", 3, 41, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_offset_set(s, "ferry.records.prod", 3, 42, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_offset_set(s, "ferry.records.prod", 4, 7, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_mark_applied(s, "exp-1", NULL, err, sizeof(err)),
                     FERRY_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err, "exp-1"));
    ferry_store_destroy(s);

    s = open_store("dst.db", FERRY_STORE_READ);
    ck_assert_int_eq(ferry_ledger_is_applied(s, "exp-1", &applied, err, sizeof(err)), 0);
    ck_assert_int_eq(applied, 1);
    ck_assert_int_eq(ferry_ledger_is_applied(s, "exp-2", &applied, err, sizeof(err)), 0);
    ck_assert_int_eq(applied, 0);
    ck_assert_int_eq(ferry_ledger_offset_get(s, "ferry.records.prod", 3, &off, err, sizeof(err)),
                     0);
    ck_assert_int_eq(off, 42);
    ck_assert_int_eq(ferry_ledger_offset_get(s, "ferry.records.prod", 4, &off, err, sizeof(err)),
                     0);
    ck_assert_int_eq(off, 7);
    ck_assert_int_eq(ferry_ledger_offset_get(s, "other", 3, &off, err, sizeof(err)), 0);
    ck_assert_int_eq(off, -1);
    /* The ledger is not a user object. */
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_uint_eq(ferry_objset_count(objs), 0);
    ck_assert_int_eq(ferry_store_has_object(s, "ferry_applied"), 0);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* The status outbox: an event queued in a rolled-back transaction is gone;
 * committed ones come back oldest first with key and bytes intact (NULs
 * included), across a reopen; removed ones are gone; it is no user object. */
START_TEST(test_status_outbox_round_trip)
{
    static const unsigned char first[] = {0xc3, 0x01, 0x00, 0x7f, 0x00, 0xff};
    ferry_store_t *s = open_store("dst.db", FERRY_STORE_WRITE);
    ferry_buf_t key = {0}, event = {0};
    ferry_objset_t *objs;
    int64_t id, a;

    ck_assert_int_eq(ferry_ledger_outbox_next(s, 0, &id, &key, &event, err, sizeof(err)), 0);
    ck_assert_int_eq(id, -1);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_add(s, "lost", "x", 1, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_rollback(s), 0);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_add(s, "exp-1", first, sizeof(first), err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_ledger_outbox_add(s, "exp-2", "second", 6, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), 0);
    ferry_store_destroy(s);

    s = open_store("dst.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_ledger_outbox_next(s, 0, &a, &key, &event, err, sizeof(err)), 0);
    ck_assert_int_gt(a, 0);
    ck_assert_str_eq((const char *)key.data, "exp-1");
    ck_assert_uint_eq(key.len, 5);
    ck_assert_uint_eq(event.len, sizeof(first));
    ck_assert_int_eq(memcmp(event.data, first, sizeof(first)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_next(s, a, &id, &key, &event, err, sizeof(err)), 0);
    ck_assert_int_gt(id, a);
    ck_assert_str_eq((const char *)key.data, "exp-2");
    ck_assert_uint_eq(event.len, 6);
    ck_assert_int_eq(memcmp(event.data, "second", 6), 0);
    ck_assert_int_eq(ferry_ledger_outbox_remove(s, a, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_next(s, 0, &a, &key, &event, err, sizeof(err)), 0);
    ck_assert_int_eq(a, id);
    ck_assert_int_eq(ferry_ledger_outbox_remove(s, id, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_next(s, 0, &a, &key, &event, err, sizeof(err)), 0);
    ck_assert_int_eq(a, -1);
    /* Empty again, an id is still never reused. */
    ck_assert_int_eq(ferry_ledger_outbox_add(s, "exp-3", "third", 5, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_next(s, 0, &a, &key, &event, err, sizeof(err)), 0);
    ck_assert_int_gt(a, id);
    ck_assert_int_eq(ferry_ledger_outbox_remove(s, a, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_uint_eq(ferry_objset_count(objs), 0);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
    ferry_buf_free(&key);
    ferry_buf_free(&event);
}
END_TEST

/* Existing targets keep working: the ledger's tables keep the names and
 * columns that earlier versions created. */
START_TEST(test_ledger_tables_keep_their_names_and_columns)
{
    ferry_store_t *s = open_store("dst.db", FERRY_STORE_WRITE);
    int applied;

    ck_assert_int_eq(ferry_ledger_is_applied(s, "e", &applied, err, sizeof(err)), 0);
    ferry_store_destroy(s);
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(name, ',') FROM (SELECT name FROM "
                                     "sqlite_schema WHERE name LIKE 'ferry%' AND type = 'table' "
                                     "ORDER BY name)"),
                     "ferry_applied,ferry_offsets,ferry_outbox");
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(name || ' ' || type || ' ' || pk, ',') "
                                     "FROM pragma_table_info('ferry_applied')"),
                     "export_id TEXT 1,applied_at INTEGER 0,detail TEXT 0");
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(name || ' ' || type || ' ' || pk, ',') "
                                     "FROM pragma_table_info('ferry_offsets')"),
                     "topic TEXT 1,partition INTEGER 2,next_offset INTEGER 0");
    ck_assert_str_eq(query("dst.db", "SELECT group_concat(name || ' ' || type || ' ' || pk || ' '"
                                     " || \"notnull\", ',') FROM pragma_table_info('ferry_outbox')"),
                     "id INTEGER 1 0,key TEXT 0 1,event BLOB 0 1");
}
END_TEST

/* A store that is only ever a source keeps no ledger: every ledger call is
 * refused, and the reads report nothing. */
START_TEST(test_store_without_ledger_refuses_ledger_calls)
{
    static const ferry_store_ops_t no_ops = {0};
    ferry_store_t source_only = {.ops = &no_ops, .ledger = NULL};
    ferry_buf_t key = {0}, event = {0};
    int64_t off = 0, id = 0;
    int applied = 1;

    ck_assert_int_eq(ferry_ledger_is_applied(&source_only, "e", &applied, err, sizeof(err)),
                     FERRY_EPERMANENT);
    ck_assert_int_eq(applied, 0);
    ck_assert_ptr_nonnull(strstr(err, "import target"));
    ck_assert_int_eq(ferry_ledger_mark_applied(&source_only, "e", NULL, err, sizeof(err)),
                     FERRY_EPERMANENT);
    ck_assert_int_eq(ferry_ledger_offset_get(&source_only, "t", 0, &off, err, sizeof(err)),
                     FERRY_EPERMANENT);
    ck_assert_int_eq(off, -1);
    ck_assert_int_eq(ferry_ledger_offset_set(&source_only, "t", 0, 1, err, sizeof(err)),
                     FERRY_EPERMANENT);
    ck_assert_int_eq(ferry_ledger_outbox_add(&source_only, "e", "x", 1, err, sizeof(err)),
                     FERRY_EPERMANENT);
    ck_assert_int_eq(ferry_ledger_outbox_next(&source_only, 0, &id, &key, &event, err,
                                              sizeof(err)),
                     FERRY_EPERMANENT);
    ck_assert_int_eq(id, -1);
    ck_assert_int_eq(ferry_ledger_outbox_remove(&source_only, 1, err, sizeof(err)),
                     FERRY_EPERMANENT);
}
END_TEST

/* Regression: SQLite names are case-insensitive, so is ferry's reserved prefix. */
static const char *const reserved_any_case[] = {"FERRY_APPLIED", "Ferry_Offsets", "fErRy_x"};

START_TEST(test_reserved_names_in_any_case_are_not_user_objects)
{
    char sql[256];
    ferry_store_t *s;
    ferry_objset_t *objs;

    snprintf(sql, sizeof(sql), "CREATE TABLE \"%s\"(a); CREATE TABLE t(id)",
             reserved_any_case[_i]);
    sql_on("src.db", sql);
    s = open_store("src.db", FERRY_STORE_READ);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_uint_eq(ferry_objset_count(objs), 1);
    ck_assert_str_eq(ferry_objset_at(objs, 0)->name, "t");
    ck_assert_int_eq(ferry_store_has_object(s, reserved_any_case[_i]), 0);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* ---- snapshots ---- */

static const char *const family =
    "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
    "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL"
    " REFERENCES parent(id) ON DELETE CASCADE);"
    "INSERT INTO parent VALUES (1); INSERT INTO child VALUES (10, 1);";

/* The rows of table as s's cursor yields them. */
static int count_rows(ferry_store_t *s, const ferry_objset_t *objs, const char *table)
{
    ferry_cursor_t *cur = NULL;
    const ferry_value_t *row;
    int n = 0, rc;

    ck_assert_msg(ferry_store_cursor_open(s, ferry_objset_find(objs, table), &cur, err,
                                          sizeof(err)) == 0,
                  "%s", err);
    while ((rc = ferry_cursor_next(cur, &row, err, sizeof(err))) == 1)
        n++;
    ck_assert_msg(rc == 0, "%s", err);
    ferry_cursor_destroy(cur);
    return n;
}

/* Regression: an export read each table in its own autocommit snapshot, so a
 * writer committing between two tables made it carry a child without its
 * parent. The snapshot is pinned by ferry_store_snapshot itself: the write
 * lands before the first read of metadata or rows. */
START_TEST(test_snapshot_hides_later_writes_from_every_table)
{
    ferry_store_t *s;
    ferry_objset_t *objs;

    sql_on("src.db", "PRAGMA journal_mode=WAL");
    sql_on("src.db", family);
    s = open_store("src.db", FERRY_STORE_READ);
    ck_assert_msg(ferry_store_snapshot(s, err, sizeof(err)) == 0, "%s", err);
    sql_on("src.db", "BEGIN; INSERT INTO parent VALUES (2); INSERT INTO child VALUES (20, 2);"
                     " COMMIT");
    ck_assert_str_eq(query("src.db", "SELECT count(*) FROM child"), "2"); /* it did commit */
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(count_rows(s, objs, "parent"), 1);
    ck_assert_int_eq(count_rows(s, objs, "child"), 1);
    ferry_store_destroy(s);

    s = open_store("src.db", FERRY_STORE_READ);
    ck_assert_int_eq(count_rows(s, objs, "parent"), 2);
    ck_assert_int_eq(count_rows(s, objs, "child"), 2);
    ferry_store_destroy(s);
    ferry_objset_destroy(objs);
}
END_TEST

START_TEST(test_snapshot_ends_with_rollback_and_refuses_nesting)
{
    ferry_store_t *s;
    ferry_objset_t *objs;

    sql_on("src.db", "PRAGMA journal_mode=WAL");
    sql_on("src.db", family);
    s = open_store("src.db", FERRY_STORE_WRITE);
    ck_assert_int_eq(ferry_store_has_object(s, "late"), 0); /* the catalog is cached */
    ck_assert_int_eq(ferry_store_snapshot(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_snapshot(s, err, sizeof(err)), FERRY_EORDER);
    ck_assert_msg(strstr(err, "a snapshot is already open"), "%s", err);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), FERRY_EORDER);
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), FERRY_EORDER);
    /* A schema change after the snapshot is not seen through the catalog. */
    sql_on("src.db", "CREATE TABLE late(x); INSERT INTO parent VALUES (2)");
    ck_assert_int_eq(ferry_store_has_object(s, "late"), 0);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_ptr_null(ferry_objset_find(objs, "late"));
    ck_assert_int_eq(count_rows(s, objs, "parent"), 1);
    ck_assert_int_eq(ferry_store_rollback(s), 0);
    /* After it, the store reads the present and takes transactions again. */
    ck_assert_int_eq(ferry_store_has_object(s, "late"), 1);
    ck_assert_int_eq(count_rows(s, objs, "parent"), 2);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_snapshot(s, err, sizeof(err)), FERRY_EORDER);
    ck_assert_msg(strstr(err, "a transaction is already open"), "%s", err);
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), 0);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* In rollback-journal mode the snapshot is a shared lock: writers wait while
 * it lasts, and destroy releases it even while a cursor outlives the store
 * (which keeps the connection open). */
START_TEST(test_snapshot_ends_with_destroy)
{
    char path[256];
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_cursor_t *cur;
    sqlite3 *db;

    sql_on("src.db", family);
    s = open_store("src.db", FERRY_STORE_READ);
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_snapshot(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_cursor_open(s, ferry_objset_find(objs, "parent"), &cur, err,
                                             sizeof(err)),
                     0);
    snprintf(path, sizeof(path), "%s/src.db", dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO parent VALUES (2)", NULL, NULL, NULL),
                     SQLITE_BUSY);
    ferry_store_destroy(s);
    ck_assert_msg(sqlite3_exec(db, "INSERT INTO parent VALUES (2)", NULL, NULL, NULL) ==
                      SQLITE_OK,
                  "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    ferry_cursor_destroy(cur);
    ferry_objset_destroy(objs);
}
END_TEST

START_TEST(test_checksum_ignores_physical_order)
{
    ferry_store_t *a, *b;
    ferry_objset_t *objs;
    ferry_checksum_t ca, cb;

    sql_on("a.db", "CREATE TABLE t(x INTEGER, y TEXT);"
                   "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL)");
    sql_on("b.db", "CREATE TABLE t(y TEXT, x INTEGER);"
                   "INSERT INTO t VALUES (NULL, 3), ('b', 2), ('a', 1)");
    a = open_store("a.db", FERRY_STORE_READ);
    b = open_store("b.db", FERRY_STORE_READ);
    ck_assert_int_eq(ferry_store_read_meta(a, &objs, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_checksum_table(a, ferry_objset_at(objs, 0), &ca, err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_store_checksum_table(b, ferry_objset_at(objs, 0), &cb, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(ca.rows, 3);
    ck_assert_uint_eq(ca.rows, cb.rows);
    ck_assert_uint_eq(ca.sum, cb.sum);
    ferry_objset_destroy(objs);
    ferry_store_destroy(a);
    ferry_store_destroy(b);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store_sqlite");
    TCase *tc = tcase_create("store");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_open_by_uri, 0, N(opens));
    tcase_add_test(tc, test_open_rejects_a_file_that_is_no_database);
    tcase_add_loop_test(tc, test_corpus_round_trip, 0, N(corpus));
    tcase_add_test(tc, test_cursor_streams_in_key_order);
    tcase_add_test(tc, test_hostile_names_stay_names);
    tcase_add_loop_test(tc, test_apply_refuses_unsafe_metadata, 0, N(refused));
    tcase_add_loop_test(tc, test_apply_evolves_or_conflicts, 0, N(evolutions));
    tcase_add_test(tc, test_apply_needs_a_transaction);
    tcase_add_test(tc, test_definitions_carried_to_an_empty_target);
    tcase_add_loop_test(tc, test_index_of_the_same_name, 0, N(index_clashes));
    tcase_add_test(tc, test_existing_table_gets_missing_indexes);
    tcase_add_test(tc, test_upsert_counts_inserts_and_updates);
    tcase_add_test(tc, test_empty_table_takes_rows_in_batches);
    tcase_add_test(tc, test_batches_ignore_the_tables_conflict_clauses);
    tcase_add_test(tc, test_writer_destroyed_after_its_store);
    tcase_add_test(tc, test_checkpoint_runs_when_asked);
    tcase_add_test(tc, test_table_without_key_skips_identical_rows);
    tcase_add_test(tc, test_writer_checks_names_against_the_store);
    tcase_add_test(tc, test_missing_parent_fails_commit_naming_row_and_parent);
    tcase_add_test(tc, test_rollback_leaves_nothing);
    tcase_add_test(tc, test_read_only_store_refuses_writes);
    tcase_add_test(tc, test_ledger_round_trip);
    tcase_add_test(tc, test_status_outbox_round_trip);
    tcase_add_test(tc, test_ledger_tables_keep_their_names_and_columns);
    tcase_add_test(tc, test_store_without_ledger_refuses_ledger_calls);
    tcase_add_loop_test(tc, test_reserved_names_in_any_case_are_not_user_objects, 0,
                        N(reserved_any_case));
    tcase_add_test(tc, test_snapshot_hides_later_writes_from_every_table);
    tcase_add_test(tc, test_snapshot_ends_with_rollback_and_refuses_nesting);
    tcase_add_test(tc, test_snapshot_ends_with_destroy);
    tcase_add_test(tc, test_checksum_ignores_physical_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ferry_check_run(store_suite());
}
