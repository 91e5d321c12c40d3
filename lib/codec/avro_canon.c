/* avro_canon.c - Parsing Canonical Form, CRC-64-AVRO, single-object framing and
 * the Avro binary reader/writer (see avro_canon.h).
 *
 * Canonical form, in the specification's terms: the schema is parsed with
 * jansson (which already turns \uXXXX escapes into UTF-8: STRINGS) and written
 * back with only name, type, fields, symbols, items, values and size, in that
 * order (STRIP, ORDER), names as fullnames and no namespace attribute
 * (FULLNAMES), a primitive as its bare name even when it carries attributes such
 * as logicalType (PRIMITIVES), size as a bare integer (INTEGERS), no whitespace
 * (WHITESPACE). A named type seen before is written as its fullname only, as
 * the specification's reference implementation does. Every string written is a
 * validated Avro name, so no escaping is ever needed. */
#include "avro_canon.h"

#include "error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CRC64_AVRO_EMPTY 0xc15d213aa4d7a795ULL

/* ---- CRC-64-AVRO ------------------------------------------------------- */

/* The specification's table-driven algorithm, done bit by bit: schemas are
 * fingerprinted once per table or message type, never per row. */
uint64_t ferry_avro_crc64(const void *data, size_t len)
{
    const uint8_t *s = data;
    uint64_t fp = CRC64_AVRO_EMPTY;

    for (size_t i = 0; i < len; i++) {
        fp ^= s[i];
        for (int bit = 0; bit < 8; bit++)
            fp = (fp >> 1) ^ (CRC64_AVRO_EMPTY & (0 - (fp & 1)));
    }
    return fp;
}

/* ---- Parsing Canonical Form -------------------------------------------- */

static const char *const primitives[] = {"null", "boolean", "int",   "long",
                                         "float", "double", "bytes", "string"};

int ferry_avro_is_primitive(const char *s)
{
    for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
        if (!strcmp(s, primitives[i]))
            return 1;
    return 0;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static int is_simple_name(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

int ferry_avro_name_valid(const char *name)
{
    return is_simple_name(name, strlen(name));
}

/* A fullname or a namespace: simple names joined by dots. */
static int is_dotted_name(const char *s)
{
    const char *dot;
    while ((dot = strchr(s, '.'))) {
        if (!is_simple_name(s, (size_t)(dot - s)))
            return 0;
        s = dot + 1;
    }
    return is_simple_name(s, strlen(s));
}

struct canon {
    ferry_buf_t *out;
    json_t *defined;   /* fullnames of the named types seen so far (an object used as a set) */
    ferry_buf_t name;  /* scratch for building a fullname */
    char *errstr;
    size_t errstr_size;
};

/* Makes the fullname of `name` in namespace ns (NULL or "" for none) into
 * c->name as a NUL-terminated string. */
static int make_fullname(struct canon *c, const char *name, const char *ns)
{
    int rc;
    ferry_buf_reset(&c->name);
    if (!strchr(name, '.') && ns && *ns) {
        if ((rc = ferry_buf_puts(&c->name, ns)) || (rc = ferry_buf_puts(&c->name, ".")))
            return rc;
    }
    if ((rc = ferry_buf_puts(&c->name, name)) || (rc = ferry_buf_append(&c->name, "", 1)))
        return rc;
    c->name.len--;
    return FERRY_OK;
}

/* The value of a JSON string without NUL bytes (jansson is told to allow
 * them so that defaults such as "\u0000" parse), else NULL. */
static const char *str_of(json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

static int put(struct canon *c, const char *s)
{
    return ferry_buf_puts(c->out, s);
}

static int canon_schema(struct canon *c, json_t *s, const char *ns, int depth);

/* A reference to a named type, or a primitive, given as a string. */
static int canon_name_ref(struct canon *c, const char *name, const char *ns)
{
    int rc;
    if (ferry_avro_is_primitive(name))
        return ferry_buf_printf(c->out, "\"%s\"", name);
    if ((rc = make_fullname(c, name, ns)))
        return rc;
    if (!json_object_get(c->defined, (char *)c->name.data))
        return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                          "Avro schema: type \"%s\" is not defined before its use", name);
    return ferry_buf_printf(c->out, "\"%s\"", (char *)c->name.data);
}

static int canon_fields(struct canon *c, json_t *fields, const char *record, const char *ns,
                        int depth)
{
    size_t i;
    json_t *f;
    int rc;

    if (!json_is_array(fields))
        return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                          "Avro schema: record \"%s\" has no \"fields\" array", record);
    if ((rc = put(c, ",\"fields\":[")))
        return rc;
    json_array_foreach(fields, i, f) {
        const char *fname = str_of(json_object_get(f, "name"));
        json_t *ftype = json_object_get(f, "type");
        if (!fname || !is_simple_name(fname, strlen(fname)) || !ftype)
            return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                              "Avro schema: field %zu of record \"%s\" needs a valid \"name\" "
                              "and a \"type\"", i, record);
        if ((rc = ferry_buf_printf(c->out, "%s{\"name\":\"%s\",\"type\":", i ? "," : "", fname)) ||
            (rc = canon_schema(c, ftype, ns, depth + 1)) || (rc = put(c, "}")))
            return rc;
    }
    return put(c, "]");
}

