/* test_protocol.c - the envelope messages: the compiled-in schemas are the
 * files of schemas/, every message survives encode -> decode, every decoder
 * refuses truncated, mistyped and malicious input, and the JSON request form
 * accepts what README documents and nothing else. */
#include "avro_canon.h"
#include "error.h"
#include "protocol.h"
#include "rowcodec.h"

#include <avro.h>
#include "check_run.h"
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ferry_msg_type_t envelopes[] = {
    FERRY_MSG_REQUEST,   FERRY_MSG_EXPORT_BEGIN, FERRY_MSG_TABLE_METADATA, FERRY_MSG_TABLE_END,
    FERRY_MSG_EXPORT_END, FERRY_MSG_STATUS,      FERRY_MSG_SCHEDULE,     FERRY_MSG_PART_BEGIN,
    FERRY_MSG_EXPORT_ABORT,
};
#define NENVELOPES (sizeof(envelopes) / sizeof(envelopes[0]))

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ferry_buf_t b = FERRY_BUF_INIT;
    char chunk[4096];
    size_t n;
    char *s;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ck_assert_int_eq(ferry_buf_append(&b, chunk, n), 0);
    fclose(f);
    s = ferry_buf_strdup(&b);
    ferry_buf_free(&b);
    return s;
}

static char *schema_file(const char *name)
{
    const char *src = getenv("FERRY_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/schemas/%s.avsc", src ? src : ".", name);
    return read_file(path);
}

/* ---- schemas ------------------------------------------------------------ */

START_TEST(test_compiled_in_schema_is_the_file)
{
    ferry_msg_type_t t = envelopes[_i];
    const char *name = ferry_msg_type_name(t);
    char *file = schema_file(name);
    avro_schema_t parsed;
    uint64_t fp;
    char err[256];

    ck_assert_str_eq(ferry_msg_schema_json(t), file);
    ck_assert_msg(avro_schema_from_json_length(file, strlen(file), &parsed) == 0,
                  "avro-c rejects %s: %s", name, avro_strerror());
    avro_schema_decref(parsed);
    ck_assert_msg(ferry_avro_fingerprint(file, &fp, err, sizeof(err)) == 0, "%s", err);
    ck_assert(fp == ferry_msg_fingerprint(t));
    ck_assert_int_eq(ferry_msg_type_from_name(name), t);
    free(file);
}
END_TEST

/* Every field documented; every field defaulted, so that a newer reader
 * resolves older messages, except those of a record or fixed type (request,
 * object, row_fingerprint: present since the first version, and avro-c cannot
 * parse the NULs a fixed default would need). Walks nested records too. */
static void check_fields(const char *file, json_t *record)
{
    size_t i;
    json_t *f;

    ck_assert_msg(json_is_string(json_object_get(record, "doc")), "%s: record %s has no doc",
                  file, json_string_value(json_object_get(record, "name")));
    json_array_foreach(json_object_get(record, "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *type = json_object_get(f, "type");
        const char *tname = json_string_value(json_object_get(type, "type"));

        ck_assert_msg(json_is_string(json_object_get(f, "doc")), "%s: field %s has no doc", file,
                      name);
        if (tname && !strcmp(tname, "record"))
            check_fields(file, type);
        else if (!tname || strcmp(tname, "fixed"))
            ck_assert_msg(json_object_get(f, "default") != NULL, "%s: field %s has no default",
                          file, name);
        if (tname && !strcmp(tname, "array") &&
            json_is_object(json_object_get(type, "items")))
            check_fields(file, json_object_get(type, "items"));
    }
}

START_TEST(test_schema_fields_documented_and_defaulted)
{
    const char *name = ferry_msg_type_name(envelopes[_i]);
    json_t *root = json_loads(ferry_msg_schema_json(envelopes[_i]), 0, NULL);

    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(root, "namespace")), "ferry");
    ck_assert_str_eq(json_string_value(json_object_get(root, "name")), name);
    check_fields(name, root);
    json_decref(root);
}
END_TEST

static uint64_t canonical_fp(json_t *schema)
{
    char *text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
    uint64_t fp = 0;
    char err[256];
    ck_assert_msg(ferry_avro_fingerprint(text, &fp, err, sizeof(err)) == 0, "%s", err);
    free(text);
    return fp;
}

/* ExportBegin carries a copy of ExportRequest, and Schedule a copy of its
 * Content enum: the copies must not drift from the originals. */
START_TEST(test_schema_copies_agree)
{
    json_t *begin = json_loads(ferry_msg_schema_json(FERRY_MSG_EXPORT_BEGIN), 0, NULL);
    json_t *request = json_loads(ferry_msg_schema_json(FERRY_MSG_REQUEST), 0, NULL);
    json_t *sched = json_loads(ferry_msg_schema_json(FERRY_MSG_SCHEDULE), 0, NULL);
    json_t *nested = json_object_get(json_array_get(json_object_get(begin, "fields"), 1), "type");
    json_t *content_r = json_object_get(json_array_get(json_object_get(request, "fields"), 4), "type");
    json_t *content_s = json_object_get(json_array_get(json_object_get(sched, "fields"), 4), "type");

    ck_assert_int_eq(json_object_set_new(nested, "namespace", json_string("ferry")), 0);
    ck_assert(canonical_fp(nested) == ferry_msg_fingerprint(FERRY_MSG_REQUEST));
    ck_assert_str_eq(json_string_value(json_object_get(content_r, "name")), "Content");
    ck_assert(canonical_fp(content_r) == canonical_fp(content_s));
    json_decref(begin);
    json_decref(request);
    json_decref(sched);
}
END_TEST

START_TEST(test_names_round_trip)
{
    for (int t = FERRY_MSG_UNKNOWN + 1; t <= FERRY_MSG_EXPORT_ABORT; t++)
        ck_assert_int_eq(ferry_msg_type_from_name(ferry_msg_type_name((ferry_msg_type_t)t)), t);
    ck_assert_int_eq(ferry_msg_type_from_name("nope"), FERRY_MSG_UNKNOWN);
    ck_assert_ptr_null(ferry_msg_schema_json(FERRY_MSG_ROWS));
    ck_assert(ferry_msg_fingerprint(FERRY_MSG_ROWS) == 0);
    for (int c = FERRY_CONTENT_ALL; c <= FERRY_CONTENT_DATA; c++)
        ck_assert_int_eq(ferry_content_from_name(ferry_content_name((ferry_content_t)c)), c);
    ck_assert_int_eq(ferry_content_from_name("everything"), -1);
    for (int s = FERRY_STATUS_ACCEPTED; s <= FERRY_STATUS_SKIPPED; s++)
        ck_assert_int_eq(ferry_status_state_from_name(ferry_status_state_name((ferry_status_state_t)s)), s);
    ck_assert_int_eq(ferry_status_state_from_name("done"), -1);
}
END_TEST

/* ---- samples, one or more per message type ------------------------------ */

static char *objects2[] = {"Queue", "Pro\xc3\xa9" "file \xe2\x9c\x93"};
static char *objects1[] = {"order"};

static ferry_request_t requests[] = {
    {"exp-1", "dev", "prod", objects2, 2, FERRY_CONTENT_ALL, 1700000000123LL, NULL, 0},
    {"nightly@2024-05-01T02:00:00Z", "d\xc3\xa9v", "prod", objects1, 1, FERRY_CONTENT_METADATA,
     INT64_MAX, "nightly", INT64_MIN},
    {"x", "a", "b", objects1, 1, FERRY_CONTENT_DATA, -1, "s", 1},
};

