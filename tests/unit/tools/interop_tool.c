/* interop_tool.c - ferry's side of test_python_interop.sh, which checks ferry
 * against an independent Avro implementation (Debian's python3-avro, driven
 * by interop.py).
 *
 *   interop_tool canon FILE...  prints "<canonical form>\t<fingerprint hex>"
 *                               per schema file
 *   interop_tool dump DIR       encodes sample rows and envelope messages:
 *                               DIR/<name>.bin (frames: 4-byte big-endian
 *                               length, message), DIR/<name>.json (what the
 *                               messages hold), DIR/<name>.avsc (row
 *                               schemas), DIR/<name>.rows.avsc (the Rows
 *                               schemas ferry publishes around them),
 *                               DIR/manifest.json (what is where)
 *   interop_tool decode DIR     decodes DIR/py_<name>.bin, written by
 *                               python3-avro, into DIR/py_<name>.out.json
 *
 * Rows travel as Rows messages (see rowcodec.h): a table's sample rows are
 * split over the messages its `messages` list says, so that reading several
 * messages of one table, and an empty one, is exercised both ways. In JSON a
 * Rows message is the list of its rows, a row the list of its cells.
 *
 * Values in JSON: envelope fields as in schemas/<Name>.avsc (times in Unix ms,
 * fixed as hex); row cells as {"k": "null"|"int"|"real"|"text"|"blob", "v":
 * integer, or hex of the double's bits, of the UTF-8 or of the bytes}. */
#include "avro_canon.h"
#include "protocol.h"
#include "rowcodec.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "interop_tool: %s: %s\n", what, detail ? detail : "");
    exit(1);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ferry_buf_t b = FERRY_BUF_INIT;
    char chunk[4096];
    size_t n;

    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (ferry_buf_append(&b, chunk, n))
            die("out of memory", path);
    fclose(f);
    if (ferry_buf_append(&b, "", 1))
        die("out of memory", path);
    *len = b.len - 1;
    return (char *)b.data;
}

static void spit(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(data, 1, len, f) != len || fclose(f))
        die("cannot write", path);
}

static void spit_json(const char *dir, const char *name, json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(1) | JSON_ENCODE_ANY);
    if (!text)
        die("cannot serialise", name);
    spit(dir, name, text, strlen(text));
    free(text);
    json_decref(j);
}

/* Appends one frame: 4-byte big-endian length, then the message. */
static void frame(ferry_buf_t *frames, const ferry_buf_t *msg)
{
    uint8_t len[4] = {(uint8_t)(msg->len >> 24), (uint8_t)(msg->len >> 16),
                      (uint8_t)(msg->len >> 8), (uint8_t)msg->len};
    if (ferry_buf_append(frames, len, 4) || ferry_buf_append(frames, msg->data, msg->len))
        die("out of memory", "frame");
}

static json_t *hex(const void *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    json_t *j;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[((const uint8_t *)p)[i] >> 4];
        s[2 * i + 1] = digits[((const uint8_t *)p)[i] & 15];
    }
    s[2 * n] = '\0';
    j = json_string(s);
    free(s);
    return j;
}

static json_t *opt(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *strv(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, opt(v[i]));
    return a;
}

/* ---- rows --------------------------------------------------------------- */

struct col {
    const char *name, *decl;
    int nullable;
};

static const struct col rows_cols[] = {
    {"id", "INTEGER", 0},   {"name", "TEXT", 1},      {"amount", "DECIMAL(10,2)", 1},
    {"whole", "NUMERIC(12)", 1}, {"price", "REAL", 1}, {"flag", "BOOLEAN", 1},
    {"born", "DATE", 1},    {"seen", "TIMESTAMP", 1}, {"data", "BLOB", 1},
    {"any thing", NULL, 1}, {"1st col", "TEXT", 1}, {"tiny", "DECIMAL(38,23)", 1},
};
#define NCOLS (sizeof(rows_cols) / sizeof(rows_cols[0]))

static const struct col order_cols[] = {{"id", "INTEGER", 0}, {"order", "TEXT", 0}};

static uint8_t all_bytes[256];

#define N {FERRY_V_NULL, 0, 0, NULL, 0}
#define I(x) {FERRY_V_INT, (x), 0, NULL, 0}
#define R(x) {FERRY_V_REAL, 0, (x), NULL, 0}
#define T(s) {FERRY_V_TEXT, 0, 0, (s), sizeof(s) - 1}
#define B(s) {FERRY_V_BLOB, 0, 0, (s), sizeof(s) - 1}

