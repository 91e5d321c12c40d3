/* test_plan.c - closure and apply order. One case per line of the
 * documentation table (DESIGN.md section 4) against the preset schema
 * (tests/unit/data/preset_schema.sql) and the preset catalog; custom objects
 * (CASCADE details, plain references, cycles, self references); errors; and a
 * property test over random schemas. */
#include "buf.h"
#include "catalog.h"
#include "error.h"
#include "meta.h"
#include "plan.h"
#include "sqlite_meta.h"
#include "check_run.h"

#include <check.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *source_dir(void)
{
    const char *src = getenv("FERRY_SOURCE_DIR");
    return src ? src : ".";
}

static ferry_catalog_t *load_preset_catalog(void)
{
    char path[PATH_MAX], err[512] = "";
    ferry_catalog_t *cat = NULL;

    snprintf(path, sizeof(path), "%s/schemas/catalog/preset.json", source_dir());
    ck_assert_msg(ferry_catalog_load(path, &cat, err, sizeof(err)) == FERRY_OK, "%s", err);
    return cat;
}

/* The objects of the preset schema plus extra_sql (may be NULL). */
static ferry_objset_t *load_preset_schema(const char *extra_sql)
{
    char path[PATH_MAX], err[512] = "", *sql;
    sqlite3 *db;
    ferry_objset_t *objs = NULL;
    FILE *f;
    long len;

    snprintf(path, sizeof(path), "%s/tests/unit/data/preset_schema.sql", source_dir());
    ck_assert_msg((f = fopen(path, "rb")) != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    sql = calloc(1, (size_t)len + 1);
    ck_assert_uint_eq(fread(sql, 1, (size_t)len, f), (size_t)len);
    fclose(f);

    ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    if (extra_sql)
        ck_assert_msg(sqlite3_exec(db, extra_sql, NULL, NULL, NULL) == SQLITE_OK, "%s",
                      sqlite3_errmsg(db));
    ck_assert_msg(ferry_sqlite_meta_read(db, &objs, err, sizeof(err)) == FERRY_OK, "%s", err);
    sqlite3_close(db);
    free(sql);
    return objs;
}

/* Plans the comma-separated names of requested. */
static int plan_names(const ferry_catalog_t *cat, const ferry_objset_t *objs, const char *requested,
                      ferry_plan_t **out, char *err, size_t err_size)
{
    char *copy = strdup(requested), *save = NULL;
    const char *names[16];
    size_t n = 0;
    int rc;

    for (char *tok = strtok_r(copy, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save))
        names[n++] = tok;
    rc = ferry_plan_new(cat, objs, names, n, out, err, err_size);
    free(copy);
    return rc;
}

static int table_cmp(const void *a, const void *b)
{
    return strcmp((*(const ferry_plan_table_t *const *)a)->name,
                  (*(const ferry_plan_table_t *const *)b)->name);
}

/* "A, B<A, C<B": the closure in name order, each with the object that pulled it. */
static char *render_closure(const ferry_plan_t *plan)
{
    size_t n = ferry_plan_ntables(plan);
    const ferry_plan_table_t **t = calloc(n + 1, sizeof(*t));
    ferry_buf_t b = FERRY_BUF_INIT;
    char *s;

    for (size_t i = 0; i < n; i++)
        t[i] = ferry_plan_table(plan, i);
    qsort(t, n, sizeof(*t), table_cmp);
    for (size_t i = 0; i < n; i++)
        ferry_buf_printf(&b, "%s%s%s%s", i ? ", " : "", t[i]->name, t[i]->pulled_by ? "<" : "",
                         t[i]->pulled_by ? t[i]->pulled_by : "");
    s = ferry_buf_strdup(&b);
    ferry_buf_free(&b);
    free(t);
    return s;
}

/* "A | B,C | D": apply groups in order, names of one group comma-separated. */
static char *render_groups(const ferry_plan_t *plan)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    char *s;

    for (size_t i = 0; i < ferry_plan_ntables(plan); i++) {
        const ferry_plan_table_t *t = ferry_plan_table(plan, i);
        const char *sep = i == 0 ? "" : ferry_plan_table(plan, i - 1)->group == t->group ? "," : " | ";
        ferry_buf_printf(&b, "%s%s", sep, t->name);
    }
    s = ferry_buf_strdup(&b);
    ferry_buf_free(&b);
    return s;
}

