/* cache/gc.c - garbage collection, whole-store verification and disk usage.
 *
 * gc marks from the roots (refs and recent runs) and sweeps objects/ and
 * actions/. It lists first and deletes after, so a folder is never modified
 * while it is being read, and it relies on the caller's exclusive cache lock
 * for the guarantee that no run is adding references meanwhile. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/action.h"
#include "cache/cache_int.h"
#include "cache/cas.h"
#include "base/file.h"
#include "cache/gc.h"
#include "cache/kv.h"
#include "cache/lock.h"
#include "cache/refs.h"
#include "cache/runlog.h"
#include "base/error.h"
#include "base/xmalloc.h"

/* A set of hashes: open addressing on the hash's own (uniform) first bytes. */
struct hset {
    struct ik_hash *slot;
    bool *used;
    size_t n, n_slots;
};

static size_t hslot(const struct hset *s, const struct ik_hash *h)
{
    uint64_t v;
    memcpy(&v, h->b, sizeof v);
    size_t mask = s->n_slots - 1;
    size_t i = (size_t)v & mask;
    while (s->used[i] && !ik_hash_equal(&s->slot[i], h))
        i = (i + 1) & mask;
    return i;
}

static void hset_add(struct hset *s, const struct ik_hash *h)
{
    if ((s->n + 1) * 2 > s->n_slots) {
        struct hset old = *s;
        s->n_slots = old.n_slots ? old.n_slots * 2 : 256;
        s->slot = ik_xcalloc(s->n_slots, sizeof *s->slot);
        s->used = ik_xcalloc(s->n_slots, sizeof *s->used);
        s->n = 0;
        for (size_t i = 0; i < old.n_slots; i++)
            if (old.used[i])
                hset_add(s, &old.slot[i]);
        free(old.slot);
        free(old.used);
    }
    size_t i = hslot(s, h);
    if (!s->used[i]) {
        s->used[i] = true;
        s->slot[i] = *h;
        s->n++;
    }
}

static bool hset_has(const struct hset *s, const struct ik_hash *h)
{
    return s->n_slots != 0 && s->used[hslot(s, h)];
}

static void hset_free(struct hset *s)
{
    free(s->slot);
    free(s->used);
}

struct listing {
    struct ik_gc_item *items;
    size_t n, cap;
    bool is_action;
};

static int list_cb(const struct ik_hash *h, const struct stat *st, void *arg)
{
    struct listing *l = arg;
    l->items = ik_xgrow(l->items, &l->cap, l->n + 1, sizeof *l->items);
    l->items[l->n++] = (struct ik_gc_item){*h, l->is_action, (uint64_t)st->st_size};
    return 0;
}

struct kv_walk {
    struct ik_cache *c;
    const struct hset *roots;
    struct hset *keep;
    struct ik_hash *orphans; /* checkpoint keys to remove */
    size_t n_orphans, cap;
};

/* A checkpoint is an orphan once its node has finished (an action record
 * exists: the node failed to remove it, e.g. killed right after storing its
 * outputs) or when no root names its node any more (its params changed, its
 * graph was edited): no run would resume from it. */
static bool checkpoint_is_orphan(const struct kv_walk *w, const struct ik_hash *key)
{
    if (!hset_has(w->roots, key))
        return true;
    char *path = ik__fanout_path(w->c, "actions", key);
    struct stat st;
    bool finished = stat(path, &st) == 0;
    free(path);
    return finished;
}

/* kv entries (cache/kv.h) name objects that were paid for (LLM responses):
 * each one is kept, whatever refs and runs reach; checkpoints only while a
 * run could resume from them. */
static int keep_kv_value(const char *ns, const struct ik_hash *key, const struct ik_hash *value,
                         void *arg)
{
    struct kv_walk *w = arg;
    if (strcmp(ns, IK_KV_CHECKPOINTS) == 0 && checkpoint_is_orphan(w, key)) {
        w->orphans = ik_xgrow(w->orphans, &w->cap, w->n_orphans + 1, sizeof *w->orphans);
        w->orphans[w->n_orphans++] = *key;
        return 0;
    }
    hset_add(w->keep, value);
    return 0;
}

