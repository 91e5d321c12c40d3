/* test_catalog.c - the preset catalog: every object and typed edge of the
 * documentation table (DESIGN.md section 4) is in schemas/catalog/preset.json,
 * and a malformed catalog is an error naming the file, the object and the
 * problem. */
#include "catalog.h"
#include "error.h"
#include "check_run.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ferry_catalog_t *load_preset(void)
{
    const char *src = getenv("FERRY_SOURCE_DIR");
    char path[PATH_MAX], err[512] = "";
    ferry_catalog_t *cat = NULL;

    snprintf(path, sizeof(path), "%s/schemas/catalog/preset.json", src ? src : ".");
    ck_assert_msg(ferry_catalog_load(path, &cat, err, sizeof(err)) == FERRY_OK, "%s", err);
    return cat;
}

/* The documentation table as edges: "A -> B" include unless marked. */
static const struct {
    const char *from, *to;
    ferry_rel_kind_t kind;
} preset_edges[] = {
    {"Process", "ProcessDecision", FERRY_REL_INCLUDE},
    {"Process", "ProcessCondition", FERRY_REL_INCLUDE},
    {"ProcessDecision", "ProcessActionCall", FERRY_REL_INCLUDE},
    {"ProcessCondition", "ProcessActionCall", FERRY_REL_INCLUDE},
    {"ProcessActionCall", "ProcessActionCondition", FERRY_REL_INCLUDE},
    {"ProcessActionCall", "ProcessActionInput", FERRY_REL_INCLUDE},
    {"ApprovalProcess", "ApprovalProcessAction", FERRY_REL_INCLUDE},
    {"ApprovalProcess", "ApprovalProcessLockAction", FERRY_REL_INCLUDE},
    {"ApprovalProcess", "ApprovalStep", FERRY_REL_INCLUDE},
    {"ApprovalStep", "ApprovalStepAction", FERRY_REL_INCLUDE},
    {"ApprovalStep", "ApprovalMember", FERRY_REL_INCLUDE},
    {"Queue", "QueueObject", FERRY_REL_INCLUDE},
    {"Queue", "GroupMember", FERRY_REL_INCLUDE},
    {"GroupMember", "Role", FERRY_REL_INCLUDE},
    {"GroupMember", "PublicGroup", FERRY_REL_INCLUDE},
    {"PublicGroup", "GroupMember", FERRY_REL_INCLUDE},
    {"Profile", "ProfileAppVisibility", FERRY_REL_INCLUDE},
    {"ProfileAppVisibility", "Application", FERRY_REL_ASSOCIATION},
    {"EmailTemplate", "EmailResource", FERRY_REL_INCLUDE},
    {"Picklist", "PicklistValue", FERRY_REL_INCLUDE},
    {"CustomResource", "CustomResourceValue", FERRY_REL_INCLUDE},
};

START_TEST(test_preset_has_documented_edge)
{
    ferry_catalog_t *cat = load_preset();
    const ferry_catalog_edge_t *edges;
    size_t n = ferry_catalog_edges(cat, preset_edges[_i].from, &edges);
    int found = 0;

    for (size_t i = 0; i < n; i++)
        if (!strcmp(edges[i].to, preset_edges[_i].to)) {
            found = 1;
            ck_assert_int_eq(edges[i].kind, preset_edges[_i].kind);
        }
    ck_assert_msg(found, "no edge %s -> %s", preset_edges[_i].from, preset_edges[_i].to);
    ferry_catalog_destroy(cat);
}
END_TEST

