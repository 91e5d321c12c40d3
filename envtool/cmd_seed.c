/* cmd_seed.c - `ferry-env seed STORE [--rows N] [--seed S] [--schema SCHEMA]
 * [--force]`: creates the sample source environment of seed.h in STORE, a
 * SQLite file (PATH or sqlite:PATH) or a store URI (postgresql://..., in
 * SCHEMA, default public): about N rows in total, default 1000; the same N
 * and S always give the same content. */
#include "commands.h"

#include "error.h"
#include "seed.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int seed_usage(void)
{
    fprintf(stderr, "usage: ferry-env seed STORE [--rows N] [--seed S] [--schema SCHEMA] [--force]\n");
    return 2;
}

/* A whole non-negative decimal number, or -1. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno || *end ? -1 : 0;
}

int ferry_env_cmd_seed(int argc, char **argv)
{
    const char *store = NULL, *schema = NULL, *sep;
    uint64_t rows = 1000, seed = 1;
    int64_t written;
    int force = 0, rc;
    char err[1024];
    struct timespec t0, t1;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") || !strcmp(argv[i], "--seed")) {
            uint64_t *v = !strcmp(argv[i], "--rows") ? &rows : &seed;
            if (parse_u64(i + 1 < argc ? argv[i + 1] : NULL, v) ||
                (v == &rows && rows > INT64_MAX)) {
                fprintf(stderr, "ferry-env seed: %s needs a whole number\n", argv[i]);
                return 2;
            }
            i++;
        } else if (!strcmp(argv[i], "--schema") && i + 1 < argc) {
            schema = argv[++i];
        } else if (!strcmp(argv[i], "--force")) {
            force = 1;
        } else if (argv[i][0] == '-' || store) {
            return seed_usage();
        } else {
            store = argv[i];
        }
    }
    if (!store)
        return seed_usage();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((rc = ferry_seed_create(store, schema, (int64_t)rows, seed, force, &written, err,
                                sizeof(err)))) {
        fprintf(stderr, "ferry-env seed: %s\n", err);
        return rc == FERRY_EINVAL ? 2 : 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* A server's URI may hold a password: of a URI, only the scheme is printed. */
    if ((sep = strstr(store, "://")))
        printf("seeded a %.*s store", (int)(sep - store), store);
    else
        printf("seeded %s", store);
    printf(": %" PRId64 " rows in %zu tables (seed %" PRIu64 ") in %.2f s\n", written,
           ferry_seed_table_count(), seed,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return fflush(stdout) ? 1 : 0;
}
