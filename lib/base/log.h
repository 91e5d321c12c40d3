/* log.h - structured logging through a handler the binary installs.
 *
 * The library never prints: ferry_log() hands the line to the installed
 * handler, and does nothing until a binary installs one (ferry_log_stderr is
 * the usual choice). Lines are key=value where they describe an event. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

enum ferry_log_level { FERRY_LOG_ERROR = 0, FERRY_LOG_WARN, FERRY_LOG_INFO, FERRY_LOG_DEBUG };

typedef void (*ferry_log_handler_t)(int level, const char *line, void *opaque);

/* Installs handler (NULL: silence) and the most verbose level it receives. */
void ferry_log_set_handler(ferry_log_handler_t handler, void *opaque, int max_level);

/* A handler that writes "TIME LEVEL line" to stderr; opaque is a program name. */
void ferry_log_stderr(int level, const char *line, void *opaque);

void ferry_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
