/* checksum.c - order-independent table checksum (see checksum.h).
 *
 * Per value: a 64-bit FNV-1a over a kind tag and the value's bytes, started
 * from the column's seed, then a strong finaliser (splitmix64) so that sums of
 * hashes do not cancel in structured ways. */
#include "checksum.h"

#include <stdio.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t ferry_checksum_bytes(const void *p, size_t n)
{
    return mix64(fnv1a(FNV_OFFSET, p, n));
}

uint64_t ferry_checksum_seed(const char *column_name)
{
    return ferry_checksum_bytes(column_name, strlen(column_name));
}

static uint64_t value_hash(uint64_t seed, const ferry_value_t *v)
{
    unsigned char tag = (unsigned char)v->kind;
    unsigned char le[8];
    uint64_t h = fnv1a(seed ^ FNV_OFFSET, &tag, 1);
    uint64_t bits;

    switch (v->kind) {
    case FERRY_V_NULL:
        break;
    case FERRY_V_INT:
    case FERRY_V_REAL:
        if (v->kind == FERRY_V_INT)
            bits = (uint64_t)v->i;
        else
            memcpy(&bits, &v->d, sizeof(bits));
        for (int i = 0; i < 8; i++)
            le[i] = (unsigned char)(bits >> (8 * i));
        h = fnv1a(h, le, sizeof(le));
        break;
    case FERRY_V_TEXT:
    case FERRY_V_BLOB:
        h = fnv1a(h, v->p, v->n);
        break;
    }
    return mix64(h);
}

void ferry_checksum_add(ferry_checksum_t *c, const uint64_t *seeds, const ferry_value_t *values,
                        size_t n)
{
    uint64_t row = 0;
    for (size_t i = 0; i < n; i++)
        row += value_hash(seeds[i], &values[i]);
    c->sum += mix64(row);
    c->rows++;
}

void ferry_checksum_merge(ferry_checksum_t *c, const ferry_checksum_t *other)
{
    c->sum += other->sum;
    c->rows += other->rows;
}

void ferry_checksum_hex(const ferry_checksum_t *c, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)c->sum);
}
