#ifndef CSQLITESESSION_H
#define CSQLITESESSION_H

/*
 * The few calls of SQLite's session extension (https://sqlite.org/sessionintro.html) that the
 * state changelog needs, over opaque pointers: `db` is the `sqlite3 *` GRDB holds
 * (Database.sqliteConnection), `session` a `sqlite3_session *`. The session types stay in the .c
 * file, compiled with SQLITE_ENABLE_SESSION and SQLITE_ENABLE_PREUPDATE_HOOK against the system
 * libsqlite3 (Debian's exports sqlite3session_* and sqlite3changeset_*).
 *
 * Every function returns an SQLite result code (SQLITE_OK = 0) unless said otherwise.
 */

#include <stdint.h>

/* Tables whose name ends with this suffix are never recorded (the changelog's own send queue). */
#define CARD_SESSION_UNLOGGED_SUFFIX "_unlogged"

/* Conflict policies of card_changeset_apply. */
#define CARD_APPLY_ABORT 0   /* any conflict aborts the apply and rolls it back (SQLITE_ABORT) */
#define CARD_APPLY_REPLACE 1 /* the changeset's row wins: conflicting rows are replaced, changes to missing rows are omitted */

/* Starts recording every change to every table of "main" (except *_unlogged tables) made on `db`. */
int card_session_create(void *db, void **session);
/* Stops recording and frees the session. NULL is ignored. */
void card_session_delete(void *session);
/* 1 if the session has recorded no net change, 0 otherwise. */
int card_session_isempty(void *session);
/* The recorded changes, consolidated per row; free *changeset with card_sqlite_free. */
int card_session_changeset(void *session, int *size, void **changeset);
/* The recorded changes as a patchset (sqlite3session_patchset): like a changeset, but a deleted
 * row carries only its primary key and an updated row only its key and new values. card_changeset_apply
 * and card_changeset_count take either format. Free *patchset with card_sqlite_free. */
int card_session_patchset(void *session, int *size, void **patchset);
void card_sqlite_free(void *pointer);

/* Applies `changeset` to `db` inside a savepoint under `policy`; *conflicts counts the conflicts met. */
int card_changeset_apply(void *db, int size, const void *changeset, int policy, int *conflicts);
/* Counts the changeset's row operations. */
int card_changeset_count(int size, const void *changeset, int *inserts, int *updates, int *deletes);
/* The connection's last error message (owned by SQLite, valid until the next call on `db`). */
const char *card_sqlite_errmsg(void *db);

#endif
