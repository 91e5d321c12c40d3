/* seed.c - the sample source environment (seed.h).
 *
 * Each table is described once, below: its columns with their declared types
 * (foreign keys inline) and a generator per column. The DDL and the INSERT are
 * built from that description; table and column names are constants of this
 * file without double quotes, so quoting them is a format string. Each table
 * draws from its own random stream (splitmix64 seeded from the seed and the
 * table's name), so a table's content depends only on (rows, seed).
 *
 * Seeding is one transaction with the journal and syncing off, foreign keys
 * unchecked while writing (masters come first anyway), one prepared INSERT per
 * table, values bound from per-column buffers reused for every row. */
#include "seed.h"

#include "error.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
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
    G_TS,       /* ms since the epoch, INTEGER, in TIMESTAMP columns */
    G_ISO,      /* 'YYYY-MM-DDTHH:MM:SSZ' text, in DATETIME columns */
    G_DATE,     /* 'YYYY-MM-DD' */
    G_BOOL,     /* 0 or 1 */
    G_AMOUNT,   /* lo..hi with 2 decimals, REAL */
    G_INT,      /* lo..hi */
    G_PICK,     /* one of the '|'-separated words of arg */
    G_BLOB,     /* lo..hi random bytes */
    G_UNICODE,  /* words of many scripts, emoji included */
} gen_t;

typedef struct col {
    const char *name, *decl;
    gen_t gen;
    const char *arg;
    int lo, hi;
    int null_pct; /* percent of rows holding NULL */
} col_t;

#define MAX_COLS 12

typedef struct table {
    const char *name;
    unsigned share;       /* of the row total, out of share_total() */
    const char *extra;    /* table constraints, or NULL */
    col_t cols[MAX_COLS]; /* up to the first with a NULL name */
} table_t;

/* Columns name only what differs from zero (no arg, no range, never NULL). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* Masters before details. Foreign keys of preset objects are those of
 * tests/unit/data/preset_schema.sql (sub-object -> master ON DELETE CASCADE,
 * associations plain); the custom objects follow the product's __CST naming. */