/* "A->B, C->D": associations that must exist in the target. */
static char *render_assocs(const ferry_plan_t *plan)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    char *s;

    for (size_t i = 0; i < ferry_plan_nassocs(plan); i++)
        ferry_buf_printf(&b, "%s%s->%s", i ? ", " : "", ferry_plan_assoc(plan, i)->from,
                         ferry_plan_assoc(plan, i)->to);
    s = ferry_buf_strdup(&b);
    ferry_buf_free(&b);
    return s;
}

typedef struct plan_case {
    const char *requested; /* comma-separated */
    const char *closure;   /* render_closure */
    const char *groups;    /* render_groups */
    const char *assocs;    /* render_assocs */
} plan_case_t;

static void check_case(const char *extra_sql, const plan_case_t *c)
{
    ferry_catalog_t *cat = load_preset_catalog();
    ferry_objset_t *objs = load_preset_schema(extra_sql);
    ferry_plan_t *plan = NULL;
    char err[512] = "", *closure, *groups, *assocs;

    ck_assert_msg(plan_names(cat, objs, c->requested, &plan, err, sizeof(err)) == FERRY_OK,
                  "%s: %s", c->requested, err);
    closure = render_closure(plan);
    groups = render_groups(plan);
    assocs = render_assocs(plan);
    ck_assert_msg(!strcmp(closure, c->closure), "%s: closure\n got      %s\n expected %s",
                  c->requested, closure, c->closure);
    ck_assert_msg(!strcmp(groups, c->groups), "%s: groups\n got      %s\n expected %s",
                  c->requested, groups, c->groups);
    ck_assert_msg(!strcmp(assocs, c->assocs), "%s: associations\n got      %s\n expected %s",
                  c->requested, assocs, c->assocs);
    free(closure);
    free(groups);
    free(assocs);
    ferry_plan_destroy(plan);
    ferry_objset_destroy(objs);
    ferry_catalog_destroy(cat);
}

/* One case per line of the documentation table. The exact groups pin the
 * documented order (Process before ProcessDecision and ProcessCondition, both
 * before ProcessActionCall, before ProcessActionCondition and
 * ProcessActionInput) and the tie-break by name. */
static const plan_case_t doc_cases[] = {
    {"Process",
     "Process, ProcessActionCall<ProcessDecision, ProcessActionCondition<ProcessActionCall, "
     "ProcessActionInput<ProcessActionCall, ProcessCondition<Process, ProcessDecision<Process",
     "Process | ProcessCondition | ProcessDecision | ProcessActionCall | ProcessActionCondition"
     " | ProcessActionInput",
     ""},
    {"ApprovalProcess",
     "ApprovalMember<ApprovalStep, ApprovalProcess, ApprovalProcessAction<ApprovalProcess, "
     "ApprovalProcessLockAction<ApprovalProcess, ApprovalStep<ApprovalProcess, "
     "ApprovalStepAction<ApprovalStep",
     "ApprovalProcess | ApprovalProcessAction | ApprovalProcessLockAction | ApprovalStep"
     " | ApprovalMember | ApprovalStepAction",
     "ApprovalMember->User"},
    /* Never User; the Queue -> GroupMember -> PublicGroup -> GroupMember cycle ends. */
    {"Queue", "GroupMember<Queue, PublicGroup<GroupMember, Queue, QueueObject<Queue, Role<GroupMember",
     "Role | PublicGroup | Queue | GroupMember | QueueObject", "GroupMember->User"},
    {"PublicGroup", "GroupMember<PublicGroup, PublicGroup, Role<GroupMember",
     "Role | PublicGroup | GroupMember", "GroupMember->Queue, GroupMember->User"},
    {"Profile", "Profile, ProfileAppVisibility<Profile", "Profile | ProfileAppVisibility",
     "ProfileAppVisibility->Application"},
    {"Connector", "Connector", "Connector", ""},
    {"EmailTemplate", "EmailResource<EmailTemplate, EmailTemplate", "EmailTemplate | EmailResource",
     ""},
    {"Picklist", "Picklist, PicklistValue<Picklist", "Picklist | PicklistValue", ""},
    {"CustomResource", "CustomResource, CustomResourceValue<CustomResource",
     "CustomResource | CustomResourceValue", ""},
};

