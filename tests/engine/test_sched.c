/* tests/engine/test_sched.c - the scheduler's rules, run in-process on the fake
 * executor (fake_executor.h), which runs nothing and ends jobs when told, so
 * concurrency is read off its logical clock instead of wall-clock timestamps:
 * a GPU node holds one device alone (given as CUDA_VISIBLE_DEVICES), CPU slots
 * bound how many nodes run at once, consumers wait for producers and are
 * skipped when one fails, Ctrl-C stops what runs. The device count is passed
 * in, so this runs on machines without a GPU. One test runs a real `ikada
 * exec` through the local executor, end to end. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "cache/action.h"
#include "engine/sched.h"
#include "nodes/registry.h"
#include "tests/common/tmpcache.h"
#include "tests/engine/fake_executor.h"

static struct fake_executor fake;

static void setup(void)
{
    tc_setup();
    fake_init(&fake, T.c);
}

static void teardown(void)
{
    fake_free(&fake);
    tc_teardown();
}

TestSuite(sched, .init = setup, .fini = teardown, .timeout = 30);

/* A command node; `extra` is more of its YAML map, e.g. "in: {x: a.o}\n". */
static void append_node(char *yaml, size_t cap, const char *name, int cpu, int gpu,
                        const char *extra)
{
    char node[512];
    snprintf(node, sizeof node,
             "  %s:\n    type: command\n    resources: {cpu: %d, gpu: %d}\n"
             "    params: {cmd: 'echo %s > $IKADA_OUT_o', outputs: {o: o.txt}}\n%s",
             name, cpu, gpu, name, extra ? extra : "");
    size_t len = strlen(yaml);
    cr_assert_lt(len + strlen(node), cap);
    memcpy(yaml + len, node, strlen(node) + 1);
}

struct run {
    int jobs, gpus;
    bool remote_gpus;
    bool keep_going;
    struct ik_executor *executor; /* NULL: the fake */
    int (*count_gpus)(void);
    void (*before_first_job)(void);
};

static int run_graph(const char *yaml, struct run r)
{
    char *path = ik_xasprintf("%s/g.yaml", T.dir);
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_graph_load_string(ik_node_types, path, yaml, strlen(yaml), &g, &d), 0, "%s",
                 ik_diag_message(&d));
    struct ik_sched_opts o;
    memset(&o, 0, sizeof o);
    o.jobs = r.jobs;
    o.gpus = r.gpus;
    o.remote_gpus = r.remote_gpus;
    o.keep_going = r.keep_going;
    o.count_gpus = r.count_gpus;
    o.before_first_job = r.before_first_job;
    /* The fake runs nothing: a plain name shows in its argv. */
    o.self_exe = r.executor ? getenv("IKADA_BIN") : "ikada";
    o.executor = r.executor ? r.executor : &fake.base;
    int status = ik_sched_run(g, T.c, &o, &d);
    ik_diag_free(&d);
    ik_graph_free(g);
    free(path);
    return status;
}

Test(sched, gpu_nodes_hold_one_device_alone)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "g1", 1, 1, NULL);
    append_node(yaml, sizeof yaml, "g2", 1, 1, NULL);
    append_node(yaml, sizeof yaml, "g3", 1, 1, NULL);
    append_node(yaml, sizeof yaml, "c1", 1, 0, NULL);
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 8, .gpus = 2}), 0);
    cr_assert_eq(fake.n_jobs, 4);
    size_t on_gpu = 0;
    for (size_t i = 0; i < fake.n_jobs; i++) {
        const struct fake_job *j = fake.jobs[i];
        cr_assert_not_null(j->cuda, "%s got no CUDA_VISIBLE_DEVICES", j->node);
        if (j->gpu < 0) {
            cr_assert_str_eq(j->cuda, "", "a CPU node sees CUDA_VISIBLE_DEVICES=\"\"");
            continue;
        }
        on_gpu++;
        cr_assert(j->gpu == 0 || j->gpu == 1, "device %d", j->gpu);
        char want[8];
        snprintf(want, sizeof want, "%d", j->gpu);
        cr_assert_str_eq(j->cuda, want);
        for (size_t k = 0; k < i; k++)
            cr_assert(fake.jobs[k]->gpu != j->gpu || !fake_overlap(j, fake.jobs[k]),
                      "%s and %s held GPU %d at once", j->node, fake.jobs[k]->node, j->gpu);
    }
    cr_assert_eq(on_gpu, 3);
    /* Two devices, so two GPU nodes and the CPU node ran at once. */
    cr_assert_eq(fake.max_running, 3);
}

