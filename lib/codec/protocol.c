/* protocol.c - ferry's envelope messages and their Avro single-object encoding
 * (see protocol.h).
 *
 * The schemas are the files schemas/<Name>.avsc, compiled in by the build
 * (ferry_avsc.inc); their fingerprints are computed once, on first use. Bodies
 * are written and read by hand with avro_canon's writer and bounds-checked
 * reader, field by field in the order of the .avsc files (the interop test has
 * python3-avro read them with those files). Decoders keep the first error
 * (sticky, as `struct rd` below) and report it once, naming the message and
 * field; arrays grow with the items actually decoded, never by a count read
 * from the input. */
#include "protocol.h"

#include "avro_canon.h"
#include "checksum.h"
#include "error.h"
#include "timeutil.h"
#include "utf8.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ferry_avsc.inc"

/* Items in any array of an envelope (requests and a TableMetadata's object
 * have their own, lower limits). */
#define ARRAY_MAX 1000000

/* ---- message types and their schemas ----------------------------------- */

static const struct {
    const char *name;
    const unsigned char *avsc;
} msg_types[] = {
    [FERRY_MSG_UNKNOWN] = {"Unknown", NULL},
    [FERRY_MSG_REQUEST] = {"ExportRequest", avsc_ExportRequest},
    [FERRY_MSG_EXPORT_BEGIN] = {"ExportBegin", avsc_ExportBegin},
    [FERRY_MSG_TABLE_METADATA] = {"TableMetadata", avsc_TableMetadata},
    [FERRY_MSG_ROWS] = {"Rows", NULL},
    [FERRY_MSG_TABLE_END] = {"TableEnd", avsc_TableEnd},
    [FERRY_MSG_EXPORT_END] = {"ExportEnd", avsc_ExportEnd},
    [FERRY_MSG_STATUS] = {"StatusEvent", avsc_StatusEvent},
    [FERRY_MSG_SCHEDULE] = {"Schedule", avsc_Schedule},
    [FERRY_MSG_PART_BEGIN] = {"PartBegin", avsc_PartBegin},
    [FERRY_MSG_EXPORT_ABORT] = {"ExportAbort", avsc_ExportAbort},
};
#define NTYPES (sizeof(msg_types) / sizeof(msg_types[0]))

static uint64_t msg_fps[NTYPES];
static char fps_error[256]; /* set when a compiled-in schema does not parse */
static pthread_once_t fps_once = PTHREAD_ONCE_INIT;

static void compute_fingerprints(void)
{
    for (size_t t = 0; t < NTYPES; t++)
        if (msg_types[t].avsc &&
            ferry_avro_fingerprint((const char *)msg_types[t].avsc, &msg_fps[t], fps_error,
                                   sizeof(fps_error)))
            return;
}

/* 0, or FERRY_EINVAL if the build embedded a schema that does not parse (the
 * unit tests rule that out). */
static int fingerprints(char *errstr, size_t errstr_size)
{
    pthread_once(&fps_once, compute_fingerprints);
    if (fps_error[0])
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "compiled-in schema: %s", fps_error);
    return FERRY_OK;
}

const char *ferry_msg_type_name(ferry_msg_type_t t)
{
    return (unsigned)t < NTYPES ? msg_types[t].name : msg_types[FERRY_MSG_UNKNOWN].name;
}

ferry_msg_type_t ferry_msg_type_from_name(const char *name)
{
    for (size_t t = 1; name && t < NTYPES; t++)
        if (!strcmp(name, msg_types[t].name))
            return (ferry_msg_type_t)t;
    return FERRY_MSG_UNKNOWN;
}

const char *ferry_msg_schema_json(ferry_msg_type_t t)
{
    return (unsigned)t < NTYPES ? (const char *)msg_types[t].avsc : NULL;
}

uint64_t ferry_msg_fingerprint(ferry_msg_type_t t)
{
    if ((unsigned)t >= NTYPES || !msg_types[t].avsc || fingerprints(NULL, 0))
        return 0;
    return msg_fps[t];
}

/* A JSON request (first byte '{') is reported as FERRY_MSG_REQUEST with
 * fingerprint 0: the requests topic carries both forms. */
int ferry_msg_peek(const void *buf, size_t len, ferry_msg_type_t *type, uint64_t *fingerprint,
                   char *errstr, size_t errstr_size)
{
    const uint8_t *body;
    size_t body_len;
    uint64_t fp = 0;
    int rc;

    *type = FERRY_MSG_UNKNOWN;
    if (len > 0 && *(const uint8_t *)buf == '{') {
        *type = FERRY_MSG_REQUEST;
    } else {
        if ((rc = ferry_avro_frame_parse(buf, len, &fp, &body, &body_len, errstr, errstr_size)) ||
            (rc = fingerprints(errstr, errstr_size)))
            return rc;
        for (size_t t = 0; t < NTYPES; t++)
            if (msg_types[t].avsc && msg_fps[t] == fp)
                *type = (ferry_msg_type_t)t;
    }
    if (fingerprint)
        *fingerprint = fp;
    return FERRY_OK;
}

/* ---- small enums ------------------------------------------------------- */

static const char *const content_names[] = {"all", "metadata", "data"};
static const char *const state_names[] = {"accepted", "published", "applied",
                                          "failed",   "rejected",  "skipped"};
static const char *const rel_kind_names[] = {"include", "association"};
static const char *const defer_names[] = {"no", "immediate", "deferred"};
/* In the order of ferry_dialect_t and ferry_identity_t (meta.h). */
static const char *const dialect_names[] = {"sqlite", "postgresql"};
static const char *const identity_names[] = {"none", "always", "by_default", "serial"};

static int name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (!strcmp(name, names[i]))
            return (int)i;
    return -1;
}

#define NAME_OF(names, i, fallback) \
    ((unsigned)(i) < sizeof(names) / sizeof(names[0]) ? names[i] : (fallback))
#define INDEX_OF(names, name) name_index(names, sizeof(names) / sizeof(names[0]), name)

const char *ferry_content_name(ferry_content_t c)
{
    return NAME_OF(content_names, c, "all");
}

int ferry_content_from_name(const char *name)
{
    return INDEX_OF(content_names, name);
}

const char *ferry_status_state_name(ferry_status_state_t s)
{
    return NAME_OF(state_names, s, "unknown");
}

int ferry_status_state_from_name(const char *name)
{
    return INDEX_OF(state_names, name);
}

/* ---- writing bodies ---------------------------------------------------- */

/* A body writer with a sticky error: each w_* does nothing once one failed. */
struct w {
    ferry_buf_t *b;
    size_t start;
    int rc;
};

static int w_begin(struct w *w, ferry_buf_t *out, ferry_msg_type_t t, char *errstr,
                   size_t errstr_size)
{
    w->b = out;
    w->start = out->len;
    if ((w->rc = fingerprints(errstr, errstr_size)))
        return w->rc;
    w->rc = ferry_avro_frame_header(out, msg_fps[t]);
    return FERRY_OK;
}

/* On failure drops what was written, so that out is as it was. */
static int w_end(struct w *w, const char *msg, char *errstr, size_t errstr_size)
{
    if (!w->rc)
        return FERRY_OK;
    w->b->len = w->start;
    return ferry_errf(errstr, errstr_size, w->rc, "%s: out of memory encoding", msg);
}

static void w_long(struct w *w, int64_t v)
{
    if (!w->rc)
        w->rc = ferry_avro_write_long(w->b, v);
}

static void w_bool(struct w *w, int v)
{
    if (!w->rc)
        w->rc = ferry_avro_write_boolean(w->b, v);
}

