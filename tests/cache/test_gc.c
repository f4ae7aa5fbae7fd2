/* tests/cache/test_gc.c - gc keeps what refs and recent runs reach and removes
 * the rest; dry runs remove nothing; the tmp/ sweep; verify_all (objects and records) and du. */
#include <dirent.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/action.h"
#include "cache/cas.h"
#include "cache/gc.h"
#include "cache/kv.h"
#include "cache/lock.h"
#include "cache/refs.h"
#include "cache/runlog.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_gc, .init = tc_setup, .fini = tc_teardown);

static struct ik_hash put(const char *s)
{
    struct ik_hash h;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_put(T.c, s, strlen(s), &h, &d), 0);
    return h;
}

/* A finished node: spec object (its hash is the key), one output, a log, and
 * the action record. Returns the key; *out and *log get the object hashes. */
static struct ik_hash node(const char *name, struct ik_hash *out, struct ik_hash *log)
{
    char *spec = ik_xasprintf("spec of %s", name);
    char *output = ik_xasprintf("output of %s", name);
    char *logtext = ik_xasprintf("log of %s", name);
    struct ik_action_output o = {"out", put(output), strlen(output), "file"};
    struct ik_action a = {0};
    a.key = put(spec);
    a.type = "sample";
    a.node = (char *)name;
    a.outputs = &o;
    a.n_outputs = 1;
    a.has_log = true;
    a.log = put(logtext);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_action_put(T.c, &a, &d), 0);
    *out = o.hash;
    *log = a.log;
    free(spec);
    free(output);
    free(logtext);
    return a.key;
}

static void run_with(int64_t started_ms, const struct ik_hash *key)
{
    struct ik_run_node n = {.name = "n", .has_key = true, .key = *key, .status = "ran",
                            .duration_ms = 1};
    struct ik_run r = {.graph = "g.yaml", .started_ms = started_ms, .duration_ms = 1, .nodes = &n,
                       .n_nodes = 1};
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_runlog_write(T.c, &r, &d), 0);
}

static bool has_action(const struct ik_hash *k)
{
    struct ik_action *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_action_get(T.c, k, &a, &d);
    ik_action_free(a);
    ik_diag_free(&d);
    return rc == 0;
}

static bool has_object(const struct ik_hash *h) { return ik_cas_stat(T.c, h, NULL) == 0; }

static bool listed(const struct ik_gc_report *rep, const struct ik_hash *h, bool is_action)
{
    for (size_t i = 0; i < rep->n_removed; i++)
        if (ik_hash_equal(&rep->removed[i].hash, h) && rep->removed[i].is_action == is_action)
            return true;
    return false;
}

