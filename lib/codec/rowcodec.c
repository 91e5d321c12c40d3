/* rowcodec.c - row schemas and the hand-written Avro binary encoding of rows
 * (see rowcodec.h).
 *
 * Each field keeps a small table built once from its column: the encoding of
 * each union branch, the branch that carries each storage class, and the typed
 * branch of boolean, date and decimal columns and of PostgreSQL's numeric,
 * date, time, timestamp, timestamptz and uuid columns, whose use depends on
 * the value (for text, integer, real, blob and timestamp columns the typed
 * branch is simply the branch of its storage class). Encoding a row is then one reserve
 * of an upper bound and straight writes; decoding is one bounds-checked pass
 * over the message that leaves values pointing into it. */
#include "rowcodec.h"

#include "avro_canon.h"
#include "error.h"
#include "pgtext.h"
#include "utf8.h"

#include <avro.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a union branch's value is written. */
enum enc {
    ENC_NULL = 0,
    ENC_LONG,     /* long, and long/timestamp-millis: FERRY_V_INT */
    ENC_DOUBLE,   /* FERRY_V_REAL */
    ENC_STRING,   /* FERRY_V_TEXT */
    ENC_BYTES,    /* FERRY_V_BLOB */
    ENC_BOOLEAN,  /* FERRY_V_INT 0 or 1 */
    ENC_DATE,     /* int/date: FERRY_V_INT within 32 bits */
    ENC_DECIMAL,  /* fixed(16)/decimal: FERRY_V_INT (scale 0) or FERRY_V_REAL (scale > 0) */
    ENC_TEXT_BYTES, /* record {value: bytes}: FERRY_V_TEXT that is not valid UTF-8 */
    /* PostgreSQL's types: FERRY_V_TEXT in PostgreSQL's canonical output (pgtext.h) */
    ENC_NUMERIC,    /* bytes/decimal(p,s) */
    ENC_PG_DATE,    /* int/date */
    ENC_PG_TIME,    /* long/time-micros */
    ENC_PG_TIMESTAMP,   /* long/local-timestamp-micros */
    ENC_PG_TIMESTAMPTZ, /* long/timestamp-micros */
    ENC_UUID,       /* string/uuid */
};

#define MAX_BRANCHES 7
#define NKINDS (FERRY_V_BLOB + 1)
#define DECIMAL_SIZE 16
#define DECIMAL_MAX_PRECISION 38
/* The schema of a Rows message around the row schema. */
#define ROWS_JSON_HEAD "{\"type\":\"array\",\"items\":"
#define ROWS_JSON_TAIL "}"

struct rc_field {
    const ferry_field_t *col;
    char *avro_name;
    uint8_t nbranches;
    uint8_t enc[MAX_BRANCHES];
    int8_t by_kind[NKINDS]; /* branch of each storage class; -1: none (NULL, NOT NULL column) */
    int8_t typed;           /* boolean/date/decimal or PostgreSQL type's branch, used when
                             * the value fits; else -1 */
    int8_t text_bytes;      /* the branch of TEXT whose bytes are not UTF-8 */
    int scale;              /* decimal */
    double pow10;           /* decimal: 10^scale */
    int64_t max_unscaled;   /* decimal: 10^precision, or 0 when every int64 fits */
    int precision;          /* numeric */
    char *text;             /* PostgreSQL's types: the text a typed branch decodes to */
};

struct ferry_rowcodec {
    const ferry_object_t *obj;
    struct rc_field *fields;
    ferry_value_t *values;
    char *record_name;
    char *text_bytes_name;      /* fullname of the record of TEXT that is not UTF-8 */
    int text_bytes_defined;     /* whether a field's union already defines it */
    /* Fullnames of the records {value: long|string|bytes} that carry a storage
     * class whose Avro type a field's typed branch already is, and whether a
     * union defines them yet (indexed by storage class). */
    char *wrap_name[NKINDS];
    int wrap_defined[NKINDS];
    char *schema_json;
    uint64_t fp;
    char *rows_json;            /* {"type":"array","items":<row schema>} */
    uint64_t rows_fp;
    /* The Rows message being read (ferry_rowcodec_rows_open/next). */
    ferry_avro_reader_t rows;
    size_t rows_block_left;     /* rows left in the current block */
    size_t rows_block_end;      /* offset where the current block must end, or 0 */
    size_t rows_read;
    enum { ROWS_NONE, ROWS_OPEN, ROWS_FAILED } rows_state;
};

/* ---- names ------------------------------------------------------------- */

/* The Avro name of an arbitrary name: invalid bytes become '_', a leading digit
 * gets a '_' before it, and a name that changed (or force) gets "_" and 8 hex
 * digits of its CRC-64-AVRO. New string or NULL. */
static char *avro_name_of(const char *name, int force)
{
    size_t n = strlen(name);
    char *s = malloc(n + 2 + 9), *q = s;
    int changed = force;

    if (!s)
        return NULL;
    if (n == 0 || (name[0] >= '0' && name[0] <= '9')) {
        *q++ = '_';
        changed = 1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                 (ch >= '0' && ch <= '9') || ch == '_';
        *q++ = ok ? ch : '_';
        changed |= !ok;
    }
    if (changed)
        q += sprintf(q, "_%08x", (unsigned)(ferry_avro_crc64(name, n) & 0xffffffffu));
    *q = '\0';
    return s;
}

static int name_taken(const struct rc_field *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (fields[i].avro_name && !strcmp(fields[i].avro_name, name))
            return 1;
    return 0;
}

/* Field names: valid column names are kept as they are (first pass, so that
 * they never move because of another column); the others, and any duplicate,
 * are mapped, and a mapping that still collides gets the first free of "_2",
 * "_3"... Names are only ever added, so a suffix found taken stays taken: the
 * search for a base resumes where its last one stopped (bases[]), which keeps
 * hostile metadata (2000 columns mapping to one base) quadratic, not cubic. */
