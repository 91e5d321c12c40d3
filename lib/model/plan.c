/* plan.c - closure and apply order of an export (see plan.h).
 *
 * Objects are numbered by their index in the objset (name order), so every
 * loop below runs in name order and the plan is deterministic.
 *
 * Closure: breadth-first from the requested objects (in request order). The
 * include edges of an object X are the catalog's when X is a catalog object;
 * otherwise they are the tables holding a foreign key ON DELETE CASCADE to X
 * (X is their master). never_export objects are never entered; an object
 * records the first object whose edge reached it.
 *
 * Order: the store's foreign keys among exported tables, referenced -> referencing.
 * Tarjan's algorithm (iterative) finds the strongly connected components; each
 * is an apply group. Groups are then emitted by Kahn's algorithm, picking among
 * the ready groups the one whose first name is smallest. */
#include "plan.h"

#include "error.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ferry_plan {
    char **requested;
    size_t nrequested;
    ferry_plan_table_t *tables; /* apply order */
    size_t ntables;
    size_t *closure;            /* indexes into tables, in closure (BFS) order */
    ferry_plan_assoc_t *assocs; /* sorted by from, then to */
    size_t nassocs;
    int32_t ngroups;
    char ***not_carried;        /* per table (apply order): its object's not_carried */
    size_t *nnot_carried;
    char **left_out;            /* "*" requests: name, reason, name, reason... */
    size_t nleft_out;
};

#define NONE ((size_t)-1)

void ferry_plan_destroy(ferry_plan_t *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->nrequested; i++)
        free(plan->requested[i]);
    free(plan->requested);
    for (size_t i = 0; i < plan->ntables; i++) {
        free(plan->tables[i].name);
        free(plan->tables[i].pulled_by);
    }
    free(plan->tables);
    free(plan->closure);
    for (size_t i = 0; i < plan->nassocs; i++) {
        free(plan->assocs[i].from);
        free(plan->assocs[i].to);
    }
    free(plan->assocs);
    for (size_t i = 0; plan->not_carried && i < plan->ntables; i++)
        ferry_strv_free(plan->not_carried[i], plan->nnot_carried[i]);
    free(plan->not_carried);
    free(plan->nnot_carried);
    ferry_strv_free(plan->left_out, 2 * plan->nleft_out);
    free(plan);
}

size_t ferry_plan_ntables(const ferry_plan_t *plan) { return plan->ntables; }
size_t ferry_plan_nassocs(const ferry_plan_t *plan) { return plan->nassocs; }
int32_t ferry_plan_ngroups(const ferry_plan_t *plan) { return plan->ngroups; }

const ferry_plan_table_t *ferry_plan_table(const ferry_plan_t *plan, size_t i)
{
    return i < plan->ntables ? &plan->tables[i] : NULL;
}

const ferry_plan_assoc_t *ferry_plan_assoc(const ferry_plan_t *plan, size_t i)
{
    return i < plan->nassocs ? &plan->assocs[i] : NULL;
}

