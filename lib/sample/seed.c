/* seed.c - the sample source environment (seed.h).
 *
 * Each table is described once, below: its columns with their declared types
 * (SQLite's spelling), flags and a generator per column; a reference column's
 * foreign key follows from its generator. The metadata of a table is built
 * from that description and written through the store interface (store.h),
 * so any store the interface opens for writing takes the same rows: the
 * store maps the declared types onto its own and quotes every name. Each
 * table draws from its own random stream (splitmix64 seeded from the seed and
 * the table's name), so a table's content depends only on (rows, seed).
 *
 * Values read back alike from SQLite and PostgreSQL, so that checksums agree:
 * PostgreSQL's cursor gives a timestamp, a date or a numeric as its own text,
 * SQLite gives what was stored. Timestamps are therefore text in the form
 * both print (SQLite's datetime(): 'YYYY-MM-DD HH:MM:SS[.fff]'), dates
 * 'YYYY-MM-DD', and amounts REAL: a SQLite DECIMAL column turns '12.50' into
 * the double 12.5 (its affinity), which a numeric(12,2) would read back as
 * the text '12.50', whereas a double is the same bits on both.
 *
 * Seeding is one transaction: every table is created (masters before
 * details) and filled through one writer, values made in per-column buffers
 * reused for every row. A failure rolls it back, and a SQLite file the seed
 * created is removed. */
#include "seed.h"

#include "error.h"
#include "meta.h"
#include "store.h"
#include "value.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef enum gen {
    G_ID,       /* 1, 2, 3... */
    G_CODE,     /* arg-000001...: a text key */
    G_REF,      /* a random key of table arg */
    G_MASTER,   /* the master in table arg: rows grouped in key order */
    G_LINE,     /* 1..n within the master of the table's G_MASTER column (composite key) */
    G_PARENT,   /* a smaller key of this table; NULL for the first tenth (roots) */
    G_PERSON,   /* a person's name, any script */
    G_WORDS,    /* lo..hi words */
    G_SENTENCE, /* a description of lo..hi words */
    G_UNIQUE,   /* arg-N: unique text */
    G_EMAIL,
    G_URL,
    G_JSON,
    G_TS,       /* 'YYYY-MM-DD HH:MM:SS.fff' text (no trailing zeros), in TIMESTAMP columns */
    G_ISO,      /* 'YYYY-MM-DD HH:MM:SS' text, in DATETIME columns */
    G_DATE,     /* 'YYYY-MM-DD' */
    G_BOOL,     /* 0 or 1 */
    G_AMOUNT,   /* lo..hi in cents, as a REAL */
    G_INT,      /* lo..hi */
    G_PICK,     /* one of the '|'-separated words of arg */
    G_BLOB,     /* lo..hi random bytes */
    G_UNICODE,  /* words of many scripts, emoji included */
} gen_t;

/* Column flags: primary key (in column order), NOT NULL, UNIQUE, and for a
 * reference ON DELETE CASCADE (the detail of a master: an include). */
enum { PK = 1, NN = 2, UQ = 4, CASCADE = 8 };

/* A G_REF or G_MASTER column is a foreign key to table arg, a G_PARENT one to
 * its own table; either refers to that table's primary key. */
typedef struct col {
    const char *name;
    const char *type; /* declared type, SQLite's spelling */
    gen_t gen;
    unsigned flags;
    const char *dflt; /* the default, a SQLite literal, or NULL */
    const char *arg;
    int lo, hi;
    int null_pct; /* percent of rows holding NULL */
} col_t;

#define MAX_COLS 12

typedef struct table {
    const char *name;
    unsigned share;       /* of the row total, out of share_total() */
    col_t cols[MAX_COLS]; /* up to the first with a NULL name */
} table_t;

/* Columns name only what differs from zero (no arg, no range, never NULL). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* Masters before details. Foreign keys of preset objects are those of
 * tests/unit/data/preset_schema.sql (sub-object -> master ON DELETE CASCADE,
 * associations plain); the custom objects follow the product's __CST naming. */