static ferry_value_t rows[][NCOLS] = {
    /* every value in its typed branch; "tiny": a decimal whose scale 23 no
     * double power of ten holds, read back exactly only by correct rounding */
    {I(1), T("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e"), R(12.34), I(123456789012LL), R(0.5),
     I(1), I(19000), I(1700000000123LL), B("\0\1\2"), I(42), T("x"), R(7.019261668669645e-08)},
    /* fallbacks: the storage class's own branch; TEXT that is not UTF-8 */
    {I(INT64_MIN), I(5), T("n/a"), R(2.5), T("cheap"), I(2), T("2024-01-01"), R(1.5), T(""),
     R(-0.0), B("\0"), T("\xff\xfe" "A")},
    /* NULLs and doubles with odd bits */
    {I(INT64_MAX), T("\xed\xa0\x80"), N, N, R(NAN), I(0), N, N, B(""), N, N, N},
    {I(-1), T("a\0b"), R(1.005), I(-999999999999LL), R(INFINITY), I(1), I(-719162),
     I(-62135596800000LL), {FERRY_V_BLOB, 0, 0, all_bytes, sizeof(all_bytes)}, B("x"), I(7),
     R(1e-23)},
    {I(0), T(""), R(-99999999.99), I(1000000000000LL), R(-INFINITY), N, I(2932896),
     I(253402300799999LL), N, T("\xc0\x80"), R(5e-324), R(0.1)},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static ferry_value_t order_rows[][2] = {{I(1), T("first")}, {I(2), T("")}};

/* A PostgreSQL table: values in PostgreSQL's text, each type's typed branch
 * and its fallbacks (see rowcodec.h). */
struct pgcol {
    ferry_type_t type;
    int length, scale;
};

static const struct col pg_cols[] = {
    {"id", "bigint", 0},         {"n40", "numeric(40,10)", 1}, {"n5", "numeric(5,0)", 1},
    {"nfree", "numeric", 1},     {"d", "date", 1},             {"t", "time without time zone", 1},
    {"ts", "timestamp without time zone", 1}, {"tz", "timestamp with time zone", 1},
    {"u", "uuid", 1},            {"iv", "interval", 1},        {"j", "jsonb", 1},
    {"e", "mood", 1},            {"a", "integer[]", 1},
};
static const struct pgcol pg_types[] = {
    {FERRY_T_INTEGER, 0, 0}, {FERRY_T_NUMERIC, 40, 10}, {FERRY_T_NUMERIC, 5, 0},
    {FERRY_T_NUMERIC, 0, 0}, {FERRY_T_DAY, 0, 0},       {FERRY_T_TIME, 0, 0},
    {FERRY_T_DATETIME, 0, 0}, {FERRY_T_TIMESTAMPTZ, 0, 0}, {FERRY_T_UUID, 0, 0},
    {FERRY_T_INTERVAL, 0, 0}, {FERRY_T_JSON, 0, 0},     {FERRY_T_ENUM, 0, 0},
    {FERRY_T_ARRAY, 0, 0},
};
#define NPGCOLS (sizeof(pg_cols) / sizeof(pg_cols[0]))

static ferry_value_t pg_rows[][NPGCOLS] = {
    /* every value in its typed branch */
    {I(1), T("123456789012345678901234567890.0123456789"), T("-12345"),
     T("0.00100000000000000000"), T("2024-02-29"), T("12:34:56.5"),
     T("1969-12-31 23:59:59.999999"), T("2024-01-01 12:00:00+00"),
     T("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), T("1 day 02:00:00"), T("{\"a\": [1, 2.50]}"),
     T("happy"), T("{1,NULL,3}")},
    /* edges of the typed branches */
    {I(2), T("-0.0000000001"), T("0"), T("NaN"), T("0001-01-01"), T("00:00:00"),
     T("0001-01-01 00:00:00"), T("9999-12-31 23:59:59.999999+00"),
     T("00000000-0000-0000-0000-000000000000"), T("-00:00:01"), T("123"), T("sad"), T("{}")},
    /* no exact logical value: text, or the storage class's own branch */
    {I(3), T("NaN"), T("Infinity"), T("Infinity"), T("0044-03-15 BC"), T("24:00:00"),
     T("infinity"), T("-infinity"), T("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), T("\xff"),
     T("null"), T("\xfe"), T("{\"a b\"}")},
    {I(4), B("\0\1"), I(7), R(1.5), T("10000-01-01"), I(-5), R(2.5), I(8),
     B("u"), N, N, N, N},
    {I(5), N, N, N, N, N, N, N, N, N, N, N, N},
};
#define NPGROWS (sizeof(pg_rows) / sizeof(pg_rows[0]))
static const size_t pg_split[] = {2, NPGROWS - 2};

/* Rows per Rows message of each table, in order; they add up to its rows. */
static const size_t rows_split[] = {3, NROWS - 3};
static const size_t order_split[] = {2, 0};

static struct table {
    const char *name;
    const struct col *cols;
    size_t ncols;
    ferry_value_t *rows;
    size_t nrows;
    const size_t *messages;
    size_t nmessages;
    ferry_objset_t *set;
    ferry_rowcodec_t *codec;
    const struct pgcol *pg; /* a PostgreSQL table's ferry types; NULL: SQLite's */
} tables[] = {
    {"interop rows", rows_cols, NCOLS, &rows[0][0], NROWS, rows_split, 2, NULL, NULL, NULL},
    {"Order", order_cols, 2, &order_rows[0][0], 2, order_split, 2, NULL, NULL, NULL},
    {"pg types", pg_cols, NPGCOLS, &pg_rows[0][0], NPGROWS, pg_split, 2, NULL, NULL, pg_types},
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

static void open_tables(void)
{
    char err[256];
    /* A quiet NaN with a payload: the bits must survive, not just NaN-ness. */
    uint64_t nan_bits = 0x7ff8000000000123ULL;

    memcpy(&rows[2][4].d, &nan_bits, 8);
    for (size_t i = 0; i < sizeof(all_bytes); i++)
        all_bytes[i] = (uint8_t)i;
    for (size_t t = 0; t < NTABLES; t++) {
        ferry_object_t *obj;
        tables[t].set = ferry_objset_new();
        obj = ferry_objset_add(tables[t].set, tables[t].name);
        for (size_t i = 0; i < tables[t].ncols; i++)
            if (ferry_object_add_field(obj, tables[t].cols[i].name, tables[t].cols[i].decl,
                                       tables[t].cols[i].nullable, NULL, i == 0))
                die("cannot build", tables[t].name);
        if (tables[t].pg) {
            static const char *const moods[] = {"sad", "ok", "happy"};
            obj->dialect = FERRY_DIALECT_POSTGRESQL;
            for (size_t i = 0; i < tables[t].ncols; i++) {
                obj->fields[i].type = tables[t].pg[i].type;
                obj->fields[i].length = tables[t].pg[i].length;
                obj->fields[i].scale = tables[t].pg[i].scale;
            }
            obj->fields[0].identity = FERRY_IDENTITY_BY_DEFAULT;
            if (ferry_field_set_labels(&obj->fields[11], moods, 3))
                die("cannot build", tables[t].name);
        }
        if (t == 0) {
            /* Keys and relations, for TableMetadata. */
            const char *uniq[] = {"name", "1st col"}, *from[] = {"whole"}, *to[] = {"id"};
            const char *colls[] = {"NOCASE", NULL};
            const int desc[] = {1, 0};
            if (ferry_object_add_unique(obj, uniq, 2) ||
                ferry_object_add_relation(obj, "Order", from, to, 1, FERRY_REL_INCLUDE,
                                          "CASCADE") ||
                ferry_object_add_relation(obj, "User", from, NULL, 1, FERRY_REL_ASSOCIATION,
                                          NULL) ||
                ferry_object_add_index(obj, "ix \"1\"", 1, uniq, desc, colls, 2) ||
                ferry_object_add_not_carried(obj, "partial index \"p\"") ||
                ferry_object_set_collation(&obj->fields[1], "NOCASE"))
                die("cannot build", tables[t].name);
            obj->relations[0].deferrable = FERRY_DEFER_DEFERRED;
        }
        if (ferry_rowcodec_new(obj, &tables[t].codec, err, sizeof(err)))
            die(tables[t].name, err);
    }
}

static json_t *cell(const ferry_value_t *v)
{
    static const char *const kinds[] = {"null", "int", "real", "text", "blob"};
    json_t *c = json_pack("{s:s}", "k", kinds[v->kind]);
    if (v->kind == FERRY_V_INT)
        json_object_set_new(c, "v", json_integer(v->i));
    else if (v->kind == FERRY_V_REAL) {
        uint8_t be[8];
        uint64_t bits;
        memcpy(&bits, &v->d, 8);
        for (int k = 0; k < 8; k++)
            be[k] = (uint8_t)(bits >> (56 - 8 * k));
        json_object_set_new(c, "v", hex(be, 8));
    } else if (v->kind != FERRY_V_NULL)
        json_object_set_new(c, "v", hex(v->p, v->n));
    return c;
}

static json_t *row_json(const ferry_value_t *row, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, cell(&row[i]));
    return a;
}

/* ---- envelopes: samples and their JSON ----------------------------------- */

static json_t *request_json(const ferry_request_t *q)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:o, s:I}", "export_id", q->export_id,
                     "source", q->source, "target", q->target, "objects",
                     strv(q->objects, q->nobjects), "content", ferry_content_name(q->content),
                     "requested_at", (json_int_t)q->requested_at_ms, "schedule_id",
                     opt(q->schedule_id), "due", (json_int_t)q->due_ms);
}

