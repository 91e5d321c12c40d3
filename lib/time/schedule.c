/* schedule.c - due times, takeover catch-up and fire requests of a schedule. */
#include "schedule.h"

#include "cron.h"
#include "error.h"
#include "timeutil.h"

#include <stdio.h>
#include <string.h>

#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
/* How many consecutive cron fires the minimum-interval check looks at. */
#define CRON_GAP_SAMPLES 1000

int ferry_schedule_validate(const ferry_schedule_t *s, int64_t min_interval_ms, char *errstr,
                            size_t errstr_size)
{
    const char *id = s->id ? s->id : "";
    size_t len = strlen(id);
    int kinds = (s->every_ms != 0) + (s->cron != NULL) + (s->at_ms != 0);
    char a[32], b[32];

    if (len == 0 || len > FERRY_NAME_MAX || strspn(id, ID_CHARS) != len)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "schedule id \"%s\" must be 1-%d characters of A-Z a-z 0-9 . _ -", id,
                          FERRY_NAME_MAX);
    if (!s->source || !*s->source || !s->target || !*s->target)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "schedule %s: source and target environments are required", id);
    if (s->nobjects == 0)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "schedule %s: no objects", id);
    for (size_t i = 0; i < s->nobjects; i++)
        if (!s->objects[i] || !*s->objects[i])
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "schedule %s: object %zu has an empty name", id, i + 1);
    if (kinds != 1 || s->every_ms < 0 || s->at_ms < 0)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "schedule %s: needs exactly one of every (> 0), cron or at (> 0)", id);
    if (s->every_ms && s->every_ms < min_interval_ms) {
        ferry_duration_format(s->every_ms, a, sizeof(a));
        ferry_duration_format(min_interval_ms, b, sizeof(b));
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "schedule %s: interval %s is under the minimum %s "
                          "(scheduler.min_interval_ms)",
                          id, a, b);
    }
    if (s->cron) {
        ferry_cron_t c;
        int64_t t, next;
        int rc = ferry_cron_parse(s->cron, &c, errstr, errstr_size);

        if (rc)
            return rc;
        if (ferry_cron_next(&c, s->created_ms, &t))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "schedule %s: cron \"%s\" never fires", id, s->cron);
        for (int i = 0; i < CRON_GAP_SAMPLES && ferry_cron_next(&c, t, &next) == FERRY_OK;
             i++, t = next) {
            if (next - t >= min_interval_ms)
                continue;
            ferry_duration_format(next - t, a, sizeof(a));
            ferry_duration_format(min_interval_ms, b, sizeof(b));
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "schedule %s: cron \"%s\" fires %s apart, under the minimum %s "
                              "(scheduler.min_interval_ms)",
                              id, s->cron, a, b);
        }
    }
    return FERRY_OK;
}

const char *ferry_schedule_kind(const ferry_schedule_t *s)
{
    return s->cron ? "cron" : s->every_ms ? "every" : "at";
}

int ferry_schedule_spec(const ferry_schedule_t *s, char *out, size_t out_size)
{
    char every[32], from[FERRY_TIME_MAX];
    int n;

    if (s->cron) {
        n = snprintf(out, out_size, "%s", s->cron);
    } else if (s->every_ms) {
        if (ferry_duration_format(s->every_ms, every, sizeof(every)) ||
            ferry_time_format(s->from_ms, from, sizeof(from)))
            return FERRY_EINVAL;
        n = snprintf(out, out_size, "%s from %s", every, from);
    } else {
        return ferry_time_format(s->at_ms, out, out_size);
    }
    return n < 0 || (size_t)n >= out_size ? FERRY_EINVAL : FERRY_OK;
}

/* The due time nearest to t on the side dir (1: strictly after, -1: at or
 * before). One function, so that next and prev cannot drift apart. */
