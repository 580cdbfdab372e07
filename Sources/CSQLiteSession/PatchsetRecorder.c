// The patchset recorder (CSQLiteSession.h): a session's patchset without a session's per-transaction
// statement preparing. Values are kept in the session extension's own record format (type byte,
// then an 8-byte big-endian integer or IEEE double, or a varint length and the bytes), so a row's
// key, its old values and the patchset's records are the same bytes throughout.
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "CSQLiteSession.h"

enum { V_UNDEFINED = 0, V_INTEGER = 1, V_FLOAT = 2, V_TEXT = 3, V_BLOB = 4, V_NULL = 5 };
enum { OP_INSERT = 0x12, OP_UPDATE = 0x17, OP_DELETE = 0x09 };

typedef struct {
    unsigned char *bytes;
    size_t length, capacity;
    int failed;
} buffer;

static void reserve(buffer *b, size_t more) {
    if (b->failed || b->length + more <= b->capacity) return;
    size_t capacity = b->capacity ? b->capacity : 256;
    while (capacity < b->length + more) capacity *= 2;
    unsigned char *bytes = sqlite3_realloc64(b->bytes, capacity);
    if (!bytes) { b->failed = 1; return; }
    b->bytes = bytes;
    b->capacity = capacity;
}

static void put(buffer *b, const void *bytes, size_t length) {
    reserve(b, length);
    if (b->failed || length == 0) return;
    memcpy(b->bytes + b->length, bytes, length);
    b->length += length;
}

static void put_byte(buffer *b, unsigned char byte) { put(b, &byte, 1); }

// SQLite's varint (big-endian groups of 7 bits, the high bit set on all but the last); the
// lengths written here stay far below the 9-byte form's range.
static void put_varint(buffer *b, uint64_t value) {
    unsigned char groups[10];
    int n = 0;
    do { groups[n++] = (unsigned char)(value & 0x7f); value >>= 7; } while (value && n < 9);
    for (int i = n - 1; i >= 0; i--) put_byte(b, (unsigned char)(groups[i] | (i ? 0x80 : 0)));
}

static int read_varint(const unsigned char *p, uint64_t *value) {
    uint64_t v = 0;
    int i = 0;
    do { v = (v << 7) | (p[i] & 0x7f); } while ((p[i++] & 0x80) && i < 9);
    *value = v;
    return i;
}

static void put_be64(buffer *b, uint64_t v) {
    unsigned char bytes[8];
    for (int i = 7; i >= 0; i--) { bytes[i] = (unsigned char)(v & 0xff); v >>= 8; }
    put(b, bytes, 8);
}

static uint64_t read_be64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

static void put_value(buffer *b, sqlite3_value *value) {
    switch (sqlite3_value_type(value)) {
    case SQLITE_INTEGER:
        put_byte(b, V_INTEGER);
        put_be64(b, (uint64_t)sqlite3_value_int64(value));
        break;
    case SQLITE_FLOAT: {
        double d = sqlite3_value_double(value);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        put_byte(b, V_FLOAT);
        put_be64(b, bits);
        break;
    }
    case SQLITE_TEXT: {
        const unsigned char *text = sqlite3_value_text(value);
        int n = sqlite3_value_bytes(value);
        if (!text) { b->failed = 1; return; }
        put_byte(b, V_TEXT);
        put_varint(b, (uint64_t)n);
        put(b, text, (size_t)n);
        break;
    }
    case SQLITE_BLOB: {
        const void *blob = sqlite3_value_blob(value);
        int n = sqlite3_value_bytes(value);
        put_byte(b, V_BLOB);
        put_varint(b, (uint64_t)n);
        put(b, blob, (size_t)n);
        break;
    }
    default:
        put_byte(b, V_NULL);
    }
}

// The length of the value at `p` in record format.
static size_t value_length(const unsigned char *p) {
    switch (p[0]) {
    case V_INTEGER: case V_FLOAT: return 9;
    case V_TEXT: case V_BLOB: {
        uint64_t n;
        int header = read_varint(p + 1, &n);
        return 1 + (size_t)header + (size_t)n;
    }
    default: return 1;
    }
}