static int assign_field_names(ferry_rowcodec_t *c)
{
    size_t n = c->obj->nfields, nbases = 0;
    struct {
        char *base;
        unsigned next; /* the next suffix to try */
    } *bases = calloc(n ? n : 1, sizeof(*bases));
    int rc = FERRY_OK;

    if (!bases)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *name = c->obj->fields[i].name;
        if (ferry_avro_name_valid(name) && !name_taken(c->fields, n, name) &&
            !(c->fields[i].avro_name = strdup(name))) {
            rc = FERRY_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char *base, *name;
        size_t b;
        if (c->fields[i].avro_name)
            continue;
        if (!(base = avro_name_of(c->obj->fields[i].name, 1)) ||
            !(name = malloc(strlen(base) + 12))) {
            free(base);
            rc = FERRY_ENOMEM;
            goto out;
        }
        for (b = 0; b < nbases && strcmp(bases[b].base, base); b++)
            ;
        if (b == nbases) {
            bases[nbases].base = base;
            bases[nbases++].next = 2;
        } else {
            free(base);
        }
        strcpy(name, bases[b].base);
        if (bases[b].next > 2 || name_taken(c->fields, n, name)) {
            do
                sprintf(name, "%s_%u", bases[b].base, bases[b].next++);
            while (name_taken(c->fields, n, name));
        }
        c->fields[i].avro_name = name;
    }
out:
    for (size_t b = 0; b < nbases; b++)
        free(bases[b].base);
    free(bases);
    return rc;
}

/* PostgreSQL's types with a standard logical type on a primitive Avro type:
 * the text a store gives is parsed into it when it formats back to the same
 * bytes (pgtext.h). carrier: the storage class whose Avro type the logical
 * one is built on (-1: one no fallback branch uses); text_size: the buffer
 * decoding formats into. */
static const struct pg_logical {
    ferry_type_t type;
    const char *avro, *logical;
    enum enc enc;
    int carrier;
    size_t text_size;
} pg_logicals[] = {
    {FERRY_T_DAY, "int", "date", ENC_PG_DATE, -1, FERRY_PGTEXT_DATE_LEN},
    {FERRY_T_TIME, "long", "time-micros", ENC_PG_TIME, FERRY_V_INT, FERRY_PGTEXT_TIME_MAX},
    /* a timestamp without time zone: see rowcodec.h for the choice */
    {FERRY_T_DATETIME, "long", "local-timestamp-micros", ENC_PG_TIMESTAMP, FERRY_V_INT,
     FERRY_PGTEXT_TIMESTAMP_MAX},
    {FERRY_T_TIMESTAMPTZ, "long", "timestamp-micros", ENC_PG_TIMESTAMPTZ, FERRY_V_INT,
     FERRY_PGTEXT_TIMESTAMP_MAX},
    {FERRY_T_UUID, "string", "uuid", ENC_UUID, FERRY_V_TEXT, 0},
};

static const struct pg_logical *pg_logical_of(ferry_type_t type)
{
    for (size_t i = 0; i < sizeof(pg_logicals) / sizeof(pg_logicals[0]); i++)
        if (pg_logicals[i].type == type)
            return &pg_logicals[i];
    return NULL;
}

/* ---- schema ------------------------------------------------------------ */

/* Sets up f's branches for its column and returns its JSON type (a union), or
 * NULL on ENOMEM. */
