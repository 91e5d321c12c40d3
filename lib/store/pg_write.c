/* pg_write.c - the PostgreSQL store as an import target: creating and
 * evolving tables, writers, foreign-key checks, moving generators.
 *
 * Safety: incoming metadata comes from a Kafka message. SQL text is built
 * from constant fragments, names quoted by ferry_sql_quote_ident, column
 * types this file spells itself after a whitelist parser has read the
 * incoming declaration (type_parse), and defaults rebuilt from a literal
 * grammar as an escaped string (PQescapeLiteral) cast to the column's type,
 * after the server has accepted that cast. Enum labels are escaped literals.
 * Rows are COPY data, escaped per COPY's text format; catalog lookups bind
 * their names as parameters.
 *
 * apply_object checks everything (names, types, defaults, the existing
 * table, enum types, indexes, a non-deferrable foreign key in a cycle)
 * before its first change, so a conflict changes nothing.
 *
 * Keys after the rows, as pg_dump's output has them. A table this
 * transaction creates is created bare (its columns, NOT NULL on key columns);
 * its primary key and unique constraints wait in s->keys and are added when
 * its writer ends (or before foreign keys, apply_object or the commit need
 * them): one index build by sorting instead of an index entry per row. Rows
 * whose key the stream repeated are removed then, all but the last, and
 * counted as updates, as the upserts would have done (add_later_key).
 * Foreign keys ferry creates are DEFERRABLE INITIALLY DEFERRED; those of a
 * created table wait in s->pending, and check_fks or before_commit (after the
 * last row) adds those whose parent exists, each validated by the server in
 * one query over the whole table, and refuses the others, naming them.
 * Added at creation, a deferred foreign key queues a check per row, run one
 * by one at commit (a SELECT per row: four fifths of the server's time in an
 * import of 1,000,000 rows). The promise is the same: at commit every key
 * exists and holds. A violation is named alike (table, key, parent) whichever
 * way it is found.
 *
 * Writer: rows are formatted as COPY text into a batch of bounded size.
 *   direct (the table was empty at open and has a key, or this transaction
 *     created it): a SAVEPOINT, then COPY straight into the table, the batch
 *     streamed to the server while it grows. A unique violation (a key
 *     repeated in the stream) rolls back to the savepoint and the batch
 *     goes the staged way instead. Into a created table whose key is still
 *     to come (keyless), no violation can occur; the key is added at the
 *     writer's flush (repeated keys resolved there) and the writer bound to
 *     the table again, the staged way for any later row.
 *   staged (otherwise): the batch is copied into a temporary table with the
 *     table's column types, then merged: by key with INSERT .. ON CONFLICT
 *     (key) DO UPDATE (rows updated in place, never deleted; the last row of
 *     a key repeated in a batch wins, as sequential upserts would), inserts
 *     told from updates by RETURNING (xmax = 0); without a key, only rows
 *     whose text form no row of the table has (identical rows are skipped,
 *     which makes re-applying idempotent), or every row in a table this
 *     transaction created.
 * A value the column cannot hold fails in a COPY, whose error names the line:
 * the batch keeps each row's offset, so the message names the row's key. */
#include "pg_impl.h"

#include "error.h"
#include "sqltext.h"
#include "timeutil.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* PostgreSQL's identifiers are at most NAMEDATALEN - 1 bytes; longer ones
 * are truncated silently, which would name another object. */
#define PG_NAME_MAX 63

/* A batch is written once it holds this many rows or bytes of COPY text;
 * the direct path streams it to the server every STREAM_BYTES. */
#define BATCH_ROWS 100000
#define BATCH_BYTES (8u << 20)
#define STREAM_BYTES (256u << 10)

/* ---- small helpers ---- */

/* schema."name" */
static void sql_table(ferry_sql_t *q, const pg_store_t *s, const char *name)
{
    ferry_sql_add(q, s->qschema);
    ferry_sql_add(q, ".");
    ferry_sql_ident(q, name);
}

/* An escaped string literal of text (PQescapeLiteral). */
static void sql_literal(ferry_sql_t *q, const pg_store_t *s, const char *text)
{
    char *lit = q->failed ? NULL : PQescapeLiteral(s->conn, text, strlen(text));

    if (!lit) {
        q->failed = 1;
        return;
    }
    ferry_sql_add(q, lit);
    PQfreemem(lit);
}

static int oom(char *errstr, size_t errstr_size)
{
    return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "PostgreSQL store: out of memory");
}

/* The server's message of res (or of the connection), without its newline. */
static void server_message(pg_store_t *s, const PGresult *res, char *out, size_t out_size)
{
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *d = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    size_t n;

    if (!m)
        m = PQerrorMessage(s->conn);
    snprintf(out, out_size, "%s%s%s%s", m, d ? " (" : "", d ? d : "", d ? ")" : "");
    n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
}

/* Runs sql with text parameters; returns the result when it succeeded
 * (tuples or command), else NULL with the error in errstr and *rc. */
static PGresult *query(pg_store_t *s, const char *sql, int nparams, const char *const *params,
                       const char *what, int *rc, char *errstr, size_t errstr_size)
{
    PGresult *res;
    ExecStatusType st;

    if ((*rc = ferry_pg_ready(s, what, errstr, errstr_size)))
        return NULL;
    res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *rc = FERRY_OK;
        return res;
    }
    *rc = ferry_pg_error(s, res, what, errstr, errstr_size);
    PQclear(res);
    return NULL;
}

/* Runs a statement built with ferry_sql_t (NULL text: out of memory). */
static int exec_sql(pg_store_t *s, ferry_sql_t *q, const char *what, char *errstr,
                    size_t errstr_size)
{
    const char *text = ferry_sql_text(q);

    return text ? ferry_pg_exec(s, text, what, errstr, errstr_size) : oom(errstr, errstr_size);
}

/* 1 if name is among the n strings of v (exact match). */
static int strv_has(char *const *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], name))
            return 1;
    return 0;
}

static int strv_push(char ***v, size_t *n, const char *name)
{
    char **grown = realloc(*v, (*n + 1) * sizeof(**v));

    if (!grown)
        return FERRY_ENOMEM;
    *v = grown;
    if (!(grown[*n] = strdup(name)))
        return FERRY_ENOMEM;
    (*n)++;
    return FERRY_OK;
}

/* Notes what obj has that the target does not get (apply_object's
 * not_carried, see pg_impl.h), once. */
