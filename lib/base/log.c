/* log.c - the log handler registry and the stderr handler. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static ferry_log_handler_t log_handler;
static void *log_opaque;
static int log_max_level = FERRY_LOG_INFO;

void ferry_log_set_handler(ferry_log_handler_t handler, void *opaque, int max_level)
{
    log_handler = handler;
    log_opaque = opaque;
    log_max_level = max_level;
}

void ferry_log_stderr(int level, const char *line, void *opaque)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    struct timespec ts;
    struct tm tm;
    char when[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s %s%s%s\n", when, ts.tv_nsec / 1000000L,
            names[level < 0 ? 0 : level > 3 ? 3 : level], opaque ? (const char *)opaque : "",
            opaque ? ": " : "", line);
}

void ferry_log(int level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;

    if (!log_handler || level > log_max_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_handler(level, line, log_opaque);
}
