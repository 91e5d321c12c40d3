/* seed.h - the sample source environment behind `ferry-env seed`: a store
 * (a SQLite file, or any store store.h opens for writing) holding every
 * preset object of schemas/catalog/preset.json (with the foreign keys of
 * tests/unit/data/preset_schema.sql), the User and
 * Application tables they associate with, and custom objects named the
 * product's way (Customer__CST, Order__CST, its CASCADE detail OrderLine__CST,
 * the self-referencing Category__CST, and "Order Note__CST" with columns named
 * "group" and "order"), filled with realistic rows.
 *
 * The content is a function of (rows, seed) only: the same arguments give the
 * same checksums, in any store. Rows are generated and written one at a time,
 * so memory does not grow with the row count. */
#ifndef FERRY_SEED_H
#define FERRY_SEED_H

#include <stddef.h>
#include <stdint.h>

/* Creates the sample environment in store: a file name or "sqlite:PATH" (a
 * SQLite file), or a store URI with "://" ("postgresql://...") and the
 * environment's schema (NULL: the store's default; a SQLite file has none,
 * see ferry_store_open_schema), with about
 * `rows` rows in total (at least one per table), spread over the tables by
 * fixed shares. An existing SQLite file -> FERRY_EINVAL unless force, which
 * replaces it; another store that holds any table -> FERRY_EINVAL whatever
 * force (the seed replaces files only, never a server's tables). Everything
 * is written in one transaction: on failure nothing is left (a SQLite file
 * the seed created is removed). *written (if not NULL) receives the number of
 * rows written. */
int ferry_seed_create(const char *store, const char *schema, int64_t rows, uint64_t seed,
                      int force, int64_t *written, char *errstr, size_t errstr_size);

/* The seeded tables, in creation order (masters before details), and the
 * share of the row total each one gets, out of ferry_seed_share_total(). */
size_t ferry_seed_table_count(void);
const char *ferry_seed_table_name(size_t i);
unsigned ferry_seed_table_share(size_t i);
unsigned ferry_seed_share_total(void);

#endif
