/* pg_read.c - cursors of the PostgreSQL store: a table's rows in
 * primary-key order, streamed with bounded memory.
 *
 * One statement per cursor:
 *   COPY (SELECT <columns> FROM schema.table ORDER BY <key>) TO STDOUT (FORMAT binary)
 * read with PQgetCopyData, one CopyData message (one row, in practice) at a
 * time, so memory stays at one row whatever the table's size. Columns
 * travel in binary where ferry's value is the machine's own: integers as
 * int8 (FERRY_V_INT), real and double precision as float8 (FERRY_V_REAL,
 * bit for bit, NaN and infinities included: a real widens to double
 * exactly), boolean as INT 0/1, bytea as BLOB, and text, varchar and char
 * as their bytes (char(n) with its padding). Every other column is
 * selected as col::text, and its value is PostgreSQL's own text under the
 * session's settings (ISO dates, UTC, extra_float_digits 3: meta.h says
 * why), so it arrives exactly as `SELECT col::text` prints it.
 *
 * Order: the primary key's columns in key order, by their types' default
 * ordering (the key's index serves it). A table without a primary key is
 * ordered by every column in field order, the text ones compared bytewise
 * (COLLATE "C"): a deterministic order, rows that tie being identical.
 *
 * While a COPY runs it holds the connection (s->copying): other statements
 * on the store are refused until the cursor reaches its end or is
 * destroyed. Destroyed early, a cursor reads the rest away inside a
 * transaction (cancelling would abort the caller's snapshot or writes), and
 * cancels the COPY outside one. */
#include "pg_impl.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

/* How a column travels in the COPY. COL_STRING is a string type's own
 * binary form, its bytes: a char(n) keeps its padding, which a cast to text
 * would strip. */
typedef enum col_kind {
    COL_INT8,
    COL_FLOAT8,
    COL_BOOL,
    COL_BYTEA,
    COL_TEXT,
    COL_STRING,
} col_kind_t;

typedef struct pg_cursor {
    ferry_cursor_t base;
    pg_store_t *s;            /* NULL once the store is gone */
    char *table;              /* for messages */
    size_t nfields;
    col_kind_t *kinds;
    ferry_value_t *row;
    char *chunk;              /* libpq's current CopyData message, or NULL */
    const uint8_t *p, *end;   /* the bytes not parsed yet: in chunk or in spill */
    ferry_buf_t spill;        /* a row that spans messages, gathered */
    int started;              /* the header was read */
    int done;                 /* the trailer was read and the COPY ended */
} pg_cursor_t;

static const uint8_t copy_signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int cur_err(pg_cursor_t *c, int code, const char *what, char *errstr, size_t errstr_size)
{
    return ferry_errf(errstr, errstr_size, code, "store %s: reading table %s: %s",
                      c->s ? c->s->name : "(closed)", c->table, what);
}

/* The COPY ended (PQgetCopyData said -1 or -2): its result says how. */
static int copy_result(pg_cursor_t *c, char *errstr, size_t errstr_size)
{
    PGresult *res;
    int rc = FERRY_OK;

    while ((res = PQgetResult(c->s->conn))) {
        if (!rc && PQresultStatus(res) != PGRES_COMMAND_OK) {
            char what[256];
            snprintf(what, sizeof(what), "reading table %s", c->table);
            rc = ferry_pg_error(c->s, res, what, errstr, errstr_size);
        }
        PQclear(res);
    }
    c->s->copying = NULL;
    return rc;
}

/* The next message into c->chunk: 1, 0 at the end of the COPY, or a
 * negative code. */
static int next_chunk(pg_cursor_t *c, int *len, char *errstr, size_t errstr_size)
{
    PQfreemem(c->chunk);
    c->chunk = NULL;
    *len = PQgetCopyData(c->s->conn, &c->chunk, 0);
    if (*len > 0)
        return 1;
    c->chunk = NULL;
    if (*len == -1) {
        int rc = copy_result(c, errstr, errstr_size);
        return rc ? rc : 0;
    }
    copy_result(c, NULL, 0);
    return ferry_errf(errstr, errstr_size, FERRY_ESTORE, "store %s: reading table %s: %s",
                      c->s->name, c->table, PQerrorMessage(c->s->conn));
}

