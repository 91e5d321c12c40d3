/* bench_store_write - the import's database work alone: copies every table of
 * a source store into a new target store through a cursor and the target's
 * upsert writer, in one transaction (as ferry-import applies an export, with
 * no Kafka and no Avro), and prints rows/s, microseconds per row and the
 * process's peak RSS. Runs --runs times (default 3) and prints the median.
 *
 *   bench_store_write SOURCE_URI TARGET [--runs N] [--upsert]
 *
 * TARGET is a SQLite file, removed before each run, or a postgresql:// URI,
 * whose tables of the source's names are dropped before each run. With
 * --upsert, the target is filled once untimed and every run writes the same
 * rows again, so that each one updates rows that exist (a PostgreSQL target
 * then takes the staged upsert path, an empty table the COPY path). */
#include "error.h"
#include "store.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int is_pg(const char *target)
{
    return !strncmp(target, "postgresql://", 13) || !strncmp(target, "postgres://", 11);
}

/* Drops the source's tables from a PostgreSQL target (schema public). */
static int drop_pg_tables(const char *uri, const ferry_objset_t *objs)
{
    PGconn *c = PQconnectdb(uri);
    int rc = PQstatus(c) == CONNECTION_OK ? 0 : -1;

    for (size_t i = 0; !rc && i < ferry_objset_count(objs); i++) {
        const char *name = ferry_objset_at(objs, i)->name;
        char *q = PQescapeIdentifier(c, name, strlen(name)), sql[600];
        PGresult *r;
        snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS public.%s CASCADE", q ? q : "\"\"");
        PQfreemem(q);
        r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc)
            fprintf(stderr, "bench_store_write: %s", PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

static void remove_db(const char *path)
{
    char side[1100];
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

/* Whether every table obj references (but itself) is marked done. */
static int parents_done(const ferry_objset_t *objs, const ferry_object_t *obj, const char *done)
{
    for (size_t r = 0; r < obj->nrelations; r++)
        for (size_t j = 0; j < ferry_objset_count(objs); j++)
            if (!done[j] && ferry_objset_at(objs, j) != obj &&
                !strcmp(ferry_objset_at(objs, j)->name, obj->relations[r].target))
                return 0;
    return 1;
}

/* Tables in an order that writes parents before children, as an export's
 * plan does (a cycle is broken anywhere). order[] receives indexes. */
static void parents_first(const ferry_objset_t *objs, size_t *order)
{
    size_t n = ferry_objset_count(objs), k = 0;
    char *done = calloc(n ? n : 1, 1);

    while (done && k < n) {
        size_t before = k;
        for (size_t i = 0; i < n; i++)
            if (!done[i] && parents_done(objs, ferry_objset_at(objs, i), done)) {
                done[i] = 1;
                order[k++] = i;
            }
        for (size_t i = 0; k == before && i < n; i++)
            if (!done[i]) {
                done[i] = 1;
                order[k++] = i;
            }
    }
    free(done);
}

/* One copy of every table; returns the rows written or -1. */
static int64_t copy_all(ferry_store_t *src, const ferry_objset_t *objs, const size_t *order,
                        const char *target, int keep, char *err, size_t err_size)
{
    char uri[1100];
    ferry_store_t *dst = NULL;
    int64_t rows = 0;
    int rc;

    if (is_pg(target)) {
        snprintf(uri, sizeof(uri), "%s", target);
        if (!keep && drop_pg_tables(target, objs)) {
            snprintf(err, err_size, "dropping the target's tables failed");
            return -1;
        }
    } else {
        snprintf(uri, sizeof(uri), "sqlite:%s", target);
        if (!keep)
            remove_db(target);
    }
    if ((rc = ferry_store_open(uri, FERRY_STORE_WRITE, &dst, err, err_size)) ||
        (rc = ferry_store_begin(dst, err, err_size)))
        goto out;
    /* Every table first: a writer's statement needs the parents it checks. */
    for (size_t i = 0; !rc && i < ferry_objset_count(objs); i++) {
        int created;
        rc = ferry_store_apply_object(dst, ferry_objset_at(objs, i), &created, err, err_size);
    }
    for (size_t i = 0; !rc && i < ferry_objset_count(objs); i++) {
        const ferry_object_t *obj = ferry_objset_at(objs, order[i]);
        ferry_cursor_t *cur = NULL;
        ferry_writer_t *w = NULL;
        const ferry_value_t *row;

        if ((rc = ferry_store_writer_open(dst, obj, &w, err, err_size)) ||
            (rc = ferry_store_cursor_open(src, obj, &cur, err, err_size))) {
            ferry_writer_destroy(w);
            break;
        }
        while ((rc = ferry_cursor_next(cur, &row, err, err_size)) == 1) {
            if ((rc = ferry_writer_put(w, row, NULL, err, err_size)))
                break;
            rows++;
        }
        ferry_cursor_destroy(cur);
        ferry_writer_destroy(w);
    }
    if (!rc)
        rc = ferry_store_commit(dst, err, err_size);
out:
    ferry_store_destroy(dst);
    return rc ? -1 : rows;
}

int main(int argc, char **argv)
{
    const char *src_uri = NULL, *target = NULL;
    int runs = 3, upsert = 0;
    char err[1024];
    ferry_store_t *src = NULL;
    ferry_objset_t *objs = NULL;
    double secs[32];
    size_t *order;
    int64_t rows = 0;
    struct rusage ru;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--upsert"))
            upsert = 1;
        else if (!src_uri)
            src_uri = argv[i];
        else if (!target)
            target = argv[i];
    }
    if (!src_uri || !target || runs < 1 || runs > 32) {
        fprintf(stderr, "usage: bench_store_write SOURCE_URI TARGET [--runs N<=32] [--upsert]\n");
        return 2;
    }
    if (ferry_store_open(src_uri, FERRY_STORE_READ, &src, err, sizeof(err)) ||
        ferry_store_read_meta(src, &objs, err, sizeof(err))) {
        fprintf(stderr, "bench_store_write: %s\n", err);
        return 1;
    }
    if (!(order = calloc(ferry_objset_count(objs) + 1, sizeof(*order))))
        return 1;
    parents_first(objs, order);
    if (upsert && copy_all(src, objs, order, target, 0, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_store_write: %s\n", err);
        return 1;
    }
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        if ((rows = copy_all(src, objs, order, target, upsert, err, sizeof(err))) < 0) {
            fprintf(stderr, "bench_store_write: %s\n", err);
            return 1;
        }
        secs[r] = now_s() - t0;
        printf("run %d: %" PRId64 " rows in %.3f s\n", r + 1, rows, secs[r]);
    }
    qsort(secs, (size_t)runs, sizeof(secs[0]), cmp_double);
    getrusage(RUSAGE_SELF, &ru);
    printf("bench_store_write: %" PRId64 " rows, median of %d: %.0f rows/s, %.2f us/row, "
           "peak RSS %.1f MiB\n",
           rows, runs, (double)rows / secs[runs / 2], secs[runs / 2] * 1e6 / (double)rows,
           (double)ru.ru_maxrss / 1024.0);
    free(order);
    ferry_objset_destroy(objs);
    ferry_store_destroy(src);
    return 0;
}