/* Collects the roots: every ref's key (older ikadas' legacy refs too) and every
 * key of the last keep_runs runs. */
static int collect_roots(struct ik_cache *c, size_t keep_runs, struct hset *roots,
                         struct ik_diag *d)
{
    struct ik_ref *refs = NULL;
    size_t n_refs = 0;
    int rc = ik_ref_list(c, IK_REF_LIST_LEGACY, &refs, &n_refs, d);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n_refs; i++)
        hset_add(roots, &refs[i].key);
    ik_refs_free(refs, n_refs);
    if (keep_runs == 0)
        return 0;
    struct ik_run *runs = NULL;
    size_t n_runs = 0;
    /* No-op runs reach only what the refs reach: they do not count. */
    const struct ik_runlog_filter real = {.real_only = true};
    rc = ik_runlog_list_where(c, keep_runs, &real, &runs, &n_runs, NULL, d);
    if (rc != 0)
        return rc;
    /* A failed node's log is an object without an action record: as a root
     * it is kept (a root keeps the object its hash names) and has nothing
     * more to mark. */
    for (size_t i = 0; i < n_runs; i++)
        for (size_t j = 0; j < runs[i].n_nodes; j++) {
            if (runs[i].nodes[j].has_key)
                hset_add(roots, &runs[i].nodes[j].key);
            if (runs[i].nodes[j].has_log)
                hset_add(roots, &runs[i].nodes[j].log);
        }
    ik_runs_free(runs, n_runs);
    return 0;
}

/* The pid in a temporary name: "<pid>.<n>.<rnd>.tmp" (base/file.h) or
 * "exec-<key>-<pid>" (a node's scratch folder, engine/exec.c); 0 if none. */
static long pid_of(const char *name)
{
    const char *p = name;
    if (strncmp(name, "exec-", 5) == 0) {
        p = strrchr(name, '-') + 1;
    } else if (!(name[0] >= '0' && name[0] <= '9')) {
        return 0;
    }
    char *end;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (end == p || errno != 0 || pid <= 0 || (long)(pid_t)pid != pid ||
        (*end != '\0' && *end != '.'))
        return 0;
    return pid;
}

/* True if a process with this pid is running (EPERM: it is, as another
 * user). A zombie is not: it has exited and closed its files, but it lingers
 * when nobody reaps it (the orphaned node of a killed run, in a container
 * whose init does not reap). */
static bool pid_alive(long pid)
{
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
        return false;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    /* "pid (comm) S ...": the state follows the last ')' (comm may hold one). */
    const char *rp = strrchr(buf, ')');
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

void ik_gc_tmp(struct ik_cache *c, size_t *removed, uint64_t *bytes)
{
    char *tmp = ik_cache_path(c, "tmp");
    DIR *dir = opendir(tmp);
    if (dir != NULL) {
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            /* The exclusive lock rules out every run and node; a live pid
             * in the name is a writer that holds no lock yet (a process
             * creating the cache writes VERSION through tmp/). */
            long pid = pid_of(de->d_name);
            if (pid != 0 && pid_alive(pid))
                continue;
            char *p = ik_xasprintf("%s/%s", tmp, de->d_name);
            struct stat st;
            uint64_t size = lstat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
            if (ik_remove_tree(p) == 0) {
                (*removed)++;
                *bytes += size;
            }
            free(p);
        }
        closedir(dir);
    }
    free(tmp);
}

/* Deletes key lock files nobody holds. Safe because every key-lock holder also
 * holds the shared cache lock, which our caller's exclusive lock rules out; the
 * try-lock is a second guard. */
static void prune_key_locks(struct ik_cache *c)
{
    char *dir_path = ik_cache_path(c, "locks");
    DIR *dir = opendir(dir_path);
    if (dir != NULL) {
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            struct ik_hash h;
            if (ik_hash_from_hex(de->d_name, &h) != 0)
                continue;
            struct ik_diag d = IK_DIAG_INIT;
            int fd = ik_lock_key(c, &h, false, &d);
            ik_diag_free(&d);
            if (fd < 0)
                continue;
            unlinkat(dirfd(dir), de->d_name, 0);
            ik_unlock(fd);
        }
        closedir(dir);
    }
    free(dir_path);
}

