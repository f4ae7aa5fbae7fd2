/* base/file.c - durable writes (temp file, fsync, rename, folder fsync),
 * mkdir -p, rm -rf, whole-file reads, and the write-fault hook used by tests.
 *
 * Every byte that reaches the cache goes through ik__write_all, so one injected
 * fault (ik_file_set_fault or IKADA_FAULT_WRITE) exercises every writer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/diag.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/xmalloc.h"

/* The fault hook is process state by nature (it must reach writers deep in any
 * call chain); it is a test facility, guarded by a mutex. */
static pthread_mutex_t fault_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fault_env_once = PTHREAD_ONCE_INIT;
static int fault_err;
static long long fault_ok_bytes;

static void fault_from_env(void)
{
    const char *s = getenv("IKADA_FAULT_WRITE");
    if (s == NULL || *s == '\0')
        return;
    const char *colon = strchr(s, ':');
    if (colon == NULL)
        return;
    static const struct {
        const char *name;
        int err;
    } names[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EDQUOT", EDQUOT}, {"EFBIG", EFBIG}};
    int err = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((size_t)(colon - s) == strlen(names[i].name) &&
            strncmp(s, names[i].name, (size_t)(colon - s)) == 0)
            err = names[i].err;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(colon + 1, &end, 10);
    if (err == 0 || errno != 0 || end == colon + 1 || *end != '\0' || n < 0) {
        fprintf(stderr, "ikada: ignoring IKADA_FAULT_WRITE=%s (expected e.g. ENOSPC:4096)\n", s);
        return;
    }
    fault_err = err;
    fault_ok_bytes = n;
}

void ik_file_set_fault(int err, long long ok_bytes)
{
    pthread_once(&fault_env_once, fault_from_env);
    pthread_mutex_lock(&fault_mu);
    fault_err = err;
    fault_ok_bytes = ok_bytes < 0 ? 0 : ok_bytes;
    pthread_mutex_unlock(&fault_mu);
}

/* How many of len bytes may be written before the injected fault; sets *err
 * when the fault cuts the write short. */
static size_t fault_allow(size_t len, int *err)
{
    pthread_once(&fault_env_once, fault_from_env);
    *err = 0;
    pthread_mutex_lock(&fault_mu);
    size_t allow = len;
    if (fault_err != 0) {
        if ((long long)len > fault_ok_bytes) {
            allow = (size_t)fault_ok_bytes;
            *err = fault_err;
        }
        fault_ok_bytes -= (long long)allow;
    }
    pthread_mutex_unlock(&fault_mu);
    return allow;
}

int ik__write_all(int fd, const void *buf, size_t len)
{
    int ferr;
    size_t allow = fault_allow(len, &ferr);
    const char *p = buf;
    size_t left = allow;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        left -= (size_t)n;
    }
    return ferr ? -ferr : 0;
}

const char *ik_display_path(const char *path)
{
    char cwd[PATH_MAX];
    if (path[0] != '/' || getcwd(cwd, sizeof cwd) == NULL)
        return path;
    size_t n = strlen(cwd);
    if (n > 1 && strncmp(path, cwd, n) == 0 && path[n] == '/' && path[n + 1] != '\0')
        return path + n + 1;
    return path;
}

int ik_tmp_create(const char *tmp_dir, const char *for_path, char **tmp_path, struct ik_diag *d)
{
    static atomic_uint counter;
    for (int attempt = 0; attempt < 16; attempt++) {
        uint32_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
            rnd = (uint32_t)(ik_clock_wall_ms() * 2654435761u) ^ (uint32_t)attempt;
        char *name = ik_xasprintf("%s/%ld.%u.%08x.tmp", tmp_dir, (long)getpid(),
                                  atomic_fetch_add(&counter, 1), rnd);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            *tmp_path = name;
            return fd;
        }
        int e = errno;
        free(name);
        if (e == ENOENT && attempt == 0 && mkdir(tmp_dir, 0777) == 0)
            continue; /* tmp/ was removed by hand: recreate it once */
        if (e != EEXIST)
            return ik_diag_set(d, -e, "cannot write %s: cannot create a temporary file in %s: %s",
                               ik_display_path(for_path), ik_display_path(tmp_dir),
                               strerror(e));
    }
    return ik_diag_set(d, -EEXIST, "cannot write %s: no free temporary name in %s",
                       ik_display_path(for_path), ik_display_path(tmp_dir));
}

