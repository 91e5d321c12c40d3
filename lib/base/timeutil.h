/* timeutil.h - the clock, and times and durations as ferry reads and writes
 * them: RFC 3339 in UTC ("2026-11-27T10:00:00Z", "2026-11-27T10:00:00.250Z")
 * and durations such as "500ms", "2s", "5m", "1h", "1d", "1h30m", all in Unix
 * milliseconds.
 *
 * The calendar is the proleptic Gregorian one, computed here rather than with
 * gmtime/timegm so that results do not depend on time_t or the process's TZ. */
#ifndef FERRY_TIMEUTIL_H
#define FERRY_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Current wall-clock time in Unix milliseconds. */
int64_t ferry_now_ms(void);

/* Room for the longest formatted time, "9999-12-31T23:59:59.999Z" and its NUL. */
#define FERRY_TIME_MAX 32

/* A broken-down UTC time. */
typedef struct ferry_tm {
    int year;  /* 0..9999 for the functions that parse and format */
    int month; /* 1..12 */
    int day;   /* 1..31 */
    int hour, min, sec, ms;
    int wday;  /* 0 = Sunday .. 6 = Saturday */
} ferry_tm_t;

/* Parses an RFC 3339 time: "YYYY-MM-DDTHH:MM:SS", optional fraction (digits
 * beyond milliseconds are truncated), then "Z" or a numeric offset "+hh:mm",
 * which is applied so that *out_ms is always UTC. FERRY_EINVAL quoting s when it
 * is not such a time or names an impossible date (2026-02-30). */
int ferry_time_parse(const char *s, int64_t *out_ms, char *errstr, size_t errstr_size);

/* Writes ms as RFC 3339 UTC into out: "YYYY-MM-DDTHH:MM:SSZ", with ".mmm" before
 * the Z only when ms is not a whole second. FERRY_EINVAL if the year leaves
 * 0..9999 or out (FERRY_TIME_MAX is always enough) is too small. */
int ferry_time_format(int64_t ms, char *out, size_t out_size);

/* Breaks ms into UTC calendar fields, and back. ferry_time_join reads year,
 * month, day, hour, min, sec and ms (wday is ignored) and does not normalise:
 * the caller passes a valid date. */
void ferry_time_split(int64_t ms, ferry_tm_t *tm);
int64_t ferry_time_join(const ferry_tm_t *tm);

/* 28..31 for month 1..12 of year. */
int ferry_time_days_in_month(int year, int month);

/* Parses a duration: one or more "<digits><unit>" with units d, h, m, s, ms,
 * each at most once and from the largest to the smallest ("1h30m", not
 * "30m1h"). FERRY_EINVAL quoting s otherwise, or on overflow. */
int ferry_duration_parse(const char *s, int64_t *out_ms, char *errstr, size_t errstr_size);

/* Writes a duration ms >= 0 in the form ferry_duration_parse reads, largest
 * units first ("1h30m", "2s", "1500ms" stays "1s500ms", 0 is "0s").
 * FERRY_EINVAL if ms < 0 or out is too small (32 bytes is always enough). */
int ferry_duration_format(int64_t ms, char *out, size_t out_size);

#endif
