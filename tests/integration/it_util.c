/* it_util.c - helpers for integration tests (see it_util.h). */
#include "it_util.h"

#include "kafka.h"
#include "timeutil.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *it_bootstrap(void)
{
    const char *b = getenv("FERRY_BOOTSTRAP");
    return b && *b ? b : "127.0.0.1:9092";
}

const char *it_source_dir(void)
{
    const char *d = getenv("FERRY_SOURCE_DIR");
    return d ? d : ".";
}

const char *it_build_dir(void)
{
    const char *d = getenv("FERRY_BUILD_DIR");
    return d ? d : "build";
}

char *it_unique(const char *prefix)
{
    static unsigned counter;
    static int seeded;
    char buf[256];
    struct timespec ts;

    if (!seeded) {
        clock_gettime(CLOCK_REALTIME, &ts);
        srand((unsigned)(ts.tv_nsec ^ getpid()));
        seeded = 1;
    }
    snprintf(buf, sizeof(buf), "%s.%d.%u.%04x", prefix, (int)getpid(), ++counter,
             (unsigned)rand() & 0xffff);
    return strdup(buf);
}

rd_kafka_t *it_client(rd_kafka_type_t type, ...)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    const char *key;
    va_list ap;
    rd_kafka_t *rk;

    ck_assert(rd_kafka_conf_set(conf, "bootstrap.servers", it_bootstrap(), err, sizeof(err)) ==
              RD_KAFKA_CONF_OK);
    va_start(ap, type);
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        ck_assert_msg(rd_kafka_conf_set(conf, key, value, err, sizeof(err)) == RD_KAFKA_CONF_OK,
                      "%s=%s: %s", key, value, err);
    }
    va_end(ap);
    rk = rd_kafka_new(type, conf, err, sizeof(err));
    ck_assert_msg(rk != NULL, "rd_kafka_new: %s", err);
    return rk;
}

void it_create_topic(const char *topic, int partitions, int compacted)
{
    rd_kafka_t *rk = it_client(RD_KAFKA_PRODUCER, NULL);
    ferry_topic_spec_t spec = {topic, partitions, 1, compacted, 0};
    char err[512] = "";

    ck_assert_msg(ferry_kafka_ensure_topics(rk, &spec, 1, 10000, err, sizeof(err)) == 0,
                  "create %s: %s", topic, err);
    rd_kafka_destroy(rk);
}

static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

size_t it_consume_all(const char *topic, const char *isolation, int idle_ms, it_msg_t **out)
{
    rd_kafka_t *rk = it_client(RD_KAFKA_CONSUMER, "group.id", "it-reader", "isolation.level",
                               isolation, "enable.auto.commit", "false",
                               "enable.partition.eof", "true", NULL);
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_topic_partition_list_t *parts;
    int nparts, eofs = 0;
    size_t n = 0, cap = 64;
    it_msg_t *msgs = calloc(cap, sizeof(*msgs));
    int64_t last = ferry_now_ms();

    ck_assert(rd_kafka_metadata(rk, 0, rkt, &md, 10000) == 0);
    ck_assert_int_eq(md->topic_cnt, 1);
    nparts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    ck_assert(rd_kafka_assign(rk, parts) == 0);
    rd_kafka_topic_partition_list_destroy(parts);

    while (eofs < nparts && ferry_now_ms() - last < idle_ms) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (m->err) {
            ck_abort_msg("consume %s: %s", topic, rd_kafka_message_errstr(m));
        } else {
            size_t tlen = 0, xlen = 0;
            const void *t = ferry_kafka_header_get(m, "ferry.type", &tlen);
            const void *x = ferry_kafka_header_get(m, "ferry.export", &xlen);
            if (n == cap) {
                cap *= 2;
                msgs = realloc(msgs, cap * sizeof(*msgs));
                ck_assert_ptr_nonnull(msgs);
            }
            msgs[n].partition = m->partition;
            msgs[n].offset = m->offset;
            msgs[n].key = dup_bytes(m->key, m->key_len);
            msgs[n].key_len = m->key_len;
            msgs[n].value = dup_bytes(m->payload, m->len);
            msgs[n].value_len = m->len;
            msgs[n].type = t ? dup_bytes(t, tlen) : NULL;
            msgs[n].export_id = x ? dup_bytes(x, xlen) : NULL;
            n++;
            last = ferry_now_ms();
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    *out = msgs;
    return n;
}

void it_msgs_free(it_msg_t *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].key);
        free(msgs[i].value);
        free(msgs[i].type);
        free(msgs[i].export_id);
    }
    free(msgs);
}