static json_t *field_branches(ferry_rowcodec_t *c, struct rc_field *f)
{
    static const struct {
        ferry_vkind_t kind;
        enum enc enc;
        const char *avro;
    } fallbacks[] = {{FERRY_V_INT, ENC_LONG, "long"},
                     {FERRY_V_REAL, ENC_DOUBLE, "double"},
                     {FERRY_V_TEXT, ENC_STRING, "string"},
                     {FERRY_V_BLOB, ENC_BYTES, "bytes"}};
    const ferry_field_t *col = f->col;
    json_t *u = json_array(), *typed = NULL;
    int covered = -1; /* the storage class the typed branch carries for every value */
    int carrier = -1; /* the storage class whose Avro type the typed branch is */
    int has_typed = 1;
    size_t text_size = 0; /* of f->text */

    memset(f->by_kind, -1, sizeof(f->by_kind));
    f->typed = -1;
    if (!u)
        return NULL;
    if (col->nullable) {
        f->by_kind[FERRY_V_NULL] = (int8_t)f->nbranches;
        f->enc[f->nbranches++] = ENC_NULL;
        json_array_append_new(u, json_string("null"));
    }
    switch (col->type) {
    case FERRY_T_TEXT:
        typed = json_string("string");
        covered = FERRY_V_TEXT;
        break;
    case FERRY_T_INTEGER:
        typed = json_string("long");
        covered = FERRY_V_INT;
        break;
    case FERRY_T_REAL:
        typed = json_string("double");
        covered = FERRY_V_REAL;
        break;
    case FERRY_T_BLOB:
        typed = json_string("bytes");
        covered = FERRY_V_BLOB;
        break;
    case FERRY_T_TIMESTAMP:
        typed = json_pack("{s:s, s:s}", "type", "long", "logicalType", "timestamp-millis");
        covered = FERRY_V_INT;
        break;
    case FERRY_T_BOOLEAN:
        typed = json_string("boolean");
        f->enc[f->nbranches] = ENC_BOOLEAN;
        break;
    case FERRY_T_DATE:
        typed = json_pack("{s:s, s:s}", "type", "int", "logicalType", "date");
        f->enc[f->nbranches] = ENC_DATE;
        break;
    case FERRY_T_DECIMAL: {
        int precision = col->length >= 1 && col->length <= DECIMAL_MAX_PRECISION
                            ? col->length : DECIMAL_MAX_PRECISION;
        char *fixed_name = malloc(strlen(c->record_name) + strlen(f->avro_name) + 10);

        f->scale = col->scale < 0 ? 0 : col->scale > precision ? precision : col->scale;
        f->pow10 = 1;
        for (int k = 0; k < f->scale; k++)
            f->pow10 *= 10;
        /* Beyond 18 digits every int64 fits the precision. */
        f->max_unscaled = 0;
        if (precision < 19) {
            f->max_unscaled = 1;
            for (int k = 0; k < precision; k++)
                f->max_unscaled *= 10;
        }
        if (fixed_name) {
            /* Longer than the record name and distinct per field: unique. */
            sprintf(fixed_name, "%s_%s_decimal", c->record_name, f->avro_name);
            typed = json_pack("{s:s, s:s, s:i, s:s, s:i, s:i}", "type", "fixed", "name",
                              fixed_name, "size", DECIMAL_SIZE, "logicalType", "decimal",
                              "precision", precision, "scale", f->scale);
            free(fixed_name);
        }
        f->enc[f->nbranches] = ENC_DECIMAL;
        break;
    }
    case FERRY_T_NUMERIC:
        /* Avro's decimal needs 0 <= scale <= precision: numeric without a
         * precision (or PostgreSQL 15's negative or larger scales) is text. */
        if (col->length < 1 || col->length > FERRY_PGTEXT_NUMERIC_MAX_PRECISION ||
            col->scale < 0 || col->scale > col->length) {
            typed = json_string("string");
            covered = FERRY_V_TEXT;
            break;
        }
        f->precision = col->length;
        f->scale = col->scale;
        typed = json_pack("{s:s, s:s, s:i, s:i}", "type", "bytes", "logicalType", "decimal",
                          "precision", f->precision, "scale", f->scale);
        f->enc[f->nbranches] = ENC_NUMERIC;
        carrier = FERRY_V_BLOB;
        text_size = (size_t)f->precision + 3;
        break;
    case FERRY_T_DAY:
    case FERRY_T_TIME:
    case FERRY_T_DATETIME:
    case FERRY_T_TIMESTAMPTZ:
    case FERRY_T_UUID: {
        const struct pg_logical *l = pg_logical_of(col->type);
        typed = json_pack("{s:s, s:s}", "type", l->avro, "logicalType", l->logical);
        f->enc[f->nbranches] = l->enc;
        carrier = l->carrier;
        text_size = l->text_size;
        break;
    }
    case FERRY_T_INTERVAL:
    case FERRY_T_JSON:
    case FERRY_T_ENUM:
    case FERRY_T_ARRAY:
        typed = json_string("string");
        covered = FERRY_V_TEXT;
        break;
    case FERRY_T_ANY:
    default: /* no typed branch: "any", and any type this build does not know */
        has_typed = 0;
        break;
    }
    if ((has_typed && !typed) || (text_size && !(f->text = malloc(text_size)))) {
        json_decref(typed);
        json_decref(u);
        return NULL;
    }
    if (typed) {
        if (covered >= 0) {
            f->by_kind[covered] = (int8_t)f->nbranches;
            f->enc[f->nbranches] = fallbacks[covered - FERRY_V_INT].enc;
        } else {
            f->typed = (int8_t)f->nbranches;
        }
        f->nbranches++;
        json_array_append_new(u, typed);
    }
    for (size_t k = 0; k < sizeof(fallbacks) / sizeof(fallbacks[0]); k++) {
        ferry_vkind_t kind = fallbacks[k].kind;
        if ((int)kind == covered)
            continue;
        f->by_kind[kind] = (int8_t)f->nbranches;
        f->enc[f->nbranches++] = fallbacks[k].enc;
        if ((int)kind != carrier) {
            json_array_append_new(u, json_string(fallbacks[k].avro));
        } else if (c->wrap_defined[kind]) {
            json_array_append_new(u, json_string(c->wrap_name[kind]));
        } else {
            /* A union holds one "long" (or "string", "bytes") at most: the
             * storage class whose type the typed branch took travels in a
             * record of one field (the same bytes), defined once per row
             * schema. The field is named after the storage class, so that
             * a reader that drops record names (python3-avro) still tells
             * {"blob": b"..."} from the {"value": b"..."} of TEXT that is
             * not UTF-8. */
            static const char *const wrap_field[NKINDS] = {
                [FERRY_V_INT] = "integer", [FERRY_V_TEXT] = "text", [FERRY_V_BLOB] = "blob"};
            json_array_append_new(u, json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "type",
                                               "record", "name", c->wrap_name[kind], "doc",
                                               "A value of the field's storage class, not of "
                                               "its logical type", "fields", "name",
                                               wrap_field[kind], "type", fallbacks[k].avro));
            c->wrap_defined[kind] = 1;
        }
    }
    /* "string" is UTF-8 to every reader (python3-avro raises on anything
     * else, Java replaces it): TEXT whose bytes are not UTF-8 travels as
     * bytes, in a record of its own so that it stays TEXT. A named type is
     * defined once: the first field defines it, the others refer to it. */
    f->text_bytes = (int8_t)f->nbranches;
    f->enc[f->nbranches++] = ENC_TEXT_BYTES;
    if (c->text_bytes_defined) {
        json_array_append_new(u, json_string(c->text_bytes_name));
    } else {
        json_array_append_new(u, json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "type", "record",
                                           "name", c->text_bytes_name, "doc",
                                           "A TEXT value whose bytes are not valid UTF-8",
                                           "fields", "name", "value", "type", "bytes"));
        c->text_bytes_defined = 1;
    }
    if (json_array_size(u) != f->nbranches) {
        json_decref(u);
        return NULL;
    }
    return u;
}