static int find_due(const ferry_schedule_t *s, int64_t t, int dir, int64_t *due_ms)
{
    if (s->cron) {
        ferry_cron_t c;
        if (ferry_cron_parse(s->cron, &c, NULL, 0))
            return FERRY_EINVAL;
        return dir > 0 ? ferry_cron_next(&c, t, due_ms) : ferry_cron_prev(&c, t, due_ms);
    }
    if (s->every_ms > 0) {
        if (dir > 0 && t < s->from_ms) {
            *due_ms = s->from_ms;
        } else if (dir < 0 && t < s->from_ms) {
            return FERRY_ENOTFOUND;
        } else {
            int64_t k = (t - s->from_ms) / s->every_ms + (dir > 0);
            *due_ms = s->from_ms + k * s->every_ms;
        }
        return FERRY_OK;
    }
    if (s->at_ms > 0) {
        if (dir > 0 ? s->at_ms <= t : s->at_ms > t)
            return FERRY_ENOTFOUND;
        *due_ms = s->at_ms;
        return FERRY_OK;
    }
    return FERRY_EINVAL;
}

int ferry_schedule_next_due(const ferry_schedule_t *s, int64_t after_ms, int64_t *due_ms)
{
    return find_due(s, after_ms, 1, due_ms);
}

int ferry_schedule_prev_due(const ferry_schedule_t *s, int64_t at_ms, int64_t *due_ms)
{
    return find_due(s, at_ms, -1, due_ms);
}

void ferry_schedule_catch_up(const ferry_schedule_t *s, int64_t now_ms, int64_t window_ms,
                             int64_t *dues, size_t max, size_t *n)
{
    int64_t t = now_ms, due;

    *n = 0;
    /* Newest first, back through the window... */
    while (*n < max && ferry_schedule_prev_due(s, t, &due) == FERRY_OK &&
           due > now_ms - window_ms && due >= s->created_ms) {
        dues[(*n)++] = due;
        t = due - 1;
    }
    /* ...or else the one latest missed due time. */
    if (*n == 0 && max > 0 && ferry_schedule_prev_due(s, now_ms, &due) == FERRY_OK &&
        due >= s->created_ms)
        dues[(*n)++] = due;
    for (size_t i = 0; i < *n / 2; i++) {
        int64_t tmp = dues[i];
        dues[i] = dues[*n - 1 - i];
        dues[*n - 1 - i] = tmp;
    }
}

int ferry_schedule_first_due(const ferry_schedule_t *s, int64_t now_ms, int64_t window_ms,
                             int64_t *due_ms)
{
    int64_t dues[FERRY_SCHEDULE_MAX_CATCH_UP];
    size_t n = 0;

    ferry_schedule_catch_up(s, now_ms, window_ms, dues, FERRY_SCHEDULE_MAX_CATCH_UP, &n);
    if (n > 0) {
        *due_ms = dues[0];
        return FERRY_OK;
    }
    return ferry_schedule_next_due(s, now_ms, due_ms);
}

int ferry_schedule_advance(const ferry_schedule_t *s, int64_t due_ms, int delivered,
                           int64_t now_ms, int64_t window_ms, int64_t *next_ms)
{
    if (!delivered) {
        *next_ms = due_ms;
        return FERRY_OK;
    }
    return ferry_schedule_next_due(s, due_ms > now_ms - window_ms ? due_ms : now_ms - window_ms,
                                   next_ms);
}

int ferry_schedule_export_id(const char *schedule_id, int64_t due_ms, char *out, size_t out_size)
{
    char due[FERRY_TIME_MAX];
    int n;

    if (ferry_time_format(due_ms, due, sizeof(due)))
        return FERRY_EINVAL;
    n = snprintf(out, out_size, "%s@%s", schedule_id, due);
    return n < 0 || (size_t)n >= out_size ? FERRY_EINVAL : FERRY_OK;
}

int ferry_schedule_fire_request(const ferry_schedule_t *s, int64_t due_ms, int64_t now_ms,
                                char *id_buf, size_t id_size, ferry_request_t *req)
{
    int rc = ferry_schedule_export_id(s->id, due_ms, id_buf, id_size);

    if (rc)
        return rc;
    memset(req, 0, sizeof(*req));
    req->export_id = id_buf;
    req->source = s->source;
    req->target = s->target;
    req->objects = s->objects;
    req->nobjects = s->nobjects;
    req->content = s->content;
    req->requested_at_ms = now_ms;
    req->schedule_id = s->id;
    req->due_ms = due_ms;
    return FERRY_OK;
}