START_TEST(test_preset_objects_and_never_export)
{
    static const char *const objects[] = {
        "Process", "ProcessDecision", "ProcessCondition", "ProcessActionCall",
        "ProcessActionCondition", "ProcessActionInput", "ApprovalProcess",
        "ApprovalProcessAction", "ApprovalProcessLockAction", "ApprovalStep",
        "ApprovalStepAction", "ApprovalMember", "Queue", "QueueObject", "GroupMember", "Role",
        "PublicGroup", "Profile", "ProfileAppVisibility", "Application", "Connector",
        "EmailTemplate", "EmailResource", "Picklist", "PicklistValue", "CustomResource",
        "CustomResourceValue", "User"};
    ferry_catalog_t *cat = load_preset();
    const ferry_catalog_edge_t *edges;

    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        ck_assert_msg(ferry_catalog_find(cat, objects[i]) != NULL, "%s missing", objects[i]);
        ck_assert_int_eq(ferry_catalog_never_export(cat, objects[i]), !strcmp(objects[i], "User"));
        /* Nothing pulls the user table in. */
        for (size_t j = 0, n = ferry_catalog_edges(cat, objects[i], &edges); j < n; j++)
            ck_assert(strcmp(edges[j].to, "User") || edges[j].kind == FERRY_REL_ASSOCIATION);
    }
    ck_assert_uint_eq(ferry_catalog_edges(cat, "Connector", &edges), 0);
    ck_assert_uint_eq(ferry_catalog_edges(cat, "Application", &edges), 0);
    ck_assert_str_eq(ferry_catalog_find(cat, "queue"), "Queue");
    ck_assert_ptr_null(ferry_catalog_find(cat, "invoice"));
    ck_assert_uint_eq(ferry_catalog_edges(cat, "invoice", &edges), 0);
    ck_assert_int_eq(ferry_catalog_never_export(cat, "invoice"), 0);
    ferry_catalog_destroy(cat);
    ferry_catalog_destroy(NULL);
}
END_TEST

/* Each malformed catalog: the code and the words the message must contain
 * besides the file name (object and problem). */
static const struct {
    const char *text;
    int err;
    const char *expect1, *expect2;
} bad[] = {
    {"{\"objects\": [", FERRY_EINVAL, "not valid JSON", "line"},
    {"[]", FERRY_EINVAL, "\"objects\" array", ""},
    {"{\"objects\": {}}", FERRY_EINVAL, "\"objects\" array", ""},
    {"{\"objects\": [], \"version\": 2}", FERRY_EINVAL, "top level", "unknown key \"version\""},
    {"{\"objects\": [{\"edges\": []}]}", FERRY_EINVAL, "object #1", "missing or empty \"name\""},
    {"{\"objects\": [{\"name\": \"\"}]}", FERRY_EINVAL, "object #1", "missing or empty \"name\""},
    {"{\"objects\": [7]}", FERRY_EINVAL, "object #1", "not a JSON object"},
    {"{\"objects\": [{\"name\": \"A\"}, {\"name\": \"A\"}]}", FERRY_EINVAL, "object \"A\"",
     "duplicate object"},
    {"{\"objects\": [{\"name\": \"Queue\"}, {\"name\": \"queue\"}]}", FERRY_EINVAL,
     "object \"queue\"", "duplicate object"},
    {"{\"objects\": [{\"name\": \"A\", \"never_exprot\": true}]}", FERRY_EINVAL, "object \"A\"",
     "unknown key \"never_exprot\""},
    {"{\"objects\": [{\"name\": \"A\", \"never_export\": \"yes\"}]}", FERRY_EINVAL, "object \"A\"",
     "\"never_export\" must be true or false"},
    {"{\"objects\": [{\"name\": \"A\", \"edges\": {}}]}", FERRY_EINVAL, "object \"A\"",
     "\"edges\" must be an array"},
    {"{\"objects\": [{\"name\": \"A\", \"edges\": [\"B\"]}, {\"name\": \"B\"}]}", FERRY_EINVAL,
     "object \"A\": edge #1", "not a JSON object"},
    {"{\"objects\": [{\"name\": \"A\", \"edges\": [{\"to\": \"B\", \"kind\": \"pulls\"}]},"
     " {\"name\": \"B\"}]}",
     FERRY_EINVAL, "object \"A\": edge #1", "unknown edge kind \"pulls\""},
    {"{\"objects\": [{\"name\": \"A\", \"edges\": [{\"to\": \"B\", \"kind\": \"include\"}]}]}",
     FERRY_EINVAL, "object \"A\": edge #1", "undeclared object \"B\""},
    {"{\"objects\": [{\"name\": \"A\", \"edges\": [{\"to\": \"b\", \"kind\": \"include\"}]},"
     " {\"name\": \"B\"}]}",
     FERRY_EINVAL, "object \"A\": edge #1", "undeclared object \"b\""},
    {"{\"objects\": [{\"name\": \"A\", \"edges\": [{\"kind\": \"include\"}]}]}", FERRY_EINVAL,
     "object \"A\": edge #1", "missing \"to\""},
    {"{\"objects\": [{\"name\": \"A\", \"edges\": [{\"to\": \"A\"}]}]}", FERRY_EINVAL,
     "object \"A\": edge #1", "missing \"kind\""},
    {"{\"objects\": [{\"name\": \"A\", \"edges\": [{\"to\": \"A\", \"kind\": \"include\", "
     "\"knd\": 1}]}]}",
     FERRY_EINVAL, "object \"A\": edge #1", "unknown key \"knd\""},
};