static int canon_symbols(struct canon *c, json_t *symbols, const char *name)
{
    size_t i;
    json_t *sym;
    int rc;

    if (!json_is_array(symbols))
        return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                          "Avro schema: enum \"%s\" has no \"symbols\" array", name);
    if ((rc = put(c, ",\"symbols\":[")))
        return rc;
    json_array_foreach(symbols, i, sym) {
        const char *v = str_of(sym);
        if (!v || !is_simple_name(v, strlen(v)))
            return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                              "Avro schema: enum \"%s\" has an invalid symbol at %zu", name, i);
        if ((rc = ferry_buf_printf(c->out, "%s\"%s\"", i ? "," : "", v)))
            return rc;
    }
    return put(c, "]");
}

/* size of a fixed: an integer, or by [INTEGERS] a string of digits. */
static int canon_size(struct canon *c, json_t *size, const char *name)
{
    long long n = -1;
    if (json_is_integer(size)) {
        n = json_integer_value(size);
    } else if (str_of(size)) {
        const char *s = str_of(size);
        n = *s ? 0 : -1;
        for (; *s && n >= 0; s++)
            n = (*s >= '0' && *s <= '9' && n < 100000000) ? n * 10 + (*s - '0') : -1;
    }
    if (n < 0)
        return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                          "Avro schema: fixed \"%s\" needs a non-negative integer \"size\"", name);
    return ferry_buf_printf(c->out, ",\"size\":%lld", n);
}

/* record, error, enum or fixed: defines a name. */
static int canon_named(struct canon *c, json_t *s, const char *type, const char *ns, int depth)
{
    const char *name = str_of(json_object_get(s, "name"));
    json_t *ns_attr = json_object_get(s, "namespace");
    const char *own_ns = str_of(ns_attr);
    char *full = NULL, *dot;
    int rc;

    if (!name || (ns_attr && !json_is_null(ns_attr) && !own_ns))
        return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                          "Avro schema: a %s needs a string \"name\" (and \"namespace\")", type);
    if ((rc = make_fullname(c, name, own_ns ? own_ns : ns)))
        return rc;
    if (!(full = strdup((char *)c->name.data)))
        return FERRY_ENOMEM;
    dot = strrchr(full, '.');
    if (!is_dotted_name(full) || ferry_avro_is_primitive(dot ? dot + 1 : full)) {
        rc = ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                        "Avro schema: \"%s\" is not a valid name for a %s", full, type);
        goto out;
    }
    if (json_object_get(c->defined, full)) {
        rc = ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                        "Avro schema: type \"%s\" is defined twice", full);
        goto out;
    }
    /* Defined before its fields are read, so that a record may refer to itself. */
    if (json_object_set_new(c->defined, full, json_true())) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    if ((rc = ferry_buf_printf(c->out, "{\"name\":\"%s\",\"type\":\"%s\"", full, type)))
        goto out;
    /* Nested definitions and references resolve in this type's namespace. */
    if (dot)
        *dot = '\0';
    if (!strcmp(type, "enum"))
        rc = canon_symbols(c, json_object_get(s, "symbols"), name);
    else if (!strcmp(type, "fixed"))
        rc = canon_size(c, json_object_get(s, "size"), name);
    else
        rc = canon_fields(c, json_object_get(s, "fields"), name, dot ? full : "", depth);
    if (!rc)
        rc = put(c, "}");
