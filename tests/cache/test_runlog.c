/* tests/cache/test_runlog.c - run records: round trip, newest-first order, limit. */
#include <errno.h>

#include "cache/runlog.h"
#include "base/error.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_runlog, .init = tc_setup, .fini = tc_teardown);

static void write_run(int64_t started_ms, const char *graph)
{
    char *argv[] = {"ikada", "run", (char *)graph};
    struct ik_run_node nodes[2] = {
        {.name = "sample", .has_key = true, .status = "ran", .duration_ms = 12},
        {.name = "train", .status = "failed", .duration_ms = 3, .error = "CUDA error"},
    };
    ik_hash_bytes(graph, strlen(graph), &nodes[0].key);
    struct ik_run r = {.graph = (char *)graph, .started_ms = started_ms, .duration_ms = 99,
                       .exit_code = 1, .argv = argv, .argc = 3, .nodes = nodes, .n_nodes = 2};
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_runlog_write(T.c, &r, &d), 0, "%s", ik_diag_message(&d));
}

Test(cache_runlog, round_trip)
{
    write_run(1700000000000, "graphs/n3.yaml");
    struct ik_run *runs = NULL;
    size_t n = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_runlog_list(T.c, 0, &runs, &n, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(n, 1);
    struct ik_run *r = &runs[0];
    char *want_id = ik_xasprintf("1700000000000-%ld", (long)getpid());
    cr_assert_str_eq(r->id, want_id);
    free(want_id);
    cr_assert_str_eq(r->graph, "graphs/n3.yaml");
    cr_assert_eq(r->started_ms, 1700000000000);
    cr_assert_eq(r->duration_ms, 99);
    cr_assert_eq(r->exit_code, 1);
    cr_assert_eq(r->argc, 3);
    cr_assert_str_eq(r->argv[2], "graphs/n3.yaml");
    cr_assert_eq(r->n_nodes, 2);
    cr_assert(r->nodes[0].has_key);
    struct ik_hash k;
    ik_hash_bytes("graphs/n3.yaml", 14, &k);
    cr_assert(ik_hash_equal(&r->nodes[0].key, &k));
    cr_assert_str_eq(r->nodes[0].status, "ran");
    cr_assert_null(r->nodes[0].error);
    cr_assert(!r->nodes[1].has_key);
    cr_assert_str_eq(r->nodes[1].error, "CUDA error");
    ik_runs_free(runs, n);
}

Test(cache_runlog, newest_first_with_limit)
{
    /* Written out of order; one run earlier than the others by a digit count. */
    write_run(1700000000500, "b");
    write_run(999999999999, "a");
    write_run(1700000009000, "d");
    write_run(1700000001000, "c");
    struct ik_run *runs = NULL;
    size_t n = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_runlog_list(T.c, 0, &runs, &n, &d), 0);
    cr_assert_eq(n, 4);
    const char *want[] = {"d", "c", "b", "a"};
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(runs[i].graph, want[i], "run %zu", i);
    ik_runs_free(runs, n);
    cr_assert_eq(ik_runlog_list(T.c, 2, &runs, &n, &d), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(runs[0].graph, "d");
    cr_assert_str_eq(runs[1].graph, "c");
    ik_runs_free(runs, n);
}

Test(cache_runlog, same_millisecond_keeps_both)
{
    write_run(1700000000000, "first");
    write_run(1700000000000, "second");
    struct ik_run *runs = NULL;
    size_t n = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_runlog_list(T.c, 0, &runs, &n, &d), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_neq(runs[0].id, runs[1].id);
    ik_runs_free(runs, n);
}

Test(cache_runlog, empty)
{
    struct ik_run *runs = NULL;
    size_t n = 5;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_runlog_list(T.c, 10, &runs, &n, &d), 0);
    cr_assert_eq(n, 0);
    ik_runs_free(runs, n);
}

