/* cache/runlog.c - one msgpack record per `ikada run` under root/runs.
 *
 * Generated ids are "<started_ms, 13 digits>-<pid>", so sorting file names
 * sorts runs by start time (until the year 2286) and listing the newest N
 * reads only N files. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "cache/cache_int.h"
#include "base/file.h"
#include "cache/runlog.h"
#include "cache/seal.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/strmap.h"
#include "base/xmalloc.h"

#define RUN_FORMAT 1
#define RUN_UNSEALED_FIELDS 8 /* before records were sealed; sealed ones add "sum" */
#define RUN_MAX_BYTES (64u << 20)
#define NOOP_EXT ".noop.mp" /* a no-op run's record (cache/runlog.h) */

static void pack_hash_or_nil(msgpack_packer *pk, bool has, const struct ik_hash *h)
{
    if (has) {
        char hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(h, hex);
        ik_mp_pack_str(pk, hex);
    } else {
        msgpack_pack_nil(pk);
    }
}

static void pack_run(struct ik_mp_writer *w, const struct ik_run *run, const char *id)
{
    msgpack_packer *pk = &w->pk;
    ik_mp_map_begin(w, RUN_UNSEALED_FIELDS + 1 + run->noop + (run->graph_id != NULL));
    ik_mp_pack_str(pk, "v");
    msgpack_pack_int(pk, RUN_FORMAT);
    ik_mp_pack_str(pk, "id");
    ik_mp_pack_str(pk, id);
    ik_mp_pack_str(pk, "graph");
    ik_mp_pack_str(pk, run->graph ? run->graph : "");
    ik_mp_pack_str(pk, "started_ms");
    msgpack_pack_int64(pk, run->started_ms);
    ik_mp_pack_str(pk, "duration_ms");
    msgpack_pack_int64(pk, run->duration_ms);
    ik_mp_pack_str(pk, "exit");
    msgpack_pack_int(pk, run->exit_code);
    ik_mp_pack_str(pk, "argv");
    ik_mp_array_begin(w, run->argc);
    for (size_t i = 0; i < run->argc; i++)
        ik_mp_pack_str(pk, run->argv[i] ? run->argv[i] : "");
    ik_mp_array_end(w);
    ik_mp_pack_str(pk, "nodes");
    size_t n_nodes = run->noop ? 0 : run->n_nodes;
    ik_mp_array_begin(w, n_nodes);
    for (size_t i = 0; i < n_nodes; i++) {
        const struct ik_run_node *n = &run->nodes[i];
        ik_mp_map_begin(w, n->has_log ? 6 : 5);
        ik_mp_pack_str(pk, "name");
        ik_mp_pack_str(pk, n->name ? n->name : "");
        ik_mp_pack_str(pk, "key");
        pack_hash_or_nil(pk, n->has_key, &n->key);
        ik_mp_pack_str(pk, "status");
        ik_mp_pack_str(pk, n->status ? n->status : "");
        ik_mp_pack_str(pk, "duration_ms");
        msgpack_pack_int64(pk, n->duration_ms);
        ik_mp_pack_str(pk, "error");
        if (n->error)
            ik_mp_pack_str(pk, n->error);
        else
            msgpack_pack_nil(pk);
        if (n->has_log) {
            ik_mp_pack_str(pk, "log");
            pack_hash_or_nil(pk, true, &n->log);
        }
        ik_mp_map_end(w);
    }
    ik_mp_array_end(w);
    if (run->graph_id) {
        ik_mp_pack_str(pk, "graph_id");
        ik_mp_pack_str(pk, run->graph_id);
    }
    if (run->noop) {
        ik_mp_pack_str(pk, "noop");
        msgpack_pack_uint64(pk, run->noop_nodes);
    }
    ik_seal_map(w);
    ik_mp_map_end(w);
}

