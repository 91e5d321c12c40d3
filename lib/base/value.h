/* value.h - one column value of one row, as stores hold them.
 *
 * A row is an array of ferry_value_t in field order. Values are borrowed: text
 * and blob pointers belong to whoever produced the row (a store cursor, a
 * decoder) and stay valid until its next call. */
#ifndef FERRY_VALUE_H
#define FERRY_VALUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum ferry_vkind {
    FERRY_V_NULL = 0,
    FERRY_V_INT,   /* i */
    FERRY_V_REAL,  /* d */
    FERRY_V_TEXT,  /* p, n: UTF-8 bytes, not NUL-terminated necessarily */
    FERRY_V_BLOB,  /* p, n */
} ferry_vkind_t;

typedef struct ferry_value {
    ferry_vkind_t kind;
    int64_t i;
    double d;
    const void *p;
    size_t n;
} ferry_value_t;

#endif