static int build_schema(ferry_rowcodec_t *c, char *errstr, size_t errstr_size)
{
    const ferry_object_t *obj = c->obj;
    json_t *root, *fields, *name;
    int rc = FERRY_ENOMEM;

    if (!(name = json_string(obj->name)))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "table name \"%s\" is not valid UTF-8", obj->name);
    root = json_pack("{s:s, s:s, s:s, s:s, s:o, s:[]}", "type", "record", "name",
                     c->record_name, "namespace", "ferry.rows", "doc",
                     "One row of the table named in ferry.table; each field is one column, "
                     "named in ferry.column", "ferry.table", name, "fields");
    fields = json_object_get(root, "fields");
    for (size_t i = 0; root && i < obj->nfields; i++) {
        const ferry_field_t *col = &obj->fields[i];
        json_t *column = json_string(col->name), *type, *field;
        if (!column) {
            rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                            "table \"%s\": column name \"%s\" is not valid UTF-8", obj->name,
                            col->name);
            goto out;
        }
        c->fields[i].col = col;
        if (!(type = field_branches(c, &c->fields[i]))) {
            json_decref(column);
            goto out;
        }
        field = json_pack("{s:s, s:o, s:o, s:s}", "name", c->fields[i].avro_name, "type", type,
                          "ferry.column", column, "ferry.type", ferry_type_name(col->type));
        /* PostgreSQL's declared type says what ferry.type does not: json or
         * jsonb, an array's element type, an enum's type name. */
        if (field && obj->dialect == FERRY_DIALECT_POSTGRESQL && *col->decl_type) {
            json_t *decl = json_string(col->decl_type);
            if (!decl) {
                json_decref(field);
                rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                "table \"%s\" column \"%s\": declared type is not valid UTF-8",
                                obj->name, col->name);
                goto out;
            }
            json_object_set_new(field, "ferry.decl", decl);
        }
        /* A default lets readers of a later schema version that adds the field
         * read rows written before it. */
        if (!field || (col->nullable && json_object_set_new(field, "default", json_null())) ||
            json_array_append_new(fields, field))
            goto out;
    }
    if (root && (c->schema_json = json_dumps(root, JSON_COMPACT)))
        rc = FERRY_OK;
out:
    json_decref(root);
    if (rc == FERRY_ENOMEM)
        ferry_errf(errstr, errstr_size, rc, "out of memory building the row schema of table \"%s\"",
                   obj->name);
    return rc;
}

/* avro-c must accept what other Avro readers will be given. */
static int check_with_avro_c(const ferry_rowcodec_t *c, char *errstr, size_t errstr_size)
{
    avro_schema_t schema;
    if (avro_schema_from_json_length(c->schema_json, strlen(c->schema_json), &schema))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "row schema of table \"%s\" rejected by avro-c: %s", c->obj->name,
                          avro_strerror());
    avro_schema_decref(schema);
    return FERRY_OK;
}

int ferry_rowcodec_new(const ferry_object_t *obj, ferry_rowcodec_t **out, char *errstr,
                       size_t errstr_size)
{
    ferry_rowcodec_t *c;
    size_t n = obj->nfields ? obj->nfields : 1;
    int rc = FERRY_ENOMEM;

    *out = NULL;
    /* Naming the fields compares every name with every other. */
    if (obj->nfields > FERRY_OBJECT_MAX_FIELDS)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "table \"%s\" has %zu fields, more than the limit of %d", obj->name,
                          obj->nfields, FERRY_OBJECT_MAX_FIELDS);
    c = calloc(1, sizeof(*c));
    if (!c || !(c->fields = calloc(n, sizeof(*c->fields))) ||
        !(c->values = calloc(n, sizeof(*c->values))))
        goto fail;
    c->obj = obj;
    if (!(c->record_name = avro_name_of(obj->name, ferry_avro_is_primitive(obj->name))) ||
        !(c->text_bytes_name = malloc(strlen(c->record_name) + sizeof("ferry.rows._text"))) ||
        (rc = assign_field_names(c)))
        goto fail;
    /* Unlike the decimals' "<record>_<field>_decimal", it ends in "_text". */
    sprintf(c->text_bytes_name, "ferry.rows.%s_text", c->record_name);
    {
        static const char *const wraps[NKINDS] = {[FERRY_V_INT] = "long",
                                                  [FERRY_V_TEXT] = "string",
                                                  [FERRY_V_BLOB] = "bytes"};
        for (int k = 0; k < NKINDS; k++) {
            if (!wraps[k])
                continue;
            if (!(c->wrap_name[k] = malloc(strlen(c->record_name) + sizeof("ferry.rows.__") +
                                           strlen(wraps[k]))))
                goto fail;
            sprintf(c->wrap_name[k], "ferry.rows.%s_%s", c->record_name, wraps[k]);
        }
    }
    if ((rc = build_schema(c, errstr, errstr_size)) ||
        (rc = check_with_avro_c(c, errstr, errstr_size)) ||
        (rc = ferry_avro_fingerprint(c->schema_json, &c->fp, errstr, errstr_size)))
        goto fail;
    rc = FERRY_ENOMEM;
    if (!(c->rows_json = malloc(strlen(c->schema_json) + sizeof(ROWS_JSON_HEAD ROWS_JSON_TAIL))))
        goto fail;
    sprintf(c->rows_json, ROWS_JSON_HEAD "%s" ROWS_JSON_TAIL, c->schema_json);
    if ((rc = ferry_avro_fingerprint(c->rows_json, &c->rows_fp, errstr, errstr_size)))
        goto fail;
    *out = c;
    return FERRY_OK;
fail:
    ferry_rowcodec_destroy(c);
    if (rc == FERRY_ENOMEM)
        ferry_errf(errstr, errstr_size, rc, "out of memory building the row codec of table \"%s\"",
                   obj->name);
    return rc;
}