// Whether the value at `p` (record format) equals column `i` of `row`, as the session compares
// them: same type, and the same integer, the same double's bits, or the same bytes.
static int same_as_column(const unsigned char *p, sqlite3_stmt *row, int i) {
    int type = sqlite3_column_type(row, i);
    switch (p[0]) {
    case V_NULL: return type == SQLITE_NULL;
    case V_INTEGER: return type == SQLITE_INTEGER && (uint64_t)sqlite3_column_int64(row, i) == read_be64(p + 1);
    case V_FLOAT: {
        if (type != SQLITE_FLOAT) return 0;
        double d = sqlite3_column_double(row, i);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        return bits == read_be64(p + 1);
    }
    case V_TEXT: case V_BLOB: {
        if (type != (p[0] == V_TEXT ? SQLITE_TEXT : SQLITE_BLOB)) return 0;
        uint64_t n;
        int header = read_varint(p + 1, &n);
        const void *bytes = p[0] == V_TEXT ? (const void *)sqlite3_column_text(row, i) : sqlite3_column_blob(row, i);
        if ((uint64_t)sqlite3_column_bytes(row, i) != n) return 0;
        return n == 0 || memcmp(bytes, p + 1 + header, (size_t)n) == 0;
    }
    default: return 0;
    }
}

// Binds the record-format value at `p` to parameter `index`; returns its length.
static size_t bind_value(sqlite3_stmt *statement, int index, const unsigned char *p) {
    switch (p[0]) {
    case V_INTEGER: sqlite3_bind_int64(statement, index, (sqlite3_int64)read_be64(p + 1)); break;
    case V_FLOAT: {
        uint64_t bits = read_be64(p + 1);
        double d;
        memcpy(&d, &bits, 8);
        sqlite3_bind_double(statement, index, d);
        break;
    }
    case V_TEXT: case V_BLOB: {
        uint64_t n;
        int header = read_varint(p + 1, &n);
        if (p[0] == V_TEXT) sqlite3_bind_text(statement, index, (const char *)p + 1 + header, (int)n, SQLITE_STATIC);
        else sqlite3_bind_blob(statement, index, p + 1 + header, (int)n, SQLITE_STATIC);
        break;
    }
    default: sqlite3_bind_null(statement, index);
    }
    return value_length(p);
}

static void put_column(buffer *b, sqlite3_stmt *row, int i) { put_value(b, sqlite3_column_value(row, i)); }

// One row the transaction touched: its key (the primary key's values in column order), whether it
// existed before its first change, and if so all its values then.
typedef struct change {
    struct change *hash_next, *next;
    uint32_t hash;
    int existed;
    size_t key_length, old_length;
    unsigned char bytes[];  // key, then old values
} change;

typedef struct table {
    struct table *next;
    char *name;
    int columns;
    unsigned char *pk;  // per column: its place in the primary key (PRAGMA table_info's pk), 0 if not in it
    int recorded;       // 0: no declared primary key, or an *_unlogged table
    int stale;          // 1: the columns must be read (again) before the table's next change
    sqlite3_stmt *select;
    change **buckets;
    size_t bucket_count, entries;
    change *first, *last;
} table;

struct card_recorder {
    sqlite3 *db;
    table *tables;
    int rc;
    int hooked;                  // the pre-update hook is installed (between begin and end)
    int schema_version;          // PRAGMA schema_version when the tables' columns were last valid
    sqlite3_stmt *schema_query;  // PRAGMA main.schema_version, prepared once
    buffer scratch;
};

static void forget_changes(table *t) {
    for (change *c = t->first, *next; c; c = next) { next = c->next; sqlite3_free(c); }
    if (t->buckets) memset(t->buckets, 0, t->bucket_count * sizeof(change *));
    t->first = t->last = NULL;
    t->entries = 0;
}

static void free_columns(table *t) {
    sqlite3_finalize(t->select);
    sqlite3_free(t->pk);
    t->select = NULL;
    t->pk = NULL;
    t->columns = 0;
}

