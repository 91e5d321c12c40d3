/* timeutil.c - RFC 3339 UTC times and durations in Unix milliseconds.
 *
 * Day counts use Howard Hinnant's days_from_civil / civil_from_days algorithms
 * (proleptic Gregorian, 400-year eras), exact for every year ferry prints. */
#include "timeutil.h"

#include "error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_DAY INT64_C(86400000)

int64_t ferry_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int ferry_time_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (month < 1 || month > 12)
        return 0;
    return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, ferry_tm_t *tm)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    tm->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    tm->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    tm->year = (int)(yoe + era * 400 + (tm->month <= 2));
}

void ferry_time_split(int64_t ms, ferry_tm_t *tm)
{
    /* Floor division, so that times before 1970 still land on the right day. */
    int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;

    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    civil_from_days(days, tm);
    tm->wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    tm->hour = (int)(rem / 3600000);
    tm->min = (int)(rem / 60000 % 60);
    tm->sec = (int)(rem / 1000 % 60);
    tm->ms = (int)(rem % 1000);
}

int64_t ferry_time_join(const ferry_tm_t *tm)
{
    return days_from_civil(tm->year, tm->month, tm->day) * MS_PER_DAY +
           ((int64_t)tm->hour * 3600 + tm->min * 60 + tm->sec) * 1000 + tm->ms;
}

/* Reads exactly n digits at *p into *out and advances *p; 0 if they are not all digits. */
static int read_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

int ferry_time_parse(const char *s, int64_t *out_ms, char *errstr, size_t errstr_size)
{
    const char *p = s;
    ferry_tm_t tm = {0};
    int off_h = 0, off_m = 0, sign = 0;

    if (!s)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "missing time");
    if (!read_digits(&p, 4, &tm.year) || *p++ != '-' || !read_digits(&p, 2, &tm.month) ||
        *p++ != '-' || !read_digits(&p, 2, &tm.day) || (*p != 'T' && *p != 't') ||
        !(++p, read_digits(&p, 2, &tm.hour)) || *p++ != ':' || !read_digits(&p, 2, &tm.min) ||
        *p++ != ':' || !read_digits(&p, 2, &tm.sec))
        goto bad;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++)
            if (digits < 3)
                tm.ms = tm.ms * 10 + (*p - '0');
        if (digits == 0)
            goto bad;
        for (; digits < 3; digits++)
            tm.ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '+' ? 1 : -1;
        if (!read_digits(&p, 2, &off_h) || *p++ != ':' || !read_digits(&p, 2, &off_m) ||
            off_h > 23 || off_m > 59)
            goto bad;
    } else {
        goto bad;
    }
    if (*p != '\0')
        goto bad;
    if (tm.month < 1 || tm.month > 12 || tm.day < 1 ||
        tm.day > ferry_time_days_in_month(tm.year, tm.month) || tm.hour > 23 || tm.min > 59 ||
        tm.sec > 59)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "time \"%s\" names a date or time of day that does not exist", s);
    /* A local time with offset +hh:mm is that much ahead of UTC. */
    *out_ms = ferry_time_join(&tm) - sign * ((int64_t)off_h * 60 + off_m) * 60000;
    return FERRY_OK;
bad:
    return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                      "time \"%s\" is not RFC 3339 (expected e.g. 2026-11-27T10:00:00Z)", s);
}

int ferry_time_format(int64_t ms, char *out, size_t out_size)
{
    ferry_tm_t tm;
    int n;

    ferry_time_split(ms, &tm);
    if (tm.year < 0 || tm.year > 9999)
        return FERRY_EINVAL;
    if (tm.ms)
        n = snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.year, tm.month,
                     tm.day, tm.hour, tm.min, tm.sec, tm.ms);
    else
        n = snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.year, tm.month, tm.day,
                     tm.hour, tm.min, tm.sec);
    return n < 0 || (size_t)n >= out_size ? FERRY_EINVAL : FERRY_OK;
}

/* Units from the largest to the smallest: a duration names them in this order,
 * and the index is the rank that order is checked by. */
static const struct {
    const char *name;
    int64_t ms;
} duration_units[] = {{"d", MS_PER_DAY}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};

#define N_DURATION_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

int ferry_duration_parse(const char *s, int64_t *out_ms, char *errstr, size_t errstr_size)
{
    const char *p = s;
    int64_t total = 0;
    int last_rank = -1;

    if (!s || !*s)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "missing duration");
    while (*p) {
        int64_t v = 0;
        size_t best = N_DURATION_UNITS, best_len = 0;

        if (!isdigit((unsigned char)*p))
            goto bad;
        for (; isdigit((unsigned char)*p); p++) {
            if (v > (INT64_MAX - 9) / 10)
                goto range;
            v = v * 10 + (*p - '0');
        }
        /* The longest unit name that matches: "ms" before "m". */
        for (size_t i = 0; i < N_DURATION_UNITS; i++) {
            size_t len = strlen(duration_units[i].name);
            if (len > best_len && strncmp(p, duration_units[i].name, len) == 0) {
                best = i;
                best_len = len;
            }
        }
        if (best == N_DURATION_UNITS || (int)best <= last_rank)
            goto bad;
        p += best_len;
        last_rank = (int)best;
        if (v > (INT64_MAX - total) / duration_units[best].ms)
            goto range;
        total += v * duration_units[best].ms;
    }
    *out_ms = total;
    return FERRY_OK;
bad:
    return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                      "duration \"%s\" is not valid (expected e.g. 500ms, 2s, 5m, 1h, 1d, 1h30m)",
                      s);
range:
    return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "duration \"%s\" is too large", s);
}

int ferry_duration_format(int64_t ms, char *out, size_t out_size)
{
    size_t len = 0;

    if (ms < 0 || out_size == 0)
        return FERRY_EINVAL;
    out[0] = '\0';
    if (ms == 0)
        return snprintf(out, out_size, "0s") < (int)out_size ? FERRY_OK : FERRY_EINVAL;
    for (size_t i = 0; i < N_DURATION_UNITS; i++) {
        int64_t v = ms / duration_units[i].ms;
        int n;

        if (v == 0)
            continue;
        ms -= v * duration_units[i].ms;
        n = snprintf(out + len, out_size - len, "%lld%s", (long long)v, duration_units[i].name);
        if (n < 0 || (size_t)n >= out_size - len)
            return FERRY_EINVAL;
        len += (size_t)n;
    }
    return FERRY_OK;
}