static int note_not_carried(const ferry_object_t *obj, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int note_not_carried(const ferry_object_t *obj, const char *fmt, ...)
{
    char item[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(item, sizeof(item), fmt, ap);
    va_end(ap);
    if (strv_has(obj->not_carried, obj->nnot_carried, item))
        return FERRY_OK;
    return ferry_object_add_not_carried((ferry_object_t *)obj, item);
}

static int writer_end_copy(struct pg_writer *w, char *errstr, size_t errstr_size);

/* Ends the COPY a writer has open, so that another statement can run. */
static int end_copy(pg_store_t *s, char *errstr, size_t errstr_size)
{
    return s->writing ? writer_end_copy(s->writing, errstr, errstr_size) : FERRY_OK;
}

/* ---- column types ---- */

/* What a column holds, as far as comparing and converting go: array columns
 * have their element's family. */
typedef enum fam {
    FAM_OTHER = 0,
    FAM_INT,
    FAM_FLOAT,
    FAM_NUMERIC,
    FAM_TEXT,
    FAM_BOOL,
    FAM_DATE,
    FAM_TIME,
    FAM_TIMESTAMP,
    FAM_TIMESTAMPTZ,
    FAM_INTERVAL,
    FAM_UUID,
    FAM_JSON,
    FAM_JSONB,
    FAM_BYTEA,
    FAM_ENUM,
} fam_t;

typedef struct coltype {
    fam_t fam;
    int array;
    char spell[64];                /* a builtin's spelling: "numeric(10,2)", "text" */
    char enum_name[PG_NAME_MAX + 1]; /* FAM_ENUM: the type's name in the target schema */
} coltype_t;

static const char *fam_name(fam_t f)
{
    static const char *const names[] = {
        "other", "integer", "floating point", "numeric", "text", "boolean", "date", "time",
        "timestamp", "timestamptz", "interval", "uuid", "json", "jsonb", "bytea", "enum",
    };
    return names[f];
}

/* A family from a type name of pg_catalog (pg_type.typname) and typtype. */
static fam_t fam_of_typname(const char *typname, const char *typtype)
{
    static const struct {
        const char *name;
        fam_t fam;
    } map[] = {
        {"int2", FAM_INT},       {"int4", FAM_INT},       {"int8", FAM_INT},
        {"float4", FAM_FLOAT},   {"float8", FAM_FLOAT},   {"numeric", FAM_NUMERIC},
        {"text", FAM_TEXT},      {"varchar", FAM_TEXT},   {"bpchar", FAM_TEXT},
        {"bool", FAM_BOOL},      {"date", FAM_DATE},      {"time", FAM_TIME},
        {"timestamp", FAM_TIMESTAMP}, {"timestamptz", FAM_TIMESTAMPTZ},
        {"interval", FAM_INTERVAL}, {"uuid", FAM_UUID},   {"json", FAM_JSON},
        {"jsonb", FAM_JSONB},    {"bytea", FAM_BYTEA},
    };

    if (typtype && !strcmp(typtype, "e"))
        return FAM_ENUM;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(typname, map[i].name))
            return map[i].fam;
    return FAM_OTHER;
}

/* A token of a declared type: a word (lowercased), a quoted identifier
 * (its text), a number, or one punctuation character. */
typedef struct tok {
    enum { TK_END, TK_WORD, TK_QUOTED, TK_NUM, TK_PUNCT, TK_BAD } kind;
    char text[PG_NAME_MAX + 1];
    long num;
} tok_t;

static const char *tok_next(const char *p, tok_t *t)
{
    size_t n = 0;

    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    t->text[0] = '\0';
    if (!*p) {
        t->kind = TK_END;
        return p;
    }
    if (isalpha((unsigned char)*p) || *p == '_') {
        t->kind = TK_WORD;
        for (; isalnum((unsigned char)*p) || *p == '_' || *p == '$'; p++) {
            if (n == PG_NAME_MAX) {
                t->kind = TK_BAD;
                return p;
            }
            t->text[n++] = (char)tolower((unsigned char)*p);
        }
        t->text[n] = '\0';
        return p;
    }
    if (*p == '"') {
        t->kind = TK_QUOTED;
        for (p++;; p++) {
            if (!*p) {
                t->kind = TK_BAD;
                return p;
            }
            if (*p == '"') {
                if (p[1] != '"')
                    break;
                p++;
            }
            if (n == PG_NAME_MAX) {
                t->kind = TK_BAD;
                return p;
            }
            t->text[n++] = *p;
        }
        t->text[n] = '\0';
        if (!n)
            t->kind = TK_BAD;
        return p + 1;
    }
    if (isdigit((unsigned char)*p)) {
        t->kind = TK_NUM;
        t->num = 0;
        for (; isdigit((unsigned char)*p); p++)
            if ((t->num = t->num * 10 + (*p - '0')) > 100000000)
                t->kind = TK_BAD;
        return p;
    }
    if (strchr("()[],.", *p)) {
        t->kind = TK_PUNCT;
        t->text[0] = *p;
        t->text[1] = '\0';
        return p + 1;
    }
    t->kind = TK_BAD;
    return p;
}

static int tok_is(const tok_t *t, const char *word)
{
    return (t->kind == TK_WORD || t->kind == TK_PUNCT) && !strcmp(t->text, word);
}

/* Reads "(n)" or "(n, m)" when the next token opens one: *n1 (and *n2 when
 * two are allowed) set; returns the position after it, or NULL on bad input.
 * *count says how many numbers were read (0 when there was no parenthesis). */
static const char *read_mods(const char *p, tok_t *t, int max, long *n1, long *n2, int *count)
{
    const char *q = tok_next(p, t);

    *count = 0;
    if (!tok_is(t, "("))
        return p;
    q = tok_next(q, t);
    if (t->kind != TK_NUM)
        return NULL;
    *n1 = t->num;
    *count = 1;
    q = tok_next(q, t);
    if (tok_is(t, ",") && max == 2) {
        q = tok_next(q, t);
        if (t->kind != TK_NUM)
            return NULL;
        *n2 = t->num;
        *count = 2;
        q = tok_next(q, t);
    }
    return tok_is(t, ")") ? q : NULL;
}

/* Reads the words "time zone" after "with"/"without"; NULL if absent. */
static const char *read_time_zone(const char *p, tok_t *t)
{
    p = tok_next(p, t);
    if (!tok_is(t, "time"))
        return NULL;
    p = tok_next(p, t);
    return tok_is(t, "zone") ? p : NULL;
}

/* Parses a PostgreSQL type name of the whitelist (issue #16: smallint,
 * integer, bigint, numeric[(p[,s])], real, double precision, text,
 * varchar(n), char(n), boolean, date, time[(p)], timestamp[(p)] [with|without
 * time zone], timestamptz, interval[(p)], uuid, json, jsonb, bytea, with a
 * trailing [] for a one-dimensional array), or, when is_enum, an enum type's
 * name (quoted or not, a schema qualifier dropped: ferry creates it in the
 * target schema). 0, or -1 for anything else. */
static int type_parse(const char *decl, int is_enum, coltype_t *out)
{
    tok_t t;
    const char *p = decl, *q;
    long n1 = 0, n2 = 0;
    int count;

    memset(out, 0, sizeof(*out));
    p = tok_next(p, &t);
    if (is_enum) {
        if (t.kind != TK_WORD && t.kind != TK_QUOTED)
            return -1;
        snprintf(out->enum_name, sizeof(out->enum_name), "%s", t.text);
        q = tok_next(p, &t);
        if (tok_is(&t, ".")) {
            p = tok_next(q, &t);
            if (t.kind != TK_WORD && t.kind != TK_QUOTED)
                return -1;
            snprintf(out->enum_name, sizeof(out->enum_name), "%s", t.text);
        }
        out->fam = FAM_ENUM;
    } else if (t.kind != TK_WORD) {
        return -1;
    } else if (tok_is(&t, "smallint") || tok_is(&t, "int2")) {
        out->fam = FAM_INT;
        strcpy(out->spell, "smallint");
    } else if (tok_is(&t, "integer") || tok_is(&t, "int") || tok_is(&t, "int4")) {
        out->fam = FAM_INT;
        strcpy(out->spell, "integer");
    } else if (tok_is(&t, "bigint") || tok_is(&t, "int8")) {
        out->fam = FAM_INT;
        strcpy(out->spell, "bigint");
    } else if (tok_is(&t, "real") || tok_is(&t, "float4")) {
        out->fam = FAM_FLOAT;
        strcpy(out->spell, "real");
    } else if (tok_is(&t, "float8")) {
        out->fam = FAM_FLOAT;
        strcpy(out->spell, "double precision");
    } else if (tok_is(&t, "double")) {
        p = tok_next(p, &t);
        if (!tok_is(&t, "precision"))
            return -1;
        out->fam = FAM_FLOAT;
        strcpy(out->spell, "double precision");
    } else if (tok_is(&t, "numeric") || tok_is(&t, "decimal")) {
        out->fam = FAM_NUMERIC;
        if (!(p = read_mods(p, &t, 2, &n1, &n2, &count)))
            return -1;
        if (count && (n1 < 1 || n1 > 1000 || (count == 2 && n2 > n1)))
            return -1;
        if (count == 2)
            snprintf(out->spell, sizeof(out->spell), "numeric(%ld,%ld)", n1, n2);
        else if (count == 1)
            snprintf(out->spell, sizeof(out->spell), "numeric(%ld)", n1);
        else
            strcpy(out->spell, "numeric");
    } else if (tok_is(&t, "text")) {
        out->fam = FAM_TEXT;
        strcpy(out->spell, "text");
    } else if (tok_is(&t, "varchar") || tok_is(&t, "character") || tok_is(&t, "char") ||
               tok_is(&t, "bpchar")) {
        int varying = tok_is(&t, "varchar"), bpchar = tok_is(&t, "bpchar");
        if (tok_is(&t, "character")) {
            q = tok_next(p, &t);
            if (tok_is(&t, "varying")) {
                varying = 1;
                p = q;
            }
        }
        out->fam = FAM_TEXT;
        if (!(p = read_mods(p, &t, 1, &n1, &n2, &count)) ||
            (count && (n1 < 1 || n1 > 10485760)))
            return -1;
        if (count)
            snprintf(out->spell, sizeof(out->spell), "%s(%ld)",
                     varying ? "character varying" : "character", n1);
        else
            strcpy(out->spell, varying ? "character varying" : bpchar ? "bpchar" : "character");
    } else if (tok_is(&t, "boolean") || tok_is(&t, "bool")) {
        out->fam = FAM_BOOL;
        strcpy(out->spell, "boolean");
    } else if (tok_is(&t, "date")) {
        out->fam = FAM_DATE;
        strcpy(out->spell, "date");
    } else if (tok_is(&t, "time") || tok_is(&t, "timestamp") || tok_is(&t, "timestamptz")) {
        int ts = !tok_is(&t, "time"), tz = tok_is(&t, "timestamptz");
        if (!(p = read_mods(p, &t, 1, &n1, &n2, &count)) || (count && (n1 < 0 || n1 > 6)))
            return -1;
        q = tok_next(p, &t);
        if (!tz && (tok_is(&t, "with") || tok_is(&t, "without"))) {
            tz = tok_is(&t, "with");
            if (!(p = read_time_zone(q, &t)))
                return -1;
        }
        if (tz && !ts)
            return -1; /* time with time zone is not carried */
        out->fam = !ts ? FAM_TIME : tz ? FAM_TIMESTAMPTZ : FAM_TIMESTAMP;
        snprintf(out->spell, sizeof(out->spell), "%s", !ts ? "time" : "timestamp");
        if (count)
            snprintf(out->spell + strlen(out->spell), sizeof(out->spell) - strlen(out->spell),
                     "(%ld)", n1);
        if (tz)
            strcat(out->spell, " with time zone");
    } else if (tok_is(&t, "interval")) {
        /* interval [fields] [(p)], the fields words of PostgreSQL's grammar */
        static const char *const fields[] = {"year", "month", "day", "hour", "minute",
                                             "second", "to"};
        int nwords = 0, known = 1;
        out->fam = FAM_INTERVAL;
        strcpy(out->spell, "interval");
        while (known && nwords < 3) {
            q = tok_next(p, &t);
            known = 0;
            for (size_t k = 0; !known && k < sizeof(fields) / sizeof(fields[0]); k++)
                known = tok_is(&t, fields[k]);
            if (known) {
                strcat(out->spell, " ");
                strcat(out->spell, t.text);
                nwords++;
                p = q;
            }
        }
        if (!(p = read_mods(p, &t, 1, &n1, &n2, &count)) || (count && (n1 < 0 || n1 > 6)))
            return -1;
        if (count)
            snprintf(out->spell + strlen(out->spell), sizeof(out->spell) - strlen(out->spell),
                     "(%ld)", n1);
    } else if (tok_is(&t, "uuid")) {
        out->fam = FAM_UUID;
        strcpy(out->spell, "uuid");
    } else if (tok_is(&t, "json")) {
        out->fam = FAM_JSON;
        strcpy(out->spell, "json");
    } else if (tok_is(&t, "jsonb")) {
        out->fam = FAM_JSONB;
        strcpy(out->spell, "jsonb");
    } else if (tok_is(&t, "bytea")) {
        out->fam = FAM_BYTEA;
        strcpy(out->spell, "bytea");
    } else {
        return -1;
    }
    p = tok_next(p, &t);
    if (tok_is(&t, "[")) {
        p = tok_next(p, &t);
        if (!tok_is(&t, "]"))
            return -1;
        out->array = 1;
        if (!out->enum_name[0])
            strcat(out->spell, "[]");
        p = tok_next(p, &t);
    }
    return t.kind == TK_END ? 0 : -1;
}

/* The PostgreSQL type of a SQLite-dialect field: README's table "SQLite to
 * PostgreSQL", one row each; DECIMAL takes its precision and scale. */
static const struct {
    ferry_type_t type;
    fam_t fam;
    const char *spell;
} from_sqlite[] = {
    {FERRY_T_TEXT, FAM_TEXT, "text"},         {FERRY_T_ANY, FAM_TEXT, "text"},
    {FERRY_T_INTEGER, FAM_INT, "bigint"},     {FERRY_T_REAL, FAM_FLOAT, "double precision"},
    {FERRY_T_DECIMAL, FAM_NUMERIC, "numeric"}, {FERRY_T_BOOLEAN, FAM_BOOL, "boolean"},
    {FERRY_T_DATE, FAM_DATE, "date"},         {FERRY_T_TIMESTAMP, FAM_TIMESTAMP, "timestamp"},
    {FERRY_T_BLOB, FAM_BYTEA, "bytea"},
};

static int type_from_sqlite(const ferry_field_t *f, coltype_t *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(from_sqlite) / sizeof(from_sqlite[0]); i++) {
        if (from_sqlite[i].type != f->type)
            continue;
        out->fam = from_sqlite[i].fam;
        if (f->type == FERRY_T_DECIMAL && f->length >= 1 && f->length <= 1000 &&
            f->scale >= 0 && f->scale <= f->length)
            snprintf(out->spell, sizeof(out->spell), "numeric(%d,%d)", f->length, f->scale);
        else
            strcpy(out->spell, from_sqlite[i].spell);
        return 0;
    }
    return -1;
}

/* Appends the column type's SQL: a builtin's spelling, or the enum's
 * schema-qualified quoted name. */
static void sql_coltype(ferry_sql_t *q, const pg_store_t *s, const coltype_t *ct)
{
    if (ct->fam == FAM_ENUM) {
        sql_table(q, s, ct->enum_name);
        if (ct->array)
            ferry_sql_add(q, "[]");
    } else {
        ferry_sql_add(q, ct->spell);
    }
}

/* ---- defaults ---- */

/* 1 if the word w (lowercase) starts p, in any case, as a whole word. */
static int word_at(const char *p, const char *w)
{
    size_t n = strlen(w);
    return !strncasecmp(p, w, n) && !isalnum((unsigned char)p[n]) && p[n] != '_';
}

/* Reads a default of the literal grammar into *value (a new string: the
 * literal's text, for the server to cast to the column's type), or sets it
 * NULL for "no default" (NULL). Returns -1 when d is not a literal.
 * PostgreSQL dialect: NULL, true, false, a number (in parentheses too), or a
 * 'string' with '' inside, each optionally followed by one cast ::type.
 * SQLite dialect: NULL, TRUE, FALSE, a number (hex too) or a 'string'. */
static int default_parse(const char *d, ferry_dialect_t dialect, char **value)
{
    const char *p = d, *end;
    ferry_buf_t b = FERRY_BUF_INIT;
    int paren = 0;

    *value = NULL;
    while (*p == ' ')
        p++;
    if (*p == '\'') {
        for (p++;; p++) {
            if (!*p)
                goto bad;
            if (*p == '\'') {
                if (p[1] != '\'')
                    break;
                p++;
            }
            if (ferry_buf_append(&b, p, 1))
                goto bad;
        }
        p++;
        if (ferry_buf_append(&b, "", 1))
            goto bad;
    } else {
        const char *start;
        if (dialect == FERRY_DIALECT_POSTGRESQL && *p == '(') {
            paren = 1;
            p++;
        }
        start = p;
        if (word_at(p, "null")) {
            p += 4;
        } else if (word_at(p, "true") || word_at(p, "false")) {
            int yes = word_at(p, "true");
            if (ferry_buf_puts(&b, yes ? "true" : "false") || ferry_buf_append(&b, "", 1))
                goto bad;
            p += yes ? 4 : 5;
        } else {
            if (*p == '+' || *p == '-')
                p++;
            if (dialect == FERRY_DIALECT_SQLITE && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                char *hend;
                unsigned long long v = strtoull(p + 2, &hend, 16);
                if (hend == p + 2 || hend - (p + 2) > 16 || v > (unsigned long long)INT64_MAX)
                    goto bad;
                if (ferry_buf_printf(&b, "%s%llu", *start == '-' ? "-" : "", v) ||
                    ferry_buf_append(&b, "", 1))
                    goto bad;
                p = hend;
            } else {
                if (!(p = ferry_sql_number_end(p)))
                    goto bad;
                if (ferry_buf_append(&b, start, (size_t)(p - start)) ||
                    ferry_buf_append(&b, "", 1))
                    goto bad;
            }
        }
        if (paren) {
            if (*p != ')')
                goto bad;
            p++;
        }
    }
    /* A cast, PostgreSQL dialect only: "::" and a type name of the whitelist
     * or an identifier; it is dropped (the column's own type casts). */
    if (dialect == FERRY_DIALECT_POSTGRESQL && p[0] == ':' && p[1] == ':') {
        coltype_t ct;
        char cast[128];
        end = p + 2;
        while (*end && *end != ':')
            end++;
        if (*end || (size_t)(end - p - 2) >= sizeof(cast))
            goto bad;
        memcpy(cast, p + 2, (size_t)(end - p - 2));
        cast[end - p - 2] = '\0';
        if (type_parse(cast, 0, &ct) && type_parse(cast, 1, &ct))
            goto bad;
        p = end;
    }
    while (*p == ' ')
        p++;
    if (*p)
        goto bad;
    *value = b.len ? (char *)b.data : NULL;
    if (!b.len)
        ferry_buf_free(&b);
    return 0;
bad:
    ferry_buf_free(&b);
    return -1;
}

/* ---- the target's catalog ---- */

/* A column of an existing table. */
typedef struct tcol {
    char *name;
    char *type;         /* format_type(), for messages */
    fam_t fam;
    int array;
    char *enum_name;    /* FAM_ENUM: pg_type.typname, else "" */
    char identity;      /* pg_attribute.attidentity: 'a', 'd' or 0 */
    int pk_pos;         /* 1-based position in the primary key, 0 */
} tcol_t;

typedef struct tinfo {
    char oid[24];
    tcol_t *cols;
    size_t ncols;
    PGresult *res;      /* owns the strings above */
} tinfo_t;

static void tinfo_free(tinfo_t *t)
{
    free(t->cols);
    PQclear(t->res);
    memset(t, 0, sizeof(*t));
}

static int tinfo_col(const tinfo_t *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i].name, name))
            return (int)i;
    return -1;
}

/* Looks table name up in the schema: 1 and t filled (free with tinfo_free),
 * 0 when there is no such table, or a negative FERRY_E* code. */
