/* test_timeutil.c - RFC 3339 UTC times and durations, in and out. */
#include "error.h"
#include "timeutil.h"
#include "check_run.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Times that parse, the Unix ms they mean, and how ferry writes them back. */
static const struct {
    const char *in;
    int64_t ms;
    const char *out;
} good_times[] = {
    {"1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00Z"},
    {"2026-11-27T10:00:00Z", INT64_C(1795773600000), "2026-11-27T10:00:00Z"},
    {"2026-11-27T10:00:00.250Z", INT64_C(1795773600250), "2026-11-27T10:00:00.250Z"},
    {"2026-11-27T10:00:00.25Z", INT64_C(1795773600250), "2026-11-27T10:00:00.250Z"},
    {"2026-11-27T10:00:00.2509999Z", INT64_C(1795773600250), "2026-11-27T10:00:00.250Z"},
    {"2026-11-27t10:00:00z", INT64_C(1795773600000), "2026-11-27T10:00:00Z"},
    /* offsets are applied: out is always UTC */
    {"2026-11-27T11:30:00+01:30", INT64_C(1795773600000), "2026-11-27T10:00:00Z"},
    {"2026-11-27T05:00:00-05:00", INT64_C(1795773600000), "2026-11-27T10:00:00Z"},
    {"2024-02-29T23:59:59Z", INT64_C(1709251199000), "2024-02-29T23:59:59Z"},
    {"2000-02-29T00:00:00Z", INT64_C(951782400000), "2000-02-29T00:00:00Z"},
    {"1969-12-31T23:59:59.999Z", -1, "1969-12-31T23:59:59.999Z"},
    {"9999-12-31T23:59:59.999Z", INT64_C(253402300799999), "9999-12-31T23:59:59.999Z"},
};

START_TEST(test_time_parse_and_format)
{
    int64_t ms = 42;
    char err[256] = "", out[FERRY_TIME_MAX];

    ck_assert_msg(ferry_time_parse(good_times[_i].in, &ms, err, sizeof(err)) == FERRY_OK,
                  "%s: %s", good_times[_i].in, err);
    ck_assert_int_eq(ms, good_times[_i].ms);
    ck_assert_int_eq(ferry_time_format(ms, out, sizeof(out)), FERRY_OK);
    ck_assert_str_eq(out, good_times[_i].out);
}
END_TEST

/* Not RFC 3339, or a date that does not exist: rejected with the input quoted. */
static const char *const bad_times[] = {
    "",
    "now",
    "2026-11-27",
    "2026-11-27 10:00:00Z",
    "2026-11-27T10:00:00",       /* no zone: ambiguous */
    "2026-11-27T10:00Z",
    "2026-11-27T10:00:00.Z",
    "2026-11-27T10:00:00Zjunk",
    "2026-11-27T10:00:00+0100",
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-02-29T00:00:00Z",      /* 2026 is not a leap year */
    "1900-02-29T00:00:00Z",      /* nor is 1900 */
    "2026-04-31T00:00:00Z",
    "2026-11-27T24:00:00Z",
    "2026-11-27T10:60:00Z",
    "2026-11-27T10:00:60Z",
    "+2026-11-27T10:00:00Z",
    "1795773600000",
};

START_TEST(test_time_parse_rejects)
{
    int64_t ms = 42;
    char err[256] = "";

    ck_assert_int_eq(ferry_time_parse(bad_times[_i], &ms, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_int_eq(ms, 42);
    ck_assert_msg(strstr(err, bad_times[_i]) != NULL, "message \"%s\" quotes the input", err);
}
END_TEST

START_TEST(test_time_format_limits)
{
    char out[FERRY_TIME_MAX];

    ck_assert_int_eq(ferry_time_format(INT64_C(253402300800000), out, sizeof(out)), FERRY_EINVAL);
    ck_assert_int_eq(ferry_time_format(0, out, 20), FERRY_EINVAL); /* needs 21 with the NUL */
    ck_assert_int_eq(ferry_time_format(0, out, 21), FERRY_OK);
}
END_TEST

/* Splitting and joining agree on weekdays and month ends across eras. */
static const struct {
    const char *when;
    int wday;
    int days_in_month;
} calendar[] = {
    {"1970-01-01T00:00:00Z", 4, 31}, {"2026-11-27T10:00:00Z", 5, 30},
    {"2024-02-10T00:00:00Z", 6, 29}, {"2100-02-01T00:00:00Z", 1, 28},
    {"2000-02-01T00:00:00Z", 2, 29}, {"1969-12-31T12:00:00Z", 3, 31},
    {"2027-04-04T00:00:00Z", 0, 30},
};

START_TEST(test_time_split_join)
{
    int64_t ms;
    ferry_tm_t tm;

    ck_assert_int_eq(ferry_time_parse(calendar[_i].when, &ms, NULL, 0), FERRY_OK);
    ferry_time_split(ms, &tm);
    ck_assert_int_eq(tm.wday, calendar[_i].wday);
    ck_assert_int_eq(ferry_time_days_in_month(tm.year, tm.month), calendar[_i].days_in_month);
    ck_assert_int_eq(ferry_time_join(&tm), ms);
}
END_TEST

static const struct {
    const char *in;
    int64_t ms;
    const char *out;
} good_durations[] = {
    {"500ms", 500, "500ms"},
    {"2s", 2000, "2s"},
    {"5m", 300000, "5m"},
    {"1h", 3600000, "1h"},
    {"1d", 86400000, "1d"},
    {"1h30m", 5400000, "1h30m"},
    {"90m", 5400000, "1h30m"},
    {"1d2h3m4s5ms", 93784005, "1d2h3m4s5ms"},
    {"1500ms", 1500, "1s500ms"},
    {"0s", 0, "0s"},
};

START_TEST(test_duration_parse_and_format)
{
    int64_t ms = -1;
    char err[256] = "", out[32];

    ck_assert_msg(ferry_duration_parse(good_durations[_i].in, &ms, err, sizeof(err)) == FERRY_OK,
                  "%s: %s", good_durations[_i].in, err);
    ck_assert_int_eq(ms, good_durations[_i].ms);
    ck_assert_int_eq(ferry_duration_format(ms, out, sizeof(out)), FERRY_OK);
    ck_assert_str_eq(out, good_durations[_i].out);
}
END_TEST

static const char *const bad_durations[] = {
    "", "2", "s", "2x", "-2s", "+2s", "2 s", "1.5h", "30m1h", "1h1h", "2S", "1msx",
    "99999999999999999999s", "9223372036854775807d",
};

START_TEST(test_duration_parse_rejects)
{
    int64_t ms = 42;
    char err[256] = "";

    ck_assert_int_eq(ferry_duration_parse(bad_durations[_i], &ms, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_int_eq(ms, 42);
    ck_assert_msg(strstr(err, bad_durations[_i]) != NULL || !*bad_durations[_i],
                  "message \"%s\" quotes the input", err);
}
END_TEST

static Suite *timeutil_suite(void)
{
    Suite *s = suite_create("timeutil");
    TCase *tc = tcase_create("core");

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
    tcase_add_loop_test(tc, test_time_parse_and_format, 0, N(good_times));
    tcase_add_loop_test(tc, test_time_parse_rejects, 0, N(bad_times));
    tcase_add_test(tc, test_time_format_limits);
    tcase_add_loop_test(tc, test_time_split_join, 0, N(calendar));
    tcase_add_loop_test(tc, test_duration_parse_and_format, 0, N(good_durations));
    tcase_add_loop_test(tc, test_duration_parse_rejects, 0, N(bad_durations));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ferry_check_run(timeutil_suite());
}