/* A NULL string is written as "", the default of every string field. */
static void w_str(struct w *w, const char *s)
{
    if (!w->rc)
        w->rc = ferry_avro_write_string(w->b, s ? s : "");
}

/* ["null", "string"] */
static void w_opt_str(struct w *w, const char *s)
{
    w_long(w, s ? 1 : 0);
    if (s)
        w_str(w, s);
}

/* An array as one block then the end marker (an empty array: the marker). */
static void w_count(struct w *w, size_t n)
{
    if (n)
        w_long(w, (int64_t)n);
}

static void w_strv(struct w *w, char *const *v, size_t n)
{
    w_count(w, n);
    for (size_t i = 0; i < n; i++)
        w_str(w, v[i]);
    w_long(w, 0);
}

/* ---- reading bodies ---------------------------------------------------- */

/* A body reader with a sticky error: after the first failure every r_* returns
 * a zero value and reads nothing; r_end reports the failure once. */
struct rd {
    ferry_avro_reader_t r;
    const char *msg;     /* the message type's name */
    const char *subject; /* what the message is about (a table), once known, or NULL */
    const char *field;   /* the field at fault */
    int rc;
    char why[64];        /* r.why when a failure needs a number in it */
};

/* Records rc (if it is the first failure) against field; returns 1 if the
 * reader is still good. */
static int r_check(struct rd *d, const char *field, int rc)
{
    if (rc && !d->rc) {
        d->rc = rc;
        d->field = field;
    }
    return !d->rc;
}

/* Records a failure the reader itself cannot see (a bad value). */
static void r_fail(struct rd *d, const char *field, const char *why)
{
    if (!d->rc) {
        d->rc = FERRY_EDECODE;
        d->field = field;
        d->r.why = why;
    }
}

static int r_begin(struct rd *d, ferry_msg_type_t t, const void *buf, size_t len, char *errstr,
                   size_t errstr_size)
{
    const uint8_t *body;
    size_t body_len;
    uint64_t fp;
    char why[160];
    int rc;

    memset(d, 0, sizeof(*d));
    d->msg = msg_types[t].name;
    if ((rc = ferry_avro_frame_parse(buf, len, &fp, &body, &body_len, why, sizeof(why))))
        return ferry_errf(errstr, errstr_size, rc, "%s: %s", d->msg, why);
    if ((rc = fingerprints(errstr, errstr_size)))
        return rc;
    if (fp != msg_fps[t]) {
        ferry_msg_type_t got = FERRY_MSG_UNKNOWN;
        ferry_msg_peek(buf, len, &got, NULL, NULL, 0);
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "expected %s but the fingerprint %016llx is that of %s", d->msg,
                          (unsigned long long)fp,
                          got == FERRY_MSG_UNKNOWN ? "no ferry message schema" : msg_types[got].name);
    }
    ferry_avro_reader_init(&d->r, body, body_len);
    return FERRY_OK;
}

static int r_end(struct rd *d, char *errstr, size_t errstr_size)
{
    if (!d->rc && ferry_avro_reader_left(&d->r))
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "%s: %zu trailing bytes after the last field", d->msg,
                          ferry_avro_reader_left(&d->r));
    if (d->rc == FERRY_ENOMEM)
        return ferry_errf(errstr, errstr_size, d->rc, "%s: out of memory decoding %s", d->msg,
                          d->field);
    if (d->rc && d->subject)
        return ferry_errf(errstr, errstr_size, d->rc,
                          "%s of \"%s\": field %s: %s at body offset %zu", d->msg, d->subject,
                          d->field, d->r.why ? d->r.why : "invalid",
                          ferry_avro_reader_offset(&d->r));
    if (d->rc)
        return ferry_errf(errstr, errstr_size, d->rc, "%s: field %s: %s at body offset %zu",
                          d->msg, d->field, d->r.why ? d->r.why : "invalid",
                          ferry_avro_reader_offset(&d->r));
    return FERRY_OK;
}

static int64_t r_long(struct rd *d, const char *field)
{
    int64_t v = 0;
    return d->rc || !r_check(d, field, ferry_avro_read_long(&d->r, &v)) ? 0 : v;
}

static int32_t r_int(struct rd *d, const char *field)
{
    int32_t v = 0;
    return d->rc || !r_check(d, field, ferry_avro_read_int(&d->r, &v)) ? 0 : v;
}

static int r_bool(struct rd *d, const char *field)
{
    int v = 0;
    return d->rc || !r_check(d, field, ferry_avro_read_boolean(&d->r, &v)) ? 0 : v;
}

static size_t r_index(struct rd *d, const char *field, size_t n)
{
    size_t v = 0;
    return d->rc || !r_check(d, field, ferry_avro_read_index(&d->r, n, &v)) ? 0 : v;
}

/* A string as a new NUL-terminated copy; an embedded NUL is refused, since it
 * would silently cut the string short. */
static char *r_str(struct rd *d, const char *field)
{
    const uint8_t *p;
    size_t n;
    char *s;

    if (d->rc || !r_check(d, field, ferry_avro_read_bytes(&d->r, &p, &n)))
        return NULL;
    if (memchr(p, 0, n)) {
        r_fail(d, field, "string contains a NUL byte");
        return NULL;
    }
    if (!(s = malloc(n + 1))) {
        r_check(d, field, FERRY_ENOMEM);
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* ["null", "string"]: NULL for null. */
static char *r_opt_str(struct rd *d, const char *field)
{
    return r_index(d, field, 2) ? r_str(d, field) : NULL;
}

/* Array iteration: while (r_next(d, &it)) { read one item }. */
struct r_iter {
    const char *field;
    size_t max;        /* items allowed in total */
    size_t in_block;   /* items left in the current block */
    size_t block_end;  /* offset where the current block must end, or 0 */
    size_t total;
};

static int r_next(struct rd *d, struct r_iter *it)
{
    while (!d->rc && it->in_block == 0) {
        if (!r_check(d, it->field, ferry_avro_end_block(&d->r, it->block_end)) ||
            !r_check(d, it->field, ferry_avro_read_block(&d->r, &it->in_block, &it->block_end)))
            return 0;
        if (it->in_block == 0)
            return 0; /* the end marker */
        if (it->in_block > it->max - it->total) {
            snprintf(d->why, sizeof(d->why), "more than %zu items", it->max);
            r_fail(d, it->field, d->why);
            return 0;
        }
    }
    if (d->rc)
        return 0;
    it->in_block--;
    it->total++;
    return 1;
}

/* arr (n elements of size elem) grown to hold n + 1, the new one zeroed;
 * capacity doubles at powers of two. NULL on ENOMEM (recorded; arr is then
 * still valid and still the caller's). */
static void *r_push(struct rd *d, void *arr, size_t n, size_t elem, const char *field)
{
    char *p = arr;
    if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
        if (!(p = realloc(arr, (n ? 2 * n : 4) * elem))) {
            r_check(d, field, FERRY_ENOMEM);
            return NULL;
        }
    }
    memset(p + n * elem, 0, elem);
    return p;
}

/* array of string (opt: of ["null", "string"]), at most max items. */
static char **r_strv(struct rd *d, const char *field, size_t max, int opt, size_t *n)
{
    struct r_iter it = {field, max, 0, 0, 0};
    char **v = NULL, **grown;

    *n = 0;
    while (r_next(d, &it)) {
        if (!(grown = r_push(d, v, *n, sizeof(*v), field)))
            break;
        v = grown;
        v[(*n)++] = opt ? r_opt_str(d, field) : r_str(d, field);
    }
    return v;
}

/* Decodes a framed message of type t into m, the caller's zeroed struct (NULL
 * when its allocation failed): get reads the body field by field. On failure
 * m may be partly filled; the caller frees it. */
static int decode_body(ferry_msg_type_t t, const void *buf, size_t len, void *m,
                       void (*get)(struct rd *, void *), char *errstr, size_t errstr_size)
{
    struct rd d;
    int rc;

    if (!m)
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "%s: out of memory",
                          msg_types[t].name);
    if ((rc = r_begin(&d, t, buf, len, errstr, errstr_size)))
        return rc;
    get(&d, m);
    return r_end(&d, errstr, errstr_size);
}