int ik_runlog_write(struct ik_cache *c, const struct ik_run *run, struct ik_diag *d)
{
    char *id = NULL, *path = NULL;
    const char *ext = run->noop ? NOOP_EXT : ".mp";
    if (run->id != NULL) {
        if (run->id[0] == '\0' || run->id[0] == '.' || strchr(run->id, '/') != NULL)
            return ik_diag_set(d, -EINVAL, "invalid run id '%s': expected a name without '/'",
                               run->id);
        id = ik_xstrdup(run->id);
        path = ik_xasprintf("%s/runs/%s%s", c->root, id, ext);
    } else {
        /* Two runs of one process in one millisecond (tests) get a suffix. */
        for (int i = 0;; i++) {
            free(id);
            free(path);
            id = i == 0 ? ik_xasprintf("%013lld-%ld", (long long)run->started_ms, (long)getpid())
                        : ik_xasprintf("%013lld-%ld-%d", (long long)run->started_ms,
                                       (long)getpid(), i);
            path = ik_xasprintf("%s/runs/%s%s", c->root, id, ext);
            if (access(path, F_OK) != 0)
                break;
        }
    }
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    pack_run(&w, run, id);
    char *dir = ik_cache_path(c, "runs");
    char *tmp = ik_cache_path(c, "tmp");
    int rc = ik_mkdirs(dir, d);
    if (rc == 0)
        rc = ik_write_atomic(tmp, path, w.sb.data, w.sb.size, 0644, d);
    free(tmp);
    free(dir);
    free(path);
    free(id);
    ik_mp_writer_free(&w);
    return rc;
}

static bool get_i64(const msgpack_object *o, int64_t *out)
{
    if (o == NULL)
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *out = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = o->via.i64;
    else
        return false;
    return true;
}

static bool get_str(const msgpack_object *o, char **out)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR)
        return false;
    *out = ik_mp_strdup(o);
    return true;
}

/* A hex hash or nil (or, when optional, absent) into *has and *h. */
static bool get_hash_or_nil(const msgpack_object *o, bool optional, bool *has, struct ik_hash *h)
{
    *has = false;
    if (o == NULL)
        return optional;
    if (o->type == MSGPACK_OBJECT_NIL)
        return true;
    if (o->type != MSGPACK_OBJECT_STR)
        return false;
    char *hex = ik_mp_strdup(o);
    int bad = ik_hash_from_hex(hex, h);
    free(hex);
    *has = bad == 0;
    return bad == 0;
}

/* Fills r; returns the first malformed field or NULL. */
static const char *parse_run(const msgpack_object *root, struct ik_run *r)
{
    int64_t v;
    if (root->type != MSGPACK_OBJECT_MAP)
        return "(the record is not a map)";
    if (!get_i64(ik_mp_get(root, "v"), &v) || v != RUN_FORMAT)
        return "v";
    if (!get_str(ik_mp_get(root, "id"), &r->id))
        return "id";
    if (!get_str(ik_mp_get(root, "graph"), &r->graph))
        return "graph";
    if (!get_i64(ik_mp_get(root, "started_ms"), &r->started_ms))
        return "started_ms";
    if (!get_i64(ik_mp_get(root, "duration_ms"), &r->duration_ms))
        return "duration_ms";
    if (!get_i64(ik_mp_get(root, "exit"), &v))
        return "exit";
    r->exit_code = (int)v;
    const msgpack_object *argv = ik_mp_get(root, "argv");
    if (argv == NULL || argv->type != MSGPACK_OBJECT_ARRAY)
        return "argv";
    r->argv = ik_xcalloc(argv->via.array.size + 1, sizeof *r->argv);
    for (uint32_t i = 0; i < argv->via.array.size; i++) {
        if (!get_str(&argv->via.array.ptr[i], &r->argv[i]))
            return "argv";
        r->argc = i + 1;
    }
    const msgpack_object *nodes = ik_mp_get(root, "nodes");
    if (nodes == NULL || nodes->type != MSGPACK_OBJECT_ARRAY)
        return "nodes";
    r->nodes = ik_xcalloc(nodes->via.array.size, sizeof *r->nodes);
    for (uint32_t i = 0; i < nodes->via.array.size; i++) {
        const msgpack_object *o = &nodes->via.array.ptr[i];
        struct ik_run_node *n = &r->nodes[i];
        r->n_nodes = i + 1;
        if (!get_str(ik_mp_get(o, "name"), &n->name) ||
            !get_str(ik_mp_get(o, "status"), &n->status) ||
            !get_i64(ik_mp_get(o, "duration_ms"), &n->duration_ms))
            return "nodes";
        if (!get_hash_or_nil(ik_mp_get(o, "key"), false, &n->has_key, &n->key))
            return "nodes[].key";
        if (!get_hash_or_nil(ik_mp_get(o, "log"), true, &n->has_log, &n->log))
            return "nodes[].log";
        const msgpack_object *e = ik_mp_get(o, "error");
        if (e != NULL && e->type == MSGPACK_OBJECT_STR)
            n->error = ik_mp_strdup(e);
    }
    const msgpack_object *gid = ik_mp_get(root, "graph_id");
    if (gid != NULL && !get_str(gid, &r->graph_id))
        return "graph_id";
    const msgpack_object *noop = ik_mp_get(root, "noop");
    if (noop != NULL) {
        if (!get_i64(noop, &v) || v < 0)
            return "noop";
        r->noop = true;
        r->noop_nodes = (size_t)v;
    }
    return NULL;
}