/* Removes the object or record, then its ab/ folder if that left it empty. */
static int sweep_one(struct ik_cache *c, const struct ik_gc_item *it)
{
    char *path = ik__fanout_path(c, it->is_action ? "actions" : "objects", &it->hash);
    int rc = unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
    if (rc == 0) {
        *strrchr(path, '/') = '\0';
        (void)rmdir(path); /* fails harmlessly while the folder has other entries */
    }
    free(path);
    return rc;
}

int ik_gc(struct ik_cache *c, size_t keep_runs, bool dry_run, struct ik_gc_report *rep,
          struct ik_diag *d)
{
    memset(rep, 0, sizeof *rep);
    struct hset roots = {0}, keep = {0};
    struct listing objs = {.is_action = false}, acts = {.is_action = true};
    size_t removed_cap = 0;
    int rc = collect_roots(c, keep_runs, &roots, d);
    if (rc != 0)
        goto out;

    /* Mark: a root keeps its spec object, its outputs and its log. */
    for (size_t i = 0; i < roots.n_slots; i++) {
        if (!roots.used[i])
            continue;
        hset_add(&keep, &roots.slot[i]);
        struct ik_action *a = NULL;
        struct ik_diag ad = IK_DIAG_INIT;
        int arc = ik_action_get(c, &roots.slot[i], &a, &ad);
        ik_diag_free(&ad);
        if (arc != 0)
            continue; /* no record (never finished) or unusable: nothing more to keep */
        for (size_t j = 0; j < a->n_outputs; j++)
            hset_add(&keep, &a->outputs[j].hash);
        if (a->has_log)
            hset_add(&keep, &a->log);
        ik_action_free(a);
    }

    struct kv_walk kw = {.c = c, .roots = &roots, .keep = &keep};
    if ((rc = ik_kv_foreach(c, keep_kv_value, &kw)) != 0) {
        free(kw.orphans);
        rc = ik_diag_set(d, rc, "cannot list the kv entries of %s: %s",
                         ik_display_path(c->root), strerror(-rc));
        goto out;
    }
    rep->checkpoints_removed = kw.n_orphans;
    for (size_t i = 0; i < kw.n_orphans && !dry_run && rc == 0; i++)
        rc = ik_kv_del(c, IK_KV_CHECKPOINTS, &kw.orphans[i], d);
    free(kw.orphans);
    if (rc != 0)
        goto out;

    /* Sweep: list everything first, then delete. */
    rc = ik__foreach_fanout(c, "objects", list_cb, &objs);
    if (rc == 0)
        rc = ik__foreach_fanout(c, "actions", list_cb, &acts);
    if (rc != 0) {
        rc = ik_diag_set(d, rc, "cannot list the cache %s: %s", ik_display_path(c->root),
                         strerror(-rc));
        goto out;
    }
    struct listing *lists[2] = {&objs, &acts};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < lists[k]->n; i++) {
            const struct ik_gc_item *it = &lists[k]->items[i];
            bool reachable = it->is_action ? hset_has(&roots, &it->hash)
                                           : hset_has(&keep, &it->hash);
            if (reachable) {
                if (it->is_action) {
                    rep->actions_kept++;
                    rep->action_bytes_kept += it->size;
                } else {
                    rep->objects_kept++;
                    rep->object_bytes_kept += it->size;
                }
                continue;
            }
            if (!dry_run && (rc = sweep_one(c, it)) != 0) {
                char hex[IK_HASH_HEX_LEN + 1];
                ik_hash_to_hex(&it->hash, hex);
                rc = ik_diag_set(d, rc, "cannot remove %s %s: %s",
                                 it->is_action ? "action record" : "object", hex, strerror(-rc));
                goto out;
            }
            if (it->is_action) {
                rep->actions_removed++;
                rep->action_bytes_removed += it->size;
            } else {
                rep->objects_removed++;
                rep->object_bytes_removed += it->size;
            }
            rep->removed = ik_xgrow(rep->removed, &removed_cap, rep->n_removed + 1,
                                    sizeof *rep->removed);
            rep->removed[rep->n_removed++] = *it;
        }
    }
    if (!dry_run) {
        ik_gc_tmp(c, &rep->tmp_removed, &rep->tmp_bytes_removed);
        prune_key_locks(c);
    }
