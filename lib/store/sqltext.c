/* sqltext.c - SQL text built from the metadata model (sqltext.h). */
#include "sqltext.h"

#include "error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ferry_sql_add(ferry_sql_t *q, const char *s)
{
    if (!q->failed && ferry_buf_puts(&q->b, s))
        q->failed = 1;
}

void ferry_sql_addf(ferry_sql_t *q, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        q->failed = 1;
    else
        ferry_sql_add(q, tmp);
}

int ferry_sql_quote_ident(ferry_buf_t *b, const char *ident)
{
    if (ferry_buf_reserve(b, strlen(ident) + 2) || ferry_buf_append(b, "\"", 1))
        return FERRY_ENOMEM;
    for (const char *p = ident; *p; p++)
        if (ferry_buf_append(b, p, 1) || (*p == '"' && ferry_buf_append(b, p, 1)))
            return FERRY_ENOMEM;
    return ferry_buf_append(b, "\"", 1) ? FERRY_ENOMEM : FERRY_OK;
}

void ferry_sql_ident(ferry_sql_t *q, const char *name)
{
    if (!q->failed && ferry_sql_quote_ident(&q->b, name))
        q->failed = 1;
}

void ferry_sql_ident_list(ferry_sql_t *q, char *const *names, size_t n)
{
    ferry_sql_add(q, "(");
    for (size_t k = 0; k < n; k++) {
        ferry_sql_add(q, k ? ", " : "");
        ferry_sql_ident(q, names[k]);
    }
    ferry_sql_add(q, ")");
}

void ferry_sql_value(ferry_sql_t *q, const ferry_value_t *v)
{
    switch (v->kind) {
    case FERRY_V_NULL:
        ferry_sql_add(q, "NULL");
        break;
    case FERRY_V_INT:
        ferry_sql_addf(q, "%lld", (long long)v->i);
        break;
    case FERRY_V_REAL:
        ferry_sql_addf(q, "%.17g", v->d);
        break;
    case FERRY_V_TEXT: {
        const unsigned char *p = v->p;
        size_t n = v->n > 40 ? 40 : v->n;
        while (n < v->n && n > 0 && (p[n] & 0xc0) == 0x80) /* cut between characters */
            n--;
        ferry_sql_addf(q, "'%.*s%s'", (int)n, (const char *)p, n < v->n ? "..." : "");
        break;
    }
    case FERRY_V_BLOB:
        ferry_sql_addf(q, "<blob of %zu bytes>", v->n);
        break;
    }
}

const char *ferry_sql_text(ferry_sql_t *q)
{
    if (q->failed || ferry_buf_reserve(&q->b, 1))
        return NULL;
    q->b.data[q->b.len] = '\0';
    return (const char *)q->b.data;
}

void ferry_sql_free(ferry_sql_t *q)
{
    ferry_buf_free(&q->b);
    q->failed = 0;
}

const char *ferry_sql_on_delete(const char *action)
{
    static const char *const actions[] = {"CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT",
                                          "NO ACTION"};

    if (!action || !*action)
        return "";
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (!strcasecmp(action, actions[i]))
            return actions[i];
    return NULL;
}

void ferry_sql_key_clauses(ferry_sql_t *q, const ferry_object_t *obj)
{
    size_t npk, *pk = calloc(obj->nfields + 1, sizeof(*pk));

    if (!pk) {
        q->failed = 1;
        return;
    }
    if ((npk = ferry_object_pk(obj, pk))) {
        ferry_sql_add(q, ", PRIMARY KEY (");
        for (size_t k = 0; k < npk; k++) {
            ferry_sql_add(q, k ? ", " : "");
            ferry_sql_ident(q, obj->fields[pk[k]].name);
        }
        ferry_sql_add(q, ")");
    }
    free(pk);
    for (size_t i = 0; i < obj->nuniques; i++) {
        ferry_sql_add(q, ", UNIQUE ");
        ferry_sql_ident_list(q, obj->uniques[i].fields, obj->uniques[i].nfields);
    }
}

void ferry_sql_create_index(ferry_sql_t *q, ferry_dialect_t dialect, const char *qschema,
                            const char *table, const ferry_index_t *x)
{
    int sqlite = dialect == FERRY_DIALECT_SQLITE;

    ferry_sql_add(q, x->unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ");
    ferry_sql_add(q, sqlite ? "IF NOT EXISTS " : "");
    ferry_sql_ident(q, x->name);
    ferry_sql_add(q, " ON ");
    if (!sqlite) {
        ferry_sql_add(q, qschema);
        ferry_sql_add(q, ".");
    }
    ferry_sql_ident(q, table);
    ferry_sql_add(q, " (");
    for (size_t k = 0; k < x->ncols; k++) {
        ferry_sql_add(q, k ? ", " : "");
        ferry_sql_ident(q, x->cols[k].name);
        if (sqlite && x->cols[k].collation) {
            const char *c = ferry_collation_name(x->cols[k].collation);
            if (!c)
                q->failed = 1;
            ferry_sql_add(q, " COLLATE ");
            ferry_sql_add(q, c ? c : "");
        }
        if (x->cols[k].desc)
            ferry_sql_add(q, " DESC");
    }
    ferry_sql_add(q, ")");
}

const char *ferry_sql_number_end(const char *p)
{
    const char *digits = p;

    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if (p == digits || (p == digits + 1 && *digits == '.'))
        return NULL;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return p;
}

int ferry_sql_table_ok(const ferry_object_t *obj, char *errstr, size_t errstr_size)
{
    if (!obj->name || !*obj->name)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "object without a name");
    if (ferry_name_reserved(obj->name))
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "object '%s': names starting with sqlite_ or ferry_ are reserved",
                          obj->name);
    if (!obj->nfields)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL, "object '%s' has no fields",
                          obj->name);
    return FERRY_OK;
}