/* ---- validation of untrusted names ------------------------------------- */

static int check_name(const char *what, const char *s, size_t max, char *errstr,
                      size_t errstr_size)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s is missing or empty", what);
    if (n > max)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s is longer than %zu bytes", what,
                          max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "%s contains a control character (byte %zu)", what, i);
    if (!ferry_utf8_valid(s, n))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s is not valid UTF-8", what);
    return FERRY_OK;
}

static int check_objects(const char *what, char *const *objs, size_t n, char *errstr,
                         size_t errstr_size)
{
    char label[64];
    int rc;

    if (n == 0 || n > FERRY_REQUEST_MAX_OBJECTS)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "%s: objects must name 1 to %d objects"
                          " (got %zu)", what, FERRY_REQUEST_MAX_OBJECTS, n);
    for (size_t i = 0; i < n; i++) {
        snprintf(label, sizeof(label), "%s: object %zu", what, i + 1);
        if ((rc = check_name(label, objs[i], FERRY_NAME_MAX, errstr, errstr_size)))
            return rc;
    }
    return FERRY_OK;
}

/* Shape of a request; an empty export_id is allowed (the decoder fills it). */
static int request_check(const ferry_request_t *q, char *errstr, size_t errstr_size)
{
    int rc;
    if ((q->export_id && *q->export_id &&
         (rc = check_name("request: export_id", q->export_id, FERRY_EXPORT_ID_MAX - 1, errstr,
                          errstr_size))) ||
        (rc = check_name("request: source", q->source, FERRY_NAME_MAX, errstr, errstr_size)) ||
        (rc = check_name("request: target", q->target, FERRY_NAME_MAX, errstr, errstr_size)) ||
        (rc = check_objects("request", q->objects, q->nobjects, errstr, errstr_size)) ||
        (q->schedule_id && (rc = check_name("request: schedule_id", q->schedule_id,
                                            FERRY_NAME_MAX, errstr, errstr_size))))
        return rc;
    if ((unsigned)q->content > FERRY_CONTENT_DATA)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "request: content %d is not valid",
                          (int)q->content);
    return FERRY_OK;
}

/* ---- ExportRequest ----------------------------------------------------- */

/* 32 hex digits from the kernel's random source; if that fails (no
 * getrandom), from the clock, the process id and a counter, mixed. */
static void new_export_id(char out[33])
{
    static unsigned long counter;
    uint64_t r[2];

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r[0] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        r[1] = ((uint64_t)getpid() << 32) ^ __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
        for (int i = 0; i < 2; i++) {
            uint64_t z = r[i] + 0x9e3779b97f4a7c15ULL;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            r[i] = z ^ (z >> 31);
        }
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)r[0], (unsigned long long)r[1]);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int ferry_request_derive_id(const char *cluster_id, const char *topic, int32_t partition,
                            int64_t offset, int64_t timestamp_ms, const void *payload, size_t len,
                            char out[FERRY_DERIVED_ID_LEN + 1])
{
    /* Where and when the request was written, then its bytes; each string
     * with its NUL so that no two tuples give the same byte sequence. */
    size_t nc = strlen(cluster_id ? cluster_id : "") + 1, nt = strlen(topic) + 1;
    size_t head = nc + nt + 20;
    uint8_t *b = malloc(head + len);
    uint64_t h[2];

    if (!b)
        return FERRY_ENOMEM;
    memcpy(b, cluster_id ? cluster_id : "", nc);
    memcpy(b + nc, topic, nt);
    put_le(b + nc + nt, (uint32_t)partition, 4);
    put_le(b + nc + nt + 4, (uint64_t)offset, 8);
    put_le(b + nc + nt + 12, (uint64_t)timestamp_ms, 8);
    if (len)
        memcpy(b + head, payload, len);
    /* Two unrelated 64-bit hashes make the 128 bits. */
    h[0] = ferry_checksum_bytes(b, head + len);
    h[1] = ferry_avro_crc64(b, head + len);
    free(b);
    snprintf(out, FERRY_DERIVED_ID_LEN + 1, "%016llx%016llx", (unsigned long long)h[0],
             (unsigned long long)h[1]);
    return FERRY_OK;
}

void ferry_request_stream_key(const ferry_request_t *req, char *out, size_t out_size)
{
    if (req->schedule_id && *req->schedule_id)
        snprintf(out, out_size, "%s", req->schedule_id);
    else
        snprintf(out, out_size, "%s->%s", req->source, req->target);
}

void ferry_request_free(ferry_request_t *req)
{
    if (!req)
        return;
    free(req->export_id);
    free(req->source);
    free(req->target);
    ferry_strv_free(req->objects, req->nobjects);
    free(req->schedule_id);
    free(req);
}

static char *dup_or_null(const char *s, int *failed)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *failed = 1;
    return d;
}

ferry_request_t *ferry_request_dup(const ferry_request_t *req)
{
    ferry_request_t *q = calloc(1, sizeof(*q));
    int failed = !q;

    if (failed)
        return NULL;
    *q = *req;
    q->export_id = dup_or_null(req->export_id, &failed);
    q->source = dup_or_null(req->source, &failed);
    q->target = dup_or_null(req->target, &failed);
    q->schedule_id = dup_or_null(req->schedule_id, &failed);
    q->objects = calloc(req->nobjects ? req->nobjects : 1, sizeof(*q->objects));
    q->nobjects = q->objects ? req->nobjects : 0;
    failed |= !q->objects;
    for (size_t i = 0; i < q->nobjects; i++)
        q->objects[i] = dup_or_null(req->objects[i], &failed);
    if (failed) {
        ferry_request_free(q);
        return NULL;
    }
    return q;
}

static void put_request(struct w *w, const ferry_request_t *q)
{
    w_str(w, q->export_id);
    w_str(w, q->source);
    w_str(w, q->target);
    w_strv(w, q->objects, q->nobjects);
    w_long(w, q->content);
    w_long(w, q->requested_at_ms);
    w_opt_str(w, q->schedule_id);
    w_long(w, q->due_ms);
}

static void get_request(struct rd *d, void *p)
{
    ferry_request_t *q = p;
    q->export_id = r_str(d, "export_id");
    q->source = r_str(d, "source");
    q->target = r_str(d, "target");
    q->objects = r_strv(d, "objects", FERRY_REQUEST_MAX_OBJECTS, 0, &q->nobjects);
    q->content = (ferry_content_t)r_index(d, "content", 3);
    q->requested_at_ms = r_long(d, "requested_at");
    q->schedule_id = r_opt_str(d, "schedule_id");
    q->due_ms = r_long(d, "due");
}

/* Checks a decoded request and gives it an export id if it has none:
 * fallback_id when given, else a random one. */
static int request_finish(ferry_request_t *q, const char *fallback_id, char *errstr,
                          size_t errstr_size)
{
    int rc = request_check(q, errstr, errstr_size);
    if (!rc && (!q->export_id || !*q->export_id)) {
        free(q->export_id);
        if (!(q->export_id = fallback_id ? strdup(fallback_id) : malloc(33)))
            return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "request: out of memory");
        if (!fallback_id)
            new_export_id(q->export_id);
    }
    return rc;
}

