/* tests/engine/test_sched.c - the scheduler's resource rules, run in-process on
 * real command nodes: a GPU node holds one device alone (given as
 * CUDA_VISIBLE_DEVICES), and CPU slots bound how many nodes run at once. The
 * device count is passed in, so this runs on machines without a GPU. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "nodes/registry.h"
#include "engine/sched.h"

static char dir[64];
static struct ik_cache *cache;

static void setup(void)
{
    strcpy(dir, "/tmp/ikada-sched.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char *root = NULL;
    cr_assert_gt(asprintf(&root, "%s/.ikada", dir), 0);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cache_open_at(root, true, &cache, &d), 0, "%s", ik_diag_message(&d));
    free(root);
}

static void teardown(void)
{
    ik_cache_close(cache);
    ik_remove_tree(dir);
}

TestSuite(sched, .init = setup, .fini = teardown, .timeout = 30);

/* A node that appends "<device> <start ns> <end ns>" to dir/intervals. */
static void append_node(char *yaml, size_t cap, const char *name, int gpu)
{
    char node[512];
    snprintf(node, sizeof node,
             "  %s:\n    type: command\n    resources: {gpu: %d}\n"
             "    params: {cmd: 'a=$(date +%%s%%N); sleep 0.3; "
             "echo \"${CUDA_VISIBLE_DEVICES:--} $a $(date +%%s%%N)\" >> %s/intervals; "
             "echo %s > $IKADA_OUT_o', outputs: {o: o.txt}}\n",
             name, gpu, dir, name);
    strncat(yaml, node, cap - strlen(yaml) - 1);
}

static int run_graph(const char *yaml, int jobs, int gpus)
{
    char *path = NULL;
    cr_assert_gt(asprintf(&path, "%s/g.yaml", dir), 0);
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_graph_load_string(ik_node_types, path, yaml, strlen(yaml), &g, &d), 0, "%s", ik_diag_message(&d));
    const char *exe = getenv("IKADA_BIN");
    cr_assert_not_null(exe, "IKADA_BIN must name the ikada binary (make check sets it)");
    struct ik_sched_opts o;
    memset(&o, 0, sizeof o);
    o.jobs = jobs;
    o.gpus = gpus;
    o.self_exe = exe;
    int status = ik_sched_run(g, cache, &o, &d);
    ik_diag_free(&d);
    ik_graph_free(g);
    free(path);
    return status;
}

struct interval {
    char device[8];
    long long start, end;
};

static size_t read_intervals(struct interval *out, size_t cap)
{
    char *path = NULL;
    cr_assert_gt(asprintf(&path, "%s/intervals", dir), 0);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = 0;
    while (n < cap && fscanf(f, "%7s %lld %lld", out[n].device, &out[n].start, &out[n].end) == 3)
        n++;
    fclose(f);
    free(path);
    return n;
}

static bool overlap(const struct interval *a, const struct interval *b)
{
    return a->start < b->end && b->start < a->end;
}

Test(sched, gpu_nodes_hold_one_device_alone)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "g1", 1);
    append_node(yaml, sizeof yaml, "g2", 1);
    append_node(yaml, sizeof yaml, "g3", 1);
    append_node(yaml, sizeof yaml, "c1", 0);
    cr_assert_eq(run_graph(yaml, 8, 2), 0);
    struct interval iv[8];
    size_t n = read_intervals(iv, 8);
    cr_assert_eq(n, 4);
    size_t on_gpu = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(iv[i].device, "-") == 0)
            continue; /* the CPU node sees CUDA_VISIBLE_DEVICES="" */
        on_gpu++;
        cr_assert(strcmp(iv[i].device, "0") == 0 || strcmp(iv[i].device, "1") == 0,
                  "device '%s'", iv[i].device);
        for (size_t k = 0; k < i; k++)
            cr_assert(strcmp(iv[i].device, iv[k].device) != 0 || !overlap(&iv[i], &iv[k]),
                      "two nodes held GPU %s at once", iv[i].device);
    }
    cr_assert_eq(on_gpu, 3);
}

Test(sched, cpu_slots_bound_parallelism)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "a", 0);
    append_node(yaml, sizeof yaml, "b", 0);
    append_node(yaml, sizeof yaml, "c", 0);
    cr_assert_eq(run_graph(yaml, 1, 0), 0);
    struct interval iv[8];
    size_t n = read_intervals(iv, 8);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < i; k++)
            cr_assert_not(overlap(&iv[i], &iv[k]), "two nodes ran at once with -j 1");
}

Test(sched, independent_nodes_run_in_parallel)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "a", 0);
    append_node(yaml, sizeof yaml, "b", 0);
    cr_assert_eq(run_graph(yaml, 2, 0), 0);
    struct interval iv[4];
    cr_assert_eq(read_intervals(iv, 4), 2);
    cr_assert(overlap(&iv[0], &iv[1]), "with 2 slots, two independent nodes should overlap");
}
