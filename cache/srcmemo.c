/* cache/srcmemo.c - source-file hashes memoised by (path, dev, ino, size, mtime_ns).
 *
 * The memo is an append-only msgpack stream (root/srcmemo) loaded into an
 * open-addressing table keyed by absolute path. Appends hold an exclusive flock
 * so concurrent runs interleave whole records; a torn tail is cut off and a
 * corrupt entry overwritten with nil bytes under that lock, with one warning,
 * so later appends stay readable and later runs do not warn again. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "cache/cache_int.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/glob.h"
#include "cache/seal.h"
#include "cache/srcmemo.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"

/* A file modified less than this long ago may still change within the same
 * timestamp tick (coarse kernel clocks, 1 s on some file systems), so its
 * stat tuple cannot vouch for its content yet: it is hashed but not memoised
 * (git's "racily clean" rule). */
#define RACY_WINDOW_NS (2LL * 1000000000LL)

struct memo_entry {
    char *path;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    struct ik_hash hash;
};

struct ik_srcmemo {
    struct ik_cache *c;
    char *file;               /* root/srcmemo */
    struct memo_entry *e;     /* one per path */
    size_t n, cap;
    size_t *slot;             /* open addressing: index + 1 into e, 0 = empty */
    size_t n_slots;           /* power of two */
    int append_fd;            /* opened on the first append; -1 before */
    uint64_t hashed_bytes;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static size_t *find_slot(struct ik_srcmemo *m, const char *path)
{
    size_t mask = m->n_slots - 1;
    for (size_t i = fnv1a(path) & mask;; i = (i + 1) & mask)
        if (m->slot[i] == 0 || strcmp(m->e[m->slot[i] - 1].path, path) == 0)
            return &m->slot[i];
}

static void grow_table(struct ik_srcmemo *m)
{
    free(m->slot);
    m->n_slots = m->n_slots ? m->n_slots * 2 : 64;
    m->slot = ik_xcalloc(m->n_slots, sizeof *m->slot);
    for (size_t i = 0; i < m->n; i++)
        *find_slot(m, m->e[i].path) = i + 1;
}

static struct memo_entry *lookup(struct ik_srcmemo *m, const char *path)
{
    if (m->n_slots == 0)
        return NULL;
    size_t *s = find_slot(m, path);
    return *s ? &m->e[*s - 1] : NULL;
}

/* Inserts or replaces (the last entry for a path wins). */
static void remember(struct ik_srcmemo *m, const struct memo_entry *src)
{
    struct memo_entry *old = lookup(m, src->path);
    if (old != NULL) {
        char *p = old->path;
        *old = *src;
        old->path = p;
        return;
    }
    if ((m->n + 1) * 2 > m->n_slots)
        grow_table(m);
    m->e = ik_xgrow(m->e, &m->cap, m->n + 1, sizeof *m->e);
    m->e[m->n] = *src;
    m->e[m->n].path = ik_xstrdup(src->path);
    m->n++;
    *find_slot(m, src->path) = m->n;
}

static bool get_u64(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *out = o->via.u64;
    return true;
}

/* What a pass over the stream found. */
struct scan {
    size_t valid;   /* length of the prefix made of complete msgpack values */
    size_t entries; /* sealed entries, good or bad */
    struct bad_entry {
        size_t off, len;
    } *bad; /* sealed entries whose checksum does not match */
    size_t n_bad, cap;
};

/* Parses the stream in data; with m, remembers every well-formed entry whose
 * seal matches. An entry of 6 items (an ikada before entries were sealed)
 * cannot vouch for its hash and is not used; other shapes are skipped as a
 * future format's. */
static void scan_stream(struct ik_srcmemo *m, const char *data, size_t len, struct scan *sc)
{
    msgpack_unpacked un;
    msgpack_unpacked_init(&un);
    size_t off = 0;
    memset(sc, 0, sizeof *sc);
    while (msgpack_unpack_next(&un, data, len, &off) == MSGPACK_UNPACK_SUCCESS) {
        size_t start = sc->valid;
        sc->valid = off;
        const msgpack_object *o = &un.data;
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 7)
            continue;
        sc->entries++;
        const msgpack_object *f = o->via.array.ptr;
        struct memo_entry e;
        uint64_t mt;
        if (ik_seal_check_array(data + start, off - start, o) != IK_SEAL_OK ||
            f[0].type != MSGPACK_OBJECT_STR || !get_u64(&f[1], &e.dev) ||
            !get_u64(&f[2], &e.ino) || !get_u64(&f[3], &e.size) || !get_u64(&f[4], &mt) ||
            f[5].type != MSGPACK_OBJECT_BIN || f[5].via.bin.size != IK_HASH_BYTES) {
            sc->bad = ik_xgrow(sc->bad, &sc->cap, sc->n_bad + 1, sizeof *sc->bad);
            sc->bad[sc->n_bad++] = (struct bad_entry){start, off - start};
            continue;
        }
        if (m == NULL)
            continue;
        e.mtime_ns = (int64_t)mt;
        memcpy(e.hash.b, f[5].via.bin.ptr, IK_HASH_BYTES);
        e.path = ik_mp_strdup(&f[0]);
        remember(m, &e);
        free(e.path);
    }
    msgpack_unpacked_destroy(&un);
}

