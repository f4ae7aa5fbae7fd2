/* cache/verify.c - `ikada cache verify` for the records: action records, refs,
 * run records and the source memo (gc.h, ik_cache_verify_records).
 *
 * Each file is read as its users read it, so "verify says clean" means every
 * later read succeeds: a sealed record must match its checksum (cache/seal.h),
 * an action record must name the key it is stored under, a refs file must be
 * the one of the graph it names. A corrupt file is moved to quarantine/ (as a
 * corrupt object is); folders are listed first and changed after. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "cache/action.h"
#include "cache/cache_int.h"
#include "cache/gc.h"
#include "cache/refs.h"
#include "cache/runlog.h"
#include "cache/srcmemo.h"

struct found {
    char **paths;
    char **problems;
    size_t n, cap, pcap;
};

static void found_add(struct found *f, const char *path, const struct ik_diag *d)
{
    const char *msg = ik_diag_message(d);
    if (strncmp(msg, "error: ", 7) == 0)
        msg += 7;
    f->paths = ik_xgrow(f->paths, &f->cap, f->n + 1, sizeof *f->paths);
    f->problems = ik_xgrow(f->problems, &f->pcap, f->n + 1, sizeof *f->problems);
    f->paths[f->n] = ik_xstrdup(path);
    f->problems[f->n++] = ik_xstrndup(msg, strcspn(msg, "\n")); /* without the hint */
}

static void found_free(struct found *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->paths[i]);
        free(f->problems[i]);
    }
    free(f->paths);
    free(f->problems);
}

/* Lists a corrupt record in rep (taking the strings). Few are ever found, so
 * the array simply grows by one. */
static void report(struct ik_verify_report *rep, char *path, char *problem, char *moved)
{
    rep->bad_records = ik_xrealloc(rep->bad_records,
                                   (rep->n_bad_records + 1) * sizeof *rep->bad_records);
    rep->bad_records[rep->n_bad_records++] = (struct ik_verify_record){path, problem, moved};
    rep->records_corrupt++;
}

/* Moves path to quarantine/<prefix>-<base name>, never over an earlier one.
 * Returns the new path, or NULL (left in place) when it cannot be moved. */
static char *quarantine(struct ik_cache *c, const char *path, const char *prefix)
{
    char *qdir = ik_cache_path(c, "quarantine");
    struct ik_diag md = IK_DIAG_INIT;
    int mrc = ik_mkdirs(qdir, &md);
    ik_diag_free(&md);
    /* actions/ab/cdef… keeps its whole name: ab + cdef… */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *name = ik_xstrdup(base);
    if (strcmp(prefix, "action") == 0 && slash != NULL && slash - path >= 3) {
        free(name);
        name = ik_xasprintf("%.2s%s", slash - 2, base);
    }
    char *dest = NULL;
    for (int i = 0; mrc == 0 && i < 1000; i++) {
        free(dest);
        dest = i == 0 ? ik_xasprintf("%s/%s-%s", qdir, prefix, name)
                      : ik_xasprintf("%s/%s-%s.%d", qdir, prefix, name, i);
        if (access(dest, F_OK) != 0)
            break;
    }
    if (mrc != 0 || dest == NULL || rename(path, dest) != 0) {
        free(dest);
        dest = NULL;
    } else {
        ik_fsync_dir(qdir);
    }
    free(name);
    free(qdir);
    return dest;
}

/* Moves what was found and reports it. */
static void settle(struct ik_cache *c, struct found *f, const char *prefix,
                   struct ik_verify_report *rep)
{
    for (size_t i = 0; i < f->n; i++) {
        char *moved = quarantine(c, f->paths[i], prefix);
        report(rep, f->paths[i], f->problems[i], moved);
        f->paths[i] = f->problems[i] = NULL;
    }
}

struct action_ctx {
    const struct ik_cache *c;
    struct found *f;
    size_t checked;
    int err;
    struct ik_diag *d;
};

