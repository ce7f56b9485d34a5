#include "sqlite_loader.h"
#include "lazy_library.h"

#define FUNCTIONS(X) \
    X(sqlite3_open_v2) X(sqlite3_close_v2) X(sqlite3_errmsg) X(sqlite3_exec) X(sqlite3_free) X(sqlite3_busy_timeout) \
    X(sqlite3_changes) X(sqlite3_last_insert_rowid) X(sqlite3_prepare_v2) X(sqlite3_step) X(sqlite3_reset) \
    X(sqlite3_clear_bindings) X(sqlite3_finalize) X(sqlite3_bind_text) X(sqlite3_bind_blob) X(sqlite3_bind_int64) \
    X(sqlite3_bind_double) X(sqlite3_bind_null) X(sqlite3_column_count) X(sqlite3_column_type) X(sqlite3_column_text) \
    X(sqlite3_column_blob) X(sqlite3_column_bytes) X(sqlite3_column_int64) X(sqlite3_column_double)

LAZY_LIBRARY_DEFINE("libsqlite3.so.0", "libsqlite3-0", FUNCTIONS)

int sq_load(char *error, size_t size) { return lazy_library_load(&library, error, size); }

int sq_open_v2(const char *filename, sqlite3 **db, int flags, const char *vfs) { return p_sqlite3_open_v2(filename, db, flags, vfs); }
int sq_close_v2(sqlite3 *db) { return p_sqlite3_close_v2(db); }
const char *sq_errmsg(sqlite3 *db) { return p_sqlite3_errmsg(db); }
int sq_exec(sqlite3 *db, const char *sql, char **errmsg) { return p_sqlite3_exec(db, sql, NULL, NULL, errmsg); }
void sq_free(void *pointer) { p_sqlite3_free(pointer); }
int sq_busy_timeout(sqlite3 *db, int milliseconds) { return p_sqlite3_busy_timeout(db, milliseconds); }
int sq_changes(sqlite3 *db) { return p_sqlite3_changes(db); }
sqlite3_int64 sq_last_insert_rowid(sqlite3 *db) { return p_sqlite3_last_insert_rowid(db); }
int sq_prepare_v2(sqlite3 *db, const char *sql, int count, sqlite3_stmt **statement, const char **tail) {
    return p_sqlite3_prepare_v2(db, sql, count, statement, tail);
}
int sq_step(sqlite3_stmt *statement) { return p_sqlite3_step(statement); }
int sq_reset(sqlite3_stmt *statement) { return p_sqlite3_reset(statement); }
int sq_clear_bindings(sqlite3_stmt *statement) { return p_sqlite3_clear_bindings(statement); }
int sq_finalize(sqlite3_stmt *statement) { return p_sqlite3_finalize(statement); }
int sq_bind_text(sqlite3_stmt *statement, int index, const char *text, int count) {
    return p_sqlite3_bind_text(statement, index, text, count, SQLITE_TRANSIENT);
}
int sq_bind_blob(sqlite3_stmt *statement, int index, const void *bytes, int count) {
    return p_sqlite3_bind_blob(statement, index, bytes, count, SQLITE_TRANSIENT);
}
int sq_bind_int64(sqlite3_stmt *statement, int index, sqlite3_int64 value) { return p_sqlite3_bind_int64(statement, index, value); }
int sq_bind_double(sqlite3_stmt *statement, int index, double value) { return p_sqlite3_bind_double(statement, index, value); }
int sq_bind_null(sqlite3_stmt *statement, int index) { return p_sqlite3_bind_null(statement, index); }
int sq_column_count(sqlite3_stmt *statement) { return p_sqlite3_column_count(statement); }
int sq_column_type(sqlite3_stmt *statement, int column) { return p_sqlite3_column_type(statement, column); }
const unsigned char *sq_column_text(sqlite3_stmt *statement, int column) { return p_sqlite3_column_text(statement, column); }
const void *sq_column_blob(sqlite3_stmt *statement, int column) { return p_sqlite3_column_blob(statement, column); }
int sq_column_bytes(sqlite3_stmt *statement, int column) { return p_sqlite3_column_bytes(statement, column); }
sqlite3_int64 sq_column_int64(sqlite3_stmt *statement, int column) { return p_sqlite3_column_int64(statement, column); }
double sq_column_double(sqlite3_stmt *statement, int column) { return p_sqlite3_column_double(statement, column); }
