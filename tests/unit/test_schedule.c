/* test_schedule.c - schedule rules: due times of every/cron/at schedules, the
 * takeover catch-up rule (one catch-up fire, not a burst), the scheduler's
 * per-schedule state (a due time is left behind only after a delivered fire),
 * validation, and the deterministic export id of a fire. */
#include "error.h"
#include "schedule.h"
#include "timeutil.h"
#include "check_run.h"

#include <check.h>
#include <stdio.h>
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

/* Taking over with ferry_schedule_first_due, then advancing after each
 * delivered fire while due times have come, fires exactly the catch-up due
 * times: the scheduler's state machine agrees with the takeover rule. */
START_TEST(test_schedule_first_due_then_advance_fires_the_catch_up)
{
    ferry_schedule_t s = make(takeover_cases[_i].every, T0, takeover_cases[_i].cron,
                              takeover_cases[_i].when, takeover_cases[_i].created);
    int64_t now = at(takeover_cases[_i].now), due = 0;
    size_t n = 0;
    int rc = ferry_schedule_first_due(&s, now, 8000, &due);

    while (rc == FERRY_OK && due <= now) {
        ck_assert_msg(n < 6 && takeover_cases[_i].fires[n], "%s: extra fire %lld",
                      takeover_cases[_i].name, (long long)due);
        ck_assert_msg(due == at(takeover_cases[_i].fires[n]), "%s: fire %zu",
                      takeover_cases[_i].name, n);
        n++;
        rc = ferry_schedule_advance(&s, due, 1, now, 8000, &due);
    }
    ck_assert_msg(n == 6 || !takeover_cases[_i].fires[n], "%s: only %zu fires",
                  takeover_cases[_i].name, n);
    /* What is left is the first due time after now, or nothing. */
    if (rc == FERRY_OK) {
        int64_t next = 0;
        ck_assert_int_eq(ferry_schedule_next_due(&s, now, &next), FERRY_OK);
        ck_assert_int_eq(due, next);
    } else {
        ck_assert_int_eq(rc, FERRY_ENOTFOUND);
    }
}
END_TEST

/* Regression: the scheduler counted a fire as done once it was queued, so a
 * delivery failure lost it, and retired a one-shot that never reached the
 * broker. A fire that is not delivered must leave the state as it was: the
 * same due time (hence the same export id) fires again, however late, and a
 * one-shot is finished only by its delivered fire. */
static const struct {
    const char *name;
    const char *every, *cron, *when;
    const char *due;       /* the fire attempted */
    const char *now;       /* when the attempt ended */
    const char *delivered; /* the state after a delivered fire; NULL: finished */
} advance_cases[] = {
    {"every, on time", "2s", NULL, NULL, "2026-11-27T10:00:02Z", "2026-11-27T10:00:02.100Z",
     "2026-11-27T10:00:04Z"},
    {"every, delivered after an outage: due times older than the window are skipped", "2s",
     NULL, NULL, "2026-11-27T10:00:02Z", "2026-11-27T11:00:00Z", "2026-11-27T10:59:54Z"},
    {"cron", NULL, "0 0 6 * * *", NULL, "2026-11-27T06:00:00Z", "2026-11-27T06:00:00.500Z",
     "2026-11-28T06:00:00Z"},
    {"one-shot, on time", NULL, NULL, T0, T0, "2026-11-27T10:00:00.100Z", NULL},
    {"one-shot, an hour late", NULL, NULL, T0, T0, "2026-11-27T11:00:00Z", NULL},
};