static int table_info(pg_store_t *s, const char *name, tinfo_t *t, char *errstr,
                      size_t errstr_size)
{
    static const char *const find =
        "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 "
        "AND c.relkind IN ('r', 'p')";
    static const char *const cols =
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), t.typname, "
        "t.typtype::text, COALESCE(e.typname, ''), COALESCE(e.typtype::text, ''), "
        "a.attidentity::text, COALESCE((SELECT k.n FROM pg_catalog.pg_index i, "
        "unnest(i.indkey) WITH ORDINALITY AS k(att, n) WHERE i.indrelid = a.attrelid "
        "AND i.indisprimary AND k.att = a.attnum), 0) "
        "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
        "LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' "
        "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
    const char *params[2] = {s->schema, name};
    PGresult *res;
    int rc;

    memset(t, 0, sizeof(*t));
    if (!(res = query(s, find, 2, params, "looking up a table", &rc, errstr, errstr_size)))
        return rc;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 0;
    }
    snprintf(t->oid, sizeof(t->oid), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    params[0] = t->oid;
    if (!(t->res = query(s, cols, 1, params, "reading a table's columns", &rc, errstr,
                         errstr_size)))
        return rc;
    t->ncols = (size_t)PQntuples(t->res);
    if (!(t->cols = calloc(t->ncols + 1, sizeof(*t->cols)))) {
        tinfo_free(t);
        return oom(errstr, errstr_size);
    }
    for (size_t i = 0; i < t->ncols; i++) {
        tcol_t *c = &t->cols[i];
        int r = (int)i, arr = *PQgetvalue(t->res, r, 4) != '\0';
        c->name = PQgetvalue(t->res, r, 0);
        c->type = PQgetvalue(t->res, r, 1);
        c->array = arr;
        c->fam = fam_of_typname(PQgetvalue(t->res, r, arr ? 4 : 2),
                                PQgetvalue(t->res, r, arr ? 5 : 3));
        c->enum_name = c->fam == FAM_ENUM ? PQgetvalue(t->res, r, arr ? 4 : 2) : "";
        c->identity = *PQgetvalue(t->res, r, 6);
        c->pk_pos = atoi(PQgetvalue(t->res, r, 7));
    }
    return 1;
}

int ferry_pg_has_object(pg_store_t *s, const char *name)
{
    tinfo_t t;
    char why[256];
    int rc;

    if (end_copy(s, why, sizeof(why)))
        return 0;
    rc = table_info(s, name, &t, why, sizeof(why));
    tinfo_free(&t);
    return rc == 1;
}

/* An existing foreign key that is not deferrable and lies in a reference
 * cycle through table: each statement checks it, so rows of the cycle that
 * arrive in any order (a self reference, parents later in the stream) would
 * fail. Refused, naming the constraint; 0 when there is none. */
static int refuse_strict_cycle(pg_store_t *s, const char *table, char *errstr,
                               size_t errstr_size)
{
    static const char *const sql =
        "SELECT c.conname, ch.relname, pa.relname, c.condeferrable "
        "FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_class ch ON ch.oid = c.conrelid "
        "JOIN pg_catalog.pg_class pa ON pa.oid = c.confrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = ch.relnamespace "
        "WHERE c.contype = 'f' AND n.nspname = $1 AND pa.relnamespace = ch.relnamespace";
    const char *params[1] = {s->schema};
    PGresult *res;
    char *fwd = NULL, *bwd = NULL;
    int rc, n, grew;

    if (!(res = query(s, sql, 1, params, "reading foreign keys", &rc, errstr, errstr_size)))
        return rc;
    n = PQntuples(res);
    /* fwd[i]: edge i's child is reached from table following references;
     * bwd[i]: edge i's parent reaches table. A table is on a cycle through
     * table when both hold for it. Fixpoints over the edges: schemas have
     * few foreign keys. */
    if (!(fwd = calloc((size_t)n + 1, 1)) || !(bwd = calloc((size_t)n + 1, 1))) {
        rc = oom(errstr, errstr_size);
        goto out;
    }
    do {
        grew = 0;
        for (int i = 0; i < n; i++) {
            const char *ch = PQgetvalue(res, i, 1), *pa = PQgetvalue(res, i, 2);
            if (!fwd[i]) {
                int reach = !strcmp(ch, table);
                for (int j = 0; !reach && j < n; j++)
                    reach = fwd[j] && !strcmp(PQgetvalue(res, j, 2), ch);
                if (reach)
                    fwd[i] = grew = 1;
            }
            if (!bwd[i]) {
                int reach = !strcmp(pa, table);
                for (int j = 0; !reach && j < n; j++)
                    reach = bwd[j] && !strcmp(PQgetvalue(res, j, 1), pa);
                if (reach)
                    bwd[i] = grew = 1;
            }
        }
    } while (grew);
    /* An edge lies on a cycle through table when its child is reached from
     * table and its parent reaches table. */
    for (int i = 0; !rc && i < n; i++)
        if (fwd[i] && bwd[i] && *PQgetvalue(res, i, 3) != 't')
            rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                            "table %s: foreign key constraint %s of table %s (references %s) "
                            "is not deferrable and lies in a reference cycle of the target; "
                            "ferry writes the rows of a cycle in one transaction and checks "
                            "them at its end: make the constraint DEFERRABLE",
                            table, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                            PQgetvalue(res, i, 2));
out:
    free(fwd);
    free(bwd);
    PQclear(res);
    return rc;
}

/* ---- applying metadata ---- */

struct pg_pending_fk {
    char *child;
    char *parent;
    char *cols;  /* "(a, b)", for messages */
    char *sql;   /* the ALTER TABLE that adds it */
};

static void pending_free(pg_pending_fk_t *p)
{
    free(p->child);
    free(p->parent);
    free(p->cols);
    free(p->sql);
}

/* The primary key of a table this transaction created, added after its rows
 * (see the top of this file). */
struct pg_later_key {
    char *table;
    char *add_sql;    /* ALTER TABLE .. ADD PRIMARY KEY (..) */
    char *dedupe_sql; /* DELETE every row a later row of its key follows */
    char *unique_sql; /* ALTER TABLE .. ADD UNIQUE (..), ..: after the key; NULL: none */
    char **cols;      /* the key's columns, for messages meanwhile */
    size_t ncols;
};

static void later_key_free(pg_later_key_t *k)
{
    free(k->table);
    free(k->add_sql);
    free(k->dedupe_sql);
    free(k->unique_sql);
    ferry_strv_free(k->cols, k->ncols);
}

/* The index of table's key still to add in s->keys, or -1. */
static long later_key_of(const pg_store_t *s, const char *table)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (!strcmp(s->keys[i].table, table))
            return (long)i;
    return -1;
}

/* Runs sql; *rows (if not NULL) the rows it affected. The result's SQLSTATE
 * is copied to state ("" on success). */
static int exec_counted(pg_store_t *s, const char *sql, const char *what, int64_t *rows,
                        char state[6], char *errstr, size_t errstr_size)
{
    PGresult *res;
    const char *st;
    int rc = FERRY_OK;

    state[0] = '\0';
    if ((rc = ferry_pg_ready(s, what, errstr, errstr_size)))
        return rc;
    res = PQexec(s->conn, sql);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        if (rows)
            *rows = strtoll(PQcmdTuples(res), NULL, 10);
    } else {
        if ((st = PQresultErrorField(res, PG_DIAG_SQLSTATE)))
            snprintf(state, 6, "%s", st);
        rc = ferry_pg_error(s, res, what, errstr, errstr_size);
    }
    PQclear(res);
    return rc;
}

/* Adds the primary key s->keys[i] to its table, which holds its rows now.
 * Rows whose key a later row repeats (the stream repeated a key) are
 * removed first, the last one staying, as one upsert after the other would
 * leave it: the rows of a table this transaction created went in by COPY
 * only, never through the free-space map (COPY appends to a table created
 * in its transaction), so their physical order is their order of arrival;
 * no other transaction sees them, and no foreign key refers to the table
 * yet. *dupes (if not NULL): the rows removed, updates as the upserts would
 * count them. */
static int add_later_key(pg_store_t *s, size_t i, int64_t *dupes, char *errstr,
                         size_t errstr_size)
{
    pg_later_key_t *k = &s->keys[i];
    const char *what = "adding a primary key";
    char state[6], msg[1024];
    int64_t removed = 0;
    int rc;

    if ((rc = ferry_pg_exec(s, "SAVEPOINT ferry_key", what, errstr, errstr_size)))
        return rc;
    rc = exec_counted(s, k->add_sql, what, NULL, state, errstr, errstr_size);
    if (rc && !strcmp(state, "23505")) {
        if (!(rc = ferry_pg_exec(s, "ROLLBACK TO SAVEPOINT ferry_key", what, errstr,
                                 errstr_size)) &&
            !(rc = exec_counted(s, k->dedupe_sql, what, &removed, state, errstr, errstr_size)))
            rc = exec_counted(s, k->add_sql, what, NULL, state, errstr, errstr_size);
    }
    if (!rc && k->unique_sql)
        rc = ferry_pg_exec(s, k->unique_sql, "adding a unique constraint", errstr, errstr_size);
    if (!rc)
        rc = ferry_pg_exec(s, "RELEASE SAVEPOINT ferry_key", what, errstr, errstr_size);
    else if (!ferry_pg_exec(s, "ROLLBACK TO SAVEPOINT ferry_key", what, msg, sizeof(msg)))
        ferry_pg_exec(s, "RELEASE SAVEPOINT ferry_key", what, msg, sizeof(msg));
    if (rc) {
        snprintf(msg, sizeof(msg), "%s", errstr ? errstr : "");
        return ferry_errf(errstr, errstr_size, rc, "table %s: %s", k->table, msg);
    }
    if (dupes)
        *dupes = removed;
    later_key_free(k);
    memmove(k, k + 1, (s->nkeys - i - 1) * sizeof(*k));
    s->nkeys--;
    s->keys_added++;
    return FERRY_OK;
}

/* Adds every primary key still to add (before foreign keys, which need
 * their parent's). */
static int add_later_keys(pg_store_t *s, char *errstr, size_t errstr_size)
{
    int rc = FERRY_OK;

    while (!rc && s->nkeys)
        rc = add_later_key(s, s->nkeys - 1, NULL, errstr, errstr_size);
    return rc;
}

/* Keeps obj's primary key (its fields pk[0..npk)) to add after the rows. */
static int push_later_key(pg_store_t *s, const ferry_object_t *obj, const size_t *pk,
                          size_t npk)
{
    ferry_sql_t add = FERRY_SQL_INIT, del = FERRY_SQL_INIT, uni = FERRY_SQL_INIT;
    pg_later_key_t *grown, *k;
    int rc = FERRY_ENOMEM;

    ferry_sql_add(&add, "ALTER TABLE ");
    sql_table(&add, s, obj->name);
    ferry_sql_add(&add, " ADD PRIMARY KEY (");
    ferry_sql_add(&del, "DELETE FROM ");
    sql_table(&del, s, obj->name);
    ferry_sql_add(&del, " a USING ");
    sql_table(&del, s, obj->name);
    ferry_sql_add(&del, " b WHERE ");
    for (size_t j = 0; j < npk; j++) {
        const char *name = obj->fields[pk[j]].name;
        ferry_sql_add(&add, j ? ", " : "");
        ferry_sql_ident(&add, name);
        ferry_sql_add(&del, "a.");
        ferry_sql_ident(&del, name);
        ferry_sql_add(&del, " = b.");
        ferry_sql_ident(&del, name);
        ferry_sql_add(&del, " AND ");
    }
    ferry_sql_add(&add, ")");
    ferry_sql_add(&del, "a.ctid < b.ctid");
    if (obj->nuniques) {
        ferry_sql_add(&uni, "ALTER TABLE ");
        sql_table(&uni, s, obj->name);
    }
    for (size_t i = 0; i < obj->nuniques; i++) {
        ferry_sql_add(&uni, i ? ", ADD UNIQUE " : " ADD UNIQUE ");
        ferry_sql_ident_list(&uni, obj->uniques[i].fields, obj->uniques[i].nfields);
    }
    if (ferry_sql_text(&add) && ferry_sql_text(&del) && ferry_sql_text(&uni) &&
        (grown = realloc(s->keys, (s->nkeys + 1) * sizeof(*grown)))) {
        s->keys = grown;
        k = &grown[s->nkeys];
        memset(k, 0, sizeof(*k));
        k->table = strdup(obj->name);
        k->add_sql = ferry_buf_strdup(&add.b);
        k->dedupe_sql = ferry_buf_strdup(&del.b);
        k->unique_sql = obj->nuniques ? ferry_buf_strdup(&uni.b) : NULL;
        for (size_t j = 0; j < npk; j++)
            if (strv_push(&k->cols, &k->ncols, obj->fields[pk[j]].name))
                break;
        if (k->table && k->add_sql && k->dedupe_sql && (k->unique_sql || !obj->nuniques) &&
            k->ncols == npk) {
            s->nkeys++;
            rc = FERRY_OK;
        } else {
            later_key_free(k);
        }
    }
    ferry_sql_free(&add);
    ferry_sql_free(&del);
    ferry_sql_free(&uni);
    return rc;
}

static int name_ok(const char *name)
{
    return name && *name && strlen(name) <= PG_NAME_MAX;
}

static int is_enum_field(const ferry_field_t *f)
{
    return f->type == FERRY_T_ENUM || (f->type == FERRY_T_ARRAY && f->nlabels > 0);
}