static json_t *export_begin_json(const ferry_export_begin_t *m)
{
    json_t *tables_j = json_array(), *assocs = json_array();
    for (size_t i = 0; i < m->ntables; i++)
        json_array_append_new(tables_j, json_pack("{s:s, s:o, s:i}", "name", m->tables[i].name,
                                                  "pulled_by", opt(m->tables[i].pulled_by),
                                                  "group", m->tables[i].group));
    for (size_t i = 0; i < m->nassocs; i++)
        json_array_append_new(assocs, json_pack("{s:s, s:s}", "from", m->assocs[i].from, "to",
                                                m->assocs[i].to));
    return json_pack("{s:s, s:o, s:o, s:o, s:i, s:s}", "export_id", m->export_id, "request",
                     request_json(m->request), "tables", tables_j, "associations", assocs,
                     "groups", m->ngroups, "attempt", m->attempt ? m->attempt : "");
}

static json_t *part_begin_json(const ferry_part_begin_t *m)
{
    return json_pack("{s:s, s:s, s:i, s:I, s:s}", "export_id", m->export_id, "attempt",
                     m->attempt, "part", m->part, "rows", (json_int_t)m->rows, "checksum",
                     m->checksum);
}

static json_t *export_abort_json(const ferry_export_abort_t *m)
{
    return json_pack("{s:s, s:s, s:s}", "export_id", m->export_id, "attempt", m->attempt,
                     "reason", m->reason);
}

