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

/*
 * The patchset recorder: what sqlite3session_patchset returns for one transaction, recorded on
 * SQLite's pre-update hook (https://sqlite.org/c3ref/preupdate_blobwrite.html) by a recorder
 * that lives as long as its connection. A session lives for one transaction (SQLite cannot clear
 * one), so it prepares `PRAGMA table_info` when a table first changes and a `SELECT * ... WHERE pk
 * IS ?` per changed table at every patchset; the recorder prepares each once per connection.
 *
 * Same rules as a session attached to every table of "main": only tables with a declared PRIMARY
 * KEY, never *_unlogged ones; a row's change is the net change from its value when the
 * transaction first touched it to its value when the patchset is taken (read then, so savepoints
 * rolled back are accounted for). The bytes are SQLite's patchset format (table header 'P',
 * INSERT 0x12 with every column, UPDATE 0x17 with the key and changed columns, DELETE 0x09 with
 * the key only); sqlite3changeset_apply reads them. The order of rows within a table may differ
 * from a session's, which no reader depends on.
 *
 * Rows with a NULL in a primary key column are not recorded (as by a session). A schema change
 * between transactions is followed (PRAGMA schema_version, read at begin); one inside the
 * recorded transaction makes card_recorder_patchset return SQLITE_SCHEMA.
 *
 * One transaction at a time: begin (installs the hook; it replaces any other pre-update hook,
 * such as a session's, on `db`), then the writes, patchset, end (removes the hook). Delete the
 * recorder before closing its connection with sqlite3_close (it holds prepared statements);
 * after sqlite3_close_v2, deleting it only finalizes those statements.
 */
typedef struct card_recorder card_recorder;
/* A recorder for connection `db` (no hook installed yet). SQLITE_NOMEM when out of memory. */
int card_recorder_create(void *db, card_recorder **recorder);
/* Ends any transaction being recorded, finalizes its statements, frees it. NULL is ignored. */
void card_recorder_delete(card_recorder *recorder);
/* Installs the hook and starts recording with no changes (an error reading the schema version
 * is returned by card_recorder_patchset). */
void card_recorder_begin(card_recorder *recorder);
/* 1 if no row of a recorded table has been touched since begin (as sqlite3session_isempty). */
int card_recorder_isempty(card_recorder *recorder);
/* The net changes since begin as a patchset; free *patchset with card_sqlite_free. An error met
 * in the hook (SQLITE_NOMEM, SQLITE_SCHEMA when a table's columns changed under recorded rows)
 * is returned here, and no patchset. */
int card_recorder_patchset(card_recorder *recorder, int *size, void **patchset);
/* Removes the hook and forgets the changes (keeps each table's columns and statement). */
void card_recorder_end(card_recorder *recorder);

#endif
