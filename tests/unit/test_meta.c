/* test_meta.c - the metadata model: declared type -> ferry type (the table at
 * the top of lib/model/meta.c), the object set (name order, exact then
 * case-insensitive lookup), reserved names and the object builders. */
#include "error.h"
#include "meta.h"
#include "check_run.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* One row per line of the mapping table in meta.c, plus SQLite's documented
 * affinity surprises (https://sqlite.org/datatype3.html 3.1.1). */
static const struct {
    const char *decl;
    ferry_type_t type;
    int length, scale;
} types[] = {
    {NULL, FERRY_T_ANY, 0, 0},
    {"", FERRY_T_ANY, 0, 0},
    {"   ", FERRY_T_ANY, 0, 0},
    {"BOOL", FERRY_T_BOOLEAN, 0, 0},
    {"boolean", FERRY_T_BOOLEAN, 0, 0},
    {"DATE", FERRY_T_DATE, 0, 0},
    {"DateTime", FERRY_T_TIMESTAMP, 0, 0},
    {"TIMESTAMP", FERRY_T_TIMESTAMP, 0, 0},
    {"timestamp(3)", FERRY_T_TIMESTAMP, 3, 0},
    {"DECIMAL(10,2)", FERRY_T_DECIMAL, 10, 2},
    {"numeric ( 12 , 4 )", FERRY_T_DECIMAL, 12, 4},
    {"NUMERIC", FERRY_T_DECIMAL, 0, 0},
    {"NUMBER(8)", FERRY_T_DECIMAL, 8, 0},
    {"MONEY", FERRY_T_DECIMAL, 0, 0},
    {"INTEGER", FERRY_T_INTEGER, 0, 0},
    {"int", FERRY_T_INTEGER, 0, 0},
    {"BIGINT", FERRY_T_INTEGER, 0, 0},
    {"UNSIGNED BIG INT", FERRY_T_INTEGER, 0, 0},
    {"TINYINT(1)", FERRY_T_INTEGER, 1, 0},
    {"VARCHAR(80)", FERRY_T_TEXT, 80, 0},
    {"NVARCHAR(10)", FERRY_T_TEXT, 10, 0},
    {"CHARACTER(20)", FERRY_T_TEXT, 20, 0},
    {"TEXT", FERRY_T_TEXT, 0, 0},
    {"clob", FERRY_T_TEXT, 0, 0},
    {"BLOB", FERRY_T_BLOB, 0, 0},
    {"REAL", FERRY_T_REAL, 0, 0},
    {"DOUBLE PRECISION", FERRY_T_REAL, 0, 0},
    {"FLOAT", FERRY_T_REAL, 0, 0},
    {"FLOATING POINT", FERRY_T_INTEGER, 0, 0}, /* contains "INT": SQLite says integer */
    {"STRING", FERRY_T_DECIMAL, 0, 0},         /* no rule matches: numeric affinity */
    {"JSON", FERRY_T_DECIMAL, 0, 0},
};

START_TEST(test_type_from_decl)
{
    int length = -1, scale = -1;

    ck_assert_msg(ferry_type_from_decl(types[_i].decl, &length, &scale) == types[_i].type,
                  "decl '%s' -> %s, expected %s", types[_i].decl ? types[_i].decl : "(null)",
                  ferry_type_name(ferry_type_from_decl(types[_i].decl, NULL, NULL)),
                  ferry_type_name(types[_i].type));
    ck_assert_int_eq(length, types[_i].length);
    ck_assert_int_eq(scale, types[_i].scale);
}
END_TEST

START_TEST(test_type_names_round_trip)
{
    for (int t = FERRY_T_TEXT; t <= FERRY_T_ANY; t++)
        ck_assert_int_eq(ferry_type_from_name(ferry_type_name((ferry_type_t)t)), t);
    ck_assert_str_eq(ferry_type_name(FERRY_T_TIMESTAMP), "timestamp");
    ck_assert_int_eq(ferry_type_from_name("varchar"), -1);
    ck_assert_int_eq(ferry_type_from_name(NULL), -1);
}
END_TEST

START_TEST(test_objset_keeps_name_order_and_rejects_duplicates)
{
    static const char *const names[] = {"b", "Z", "a", "order", "\xc3\x9cnic"};
    static const char *const sorted[] = {"Z", "a", "b", "order", "\xc3\x9cnic"};
    ferry_objset_t *set = ferry_objset_new();

    for (size_t i = 0; i < 5; i++)
        ck_assert_ptr_nonnull(ferry_objset_add(set, names[i]));
    ck_assert_ptr_null(ferry_objset_add(set, "order"));
    ck_assert_uint_eq(ferry_objset_count(set), 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(ferry_objset_at(set, i)->name, sorted[i]);
    ck_assert_ptr_null(ferry_objset_at(set, 5));
    ferry_objset_destroy(set);
    ferry_objset_destroy(NULL);
}
END_TEST

/* Exact match wins; otherwise names resolve case-insensitively, as in SQLite
 * (to the first in name order when several differ only by case). */
static const struct {
    const char *query, *found;
} finds[] = {
    {"Queue", "Queue"}, {"QUEUE", "QUEUE"}, {"queue", "QUEUE"}, {"qUEUE", "QUEUE"},
    {"Role", "role"},   {"Rol", NULL},      {"", NULL},
    /* Only ASCII letters fold, as SQLite folds identifiers. */
    {"\xc3\x9c" "BER", "\xc3\x9c" "ber"}, {"\xc3\xbc" "ber", NULL},
};

START_TEST(test_objset_find)
{
    ferry_objset_t *set = ferry_objset_new();
    const ferry_object_t *o;

    ferry_objset_add(set, "Queue");
    ferry_objset_add(set, "QUEUE");
    ferry_objset_add(set, "role");
    ferry_objset_add(set, "\xc3\x9c" "ber");
    o = ferry_objset_find(set, finds[_i].query);
    if (finds[_i].found)
        ck_assert_str_eq(o->name, finds[_i].found);
    else
        ck_assert_ptr_null(o);
    ferry_objset_destroy(set);
}
END_TEST

/* Regression: the reserved prefixes are case-insensitive, as SQLite names are,
 * and one helper decides for the metadata reader and the store. */
static const struct {
    const char *name;
    int reserved;
} reserved[] = {
    {"ferry_applied", 1}, {"FERRY_APPLIED", 1}, {"Ferry_Offsets", 1}, {"ferry_", 1},
    {"sqlite_schema", 1}, {"SQLITE_SEQUENCE", 1}, {"Sqlite_x", 1},     {"ferry", 0},
    {"ferryboat", 0},     {"my_ferry_x", 0},      {"sqlite", 0},       {"", 0},
    {"\xc3\x9c" "ferry_", 0},
};

START_TEST(test_name_reserved)
{
    ck_assert_msg(ferry_name_reserved(reserved[_i].name) == reserved[_i].reserved, "'%s'",
                  reserved[_i].name);
}
END_TEST

START_TEST(test_strv_free)
{
    char **v = calloc(3, sizeof(*v));

    ck_assert_ptr_nonnull(v);
    v[0] = strdup("a");
    v[2] = strdup("c"); /* v[1] stays NULL */
    ferry_strv_free(v, 3);
    ferry_strv_free(NULL, 3);
    ferry_strv_free(calloc(1, sizeof(char *)), 0);
}
END_TEST

START_TEST(test_object_builders)
{
    static const char *const uq[] = {"b", "c"};
    static const char *const from[] = {"x", "y"};
    static const char *const to[] = {"id", NULL};
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *obj = ferry_objset_add(set, "t");
    size_t pk[3];

    ck_assert_int_eq(ferry_object_add_field(obj, "a", "VARCHAR(20)", 0, "'x'", 0), FERRY_OK);
    ck_assert_int_eq(ferry_object_add_field(obj, "b", NULL, 1, NULL, 2), FERRY_OK);
    ck_assert_int_eq(ferry_object_add_field(obj, "c", "DECIMAL(9,3)", 1, NULL, 1), FERRY_OK);
    ck_assert_uint_eq(obj->nfields, 3);
    ck_assert_str_eq(obj->fields[0].decl_type, "VARCHAR(20)");
    ck_assert_int_eq(obj->fields[0].type, FERRY_T_TEXT);
    ck_assert_int_eq(obj->fields[0].length, 20);
    ck_assert_str_eq(obj->fields[0].default_sql, "'x'");
    ck_assert_int_eq(obj->fields[0].nullable, 0);
    ck_assert_str_eq(obj->fields[1].decl_type, "");
    ck_assert_int_eq(obj->fields[1].type, FERRY_T_ANY);
    ck_assert_ptr_null(obj->fields[1].default_sql);
    ck_assert_int_eq(obj->fields[2].scale, 3);

    /* Key order is pk_pos order, not field order. */
    ck_assert_uint_eq(ferry_object_pk(obj, NULL), 2);
    ck_assert_uint_eq(ferry_object_pk(obj, pk), 2);
    ck_assert_uint_eq(pk[0], 2);
    ck_assert_uint_eq(pk[1], 1);
    ck_assert_int_eq(ferry_object_field_index(obj, "c"), 2);
    ck_assert_int_eq(ferry_object_field_index(obj, "C"), -1);

    ck_assert_int_eq(ferry_object_add_unique(obj, uq, 2), FERRY_OK);
    ck_assert_uint_eq(obj->nuniques, 1);
    ck_assert_str_eq(obj->uniques[0].fields[1], "c");

    ck_assert_int_eq(ferry_object_add_relation(obj, "p", from, to, 2, FERRY_REL_INCLUDE, "CASCADE"),
                     FERRY_OK);
    ck_assert_int_eq(ferry_object_add_relation(obj, "q", from, NULL, 1, FERRY_REL_ASSOCIATION, NULL),
                     FERRY_OK);
    ck_assert_uint_eq(obj->nrelations, 2);
    ck_assert_str_eq(obj->relations[0].target, "p");
    ck_assert_str_eq(obj->relations[0].fields[1], "y");
    ck_assert_str_eq(obj->relations[0].to_fields[0], "id");
    ck_assert_ptr_null(obj->relations[0].to_fields[1]);
    ck_assert_str_eq(obj->relations[0].on_delete, "CASCADE");
    ck_assert_ptr_null(obj->relations[1].to_fields[0]);
    ck_assert_ptr_null(obj->relations[1].on_delete);
    ck_assert_int_eq(obj->relations[1].kind, FERRY_REL_ASSOCIATION);
    ferry_objset_destroy(set);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("meta");
    TCase *tc = tcase_create("meta");

    tcase_add_loop_test(tc, test_type_from_decl, 0, sizeof(types) / sizeof(types[0]));
    tcase_add_test(tc, test_type_names_round_trip);
    tcase_add_test(tc, test_objset_keeps_name_order_and_rejects_duplicates);
    tcase_add_loop_test(tc, test_objset_find, 0, sizeof(finds) / sizeof(finds[0]));
    tcase_add_loop_test(tc, test_name_reserved, 0, sizeof(reserved) / sizeof(reserved[0]));
    tcase_add_test(tc, test_strv_free);
    tcase_add_test(tc, test_object_builders);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
