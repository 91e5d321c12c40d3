/* test_store_pg.c - the PostgreSQL store as a source and as the keeper of
 * the ledger: opening (errors never show a password), the environment's
 * schema, the catalog (every carried type, hostile names, keys, relations,
 * generators, enums, partitions, what is excluded or not carried), cursors
 * whose values equal an independent `SELECT col` (as PostgreSQL prints it)
 * in key order, snapshots, transactions and the ledger.
 *
 * Needs the server of FERRY_PG_URL (deploy/local/postgres.sh; tests/run.sh
 * starts it): each test creates a database of its own, named after the
 * process and a counter, and drops it. The test libpq connection sets the
 * session the store documents (pg_impl.h), so the text it reads is the
 * text the store must give. */
#include "catalog.h"
#include "config.h"
#include "error.h"
#include "export.h"
#include "ledger.h"
#include "meta.h"
#include "pg_impl.h"
#include "protocol.h"
#include "store.h"
#include "check_run.h"

#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char err[2048];
static char host[256], port[16], user[128];
static char dbname[64], dburi[512];

static const char *pg_url(void)
{
    const char *u = getenv("FERRY_PG_URL");
    ck_assert_msg(u && *u, "FERRY_PG_URL is not set (tests/CMakeLists.txt passes it)");
    return u;
}

/* A connection to uri with the session the store documents. */
static PGconn *connect_to(const char *uri)
{
    PGconn *c = PQconnectdb(uri);
    PGresult *r;

    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s: %s", uri, PQerrorMessage(c));
    r = PQexec(c, "SET client_min_messages = warning; SET DateStyle = 'ISO'; "
                  "SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; "
                  "SET extra_float_digits = 3; SET bytea_output = 'hex'");
    ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    return c;
}

static void exec_on(const char *uri, const char *sql)
{
    PGconn *c = connect_to(uri);
    PGresult *r = PQexec(c, sql);

    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void sql(const char *text) { exec_on(dburi, text); }

/* The single value of a query on the test database ("" for NULL or none). */
static const char *query1(const char *text)
{
    static char out[4096];
    PGconn *c = connect_to(dburi);
    PGresult *r = PQexec(c, text);

    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", text, PQerrorMessage(c));
    snprintf(out, sizeof(out), "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return out;
}

/* Drops the databases of earlier runs whose process is gone (a failed
 * check ends its test before the teardown). */
static void drop_stale_databases(void)
{
    PGconn *c = connect_to(pg_url());
    PGresult *r = PQexec(c, "SELECT datname FROM pg_database "
                            "WHERE datname LIKE 'ferry\\_pgtest\\_%'");

    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    for (int i = 0; i < PQntuples(r); i++) {
        long pid = strtol(PQgetvalue(r, i, 0) + strlen("ferry_pgtest_"), NULL, 10);
        char text[256];
        if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(text, sizeof(text), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
                 PQgetvalue(r, i, 0));
        PQclear(PQexec(c, text));
    }
    PQclear(r);
    PQfinish(c);
}

static void setup(void)
{
    static int counter;
    PQconninfoOption *opts = PQconninfoParse(pg_url(), NULL);

    ck_assert_ptr_nonnull(opts);
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = o->val ? o->val : "";
        if (!strcmp(o->keyword, "host"))
            snprintf(host, sizeof(host), "%s", *v ? v : "127.0.0.1");
        else if (!strcmp(o->keyword, "port"))
            snprintf(port, sizeof(port), "%s", *v ? v : "5432");
        else if (!strcmp(o->keyword, "user"))
            snprintf(user, sizeof(user), "%s", *v ? v : "postgres");
    }
    PQconninfoFree(opts);
    if (!counter)
        drop_stale_databases();
    snprintf(dbname, sizeof(dbname), "ferry_pgtest_%ld_%d", (long)getpid(), counter++);
    snprintf(dburi, sizeof(dburi), "postgresql://%s@%s:%s/%s", user, host, port, dbname);
    char text[256];
    snprintf(text, sizeof(text), "DROP DATABASE IF EXISTS %s", dbname);
    exec_on(pg_url(), text);
    snprintf(text, sizeof(text), "CREATE DATABASE %s", dbname);
    exec_on(pg_url(), text);
}

static void teardown(void)
{
    char text[256];

    snprintf(text, sizeof(text), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    exec_on(pg_url(), text);
}

static ferry_store_t *open_store(const char *schema, int mode)
{
    ferry_store_t *s = NULL;
    int rc = ferry_store_open_schema(dburi, schema, mode, &s, err, sizeof(err));

    ck_assert_msg(rc == 0, "open %s: %s", dburi, err);
    return s;
}

static ferry_objset_t *read_meta(ferry_store_t *s)
{
    ferry_objset_t *objs = NULL;

    ck_assert_msg(ferry_store_read_meta(s, &objs, err, sizeof(err)) == 0, "%s", err);
    return objs;
}

static const ferry_object_t *find(const ferry_objset_t *objs, const char *name)
{
    const ferry_object_t *o = ferry_objset_find(objs, name);
    ck_assert_msg(o != NULL, "no object %s", name);
    return o;
}

static const ferry_field_t *field(const ferry_object_t *o, const char *name)
{
    int i = ferry_object_field_index(o, name);
    ck_assert_msg(i >= 0, "%s has no field %s", o->name, name);
    return &o->fields[i];
}

static int has_note(const ferry_object_t *o, const char *part)
{
    for (size_t i = 0; i < o->nnot_carried; i++)
        if (strstr(o->not_carried[i], part))
            return 1;
    return 0;
}

/* ---- opening ---- */

/* A password in the URI never reaches a message, whatever fails. */
START_TEST(test_open_errors_hide_the_password)
{
    static const struct {
        const char *before, *after; /* around host:port */
        int rc;
        const char *part;
    } cases[] = {
        {"postgresql://postgres:s3cret@", "/ferry_no_such_db", FERRY_ESTORE, "cannot connect"},
        {"postgres://postgres:s3cret@", "/ferry_no_such_db", FERRY_ESTORE, "cannot connect"},
        {"postgresql://", "/ferry_no_such_db?user=postgres&password=s3cret", FERRY_ESTORE,
         "cannot connect"},
        {"postgresql://", "/x?password=s3cret&no_such_option=1", FERRY_EPERMANENT,
         "not a valid PostgreSQL connection URI"},
    };
    char uri[512];
    ferry_store_t *s = (ferry_store_t *)&s;

    for (size_t i = 0; i < N(cases); i++) {
        snprintf(uri, sizeof(uri), "%s%s:%s%s", cases[i].before, host, port, cases[i].after);
        err[0] = '\0';
        ck_assert_int_eq(ferry_store_open(uri, FERRY_STORE_READ, &s, err, sizeof(err)),
                         cases[i].rc);
        ck_assert_ptr_null(s);
        ck_assert_msg(strstr(err, cases[i].part), "%s: '%s' lacks '%s'", uri, err,
                      cases[i].part);
        ck_assert_msg(!strstr(err, "s3cret"), "the password shows: %s", err);
        ck_assert_msg(strstr(err, "***"), "the store is not named, redacted: %s", err);
    }
}
END_TEST

/* Later messages name the store the same way. */
START_TEST(test_messages_after_open_hide_the_password)
{
    char uri[512];
    ferry_store_t *s = NULL;
    ferry_object_t *obj;
    ferry_objset_t *set = ferry_objset_new();
    ferry_cursor_t *cur = NULL;

    snprintf(uri, sizeof(uri), "postgresql://%s:s3cret@%s:%s/%s", user, host, port, dbname);
    ck_assert_msg(ferry_store_open(uri, FERRY_STORE_READ, &s, err, sizeof(err)) == 0, "%s", err);
    obj = ferry_objset_add(set, "no_such_table");
    ck_assert_int_eq(ferry_object_add_field(obj, "a", "integer", 1, NULL, 0), 0);
    ck_assert_int_eq(ferry_store_cursor_open(s, obj, &cur, err, sizeof(err)), FERRY_ESTORE);
    ck_assert_msg(strstr(err, "no_such_table") && strstr(err, "***") && !strstr(err, "s3cret"),
                  "%s", err);
    ferry_objset_destroy(set);
    ferry_store_destroy(s);
}
END_TEST

START_TEST(test_open_refuses_what_is_no_environment)
{
    ferry_store_t *s = (ferry_store_t *)&s;

    ck_assert_int_eq(ferry_store_open_schema(dburi, "nowhere", FERRY_STORE_READ, &s, err,
                                             sizeof(err)),
                     FERRY_ENOTFOUND);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err, "\"nowhere\""), "%s", err);
    ck_assert_int_eq(ferry_store_open_schema(dburi, "ferry", FERRY_STORE_WRITE, &s, err,
                                             sizeof(err)),
                     FERRY_EINVAL);
    ck_assert_msg(strstr(err, "ledger"), "%s", err);
    ck_assert_int_eq(ferry_store_open_schema("sqlite:/tmp/x.db", "app", FERRY_STORE_READ, &s,
                                             err, sizeof(err)),
                     FERRY_EINVAL);
    ck_assert_msg(strstr(err, "no schemas"), "%s", err);
}
END_TEST