static json_t *table_metadata_json(const ferry_table_metadata_t *m)
{
    const ferry_object_t *o = m->object;
    json_t *fields = json_array(), *uniques = json_array(), *rels = json_array();
    json_t *indexes = json_array();
    static const char *const defer[] = {"no", "immediate", "deferred"};
    static const char *const identity[] = {"none", "always", "by_default", "serial"};
    uint8_t fp[8];

    for (size_t i = 0; i < o->nfields; i++) {
        const ferry_field_t *f = &o->fields[i];
        json_array_append_new(fields, json_pack("{s:s, s:s, s:s, s:b, s:o, s:i, s:i, s:i, s:o, "
                                                "s:s, s:o}",
                                                "name", f->name, "decl_type", f->decl_type,
                                                "type", ferry_type_name(f->type), "nullable",
                                                f->nullable, "default_sql", opt(f->default_sql),
                                                "length", f->length, "scale", f->scale, "pk_pos",
                                                f->pk_pos, "collation", opt(f->collation),
                                                "identity", identity[f->identity], "labels",
                                                strv(f->labels, f->nlabels)));
    }
    for (size_t i = 0; i < o->nuniques; i++)
        json_array_append_new(uniques, json_pack("{s:o}", "fields",
                                                 strv(o->uniques[i].fields, o->uniques[i].nfields)));
    for (size_t i = 0; i < o->nrelations; i++) {
        const ferry_relation_t *r = &o->relations[i];
        json_array_append_new(rels, json_pack("{s:s, s:o, s:o, s:s, s:o, s:s}", "target",
                                              r->target, "fields", strv(r->fields, r->nfields),
                                              "to_fields", strv(r->to_fields, r->nfields), "kind",
                                              r->kind == FERRY_REL_INCLUDE ? "include"
                                                                           : "association",
                                              "on_delete", opt(r->on_delete), "deferrable",
                                              defer[r->deferrable]));
    }
    for (size_t i = 0; i < o->nindexes; i++) {
        const ferry_index_t *x = &o->indexes[i];
        json_t *cols = json_array();
        for (size_t k = 0; k < x->ncols; k++)
            json_array_append_new(cols, json_pack("{s:s, s:b, s:o}", "name", x->cols[k].name,
                                                  "desc", x->cols[k].desc, "collation",
                                                  opt(x->cols[k].collation)));
        json_array_append_new(indexes, json_pack("{s:s, s:b, s:o}", "name", x->name, "unique",
                                                 x->unique, "columns", cols));
    }
    for (int k = 0; k < 8; k++)
        fp[k] = (uint8_t)(m->fingerprint >> (8 * k));
    return json_pack("{s:s, s:i, s:{s:s, s:o, s:o, s:o, s:b, s:o, s:o, s:s}, s:s, s:o, s:b}",
                     "export_id", m->export_id, "group", m->group, "object", "name", o->name,
                     "fields", fields, "uniques", uniques, "relations", rels, "without_rowid",
                     o->without_rowid, "indexes", indexes, "not_carried",
                     strv(o->not_carried, o->nnot_carried), "dialect",
                     o->dialect == FERRY_DIALECT_POSTGRESQL ? "postgresql" : "sqlite",
                     "row_schema", m->row_schema_json, "row_fingerprint", hex(fp, 8),
                     "with_rows", m->with_rows);
}