static const table_t tables[] = {
    {"User", 30,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"name", "TEXT", G_PERSON, .flags = NN},
      {"email", "VARCHAR(120)", G_EMAIL, .null_pct = 5},
      {"locale", "VARCHAR(10)", G_PICK, .arg = "en_US|de_DE|fr_FR|ja_JP|zh_CN|ar_EG|pt_BR"},
      {"active", "BOOLEAN", G_BOOL, .flags = NN, .dflt = "1"},
      {"created_at", "TIMESTAMP", G_TS},
      {"last_login", "DATETIME", G_ISO, .null_pct = 20}}},
    {"Application", 5,
     {{"id", "TEXT", G_CODE, .flags = PK, .arg = "app"},
      {"name", "TEXT", G_WORDS, .flags = NN, .lo = 1, .hi = 2},
      {"label", "VARCHAR(80)", G_UNICODE, .lo = 1, .hi = 3},
      {"version", "VARCHAR(20)", G_PICK, .arg = "1.0.0|1.2.3|2.0.0-beta|3.1.4"},
      {"icon", "BLOB", G_BLOB, .lo = 16, .hi = 96, .null_pct = 30},
      {"installed_on", "DATE", G_DATE}}},
    {"Process", 5,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"name", "TEXT", G_UNIQUE, .flags = NN, .arg = "process"},
      {"label", "VARCHAR(80)", G_WORDS, .lo = 2, .hi = 4},
      {"description", "TEXT", G_SENTENCE, .lo = 6, .hi = 14, .null_pct = 15},
      {"active", "BOOLEAN", G_BOOL, .flags = NN, .dflt = "1"},
      {"definition", "TEXT", G_JSON},
      {"created_at", "TIMESTAMP", G_TS},
      {"updated_at", "DATETIME", G_ISO}}},
    {"ProcessDecision", 10,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"process_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "Process"},
      {"label", "TEXT", G_WORDS, .lo = 1, .hi = 3},
      {"outcome", "VARCHAR(20)", G_PICK, .arg = "approve|reject|escalate|wait"},
      {"sort_order", "INTEGER", G_INT, .lo = 1, .hi = 20}}},
    {"ProcessCondition", 10,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"process_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "Process"},
      {"expression", "TEXT",
       G_PICK,
        .arg = "amount > 1000|status = 'open'|owner IS NULL|priority >= 3|region IN ('EU','US')"},
      {"priority", "INTEGER", G_INT, .lo = 1, .hi = 5}}},
    {"ProcessActionCall", 20,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"decision_id", "INTEGER",
       G_REF, .flags = CASCADE, .arg = "ProcessDecision", .null_pct = 30},
      {"condition_id", "INTEGER",
       G_REF, .flags = CASCADE, .arg = "ProcessCondition", .null_pct = 30},
      {"action", "TEXT", G_PICK, .arg = "send_email|update_field|create_task|call_webhook|assign"},
      {"parameters", "TEXT", G_JSON, .null_pct = 10},
      {"timeout_ms", "INTEGER", G_INT, .lo = 100, .hi = 60000}}},
    {"ProcessActionCondition", 15,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"call_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "ProcessActionCall"},
      {"expression", "TEXT", G_SENTENCE, .lo = 3, .hi = 6},
      {"negate", "BOOLEAN", G_BOOL}}},
    {"ProcessActionInput", 25,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"call_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "ProcessActionCall"},
      {"name", "TEXT", G_PICK, .flags = NN, .arg = "recipient|subject|field|value|url|assignee"},
      {"value", "TEXT", G_UNICODE, .lo = 1, .hi = 3, .null_pct = 10},
      {"data_type", "VARCHAR(20)", G_PICK, .arg = "text|number|date|boolean|reference"}}},
    {"ApprovalProcess", 5,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"name", "TEXT", G_UNIQUE, .flags = NN, .arg = "approval"},
      {"label", "VARCHAR(80)", G_WORDS, .lo = 2, .hi = 4},
      {"description", "TEXT", G_SENTENCE, .lo = 8, .hi = 16, .null_pct = 20},
      {"entry_criteria", "TEXT", G_JSON},
      {"active", "BOOLEAN", G_BOOL, .flags = NN, .dflt = "1"},
      {"created_at", "TIMESTAMP", G_TS}}},
    {"ApprovalProcessAction", 10,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"approval_process_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "ApprovalProcess"},
      {"action", "TEXT", G_PICK, .arg = "notify_owner|update_status|send_email|post_chatter"},
      {"kind", "VARCHAR(20)", G_PICK, .arg = "approve|reject|recall|submit"}}},
    {"ApprovalProcessLockAction", 5,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"approval_process_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "ApprovalProcess"},
      {"action", "TEXT", G_PICK, .arg = "lock|unlock|lock_admin_only"},
      {"lock_record", "BOOLEAN", G_BOOL}}},
    {"ApprovalStep", 10,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"approval_process_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "ApprovalProcess"},
      {"step_no", "INTEGER", G_INT, .flags = NN, .lo = 1, .hi = 9},
      {"name", "TEXT", G_WORDS, .lo = 1, .hi = 3},
      {"criteria", "TEXT", G_JSON, .null_pct = 40}}},
    {"ApprovalStepAction", 15,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"step_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "ApprovalStep"},
      {"action", "TEXT", G_PICK, .arg = "approve|reject|reassign|comment"},
      {"due_date", "DATE", G_DATE, .null_pct = 25}}},
    {"ApprovalMember", 20,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"step_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "ApprovalStep"},
      {"user_id", "INTEGER", G_REF, .arg = "User", .null_pct = 5},
      {"member_type", "VARCHAR(20)", G_PICK, .arg = "user|manager|queue|role"},
      {"added_at", "DATETIME", G_ISO}}},
    {"Role", 5,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"name", "TEXT", G_UNIQUE, .flags = NN | UQ, .arg = "role"},
      {"label", "VARCHAR(80)", G_UNICODE, .lo = 1, .hi = 2},
      {"description", "TEXT", G_SENTENCE, .lo = 4, .hi = 10, .null_pct = 30},
      {"permissions", "TEXT", G_JSON}}},
    {"PublicGroup", 10,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"name", "TEXT", G_WORDS, .flags = NN, .lo = 1, .hi = 3},
      {"role_id", "INTEGER", G_REF, .arg = "Role", .null_pct = 10},
      {"email", "VARCHAR(120)", G_EMAIL, .null_pct = 40},
      {"created_at", "TIMESTAMP", G_TS}}},
    {"Queue", 5,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"name", "TEXT", G_UNIQUE, .flags = NN, .arg = "queue"},
      {"owner_group_id", "INTEGER",
       G_REF, .arg = "PublicGroup", .null_pct = 10},
      {"label", "VARCHAR(80)", G_UNICODE, .lo = 1, .hi = 3},
      {"object_types", "TEXT", G_PICK, .arg = "Case|Lead|Case,Lead|Order__CST|Customer__CST"},
      {"sla_minutes", "INTEGER", G_INT, .lo = 15, .hi = 10080, .null_pct = 20},
      {"created_at", "TIMESTAMP", G_TS}}},
    {"QueueObject", 15,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"queue_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "Queue"},
      {"object_name", "TEXT", G_PICK, .flags = NN, .arg = "Case|Lead|Opportunity|Order__CST|Task"},
      {"priority", "INTEGER", G_INT, .lo = 1, .hi = 5}}},
    {"GroupMember", 80,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"queue_id", "INTEGER",
       G_REF, .flags = CASCADE, .arg = "Queue", .null_pct = 50},
      {"group_id", "INTEGER",
       G_REF, .flags = CASCADE, .arg = "PublicGroup", .null_pct = 20},
      {"role_id", "INTEGER", G_REF, .arg = "Role", .null_pct = 30},
      {"user_id", "INTEGER", G_REF, .arg = "User"},
      {"joined_on", "DATE", G_DATE},
      {"is_admin", "BOOLEAN", G_BOOL}}},
    {"Profile", 5,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"name", "TEXT", G_UNIQUE, .flags = NN, .arg = "profile"},
      {"label", "VARCHAR(80)", G_UNICODE, .lo = 1, .hi = 3},
      {"description", "TEXT", G_SENTENCE, .lo = 5, .hi = 12, .null_pct = 20},
      {"settings", "TEXT", G_JSON},
      {"created_at", "TIMESTAMP", G_TS}}},
    {"ProfileAppVisibility", 20,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"profile_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "Profile"},
      {"application_id", "TEXT", G_REF, .flags = NN, .arg = "Application"},
      {"visible", "BOOLEAN", G_BOOL, .flags = NN, .dflt = "1"},
      {"is_default", "BOOLEAN", G_BOOL}}},
    {"Connector", 3,
     {{"id", "TEXT", G_CODE, .flags = PK, .arg = "conn"},
      {"name", "TEXT", G_WORDS, .flags = NN, .lo = 1, .hi = 3},
      {"endpoint", "TEXT", G_URL},
      {"auth_type", "VARCHAR(20)", G_PICK, .arg = "oauth2|basic|api_key|none"},
      {"config", "TEXT", G_JSON},
      {"timeout_ms", "INTEGER", G_INT, .lo = 1000, .hi = 120000},
      {"last_sync", "DATETIME", G_ISO, .null_pct = 30}}},
    {"EmailTemplate", 5,
     {{"id", "TEXT", G_CODE, .flags = PK, .arg = "tmpl"},
      {"name", "TEXT", G_WORDS, .flags = NN, .lo = 2, .hi = 4},
      {"subject", "TEXT", G_UNICODE, .lo = 2, .hi = 5},
      {"body", "TEXT", G_SENTENCE, .lo = 15, .hi = 40},
      {"locale", "VARCHAR(10)", G_PICK, .arg = "en_US|de_DE|fr_FR|ja_JP|zh_CN"},
      {"updated_at", "TIMESTAMP", G_TS}}},
    {"EmailResource", 10,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"template_id", "TEXT",
       G_MASTER, .flags = NN | CASCADE, .arg = "EmailTemplate"},
      {"file_name", "TEXT", G_PICK, .arg = "logo.png|banner.jpg|terms.pdf|footer.html|宣传.png"},
      {"mime_type", "VARCHAR(40)", G_PICK, .arg = "image/png|image/jpeg|application/pdf|text/html"},
      {"content", "BLOB", G_BLOB, .lo = 32, .hi = 160, .null_pct = 10},
      {"size_bytes", "INTEGER", G_INT, .lo = 32, .hi = 160}}},
    {"Picklist", 10,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"name", "TEXT", G_UNIQUE, .flags = NN, .arg = "picklist"},
      {"label", "VARCHAR(80)", G_WORDS, .lo = 1, .hi = 3},
      {"description", "TEXT", G_SENTENCE, .lo = 4, .hi = 10, .null_pct = 40},
      {"sorted", "BOOLEAN", G_BOOL}}},
    {"PicklistValue", 80,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"picklist_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "Picklist"},
      {"value", "TEXT", G_WORDS, .flags = NN, .lo = 1, .hi = 2},
      {"label", "TEXT", G_UNICODE, .lo = 1, .hi = 2},
      {"position", "INTEGER", G_INT, .lo = 1, .hi = 100},
      {"is_default", "BOOLEAN", G_BOOL},
      {"help_text", "TEXT", G_SENTENCE, .lo = 3, .hi = 10, .null_pct = 50},
      {"color", "VARCHAR(7)", G_PICK, .arg = "#ff0000|#00aa00|#0000ff|#ffaa00", .null_pct = 50}}},
    {"CustomResource", 5,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"name", "TEXT", G_UNIQUE, .flags = NN, .arg = "resource"},
      {"label", "VARCHAR(80)", G_WORDS, .lo = 1, .hi = 3},
      {"locale", "VARCHAR(10)", G_PICK, .arg = "en_US|de_DE|fr_FR|ja_JP|zh_CN|ar_EG"},
      {"description", "TEXT", G_SENTENCE, .lo = 4, .hi = 10, .null_pct = 30}}},
    {"CustomResourceValue", 30,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"resource_id", "INTEGER",
       G_MASTER, .flags = NN | CASCADE, .arg = "CustomResource"},
      {"locale", "VARCHAR(10)", G_PICK, .arg = "en_US|de_DE|fr_FR|ja_JP|zh_CN|ar_EG"},
      {"value", "TEXT", G_UNICODE, .lo = 1, .hi = 6}}},
    {"Customer__CST", 60,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"name", "TEXT", G_PERSON, .flags = NN},
      {"email", "VARCHAR(120)", G_EMAIL, .null_pct = 10},
      {"phone", "VARCHAR(30)",
       G_PICK, .arg = "+1 555 0100|+49 30 123456|+81 3-1234-5678|+33 1 23 45", .null_pct = 30},
      {"country", "VARCHAR(2)", G_PICK, .arg = "US|DE|FR|JP|CN|BR|EG|IN"},
      {"tier", "VARCHAR(10)", G_PICK, .arg = "gold|silver|bronze"},
      {"credit_limit", "REAL", G_AMOUNT, .hi = 50000, .null_pct = 20},
      {"notes", "TEXT", G_UNICODE, .lo = 2, .hi = 8, .null_pct = 50},
      {"created_at", "TIMESTAMP", G_TS},
      {"birthday", "DATE", G_DATE, .null_pct = 60}}},
    {"Order__CST", 110,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"customer_id", "INTEGER",
       G_REF, .flags = NN, .arg = "Customer__CST"},
      {"order_no", "VARCHAR(20)", G_UNIQUE, .flags = NN | UQ, .arg = "SO"},
      {"status", "VARCHAR(12)", G_PICK, .arg = "draft|placed|paid|shipped|cancelled"},
      {"ordered_at", "DATETIME", G_ISO},
      {"total", "REAL", G_AMOUNT, .lo = 1, .hi = 20000},
      {"paid", "BOOLEAN", G_BOOL},
      {"shipping_address", "TEXT", G_SENTENCE, .lo = 4, .hi = 8, .null_pct = 15}}},
    {"Category__CST", 10,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"parent_id", "INTEGER", G_PARENT},
      {"name", "TEXT", G_WORDS, .flags = NN, .lo = 1, .hi = 2},
      {"slug", "TEXT", G_UNIQUE, .arg = "cat"},
      {"label", "TEXT", G_UNICODE, .lo = 1, .hi = 2, .null_pct = 20}}},
    {"OrderLine__CST", 312,
     {{"order_id", "INTEGER",
       G_MASTER, .flags = PK | NN | CASCADE, .arg = "Order__CST"},
      {"line_no", "INTEGER", G_LINE, .flags = PK | NN},
      {"product", "TEXT", G_WORDS, .flags = NN, .lo = 1, .hi = 3},
      {"category_id", "INTEGER",
       G_REF, .arg = "Category__CST", .null_pct = 10},
      {"quantity", "INTEGER", G_INT, .flags = NN, .dflt = "1", .lo = 1, .hi = 12},
      {"unit_price", "REAL", G_AMOUNT, .lo = 1, .hi = 900},
      {"discount", "REAL", G_INT, .hi = 30, .null_pct = 60},
      {"attributes", "TEXT", G_JSON, .null_pct = 40}}},
    {"Order Note__CST", 40,
     {{"id", "INTEGER", G_ID, .flags = PK},
      {"order_id", "INTEGER",
       G_REF, .flags = CASCADE, .arg = "Order__CST"},
      {"group", "TEXT", G_PICK, .arg = "sales|support|billing|logistics"},
      {"order", "INTEGER", G_INT, .lo = 1, .hi = 10},
      {"note", "TEXT", G_UNICODE, .lo = 3, .hi = 12},
      {"created_at", "TIMESTAMP", G_TS}}},
};