START_TEST(test_documented_dependencies)
{
    check_case(NULL, &doc_cases[_i]);
}
END_TEST

/* Custom objects next to the preset ones: their edges come from foreign keys. */
static const char custom_sql[] =
    "CREATE TABLE Region(id INTEGER PRIMARY KEY);"
    "CREATE TABLE Account(id INTEGER PRIMARY KEY, owner_id INT REFERENCES \"User\"(id),"
    " region_id INT REFERENCES Region(id));"
    "CREATE TABLE Contact(id INTEGER PRIMARY KEY,"
    " account_id INT NOT NULL REFERENCES Account(id) ON DELETE CASCADE);"
    "CREATE TABLE ContactNote(id INTEGER PRIMARY KEY,"
    " contact_id INT REFERENCES Contact(id) ON DELETE CASCADE);"
    "CREATE TABLE AccountTag(account_id INT REFERENCES Account(id) ON DELETE SET NULL);"
    "CREATE TABLE CycA(id INTEGER PRIMARY KEY, c_id INT REFERENCES CycC(id) ON DELETE CASCADE);"
    "CREATE TABLE CycB(id INTEGER PRIMARY KEY, a_id INT REFERENCES CycA(id) ON DELETE CASCADE);"
    "CREATE TABLE CycC(id INTEGER PRIMARY KEY, b_id INT REFERENCES CycB(id) ON DELETE CASCADE);"
    "CREATE TABLE CycLeaf(id INTEGER PRIMARY KEY, c_id INT REFERENCES CycC(id) ON DELETE CASCADE);"
    "CREATE TABLE Tree(id INTEGER PRIMARY KEY, parent_id INT REFERENCES Tree(id) ON DELETE CASCADE);"
    "CREATE TABLE ProcessNote(id INTEGER PRIMARY KEY,"
    " process_id INT REFERENCES Process(id) ON DELETE CASCADE);";

static const plan_case_t custom_cases[] = {
    /* The CASCADE detail (and its own detail) is pulled; the plain references
     * (Region, User) and the SET NULL reference (AccountTag) are not. */
    {"Account", "Account, Contact<Account, ContactNote<Contact", "Account | Contact | ContactNote",
     "Account->Region, Account->User"},
    /* A detail exported without its master needs the master in the target. */
    {"Contact", "Contact, ContactNote<Contact", "Contact | ContactNote", "Contact->Account"},
    /* A three-table reference cycle is one apply group; the closure ends. */
    {"CycA", "CycA, CycB<CycA, CycC<CycB, CycLeaf<CycC", "CycA,CycB,CycC | CycLeaf", ""},
    {"Tree", "Tree", "Tree", ""},
    /* Preset objects follow the catalog only: a custom CASCADE detail of a
     * preset object is exported only when asked for. */
    {"Process",
     "Process, ProcessActionCall<ProcessDecision, ProcessActionCondition<ProcessActionCall, "
     "ProcessActionInput<ProcessActionCall, ProcessCondition<Process, ProcessDecision<Process",
     "Process | ProcessCondition | ProcessDecision | ProcessActionCall | ProcessActionCondition"
     " | ProcessActionInput",
     ""},
    {"ProcessNote", "ProcessNote", "ProcessNote", "ProcessNote->Process"},
    /* Several objects, names in any case, duplicates, a requested object that
     * another one would have pulled. */
    {"Queue,Profile",
     "GroupMember<Queue, Profile, ProfileAppVisibility<Profile, PublicGroup<GroupMember, Queue, "
     "QueueObject<Queue, Role<GroupMember",
     "Profile | ProfileAppVisibility | Role | PublicGroup | Queue | GroupMember | QueueObject",
     "GroupMember->User, ProfileAppVisibility->Application"},
    {"queue,QUEUE,Queue", "GroupMember<Queue, PublicGroup<GroupMember, Queue, QueueObject<Queue, "
                          "Role<GroupMember",
     "Role | PublicGroup | Queue | GroupMember | QueueObject", "GroupMember->User"},
    {"GroupMember,Queue", "GroupMember, PublicGroup<GroupMember, Queue, QueueObject<Queue, "
                          "Role<GroupMember",
     "Role | PublicGroup | Queue | GroupMember | QueueObject", "GroupMember->User"},
};