static json_t *table_end_json(const ferry_table_end_t *m)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "export_id", m->export_id, "table", m->table,
                     "rows", (json_int_t)m->rows, "checksum", m->checksum);
}

static json_t *export_end_json(const ferry_export_end_t *m)
{
    return json_pack("{s:s, s:i, s:I, s:s}", "export_id", m->export_id, "tables", m->tables,
                     "rows", (json_int_t)m->rows, "checksum", m->checksum);
}

static json_t *status_json(const ferry_status_t *m)
{
    json_t *stats = json_array();
    for (size_t i = 0; i < m->ntable_stats; i++)
        json_array_append_new(stats, json_pack("{s:s, s:I, s:I, s:I}", "table",
                                               m->table_stats[i].table, "rows",
                                               (json_int_t)m->table_stats[i].rows, "inserted",
                                               (json_int_t)m->table_stats[i].inserted, "updated",
                                               (json_int_t)m->table_stats[i].updated));
    return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:i, s:I, s:I, s:I, s:o, s:o}", "export_id",
                     m->export_id, "state", ferry_status_state_name(m->state), "at",
                     (json_int_t)m->at_ms, "component", m->component, "source", opt(m->source),
                     "target", opt(m->target), "tables", m->tables, "rows", (json_int_t)m->rows,
                     "bytes", (json_int_t)m->bytes, "duration_ms", (json_int_t)m->duration_ms,
                     "reason", opt(m->reason), "table_stats", stats);
}

static json_t *schedule_json(const ferry_schedule_t *m)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:o, s:I, s:I}", "id", m->id, "source",
                     m->source, "target", m->target, "objects", strv(m->objects, m->nobjects),
                     "content", ferry_content_name(m->content), "every_ms",
                     (json_int_t)m->every_ms, "from", (json_int_t)m->from_ms, "cron",
                     opt(m->cron), "at", (json_int_t)m->at_ms, "created",
                     (json_int_t)m->created_ms);
}

static char *objs[] = {"Queue", "Pro\xc3\xa9" "file \xe2\x9c\x93"};
static ferry_request_t sample_request = {"exp-1", "dev", "prod", objs, 2, FERRY_CONTENT_METADATA,
                                         1700000000123LL, "nightly", 1699999200000LL};

/* Encodes sample k of message type t into msg and returns its JSON; NULL when
 * there is no such sample. */