#pragma GCC diagnostic pop

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

static const char *const latin_words[] = {
    "account", "alpha", "review", "quarterly", "north", "service", "priority", "green",
    "invoice", "market", "delta", "support", "rapid", "global", "silver", "partner",
    "region", "contract", "summer", "launch", "premium", "basic", "digital", "field",
    "escalation", "renewal", "pilot", "standard", "office", "express", "cloud", "retail",
};
static const char *const unicode_words[] = {
    "café", "naïve", "Straße", "Łódź", "smörgåsbord", "Ελλάδα", "Москва", "東京", "서울",
    "القاهرة", "मुंबई", "שלום", "ไทย", "😀", "🚀", "✅", "Ærø", "Zoë", "señal", "北京",
};
static const char *const first_names[] = {
    "Alice", "José", "Åsa", "Øystein", "Chloé", "Иван", "美咲", "Mohammed", "Ngozi",
    "Priya", "Li", "Sven", "Zoë", "Mateo", "Fatima", "Hiroshi", "Olga", "Kwame",
};
static const char *const last_names[] = {
    "Smith", "García", "Müller", "Dubois", "Петров", "山田", "Kowalski", "O'Brien",
    "Nguyễn", "Kim", "Rossi", "Silva", "Χατζής", "Okafor", "Jensen", "Cohen",
};