out:
    free(full);
    return rc;
}

static int canon_schema(struct canon *c, json_t *s, const char *ns, int depth)
{
    const char *type;
    int rc;

    /* jansson bounds nesting while parsing; this is a second, cheaper guard. */
    if (depth > 1000)
        return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL, "Avro schema: nested too deeply");
    if (json_is_string(s)) {
        if (!str_of(s))
            return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                              "Avro schema: a type name contains a NUL byte");
        return canon_name_ref(c, str_of(s), ns);
    }
    if (json_is_array(s)) {
        size_t i;
        json_t *branch;
        if ((rc = put(c, "[")))
            return rc;
        json_array_foreach(s, i, branch) {
            if ((i && (rc = put(c, ","))) || (rc = canon_schema(c, branch, ns, depth + 1)))
                return rc;
        }
        return put(c, "]");
    }
    type = str_of(json_object_get(s, "type"));
    if (!type)
        return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                          "Avro schema: an object without a string \"type\"");
    if (!strcmp(type, "record") || !strcmp(type, "error") || !strcmp(type, "enum") ||
        !strcmp(type, "fixed"))
        return canon_named(c, s, type, ns, depth);
    if (!strcmp(type, "array") || !strcmp(type, "map")) {
        const char *key = type[0] == 'a' ? "items" : "values";
        json_t *inner = json_object_get(s, key);
        if (!inner)
            return ferry_errf(c->errstr, c->errstr_size, FERRY_EINVAL,
                              "Avro schema: %s without \"%s\"", type, key);
        if ((rc = ferry_buf_printf(c->out, "{\"type\":\"%s\",\"%s\":", type, key)) ||
            (rc = canon_schema(c, inner, ns, depth + 1)))
            return rc;
        return put(c, "}");
    }
    /* A primitive with attributes ({"type":"long","logicalType":...}) or a
     * reference written as {"type":"Name"}. */
    return canon_name_ref(c, type, ns);
}

int ferry_avro_canonical_form(const char *schema_json, ferry_buf_t *out, char *errstr,
                              size_t errstr_size)
{
    struct canon c = {out, NULL, FERRY_BUF_INIT, errstr, errstr_size};
    size_t start = out->len;
    json_error_t jerr;
    json_t *root;
    int rc;

    root = json_loads(schema_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root)
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "Avro schema is not JSON: %s at line %d column %d", jerr.text,
                          jerr.line, jerr.column);
    if (!(c.defined = json_object()))
        rc = FERRY_ENOMEM;
    else
        rc = canon_schema(&c, root, "", 0);
    if (rc == FERRY_ENOMEM)
        ferry_errf(errstr, errstr_size, rc, "out of memory computing a canonical form");
    if (rc)
        out->len = start;
    ferry_buf_free(&c.name);
    json_decref(c.defined);
    json_decref(root);
    return rc;
}

int ferry_avro_fingerprint(const char *schema_json, uint64_t *fp, char *errstr,
                           size_t errstr_size)
{
    ferry_buf_t canon = FERRY_BUF_INIT;
    int rc = ferry_avro_canonical_form(schema_json, &canon, errstr, errstr_size);
    if (!rc)
        *fp = ferry_avro_crc64(canon.data, canon.len);
    ferry_buf_free(&canon);
    return rc;
}