static json_t *envelope_sample(ferry_msg_type_t t, int k, ferry_buf_t *msg)
{
    static ferry_plan_table_t ptables[] = {{"Queue", NULL, 0}, {"Role", "Queue", 1}};
    static ferry_plan_assoc_t passocs[] = {{"Role", "User"}};
    static ferry_table_stat_t stats[] = {{"Queue", 10, 8, 2}};
    ferry_request_t one_off = {"one-off", "dev", "prod", objs, 1, FERRY_CONTENT_ALL, 0, NULL, 0};
    ferry_export_begin_t eb = {"exp-1", &sample_request, ptables, 2, passocs, 1, 2, "0123abcd0123abcd"};
    ferry_table_end_t te = {"exp-1", "Ord\xc3\xa9r", 123456789012LL, "0123456789abcdef"};
    ferry_export_end_t ee = {"exp-1", 2, 5, "fedcba9876543210"};
    ferry_part_begin_t pb = {"exp-1", "0123abcd0123abcd", 2, 123456789012LL, "fedcba9876543210"};
    ferry_export_abort_t ea = {"exp-1", "0123abcd0123abcd", "gave up after 8 attempts: Ord\xc3\xa9r"};
    ferry_status_t st = {"exp-1", FERRY_STATUS_FAILED, 1700000000999LL, "import:prod", "dev",
                         NULL, 2, 7, 4096, 250, "parent row missing", stats, 1};
    ferry_schedule_t sc = {"nightly", "dev", "prod", objs, 2, FERRY_CONTENT_DATA, 0, 0,
                           "0 0 2 * * *", 0, 1700000000000LL};
    ferry_schedule_t every = {"every-5m", "dev", "prod", objs, 1, FERRY_CONTENT_ALL, 300000,
                              1700000000000LL, NULL, 0, 1};
    ferry_table_metadata_t tm = {"exp-1", 1, NULL, NULL, NULL, 0, 1};
    char err[256];
    int rc = -1;
    json_t *j = NULL;

    switch (t) {
    case FERRY_MSG_REQUEST:
        if (k > 1)
            return NULL;
        rc = ferry_request_encode(k ? &one_off : &sample_request, msg, err, sizeof(err));
        j = request_json(k ? &one_off : &sample_request);
        break;
    case FERRY_MSG_EXPORT_BEGIN:
        if (k > 0)
            return NULL;
        rc = ferry_export_begin_encode(&eb, msg, err, sizeof(err));
        j = export_begin_json(&eb);
        break;
    case FERRY_MSG_TABLE_METADATA: {
        const ferry_object_t *o;
        if (k >= (int)NTABLES)
            return NULL;
        o = ferry_objset_at(tables[k].set, 0);
        tm.object = o;
        tm.row_schema_json = (char *)ferry_rowcodec_schema_json(tables[k].codec);
        tm.fingerprint = ferry_rowcodec_fingerprint(tables[k].codec);
        rc = ferry_table_metadata_encode(&tm, msg, err, sizeof(err));
        j = table_metadata_json(&tm);
        break;
    }
    case FERRY_MSG_TABLE_END:
        if (k > 0)
            return NULL;
        rc = ferry_table_end_encode(&te, msg, err, sizeof(err));
        j = table_end_json(&te);
        break;
    case FERRY_MSG_EXPORT_END:
        if (k > 0)
            return NULL;
        rc = ferry_export_end_encode(&ee, msg, err, sizeof(err));
        j = export_end_json(&ee);
        break;
    case FERRY_MSG_STATUS:
        if (k > 0)
            return NULL;
        rc = ferry_status_encode(&st, msg, err, sizeof(err));
        j = status_json(&st);
        break;
    case FERRY_MSG_SCHEDULE:
        if (k > 1)
            return NULL;
        rc = ferry_schedule_encode(k ? &every : &sc, msg, err, sizeof(err));
        j = schedule_json(k ? &every : &sc);
        break;
    case FERRY_MSG_PART_BEGIN:
        if (k > 0)
            return NULL;
        rc = ferry_part_begin_encode(&pb, msg, err, sizeof(err));
        j = part_begin_json(&pb);
        break;
    case FERRY_MSG_EXPORT_ABORT:
        if (k > 0)
            return NULL;
        rc = ferry_export_abort_encode(&ea, msg, err, sizeof(err));
        j = export_abort_json(&ea);
        break;
    default:
        return NULL;
    }
    if (rc)
        die(ferry_msg_type_name(t), err);
    return j;
}

static const ferry_msg_type_t envelopes[] = {
    FERRY_MSG_REQUEST,   FERRY_MSG_EXPORT_BEGIN, FERRY_MSG_TABLE_METADATA, FERRY_MSG_TABLE_END,
    FERRY_MSG_EXPORT_END, FERRY_MSG_STATUS,      FERRY_MSG_SCHEDULE,     FERRY_MSG_PART_BEGIN,
    FERRY_MSG_EXPORT_ABORT,
};
#define NENVELOPES (sizeof(envelopes) / sizeof(envelopes[0]))

/* ---- modes -------------------------------------------------------------- */