/* An environment is one schema: a write open creates it and the ledger;
 * another schema's tables are not its objects. */
START_TEST(test_schema_is_the_environment)
{
    ferry_store_t *s;
    ferry_objset_t *objs;

    sql("CREATE TABLE public.outside (id int PRIMARY KEY)");
    s = open_store("app", FERRY_STORE_WRITE);
    ck_assert_str_eq(query1("SELECT string_agg(nspname, ',' ORDER BY nspname) FROM "
                            "pg_namespace WHERE nspname IN ('app', 'ferry')"),
                     "app,ferry");
    ck_assert_str_eq(query1("SELECT count(*) FROM pg_tables WHERE schemaname = 'ferry'"), "3");
    sql("CREATE TABLE app.inside (id int PRIMARY KEY); INSERT INTO app.inside VALUES (1), (2)");
    objs = read_meta(s);
    ck_assert_uint_eq(ferry_objset_count(objs), 1);
    ck_assert_ptr_nonnull(ferry_objset_find(objs, "inside"));
    ferry_checksum_t sum;
    ck_assert_msg(ferry_store_checksum_table(s, find(objs, "inside"), &sum, err, sizeof(err)) ==
                      0,
                  "%s", err);
    ck_assert_uint_eq(sum.rows, 2);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);

    /* read-only opens see the same, and public stays public's */
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    ck_assert_uint_eq(ferry_objset_count(objs), 1);
    ck_assert_ptr_nonnull(ferry_objset_find(objs, "outside"));
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* Write opens racing on a fresh database all succeed (the advisory lock). */
START_TEST(test_concurrent_write_opens_create_the_ledger_once)
{
    enum { PROCS = 6 };
    int go[2];
    pid_t pids[PROCS];

    ck_assert_int_eq(pipe(go), 0);
    for (int i = 0; i < PROCS; i++) {
        ck_assert_int_ge(pids[i] = fork(), 0);
        if (pids[i] == 0) {
            char c;
            ferry_store_t *s = NULL;
            close(go[1]);
            if (read(go[0], &c, 1) < 0)
                _exit(3);
            int rc = ferry_store_open_schema(dburi, "shared", FERRY_STORE_WRITE, &s, err,
                                             sizeof(err));
            if (rc)
                fprintf(stderr, "child %d: %s\n", i, err);
            ferry_store_destroy(s);
            _exit(rc ? 1 : 0);
        }
    }
    close(go[0]);
    close(go[1]); /* every child's read returns at once */
    for (int i = 0; i < PROCS; i++) {
        int status;
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "open %d failed", i);
    }
    ck_assert_str_eq(query1("SELECT count(*) FROM pg_tables WHERE schemaname = 'ferry'"), "3");
}
END_TEST

/* ---- the catalog ---- */

static const char every_type_ddl[] =
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
    "CREATE TABLE every (id integer PRIMARY KEY, c_smallint smallint, c_integer integer,"
    " c_bigint bigint, c_numeric numeric, c_numeric_ps numeric(12,4), c_real real,"
    " c_double double precision, c_text text, c_varchar varchar(80), c_char char(5),"
    " c_bool boolean, c_date date, c_time time, c_time3 time(3), c_ts timestamp,"
    " c_ts6 timestamp(6), c_tstz timestamptz, c_interval interval, c_uuid uuid, c_json json,"
    " c_jsonb jsonb, c_bytea bytea, c_mood mood, c_int_arr integer[], c_text_arr text[],"
    " c_mood_arr mood[], c_num_arr numeric(5,2)[], c_tstz_arr timestamptz[])";

