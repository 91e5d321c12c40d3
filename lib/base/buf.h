/* buf.h - a growable byte buffer, reused across messages so that the steady
 * state allocates nothing. */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct ferry_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} ferry_buf_t;

#define FERRY_BUF_INIT {NULL, 0, 0}

/* Ensures room for `more` bytes past len. 0 or FERRY_ENOMEM. */
int ferry_buf_reserve(ferry_buf_t *b, size_t more);
int ferry_buf_append(ferry_buf_t *b, const void *p, size_t n);
/* Appends a NUL-terminated string without its NUL. */
int ferry_buf_puts(ferry_buf_t *b, const char *s);
int ferry_buf_printf(ferry_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void ferry_buf_reset(ferry_buf_t *b) { b->len = 0; }
/* Frees the storage; the buffer may be reused afterwards. */
void ferry_buf_free(ferry_buf_t *b);
/* Returns a NUL-terminated heap copy of the contents (free with free()), or NULL. */
char *ferry_buf_strdup(const ferry_buf_t *b);

#endif