/* ---- single-object framing --------------------------------------------- */

int ferry_avro_frame_header(ferry_buf_t *out, uint64_t fp)
{
    uint8_t *p;
    int rc = ferry_buf_reserve(out, FERRY_AVRO_HEADER_SIZE);
    if (rc)
        return rc;
    p = out->data + out->len;
    p[0] = 0xC3;
    p[1] = 0x01;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (uint8_t)(fp >> (8 * i));
    out->len += FERRY_AVRO_HEADER_SIZE;
    return FERRY_OK;
}

int ferry_avro_frame_parse(const void *buf, size_t len, uint64_t *fp, const uint8_t **body,
                           size_t *body_len, char *errstr, size_t errstr_size)
{
    const uint8_t *p = buf;
    uint64_t v = 0;

    if (len < FERRY_AVRO_HEADER_SIZE)
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "message of %zu bytes is shorter than the %d-byte Avro single-object "
                          "header", len, FERRY_AVRO_HEADER_SIZE);
    if (p[0] != 0xC3 || p[1] != 0x01)
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "message starts with %02X %02X, not the Avro single-object marker C3 01",
                          p[0], p[1]);
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[2 + i] << (8 * i);
    *fp = v;
    *body = p + FERRY_AVRO_HEADER_SIZE;
    *body_len = len - FERRY_AVRO_HEADER_SIZE;
    return FERRY_OK;
}

/* ---- binary writer ----------------------------------------------------- */

uint8_t *ferry_avro_put_long(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        *p++ = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    *p++ = (uint8_t)z;
    return p;
}

uint8_t *ferry_avro_put_double(uint8_t *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(bits >> (8 * i));
    return p + 8;
}

uint8_t *ferry_avro_put_bytes(uint8_t *p, const void *data, size_t n)
{
    p = ferry_avro_put_long(p, (int64_t)n);
    if (n)
        memcpy(p, data, n);
    return p + n;
}

int ferry_avro_write_long(ferry_buf_t *b, int64_t v)
{
    int rc = ferry_buf_reserve(b, FERRY_AVRO_LONG_MAX_SIZE);
    if (!rc)
        b->len = (size_t)(ferry_avro_put_long(b->data + b->len, v) - b->data);
    return rc;
}

int ferry_avro_write_boolean(ferry_buf_t *b, int v)
{
    uint8_t byte = v ? 1 : 0;
    return ferry_buf_append(b, &byte, 1);
}

int ferry_avro_write_double(ferry_buf_t *b, double v)
{
    int rc = ferry_buf_reserve(b, 8);
    if (!rc)
        b->len = (size_t)(ferry_avro_put_double(b->data + b->len, v) - b->data);
    return rc;
}

int ferry_avro_write_bytes(ferry_buf_t *b, const void *data, size_t n)
{
    int rc;
    if (n > INT64_MAX || (rc = ferry_buf_reserve(b, FERRY_AVRO_LONG_MAX_SIZE + n)))
        return FERRY_ENOMEM;
    b->len = (size_t)(ferry_avro_put_bytes(b->data + b->len, data, n) - b->data);
    return FERRY_OK;
}

int ferry_avro_write_string(ferry_buf_t *b, const char *s)
{
    return ferry_avro_write_bytes(b, s, strlen(s));
}

/* ---- binary reader ----------------------------------------------------- */

static int fail(ferry_avro_reader_t *r, const char *why)
{
    r->why = why;
    return FERRY_EDECODE;
}

void ferry_avro_reader_init(ferry_avro_reader_t *r, const void *buf, size_t len)
{
    r->start = r->p = buf;
    r->end = r->p + len;
    r->why = NULL;
}

