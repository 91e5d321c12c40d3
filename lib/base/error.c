/* error.c - names and formatting for the FERRY_E* codes. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *ferry_err_name(int err)
{
    switch (err) {
    case FERRY_OK: return "OK";
    case FERRY_EINVAL: return "EINVAL";
    case FERRY_ENOMEM: return "ENOMEM";
    case FERRY_EIO: return "EIO";
    case FERRY_ENOTFOUND: return "ENOTFOUND";
    case FERRY_ECONFLICT: return "ECONFLICT";
    case FERRY_EDECODE: return "EDECODE";
    case FERRY_EKAFKA: return "EKAFKA";
    case FERRY_ESTORE: return "ESTORE";
    case FERRY_ETIMEOUT: return "ETIMEOUT";
    case FERRY_ECHECKSUM: return "ECHECKSUM";
    case FERRY_EORDER: return "EORDER";
    case FERRY_EFATAL: return "EFATAL";
    case FERRY_EABORT: return "EABORT";
    case FERRY_EPERMANENT: return "EPERMANENT";
    }
    return "EUNKNOWN";
}

int ferry_errf(char *errstr, size_t errstr_size, int err, const char *fmt, ...)
{
    if (errstr && errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}