static const struct {
    const char *name, *decl;
    ferry_type_t type;
    int length, scale;
} every_type[] = {
    {"id", "integer", FERRY_T_INTEGER, 0, 0},
    {"c_smallint", "smallint", FERRY_T_INTEGER, 0, 0},
    {"c_integer", "integer", FERRY_T_INTEGER, 0, 0},
    {"c_bigint", "bigint", FERRY_T_INTEGER, 0, 0},
    {"c_numeric", "numeric", FERRY_T_NUMERIC, 0, 0},
    {"c_numeric_ps", "numeric(12,4)", FERRY_T_NUMERIC, 12, 4},
    {"c_real", "real", FERRY_T_REAL, 0, 0},
    {"c_double", "double precision", FERRY_T_REAL, 0, 0},
    {"c_text", "text", FERRY_T_TEXT, 0, 0},
    {"c_varchar", "character varying(80)", FERRY_T_TEXT, 80, 0},
    {"c_char", "character(5)", FERRY_T_TEXT, 5, 0},
    {"c_bool", "boolean", FERRY_T_BOOLEAN, 0, 0},
    {"c_date", "date", FERRY_T_DAY, 0, 0},
    {"c_time", "time without time zone", FERRY_T_TIME, 0, 0},
    {"c_time3", "time(3) without time zone", FERRY_T_TIME, 3, 0},
    {"c_ts", "timestamp without time zone", FERRY_T_DATETIME, 0, 0},
    {"c_ts6", "timestamp(6) without time zone", FERRY_T_DATETIME, 6, 0},
    {"c_tstz", "timestamp with time zone", FERRY_T_TIMESTAMPTZ, 0, 0},
    {"c_interval", "interval", FERRY_T_INTERVAL, 0, 0},
    {"c_uuid", "uuid", FERRY_T_UUID, 0, 0},
    {"c_json", "json", FERRY_T_JSON, 0, 0},
    {"c_jsonb", "jsonb", FERRY_T_JSON, 0, 0},
    {"c_bytea", "bytea", FERRY_T_BLOB, 0, 0},
    {"c_mood", "mood", FERRY_T_ENUM, 0, 0},
    {"c_int_arr", "integer[]", FERRY_T_ARRAY, 0, 0},
    {"c_text_arr", "text[]", FERRY_T_ARRAY, 0, 0},
    {"c_mood_arr", "mood[]", FERRY_T_ARRAY, 0, 0},
    {"c_num_arr", "numeric(5,2)[]", FERRY_T_ARRAY, 5, 2},
    {"c_tstz_arr", "timestamp with time zone[]", FERRY_T_ARRAY, 0, 0},
};

START_TEST(test_every_carried_type_maps)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    const ferry_object_t *o;

    sql(every_type_ddl);
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    o = find(objs, "every");
    ck_assert_int_eq(o->dialect, FERRY_DIALECT_POSTGRESQL);
    ck_assert_uint_eq(o->nfields, N(every_type));
    for (size_t i = 0; i < N(every_type); i++) {
        const ferry_field_t *f = &o->fields[i]; /* attnum order */
        ck_assert_str_eq(f->name, every_type[i].name);
        ck_assert_msg(!strcmp(f->decl_type, every_type[i].decl), "%s: decl %s", f->name,
                      f->decl_type);
        ck_assert_msg(f->type == every_type[i].type, "%s: type %s", f->name,
                      ferry_type_name(f->type));
        ck_assert_msg(f->length == every_type[i].length && f->scale == every_type[i].scale,
                      "%s: (%d,%d)", f->name, f->length, f->scale);
        ck_assert_msg(!f->uncarriable, "%s is flagged uncarriable", f->name);
    }
    ck_assert_int_eq(field(o, "id")->pk_pos, 1);
    ck_assert_int_eq(field(o, "id")->nullable, 0);
    ck_assert_int_eq(field(o, "c_text")->nullable, 1);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* Enum labels in their order (one added BEFORE another included), for the
 * enum and for an array of it. */
START_TEST(test_enum_labels_in_order)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    const ferry_object_t *o;
    static const char *const want[] = {"sad", "meh", "ok", "happy", "it's \"great\""};

    sql(every_type_ddl);
    sql("ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';"
        "ALTER TYPE mood ADD VALUE 'it''s \"great\"'");
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    o = find(objs, "every");
    for (int k = 0; k < 2; k++) {
        const ferry_field_t *f = field(o, k ? "c_mood_arr" : "c_mood");
        ck_assert_uint_eq(f->nlabels, N(want));
        for (size_t i = 0; i < N(want); i++)
            ck_assert_str_eq(f->labels[i], want[i]);
    }
    ck_assert_uint_eq(field(o, "c_text")->nlabels, 0);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* Columns of types ferry cannot carry are described, flagged. */
