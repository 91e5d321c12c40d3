/* test_schedule.c - schedule rules: due times of every/cron/at schedules, the
 * takeover catch-up rule (one catch-up fire, not a burst), validation, and the
 * deterministic export id of a fire. */
#include "error.h"
#include "schedule.h"
#include "timeutil.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static int64_t at(const char *s)
{
    int64_t ms = 0;
    char err[256];

    if (!s)
        return 0;
    ck_assert_msg(ferry_time_parse(s, &ms, err, sizeof(err)) == FERRY_OK, "%s", err);
    return ms;
}

static char *objects[] = {"Queue", "Profile"};

/* A schedule of one kind: every (a duration), cron, or at (a time). */
static ferry_schedule_t make(const char *every, const char *from, const char *cron,
                             const char *when, const char *created)
{
    ferry_schedule_t s = {.id = "nightly", .source = "dev", .target = "prod",
                          .objects = objects, .nobjects = 2, .content = FERRY_CONTENT_ALL};

    if (every)
        ck_assert_int_eq(ferry_duration_parse(every, &s.every_ms, NULL, 0), FERRY_OK);
    s.from_ms = at(from);
    s.cron = (char *)cron;
    s.at_ms = at(when);
    s.created_ms = at(created);
    return s;
}

#define T0 "2026-11-27T10:00:00Z"

/* next (strictly after) and prev (at or before) for each kind. */
static const struct {
    const char *name;
    const char *every, *from, *cron, *when;
    const char *t;
    const char *next; /* NULL: none */
    const char *prev; /* NULL: none */
} due_cases[] = {
    {"every before from", "2s", T0, NULL, NULL, "2026-11-27T09:00:00Z", T0, NULL},
    {"every at from", "2s", T0, NULL, NULL, T0, "2026-11-27T10:00:02Z", T0},
    {"every between", "1h30m", T0, NULL, NULL, "2026-11-27T12:00:00Z", "2026-11-27T13:00:00Z",
     "2026-11-27T11:30:00Z"},
    {"every on a due time", "1d", T0, NULL, NULL, "2026-11-29T10:00:00Z",
     "2026-11-30T10:00:00Z", "2026-11-29T10:00:00Z"},
    {"every, sub-second", "500ms", T0, NULL, NULL, "2026-11-27T10:00:00.700Z",
     "2026-11-27T10:00:01Z", "2026-11-27T10:00:00.500Z"},
    {"cron", NULL, NULL, "0 0 6 * * MON-FRI", NULL, "2026-11-27T10:00:00Z",
     "2026-11-30T06:00:00Z", "2026-11-27T06:00:00Z"},
    {"at, before", NULL, NULL, NULL, T0, "2026-11-27T09:59:59.999Z", T0, NULL},
    {"at, on it", NULL, NULL, NULL, T0, T0, NULL, T0},
    {"at, after", NULL, NULL, NULL, T0, "2026-11-28T00:00:00Z", NULL, T0},
};

START_TEST(test_schedule_due_times)
{
    ferry_schedule_t s = make(due_cases[_i].every, due_cases[_i].from, due_cases[_i].cron,
                              due_cases[_i].when, "2020-01-01T00:00:00Z");
    int64_t due = 0;

    ck_assert_int_eq(ferry_schedule_next_due(&s, at(due_cases[_i].t), &due),
                     due_cases[_i].next ? FERRY_OK : FERRY_ENOTFOUND);
    if (due_cases[_i].next)
        ck_assert_msg(due == at(due_cases[_i].next), "%s: next", due_cases[_i].name);
    ck_assert_int_eq(ferry_schedule_prev_due(&s, at(due_cases[_i].t), &due),
                     due_cases[_i].prev ? FERRY_OK : FERRY_ENOTFOUND);
    if (due_cases[_i].prev)
        ck_assert_msg(due == at(due_cases[_i].prev), "%s: prev", due_cases[_i].name);
}
END_TEST

/* What a scheduler fires when it takes a schedule over at `now` with an 8 s
 * failover window. */
