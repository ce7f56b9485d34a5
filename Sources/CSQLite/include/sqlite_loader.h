// SQLite, loaded with dlopen the first time something reads the advisory database or an
// RPM database (`scan`, `run --scan-policy` without a cached answer), so that no other
// command pays for loading it. Each sq_ function is the sqlite3_ function of the same name.
#pragma once
#include <sqlite3.h>
#include <stddef.h>

// 0 once libsqlite3 is loaded; otherwise -1 with the reason in `error`.
int sq_load(char *error, size_t size);

int sq_open_v2(const char *filename, sqlite3 **db, int flags, const char *vfs);
int sq_close_v2(sqlite3 *db);
const char *sq_errmsg(sqlite3 *db);
int sq_exec(sqlite3 *db, const char *sql, char **errmsg);
void sq_free(void *pointer);
int sq_busy_timeout(sqlite3 *db, int milliseconds);
int sq_changes(sqlite3 *db);
sqlite3_int64 sq_last_insert_rowid(sqlite3 *db);

int sq_prepare_v2(sqlite3 *db, const char *sql, int count, sqlite3_stmt **statement, const char **tail);
int sq_step(sqlite3_stmt *statement);
int sq_reset(sqlite3_stmt *statement);
int sq_clear_bindings(sqlite3_stmt *statement);
int sq_finalize(sqlite3_stmt *statement);
// Text and blobs are copied by SQLite (SQLITE_TRANSIENT).
int sq_bind_text(sqlite3_stmt *statement, int index, const char *text, int count);
int sq_bind_blob(sqlite3_stmt *statement, int index, const void *bytes, int count);
int sq_bind_int64(sqlite3_stmt *statement, int index, sqlite3_int64 value);
int sq_bind_double(sqlite3_stmt *statement, int index, double value);
int sq_bind_null(sqlite3_stmt *statement, int index);
int sq_column_count(sqlite3_stmt *statement);
int sq_column_type(sqlite3_stmt *statement, int column);
const unsigned char *sq_column_text(sqlite3_stmt *statement, int column);
const void *sq_column_blob(sqlite3_stmt *statement, int column);
int sq_column_bytes(sqlite3_stmt *statement, int column);
sqlite3_int64 sq_column_int64(sqlite3_stmt *statement, int column);
double sq_column_double(sqlite3_stmt *statement, int column);