/* Checks everything of obj that will reach SQL text, before any statement
 * runs, and reads each field's type into ct[i]. */
static int check_object(const ferry_object_t *obj, coltype_t *ct, char *errstr,
                        size_t errstr_size)
{
    int rc;

    if (!name_ok(obj->name))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "object '%s': a table name has 1 to %d bytes", obj->name, PG_NAME_MAX);
    if ((rc = ferry_sql_table_ok(obj, errstr, errstr_size)))
        return rc;
    if (obj->dialect != FERRY_DIALECT_SQLITE && obj->dialect != FERRY_DIALECT_POSTGRESQL)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "object '%s': unknown dialect",
                          obj->name);
    for (size_t i = 0; i < obj->nfields; i++) {
        const ferry_field_t *f = &obj->fields[i];
        int bad;
        if (!name_ok(f->name) || ferry_object_field_index(obj, f->name) != (int)i)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "table %s: column '%s' is empty, longer than %d bytes or "
                              "repeated",
                              obj->name, f->name, PG_NAME_MAX);
        if (obj->dialect == FERRY_DIALECT_POSTGRESQL)
            bad = type_parse(f->decl_type, is_enum_field(f), &ct[i]);
        else
            bad = type_from_sqlite(f, &ct[i]);
        if (bad)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "table %s column %s: type '%s' (%s) is not one ferry carries "
                              "into PostgreSQL",
                              obj->name, f->name, f->decl_type, ferry_type_name(f->type));
    }
    for (size_t i = 0; i < obj->nuniques; i++)
        for (size_t k = 0; k < obj->uniques[i].nfields; k++)
            if (ferry_object_field_index(obj, obj->uniques[i].fields[k]) < 0)
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "table %s: unique constraint names unknown column '%s'",
                                  obj->name, obj->uniques[i].fields[k]);
    for (size_t i = 0; i < obj->nrelations; i++) {
        const ferry_relation_t *r = &obj->relations[i];
        if (!r->nfields || !name_ok(r->target))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "table %s: relation %zu has no columns or a bad target", obj->name,
                              i);
        if (!ferry_sql_on_delete(r->on_delete))
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "table %s: relation to '%s': ON DELETE '%s' is not allowed",
                              obj->name, r->target, r->on_delete);
        for (size_t k = 0; k < r->nfields; k++) {
            if (ferry_object_field_index(obj, r->fields[k]) < 0)
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "table %s: relation to '%s' names unknown column '%s'",
                                  obj->name, r->target, r->fields[k]);
            if (!r->to_fields[k] != !r->to_fields[0] ||
                (r->to_fields[k] && !name_ok(r->to_fields[k])))
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "table %s: relation to '%s' names its target columns only "
                                  "in part",
                                  obj->name, r->target);
        }
    }
    for (size_t i = 0; i < obj->nindexes; i++) {
        const ferry_index_t *x = &obj->indexes[i];
        if (!name_ok(x->name) || !x->ncols)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "table %s: index '%s' has no column or a bad name", obj->name,
                              x->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(obj->indexes[j].name, x->name))
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "table %s: index '%s' is declared twice", obj->name, x->name);
        for (size_t k = 0; k < x->ncols; k++)
            if (ferry_object_field_index(obj, x->cols[k].name) < 0)
                return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                  "table %s: index '%s' names unknown column '%s'", obj->name,
                                  x->name, x->cols[k].name);
    }
    return FERRY_OK;
}

/* Checks the enum type of every enum field of obj: create[i] = 1 when field
 * i's enum is missing and the field is marked in use[] (a column to create;
 * the first field of that name only), 0 when it exists with the same labels.
 * Another type of that name, or an enum with other labels (also under an
 * existing column) -> FERRY_ECONFLICT naming it. */
static int plan_enums(pg_store_t *s, const ferry_object_t *obj, const coltype_t *ct,
                      const char *use, char *create, char *errstr, size_t errstr_size)
{
    static const char *const sql =
        "SELECT t.typtype::text, e.enumlabel FROM pg_catalog.pg_type t "
        "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
        "LEFT JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid "
        "WHERE n.nspname = $1 AND t.typname = $2 ORDER BY e.enumsortorder";
    int rc = FERRY_OK;

    for (size_t i = 0; !rc && i < obj->nfields; i++) {
        const ferry_field_t *f = &obj->fields[i];
        const char *params[2] = {s->schema, ct[i].enum_name};
        PGresult *res;
        int same, first = 1, n;
        create[i] = 0;
        if (ct[i].fam != FAM_ENUM)
            continue;
        for (size_t j = 0; j < i; j++)
            if (ct[j].fam == FAM_ENUM && !strcmp(ct[j].enum_name, ct[i].enum_name)) {
                const ferry_field_t *g = &obj->fields[j];
                first = 0;
                same = g->nlabels == f->nlabels;
                for (size_t k = 0; same && k < f->nlabels; k++)
                    same = !strcmp(g->labels[k], f->labels[k]);
                if (!same)
                    return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                                      "table %s: columns %s and %s give enum type %s different "
                                      "labels",
                                      obj->name, g->name, f->name, ct[i].enum_name);
            }
        if (!first)
            continue;
        if (!(res = query(s, sql, 2, params, "looking up an enum type", &rc, errstr,
                          errstr_size)))
            return rc;
        n = PQntuples(res);
        if (!n) {
            create[i] = use[i];
        } else {
            same = !strcmp(PQgetvalue(res, 0, 0), "e") && (size_t)n == f->nlabels;
            for (int k = 0; same && k < n; k++)
                same = !strcmp(PQgetvalue(res, k, 1), f->labels[k]);
            if (!same)
                rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                                "table %s column %s: type %s exists in the target as %s than "
                                "the incoming enum of %zu labels; nothing was changed",
                                obj->name, f->name, ct[i].enum_name,
                                strcmp(PQgetvalue(res, 0, 0), "e") ? "another kind of type"
                                                                   : "an enum with other labels",
                                f->nlabels);
        }
        PQclear(res);
    }
    return rc;
}

/* Decides for each index of obj whether it must be created (need[i] = 1) or
 * exists already on this table with the same unique flag and columns (0).
 * A relation of that name that is anything else -> FERRY_ECONFLICT. */
static int plan_indexes(pg_store_t *s, const ferry_object_t *obj, char *need, char *errstr,
                        size_t errstr_size)
{
    static const char *const sql =
        "SELECT c.relkind::text, COALESCE(t.relname, ''), COALESCE(i.indisunique, false), "
        "i.indpred IS NULL AND i.indexprs IS NULL, COALESCE(a.attname, ''), "
        "COALESCE(i.indoption[k.n - 1] & 1, 0) "
        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid "
        "LEFT JOIN pg_catalog.pg_class t ON t.oid = i.indrelid "
        "LEFT JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(att, n) ON true "
        "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att "
        "WHERE n.nspname = $1 AND c.relname = $2 ORDER BY k.n";
    int rc = FERRY_OK;

    for (size_t i = 0; !rc && i < obj->nindexes; i++) {
        const ferry_index_t *x = &obj->indexes[i];
        const char *params[2] = {s->schema, x->name};
        PGresult *res = query(s, sql, 2, params, "looking up an index", &rc, errstr, errstr_size);
        int n, same;
        if (!res)
            return rc;
        n = PQntuples(res);
        need[i] = n == 0;
        same = n == (int)x->ncols && !strcmp(PQgetvalue(res, 0, 0), "i") &&
               !strcmp(PQgetvalue(res, 0, 1), obj->name) &&
               (*PQgetvalue(res, 0, 2) == 't') == !!x->unique && *PQgetvalue(res, 0, 3) == 't';
        for (int k = 0; n && same && k < n; k++)
            same = !strcmp(PQgetvalue(res, k, 4), x->cols[k].name) &&
                   (atoi(PQgetvalue(res, k, 5)) != 0) == !!x->cols[k].desc;
        if (n && !same)
            rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                            "table %s: index %s exists in the target (%s%s%s) with another "
                            "definition; drop or rename it there; nothing was changed",
                            obj->name, x->name,
                            strcmp(PQgetvalue(res, 0, 0), "i") ? "a relation" : "an index",
                            *PQgetvalue(res, 0, 1) ? " on table " : "", PQgetvalue(res, 0, 1));
        PQclear(res);
    }
    return rc;
}

/* Whether the server casts value to column type ct: 1 yes, 0 no, or a
 * negative FERRY_E* code. A savepoint keeps a failed cast from aborting the
 * transaction. */
static int cast_ok(pg_store_t *s, const coltype_t *ct, const char *value, char *errstr,
                   size_t errstr_size)
{
    ferry_sql_t q = FERRY_SQL_INIT;
    const char *params[1] = {value};
    PGresult *res;
    int rc, ok;

    if ((rc = ferry_pg_exec(s, "SAVEPOINT ferry_default", "checking a default", errstr,
                            errstr_size)))
        return rc;
    ferry_sql_add(&q, "SELECT $1::");
    sql_coltype(&q, s, ct);
    if (!ferry_sql_text(&q)) {
        ferry_sql_free(&q);
        return oom(errstr, errstr_size);
    }
    res = PQexecParams(s->conn, ferry_sql_text(&q), 1, NULL, params, NULL, NULL, 0);
    ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    ferry_sql_free(&q);
    rc = ferry_pg_exec(s, ok ? "RELEASE SAVEPOINT ferry_default"
                             : "ROLLBACK TO SAVEPOINT ferry_default",
                       "checking a default", errstr, errstr_size);
    if (!rc && !ok)
        rc = ferry_pg_exec(s, "RELEASE SAVEPOINT ferry_default", "checking a default", errstr,
                           errstr_size);
    return rc ? rc : ok;
}

/* Appends field f's column definition: name, type, identity, NOT NULL and
 * a literal default the server casts to the type; what is not created is
 * noted in obj->not_carried. */
static int column_def(pg_store_t *s, const ferry_object_t *obj, const ferry_field_t *f,
                      const coltype_t *ct, ferry_sql_t *q, char *errstr, size_t errstr_size)
{
    int identity = f->identity != FERRY_IDENTITY_NONE, rc = FERRY_OK;
    char *value = NULL;

    ferry_sql_ident(q, f->name);
    ferry_sql_add(q, " ");
    sql_coltype(q, s, ct);
    if (identity && (ct->fam != FAM_INT || ct->array)) {
        identity = 0;
        rc = note_not_carried(obj, "identity of column %s (type %s)", f->name, f->decl_type);
    }
    if (identity)
        ferry_sql_add(q, f->identity == FERRY_IDENTITY_ALWAYS ? " GENERATED ALWAYS AS IDENTITY"
                                                        : " GENERATED BY DEFAULT AS IDENTITY");
    if (!f->nullable)
        ferry_sql_add(q, " NOT NULL");
    if (!rc && f->collation && strcasecmp(f->collation, "BINARY"))
        rc = note_not_carried(obj, "collation %s of column %s", f->collation, f->name);
    if (rc || !f->default_sql || identity || f->identity == FERRY_IDENTITY_SERIAL)
        return rc;
    if (default_parse(f->default_sql, obj->dialect, &value))
        return note_not_carried(obj, "default %s of column %s (not a literal)", f->default_sql,
                                f->name);
    if (!value)
        return FERRY_OK; /* DEFAULT NULL */
    if ((rc = cast_ok(s, ct, value, errstr, errstr_size)) == 1) {
        ferry_sql_add(q, " DEFAULT ");
        sql_literal(q, s, value);
        ferry_sql_add(q, "::");
        sql_coltype(q, s, ct);
        rc = FERRY_OK;
    } else if (rc == 0) {
        rc = note_not_carried(obj, "default %s of column %s (not a value of type %s)",
                              f->default_sql, f->name, ct->spell[0] ? ct->spell : ct->enum_name);
    }
    free(value);
    return rc;
}

/* "FOREIGN KEY (a) REFERENCES s.p (b) ON DELETE x DEFERRABLE INITIALLY DEFERRED" */
static void sql_fk(ferry_sql_t *q, const pg_store_t *s, const ferry_relation_t *r)
{
    const char *action = ferry_sql_on_delete(r->on_delete);

    ferry_sql_add(q, "FOREIGN KEY ");
    ferry_sql_ident_list(q, r->fields, r->nfields);
    ferry_sql_add(q, " REFERENCES ");
    sql_table(q, s, r->target);
    if (r->to_fields[0]) {
        ferry_sql_add(q, " ");
        ferry_sql_ident_list(q, r->to_fields, r->nfields);
    }
    if (*action) {
        ferry_sql_add(q, " ON DELETE ");
        ferry_sql_add(q, action);
    }
    ferry_sql_add(q, " DEFERRABLE INITIALLY DEFERRED");
}