// Reads the table's columns and primary key and prepares its row lookup. On failure the table
// stays stale, so its next change tries again (and the error reaches the patchset).
static int load_columns(sqlite3 *db, table *t) {
    free_columns(t);
    t->recorded = 0;
    t->stale = 1;
    size_t length = strlen(t->name), suffix = strlen(CARD_SESSION_UNLOGGED_SUFFIX);
    if (length >= suffix && strcmp(t->name + length - suffix, CARD_SESSION_UNLOGGED_SUFFIX) == 0) {
        t->stale = 0;  // never recorded, whatever its columns
        return SQLITE_OK;
    }
    char *sql = sqlite3_mprintf("PRAGMA main.table_info(\"%w\")", t->name);
    if (!sql) return SQLITE_NOMEM;
    sqlite3_stmt *info = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &info, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return rc;
    buffer where = {0};
    int columns = 0, keys = 0;
    unsigned char *pk = NULL;
    while ((rc = sqlite3_step(info)) == SQLITE_ROW) {
        unsigned char *grown = sqlite3_realloc(pk, columns + 1);
        if (!grown) { rc = SQLITE_NOMEM; break; }
        pk = grown;
        pk[columns] = (unsigned char)sqlite3_column_int(info, 5);
        if (pk[columns]) {
            char *term = sqlite3_mprintf("%s\"%w\" IS ?%d", keys ? " AND " : "", (const char *)sqlite3_column_text(info, 1), keys + 1);
            if (!term) { rc = SQLITE_NOMEM; break; }
            put(&where, term, strlen(term));
            sqlite3_free(term);
            keys += 1;
        }
        columns += 1;
    }
    sqlite3_finalize(info);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    if (rc == SQLITE_OK && where.failed) rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK && keys > 0) {
        put_byte(&where, 0);
        char *select = where.failed ? NULL : sqlite3_mprintf("SELECT * FROM main.\"%w\" WHERE %s", t->name, (const char *)where.bytes);
        if (!select) rc = SQLITE_NOMEM;
        else {
            rc = sqlite3_prepare_v3(db, select, -1, SQLITE_PREPARE_PERSISTENT, &t->select, NULL);
            sqlite3_free(select);
        }
    }
    sqlite3_free(where.bytes);
    if (rc == SQLITE_OK) t->stale = 0;
    if (rc != SQLITE_OK || keys == 0) { sqlite3_free(pk); return rc; }
    t->pk = pk;
    t->columns = columns;
    t->recorded = 1;
    return SQLITE_OK;
}

static table *find_table(card_recorder *r, const char *name) {
    for (table *t = r->tables; t; t = t->next) if (strcmp(t->name, name) == 0) return t;
    table *t = sqlite3_malloc(sizeof(table));
    if (!t) { r->rc = SQLITE_NOMEM; return NULL; }
    memset(t, 0, sizeof(table));
    t->name = sqlite3_mprintf("%s", name);
    if (!t->name) { sqlite3_free(t); r->rc = SQLITE_NOMEM; return NULL; }
    int rc = load_columns(r->db, t);
    if (rc != SQLITE_OK) { sqlite3_free(t->name); sqlite3_free(t); r->rc = rc; return NULL; }
    // Appended: the patchset lists tables in the order this recorder first saw them change (a
    // session's order is per transaction; the apply does not depend on it without foreign keys).
    table **end = &r->tables;
    while (*end) end = &(*end)->next;
    *end = t;
    return t;
}

static uint32_t fnv1a(const unsigned char *bytes, size_t length) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < length; i++) h = (h ^ bytes[i]) * 16777619u;
    return h;
}

static int grow_buckets(table *t) {
    size_t count = t->bucket_count ? t->bucket_count * 2 : 64;
    change **buckets = sqlite3_malloc64(count * sizeof(change *));
    if (!buckets) return SQLITE_NOMEM;
    memset(buckets, 0, count * sizeof(change *));
    for (change *c = t->first; c; c = c->next) {
        c->hash_next = buckets[c->hash % count];
        buckets[c->hash % count] = c;
    }
    sqlite3_free(t->buckets);
    t->buckets = buckets;
    t->bucket_count = count;
    return SQLITE_OK;
}

