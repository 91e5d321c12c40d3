/* cron.h - six-field cron expressions, "SEC MIN HOUR DOM MON DOW", evaluated in UTC.
 *
 * Each field is a comma-separated list of items; an item is "*", a value, or a
 * range "a-b", optionally followed by "/step" ("*" with a step covers the whole
 * field; "a/step" means "a-max/step"). Ranges:
 *
 *   SEC 0-59   MIN 0-59   HOUR 0-23   DOM 1-31   MON 1-12 or JAN-DEC
 *   DOW 0-7 or SUN-SAT (0 and 7 are both Sunday)
 *
 * Names are case-insensitive; "?" is accepted as "*" in DOM and DOW. Day of
 * month versus day of week follows Vixie cron: when both fields are restricted
 * (neither is "*" or "?") a day matches if EITHER matches; otherwise the
 * restricted one decides. Unlike Vixie cron, "*" with a step ("*" followed by
 * "/2") counts as restricted, because it does restrict the days. */
#ifndef FERRY_CRON_H
#define FERRY_CRON_H

#include <stddef.h>
#include <stdint.h>

/* A parsed expression: a value, copied freely, nothing to free. The fields are
 * bit sets (bit n set: value n matches) for the functions below. */
typedef struct ferry_cron {
    uint64_t sec, min;
    uint32_t hour;
    uint32_t dom;   /* bits 1..31 */
    uint16_t mon;   /* bits 1..12 */
    uint8_t dow;    /* bits 0..6, Sunday = 0 */
    uint8_t dom_restricted, dow_restricted;
} ferry_cron_t;

/* Parses expr into *out. FERRY_EINVAL with a message naming the field and the
 * item at fault for a wrong field count, an unknown name, a value out of range,
 * a reversed range or a zero step. An expression that can never match (for
 * example "0 0 0 30 FEB *") parses; ferry_cron_next then finds nothing. */
int ferry_cron_parse(const char *expr, ferry_cron_t *out, char *errstr, size_t errstr_size);

/* The first matching whole second strictly after after_ms, in *out_ms.
 * FERRY_ENOTFOUND when none lies within the next 9 years: no satisfiable
 * expression has a longer gap (February 29 recurs within 8). */
int ferry_cron_next(const ferry_cron_t *c, int64_t after_ms, int64_t *out_ms);

/* The last matching whole second at or before at_ms, in *out_ms;
 * FERRY_ENOTFOUND when none lies within the previous 9 years. */
int ferry_cron_prev(const ferry_cron_t *c, int64_t at_ms, int64_t *out_ms);

#endif
