/* meta.h - the metadata model: objects (tables), their fields, keys and relations,
 * and a set of objects read from one environment.
 *
 * The model is plain data: structs are public for reading; build them only with
 * the functions below, which own every string (copied in). An object belongs to
 * the objset it was added to; ferry_objset_destroy frees everything. */
#ifndef FERRY_META_H
#define FERRY_META_H

#include <stddef.h>

/* ferry's column types. A store maps its declared types onto these
 * (ferry_type_from_decl for SQLite). FERRY_T_ANY is a column without a
 * declared type that may hold any value.
 *
 * The types up to FERRY_T_ANY are SQLite's: their values are SQLite's storage
 * classes (value.h), a DATE's typed value an INT of days, a TIMESTAMP's an
 * INT of milliseconds, a DECIMAL's an INT or REAL. The types after it are
 * PostgreSQL's, whose values a store gives as FERRY_V_TEXT in PostgreSQL's
 * own text form (ISO dates, the session time zone UTC) so that they arrive
 * exactly: NUMERIC an exact decimal ("0.00100000000000000000", "NaN"), DAY
 * "YYYY-MM-DD", TIME "HH:MM:SS[.ffffff]", DATETIME a timestamp without time
 * zone "YYYY-MM-DD HH:MM:SS[.ffffff]", TIMESTAMPTZ the same with "+00", UUID,
 * INTERVAL, JSON (json and jsonb: decl_type says which), ENUM (the field's
 * labels), ARRAY (a one-dimensional array literal; decl_type names the element
 * type, "integer[]"). PostgreSQL's other types map onto the SQLite ones
 * (smallint..bigint INTEGER, real and double precision REAL with FERRY_V_REAL
 * values, text/varchar/char TEXT, boolean BOOLEAN with INT 0/1, bytea BLOB). */
typedef enum ferry_type {
    FERRY_T_TEXT = 0,
    FERRY_T_INTEGER,
    FERRY_T_REAL,
    FERRY_T_DECIMAL,
    FERRY_T_BOOLEAN,
    FERRY_T_DATE,
    FERRY_T_TIMESTAMP,
    FERRY_T_BLOB,
    FERRY_T_ANY,
    FERRY_T_NUMERIC,
    FERRY_T_DAY,
    FERRY_T_TIME,
    FERRY_T_DATETIME,
    FERRY_T_TIMESTAMPTZ,
    FERRY_T_UUID,
    FERRY_T_INTERVAL,
    FERRY_T_JSON,
    FERRY_T_ENUM,
    FERRY_T_ARRAY,
} ferry_type_t;

/* The store an object's metadata was read from: it says in which dialect
 * its fields' decl_type and default_sql are written. */
typedef enum ferry_dialect { FERRY_DIALECT_SQLITE = 0, FERRY_DIALECT_POSTGRESQL } ferry_dialect_t;

/* How a column generates its values (PostgreSQL): an identity column
 * (GENERATED ALWAYS / BY DEFAULT AS IDENTITY) or a serial-style column (a
 * default nextval() of a sequence the column owns). A target moves every
 * generator of an imported table past the largest imported value. */
typedef enum ferry_identity {
    FERRY_IDENTITY_NONE = 0,
    FERRY_IDENTITY_ALWAYS,
    FERRY_IDENTITY_BY_DEFAULT,
    FERRY_IDENTITY_SERIAL,
} ferry_identity_t;

typedef struct ferry_field {
    char *name;        /* the column's name exactly as in the store */
    char *decl_type;   /* the declared type as written ("" when none) */
    ferry_type_t type; /* ferry's type, from decl_type */
    int nullable;      /* 1 unless NOT NULL */
    char *default_sql; /* the default expression as the store reports it, or NULL */
    int length;        /* declared length or precision (VARCHAR(80), DECIMAL(10,2) -> 80, 10); 0 unknown */
    int scale;         /* declared scale (DECIMAL(10,2) -> 2); 0 unknown */
    int pk_pos;        /* 1-based position in the primary key, 0 when not part of it */
    char *collation;   /* the column's COLLATE (BINARY, NOCASE or RTRIM), or NULL: BINARY */
    ferry_identity_t identity;
    char **labels;     /* FERRY_T_ENUM and arrays of one: the enum's labels in order */
    size_t nlabels;
    /* 1: the store holds the column in a type ferry cannot carry (decl_type
     * names it; type is then FERRY_T_ANY). The object is still described,
     * but an export of it fails before anything is sent (export.c). */
    int uncarriable;
} ferry_field_t;

