/* bench_store_stream - streams every row of a store through its cursors and
 * prints rows/s and the process's peak RSS, which must stay under 64 MiB
 * whatever the row count (the exit status is 1 when it does not).
 *
 *   bench_store_stream [STORE_URI] [--rows N]
 *
 * Without STORE_URI it seeds a sample environment of N rows (default
 * 1,000,000) in a temporary file first, and removes it afterwards. */
#include "error.h"
#include "seed.h"
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define RSS_BUDGET_MIB 64.0

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

int main(int argc, char **argv)
{
    const char *uri = NULL;
    char tmp[] = "/tmp/ferry-bench-XXXXXX", path[64], seeded_uri[80], err[1024];
    int64_t rows = 1000000, written, total = 0;
    uint64_t bytes = 0;
    ferry_store_t *store = NULL;
    ferry_objset_t *objs = NULL;
    double t0, secs, rss;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = strtoll(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !uri)
            uri = argv[i];
        else {
            fprintf(stderr, "usage: bench_store_stream [STORE_URI] [--rows N]\n");
            return 2;
        }
    }
    if (!uri) {
        if (!mkdtemp(tmp)) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(path, sizeof(path), "%s/seed.db", tmp);
        snprintf(seeded_uri, sizeof(seeded_uri), "sqlite:%s", path);
        uri = seeded_uri;
        t0 = now_s();
        if (ferry_seed_create(path, NULL, rows, 1, 0, &written, err, sizeof(err))) {
            fprintf(stderr, "bench_store_stream: %s\n", err);
            goto out;
        }
        printf("seeded %" PRId64 " rows in %.2f s\n", written, now_s() - t0);
    }

    if (ferry_store_open(uri, FERRY_STORE_READ, &store, err, sizeof(err)) ||
        ferry_store_read_meta(store, &objs, err, sizeof(err))) {
        fprintf(stderr, "bench_store_stream: %s\n", err);
        goto out;
    }
    t0 = now_s();
    for (size_t i = 0; i < ferry_objset_count(objs); i++) {
        const ferry_object_t *obj = ferry_objset_at(objs, i);
        ferry_cursor_t *cur;
        const ferry_value_t *row;
        int more;

        if (ferry_store_cursor_open(store, obj, &cur, err, sizeof(err))) {
            fprintf(stderr, "bench_store_stream: %s\n", err);
            goto out;
        }
        /* Touch every value as an encoder would. */
        while ((more = ferry_cursor_next(cur, &row, err, sizeof(err))) == 1) {
            for (size_t f = 0; f < obj->nfields; f++)
                bytes += row[f].kind >= FERRY_V_TEXT ? row[f].n : 8;
            total++;
        }
        ferry_cursor_destroy(cur);
        if (more < 0) {
            fprintf(stderr, "bench_store_stream: %s\n", err);
            goto out;
        }
    }
    secs = now_s() - t0;
    rss = peak_rss_mib();
    printf("streamed %" PRId64 " rows (%.1f MiB of values) from %zu tables in %.2f s: "
           "%.0f rows/s\n",
           total, (double)bytes / 1048576.0, ferry_objset_count(objs), secs,
           secs > 0 ? (double)total / secs : 0.0);
    printf("peak RSS %.1f MiB (budget %.0f MiB): %s\n", rss, RSS_BUDGET_MIB,
           rss < RSS_BUDGET_MIB ? "ok" : "OVER");
    rc = rss < RSS_BUDGET_MIB ? 0 : 1;
out:
    ferry_objset_destroy(objs);
    ferry_store_destroy(store);
    if (uri == seeded_uri) {
        unlink(path);
        rmdir(tmp);
    }
    return rc;
}