Test(cache_gc, keeps_reachable_removes_rest)
{
    struct ik_hash ref_out, ref_log, run_out, run_log, old_out, old_log, dead_out, dead_log;
    struct ik_hash by_ref = node("by_ref", &ref_out, &ref_log);
    struct ik_hash by_run = node("by_run", &run_out, &run_log);
    struct ik_hash by_old = node("by_old_run", &old_out, &old_log);
    struct ik_hash dead = node("dead", &dead_out, &dead_log);
    struct ik_hash stray = put("a stray object");
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_ref_set(T.c, "g", "n", &by_ref, &d), 0);
    run_with(1700000000000, &by_old);
    run_with(1700000005000, &by_run);
    char *tmpfile = ik_xasprintf("%s/tmp/leftover.tmp", T.c->root);
    free(tc_write(tmpfile, "partial", 7));

    int lock = ik_lock_cache(T.c, true, false, &d);
    cr_assert_geq(lock, 0);

    /* Dry run: the report is complete, nothing is touched. */
    struct ik_gc_report rep;
    cr_assert_eq(ik_gc(T.c, 1, true, &rep, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(rep.objects_removed, 7, "old and dead: spec, output, log each; the stray");
    cr_assert_eq(rep.actions_removed, 2);
    cr_assert_eq(rep.objects_kept, 6);
    cr_assert_eq(rep.actions_kept, 2);
    cr_assert_eq(rep.n_removed, 9);
    cr_assert(listed(&rep, &stray, false));
    cr_assert(listed(&rep, &dead, true));
    cr_assert(listed(&rep, &dead, false));
    cr_assert(!listed(&rep, &by_run, true));
    cr_assert(has_object(&stray) && has_object(&dead_out) && has_action(&dead));
    cr_assert(tc_exists(tmpfile));
    ik_gc_report_free(&rep);

    /* The real thing. */
    cr_assert_eq(ik_gc(T.c, 1, false, &rep, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(rep.objects_removed, 7);
    cr_assert_eq(rep.actions_removed, 2);
    cr_assert_eq(rep.tmp_removed, 1);
    ik_gc_report_free(&rep);
    struct ik_hash kept[] = {by_ref, ref_out, ref_log, by_run, run_out, run_log};
    for (size_t i = 0; i < 6; i++)
        cr_assert(has_object(&kept[i]), "kept object %zu", i);
    cr_assert(has_action(&by_ref) && has_action(&by_run));
    struct ik_hash gone[] = {by_old, old_out, old_log, dead, dead_out, dead_log, stray};
    for (size_t i = 0; i < 7; i++)
        cr_assert(!has_object(&gone[i]), "removed object %zu", i);
    cr_assert(!has_action(&by_old) && !has_action(&dead));
    cr_assert(!tc_exists(tmpfile));

    /* With keep_runs 0 only refs are roots. */
    cr_assert_eq(ik_gc(T.c, 0, false, &rep, &d), 0);
    cr_assert(!has_action(&by_run), "keep_runs 0: runs are no roots");
    cr_assert(has_action(&by_ref));
    ik_gc_report_free(&rep);
    ik_unlock(lock);
    free(tmpfile);
}

Test(cache_gc, keep_more_runs_keeps_more)
{
    struct ik_hash o1, l1, o2, l2;
    struct ik_hash k1 = node("one", &o1, &l1);
    struct ik_hash k2 = node("two", &o2, &l2);
    run_with(1700000000000, &k1);
    run_with(1700000001000, &k2);
    struct ik_gc_report rep;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_gc(T.c, 2, false, &rep, &d), 0);
    cr_assert_eq(rep.objects_removed, 0);
    cr_assert_eq(rep.actions_removed, 0);
    ik_gc_report_free(&rep);
    cr_assert(has_action(&k1) && has_object(&o1) && has_action(&k2) && has_object(&l2));
}

Test(cache_gc, verify_all_reports_and_quarantines)
{
    struct ik_hash a = put("first object");
    struct ik_hash b = put("second object");
    put("third object");
    char *path = ik_cas_object_path(T.c, &b);
    chmod(path, 0644);
    free(tc_write(path, "second objecT", 13));
    free(path);
    struct ik_verify_report rep;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cache_verify_all(T.c, &rep, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(rep.objects_checked, 3);
    cr_assert_eq(rep.objects_ok, 2);
    cr_assert_eq(rep.objects_corrupt, 1);
    cr_assert_eq(rep.n_corrupt, 1);
    cr_assert(ik_hash_equal(&rep.corrupt[0], &b));
    ik_verify_report_free(&rep);
    cr_assert(!has_object(&b));
    cr_assert(has_object(&a));
    cr_assert_eq(ik_cache_verify_all(T.c, &rep, &d), 0);
    cr_assert_eq(rep.objects_corrupt, 0);
    cr_assert_eq(rep.objects_checked, 2);
    ik_verify_report_free(&rep);
}

Test(cache_gc, du_counts_per_folder)
{
    put("12345");
    put("1234567890");
    struct ik_hash k = put("key");
    run_with(1700000000000, &k);
    char *tmpfile = ik_xasprintf("%s/tmp/x", T.c->root);
    free(tc_write(tmpfile, "abc", 3));
    free(tmpfile);
    struct ik_du_report rep;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cache_du(T.c, &rep, &d), 0);
    cr_assert_str_eq(rep.dirs[IK_DU_OBJECTS].name, "objects");
    cr_assert_eq(rep.dirs[IK_DU_OBJECTS].files, 3);
    cr_assert_eq(rep.dirs[IK_DU_OBJECTS].bytes, 18);
    cr_assert_eq(rep.dirs[IK_DU_RUNS].files, 1);
    cr_assert_eq(rep.dirs[IK_DU_TMP].bytes, 3);
    cr_assert_eq(rep.dirs[IK_DU_ACTIONS].files, 0);
    cr_assert_eq(rep.dirs[IK_DU_QUARANTINE].files, 0);
    cr_assert_eq(rep.total_files, 5);
    ik_du_report_free(&rep);
}

/* Flips one bit of byte `at` (from the end when negative) of a file. */
static void flip_file(const char *path, long at)
{
    char *data = NULL;
    size_t len = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_read_file(path, &data, &len, &d), 0, "%s", ik_diag_message(&d));
    size_t i = at < 0 ? len - (size_t)-at : (size_t)at;
    data[i] ^= 0x01;
    unlink(path);
    free(tc_write(path, data, len));
    free(data);
}

/* The one file directly in folder rel of the cache whose name starts with prefix. */
static char *only_file(const char *rel, const char *prefix)
{
    char *dir = ik_xasprintf("%s/%s", T.c->root, rel);
    DIR *dd = opendir(dir);
    cr_assert_not_null(dd, "%s", dir);
    char *found = NULL;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL)
        if (e->d_name[0] != '.' && strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            found = ik_xasprintf("%s/%s", dir, e->d_name);
    closedir(dd);
    free(dir);
    cr_assert_not_null(found);
    return found;
}

Test(cache_gc, verify_checks_every_kind_of_record)
{
    struct ik_hash out, log;
    struct ik_hash key = node("n", &out, &log);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_ref_set(T.c, "g.yaml", "n", &key, &d), 0);
    run_with(1700000000000, &key);
    struct ik_verify_report rep;
    cr_assert_eq(ik_cache_verify_all(T.c, &rep, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(rep.records_checked, 3, "one action record, one refs file, one run");
    cr_assert_eq(rep.records_corrupt, 0);
    ik_verify_report_free(&rep);

    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&key, hex);
    char *rec = ik_xasprintf("%s/actions/%.2s/%s", T.c->root, hex, hex + 2);
    char *refs = only_file("refs", "g-");
    char *run = only_file("runs", "17");
    flip_file(rec, 30);
    flip_file(refs, -3);
    flip_file(run, 20);
    cr_assert_eq(ik_cache_verify_all(T.c, &rep, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(rep.objects_corrupt, 0);
    cr_assert_eq(rep.records_checked, 3);
    cr_assert_eq(rep.records_corrupt, 3);
    cr_assert_eq(rep.n_bad_records, 3);
    const char *want[] = {"corrupt action record", "corrupt refs", "corrupt run record"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_not_null(strstr(rep.bad_records[i].problem, want[i]), "%s",
                           rep.bad_records[i].problem);
        cr_assert_not_null(rep.bad_records[i].moved);
        cr_assert_not_null(strstr(rep.bad_records[i].moved, "/quarantine/"));
        cr_assert(tc_exists(rep.bad_records[i].moved));
        cr_assert(!tc_exists(rep.bad_records[i].path));
    }
    cr_assert_not_null(strstr(rep.bad_records[0].moved, hex), "an action keeps its whole key");
    ik_verify_report_free(&rep);
    cr_assert_eq(ik_cache_verify_all(T.c, &rep, &d), 0);
    cr_assert_eq(rep.records_corrupt, 0, "the second verify is clean");
    ik_verify_report_free(&rep);
    free(rec);
    free(refs);
    free(run);
}

/* What a killed process left in tmp/ goes; what a live process may still be
 * writing (its pid in the name) stays, even under the exclusive lock. */
Test(cache_gc, tmp_sweep_keeps_what_live_processes_write)
{
    pid_t dead = fork();
    cr_assert_geq(dead, 0);
    if (dead == 0)
        _exit(0);
    cr_assert_eq(waitpid(dead, NULL, 0), dead);
    const char *names[] = {"%ld.1.0badf00d.tmp", "exec-0123456789abcdef-%ld"};
    char *live[2], *gone[2];
    for (int i = 0; i < 2; i++) {
        char *rel = ik_xasprintf(names[i], (long)getpid());
        live[i] = ik_xasprintf("%s/tmp/%s", T.c->root, rel);
        free(rel);
        rel = ik_xasprintf(names[i], (long)dead);
        gone[i] = ik_xasprintf("%s/tmp/%s", T.c->root, rel);
        free(rel);
    }
    free(tc_write(live[0], "x", 1));
    free(tc_write(gone[0], "x", 1));
    cr_assert_eq(mkdir(live[1], 0777), 0);
    cr_assert_eq(mkdir(gone[1], 0777), 0);
    char *sub = ik_xasprintf("%s/in", gone[1]);
    cr_assert_eq(mkdir(sub, 0777), 0);
    free(sub);
    char *junk = ik_xasprintf("%s/tmp/junk", T.c->root);
    free(tc_write(junk, "x", 1));
    size_t removed = 0;
    uint64_t bytes = 0;
    ik_gc_tmp(T.c, &removed, &bytes);
    cr_assert_eq(removed, 3);
    for (int i = 0; i < 2; i++) {
        cr_assert(tc_exists(live[i]), "%s", live[i]);
        cr_assert(!tc_exists(gone[i]), "%s", gone[i]);
        free(live[i]);
        free(gone[i]);
    }
    cr_assert(!tc_exists(junk));
    free(junk);
}

/* Checkpoints live while a run could resume from them: their node is named by
 * a root and has not finished. A finished node's or an unnamed node's
 * checkpoint is removed with its object; other kv entries always stay. */
Test(cache_gc, removes_orphan_checkpoints_only)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash out, log;
    struct ik_hash finished = node("finished", &out, &log);
    struct ik_hash unfinished = put("spec of a node killed mid-way");
    struct ik_hash unnamed = put("spec of a node whose params changed");
    run_with(1700000000000, &finished);
    run_with(1700000001000, &unfinished);
    struct ik_hash v_fin = put("checkpoint of finished"), v_unf = put("checkpoint of unfinished"),
                   v_unn = put("checkpoint of unnamed"), paid = put("a paid-for response");
    cr_assert_eq(ik_kv_put(T.c, IK_KV_CHECKPOINTS, &finished, &v_fin, &d), 0);
    cr_assert_eq(ik_kv_put(T.c, IK_KV_CHECKPOINTS, &unfinished, &v_unf, &d), 0);
    cr_assert_eq(ik_kv_put(T.c, IK_KV_CHECKPOINTS, &unnamed, &v_unn, &d), 0);
    cr_assert_eq(ik_kv_put(T.c, "cot", &unnamed, &paid, &d), 0);
    int lock = ik_lock_cache(T.c, true, false, &d);
    struct ik_gc_report rep;
    cr_assert_eq(ik_gc(T.c, 5, true, &rep, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(rep.checkpoints_removed, 2);
    struct ik_hash v;
    cr_assert_eq(ik_kv_get(T.c, IK_KV_CHECKPOINTS, &finished, &v, &d), 0, "dry run keeps it");
    ik_gc_report_free(&rep);
    cr_assert_eq(ik_gc(T.c, 5, false, &rep, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(rep.checkpoints_removed, 2);
    ik_gc_report_free(&rep);
    cr_assert_eq(ik_kv_get(T.c, IK_KV_CHECKPOINTS, &finished, &v, &d), -ENOENT);
    cr_assert_eq(ik_kv_get(T.c, IK_KV_CHECKPOINTS, &unnamed, &v, &d), -ENOENT);
    cr_assert_eq(ik_kv_get(T.c, IK_KV_CHECKPOINTS, &unfinished, &v, &d), 0);
    cr_assert(ik_hash_equal(&v, &v_unf));
    cr_assert(!has_object(&v_fin) && !has_object(&v_unn));
    cr_assert(has_object(&v_unf) && has_object(&paid));
    cr_assert_eq(ik_kv_get(T.c, "cot", &unnamed, &v, &d), 0);
    cr_assert_eq(ik_kv_del(T.c, IK_KV_CHECKPOINTS, &unfinished, &d), 0);
    cr_assert_eq(ik_kv_del(T.c, IK_KV_CHECKPOINTS, &unfinished, &d), 0, "absent: nothing to do");
    cr_assert_eq(ik_kv_get(T.c, IK_KV_CHECKPOINTS, &unfinished, &v, &d), -ENOENT);
    ik_unlock(lock);
}