static int check_action(const struct ik_hash *h, const struct stat *st, void *arg)
{
    (void)st;
    struct action_ctx *x = arg;
    struct ik_action *a = NULL;
    struct ik_diag ad = IK_DIAG_INIT;
    int rc = ik_action_get(x->c, h, &a, &ad);
    ik_action_free(a);
    if (rc == -ENOENT) { /* removed since the listing */
        ik_diag_free(&ad);
        return 0;
    }
    x->checked++;
    if (rc == IK_ECORRUPT) {
        char *path = ik__fanout_path(x->c, "actions", h);
        found_add(x->f, path, &ad);
        free(path);
        rc = 0;
    } else if (rc != 0) {
        const char *msg = ik_diag_message(&ad);
        ik_diag_set(x->d, rc, "%s", strncmp(msg, "error: ", 7) == 0 ? msg + 7 : msg);
    }
    ik_diag_free(&ad);
    return rc;
}

/* Checks every *.mp file of folder rel (below the root) with check. */
static int check_folder(struct ik_cache *c, const char *rel, const char *prefix,
                        int (*check)(struct ik_cache *c, const char *path, struct ik_diag *d),
                        struct ik_verify_report *rep, struct ik_diag *d)
{
    char *dir_path = ik_cache_path(c, rel);
    DIR *dir = opendir(dir_path);
    int rc = 0;
    if (dir == NULL && errno != ENOENT) {
        int e = errno;
        rc = ik_diag_set(d, -e, "cannot list %s: %s", ik_display_path(dir_path), strerror(e));
    }
    struct found f = {0};
    struct dirent *de;
    while (rc == 0 && dir != NULL && (de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= 3 || strcmp(de->d_name + len - 3, ".mp") != 0)
            continue;
        char *path = ik_xasprintf("%s/%s", dir_path, de->d_name);
        struct ik_diag fd = IK_DIAG_INIT;
        int frc = check(c, path, &fd);
        if (frc == IK_ECORRUPT) {
            found_add(&f, path, &fd);
        } else if (frc != 0 && frc != -ENOENT) {
            const char *msg = ik_diag_message(&fd);
            rc = ik_diag_set(d, frc, "%s", strncmp(msg, "error: ", 7) == 0 ? msg + 7 : msg);
        }
        if (frc != -ENOENT)
            rep->records_checked++;
        ik_diag_free(&fd);
        free(path);
    }
    if (dir != NULL)
        closedir(dir);
    if (rc == 0)
        settle(c, &f, prefix, rep);
    found_free(&f);
    free(dir_path);
    return rc;
}

static int check_refs(struct ik_cache *c, const char *path, struct ik_diag *d)
{
    return ik_refs_check(c, path, d);
}

static int check_run(struct ik_cache *c, const char *path, struct ik_diag *d)
{
    (void)c;
    return ik_runlog_check(path, d);
}

struct memo_ctx {
    struct ik_cache *c;
    struct ik_verify_report *rep;
};

static void memo_bad(const char *problem, void *arg)
{
    struct memo_ctx *x = arg;
    report(x->rep, ik_cache_path(x->c, "srcmemo"), ik_xstrdup(problem), NULL);
}

int ik_cache_verify_records(struct ik_cache *c, struct ik_verify_report *rep, struct ik_diag *d)
{
    struct found f = {0};
    struct action_ctx x = {c, &f, 0, 0, d};
    int rc = ik__foreach_fanout(c, "actions", check_action, &x);
    if (rc != 0 && d->code == 0)
        rc = ik_diag_set(d, rc, "cannot list the action records of %s: %s",
                         ik_display_path(c->root), strerror(-rc));
    rep->records_checked += x.checked;
    if (rc == 0)
        settle(c, &f, "action", rep);
    found_free(&f);
    if (rc == 0)
        rc = check_folder(c, "refs", "refs", check_refs, rep, d);
    if (rc == 0)
        rc = check_folder(c, "refs/legacy", "refs-legacy", check_refs, rep, d);
    if (rc == 0)
        rc = check_folder(c, "runs", "run", check_run, rep, d);
    size_t memo_entries = 0;
    struct memo_ctx mx = {c, rep};
    if (rc == 0)
        rc = ik_srcmemo_check(c, &memo_entries, memo_bad, &mx, d);
    rep->records_checked += memo_entries;
    return rc;
}
