// libarchive, loaded with dlopen the first time an image is imported. Linked normally,
// it and its ten libraries (ICU and libxml2 among them) cost every netctl command about
// 2 ms of loading and relocation at start-up, and only `image import` needs them.
// Each la_ function is the libarchive function of the same name.
#pragma once
#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>

// 0 once libarchive is loaded; otherwise -1 with the reason in `error`.
int la_load(char *error, size_t size);

struct archive *la_read_new(void);
int la_read_free(struct archive *a);
int la_read_support_format_tar(struct archive *a);
int la_read_support_format_raw(struct archive *a);
int la_read_support_filter_all(struct archive *a);
int la_read_open(struct archive *a, void *client, archive_open_callback *open, archive_read_callback *read, archive_close_callback *close);
int la_read_next_header(struct archive *a, struct archive_entry **entry);
la_ssize_t la_read_data(struct archive *a, void *buffer, size_t size);
int la_read_data_block(struct archive *a, const void **buffer, size_t *size, la_int64_t *offset);
const char *la_error_string(struct archive *a);
// Zips (OSV's per-ecosystem exports), read from a file so that libarchive can use the
// central directory.
int la_read_support_format_zip(struct archive *a);
int la_read_open_filename(struct archive *a, const char *path, size_t block_size);
int la_read_data_skip(struct archive *a);

const char *la_entry_pathname(struct archive_entry *e);
const char *la_entry_hardlink(struct archive_entry *e);
const char *la_entry_symlink(struct archive_entry *e);
__LA_MODE_T la_entry_filetype(struct archive_entry *e);
__LA_MODE_T la_entry_perm(struct archive_entry *e);
dev_t la_entry_rdev(struct archive_entry *e);
int la_entry_size_is_set(struct archive_entry *e);
la_int64_t la_entry_size(struct archive_entry *e);
la_int64_t la_entry_uid(struct archive_entry *e);
la_int64_t la_entry_gid(struct archive_entry *e);
time_t la_entry_mtime(struct archive_entry *e);
long la_entry_mtime_nsec(struct archive_entry *e);
int la_entry_xattr_reset(struct archive_entry *e);
int la_entry_xattr_next(struct archive_entry *e, const char **name, const void **value, size_t *size);