/* train's GPU follows its device param where the graph gives no `resources:
 * gpu`: auto takes one where the run counts its own devices, not of a remote
 * executor (Slurm); cuda needs one everywhere; cpu holds none. `resources:
 * {gpu: 1}` is needed everywhere. */
Test(sched, train_gpu_follows_its_device_param)
{
    free(tc_write("s.jsonl", "{}\n", 3));
    free(tc_write("m.bin", "x", 1));
    for (int remote = 0; remote < 2; remote++) {
        /* A seed per round, so the second round is not cached. */
        char *yaml = ik_xasprintf("nodes:\n"
                                  "  t_auto:\n    type: train\n"
                                  "    in: {samples: {file: s.jsonl}, model: {file: m.bin}}\n"
                                  "    params: {seed: %d}\n"
                                  "  t_res:\n    type: train\n"
                                  "    in: {samples: {file: s.jsonl}, model: {file: m.bin}}\n"
                                  "    params: {seed: %d}\n    resources: {gpu: 1}\n"
                                  "  t_cuda:\n    type: train\n"
                                  "    in: {samples: {file: s.jsonl}, model: {file: m.bin}}\n"
                                  "    params: {seed: %d, device: cuda}\n"
                                  "  t_cpu:\n    type: train\n"
                                  "    in: {samples: {file: s.jsonl}, model: {file: m.bin}}\n"
                                  "    params: {seed: %d, device: cpu}\n",
                                  10 + remote, 20 + remote, 30 + remote, 40 + remote);
        cr_assert_eq(run_graph(yaml, (struct run){.jobs = 4, .gpus = 2, .remote_gpus = remote}),
                     0);
        free(yaml);
        static const char *const names[] = {"t_auto", "t_res", "t_cuda", "t_cpu"};
        for (int i = 0; i < 4; i++) {
            const struct fake_job *j = fake_job(&fake, names[i]);
            cr_assert_not_null(j, "%s did not run", names[i]);
            bool want = i == 0 ? !remote : i < 3;
            cr_assert_eq(j->gpu >= 0, want, "%s %s a GPU (remote %d)", names[i],
                         j->gpu >= 0 ? "got" : "did not get", remote);
        }
    }
}

static int gpu_queries, first_job_calls;
static int two_gpus(void) { return gpu_queries++, 2; }
static void first_job(void) { first_job_calls++; }

/* The devices are asked for when a GPU node is about to run, not before (the
 * CUDA runtime starts the driver to count them), and the hook for the first
 * job runs once per run that starts a job, never on a run of cached nodes. */
Test(sched, devices_asked_only_for_a_gpu_node)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "c1", 1, 0, NULL);
    append_node(yaml, sizeof yaml, "c2", 1, 0, NULL);
    struct run r = {.jobs = 2, .count_gpus = two_gpus, .before_first_job = first_job};
    cr_assert_eq(run_graph(yaml, r), 0);
    cr_assert_eq(fake.n_jobs, 2);
    cr_assert_eq(gpu_queries, 0, "a run of CPU nodes counted the devices");
    cr_assert_eq(first_job_calls, 1);
    cr_assert_eq(run_graph(yaml, r), 0);
    cr_assert_eq(fake.n_jobs, 2, "the second run ran a node");
    cr_assert_eq(first_job_calls, 1, "a no-op run called the first-job hook");
    append_node(yaml, sizeof yaml, "g1", 1, 1, NULL);
    append_node(yaml, sizeof yaml, "g2", 1, 1, NULL);
    cr_assert_eq(run_graph(yaml, r), 0);
    cr_assert_eq(fake.n_jobs, 4);
    cr_assert_eq(gpu_queries, 1, "asked %d times", gpu_queries);
    cr_assert_eq(first_job_calls, 2);
    for (size_t i = 2; i < fake.n_jobs; i++)
        cr_assert(fake.jobs[i]->gpu == 0 || fake.jobs[i]->gpu == 1);
}