/* Index in objs of the object name resolves to (as ferry_objset_find), or NONE. */
static size_t obj_index(const ferry_objset_t *objs, const char *name)
{
    const ferry_object_t *o = ferry_objset_find(objs, name);
    size_t lo = 0, hi = ferry_objset_count(objs);

    if (!o)
        return NONE;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ferry_objset_at(objs, mid)->name, o->name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Working state of one ferry_plan_new call. */
typedef struct planner {
    const ferry_catalog_t *cat;
    const ferry_objset_t *objs;
    size_t n;          /* objects in objs */
    size_t *pulled_by; /* per object: NONE when requested */
    char *in;          /* per object: in the closure */
    size_t *order;     /* closure in BFS order */
    size_t norder;
    char *errstr;
    size_t errstr_size;
} planner_t;

static void enter(planner_t *p, size_t obj, size_t by)
{
    if (p->in[obj])
        return;
    p->in[obj] = 1;
    p->pulled_by[obj] = by;
    p->order[p->norder++] = obj;
}

/* Follows the include edges of object x (see the top of the file). */
static int expand(planner_t *p, size_t x)
{
    const ferry_object_t *obj = ferry_objset_at(p->objs, x);
    const ferry_catalog_edge_t *edges;
    size_t nedges = ferry_catalog_edges(p->cat, obj->name, &edges);

    if (ferry_catalog_find(p->cat, obj->name)) {
        for (size_t i = 0; i < nedges; i++) {
            size_t t;
            if (edges[i].kind != FERRY_REL_INCLUDE || ferry_catalog_never_export(p->cat, edges[i].to))
                continue;
            if ((t = obj_index(p->objs, edges[i].to)) == NONE)
                return ferry_errf(p->errstr, p->errstr_size, FERRY_ENOTFOUND,
                                  "object \"%s\" (a sub-object of \"%s\" in the preset catalog) "
                                  "does not exist in the environment",
                                  edges[i].to, obj->name);
            enter(p, t, x);
        }
        return FERRY_OK;
    }
    for (size_t d = 0; d < p->n; d++) {
        const ferry_object_t *detail = ferry_objset_at(p->objs, d);
        if (p->in[d] || ferry_catalog_never_export(p->cat, detail->name))
            continue;
        for (size_t i = 0; i < detail->nrelations; i++)
            if (detail->relations[i].kind == FERRY_REL_INCLUDE &&
                obj_index(p->objs, detail->relations[i].target) == x)
                enter(p, d, x);
    }
    return FERRY_OK;
}

static int add_left_out(ferry_plan_t *plan, const char *name, const char *reason)
{
    char **v = realloc(plan->left_out, 2 * (plan->nleft_out + 1) * sizeof(*v));

    if (!v)
        return FERRY_ENOMEM;
    plan->left_out = v;
    v += 2 * plan->nleft_out;
    v[0] = strdup(name);
    v[1] = strdup(reason);
    plan->nleft_out++; /* freed with the plan even when a copy failed */
    return v[0] && v[1] ? FERRY_OK : FERRY_ENOMEM;
}

/* The request "*": every object but the never_export ones, each requested;
 * what is left out (those, and the environment's excluded tables) is
 * recorded with the reason. */
static int request_all(planner_t *p, ferry_plan_t *plan)
{
    char why[600];

    for (size_t i = 0; i < ferry_objset_nexcluded(p->objs); i++) {
        const char *reason, *name = ferry_objset_excluded_at(p->objs, i, &reason);
        if (add_left_out(plan, name, reason))
            return FERRY_ENOMEM;
    }
    for (size_t x = 0; x < p->n; x++) {
        const char *name = ferry_objset_at(p->objs, x)->name;
        if (ferry_catalog_never_export(p->cat, name)) {
            snprintf(why, sizeof(why), "\"%.500s\" is never exported (a user table)", name);
            if (add_left_out(plan, name, why))
                return FERRY_ENOMEM;
            continue;
        }
        enter(p, x, NONE);
        if (!(plan->requested[plan->nrequested++] = strdup(name)))
            return FERRY_ENOMEM;
    }
    return FERRY_OK;
}

/* Resolves the requested names; all unknown ones are reported together. */
static int resolve_requested(planner_t *p, ferry_plan_t *plan, const char *const *requested,
                             size_t nrequested)
{
    ferry_buf_t unknown = FERRY_BUF_INIT;
    size_t nunknown = 0;
    int rc = FERRY_OK;

    for (size_t i = 0; i < nrequested; i++)
        if (!strcmp(requested[i], FERRY_PLAN_ALL) && nrequested > 1)
            return ferry_errf(p->errstr, p->errstr_size, FERRY_EINVAL,
                              "planning: \"%s\" (every exportable table) must be the only "
                              "object of a request", FERRY_PLAN_ALL);
    if (!(plan->requested = calloc((nrequested > p->n ? nrequested : p->n) + 1,
                                   sizeof(*plan->requested))))
        return ferry_errf(p->errstr, p->errstr_size, FERRY_ENOMEM, "planning: out of memory");
    if (nrequested == 1 && !strcmp(requested[0], FERRY_PLAN_ALL)) {
        if (request_all(p, plan))
            return ferry_errf(p->errstr, p->errstr_size, FERRY_ENOMEM, "planning: out of memory");
        if (!p->norder)
            return ferry_errf(p->errstr, p->errstr_size, FERRY_ENOTFOUND,
                              "planning: the environment has no exportable table");
        return FERRY_OK;
    }
    for (size_t i = 0; i < nrequested; i++) {
        size_t x = obj_index(p->objs, requested[i]);
        const char *name, *excluded;
        if (x == NONE && (excluded = ferry_objset_excluded_reason(p->objs, requested[i]))) {
            rc = ferry_errf(p->errstr, p->errstr_size, FERRY_EINVAL,
                            "object \"%s\" cannot be exported: %s", requested[i], excluded);
            goto out;
        }
        if (x == NONE) {
            if (ferry_buf_printf(&unknown, "%s\"%s\"", nunknown++ ? ", " : "", requested[i]))
                rc = FERRY_ENOMEM;
            continue;
        }
        name = ferry_objset_at(p->objs, x)->name;
        if (ferry_catalog_never_export(p->cat, name)) {
            rc = ferry_errf(p->errstr, p->errstr_size, FERRY_EINVAL,
                            "object \"%s\" is never exported (a user table)", name);
            goto out;
        }
        if (p->in[x])
            continue;
        enter(p, x, NONE);
        if (!(plan->requested[plan->nrequested++] = strdup(name)))
            rc = FERRY_ENOMEM;
    }
    if (rc == FERRY_ENOMEM)
        rc = ferry_errf(p->errstr, p->errstr_size, rc, "planning: out of memory");
    else if (nunknown)
        rc = ferry_errf(p->errstr, p->errstr_size, FERRY_ENOTFOUND,
                        "unknown object%s in the environment: %.*s", nunknown > 1 ? "s" : "",
                        (int)unknown.len, (const char *)unknown.data);
out:
    ferry_buf_free(&unknown);
    return rc;
}

/* ---- order ---- */

/* The dependency graph among the k exported objects (local numbering in name
 * order): adj[off[v]..off[v+1]) are the objects referencing v. */
typedef struct graph {
    size_t k;
    size_t *off, *adj;
} graph_t;

static int build_graph(const planner_t *p, const size_t *local, graph_t *g)
{
    size_t nedges = 0, *fill = NULL;
    int pass;

    g->off = calloc(g->k + 1, sizeof(size_t));
    fill = calloc(g->k + 1, sizeof(size_t));
    if (!g->off || !fill) {
        free(fill);
        return FERRY_ENOMEM;
    }
    /* Pass 0 counts edges per referenced object, pass 1 stores them. */
    for (pass = 0; pass < 2; pass++) {
        for (size_t x = 0; x < p->n; x++) {
            const ferry_object_t *obj = ferry_objset_at(p->objs, x);
            if (!p->in[x])
                continue;
            for (size_t i = 0; i < obj->nrelations; i++) {
                size_t t = obj_index(p->objs, obj->relations[i].target);
                if (t == NONE || !p->in[t])
                    continue;
                if (pass == 0)
                    g->off[local[t] + 1]++;
                else
                    g->adj[g->off[local[t]] + fill[local[t]]++] = local[x];
            }
        }
        if (pass == 0) {
            for (size_t v = 0; v < g->k; v++)
                g->off[v + 1] += g->off[v];
            nedges = g->off[g->k];
            if (!(g->adj = malloc((nedges + 1) * sizeof(size_t)))) {
                free(fill);
                return FERRY_ENOMEM;
            }
        }
    }
    free(fill);
    return FERRY_OK;
}

/* Tarjan's strongly connected components, iterative so that deep schemas
 * cannot exhaust the stack. comp[v] gets the component of v; returns the
 * number of components, or 0 on ENOMEM (k > 0). */
static size_t tarjan(const graph_t *g, size_t *comp)
{
    size_t k = g->k, ncomp = 0, counter = 0, sp = 0, cp = 0;
    size_t *index = malloc(k * sizeof(size_t)), *low = malloc(k * sizeof(size_t));
    size_t *stack = malloc(k * sizeof(size_t)), *call = malloc(k * sizeof(size_t));
    size_t *next = malloc(k * sizeof(size_t)); /* next edge to visit, per object */
    char *onstack = calloc(k, 1);

    if (!index || !low || !stack || !call || !next || !onstack)
        goto out;
    for (size_t v = 0; v < k; v++)
        index[v] = NONE;
    for (size_t root = 0; root < k; root++) {
        if (index[root] != NONE)
            continue;
        call[cp++] = root;
        index[root] = low[root] = counter++;
        next[root] = g->off[root];
        stack[sp++] = root;
        onstack[root] = 1;
        while (cp) {
            size_t v = call[cp - 1];
            if (next[v] < g->off[v + 1]) {
                size_t w = g->adj[next[v]++];
                if (index[w] == NONE) {
                    index[w] = low[w] = counter++;
                    next[w] = g->off[w];
                    stack[sp++] = w;
                    onstack[w] = 1;
                    call[cp++] = w;
                } else if (onstack[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            cp--;
            if (cp && low[v] < low[call[cp - 1]])
                low[call[cp - 1]] = low[v];
            if (low[v] == index[v]) {
                size_t w;
                do {
                    w = stack[--sp];
                    onstack[w] = 0;
                    comp[w] = ncomp;
                } while (w != v);
                ncomp++;
            }
        }
    }
out:
    free(index);
    free(low);
    free(stack);
    free(call);
    free(next);
    free(onstack);
    return ncomp;
}

/* Fills plan->tables in apply order from the closure. */
static int order_tables(planner_t *p, ferry_plan_t *plan)
{
    graph_t g = {.k = p->norder};
    size_t *local = malloc(p->n * sizeof(size_t)), *global = malloc(g.k * sizeof(size_t));
    size_t *comp = malloc(g.k * sizeof(size_t)), *indeg = NULL, *first = NULL, *tindex = NULL;
    char *done = NULL;
    size_t ncomp, nt = 0;
    int rc = FERRY_ENOMEM;

    if (!local || !global || !comp)
        goto out;
    for (size_t x = 0, v = 0; x < p->n; x++)
        if (p->in[x]) {
            local[x] = v;
            global[v++] = x;
        }
    if ((rc = build_graph(p, local, &g)) || !(ncomp = tarjan(&g, comp))) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    indeg = calloc(ncomp, sizeof(size_t));
    first = malloc(ncomp * sizeof(size_t));
    done = calloc(ncomp, 1);
    tindex = malloc(p->n * sizeof(size_t));
    plan->tables = calloc(g.k, sizeof(*plan->tables));
    if (!indeg || !first || !done || !tindex || !plan->tables) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    for (size_t c = 0; c < ncomp; c++)
        first[c] = NONE;
    for (size_t v = 0; v < g.k; v++) {
        if (first[comp[v]] == NONE)
            first[comp[v]] = v; /* v runs in name order: the group's smallest name */
        for (size_t e = g.off[v]; e < g.off[v + 1]; e++)
            if (comp[g.adj[e]] != comp[v])
                indeg[comp[g.adj[e]]]++;
    }
    for (int32_t grp = 0; grp < (int32_t)ncomp; grp++) {
        size_t best = NONE;
        for (size_t c = 0; c < ncomp; c++)
            if (!done[c] && !indeg[c] && (best == NONE || first[c] < first[best]))
                best = c;
        assert(best != NONE); /* the condensation is acyclic: some group is always ready */
        done[best] = 1;
        for (size_t v = first[best]; v < g.k; v++) {
            ferry_plan_table_t *t = &plan->tables[nt];
            size_t x = global[v];
            if (comp[v] != best)
                continue;
            for (size_t e = g.off[v]; e < g.off[v + 1]; e++)
                if (comp[g.adj[e]] != best)
                    indeg[comp[g.adj[e]]]--;
            t->name = strdup(ferry_objset_at(p->objs, x)->name);
            t->pulled_by = p->pulled_by[x] == NONE
                               ? NULL
                               : strdup(ferry_objset_at(p->objs, p->pulled_by[x])->name);
            t->group = grp;
            tindex[x] = nt;
            plan->ntables = ++nt;
            if (!t->name || (p->pulled_by[x] != NONE && !t->pulled_by))
                goto out;
        }
    }
    plan->ngroups = (int32_t)ncomp;
    if (!(plan->closure = malloc(p->norder * sizeof(size_t) + 1)))
        goto out;
    for (size_t i = 0; i < p->norder; i++)
        plan->closure[i] = tindex[p->order[i]];
    rc = FERRY_OK;
out:
    free(local);
    free(global);
    free(comp);
    free(indeg);
    free(first);
    free(done);
    free(tindex);
    free(g.off);
    free(g.adj);
    return rc;
}

/* ---- associations ---- */

static int assoc_cmp(const void *a, const void *b)
{
    const ferry_plan_assoc_t *x = a, *y = b;
    int c = strcmp(x->from, y->from);
    return c ? c : strcmp(x->to, y->to);
}

/* Adds from -> to unless the target is exported. to is spelled as the
 * environment names it when it exists there. */
static int add_assoc(planner_t *p, ferry_plan_t *plan, size_t *cap, const char *from,
                     const char *to)
{
    size_t t = obj_index(p->objs, to);
    ferry_plan_assoc_t *a;

    if (t != NONE) {
        if (p->in[t])
            return FERRY_OK;
        to = ferry_objset_at(p->objs, t)->name;
    }
    for (size_t i = 0; i < plan->nassocs; i++)
        if (!strcmp(plan->assocs[i].from, from) && !strcmp(plan->assocs[i].to, to))
            return FERRY_OK;
    if (plan->nassocs == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        if (!(a = realloc(plan->assocs, ncap * sizeof(*a))))
            return FERRY_ENOMEM;
        plan->assocs = a;
        *cap = ncap;
    }
    a = &plan->assocs[plan->nassocs];
    a->from = strdup(from);
    a->to = strdup(to);
    plan->nassocs++;
    return a->from && a->to ? FERRY_OK : FERRY_ENOMEM;
}

/* Every reference from an exported table to one that is not exported: catalog
 * association edges and foreign keys (of any ON DELETE action: a detail
 * exported without its master still needs the master in the target). */
static int collect_assocs(planner_t *p, ferry_plan_t *plan)
{
    size_t cap = 0;
    int rc = FERRY_OK;

    for (size_t x = 0; x < p->n && !rc; x++) {
        const ferry_object_t *obj = ferry_objset_at(p->objs, x);
        const ferry_catalog_edge_t *edges;
        size_t nedges = ferry_catalog_edges(p->cat, obj->name, &edges);

        if (!p->in[x])
            continue;
        for (size_t i = 0; i < nedges && !rc; i++)
            if (edges[i].kind == FERRY_REL_ASSOCIATION)
                rc = add_assoc(p, plan, &cap, obj->name, edges[i].to);
        for (size_t i = 0; i < obj->nrelations && !rc; i++)
            rc = add_assoc(p, plan, &cap, obj->name, obj->relations[i].target);
    }
    if (plan->nassocs)
        qsort(plan->assocs, plan->nassocs, sizeof(*plan->assocs), assoc_cmp);
    return rc;
}

/* Each table's not_carried items, copied from its object. */
static int copy_not_carried(const ferry_objset_t *objs, ferry_plan_t *plan)
{
    plan->not_carried = calloc(plan->ntables + 1, sizeof(*plan->not_carried));
    plan->nnot_carried = calloc(plan->ntables + 1, sizeof(*plan->nnot_carried));
    if (!plan->not_carried || !plan->nnot_carried)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < plan->ntables; i++) {
        const ferry_object_t *o = ferry_objset_find(objs, plan->tables[i].name);
        if (!o || !o->nnot_carried)
            continue;
        if (!(plan->not_carried[i] = calloc(o->nnot_carried, sizeof(char *))))
            return FERRY_ENOMEM;
        plan->nnot_carried[i] = o->nnot_carried;
        for (size_t k = 0; k < o->nnot_carried; k++)
            if (!(plan->not_carried[i][k] = strdup(o->not_carried[k])))
                return FERRY_ENOMEM;
    }
    return FERRY_OK;
}

size_t ferry_plan_not_carried(const ferry_plan_t *plan, size_t i, char *const **items)
{
    if (i >= plan->ntables || !plan->not_carried) {
        *items = NULL;
        return 0;
    }
    *items = plan->not_carried[i];
    return plan->nnot_carried[i];
}

size_t ferry_plan_nleft_out(const ferry_plan_t *plan)
{
    return plan->nleft_out;
}

const char *ferry_plan_left_out(const ferry_plan_t *plan, size_t i, const char **reason)
{
    if (i >= plan->nleft_out)
        return NULL;
    if (reason)
        *reason = plan->left_out[2 * i + 1];
    return plan->left_out[2 * i];
}

int ferry_plan_notes(const ferry_plan_t *plan, ferry_buf_t *out)
{
    int rc = FERRY_OK, first = 1;

    for (size_t i = 0; !rc && i < plan->ntables; i++) {
        for (size_t k = 0; !rc && k < plan->nnot_carried[i]; k++) {
            if (k == 0)
                rc = ferry_buf_printf(out, "%s%s: ", first ? "not carried: " : "; ",
                                      plan->tables[i].name);
            if (!rc)
                rc = ferry_buf_printf(out, "%s%s", k ? ", " : "", plan->not_carried[i][k]);
            first = 0;
        }
    }
    for (size_t i = 0; !rc && i < plan->nleft_out; i++)
        rc = ferry_buf_printf(out, "%s%s", i ? "; " : (first ? "left out: " : ". left out: "),
                              plan->left_out[2 * i + 1]);
    return rc ? FERRY_ENOMEM : FERRY_OK;
}

int ferry_plan_new(const ferry_catalog_t *cat, const ferry_objset_t *objs,
                   const char *const *requested, size_t nrequested, ferry_plan_t **out,
                   char *errstr, size_t errstr_size)
{
    planner_t p = {.cat = cat, .objs = objs, .n = ferry_objset_count(objs),
                   .errstr = errstr, .errstr_size = errstr_size};
    ferry_plan_t *plan = calloc(1, sizeof(*plan));
    int rc = FERRY_ENOMEM;

    *out = NULL;
    p.pulled_by = malloc((p.n + 1) * sizeof(size_t));
    p.order = malloc((p.n + 1) * sizeof(size_t));
    p.in = calloc(p.n + 1, 1);
    if (!plan || !p.pulled_by || !p.order || !p.in) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "planning: out of memory");
        goto out;
    }
    if ((rc = resolve_requested(&p, plan, requested, nrequested)))
        goto out;
    if (!p.norder) {
        rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL, "planning: no object requested");
        goto out;
    }
    /* p.order grows while it is walked: a breadth-first queue. */
    for (size_t i = 0; i < p.norder; i++)
        if ((rc = expand(&p, p.order[i])))
            goto out;
    if ((rc = order_tables(&p, plan)) || (rc = collect_assocs(&p, plan)) ||
        (rc = copy_not_carried(objs, plan))) {
        rc = ferry_errf(errstr, errstr_size, rc, "planning: out of memory");
        goto out;
    }
    *out = plan;
    plan = NULL;
out:
    ferry_plan_destroy(plan);
    free(p.pulled_by);
    free(p.order);
    free(p.in);
    return rc;
}

