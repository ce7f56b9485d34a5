#include "archive_loader.h"
#include "lazy_library.h"

// One pointer per function, filled by dlsym.
#define FUNCTIONS(X) \
    X(archive_read_new) X(archive_read_free) X(archive_read_support_format_tar) X(archive_read_support_format_raw) \
    X(archive_read_support_filter_all) X(archive_read_open) X(archive_read_next_header) X(archive_read_data) \
    X(archive_read_data_block) X(archive_error_string) X(archive_entry_pathname) X(archive_entry_hardlink) \
    X(archive_entry_symlink) X(archive_entry_filetype) X(archive_entry_perm) X(archive_entry_rdev) \
    X(archive_entry_size_is_set) X(archive_entry_size) X(archive_entry_uid) X(archive_entry_gid) \
    X(archive_entry_mtime) X(archive_entry_mtime_nsec) X(archive_entry_xattr_reset) X(archive_entry_xattr_next) \
    X(archive_read_support_format_zip) X(archive_read_open_filename) X(archive_read_data_skip)

LAZY_LIBRARY_DEFINE("libarchive.so.13", "libarchive13", FUNCTIONS)

int la_load(char *error, size_t size) { return lazy_library_load(&library, error, size); }

struct archive *la_read_new(void) { return p_archive_read_new(); }
int la_read_free(struct archive *a) { return p_archive_read_free(a); }
int la_read_support_format_tar(struct archive *a) { return p_archive_read_support_format_tar(a); }
int la_read_support_format_raw(struct archive *a) { return p_archive_read_support_format_raw(a); }
int la_read_support_filter_all(struct archive *a) { return p_archive_read_support_filter_all(a); }
int la_read_open(struct archive *a, void *client, archive_open_callback *open, archive_read_callback *read, archive_close_callback *close) {
    return p_archive_read_open(a, client, open, read, close);
}
int la_read_next_header(struct archive *a, struct archive_entry **entry) { return p_archive_read_next_header(a, entry); }
la_ssize_t la_read_data(struct archive *a, void *buffer, size_t size) { return p_archive_read_data(a, buffer, size); }
int la_read_data_block(struct archive *a, const void **buffer, size_t *size, la_int64_t *offset) {
    return p_archive_read_data_block(a, buffer, size, offset);
}
const char *la_error_string(struct archive *a) { return p_archive_error_string(a); }
const char *la_entry_pathname(struct archive_entry *e) { return p_archive_entry_pathname(e); }
const char *la_entry_hardlink(struct archive_entry *e) { return p_archive_entry_hardlink(e); }
const char *la_entry_symlink(struct archive_entry *e) { return p_archive_entry_symlink(e); }
__LA_MODE_T la_entry_filetype(struct archive_entry *e) { return p_archive_entry_filetype(e); }
__LA_MODE_T la_entry_perm(struct archive_entry *e) { return p_archive_entry_perm(e); }
dev_t la_entry_rdev(struct archive_entry *e) { return p_archive_entry_rdev(e); }
int la_entry_size_is_set(struct archive_entry *e) { return p_archive_entry_size_is_set(e); }
la_int64_t la_entry_size(struct archive_entry *e) { return p_archive_entry_size(e); }
la_int64_t la_entry_uid(struct archive_entry *e) { return p_archive_entry_uid(e); }
la_int64_t la_entry_gid(struct archive_entry *e) { return p_archive_entry_gid(e); }
time_t la_entry_mtime(struct archive_entry *e) { return p_archive_entry_mtime(e); }
long la_entry_mtime_nsec(struct archive_entry *e) { return p_archive_entry_mtime_nsec(e); }
int la_entry_xattr_reset(struct archive_entry *e) { return p_archive_entry_xattr_reset(e); }
int la_entry_xattr_next(struct archive_entry *e, const char **name, const void **value, size_t *size) {
    return p_archive_entry_xattr_next(e, name, value, size);
}
int la_read_support_format_zip(struct archive *a) { return p_archive_read_support_format_zip(a); }
int la_read_open_filename(struct archive *a, const char *path, size_t block_size) { return p_archive_read_open_filename(a, path, block_size); }
int la_read_data_skip(struct archive *a) { return p_archive_read_data_skip(a); }
