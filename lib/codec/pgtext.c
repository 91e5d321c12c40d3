/* pgtext.c - PostgreSQL's canonical text of numeric(p,s), dates, times,
 * timestamps and uuids, and their exact Avro logical values (see pgtext.h).
 *
 * A numeric's unscaled value has up to 1000 digits: it is held as base 2^32
 * limbs on the stack (decimal -> binary by multiply-and-add of 9-digit
 * chunks, binary -> decimal by repeated division by 10^9). The calendar is
 * timeutil's (proleptic Gregorian, as PostgreSQL's). */
#include "pgtext.h"

#include "timeutil.h"

#include <string.h>

#define LIMBS 106 /* 10^1000 < 2^3322: 104 limbs, with room to spare */
#define GROUPS 120 /* 9-digit groups of the widest value decoded (420 bytes) */
#define MICROS_PER_DAY INT64_C(86400000000)
#define MS_PER_DAY INT64_C(86400000)

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* mag = mag * mul + add, on *nl limbs (least significant first). */
static void mul_add(uint32_t *mag, size_t *nl, uint32_t mul, uint32_t add)
{
    uint64_t carry = add;

    for (size_t i = 0; i < *nl; i++) {
        uint64_t t = (uint64_t)mag[i] * mul + carry;
        mag[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry && *nl < LIMBS)
        mag[(*nl)++] = (uint32_t)carry;
}

int ferry_pgtext_numeric_parse(const char *s, size_t n, int precision, int scale, uint8_t *out,
                               size_t *len)
{
    static const uint32_t pow10[] = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};
    const char *p = s, *end = s + n, *int_start;
    uint32_t mag[LIMBS], chunk = 0;
    uint8_t be[LIMBS * 4 + 1];
    size_t nl = 0, int_digits, nbytes, k = 0;
    int neg = 0, in_chunk = 0;

    if (precision < 1 || precision > FERRY_PGTEXT_NUMERIC_MAX_PRECISION || scale < 0 ||
        scale > precision)
        return 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    for (int_start = p; p < end && is_digit(*p); p++)
        ;
    int_digits = (size_t)(p - int_start);
    if (!int_digits || (int_digits > 1 && *int_start == '0'))
        return 0;
    if (scale > 0) {
        const char *frac;
        if (p == end || *p != '.')
            return 0;
        for (frac = ++p; p < end && is_digit(*p); p++)
            ;
        if (p - frac != scale)
            return 0;
    }
    if (p != end || (*int_start == '0' ? 0 : int_digits) + (size_t)scale > (size_t)precision)
        return 0;
    /* Every digit, the point skipped, in chunks of 9. */
    for (p = int_start; p < end; p++) {
        if (*p == '.')
            continue;
        chunk = chunk * 10 + (uint32_t)(*p - '0');
        if (++in_chunk == 9) {
            mul_add(mag, &nl, pow10[9], chunk);
            chunk = 0;
            in_chunk = 0;
        }
    }
    if (in_chunk)
        mul_add(mag, &nl, pow10[in_chunk], chunk);
    if (neg && !nl)
        return 0; /* PostgreSQL never prints "-0" */
    /* The magnitude big-endian after one spare byte, its leading zeros dropped. */
    be[0] = 0;
    for (size_t i = 0; i < nl; i++)
        for (int b = 0; b < 4; b++)
            be[1 + 4 * (nl - 1 - i) + (size_t)(3 - b)] = (uint8_t)(mag[i] >> (8 * b));
    nbytes = 1 + 4 * nl;
    if (neg) {
        unsigned carry = 1;
        for (size_t i = nbytes; i-- > 0;) {
            unsigned v = (uint8_t)~be[i] + carry;
            be[i] = (uint8_t)v;
            carry = v >> 8;
        }
        while (k + 1 < nbytes && be[k] == 0xff && (be[k + 1] & 0x80))
            k++;
    } else {
        while (k + 1 < nbytes && be[k] == 0 && !(be[k + 1] & 0x80))
            k++;
    }
    *len = nbytes - k;
    memcpy(out, be + k, *len);
    return 1;
}