void ik_tmp_abort(int fd, const char *tmp_path)
{
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp_path);
    errno = e;
}

int ik_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (fsync(fd) != 0 && errno != EINVAL) /* some file systems cannot fsync folders */
        rc = -errno;
    close(fd);
    return rc;
}

int ik_tmp_commit(int fd, const char *tmp_path, const char *path, mode_t mode, struct ik_diag *d)
{
    const char *step;
    if (fchmod(fd, mode) != 0) {
        step = "chmod";
        goto fail;
    }
    if (fsync(fd) != 0) {
        step = "fsync";
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        step = "close";
        goto fail;
    }
    fd = -1;
    if (rename(tmp_path, path) != 0) {
        step = "rename";
        goto fail;
    }
    char *dir = ik_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    int rc = ik_fsync_dir(slash == NULL ? "." : (slash == dir ? "/" : dir));
    free(dir);
    if (rc != 0)
        return ik_diag_set(d, rc, "cannot write %s: fsync of its folder: %s",
                           ik_display_path(path), strerror(-rc));
    return 0;
fail:;
    int e = errno;
    ik_tmp_abort(fd, tmp_path);
    return ik_diag_set(d, -e, "cannot write %s: %s: %s", ik_display_path(path), step,
                       strerror(e));
}

int ik_write_atomic(const char *tmp_dir, const char *path, const void *data, size_t len,
                    mode_t mode, struct ik_diag *d)
{
    char *tmp = NULL;
    int fd = ik_tmp_create(tmp_dir, path, &tmp, d);
    if (fd < 0)
        return fd;
    int rc = ik__write_all(fd, data, len);
    if (rc != 0) {
        ik_tmp_abort(fd, tmp);
        free(tmp);
        return ik_diag_set(d, rc, "cannot write %s: %s", ik_display_path(path), strerror(-rc));
    }
    rc = ik_tmp_commit(fd, tmp, path, mode, d);
    free(tmp);
    return rc;
}

int ik_mkdirs(const char *path, struct ik_diag *d)
{
    char *p = ik_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            rc = ik_diag_set(d, -e, "cannot create folder %s: %s", ik_display_path(p),
                             strerror(e));
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    if (rc == 0) {
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = ik_diag_set(d, -ENOTDIR, "cannot create folder %s: %s",
                             ik_display_path(path), strerror(ENOTDIR));
    }
    free(p);
    return rc;
}

int ik_read_file(const char *path, char **data, size_t *len, struct ik_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot open %s: %s", ik_display_path(path), strerror(e));
    }
    struct ik_buf b = IK_BUF_INIT;
    char chunk[65536];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            rc = ik_diag_set(d, -e, "cannot read %s: %s", ik_display_path(path), strerror(e));
            break;
        }
        if (n == 0)
            break;
        ik_buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    if (rc != 0) {
        ik_buf_free(&b);
        return rc;
    }
    *len = b.len;
    *data = ik_buf_steal(&b);
    return 0;
}

/* Removes everything below the open folder dfd, then nothing else. */
static int remove_below(int dfd)
{
    DIR *dir = fdopendir(dfd);
    if (dir == NULL) {
        int e = errno;
        close(dfd);
        return -e;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(dir), de->d_name, 0) == 0 || errno == ENOENT)
            continue;
        if (errno != EISDIR && errno != EPERM) {
            rc = -errno;
            continue;
        }
        int sub = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            rc = -errno;
            continue;
        }
        int r = remove_below(sub);
        if (r != 0)
            rc = r;
        else if (unlinkat(dirfd(dir), de->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT)
            rc = -errno;
    }
    closedir(dir);
    return rc;
}

int ik_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = remove_below(fd);
    if (rc != 0)
        return rc;
    return rmdir(path) == 0 || errno == ENOENT ? 0 : -errno;
}

