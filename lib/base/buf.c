/* buf.c - growable byte buffer. */
#include "buf.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ferry_buf_reserve(ferry_buf_t *b, size_t more)
{
    size_t need, cap;
    uint8_t *p;

    if (more > SIZE_MAX - b->len - 1)
        return FERRY_ENOMEM;
    need = b->len + more;
    if (need <= b->cap)
        return FERRY_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (!p)
        return FERRY_ENOMEM;
    b->data = p;
    b->cap = cap;
    return FERRY_OK;
}

int ferry_buf_append(ferry_buf_t *b, const void *p, size_t n)
{
    int rc = ferry_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return FERRY_OK;
}

int ferry_buf_puts(ferry_buf_t *b, const char *s)
{
    return ferry_buf_append(b, s, strlen(s));
}

int ferry_buf_printf(ferry_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return FERRY_EINVAL;
    rc = ferry_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return FERRY_OK;
}

void ferry_buf_free(ferry_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *ferry_buf_strdup(const ferry_buf_t *b)
{
    char *s = malloc(b->len + 1);
    if (!s)
        return NULL;
    if (b->len)
        memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    return s;
}