/* A relation is a foreign key of this object: fields -> target's to_fields.
 * FERRY_REL_INCLUDE: master-detail; the target (master) pulls this object (detail)
 *   into an export (a foreign key declared ON DELETE CASCADE, or a catalog edge).
 * FERRY_REL_ASSOCIATION: this object refers to the target, which is not exported
 *   and must already exist in the target environment. */
typedef enum ferry_rel_kind { FERRY_REL_INCLUDE = 0, FERRY_REL_ASSOCIATION } ferry_rel_kind_t;

/* Deferrability of a foreign key (SQLite: only DEFERRABLE INITIALLY DEFERRED
 * defers its check to the commit; the other two check at each statement). */
typedef enum ferry_defer {
    FERRY_DEFER_NONE = 0,  /* NOT DEFERRABLE, or no clause */
    FERRY_DEFER_IMMEDIATE, /* DEFERRABLE [INITIALLY IMMEDIATE] */
    FERRY_DEFER_DEFERRED,  /* DEFERRABLE INITIALLY DEFERRED */
} ferry_defer_t;

typedef struct ferry_relation {
    char *target;       /* the referenced object */
    char **fields;      /* nfields field names of this object */
    char **to_fields;   /* nfields field names of the target (NULL entries: its primary key) */
    size_t nfields;
    ferry_rel_kind_t kind;
    char *on_delete;    /* "CASCADE", "SET NULL", "NO ACTION"... as the store reports it */
    ferry_defer_t deferrable;
} ferry_relation_t;

typedef struct ferry_unique {
    char **fields;
    size_t nfields;
} ferry_unique_t;

/* One key column of an index: a column of the object, its order and collation. */
typedef struct ferry_index_col {
    char *name;
    int desc;          /* 1 for DESC */
    char *collation;   /* BINARY, NOCASE or RTRIM, or NULL: the column's own */
} ferry_index_col_t;

/* An index made with CREATE [UNIQUE] INDEX on plain columns (not partial, no
 * expression). Unique constraints declared in the table are uniques, not
 * indexes. */
typedef struct ferry_index {
    char *name;
    int unique;
    ferry_index_col_t *cols;
    size_t ncols;
} ferry_index_t;

typedef struct ferry_object {
    char *name;
    ferry_field_t *fields;
    size_t nfields;
    ferry_unique_t *uniques;
    size_t nuniques;
    ferry_relation_t *relations;
    size_t nrelations;
    ferry_dialect_t dialect; /* of decl_type and default_sql (SQLite unless set) */
    int without_rowid;  /* SQLite WITHOUT ROWID (informational) */
    ferry_index_t *indexes;
    size_t nindexes;
    /* What the store has but ferry does not carry (a partial index, a CHECK
     * constraint...), one human-readable item each ("partial index \"x\""). */
    char **not_carried;
    size_t nnot_carried;
} ferry_object_t;

typedef struct ferry_objset ferry_objset_t;

/* Limits on one object, at SQLite's default column limit (SQLITE_MAX_COLUMN):
 * fields of an object, its unique constraints, its relations, and the fields
 * of one unique constraint or relation. Decoders of untrusted metadata
 * (protocol.c) and the row codec refuse more, so that checks over names, some
 * of them quadratic, stay cheap. */
enum {
    FERRY_OBJECT_MAX_FIELDS = 2000,
    FERRY_OBJECT_MAX_UNIQUES = 2000,
    FERRY_OBJECT_MAX_RELATIONS = 2000,
    FERRY_OBJECT_MAX_INDEXES = 2000,
    FERRY_OBJECT_MAX_NOT_CARRIED = 2000,
};

/* Maps a declared column type ("VARCHAR(80)", "DECIMAL(10,2)", "DATETIME", "")
 * onto a ferry type, filling *length and *scale when the declaration has them
 * (either may be NULL). Never fails: unknown names follow SQLite's affinity rules. */
ferry_type_t ferry_type_from_decl(const char *decl, int *length, int *scale);
/* "text", "integer", ... "any", "numeric", "day", "time", "datetime",
 * "timestamptz", "uuid", "interval", "json", "enum", "array". */
