/* test_cron.c - six-field cron expressions: ranges, steps, lists, names, day of
 * month versus day of week (Vixie rule), month ends and leap years, in UTC. */
#include "cron.h"
#include "error.h"
#include "timeutil.h"
#include "check_run.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIRES 4

/* From `after`, ferry_cron_next must give these fires in order; walking back
 * from the last one with ferry_cron_prev must give them again. */
static const struct {
    const char *name;
    const char *expr;
    const char *after;
    const char *fires[MAX_FIRES];
} next_cases[] = {
    {"every second", "* * * * * *", "2026-11-27T10:00:00.500Z",
     {"2026-11-27T10:00:01Z", "2026-11-27T10:00:02Z", "2026-11-27T10:00:03Z"}},
    {"strictly after a matching second", "0 * * * * *", "2026-11-27T10:00:00Z",
     {"2026-11-27T10:01:00Z", "2026-11-27T10:02:00Z"}},
    {"second step", "*/15 * * * * *", "2026-11-27T10:00:50Z",
     {"2026-11-27T10:01:00Z", "2026-11-27T10:01:15Z", "2026-11-27T10:01:30Z"}},
    {"range with step", "10-40/15 * * * * *", "2026-11-27T10:00:00Z",
     {"2026-11-27T10:00:10Z", "2026-11-27T10:00:25Z", "2026-11-27T10:00:40Z",
      "2026-11-27T10:01:10Z"}},
    {"start with step runs to the end", "0 50/5 * * * *", "2026-11-27T10:00:00Z",
     {"2026-11-27T10:50:00Z", "2026-11-27T10:55:00Z", "2026-11-27T11:50:00Z"}},
    {"list of minutes", "30 5,20,45 * * * *", "2026-11-27T10:20:30Z",
     {"2026-11-27T10:45:30Z", "2026-11-27T11:05:30Z", "2026-11-27T11:20:30Z"}},
    {"hour range rolls to the next day", "0 0 9-10 * * *", "2026-11-27T10:30:00Z",
     {"2026-11-28T09:00:00Z", "2026-11-28T10:00:00Z", "2026-11-29T09:00:00Z"}},
    {"mixed list of ranges and values", "0 0 1,3-4,22 * * *", "2026-11-27T02:00:00Z",
     {"2026-11-27T03:00:00Z", "2026-11-27T04:00:00Z", "2026-11-27T22:00:00Z",
      "2026-11-28T01:00:00Z"}},
    {"month names", "0 0 0 1 JAN,jul *", "2026-11-27T00:00:00Z",
     {"2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
    {"month name range", "0 0 12 15 Nov-Dec *", "2026-11-27T00:00:00Z",
     {"2026-12-15T12:00:00Z", "2027-11-15T12:00:00Z", "2027-12-15T12:00:00Z"}},
    {"weekday names, business days", "0 0 8 * * MON-FRI", "2026-11-27T09:00:00Z",
     {"2026-11-30T08:00:00Z", "2026-12-01T08:00:00Z", "2026-12-02T08:00:00Z"}},
    {"weekday 7 is Sunday", "0 0 0 * * 7", "2026-11-27T00:00:00Z",
     {"2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"}},
    {"weekday range 5-7 is Friday to Sunday", "0 0 0 * * 5-7", "2026-11-26T12:00:00Z",
     {"2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z",
      "2026-12-04T00:00:00Z"}},
    /* Vixie: both restricted -> either matches. Nov 2026: the 13th is a Friday. */
    {"day of month OR day of week", "0 0 0 13 * FRI", "2026-11-10T00:00:00Z",
     {"2026-11-13T00:00:00Z", "2026-11-20T00:00:00Z", "2026-11-27T00:00:00Z",
      "2026-12-04T00:00:00Z"}},
    {"day of month OR day of week, other month", "0 0 0 1 * MON", "2026-11-27T00:00:00Z",
     {"2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-07T00:00:00Z"}},
    {"day of week * -> day of month decides", "0 0 0 13 * *", "2026-11-10T00:00:00Z",
     {"2026-11-13T00:00:00Z", "2026-12-13T00:00:00Z"}},
    {"day of month ? -> day of week decides", "0 0 0 ? * FRI", "2026-11-10T00:00:00Z",
     {"2026-11-13T00:00:00Z", "2026-11-20T00:00:00Z"}},
    {"stepped day of month counts as restricted", "0 0 0 */10 * SUN", "2026-11-20T00:00:00Z",
     {"2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z",
      "2026-12-01T00:00:00Z"}},
    {"31st skips short months", "0 0 0 31 * *", "2026-01-31T00:00:00Z",
     {"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
      "2026-08-31T00:00:00Z"}},
    {"30th skips February", "0 0 0 30 * *", "2027-01-30T00:00:00Z",
     {"2027-03-30T00:00:00Z", "2027-04-30T00:00:00Z"}},
    {"February 29 waits for leap years", "0 0 0 29 2 *", "2024-02-29T00:00:00Z",
     {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
    {"February 29 skips 2100", "0 0 0 29 FEB *", "2096-03-01T00:00:00Z",
     {"2104-02-29T00:00:00Z"}},
    {"end of year rolls over", "59 59 23 31 12 *", "2026-12-31T23:59:59Z",
     {"2027-12-31T23:59:59Z"}},
    {"extra spaces between fields", "  0  0   0 1  1  * ", "2026-11-27T00:00:00Z",
     {"2027-01-01T00:00:00Z"}},
};

static int64_t at(const char *s)
{
    int64_t ms = 0;
    char err[256];

    ck_assert_msg(ferry_time_parse(s, &ms, err, sizeof(err)) == FERRY_OK, "%s", err);
    return ms;
}

static const char *fmt(int64_t ms, char *buf)
{
    ck_assert_int_eq(ferry_time_format(ms, buf, FERRY_TIME_MAX), FERRY_OK);
    return buf;
}

START_TEST(test_cron_next_and_prev)
{
    ferry_cron_t c;
    char err[256] = "", got[FERRY_TIME_MAX];
    int64_t t = at(next_cases[_i].after), fire = 0;
    int n = 0;

    ck_assert_msg(ferry_cron_parse(next_cases[_i].expr, &c, err, sizeof(err)) == FERRY_OK,
                  "%s: %s", next_cases[_i].name, err);
    for (; n < MAX_FIRES && next_cases[_i].fires[n]; n++) {
        ck_assert_int_eq(ferry_cron_next(&c, t, &fire), FERRY_OK);
        ck_assert_msg(fire == at(next_cases[_i].fires[n]), "%s: fire %d is %s, expected %s",
                      next_cases[_i].name, n, fmt(fire, got), next_cases[_i].fires[n]);
        t = fire;
    }
    /* prev at a matching second returns that second; then walk back. */
    for (int k = n - 1; k >= 0; k--) {
        ck_assert_int_eq(ferry_cron_prev(&c, t, &fire), FERRY_OK);
        ck_assert_msg(fire == at(next_cases[_i].fires[k]), "%s: prev %d is %s, expected %s",
                      next_cases[_i].name, k, fmt(fire, got), next_cases[_i].fires[k]);
        t = fire - 1;
    }
}
END_TEST

/* prev from a time between fires lands on the fire before it, also in the
 * previous day or year. */
static const struct {
    const char *expr;
    const char *at;
    const char *prev;
} prev_cases[] = {
    {"0 0 0 1 1 *", "2026-11-27T10:00:00Z", "2026-01-01T00:00:00Z"},
    {"*/10 * * * * *", "2026-11-27T10:00:09.999Z", "2026-11-27T10:00:00Z"},
    {"0 30 23 * * *", "2026-11-27T23:29:59Z", "2026-11-26T23:30:00Z"},
    {"0 0 0 29 2 *", "2026-11-27T00:00:00Z", "2024-02-29T00:00:00Z"},
};

START_TEST(test_cron_prev)
{
    ferry_cron_t c;
    int64_t fire = 0;

    ck_assert_int_eq(ferry_cron_parse(prev_cases[_i].expr, &c, NULL, 0), FERRY_OK);
    ck_assert_int_eq(ferry_cron_prev(&c, at(prev_cases[_i].at), &fire), FERRY_OK);
    ck_assert_int_eq(fire, at(prev_cases[_i].prev));
}
END_TEST

/* Expressions that parse but can never fire: nothing is found, quickly. */
static const char *const never[] = {"0 0 0 30 FEB *", "0 0 0 31 4,6,9,11 *"};

START_TEST(test_cron_never_fires)
{
    ferry_cron_t c;
    int64_t fire = 0;

    ck_assert_int_eq(ferry_cron_parse(never[_i], &c, NULL, 0), FERRY_OK);
    ck_assert_int_eq(ferry_cron_next(&c, at("2026-11-27T00:00:00Z"), &fire), FERRY_ENOTFOUND);
    ck_assert_int_eq(ferry_cron_prev(&c, at("2026-11-27T00:00:00Z"), &fire), FERRY_ENOTFOUND);
}
END_TEST

/* Rejected expressions, with the part of the message that names the fault. */
static const struct {
    const char *expr;
    const char *expect;
} bad[] = {
    {"", "must have 6 fields"},
    {"* * * * *", "must have 6 fields"},
    {"* * * * * * *", "must have 6 fields"},
    {"60 * * * * *", "second item \"60\" is outside 0-59"},
    {"* 60 * * * *", "minute item \"60\""},
    {"* * 24 * * *", "hour item \"24\""},
    {"* * * 0 * *", "day of month item \"0\""},
    {"* * * 32 * *", "day of month item \"32\""},
    {"* * * * 13 *", "month item \"13\""},
    {"* * * * * 8", "day of week item \"8\""},
    {"* * * * FOO *", "month item \"FOO\" is not a value"},
    {"* * * * * FUNDAY", "day of week item \"FUNDAY\""},
    {"* * * * * JAN", "day of week item \"JAN\""},
    {"30-10 * * * * *", "second item \"30-10\" is outside 0-59 or reversed"},
    {"*/0 * * * * *", "second item \"*/0\" has a step outside 1-60"},
    {"*/61 * * * * *", "has a step outside 1-60"},
    {"*/ * * * * *", "has a step"},
    {"1,,2 * * * * *", "second item \"\""},
    {"1, * * * * *", "second item \"\""},
    {"? * * * * *", "second item \"?\""},
    {"1-2-3 * * * * *", "second item \"1-2-3\""},
    {"*-5 * * * * *", "second item \"*-5\""},
    {"a * * * * *", "second item \"a\""},
    {"-1 * * * * *", "second item \"-1\""},
};

START_TEST(test_cron_parse_rejects)
{
    ferry_cron_t c;
    char err[256] = "";

    ck_assert_int_eq(ferry_cron_parse(bad[_i].expr, &c, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_msg(strstr(err, bad[_i].expect) != NULL, "\"%s\": message \"%s\" lacks \"%s\"",
                  bad[_i].expr, err, bad[_i].expect);
}
END_TEST

static Suite *cron_suite(void)
{
    Suite *s = suite_create("cron");
    TCase *tc = tcase_create("core");

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
    tcase_add_loop_test(tc, test_cron_next_and_prev, 0, N(next_cases));
    tcase_add_loop_test(tc, test_cron_prev, 0, N(prev_cases));
    tcase_add_loop_test(tc, test_cron_never_fires, 0, N(never));
    tcase_add_loop_test(tc, test_cron_parse_rejects, 0, N(bad));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ferry_check_run(cron_suite());
}