static int read_run(const char *path, struct ik_run *r, struct ik_diag *d)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot read %s: %s", ik_display_path(path), strerror(e));
    }
    if ((uint64_t)st.st_size > RUN_MAX_BYTES)
        return ik_diag_set(d, IK_ECORRUPT, "%s: corrupt run record: %lld bytes is too large",
                           ik_display_path(path), (long long)st.st_size);
    char *data = NULL;
    size_t len = 0;
    int rc = ik_read_file(path, &data, &len, d);
    if (rc != 0)
        return rc;
    msgpack_unpacked un;
    msgpack_unpacked_init(&un);
    size_t off = 0;
    const char *bad = "(not one complete msgpack value)";
    if (msgpack_unpack_next(&un, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len) {
        enum ik_seal_state seal = ik_seal_check_map(data, len, &un.data);
        bad = seal == IK_SEAL_BAD ? "sum (the checksum does not match the bytes)"
                                  : parse_run(&un.data, r);
        if (bad == NULL && seal == IK_SEAL_NONE && un.data.via.map.size != RUN_UNSEALED_FIELDS)
            bad = "sum";
    }
    if (bad != NULL) {
        rc = ik_diag_set(d, IK_ECORRUPT, "%s: corrupt run record: field '%s' is missing or "
                                         "malformed", ik_display_path(path), bad);
        ik_diag_hint(d, "`ikada cache verify` moves it to quarantine/; it only holds the history "
                        "shown by `ikada log`");
    }
    msgpack_unpacked_destroy(&un);
    free(data);
    return rc;
}

struct run_name {
    char *name;
    long long ms;
};

/* Newest first: by the leading time, then by name. */
static int cmp_name_desc(const void *a, const void *b)
{
    const struct run_name *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? 1 : -1;
    return -strcmp(x->name, y->name);
}

/* Frees what r holds and zeroes it. */
static void run_clear(struct ik_run *r)
{
    free(r->id);
    free(r->graph);
    free(r->graph_id);
    for (size_t j = 0; j < r->argc; j++)
        free(r->argv[j]);
    free(r->argv);
    for (size_t j = 0; j < r->n_nodes; j++) {
        free(r->nodes[j].name);
        free(r->nodes[j].status);
        free(r->nodes[j].error);
    }
    free(r->nodes);
    memset(r, 0, sizeof *r);
}

int ik_runlog_check(const char *path, struct ik_diag *d)
{
    struct ik_run r;
    memset(&r, 0, sizeof r);
    int rc = read_run(path, &r, d);
    run_clear(&r);
    return rc;
}

/* The record files' names, newest first (free each name and the array). */
static int list_names(const char *dir_path, struct run_name **out, size_t *n, struct ik_diag *d)
{
    DIR *dir = opendir(dir_path);
    struct run_name *names = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    if (dir == NULL && errno != ENOENT) {
        int e = errno;
        rc = ik_diag_set(d, -e, "cannot list %s: %s", ik_display_path(dir_path), strerror(e));
    }
    struct dirent *de;
    while (dir != NULL && (de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 4 || strcmp(de->d_name + len - 3, ".mp") != 0)
            continue;
        names = ik_xgrow(names, &cap, count + 1, sizeof *names);
        names[count].name = ik_xstrdup(de->d_name);
        names[count].ms = strtoll(de->d_name, NULL, 10);
        count++;
    }
    if (dir != NULL)
        closedir(dir);
    if (count > 1)
        qsort(names, count, sizeof *names, cmp_name_desc);
    *out = names;
    *n = count;
    return rc;
}