int ferry_request_encode(const ferry_request_t *req, ferry_buf_t *out, char *errstr,
                         size_t errstr_size)
{
    struct w w;
    int rc;

    if ((rc = request_check(req, errstr, errstr_size)) ||
        (rc = w_begin(&w, out, FERRY_MSG_REQUEST, errstr, errstr_size)))
        return rc;
    put_request(&w, req);
    return w_end(&w, "ExportRequest", errstr, errstr_size);
}

/* A JSON time: RFC 3339 string or integer Unix ms. */
static int json_time(json_t *v, const char *key, int64_t *ms, char *errstr, size_t errstr_size)
{
    if (json_is_integer(v)) {
        *ms = json_integer_value(v);
        return FERRY_OK;
    }
    if (json_is_string(v) && !ferry_time_parse(json_string_value(v), ms, NULL, 0))
        return FERRY_OK;
    return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                      "request: %s must be an RFC 3339 time (2024-05-01T12:00:00Z) or Unix "
                      "milliseconds", key);
}

static int json_str(json_t *v, const char *key, char **out, char *errstr, size_t errstr_size)
{
    if (!json_is_string(v))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "request: %s must be a string", key);
    free(*out);
    if (!(*out = strdup(json_string_value(v))))
        return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "request: out of memory");
    return FERRY_OK;
}

static int request_from_json(const void *buf, size_t len, ferry_request_t *q, char *errstr,
                             size_t errstr_size)
{
    json_error_t jerr;
    json_t *root, *v;
    const char *key;
    int rc = FERRY_OK, have_requested_at = 0;

    if (!(root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)))
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "request is not JSON: %s at line %d column %d", jerr.text, jerr.line,
                          jerr.column);
    if (!json_is_object(root))
        rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL, "request: not a JSON object");
    json_object_foreach(root, key, v) {
        if (rc)
            break;
        if (!strcmp(key, "export_id") || !strcmp(key, "source") || !strcmp(key, "target")) {
            char **dst = key[0] == 'e' ? &q->export_id : key[0] == 's' ? &q->source : &q->target;
            rc = json_str(v, key, dst, errstr, errstr_size);
        } else if (!strcmp(key, "schedule_id")) {
            if (!json_is_null(v))
                rc = json_str(v, key, &q->schedule_id, errstr, errstr_size);
        } else if (!strcmp(key, "content")) {
            int c = ferry_content_from_name(json_string_value(v));
            if (c < 0)
                rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                "request: content must be \"all\", \"metadata\" or \"data\"");
            q->content = (ferry_content_t)(c < 0 ? 0 : c);
        } else if (!strcmp(key, "requested_at")) {
            rc = json_time(v, key, &q->requested_at_ms, errstr, errstr_size);
            have_requested_at = 1;
        } else if (!strcmp(key, "due")) {
            rc = json_time(v, key, &q->due_ms, errstr, errstr_size);
        } else if (!strcmp(key, "objects")) {
            size_t i, n = json_array_size(v);
            json_t *item;
            if (!json_is_array(v) || n > FERRY_REQUEST_MAX_OBJECTS) {
                rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                "request: objects must be an array of 1 to %d names",
                                FERRY_REQUEST_MAX_OBJECTS);
                break;
            }
            ferry_strv_free(q->objects, q->nobjects);
            q->nobjects = 0;
            if (!(q->objects = calloc(n ? n : 1, sizeof(*q->objects)))) {
                rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "request: out of memory");
                break;
            }
            json_array_foreach(v, i, item) {
                if ((rc = json_str(item, "objects[]", &q->objects[q->nobjects++], errstr,
                                   errstr_size)))
                    break;
            }
        } else {
            char shown[48];
            /* The key is untrusted: show a printable prefix only. */
            size_t k = 0;
            for (; key[k] && k < sizeof(shown) - 1; k++)
                shown[k] = (unsigned char)key[k] < 0x20 || key[k] == 0x7f ? '?' : key[k];
            shown[k] = '\0';
            rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                            "request: unknown key \"%s\" (known: export_id, source, target, "
                            "objects, content, requested_at, schedule_id, due)", shown);
        }
    }
    json_decref(root);
    if (!rc && !have_requested_at)
        q->requested_at_ms = ferry_now_ms();
    return rc;
}

int ferry_request_decode(const void *buf, size_t len, ferry_request_t **out, char *errstr,
                         size_t errstr_size)
{
    return ferry_request_decode_with_id(buf, len, NULL, out, errstr, errstr_size);
}

int ferry_request_decode_with_id(const void *buf, size_t len, const char *fallback_id,
                                 ferry_request_t **out, char *errstr, size_t errstr_size)
{
    ferry_request_t *q = calloc(1, sizeof(*q));
    int rc;

    if (q && len > 0 && *(const uint8_t *)buf == '{')
        rc = request_from_json(buf, len, q, errstr, errstr_size);
    else
        rc = decode_body(FERRY_MSG_REQUEST, buf, len, q, get_request, errstr, errstr_size);
    if (rc || (rc = request_finish(q, fallback_id, errstr, errstr_size))) {
        ferry_request_free(q);
        q = NULL;
    }
    *out = q;
    return rc;
}

int ferry_request_peek_id(const void *buf, size_t len, char *id, size_t id_size)
{
    ferry_request_t *q = NULL;
    json_t *root = NULL;
    const char *found = NULL;
    int rc = FERRY_ENOTFOUND;

    if (len > 0 && *(const uint8_t *)buf == '{') {
        root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
        found = json_string_value(json_object_get(root, "export_id"));
    } else if (!(q = calloc(1, sizeof(*q)))) {
        return FERRY_ENOMEM;
    } else if (!decode_body(FERRY_MSG_REQUEST, buf, len, q, get_request, NULL, 0)) {
        found = q->export_id;
    }
    /* The id is untrusted too: only one that would pass validation is given. */
    if (found && *found && strlen(found) < id_size &&
        !check_name("export_id", found, FERRY_EXPORT_ID_MAX - 1, NULL, 0)) {
        memcpy(id, found, strlen(found) + 1);
        rc = FERRY_OK;
    }
    json_decref(root);
    ferry_request_free(q);
    return rc;
}

/* A time as RFC 3339 when it has a four-digit year, else as Unix ms. */
static json_t *json_of_time(int64_t ms)
{
    char when[FERRY_TIME_MAX];
    return ferry_time_format(ms, when, sizeof(when)) ? json_integer(ms) : json_string(when);
}

static json_t *json_of_str(const char *s)
{
    return json_string(s ? s : "");
}

/* json_string refuses invalid UTF-8, so a request holding some (only a
 * request never checked by request_check) has no JSON form: FERRY_EINVAL. */
int ferry_request_to_json(const ferry_request_t *req, ferry_buf_t *out)
{
    json_t *root = json_object(), *objs = json_array();
    char *text = NULL;
    int bad = !root || !objs, rc;

    for (size_t i = 0; !bad && i < req->nobjects; i++)
        bad |= json_array_append_new(objs, json_of_str(req->objects[i]));
    bad |= json_object_set_new(root, "export_id", json_of_str(req->export_id));
    bad |= json_object_set_new(root, "source", json_of_str(req->source));
    bad |= json_object_set_new(root, "target", json_of_str(req->target));
    bad |= json_object_set(root, "objects", objs);
    bad |= json_object_set_new(root, "content", json_string(ferry_content_name(req->content)));
    bad |= json_object_set_new(root, "requested_at", json_of_time(req->requested_at_ms));
    if (req->schedule_id)
        bad |= json_object_set_new(root, "schedule_id", json_string(req->schedule_id));
    if (req->due_ms)
        bad |= json_object_set_new(root, "due", json_of_time(req->due_ms));
    if (bad)
        rc = FERRY_EINVAL;
    else if (!(text = json_dumps(root, JSON_COMPACT)))
        rc = FERRY_ENOMEM;
    else
        rc = ferry_buf_puts(out, text);
    free(text);
    json_decref(objs);
    json_decref(root);
    return rc;
}