int ik_copy_file_atomic(const char *src, const char *dst, mode_t mode, struct ik_diag *d)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot open %s: %s", ik_display_path(src), strerror(e));
    }
    char *dir = ik_xstrdup(dst), *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    char *tmp = NULL;
    int out = ik_tmp_create(slash ? dir : ".", dst, &tmp, d);
    free(dir);
    int rc = out < 0 ? out : 0;
    enum { BLOCK = 1 << 20 };
    char *buf = rc == 0 ? ik_xmalloc(BLOCK) : NULL;
    while (rc == 0) {
        ssize_t n = read(in, buf, BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            rc = ik_diag_set(d, -e, "cannot read %s: %s", ik_display_path(src), strerror(e));
        } else if (n == 0) {
            break;
        } else if ((rc = ik__write_all(out, buf, (size_t)n)) != 0) {
            rc = ik_diag_set(d, rc, "cannot write %s: %s", ik_display_path(dst), strerror(-rc));
        }
    }
    free(buf);
    close(in);
    if (out >= 0 && rc == 0)
        rc = ik_tmp_commit(out, tmp, dst, mode, d);
    else if (out >= 0)
        ik_tmp_abort(out, tmp);
    free(tmp);
    return rc;
}

void ik_map_drop(const void *p, size_t n)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo = (uintptr_t)p, hi = lo + n;
    lo = (lo + page - 1) / page * page;
    hi = hi / page * page;
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* ---- ik_walk_files ---- */

struct walk_state {
    const char *top, *verb;
    int loop_code;
    ik_walk_file_fn on_file;
    void *arg;
    struct stat *stack; /* the folders being walked, to catch symlink loops */
    size_t depth, stack_cap;
};

static int walk_folder(struct walk_state *w, const char *rel, struct ik_diag *d);

/* One directory entry: a file handed on, a folder walked into. */
static int walk_entry(struct walk_state *w, const char *rel, const char *abs, struct ik_diag *d)
{
    struct stat st;
    if (stat(abs, &st) != 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot read %s: %s", ik_display_path(abs), strerror(e));
    }
    if (S_ISREG(st.st_mode))
        return w->on_file(w->arg, rel, abs, &st, d);
    if (!S_ISDIR(st.st_mode))
        return 0;
    for (size_t i = 0; i < w->depth; i++)
        if (w->stack[i].st_dev == st.st_dev && w->stack[i].st_ino == st.st_ino)
            return ik_diag_set(d, w->loop_code, "cannot %s folder %s: %s links back to a folder "
                               "above it", w->verb, ik_display_path(w->top), rel);
    w->stack = ik_xgrow(w->stack, &w->stack_cap, w->depth + 1, sizeof *w->stack);
    w->stack[w->depth++] = st;
    int rc = walk_folder(w, rel, d);
    w->depth--;
    return rc;
}

static int walk_folder(struct walk_state *w, const char *rel, struct ik_diag *d)
{
    char *dir_path = rel[0] ? ik_xasprintf("%s/%s", w->top, rel) : ik_xstrdup(w->top);
    DIR *dir = opendir(dir_path);
    if (dir == NULL) {
        int e = errno;
        int rc = ik_diag_set(d, -e, "cannot read folder %s: %s", ik_display_path(dir_path),
                             strerror(e));
        free(dir_path);
        return rc;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child = rel[0] ? ik_xasprintf("%s/%s", rel, de->d_name) : ik_xstrdup(de->d_name);
        char *abs = ik_xasprintf("%s/%s", dir_path, de->d_name);
        rc = walk_entry(w, child, abs, d);
        free(abs);
        free(child);
    }
    closedir(dir);
    free(dir_path);
    return rc;
}

int ik_walk_files(const char *top, const struct stat *top_st, const char *verb, int loop_code,
                  ik_walk_file_fn on_file, void *arg, struct ik_diag *d)
{
    struct walk_state w = {top, verb, loop_code, on_file, arg, NULL, 0, 0};
    w.stack = ik_xgrow(NULL, &w.stack_cap, 1, sizeof *w.stack);
    w.stack[w.depth++] = *top_st; /* a link back to top is a loop too */
    int rc = walk_folder(&w, "", d);
    free(w.stack);
    return rc;
}
