/* checksum.h - the order-independent content checksum of a table.
 *
 * Each row hashes to 64 bits as the sum of one hash per (column name, value)
 * pair, so column order does not matter; a table's checksum is the sum of its
 * row hashes (mod 2^64) and its row count, so row order does not matter. The
 * worker (TableEnd), the importer (verification) and `ferry-env checksum` all
 * use this one function, on values as the store holds them. */
#ifndef FERRY_CHECKSUM_H
#define FERRY_CHECKSUM_H

#include "value.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ferry_checksum {
    uint64_t rows;
    uint64_t sum;
} ferry_checksum_t;

#define FERRY_CHECKSUM_INIT {0, 0}

/* A 64-bit hash of n bytes (FNV-1a, then a splitmix64 finaliser). */
uint64_t ferry_checksum_bytes(const void *p, size_t n);
/* A column's seed: computed once per column from its name. */
uint64_t ferry_checksum_seed(const char *column_name);
/* Adds one row: values[i] belongs to the column with seeds[i]. */
void ferry_checksum_add(ferry_checksum_t *c, const uint64_t *seeds, const ferry_value_t *values,
                        size_t n);
/* Adds another checksum's rows (for totals over tables). */
void ferry_checksum_merge(ferry_checksum_t *c, const ferry_checksum_t *other);
/* 16 lowercase hex digits and a NUL. */
void ferry_checksum_hex(const ferry_checksum_t *c, char out[17]);

#endif