Test(sched, cpu_slots_bound_parallelism)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "a", 1, 0, NULL);
    append_node(yaml, sizeof yaml, "b", 1, 0, NULL);
    append_node(yaml, sizeof yaml, "c", 1, 0, NULL);
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 1}), 0);
    cr_assert_eq(fake.n_jobs, 3);
    for (size_t i = 0; i < fake.n_jobs; i++) {
        cr_assert_str_eq(fake.jobs[i]->threads, "1");
        for (size_t k = 0; k < i; k++)
            cr_assert_not(fake_overlap(fake.jobs[i], fake.jobs[k]), "two nodes ran at once with -j 1");
    }
}

Test(sched, a_node_takes_as_many_slots_as_it_asks)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "wide", 3, 0, NULL);
    append_node(yaml, sizeof yaml, "n1", 1, 0, NULL);
    append_node(yaml, sizeof yaml, "n2", 1, 0, NULL);
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 3}), 0);
    const struct fake_job *wide = fake_job(&fake, "wide");
    cr_assert_eq(wide->cpu, 3);
    cr_assert_str_eq(wide->threads, "3", "OPENBLAS_NUM_THREADS follows the slots");
    cr_assert_not(fake_overlap(wide, fake_job(&fake, "n1")));
    cr_assert_not(fake_overlap(wide, fake_job(&fake, "n2")));
    cr_assert(fake_overlap(fake_job(&fake, "n1"), fake_job(&fake, "n2")));
}

Test(sched, independent_nodes_run_in_parallel)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "a", 1, 0, NULL);
    append_node(yaml, sizeof yaml, "b", 1, 0, NULL);
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 2}), 0);
    cr_assert_eq(fake.n_jobs, 2);
    cr_assert(fake_overlap(fake.jobs[0], fake.jobs[1]),
              "with 2 slots, two independent nodes should overlap");
}

Test(sched, a_consumer_starts_after_its_producer_and_runs_exec)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "a", 1, 0, NULL);
    append_node(yaml, sizeof yaml, "b", 1, 0, "    in: {x: a.o, f: {file: data.txt}}\n");
    free(tc_write("data.txt", "1\n", 2));
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 4}), 0);
    const struct fake_job *a = fake_job(&fake, "a"), *b = fake_job(&fake, "b");
    cr_assert_gt(b->started, a->ended);
    cr_assert_str_eq(b->argv[0], "ikada");
    cr_assert_str_eq(b->argv[1], "exec");
    cr_assert_str_eq(b->argv[2], b->key_hex);
    cr_assert_str_eq(b->argv[3], "--node");
    cr_assert_str_eq(b->argv[4], "b");
    cr_assert_str_eq(b->argv[5], "--file");
    char *file_arg = ik_xasprintf("f=%s/data.txt", T.dir);
    cr_assert_str_eq(b->argv[6], file_arg);
    free(file_arg);
    cr_assert_null(b->argv[7]);
    char *cache_var = ik_xasprintf("IKADA_CACHE=%s", T.c->root);
    cr_assert_str_eq(b->env[0], cache_var);
    free(cache_var);
}

Test(sched, a_second_run_finds_everything_cached)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "a", 1, 0, NULL);
    append_node(yaml, sizeof yaml, "b", 1, 0, "    in: {x: a.o}\n");
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 2}), 0);
    cr_assert_eq(fake.n_jobs, 2);
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 2}), 0);
    cr_assert_eq(fake.n_jobs, 2, "nothing ran again");
}

static void counter_then_succeed(struct fake_executor *f, void *arg)
{
    (void)arg;
    struct fake_job *j = fake_oldest_running(f);
    fake_progress(f, j, 1, 2, "rows");
    fake_counter(f, j, "loss", 0.25);
    fake_counter(f, j, "loss", 0.125);
    fake_succeed(f, j, NULL, "hello\n");
}

