/* plan.h - the export plan: the dependency closure of the requested objects
 * (what travels together) and the apply order (what the target applies first).
 *
 * Closure follows include edges transitively: the preset catalog's edges for
 * catalog objects, and for custom objects the store's foreign keys declared
 * ON DELETE CASCADE (the master pulls the detail). It stops at associations and
 * never_export objects and terminates on cycles. Order: among the exported
 * tables a referenced table comes before the table referencing it; strongly
 * connected components (mutual or self references) form one apply group,
 * applied together with foreign-key checks deferred. Ties break by name, so the
 * same environment and request always give the same plan. */
#ifndef FERRY_PLAN_H
#define FERRY_PLAN_H

#include "buf.h"
#include "catalog.h"
#include "meta.h"

#include <stddef.h>
#include <stdint.h>

/* One table of an export plan, in apply order. */
typedef struct ferry_plan_table {
    char *name;
    char *pulled_by;       /* the object whose include edge pulled it in; NULL if requested */
    int32_t group;         /* apply group, 0-based; groups are applied in increasing order */
} ferry_plan_table_t;

typedef struct ferry_plan_assoc {
    char *from;
    char *to;              /* must already exist in the target */
} ferry_plan_assoc_t;

typedef struct ferry_plan ferry_plan_t;

/* The object name that requests every exportable table of the environment:
 * every object but never_export ones; it must be the only requested name. */
#define FERRY_PLAN_ALL "*"

/* Plans an export of requested (nrequested names) from the objects of one
 * environment. Requested objects that do not exist -> FERRY_ENOTFOUND with
 * errstr listing all of them; a requested never_export object, or a table
 * the environment holds but that is no object (a virtual table, a shadow
 * table, sqlite_sequence: ferry_objset_add_excluded) -> FERRY_EINVAL with
 * errstr saying what it is and why it is not exported.
 * *out is new; free with ferry_plan_destroy (accepts NULL). cat and objs are
 * only read during the call. */
int ferry_plan_new(const ferry_catalog_t *cat, const ferry_objset_t *objs,
                   const char *const *requested, size_t nrequested, ferry_plan_t **out,
                   char *errstr, size_t errstr_size);
void ferry_plan_destroy(ferry_plan_t *plan);

/* Tables in apply order (group by group, by name within a group). */
size_t ferry_plan_ntables(const ferry_plan_t *plan);
const ferry_plan_table_t *ferry_plan_table(const ferry_plan_t *plan, size_t i);
/* Association targets that must already exist in the target environment. */
size_t ferry_plan_nassocs(const ferry_plan_t *plan);
const ferry_plan_assoc_t *ferry_plan_assoc(const ferry_plan_t *plan, size_t i);
int32_t ferry_plan_ngroups(const ferry_plan_t *plan);

/* The not_carried items of the object of table i (apply order), valid as
 * long as the plan; returns their count. */
size_t ferry_plan_not_carried(const ferry_plan_t *plan, size_t i, char *const **items);
/* For a FERRY_PLAN_ALL request: what was left out, with the reason. */
size_t ferry_plan_nleft_out(const ferry_plan_t *plan);
const char *ferry_plan_left_out(const ferry_plan_t *plan, size_t i, const char **reason);
/* Appends one line for status events and logs: "not carried: T: item, item;
 * U: item. left out: reason; reason", or nothing when there is nothing to
 * say. 0 or FERRY_ENOMEM. */
int ferry_plan_notes(const ferry_plan_t *plan, ferry_buf_t *out);

/* Appends the plan as the JSON object of `ferry-env plan --json`:
 * {"requested":[...],"objects":[{"name":..,"pulled_by":..,"group":..,
 * "not_carried":[...]}],"associations":[{"from":..,"to":..}],"groups":[[...],...]}
 * and, for a FERRY_PLAN_ALL request, "left_out":[{"name":..,"reason":..}]. */
int ferry_plan_to_json(const ferry_plan_t *plan, ferry_buf_t *out);

#endif
