/* schedule.h - the rules of a durable schedule (protocol.h's ferry_schedule_t):
 * when it is due, which due times a scheduler fires when it takes over, and
 * the ExportRequest that a fire sends. No Kafka here; lib/daemons/scheduler.c drives it.
 *
 * Kinds (exactly one per schedule):
 *   every  due at from_ms + k * every_ms for k = 0, 1, 2...
 *   cron   due at each match of a six-field UTC expression (cron.h)
 *   at     due once, at at_ms (a one-shot: the scheduler removes it after firing)
 *
 * A fire's export id is "<schedule id>@<due time, RFC 3339 UTC>", the same
 * whichever scheduler fires it and however often, so that downstream applies it
 * once. */
#ifndef FERRY_SCHEDULE_H
#define FERRY_SCHEDULE_H

#include "protocol.h"

#include <stddef.h>
#include <stdint.h>

/* At most this many due times are fired at a takeover (ferry_schedule_catch_up). */
#define FERRY_SCHEDULE_MAX_CATCH_UP 64

/* Checks that s can be scheduled: a legal id (1..FERRY_NAME_MAX characters of
 * [A-Za-z0-9._-]); source, target and at least one
 * object named; exactly one kind; a cron expression that parses and fires; and
 * no two fires closer than min_interval_ms (for cron, checked over its next
 * 1000 fires). FERRY_EINVAL with a message naming the schedule and the field. */
int ferry_schedule_validate(const ferry_schedule_t *s, int64_t min_interval_ms, char *errstr,
                            size_t errstr_size);

/* "every", "cron" or "at", from whichever field is set. */
const char *ferry_schedule_kind(const ferry_schedule_t *s);

/* The kind's parameters for people: "2s from 2026-11-27T10:00:00Z",
 * "0 0 6 * * MON-FRI" or "2026-11-27T10:00:00Z". FERRY_EINVAL if out is too
 * small (128 bytes hold every interval spec; a cron spec is as long as it is). */
int ferry_schedule_spec(const ferry_schedule_t *s, char *out, size_t out_size);

/* The first due time strictly after after_ms, or FERRY_ENOTFOUND (an at
 * schedule already past, a cron that no longer fires); FERRY_EINVAL for a
 * schedule that ferry_schedule_validate would reject. */
int ferry_schedule_next_due(const ferry_schedule_t *s, int64_t after_ms, int64_t *due_ms);

/* The last due time at or before at_ms, or FERRY_ENOTFOUND. */
int ferry_schedule_prev_due(const ferry_schedule_t *s, int64_t at_ms, int64_t *due_ms);

/* The due times to fire now, at now_ms, for a schedule that this scheduler
 * has just taken over (at start, after a failover, or when the schedule
 * arrives), ascending, into dues[0..*n) (at most max, the latest kept).
 * Due times before the schedule's creation (created_ms) never fire. The rule:
 *   - every due time in the failover window (now_ms - window_ms, now_ms] fires:
 *     the previous scheduler may have died before firing it, and a repeat is
 *     harmless because its export id is the same;
 *   - if none lies in the window, the latest earlier due time (missed while no
 *     scheduler ran) fires once as a catch-up; older ones are not fired.
 * Later due times are for ferry_schedule_next_due(s, now_ms). */
void ferry_schedule_catch_up(const ferry_schedule_t *s, int64_t now_ms, int64_t window_ms,
                             int64_t *dues, size_t max, size_t *n);

/* The scheduler's state per schedule is one due time: the next to fire. These
 * two functions are its only transitions, so that a due time is left behind
 * only once its request is known to be delivered:
 *
 *   take over   ferry_schedule_first_due: the earliest due time to fire now
 *               (the first of ferry_schedule_catch_up's), else the next one.
 *   after fire  ferry_schedule_advance: the same due time again unless the
 *               fire's delivery was confirmed, else the next one.
 *
 * Firing the first due time and advancing after each delivered fire fires
 * exactly the catch-up due times, then every later one. */

/* The due time a scheduler taking s over at now_ms fires first (it may lie in
 * the past: fire it at once). FERRY_ENOTFOUND when s has nothing left to fire
 * (a one-shot already past at its creation): the schedule is finished. */
int ferry_schedule_first_due(const ferry_schedule_t *s, int64_t now_ms, int64_t window_ms,
                             int64_t *due_ms);

/* The due time to fire after the fire of s at due_ms, attempted at now_ms.
 * delivered 0 (the request was not confirmed delivered): due_ms itself, so
 * that a later attempt fires the same due time with the same export id; a
 * one-shot stays. delivered 1: the first due time after due_ms, skipping
 * those missed by more than window_ms (as at a takeover); FERRY_ENOTFOUND when
 * there is none (a one-shot that fired): the schedule is finished. */
int ferry_schedule_advance(const ferry_schedule_t *s, int64_t due_ms, int delivered,
                           int64_t now_ms, int64_t window_ms, int64_t *next_ms);

/* Writes "<schedule_id>@<due RFC 3339>" into out. FERRY_EINVAL if it does not
 * fit (FERRY_EXPORT_ID_MAX of protocol.h always
 * does for a valid id). */
int ferry_schedule_export_id(const char *schedule_id, int64_t due_ms, char *out, size_t out_size);

/* Fills *req with the ExportRequest of the fire of s at due_ms, requested at
 * now_ms, writing its export id into id_buf (FERRY_EXPORT_ID_MAX bytes hold any).
 * *req borrows s's strings and id_buf: it must not be freed, and lives as long
 * as both. FERRY_EINVAL if the export id does not fit. */
int ferry_schedule_fire_request(const ferry_schedule_t *s, int64_t due_ms, int64_t now_ms,
                                char *id_buf, size_t id_size, ferry_request_t *req);

#endif