START_TEST(test_uncarriable_types_are_flagged)
{
    static const char *const cols[] = {"c_money", "c_point", "c_inet", "c_xml", "c_range",
                                       "c_domain", "c_composite", "c_matrix"};
    ferry_store_t *s;
    ferry_objset_t *objs;
    const ferry_object_t *o;

    sql("CREATE DOMAIN posint AS integer CHECK (VALUE > 0);"
        "CREATE TYPE pair AS (a int, b text);"
        "CREATE TABLE odd (id int PRIMARY KEY, c_money money, c_point point, c_inet inet,"
        " c_xml xml, c_range int4range, c_domain posint, c_composite pair, c_matrix int[][])");
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    o = find(objs, "odd");
    ck_assert_int_eq(field(o, "id")->uncarriable, 0);
    for (size_t i = 0; i < N(cols); i++)
        ck_assert_msg(field(o, cols[i])->uncarriable == 1, "%s is not flagged", cols[i]);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* Names that are SQL in disguise stay names, in the catalog and in cursors. */
START_TEST(test_hostile_identifiers_stay_names)
{
    static const char *const tables[] = {"order", "a\"quote", "x; DROP TABLE t; --", "Ünïcødé 表"};
    ferry_store_t *s;
    ferry_objset_t *objs;

    sql("CREATE TABLE t (id int PRIMARY KEY);"
        "CREATE TABLE \"order\" (\"select\" int PRIMARY KEY, \"from\" text);"
        "CREATE TABLE \"a\"\"quote\" (\"a\"\"b\" int PRIMARY KEY, \"c,d\" text);"
        "CREATE TABLE \"x; DROP TABLE t; --\" (\"'); DROP TABLE t; --\" int PRIMARY KEY,"
        " \"v\" text);"
        "CREATE TABLE \"Ünïcødé 表\" (\"ключ\" int PRIMARY KEY, \"值\" text);"
        "INSERT INTO \"order\" VALUES (2, 'b'), (1, 'a');"
        "INSERT INTO \"a\"\"quote\" VALUES (2, 'b'), (1, 'a');"
        "INSERT INTO \"x; DROP TABLE t; --\" VALUES (2, 'b'), (1, 'a');"
        "INSERT INTO \"Ünïcødé 表\" VALUES (2, 'b'), (1, 'a')");
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    ck_assert_uint_eq(ferry_objset_count(objs), 5);
    for (size_t i = 0; i < N(tables); i++) {
        const ferry_object_t *o = find(objs, tables[i]);
        ferry_cursor_t *cur = NULL;
        const ferry_value_t *row;
        int64_t want = 1;

        ck_assert_uint_eq(o->nfields, 2);
        ck_assert_int_eq(o->fields[0].pk_pos, 1);
        ck_assert_msg(ferry_store_cursor_open(s, o, &cur, err, sizeof(err)) == 0, "%s", err);
        while (ferry_cursor_next(cur, &row, err, sizeof(err)) == 1) {
            ck_assert_int_eq(row[0].kind, FERRY_V_INT);
            ck_assert_int_eq(row[0].i, want);
            ck_assert_int_eq(row[1].kind, FERRY_V_TEXT);
            ck_assert_int_eq(((const char *)row[1].p)[0], 'a' + (int)(want - 1));
            want++;
        }
        ck_assert_int_eq(want, 3);
        ferry_cursor_destroy(cur);
    }
    ck_assert_str_eq(field(find(objs, "a\"quote"), "c,d")->name, "c,d");
    ck_assert_str_eq(field(find(objs, "x; DROP TABLE t; --"), "'); DROP TABLE t; --")->name,
                     "'); DROP TABLE t; --");
    ck_assert_str_eq(query1("SELECT count(*) FROM pg_tables WHERE tablename = 't'"), "1");
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* Keys, relations (actions, deferrability, closure kind), uniques, plain
 * indexes, and what is not carried. */
START_TEST(test_keys_relations_and_indexes)
{
    static const struct {
        const char *table, *on_delete;
        ferry_rel_kind_t kind;
        ferry_defer_t defer;
    } fks[] = {
        {"c_cascade", "CASCADE", FERRY_REL_INCLUDE, FERRY_DEFER_NONE},
        {"c_setnull", "SET NULL", FERRY_REL_ASSOCIATION, FERRY_DEFER_IMMEDIATE},
        {"c_setdefault", "SET DEFAULT", FERRY_REL_ASSOCIATION, FERRY_DEFER_DEFERRED},
        {"c_restrict", "RESTRICT", FERRY_REL_ASSOCIATION, FERRY_DEFER_NONE},
        {"c_noaction", "NO ACTION", FERRY_REL_ASSOCIATION, FERRY_DEFER_NONE},
    };
    ferry_store_t *s;
    ferry_objset_t *objs;
    const ferry_object_t *o;

    sql("CREATE TABLE head (a int, b text, note text, PRIMARY KEY (b, a), UNIQUE (note));"
        "CREATE TABLE c_cascade (id int PRIMARY KEY, a int, b text,"
        " FOREIGN KEY (b, a) REFERENCES head ON DELETE CASCADE);"
        "CREATE TABLE c_setnull (id int PRIMARY KEY, a int, b text,"
        " FOREIGN KEY (b, a) REFERENCES head ON DELETE SET NULL DEFERRABLE);"
        "CREATE TABLE c_setdefault (id int PRIMARY KEY, a int, b text,"
        " FOREIGN KEY (b, a) REFERENCES head ON DELETE SET DEFAULT DEFERRABLE INITIALLY DEFERRED);"
        "CREATE TABLE c_restrict (id int PRIMARY KEY, a int, b text,"
        " FOREIGN KEY (b, a) REFERENCES head ON DELETE RESTRICT);"
        "CREATE TABLE c_noaction (id int PRIMARY KEY, a int, b text,"
        " FOREIGN KEY (b, a) REFERENCES head);"
        "CREATE TABLE tree (id int PRIMARY KEY, up int REFERENCES tree (id), v text, w int,"
        " CHECK (w > 0), UNIQUE (v, w));"
        "CREATE INDEX tree_plain ON tree (w DESC, v);"
        "CREATE UNIQUE INDEX tree_uniq ON tree (up);"
        "CREATE INDEX tree_expr ON tree (lower(v));"
        "CREATE INDEX tree_part ON tree (w) WHERE w > 10;"
        "CREATE INDEX tree_hash ON tree USING hash (v);"
        "CREATE SCHEMA other; CREATE TABLE other.far (id int PRIMARY KEY);"
        "CREATE TABLE near (id int PRIMARY KEY, far_id int REFERENCES other.far)");
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);

    o = find(objs, "head");
    ck_assert_int_eq(field(o, "b")->pk_pos, 1);
    ck_assert_int_eq(field(o, "a")->pk_pos, 2);
    ck_assert_int_eq(field(o, "note")->pk_pos, 0);
    ck_assert_uint_eq(o->nuniques, 1);
    ck_assert_str_eq(o->uniques[0].fields[0], "note");
    for (size_t i = 0; i < N(fks); i++) {
        const ferry_relation_t *r;
        o = find(objs, fks[i].table);
        ck_assert_uint_eq(o->nrelations, 1);
        r = &o->relations[0];
        ck_assert_str_eq(r->target, "head");
        ck_assert_uint_eq(r->nfields, 2);
        ck_assert_str_eq(r->fields[0], "b");
        ck_assert_str_eq(r->fields[1], "a");
        ck_assert_str_eq(r->to_fields[0], "b");
        ck_assert_str_eq(r->to_fields[1], "a");
        ck_assert_str_eq(r->on_delete, fks[i].on_delete);
        ck_assert_msg(r->kind == fks[i].kind, "%s: kind %d", fks[i].table, r->kind);
        ck_assert_msg(r->deferrable == fks[i].defer, "%s: defer %d", fks[i].table,
                      r->deferrable);
    }

    o = find(objs, "tree");
    ck_assert_uint_eq(o->nrelations, 1);
    ck_assert_str_eq(o->relations[0].target, "tree");
    ck_assert_str_eq(o->relations[0].fields[0], "up");
    ck_assert_uint_eq(o->nuniques, 1);
    ck_assert_uint_eq(o->nindexes, 2);
    ck_assert_str_eq(o->indexes[0].name, "tree_plain");
    ck_assert_int_eq(o->indexes[0].unique, 0);
    ck_assert_uint_eq(o->indexes[0].ncols, 2);
    ck_assert_str_eq(o->indexes[0].cols[0].name, "w");
    ck_assert_int_eq(o->indexes[0].cols[0].desc, 1);
    ck_assert_str_eq(o->indexes[0].cols[1].name, "v");
    ck_assert_int_eq(o->indexes[0].cols[1].desc, 0);
    ck_assert_str_eq(o->indexes[1].name, "tree_uniq");
    ck_assert_int_eq(o->indexes[1].unique, 1);
    ck_assert_msg(has_note(o, "tree_expr") && has_note(o, "tree_part") &&
                      has_note(o, "tree_hash") && has_note(o, "CHECK"),
                  "not carried: %zu items", o->nnot_carried);

    o = find(objs, "near");
    ck_assert_uint_eq(o->nrelations, 0);
    ck_assert_msg(has_note(o, "another schema"), "the foreign key to other.far is not noted");
    ck_assert_ptr_null(ferry_objset_find(objs, "far"));
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* Identity and serial-style generators; literal defaults only. */
START_TEST(test_generators_and_defaults)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    const ferry_object_t *o;

    sql("CREATE TYPE mood AS ENUM ('sad', 'ok');"
        "CREATE SEQUENCE free_seq;"
        "CREATE TABLE gen (a bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " b int GENERATED BY DEFAULT AS IDENTITY, c serial, d bigserial,"
        " e int DEFAULT nextval('free_seq'), f text DEFAULT 'it''s', g int DEFAULT -1,"
        " h numeric(10,2) DEFAULT 1.5, i boolean DEFAULT true, j timestamptz DEFAULT now(),"
        " k mood DEFAULT 'ok', l int GENERATED ALWAYS AS (g * 2) STORED)");
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    o = find(objs, "gen");
    ck_assert_int_eq(field(o, "a")->identity, FERRY_IDENTITY_ALWAYS);
    ck_assert_int_eq(field(o, "b")->identity, FERRY_IDENTITY_BY_DEFAULT);
    ck_assert_int_eq(field(o, "c")->identity, FERRY_IDENTITY_SERIAL);
    ck_assert_ptr_null(field(o, "c")->default_sql);
    ck_assert_int_eq(field(o, "d")->identity, FERRY_IDENTITY_SERIAL);
    /* a sequence the column does not own is a default like any other */
    ck_assert_int_eq(field(o, "e")->identity, FERRY_IDENTITY_NONE);
    ck_assert_ptr_null(field(o, "e")->default_sql);
    ck_assert_msg(has_note(o, "default of column \"e\""), "nextval default not noted");
    ck_assert_str_eq(field(o, "f")->default_sql, "'it''s'::text");
    ck_assert_ptr_nonnull(field(o, "g")->default_sql);
    ck_assert_ptr_nonnull(strstr(field(o, "g")->default_sql, "-1"));
    ck_assert_str_eq(field(o, "h")->default_sql, "1.5");
    ck_assert_str_eq(field(o, "i")->default_sql, "true");
    ck_assert_ptr_null(field(o, "j")->default_sql);
    ck_assert_msg(has_note(o, "default of column \"j\""), "now() not noted");
    ck_assert_str_eq(field(o, "k")->default_sql, "'ok'");
    ck_assert_ptr_null(field(o, "l")->default_sql);
    ck_assert_msg(has_note(o, "generated column \"l\""), "generated column not noted");
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* A partitioned table is one object whose cursor reads every partition;
 * partitions, views and the like are excluded with a reason. */
START_TEST(test_partitions_views_and_foreign_tables)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    const ferry_object_t *o;
    ferry_checksum_t sum;

    sql("CREATE TABLE meas (k int, d date, v text, PRIMARY KEY (k, d)) PARTITION BY RANGE (d);"
        "CREATE TABLE meas_2020 PARTITION OF meas FOR VALUES FROM ('2020-01-01') TO "
        "('2021-01-01');"
        "CREATE TABLE meas_2021 PARTITION OF meas FOR VALUES FROM ('2021-01-01') TO "
        "('2022-01-01');"
        "INSERT INTO meas VALUES (1, '2020-05-01', 'a'), (2, '2021-05-01', 'b'),"
        " (3, '2020-06-01', 'c');"
        "CREATE VIEW v AS SELECT k FROM meas;"
        "CREATE MATERIALIZED VIEW mv AS SELECT k FROM meas;"
        "CREATE TABLE ferry_own (id int)");
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    ck_assert_uint_eq(ferry_objset_count(objs), 1);
    o = find(objs, "meas");
    ck_assert_int_eq(field(o, "k")->pk_pos, 1);
    ck_assert_int_eq(field(o, "d")->pk_pos, 2);
    ck_assert_msg(ferry_store_checksum_table(s, o, &sum, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(sum.rows, 3);
    ck_assert_ptr_nonnull(strstr(ferry_objset_excluded_reason(objs, "v"), "view"));
    ck_assert_ptr_nonnull(strstr(ferry_objset_excluded_reason(objs, "mv"), "materialized"));
    ck_assert_ptr_nonnull(strstr(ferry_objset_excluded_reason(objs, "meas_2020"), "partition"));
    ck_assert_ptr_nonnull(ferry_objset_excluded_reason(objs, "ferry_own"));
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* The export job refuses a table with an uncarriable column before anything
 * is sent, naming table.column and the type; ferry-env's describe path
 * (read_meta) still shows it. The environment's schema comes from the
 * config. */
START_TEST(test_export_refuses_an_uncarriable_column)
{
    char text[2048], path[1024];
    ferry_config_t *cfg = NULL;
    ferry_catalog_t *cat = NULL;
    ferry_export_t *ex = NULL;
    char *objects[1] = {"priced"};
    ferry_request_t req = {.export_id = "e1", .source = "pg", .target = "prod",
                           .objects = objects, .nobjects = 1};
    const char *src = getenv("FERRY_SOURCE_DIR");

    sql("CREATE SCHEMA app;"
        "CREATE TABLE app.priced (id int PRIMARY KEY, price money, label text);"
        "CREATE TABLE app.plain (id int PRIMARY KEY)");
    snprintf(path, sizeof(path), "%s/schemas/catalog/preset.json", src ? src : ".");
    ck_assert_msg(ferry_catalog_load(path, &cat, err, sizeof(err)) == 0, "%s", err);
    snprintf(text, sizeof(text),
             "{ \"environments\": { \"pg\": { \"store\": \"%s\", \"schema\": \"app\" },"
             " \"prod\": { \"store\": \"sqlite:/tmp/ferry-unused.db\" } } }",
             dburi);
    ck_assert_msg(ferry_config_parse(text, "t.json", &cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(ferry_export_prepare(cfg, cat, &req, &ex, err, sizeof(err)),
                     FERRY_EPERMANENT);
    ck_assert_ptr_null(ex);
    ck_assert_msg(strstr(err, "priced.price") && strstr(err, "money"), "%s", err);

    objects[0] = "plain"; /* the other table of the schema exports */
    ck_assert_msg(ferry_export_prepare(cfg, cat, &req, &ex, err, sizeof(err)) == 0, "%s", err);
    ferry_export_destroy(ex);
    ferry_config_destroy(cfg);
    ferry_catalog_destroy(cat);
}
END_TEST

/* ---- cursors ---- */

static const char every_type_rows[] =
    "INSERT INTO every VALUES"
    " (3, -32768, -2147483648, -9223372036854775808, 'NaN',"
    "  -99999999.9999, 'NaN', 'NaN', '', '', '', false,"
    "  '4713-01-01 BC', '00:00:00', '23:59:59.999', '0001-01-01 00:00:00',"
    "  '1900-02-28 12:34:56.123456', '1969-12-31 23:59:59.999999+00',"
    "  '-178000000 years', '00000000-0000-0000-0000-000000000000', '{}', '{}', '\\x',"
    "  'sad', '{}', '{}', '{}', '{}', '{}'),"
    " (1, 32767, 2147483647, 9223372036854775807,"
    "  123456789012345678901234567890.123456789012345678901234567890,"
    "  0.0001, 3.4028235e38, 1.7976931348623157e308, 'x''y\\z \"q\" ü 表 😀', 'väl',"
    "  'ab', true, '5874897-12-31', '24:00:00', '12:00:00.5', '294276-12-31 23:59:59.999999',"
    "  '2100-03-01 00:00:00.000001', '2262-04-11 23:47:16.854775+00',"
    "  '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',"
    "  '{\"b\": [1, 2.50, null], \"a\": \"x\"}', '{\"b\": [1, 2.50, null], \"a\": \"x\"}',"
    "  '\\x00ff00deadbeef', 'happy', '{1,NULL,-3}', '{\"a,b\",\"c\\\"d\",NULL,\"\"}',"
    "  '{ok,sad}', '{1.50,NULL,-999.99}', '{\"2020-01-01 00:00:00+00\"}'),"
    " (2, 0, 0, 0, 0.00100000000000000000, 0, 1.4e-45, -0.0, 'line\nbreak\ttab', NULL,"
    "  'a', NULL, '1970-01-01', '12:34:56.000001', NULL, '2000-02-29 00:00:00', NULL,"
    "  '2000-01-01 00:00:00+05:30', '-1 days +00:00:00.000001', NULL, 'null', 'null', NULL,"
    "  NULL, NULL, NULL, NULL, NULL, NULL),"
    " (4, NULL, NULL, NULL, NULL, NULL, '-Infinity', 'Infinity', NULL, NULL, NULL, NULL,"
    "  'infinity', NULL, NULL, '-infinity', NULL, 'infinity', NULL, NULL, NULL, NULL, NULL,"
    "  NULL, NULL, NULL, NULL, NULL, NULL),"
    " (5, NULL, NULL, NULL, NULL, NULL, 1.17549435e-38, 4.9e-324, NULL, NULL, NULL, NULL,"
    "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    "  NULL, NULL, NULL)";

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* One cursor value against PostgreSQL's text of the same value. */
static void check_value(const ferry_field_t *f, const ferry_value_t *v, const PGresult *r,
                        int row, int col)
{
    const char *text = PQgetvalue(r, row, col);
    size_t tn = (size_t)PQgetlength(r, row, col);

    if (PQgetisnull(r, row, col)) {
        ck_assert_msg(v->kind == FERRY_V_NULL, "row %d %s: not NULL", row, f->name);
        return;
    }
    switch (f->type) {
    case FERRY_T_INTEGER:
        ck_assert_msg(v->kind == FERRY_V_INT && v->i == strtoll(text, NULL, 10),
                      "row %d %s: %lld vs %s", row, f->name, (long long)v->i, text);
        break;
    case FERRY_T_BOOLEAN:
        ck_assert_msg(v->kind == FERRY_V_INT && v->i == (text[0] == 't'), "row %d %s", row,
                      f->name);
        break;
    case FERRY_T_REAL: {
        /* the text is the shortest exact one (extra_float_digits 3): parsed at
         * the column's own width it gives back the stored bits */
        double want = !strcmp(f->decl_type, "real") ? (double)strtof(text, NULL)
                                                    : strtod(text, NULL);
        ck_assert_int_eq(v->kind, FERRY_V_REAL);
        if (isnan(want))
            ck_assert_msg(isnan(v->d), "row %d %s: %.17g vs NaN", row, f->name, v->d);
        else
            ck_assert_msg(!memcmp(&want, &v->d, sizeof(want)), "row %d %s: %.17g vs %s", row,
                          f->name, v->d, text);
        break;
    }
    case FERRY_T_BLOB: {
        ck_assert_msg(v->kind == FERRY_V_BLOB && tn >= 2 && v->n == (tn - 2) / 2,
                      "row %d %s: %zu bytes vs %s", row, f->name, v->n, text);
        for (size_t i = 0; i < v->n; i++)
            ck_assert_int_eq(((const unsigned char *)v->p)[i],
                             hexval(text[2 + 2 * i]) * 16 + hexval(text[3 + 2 * i]));
        break;
    }
    default:
        ck_assert_msg(v->kind == FERRY_V_TEXT && v->n == tn && !memcmp(v->p, text, tn),
                      "row %d %s: '%.*s' vs '%s'", row, f->name, (int)v->n,
                      (const char *)v->p, text);
    }
}

/* Reads obj through the store and compares every value, in key order, with
 * `SELECT col ... ORDER BY order_by` on an independent connection: each
 * value as PostgreSQL prints it (a char(n) with its padding, which a cast
 * to text would strip). */
static void compare_with_text(ferry_store_t *s, const ferry_object_t *obj, const char *table,
                              const char *order_by, int want_rows)
{
    char q[8192];
    size_t len = (size_t)snprintf(q, sizeof(q), "SELECT ");
    PGconn *c = connect_to(dburi);
    PGresult *r;
    ferry_cursor_t *cur = NULL;
    const ferry_value_t *row;
    int n = 0, rc;

    for (size_t i = 0; i < obj->nfields; i++)
        len += (size_t)snprintf(q + len, sizeof(q) - len, "%s\"%s\" AS c%zu",
                                i ? ", " : "", obj->fields[i].name, i);
    snprintf(q + len, sizeof(q) - len, " FROM %s ORDER BY %s", table, order_by);
    r = PQexec(c, q);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q, PQerrorMessage(c));
    ck_assert_int_eq(PQntuples(r), want_rows);
    ck_assert_msg(ferry_store_cursor_open(s, obj, &cur, err, sizeof(err)) == 0, "%s", err);
    while ((rc = ferry_cursor_next(cur, &row, err, sizeof(err))) == 1) {
        ck_assert_int_lt(n, PQntuples(r));
        for (size_t i = 0; i < obj->nfields; i++)
            check_value(&obj->fields[i], &row[i], r, n, (int)i);
        n++;
    }
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(n, PQntuples(r));
    ck_assert_int_eq(ferry_cursor_next(cur, &row, err, sizeof(err)), 0); /* stays at the end */
    ferry_cursor_destroy(cur);
    PQclear(r);
    PQfinish(c);
}

START_TEST(test_cursor_values_equal_postgresql_text_in_key_order)
{
    ferry_store_t *s;
    ferry_objset_t *objs;

    sql(every_type_ddl);
    sql(every_type_rows);
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    compare_with_text(s, find(objs, "every"), "every", "id", 5);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* A composite key orders by its columns in key order, not table order. */
START_TEST(test_cursor_follows_a_composite_key)
{
    ferry_store_t *s;
    ferry_objset_t *objs;

    sql("CREATE TABLE pairs (a int, b text, v real, PRIMARY KEY (b, a));"
        "INSERT INTO pairs SELECT i % 7, 'k' || (i % 5), i / 3.0 FROM generate_series(1, 35) i");
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    compare_with_text(s, find(objs, "pairs"), "pairs", "b, a", 35);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* Without a primary key: every column in field order, text bytewise. */
START_TEST(test_cursor_without_key_orders_by_every_column)
{
    ferry_store_t *s;
    ferry_objset_t *objs;

    sql("CREATE TABLE loose (t text, n int, j json);"
        "INSERT INTO loose VALUES ('b', 2, '{}'), ('B', 1, '[]'), ('a', 3, NULL),"
        " ('b', 1, '1'), (NULL, 0, NULL), ('b', 1, '1')");
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    compare_with_text(s, find(objs, "loose"), "loose", "t COLLATE \"C\", n, j::text COLLATE \"C\"",
                      6);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* Many rows and wide values: bounded by one row, all there. */
START_TEST(test_cursor_streams_many_rows_and_wide_values)
{
    ferry_store_t *s;
    ferry_objset_t *objs;

    sql("CREATE TABLE wide (id bigint PRIMARY KEY, t text, b bytea);"
        "INSERT INTO wide SELECT i, repeat(md5(i::text), 1 + i % 50),"
        " decode(repeat(md5(i::text), 1 + i % 20), 'hex') FROM generate_series(1, 20000) i;"
        "INSERT INTO wide VALUES (0, repeat('x', 3000000), decode(repeat('00', 2000000), 'hex'))");
    s = open_store(NULL, FERRY_STORE_READ);
    objs = read_meta(s);
    compare_with_text(s, find(objs, "wide"), "wide", "id", 20001);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* A cursor holds the connection until its end: a second one is refused, and
 * one destroyed early inside a snapshot leaves the snapshot usable. */
START_TEST(test_cursor_holds_the_connection)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_cursor_t *a = NULL, *b = NULL;
    const ferry_value_t *row;
    ferry_checksum_t sum;

    sql("CREATE TABLE n (id int PRIMARY KEY); INSERT INTO n SELECT generate_series(1, 5000)");
    s = open_store(NULL, FERRY_STORE_READ);
    ck_assert_msg(ferry_store_snapshot(s, err, sizeof(err)) == 0, "%s", err);
    objs = read_meta(s);
    ck_assert_int_eq(ferry_store_cursor_open(s, find(objs, "n"), &a, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_cursor_next(a, &row, err, sizeof(err)), 1);
    ck_assert_int_eq(ferry_store_cursor_open(s, find(objs, "n"), &b, err, sizeof(err)),
                     FERRY_EORDER);
    ck_assert_ptr_null(b);
    ferry_cursor_destroy(a);
    ck_assert_msg(ferry_store_checksum_table(s, find(objs, "n"), &sum, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(sum.rows, 5000);
    ck_assert_int_eq(ferry_store_rollback(s), 0);

    /* outside a transaction the COPY is cancelled; the store goes on */
    ck_assert_int_eq(ferry_store_cursor_open(s, find(objs, "n"), &a, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_cursor_next(a, &row, err, sizeof(err)), 1);
    ferry_cursor_destroy(a);
    ck_assert_msg(ferry_store_checksum_table(s, find(objs, "n"), &sum, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(sum.rows, 5000);

    /* a rollback ends a snapshot whose cursor still reads; the cursor fails */
    ck_assert_int_eq(ferry_store_snapshot(s, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_store_cursor_open(s, find(objs, "n"), &a, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_cursor_next(a, &row, err, sizeof(err)), 1);
    ck_assert_int_eq(ferry_store_rollback(s), 0);
    ck_assert_int_eq(ferry_cursor_next(a, &row, err, sizeof(err)), FERRY_ESTORE);
    ferry_cursor_destroy(a);
    ck_assert_msg(ferry_store_snapshot(s, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(ferry_store_checksum_table(s, find(objs, "n"), &sum, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(sum.rows, 5000);

    /* a cursor outliving its store fails cleanly */
    ck_assert_int_eq(ferry_store_cursor_open(s, find(objs, "n"), &a, err, sizeof(err)), 0);
    ferry_store_destroy(s);
    ck_assert_int_eq(ferry_cursor_next(a, &row, err, sizeof(err)), FERRY_ESTORE);
    ferry_cursor_destroy(a);
    ferry_objset_destroy(objs);
}
END_TEST

/* ---- transactions ---- */

START_TEST(test_snapshot_hides_later_writes)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    ferry_checksum_t sum;

    sql("CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY);"
        "INSERT INTO a VALUES (1); INSERT INTO b VALUES (1)");
    s = open_store(NULL, FERRY_STORE_READ);
    ck_assert_msg(ferry_store_snapshot(s, err, sizeof(err)) == 0, "%s", err);
    /* written by another connection after the snapshot began, before any read */
    sql("INSERT INTO a VALUES (2); INSERT INTO b VALUES (2); CREATE TABLE c (id int)");
    objs = read_meta(s);
    ck_assert_ptr_null(ferry_objset_find(objs, "c"));
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(ferry_store_checksum_table(s, find(objs, i ? "b" : "a"), &sum, err,
                                                 sizeof(err)) == 0,
                      "%s", err);
        ck_assert_uint_eq(sum.rows, 1);
    }
    ck_assert_int_eq(ferry_store_snapshot(s, err, sizeof(err)), FERRY_EORDER);
    ck_assert_int_eq(ferry_store_begin(s, err, sizeof(err)), FERRY_EORDER);
    ck_assert_int_eq(ferry_store_rollback(s), 0);
    ck_assert_msg(ferry_store_checksum_table(s, find(objs, "a"), &sum, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(sum.rows, 2);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* A deferred foreign key failing at commit: the message carries the
 * server's detail (which key is missing). */
START_TEST(test_failing_commit_names_the_missing_key)
{
    ferry_store_t *s;

    sql("CREATE TABLE parent (id int PRIMARY KEY);"
        "CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent"
        " DEFERRABLE INITIALLY IMMEDIATE)");
    s = open_store(NULL, FERRY_STORE_WRITE);
    ck_assert_msg(ferry_store_begin(s, err, sizeof(err)) == 0, "%s", err);
    /* begin deferred every constraint: the orphan is accepted until commit */
    ck_assert_msg(ferry_pg_exec((pg_store_t *)s, "INSERT INTO public.child VALUES (1, 99)",
                                "inserting", err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), FERRY_ECONFLICT);
    ck_assert_msg(strstr(err, "(parent_id)=(99)"), "%s", err);
    ck_assert_int_eq(ferry_store_rollback(s), 0);
    ck_assert_str_eq(query1("SELECT count(*) FROM child"), "0");

    /* a transaction whose statement failed commits nothing, and says so */
    ck_assert_msg(ferry_store_begin(s, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_ne(ferry_pg_exec((pg_store_t *)s, "SELECT 1/0", "dividing", err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), FERRY_ESTORE);
    ck_assert_int_eq(ferry_store_rollback(s), 0);

    ck_assert_int_eq(ferry_store_commit(s, err, sizeof(err)), FERRY_EORDER);
    ferry_store_destroy(s);
}
END_TEST

/* A store opened to read cannot write, even by a statement of its own. */
START_TEST(test_read_only_store_cannot_write)
{
    ferry_store_t *s;

    sql("CREATE TABLE a (id int PRIMARY KEY)");
    s = open_store(NULL, FERRY_STORE_READ);
    ck_assert_msg(ferry_store_begin(s, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(ferry_pg_exec((pg_store_t *)s, "INSERT INTO public.a VALUES (1)",
                                   "inserting", err, sizeof(err)),
                     FERRY_ESTORE);
    ck_assert_msg(strstr(err, "read-only"), "%s", err);
    ck_assert_int_eq(ferry_store_rollback(s), 0);
    ck_assert_int_eq(ferry_ledger_mark_applied(s, "x", NULL, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_int_eq(ferry_ledger_offset_set(s, "t", 0, 1, err, sizeof(err)), FERRY_EINVAL);
    ferry_store_destroy(s);
}
END_TEST

/* ---- the ledger ---- */

START_TEST(test_ledger_operations)
{
    ferry_store_t *s, *r;
    ferry_buf_t key = FERRY_BUF_INIT, ev = FERRY_BUF_INIT;
    int applied;
    int64_t off, id1, id2, id3, id;
    static const unsigned char event[] = {0xc3, 0x01, 0x00, 0xff, 'x'};

    /* a read-only store on a database ferry never wrote: nothing there */
    r = open_store(NULL, FERRY_STORE_READ);
    ck_assert_int_eq(ferry_ledger_is_applied(r, "e1", &applied, err, sizeof(err)), 0);
    ck_assert_int_eq(applied, 0);
    ck_assert_int_eq(ferry_ledger_offset_get(r, "t", 0, &off, err, sizeof(err)), 0);
    ck_assert_int_eq(off, -1);
    ferry_store_destroy(r);

    s = open_store(NULL, FERRY_STORE_WRITE);
    ck_assert_msg(ferry_store_begin(s, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(ferry_ledger_mark_applied(s, "e1", "{\"rows\": 3}", err, sizeof(err)), 0);
    /* a second mark is a conflict that leaves the transaction usable */
    ck_assert_int_eq(ferry_ledger_mark_applied(s, "e1", NULL, err, sizeof(err)),
                     FERRY_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err, "e1"));
    ck_assert_int_eq(ferry_ledger_offset_set(s, "ferry.records.prod", 3, 42, err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_ledger_offset_set(s, "ferry.records.prod", 3, 43, err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_ledger_outbox_add(s, "k1", event, sizeof(event), err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_ledger_outbox_next(s, -1, &id1, &key, &ev, err, sizeof(err)), 0);
    ck_assert_int_gt(id1, 0); /* inside the transaction, it sees what it queued */
    ck_assert_msg(ferry_store_commit(s, err, sizeof(err)) == 0, "%s", err);

    ck_assert_int_eq(ferry_ledger_is_applied(s, "e1", &applied, err, sizeof(err)), 0);
    ck_assert_int_eq(applied, 1);
    ck_assert_str_eq(query1("SELECT detail FROM ferry.applied"), "{\"rows\": 3}");
    ck_assert_int_eq(ferry_ledger_offset_get(s, "ferry.records.prod", 3, &off, err, sizeof(err)),
                     0);
    ck_assert_int_eq(off, 43);
    ck_assert_int_eq(ferry_ledger_offset_get(s, "ferry.records.prod", 4, &off, err, sizeof(err)),
                     0);
    ck_assert_int_eq(off, -1);
    ck_assert_int_eq(ferry_ledger_outbox_next(s, -1, &id, &key, &ev, err, sizeof(err)), 0);
    ck_assert_int_eq(id, id1);
    ck_assert_str_eq((const char *)key.data, "k1");
    ck_assert_uint_eq(key.len, 2);
    ck_assert_uint_eq(ev.len, sizeof(event));
    ck_assert_mem_eq(ev.data, event, sizeof(event));

    /* ids grow and are never reused, even once the outbox is empty */
    ck_assert_int_eq(ferry_ledger_outbox_add(s, "k2", "", 0, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_next(s, id1, &id2, &key, &ev, err, sizeof(err)), 0);
    ck_assert_int_gt(id2, id1);
    ck_assert_uint_eq(ev.len, 0);
    ck_assert_int_eq(ferry_ledger_outbox_remove(s, id1, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_remove(s, id2, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_next(s, -1, &id, &key, &ev, err, sizeof(err)), 0);
    ck_assert_int_eq(id, -1);
    ck_assert_int_eq(ferry_ledger_outbox_add(s, "k3", "z", 1, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_outbox_next(s, -1, &id3, &key, &ev, err, sizeof(err)), 0);
    ck_assert_int_gt(id3, id2);

    /* a rollback takes the ledger's writes with it */
    ck_assert_msg(ferry_store_begin(s, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(ferry_ledger_mark_applied(s, "e2", NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_ledger_offset_set(s, "ferry.records.prod", 3, 99, err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_store_rollback(s), 0);
    ck_assert_int_eq(ferry_ledger_is_applied(s, "e2", &applied, err, sizeof(err)), 0);
    ck_assert_int_eq(applied, 0);
    ck_assert_int_eq(ferry_ledger_offset_get(s, "ferry.records.prod", 3, &off, err, sizeof(err)),
                     0);
    ck_assert_int_eq(off, 43);
    ferry_store_destroy(s);

    /* the ledger is no user object */
    r = open_store(NULL, FERRY_STORE_READ);
    ferry_objset_t *objs = read_meta(r);
    ck_assert_uint_eq(ferry_objset_count(objs), 0);
    ck_assert_int_eq(ferry_ledger_is_applied(r, "e1", &applied, err, sizeof(err)), 0);
    ck_assert_int_eq(applied, 1);
    ferry_objset_destroy(objs);
    ferry_store_destroy(r);
    ferry_buf_free(&key);
    ferry_buf_free(&ev);
}
END_TEST

static Suite *store_pg_suite(void)
{
    Suite *s = suite_create("store_pg");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_open_errors_hide_the_password);
    tcase_add_test(tc, test_messages_after_open_hide_the_password);
    tcase_add_test(tc, test_open_refuses_what_is_no_environment);
    tcase_add_test(tc, test_schema_is_the_environment);
    tcase_add_test(tc, test_concurrent_write_opens_create_the_ledger_once);
    tcase_add_test(tc, test_every_carried_type_maps);
    tcase_add_test(tc, test_enum_labels_in_order);
    tcase_add_test(tc, test_uncarriable_types_are_flagged);
    tcase_add_test(tc, test_hostile_identifiers_stay_names);
    tcase_add_test(tc, test_keys_relations_and_indexes);
    tcase_add_test(tc, test_generators_and_defaults);
    tcase_add_test(tc, test_partitions_views_and_foreign_tables);
    tcase_add_test(tc, test_export_refuses_an_uncarriable_column);
    tcase_add_test(tc, test_cursor_values_equal_postgresql_text_in_key_order);
    tcase_add_test(tc, test_cursor_follows_a_composite_key);
    tcase_add_test(tc, test_cursor_without_key_orders_by_every_column);
    tcase_add_test(tc, test_cursor_streams_many_rows_and_wide_values);
    tcase_add_test(tc, test_cursor_holds_the_connection);
    tcase_add_test(tc, test_snapshot_hides_later_writes);
    tcase_add_test(tc, test_failing_commit_names_the_missing_key);
    tcase_add_test(tc, test_read_only_store_cannot_write);
    tcase_add_test(tc, test_ledger_operations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ferry_check_run(store_pg_suite());
}