void ferry_rowcodec_destroy(ferry_rowcodec_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->fields && i < c->obj->nfields; i++) {
        free(c->fields[i].avro_name);
        free(c->fields[i].text);
    }
    for (int k = 0; k < NKINDS; k++)
        free(c->wrap_name[k]);
    free(c->fields);
    free(c->values);
    free(c->record_name);
    free(c->text_bytes_name);
    free(c->schema_json);
    free(c->rows_json);
    free(c);
}

const char *ferry_rowcodec_schema_json(const ferry_rowcodec_t *c)
{
    return c->schema_json;
}

uint64_t ferry_rowcodec_fingerprint(const ferry_rowcodec_t *c)
{
    return c->fp;
}

const char *ferry_rowcodec_rows_schema_json(const ferry_rowcodec_t *c)
{
    return c->rows_json;
}

uint64_t ferry_rowcodec_rows_fingerprint(const ferry_rowcodec_t *c)
{
    return c->rows_fp;
}

const char *ferry_rowcodec_field_name(const ferry_rowcodec_t *c, size_t i)
{
    return i < c->obj->nfields ? c->fields[i].avro_name : NULL;
}

/* ---- decimals ---------------------------------------------------------- */

/* 10^k for k = 0..22: the powers of ten a double holds exactly. */
static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#define EXACT_POW10_MAX 22

/* The double nearest to unscaled * 10^-scale (scale >= 0), ties to even: the
 * double every correctly rounding reader makes of the decimal (Python's
 * float(Decimal), Java's BigDecimal.doubleValue, strtod). When both the
 * unscaled value (after dropping trailing zeros) and the power of ten are
 * exact doubles, one IEEE division is that correctly rounded quotient;
 * otherwise glibc's strtod, which is correctly rounded, reads the decimal
 * written as "<unscaled>e-<scale>" (no decimal point, so no locale). */
static double decimal_to_double(int64_t unscaled, int scale)
{
    char text[48];

    while (scale > 0 && unscaled != 0 && unscaled % 10 == 0) {
        unscaled /= 10;
        scale--;
    }
    if (scale <= EXACT_POW10_MAX && unscaled >= -(INT64_C(1) << 53) &&
        unscaled <= (INT64_C(1) << 53))
        return (double)unscaled / exact_pow10[scale];
    snprintf(text, sizeof(text), "%" PRId64 "e-%d", unscaled, scale);
    return strtod(text, NULL);
}

static int same_double(double a, double b)
{
    return !memcmp(&a, &b, sizeof(a));
}

/* Whether the decimal unscaled * 10^-scale fits f and reads back as exactly x. */
static int decimal_is(const struct rc_field *f, int64_t unscaled, double x)
{
    if (f->max_unscaled && (unscaled >= f->max_unscaled || unscaled <= -f->max_unscaled))
        return 0;
    return same_double(decimal_to_double(unscaled, f->scale), x);
}

/* x's unscaled value at f's scale when |x| * 10^scale >= 2^53: several
 * decimals of that scale may read back as x; the one taken is x's shortest
 * decimal (the fewest significant digits that read back as x: at most 17),
 * if its last digit is within the scale. */
static int shortest_unscaled(const struct rc_field *f, double x, int64_t *out)
{
    char text[40], *e;
    int64_t digits = 0;
    int ndigits = 0, exp10, shift;

    for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof(text), "%.*e", prec - 1, x);
        if (same_double(strtod(text, NULL), x))
            break;
    }
    /* text is [-]d.ddde[+-]xx; its value is digits * 10^(exp10 - ndigits + 1). */
    if (!(e = strchr(text, 'e')))
        return 0;
    for (const char *q = text; q < e; q++) {
        if (*q >= '0' && *q <= '9') {
            digits = digits * 10 + (*q - '0');
            ndigits++;
        }
    }
    exp10 = atoi(e + 1);
    shift = f->scale + exp10 - ndigits + 1;
    for (; shift < 0 && digits % 10 == 0; shift++)
        digits /= 10;
    if (shift < 0)
        return 0;
    for (; shift > 0; shift--) {
        if (digits > INT64_MAX / 10)
            return 0;
        digits *= 10;
    }
    if (x < 0)
        digits = -digits;
    if (!decimal_is(f, digits, x))
        return 0;
    *out = digits;
    return 1;
}

/* Whether the REAL x takes f's decimal branch (scale > 0): only when some
 * decimal of f's scale and precision, within 64 bits, reads back as exactly x
 * in every correctly rounding reader (decimal_to_double); *out is then its
 * unscaled value. -0.0, NaN and infinities have no such decimal.
 *
 * p = x * 10^scale is within 3 * 2^-53 * |p| of the exact product (10^scale
 * rounded, then the product), and a decimal that reads back as x is within
 * half an ulp of x, 2^-53 * |x| scaled: so every candidate lies within
 * 2^-50 * |p| of p, a handful of integers, tried nearest first. Below 2^53
 * those are at most 17; above, shortest_unscaled picks one. */
static int real_unscaled(const struct rc_field *f, double x, int64_t *out)
{
    double p = x * f->pow10, slack = fabs(p) * 0x1p-50;
    int64_t n0, lo, hi;

    if (x == 0 && !signbit(x)) {
        *out = 0;
        return 1;
    }
    /* NaN fails the comparison; the bound makes the conversions defined. */
    if (!(fabs(p) < 0x1p63))
        return 0;
    if (fabs(p) >= 0x1p53)
        return shortest_unscaled(f, x, out);
    lo = (int64_t)ceil(p - slack);
    hi = (int64_t)floor(p + slack);
    n0 = (int64_t)llround(p);
    for (int64_t d = 0; n0 - d >= lo || n0 + d <= hi; d++) {
        if (n0 - d >= lo && n0 - d <= hi && decimal_is(f, n0 - d, x)) {
            *out = n0 - d;
            return 1;
        }
        if (d && n0 + d >= lo && n0 + d <= hi && decimal_is(f, n0 + d, x)) {
            *out = n0 + d;
            return 1;
        }
    }
    return 0;
}