static int canon(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        ferry_buf_t b = FERRY_BUF_INIT;
        size_t len;
        char err[256], *text = slurp(argv[i], &len);
        if (!text)
            die("cannot read", argv[i]);
        if (ferry_avro_canonical_form(text, &b, err, sizeof(err)))
            die(argv[i], err);
        printf("%.*s\t%016llx\n", (int)b.len, b.data,
               (unsigned long long)ferry_avro_crc64(b.data, b.len));
        ferry_buf_free(&b);
        free(text);
    }
    return 0;
}

static int dump(const char *dir)
{
    json_t *manifest = json_array();
    ferry_buf_t msg = FERRY_BUF_INIT, frames = FERRY_BUF_INIT, bodies = FERRY_BUF_INIT;
    char name[256], file[300], err[256];

    for (size_t t = 0; t < NTABLES; t++) {
        json_t *expect = json_array();
        const char *schema = ferry_rowcodec_schema_json(tables[t].codec);
        const char *rows_schema = ferry_rowcodec_rows_schema_json(tables[t].codec);
        size_t r = 0;

        snprintf(name, sizeof(name), "rows_%zu", t);
        ferry_buf_reset(&frames);
        for (size_t m = 0; m < tables[t].nmessages; m++) {
            json_t *in_msg = json_array();
            size_t end = r + tables[t].messages[m];
            if (end > tables[t].nrows)
                die(tables[t].name, "more rows in its messages than in the table");
            ferry_buf_reset(&bodies);
            for (; r < end; r++) {
                const ferry_value_t *row = tables[t].rows + r * tables[t].ncols;
                if (ferry_rowcodec_encode(tables[t].codec, row, &bodies, err, sizeof(err)))
                    die(tables[t].name, err);
                json_array_append_new(in_msg, row_json(row, tables[t].ncols));
            }
            ferry_buf_reset(&msg);
            if (ferry_rowcodec_frame_rows(tables[t].codec, tables[t].messages[m], bodies.data,
                                          bodies.len, &msg, err, sizeof(err)))
                die(tables[t].name, err);
            frame(&frames, &msg);
            json_array_append_new(expect, in_msg);
        }
        if (r != tables[t].nrows)
            die(tables[t].name, "rows left out of its messages");
        snprintf(file, sizeof(file), "%s.avsc", name);
        spit(dir, file, schema, strlen(schema));
        snprintf(file, sizeof(file), "%s.rows.avsc", name);
        spit(dir, file, rows_schema, strlen(rows_schema));
        snprintf(file, sizeof(file), "%s.bin", name);
        spit(dir, file, frames.data, frames.len);
        snprintf(file, sizeof(file), "%s.json", name);
        spit_json(dir, file, expect);
        json_array_append_new(manifest, json_pack("{s:s, s:s, s:i}", "kind", "rows", "name", name,
                                                  "table", (int)t));
    }
    for (size_t e = 0; e < NENVELOPES; e++) {
        json_t *j;
        for (int k = 0; ferry_buf_reset(&msg), (j = envelope_sample(envelopes[e], k, &msg)); k++) {
            snprintf(name, sizeof(name), "env_%s_%d", ferry_msg_type_name(envelopes[e]), k);
            ferry_buf_reset(&frames);
            frame(&frames, &msg);
            snprintf(file, sizeof(file), "%s.bin", name);
            spit(dir, file, frames.data, frames.len);
            snprintf(file, sizeof(file), "%s.json", name);
            spit_json(dir, file, json_pack("[o]", j));
            json_array_append_new(manifest, json_pack("{s:s, s:s, s:s}", "kind", "envelope",
                                                      "name", name, "type",
                                                      ferry_msg_type_name(envelopes[e])));
        }
    }
    spit_json(dir, "manifest.json", manifest);
    ferry_buf_free(&msg);
    ferry_buf_free(&frames);
    ferry_buf_free(&bodies);
    return 0;
}