Test(cache_runlog, a_corrupt_record_is_skipped_by_readable_listing_only)
{
    write_run(1700000000500, "b");
    write_run(1700000001000, "c");
    write_run(1700000002000, "d");
    /* Damage c's record with one flipped byte in its graph name. */
    char *path = ik_xasprintf("%s/runs/1700000001000-%ld.mp", T.c->root, (long)getpid());
    char *data = NULL;
    size_t len = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_read_file(path, &data, &len, &d), 0);
    char *g = memmem(data, len, "\xa1" "c", 2);
    cr_assert_not_null(g);
    g[1] = 'x';
    unlink(path);
    free(tc_write(path, data, len));
    free(data);

    struct ik_run *runs = NULL;
    size_t n = 0;
    cr_assert_eq(ik_runlog_list(T.c, 0, &runs, &n, &d), IK_ECORRUPT, "gc must not guess");
    cr_assert_not_null(strstr(d.text, "corrupt run record"), "%s", d.text);
    ik_diag_free(&d);
    struct ik_runlog_skipped sk;
    cr_assert_eq(ik_runlog_list_readable(T.c, 2, &runs, &n, &sk, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(n, 2, "the limit counts readable runs");
    cr_assert_str_eq(runs[0].graph, "d");
    cr_assert_str_eq(runs[1].graph, "b");
    cr_assert_eq(sk.n, 1);
    cr_assert_not_null(strstr(sk.why[0], "1700000001000-"), "%s", sk.why[0]);
    cr_assert_null(strchr(sk.why[0], '\n'), "one line: %s", sk.why[0]);
    cr_assert_eq(ik_runlog_check(path, &d), IK_ECORRUPT);
    ik_diag_free(&d);
    ik_runlog_skipped_free(&sk);
    ik_runs_free(runs, n);
    free(path);
}

/* One node of key `key_text` with `status`, in a run of its own. */
static void write_keyed(int64_t started_ms, const char *key_text, const char *status,
                        const char *error, const char *log_text)
{
    struct ik_run_node node = {.name = "n", .has_key = true, .status = (char *)status,
                               .error = (char *)error, .has_log = log_text != NULL};
    ik_hash_bytes(key_text, strlen(key_text), &node.key);
    if (log_text)
        ik_hash_bytes(log_text, strlen(log_text), &node.log);
    struct ik_run r = {.graph = "g.yaml", .started_ms = started_ms, .nodes = &node, .n_nodes = 1};
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_runlog_write(T.c, &r, &d), 0, "%s", ik_diag_message(&d));
}

Test(cache_runlog, failures_are_those_of_the_newest_deciding_run)
{
    write_keyed(1700000000000, "k1", "failed", "old error", NULL);
    write_keyed(1700000001000, "k1", "ran", NULL, NULL);       /* k1 fixed since */
    write_keyed(1700000002000, "k2", "failed", "boom", "the log");
    write_keyed(1700000003000, "k2", "skipped", NULL, NULL);   /* not tried: says nothing */
    write_keyed(1700000004000, "k3", "cached", NULL, NULL);
    struct ik_hash keys[4];
    const char *texts[] = {"k1", "k2", "k3", "k4"};
    for (int i = 0; i < 4; i++)
        ik_hash_bytes(texts[i], 2, &keys[i]);
    struct ik_run_failure f[4];
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_runlog_failures(T.c, keys, 4, f, &d), 0, "%s", ik_diag_message(&d));
    cr_assert(!f[0].failed, "a later success settles k1");
    cr_assert(f[1].failed);
    cr_assert_str_eq(f[1].error, "boom");
    char *want_id = ik_xasprintf("1700000002000-%ld", (long)getpid());
    cr_assert_str_eq(f[1].run_id, want_id);
    free(want_id);
    cr_assert(f[1].has_log);
    struct ik_hash log;
    ik_hash_bytes("the log", 7, &log);
    cr_assert(ik_hash_equal(&f[1].log, &log));
    cr_assert(!f[2].failed && !f[3].failed);
    ik_run_failures_free(f, 4);

    struct ik_run_failure nf;
    cr_assert_eq(ik_runlog_node_failure(T.c, "g.yaml", "n", &nf, &d), 0);
    cr_assert(!nf.failed, "the newest run that tried node n found it cached");
    ik_run_failures_free(&nf, 1);
}

Test(cache_runlog, noop_runs_are_compact_and_left_out_of_real_only_listings)
{
    write_run(1700000000000, "real");
    struct ik_run_node node = {.name = "n", .has_key = true, .status = "cached"};
    struct ik_run noop = {.graph = "real", .graph_id = "real", .started_ms = 1700000001000,
                          .nodes = &node, .n_nodes = 1, .noop = true, .noop_nodes = 1};
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_runlog_write(T.c, &noop, &d), 0, "%s", ik_diag_message(&d));
    struct ik_run *runs = NULL;
    size_t n = 0;
    cr_assert_eq(ik_runlog_list(T.c, 0, &runs, &n, &d), 0);
    cr_assert_eq(n, 2);
    cr_assert(runs[0].noop);
    cr_assert_eq(runs[0].noop_nodes, 1);
    cr_assert_eq(runs[0].n_nodes, 0, "a no-op record lists no nodes");
    cr_assert_str_eq(runs[0].graph_id, "real");
    cr_assert(!runs[1].noop);
    cr_assert_null(runs[1].graph_id);
    ik_runs_free(runs, n);
    const struct ik_runlog_filter real = {.real_only = true};
    cr_assert_eq(ik_runlog_list_where(T.c, 1, &real, &runs, &n, NULL, &d), 0);
    cr_assert_eq(n, 1);
    cr_assert(!runs[0].noop);
    ik_runs_free(runs, n);
}