/* ---- encode ------------------------------------------------------------ */

/* A typed value ready to write: a decimal's unscaled value, a PostgreSQL
 * date, time or timestamp as a number, or a numeric's unscaled bytes. */
struct typed_val {
    int64_t n;
    size_t nbytes;
    uint8_t bytes[FERRY_PGTEXT_NUMERIC_MAX_BYTES];
};

/* Whether v takes f's typed branch: only if decoding that branch gives back
 * exactly v (for PostgreSQL's types: v is TEXT that parses, and formatting
 * what it parsed gives the same bytes: pgtext.h). *t receives the value. */
static int fits_typed(const struct rc_field *f, const ferry_value_t *v, struct typed_val *t)
{
    int64_t *unscaled = &t->n;

    if (f->enc[f->typed] >= ENC_NUMERIC && v->kind != FERRY_V_TEXT)
        return 0;
    switch (f->enc[f->typed]) {
    case ENC_NUMERIC:
        return ferry_pgtext_numeric_parse(v->p, v->n, f->precision, f->scale, t->bytes,
                                          &t->nbytes);
    case ENC_PG_DATE: {
        int32_t days;
        if (!ferry_pgtext_date_parse(v->p, v->n, &days))
            return 0;
        t->n = days;
        return 1;
    }
    case ENC_PG_TIME:
        return ferry_pgtext_time_parse(v->p, v->n, &t->n);
    case ENC_PG_TIMESTAMP:
    case ENC_PG_TIMESTAMPTZ:
        return ferry_pgtext_timestamp_parse(v->p, v->n, f->enc[f->typed] == ENC_PG_TIMESTAMPTZ,
                                            &t->n);
    case ENC_UUID:
        return ferry_pgtext_uuid_canonical(v->p, v->n);
    case ENC_BOOLEAN:
        return v->kind == FERRY_V_INT && (v->i == 0 || v->i == 1);
    case ENC_DATE:
        return v->kind == FERRY_V_INT && v->i >= INT32_MIN && v->i <= INT32_MAX;
    case ENC_DECIMAL:
        /* Decoding gives INT for scale 0 and REAL otherwise. */
        if (v->kind == FERRY_V_INT && f->scale == 0) {
            if (f->max_unscaled && (v->i >= f->max_unscaled || v->i <= -f->max_unscaled))
                return 0;
            *unscaled = v->i;
            return 1;
        }
        return v->kind == FERRY_V_REAL && f->scale > 0 && real_unscaled(f, v->d, unscaled);
    default:
        return 0;
    }
}

int ferry_rowcodec_encode(ferry_rowcodec_t *c, const ferry_value_t *row, ferry_buf_t *out,
                          char *errstr, size_t errstr_size)
{
    const ferry_object_t *obj = c->obj;
    struct typed_val tv;
    size_t need = 0;
    uint8_t *p;
    int rc;

    /* Per field at most: a one-byte branch index and 16 bytes (a fixed, a
     * varint, a double, or a length before text/blob bytes; a numeric's
     * length and unscaled bytes take fewer than its text). */
    for (size_t i = 0; i < obj->nfields; i++) {
        size_t n = row[i].kind == FERRY_V_TEXT || row[i].kind == FERRY_V_BLOB ? row[i].n : 0;
        if (n > SIZE_MAX / 2 - need)
            return ferry_errf(errstr, errstr_size, FERRY_ENOMEM,
                              "table \"%s\": row too large", obj->name);
        need += 1 + DECIMAL_SIZE + n;
    }
    if ((rc = ferry_buf_reserve(out, need)))
        return ferry_errf(errstr, errstr_size, rc, "table \"%s\": out of memory encoding a row",
                          obj->name);
    p = out->data + out->len;
    for (size_t i = 0; i < obj->nfields; i++) {
        const struct rc_field *f = &c->fields[i];
        const ferry_value_t *v = &row[i];
        int b;

        if ((unsigned)v->kind >= NKINDS || (v->n && !v->p &&
            (v->kind == FERRY_V_TEXT || v->kind == FERRY_V_BLOB)))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "table \"%s\" column \"%s\": invalid value (kind %d)", obj->name,
                              f->col->name, (int)v->kind);
        if (f->typed >= 0 && fits_typed(f, v, &tv))
            b = f->typed;
        else if (v->kind == FERRY_V_TEXT && !ferry_utf8_valid(v->p, v->n))
            b = f->text_bytes;
        else
            b = f->by_kind[v->kind];
        if (b < 0)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "table \"%s\" column \"%s\": NULL in a NOT NULL column", obj->name,
                              f->col->name);
        *p++ = (uint8_t)(b << 1); /* the zigzag varint of a small index */
        switch ((enum enc)f->enc[b]) {
        case ENC_NULL:
            break;
        case ENC_LONG:
        case ENC_DATE:
            p = ferry_avro_put_long(p, v->i);
            break;
        case ENC_DOUBLE:
            p = ferry_avro_put_double(p, v->d);
            break;
        case ENC_STRING:
        case ENC_BYTES:
        case ENC_TEXT_BYTES: /* a record's one field */
        case ENC_UUID:
            p = ferry_avro_put_bytes(p, v->p, v->n);
            break;
        case ENC_BOOLEAN:
            *p++ = (uint8_t)v->i;
            break;
        case ENC_DECIMAL:
            /* Big-endian two's complement, sign-extended to 16 bytes. */
            for (int k = 0; k < 8; k++)
                *p++ = tv.n < 0 ? 0xff : 0;
            for (int k = 7; k >= 0; k--)
                *p++ = (uint8_t)((uint64_t)tv.n >> (8 * k));
            break;
        case ENC_NUMERIC:
            p = ferry_avro_put_bytes(p, tv.bytes, tv.nbytes);
            break;
        case ENC_PG_DATE:
        case ENC_PG_TIME:
        case ENC_PG_TIMESTAMP:
        case ENC_PG_TIMESTAMPTZ:
            p = ferry_avro_put_long(p, tv.n);
            break;
        }
    }
    out->len = (size_t)(p - out->data);
    return FERRY_OK;
}