static const table_t tables[] = {
    {"User", 30, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"name", "TEXT NOT NULL", G_PERSON},
      {"email", "VARCHAR(120)", G_EMAIL, .null_pct = 5},
      {"locale", "VARCHAR(10)", G_PICK, .arg = "en_US|de_DE|fr_FR|ja_JP|zh_CN|ar_EG|pt_BR"},
      {"active", "BOOLEAN NOT NULL DEFAULT 1", G_BOOL},
      {"created_at", "TIMESTAMP", G_TS},
      {"last_login", "DATETIME", G_ISO, .null_pct = 20}}},
    {"Application", 5, NULL,
     {{"id", "TEXT PRIMARY KEY", G_CODE, .arg = "app"},
      {"name", "TEXT NOT NULL", G_WORDS, .lo = 1, .hi = 2},
      {"label", "VARCHAR(80)", G_UNICODE, .lo = 1, .hi = 3},
      {"version", "VARCHAR(20)", G_PICK, .arg = "1.0.0|1.2.3|2.0.0-beta|3.1.4"},
      {"icon", "BLOB", G_BLOB, .lo = 16, .hi = 96, .null_pct = 30},
      {"installed_on", "DATE", G_DATE}}},
    {"Process", 5, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"name", "TEXT NOT NULL", G_UNIQUE, .arg = "process"},
      {"label", "VARCHAR(80)", G_WORDS, .lo = 2, .hi = 4},
      {"description", "TEXT", G_SENTENCE, .lo = 6, .hi = 14, .null_pct = 15},
      {"active", "BOOLEAN NOT NULL DEFAULT 1", G_BOOL},
      {"definition", "TEXT", G_JSON},
      {"created_at", "TIMESTAMP", G_TS},
      {"updated_at", "DATETIME", G_ISO}}},
    {"ProcessDecision", 10, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"process_id", "INTEGER NOT NULL REFERENCES Process(id) ON DELETE CASCADE",
       G_MASTER, .arg = "Process"},
      {"label", "TEXT", G_WORDS, .lo = 1, .hi = 3},
      {"outcome", "VARCHAR(20)", G_PICK, .arg = "approve|reject|escalate|wait"},
      {"sort_order", "INTEGER", G_INT, .lo = 1, .hi = 20}}},
    {"ProcessCondition", 10, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"process_id", "INTEGER NOT NULL REFERENCES Process(id) ON DELETE CASCADE",
       G_MASTER, .arg = "Process"},
      {"expression", "TEXT",
       G_PICK,
        .arg = "amount > 1000|status = 'open'|owner IS NULL|priority >= 3|region IN ('EU','US')"},
      {"priority", "INTEGER", G_INT, .lo = 1, .hi = 5}}},
    {"ProcessActionCall", 20, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"decision_id", "INTEGER REFERENCES ProcessDecision(id) ON DELETE CASCADE",
       G_REF, .arg = "ProcessDecision", .null_pct = 30},
      {"condition_id", "INTEGER REFERENCES ProcessCondition(id) ON DELETE CASCADE",
       G_REF, .arg = "ProcessCondition", .null_pct = 30},
      {"action", "TEXT", G_PICK, .arg = "send_email|update_field|create_task|call_webhook|assign"},
      {"parameters", "TEXT", G_JSON, .null_pct = 10},
      {"timeout_ms", "INTEGER", G_INT, .lo = 100, .hi = 60000}}},
    {"ProcessActionCondition", 15, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"call_id", "INTEGER NOT NULL REFERENCES ProcessActionCall(id) ON DELETE CASCADE",
       G_MASTER, .arg = "ProcessActionCall"},
      {"expression", "TEXT", G_SENTENCE, .lo = 3, .hi = 6},
      {"negate", "BOOLEAN", G_BOOL}}},
    {"ProcessActionInput", 25, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"call_id", "INTEGER NOT NULL REFERENCES ProcessActionCall(id) ON DELETE CASCADE",
       G_MASTER, .arg = "ProcessActionCall"},
      {"name", "TEXT NOT NULL", G_PICK, .arg = "recipient|subject|field|value|url|assignee"},
      {"value", "TEXT", G_UNICODE, .lo = 1, .hi = 3, .null_pct = 10},
      {"data_type", "VARCHAR(20)", G_PICK, .arg = "text|number|date|boolean|reference"}}},
    {"ApprovalProcess", 5, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"name", "TEXT NOT NULL", G_UNIQUE, .arg = "approval"},
      {"label", "VARCHAR(80)", G_WORDS, .lo = 2, .hi = 4},
      {"description", "TEXT", G_SENTENCE, .lo = 8, .hi = 16, .null_pct = 20},
      {"entry_criteria", "TEXT", G_JSON},
      {"active", "BOOLEAN NOT NULL DEFAULT 1", G_BOOL},
      {"created_at", "TIMESTAMP", G_TS}}},
    {"ApprovalProcessAction", 10, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"approval_process_id", "INTEGER NOT NULL REFERENCES ApprovalProcess(id) ON DELETE CASCADE",
       G_MASTER, .arg = "ApprovalProcess"},
      {"action", "TEXT", G_PICK, .arg = "notify_owner|update_status|send_email|post_chatter"},
      {"kind", "VARCHAR(20)", G_PICK, .arg = "approve|reject|recall|submit"}}},
    {"ApprovalProcessLockAction", 5, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"approval_process_id", "INTEGER NOT NULL REFERENCES ApprovalProcess(id) ON DELETE CASCADE",
       G_MASTER, .arg = "ApprovalProcess"},
      {"action", "TEXT", G_PICK, .arg = "lock|unlock|lock_admin_only"},
      {"lock_record", "BOOLEAN", G_BOOL}}},
    {"ApprovalStep", 10, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"approval_process_id", "INTEGER NOT NULL REFERENCES ApprovalProcess(id) ON DELETE CASCADE",
       G_MASTER, .arg = "ApprovalProcess"},
      {"step_no", "INTEGER NOT NULL", G_INT, .lo = 1, .hi = 9},
      {"name", "TEXT", G_WORDS, .lo = 1, .hi = 3},
      {"criteria", "TEXT", G_JSON, .null_pct = 40}}},
    {"ApprovalStepAction", 15, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"step_id", "INTEGER NOT NULL REFERENCES ApprovalStep(id) ON DELETE CASCADE",
       G_MASTER, .arg = "ApprovalStep"},
      {"action", "TEXT", G_PICK, .arg = "approve|reject|reassign|comment"},
      {"due_date", "DATE", G_DATE, .null_pct = 25}}},
    {"ApprovalMember", 20, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"step_id", "INTEGER NOT NULL REFERENCES ApprovalStep(id) ON DELETE CASCADE",
       G_MASTER, .arg = "ApprovalStep"},
      {"user_id", "INTEGER REFERENCES \"User\"(id)", G_REF, .arg = "User", .null_pct = 5},
      {"member_type", "VARCHAR(20)", G_PICK, .arg = "user|manager|queue|role"},
      {"added_at", "DATETIME", G_ISO}}},
    {"Role", 5, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"name", "TEXT NOT NULL UNIQUE", G_UNIQUE, .arg = "role"},
      {"label", "VARCHAR(80)", G_UNICODE, .lo = 1, .hi = 2},
      {"description", "TEXT", G_SENTENCE, .lo = 4, .hi = 10, .null_pct = 30},
      {"permissions", "TEXT", G_JSON}}},
    {"PublicGroup", 10, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"name", "TEXT NOT NULL", G_WORDS, .lo = 1, .hi = 3},
      {"role_id", "INTEGER REFERENCES Role(id)", G_REF, .arg = "Role", .null_pct = 10},
      {"email", "VARCHAR(120)", G_EMAIL, .null_pct = 40},
      {"created_at", "TIMESTAMP", G_TS}}},
    {"Queue", 5, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"name", "TEXT NOT NULL", G_UNIQUE, .arg = "queue"},
      {"owner_group_id", "INTEGER REFERENCES PublicGroup(id)",
       G_REF, .arg = "PublicGroup", .null_pct = 10},
      {"label", "VARCHAR(80)", G_UNICODE, .lo = 1, .hi = 3},
      {"object_types", "TEXT", G_PICK, .arg = "Case|Lead|Case,Lead|Order__CST|Customer__CST"},
      {"sla_minutes", "INTEGER", G_INT, .lo = 15, .hi = 10080, .null_pct = 20},
      {"created_at", "TIMESTAMP", G_TS}}},
    {"QueueObject", 15, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"queue_id", "INTEGER NOT NULL REFERENCES Queue(id) ON DELETE CASCADE",
       G_MASTER, .arg = "Queue"},
      {"object_name", "TEXT NOT NULL", G_PICK, .arg = "Case|Lead|Opportunity|Order__CST|Task"},
      {"priority", "INTEGER", G_INT, .lo = 1, .hi = 5}}},
    {"GroupMember", 80, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"queue_id", "INTEGER REFERENCES Queue(id) ON DELETE CASCADE",
       G_REF, .arg = "Queue", .null_pct = 50},
      {"group_id", "INTEGER REFERENCES PublicGroup(id) ON DELETE CASCADE",
       G_REF, .arg = "PublicGroup", .null_pct = 20},
      {"role_id", "INTEGER REFERENCES Role(id)", G_REF, .arg = "Role", .null_pct = 30},
      {"user_id", "INTEGER REFERENCES \"User\"(id)", G_REF, .arg = "User"},
      {"joined_on", "DATE", G_DATE},
      {"is_admin", "BOOLEAN", G_BOOL}}},
    {"Profile", 5, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"name", "TEXT NOT NULL", G_UNIQUE, .arg = "profile"},
      {"label", "VARCHAR(80)", G_UNICODE, .lo = 1, .hi = 3},
      {"description", "TEXT", G_SENTENCE, .lo = 5, .hi = 12, .null_pct = 20},
      {"settings", "TEXT", G_JSON},
      {"created_at", "TIMESTAMP", G_TS}}},
    {"ProfileAppVisibility", 20, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"profile_id", "INTEGER NOT NULL REFERENCES Profile(id) ON DELETE CASCADE",
       G_MASTER, .arg = "Profile"},
      {"application_id", "TEXT NOT NULL REFERENCES Application(id)", G_REF, .arg = "Application"},
      {"visible", "BOOLEAN NOT NULL DEFAULT 1", G_BOOL},
      {"is_default", "BOOLEAN", G_BOOL}}},
    {"Connector", 3, NULL,
     {{"id", "TEXT PRIMARY KEY", G_CODE, .arg = "conn"},
      {"name", "TEXT NOT NULL", G_WORDS, .lo = 1, .hi = 3},
      {"endpoint", "TEXT", G_URL},
      {"auth_type", "VARCHAR(20)", G_PICK, .arg = "oauth2|basic|api_key|none"},
      {"config", "TEXT", G_JSON},
      {"timeout_ms", "INTEGER", G_INT, .lo = 1000, .hi = 120000},
      {"last_sync", "DATETIME", G_ISO, .null_pct = 30}}},
    {"EmailTemplate", 5, NULL,
     {{"id", "TEXT PRIMARY KEY", G_CODE, .arg = "tmpl"},
      {"name", "TEXT NOT NULL", G_WORDS, .lo = 2, .hi = 4},
      {"subject", "TEXT", G_UNICODE, .lo = 2, .hi = 5},
      {"body", "TEXT", G_SENTENCE, .lo = 15, .hi = 40},
      {"locale", "VARCHAR(10)", G_PICK, .arg = "en_US|de_DE|fr_FR|ja_JP|zh_CN"},
      {"updated_at", "TIMESTAMP", G_TS}}},
    {"EmailResource", 10, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"template_id", "TEXT NOT NULL REFERENCES EmailTemplate(id) ON DELETE CASCADE",
       G_MASTER, .arg = "EmailTemplate"},
      {"file_name", "TEXT", G_PICK, .arg = "logo.png|banner.jpg|terms.pdf|footer.html|宣传.png"},
      {"mime_type", "VARCHAR(40)", G_PICK, .arg = "image/png|image/jpeg|application/pdf|text/html"},
      {"content", "BLOB", G_BLOB, .lo = 32, .hi = 160, .null_pct = 10},
      {"size_bytes", "INTEGER", G_INT, .lo = 32, .hi = 160}}},
    {"Picklist", 10, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"name", "TEXT NOT NULL", G_UNIQUE, .arg = "picklist"},
      {"label", "VARCHAR(80)", G_WORDS, .lo = 1, .hi = 3},
      {"description", "TEXT", G_SENTENCE, .lo = 4, .hi = 10, .null_pct = 40},
      {"sorted", "BOOLEAN", G_BOOL}}},
    {"PicklistValue", 80, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"picklist_id", "INTEGER NOT NULL REFERENCES Picklist(id) ON DELETE CASCADE",
       G_MASTER, .arg = "Picklist"},
      {"value", "TEXT NOT NULL", G_WORDS, .lo = 1, .hi = 2},
      {"label", "TEXT", G_UNICODE, .lo = 1, .hi = 2},
      {"position", "INTEGER", G_INT, .lo = 1, .hi = 100},
      {"is_default", "BOOLEAN", G_BOOL},
      {"help_text", "TEXT", G_SENTENCE, .lo = 3, .hi = 10, .null_pct = 50},
      {"color", "VARCHAR(7)", G_PICK, .arg = "#ff0000|#00aa00|#0000ff|#ffaa00", .null_pct = 50}}},
    {"CustomResource", 5, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"name", "TEXT NOT NULL", G_UNIQUE, .arg = "resource"},
      {"label", "VARCHAR(80)", G_WORDS, .lo = 1, .hi = 3},
      {"locale", "VARCHAR(10)", G_PICK, .arg = "en_US|de_DE|fr_FR|ja_JP|zh_CN|ar_EG"},
      {"description", "TEXT", G_SENTENCE, .lo = 4, .hi = 10, .null_pct = 30}}},
    {"CustomResourceValue", 30, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"resource_id", "INTEGER NOT NULL REFERENCES CustomResource(id) ON DELETE CASCADE",
       G_MASTER, .arg = "CustomResource"},
      {"locale", "VARCHAR(10)", G_PICK, .arg = "en_US|de_DE|fr_FR|ja_JP|zh_CN|ar_EG"},
      {"value", "TEXT", G_UNICODE, .lo = 1, .hi = 6}}},
    {"Customer__CST", 60, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"name", "TEXT NOT NULL", G_PERSON},
      {"email", "VARCHAR(120)", G_EMAIL, .null_pct = 10},
      {"phone", "VARCHAR(30)",
       G_PICK, .arg = "+1 555 0100|+49 30 123456|+81 3-1234-5678|+33 1 23 45", .null_pct = 30},
      {"country", "VARCHAR(2)", G_PICK, .arg = "US|DE|FR|JP|CN|BR|EG|IN"},
      {"tier", "VARCHAR(10)", G_PICK, .arg = "gold|silver|bronze"},
      {"credit_limit", "DECIMAL(12,2)", G_AMOUNT, .hi = 50000, .null_pct = 20},
      {"notes", "TEXT", G_UNICODE, .lo = 2, .hi = 8, .null_pct = 50},
      {"created_at", "TIMESTAMP", G_TS},
      {"birthday", "DATE", G_DATE, .null_pct = 60}}},
    {"Order__CST", 110, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"customer_id", "INTEGER NOT NULL REFERENCES Customer__CST(id)",
       G_REF, .arg = "Customer__CST"},
      {"order_no", "VARCHAR(20) NOT NULL UNIQUE", G_UNIQUE, .arg = "SO"},
      {"status", "VARCHAR(12)", G_PICK, .arg = "draft|placed|paid|shipped|cancelled"},
      {"ordered_at", "DATETIME", G_ISO},
      {"total", "DECIMAL(12,2)", G_AMOUNT, .lo = 1, .hi = 20000},
      {"paid", "BOOLEAN", G_BOOL},
      {"shipping_address", "TEXT", G_SENTENCE, .lo = 4, .hi = 8, .null_pct = 15}}},
    {"Category__CST", 10, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"parent_id", "INTEGER REFERENCES Category__CST(id)", G_PARENT},
      {"name", "TEXT NOT NULL", G_WORDS, .lo = 1, .hi = 2},
      {"slug", "TEXT", G_UNIQUE, .arg = "cat"},
      {"label", "TEXT", G_UNICODE, .lo = 1, .hi = 2, .null_pct = 20}}},
    {"OrderLine__CST", 312, "PRIMARY KEY (order_id, line_no)",
     {{"order_id", "INTEGER NOT NULL REFERENCES Order__CST(id) ON DELETE CASCADE",
       G_MASTER, .arg = "Order__CST"},
      {"line_no", "INTEGER NOT NULL", G_LINE},
      {"product", "TEXT NOT NULL", G_WORDS, .lo = 1, .hi = 3},
      {"category_id", "INTEGER REFERENCES Category__CST(id)",
       G_REF, .arg = "Category__CST", .null_pct = 10},
      {"quantity", "INTEGER NOT NULL DEFAULT 1", G_INT, .lo = 1, .hi = 12},
      {"unit_price", "DECIMAL(12,2)", G_AMOUNT, .lo = 1, .hi = 900},
      {"discount", "REAL", G_INT, .hi = 30, .null_pct = 60},
      {"attributes", "TEXT", G_JSON, .null_pct = 40}}},
    {"Order Note__CST", 40, NULL,
     {{"id", "INTEGER PRIMARY KEY", G_ID},
      {"order_id", "INTEGER REFERENCES Order__CST(id) ON DELETE CASCADE",
       G_REF, .arg = "Order__CST"},
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

/* Per-table state while seeding. */
typedef struct run {
    int64_t rows[NTABLES];
    sqlite3 *db;
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

/* The key of row k (1-based) of table t, as bound. */
static void bind_key(sqlite3_stmt *st, int idx, size_t t, int64_t k, text_t *buf)
{
    if (tables[t].cols[0].gen == G_CODE) {
        put(buf, "%s-%06" PRId64, tables[t].cols[0].arg, k);
        sqlite3_bind_text(st, idx, buf->p, (int)buf->len, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, idx, k);
    }
}

static void put_words(text_t *buf, uint64_t *rng, int lo, int hi, const char *const *list,
                      size_t n)
{
    int64_t words = rand_range(rng, lo, hi);
    for (int64_t w = 0; w < words; w++)
        put(buf, "%s%s", w ? " " : "", pick(rng, list, n));
}

/* 'YYYY-MM-DD', and with with_time 'THH:MM:SSZ' after it, in UTC. */
static void put_time(text_t *buf, int64_t ms, int with_time)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    put(buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (with_time)
        put(buf, "T%02d:%02d:%02dZ", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Binds column c of row r (0-based) of table t. */
static void bind_column(const run_t *run, sqlite3_stmt *st, size_t t, const col_t *c, int idx,
                        int64_t r, uint64_t *rng, text_t *buf)
{
    int64_t per;

    buf->len = 0;
    buf->p[0] = '\0';
    if (c->null_pct && rand_range(rng, 1, 100) <= c->null_pct) {
        sqlite3_bind_null(st, idx);
        return;
    }
    switch (c->gen) {
    case G_ID:
        sqlite3_bind_int64(st, idx, r + 1);
        return;
    case G_CODE:
        bind_key(st, idx, t, r + 1, buf);
        return;
    case G_REF: {
        size_t p = table_index(c->arg);
        bind_key(st, idx, p, rand_range(rng, 1, run->rows[p]), buf);
        return;
    }
    case G_MASTER:
    case G_LINE: {
        size_t p = table_index(c->gen == G_MASTER ? c->arg : master_of(t));
        per = (run->rows[t] + run->rows[p] - 1) / run->rows[p];
        if (c->gen == G_LINE)
            sqlite3_bind_int64(st, idx, r % per + 1);
        else
            bind_key(st, idx, p, r / per + 1, buf);
        return;
    }
    case G_PARENT:
        if (r < run->rows[t] / 10 + 1)
            sqlite3_bind_null(st, idx);
        else
            sqlite3_bind_int64(st, idx, rand_range(rng, 1, r));
        return;
    case G_INT:
        sqlite3_bind_int64(st, idx, rand_range(rng, c->lo, c->hi));
        return;
    case G_BOOL:
        sqlite3_bind_int(st, idx, (int)(next_rand(rng) & 1));
        return;
    case G_AMOUNT:
        sqlite3_bind_double(st, idx, (double)rand_range(rng, (int64_t)c->lo * 100,
                                                        (int64_t)c->hi * 100) / 100.0);
        return;
    case G_TS:
        sqlite3_bind_int64(st, idx, ts_base + rand_range(rng, 0, ts_span));
        return;
    case G_BLOB: {
        int64_t n = rand_range(rng, c->lo, c->hi);
        for (int64_t i = 0; i < n && i < (int64_t)buf->cap; i++)
            buf->p[i] = (char)(next_rand(rng) & 0xff);
        sqlite3_bind_blob(st, idx, buf->p, (int)n, SQLITE_STATIC);
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
    case G_ISO:
        put_time(buf, ts_base + rand_range(rng, 0, ts_span), 1);
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
        put(buf, "%.*s", (int)(end ? end - s : (ptrdiff_t)strlen(s)), s);
        break;
    }
    }
    sqlite3_bind_text(st, idx, buf->p, (int)buf->len, SQLITE_STATIC);
}

static int seed_fail(sqlite3 *db, char *errstr, size_t errstr_size, const char *table)
{
    return ferry_errf(errstr, errstr_size, FERRY_ESTORE, "seeding table %s: %s", table,
                      sqlite3_errmsg(db));
}

/* Creates table t and inserts its rows. */
static int seed_table(run_t *run, size_t t, uint64_t seed, char *errstr, size_t errstr_size)
{
    const table_t *tb = &tables[t];
    char sql[4096], bufs[MAX_COLS][1024];
    size_t len, ncols = 0;
    sqlite3_stmt *st = NULL;
    uint64_t rng = seed;
    int rc = FERRY_OK;

    for (const char *p = tb->name; *p; p++) /* a per-table stream */
        rng = (rng ^ (unsigned char)*p) * 0x100000001b3ULL;
    len = (size_t)snprintf(sql, sizeof(sql), "CREATE TABLE \"%s\" (", tb->name);
    for (; ncols < MAX_COLS && tb->cols[ncols].name; ncols++)
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s\"%s\" %s", ncols ? ", " : "",
                                tb->cols[ncols].name, tb->cols[ncols].decl);
    snprintf(sql + len, sizeof(sql) - len, "%s%s)", tb->extra ? ", " : "",
             tb->extra ? tb->extra : "");
    if (sqlite3_exec(run->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return seed_fail(run->db, errstr, errstr_size, tb->name);

    len = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO \"%s\" VALUES (", tb->name);
    for (size_t i = 0; i < ncols; i++)
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s?", i ? ", " : "");
    snprintf(sql + len, sizeof(sql) - len, ")");
    if (sqlite3_prepare_v2(run->db, sql, -1, &st, NULL) != SQLITE_OK)
        return seed_fail(run->db, errstr, errstr_size, tb->name);
    for (int64_t r = 0; r < run->rows[t] && !rc; r++) {
        for (size_t i = 0; i < ncols; i++) {
            text_t buf = {bufs[i], 0, sizeof(bufs[i])};
            bind_column(run, st, t, &tb->cols[i], (int)i + 1, r, &rng, &buf);
        }
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = seed_fail(run->db, errstr, errstr_size, tb->name);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
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

int ferry_seed_create(const char *path, int64_t rows, uint64_t seed, int force,
                      int64_t *written, char *errstr, size_t errstr_size)
{
    run_t run = {{0}, NULL};
    struct stat sb;
    int64_t total = 0;
    int rc = FERRY_OK;

    if (written)
        *written = 0;
    if (!strncmp(path, "sqlite:", 7))
        path += 7;
    if (!*path || rows < 0)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "seed: a path and rows >= 0 are needed");
    if (!stat(path, &sb) && !force)
        return ferry_errf(errstr, errstr_size, FERRY_EINVAL,
                          "seed: %s exists (--force replaces it)", path);
    if (force && (rc = remove_db(path)))
        return ferry_errf(errstr, errstr_size, FERRY_EIO, "seed: cannot remove %s: %s", path,
                          strerror(rc));
    for (size_t t = 0; t < NTABLES; t++) {
        run.rows[t] = rows / (int64_t)ferry_seed_share_total() * tables[t].share +
                      rows % (int64_t)ferry_seed_share_total() * tables[t].share /
                          (int64_t)ferry_seed_share_total();
        if (run.rows[t] < 1)
            run.rows[t] = 1;
        total += run.rows[t];
    }
    if (sqlite3_open_v2(path, &run.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = ferry_errf(errstr, errstr_size, FERRY_ESTORE, "seed: cannot create %s: %s", path,
                        run.db ? sqlite3_errmsg(run.db) : "out of memory");
        goto done;
    }
    /* A fresh file that is removed on failure needs no journal. */
    if (sqlite3_exec(run.db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN", NULL,
                     NULL, NULL) != SQLITE_OK) {
        rc = seed_fail(run.db, errstr, errstr_size, "(setup)");
        goto done;
    }
    for (size_t t = 0; t < NTABLES && !rc; t++)
        rc = seed_table(&run, t, seed, errstr, errstr_size);
    if (!rc && sqlite3_exec(run.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = seed_fail(run.db, errstr, errstr_size, "(commit)");
done:
    sqlite3_close(run.db);
    if (rc)
        remove_db(path);
    else if (written)
        *written = total;
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