const char *ferry_type_name(ferry_type_t type);
/* The inverse of ferry_type_name; returns -1 for an unknown name. */
int ferry_type_from_name(const char *name);

/* 1 if name is reserved for the store or ferry's bookkeeping (prefix sqlite_ or
 * ferry_, any case, as SQLite compares names), else 0. Such a table is never a
 * user object and is never created from incoming metadata. */
int ferry_name_reserved(const char *name);

/* Frees the n strings of v (NULL entries allowed) and v itself. Accepts NULL. */
void ferry_strv_free(char **v, size_t n);

/* A new empty set; free with ferry_objset_destroy (accepts NULL). NULL on ENOMEM. */
ferry_objset_t *ferry_objset_new(void);
void ferry_objset_destroy(ferry_objset_t *set);

/* Adds a new object named name (copied) and returns it, owned by the set; NULL
 * on ENOMEM or when an object of that name exists. Pointers returned stay valid
 * until the set is destroyed. */
ferry_object_t *ferry_objset_add(ferry_objset_t *set, const char *name);
/* The object named name (exact, case-sensitive match first, then a
 * case-insensitive one as SQLite resolves names), or NULL. */
const ferry_object_t *ferry_objset_find(const ferry_objset_t *set, const char *name);
size_t ferry_objset_count(const ferry_objset_t *set);
/* Objects in name order (byte order of the names). */
const ferry_object_t *ferry_objset_at(const ferry_objset_t *set, size_t i);

/* Builders: copy their strings; return 0 or FERRY_ENOMEM. decl may be NULL
 * (no declared type); default_sql may be NULL. */
int ferry_object_add_field(ferry_object_t *obj, const char *name, const char *decl,
                           int nullable, const char *default_sql, int pk_pos);
int ferry_object_add_unique(ferry_object_t *obj, const char *const *fields, size_t nfields);
/* to_fields may be NULL (the target's primary key) or hold NULL entries. */
int ferry_object_add_relation(ferry_object_t *obj, const char *target,
                              const char *const *fields, const char *const *to_fields,
                              size_t nfields, ferry_rel_kind_t kind, const char *on_delete);

/* Adds an index of ncols columns: names[k], desc[k] (NULL: all ASC) and
 * collations[k] (NULL or NULL entries: the column's own). */
int ferry_object_add_index(ferry_object_t *obj, const char *name, int unique,
                           const char *const *names, const int *desc,
                           const char *const *collations, size_t ncols);
/* Adds one "not carried" item (copied). */
int ferry_object_add_not_carried(ferry_object_t *obj, const char *what);
/* Sets the collation of field f (copied; NULL clears it). */
int ferry_object_set_collation(ferry_field_t *f, const char *collation);
/* Sets the labels of field f (n strings, copied; replaces earlier ones). */
int ferry_field_set_labels(ferry_field_t *f, const char *const *labels, size_t n);

/* Objects of an environment that are not objects ferry exports (a virtual
 * table, its shadow tables, SQLite's internal tables, ferry's bookkeeping),
 * each with the reason, so that a request naming one is told what it is.
 * The set keeps them apart from its objects; both strings are copied. */
int ferry_objset_add_excluded(ferry_objset_t *set, const char *name, const char *reason);
size_t ferry_objset_nexcluded(const ferry_objset_t *set);
/* The i-th excluded object (in the order added), its reason in *reason. */
const char *ferry_objset_excluded_at(const ferry_objset_t *set, size_t i, const char **reason);
/* The reason name (matched as SQLite does, case-insensitively) is excluded,
 * or NULL when it is not an excluded object. */
const char *ferry_objset_excluded_reason(const ferry_objset_t *set, const char *name);

/* A whitelisted collation's canonical spelling (BINARY, NOCASE, RTRIM, any
 * case accepted), or NULL when ferry does not carry it. */
const char *ferry_collation_name(const char *collation);

/* Index of the field named name (exact match), or -1. */
int ferry_object_field_index(const ferry_object_t *obj, const char *name);
/* Number of primary key fields; fills idx (if not NULL, room for nfields) with
 * field indexes in key order. */
size_t ferry_object_pk(const ferry_object_t *obj, size_t *idx);

#endif