/* Decodes one message of manifest entry `entry` into its JSON. */
static json_t *decode_one(json_t *entry, const uint8_t *p, size_t len)
{
    const char *kind = json_string_value(json_object_get(entry, "kind"));
    ferry_msg_type_t t = ferry_msg_type_from_name(json_string_value(json_object_get(entry, "type")));
    char err[256] = "";
    json_t *j = NULL;
    void *m = NULL;

    if (!strcmp(kind, "rows")) {
        struct table *tb = &tables[json_integer_value(json_object_get(entry, "table"))];
        const ferry_value_t *row;
        int rc;
        if (ferry_rowcodec_rows_open(tb->codec, p, len, err, sizeof(err)))
            die(tb->name, err);
        j = json_array();
        while ((rc = ferry_rowcodec_rows_next(tb->codec, &row, err, sizeof(err))) == 1)
            json_array_append_new(j, row_json(row, tb->ncols));
        if (rc)
            die(tb->name, err);
        return j;
    }
#define DECODE(type, decode, to_json, free_fn)                                  \
    if (decode(p, len, (type **)&m, err, sizeof(err)))                          \
        die(ferry_msg_type_name(t), err);                                       \
    j = to_json(m);                                                             \
    free_fn(m);
    switch (t) {
    case FERRY_MSG_REQUEST:
        DECODE(ferry_request_t, ferry_request_decode, request_json, ferry_request_free);
        break;
    case FERRY_MSG_EXPORT_BEGIN:
        DECODE(ferry_export_begin_t, ferry_export_begin_decode, export_begin_json,
               ferry_export_begin_free);
        break;
    case FERRY_MSG_TABLE_METADATA:
        DECODE(ferry_table_metadata_t, ferry_table_metadata_decode, table_metadata_json,
               ferry_table_metadata_free);
        break;
    case FERRY_MSG_TABLE_END:
        DECODE(ferry_table_end_t, ferry_table_end_decode, table_end_json, ferry_table_end_free);
        break;
    case FERRY_MSG_EXPORT_END:
        DECODE(ferry_export_end_t, ferry_export_end_decode, export_end_json,
               ferry_export_end_free);
        break;
    case FERRY_MSG_STATUS:
        DECODE(ferry_status_t, ferry_status_decode, status_json, ferry_status_free);
        break;
    case FERRY_MSG_SCHEDULE:
        DECODE(ferry_schedule_t, ferry_schedule_decode, schedule_json, ferry_schedule_free);
        break;
    case FERRY_MSG_PART_BEGIN:
        DECODE(ferry_part_begin_t, ferry_part_begin_decode, part_begin_json,
               ferry_part_begin_free);
        break;
    case FERRY_MSG_EXPORT_ABORT:
        DECODE(ferry_export_abort_t, ferry_export_abort_decode, export_abort_json,
               ferry_export_abort_free);
        break;
    default:
        die("unknown message type in manifest", json_string_value(json_object_get(entry, "type")));
    }
#undef DECODE
    return j;
}

static int decode(const char *dir)
{
    char path[1024], file[300];
    size_t len, i;
    char *text;
    json_t *manifest, *entry;

    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    if (!(text = slurp(path, &len)) || !(manifest = json_loads(text, 0, NULL)))
        die("cannot read", path);
    free(text);
    json_array_foreach(manifest, i, entry) {
        const char *name = json_string_value(json_object_get(entry, "name"));
        json_t *out = json_array();
        size_t off = 0;
        uint8_t *data;

        snprintf(path, sizeof(path), "%s/py_%s.bin", dir, name);
        if (!(data = (uint8_t *)slurp(path, &len)))
            die("cannot read", path);
        while (off + 4 <= len) {
            size_t n = (size_t)data[off] << 24 | (size_t)data[off + 1] << 16 |
                       (size_t)data[off + 2] << 8 | data[off + 3];
            if (n > len - off - 4)
                die("bad frame in", path);
            json_array_append_new(out, decode_one(entry, data + off + 4, n));
            off += 4 + n;
        }
        free(data);
        snprintf(file, sizeof(file), "py_%s.out.json", name);
        spit_json(dir, file, out);
    }
    json_decref(manifest);
    return 0;
}

static void close_tables(void)
{
    for (size_t t = 0; t < NTABLES; t++) {
        ferry_rowcodec_destroy(tables[t].codec);
        ferry_objset_destroy(tables[t].set);
    }
}

int main(int argc, char **argv)
{
    int rc = 2;

    if (argc >= 3 && !strcmp(argv[1], "canon"))
        return canon(argc - 2, argv + 2);
    open_tables();
    if (argc == 3 && !strcmp(argv[1], "dump"))
        rc = dump(argv[2]);
    else if (argc == 3 && !strcmp(argv[1], "decode"))
        rc = decode(argv[2]);
    else
        fprintf(stderr, "usage: interop_tool canon FILE... | dump DIR | decode DIR\n");
    close_tables();
    return rc;
}