START_TEST(test_custom_objects)
{
    check_case(custom_sql, &custom_cases[_i]);
}
END_TEST

static const struct {
    const char *extra_sql, *requested;
    int err;
    const char *expect[3]; /* substrings of the message (NULL: none) */
    const char *absent;    /* must not be in the message */
} error_cases[] = {
    {NULL, "Queue,Nope,Zilch", FERRY_ENOTFOUND, {"\"Nope\"", "\"Zilch\"", "unknown objects"},
     "\"Queue\""},
    {NULL, "Nope", FERRY_ENOTFOUND, {"unknown object in", "\"Nope\"", NULL}, NULL},
    {NULL, "User", FERRY_EINVAL, {"\"User\"", "never exported", NULL}, NULL},
    /* A sub-object the catalog requires but the environment lacks. */
    {"DROP TABLE QueueObject", "Queue", FERRY_ENOTFOUND, {"\"QueueObject\"", "\"Queue\"", NULL},
     NULL},
    /* Tables that are no objects say what they are. */
    {"CREATE VIRTUAL TABLE search USING fts5(body)", "search_data", FERRY_EINVAL,
     {"\"search_data\" cannot be exported", "shadow table of virtual table \"search\" (fts5)",
      NULL}, NULL},
    {"CREATE VIRTUAL TABLE search USING fts5(body)", "Queue,search", FERRY_EINVAL,
     {"\"search\" is a virtual table (fts5)", NULL, NULL}, "unknown"},
    {"CREATE TABLE seq(id INTEGER PRIMARY KEY AUTOINCREMENT)", "sqlite_sequence", FERRY_EINVAL,
     {"sqlite_sequence is SQLite's internal table", NULL, NULL}, NULL},
    {NULL, "Queue,*", FERRY_EINVAL, {"\"*\"", "only object", NULL}, NULL},
};

START_TEST(test_errors)
{
    ferry_catalog_t *cat = load_preset_catalog();
    ferry_objset_t *objs = load_preset_schema(error_cases[_i].extra_sql);
    ferry_plan_t *plan = (ferry_plan_t *)cat; /* must be reset to NULL */
    char err[512] = "";

    ck_assert_int_eq(plan_names(cat, objs, error_cases[_i].requested, &plan, err, sizeof(err)),
                     error_cases[_i].err);
    ck_assert_ptr_null(plan);
    for (int i = 0; i < 3 && error_cases[_i].expect[i]; i++)
        ck_assert_msg(strstr(err, error_cases[_i].expect[i]), "message '%s' lacks '%s'", err,
                      error_cases[_i].expect[i]);
    if (error_cases[_i].absent)
        ck_assert_msg(!strstr(err, error_cases[_i].absent), "message '%s' names '%s'", err,
                      error_cases[_i].absent);
    ferry_objset_destroy(objs);
    ferry_catalog_destroy(cat);
}
END_TEST

/* "*": every object but User, in the plan; left out named with the reason;
 * each table's not-carried items in the plan and its notes. */