/* ---- JSON ---- */

static json_t *json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

int ferry_plan_to_json(const ferry_plan_t *plan, ferry_buf_t *out)
{
    json_t *root = json_object(), *req = json_array(), *objects = json_array();
    json_t *assocs = json_array(), *groups = json_array(), *group = NULL;
    char *text = NULL;
    int rc = FERRY_ENOMEM;

    if (!root || !req || !objects || !assocs || !groups) {
        json_decref(req);
        json_decref(objects);
        json_decref(assocs);
        json_decref(groups);
        goto out;
    }
    if (json_object_set_new(root, "requested", req) ||
        json_object_set_new(root, "objects", objects) ||
        json_object_set_new(root, "associations", assocs) ||
        json_object_set_new(root, "groups", groups))
        goto out;
    for (size_t i = 0; i < plan->nrequested; i++)
        if (json_array_append_new(req, json_string(plan->requested[i])))
            goto out;
    for (size_t i = 0; i < plan->ntables; i++) {
        size_t ti = plan->closure[i];
        const ferry_plan_table_t *t = &plan->tables[ti];
        json_t *nc = json_array();
        for (size_t k = 0; nc && k < plan->nnot_carried[ti]; k++)
            if (json_array_append_new(nc, json_string(plan->not_carried[ti][k])))
                goto out;
        if (json_array_append_new(objects, json_pack("{s:s, s:o, s:i, s:o}", "name", t->name,
                                                     "pulled_by", json_str_or_null(t->pulled_by),
                                                     "group", (int)t->group, "not_carried", nc)))
            goto out;
    }
    if (plan->nleft_out) {
        json_t *left = json_array();
        if (json_object_set_new(root, "left_out", left))
            goto out;
        for (size_t i = 0; i < plan->nleft_out; i++)
            if (json_array_append_new(left, json_pack("{s:s, s:s}", "name", plan->left_out[2 * i],
                                                      "reason", plan->left_out[2 * i + 1])))
                goto out;
    }
    for (size_t i = 0; i < plan->nassocs; i++)
        if (json_array_append_new(assocs, json_pack("{s:s, s:s}", "from", plan->assocs[i].from,
                                                    "to", plan->assocs[i].to)))
            goto out;
    for (size_t i = 0; i < plan->ntables; i++) {
        if (i == 0 || plan->tables[i].group != plan->tables[i - 1].group) {
            if (json_array_append_new(groups, group = json_array()))
                goto out;
        }
        if (json_array_append_new(group, json_string(plan->tables[i].name)))
            goto out;
    }
    if ((text = json_dumps(root, 0)))
        rc = ferry_buf_puts(out, text);
out:
    free(text);
    json_decref(root);
    return rc;
}