START_TEST(test_schedule_advance_only_after_delivery)
{
    ferry_schedule_t s = make(advance_cases[_i].every, T0, advance_cases[_i].cron,
                              advance_cases[_i].when, "2026-11-01T00:00:00Z");
    int64_t due = at(advance_cases[_i].due), now = at(advance_cases[_i].now), next = 0;
    ferry_request_t first, again;
    char id1[FERRY_EXPORT_ID_MAX], id2[FERRY_EXPORT_ID_MAX];

    /* Not delivered: unchanged, even an hour later, and the retry carries the
     * same export id. */
    ck_assert_int_eq(ferry_schedule_advance(&s, due, 0, now, 8000, &next), FERRY_OK);
    ck_assert_msg(next == due, "%s: undelivered fire moved on", advance_cases[_i].name);
    ck_assert_int_eq(ferry_schedule_advance(&s, due, 0, now + 3600000, 8000, &next), FERRY_OK);
    ck_assert_msg(next == due, "%s: undelivered fire moved on later", advance_cases[_i].name);
    ck_assert_int_eq(ferry_schedule_fire_request(&s, due, now, id1, sizeof(id1), &first), 0);
    ck_assert_int_eq(ferry_schedule_fire_request(&s, next, now + 5000, id2, sizeof(id2), &again),
                     0);
    ck_assert_str_eq(again.export_id, first.export_id);
    /* Delivered: on to the next due time, or finished. */
    ck_assert_int_eq(ferry_schedule_advance(&s, due, 1, now, 8000, &next),
                     advance_cases[_i].delivered ? FERRY_OK : FERRY_ENOTFOUND);
    if (advance_cases[_i].delivered)
        ck_assert_msg(next == at(advance_cases[_i].delivered), "%s: delivered",
                      advance_cases[_i].name);
}
END_TEST

/* The scheduler's loop for one schedule, with a broker that refuses the first
 * `failures` deliveries: each attempt fires the state's due time; the state
 * moves only after a delivered one. A one-shot missed while the broker was
 * away is fired until it is delivered, then finished; an interval schedule
 * goes on from the due time that failed, not from a later one. */
START_TEST(test_schedule_failed_deliveries_repeat_the_same_fire)
{
    static const struct {
        const char *every, *when;
        int failures;
        const char *fired[4]; /* distinct export ids delivered, in order */
    } cases[] = {
        {NULL, T0, 3, {"nightly@" T0}},
        {"2s", NULL, 2, {"nightly@2026-11-27T10:00:00Z", "nightly@2026-11-27T10:00:02Z"}},
    };
    ferry_schedule_t s = make(cases[_i].every, T0, NULL, cases[_i].when, "2026-11-27T09:00:00Z");
    int64_t now = at("2026-11-27T10:00:00.050Z"), due = 0;
    int attempts = 0, rc = ferry_schedule_first_due(&s, now, 8000, &due);
    size_t delivered = 0;
    char id[FERRY_EXPORT_ID_MAX], first_try[FERRY_EXPORT_ID_MAX] = "";
    ferry_request_t req;

    ck_assert_int_eq(rc, FERRY_OK);
    ck_assert_int_eq(due, at(T0));
    /* Each pass: fire what is due, advance by the outcome; 1 s between passes. */
    for (int pass = 0; pass < 4 && rc == FERRY_OK; pass++, now += 1000) {
        while (rc == FERRY_OK && due <= now) {
            int ok = attempts++ >= cases[_i].failures;
            ck_assert_int_eq(ferry_schedule_fire_request(&s, due, now, id, sizeof(id), &req), 0);
            if (!*first_try)
                snprintf(first_try, sizeof(first_try), "%s", id);
            if (!ok) {
                ck_assert_str_eq(id, first_try); /* the same fire, again */
            } else {
                ck_assert_msg(delivered < 4 && cases[_i].fired[delivered], "extra fire %s", id);
                ck_assert_str_eq(id, cases[_i].fired[delivered]);
                delivered++;
            }
            rc = ferry_schedule_advance(&s, due, ok, now, 8000, &due);
            if (!ok)
                break; /* the scheduler backs off until a later pass */
        }
    }
    ck_assert_int_eq(attempts, cases[_i].failures + (int)delivered);
    ck_assert_msg(delivered > 0 && (delivered == 4 || !cases[_i].fired[delivered]),
                  "%zu fires delivered", delivered);
    /* The one-shot is finished only now, after its delivered fire. */
    ck_assert_int_eq(rc, cases[_i].when ? FERRY_ENOTFOUND : FERRY_OK);
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
    tcase_add_loop_test(tc, test_schedule_first_due_then_advance_fires_the_catch_up, 0,
                        N(takeover_cases));
    tcase_add_loop_test(tc, test_schedule_advance_only_after_delivery, 0, N(advance_cases));
    tcase_add_loop_test(tc, test_schedule_failed_deliveries_repeat_the_same_fire, 0, 2);
    tcase_add_loop_test(tc, test_schedule_validate_rejects, 0, N(invalid));
    tcase_add_loop_test(tc, test_schedule_validate_and_describe, 0, N(valid));
    tcase_add_test(tc, test_schedule_fire_request);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ferry_check_run(schedule_suite());
}