static void free_names(struct run_name *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i].name);
    free(names);
}

/* Lists runs; with skip, an unreadable record is named in skip (its message)
 * and left out instead of failing the list. */
static bool is_noop_name(const char *name)
{
    size_t len = strlen(name), n = strlen(NOOP_EXT);
    return len > n && strcmp(name + len - n, NOOP_EXT) == 0;
}

static int list_runs(const struct ik_cache *c, size_t limit, const struct ik_runlog_filter *f,
                     struct ik_run **runs, size_t *n, struct ik_runlog_skipped *skip,
                     struct ik_diag *d)
{
    char *dir_path = ik_cache_path(c, "runs");
    struct run_name *names = NULL;
    size_t count = 0;
    int rc = list_names(dir_path, &names, &count, d);
    size_t want = limit == 0 || limit > count ? count : limit;
    struct ik_run *out = want ? ik_xcalloc(want, sizeof *out) : NULL;
    size_t got = 0, skip_cap = 0;
    for (size_t i = 0; rc == 0 && i < count && got < want; i++) {
        if (f && f->real_only && is_noop_name(names[i].name))
            continue;
        char *path = ik_xasprintf("%s/%s", dir_path, names[i].name);
        struct ik_diag rd = IK_DIAG_INIT;
        rc = read_run(path, &out[got], &rd);
        free(path);
        if (rc == IK_ECORRUPT && skip != NULL) {
            skip->why = ik_xgrow(skip->why, &skip_cap, skip->n + 1, sizeof *skip->why);
            const char *msg = ik_diag_message(&rd) + strlen("error: ");
            skip->why[skip->n++] = ik_xstrndup(msg, strcspn(msg, "\n")); /* without the hint */
            run_clear(&out[got]);
            rc = 0;
        } else if (rc == 0 && f && f->keep && !f->keep(&out[got], f->arg)) {
            run_clear(&out[got]);
        } else {
            if (rc != 0)
                ik_diag_set(d, rd.code, "%s", ik_diag_message(&rd) + strlen("error: "));
            got++; /* a partly filled record is freed with the rest */
        }
        ik_diag_free(&rd);
    }
    free_names(names, count);
    free(dir_path);
    if (rc != 0) {
        ik_runs_free(out, got);
        return rc;
    }
    *runs = out;
    *n = got;
    return 0;
}

int ik_runlog_list(const struct ik_cache *c, size_t limit, struct ik_run **runs, size_t *n,
                   struct ik_diag *d)
{
    return list_runs(c, limit, NULL, runs, n, NULL, d);
}

int ik_runlog_list_readable(const struct ik_cache *c, size_t limit, struct ik_run **runs,
                            size_t *n, struct ik_runlog_skipped *skipped, struct ik_diag *d)
{
    memset(skipped, 0, sizeof *skipped);
    return list_runs(c, limit, NULL, runs, n, skipped, d);
}

int ik_runlog_list_where(const struct ik_cache *c, size_t limit, const struct ik_runlog_filter *f,
                         struct ik_run **runs, size_t *n, struct ik_runlog_skipped *skipped,
                         struct ik_diag *d)
{
    if (skipped)
        memset(skipped, 0, sizeof *skipped);
    return list_runs(c, limit, f, runs, n, skipped, d);
}

void ik_runlog_skipped_free(struct ik_runlog_skipped *s)
{
    for (size_t i = 0; s && i < s->n; i++)
        free(s->why[i]);
    if (s)
        free(s->why);
}

