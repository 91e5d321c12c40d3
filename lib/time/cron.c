/* cron.c - parsing six-field cron expressions and finding their matches in UTC.
 *
 * Matches are searched day by day (at most 9 years of days), and within a
 * matching day hour by hour, minute by minute and second by second, skipping
 * whole hours and minutes that the expression excludes: a search costs at most
 * a few thousand day tests plus one day's worth of time-of-day tests. */
#include "cron.h"

#include "error.h"
#include "timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MS_PER_DAY INT64_C(86400000)
#define SEARCH_DAYS (9 * 366)

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, N_FIELDS };

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const struct field {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is value lo + i */
    int nnames;
} fields[N_FIELDS] = {
    {"second", 0, 59, NULL, 0},
    {"minute", 0, 59, NULL, 0},
    {"hour", 0, 23, NULL, 0},
    {"day of month", 1, 31, NULL, 0},
    {"month", 1, 12, month_names, 12},
    {"day of week", 0, 7, day_names, 7},
};

/* Reads a number or a name of field f from [*p, end) and advances *p. */
static int parse_value(const struct field *f, const char **p, const char *end, int *out)
{
    const char *s = *p;
    long v = 0;

    if (s < end && isdigit((unsigned char)*s)) {
        for (; s < end && isdigit((unsigned char)*s); s++)
            if ((v = v * 10 + (*s - '0')) > 1000)
                return 0;
    } else {
        int i;
        for (i = 0; i < f->nnames; i++)
            if (end - s >= 3 && strncasecmp(s, f->names[i], 3) == 0 &&
                (end - s == 3 || !isalpha((unsigned char)s[3])))
                break;
        if (i == f->nnames)
            return 0;
        v = f->lo + i;
        s += 3;
    }
    *p = s;
    *out = (int)v;
    return 1;
}

/* Adds the values of one list item [p, end) of field f to *bits. */
static int parse_item(const char *expr, int field, const char *p, const char *end,
                      uint64_t *bits, char *errstr, size_t errstr_size)
{
    const struct field *f = &fields[field];
    const char *item = p;
    int item_len = (int)(end - p), lo = f->lo, hi = f->hi, step = 1;

    if (p < end && (*p == '*' || (*p == '?' && (field == F_DOM || field == F_DOW)))) {
        p++;
    } else {
        if (!parse_value(f, &p, end, &lo))
            goto bad;
        hi = lo;
        if (p < end && *p == '-') {
            p++;
            if (!parse_value(f, &p, end, &hi))
                goto bad;
        } else if (p < end && *p == '/') {
            hi = f->hi; /* "a/step" runs from a to the end of the field */
        }
    }
    if (p < end && *p == '/') {
        const char *s = ++p;
        long v = 0;
        for (; p < end && isdigit((unsigned char)*p) && v <= 1000; p++)
            v = v * 10 + (*p - '0');
        if (p == s || v < 1 || v > f->hi - f->lo + 1)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "cron \"%s\": %s item \"%.*s\" has a step outside 1-%d", expr,
                              f->name, item_len, item, f->hi - f->lo + 1);
        step = (int)v;
    }
    if (p != end)
        goto bad;
    if (lo < f->lo || hi > f->hi || lo > hi)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "cron \"%s\": %s item \"%.*s\" is outside %d-%d or reversed", expr,
                          f->name, item_len, item, f->lo, f->hi);
    for (int v = lo; v <= hi; v += step)
        *bits |= UINT64_C(1) << v;
    return FERRY_OK;
bad:
    return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                      "cron \"%s\": %s item \"%.*s\" is not a value, range or step", expr,
                      f->name, item_len, item);
}

