// The session extension's declarations are in <sqlite3.h> only with these two defined; the
// functions themselves are in the system libsqlite3 GRDB already links.
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>
#include <string.h>
#include "CSQLiteSession.h"

static int record_table(void *context, const char *table) {
    (void)context;
    size_t length = strlen(table), suffix = strlen(CARD_SESSION_UNLOGGED_SUFFIX);
    return !(length >= suffix && strcmp(table + length - suffix, CARD_SESSION_UNLOGGED_SUFFIX) == 0);
}

int card_session_create(void *db, void **session) {
    sqlite3_session *s = NULL;
    int rc = sqlite3session_create((sqlite3 *)db, "main", &s);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3session_attach(s, NULL);
    if (rc != SQLITE_OK) {
        sqlite3session_delete(s);
        return rc;
    }
    sqlite3session_table_filter(s, record_table, NULL);
    *session = s;
    return SQLITE_OK;
}

void card_session_delete(void *session) {
    if (session) sqlite3session_delete((sqlite3_session *)session);
}

int card_session_isempty(void *session) { return sqlite3session_isempty((sqlite3_session *)session); }

int card_session_changeset(void *session, int *size, void **changeset) {
    return sqlite3session_changeset((sqlite3_session *)session, size, changeset);
}

int card_session_patchset(void *session, int *size, void **patchset) {
    return sqlite3session_patchset((sqlite3_session *)session, size, patchset);
}

void card_sqlite_free(void *pointer) { sqlite3_free(pointer); }

struct apply_context {
    int policy;
    int conflicts;
};

static int on_conflict(void *context, int kind, sqlite3_changeset_iter *iterator) {
    (void)iterator;
    struct apply_context *c = context;
    c->conflicts += 1;
    if (c->policy == CARD_APPLY_ABORT) return SQLITE_CHANGESET_ABORT;
    switch (kind) {
    case SQLITE_CHANGESET_DATA:      // the row exists with other values than the change expected
    case SQLITE_CHANGESET_CONFLICT:  // an insert meets an existing key
        return SQLITE_CHANGESET_REPLACE;
    case SQLITE_CHANGESET_NOTFOUND:  // an update or delete of a row that is not there
        return SQLITE_CHANGESET_OMIT;
    default:                         // a constraint or foreign key the change would break
        return SQLITE_CHANGESET_ABORT;
    }
}

int card_changeset_apply(void *db, int size, const void *changeset, int policy, int *conflicts) {
    struct apply_context context = {policy, 0};
    int rc = sqlite3changeset_apply((sqlite3 *)db, size, (void *)changeset, NULL, on_conflict, &context);
    *conflicts = context.conflicts;
    return rc;
}

int card_changeset_count(int size, const void *changeset, int *inserts, int *updates, int *deletes) {
    sqlite3_changeset_iter *iterator = NULL;
    *inserts = *updates = *deletes = 0;
    int rc = sqlite3changeset_start(&iterator, size, (void *)changeset);
    if (rc != SQLITE_OK) return rc;
    while (sqlite3changeset_next(iterator) == SQLITE_ROW) {
        const char *table;
        int columns, op, indirect;
        sqlite3changeset_op(iterator, &table, &columns, &op, &indirect);
        if (op == SQLITE_INSERT) *inserts += 1;
        else if (op == SQLITE_UPDATE) *updates += 1;
        else if (op == SQLITE_DELETE) *deletes += 1;
    }
    return sqlite3changeset_finalize(iterator);
}

const char *card_sqlite_errmsg(void *db) { return sqlite3_errmsg((sqlite3 *)db); }