START_TEST(test_every_exportable_table)
{
    ferry_catalog_t *cat = load_preset_catalog();
    ferry_objset_t *objs = load_preset_schema(
        "CREATE VIRTUAL TABLE search USING fts5(body);"
        "CREATE TABLE Note__CST(id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT);"
        "CREATE INDEX note_part ON Note__CST(body) WHERE body IS NOT NULL");
    ferry_plan_t *plan = NULL;
    ferry_buf_t notes = FERRY_BUF_INIT;
    char err[512] = "", *text;
    const char *reason;
    char *const *items;
    size_t found = 0, n;

    ck_assert_msg(plan_names(cat, objs, "*", &plan, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(ferry_plan_ntables(plan), ferry_objset_count(objs) - 1); /* not User */
    for (size_t i = 0; i < ferry_plan_ntables(plan); i++) {
        ck_assert_str_ne(ferry_plan_table(plan, i)->name, "User");
        n = ferry_plan_not_carried(plan, i, &items);
        if (!strcmp(ferry_plan_table(plan, i)->name, "Note__CST")) {
            ck_assert_uint_eq(n, 2);
            ck_assert_ptr_nonnull(strstr(items[1], "partial index \"note_part\""));
            found++;
        }
    }
    ck_assert_uint_eq(found, 1);
    for (size_t i = 0; i < ferry_plan_nleft_out(plan); i++) {
        const char *name = ferry_plan_left_out(plan, i, &reason);
        if (!strcmp(name, "User") || !strcmp(name, "search") || !strcmp(name, "search_idx") ||
            !strcmp(name, "sqlite_sequence"))
            found++;
        ck_assert_ptr_nonnull(strstr(reason, name));
    }
    ck_assert_uint_eq(found, 5);
    ck_assert_int_eq(ferry_plan_notes(plan, &notes), 0);
    text = ferry_buf_strdup(&notes);
    ck_assert_msg(strstr(text, "not carried: Note__CST: AUTOINCREMENT") &&
                      strstr(text, "left out: ") && strstr(text, "\"search\" is a virtual table"),
                  "notes: %s", text);
    free(text);
    ferry_buf_free(&notes);
    ferry_plan_destroy(plan);
    ferry_objset_destroy(objs);
    ferry_catalog_destroy(cat);
}
END_TEST

/* The JSON of `ferry-env plan --json` for the example. */
START_TEST(test_json_shape)
{
    ferry_catalog_t *cat = load_preset_catalog();
    ferry_objset_t *objs = load_preset_schema(NULL);
    ferry_plan_t *plan = NULL;
    ferry_buf_t out = FERRY_BUF_INIT;
    char err[512] = "", *text;
    json_t *got, *want;
    json_error_t jerr;

    ck_assert_int_eq(plan_names(cat, objs, "Queue", &plan, err, sizeof(err)), FERRY_OK);
    ck_assert_int_eq(ferry_plan_to_json(plan, &out), FERRY_OK);
    text = ferry_buf_strdup(&out);
    got = json_loads(text, 0, &jerr);
    ck_assert_msg(got != NULL, "not JSON: %s", text);
    /* Objects in closure order: requested first, then as pulled. */
    want = json_loads(
        "{\"requested\": [\"Queue\"],"
        " \"objects\": [{\"name\": \"Queue\", \"pulled_by\": null, \"group\": 2, \"not_carried\": []},"
        "  {\"name\": \"QueueObject\", \"pulled_by\": \"Queue\", \"group\": 4, \"not_carried\": []},"
        "  {\"name\": \"GroupMember\", \"pulled_by\": \"Queue\", \"group\": 3, \"not_carried\": []},"
        "  {\"name\": \"Role\", \"pulled_by\": \"GroupMember\", \"group\": 0, \"not_carried\": []},"
        "  {\"name\": \"PublicGroup\", \"pulled_by\": \"GroupMember\", \"group\": 1, \"not_carried\": []}],"
        " \"associations\": [{\"from\": \"GroupMember\", \"to\": \"User\"}],"
        " \"groups\": [[\"Role\"], [\"PublicGroup\"], [\"Queue\"], [\"GroupMember\"],"
        "  [\"QueueObject\"]]}",
        0, &jerr);
    ck_assert_ptr_nonnull(want);
    ck_assert_msg(json_equal(got, want), "got %s", text);
    ck_assert_int_eq(ferry_plan_ngroups(plan), 5);
    json_decref(got);
    json_decref(want);
    free(text);
    ferry_buf_free(&out);
    ferry_plan_destroy(plan);
    ferry_objset_destroy(objs);
    ferry_catalog_destroy(cat);
}
END_TEST

/* ---- property test ---- */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: small, deterministic, good enough for schema shapes. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* A random schema: 2..25 tables "T00".., sometimes the never_export "User",
 * each with 0..3 foreign keys (self references included), half of them CASCADE. */
static ferry_objset_t *random_schema(uint64_t *rng, size_t *ntables)
{
    ferry_objset_t *objs = ferry_objset_new();
    size_t n = 2 + rng_next(rng) % 24, total = n + (rng_next(rng) % 2);
    char name[16], field[16];

    for (size_t i = 0; i < total; i++) {
        ferry_object_t *obj;
        if (i < n)
            snprintf(name, sizeof(name), "T%02u", (unsigned)i);
        else
            snprintf(name, sizeof(name), "User");
        obj = ferry_objset_add(objs, name);
        ck_assert_int_eq(ferry_object_add_field(obj, "id", "INTEGER", 0, NULL, 1), FERRY_OK);
        for (size_t k = 0, nfk = rng_next(rng) % 4; k < nfk; k++) {
            size_t t = rng_next(rng) % total;
            int cascade = (int)(rng_next(rng) % 2);
            const char *from[1] = {field};
            char target[16];
            if (t < n)
                snprintf(target, sizeof(target), "T%02u", (unsigned)t);
            else
                snprintf(target, sizeof(target), "User");
            snprintf(field, sizeof(field), "fk%zu", k);
            ck_assert_int_eq(ferry_object_add_field(obj, field, "INT", 1, NULL, 0), FERRY_OK);
            ck_assert_int_eq(ferry_object_add_relation(obj, target, from, NULL, 1,
                                                       cascade ? FERRY_REL_INCLUDE
                                                               : FERRY_REL_ASSOCIATION,
                                                       cascade ? "CASCADE" : "NO ACTION"),
                             FERRY_OK);
        }
    }
    *ntables = n;
    return objs;
}

static int plan_index(const ferry_plan_t *plan, const char *name)
{
    for (size_t i = 0; i < ferry_plan_ntables(plan); i++)
        if (!strcmp(ferry_plan_table(plan, i)->name, name))
            return (int)i;
    return -1;
}

static int has_include_to(const ferry_object_t *obj, const char *target)
{
    for (size_t i = 0; i < obj->nrelations; i++)
        if (obj->relations[i].kind == FERRY_REL_INCLUDE && !strcmp(obj->relations[i].target, target))
            return 1;
    return 0;
}

static int has_assoc(const ferry_plan_t *plan, const char *from, const char *to)
{
    for (size_t i = 0; i < ferry_plan_nassocs(plan); i++)
        if (!strcmp(ferry_plan_assoc(plan, i)->from, from) && !strcmp(ferry_plan_assoc(plan, i)->to, to))
            return 1;
    return 0;
}

/* The properties one plan must have (see the checks' messages). */
static void check_plan_properties(const ferry_objset_t *objs, const ferry_plan_t *plan,
                                  const char *const *req, size_t nreq, uint64_t seed)
{
    size_t n = ferry_plan_ntables(plan);
    char reach[32][32] = {{0}};

    ck_assert_msg(plan_index(plan, "User") < 0, "seed %llu: User exported",
                  (unsigned long long)seed);
    for (size_t i = 0; i < nreq; i++) {
        int r = plan_index(plan, req[i]);
        ck_assert_msg(r >= 0 && !ferry_plan_table(plan, (size_t)r)->pulled_by,
                      "seed %llu: requested %s missing or marked pulled", (unsigned long long)seed,
                      req[i]);
    }
    for (size_t i = 0; i < n; i++) {
        const ferry_plan_table_t *t = ferry_plan_table(plan, i);
        const ferry_object_t *obj = ferry_objset_find(objs, t->name);

        /* Groups are numbered 0.. in order; names sorted within a group. */
        if (i == 0)
            ck_assert_int_eq(t->group, 0);
        else if (t->group == ferry_plan_table(plan, i - 1)->group)
            ck_assert_int_lt(strcmp(ferry_plan_table(plan, i - 1)->name, t->name), 0);
        else
            ck_assert_int_eq(t->group, ferry_plan_table(plan, i - 1)->group + 1);

        /* Every object is requested or reached through an include edge. */
        if (t->pulled_by) {
            ck_assert_int_ge(plan_index(plan, t->pulled_by), 0);
            ck_assert_msg(has_include_to(obj, t->pulled_by), "seed %llu: %s pulled by %s without edge",
                          (unsigned long long)seed, t->name, t->pulled_by);
        }
        for (size_t r = 0; r < obj->nrelations; r++) {
            int target = plan_index(plan, obj->relations[r].target);
            if (target < 0) {
                ck_assert_msg(has_assoc(plan, t->name, obj->relations[r].target),
                              "seed %llu: %s -> %s not reported", (unsigned long long)seed,
                              t->name, obj->relations[r].target);
                continue;
            }
            /* Every foreign key among exported tables points into the same or an earlier group. */
            ck_assert_msg(ferry_plan_table(plan, (size_t)target)->group <= t->group,
                          "seed %llu: %s (group %d) refers to %s in a later group",
                          (unsigned long long)seed, t->name, t->group, obj->relations[r].target);
            reach[i][target] = 1;
        }
    }
    /* Closed under include edges: an exported master's CASCADE details are exported. */
    for (size_t d = 0; d < ferry_objset_count(objs); d++) {
        const ferry_object_t *detail = ferry_objset_at(objs, d);
        if (!strcmp(detail->name, "User") || plan_index(plan, detail->name) >= 0)
            continue;
        for (size_t r = 0; r < detail->nrelations; r++)
            ck_assert_msg(detail->relations[r].kind != FERRY_REL_INCLUDE ||
                              plan_index(plan, detail->relations[r].target) < 0,
                          "seed %llu: %s not pulled by exported %s", (unsigned long long)seed,
                          detail->name, detail->relations[r].target);
    }
    /* A group of several tables is strongly connected (transitive closure). */
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                reach[i][j] |= reach[i][k] && reach[k][j];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (i != j && ferry_plan_table(plan, i)->group == ferry_plan_table(plan, j)->group)
                ck_assert_msg(reach[i][j], "seed %llu: %s and %s grouped but not in a cycle",
                              (unsigned long long)seed, ferry_plan_table(plan, i)->name,
                              ferry_plan_table(plan, j)->name);
}

START_TEST(test_random_schemas)
{
    ferry_catalog_t *cat = load_preset_catalog();

    for (uint64_t seed = 1; seed <= 500; seed++) {
        uint64_t rng = seed * 0x9E3779B97F4A7C15ULL;
        size_t ntables, nreq = 1 + rng_next(&rng) % 3;
        ferry_objset_t *objs = random_schema(&rng, &ntables);
        char names[3][16], err[512] = "";
        const char *req[3];
        ferry_plan_t *plan = NULL, *again = NULL;
        ferry_buf_t j1 = FERRY_BUF_INIT, j2 = FERRY_BUF_INIT;

        for (size_t i = 0; i < nreq; i++) {
            snprintf(names[i], sizeof(names[i]), "T%02u", (unsigned)(rng_next(&rng) % ntables));
            req[i] = names[i];
        }
        ck_assert_msg(ferry_plan_new(cat, objs, req, nreq, &plan, err, sizeof(err)) == FERRY_OK,
                      "seed %llu: %s", (unsigned long long)seed, err);
        check_plan_properties(objs, plan, req, nreq, seed);

        /* Deterministic: the same schema and request give the same plan. */
        ck_assert_int_eq(ferry_plan_new(cat, objs, req, nreq, &again, err, sizeof(err)), FERRY_OK);
        ferry_plan_to_json(plan, &j1);
        ferry_plan_to_json(again, &j2);
        ck_assert_uint_eq(j1.len, j2.len);
        ck_assert(!memcmp(j1.data, j2.data, j1.len));

        ferry_buf_free(&j1);
        ferry_buf_free(&j2);
        ferry_plan_destroy(again);
        ferry_plan_destroy(plan);
        ferry_objset_destroy(objs);
    }
    ferry_catalog_destroy(cat);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");

    tcase_add_loop_test(tc, test_documented_dependencies, 0,
                        sizeof(doc_cases) / sizeof(doc_cases[0]));
    tcase_add_loop_test(tc, test_custom_objects, 0, sizeof(custom_cases) / sizeof(custom_cases[0]));
    tcase_add_loop_test(tc, test_errors, 0, sizeof(error_cases) / sizeof(error_cases[0]));
    tcase_add_test(tc, test_json_shape);
    tcase_add_test(tc, test_every_exportable_table);
    tcase_add_test(tc, test_random_schemas);
    suite_add_tcase(s, tc);
    return ferry_check_run(s);
}