#define NWORDS(a) (sizeof(a) / sizeof((a)[0]))

static const int64_t ts_base = INT64_C(1546300800000); /* 2019-01-01T00:00:00Z */
static const int64_t ts_span = INT64_C(6) * 365 * 86400 * 1000;

/* splitmix64: tiny, good enough, and the same everywhere. */
static uint64_t next_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t rand_range(uint64_t *state, int64_t lo, int64_t hi)
{
    return hi <= lo ? lo : lo + (int64_t)(next_rand(state) % (uint64_t)(hi - lo + 1));
}

static const char *pick(uint64_t *state, const char *const *list, size_t n)
{
    return list[next_rand(state) % n];
}

/* Appends to a column buffer, never past its end. */
typedef struct text {
    char *p;
    size_t len, cap;
} text_t;

static void put(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_t *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->len + 1 >= t->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}

/* put(t, "%.*s", n, s) without the formatting: the common case, and a hot one. */
static void append(text_t *t, const char *s, size_t n)
{
    if (t->len + n >= t->cap)
        n = t->cap > t->len + 1 ? t->cap - t->len - 1 : 0;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

/* Per-table state while seeding. */
typedef struct run {
    int64_t rows[NTABLES];
    ferry_store_t *store;
} run_t;

static size_t table_index(const char *name)
{
    for (size_t i = 0; i < NTABLES; i++)
        if (!strcmp(tables[i].name, name))
            return i;
    return 0; /* the table above is static and checked by the tests */
}

/* The master table of t's G_MASTER column (a G_LINE table has one). */
static const char *master_of(size_t t)
{
    for (const col_t *c = tables[t].cols; c < tables[t].cols + MAX_COLS && c->name; c++)
        if (c->gen == G_MASTER)
            return c->arg;
    return tables[t].name;
}

static void int_value(ferry_value_t *v, int64_t i)
{
    *v = (ferry_value_t){.kind = FERRY_V_INT, .i = i};
}

static void text_value(ferry_value_t *v, const text_t *buf)
{
    *v = (ferry_value_t){.kind = FERRY_V_TEXT, .p = buf->p, .n = buf->len};
}

/* The key of row k (1-based) of table t. */
static void key_value(ferry_value_t *v, size_t t, int64_t k, text_t *buf)
{
    if (tables[t].cols[0].gen == G_CODE) {
        put(buf, "%s-%06" PRId64, tables[t].cols[0].arg, k);
        text_value(v, buf);
    } else {
        int_value(v, k);
    }
}

static void put_words(text_t *buf, uint64_t *rng, int lo, int hi, const char *const *list,
                      size_t n)
{
    int64_t words = rand_range(rng, lo, hi);
    for (int64_t w = 0; w < words; w++) {
        const char *word = pick(rng, list, n);
        if (w)
            append(buf, " ", 1);
        append(buf, word, strlen(word));
    }
}

/* 'YYYY-MM-DD' in UTC; with_time > 0 adds ' HH:MM:SS', with_time > 1 the
 * milliseconds too ('.fff' without trailing zeros, none when zero). This is
 * SQLite's datetime() form and PostgreSQL's text of a timestamp: the same
 * text in a SQLite store and read back from a PostgreSQL one. */
static void put_time(text_t *buf, int64_t ms, int with_time)
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000), digits = 3;
    struct tm tm;

    gmtime_r(&secs, &tm);
    put(buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (with_time)
        put(buf, " %02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (with_time < 2 || !frac)
        return;
    for (; frac % 10 == 0; frac /= 10)
        digits--;
    put(buf, ".%0*d", digits, frac);
}

/* The table column c of table t draws its keys from: the referenced one
 * (G_REF, G_MASTER), the master (G_LINE), else t. */
static size_t key_source(size_t t, const col_t *c)
{
    if (c->gen == G_REF || c->gen == G_MASTER)
        return table_index(c->arg);
    return c->gen == G_LINE ? table_index(master_of(t)) : t;
}

/* Sets *v to column c of row r (0-based) of table t, whose keys come from
 * table p (key_source); text and blob values point into buf. */
static void column_value(const run_t *run, size_t t, const col_t *c, size_t p, int64_t r,
                         uint64_t *rng, text_t *buf, ferry_value_t *v)
{
    int64_t per;

    buf->len = 0;
    buf->p[0] = '\0';
    if (c->null_pct && rand_range(rng, 1, 100) <= c->null_pct) {
        *v = (ferry_value_t){.kind = FERRY_V_NULL};
        return;
    }
    switch (c->gen) {
    case G_ID:
        int_value(v, r + 1);
        return;
    case G_CODE:
        key_value(v, t, r + 1, buf);
        return;
    case G_REF:
        key_value(v, p, rand_range(rng, 1, run->rows[p]), buf);
        return;
    case G_MASTER:
    case G_LINE:
        per = (run->rows[t] + run->rows[p] - 1) / run->rows[p];
        if (c->gen == G_LINE)
            int_value(v, r % per + 1);
        else
            key_value(v, p, r / per + 1, buf);
        return;
    case G_PARENT:
        if (r < run->rows[t] / 10 + 1)
            *v = (ferry_value_t){.kind = FERRY_V_NULL};
        else
            int_value(v, rand_range(rng, 1, r));
        return;
    case G_INT:
        int_value(v, rand_range(rng, c->lo, c->hi));
        return;
    case G_BOOL:
        int_value(v, (int64_t)(next_rand(rng) & 1));
        return;
    case G_AMOUNT:
        *v = (ferry_value_t){
            .kind = FERRY_V_REAL,
            .d = (double)rand_range(rng, (int64_t)c->lo * 100, (int64_t)c->hi * 100) / 100.0};
        return;
    case G_BLOB: {
        int64_t n = rand_range(rng, c->lo, c->hi);
        for (int64_t i = 0; i < n && i < (int64_t)buf->cap; i++)
            buf->p[i] = (char)(next_rand(rng) & 0xff);
        *v = (ferry_value_t){.kind = FERRY_V_BLOB, .p = buf->p, .n = (size_t)n};
        return;
    }
    case G_PERSON:
        put(buf, "%s %s", pick(rng, first_names, NWORDS(first_names)),
            pick(rng, last_names, NWORDS(last_names)));
        break;
    case G_WORDS:
        put_words(buf, rng, c->lo, c->hi, latin_words, NWORDS(latin_words));
        break;
    case G_UNICODE:
        put_words(buf, rng, c->lo, c->hi, unicode_words, NWORDS(unicode_words));
        break;
    case G_SENTENCE:
        put_words(buf, rng, c->lo, c->hi, latin_words, NWORDS(latin_words));
        put(buf, "%s.", next_rand(rng) % 4 ? "" : " ✓");
        buf->p[0] = (char)(buf->p[0] >= 'a' && buf->p[0] <= 'z' ? buf->p[0] - 32 : buf->p[0]);
        break;
    case G_UNIQUE:
        put(buf, "%s-%" PRId64, c->arg, r + 1);
        break;
    case G_EMAIL:
        put(buf, "%s.%" PRId64 "@example.%s", pick(rng, latin_words, NWORDS(latin_words)), r + 1,
            next_rand(rng) % 3 ? "com" : "org");
        break;
    case G_URL:
        put(buf, "https://%s.example.com/api/v%d/%s",
            pick(rng, latin_words, NWORDS(latin_words)), (int)rand_range(rng, 1, 3),
            pick(rng, latin_words, NWORDS(latin_words)));
        break;
    case G_JSON:
        put(buf, "{\"priority\":%d,\"color\":\"%s\",\"tags\":[\"%s\",\"%s\"],\"enabled\":%s}",
            (int)rand_range(rng, 1, 5), pick(rng, latin_words, NWORDS(latin_words)),
            pick(rng, latin_words, NWORDS(latin_words)),
            pick(rng, unicode_words, NWORDS(unicode_words)), next_rand(rng) & 1 ? "true" : "false");
        break;
    case G_TS:
    case G_ISO:
        put_time(buf, ts_base + rand_range(rng, 0, ts_span), c->gen == G_TS ? 2 : 1);
        break;
    case G_DATE:
        put_time(buf, ts_base + rand_range(rng, 0, ts_span), 0);
        break;
    case G_PICK: {
        /* The k-th of the '|'-separated choices. */
        const char *s = c->arg, *end;
        size_t n = 1;
        for (const char *q = s; *q; q++)
            n += *q == '|';
        for (uint64_t k = next_rand(rng) % n; k; k--)
            s = strchr(s, '|') + 1;
        end = strchr(s, '|');
        append(buf, s, end ? (size_t)(end - s) : strlen(s));
        break;
    }
    }
    text_value(v, buf);
}

/* Adds table t's metadata to set (SQLite's dialect, whatever the store:
 * the store maps the declared types onto its own). */
static int table_object(ferry_objset_t *set, size_t t, const ferry_object_t **out)
{
    const table_t *tb = &tables[t];
    ferry_object_t *obj = ferry_objset_add(set, tb->name);
    int pk = 0;

    if (!obj)
        return FERRY_ENOMEM;
    for (const col_t *c = tb->cols; c < tb->cols + MAX_COLS && c->name; c++) {
        const char *target, *to;
        int cascade = (c->flags & CASCADE) != 0;

        if (ferry_object_add_field(obj, c->name, c->type, !(c->flags & NN), c->dflt,
                                   c->flags & PK ? ++pk : 0) ||
            ((c->flags & UQ) && ferry_object_add_unique(obj, &c->name, 1)))
            return FERRY_ENOMEM;
        if (c->gen != G_REF && c->gen != G_MASTER && c->gen != G_PARENT)
            continue;
        target = c->gen == G_PARENT ? tb->name : c->arg;
        to = tables[table_index(target)].cols[0].name; /* its key */
        if (ferry_object_add_relation(obj, target, &c->name, &to, 1,
                                      cascade ? FERRY_REL_INCLUDE : FERRY_REL_ASSOCIATION,
                                      cascade ? "CASCADE" : NULL))
            return FERRY_ENOMEM;
    }
    *out = obj;
    return FERRY_OK;
}

/* Creates table t and writes its rows. */
static int seed_table(run_t *run, size_t t, uint64_t seed, char *errstr, size_t errstr_size)
{
    const table_t *tb = &tables[t];
    char bufs[MAX_COLS][1024];
    ferry_value_t row[MAX_COLS];
    size_t source[MAX_COLS];
    ferry_objset_t *set = ferry_objset_new();
    const ferry_object_t *obj = NULL;
    ferry_writer_t *w = NULL;
    uint64_t rng = seed;
    int rc;

    for (const char *p = tb->name; *p; p++) /* a per-table stream */
        rng = (rng ^ (unsigned char)*p) * 0x100000001b3ULL;
    if (!set || table_object(set, t, &obj)) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "seeding table %s: out of memory",
                        tb->name);
        goto out;
    }
    if ((rc = ferry_store_apply_object(run->store, obj, NULL, errstr, errstr_size)) ||
        (rc = ferry_store_writer_open(run->store, obj, &w, errstr, errstr_size)))
        goto out;
    for (size_t i = 0; i < obj->nfields; i++)
        source[i] = key_source(t, &tb->cols[i]);
    for (int64_t r = 0; r < run->rows[t] && !rc; r++) {
        for (size_t i = 0; i < obj->nfields; i++) {
            text_t buf = {bufs[i], 0, sizeof(bufs[i])};
            column_value(run, t, &tb->cols[i], source[i], r, &rng, &buf, &row[i]);
        }
        rc = ferry_writer_put(w, row, NULL, errstr, errstr_size);
    }
    if (!rc)
        rc = ferry_writer_flush(w, NULL, errstr, errstr_size);