out:
    free(objs.items);
    free(acts.items);
    hset_free(&roots);
    hset_free(&keep);
    return rc;
}

void ik_gc_report_free(struct ik_gc_report *rep)
{
    if (rep == NULL)
        return;
    free(rep->removed);
    memset(rep, 0, sizeof *rep);
}

int ik_cache_verify_all(struct ik_cache *c, struct ik_verify_report *rep, struct ik_diag *d)
{
    memset(rep, 0, sizeof *rep);
    struct listing objs = {.is_action = false};
    size_t cap = 0;
    int rc = ik__foreach_fanout(c, "objects", list_cb, &objs);
    if (rc != 0) {
        rc = ik_diag_set(d, rc, "cannot list the objects of %s: %s", ik_display_path(c->root),
                         strerror(-rc));
        goto out;
    }
    for (size_t i = 0; i < objs.n; i++) {
        struct ik_diag vd = IK_DIAG_INIT;
        int vrc = ik_cas_verify(c, &objs.items[i].hash, true, &vd);
        if (vrc == -ENOENT) { /* removed since the listing */
            ik_diag_free(&vd);
            continue;
        }
        if (vrc != 0 && vrc != IK_ECORRUPT) {
            const char *msg = ik_diag_message(&vd);
            rc = ik_diag_set(d, vrc, "%s",
                             strncmp(msg, "error: ", 7) == 0 ? msg + 7 : msg);
            ik_diag_free(&vd);
            goto out;
        }
        ik_diag_free(&vd);
        rep->objects_checked++;
        rep->bytes_checked += objs.items[i].size;
        if (vrc == 0) {
            rep->objects_ok++;
            continue;
        }
        rep->objects_corrupt++;
        rep->corrupt = ik_xgrow(rep->corrupt, &cap, rep->n_corrupt + 1, sizeof *rep->corrupt);
        rep->corrupt[rep->n_corrupt++] = objs.items[i].hash;
    }
    rc = ik_cache_verify_records(c, rep, d);
out:
    free(objs.items);
    return rc;
}

void ik_verify_report_free(struct ik_verify_report *rep)
{
    if (rep == NULL)
        return;
    free(rep->corrupt);
    for (size_t i = 0; i < rep->n_bad_records; i++) {
        free(rep->bad_records[i].path);
        free(rep->bad_records[i].problem);
        free(rep->bad_records[i].moved);
    }
    free(rep->bad_records);
    memset(rep, 0, sizeof *rep);
}

/* Adds up regular files below the open folder dfd (not following symlinks). */
static int du_walk(int dfd, struct ik_du_entry *e)
{
    DIR *dir = fdopendir(dfd);
    if (dir == NULL) {
        int err = errno;
        close(dfd);
        return -err;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed while we walked */
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sub >= 0)
                rc = du_walk(sub, e);
        } else if (S_ISREG(st.st_mode)) {
            e->bytes += (uint64_t)st.st_size;
            e->files++;
        }
    }
    closedir(dir);
    return rc;
}

int ik_cache_du(const struct ik_cache *c, struct ik_du_report *rep, struct ik_diag *d)
{
    static const char *const names[IK_DU_N] = {"objects", "actions", "runs", "quarantine", "tmp"};
    memset(rep, 0, sizeof *rep);
    for (int i = 0; i < IK_DU_N; i++) {
        struct ik_du_entry *e = &rep->dirs[i];
        e->name = names[i];
        char *path = ik_cache_path(c, names[i]);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int rc = fd < 0 ? (errno == ENOENT ? 0 : -errno) : du_walk(fd, e);
        if (rc != 0) {
            rc = ik_diag_set(d, rc, "cannot read %s: %s", ik_display_path(path),
                             strerror(-rc));
            free(path);
            return rc;
        }
        free(path);
        rep->total_bytes += e->bytes;
        rep->total_files += e->files;
    }
    return 0;
}

void ik_du_report_free(struct ik_du_report *rep)
{
    (void)rep;
}