static void assert_request_eq(const ferry_request_t *a, const ferry_request_t *b)
{
    ck_assert_str_eq(a->export_id, b->export_id);
    ck_assert_str_eq(a->source, b->source);
    ck_assert_str_eq(a->target, b->target);
    ck_assert_uint_eq(a->nobjects, b->nobjects);
    for (size_t i = 0; i < a->nobjects; i++)
        ck_assert_str_eq(a->objects[i], b->objects[i]);
    ck_assert_int_eq(a->content, b->content);
    ck_assert(a->requested_at_ms == b->requested_at_ms);
    ck_assert_pstr_eq(a->schedule_id, b->schedule_id);
    ck_assert(a->due_ms == b->due_ms);
}

START_TEST(test_request_round_trip)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    ferry_request_t *got = NULL, *dup;
    ferry_msg_type_t t;
    char err[256];

    ck_assert_msg(ferry_request_encode(&requests[_i], &b, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(ferry_msg_peek(b.data, b.len, &t, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(t, FERRY_MSG_REQUEST);
    ck_assert_msg(ferry_request_decode(b.data, b.len, &got, err, sizeof(err)) == 0, "%s", err);
    assert_request_eq(got, &requests[_i]);
    dup = ferry_request_dup(got);
    assert_request_eq(dup, &requests[_i]);
    ferry_request_free(dup);
    ferry_request_free(got);

    /* The JSON form round-trips too. */
    ferry_buf_reset(&b);
    ck_assert_int_eq(ferry_request_to_json(&requests[_i], &b), 0);
    ck_assert_int_eq(b.data[0], '{');
    ck_assert_msg(ferry_request_decode(b.data, b.len, &got, err, sizeof(err)) == 0, "%.*s: %s",
                  (int)b.len, b.data, err);
    assert_request_eq(got, &requests[_i]);
    ferry_request_free(got);
    ferry_buf_free(&b);
}
END_TEST

START_TEST(test_export_begin_round_trip)
{
    ferry_plan_table_t tables[] = {{"Queue", NULL, 0}, {"GroupMember", "Queue", 1}, {"Role", "GroupMember", 1}};
    ferry_plan_assoc_t assocs[] = {{"GroupMember", "User"}};
    ferry_export_begin_t full = {"exp-1", &requests[1], tables, 3, assocs, 1, 2, "0123abcd0123abcd"};
    ferry_export_begin_t empty = {"exp-2", &requests[0], NULL, 0, NULL, 0, 0, NULL};
    ferry_export_begin_t *m = _i ? &empty : &full, *got = NULL;
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256];

    ck_assert_msg(ferry_export_begin_encode(m, &b, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(ferry_export_begin_decode(b.data, b.len, &got, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(got->export_id, m->export_id);
    assert_request_eq(got->request, m->request);
    ck_assert_uint_eq(got->ntables, m->ntables);
    for (size_t i = 0; i < m->ntables; i++) {
        ck_assert_str_eq(got->tables[i].name, m->tables[i].name);
        ck_assert_pstr_eq(got->tables[i].pulled_by, m->tables[i].pulled_by);
        ck_assert_int_eq(got->tables[i].group, m->tables[i].group);
    }
    ck_assert_uint_eq(got->nassocs, m->nassocs);
    for (size_t i = 0; i < m->nassocs; i++) {
        ck_assert_str_eq(got->assocs[i].from, m->assocs[i].from);
        ck_assert_str_eq(got->assocs[i].to, m->assocs[i].to);
    }
    ck_assert_int_eq(got->ngroups, m->ngroups);
    ck_assert_str_eq(got->attempt, m->attempt ? m->attempt : "");
    ferry_export_begin_free(got);
    ferry_buf_free(&b);
}
END_TEST

/* An object with every type, defaults, keys and both relation kinds. */
static ferry_object_t *sample_object(ferry_objset_t *set)
{
    static const char *const decls[] = {"INTEGER", "VARCHAR(80)", "REAL", "DECIMAL(10,2)",
                                        "BOOLEAN", "DATE", "TIMESTAMP", "BLOB", NULL};
    const char *uniq[] = {"name", "\"weird\" col"};
    const char *from[] = {"parent_id", "name"};
    const char *to[] = {NULL, "title"};
    ferry_object_t *o = ferry_objset_add(set, "Ord\xc3\xa9r line");
    char name[32];

    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof(name), i == 1 ? "name" : i == 8 ? "\"weird\" col" : "c%d", i);
        ck_assert_int_eq(ferry_object_add_field(o, name, decls[i], i != 0, i == 2 ? "0.0" : NULL,
                                                i == 0), 0);
    }
    ck_assert_int_eq(ferry_object_add_field(o, "parent_id", "INTEGER", 1, NULL, 0), 0);
    ck_assert_int_eq(ferry_object_add_unique(o, uniq, 2), 0);
    ck_assert_int_eq(ferry_object_add_relation(o, "Parent", from, to, 2, FERRY_REL_INCLUDE,
                                               "CASCADE"), 0);
    ck_assert_int_eq(ferry_object_add_relation(o, "User", from, NULL, 1, FERRY_REL_ASSOCIATION,
                                               NULL), 0);
    o->without_rowid = 1;
    return o;
}

START_TEST(test_table_metadata_round_trip)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *o = sample_object(set);
    ferry_rowcodec_t *c = NULL, *c2 = NULL;
    ferry_table_metadata_t m = {"exp-1", 3, NULL, o, NULL, 0, 0}, *got = NULL;
    const ferry_object_t *g;
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256];

    ck_assert_int_eq(ferry_rowcodec_new(o, &c, err, sizeof(err)), 0);
    m.row_schema_json = (char *)ferry_rowcodec_schema_json(c);
    m.fingerprint = ferry_rowcodec_fingerprint(c);
    ck_assert_msg(ferry_table_metadata_encode(&m, &b, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(ferry_table_metadata_decode(b.data, b.len, &got, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(got->export_id, "exp-1");
    ck_assert_int_eq(got->group, 3);
    ck_assert_int_eq(got->with_rows, 0);
    ck_assert_str_eq(got->row_schema_json, m.row_schema_json);
    ck_assert(got->fingerprint == m.fingerprint);
    g = got->object;
    ck_assert_str_eq(g->name, o->name);
    ck_assert_int_eq(g->without_rowid, 1);
    ck_assert_uint_eq(g->nfields, o->nfields);
    for (size_t i = 0; i < o->nfields; i++) {
        ck_assert_str_eq(g->fields[i].name, o->fields[i].name);
        ck_assert_str_eq(g->fields[i].decl_type, o->fields[i].decl_type);
        ck_assert_int_eq(g->fields[i].type, o->fields[i].type);
        ck_assert_int_eq(g->fields[i].nullable, o->fields[i].nullable);
        ck_assert_pstr_eq(g->fields[i].default_sql, o->fields[i].default_sql);
        ck_assert_int_eq(g->fields[i].length, o->fields[i].length);
        ck_assert_int_eq(g->fields[i].scale, o->fields[i].scale);
        ck_assert_int_eq(g->fields[i].pk_pos, o->fields[i].pk_pos);
    }
    ck_assert_uint_eq(g->nuniques, 1);
    ck_assert_uint_eq(g->uniques[0].nfields, 2);
    ck_assert_str_eq(g->uniques[0].fields[1], "\"weird\" col");
    ck_assert_uint_eq(g->nrelations, 2);
    ck_assert_str_eq(g->relations[0].target, "Parent");
    ck_assert_uint_eq(g->relations[0].nfields, 2);
    ck_assert_ptr_null(g->relations[0].to_fields[0]);
    ck_assert_str_eq(g->relations[0].to_fields[1], "title");
    ck_assert_int_eq(g->relations[0].kind, FERRY_REL_INCLUDE);
    ck_assert_str_eq(g->relations[0].on_delete, "CASCADE");
    ck_assert_int_eq(g->relations[1].kind, FERRY_REL_ASSOCIATION);
    ck_assert_ptr_null(g->relations[1].on_delete);
    ck_assert_ptr_null(g->relations[1].to_fields[0]);
    /* What an importer does: the decoded object gives the same row schema. */
    ck_assert_int_eq(ferry_rowcodec_new(g, &c2, err, sizeof(err)), 0);
    ck_assert(ferry_rowcodec_fingerprint(c2) == got->fingerprint);
    ferry_rowcodec_destroy(c2);
    ferry_table_metadata_free(got);

    /* A fingerprint that is not the schema's is refused. */
    ferry_buf_reset(&b);
    m.fingerprint ^= 1;
    ck_assert_int_eq(ferry_table_metadata_encode(&m, &b, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_table_metadata_decode(b.data, b.len, &got, err, sizeof(err)),
                     FERRY_EDECODE);
    ck_assert_msg(strstr(err, "row_fingerprint"), "%s", err);
    ck_assert_ptr_null(got);
    ferry_buf_free(&b);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* A PostgreSQL table: its dialect, identity columns and enum labels travel. */
static ferry_object_t *pg_object(ferry_objset_t *set)
{
    static const char *const moods[] = {"sad", "ok", "h\xc3\xa4ppy", ""};
    ferry_object_t *o = ferry_objset_add(set, "pg");

    o->dialect = FERRY_DIALECT_POSTGRESQL;
    ck_assert_int_eq(ferry_object_add_field(o, "id", "bigint", 0, NULL, 1), 0);
    ck_assert_int_eq(ferry_object_add_field(o, "n", "integer", 1, "nextval('pg_n_seq'::regclass)",
                                            0), 0);
    ck_assert_int_eq(ferry_object_add_field(o, "mood", "mood", 1, NULL, 0), 0);
    ck_assert_int_eq(ferry_object_add_field(o, "moods", "mood[]", 1, NULL, 0), 0);
    ck_assert_int_eq(ferry_object_add_field(o, "amount", "numeric(40,10)", 1, NULL, 0), 0);
    o->fields[0].type = FERRY_T_INTEGER;
    o->fields[0].identity = FERRY_IDENTITY_ALWAYS;
    o->fields[1].type = FERRY_T_INTEGER;
    o->fields[1].identity = FERRY_IDENTITY_SERIAL;
    o->fields[2].type = FERRY_T_ENUM;
    o->fields[3].type = FERRY_T_ARRAY;
    o->fields[4].type = FERRY_T_NUMERIC;
    o->fields[4].length = 40;
    o->fields[4].scale = 10;
    ck_assert_int_eq(ferry_field_set_labels(&o->fields[2], moods, 4), 0);
    ck_assert_int_eq(ferry_field_set_labels(&o->fields[3], moods, 3), 0);
    return o;
}

/* Encodes o with its row schema into b. */
static void encode_object(const ferry_object_t *o, ferry_buf_t *b)
{
    ferry_table_metadata_t m = {"exp-1", 0, NULL, o, NULL, 0, 1};
    ferry_rowcodec_t *c = NULL;
    char err[256] = "";

    ck_assert_msg(ferry_rowcodec_new(o, &c, err, sizeof(err)) == 0, "%s", err);
    m.row_schema_json = (char *)ferry_rowcodec_schema_json(c);
    m.fingerprint = ferry_rowcodec_fingerprint(c);
    ck_assert_msg(ferry_table_metadata_encode(&m, b, err, sizeof(err)) == 0, "%s", err);
    ferry_rowcodec_destroy(c);
}

START_TEST(test_table_metadata_pg_round_trip)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *o = pg_object(set);
    ferry_table_metadata_t *got = NULL;
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256] = "";

    encode_object(o, &b);
    ck_assert_msg(ferry_table_metadata_decode(b.data, b.len, &got, err, sizeof(err)) == 0, "%s",
                  err);
    ck_assert_int_eq(got->object->dialect, FERRY_DIALECT_POSTGRESQL);
    for (size_t i = 0; i < o->nfields; i++) {
        const ferry_field_t *f = &got->object->fields[i];
        ck_assert_int_eq(f->type, o->fields[i].type);
        ck_assert_int_eq(f->identity, o->fields[i].identity);
        ck_assert_uint_eq(f->nlabels, o->fields[i].nlabels);
        for (size_t k = 0; k < f->nlabels; k++)
            ck_assert_str_eq(f->labels[k], o->fields[i].labels[k]);
    }
    ck_assert_int_eq(got->object->fields[4].length, 40);
    ck_assert_int_eq(got->object->fields[4].scale, 10);
    ferry_table_metadata_free(got);

    /* A SQLite object keeps its dialect too (the default). */
    o->dialect = FERRY_DIALECT_SQLITE;
    ferry_buf_reset(&b);
    encode_object(o, &b);
    ck_assert_int_eq(ferry_table_metadata_decode(b.data, b.len, &got, err, sizeof(err)), 0);
    ck_assert_int_eq(got->object->dialect, FERRY_DIALECT_SQLITE);
    ferry_table_metadata_free(got);
    ferry_buf_free(&b);
    ferry_objset_destroy(set);
}
END_TEST

/* Replaces the first occurrence of `from` in b by `to` (same length). */
static void patch_bytes(ferry_buf_t *b, const char *from, const char *to)
{
    size_t n = strlen(from);
    ck_assert_uint_eq(strlen(to), n);
    for (size_t i = 0; i + n <= b->len; i++) {
        if (!memcmp(b->data + i, from, n)) {
            memcpy(b->data + i, to, n);
            return;
        }
    }
    ck_abort_msg("'%s' is not in the message", from);
}

/* What the decoder refuses in a PostgreSQL object, naming the field of the
 * message and the table. */
static const struct {
    const char *what;
    const char *from, *to; /* a patch of the encoded message, or NULL */
    int labels;            /* labels to put on field `field`: 0 none, -1 too long */
    int field;
    const char *in_errstr;
} pg_refusals[] = {
    {"an unknown dialect", "\x14postgresql", "\x14postgresqX", 0, 0,
     "field object.dialect: neither sqlite nor postgresql"},
    {"an unknown identity", "\x0c" "always", "\x0c" "alwayX", 0, 0,
     "field object.fields.identity: neither none"},
    {"an unknown type", "\x08" "enum", "\x08" "enuX", 0, 0, "field object.fields.type"},
    {"10001 labels", NULL, NULL, FERRY_FIELD_MAX_LABELS + 1, 2,
     "field object.fields.labels: more than 10000 items"},
    {"a label of 256 bytes", NULL, NULL, -1, 2,
     "field object.fields.labels: a label longer than 255 bytes"},
    {"labels on an integer", NULL, NULL, 1, 1,
     "field object.fields.labels: labels on a field that is neither enum nor array"},
};

START_TEST(test_table_metadata_pg_refusals)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *o = pg_object(set);
    ferry_table_metadata_t *got = NULL;
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256] = "";

    if (pg_refusals[_i].labels) {
        size_t n = pg_refusals[_i].labels < 0 ? 1 : (size_t)pg_refusals[_i].labels;
        const char **v = calloc(n, sizeof(*v));
        char *long_label = calloc(FERRY_LABEL_MAX + 2, 1);
        memset(long_label, 'x', FERRY_LABEL_MAX + 1);
        for (size_t k = 0; k < n; k++)
            v[k] = pg_refusals[_i].labels < 0 ? long_label : "x";
        ck_assert_int_eq(ferry_field_set_labels(&o->fields[pg_refusals[_i].field], v, n), 0);
        free(long_label);
        free(v);
    }
    encode_object(o, &b);
    if (pg_refusals[_i].from)
        patch_bytes(&b, pg_refusals[_i].from, pg_refusals[_i].to);
    ck_assert_msg(ferry_table_metadata_decode(b.data, b.len, &got, err, sizeof(err)) ==
                      FERRY_EDECODE, "%s: accepted", pg_refusals[_i].what);
    ck_assert_ptr_null(got);
    ck_assert_msg(strstr(err, "TableMetadata of \"pg\"") && strstr(err, pg_refusals[_i].in_errstr),
                  "%s: '%s'", pg_refusals[_i].what, err);
    ferry_buf_free(&b);
    ferry_objset_destroy(set);
}
END_TEST

/* Regression: a TableMetadata could carry a million fields, and the
 * importer's name checks over them crawled. Every count of an object is
 * capped (meta.h) before its items are read; the error names the table, the
 * field and the limit. */
static const struct {
    const char *what;
    size_t fields, uniques, unique_fields, relations, relation_fields;
    const char *in_errstr; /* NULL: accepted */
} meta_limits[] = {
    {"2000 fields", 2000, 0, 0, 0, 0, NULL},
    {"2001 fields", 2001, 0, 0, 0, 0, "field object.fields: more than 2000 items"},
    {"2000 unique constraints", 1, 2000, 1, 0, 0, NULL},
    {"2001 unique constraints", 1, 2001, 1, 0, 0, "field object.uniques: more than 2000 items"},
    {"a unique constraint of 2000 fields", 1, 1, 2000, 0, 0, NULL},
    {"a unique constraint of 2001 fields", 1, 1, 2001, 0, 0,
     "field object.uniques.fields: more than 2000 items"},
    {"2000 relations", 1, 0, 0, 2000, 1, NULL},
    {"2001 relations", 1, 0, 0, 2001, 1, "field object.relations: more than 2000 items"},
    {"a relation of 2000 fields", 1, 0, 0, 1, 2000, NULL},
    {"a relation of 2001 fields", 1, 0, 0, 1, 2001,
     "field object.relations.fields: more than 2000 items"},
};

START_TEST(test_table_metadata_limits)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *o = ferry_objset_add(set, "wide");
    ferry_table_metadata_t m = {"exp-1", 0, NULL, o, (char *)"\"long\"", 0, 1}, *got = NULL;
    const char *names[2001];
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256] = "", name[32];
    int rc;

    for (size_t i = 0; i < meta_limits[_i].fields; i++) {
        snprintf(name, sizeof(name), "c%zu", i);
        ck_assert_int_eq(ferry_object_add_field(o, name, "INTEGER", 1, NULL, 0), 0);
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        names[i] = "c0";
    for (size_t i = 0; i < meta_limits[_i].uniques; i++)
        ck_assert_int_eq(ferry_object_add_unique(o, names, meta_limits[_i].unique_fields), 0);
    for (size_t i = 0; i < meta_limits[_i].relations; i++)
        ck_assert_int_eq(ferry_object_add_relation(o, "other", names, NULL,
                                                   meta_limits[_i].relation_fields,
                                                   FERRY_REL_ASSOCIATION, NULL),
                         0);
    ck_assert_int_eq(ferry_avro_fingerprint(m.row_schema_json, &m.fingerprint, err, sizeof(err)),
                     0);
    ck_assert_msg(ferry_table_metadata_encode(&m, &b, err, sizeof(err)) == 0, "%s", err);
    rc = ferry_table_metadata_decode(b.data, b.len, &got, err, sizeof(err));
    if (!meta_limits[_i].in_errstr) {
        ck_assert_msg(rc == 0, "%s: %s", meta_limits[_i].what, err);
        ck_assert_uint_eq(got->object->nfields, o->nfields);
        ck_assert_uint_eq(got->object->nuniques, o->nuniques);
        ck_assert_uint_eq(got->object->nrelations, o->nrelations);
    } else {
        ck_assert_msg(rc == FERRY_EDECODE, "%s: accepted", meta_limits[_i].what);
        ck_assert_ptr_null(got);
        ck_assert_msg(strstr(err, "TableMetadata of \"wide\"") &&
                          strstr(err, meta_limits[_i].in_errstr),
                      "%s: '%s' lacks the table or '%s'", meta_limits[_i].what, err,
                      meta_limits[_i].in_errstr);
    }
    ferry_table_metadata_free(got);
    ferry_buf_free(&b);
    ferry_objset_destroy(set);
}
END_TEST

START_TEST(test_table_and_export_end_round_trip)
{
    ferry_table_end_t te = {"exp-1", "Ord\xc3\xa9r", INT64_MAX, "0123456789abcdef"}, *te2 = NULL;
    ferry_export_end_t ee = {"exp-1", 12, 0, "fedcba9876543210"}, *ee2 = NULL;
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256];

    ck_assert_int_eq(ferry_table_end_encode(&te, &b, err, sizeof(err)), 0);
    ck_assert_msg(ferry_table_end_decode(b.data, b.len, &te2, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(te2->export_id, te.export_id);
    ck_assert_str_eq(te2->table, te.table);
    ck_assert(te2->rows == te.rows);
    ck_assert_str_eq(te2->checksum, te.checksum);
    ferry_buf_reset(&b);
    ck_assert_int_eq(ferry_export_end_encode(&ee, &b, err, sizeof(err)), 0);
    ck_assert_msg(ferry_export_end_decode(b.data, b.len, &ee2, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(ee2->export_id, ee.export_id);
    ck_assert_int_eq(ee2->tables, 12);
    ck_assert(ee2->rows == 0);
    ck_assert_str_eq(ee2->checksum, ee.checksum);
    ferry_table_end_free(te2);
    ferry_export_end_free(ee2);
    ferry_buf_free(&b);
}
END_TEST

START_TEST(test_status_round_trip)
{
    ferry_table_stat_t stats[] = {{"Queue", 10, 8, 2}, {"Role", 0, 0, 0}};
    ferry_status_t full = {"exp-1", FERRY_STATUS_FAILED, 1700000000123LL, "import:prod", "dev",
                           "prod", 2, 10, 4096, 250, "parent row missing in \"Queue\"", stats, 2};
    ferry_status_t bare = {"exp-2", FERRY_STATUS_SKIPPED, 0, "worker:1", NULL, NULL, 0, 0, 0, 0,
                           NULL, NULL, 0};
    ferry_status_t *m = _i ? &bare : &full, *got = NULL;
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256];

    ck_assert_int_eq(ferry_status_encode(m, &b, err, sizeof(err)), 0);
    ck_assert_msg(ferry_status_decode(b.data, b.len, &got, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(got->export_id, m->export_id);
    ck_assert_int_eq(got->state, m->state);
    ck_assert(got->at_ms == m->at_ms);
    ck_assert_str_eq(got->component, m->component);
    ck_assert_pstr_eq(got->source, m->source);
    ck_assert_pstr_eq(got->target, m->target);
    ck_assert_int_eq(got->tables, m->tables);
    ck_assert(got->rows == m->rows && got->bytes == m->bytes && got->duration_ms == m->duration_ms);
    ck_assert_pstr_eq(got->reason, m->reason);
    ck_assert_uint_eq(got->ntable_stats, m->ntable_stats);
    for (size_t i = 0; i < m->ntable_stats; i++) {
        ck_assert_str_eq(got->table_stats[i].table, m->table_stats[i].table);
        ck_assert(got->table_stats[i].rows == m->table_stats[i].rows);
        ck_assert(got->table_stats[i].inserted == m->table_stats[i].inserted);
        ck_assert(got->table_stats[i].updated == m->table_stats[i].updated);
    }
    ferry_status_free(got);
    ferry_buf_free(&b);
}
END_TEST

static ferry_schedule_t schedules[] = {
    {"every-5m", "dev", "prod", objects2, 2, FERRY_CONTENT_ALL, 300000, 1700000000000LL, NULL, 0,
     1699999999999LL},
    {"nightly", "dev", "prod", objects1, 1, FERRY_CONTENT_DATA, 0, 0, "0 0 2 * * *", 0, 1},
    {"once", "dev", "prod", objects1, 1, FERRY_CONTENT_METADATA, 0, 0, NULL, 1700000000000LL, 0},
};

START_TEST(test_schedule_round_trip)
{
    ferry_schedule_t *m = &schedules[_i], *got = NULL;
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256];

    ck_assert_msg(ferry_schedule_encode(m, &b, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(ferry_schedule_decode(b.data, b.len, &got, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(got->id, m->id);
    ck_assert_str_eq(got->source, m->source);
    ck_assert_str_eq(got->target, m->target);
    ck_assert_uint_eq(got->nobjects, m->nobjects);
    for (size_t i = 0; i < m->nobjects; i++)
        ck_assert_str_eq(got->objects[i], m->objects[i]);
    ck_assert_int_eq(got->content, m->content);
    ck_assert(got->every_ms == m->every_ms && got->from_ms == m->from_ms);
    ck_assert_pstr_eq(got->cron, m->cron);
    ck_assert(got->at_ms == m->at_ms && got->created_ms == m->created_ms);
    ferry_schedule_free(got);
    ferry_buf_free(&b);
}
END_TEST

START_TEST(test_schedule_needs_exactly_one_kind)
{
    ferry_schedule_t two = schedules[0], none = schedules[0];
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256];

    two.cron = "0 * * * * *";
    none.every_ms = 0;
    ck_assert_int_eq(ferry_schedule_encode(&two, &b, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_int_eq(ferry_schedule_encode(&none, &b, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_msg(strstr(err, "every-5m"), "%s", err);
    ck_assert_uint_eq(b.len, 0);
    ferry_buf_free(&b);
}
END_TEST

/* ---- hostile input ------------------------------------------------------ */

/* One encoded sample of each envelope type, in envelopes[] order. */
static void encode_sample(ferry_msg_type_t t, ferry_buf_t *b, ferry_objset_t *set,
                          ferry_rowcodec_t **codec)
{
    ferry_plan_table_t tables[] = {{"Queue", NULL, 0}, {"Role", "Queue", 1}};
    ferry_plan_assoc_t assocs[] = {{"Role", "User"}};
    ferry_export_begin_t eb = {"exp-1", &requests[1], tables, 2, assocs, 1, 2, "a1"};
    ferry_part_begin_t pb = {"exp-1", "a1", 3, 1000, "0123456789abcdef"};
    ferry_export_abort_t ea = {"exp-1", "a2", "gave up"};
    ferry_table_end_t te = {"exp-1", "Queue", 3, "0123456789abcdef"};
    ferry_export_end_t ee = {"exp-1", 1, 3, "0123456789abcdef"};
    ferry_table_stat_t stats[] = {{"Queue", 1, 1, 0}};
    ferry_status_t st = {"exp-1", FERRY_STATUS_APPLIED, 1, "import:prod", "dev", "prod", 1, 1, 1,
                         1, "why", stats, 1};
    ferry_table_metadata_t tm = {"exp-1", 0, NULL, NULL, NULL, 0, 1};
    char err[256];
    int rc = FERRY_EINVAL;

    switch (t) {
    case FERRY_MSG_REQUEST: rc = ferry_request_encode(&requests[1], b, err, sizeof(err)); break;
    case FERRY_MSG_EXPORT_BEGIN: rc = ferry_export_begin_encode(&eb, b, err, sizeof(err)); break;
    case FERRY_MSG_TABLE_METADATA:
        tm.object = sample_object(set);
        ck_assert_int_eq(ferry_rowcodec_new(tm.object, codec, err, sizeof(err)), 0);
        tm.row_schema_json = (char *)ferry_rowcodec_schema_json(*codec);
        tm.fingerprint = ferry_rowcodec_fingerprint(*codec);
        rc = ferry_table_metadata_encode(&tm, b, err, sizeof(err));
        break;
    case FERRY_MSG_TABLE_END: rc = ferry_table_end_encode(&te, b, err, sizeof(err)); break;
    case FERRY_MSG_EXPORT_END: rc = ferry_export_end_encode(&ee, b, err, sizeof(err)); break;
    case FERRY_MSG_STATUS: rc = ferry_status_encode(&st, b, err, sizeof(err)); break;
    case FERRY_MSG_SCHEDULE: rc = ferry_schedule_encode(&schedules[1], b, err, sizeof(err)); break;
    case FERRY_MSG_PART_BEGIN: rc = ferry_part_begin_encode(&pb, b, err, sizeof(err)); break;
    case FERRY_MSG_EXPORT_ABORT: rc = ferry_export_abort_encode(&ea, b, err, sizeof(err)); break;
    default: break;
    }
    ck_assert_msg(rc == 0, "%s", err);
}

/* Decodes with the decoder of type t; frees what it decoded. */
static int decode_as(ferry_msg_type_t t, const void *buf, size_t len, char *err, size_t size)
{
    void *m = NULL;
    int rc = FERRY_EINVAL;

    switch (t) {
    case FERRY_MSG_REQUEST:
        rc = ferry_request_decode(buf, len, (ferry_request_t **)&m, err, size);
        ferry_request_free(m);
        break;
    case FERRY_MSG_EXPORT_BEGIN:
        rc = ferry_export_begin_decode(buf, len, (ferry_export_begin_t **)&m, err, size);
        ferry_export_begin_free(m);
        break;
    case FERRY_MSG_TABLE_METADATA:
        rc = ferry_table_metadata_decode(buf, len, (ferry_table_metadata_t **)&m, err, size);
        ferry_table_metadata_free(m);
        break;
    case FERRY_MSG_TABLE_END:
        rc = ferry_table_end_decode(buf, len, (ferry_table_end_t **)&m, err, size);
        ferry_table_end_free(m);
        break;
    case FERRY_MSG_EXPORT_END:
        rc = ferry_export_end_decode(buf, len, (ferry_export_end_t **)&m, err, size);
        ferry_export_end_free(m);
        break;
    case FERRY_MSG_STATUS:
        rc = ferry_status_decode(buf, len, (ferry_status_t **)&m, err, size);
        ferry_status_free(m);
        break;
    case FERRY_MSG_SCHEDULE:
        rc = ferry_schedule_decode(buf, len, (ferry_schedule_t **)&m, err, size);
        ferry_schedule_free(m);
        break;
    case FERRY_MSG_PART_BEGIN:
        rc = ferry_part_begin_decode(buf, len, (ferry_part_begin_t **)&m, err, size);
        ferry_part_begin_free(m);
        break;
    case FERRY_MSG_EXPORT_ABORT:
        rc = ferry_export_abort_decode(buf, len, (ferry_export_abort_t **)&m, err, size);
        ferry_export_abort_free(m);
        break;
    default:
        break;
    }
    return rc;
}

START_TEST(test_decoders_refuse_truncation_trailing_bytes_and_other_types)
{
    ferry_msg_type_t t = envelopes[_i], peeked;
    ferry_objset_t *set = ferry_objset_new();
    ferry_rowcodec_t *codec = NULL;
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256];

    encode_sample(t, &b, set, &codec);
    ck_assert_int_eq(ferry_msg_peek(b.data, b.len, &peeked, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(peeked, t);
    ck_assert_msg(decode_as(t, b.data, b.len, err, sizeof(err)) == 0, "%s", err);
    for (size_t len = 0; len < b.len; len++)
        ck_assert_msg(decode_as(t, b.data, len, err, sizeof(err)) == FERRY_EDECODE,
                      "%s: prefix of %zu bytes accepted", ferry_msg_type_name(t), len);
    ck_assert_int_eq(ferry_buf_append(&b, "", 1), 0);
    ck_assert_int_eq(decode_as(t, b.data, b.len, err, sizeof(err)), FERRY_EDECODE);
    ck_assert_msg(strstr(err, "trailing"), "%s", err);
    b.len--;
    /* Every other decoder names what the message really is. */
    for (size_t k = 0; k < NENVELOPES; k++) {
        if (envelopes[k] == t)
            continue;
        ck_assert_int_eq(decode_as(envelopes[k], b.data, b.len, err, sizeof(err)), FERRY_EDECODE);
        ck_assert_msg(strstr(err, ferry_msg_type_name(t)), "%s", err);
    }
    ferry_buf_free(&b);
    ferry_rowcodec_destroy(codec);
    ferry_objset_destroy(set);
}
END_TEST

/* Bodies written by hand behind a TableEnd or ExportRequest header. */
static const struct {
    const char *what;
    ferry_msg_type_t type;
    const char *body;
    size_t len;
    const char *in_errstr;
} hostile[] = {
#define BODY(s) s, sizeof(s) - 1
    {"huge string length", FERRY_MSG_TABLE_END,
     BODY("\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01"), "export_id"},
    {"negative string length", FERRY_MSG_TABLE_END, BODY("\x03"), "export_id"},
    {"NUL inside a string", FERRY_MSG_TABLE_END, BODY("\x06" "a\0b" "\x02t\x00\x02x"), "NUL"},
    {"11-byte varint", FERRY_MSG_TABLE_END,
     BODY("\x02x\x02t\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01\x02x"), "rows"},
    {"array count past the bytes left", FERRY_MSG_REQUEST,
     BODY("\x02x\x02" "a\x02" "b\xfe\xff\xff\xff\x0f"), "objects"},
    {"array with a negative count and a huge byte size", FERRY_MSG_REQUEST,
     BODY("\x02x\x02" "a\x02" "b\x01\xfe\xff\xff\xff\x0f"), "objects"},
    {"more objects than allowed", FERRY_MSG_REQUEST, NULL, 0, "objects"},
    {"enum index past the symbols", FERRY_MSG_REQUEST,
     BODY("\x02x\x02" "a\x02" "b\x02\x02o\x00\x06\x00\x00\x00"), "content"},
    {"union index past the branches", FERRY_MSG_REQUEST,
     BODY("\x02x\x02" "a\x02" "b\x02\x02o\x00\x00\x00\x04"), "schedule_id"},
#undef BODY
};

START_TEST(test_decoders_refuse_hostile_bodies)
{
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256] = "";

    ck_assert_int_eq(ferry_avro_frame_header(&b, ferry_msg_fingerprint(hostile[_i].type)), 0);
    if (hostile[_i].body) {
        ck_assert_int_eq(ferry_buf_append(&b, hostile[_i].body, hostile[_i].len), 0);
    } else {
        /* 1001 one-byte names in blocks of one. */
        ck_assert_int_eq(ferry_buf_append(&b, "\x02x\x02" "a\x02" "b", 6), 0);
        for (int i = 0; i < 1001; i++)
            ck_assert_int_eq(ferry_buf_append(&b, "\x02\x02o", 3), 0);
        ck_assert_int_eq(ferry_buf_append(&b, "\x00\x00\x00\x00\x00", 5), 0);
    }
    ck_assert_msg(decode_as(hostile[_i].type, b.data, b.len, err, sizeof(err)) == FERRY_EDECODE,
                  "%s: accepted", hostile[_i].what);
    ck_assert_msg(strstr(err, hostile[_i].in_errstr), "%s: '%s' lacks '%s'", hostile[_i].what,
                  err, hostile[_i].in_errstr);
    ferry_buf_free(&b);
}
END_TEST

START_TEST(test_peek)
{
    ferry_objset_t *set = ferry_objset_new();
    ferry_object_t *o = sample_object(set);
    ferry_rowcodec_t *c = NULL;
    ferry_buf_t body = FERRY_BUF_INIT, b = FERRY_BUF_INIT;
    ferry_value_t row[10] = {{FERRY_V_INT, 1, 0, NULL, 0}};
    ferry_msg_type_t t;
    uint64_t fp = 0;
    char err[256];

    /* A Rows message is no envelope: its fingerprint is its table's. */
    ck_assert_int_eq(ferry_rowcodec_new(o, &c, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_rowcodec_encode(c, row, &body, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_rowcodec_frame_rows(c, 1, body.data, body.len, &b, err, sizeof(err)),
                     0);
    ck_assert_int_eq(ferry_msg_peek(b.data, b.len, &t, &fp, err, sizeof(err)), 0);
    ck_assert_int_eq(t, FERRY_MSG_UNKNOWN);
    ck_assert(fp == ferry_rowcodec_rows_fingerprint(c));
    ferry_buf_free(&body);
    ck_assert_int_eq(ferry_msg_peek("{}", 2, &t, &fp, err, sizeof(err)), 0);
    ck_assert_int_eq(t, FERRY_MSG_REQUEST);
    ck_assert_int_eq(ferry_msg_peek("\xC3", 1, &t, &fp, err, sizeof(err)), FERRY_EDECODE);
    ferry_buf_free(&b);
    ferry_rowcodec_destroy(c);
    ferry_objset_destroy(set);
}
END_TEST

/* ---- the JSON request form ---------------------------------------------- */

static const struct {
    const char *what;
    const char *json;
    int rc;
    const char *in_errstr;
} json_requests[] = {
    {"minimal", "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Queue\"]}", 0, NULL},
    {"everything", "{\"export_id\":\"e1\",\"source\":\"dev\",\"target\":\"prod\",\"objects\":"
     "[\"Queue\",\"Profile\"],\"content\":\"metadata\",\"requested_at\":"
     "\"2024-05-01T14:00:00.250+02:00\",\"schedule_id\":\"s\",\"due\":1714564800000}", 0, NULL},
    {"null schedule_id", "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Q\"],"
     "\"schedule_id\":null}", 0, NULL},
    {"unknown key", "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Q\"],\"objcts\":[]}",
     FERRY_EINVAL, "\"objcts\""},
    {"unknown key with control characters",
     "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Q\"],\"a\\nb\":1}", FERRY_EINVAL,
     "\"a?b\""},
    {"not JSON", "{\"source\":", FERRY_EDECODE, "not JSON"},
    {"trailing garbage", "{\"source\":\"dev\"} x", FERRY_EDECODE, "not JSON"},
    {"duplicate key", "{\"source\":\"dev\",\"source\":\"qa\",\"target\":\"prod\",\"objects\":[\"Q\"]}",
     FERRY_EDECODE, "not JSON"},
    {"invalid UTF-8", "{\"source\":\"d\xff\",\"target\":\"prod\",\"objects\":[\"Q\"]}",
     FERRY_EDECODE, "not JSON"},
    {"missing source", "{\"target\":\"prod\",\"objects\":[\"Q\"]}", FERRY_EINVAL, "source"},
    {"empty target", "{\"source\":\"dev\",\"target\":\"\",\"objects\":[\"Q\"]}", FERRY_EINVAL,
     "target"},
    {"no objects", "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[]}", FERRY_EINVAL,
     "objects"},
    {"objects not an array", "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":\"Q\"}",
     FERRY_EINVAL, "objects"},
    {"object not a string", "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[1]}",
     FERRY_EINVAL, "objects"},
    {"empty object name", "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Q\",\"\"]}",
     FERRY_EINVAL, "object 2"},
    {"control character in a name",
     "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Q\\u0007\"]}", FERRY_EINVAL,
     "control character"},
    {"source not a string", "{\"source\":1,\"target\":\"prod\",\"objects\":[\"Q\"]}",
     FERRY_EINVAL, "source"},
    {"bad content", "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Q\"],\"content\":"
     "\"rows\"}", FERRY_EINVAL, "content"},
    {"bad time", "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Q\"],\"requested_at\":"
     "\"yesterday\"}", FERRY_EINVAL, "requested_at"},
    {"impossible date", "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Q\"],\"due\":"
     "\"2023-02-29T00:00:00Z\"}", FERRY_EINVAL, "due"},
    {"an array, not an object", "[\"source\"]", FERRY_EDECODE, "Avro single-object"},
};

START_TEST(test_json_request)
{
    ferry_request_t *q = NULL;
    char err[256] = "";
    int rc = ferry_request_decode(json_requests[_i].json, strlen(json_requests[_i].json), &q, err,
                                  sizeof(err));

    ck_assert_msg(rc == json_requests[_i].rc, "%s: %s (%s)", json_requests[_i].what,
                  ferry_err_name(rc), err);
    if (json_requests[_i].in_errstr)
        ck_assert_msg(strstr(err, json_requests[_i].in_errstr), "%s: '%s' lacks '%s'",
                      json_requests[_i].what, err, json_requests[_i].in_errstr);
    ck_assert(rc ? q == NULL : q != NULL);
    ferry_request_free(q);
}
END_TEST

START_TEST(test_json_request_fills_defaults)
{
    const char *minimal = "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Queue\"]}";
    const char *full = json_requests[1].json;
    ferry_request_t *a = NULL, *b = NULL;
    char err[256];

    ck_assert_int_eq(ferry_request_decode(minimal, strlen(minimal), &a, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_request_decode(minimal, strlen(minimal), &b, err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(a->export_id), 32);
    ck_assert_uint_eq(strspn(a->export_id, "0123456789abcdef"), 32);
    ck_assert_str_ne(a->export_id, b->export_id);
    ck_assert_int_eq(a->content, FERRY_CONTENT_ALL);
    ck_assert(a->requested_at_ms > 1700000000000LL);
    ck_assert_ptr_null(a->schedule_id);
    ck_assert(a->due_ms == 0);
    ferry_request_free(a);
    ferry_request_free(b);

    ck_assert_int_eq(ferry_request_decode(full, strlen(full), &a, err, sizeof(err)), 0);
    ck_assert_str_eq(a->export_id, "e1");
    ck_assert_int_eq(a->content, FERRY_CONTENT_METADATA);
    ck_assert(a->requested_at_ms == 1714564800250LL);  /* 12:00:00.250Z */
    ck_assert(a->due_ms == 1714564800000LL);
    ck_assert_str_eq(a->schedule_id, "s");
    ferry_request_free(a);
}
END_TEST

/* A request without an id takes the fallback (its place in the log), so that
 * decoding it again after a failed attempt gives the same export id; an id in
 * the request wins. */
START_TEST(test_request_without_id_takes_the_fallback)
{
    const char *minimal = "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Queue\"]}";
    const char *full = json_requests[1].json;
    ferry_request_t *a = NULL, *b = NULL;
    char err[256];

    ck_assert_int_eq(ferry_request_decode_with_id(minimal, strlen(minimal), "ferry.requests-2-17",
                                                  &a, err, sizeof(err)), 0);
    ck_assert_int_eq(ferry_request_decode_with_id(minimal, strlen(minimal), "ferry.requests-2-17",
                                                  &b, err, sizeof(err)), 0);
    ck_assert_str_eq(a->export_id, "ferry.requests-2-17");
    ck_assert_str_eq(a->export_id, b->export_id);
    ferry_request_free(a);
    ferry_request_free(b);
    ck_assert_int_eq(ferry_request_decode_with_id(full, strlen(full), "ferry.requests-2-17", &a,
                                                  err, sizeof(err)), 0);
    ck_assert_str_eq(a->export_id, "e1");
    ferry_request_free(a);
}
END_TEST

/* A generated id is a function of the message: the same message (a redo)
 * gives the same id; any change of cluster, topic, partition, offset,
 * timestamp or bytes gives another. The case the ids once failed: the same
 * topic, partition and offset after the topic was created again, where only
 * the timestamp (and usually the bytes) differ. */
START_TEST(test_derived_id_is_the_message_s_own)
{
    static const char body[] = "{\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Queue\"]}";
    static const struct {
        const char *cluster, *topic;
        int32_t partition;
        int64_t offset, ts;
        size_t len;
    } place[] = {
        {"cluster-A", "ferry.requests", 2, 17, 1764000000000LL, sizeof(body) - 1},
        {"cluster-B", "ferry.requests", 2, 17, 1764000000000LL, sizeof(body) - 1},
        {NULL, "ferry.requests", 2, 17, 1764000000000LL, sizeof(body) - 1},
        {"cluster-A", "ferry.requests2", 2, 17, 1764000000000LL, sizeof(body) - 1},
        {"cluster-A", "ferry.requests", 3, 17, 1764000000000LL, sizeof(body) - 1},
        {"cluster-A", "ferry.requests", 2, 18, 1764000000000LL, sizeof(body) - 1},
        {"cluster-A", "ferry.requests", 2, 17, 1764000000001LL, sizeof(body) - 1},
        {"cluster-A", "ferry.requests", 2, 17, 1764000000000LL, sizeof(body) - 2},
        /* the topic's name ending where the cluster id's began: no aliasing */
        {"cluster-Af", "erry.requests", 2, 17, 1764000000000LL, sizeof(body) - 1},
    };
    enum { N = sizeof(place) / sizeof(place[0]) };
    char ids[N][FERRY_DERIVED_ID_LEN + 1], again[FERRY_DERIVED_ID_LEN + 1];

    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(ferry_request_derive_id(place[i].cluster, place[i].topic,
                                                 place[i].partition, place[i].offset, place[i].ts,
                                                 body, place[i].len, ids[i]), 0);
        ck_assert_uint_eq(strlen(ids[i]), FERRY_DERIVED_ID_LEN);
        ck_assert_uint_eq(strspn(ids[i], "0123456789abcdef"), FERRY_DERIVED_ID_LEN);
        ck_assert_int_eq(ferry_request_derive_id(place[i].cluster, place[i].topic,
                                                 place[i].partition, place[i].offset, place[i].ts,
                                                 body, place[i].len, again), 0);
        ck_assert_str_eq(again, ids[i]);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(ids[i], ids[j]);
    }
}
END_TEST

/* A request refused by the decoder still names itself when the id it
 * carries can be read and is valid; never an id that would fail validation. */
START_TEST(test_refused_request_s_id_is_read)
{
    static const struct {
        const char *json;
        const char *id; /* NULL: none can be read */
    } cases[] = {
        {"{\"export_id\":\"client-7\",\"source\":\"dev\",\"target\":\"prod\",\"objects\":[\"Q\"],"
         "\"priority\":1}", "client-7"},
        {"{\"priority\":1,\"export_id\":\"client-8\"}", "client-8"},
        {"{\"export_id\":\"client-9\",\"source\":\"\",\"objects\":[]}", "client-9"},
        {"{\"export_id\":\"\",\"priority\":1}", NULL},
        {"{\"export_id\":7,\"priority\":1}", NULL},
        {"{\"export_id\":\"bad\\u0001id\",\"priority\":1}", NULL},
        {"{\"export_id\":\"client-1\",\"export_id\":\"client-2\"}", NULL}, /* duplicate key */
        {"{\"export_id\":\"client-1\",", NULL},                             /* not JSON */
        {"[\"export_id\",\"client-1\"]", NULL},
        {"\xc3\x01garbage", NULL},
    };
    char id[FERRY_EXPORT_ID_MAX], small[4];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = ferry_request_peek_id(cases[i].json, strlen(cases[i].json), id, sizeof(id));
        if (cases[i].id) {
            ck_assert_msg(rc == 0, "case %zu", i);
            ck_assert_str_eq(id, cases[i].id);
        } else {
            ck_assert_msg(rc == FERRY_ENOTFOUND, "case %zu: rc %d", i, rc);
        }
    }
    /* too long for the caller's buffer: none, never a truncated id */
    ck_assert_int_eq(ferry_request_peek_id(cases[0].json, strlen(cases[0].json), small,
                                           sizeof(small)), FERRY_ENOTFOUND);
    /* the Avro form: a body that decodes but fails validation */
    {
        ferry_request_t q = requests[0];
        ferry_buf_t b = FERRY_BUF_INIT;
        char err[256];
        q.export_id = "avro-id-1";
        ck_assert_int_eq(ferry_request_encode(&q, &b, err, sizeof(err)), 0);
        ck_assert_int_eq(ferry_request_peek_id(b.data, b.len, id, sizeof(id)), 0);
        ck_assert_str_eq(id, "avro-id-1");
        ck_assert_int_eq(ferry_request_peek_id(b.data, b.len - 1, id, sizeof(id)),
                         FERRY_ENOTFOUND);
        ferry_buf_free(&b);
    }
}
END_TEST

START_TEST(test_request_limits)
{
    char *many[FERRY_REQUEST_MAX_OBJECTS + 1];
    char long_name[FERRY_NAME_MAX + 2];
    ferry_request_t q = requests[0];
    ferry_buf_t b = FERRY_BUF_INIT;
    char err[256];

    for (size_t i = 0; i <= FERRY_REQUEST_MAX_OBJECTS; i++)
        many[i] = "o";
    q.objects = many;
    q.nobjects = FERRY_REQUEST_MAX_OBJECTS;
    ck_assert_int_eq(ferry_request_encode(&q, &b, err, sizeof(err)), 0);
    q.nobjects++;
    ck_assert_int_eq(ferry_request_encode(&q, &b, err, sizeof(err)), FERRY_EINVAL);

    q = requests[0];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    q.source = long_name;
    ck_assert_int_eq(ferry_request_encode(&q, &b, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_msg(strstr(err, "source"), "%s", err);
    long_name[FERRY_NAME_MAX] = '\0';
    ck_assert_int_eq(ferry_request_encode(&q, &b, err, sizeof(err)), 0);
    q.source = "d\xc3";
    ck_assert_int_eq(ferry_request_encode(&q, &b, err, sizeof(err)), FERRY_EINVAL);
    ck_assert_msg(strstr(err, "UTF-8"), "%s", err);
    ferry_buf_free(&b);
}
END_TEST

static Suite *protocol_suite(void)
{
    Suite *s = suite_create("protocol");
    TCase *tc = tcase_create("schemas");
    tcase_add_loop_test(tc, test_compiled_in_schema_is_the_file, 0, NENVELOPES);
    tcase_add_loop_test(tc, test_schema_fields_documented_and_defaulted, 0, NENVELOPES);
    tcase_add_test(tc, test_schema_copies_agree);
    tcase_add_test(tc, test_names_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("round trips");
    tcase_add_loop_test(tc, test_request_round_trip, 0, sizeof(requests) / sizeof(requests[0]));
    tcase_add_loop_test(tc, test_export_begin_round_trip, 0, 2);
    tcase_add_test(tc, test_table_metadata_round_trip);
    tcase_add_test(tc, test_table_metadata_pg_round_trip);
    tcase_add_loop_test(tc, test_table_metadata_pg_refusals, 0,
                        sizeof(pg_refusals) / sizeof(pg_refusals[0]));
    tcase_add_test(tc, test_table_and_export_end_round_trip);
    tcase_add_loop_test(tc, test_status_round_trip, 0, 2);
    tcase_add_loop_test(tc, test_schedule_round_trip, 0, sizeof(schedules) / sizeof(schedules[0]));
    tcase_add_test(tc, test_schedule_needs_exactly_one_kind);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile input");
    tcase_add_loop_test(tc, test_decoders_refuse_truncation_trailing_bytes_and_other_types, 0,
                        NENVELOPES);
    tcase_add_loop_test(tc, test_decoders_refuse_hostile_bodies, 0,
                        sizeof(hostile) / sizeof(hostile[0]));
    tcase_add_test(tc, test_peek);
    tcase_add_loop_test(tc, test_table_metadata_limits, 0,
                        sizeof(meta_limits) / sizeof(meta_limits[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("JSON request");
    tcase_add_loop_test(tc, test_json_request, 0, sizeof(json_requests) / sizeof(json_requests[0]));
    tcase_add_test(tc, test_json_request_fills_defaults);
    tcase_add_test(tc, test_request_without_id_takes_the_fallback);
    tcase_add_test(tc, test_request_limits);
    tcase_add_test(tc, test_derived_id_is_the_message_s_own);
    tcase_add_test(tc, test_refused_request_s_id_is_read);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ferry_check_run(protocol_suite());
}