int ferry_rowcodec_frame_rows(const ferry_rowcodec_t *c, size_t nrows, const void *bodies,
                              size_t len, ferry_buf_t *out, char *errstr, size_t errstr_size)
{
    size_t was = out->len;
    int rc;

    if (!nrows && len)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "table \"%s\": %zu bytes of rows framed as none", c->obj->name, len);
    /* One block holding every row, then the end of the array. Rows of a table
     * without columns take no bytes: one block each, so that no block counts
     * more items than bytes follow it (what readers check). */
    if ((rc = ferry_buf_reserve(out, FERRY_AVRO_HEADER_SIZE + 11 + len)) ||
        (rc = ferry_avro_frame_header(out, c->rows_fp)))
        goto fail;
    if (c->obj->nfields == 0) {
        for (size_t i = 0; i < nrows; i++)
            if ((rc = ferry_avro_write_long(out, 1)))
                goto fail;
    } else if (nrows && ((rc = ferry_avro_write_long(out, (int64_t)nrows)) ||
                         (rc = ferry_buf_append(out, bodies, len)))) {
        goto fail;
    }
    if ((rc = ferry_avro_write_long(out, 0)))
        goto fail;
    return FERRY_OK;
fail:
    out->len = was;
    return ferry_errf(errstr, errstr_size, rc, "table \"%s\": out of memory framing rows",
                      c->obj->name);
}

/* ---- decode ------------------------------------------------------------ */

/* A decimal reads as its INT (scale 0) or as the double nearest to it. */
static int decode_decimal(const struct rc_field *f, const uint8_t *b, ferry_value_t *v,
                          const char **why)
{
    uint64_t u = 0;
    int64_t unscaled;

    for (int k = 8; k < DECIMAL_SIZE; k++)
        u = (u << 8) | b[k];
    /* Ferry writes int64 unscaled values; wider ones are refused, not rounded. */
    for (int k = 0; k < 8; k++) {
        if (b[k] != ((u >> 63) ? 0xff : 0)) {
            *why = "decimal wider than 64 bits";
            return FERRY_EDECODE;
        }
    }
    unscaled = (int64_t)u;
    /* More digits than the precision: readers that round to it (python3-avro
     * does) would read another value. */
    if (f->max_unscaled && (unscaled >= f->max_unscaled || unscaled <= -f->max_unscaled)) {
        *why = "decimal with more digits than its precision";
        return FERRY_EDECODE;
    }
    if (f->scale == 0)
        *v = (ferry_value_t){.kind = FERRY_V_INT, .i = unscaled};
    else
        *v = (ferry_value_t){.kind = FERRY_V_REAL, .d = decimal_to_double(unscaled, f->scale)};
    return FERRY_OK;
}

/* A typed branch of a PostgreSQL type, read from r as the text PostgreSQL
 * prints (into f->text). A value that has no such text (out of the years 1
 * to 9999 or of a day, more digits than the precision) is refused: ferry
 * never writes one. */
static int decode_pg(const struct rc_field *f, int enc, ferry_avro_reader_t *r, ferry_value_t *v)
{
    const uint8_t *data;
    size_t n = 0;
    int32_t day;
    int64_t l;
    int rc;

    switch (enc) {
    case ENC_NUMERIC:
        if ((rc = ferry_avro_read_bytes(r, &data, &n)))
            return rc;
        if (!(n = ferry_pgtext_numeric_format(data, n, f->precision, f->scale, f->text)))
            r->why = "decimal with more digits than its precision";
        break;
    case ENC_PG_DATE:
        if ((rc = ferry_avro_read_int(r, &day)))
            return rc;
        if (!(n = ferry_pgtext_date_format(day, f->text)))
            r->why = "date outside the years 1 to 9999";
        break;
    case ENC_PG_TIME:
        if ((rc = ferry_avro_read_long(r, &l)))
            return rc;
        if (!(n = ferry_pgtext_time_format(l, f->text)))
            r->why = "time-micros outside 00:00:00 to 23:59:59.999999";
        break;
    default:
        if ((rc = ferry_avro_read_long(r, &l)))
            return rc;
        if (!(n = ferry_pgtext_timestamp_format(l, enc == ENC_PG_TIMESTAMPTZ, f->text)))
            r->why = "timestamp outside the years 1 to 9999";
        break;
    }
    if (!n)
        return FERRY_EDECODE;
    *v = (ferry_value_t){.kind = FERRY_V_TEXT, .p = f->text, .n = n};
    return FERRY_OK;
}