static const struct {
    const char *name;
    const char *every, *cron, *when;
    const char *created;
    const char *now;
    const char *fires[6];
} takeover_cases[] = {
    {"failover: every due time in the window fires, none before it", "2s", NULL, NULL,
     "2026-11-27T09:00:00Z", "2026-11-27T10:00:09.500Z",
     {"2026-11-27T10:00:02Z", "2026-11-27T10:00:04Z", "2026-11-27T10:00:06Z",
      "2026-11-27T10:00:08Z"}},
    {"long outage, interval above the window: one catch-up fire", "1m", NULL, NULL,
     "2026-11-20T00:00:00Z", "2026-11-27T10:30:30Z", {"2026-11-27T10:30:00Z"}},
    {"long outage of a daily schedule: one catch-up fire", "1d", NULL, NULL,
     "2026-11-01T00:00:00Z", "2026-11-29T09:00:00Z", {"2026-11-28T10:00:00Z"}},
    {"nothing missed since creation: nothing fires", "1d", NULL, NULL, "2026-11-27T09:00:00Z",
     "2026-11-27T09:30:00Z", {NULL}},
    {"due times before creation never fire", "2s", NULL, NULL, "2026-11-27T10:00:05Z",
     "2026-11-27T10:00:09Z", {"2026-11-27T10:00:06Z", "2026-11-27T10:00:08Z"}},
    {"due right now fires", "1h", NULL, NULL, "2026-11-01T00:00:00Z", "2026-11-27T11:00:00Z",
     {"2026-11-27T11:00:00Z"}},
    {"cron catch-up", NULL, "0 0 6 * * *", NULL, "2026-11-01T00:00:00Z",
     "2026-11-27T10:00:00Z", {"2026-11-27T06:00:00Z"}},
    {"cron in the window", NULL, "*/3 * * * * *", NULL, "2026-11-01T00:00:00Z",
     "2026-11-27T10:00:07Z", {"2026-11-27T10:00:00Z", "2026-11-27T10:00:03Z",
                              "2026-11-27T10:00:06Z"}},
    {"one-shot missed by an hour fires once", NULL, NULL, T0, "2026-11-27T09:00:00Z",
     "2026-11-27T11:00:00Z", {T0}},
    {"one-shot not due yet", NULL, NULL, T0, "2026-11-27T09:00:00Z", "2026-11-27T09:59:59Z",
     {NULL}},
    {"one-shot older than its creation never fires", NULL, NULL, T0, "2026-11-27T10:00:01Z",
     "2026-11-27T10:00:02Z", {NULL}},
};

START_TEST(test_schedule_catch_up)
{
    ferry_schedule_t s = make(takeover_cases[_i].every, T0, takeover_cases[_i].cron,
                              takeover_cases[_i].when, takeover_cases[_i].created);
    int64_t dues[FERRY_SCHEDULE_MAX_CATCH_UP];
    size_t n = 99, expect = 0;

    while (expect < 6 && takeover_cases[_i].fires[expect])
        expect++;
    ferry_schedule_catch_up(&s, at(takeover_cases[_i].now), 8000, dues,
                            FERRY_SCHEDULE_MAX_CATCH_UP, &n);
    ck_assert_msg(n == expect, "%s: %zu fires, expected %zu", takeover_cases[_i].name, n, expect);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(dues[i] == at(takeover_cases[_i].fires[i]), "%s: fire %zu",
                      takeover_cases[_i].name, i);
}
END_TEST