void ik_runs_free(struct ik_run *runs, size_t n)
{
    if (runs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        run_clear(&runs[i]);
    free(runs);
}

/* Calls visit on each readable run record, newest first, until it returns
 * true (corrupt records are skipped: ikada log names them). */
static int foreach_run(const struct ik_cache *c, bool (*visit)(struct ik_run *r, void *arg),
                       void *arg, struct ik_diag *d)
{
    char *dir_path = ik_cache_path(c, "runs");
    struct run_name *names = NULL;
    size_t count = 0;
    int rc = list_names(dir_path, &names, &count, d);
    bool stop = false;
    for (size_t i = 0; rc == 0 && i < count && !stop; i++) {
        if (is_noop_name(names[i].name))
            continue; /* found every node cached: no failure, no key to settle */
        char *path = ik_xasprintf("%s/%s", dir_path, names[i].name);
        struct ik_run r;
        memset(&r, 0, sizeof r);
        struct ik_diag rd = IK_DIAG_INIT;
        if (read_run(path, &r, &rd) == 0)
            stop = visit(&r, arg);
        ik_diag_free(&rd);
        free(path);
        run_clear(&r);
    }
    free_names(names, count);
    free(dir_path);
    return rc;
}

/* Whether a node's status in a run says something of its key: a skipped or
 * canceled node was not tried. */
static bool status_decides(const char *status)
{
    return !strcmp(status, "failed") || !strcmp(status, "ran") || !strcmp(status, "cached");
}

/* Fills f from one run's node when it failed (taking its error). */
static void settle(struct ik_run_failure *f, const struct ik_run *r, struct ik_run_node *rn)
{
    if (strcmp(rn->status, "failed") != 0)
        return;
    f->failed = true;
    f->run_id = ik_xstrdup(r->id);
    f->error = rn->error;
    rn->error = NULL;
    f->has_log = rn->has_log;
    f->log = rn->log;
}

struct failures_walk {
    struct ik_strmap slot_of; /* key bytes -> index into out */
    bool *settled;
    size_t unsettled;
    struct ik_run_failure *out;
};

static bool visit_for_keys(struct ik_run *r, void *arg)
{
    struct failures_walk *w = arg;
    for (size_t k = 0; k < r->n_nodes && w->unsettled > 0; k++) {
        struct ik_run_node *rn = &r->nodes[k];
        int slot = rn->has_key ? ik_strmap_get(&w->slot_of, (const char *)rn->key.b, IK_HASH_BYTES)
                               : -1;
        if (slot < 0 || w->settled[slot] || !status_decides(rn->status))
            continue;
        w->settled[slot] = true;
        w->unsettled--;
        settle(&w->out[slot], r, rn);
    }
    return w->unsettled == 0;
}

int ik_runlog_failures(const struct ik_cache *c, const struct ik_hash *keys, size_t n,
                       struct ik_run_failure *out, struct ik_diag *d)
{
    memset(out, 0, n * sizeof *out);
    struct failures_walk w = {.slot_of = IK_STRMAP_INIT, .out = out};
    for (size_t i = 0; i < n; i++)
        ik_strmap_put(&w.slot_of, (const char *)keys[i].b, IK_HASH_BYTES, (int)i);
    w.settled = ik_xcalloc(n + 1, sizeof *w.settled);
    w.unsettled = w.slot_of.n;
    int rc = n == 0 ? 0 : foreach_run(c, visit_for_keys, &w, d);
    /* A key given twice takes its answer from the slot the map kept. */
    for (size_t i = 0; i < n; i++) {
        int slot = ik_strmap_get(&w.slot_of, (const char *)keys[i].b, IK_HASH_BYTES);
        if (slot != (int)i && out[slot].failed) {
            out[i] = out[slot];
            out[i].run_id = ik_xstrdup(out[slot].run_id);
            out[i].error = out[slot].error ? ik_xstrdup(out[slot].error) : NULL;
        }
    }
    free(w.settled);
    ik_strmap_free(&w.slot_of);
    return rc;
}

struct node_walk {
    const char *graph, *node;
    bool found;
    struct ik_run_failure *out;
};

static bool visit_for_node(struct ik_run *r, void *arg)
{
    struct node_walk *w = arg;
    if (w->graph && strcmp(r->graph, w->graph) != 0)
        return false;
    for (size_t k = 0; k < r->n_nodes; k++) {
        struct ik_run_node *rn = &r->nodes[k];
        if (strcmp(rn->name, w->node) != 0 || !status_decides(rn->status))
            continue;
        w->found = true;
        settle(w->out, r, rn);
        return true;
    }
    return false;
}

int ik_runlog_node_failure(const struct ik_cache *c, const char *graph, const char *node,
                           struct ik_run_failure *out, struct ik_diag *d)
{
    memset(out, 0, sizeof *out);
    struct node_walk w = {.graph = graph, .node = node, .out = out};
    return foreach_run(c, visit_for_node, &w, d);
}

void ik_run_failures_free(struct ik_run_failure *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++) {
        free(f[i].run_id);
        free(f[i].error);
    }
}