/* Makes at least need bytes readable from c->p, gathering messages into
 * the spill buffer when a row spans them (c->p may move: callers keep
 * offsets from it, not pointers). */
static int ensure(pg_cursor_t *c, size_t need, char *errstr, size_t errstr_size)
{
    size_t have = (size_t)(c->end - c->p);
    int len, rc;

    if (have >= need)
        return FERRY_OK;
    if (c->spill.len && c->p >= c->spill.data && c->p <= c->spill.data + c->spill.len) {
        memmove(c->spill.data, c->p, have);
        c->spill.len = have;
    } else {
        ferry_buf_reset(&c->spill);
        if (have && ferry_buf_append(&c->spill, c->p, have))
            return cur_err(c, FERRY_ENOMEM, "out of memory", errstr, errstr_size);
    }
    while (c->spill.len < need) {
        if ((rc = next_chunk(c, &len, errstr, errstr_size)) < 0)
            return rc;
        if (rc == 0)
            return cur_err(c, FERRY_EDECODE, "the COPY data ends inside a row", errstr,
                           errstr_size);
        if (ferry_buf_append(&c->spill, c->chunk, (size_t)len))
            return cur_err(c, FERRY_ENOMEM, "out of memory", errstr, errstr_size);
    }
    PQfreemem(c->chunk);
    c->chunk = NULL;
    c->p = c->spill.data;
    c->end = c->spill.data + c->spill.len;
    return FERRY_OK;
}

/* The header: signature, flags, extension area. */
static int read_header(pg_cursor_t *c, char *errstr, size_t errstr_size)
{
    int rc;
    uint32_t ext;

    if ((rc = ensure(c, 19, errstr, errstr_size)))
        return rc;
    if (memcmp(c->p, copy_signature, sizeof(copy_signature)))
        return cur_err(c, FERRY_EDECODE, "the COPY data has no binary header", errstr,
                       errstr_size);
    ext = be32(c->p + 15);
    if ((rc = ensure(c, 19 + (size_t)ext, errstr, errstr_size)))
        return rc;
    c->p += 19 + ext;
    c->started = 1;
    return FERRY_OK;
}

static int decode_value(pg_cursor_t *c, size_t i, const uint8_t *v, int32_t len,
                        char *errstr, size_t errstr_size)
{
    ferry_value_t *out = &c->row[i];
    uint64_t bits;

    if (len < 0) {
        out->kind = FERRY_V_NULL;
        return FERRY_OK;
    }
    switch (c->kinds[i]) {
    case COL_INT8:
    case COL_FLOAT8:
        if (len != 8)
            return cur_err(c, FERRY_EDECODE, "a number is not 8 bytes", errstr, errstr_size);
        bits = be64(v);
        if (c->kinds[i] == COL_INT8) {
            out->kind = FERRY_V_INT;
            out->i = (int64_t)bits;
        } else {
            out->kind = FERRY_V_REAL;
            memcpy(&out->d, &bits, sizeof(out->d));
        }
        break;
    case COL_BOOL:
        if (len != 1)
            return cur_err(c, FERRY_EDECODE, "a boolean is not 1 byte", errstr, errstr_size);
        out->kind = FERRY_V_INT;
        out->i = v[0] != 0;
        break;
    case COL_BYTEA:
    case COL_TEXT:
    case COL_STRING:
        out->kind = c->kinds[i] == COL_BYTEA ? FERRY_V_BLOB : FERRY_V_TEXT;
        out->p = v;
        out->n = (size_t)len;
        break;
    }
    return FERRY_OK;
}

