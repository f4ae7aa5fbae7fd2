/* base/file.h - durable file writes and small file-system helpers.
 *
 * ik_write_atomic is the only way bytes reach a final name in the cache:
 * write to a temporary file in the same folder tree (root/tmp), fsync it,
 * rename it into place, fsync the folder (redis rdbSave + fsyncFileDir). A
 * crash or a full disk leaves either the old state or the new one, never a torn
 * file. Tests inject write failures (ENOSPC, short writes) through
 * ik_file_set_fault. */
#ifndef IK_BASE_FILE_H
#define IK_BASE_FILE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/diag.h"

/* Writes data to `path` atomically via a temporary file in `tmp_dir` (which
 * must be on the same file system). mode is applied before the rename. Returns
 * 0, or -errno with d naming the path; on failure the temp file is removed and
 * `path` is untouched. */
int ik_write_atomic(const char *tmp_dir, const char *path, const void *data, size_t len,
                    mode_t mode, struct ik_diag *d);

/* mkdir -p. Returns 0 or -errno with d filled. */
int ik_mkdirs(const char *path, struct ik_diag *d);

/* fsyncs a folder so a rename inside it is durable. Returns 0 or -errno. */
int ik_fsync_dir(const char *dir);

/* Reads a whole file into a NUL-terminated malloc'd buffer. -errno with d filled. */
int ik_read_file(const char *path, char **data, size_t *len, struct ik_diag *d);

/* rm -rf; ignores ENOENT. Returns 0 or -errno. */
int ik_remove_tree(const char *path);

/* Drops the resident pages wholly inside [p, p + n) of a read-only file
 * mapping (MADV_DONTNEED): a loader that has copied a tensor out of its file
 * calls it, so that the mapped file and the copy are not both resident
 * (which doubled a model's peak memory). A later read of the range faults
 * the pages in again from the file; nothing else changes. */
void ik_map_drop(const void *p, size_t n);

/* The streaming temporary-file primitives behind ik_write_atomic, for writers
 * that stream (ik_cas_put_file, the srcmemo). */
/* Creates a new, unique temporary file in tmp_dir (name from the pid, a
 * process-wide counter and random bits, so no two processes or threads ever
 * collide). Returns the fd (O_WRONLY, mode 0600) and sets *tmp_path (the caller
 * frees), or -errno with d naming `for_path` (the final name the bytes are for). */
int ik_tmp_create(const char *tmp_dir, const char *for_path, char **tmp_path,
                   struct ik_diag *d);

/* Finishes a temporary file: chmod to mode, fsync, close, rename onto path,
 * fsync path's folder. Always consumes fd and (on failure) unlinks tmp_path.
 * Returns 0 or -errno with d naming `path`. */
int ik_tmp_commit(int fd, const char *tmp_path, const char *path, mode_t mode,
                   struct ik_diag *d);

/* Closes fd and unlinks tmp_path; keeps errno. */
void ik_tmp_abort(int fd, const char *tmp_path);

/* Copies the file src to dst (streamed, through a temporary file beside dst,
 * fsynced and renamed: dst is the old file or the complete new one), mode
 * mode. 0 or -errno with d naming the file that failed. */
int ik_copy_file_atomic(const char *src, const char *dst, mode_t mode, struct ik_diag *d);

/* path relative to the working directory when it lies below it, so messages
 * read ".ikada/objects/ab/…" rather than a long absolute path. Points into path. */
const char *ik_display_path(const char *path);

/* Fault injection for tests: after `ok_bytes` more bytes have been written by
 * ik_write_atomic (or any writer using ik__write_all), writes fail with
 * -`err` (e.g. ENOSPC). err 0 disables. Not for production use. The same can
 * be set from the environment as IKADA_FAULT_WRITE="ENOSPC:<bytes>" so that
 * integration tests can inject into a child process. */
void ik_file_set_fault(int err, long long ok_bytes);

/* Writes all of buf to fd, retrying on EINTR and short writes, honouring the
 * injected fault. Returns 0 or -errno. */
int ik__write_all(int fd, const void *buf, size_t len);

/* Walks the folder top, whose stat the caller has in top_st (following
 * symlinks, as stat does), and calls
 * on_file(arg, rel, abs, st, d) for every regular file, rel being its path
 * below top ("a/b.txt") and abs top/rel; sockets, fifos and devices are
 * skipped. Entries come in readdir order (callers sort). A folder that links
 * back to one being walked (top included) fails with loop_code and "cannot <verb> folder
 * TOP: REL links back to a folder above it"; an unreadable entry with -errno.
 * Stops at the first non-zero return of on_file and returns it. */
struct stat;
typedef int (*ik_walk_file_fn)(void *arg, const char *rel, const char *abs, const struct stat *st,
                               struct ik_diag *d);
int ik_walk_files(const char *top, const struct stat *top_st, const char *verb, int loop_code,
                  ik_walk_file_fn on_file, void *arg, struct ik_diag *d);

#endif