/* Under the append lock (so no writer is mid-record): re-reads the memo,
 * overwrites each corrupt entry with nil bytes (msgpack values every reader
 * skips; the entries around it and concurrent appenders' offsets stay as they
 * are) and cuts a torn tail. Calls bad (if given) for each repair, once: a
 * second process finds nothing left to repair. Returns the sealed entries
 * seen, or -errno. */
static long repair(const char *file, void (*bad)(size_t off, const char *what, void *arg),
                   void *arg)
{
    int fd = open(file, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno; /* read-only cache: leave it; the loader skips the damage anyway */
    if (flock(fd, LOCK_EX) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    char *data = NULL;
    size_t len = 0;
    struct ik_diag d = IK_DIAG_INIT;
    long rc = 0;
    if (ik_read_file(file, &data, &len, &d) == 0) {
        struct scan sc;
        scan_stream(NULL, data, len, &sc);
        char nil[256];
        memset(nil, 0xc0, sizeof nil);
        for (size_t i = 0; i < sc.n_bad; i++) {
            bool ok = true;
            for (size_t k = 0; ok && k < sc.bad[i].len; k += sizeof nil) {
                size_t n = sc.bad[i].len - k < sizeof nil ? sc.bad[i].len - k : sizeof nil;
                ok = pwrite(fd, nil, n, (off_t)(sc.bad[i].off + k)) == (ssize_t)n;
            }
            if (bad && ok)
                bad(sc.bad[i].off, "a corrupt entry (its checksum does not match its bytes)", arg);
        }
        if (sc.valid < len && ftruncate(fd, (off_t)sc.valid) == 0 && bad)
            bad(sc.valid, "a torn record (a run was interrupted while writing it)", arg);
        rc = (long)sc.entries;
        free(sc.bad);
    } else {
        rc = d.code;
    }
    ik_diag_free(&d);
    free(data);
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

static void warn_repair(size_t off, const char *what, void *arg)
{
    fprintf(stderr, "ikada: warning: %s: offset %zu: dropped %s\n",
            ik_display_path((const char *)arg), off, what);
}

int ik_srcmemo_open(struct ik_cache *c, struct ik_srcmemo **out, struct ik_diag *d)
{
    struct ik_srcmemo *m = ik_xcalloc(1, sizeof *m);
    m->c = c;
    m->file = ik_cache_path(c, "srcmemo");
    m->append_fd = -1;
    char *data = NULL;
    size_t len = 0;
    int rc = 0;
    if (access(m->file, F_OK) == 0 || errno != ENOENT) { /* a missing memo is an empty one */
        rc = ik_read_file(m->file, &data, &len, d);
        struct scan sc = {0};
        if (rc == 0)
            scan_stream(m, data, len, &sc);
        /* Damage is repaired once, by whoever sees it first, so it is
         * warned about once and not on every later run. */
        if (rc == 0 && (sc.n_bad > 0 || sc.valid < len))
            (void)repair(m->file, warn_repair, m->file);
        free(sc.bad);
    }
    free(data);
    if (rc != 0) {
        ik_srcmemo_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

struct check_ctx {
    void (*bad)(const char *problem, void *arg);
    void *arg;
    const char *file;
};

static void report_repair(size_t off, const char *what, void *arg)
{
    struct check_ctx *x = arg;
    char *msg = ik_xasprintf("%s: offset %zu: %s", ik_display_path(x->file), off, what);
    x->bad(msg, x->arg);
    free(msg);
}

int ik_srcmemo_check(struct ik_cache *c, size_t *checked,
                     void (*bad)(const char *problem, void *arg), void *arg, struct ik_diag *d)
{
    struct check_ctx x = {bad, arg, NULL};
    char *file = ik_cache_path(c, "srcmemo");
    x.file = file;
    long n = repair(file, report_repair, &x);
    int rc = 0;
    if (n == -ENOENT)
        n = 0;
    if (n < 0)
        rc = ik_diag_set(d, (int)n, "cannot check %s: %s", ik_display_path(file),
                         strerror((int)-n));
    else
        *checked = (size_t)n;
    free(file);
    return rc;
}

/* Appends one entry. Failure only costs a re-hash next time, so it is not an
 * error; a partial write is cut back so the stream stays parseable. */
static void append_entry(struct ik_srcmemo *m, const struct memo_entry *e)
{
    if (m->append_fd < 0)
        m->append_fd = open(m->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (m->append_fd < 0)
        return;
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_array_begin(&w, 7);
    ik_mp_pack_str(&w.pk, e->path);
    msgpack_pack_uint64(&w.pk, e->dev);
    msgpack_pack_uint64(&w.pk, e->ino);
    msgpack_pack_uint64(&w.pk, e->size);
    msgpack_pack_uint64(&w.pk, (uint64_t)e->mtime_ns);
    ik_mp_pack_bin(&w.pk, e->hash.b, IK_HASH_BYTES);
    ik_seal_array(&w);
    ik_mp_array_end(&w);
    if (flock(m->append_fd, LOCK_EX) == 0) {
        struct stat st;
        bool have_size = fstat(m->append_fd, &st) == 0;
        if (ik__write_all(m->append_fd, w.sb.data, w.sb.size) != 0 && have_size)
            (void)!ftruncate(m->append_fd, st.st_size);
        flock(m->append_fd, LOCK_UN);
    }
    ik_mp_writer_free(&w);
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           mtime_ns(a) == mtime_ns(b);
}

/* Hash of the regular file at abs (already stat'ed as st). */
static int file_hash(struct ik_srcmemo *m, const char *abs, const struct stat *st,
                     struct ik_hash *out, struct ik_diag *d)
{
    struct memo_entry *e = lookup(m, abs);
    if (e != NULL && e->dev == (uint64_t)st->st_dev && e->ino == (uint64_t)st->st_ino &&
        e->size == (uint64_t)st->st_size && e->mtime_ns == mtime_ns(st)) {
        *out = e->hash;
        return 0;
    }
    struct ik_hash h;
    uint64_t size = 0;
    int rc = ik_hash_file(abs, &h, &size, d);
    if (rc != 0)
        return rc;
    m->hashed_bytes += size;
    *out = h;
    /* Memoise only if the file did not change while we read it and is old
     * enough that its timestamp would show the next change. */
    struct stat after;
    int64_t now_ns = ik_clock_wall_ns();
    if (stat(abs, &after) != 0 || !same_stat(st, &after) || size != (uint64_t)st->st_size ||
        mtime_ns(st) > now_ns - RACY_WINDOW_NS)
        return 0;
    struct memo_entry ne = {(char *)abs, (uint64_t)st->st_dev, (uint64_t)st->st_ino,
                            (uint64_t)st->st_size, mtime_ns(st), h};
    remember(m, &ne);
    append_entry(m, &ne);
    return 0;
}

struct manifest_item {
    char *rel;
    uint64_t size;
    struct ik_hash hash;
};

struct walk {
    struct ik_srcmemo *m;
    struct manifest_item *items;
    size_t n, cap;
};

/* A regular file of the folder (ik_walk_files): hashed (memoised), listed. */
static int add_file(void *arg, const char *rel, const char *abs, const struct stat *st,
                    struct ik_diag *d)
{
    struct walk *w = arg;
    struct ik_hash h;
    int rc = file_hash(w->m, abs, st, &h, d);
    if (rc == 0) {
        w->items = ik_xgrow(w->items, &w->cap, w->n + 1, sizeof *w->items);
        w->items[w->n++] = (struct manifest_item){ik_xstrdup(rel), (uint64_t)st->st_size, h};
    }
    return rc;
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const struct manifest_item *)a)->rel, ((const struct manifest_item *)b)->rel);
}

/* The hash of a manifest of items sorted by rel; *size their total. */
static void manifest_hash(const struct manifest_item *items, size_t n, struct ik_hash *out,
                          uint64_t *size)
{
    struct ik_mp_writer mw;
    ik_mp_writer_init(&mw);
    ik_mp_array_begin(&mw, n);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        ik_mp_array_begin(&mw, 3);
        ik_mp_pack_str(&mw.pk, items[i].rel);
        msgpack_pack_uint64(&mw.pk, items[i].size);
        ik_mp_pack_bin(&mw.pk, items[i].hash.b, IK_HASH_BYTES);
        ik_mp_array_end(&mw);
        total += items[i].size;
    }
    ik_mp_array_end(&mw);
    ik_hash_bytes(mw.sb.data, mw.sb.size, out);
    if (size)
        *size = total;
    ik_mp_writer_free(&mw);
}

static int folder_hash(struct ik_srcmemo *m, const char *abs, const struct stat *st,
                       struct ik_hash *out, uint64_t *size, struct ik_diag *d)
{
    struct walk w = {.m = m};
    int rc = ik_walk_files(abs, st, "hash", -ELOOP, add_file, &w, d);
    if (rc == 0) {
        qsort(w.items, w.n, sizeof *w.items, cmp_item);
        manifest_hash(w.items, w.n, out, size);
    }
    for (size_t i = 0; i < w.n; i++)
        free(w.items[i].rel);
    free(w.items);
    return rc;
}

int ik_srcmemo_hash(struct ik_srcmemo *m, const char *path, struct ik_hash *out, uint64_t *size,
                    struct ik_diag *d)
{
    char abs[PATH_MAX];
    if (realpath(path, abs) == NULL) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot open %s: %s", path, strerror(e));
    }
    struct stat st;
    if (stat(abs, &st) != 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot open %s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode))
        return folder_hash(m, abs, &st, out, size, d);
    if (!S_ISREG(st.st_mode))
        return ik_diag_set(d, -EINVAL, "cannot hash %s: not a regular file or folder", path);
    int rc = file_hash(m, abs, &st, out, d);
    if (rc == 0 && size)
        *size = (uint64_t)st.st_size;
    return rc;
}