/* ---- ExportBegin ------------------------------------------------------- */

void ferry_export_begin_free(ferry_export_begin_t *m)
{
    if (!m)
        return;
    free(m->export_id);
    free(m->attempt);
    ferry_request_free(m->request);
    for (size_t i = 0; m->tables && i < m->ntables; i++) {
        free(m->tables[i].name);
        free(m->tables[i].pulled_by);
    }
    free(m->tables);
    for (size_t i = 0; m->assocs && i < m->nassocs; i++) {
        free(m->assocs[i].from);
        free(m->assocs[i].to);
    }
    free(m->assocs);
    free(m);
}

int ferry_export_begin_encode(const ferry_export_begin_t *m, ferry_buf_t *out, char *errstr,
                              size_t errstr_size)
{
    struct w w;
    int rc;

    if (!m->request)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "ExportBegin: no request");
    if ((rc = w_begin(&w, out, FERRY_MSG_EXPORT_BEGIN, errstr, errstr_size)))
        return rc;
    w_str(&w, m->export_id);
    put_request(&w, m->request);
    w_count(&w, m->ntables);
    for (size_t i = 0; i < m->ntables; i++) {
        w_str(&w, m->tables[i].name);
        w_opt_str(&w, m->tables[i].pulled_by);
        w_long(&w, m->tables[i].group);
    }
    w_long(&w, 0);
    w_count(&w, m->nassocs);
    for (size_t i = 0; i < m->nassocs; i++) {
        w_str(&w, m->assocs[i].from);
        w_str(&w, m->assocs[i].to);
    }
    w_long(&w, 0);
    w_long(&w, m->ngroups);
    w_str(&w, m->attempt ? m->attempt : "");
    return w_end(&w, "ExportBegin", errstr, errstr_size);
}

static void get_export_begin(struct rd *d, void *p)
{
    ferry_export_begin_t *m = p;
    struct r_iter tables = {"tables", ARRAY_MAX, 0, 0, 0};
    struct r_iter assocs = {"associations", ARRAY_MAX, 0, 0, 0};

    m->export_id = r_str(d, "export_id");
    if (!(m->request = calloc(1, sizeof(*m->request)))) {
        r_check(d, "request", FERRY_ENOMEM);
        return;
    }
    get_request(d, m->request);
    while (r_next(d, &tables)) {
        ferry_plan_table_t *t = r_push(d, m->tables, m->ntables, sizeof(*t), "tables");
        if (!t)
            break;
        m->tables = t;
        t = &m->tables[m->ntables++];
        t->name = r_str(d, "tables.name");
        t->pulled_by = r_opt_str(d, "tables.pulled_by");
        t->group = r_int(d, "tables.group");
    }
    while (r_next(d, &assocs)) {
        ferry_plan_assoc_t *a = r_push(d, m->assocs, m->nassocs, sizeof(*a), "associations");
        if (!a)
            break;
        m->assocs = a;
        a = &m->assocs[m->nassocs++];
        a->from = r_str(d, "associations.from");
        a->to = r_str(d, "associations.to");
    }
    m->ngroups = r_int(d, "groups");
    m->attempt = r_str(d, "attempt");
}