// Notes the row the hook is about (by its new values for an insert, its old ones otherwise) if
// this transaction has not touched it yet.
static void touch(card_recorder *r, table *t, int insert) {
    int (*value_at)(sqlite3 *, int, sqlite3_value **) = insert ? sqlite3_preupdate_new : sqlite3_preupdate_old;
    buffer *key = &r->scratch;
    key->length = 0;
    key->failed = 0;
    for (int i = 0; i < t->columns; i++) {
        if (!t->pk[i]) continue;
        sqlite3_value *value = NULL;
        int rc = value_at(r->db, i, &value);
        if (rc != SQLITE_OK) { r->rc = rc; return; }
        // A NULL in the key (legal in a rowid table's non-INTEGER key): not recorded, as the
        // session does not; `IS NULL` could not find the one row again.
        if (sqlite3_value_type(value) == SQLITE_NULL) return;
        put_value(key, value);
    }
    if (key->failed) { r->rc = SQLITE_NOMEM; return; }
    uint32_t hash = fnv1a(key->bytes, key->length);
    if (t->bucket_count) {
        for (change *c = t->buckets[hash % t->bucket_count]; c; c = c->hash_next) {
            if (c->hash == hash && c->key_length == key->length && memcmp(c->bytes, key->bytes, key->length) == 0) return;
        }
    }
    size_t key_length = key->length;
    if (!insert) {
        for (int i = 0; i < t->columns; i++) {
            sqlite3_value *value = NULL;
            int rc = sqlite3_preupdate_old(r->db, i, &value);
            if (rc != SQLITE_OK) { r->rc = rc; return; }
            put_value(key, value);
        }
        if (key->failed) { r->rc = SQLITE_NOMEM; return; }
    }
    if (t->entries >= t->bucket_count && grow_buckets(t) != SQLITE_OK) { r->rc = SQLITE_NOMEM; return; }
    change *c = sqlite3_malloc64(sizeof(change) + key->length);
    if (!c) { r->rc = SQLITE_NOMEM; return; }
    c->hash = hash;
    c->existed = !insert;
    c->key_length = key_length;
    c->old_length = key->length - key_length;
    memcpy(c->bytes, key->bytes, key->length);
    c->next = NULL;
    c->hash_next = t->buckets[hash % t->bucket_count];
    t->buckets[hash % t->bucket_count] = c;
    if (t->last) t->last->next = c; else t->first = c;
    t->last = c;
    t->entries += 1;
}

static void on_preupdate(void *context, sqlite3 *db, int op, const char *database, const char *name,
                         sqlite3_int64 old_rowid, sqlite3_int64 new_rowid) {
    (void)old_rowid; (void)new_rowid;
    card_recorder *r = context;
    if (r->rc != SQLITE_OK || db != r->db || strcmp(database, "main") != 0) return;
    table *t = find_table(r, name);
    if (!t) return;
    if (t->stale) {
        int rc = t->entries ? SQLITE_SCHEMA : load_columns(db, t);
        if (rc != SQLITE_OK) { r->rc = rc; return; }
    }
    if (!t->recorded) return;
    // Columns changed since begin (which re-reads every table after a schema change between
    // transactions): DDL inside this transaction, which card_recorder_patchset refuses anyway.
    if (sqlite3_preupdate_count(db) != t->columns) { r->rc = SQLITE_SCHEMA; return; }
    // An update is the old key's change and, when the key changed, the new key's insert.
    touch(r, t, op == SQLITE_INSERT);
    if (op == SQLITE_UPDATE && r->rc == SQLITE_OK) touch(r, t, 1);
}

int card_recorder_create(void *db, card_recorder **recorder) {
    card_recorder *r = sqlite3_malloc(sizeof(card_recorder));
    if (!r) return SQLITE_NOMEM;
    memset(r, 0, sizeof(card_recorder));
    r->db = db;
    *recorder = r;
    return SQLITE_OK;
}