static int pg_cursor_next(ferry_cursor_t *base, const ferry_value_t **row, char *errstr,
                          size_t errstr_size)
{
    pg_cursor_t *c = (pg_cursor_t *)base;
    size_t off;
    int rc, len;
    uint16_t nf;

    if (c->done)
        return 0;
    if (!c->s || c->s->copying != c)
        return cur_err(c, FERRY_ESTORE, "the cursor lost its connection", errstr, errstr_size);
    if (c->p == c->end) { /* the next message, straight from libpq */
        ferry_buf_reset(&c->spill);
        if ((rc = next_chunk(c, &len, errstr, errstr_size)) < 0)
            return rc;
        if (rc == 0)
            return cur_err(c, FERRY_EDECODE, "the COPY data ends without its trailer", errstr,
                           errstr_size);
        c->p = (const uint8_t *)c->chunk;
        c->end = c->p + len;
    }
    if (!c->started && (rc = read_header(c, errstr, errstr_size)))
        return rc;
    if ((rc = ensure(c, 2, errstr, errstr_size)))
        return rc;
    nf = (uint16_t)(c->p[0] << 8 | c->p[1]);
    if (nf == 0xffff) { /* the trailer: the COPY must end right after it */
        c->p += 2;
        if ((rc = next_chunk(c, &len, errstr, errstr_size)) < 0)
            return rc;
        if (rc > 0)
            return cur_err(c, FERRY_EDECODE, "data after the COPY trailer", errstr,
                           errstr_size);
        c->done = 1;
        return 0;
    }
    if (nf != c->nfields)
        return cur_err(c, FERRY_EDECODE, "a row has another number of columns", errstr,
                       errstr_size);
    /* the whole row readable first (ensure may move it), then decoded */
    off = 2;
    for (size_t i = 0; i < c->nfields; i++) {
        int32_t vlen;
        if ((rc = ensure(c, off + 4, errstr, errstr_size)))
            return rc;
        vlen = (int32_t)be32(c->p + off);
        off += 4;
        if (vlen < -1)
            return cur_err(c, FERRY_EDECODE, "a value has a negative length", errstr,
                           errstr_size);
        if (vlen > 0 && (rc = ensure(c, off + (size_t)vlen, errstr, errstr_size)))
            return rc;
        if (vlen > 0)
            off += (size_t)vlen;
    }
    off = 2;
    for (size_t i = 0; i < c->nfields; i++) {
        int32_t vlen = (int32_t)be32(c->p + off);
        off += 4;
        if ((rc = decode_value(c, i, c->p + off, vlen, errstr, errstr_size)))
            return rc;
        if (vlen > 0)
            off += (size_t)vlen;
    }
    c->p += off;
    *row = c->row;
    return 1;
}

/* Lets go of the connection: reads the rest away inside a transaction
 * (unless cancel_it), cancels the COPY outside one. */
static void stop_copy(pg_cursor_t *c, int cancel_it)
{
    char *buf = NULL;

    if (cancel_it || c->s->state == PG_IDLE) {
        PGcancel *cancel = PQgetCancel(c->s->conn);
        char msg[256];
        if (cancel) {
            PQcancel(cancel, msg, sizeof(msg));
            PQfreeCancel(cancel);
        }
    }
    while (PQgetCopyData(c->s->conn, &buf, 0) > 0) {
        PQfreemem(buf);
        buf = NULL;
    }
    copy_result(c, NULL, 0);
}

static void pg_cursor_destroy(ferry_cursor_t *base)
{
    pg_cursor_t *c = (pg_cursor_t *)base;

    if (c->s && c->s->copying == c)
        stop_copy(c, 0);
    PQfreemem(c->chunk);
    ferry_buf_free(&c->spill);
    free(c->kinds);
    free(c->row);
    free(c->table);
    free(c);
}

void ferry_pg_cursor_detach(pg_store_t *s)
{
    pg_cursor_t *c = s->copying;

    if (!c)
        return;
    if (PQstatus(s->conn) == CONNECTION_OK)
        stop_copy(c, 1);
    c->s = NULL;
    s->copying = NULL;
}

/* How field f travels, and the expression that selects it. */
static col_kind_t kind_of(const ferry_field_t *f)
{
    if (f->uncarriable)
        return COL_TEXT;
    switch (f->type) {
    case FERRY_T_INTEGER: return COL_INT8;
    case FERRY_T_REAL: return COL_FLOAT8;
    case FERRY_T_BOOLEAN: return COL_BOOL;
    case FERRY_T_BLOB: return COL_BYTEA;
    case FERRY_T_TEXT: return COL_STRING; /* text, varchar(n), char(n) */
    default: return COL_TEXT;
    }
}