/* Each match is hashed as ik_srcmemo_hash does (memoised), then the set as
 * a folder's manifest of [rel, size, hash]: the names a node sees and their
 * contents, in an order of their own. */
int ik_srcmemo_hash_glob(struct ik_srcmemo *m, const char *pattern, struct ik_hash *out,
                         uint64_t *size, struct ik_diag *d)
{
    struct ik_glob g;
    int rc = ik_glob_expand(pattern, &g, d);
    if (rc == 0 && g.n == 0)
        rc = ik_diag_set(d, -ENOENT, "no file matches %s", pattern);
    struct manifest_item *items = ik_xcalloc(g.n ? g.n : 1, sizeof *items);
    for (size_t i = 0; rc == 0 && i < g.n; i++) {
        items[i].rel = g.m[i].rel;
        rc = ik_srcmemo_hash(m, g.m[i].path, &items[i].hash, &items[i].size, d);
    }
    if (rc == 0)
        manifest_hash(items, g.n, out, size);
    free(items);
    ik_glob_free(&g);
    return rc;
}

uint64_t ik_srcmemo_hashed_bytes(const struct ik_srcmemo *m)
{
    return m->hashed_bytes;
}

void ik_srcmemo_close(struct ik_srcmemo *m)
{
    if (m == NULL)
        return;
    if (m->append_fd >= 0)
        close(m->append_fd);
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].path);
    free(m->e);
    free(m->slot);
    free(m->file);
    free(m);
}