/* Keeps relation r of obj, whose parent does not exist yet, in s->pending. */
static int add_pending(pg_store_t *s, const ferry_object_t *obj, const ferry_relation_t *r)
{
    ferry_sql_t alter = FERRY_SQL_INIT, cols = FERRY_SQL_INIT;
    pg_pending_fk_t *grown, *p;
    int rc = FERRY_ENOMEM;

    ferry_sql_add(&alter, "ALTER TABLE ");
    sql_table(&alter, s, obj->name);
    ferry_sql_add(&alter, " ADD ");
    sql_fk(&alter, s, r);
    for (size_t k = 0; k < r->nfields; k++) {
        ferry_sql_add(&cols, k ? ", " : "(");
        ferry_sql_add(&cols, r->fields[k]);
    }
    ferry_sql_add(&cols, ")");
    if (ferry_sql_text(&alter) && ferry_sql_text(&cols) &&
        (grown = realloc(s->pending, (s->npending + 1) * sizeof(*grown)))) {
        s->pending = grown;
        p = &grown[s->npending];
        memset(p, 0, sizeof(*p));
        p->child = strdup(obj->name);
        p->parent = strdup(r->target);
        p->cols = ferry_buf_strdup(&cols.b);
        p->sql = ferry_buf_strdup(&alter.b);
        if (p->child && p->parent && p->cols && p->sql) {
            s->npending++;
            rc = FERRY_OK;
        } else {
            pending_free(p);
        }
    }
    ferry_sql_free(&alter);
    ferry_sql_free(&cols);
    return rc;
}

/* The error of a statement that checked foreign keys (res): a violation
 * (23503) FERRY_ECONFLICT naming table, key and parent from the server's
 * detail ("Key (parent_id)=(7) is not present in table "parent"."), the
 * same whether a deferred check or adding the key found it; anything else
 * as ferry_pg_error. */
static int fk_error(pg_store_t *s, const PGresult *res, const char *what, char *errstr,
                    size_t errstr_size)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *table = res ? PQresultErrorField(res, PG_DIAG_TABLE_NAME) : NULL;
    const char *con = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char msg[1024];

    if (!state || strcmp(state, "23503"))
        return ferry_pg_error(s, res, what, errstr, errstr_size);
    server_message(s, res, msg, sizeof(msg));
    return ferry_errf(errstr, errstr_size, FERRY_ECONFLICT, "table %s: %s (foreign key %s)",
                      table ? table : "?", detail ? detail : msg, con ? con : "?");
}

/* Adds the pending foreign keys whose parent exists now, each validated
 * over the rows its table holds. They leave the list only when every one
 * was added: after a failure the list is whole again, for a caller that
 * rolls back to a savepoint taken before. */
static int add_waiting_fks(pg_store_t *s, char *errstr, size_t errstr_size)
{
    char *added = calloc(s->npending + 1, 1);
    size_t kept = 0;
    int rc = FERRY_OK;

    if (!added)
        return oom(errstr, errstr_size);
    for (size_t i = 0; !rc && i < s->npending; i++) {
        pg_pending_fk_t *p = &s->pending[i];
        PGresult *res;
        tinfo_t t;
        int found = table_info(s, p->parent, &t, errstr, errstr_size);
        tinfo_free(&t);
        if (found <= 0) {
            rc = found;
            continue;
        }
        if ((rc = ferry_pg_ready(s, "adding a foreign key", errstr, errstr_size)))
            break;
        res = PQexec(s->conn, p->sql);
        if (PQresultStatus(res) == PGRES_COMMAND_OK)
            added[i] = 1;
        else
            rc = fk_error(s, res, "adding a foreign key", errstr, errstr_size);
        PQclear(res);
    }
    if (!rc) {
        for (size_t i = 0; i < s->npending; i++) {
            if (added[i])
                pending_free(&s->pending[i]);
            else
                s->pending[kept++] = s->pending[i];
        }
        s->npending = kept;
    }
    free(added);
    return rc;
}

/* The foreign keys whose parent is still missing: the first, named. */
static int refuse_missing_parents(pg_store_t *s, char *errstr, size_t errstr_size)
{
    int rc = add_waiting_fks(s, errstr, errstr_size);

    if (!rc && s->npending)
        rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                        "table %s: foreign key %s references table %s, which does not exist "
                        "in the target",
                        s->pending[0].child, s->pending[0].cols, s->pending[0].parent);
    return rc;
}

static int create_table(pg_store_t *s, const ferry_object_t *obj, const coltype_t *ct,
                        char *errstr, size_t errstr_size)
{
    ferry_sql_t q = FERRY_SQL_INIT;
    size_t *pk = calloc(obj->nfields, sizeof(*pk)), npk;
    int rc = FERRY_OK;

    if (!pk) {
        rc = oom(errstr, errstr_size);
        goto out;
    }
    ferry_sql_add(&q, "CREATE TABLE ");
    sql_table(&q, s, obj->name);
    ferry_sql_add(&q, " (");
    npk = ferry_object_pk(obj, pk);
    for (size_t i = 0; !rc && i < obj->nfields; i++) {
        ferry_sql_add(&q, i ? ", " : "");
        rc = column_def(s, obj, &obj->fields[i], &ct[i], &q, errstr, errstr_size);
        /* a key column refuses NULL from the first row on, as with its key */
        for (size_t k = 0; k < npk; k++)
            if (pk[k] == i && obj->fields[i].nullable)
                ferry_sql_add(&q, " NOT NULL");
    }
    for (size_t i = 0; !npk && i < obj->nuniques; i++) { /* (else after the rows) */
        ferry_sql_add(&q, ", UNIQUE ");
        ferry_sql_ident_list(&q, obj->uniques[i].fields, obj->uniques[i].nfields);
    }
    ferry_sql_add(&q, ")");
    if (!rc)
        rc = exec_sql(s, &q, "creating a table", errstr, errstr_size);
    /* Its primary key and foreign keys after its rows (see the top of this
     * file). */
    if (!rc && npk && push_later_key(s, obj, pk, npk))
        rc = oom(errstr, errstr_size);
    for (size_t i = 0; !rc && i < obj->nrelations; i++)
        if (add_pending(s, obj, &obj->relations[i]))
            rc = oom(errstr, errstr_size);
    if (!rc && strv_push(&s->created, &s->ncreated, obj->name))
        rc = oom(errstr, errstr_size);
out:
    ferry_sql_free(&q);
    free(pk);
    return rc;
}

/* Compares obj with the existing table t: marks in add[] the columns to add;
 * a different key, a column of another type, or a new NOT NULL column
 * without a default -> FERRY_ECONFLICT naming table and column. */
static int plan_evolve(const ferry_object_t *obj, const coltype_t *ct, const tinfo_t *t,
                       char *add, char *errstr, size_t errstr_size)
{
    size_t *pk = calloc(obj->nfields + 1, sizeof(*pk)), npk = ferry_object_pk(obj, pk), tnpk = 0;
    int rc = FERRY_OK;

    if (!pk)
        return oom(errstr, errstr_size);
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].pk_pos > 0)
            tnpk++;
    for (size_t k = 0; !rc && k < (npk > tnpk ? npk : tnpk); k++) {
        const char *have = NULL, *want = k < npk ? obj->fields[pk[k]].name : NULL;
        for (size_t i = 0; i < t->ncols; i++)
            if (t->cols[i].pk_pos == (int)k + 1)
                have = t->cols[i].name;
        if (!have || !want || strcmp(have, want))
            rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                            "table %s: primary key differs from the existing one at column %s; "
                            "nothing was changed",
                            obj->name, want ? want : have);
    }
    free(pk);
    for (size_t i = 0; !rc && i < obj->nfields; i++) {
        const ferry_field_t *f = &obj->fields[i];
        int j = tinfo_col(t, f->name);
        char *value = NULL;
        add[i] = j < 0;
        if (j >= 0) {
            const tcol_t *c = &t->cols[j];
            if (c->fam != ct[i].fam || c->array != ct[i].array ||
                (c->fam == FAM_ENUM && strcmp(c->enum_name, ct[i].enum_name)) ||
                c->fam == FAM_OTHER)
                rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                                "table %s column %s: type %s (%s%s) conflicts with the existing "
                                "%s (%s%s); nothing was changed",
                                obj->name, f->name, f->decl_type, fam_name(ct[i].fam),
                                ct[i].array ? " array" : "", c->type, fam_name(c->fam),
                                c->array ? " array" : "");
            continue;
        }
        if (!f->nullable && f->identity == FERRY_IDENTITY_NONE &&
            (!f->default_sql || default_parse(f->default_sql, obj->dialect, &value) || !value))
            rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                            "table %s column %s: a new NOT NULL column without a default cannot "
                            "be added; nothing was changed",
                            obj->name, f->name);
        free(value);
    }
    return rc;
}

/* The DDL of one item of a table (a field's enum type, a new column, an
 * index), built into q: 0, or a negative FERRY_E* code with errstr set. */
typedef int (*ddl_fn)(pg_store_t *s, const ferry_object_t *obj, const coltype_t *ct, size_t i,
                      ferry_sql_t *q, char *errstr, size_t errstr_size);

/* Runs build's statement for each item i < n marked in marked[], in order,
 * stopping at the first failure. */
static int run_ddl(pg_store_t *s, const ferry_object_t *obj, const coltype_t *ct, size_t n,
                   const char *marked, ddl_fn build, const char *what, char *errstr,
                   size_t errstr_size)
{
    int rc = FERRY_OK;

    for (size_t i = 0; !rc && i < n; i++) {
        ferry_sql_t q = FERRY_SQL_INIT;

        if (marked[i] && !(rc = build(s, obj, ct, i, &q, errstr, errstr_size)))
            rc = exec_sql(s, &q, what, errstr, errstr_size);
        ferry_sql_free(&q);
    }
    return rc;
}

/* CREATE TYPE schema."t" AS ENUM ('a', ...) for field i. */
static int enum_ddl(pg_store_t *s, const ferry_object_t *obj, const coltype_t *ct, size_t i,
                    ferry_sql_t *q, char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    ferry_sql_add(q, "CREATE TYPE ");
    sql_table(q, s, ct[i].enum_name);
    ferry_sql_add(q, " AS ENUM (");
    for (size_t k = 0; k < obj->fields[i].nlabels; k++) {
        ferry_sql_add(q, k ? ", " : "");
        sql_literal(q, s, obj->fields[i].labels[k]);
    }
    ferry_sql_add(q, ")");
    return FERRY_OK;
}

/* CREATE INDEX for index i; a collation other than BINARY is noted as not
 * carried (SQLite's are not PostgreSQL's). */
static int index_ddl(pg_store_t *s, const ferry_object_t *obj, const coltype_t *ct, size_t i,
                     ferry_sql_t *q, char *errstr, size_t errstr_size)
{
    const ferry_index_t *x = &obj->indexes[i];
    int rc = FERRY_OK;

    (void)ct;
    ferry_sql_create_index(q, FERRY_DIALECT_POSTGRESQL, s->qschema, obj->name, x);
    for (size_t k = 0; !rc && k < x->ncols; k++)
        if (x->cols[k].collation && strcasecmp(x->cols[k].collation, "BINARY"))
            rc = note_not_carried(obj, "collation %s of index %s column %s",
                                  x->cols[k].collation, x->name, x->cols[k].name);
    return rc ? oom(errstr, errstr_size) : FERRY_OK;
}

/* ALTER TABLE ... ADD COLUMN for field i. */
static int column_ddl(pg_store_t *s, const ferry_object_t *obj, const coltype_t *ct, size_t i,
                      ferry_sql_t *q, char *errstr, size_t errstr_size)
{
    ferry_sql_add(q, "ALTER TABLE ");
    sql_table(q, s, obj->name);
    ferry_sql_add(q, " ADD COLUMN ");
    return column_def(s, obj, &obj->fields[i], &ct[i], q, errstr, errstr_size);
}

int ferry_pg_apply_object(pg_store_t *s, const ferry_object_t *obj, int *created, char *errstr,
                          size_t errstr_size)
{
    coltype_t *ct = NULL;
    char *use = NULL, *make = NULL, *need = NULL;
    tinfo_t t;
    int rc, exists = 0;

    memset(&t, 0, sizeof(t));
    if (s->state != PG_WRITE)
        return ferry_errf(errstr, errstr_size, FERRY_EORDER,
                          "PostgreSQL store: applying table %s outside a write transaction",
                          obj->name);
    if ((rc = end_copy(s, errstr, errstr_size)))
        return rc;
    if (!(ct = calloc(obj->nfields + 1, sizeof(*ct))) || !(use = calloc(obj->nfields + 1, 1)) ||
        !(make = calloc(obj->nfields + 1, 1)) || !(need = calloc(obj->nindexes + 1, 1))) {
        rc = oom(errstr, errstr_size);
        goto out;
    }
    /* Every check first: nothing changes before the last one passed. */
    if ((rc = check_object(obj, ct, errstr, errstr_size)))
        goto out;
    /* (A table this transaction created gets its key first, to be compared.) */
    if (later_key_of(s, obj->name) >= 0 &&
        (rc = add_later_key(s, (size_t)later_key_of(s, obj->name), NULL, errstr, errstr_size)))
        goto out;
    if ((exists = table_info(s, obj->name, &t, errstr, errstr_size)) < 0) {
        rc = exists;
        goto out;
    }
    if (exists) {
        if ((rc = refuse_strict_cycle(s, obj->name, errstr, errstr_size)) ||
            (rc = plan_evolve(obj, ct, &t, use, errstr, errstr_size)))
            goto out;
    } else {
        memset(use, 1, obj->nfields);
    }
    if ((rc = plan_enums(s, obj, ct, use, make, errstr, errstr_size)) ||
        (rc = plan_indexes(s, obj, need, errstr, errstr_size)))
        goto out;

    if ((rc = run_ddl(s, obj, ct, obj->nfields, make, enum_ddl, "creating an enum type", errstr,
                      errstr_size)))
        goto out;
    if (exists) {
        rc = run_ddl(s, obj, ct, obj->nfields, use, column_ddl, "adding a column", errstr,
                     errstr_size);
    } else if (!(rc = create_table(s, obj, ct, errstr, errstr_size))) {
        if (created)
            *created = 1;
    }
    if (!rc)
        rc = run_ddl(s, obj, ct, obj->nindexes, need, index_ddl, "creating an index", errstr,
                     errstr_size);
out:
    tinfo_free(&t);
    free(ct);
    free(use);
    free(make);
    free(need);
    return rc;
}