int ferry_cron_parse(const char *expr, ferry_cron_t *out, char *errstr, size_t errstr_size)
{
    uint64_t bits[N_FIELDS] = {0};
    int restricted[N_FIELDS] = {0};
    const char *p = expr;
    int n = 0, rc;

    if (!expr)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "missing cron expression");
    for (;;) {
        const char *start, *end;

        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        if (n == N_FIELDS)
            goto count;
        for (end = p; *end && !isspace((unsigned char)*end); end++)
            ;
        restricted[n] = !(end - p == 1 && (*p == '*' || *p == '?'));
        /* Items are separated by commas; an empty item is an error. */
        for (start = p; start <= end; start = p + 1) {
            for (p = start; p < end && *p != ','; p++)
                ;
            if ((rc = parse_item(expr, n, start, p, &bits[n], errstr, errstr_size)))
                return rc;
        }
        p = end;
        n++;
    }
    if (n != N_FIELDS)
        goto count;
    /* Day of week 7 is Sunday, like 0. */
    if (bits[F_DOW] & (UINT64_C(1) << 7))
        bits[F_DOW] = (bits[F_DOW] | 1) & 0x7f;
    out->sec = bits[F_SEC];
    out->min = bits[F_MIN];
    out->hour = (uint32_t)bits[F_HOUR];
    out->dom = (uint32_t)bits[F_DOM];
    out->mon = (uint16_t)bits[F_MON];
    out->dow = (uint8_t)bits[F_DOW];
    out->dom_restricted = (uint8_t)restricted[F_DOM];
    out->dow_restricted = (uint8_t)restricted[F_DOW];
    return FERRY_OK;
count:
    return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                      "cron \"%s\" must have 6 fields: SEC MIN HOUR DOM MON DOW", expr);
}

static int day_matches(const ferry_cron_t *c, const ferry_tm_t *tm)
{
    int dom = (c->dom >> tm->day) & 1, dow = (c->dow >> tm->wday) & 1;

    if (!((c->mon >> tm->month) & 1))
        return 0;
    if (c->dom_restricted && c->dow_restricted)
        return dom || dow;
    return dom && dow; /* an unrestricted field matches every day */
}

/* The first matching second of the day at or after (dir 1) or at or before
 * (dir -1) h0:m0:s0, as seconds since midnight, or -1. */
static int find_time_of_day(const ferry_cron_t *c, int h0, int m0, int s0, int dir)
{
    for (int h = h0; h >= 0 && h < 24; h += dir) {
        if (!((c->hour >> h) & 1))
            continue;
        for (int m = h == h0 ? m0 : dir > 0 ? 0 : 59; m >= 0 && m < 60; m += dir) {
            if (!((c->min >> m) & 1))
                continue;
            for (int s = h == h0 && m == m0 ? s0 : dir > 0 ? 0 : 59; s >= 0 && s < 60;
                 s += dir)
                if ((c->sec >> s) & 1)
                    return h * 3600 + m * 60 + s;
        }
    }
    return -1;
}

/* Walks days from the one holding whole second t, forwards or backwards. */
static int search(const ferry_cron_t *c, int64_t t, int dir, int64_t *out_ms)
{
    ferry_tm_t tm;
    int h, m, s;

    ferry_time_split(t, &tm);
    h = tm.hour;
    m = tm.min;
    s = tm.sec;
    for (int day = 0; day <= SEARCH_DAYS; day++) {
        int64_t midnight = t - ((int64_t)tm.hour * 3600 + tm.min * 60 + tm.sec) * 1000 - tm.ms;
        int tod;

        if (day_matches(c, &tm) && (tod = find_time_of_day(c, h, m, s, dir)) >= 0) {
            *out_ms = midnight + (int64_t)tod * 1000;
            return FERRY_OK;
        }
        t = midnight + dir * MS_PER_DAY;
        ferry_time_split(t, &tm);
        h = dir > 0 ? 0 : 23;
        m = s = dir > 0 ? 0 : 59;
    }
    return FERRY_ENOTFOUND;
}

/* Rounds down to a whole second, also below zero. */
static int64_t floor_second(int64_t ms)
{
    int64_t r = ms % 1000;
    return ms - (r < 0 ? r + 1000 : r);
}

int ferry_cron_next(const ferry_cron_t *c, int64_t after_ms, int64_t *out_ms)
{
    return search(c, floor_second(after_ms) + 1000, 1, out_ms);
}

int ferry_cron_prev(const ferry_cron_t *c, int64_t at_ms, int64_t *out_ms)
{
    return search(c, floor_second(at_ms), -1, out_ms);
}