int ferry_export_begin_decode(const void *buf, size_t len, ferry_export_begin_t **out,
                              char *errstr, size_t errstr_size)
{
    ferry_export_begin_t *m = calloc(1, sizeof(*m));
    int rc = decode_body(FERRY_MSG_EXPORT_BEGIN, buf, len, m, get_export_begin, errstr,
                         errstr_size);

    if (rc || (rc = request_finish(m->request, NULL, errstr, errstr_size))) {
        ferry_export_begin_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

/* ---- TableMetadata ----------------------------------------------------- */

void ferry_table_metadata_free(ferry_table_metadata_t *m)
{
    if (!m)
        return;
    free(m->export_id);
    ferry_objset_destroy(m->set);
    free(m->row_schema_json);
    free(m);
}

/* The hook for flags a store adds to ferry_field_t after identity and
 * labels: each is written here and read in get_field_flags, in the order of
 * its field in FieldDefinition (schemas/TableMetadata.avsc, after "labels"),
 * which gives it a default so that older messages still decode with
 * python3-avro. None yet. */
static void put_field_flags(struct w *w, const ferry_field_t *f)
{
    (void)w;
    (void)f;
}

static void get_field_flags(struct rd *d, ferry_field_t *f)
{
    (void)d;
    (void)f;
}

int ferry_table_metadata_encode(const ferry_table_metadata_t *m, ferry_buf_t *out, char *errstr,
                                size_t errstr_size)
{
    const ferry_object_t *o = m->object;
    uint8_t fp[8];
    struct w w;
    int rc;

    if (!o || !m->row_schema_json)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "TableMetadata: no object or no row schema");
    if ((rc = w_begin(&w, out, FERRY_MSG_TABLE_METADATA, errstr, errstr_size)))
        return rc;
    w_str(&w, m->export_id);
    w_long(&w, m->group);
    w_str(&w, o->name);
    w_count(&w, o->nfields);
    for (size_t i = 0; i < o->nfields; i++) {
        const ferry_field_t *f = &o->fields[i];
        w_str(&w, f->name);
        w_str(&w, f->decl_type);
        w_str(&w, ferry_type_name(f->type));
        w_bool(&w, f->nullable);
        w_opt_str(&w, f->default_sql);
        w_long(&w, f->length);
        w_long(&w, f->scale);
        w_long(&w, f->pk_pos);
        w_opt_str(&w, f->collation);
        w_str(&w, NAME_OF(identity_names, f->identity, "none"));
        w_strv(&w, f->labels, f->nlabels);
        put_field_flags(&w, f);
    }
    w_long(&w, 0);
    w_count(&w, o->nuniques);
    for (size_t i = 0; i < o->nuniques; i++)
        w_strv(&w, o->uniques[i].fields, o->uniques[i].nfields);
    w_long(&w, 0);
    w_count(&w, o->nrelations);
    for (size_t i = 0; i < o->nrelations; i++) {
        const ferry_relation_t *r = &o->relations[i];
        w_str(&w, r->target);
        w_strv(&w, r->fields, r->nfields);
        w_count(&w, r->nfields);
        for (size_t k = 0; k < r->nfields; k++)
            w_opt_str(&w, r->to_fields ? r->to_fields[k] : NULL);
        w_long(&w, 0);
        w_str(&w, NAME_OF(rel_kind_names, r->kind, "association"));
        w_opt_str(&w, r->on_delete);
        w_str(&w, NAME_OF(defer_names, r->deferrable, "no"));
    }
    w_long(&w, 0);
    w_bool(&w, o->without_rowid);
    w_count(&w, o->nindexes);
    for (size_t i = 0; i < o->nindexes; i++) {
        const ferry_index_t *x = &o->indexes[i];
        w_str(&w, x->name);
        w_bool(&w, x->unique);
        w_count(&w, x->ncols);
        for (size_t k = 0; k < x->ncols; k++) {
            w_str(&w, x->cols[k].name);
            w_bool(&w, x->cols[k].desc);
            w_opt_str(&w, x->cols[k].collation);
        }
        w_long(&w, 0);
    }
    w_long(&w, 0);
    w_strv(&w, o->not_carried, o->nnot_carried);
    w_str(&w, NAME_OF(dialect_names, o->dialect, "sqlite"));
    w_str(&w, m->row_schema_json);
    for (int k = 0; k < 8; k++)
        fp[k] = (uint8_t)(m->fingerprint >> (8 * k));
    if (!w.rc)
        w.rc = ferry_buf_append(w.b, fp, sizeof(fp));
    w_bool(&w, m->with_rows);
    return w_end(&w, "TableMetadata", errstr, errstr_size);
}

/* One FieldDefinition, added to obj. The sender's type, length and scale are
 * kept over what this build derives from decl_type: they made the row schema. */
static void get_field(struct rd *d, ferry_object_t *obj)
{
    char *name = r_str(d, "object.fields.name");
    char *decl = r_str(d, "object.fields.decl_type");
    char *type = r_str(d, "object.fields.type");
    int nullable = r_bool(d, "object.fields.nullable");
    char *def = r_opt_str(d, "object.fields.default_sql");
    int32_t length = r_int(d, "object.fields.length");
    int32_t scale = r_int(d, "object.fields.scale");
    int32_t pk_pos = r_int(d, "object.fields.pk_pos");
    char *coll = r_opt_str(d, "object.fields.collation");
    char *identity = r_str(d, "object.fields.identity");
    size_t nlabels = 0;
    char **labels = r_strv(d, "object.fields.labels", FERRY_FIELD_MAX_LABELS, 0, &nlabels);
    int t = ferry_type_from_name(type), id = INDEX_OF(identity_names, identity);

    if (!d->rc && t < 0)
        r_fail(d, "object.fields.type", "unknown type name");
    if (!d->rc && id < 0)
        r_fail(d, "object.fields.identity", "neither none, always, by_default nor serial");
    if (!d->rc && nlabels && t != FERRY_T_ENUM && t != FERRY_T_ARRAY)
        r_fail(d, "object.fields.labels", "labels on a field that is neither enum nor array");
    for (size_t i = 0; !d->rc && i < nlabels; i++) {
        if (strlen(labels[i]) > FERRY_LABEL_MAX) {
            snprintf(d->why, sizeof(d->why), "a label longer than %d bytes", FERRY_LABEL_MAX);
            r_fail(d, "object.fields.labels", d->why);
        }
    }
    if (!d->rc &&
        r_check(d, "object.fields", ferry_object_add_field(obj, name, decl, nullable, def, pk_pos))) {
        ferry_field_t *f = &obj->fields[obj->nfields - 1];
        f->type = (ferry_type_t)t;
        f->length = length;
        f->scale = scale;
        f->identity = (ferry_identity_t)id;
        if (r_check(d, "object.fields.collation", ferry_object_set_collation(f, coll)) &&
            r_check(d, "object.fields.labels",
                    ferry_field_set_labels(f, (const char *const *)labels, nlabels)))
            get_field_flags(d, f);
    }
    ferry_strv_free(labels, nlabels);
    free(identity);
    free(coll);
    free(name);
    free(decl);
    free(type);
    free(def);
}

static void get_relation(struct rd *d, ferry_object_t *obj)
{
    size_t nfields = 0, nto = 0;
    char *target = r_str(d, "object.relations.target");
    char **fields = r_strv(d, "object.relations.fields", FERRY_OBJECT_MAX_FIELDS, 0, &nfields);
    char **to = r_strv(d, "object.relations.to_fields", FERRY_OBJECT_MAX_FIELDS, 1, &nto);
    char *kind = r_str(d, "object.relations.kind");
    char *on_delete = r_opt_str(d, "object.relations.on_delete");
    char *deferrable = r_str(d, "object.relations.deferrable");
    int k = INDEX_OF(rel_kind_names, kind), defer = INDEX_OF(defer_names, deferrable);

    if (!d->rc && defer < 0)
        r_fail(d, "object.relations.deferrable", "neither no, immediate nor deferred");
    if (!d->rc && nto != nfields)
        r_fail(d, "object.relations.to_fields", "not as many to_fields as fields");
    if (!d->rc && k < 0)
        r_fail(d, "object.relations.kind", "neither include nor association");
    if (!d->rc &&
        r_check(d, "object.relations",
                ferry_object_add_relation(obj, target, (const char *const *)fields,
                                          (const char *const *)to, nfields,
                                          (ferry_rel_kind_t)k, on_delete)))
        obj->relations[obj->nrelations - 1].deferrable = (ferry_defer_t)defer;
    free(deferrable);
    free(target);
    ferry_strv_free(fields, nfields);
    ferry_strv_free(to, nto);
    free(kind);
    free(on_delete);
}

/* One IndexDefinition, added to obj. */
static void get_index(struct rd *d, ferry_object_t *obj)
{
    struct r_iter cols = {"object.indexes.columns", FERRY_OBJECT_MAX_FIELDS, 0, 0, 0};
    char *name = r_str(d, "object.indexes.name");
    int unique = r_bool(d, "object.indexes.unique");
    char **names = NULL, **colls = NULL;
    int *desc = NULL;
    size_t n = 0;

    while (r_next(d, &cols)) {
        char **n2 = r_push(d, names, n, sizeof(*names), "object.indexes.columns");
        char **c2 = n2 ? r_push(d, colls, n, sizeof(*colls), "object.indexes.columns") : NULL;
        int *d2 = c2 ? r_push(d, desc, n, sizeof(*desc), "object.indexes.columns") : NULL;
        if (n2)
            names = n2;
        if (c2)
            colls = c2;
        if (!d2)
            break;
        desc = d2;
        names[n] = r_str(d, "object.indexes.columns.name");
        desc[n] = r_bool(d, "object.indexes.columns.desc");
        colls[n] = r_opt_str(d, "object.indexes.columns.collation");
        n++;
    }
    if (!d->rc && !n)
        r_fail(d, "object.indexes.columns", "an index without columns");
    if (!d->rc)
        r_check(d, "object.indexes",
                ferry_object_add_index(obj, name, unique, (const char *const *)names, desc,
                                       (const char *const *)colls, n));
    free(name);
    ferry_strv_free(names, n);
    ferry_strv_free(colls, n);
    free(desc);
}

static void get_table_metadata(struct rd *d, void *p)
{
    ferry_table_metadata_t *m = p;
    /* The limits of meta.h, checked on each block's count before any item is
     * read: a hostile object cannot make the importer's name checks crawl. */
    struct r_iter fields = {"object.fields", FERRY_OBJECT_MAX_FIELDS, 0, 0, 0};
    struct r_iter uniques = {"object.uniques", FERRY_OBJECT_MAX_UNIQUES, 0, 0, 0};
    struct r_iter rels = {"object.relations", FERRY_OBJECT_MAX_RELATIONS, 0, 0, 0};
    struct r_iter indexes = {"object.indexes", FERRY_OBJECT_MAX_INDEXES, 0, 0, 0};
    ferry_object_t *obj = NULL;
    const uint8_t *fp;
    char *name;

    m->export_id = r_str(d, "export_id");
    m->group = r_int(d, "group");
    if ((name = r_str(d, "object.name")) &&
        (!(m->set = ferry_objset_new()) || !(obj = ferry_objset_add(m->set, name))))
        r_check(d, "object.name", FERRY_ENOMEM);
    free(name);
    if (obj)
        d->subject = obj->name; /* owned by m->set, which outlives the reader */
    while (obj && r_next(d, &fields))
        get_field(d, obj);
    while (obj && r_next(d, &uniques)) {
        size_t n = 0;
        char **v = r_strv(d, "object.uniques.fields", FERRY_OBJECT_MAX_FIELDS, 0, &n);
        if (!d->rc)
            r_check(d, "object.uniques", ferry_object_add_unique(obj, (const char *const *)v, n));
        ferry_strv_free(v, n);
    }
    while (obj && r_next(d, &rels))
        get_relation(d, obj);
    if (obj)
        obj->without_rowid = r_bool(d, "object.without_rowid");
    while (obj && r_next(d, &indexes))
        get_index(d, obj);
    if (obj) {
        size_t n = 0;
        char **v = r_strv(d, "object.not_carried", FERRY_OBJECT_MAX_NOT_CARRIED, 0, &n);
        for (size_t i = 0; !d->rc && i < n; i++)
            r_check(d, "object.not_carried", ferry_object_add_not_carried(obj, v[i]));
        ferry_strv_free(v, n);
    }
    if (obj) {
        char *dialect = r_str(d, "object.dialect");
        int k = INDEX_OF(dialect_names, dialect);
        if (!d->rc && k < 0)
            r_fail(d, "object.dialect", "neither sqlite nor postgresql");
        else if (!d->rc)
            obj->dialect = (ferry_dialect_t)k;
        free(dialect);
    }
    m->object = obj;
    m->row_schema_json = r_str(d, "row_schema");
    if (!d->rc && r_check(d, "row_fingerprint", ferry_avro_read_fixed(&d->r, 8, &fp)))
        for (int k = 0; k < 8; k++)
            m->fingerprint |= (uint64_t)fp[k] << (8 * k);
    m->with_rows = r_bool(d, "with_rows");
}

int ferry_table_metadata_decode(const void *buf, size_t len, ferry_table_metadata_t **out,
                                char *errstr, size_t errstr_size)
{
    ferry_table_metadata_t *m = calloc(1, sizeof(*m));
    uint64_t computed = 0;
    int rc = decode_body(FERRY_MSG_TABLE_METADATA, buf, len, m, get_table_metadata, errstr,
                         errstr_size);

    /* The row messages will be checked against this fingerprint: make sure
     * it is the one of the schema it travels with. */
    if (!rc && (ferry_avro_fingerprint(m->row_schema_json, &computed, errstr, errstr_size) ||
                computed != m->fingerprint)) {
        rc = ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                        "TableMetadata of \"%s\": row_fingerprint %016llx is not that of "
                        "row_schema (%016llx)", m->object->name,
                        (unsigned long long)m->fingerprint, (unsigned long long)computed);
    }
    if (rc) {
        ferry_table_metadata_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

/* ---- TableEnd, ExportEnd ----------------------------------------------- */

void ferry_table_end_free(ferry_table_end_t *m)
{
    if (!m)
        return;
    free(m->export_id);
    free(m->table);
    free(m->checksum);
    free(m);
}

int ferry_table_end_encode(const ferry_table_end_t *m, ferry_buf_t *out, char *errstr,
                           size_t errstr_size)
{
    struct w w;
    int rc = w_begin(&w, out, FERRY_MSG_TABLE_END, errstr, errstr_size);
    if (rc)
        return rc;
    w_str(&w, m->export_id);
    w_str(&w, m->table);
    w_long(&w, m->rows);
    w_str(&w, m->checksum);
    return w_end(&w, "TableEnd", errstr, errstr_size);
}

static void get_table_end(struct rd *d, void *p)
{
    ferry_table_end_t *m = p;
    m->export_id = r_str(d, "export_id");
    m->table = r_str(d, "table");
    m->rows = r_long(d, "rows");
    m->checksum = r_str(d, "checksum");
}

int ferry_table_end_decode(const void *buf, size_t len, ferry_table_end_t **out, char *errstr,
                           size_t errstr_size)
{
    ferry_table_end_t *m = calloc(1, sizeof(*m));
    int rc = decode_body(FERRY_MSG_TABLE_END, buf, len, m, get_table_end, errstr, errstr_size);

    if (rc) {
        ferry_table_end_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

void ferry_export_end_free(ferry_export_end_t *m)
{
    if (!m)
        return;
    free(m->export_id);
    free(m->checksum);
    free(m);
}

int ferry_export_end_encode(const ferry_export_end_t *m, ferry_buf_t *out, char *errstr,
                            size_t errstr_size)
{
    struct w w;
    int rc = w_begin(&w, out, FERRY_MSG_EXPORT_END, errstr, errstr_size);
    if (rc)
        return rc;
    w_str(&w, m->export_id);
    w_long(&w, m->tables);
    w_long(&w, m->rows);
    w_str(&w, m->checksum);
    return w_end(&w, "ExportEnd", errstr, errstr_size);
}

static void get_export_end(struct rd *d, void *p)
{
    ferry_export_end_t *m = p;
    m->export_id = r_str(d, "export_id");
    m->tables = r_int(d, "tables");
    m->rows = r_long(d, "rows");
    m->checksum = r_str(d, "checksum");
}

int ferry_export_end_decode(const void *buf, size_t len, ferry_export_end_t **out, char *errstr,
                            size_t errstr_size)
{
    ferry_export_end_t *m = calloc(1, sizeof(*m));
    int rc = decode_body(FERRY_MSG_EXPORT_END, buf, len, m, get_export_end, errstr, errstr_size);

    if (rc) {
        ferry_export_end_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

/* ---- PartBegin, ExportAbort ------------------------------------------- */

void ferry_part_begin_free(ferry_part_begin_t *m)
{
    if (!m)
        return;
    free(m->export_id);
    free(m->attempt);
    free(m->checksum);
    free(m);
}

int ferry_part_begin_encode(const ferry_part_begin_t *m, ferry_buf_t *out, char *errstr,
                            size_t errstr_size)
{
    struct w w;
    int rc = w_begin(&w, out, FERRY_MSG_PART_BEGIN, errstr, errstr_size);
    if (rc)
        return rc;
    w_str(&w, m->export_id);
    w_str(&w, m->attempt);
    w_long(&w, m->part);
    w_long(&w, m->rows);
    w_str(&w, m->checksum);
    return w_end(&w, "PartBegin", errstr, errstr_size);
}

static void get_part_begin(struct rd *d, void *p)
{
    ferry_part_begin_t *m = p;
    m->export_id = r_str(d, "export_id");
    m->attempt = r_str(d, "attempt");
    m->part = r_int(d, "part");
    m->rows = r_long(d, "rows");
    m->checksum = r_str(d, "checksum");
}

int ferry_part_begin_decode(const void *buf, size_t len, ferry_part_begin_t **out, char *errstr,
                            size_t errstr_size)
{
    ferry_part_begin_t *m = calloc(1, sizeof(*m));
    int rc = decode_body(FERRY_MSG_PART_BEGIN, buf, len, m, get_part_begin, errstr, errstr_size);

    if (rc) {
        ferry_part_begin_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

void ferry_export_abort_free(ferry_export_abort_t *m)
{
    if (!m)
        return;
    free(m->export_id);
    free(m->attempt);
    free(m->reason);
    free(m);
}

int ferry_export_abort_encode(const ferry_export_abort_t *m, ferry_buf_t *out, char *errstr,
                              size_t errstr_size)
{
    struct w w;
    int rc = w_begin(&w, out, FERRY_MSG_EXPORT_ABORT, errstr, errstr_size);
    if (rc)
        return rc;
    w_str(&w, m->export_id);
    w_str(&w, m->attempt);
    w_str(&w, m->reason);
    return w_end(&w, "ExportAbort", errstr, errstr_size);
}

static void get_export_abort(struct rd *d, void *p)
{
    ferry_export_abort_t *m = p;
    m->export_id = r_str(d, "export_id");
    m->attempt = r_str(d, "attempt");
    m->reason = r_str(d, "reason");
}

int ferry_export_abort_decode(const void *buf, size_t len, ferry_export_abort_t **out,
                              char *errstr, size_t errstr_size)
{
    ferry_export_abort_t *m = calloc(1, sizeof(*m));
    int rc = decode_body(FERRY_MSG_EXPORT_ABORT, buf, len, m, get_export_abort, errstr,
                         errstr_size);

    if (rc) {
        ferry_export_abort_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

/* ---- StatusEvent ------------------------------------------------------- */

void ferry_status_free(ferry_status_t *m)
{
    if (!m)
        return;
    free(m->export_id);
    free(m->component);
    free(m->source);
    free(m->target);
    free(m->reason);
    for (size_t i = 0; m->table_stats && i < m->ntable_stats; i++)
        free(m->table_stats[i].table);
    free(m->table_stats);
    free(m);
}

int ferry_status_encode(const ferry_status_t *m, ferry_buf_t *out, char *errstr,
                        size_t errstr_size)
{
    struct w w;
    int rc;

    if ((unsigned)m->state >= sizeof(state_names) / sizeof(state_names[0]))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "StatusEvent: state %d is not valid",
                          (int)m->state);
    if ((rc = w_begin(&w, out, FERRY_MSG_STATUS, errstr, errstr_size)))
        return rc;
    w_str(&w, m->export_id);
    w_str(&w, state_names[m->state]);
    w_long(&w, m->at_ms);
    w_str(&w, m->component);
    w_opt_str(&w, m->source);
    w_opt_str(&w, m->target);
    w_long(&w, m->tables);
    w_long(&w, m->rows);
    w_long(&w, m->bytes);
    w_long(&w, m->duration_ms);
    w_opt_str(&w, m->reason);
    w_count(&w, m->ntable_stats);
    for (size_t i = 0; i < m->ntable_stats; i++) {
        w_str(&w, m->table_stats[i].table);
        w_long(&w, m->table_stats[i].rows);
        w_long(&w, m->table_stats[i].inserted);
        w_long(&w, m->table_stats[i].updated);
    }
    w_long(&w, 0);
    return w_end(&w, "StatusEvent", errstr, errstr_size);
}

static void get_status(struct rd *d, void *p)
{
    ferry_status_t *m = p;
    struct r_iter stats = {"table_stats", ARRAY_MAX, 0, 0, 0};
    char *state;
    int s;

    m->export_id = r_str(d, "export_id");
    state = r_str(d, "state");
    if (!d->rc && (s = ferry_status_state_from_name(state)) >= 0)
        m->state = (ferry_status_state_t)s;
    else
        r_fail(d, "state", "unknown state");
    free(state);
    m->at_ms = r_long(d, "at");
    m->component = r_str(d, "component");
    m->source = r_opt_str(d, "source");
    m->target = r_opt_str(d, "target");
    m->tables = r_int(d, "tables");
    m->rows = r_long(d, "rows");
    m->bytes = r_long(d, "bytes");
    m->duration_ms = r_long(d, "duration_ms");
    m->reason = r_opt_str(d, "reason");
    while (r_next(d, &stats)) {
        ferry_table_stat_t *t = r_push(d, m->table_stats, m->ntable_stats, sizeof(*t),
                                       "table_stats");
        if (!t)
            break;
        m->table_stats = t;
        t = &m->table_stats[m->ntable_stats++];
        t->table = r_str(d, "table_stats.table");
        t->rows = r_long(d, "table_stats.rows");
        t->inserted = r_long(d, "table_stats.inserted");
        t->updated = r_long(d, "table_stats.updated");
    }
}

int ferry_status_decode(const void *buf, size_t len, ferry_status_t **out, char *errstr,
                        size_t errstr_size)
{
    ferry_status_t *m = calloc(1, sizeof(*m));
    int rc = decode_body(FERRY_MSG_STATUS, buf, len, m, get_status, errstr, errstr_size);

    if (rc) {
        ferry_status_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

/* ---- Schedule ---------------------------------------------------------- */

void ferry_schedule_free(ferry_schedule_t *m)
{
    if (!m)
        return;
    free(m->id);
    free(m->source);
    free(m->target);
    ferry_strv_free(m->objects, m->nobjects);
    free(m->cron);
    free(m);
}

static int schedule_check(const ferry_schedule_t *m, char *errstr, size_t errstr_size)
{
    int rc, kinds = (m->every_ms != 0) + (m->cron != NULL) + (m->at_ms != 0);

    if ((rc = check_name("schedule: id", m->id, FERRY_NAME_MAX, errstr, errstr_size)) ||
        (rc = check_name("schedule: source", m->source, FERRY_NAME_MAX, errstr, errstr_size)) ||
        (rc = check_name("schedule: target", m->target, FERRY_NAME_MAX, errstr, errstr_size)) ||
        (rc = check_objects("schedule", m->objects, m->nobjects, errstr, errstr_size)) ||
        (m->cron && (rc = check_name("schedule: cron", m->cron, FERRY_NAME_MAX, errstr,
                                     errstr_size))))
        return rc;
    if ((unsigned)m->content > FERRY_CONTENT_DATA)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "schedule: content %d is not valid",
                          (int)m->content);
    if (kinds != 1 || m->every_ms < 0 || m->at_ms < 0)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "schedule \"%s\": exactly one of every_ms (> 0), cron or at (> 0) must "
                          "be set", m->id);
    return FERRY_OK;
}

int ferry_schedule_encode(const ferry_schedule_t *m, ferry_buf_t *out, char *errstr,
                          size_t errstr_size)
{
    struct w w;
    int rc;

    if ((rc = schedule_check(m, errstr, errstr_size)) ||
        (rc = w_begin(&w, out, FERRY_MSG_SCHEDULE, errstr, errstr_size)))
        return rc;
    w_str(&w, m->id);
    w_str(&w, m->source);
    w_str(&w, m->target);
    w_strv(&w, m->objects, m->nobjects);
    w_long(&w, m->content);
    w_long(&w, m->every_ms);
    w_long(&w, m->from_ms);
    w_opt_str(&w, m->cron);
    w_long(&w, m->at_ms);
    w_long(&w, m->created_ms);
    return w_end(&w, "Schedule", errstr, errstr_size);
}

static void get_schedule(struct rd *d, void *p)
{
    ferry_schedule_t *m = p;
    m->id = r_str(d, "id");
    m->source = r_str(d, "source");
    m->target = r_str(d, "target");
    m->objects = r_strv(d, "objects", FERRY_REQUEST_MAX_OBJECTS, 0, &m->nobjects);
    m->content = (ferry_content_t)r_index(d, "content", 3);
    m->every_ms = r_long(d, "every_ms");
    m->from_ms = r_long(d, "from");
    m->cron = r_opt_str(d, "cron");
    m->at_ms = r_long(d, "at");
    m->created_ms = r_long(d, "created");
}

int ferry_schedule_decode(const void *buf, size_t len, ferry_schedule_t **out, char *errstr,
                          size_t errstr_size)
{
    ferry_schedule_t *m = calloc(1, sizeof(*m));
    int rc = decode_body(FERRY_MSG_SCHEDULE, buf, len, m, get_schedule, errstr, errstr_size);

    if (rc || (rc = schedule_check(m, errstr, errstr_size))) {
        ferry_schedule_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}
