/* utf8.h - strict UTF-8 validation, as the Avro specification's "string"
 * (and every reader that decodes one: Python's codec, Java's CharsetDecoder
 * in REPORT mode) understands UTF-8. */
#ifndef FERRY_UTF8_H
#define FERRY_UTF8_H

#include <stddef.h>

/* 1 if the n bytes at s are well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates U+D800..U+DFFF, nothing past U+10FFFF, no truncated
 * sequence), else 0. NUL bytes are U+0000 and valid. */
int ferry_utf8_valid(const void *s, size_t n);

#endif