// PRAGMA schema_version: SQLite bumps it at every schema change (a table dropped and created
// again, a column dropped), so a recorder that sees it move reads every table's columns again.
static int schema_version(card_recorder *r, int *version) {
    if (!r->schema_query) {
        int rc = sqlite3_prepare_v3(r->db, "PRAGMA main.schema_version", -1, SQLITE_PREPARE_PERSISTENT, &r->schema_query, NULL);
        if (rc != SQLITE_OK) return rc;
    }
    int rc = sqlite3_step(r->schema_query);
    if (rc == SQLITE_ROW) *version = sqlite3_column_int(r->schema_query, 0);
    sqlite3_reset(r->schema_query);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

void card_recorder_begin(card_recorder *r) {
    for (table *t = r->tables; t; t = t->next) forget_changes(t);
    int version = 0;
    r->rc = schema_version(r, &version);
    if (r->rc == SQLITE_OK && version != r->schema_version) {
        for (table *t = r->tables; t; t = t->next) t->stale = 1;
        r->schema_version = version;
    }
    sqlite3_preupdate_hook(r->db, on_preupdate, r);
    r->hooked = 1;
}

void card_recorder_end(card_recorder *r) {
    // Only while hooked: after its connection closed, the recorder must not touch it.
    if (r->hooked) sqlite3_preupdate_hook(r->db, NULL, NULL);
    r->hooked = 0;
    for (table *t = r->tables; t; t = t->next) forget_changes(t);
}

void card_recorder_delete(card_recorder *r) {
    if (!r) return;
    card_recorder_end(r);
    // Finalizing is safe after sqlite3_close_v2: a connection with statements left stays a
    // zombie until the last one is finalized.
    sqlite3_finalize(r->schema_query);
    for (table *t = r->tables, *next; t; t = next) {
        next = t->next;
        free_columns(t);
        sqlite3_free(t->buckets);
        sqlite3_free(t->name);
        sqlite3_free(t);
    }
    sqlite3_free(r->scratch.bytes);
    sqlite3_free(r);
}

int card_recorder_isempty(card_recorder *r) {
    for (table *t = r->tables; t; t = t->next) if (t->entries) return 0;
    return 1;
}

// Appends the patchset records of table `t`'s changes, its header first if it has any.
static int put_table(buffer *out, table *t) {
    size_t start = out->length;
    put_byte(out, 'P');
    put_varint(out, (uint64_t)t->columns);
    put(out, t->pk, (size_t)t->columns);
    put(out, t->name, strlen(t->name) + 1);
    size_t header_end = out->length;
    int rc = SQLITE_OK;
    for (change *c = t->first; c && rc == SQLITE_OK; c = c->next) {
        const unsigned char *p = c->bytes;
        for (int i = 1; p < c->bytes + c->key_length; i++) p += bind_value(t->select, i, p);
        int step = sqlite3_step(t->select);
        if (step == SQLITE_ROW && !c->existed) {
            put_byte(out, OP_INSERT);
            put_byte(out, 0);
            for (int i = 0; i < t->columns; i++) put_column(out, t->select, i);
        } else if (step == SQLITE_ROW) {
            size_t rewind = out->length;
            int changed = 0;
            put_byte(out, OP_UPDATE);
            put_byte(out, 0);
            const unsigned char *old = c->bytes + c->key_length;
            for (int i = 0; i < t->columns; i++) {
                int same = same_as_column(old, t->select, i);
                if (!same || t->pk[i]) put_column(out, t->select, i); else put_byte(out, V_UNDEFINED);
                changed |= !same;
                old += value_length(old);
            }
            if (!changed) out->length = rewind;
        } else if (step == SQLITE_DONE && c->existed) {
            put_byte(out, OP_DELETE);
            put_byte(out, 0);
            const unsigned char *old = c->bytes + c->key_length;
            for (int i = 0; i < t->columns; i++) {
                size_t n = value_length(old);
                if (t->pk[i]) put(out, old, n);
                old += n;
            }
        } else if (step != SQLITE_DONE) {
            rc = step;
        }
        sqlite3_reset(t->select);
        sqlite3_clear_bindings(t->select);
    }
    if (out->length == header_end) out->length = start;
    return rc;
}

int card_recorder_patchset(card_recorder *r, int *size, void **patchset) {
    *size = 0;
    *patchset = NULL;
    if (r->rc != SQLITE_OK) return r->rc;
    int version = 0;
    int rc = schema_version(r, &version);
    if (rc != SQLITE_OK) return rc;
    // A schema change inside the recorded transaction: the rows recorded may not match the
    // columns now. An error, not a patchset that might be wrong.
    if (version != r->schema_version) return SQLITE_SCHEMA;
    buffer out = {0};
    for (table *t = r->tables; t && rc == SQLITE_OK; t = t->next) {
        if (t->recorded && t->entries) rc = put_table(&out, t);
    }
    if (rc == SQLITE_OK && out.failed) rc = SQLITE_NOMEM;
    if (rc != SQLITE_OK || out.length == 0) {
        sqlite3_free(out.bytes);
        return rc;
    }
    *size = (int)out.length;
    *patchset = out.bytes;
    return SQLITE_OK;
}