Test(sched, frames_reach_the_action_record)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "a", 1, 0, NULL);
    fake.script = counter_then_succeed;
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 1}), 0);
    struct ik_hash key;
    cr_assert_eq(ik_hash_from_hex(fake_job(&fake, "a")->key_hex, &key), 0);
    struct ik_action *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_action_get(T.c, &key, &a, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(a->n_outputs, 1);
    cr_assert_str_eq(a->outputs[0].port, "o");
    cr_assert_eq(a->n_counters, 1);
    cr_assert_str_eq(a->counters[0].name, "loss");
    cr_assert_float_eq(a->counters[0].value, 0.125, 1e-12);
    cr_assert(a->has_log);
    ik_action_free(a);
}

/* a fails; b (its consumer) never starts; c, independent, still runs with -k. */
static void fail_a(struct fake_executor *f, void *arg)
{
    (void)arg;
    struct fake_job *j = fake_oldest_running(f);
    if (strcmp(j->node, "a") == 0)
        fake_fail(f, j, 1, "error: a broke", "working\nikada: error: a broke\n");
    else
        fake_succeed(f, j, NULL, NULL);
}

Test(sched, a_failed_node_skips_its_consumers)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "a", 1, 0, NULL);
    append_node(yaml, sizeof yaml, "b", 1, 0, "    in: {x: a.o}\n");
    append_node(yaml, sizeof yaml, "c", 1, 0, NULL);
    fake.script = fail_a;
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 1, .keep_going = true}), IK_ENODE);
    cr_assert_null(fake_job(&fake, "b"));
    cr_assert_not_null(fake_job(&fake, "c"));
    struct ik_hash key;
    struct ik_action *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_hash_from_hex(fake_job(&fake, "a")->key_hex, &key), 0);
    cr_assert_eq(ik_action_get(T.c, &key, &a, &d), -ENOENT, "a failed node leaves no action record");
    ik_diag_free(&d);
}

static void interrupt(struct fake_executor *f, void *arg)
{
    (void)f;
    int *raised = arg;
    if (!*raised) {
        *raised = 1;
        raise(SIGINT);
    }
}

Test(sched, sigint_stops_running_jobs_and_starts_no_more)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "a", 1, 0, NULL);
    append_node(yaml, sizeof yaml, "b", 1, 0, NULL);
    append_node(yaml, sizeof yaml, "c", 1, 0, "    in: {x: a.o}\n");
    int raised = 0;
    fake.script = interrupt;
    fake.script_arg = &raised;
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 2}), IK_ECANCELED);
    cr_assert_eq(fake.n_jobs, 2);
    for (size_t i = 0; i < fake.n_jobs; i++) {
        cr_assert(fake.jobs[i]->stop_requested, "%s was not stopped", fake.jobs[i]->node);
        cr_assert_not(fake.jobs[i]->kill_requested, "one signal asks politely");
    }
}

Test(sched, an_executor_that_cannot_open_runs_nothing)
{
    char yaml[4096] = "nodes:\n";
    append_node(yaml, sizeof yaml, "a", 1, 0, NULL);
    fake.open_rc = IK_EUSAGE;
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 1}), IK_EUSAGE);
    cr_assert_eq(fake.n_jobs, 0);
}

/* The local executor, end to end: a real `ikada exec` child sees the device
 * and thread count it was given, and its result is recorded. */
Test(sched, local_executor_runs_ikada_exec)
{
    cr_assert_not_null(getenv("IKADA_BIN"), "IKADA_BIN must name the ikada binary (make check sets it)");
    unsetenv("OPENBLAS_NUM_THREADS");
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "nodes:\n  g:\n    type: command\n    resources: {cpu: 2, gpu: 1}\n"
             "    params: {cmd: 'echo \"$CUDA_VISIBLE_DEVICES $OPENBLAS_NUM_THREADS\" > %s/seen; "
             "echo g > $IKADA_OUT_o', outputs: {o: o.txt}}\n",
             T.dir);
    struct ik_executor *local = ik_executor_local_new();
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 4, .gpus = 1, .executor = local}), 0);
    ik_executor_local_free(local);
    char *path = ik_xasprintf("%s/seen", T.dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[64] = "";
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    free(path);
    cr_assert_str_eq(line, "0 2\n");
    /* Recorded: the fake, run next, has nothing to do. */
    cr_assert_eq(run_graph(yaml, (struct run){.jobs = 4, .gpus = 1}), 0);
    cr_assert_eq(fake.n_jobs, 0);
}
