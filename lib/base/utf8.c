/* utf8.c - strict UTF-8 validation (see utf8.h). Text is mostly ASCII: eight
 * bytes at a time are skipped while none has its high bit set. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

int ferry_utf8_valid(const void *s, size_t n)
{
    const unsigned char *p = s, *end = p + n;

    while (p < end) {
        unsigned c = *p, len, cp, min;
        uint64_t word;

        if (end - p >= 8) {
            memcpy(&word, p, 8);
            if (!(word & 0x8080808080808080ULL)) {
                p += 8;
                continue;
            }
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        /* The lead byte gives the length; C0, C1 and F5..FF never lead. */
        if (c >= 0xC2 && c <= 0xDF)
            len = 2, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if ((size_t)(end - p) < len)
            return 0;
        for (unsigned k = 1; k < len; k++) {
            if ((p[k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[k] & 0x3F);
        }
        if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return 0;
        p += len;
    }
    return 1;
}