size_t ferry_pgtext_numeric_format(const uint8_t *b, size_t n, int precision, int scale,
                                   char *out)
{
    uint32_t mag[LIMBS] = {0}, groups[GROUPS];
    uint8_t tmp[LIMBS * 4];
    char digits[GROUPS * 9];
    size_t nl, ngroups = 0, ndig = 0, o = 0;
    int neg = n > 0 && (b[0] & 0x80);

    if (precision < 1 || precision > FERRY_PGTEXT_NUMERIC_MAX_PRECISION || scale < 0 ||
        scale > precision)
        return 0;
    while (n > 1 && ((b[0] == 0 && !(b[1] & 0x80)) || (b[0] == 0xff && (b[1] & 0x80)))) {
        b++;
        n--;
    }
    if (n > sizeof(tmp))
        return 0;
    memcpy(tmp, b, n);
    if (neg) {
        unsigned carry = 1;
        for (size_t i = n; i-- > 0;) {
            unsigned v = (uint8_t)~tmp[i] + carry;
            tmp[i] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    for (size_t i = 0; i < n; i++)
        mag[(n - 1 - i) / 4] |= (uint32_t)tmp[i] << (8 * ((n - 1 - i) % 4));
    for (nl = (n + 3) / 4; nl && !mag[nl - 1]; nl--)
        ;
    while (nl) {
        uint64_t rem = 0;
        for (size_t i = nl; i-- > 0;) {
            uint64_t cur = (rem << 32) | mag[i];
            mag[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        groups[ngroups++] = (uint32_t)rem;
        while (nl && !mag[nl - 1])
            nl--;
    }
    /* The digits, most significant first, without leading zeros ("" for 0). */
    for (size_t g = ngroups; g-- > 0;) {
        char nine[9];
        uint32_t v = groups[g];
        for (int d = 8; d >= 0; d--, v /= 10)
            nine[d] = (char)('0' + v % 10);
        for (int d = 0; d < 9; d++)
            if (ndig || nine[d] != '0')
                digits[ndig++] = nine[d];
    }
    if (ndig > (size_t)precision)
        return 0;
    if (neg && ndig)
        out[o++] = '-';
    if (ndig > (size_t)scale) {
        memcpy(out + o, digits, ndig - (size_t)scale);
        o += ndig - (size_t)scale;
    } else {
        out[o++] = '0';
    }
    if (scale > 0) {
        size_t frac = ndig < (size_t)scale ? ndig : (size_t)scale;
        out[o++] = '.';
        memset(out + o, '0', (size_t)scale - frac);
        o += (size_t)scale - frac;
        memcpy(out + o, digits + ndig - frac, frac);
        o += frac;
    }
    return o;
}

/* ---- dates and times --------------------------------------------------- */

/* The number of the k digits at s, or -1. */
static int digits_at(const char *s, int k)
{
    int v = 0;
    for (int i = 0; i < k; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static char *put_digits(char *out, int64_t v, int k)
{
    for (int i = k - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
    return out + k;
}

int ferry_pgtext_date_parse(const char *s, size_t n, int32_t *days)
{
    ferry_tm_t tm = {0};

    if (n != FERRY_PGTEXT_DATE_LEN || s[4] != '-' || s[7] != '-')
        return 0;
    tm.year = digits_at(s, 4);
    tm.month = digits_at(s + 5, 2);
    tm.day = digits_at(s + 8, 2);
    if (tm.year < 1 || tm.month < 1 || tm.month > 12 || tm.day < 1 ||
        tm.day > ferry_time_days_in_month(tm.year, tm.month))
        return 0;
    *days = (int32_t)(ferry_time_join(&tm) / MS_PER_DAY);
    return 1;
}

size_t ferry_pgtext_date_format(int64_t days, char *out)
{
    ferry_tm_t tm;
    char *o = out;

    if (days < FERRY_PGTEXT_DAYS_MIN || days > FERRY_PGTEXT_DAYS_MAX)
        return 0;
    ferry_time_split(days * MS_PER_DAY, &tm);
    o = put_digits(o, tm.year, 4);
    *o++ = '-';
    o = put_digits(o, tm.month, 2);
    *o++ = '-';
    o = put_digits(o, tm.day, 2);
    return (size_t)(o - out);
}

int ferry_pgtext_time_parse(const char *s, size_t n, int64_t *micros)
{
    int h, m, sec;
    int64_t frac = 0;
    size_t k;

    if (n < 8 || s[2] != ':' || s[5] != ':' || (h = digits_at(s, 2)) < 0 || h > 23 ||
        (m = digits_at(s + 3, 2)) < 0 || m > 59 || (sec = digits_at(s + 6, 2)) < 0 || sec > 59)
        return 0;
    if (n > 8) {
        /* ".f" to ".ffffff", trailing zeros trimmed as PostgreSQL prints it. */
        if (s[8] != '.' || n - 9 < 1 || n - 9 > 6 || s[n - 1] == '0')
            return 0;
        for (k = 9; k < 15; k++) {
            if (k < n && !is_digit(s[k]))
                return 0;
            frac = frac * 10 + (k < n ? s[k] - '0' : 0);
        }
    }
    *micros = ((int64_t)h * 3600 + m * 60 + sec) * 1000000 + frac;
    return 1;
}

size_t ferry_pgtext_time_format(int64_t micros, char *out)
{
    int64_t secs = micros / 1000000, frac = micros % 1000000;
    char *o = out;

    if (micros < 0 || micros >= MICROS_PER_DAY)
        return 0;
    o = put_digits(o, secs / 3600, 2);
    *o++ = ':';
    o = put_digits(o, secs / 60 % 60, 2);
    *o++ = ':';
    o = put_digits(o, secs % 60, 2);
    if (frac) {
        int k = 6;
        for (; frac % 10 == 0; frac /= 10)
            k--;
        *o++ = '.';
        o = put_digits(o, frac, k);
    }
    return (size_t)(o - out);
}

int ferry_pgtext_timestamp_parse(const char *s, size_t n, int tz, int64_t *micros)
{
    int32_t days;
    int64_t t;

    if (tz) {
        if (n < 3 || memcmp(s + n - 3, "+00", 3))
            return 0;
        n -= 3;
    }
    if (n < 19 || s[10] != ' ' || !ferry_pgtext_date_parse(s, 10, &days) ||
        !ferry_pgtext_time_parse(s + 11, n - 11, &t))
        return 0;
    *micros = (int64_t)days * MICROS_PER_DAY + t;
    return 1;
}

size_t ferry_pgtext_timestamp_format(int64_t micros, int tz, char *out)
{
    int64_t days = micros / MICROS_PER_DAY, rem = micros % MICROS_PER_DAY;
    size_t o;

    if (micros < FERRY_PGTEXT_MICROS_MIN || micros > FERRY_PGTEXT_MICROS_MAX)
        return 0;
    if (rem < 0) {
        rem += MICROS_PER_DAY;
        days--;
    }
    o = ferry_pgtext_date_format(days, out);
    out[o++] = ' ';
    o += ferry_pgtext_time_format(rem, out + o);
    if (tz) {
        memcpy(out + o, "+00", 3);
        o += 3;
    }
    return o;
}

int ferry_pgtext_uuid_canonical(const char *s, size_t n)
{
    if (n != FERRY_PGTEXT_UUID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) {
            return 0;
        }
    }
    return 1;
}
