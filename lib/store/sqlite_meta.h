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

#endif