static int select_expr(ferry_buf_t *b, const ferry_field_t *f, col_kind_t kind, int order)
{
    static const char *const casts[] = {
        [COL_INT8] = "::pg_catalog.int8", [COL_FLOAT8] = "::pg_catalog.float8",
        [COL_BOOL] = "", [COL_BYTEA] = "", [COL_TEXT] = "::pg_catalog.text",
        [COL_STRING] = "",
    };

    if (ferry_pg_quote_ident(b, f->name) || ferry_buf_puts(b, casts[kind]))
        return FERRY_ENOMEM;
    if (order && (kind == COL_TEXT || kind == COL_STRING) && ferry_buf_puts(b, " COLLATE pg_catalog.\"C\""))
        return FERRY_ENOMEM;
    return FERRY_OK;
}

static int build_copy(pg_store_t *s, const ferry_object_t *obj, const col_kind_t *kinds,
                      ferry_buf_t *sql)
{
    size_t *pk = calloc(obj->nfields + 1, sizeof(*pk)), npk;
    int rc = FERRY_ENOMEM;

    if (!pk)
        return FERRY_ENOMEM;
    npk = ferry_object_pk(obj, pk);
    if (ferry_buf_puts(sql, "COPY (SELECT "))
        goto out;
    for (size_t i = 0; i < obj->nfields; i++)
        if ((i && ferry_buf_puts(sql, ", ")) || select_expr(sql, &obj->fields[i], kinds[i], 0))
            goto out;
    if (ferry_buf_puts(sql, " FROM ") || ferry_buf_puts(sql, s->qschema) ||
        ferry_buf_puts(sql, ".") || ferry_pg_quote_ident(sql, obj->name))
        goto out;
    if ((npk || obj->nfields) && ferry_buf_puts(sql, " ORDER BY "))
        goto out;
    if (npk) {
        for (size_t k = 0; k < npk; k++)
            if ((k && ferry_buf_puts(sql, ", ")) ||
                ferry_pg_quote_ident(sql, obj->fields[pk[k]].name))
                goto out;
    } else {
        for (size_t i = 0; i < obj->nfields; i++)
            if ((i && ferry_buf_puts(sql, ", ")) ||
                select_expr(sql, &obj->fields[i], kinds[i], 1))
                goto out;
    }
    if (ferry_buf_puts(sql, ") TO STDOUT (FORMAT binary)") || ferry_buf_append(sql, "", 1))
        goto out;
    rc = FERRY_OK;
out:
    free(pk);
    return rc;
}

int ferry_pg_cursor_open(pg_store_t *s, const ferry_object_t *obj, ferry_cursor_t **out,
                         char *errstr, size_t errstr_size)
{
    pg_cursor_t *c = calloc(1, sizeof(*c));
    ferry_buf_t sql = FERRY_BUF_INIT;
    PGresult *res = NULL;
    int rc;

    *out = NULL;
    if (!c || !(c->table = strdup(obj->name)) ||
        !(c->kinds = calloc(obj->nfields + 1, sizeof(*c->kinds))) ||
        !(c->row = calloc(obj->nfields + 1, sizeof(*c->row)))) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                        "store %s: reading table %s: out of memory", s->name, obj->name);
        goto fail;
    }
    c->base.next = pg_cursor_next;
    c->base.destroy = pg_cursor_destroy;
    c->nfields = obj->nfields;
    for (size_t i = 0; i < obj->nfields; i++)
        c->kinds[i] = kind_of(&obj->fields[i]);
    if ((rc = ferry_pg_ready(s, "opening a cursor", errstr, errstr_size)))
        goto fail;
    if (build_copy(s, obj, c->kinds, &sql)) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                        "store %s: reading table %s: out of memory", s->name, obj->name);
        goto fail;
    }
    res = PQexec(s->conn, (const char *)sql.data);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        char what[256];
        snprintf(what, sizeof(what), "reading table %s", obj->name);
        rc = ferry_pg_error(s, res, what, errstr, errstr_size);
        goto fail;
    }
    PQclear(res);
    ferry_buf_free(&sql);
    c->s = s;
    s->copying = c;
    *out = &c->base;
    return FERRY_OK;
fail:
    PQclear(res);
    ferry_buf_free(&sql);
    if (c)
        pg_cursor_destroy(&c->base);
    return rc;
}