/* ---- writer ---- */

typedef struct pg_writer {
    ferry_writer_t base;
    pg_store_t *s;
    char *table;
    tinfo_t t;             /* the target table's columns; names point into it */
    size_t n;              /* incoming fields */
    const tcol_t **col;    /* the table's column for incoming field i */
    ferry_type_t *in_type; /* incoming field i's ferry type */
    size_t *key;           /* incoming indexes of the key columns, in key order */
    size_t nkey;
    size_t *shown;         /* the same for messages: the key to come, when keyless */
    size_t nshown;
    int direct;            /* COPY straight into the table (else staged and merged) */
    int keyless;           /* the table's primary key is added at the writer's end */
    unsigned keys_added;   /* s->keys_added when the writer was bound to the table */
    int copying;           /* the direct COPY is open on the connection */
    int staged;            /* the staging table exists */
    int failed;            /* a statement failed: the transaction is lost */
    char *copy_sql, *stage_sql, *stage_copy_sql, *truncate_sql, *drop_sql, *merge_sql;
    ferry_buf_t batch;     /* the batch's rows as COPY text */
    size_t sent;           /* bytes of it streamed to the direct COPY */
    size_t *rows;          /* offset of each row in batch */
    size_t nrows, caprows;
    int64_t updated;       /* rows that met their key (or an identical row) since the last flush */
} pg_writer_t;

/* Appends bytes escaped for COPY's text format. */
static int put_escaped(ferry_buf_t *b, const uint8_t *p, size_t n)
{
    uint8_t *o;

    if (ferry_buf_reserve(b, 2 * n))
        return FERRY_ENOMEM;
    o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        switch (c) {
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        default: *o++ = c;
        }
    }
    b->len = (size_t)(o - b->data);
    return FERRY_OK;
}

/* Appends bytes as bytea's hex input, escaped for COPY: \\x0a1b... */
static int put_hex(ferry_buf_t *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t *o;

    if (ferry_buf_reserve(b, 3 + 2 * n))
        return FERRY_ENOMEM;
    o = b->data + b->len;
    *o++ = '\\';
    *o++ = '\\';
    *o++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *o++ = (uint8_t)hex[p[i] >> 4];
        *o++ = (uint8_t)hex[p[i] & 15];
    }
    b->len = (size_t)(o - b->data);
    return FERRY_OK;
}

static int put_int(ferry_buf_t *b, int64_t v)
{
    char tmp[24], *e = tmp + sizeof(tmp), *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return ferry_buf_append(b, p, (size_t)(e - p));
}

/* d as text that reads back as d exactly: for a float column %.17g (the
 * server prints floats in their shortest form whatever the input), for any
 * other (numeric, text) the shortest of %.15g..%.17g, the decimal a person
 * wrote. */