out:
    ferry_writer_destroy(w);
    ferry_objset_destroy(set);
    return rc;
}

/* Removes path and the files SQLite keeps beside it; 0 or errno. */
static int remove_db(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char name[4096];

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(name, sizeof(name), "%s%s", path, suffixes[i]);
        if (unlink(name) && errno != ENOENT)
            return errno;
    }
    return 0;
}

/* A store that already holds tables is not seeded over: *count of them. */
static int count_objects(ferry_store_t *store, size_t *count, char *errstr, size_t errstr_size)
{
    ferry_objset_t *objs;
    int rc = ferry_store_read_meta(store, &objs, errstr, errstr_size);

    if (!rc)
        *count = ferry_objset_count(objs);
    ferry_objset_destroy(objs);
    return rc;
}

int ferry_seed_create(const char *where, const char *schema, int64_t rows, uint64_t seed,
                      int force, int64_t *written, char *errstr, size_t errstr_size)
{
    run_t run = {{0}, NULL};
    const char *path = NULL; /* a SQLite store's file */
    char *uri = NULL;
    struct stat sb;
    int64_t total = 0;
    size_t held = 0;
    int rc = FERRY_OK, began = 0, created = 0;

    if (written)
        *written = 0;
    if (!strstr(where, "://"))
        path = strncmp(where, "sqlite:", 7) ? where : where + 7;
    if ((path && !*path) || rows < 0)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "seed: a store and rows >= 0 are needed");
    if (path && schema) /* before --force removes anything */
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "seed: a SQLite file has no schemas (schema \"%s\")", schema);
    if (path) {
        if (!stat(path, &sb) && !force)
            return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                              "seed: %s exists (--force replaces it)", path);
        if (force && (rc = remove_db(path)))
            return ferry_errf(errstr, errstr_size, FERRY_EIO, "seed: cannot remove %s: %s",
                              path, strerror(rc));
        if (!(uri = malloc(strlen(path) + 8)))
            return ferry_errf(errstr, errstr_size, FERRY_ENOMEM, "seed: out of memory");
        sprintf(uri, "sqlite:%s", path);
    }
    for (size_t t = 0; t < NTABLES; t++) {
        run.rows[t] = rows / (int64_t)ferry_seed_share_total() * tables[t].share +
                      rows % (int64_t)ferry_seed_share_total() * tables[t].share /
                          (int64_t)ferry_seed_share_total();
        if (run.rows[t] < 1)
            run.rows[t] = 1;
        total += run.rows[t];
    }
    rc = ferry_store_open_schema(uri ? uri : where, schema, FERRY_STORE_WRITE, &run.store, errstr,
                                errstr_size);
    created = path && !rc;
    if (!rc && !path && !(rc = count_objects(run.store, &held, errstr, errstr_size)) && held)
        rc = ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                        "seed: the store already holds %zu table%s (seed needs an empty one; "
                        "--force replaces SQLite files only)",
                        held, held == 1 ? "" : "s");
    if (!rc && !(rc = ferry_store_begin(run.store, errstr, errstr_size)))
        began = 1;
    for (size_t t = 0; t < NTABLES && !rc; t++)
        rc = seed_table(&run, t, seed, errstr, errstr_size);
    if (!rc)
        rc = ferry_store_commit(run.store, errstr, errstr_size);
    if (rc && began)
        ferry_store_rollback(run.store);
    ferry_store_destroy(run.store);
    if (rc && created)
        remove_db(path);
    else if (!rc && written)
        *written = total;
    free(uri);
    return rc;
}

size_t ferry_seed_table_count(void)
{
    return NTABLES;
}

const char *ferry_seed_table_name(size_t i)
{
    return i < NTABLES ? tables[i].name : NULL;
}

unsigned ferry_seed_table_share(size_t i)
{
    return i < NTABLES ? tables[i].share : 0;
}

unsigned ferry_seed_share_total(void)
{
    unsigned total = 0;
    for (size_t i = 0; i < NTABLES; i++)
        total += tables[i].share;
    return total;
}
