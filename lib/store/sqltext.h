/* sqltext.h - private to the store modules: SQL text built from the metadata
 * model, the same for SQLite and PostgreSQL (both quote an identifier in
 * double quotes, an embedded one doubled). Names enter SQL only through
 * ferry_sql_ident / ferry_sql_quote_ident; values never enter it (they are
 * bound parameters or COPY data), except quoted and cut in messages
 * (ferry_sql_value).
 *
 * A ferry_sql_t is text under construction: the first failed append makes
 * every later one a no-op, so a builder checks once, at ferry_sql_text. */
#ifndef FERRY_SQLTEXT_H
#define FERRY_SQLTEXT_H

#include "buf.h"
#include "meta.h"
#include "value.h"

#include <stddef.h>

typedef struct ferry_sql {
    ferry_buf_t b;
    int failed;
} ferry_sql_t;

#define FERRY_SQL_INIT {FERRY_BUF_INIT, 0}

void ferry_sql_add(ferry_sql_t *q, const char *s);
void ferry_sql_addf(ferry_sql_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "name", embedded double quotes doubled. */
void ferry_sql_ident(ferry_sql_t *q, const char *name);
/* ("a", "b") */
void ferry_sql_ident_list(ferry_sql_t *q, char *const *names, size_t n);
/* A value as messages show it: numbers as they are, text quoted and cut at 40
 * bytes (between characters), a blob by its size. */
void ferry_sql_value(ferry_sql_t *q, const ferry_value_t *v);
/* The NUL-terminated text (appending may go on), or NULL after a failed
 * append. Owned by q. */
const char *ferry_sql_text(ferry_sql_t *q);
/* Frees the text and clears the failure: q can be used again. */
void ferry_sql_free(ferry_sql_t *q);

/* Appends ident to b quoted, as ferry_sql_ident: 0 or FERRY_ENOMEM. */
int ferry_sql_quote_ident(ferry_buf_t *b, const char *ident);

/* The ON DELETE action in its canonical spelling (CASCADE, SET NULL, SET
 * DEFAULT, RESTRICT, NO ACTION; any case accepted), "" for none, or NULL for
 * anything else: the only actions a store writes into a foreign key. */
const char *ferry_sql_on_delete(const char *action);

/* ", PRIMARY KEY (...)" when obj has a key, then ", UNIQUE (...)" for each of
 * its unique constraints: the key clauses of a CREATE TABLE. */
void ferry_sql_key_clauses(ferry_sql_t *q, const ferry_object_t *obj);
/* The CREATE [UNIQUE] INDEX statement of index x of table, from the model:
 * quoted names, DESC where the column has it. SQLite: IF NOT EXISTS, and
 * each column's whitelisted collation. PostgreSQL: the table qualified by
 * qschema (already quoted), no collation (SQLite's are not PostgreSQL's). */
void ferry_sql_create_index(ferry_sql_t *q, ferry_dialect_t dialect, const char *qschema,
                            const char *table, const ferry_index_t *x);

/* The end of the unsigned decimal number at p (digits, an optional fraction,
 * an optional exponent: "12", "1.5", ".5", "1e-3"), or NULL when p does not
 * start with one. A literal a store accepts as a default is checked with it,
 * never parsed by the database first. */
const char *ferry_sql_number_end(const char *p);

/* What every store refuses to create: a table without a name or without
 * fields, or one whose name is reserved (ferry_name_reserved): FERRY_EINVAL
 * naming it; 0 otherwise. */
int ferry_sql_table_ok(const ferry_object_t *obj, char *errstr, size_t errstr_size);

#endif