START_TEST(test_malformed_catalog_names_file_object_problem)
{
    char path[] = "/tmp/ferry-test-catalog-XXXXXX", err[512] = "";
    int fd = mkstemp(path);
    ferry_catalog_t *cat = (ferry_catalog_t *)path; /* must be reset to NULL */
    FILE *f;

    ck_assert_int_ne(fd, -1);
    ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
    fputs(bad[_i].text, f);
    fclose(f);
    ck_assert_int_eq(ferry_catalog_load(path, &cat, err, sizeof(err)), bad[_i].err);
    ck_assert_ptr_null(cat);
    ck_assert_msg(strstr(err, path) && strstr(err, bad[_i].expect1) && strstr(err, bad[_i].expect2),
                  "message '%s' lacks the file or '%s' / '%s'", err, bad[_i].expect1,
                  bad[_i].expect2);
    unlink(path);
}
END_TEST

START_TEST(test_missing_catalog_is_not_found)
{
    char err[512] = "";
    ferry_catalog_t *cat = NULL;

    ck_assert_int_eq(ferry_catalog_load("/nonexistent/preset.json", &cat, err, sizeof(err)),
                     FERRY_ENOTFOUND);
    ck_assert_ptr_null(cat);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/preset.json"));
}
END_TEST

START_TEST(test_comments_and_optional_keys)
{
    char path[] = "/tmp/ferry-test-catalog-XXXXXX", err[512] = "";
    int fd = mkstemp(path);
    ferry_catalog_t *cat = NULL;
    const ferry_catalog_edge_t *edges;
    FILE *f = fdopen(fd, "w");

    fputs("{\"_comment\": \"x\", \"objects\": [{\"_why\": 1, \"name\": \"A\", \"edges\": "
          "[{\"_c\": 0, \"to\": \"A\", \"kind\": \"association\"}]}, {\"name\": \"B\", "
          "\"never_export\": false}]}",
          f);
    fclose(f);
    ck_assert_int_eq(ferry_catalog_load(path, &cat, err, sizeof(err)), FERRY_OK);
    ck_assert_uint_eq(ferry_catalog_edges(cat, "A", &edges), 1);
    ck_assert_str_eq(edges[0].to, "A");
    ck_assert_int_eq(edges[0].kind, FERRY_REL_ASSOCIATION);
    ck_assert_int_eq(ferry_catalog_never_export(cat, "B"), 0);
    ferry_catalog_destroy(cat);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("catalog");

    tcase_add_loop_test(tc, test_preset_has_documented_edge, 0,
                        sizeof(preset_edges) / sizeof(preset_edges[0]));
    tcase_add_test(tc, test_preset_objects_and_never_export);
    tcase_add_loop_test(tc, test_malformed_catalog_names_file_object_problem, 0,
                        sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, test_missing_catalog_is_not_found);
    tcase_add_test(tc, test_comments_and_optional_keys);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