int ferry_avro_read_long(ferry_avro_reader_t *r, int64_t *v)
{
    uint64_t z = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
        uint8_t byte;
        if (r->p == r->end)
            return fail(r, "truncated varint");
        byte = *r->p++;
        /* The tenth byte holds bit 63 alone. */
        if (shift == 63 && (byte & 0x80))
            return fail(r, "varint longer than 10 bytes");
        if (shift == 63 && byte > 1)
            return fail(r, "varint overflows 64 bits");
        z |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return FERRY_OK;
        }
    }
    return FERRY_EDECODE; /* not reached: the tenth byte ends the loop */
}

int ferry_avro_read_int(ferry_avro_reader_t *r, int32_t *v)
{
    int64_t l;
    int rc = ferry_avro_read_long(r, &l);
    if (rc)
        return rc;
    if (l < INT32_MIN || l > INT32_MAX)
        return fail(r, "int out of 32-bit range");
    *v = (int32_t)l;
    return FERRY_OK;
}

int ferry_avro_read_boolean(ferry_avro_reader_t *r, int *v)
{
    if (r->p == r->end)
        return fail(r, "truncated boolean");
    if (*r->p > 1)
        return fail(r, "boolean byte is neither 0 nor 1");
    *v = *r->p++;
    return FERRY_OK;
}

int ferry_avro_read_double(ferry_avro_reader_t *r, double *v)
{
    uint64_t bits = 0;
    if (ferry_avro_reader_left(r) < 8)
        return fail(r, "truncated double");
    for (int i = 0; i < 8; i++)
        bits |= (uint64_t)r->p[i] << (8 * i);
    memcpy(v, &bits, 8);
    r->p += 8;
    return FERRY_OK;
}

int ferry_avro_read_bytes(ferry_avro_reader_t *r, const uint8_t **data, size_t *n)
{
    int64_t len;
    int rc = ferry_avro_read_long(r, &len);
    if (rc)
        return rc;
    if (len < 0)
        return fail(r, "negative length");
    if ((uint64_t)len > ferry_avro_reader_left(r))
        return fail(r, "length exceeds the bytes left");
    *data = r->p;
    *n = (size_t)len;
    r->p += len;
    return FERRY_OK;
}

int ferry_avro_read_fixed(ferry_avro_reader_t *r, size_t size, const uint8_t **data)
{
    if (ferry_avro_reader_left(r) < size)
        return fail(r, "truncated fixed");
    *data = r->p;
    r->p += size;
    return FERRY_OK;
}

int ferry_avro_read_index(ferry_avro_reader_t *r, size_t n, size_t *index)
{
    int64_t i;
    int rc = ferry_avro_read_long(r, &i);
    if (rc)
        return rc;
    if (i < 0 || (uint64_t)i >= n)
        return fail(r, "union or enum index out of range");
    *index = (size_t)i;
    return FERRY_OK;
}

int ferry_avro_read_block(ferry_avro_reader_t *r, size_t *count, size_t *end)
{
    int64_t n, size;
    int rc = ferry_avro_read_long(r, &n);
    *end = 0;
    if (rc)
        return rc;
    if (n < 0) {
        /* A negative count is followed by the block's size in bytes. */
        if (n == INT64_MIN)
            return fail(r, "block count out of range");
        n = -n;
        if ((rc = ferry_avro_read_long(r, &size)))
            return rc;
        if (size < 0 || (uint64_t)size > ferry_avro_reader_left(r))
            return fail(r, "block size exceeds the bytes left");
        *end = ferry_avro_reader_offset(r) + (size_t)size;
    }
    if ((uint64_t)n > ferry_avro_reader_left(r))
        return fail(r, "block count exceeds the bytes left");
    *count = (size_t)n;
    return FERRY_OK;
}

int ferry_avro_end_block(ferry_avro_reader_t *r, size_t end)
{
    if (end && ferry_avro_reader_offset(r) != end)
        return fail(r, "block items do not fill the block's byte size");
    return FERRY_OK;
}