START_TEST(test_schedule_catch_up_keeps_the_latest)
{
    ferry_schedule_t s = make("1s", T0, NULL, NULL, "2026-11-01T00:00:00Z");
    int64_t dues[3];
    size_t n = 0;

    ferry_schedule_catch_up(&s, at("2026-11-27T10:00:10Z"), 8000, dues, 3, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(dues[0], at("2026-11-27T10:00:08Z"));
    ck_assert_int_eq(dues[2], at("2026-11-27T10:00:10Z"));
}
END_TEST

/* Invalid schedules, made from a valid "every 2s" one by one change, with the
 * words the message must contain. */
static const struct {
    const char *name;
    const char *id;
    const char *source;
    size_t nobjects;
    const char *every;
    const char *cron;
    const char *when;
    const char *expect;
} invalid[] = {
    {"empty id", "", "dev", 2, "2s", NULL, NULL, "schedule id \"\" must be"},
    {"id with a space", "a b", "dev", 2, "2s", NULL, NULL, "schedule id \"a b\""},
    {"id with @", "a@b", "dev", 2, "2s", NULL, NULL, "schedule id \"a@b\""},
    {"no source", "n", "", 2, "2s", NULL, NULL, "schedule n: source and target"},
    {"no objects", "n", "dev", 0, "2s", NULL, NULL, "schedule n: no objects"},
    {"no kind", "n", "dev", 2, NULL, NULL, NULL, "exactly one of every"},
    {"two kinds", "n", "dev", 2, "2s", "* * * * * *", NULL, "exactly one of every"},
    {"interval under the minimum", "n", "dev", 2, "500ms", NULL, NULL,
     "interval 500ms is under the minimum 1s"},
    {"bad cron", "n", "dev", 2, NULL, "* * * *", NULL, "must have 6 fields"},
    {"cron that never fires", "n", "dev", 2, NULL, "0 0 0 31 FEB *", NULL, "never fires"},
    {"cron under the minimum", "n", "dev", 2, NULL, "0,0-59/30 * * * * *", NULL, NULL},
};

START_TEST(test_schedule_validate_rejects)
{
    ferry_schedule_t s = make(invalid[_i].every, T0, invalid[_i].cron, invalid[_i].when, T0);
    char err[256] = "";
    int64_t min = 1000;

    s.id = (char *)invalid[_i].id;
    s.source = (char *)invalid[_i].source;
    s.nobjects = invalid[_i].nobjects;
    if (!invalid[_i].expect) /* "0,0-59/30" fires every 30 s: too often for a 1 min minimum */
        min = 60000;
    ck_assert_int_eq(ferry_schedule_validate(&s, min, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_msg(strstr(err, invalid[_i].expect ? invalid[_i].expect : "fires 30s apart"),
                  "%s: message \"%s\"", invalid[_i].name, err);
}
END_TEST

/* Valid schedules and how `schedule list` shows them. */
static const struct {
    const char *every, *cron, *when;
    const char *kind, *spec;
} valid[] = {
    {"1h30m", NULL, NULL, "every", "1h30m from " T0},
    {"1s", NULL, NULL, "every", "1s from " T0},
    {NULL, "0 0 6 * * MON-FRI", NULL, "cron", "0 0 6 * * MON-FRI"},
    {NULL, "* * * * * *", NULL, "cron", "* * * * * *"},
    {NULL, NULL, "2026-11-27T10:00:00.250Z", "at", "2026-11-27T10:00:00.250Z"},
};

START_TEST(test_schedule_validate_and_describe)
{
    ferry_schedule_t s = make(valid[_i].every, T0, valid[_i].cron, valid[_i].when, T0);
    char err[256] = "", spec[128];

    ck_assert_msg(ferry_schedule_validate(&s, 1000, err, sizeof(err)) == FERRY_OK, "%s", err);
    ck_assert_str_eq(ferry_schedule_kind(&s), valid[_i].kind);
    ck_assert_int_eq(ferry_schedule_spec(&s, spec, sizeof(spec)), FERRY_OK);
    ck_assert_str_eq(spec, valid[_i].spec);
}
END_TEST

/* The export id depends only on the schedule id and the due time, so a fire
 * repeated by another scheduler carries the same id. */
START_TEST(test_schedule_fire_request)
{
    ferry_schedule_t s = make("2s", T0, NULL, NULL, T0);
    ferry_request_t req, again;
    char id[FERRY_EXPORT_ID_MAX], id2[FERRY_EXPORT_ID_MAX], tiny[8];

    ck_assert_int_eq(ferry_schedule_fire_request(&s, at("2026-11-27T10:00:02Z"), 111, id,
                                                 sizeof(id), &req),
                     FERRY_OK);
    ck_assert_str_eq(req.export_id, "nightly@2026-11-27T10:00:02Z");
    ck_assert_str_eq(req.schedule_id, "nightly");
    ck_assert_int_eq(req.due_ms, at("2026-11-27T10:00:02Z"));
    ck_assert_int_eq(req.requested_at_ms, 111);
    ck_assert_str_eq(req.source, "dev");
    ck_assert_str_eq(req.target, "prod");
    ck_assert_uint_eq(req.nobjects, 2);
    ck_assert_int_eq(ferry_schedule_fire_request(&s, at("2026-11-27T10:00:02Z"), 999, id2,
                                                 sizeof(id2), &again),
                     FERRY_OK);
    ck_assert_str_eq(again.export_id, req.export_id);
    ck_assert_int_eq(ferry_schedule_export_id("n", at("2026-11-27T10:00:02.5Z"), id, sizeof(id)),
                     FERRY_OK);
    ck_assert_str_eq(id, "n@2026-11-27T10:00:02.500Z");
    ck_assert_int_eq(ferry_schedule_export_id("n", 0, tiny, sizeof(tiny)), FERRY_EINVAL);
}
END_TEST

static Suite *schedule_suite(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("core");

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
    tcase_add_loop_test(tc, test_schedule_due_times, 0, N(due_cases));
    tcase_add_loop_test(tc, test_schedule_catch_up, 0, N(takeover_cases));
    tcase_add_test(tc, test_schedule_catch_up_keeps_the_latest);
    tcase_add_loop_test(tc, test_schedule_validate_rejects, 0, N(invalid));
    tcase_add_loop_test(tc, test_schedule_validate_and_describe, 0, N(valid));
    tcase_add_test(tc, test_schedule_fire_request);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(schedule_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
