/* pgtext.h - PostgreSQL's text output of numeric(p,s), date, time, timestamp,
 * timestamptz and uuid values (DateStyle ISO, TimeZone UTC), and the Avro
 * logical values they map onto exactly: the row codec's typed branches of
 * FERRY_T_NUMERIC, _DAY, _TIME, _DATETIME, _TIMESTAMPTZ and _UUID.
 *
 * A parser accepts only the text PostgreSQL itself prints for a value of its
 * range, so that formatting what it parsed gives back the same bytes: a value
 * it refuses (BC dates, 'infinity', a 5-digit year, 24:00:00, NaN, an
 * upper-case uuid, a number with more digits than its precision...) is not
 * an error, it simply has no exact logical value and travels as text. The
 * formatters never fail on values of their range; outside it they return 0.
 * Nothing here allocates. */
#ifndef FERRY_PGTEXT_H
#define FERRY_PGTEXT_H

#include <stddef.h>
#include <stdint.h>

/* numeric(p, s) with 0 <= s <= p <= FERRY_PGTEXT_NUMERIC_MAX_PRECISION has a
 * decimal logical value (PostgreSQL's own limit on p is 1000). Its unscaled
 * value takes at most FERRY_PGTEXT_NUMERIC_MAX_BYTES bytes of two's
 * complement; its text at most p + 3 bytes (sign, "0" before the point when
 * s == p, the point). */
#define FERRY_PGTEXT_NUMERIC_MAX_PRECISION 1000
#define FERRY_PGTEXT_NUMERIC_MAX_BYTES 420

/* Lengths of the texts of the other types. */
#define FERRY_PGTEXT_DATE_LEN 10      /* "YYYY-MM-DD" */
#define FERRY_PGTEXT_TIME_MAX 15      /* "HH:MM:SS.ffffff" */
#define FERRY_PGTEXT_TIMESTAMP_MAX 29 /* "YYYY-MM-DD HH:MM:SS.ffffff+00" */
#define FERRY_PGTEXT_UUID_LEN 36

/* 1 and the unscaled value of the n bytes at s as big-endian two's
 * complement, in the fewest bytes (out: FERRY_PGTEXT_NUMERIC_MAX_BYTES, *len
 * its length), when s is numeric(precision, scale)'s text of a finite value:
 * "-"?, "0" or digits not starting with 0, then "." and exactly scale digits
 * when scale > 0, at most precision digits without the leading zeros, and
 * no "-" before zero. Else 0. */
int ferry_pgtext_numeric_parse(const char *s, size_t n, int precision, int scale, uint8_t *out,
                               size_t *len);
/* The text of the two's complement unscaled value at b (n bytes, any
 * sign extension) in numeric(precision, scale), written to out (room for
 * precision + 3 bytes, no NUL); returns its length, or 0 when the value has
 * more than precision digits. */
size_t ferry_pgtext_numeric_format(const uint8_t *b, size_t n, int precision, int scale,
                                   char *out);

/* Dates "YYYY-MM-DD", years 0001 to 9999, as days since 1970-01-01. */
#define FERRY_PGTEXT_DAYS_MIN (-719162)  /* 0001-01-01 */
#define FERRY_PGTEXT_DAYS_MAX 2932896    /* 9999-12-31 */
int ferry_pgtext_date_parse(const char *s, size_t n, int32_t *days);
size_t ferry_pgtext_date_format(int64_t days, char *out);

/* Times of day "HH:MM:SS[.f]" (00:00:00 to 23:59:59.999999; the fraction
 * without trailing zeros) as microseconds after midnight. */
int ferry_pgtext_time_parse(const char *s, size_t n, int64_t *micros);
size_t ferry_pgtext_time_format(int64_t micros, char *out);

/* Timestamps "YYYY-MM-DD HH:MM:SS[.f]", followed by "+00" when tz, as
 * microseconds since 1970-01-01 00:00:00 (UTC when tz), years 0001 to 9999. */
#define FERRY_PGTEXT_MICROS_MIN (-62135596800000000LL)  /* 0001-01-01 00:00:00 */
#define FERRY_PGTEXT_MICROS_MAX 253402300799999999LL    /* 9999-12-31 23:59:59.999999 */
int ferry_pgtext_timestamp_parse(const char *s, size_t n, int tz, int64_t *micros);
size_t ferry_pgtext_timestamp_format(int64_t micros, int tz, char *out);

/* 1 when s is a uuid as PostgreSQL prints it: 8-4-4-4-12 lower-case hex digits. */
int ferry_pgtext_uuid_canonical(const char *s, size_t n);

#endif