static void format_double(double d, int exact, char *out, size_t out_size)
{
    if (isnan(d)) {
        snprintf(out, out_size, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(out, out_size, "%s", d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = exact ? 17 : 15; prec <= 17; prec++) {
        snprintf(out, out_size, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* SQLite's typed DATE (days) and TIMESTAMP (milliseconds) integers as
 * PostgreSQL date/timestamp text for a column of family fam; -1 when out of
 * the years 1..9999 (the raw integer then goes, and the server names it). */
static int format_sqlite_time(int64_t v, int is_days, fam_t fam, char *out, size_t out_size)
{
    ferry_tm_t tm;

    if (is_days ? (v < -800000 || v > 3000000) : (v < -70000000000000 || v > 260000000000000))
        return -1;
    ferry_time_split(is_days ? v * 86400000 : v, &tm);
    if (tm.year < 1 || tm.year > 9999)
        return -1;
    if (fam == FAM_DATE)
        snprintf(out, out_size, "%04d-%02d-%02d", tm.year, tm.month, tm.day);
    else
        snprintf(out, out_size, "%04d-%02d-%02d %02d:%02d:%02d.%03d%s", tm.year, tm.month, tm.day,
                 tm.hour, tm.min, tm.sec, tm.ms, fam == FAM_TIMESTAMPTZ ? "+00" : "");
    return 0;
}

/* Appends value v of incoming field i as COPY text for its column. */
static int put_value(pg_writer_t *w, size_t i, const ferry_value_t *v)
{
    ferry_buf_t *b = &w->batch;
    fam_t fam = w->col[i]->array ? FAM_OTHER : w->col[i]->fam;
    char tmp[48];

    switch (v->kind) {
    case FERRY_V_NULL:
        return ferry_buf_append(b, "\\N", 2);
    case FERRY_V_INT:
        if (fam == FAM_BOOL && (v->i == 0 || v->i == 1))
            return ferry_buf_append(b, v->i ? "t" : "f", 1);
        if ((fam == FAM_DATE || fam == FAM_TIMESTAMP || fam == FAM_TIMESTAMPTZ) &&
            (w->in_type[i] == FERRY_T_DATE || w->in_type[i] == FERRY_T_TIMESTAMP) &&
            !format_sqlite_time(v->i, w->in_type[i] == FERRY_T_DATE, fam, tmp, sizeof(tmp)))
            return ferry_buf_puts(b, tmp);
        return put_int(b, v->i);
    case FERRY_V_REAL:
        format_double(v->d, fam == FAM_FLOAT, tmp, sizeof(tmp));
        return ferry_buf_puts(b, tmp);
    case FERRY_V_TEXT:
    case FERRY_V_BLOB:
        if (fam == FAM_BYTEA)
            return put_hex(b, v->p, v->n);
        return put_escaped(b, v->p, v->n);
    }
    return FERRY_EINVAL;
}

/* Describes the row of the batch at index r for messages: "id=5, b='x'"
 * (its key columns, or its first columns when the table has no key). */
static void describe_row(const pg_writer_t *w, size_t r, char *out, size_t out_size)
{
    const char *line = (const char *)w->batch.data + w->rows[r];
    const char *end = (const char *)w->batch.data +
                      (r + 1 < w->nrows ? w->rows[r + 1] : w->batch.len) - 1; /* its \n */
    size_t shown = w->nshown ? w->nshown : (w->n < 4 ? w->n : 4), len = 0;

    out[0] = '\0';
    for (size_t k = 0; k < shown; k++) {
        size_t f = w->nshown ? w->shown[k] : k, at = 0;
        const char *p = line;
        char val[48];
        size_t nv = 0;
        for (; at < f && p < end; p++)
            if (*p == '\t')
                at++;
        if (p + 2 <= end && p[0] == '\\' && p[1] == 'N' && (p + 2 == end || p[2] == '\t')) {
            snprintf(val, sizeof(val), "NULL");
        } else {
            for (; p < end && *p != '\t' && nv + 4 < sizeof(val); p++) {
                char c = *p;
                if (c == '\\' && p + 1 < end) {
                    c = *++p;
                    c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
                }
                val[nv++] = c;
            }
            if (p < end && *p != '\t')
                val[nv++] = '.', val[nv++] = '.';
            val[nv] = '\0';
        }
        len += (size_t)snprintf(out + len, len < out_size ? out_size - len : 0, "%s%s=%s",
                                k ? ", " : "", w->col[f]->name, val);
        if (len >= out_size)
            return;
    }
}

/* Turns a failed COPY of the batch into a message naming table, row and
 * column: the server's context says "COPY t, line N, column c: ...". */
static int copy_error(pg_writer_t *w, const PGresult *res, char *errstr, size_t errstr_size)
{
    const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT), *at;
    const char *column = NULL;
    char msg[1024], row[512];
    long line = 0;

    server_message(w->s, res, msg, sizeof(msg));
    w->failed = 1;
    if (ctx && !strncmp(ctx, "COPY ", 5) && (at = strstr(ctx, ", line ")))
        line = strtol(at + 7, NULL, 10);
    if (line < 1 || (size_t)line > w->nrows)
        return ferry_errf(errstr, errstr_size, FERRY_ESTORE, "table %s: %s%s%s", w->table, msg,
                          ctx ? " at " : "", ctx ? ctx : "");
    /* The longest column name that the context names ("column c:"). */
    for (size_t i = 0; i < w->n; i++) {
        const char *name = w->col[i]->name, *hit = strstr(ctx, ", column ");
        size_t len = strlen(name);
        if (hit && !strncmp(hit + 9, name, len) && hit[9 + len] == ':' &&
            (!column || strlen(column) < len))
            column = name;
    }
    describe_row(w, (size_t)line - 1, row, sizeof(row));
    return ferry_errf(errstr, errstr_size, FERRY_ESTORE, "table %s row with key (%s)%s%s: %s",
                      w->table, row, column ? " column " : "", column ? column : "", msg);
}

static int writer_lost(pg_writer_t *w, char *errstr, size_t errstr_size)
{
    return ferry_errf(errstr, errstr_size, FERRY_ESTORE,
                      "table %s: an earlier write failed; the transaction must be rolled back",
                      w->table);
}

/* Sends the batch from w->sent on to the open COPY. */
static int copy_send(pg_writer_t *w, char *errstr, size_t errstr_size)
{
    size_t n = w->batch.len - w->sent;

    if (n && PQputCopyData(w->s->conn, (const char *)w->batch.data + w->sent, (int)n) != 1) {
        w->failed = 1;
        return ferry_pg_error(w->s, NULL, "sending rows", errstr, errstr_size);
    }
    w->sent = w->batch.len;
    return FERRY_OK;
}

/* Ends the open COPY: the result, which the caller clears (NULL when the
 * connection failed). Reads every result so that the connection is free. */
static PGresult *copy_end(pg_writer_t *w)
{
    PGresult *res = NULL, *more;

    if (PQputCopyEnd(w->s->conn, NULL) == 1)
        res = PQgetResult(w->s->conn);
    while ((more = PQgetResult(w->s->conn)))
        PQclear(more);
    if (w->s->writing == w)
        w->s->writing = NULL;
    w->copying = 0;
    return res;
}

/* Starts a COPY ... FROM STDIN (sql). */
static int copy_start(pg_writer_t *w, const char *sql, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(w->s->conn, sql);
    int rc = FERRY_OK;

    if (PQresultStatus(res) != PGRES_COPY_IN) {
        w->failed = 1;
        rc = ferry_pg_error(w->s, res, "starting a COPY", errstr, errstr_size);
    }
    PQclear(res);
    return rc;
}

/* The direct path's start of a batch: a savepoint, then the COPY. */
static int direct_start(pg_writer_t *w, char *errstr, size_t errstr_size)
{
    int rc;

    if (w->s->writing && (rc = writer_end_copy(w->s->writing, errstr, errstr_size)))
        return rc;
    if ((rc = ferry_pg_exec(w->s, "SAVEPOINT ferry_copy", "writing rows", errstr, errstr_size)))
        w->failed = 1;
    else if (!(rc = copy_start(w, w->copy_sql, errstr, errstr_size))) {
        w->copying = 1;
        w->s->writing = w;
        w->sent = 0;
    }
    return rc;
}

/* The staged path: the batch into the staging table, then merged into the
 * table; rows that met their key (or an identical row) count as updated. */
static int merge_batch(pg_writer_t *w, char *errstr, size_t errstr_size)
{
    PGresult *res;
    int rc;

    rc = ferry_pg_exec(w->s, w->staged ? w->truncate_sql : w->stage_sql, "staging rows", errstr,
                       errstr_size);
    w->staged = 1;
    if (!rc)
        rc = copy_start(w, w->stage_copy_sql, errstr, errstr_size);
    if (rc) {
        w->failed = 1;
        return rc;
    }
    w->copying = 1;
    w->sent = 0;
    rc = copy_send(w, errstr, errstr_size);
    res = copy_end(w);
    if (!rc && PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = copy_error(w, res, errstr, errstr_size);
    PQclear(res);
    if (rc)
        return rc;
    if (!(res = PQexec(w->s->conn, w->merge_sql)) || PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[1024];
        server_message(w->s, res, msg, sizeof(msg));
        PQclear(res);
        w->failed = 1;
        return ferry_errf(errstr, errstr_size, FERRY_ESTORE, "table %s: %s", w->table, msg);
    }
    w->updated += (int64_t)w->nrows - strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return FERRY_OK;
}

/* Writes the batch (ending the direct COPY, or staging and merging). */
static int write_batch(pg_writer_t *w, char *errstr, size_t errstr_size)
{
    int rc = FERRY_OK;

    if (w->failed)
        return writer_lost(w, errstr, errstr_size);
    if (w->copying) {
        PGresult *res;
        const char *state;
        rc = copy_send(w, errstr, errstr_size);
        res = copy_end(w);
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (!rc && PQresultStatus(res) == PGRES_COMMAND_OK) {
            rc = ferry_pg_exec(w->s, "RELEASE SAVEPOINT ferry_copy", "writing rows", errstr,
                               errstr_size);
        } else if (!rc && state && !strcmp(state, "23505")) {
            /* A key the stream repeats: the batch goes the staged way. */
            rc = ferry_pg_exec(w->s, "ROLLBACK TO SAVEPOINT ferry_copy", "writing rows", errstr,
                               errstr_size);
            if (!rc)
                rc = ferry_pg_exec(w->s, "RELEASE SAVEPOINT ferry_copy", "writing rows", errstr,
                                   errstr_size);
            if (!rc)
                rc = merge_batch(w, errstr, errstr_size);
        } else if (!rc) {
            rc = copy_error(w, res, errstr, errstr_size);
        }
        PQclear(res);
    } else if (w->nrows) {
        rc = merge_batch(w, errstr, errstr_size);
    }
    if (rc)
        w->failed = 1;
    ferry_buf_reset(&w->batch);
    w->nrows = 0;
    w->sent = 0;
    return rc;
}

static int writer_end_copy(pg_writer_t *w, char *errstr, size_t errstr_size)
{
    return write_batch(w, errstr, errstr_size);
}

static int writer_rebind(pg_writer_t *w, char *errstr, size_t errstr_size);

/* The end of a keyless writer's rows: its table's primary key is added, the
 * rows whose key a later row repeated counted as updated; the writer is
 * bound to the table again for any later row (the upsert way then). */
static int writer_add_key(pg_writer_t *w, char *errstr, size_t errstr_size)
{
    long k;
    int64_t dupes = 0;
    int rc;

    if (!w->keyless || w->failed)
        return FERRY_OK; /* (a failed writer's transaction cannot commit) */
    if ((k = later_key_of(w->s, w->table)) >= 0 &&
        (rc = add_later_key(w->s, (size_t)k, &dupes, errstr, errstr_size))) {
        w->failed = 1;
        return rc;
    }
    w->updated += dupes;
    return writer_rebind(w, errstr, errstr_size);
}

static int writer_put(ferry_writer_t *base, const ferry_value_t *row, int *inserted,
                      char *errstr, size_t errstr_size)
{
    pg_writer_t *w = (pg_writer_t *)base;
    int rc;

    if (w->failed || w->s->state != PG_WRITE)
        return writer_lost(w, errstr, errstr_size);
    if (w->keyless && w->keys_added != w->s->keys_added &&
        later_key_of(w->s, w->table) < 0 && (rc = writer_rebind(w, errstr, errstr_size)))
        return rc;
    if (w->direct && !w->copying && (rc = direct_start(w, errstr, errstr_size)))
        return rc;
    if (w->nrows == w->caprows) {
        size_t cap = w->caprows ? w->caprows * 2 : 1024;
        size_t *grown = realloc(w->rows, cap * sizeof(*grown));
        if (!grown)
            return oom(errstr, errstr_size);
        w->rows = grown;
        w->caprows = cap;
    }
    w->rows[w->nrows++] = w->batch.len;
    for (size_t i = 0; i < w->n; i++)
        if ((i && ferry_buf_append(&w->batch, "\t", 1)) || put_value(w, i, &row[i]))
            return oom(errstr, errstr_size);
    if (ferry_buf_append(&w->batch, "\n", 1))
        return oom(errstr, errstr_size);
    if (inserted)
        *inserted = 1;
    if (w->nrows >= BATCH_ROWS || w->batch.len >= BATCH_BYTES)
        return write_batch(w, errstr, errstr_size);
    if (w->copying && w->batch.len - w->sent >= STREAM_BYTES)
        return copy_send(w, errstr, errstr_size);
    return FERRY_OK;
}

static int writer_flush(ferry_writer_t *base, int64_t *updated, char *errstr, size_t errstr_size)
{
    pg_writer_t *w = (pg_writer_t *)base;
    int rc = w->s->state == PG_WRITE ? write_batch(w, errstr, errstr_size)
                                      : writer_lost(w, errstr, errstr_size);

    if (!rc)
        rc = writer_add_key(w, errstr, errstr_size);
    if (updated)
        *updated = w->updated;
    w->updated = 0;
    return rc;
}

static void writer_destroy(ferry_writer_t *base)
{
    pg_writer_t *w = (pg_writer_t *)base;
    char why[1024];

    if (!w)
        return;
    /* Kept rows belong to the open transaction: written there, or the
     * commit fails with the reason. */
    if (w->s && w->s->state == PG_WRITE &&
        (((w->nrows || w->copying) && write_batch(w, why, sizeof(why))) ||
         writer_add_key(w, why, sizeof(why))) &&
        !w->s->flush_error)
        w->s->flush_error = strdup(why);
    if (w->s && w->copying)
        PQclear(copy_end(w));
    if (w->s && w->staged && !w->failed &&
        PQtransactionStatus(w->s->conn) == PQTRANS_INTRANS)
        ferry_pg_exec(w->s, w->drop_sql, "dropping a staging table", why, sizeof(why));
    ferry_buf_free(&w->batch);
    free(w->rows);
    tinfo_free(&w->t);
    free(w->col);
    free(w->in_type);
    free(w->key);
    free(w->shown);
    free(w->table);
    free(w->copy_sql);
    free(w->stage_sql);
    free(w->stage_copy_sql);
    free(w->truncate_sql);
    free(w->drop_sql);
    free(w->merge_sql);
    free(w);
}

/* "(x."a", x."b")" of the incoming columns, qualified by alias (or not). */
static void sql_cols(ferry_sql_t *q, const pg_writer_t *w, const char *alias)
{
    for (size_t i = 0; i < w->n; i++) {
        ferry_sql_add(q, i ? ", " : "");
        if (alias) {
            ferry_sql_add(q, alias);
            ferry_sql_add(q, ".");
        }
        ferry_sql_ident(q, w->col[i]->name);
    }
}

/* Appends "a.c IS DISTINCT FROM b.c" for column c: compared by value
 * where equal values have one text form (integers, text, dates and times,
 * uuid, bytea, enums), else by text, so that numeric 1.0 and 1.00, float -0
 * and 0, or interval '1 day' and '24 hours' count as different. */
static void sql_same(ferry_sql_t *q, const tcol_t *c, const char *a, const char *b)
{
    static const fam_t exact[] = {FAM_INT, FAM_TEXT, FAM_BOOL, FAM_DATE, FAM_TIME,
                                  FAM_TIMESTAMP, FAM_TIMESTAMPTZ, FAM_UUID, FAM_BYTEA, FAM_ENUM};
    int by_value = 0;

    for (size_t i = 0; !c->array && i < sizeof(exact) / sizeof(exact[0]); i++)
        by_value |= c->fam == exact[i];
    ferry_sql_add(q, a);
    ferry_sql_add(q, ".");
    ferry_sql_ident(q, c->name);
    ferry_sql_add(q, by_value ? " IS DISTINCT FROM " : "::text IS DISTINCT FROM ");
    ferry_sql_add(q, b);
    ferry_sql_add(q, ".");
    ferry_sql_ident(q, c->name);
    if (!by_value)
        ferry_sql_add(q, "::text");
}

/* The writer's statements, from the catalog's spelling of every name. */
static int writer_sql(pg_writer_t *w, int created, char *errstr, size_t errstr_size)
{
    pg_store_t *s = w->s;
    ferry_sql_t copy = FERRY_SQL_INIT, stage = FERRY_SQL_INIT, scopy = FERRY_SQL_INIT;
    ferry_sql_t trunc = FERRY_SQL_INIT, drop = FERRY_SQL_INIT, merge = FERRY_SQL_INIT;
    char name[32];
    int always = 0, nset = 0, rc = FERRY_OK;

    for (size_t i = 0; i < w->n; i++)
        always |= w->col[i]->identity == 'a';
    snprintf(name, sizeof(name), "ferry_stage_%u", ++s->nstage);
    ferry_sql_add(&copy, "COPY ");
    sql_table(&copy, s, w->table);
    ferry_sql_add(&copy, " (");
    sql_cols(&copy, w, NULL);
    ferry_sql_add(&copy, ") FROM STDIN");

    ferry_sql_add(&stage, "CREATE TEMP TABLE ");
    ferry_sql_ident(&stage, name);
    ferry_sql_add(&stage, " ON COMMIT DROP AS SELECT ");
    sql_cols(&stage, w, NULL);
    ferry_sql_add(&stage, " FROM ");
    sql_table(&stage, s, w->table);
    ferry_sql_add(&stage, " WITH NO DATA");
    ferry_sql_add(&scopy, "COPY pg_temp.");
    ferry_sql_ident(&scopy, name);
    ferry_sql_add(&scopy, " FROM STDIN");
    ferry_sql_add(&trunc, "TRUNCATE pg_temp.");
    ferry_sql_ident(&trunc, name);
    ferry_sql_add(&drop, "DROP TABLE pg_temp.");
    ferry_sql_ident(&drop, name);

    ferry_sql_add(&merge, "WITH u AS (INSERT INTO ");
    sql_table(&merge, s, w->table);
    ferry_sql_add(&merge, " AS t (");
    sql_cols(&merge, w, NULL);
    ferry_sql_add(&merge, always ? ") OVERRIDING SYSTEM VALUE SELECT " : ") SELECT ");
    sql_cols(&merge, w, "x");
    if (w->nkey) {
        /* The last row of a key repeated in the batch wins, as one upsert
         * after the other would have it. */
        ferry_sql_add(&merge, " FROM (SELECT DISTINCT ON (");
        for (size_t k = 0; k < w->nkey; k++) {
            ferry_sql_add(&merge, k ? ", " : "");
            ferry_sql_ident(&merge, w->col[w->key[k]]->name);
        }
        ferry_sql_add(&merge, ") * FROM pg_temp.");
        ferry_sql_ident(&merge, name);
        ferry_sql_add(&merge, " ORDER BY ");
        for (size_t k = 0; k < w->nkey; k++) {
            ferry_sql_ident(&merge, w->col[w->key[k]]->name);
            ferry_sql_add(&merge, ", ");
        }
        ferry_sql_add(&merge, "ctid DESC) x ON CONFLICT (");
        for (size_t k = 0; k < w->nkey; k++) {
            ferry_sql_add(&merge, k ? ", " : "");
            ferry_sql_ident(&merge, w->col[w->key[k]]->name);
        }
        ferry_sql_add(&merge, ") DO ");
        for (size_t i = 0; i < w->n; i++) {
            if (w->col[i]->pk_pos > 0 || w->col[i]->identity == 'a')
                continue;
            ferry_sql_add(&merge, nset++ ? ", " : "UPDATE SET ");
            ferry_sql_ident(&merge, w->col[i]->name);
            ferry_sql_add(&merge, " = EXCLUDED.");
            ferry_sql_ident(&merge, w->col[i]->name);
        }
        /* A row equal to the incoming one is left alone: re-applying
         * unchanged rows writes nothing (no new row version, no trigger). */
        for (size_t i = 0, k = 0; i < w->n; i++) {
            if (w->col[i]->pk_pos > 0 || w->col[i]->identity == 'a')
                continue;
            ferry_sql_add(&merge, k++ ? " OR " : " WHERE ");
            sql_same(&merge, w->col[i], "t", "EXCLUDED");
        }
        ferry_sql_add(&merge, nset ? " RETURNING (t.xmax = 0) AS ins) "
                             : "NOTHING RETURNING true AS ins) ");
        ferry_sql_add(&merge, "SELECT count(*) FILTER (WHERE ins) FROM u");
    } else if (created) {
        ferry_sql_add(&merge, " FROM pg_temp.");
        ferry_sql_ident(&merge, name);
        ferry_sql_add(&merge, " x RETURNING true) SELECT count(*) FROM u");
    } else {
        /* Rows no identical row (the same text in every incoming column)
         * of the table has, once each. */
        ferry_sql_add(&merge, " FROM (SELECT DISTINCT ON (ROW(");
        sql_cols(&merge, w, NULL);
        ferry_sql_add(&merge, ")::text) * FROM pg_temp.");
        ferry_sql_ident(&merge, name);
        ferry_sql_add(&merge, ") x WHERE NOT EXISTS (SELECT 1 FROM ");
        sql_table(&merge, s, w->table);
        ferry_sql_add(&merge, " o WHERE ROW(");
        sql_cols(&merge, w, "o");
        ferry_sql_add(&merge, ")::text = ROW(");
        sql_cols(&merge, w, "x");
        ferry_sql_add(&merge, ")::text) RETURNING true) SELECT count(*) FROM u");
    }
    if (!ferry_sql_text(&copy) || !ferry_sql_text(&stage) || !ferry_sql_text(&scopy) ||
        !ferry_sql_text(&trunc) || !ferry_sql_text(&drop) || !ferry_sql_text(&merge) ||
        !(w->copy_sql = ferry_buf_strdup(&copy.b)) ||
        !(w->stage_sql = ferry_buf_strdup(&stage.b)) ||
        !(w->stage_copy_sql = ferry_buf_strdup(&scopy.b)) ||
        !(w->truncate_sql = ferry_buf_strdup(&trunc.b)) ||
        !(w->drop_sql = ferry_buf_strdup(&drop.b)) || !(w->merge_sql = ferry_buf_strdup(&merge.b)))
        rc = oom(errstr, errstr_size);
    ferry_sql_free(&copy);
    ferry_sql_free(&stage);
    ferry_sql_free(&scopy);
    ferry_sql_free(&trunc);
    ferry_sql_free(&drop);
    ferry_sql_free(&merge);
    return rc;
}

/* 1 if the table holds no row, 0 if it does, or a negative FERRY_E* code. */
static int table_empty(pg_store_t *s, const char *table, char *errstr, size_t errstr_size)
{
    ferry_sql_t q = FERRY_SQL_INIT;
    PGresult *res = NULL;
    int rc;

    ferry_sql_add(&q, "SELECT 1 FROM ");
    sql_table(&q, s, table);
    ferry_sql_add(&q, " LIMIT 1");
    if (!ferry_sql_text(&q))
        rc = oom(errstr, errstr_size);
    else if ((res = query(s, ferry_sql_text(&q), 0, NULL, "reading a table", &rc, errstr,
                          errstr_size)))
        rc = PQntuples(res) == 0;
    PQclear(res);
    ferry_sql_free(&q);
    return rc;
}

/* Binds w to its table as it is now, for the incoming columns names[0..w->n):
 * the table's columns and key, the path (direct or staged) and the
 * statements. A table this transaction created whose primary key is still
 * to come is written keyless while it is empty (its key added at the
 * writer's end); one that holds rows gets its key first. */
static int writer_bind(pg_writer_t *w, const char *const *names, char *errstr,
                       size_t errstr_size)
{
    pg_store_t *s = w->s;
    int rc, empty, created;
    size_t tnpk = 0;
    long k = later_key_of(s, w->table);

    w->keyless = 0;
    if (k >= 0) {
        if ((empty = table_empty(s, w->table, errstr, errstr_size)) < 0)
            return empty;
        if (!empty && (rc = add_later_key(s, (size_t)k, NULL, errstr, errstr_size)))
            return rc;
        w->keyless = empty;
    }
    w->keys_added = s->keys_added;
    tinfo_free(&w->t);
    w->nkey = 0;
    if ((rc = table_info(s, w->table, &w->t, errstr, errstr_size)) <= 0)
        return rc ? rc
                  : ferry_errf(errstr, errstr_size, FERRY_ENOTFOUND,
                               "table %s does not exist in the target", w->table);
    for (size_t i = 0; i < w->n; i++) {
        int j = tinfo_col(&w->t, names[i]);
        if (j < 0)
            return ferry_errf(errstr, errstr_size, FERRY_ECONFLICT, "table %s has no column %s",
                              w->table, names[i]);
        w->col[i] = &w->t.cols[j];
    }
    for (size_t j = 0; j < w->t.ncols; j++)
        if (w->t.cols[j].pk_pos > 0)
            tnpk++;
    for (size_t kk = 1; kk <= tnpk; kk++) {
        size_t i;
        for (i = 0; i < w->n && w->col[i]->pk_pos != (int)kk; i++)
            ;
        if (i == w->n) {
            for (size_t j = 0; j < w->t.ncols; j++)
                if (w->t.cols[j].pk_pos == (int)kk)
                    rc = ferry_errf(errstr, errstr_size, FERRY_ECONFLICT,
                                    "table %s: incoming rows lack key column %s", w->table,
                                    w->t.cols[j].name);
            return rc;
        }
        w->key[w->nkey++] = i;
    }
    memcpy(w->shown, w->key, w->nkey * sizeof(*w->shown));
    w->nshown = w->nkey;
    for (size_t kk = 0; w->keyless && k >= 0 && kk < s->keys[k].ncols; kk++)
        for (size_t i = 0; i < w->n; i++)
            if (!strcmp(w->col[i]->name, s->keys[k].cols[kk]))
                w->shown[w->nshown++] = i;
    if ((empty = table_empty(s, w->table, errstr, errstr_size)) < 0)
        return empty;
    created = strv_has(s->created, s->ncreated, w->table);
    w->direct = empty && (w->nkey || created);
    free(w->copy_sql);
    free(w->stage_sql);
    free(w->stage_copy_sql);
    free(w->truncate_sql);
    free(w->drop_sql);
    free(w->merge_sql);
    w->copy_sql = w->stage_sql = w->stage_copy_sql = NULL;
    w->truncate_sql = w->drop_sql = w->merge_sql = NULL;
    return writer_sql(w, created, errstr, errstr_size);
}

/* Binds w again (its table got its key since): the rows kept so far are
 * written first, and a staging table of the old binding is dropped. */
static int writer_rebind(pg_writer_t *w, char *errstr, size_t errstr_size)
{
    char **names = calloc(w->n + 1, sizeof(*names));
    int rc = FERRY_OK;

    if (!names)
        return oom(errstr, errstr_size);
    if ((w->nrows || w->copying) && (rc = write_batch(w, errstr, errstr_size)))
        goto out;
    if (w->staged) {
        if ((rc = ferry_pg_exec(w->s, w->drop_sql, "dropping a staging table", errstr,
                                errstr_size)))
            goto out;
        w->staged = 0;
    }
    for (size_t i = 0; i < w->n; i++)
        if (!(names[i] = strdup(w->col[i]->name))) {
            rc = oom(errstr, errstr_size);
            goto out;
        }
    rc = writer_bind(w, (const char *const *)names, errstr, errstr_size);
out:
    if (rc)
        w->failed = 1;
    ferry_strv_free(names, w->n);
    return rc;
}

int ferry_pg_writer_open(pg_store_t *s, const ferry_object_t *obj, ferry_writer_t **out,
                         char *errstr, size_t errstr_size)
{
    pg_writer_t *w = NULL;
    const char **names = NULL;
    int rc;

    *out = NULL;
    if (s->mode != FERRY_STORE_WRITE)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "PostgreSQL store is open read-only");
    if (s->state != PG_WRITE)
        return ferry_errf(errstr, errstr_size, FERRY_EORDER,
                          "PostgreSQL store: writing table %s outside a write transaction",
                          obj->name);
    if (!obj->nfields)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "object '%s' has no fields",
                          obj->name);
    if ((rc = end_copy(s, errstr, errstr_size)))
        return rc;
    if (!(w = calloc(1, sizeof(*w))) || !(w->table = strdup(obj->name)) ||
        !(w->col = calloc(obj->nfields, sizeof(*w->col))) ||
        !(w->in_type = calloc(obj->nfields, sizeof(*w->in_type))) ||
        !(w->key = calloc(obj->nfields, sizeof(*w->key))) ||
        !(w->shown = calloc(obj->nfields, sizeof(*w->shown))) ||
        !(names = calloc(obj->nfields, sizeof(*names)))) {
        rc = oom(errstr, errstr_size);
        goto done;
    }
    w->base.put = writer_put;
    w->base.flush = writer_flush;
    w->base.destroy = writer_destroy;
    w->s = s;
    w->n = obj->nfields;
    for (size_t i = 0; i < obj->nfields; i++) {
        names[i] = obj->fields[i].name;
        w->in_type[i] = obj->fields[i].type;
    }
    if ((rc = refuse_strict_cycle(s, obj->name, errstr, errstr_size)) ||
        (rc = writer_bind(w, names, errstr, errstr_size)))
        goto done;
    if (!strv_has(s->written, s->nwritten, obj->name) &&
        strv_push(&s->written, &s->nwritten, obj->name))
        rc = oom(errstr, errstr_size);
done:
    free(names);
    if (rc && w) {
        w->s = NULL;
        writer_destroy(&w->base);
    } else if (!rc) {
        *out = &w->base;
    }
    return rc;
}

/* ---- foreign-key check and generators ---- */

int ferry_pg_check_fks(pg_store_t *s, char *errstr, size_t errstr_size)
{
    PGresult *res;
    char msg[1024];
    int rc;

    /* (Primary keys first, each in a savepoint of its own: foreign keys
     * need their parent's.) */
    if ((rc = end_copy(s, errstr, errstr_size)) || (rc = add_later_keys(s, errstr, errstr_size)))
        return rc;
    /* Checking now makes a violation fail the statement; the savepoint keeps
     * the transaction alive for the caller's rollback or retry (and the
     * foreign keys not added yet waiting, as they were). */
    if ((rc = ferry_pg_exec(s, "SAVEPOINT ferry_fk_check", "checking foreign keys", errstr,
                            errstr_size)))
        return rc;
    if (!(rc = add_waiting_fks(s, errstr, errstr_size))) {
        if (s->npending) {
            /* the keys added hold; a missing parent is refused, named */
            if ((rc = ferry_pg_exec(s, "RELEASE SAVEPOINT ferry_fk_check",
                                    "checking foreign keys", errstr, errstr_size)))
                return rc;
            return refuse_missing_parents(s, errstr, errstr_size);
        }
        res = PQexec(s->conn, "SET CONSTRAINTS ALL IMMEDIATE");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = fk_error(s, res, "checking foreign keys", errstr, errstr_size);
        PQclear(res);
        if (!rc && !(rc = ferry_pg_exec(s, "SET CONSTRAINTS ALL DEFERRED",
                                        "checking foreign keys", errstr, errstr_size)))
            return ferry_pg_exec(s, "RELEASE SAVEPOINT ferry_fk_check", "checking foreign keys",
                                 errstr, errstr_size);
    }
    if (!ferry_pg_exec(s, "ROLLBACK TO SAVEPOINT ferry_fk_check", "checking foreign keys", msg,
                       sizeof(msg)))
        ferry_pg_exec(s, "RELEASE SAVEPOINT ferry_fk_check", "checking foreign keys", msg,
                      sizeof(msg));
    ferry_pg_exec(s, "SET CONSTRAINTS ALL DEFERRED", "checking foreign keys", msg, sizeof(msg));
    return rc;
}

/* Moves the generators of one written table past its largest values: each
 * identity column's and owned (serial) sequence, only forward, and only a
 * sequence counting up. */
static int move_generators(pg_store_t *s, const char *table, char *errstr, size_t errstr_size)
{
    static const char *const find =
        "SELECT a.attname, d.objid FROM pg_catalog.pg_depend d "
        "JOIN pg_catalog.pg_class c ON c.oid = d.refobjid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid "
        "JOIN pg_catalog.pg_class q ON q.oid = d.objid AND q.relkind = 'S' "
        "WHERE d.classid = 'pg_catalog.pg_class'::regclass "
        "AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i') "
        "AND n.nspname = $1 AND c.relname = $2 ORDER BY a.attnum";
    const char *params[2] = {s->schema, table};
    PGresult *res;
    int rc;

    if (!(res = query(s, find, 2, params, "finding sequences", &rc, errstr, errstr_size)))
        return rc;
    for (int i = 0; !rc && i < PQntuples(res); i++) {
        ferry_sql_t q = FERRY_SQL_INIT;
        const char *seq[1] = {PQgetvalue(res, i, 1)};
        PGresult *set;
        /* setval(m): the next value is m + 1. A sequence never used counts
         * from its start, one used from its last value: moved only when
         * the table holds that value or more. */
        ferry_sql_add(&q, "SELECT pg_catalog.setval(p.seqrelid, x.m) FROM (SELECT max(");
        ferry_sql_ident(&q, PQgetvalue(res, i, 0));
        ferry_sql_add(&q, ") AS m FROM ");
        sql_table(&q, s, table);
        ferry_sql_add(&q, ") x, pg_catalog.pg_sequence p WHERE p.seqrelid = $1::oid "
                    "AND p.seqincrement > 0 AND x.m IS NOT NULL AND x.m >= "
                    "COALESCE(pg_catalog.pg_sequence_last_value(p.seqrelid), p.seqstart)");
        if (!ferry_sql_text(&q))
            rc = oom(errstr, errstr_size);
        else if ((set = query(s, ferry_sql_text(&q), 1, seq, "moving a sequence", &rc, errstr,
                              errstr_size)))
            PQclear(set);
        ferry_sql_free(&q);
    }
    PQclear(res);
    if (rc)
        return ferry_errf(errstr, errstr_size, rc, "table %s: moving its generators failed",
                          table);
    return FERRY_OK;
}

int ferry_pg_before_commit(pg_store_t *s, char *errstr, size_t errstr_size)
{
    int rc = end_copy(s, errstr, errstr_size);

    if (!rc && s->flush_error)
        rc = ferry_errf(errstr, errstr_size, FERRY_ESTORE, "%s", s->flush_error);
    if (!rc)
        rc = add_later_keys(s, errstr, errstr_size);
    if (!rc)
        rc = refuse_missing_parents(s, errstr, errstr_size);
    for (size_t i = 0; !rc && i < s->nwritten; i++)
        rc = move_generators(s, s->written[i], errstr, errstr_size);
    ferry_pg_forget_written(s);
    return rc;
}

void ferry_pg_forget_written(pg_store_t *s)
{
    ferry_strv_free(s->written, s->nwritten);
    s->written = NULL;
    s->nwritten = s->capwritten = 0;
    ferry_strv_free(s->created, s->ncreated);
    s->created = NULL;
    s->ncreated = 0;
    for (size_t i = 0; i < s->npending; i++)
        pending_free(&s->pending[i]);
    free(s->pending);
    s->pending = NULL;
    s->npending = 0;
    for (size_t i = 0; i < s->nkeys; i++)
        later_key_free(&s->keys[i]);
    free(s->keys);
    s->keys = NULL;
    s->nkeys = 0;
    free(s->flush_error);
    s->flush_error = NULL;
    /* A writer's COPY still open (its destroy did not come first) is
     * cancelled, so that the connection can roll back; the writer fails. */
    if (s->writing) {
        pg_writer_t *w = s->writing;
        PGresult *res;
        PQputCopyEnd(s->conn, "the transaction ends");
        while ((res = PQgetResult(s->conn)))
            PQclear(res);
        w->copying = 0;
        w->failed = 1;
        s->writing = NULL;
    }
}
