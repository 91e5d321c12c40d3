/* sqlite_meta.h - reads the metadata model (meta.h) of a SQLite database:
 * columns, primary key, unique constraints and foreign keys of every table. */
#ifndef FERRY_SQLITE_META_H
#define FERRY_SQLITE_META_H

#include "meta.h"

#include <sqlite3.h>
#include <stddef.h>

/* Reads every ordinary table of db's main schema except SQLite's internal
 * tables and ferry's bookkeeping tables ("sqlite_*", "ferry_*" in any case:
 * ferry_name_reserved); views, virtual tables with their shadow tables, and
 * temp tables are not objects. Generated and hidden columns are left out
 * (they cannot be inserted). Foreign keys declared ON DELETE CASCADE become
 * FERRY_REL_INCLUDE relations, others FERRY_REL_ASSOCIATION; a relation's
 * target is spelled as the referenced table is named when it exists. On
 * failure -> FERRY_ESTORE (or FERRY_ENOMEM) naming the table. *out is new;
 * free with ferry_objset_destroy. db is only read. */
int ferry_sqlite_meta_read(sqlite3 *db, ferry_objset_t **out, char *errstr, size_t errstr_size);

/* The object as a SQLite table declares it, for creating or evolving one
 * from metadata of another dialect (PostgreSQL's): a copy of obj, added to
 * the new set *set (free with ferry_objset_destroy), whose fields carry the
 * SQLite declaration of their ferry type (ferry_sqlite_decl_of), so that its
 * type (ferry_type_from_decl) is what the created column will read back as,
 * and only the defaults SQLite evaluates the same way (literals; a cast
 * after a quoted literal is dropped; expressions such as nextval() or now()
 * are left out); collations are left out (PostgreSQL's are not SQLite's).
 * For a SQLite object *set is NULL and *out obj itself. 0 or FERRY_ENOMEM. */
int ferry_sqlite_meta_declare(const ferry_object_t *obj, ferry_objset_t **set,
                              const ferry_object_t **out, char *errstr, size_t errstr_size);

/* The SQLite declaration of a PostgreSQL-dialect field (into buf, size at
 * least 48): one whose affinity keeps every value as it came -
 *   integer INTEGER, real REAL, boolean BOOLEAN, bytea BLOB,
 *   text TEXT, varchar(n) VARCHAR(n), char(n) CHAR(n),
 *   numeric(p,s) with p <= 15 NUMERIC(p,s) (numeric affinity: at most 15
 *     digits, which a REAL holds exactly), wider or without precision
 *     NUMERIC TEXT(p,s) / NUMERIC TEXT (TEXT affinity: the exact text, read
 *     back by ferry as a decimal),
 *   date DATE TEXT, timestamp TIMESTAMP TEXT (read back as date and
 *     timestamp), time TIME TEXT, timestamptz TIMESTAMPTZ TEXT, uuid UUID
 *     TEXT, json JSON TEXT, jsonb JSONB TEXT, enum ENUM TEXT, array ARRAY
 *     TEXT, interval TEXT (a name holding "INT" has integer affinity).
 * Returns buf. */
const char *ferry_sqlite_decl_of(const ferry_field_t *f, char *buf, size_t size);

#endif
