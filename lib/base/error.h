/* error.h - ferry's one error convention.
 *
 * Every fallible library function returns int: 0 (FERRY_OK) on success or one
 * negative FERRY_E* code below. Where a message helps, the function also takes
 * `char *errstr, size_t errstr_size` and fills it with a sentence that names the
 * thing at fault (file, key, object, field, topic...). errstr may be NULL.
 * The library never prints and never exits: the binaries decide. */
#ifndef FERRY_ERROR_H
#define FERRY_ERROR_H

#include <stddef.h>

enum ferry_err {
    FERRY_OK = 0,
    FERRY_EINVAL = -1,    /* bad argument or malformed input (config, request, CLI) */
    FERRY_ENOMEM = -2,    /* allocation failed or a size limit was exceeded */
    FERRY_EIO = -3,       /* a file or the operating system failed */
    FERRY_ENOTFOUND = -4, /* a named thing does not exist (environment, object, file) */
    FERRY_ECONFLICT = -5, /* the target disagrees (schema conflict, different key) */
    FERRY_EDECODE = -6,   /* bytes that do not decode (Avro, JSON, framing) */
    FERRY_EKAFKA = -7,    /* the Kafka client or broker failed */
    FERRY_ESTORE = -8,    /* the environment store (database) failed */
    FERRY_ETIMEOUT = -9,  /* a deadline passed */
    FERRY_ECHECKSUM = -10,/* counts or checksums do not match what was announced */
    FERRY_EORDER = -11,   /* input arrived out of the protocol's order */
    FERRY_EFATAL = -12,   /* unrecoverable client state (fenced, fatal Kafka error) */
    FERRY_EABORT = -13,   /* work was abandoned on purpose (shutdown, rebalance) */
    FERRY_EPERMANENT = -14, /* no retry can change it: ferry cannot do this by design or the
                               other side refuses it for good (an unsupported store, a message
                               over the broker's limit) */
};

/* The symbolic name of an error code ("EINVAL"...), for logs. Never NULL. */
const char *ferry_err_name(int err);

/* Formats a message into errstr (if not NULL) and returns err, so that a
 * failure path reads `return ferry_errf(errstr, size, FERRY_EINVAL, "...", ...)`. */
int ferry_errf(char *errstr, size_t errstr_size, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