/* Reads one row body from r into c->values. On failure *bad is the field. */
static int decode_fields(ferry_rowcodec_t *c, ferry_avro_reader_t *r, size_t *bad)
{
    const ferry_object_t *obj = c->obj;
    size_t i;
    int rc = FERRY_OK;

    for (i = 0; i < obj->nfields; i++) {
        const struct rc_field *f = &c->fields[i];
        ferry_value_t *v = &c->values[i];
        const uint8_t *data;
        size_t b, n;
        int32_t day;
        int flag;

        if ((rc = ferry_avro_read_index(r, f->nbranches, &b)))
            break;
        switch ((enum enc)f->enc[b]) {
        case ENC_NULL:
            *v = (ferry_value_t){.kind = FERRY_V_NULL};
            break;
        case ENC_LONG:
            *v = (ferry_value_t){.kind = FERRY_V_INT};
            rc = ferry_avro_read_long(r, &v->i);
            break;
        case ENC_DOUBLE:
            *v = (ferry_value_t){.kind = FERRY_V_REAL};
            rc = ferry_avro_read_double(r, &v->d);
            break;
        case ENC_STRING:
        case ENC_UUID: /* any UTF-8 string reads back as itself */
            if ((rc = ferry_avro_read_bytes(r, &data, &n)))
                break;
            if (!ferry_utf8_valid(data, n)) {
                r->why = f->enc[b] == ENC_UUID ? "uuid string that is not valid UTF-8"
                                               : "string that is not valid UTF-8";
                rc = FERRY_EDECODE;
                break;
            }
            *v = (ferry_value_t){.kind = FERRY_V_TEXT, .p = data, .n = n};
            break;
        case ENC_TEXT_BYTES:
        case ENC_BYTES:
            if (!(rc = ferry_avro_read_bytes(r, &data, &n)))
                *v = (ferry_value_t){.kind = f->enc[b] == ENC_BYTES ? FERRY_V_BLOB : FERRY_V_TEXT,
                                     .p = data, .n = n};
            break;
        case ENC_BOOLEAN:
            if (!(rc = ferry_avro_read_boolean(r, &flag)))
                *v = (ferry_value_t){.kind = FERRY_V_INT, .i = flag};
            break;
        case ENC_DATE:
            if (!(rc = ferry_avro_read_int(r, &day)))
                *v = (ferry_value_t){.kind = FERRY_V_INT, .i = day};
            break;
        case ENC_DECIMAL:
            if (!(rc = ferry_avro_read_fixed(r, DECIMAL_SIZE, &data)))
                rc = decode_decimal(f, data, v, &r->why);
            break;
        case ENC_NUMERIC:
        case ENC_PG_DATE:
        case ENC_PG_TIME:
        case ENC_PG_TIMESTAMP:
        case ENC_PG_TIMESTAMPTZ:
            rc = decode_pg(f, f->enc[b], r, v);
            break;
        }
        if (rc)
            break;
    }
    *bad = i;
    return rc;
}

int ferry_rowcodec_decode(ferry_rowcodec_t *c, const void *body, size_t len,
                          const ferry_value_t **row, char *errstr, size_t errstr_size)
{
    ferry_avro_reader_t r;
    size_t bad;

    ferry_avro_reader_init(&r, body, len);
    if (decode_fields(c, &r, &bad))
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "table \"%s\" column \"%s\": %s at body offset %zu", c->obj->name,
                          c->obj->fields[bad].name, r.why, ferry_avro_reader_offset(&r));
    if (ferry_avro_reader_left(&r))
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "table \"%s\": %zu trailing bytes after the last field", c->obj->name,
                          ferry_avro_reader_left(&r));
    *row = c->values;
    return FERRY_OK;
}

int ferry_rowcodec_rows_open(ferry_rowcodec_t *c, const void *msg, size_t len, char *errstr,
                             size_t errstr_size)
{
    const uint8_t *body;
    size_t body_len;
    uint64_t fp;
    char why[256];

    c->rows_state = ROWS_FAILED;
    if (ferry_avro_frame_parse(msg, len, &fp, &body, &body_len, why, sizeof(why)))
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE, "table \"%s\": %s", c->obj->name,
                          why);
    if (fp != c->rows_fp)
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "table \"%s\": fingerprint %016llx is not this table's Rows schema "
                          "(%016llx)", c->obj->name, (unsigned long long)fp,
                          (unsigned long long)c->rows_fp);
    ferry_avro_reader_init(&c->rows, body, body_len);
    c->rows_block_left = 0;
    c->rows_block_end = 0;
    c->rows_read = 0;
    c->rows_state = ROWS_OPEN;
    return FERRY_OK;
}

int ferry_rowcodec_rows_next(ferry_rowcodec_t *c, const ferry_value_t **row, char *errstr,
                             size_t errstr_size)
{
    ferry_avro_reader_t *r = &c->rows;
    size_t bad;

    if (c->rows_state == ROWS_NONE)
        return 0;
    if (c->rows_state == ROWS_FAILED)
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "table \"%s\": the Rows message failed to decode", c->obj->name);
    if (!c->rows_block_left) {
        if (ferry_avro_end_block(r, c->rows_block_end) ||
            ferry_avro_read_block(r, &c->rows_block_left, &c->rows_block_end))
            goto bad_block;
        /* Rows of no bytes: one per block (as frame_rows writes them), so a
         * message cannot claim more rows than it has bytes. */
        if (c->obj->nfields == 0 && c->rows_block_left > 1) {
            r->why = "a block of several rows of a table without columns";
            goto bad_block;
        }
        if (!c->rows_block_left) {
            if (ferry_avro_reader_left(r)) {
                c->rows_state = ROWS_FAILED;
                return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                                  "table \"%s\": %zu trailing bytes after %zu rows",
                                  c->obj->name, ferry_avro_reader_left(r), c->rows_read);
            }
            c->rows_state = ROWS_NONE;
            return 0;
        }
    }
    if (decode_fields(c, r, &bad)) {
        c->rows_state = ROWS_FAILED;
        return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                          "table \"%s\" row %zu column \"%s\": %s at body offset %zu",
                          c->obj->name, c->rows_read + 1, c->obj->fields[bad].name, r->why,
                          ferry_avro_reader_offset(r));
    }
    c->rows_block_left--;
    c->rows_read++;
    *row = c->values;
    return 1;
bad_block:
    c->rows_state = ROWS_FAILED;
    return ferry_errf(errstr, errstr_size, FERRY_EDECODE,
                      "table \"%s\": %s at body offset %zu (after %zu rows)", c->obj->name,
                      r->why, ferry_avro_reader_offset(r), c->rows_read);
}