const char *it_write_config(const char *dir, const char *tag, const char *envs_json,
                            const char *extra_json)
{
    return it_write_config_n(dir, tag, 3, envs_json, extra_json);
}

const char *it_write_config_n(const char *dir, const char *tag, int partitions,
                              const char *envs_json, const char *extra_json)
{
    static char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/ferry-%s.json", dir, tag);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "{ \"kafka\": { \"bootstrap.servers\": \"%s\" },\n"
            "  \"environments\": %s,\n"
            "  \"topics\": { \"requests\": \"%s.requests\", \"status\": \"%s.status\",\n"
            "              \"schedules\": \"%s.schedules\", \"dlq\": \"%s.dlq\",\n"
            "              \"records_prefix\": \"%s.records.\", \"partitions\": %d }%s%s }\n",
            it_bootstrap(), envs_json, tag, tag, tag, tag, tag, partitions,
            extra_json ? ",\n  " : "",
            extra_json ? extra_json : "");
    fclose(f);
    return path;
}

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>

pid_t it_spawn(const char *const argv[], const char *log_path)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int it_stop(pid_t pid, int sig, int timeout_ms)
{
    int status;
    int64_t deadline = ferry_now_ms() + timeout_ms;

    if (sig)
        kill(pid, sig);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (ferry_now_ms() >= deadline)
            return -1;
        usleep(20000);
    }
}

int it_sh(char **out, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    FILE *p;
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    int status;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    for (;;) {
        if (n + 1024 > cap)
            buf = realloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, p);
        if (got == 0)
            break;
        n += got;
    }
    buf[n] = '\0';
    status = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void it_produce(const char *topic, const char *key, const void *value, size_t len)
{
    rd_kafka_t *rk = it_client(RD_KAFKA_PRODUCER, NULL);
    char err[256] = "";

    ck_assert_msg(ferry_kafka_produce(rk, topic, RD_KAFKA_PARTITION_UA, key, key ? strlen(key) : 0,
                                      value, len, NULL, 0, 5000, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_msg(ferry_kafka_flush(rk, 10000, err, sizeof(err)) == 0, "%s", err);
    rd_kafka_destroy(rk);
}

/* Every it_tmpdir lives under one root that the process running the suite
 * makes before main and removes when it exits. Check runs each test in a
 * forked process that a failed assertion ends at once (and a timeout kills),
 * so a test cannot be relied on to remove its own folder; the runner
 * outlives it. */
static char tmp_root[64];
static pid_t tmp_owner;

static void tmp_root_remove(void)
{
    char cmd[128];

    if (getpid() != tmp_owner) /* a test's forked process exiting */
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        fprintf(stderr, "it_util: could not remove %s\n", tmp_root);
}

__attribute__((constructor)) static void tmp_root_make(void)
{
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/ferry-it-XXXXXX");
    if (!mkdtemp(tmp_root)) {
        tmp_root[0] = '\0';
        return;
    }
    tmp_owner = getpid();
    atexit(tmp_root_remove);
}

char *it_tmpdir(void)
{
    char tmpl[128];

    ck_assert_msg(tmp_root[0], "no temporary root folder under /tmp");
    snprintf(tmpl, sizeof(tmpl), "%s/t-XXXXXX", tmp_root);
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return strdup(tmpl);
}

void *it_env_checksums(const char *store_uri)
{
    char *out = NULL;
    json_error_t jerr;
    json_t *root;
    int rc = it_sh(&out, "'%s/envtool/ferry-env' checksum '%s' --json", it_build_dir(),
                   store_uri);

    ck_assert_msg(rc == 0, "ferry-env checksum %s exited %d", store_uri, rc);
    root = json_loads(out, 0, &jerr);
    ck_assert_msg(root != NULL, "checksum output is not JSON: %s", out);
    free(out);
    return root;
}

int64_t it_high_watermarks(const char *topic)
{
    static rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt;
    int64_t sum = 0;

    if (!rk)
        rk = it_client(RD_KAFKA_CONSUMER, "group.id", "it-watermarks", "isolation.level",
                       "read_uncommitted", NULL);
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    ck_assert(rd_kafka_metadata(rk, 0, rkt, &md, 10000) == 0);
    for (int p = 0; p < md->topics[0].partition_cnt; p++) {
        int64_t lo = 0, hi = 0;
        ck_assert(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000) == 0);
        sum += hi;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return sum;
}
