/* test_seed.c - the sample environment: deterministic for a given (rows, seed),
 * every preset object of the catalog and the custom objects present, foreign
 * keys as in tests/unit/data/preset_schema.sql and all satisfied, about the
 * requested number of rows, and no overwriting by accident; and the same
 * tables, relations and rows in a PostgreSQL store (a database of its own on
 * the test server, FERRY_PG_URL) as in a SQLite file. */
#include "buf.h"
#include "catalog.h"
#include "checksum.h"
#include "error.h"
#include "meta.h"
#include "seed.h"
#include "sqlite_meta.h"
#include "store.h"
#include "check_run.h"

#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char dir[64], err[1024];

static void setup(void)
{
    strcpy(dir, "/tmp/ferry-seed-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *path_of(const char *file)
{
    static char buf[2][256];
    static int next;
    char *b = buf[next++ % 2];
    snprintf(b, sizeof(buf[0]), "%s/%s", dir, file);
    return b;
}

static void seed(const char *file, int64_t rows, uint64_t s)
{
    int64_t written = -1;
    ck_assert_msg(ferry_seed_create(path_of(file), NULL, rows, s, 0, &written, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_gt(written, 0);
}

static ferry_store_t *open_read(const char *file)
{
    char uri[300];
    ferry_store_t *s;
    snprintf(uri, sizeof(uri), "sqlite:%s", path_of(file));
    ck_assert_msg(ferry_store_open(uri, FERRY_STORE_READ, &s, err, sizeof(err)) == 0, "%s", err);
    return s;
}

/* Every table's "name rows checksum" line of the store s, concatenated;
 * destroys s. */
static char *store_checksums(ferry_store_t *s)
{
    ferry_objset_t *objs;
    ferry_buf_t out = FERRY_BUF_INIT;
    char hex[17], *text;

    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    for (size_t i = 0; i < ferry_objset_count(objs); i++) {
        ferry_checksum_t c;
        ck_assert_int_eq(ferry_store_checksum_table(s, ferry_objset_at(objs, i), &c, err,
                                                    sizeof(err)),
                         0);
        ferry_checksum_hex(&c, hex);
        ferry_buf_printf(&out, "%s %llu %s\n", ferry_objset_at(objs, i)->name,
                         (unsigned long long)c.rows, hex);
    }
    text = ferry_buf_strdup(&out);
    ferry_buf_free(&out);
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
    return text;
}

static char *checksums(const char *file)
{
    return store_checksums(open_read(file));
}

START_TEST(test_same_rows_and_seed_give_the_same_content)
{
    char *a, *b, *c;

    seed("a.db", 3000, 42);
    seed("b.db", 3000, 42);
    seed("c.db", 3000, 43);
    a = checksums("a.db");
    b = checksums("b.db");
    c = checksums("c.db");
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    free(a);
    free(b);
    free(c);
}
END_TEST

static const int64_t totals[] = {0, 1000, 20000};

START_TEST(test_rows_are_about_the_total_asked)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    int64_t sum = 0, want = totals[_i];

    seed("s.db", want, 1);
    s = open_read("s.db");
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    ck_assert_uint_eq(ferry_objset_count(objs), ferry_seed_table_count());
    for (size_t i = 0; i < ferry_objset_count(objs); i++) {
        ferry_checksum_t c;
        ck_assert_int_eq(ferry_store_checksum_table(s, ferry_objset_at(objs, i), &c, err,
                                                    sizeof(err)),
                         0);
        ck_assert_uint_ge(c.rows, 1); /* every table has rows */
        sum += (int64_t)c.rows;
    }
    ck_assert_int_ge(sum, want * 95 / 100);
    ck_assert_int_le(sum, want * 105 / 100 + (int64_t)ferry_seed_table_count());
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

/* The relation of obj to target over the given first field, or NULL. */
static const ferry_relation_t *relation(const ferry_object_t *obj, const char *field)
{
    for (size_t i = 0; obj && i < obj->nrelations; i++)
        if (!strcmp(obj->relations[i].fields[0], field))
            return &obj->relations[i];
    return NULL;
}

START_TEST(test_every_catalog_object_with_the_preset_foreign_keys)
{
    const char *src = getenv("FERRY_SOURCE_DIR");
    char path[512], *sql;
    ferry_catalog_t *cat;
    ferry_objset_t *seeded, *preset;
    ferry_store_t *s;
    sqlite3 *mem;
    FILE *f;
    long len;

    ck_assert_ptr_nonnull(src);
    seed("s.db", 500, 7);
    s = open_read("s.db");
    ck_assert_int_eq(ferry_store_read_meta(s, &seeded, err, sizeof(err)), 0);
    ferry_store_destroy(s);

    snprintf(path, sizeof(path), "%s/schemas/catalog/preset.json", src);
    ck_assert_msg(ferry_catalog_load(path, &cat, err, sizeof(err)) == 0, "%s", err);
    {
        /* Every object the catalog file declares is a seeded table. */
        json_t *root = json_load_file(path, 0, NULL), *o;
        size_t k;
        ck_assert_ptr_nonnull(root);
        json_array_foreach(json_object_get(root, "objects"), k, o)
        {
            const char *name = json_string_value(json_object_get(o, "name"));
            ck_assert_msg(ferry_objset_find(seeded, name) != NULL, "seed lacks %s", name);
        }
        ck_assert_uint_gt(k, 20);
        json_decref(root);
    }
    snprintf(path, sizeof(path), "%s/tests/unit/data/preset_schema.sql", src);
    ck_assert_ptr_nonnull(f = fopen(path, "rb"));
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    sql = calloc((size_t)len + 1, 1);
    ck_assert_int_eq(fread(sql, 1, (size_t)len, f), len);
    fclose(f);
    ck_assert_int_eq(sqlite3_open(":memory:", &mem), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(mem, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(ferry_sqlite_meta_read(mem, &preset, err, sizeof(err)), 0);

    /* Each preset table of the test schema is seeded, and each of its
     * foreign keys is there with the same target and the same kind. */
    for (size_t i = 0; i < ferry_objset_count(preset); i++) {
        const ferry_object_t *p = ferry_objset_at(preset, i);
        const ferry_object_t *o = ferry_objset_find(seeded, p->name);
        ck_assert_msg(o != NULL, "seed lacks %s", p->name);
        ck_assert_ptr_nonnull(ferry_catalog_find(cat, p->name));
        for (size_t r = 0; r < p->nrelations; r++) {
            const ferry_relation_t *want = &p->relations[r];
            const ferry_relation_t *got = relation(o, want->fields[0]);
            ck_assert_msg(got != NULL, "%s.%s has no foreign key", p->name, want->fields[0]);
            ck_assert_str_eq(got->target, want->target);
            ck_assert_int_eq(got->kind, want->kind);
        }
        ck_assert_uint_eq(o->nrelations, p->nrelations);
    }
    ferry_objset_destroy(preset);
    sqlite3_close(mem);
    free(sql);
    ferry_catalog_destroy(cat);
    ferry_objset_destroy(seeded);
}
END_TEST

static const struct {
    const char *object, *field, *target; /* target NULL: the field only */
    ferry_rel_kind_t kind;
} customs[] = {
    {"Customer__CST", "name", NULL, 0},
    {"Order__CST", "customer_id", "Customer__CST", FERRY_REL_ASSOCIATION},
    {"OrderLine__CST", "order_id", "Order__CST", FERRY_REL_INCLUDE},
    {"OrderLine__CST", "category_id", "Category__CST", FERRY_REL_ASSOCIATION},
    {"Category__CST", "parent_id", "Category__CST", FERRY_REL_ASSOCIATION},
    {"Order Note__CST", "group", NULL, 0},
    {"Order Note__CST", "order_id", "Order__CST", FERRY_REL_INCLUDE},
    {"ProfileAppVisibility", "application_id", "Application", FERRY_REL_ASSOCIATION},
    {"GroupMember", "user_id", "User", FERRY_REL_ASSOCIATION},
};

START_TEST(test_custom_objects_and_associations)
{
    ferry_store_t *s;
    ferry_objset_t *objs;
    const ferry_object_t *o;

    seed("s.db", 200, 1);
    s = open_read("s.db");
    ck_assert_int_eq(ferry_store_read_meta(s, &objs, err, sizeof(err)), 0);
    o = ferry_objset_find(objs, customs[_i].object);
    ck_assert_msg(o != NULL, "no %s", customs[_i].object);
    ck_assert_int_ge(ferry_object_field_index(o, customs[_i].field), 0);
    if (customs[_i].target) {
        const ferry_relation_t *r = relation(o, customs[_i].field);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->target, customs[_i].target);
        ck_assert_int_eq(r->kind, customs[_i].kind);
    }
    ferry_objset_destroy(objs);
    ferry_store_destroy(s);
}
END_TEST

START_TEST(test_foreign_keys_hold_and_the_composite_key_is_unique)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    seed("s.db", 5000, 3);
    ck_assert_int_eq(sqlite3_open(path_of("s.db"), &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_foreign_key_check", -1,
                                        &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info("
                                            "'OrderLine__CST') WHERE pk > 0",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_an_existing_file_is_kept_unless_forced)
{
    int64_t written;

    seed("s.db", 100, 1);
    ck_assert_int_eq(ferry_seed_create(path_of("s.db"), NULL, 100, 2, 0, &written, err, sizeof(err)),
                     FERRY_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--force"));
    ck_assert_int_eq(written, 0);
    ck_assert_int_eq(ferry_seed_create(path_of("s.db"), NULL, 100, 2, 1, &written, err, sizeof(err)),
                     0);
    ck_assert_int_gt(written, 0);
}
END_TEST

START_TEST(test_a_failed_seed_leaves_no_file)
{
    ck_assert_int_eq(ferry_seed_create(path_of("no-such-dir/s.db"), NULL, 100, 1, 0, NULL, err,
                                       sizeof(err)),
                     FERRY_ESTORE);
    ck_assert_int_ne(access(path_of("no-such-dir/s.db"), F_OK), 0);
}
END_TEST

START_TEST(test_shares_name_every_table_once)
{
    unsigned total = 0;

    for (size_t i = 0; i < ferry_seed_table_count(); i++) {
        ck_assert_uint_gt(ferry_seed_table_share(i), 0);
        total += ferry_seed_table_share(i);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(ferry_seed_table_name(i), ferry_seed_table_name(j));
    }
    ck_assert_uint_eq(total, ferry_seed_share_total());
    ck_assert_ptr_null(ferry_seed_table_name(ferry_seed_table_count()));
}
END_TEST

/* ---- PostgreSQL: one database of the test server for the test case (made
 * and dropped by the unchecked fixture, in the parent process, so that it
 * goes even when a test fails), a schema of it per test. ---- */

static char pg_db[64], pg_uri[1024];

/* Runs sql on the server's maintenance database (FERRY_PG_URL). */
static void pg_admin(const char *sql)
{
    const char *url = getenv("FERRY_PG_URL");
    PGconn *c;
    PGresult *r;

    ck_assert_msg(url && *url, "FERRY_PG_URL is not set");
    c = PQconnectdb(url);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s: %s", url, PQerrorMessage(c));
    r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void pg_setup(void)
{
    const char *url = getenv("FERRY_PG_URL"), *slash, *query;
    char sql[128];

    ck_assert_msg(url && (slash = strrchr(url, '/')) && slash > strstr(url, "://") + 2,
                  "FERRY_PG_URL names no database: %s", url ? url : "(unset)");
    query = strchr(slash, '?');
    snprintf(pg_db, sizeof(pg_db), "ferry_test_seed_%ld_%ld", (long)getpid(), (long)time(NULL));
    snprintf(pg_uri, sizeof(pg_uri), "%.*s/%s%s", (int)(slash - url), url, pg_db,
             query ? query : "");
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", pg_db);
    pg_admin(sql);
}

static void pg_teardown(void)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", pg_db);
    pg_admin(sql);
}

static void pg_seed(const char *schema, int64_t rows, uint64_t s)
{
    int64_t written = -1;
    ck_assert_msg(ferry_seed_create(pg_uri, schema, rows, s, 0, &written, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_gt(written, 0);
}

static ferry_store_t *pg_open_read(const char *schema)
{
    ferry_store_t *s;
    ck_assert_msg(ferry_store_open_schema(pg_uri, schema, FERRY_STORE_READ, &s, err,
                                          sizeof(err)) == 0,
                  "%s", err);
    return s;
}

START_TEST(test_postgresql_holds_the_same_rows_as_sqlite)
{
    char *lite, *pg;

    seed("s.db", 3000, 42);
    pg_seed("same", 3000, 42);
    lite = checksums("s.db");
    pg = store_checksums(pg_open_read("same"));
    ck_assert_str_eq(pg, lite);
    free(lite);
    free(pg);
}
END_TEST

START_TEST(test_postgresql_has_the_same_tables_keys_and_relations)
{
    ferry_store_t *s;
    ferry_objset_t *lite, *pg;

    seed("s.db", 200, 1);
    pg_seed("shape", 200, 1);
    s = open_read("s.db");
    ck_assert_int_eq(ferry_store_read_meta(s, &lite, err, sizeof(err)), 0);
    ferry_store_destroy(s);
    s = pg_open_read("shape");
    ck_assert_msg(ferry_store_read_meta(s, &pg, err, sizeof(err)) == 0, "%s", err);
    ferry_store_destroy(s);
    ck_assert_uint_eq(ferry_objset_count(pg), ferry_objset_count(lite));
    for (size_t i = 0; i < ferry_objset_count(lite); i++) {
        const ferry_object_t *l = ferry_objset_at(lite, i);
        const ferry_object_t *p = ferry_objset_find(pg, l->name);
        ck_assert_msg(p != NULL, "PostgreSQL lacks %s", l->name);
        ck_assert_str_eq(p->name, l->name);
        ck_assert_uint_eq(p->nfields, l->nfields);
        for (size_t f = 0; f < l->nfields; f++) {
            ck_assert_str_eq(p->fields[f].name, l->fields[f].name);
            ck_assert_int_eq(p->fields[f].pk_pos, l->fields[f].pk_pos);
            /* A key column is NOT NULL on PostgreSQL whatever SQLite says. */
            if (!l->fields[f].pk_pos)
                ck_assert_int_eq(p->fields[f].nullable, l->fields[f].nullable);
        }
        ck_assert_uint_eq(p->nuniques, l->nuniques);
        ck_assert_uint_eq(p->nrelations, l->nrelations);
        for (size_t r = 0; r < l->nrelations; r++) {
            const ferry_relation_t *want = &l->relations[r];
            const ferry_relation_t *got = relation(p, want->fields[0]);
            ck_assert_msg(got != NULL, "%s.%s has no foreign key", l->name, want->fields[0]);
            ck_assert_str_eq(got->target, want->target);
            ck_assert_int_eq(got->kind, want->kind);
        }
    }
    ferry_objset_destroy(lite);
    ferry_objset_destroy(pg);
}
END_TEST

START_TEST(test_a_postgresql_store_with_tables_is_not_seeded_over)
{
    int64_t written;
    char *before, *after;

    pg_seed("twice", 100, 1);
    before = store_checksums(pg_open_read("twice"));
    for (int force = 0; force <= 1; force++) {
        ck_assert_int_eq(ferry_seed_create(pg_uri, "twice", 100, 2, force, &written, err,
                                           sizeof(err)),
                         FERRY_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "already holds"));
        ck_assert_int_eq(written, 0);
    }
    after = store_checksums(pg_open_read("twice"));
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}
END_TEST

static Suite *seed_suite(void)
{
    Suite *s = suite_create("seed");
    TCase *tc = tcase_create("seed");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_same_rows_and_seed_give_the_same_content);
    tcase_add_loop_test(tc, test_rows_are_about_the_total_asked, 0, N(totals));
    tcase_add_test(tc, test_every_catalog_object_with_the_preset_foreign_keys);
    tcase_add_loop_test(tc, test_custom_objects_and_associations, 0, N(customs));
    tcase_add_test(tc, test_foreign_keys_hold_and_the_composite_key_is_unique);
    tcase_add_test(tc, test_an_existing_file_is_kept_unless_forced);
    tcase_add_test(tc, test_a_failed_seed_leaves_no_file);
    tcase_add_test(tc, test_shares_name_every_table_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("postgresql");
    tcase_add_unchecked_fixture(tc, pg_setup, pg_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_postgresql_holds_the_same_rows_as_sqlite);
    tcase_add_test(tc, test_postgresql_has_the_same_tables_keys_and_relations);
    tcase_add_test(tc, test_a_postgresql_store_with_tables_is_not_seeded_over);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ferry_check_run(seed_suite());
}
