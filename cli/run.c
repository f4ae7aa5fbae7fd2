/* cli/run.c - `ikada run GRAPH`: run what is out of date. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "cache/lock.h"
#include "cache/remote.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/opt.h"
#include "engine/executor.h"
#include "engine/sched.h"
#include "base/xmalloc.h"
#include "kernels/cpu/blas_core.h"
#include "kernels/device.h"

static const char run_usage[] =
    "run [-j N] [-S NODE.PARAM=VALUE]... [--target NODE]... [--force NODE]... [--force-all]\n"
    "           [--keep-going] [--executor local|slurm] [--remote SETTING] [-n] [-v] [--json]\n"
    "           GRAPH";

static const char run_help[] =
    "Runs the nodes of GRAPH that are not up to date, in parallel where the graph allows.\n"
    "  -j, --jobs N        at most N CPU slots in use (default: number of cores)\n"
    "  -S, --set NODE.PARAM=VALUE\n"
    "                      set a param (VALUE in YAML) without editing GRAPH (repeatable);\n"
    "                      NODE may name a fan-out node: every instance NODE@... gets it\n"
    "  -t, --target NODE   run only NODE and what it needs (repeatable)\n"
    "  -f, --force NODE    ignore the cache for NODE (repeatable); --force-all for every node\n"
    "  -k, --keep-going    go on with independent nodes after a failure\n"
    "      --executor local|slurm\n"
    "                      where nodes run (default: the graph's `executor: kind:`, else\n"
    "                      local); slurm submits each node with sbatch (docs/slurm.md)\n"
    "      --remote SETTING\n"
    "                      the shared remote cache, URL [auth=VAR] (docs/remote-cache.md);\n"
    "                      over IKADA_REMOTE, the graph's `remote:` and the config file's;\n"
    "                      '' for none\n"
    "  -n, --dry-run       print what would run and why, run nothing\n"
    "  -v, --verbose       show the running nodes' stderr as it comes, each line\n"
    "                      prefixed by its node (\"train| ...\")\n"
    "      --json          print a JSON summary on stdout\n"
    "Not on a terminal, a node that said nothing for 30 s gets a \"still running\"\n"
    "line; IKADA_HEARTBEAT=SECONDS changes the interval.\n"
    "IKADA_REMOTE=URL [auth=VAR] adds a shared remote cache (docs/remote-cache.md).\n"
    "The config file (IKADA_CONFIG, else ~/.config/ikada/config.yaml) may give remote:\n"
    "and executor: for every graph (docs/cli.md).\n";

static char *self_exe(const char *argv0)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = '\0';
        return ik_xstrdup(buf);
    }
    return ik_xstrdup(argv0);
}

static int set_jobs(const struct ik_optspec *s, const struct ik_opt *o, const char *value)
{
    char *end;
    long v = strtol(value, &end, 10);
    if (*end || v < 1 || v > 4096)
        return ik_opt_error(s->usage, "-j expects a positive integer, got '%s'", value);
    *(int *)o->dest = (int)v;
    return 0;
}

static int set_executor(const struct ik_optspec *s, const struct ik_opt *o, const char *value)
{
    if (strcmp(value, "local") != 0 && strcmp(value, "slurm") != 0)
        return ik_opt_error(s->usage, "--executor expects local or slurm, got '%s'", value);
    *(const char **)o->dest = value;
    return 0;
}

static int parse(int argc, char **argv, struct ik_sched_opts *o, struct ik_opt_list *sets,
                 const char **graph, const char **executor, const char **remote)
{
    struct ik_opt_list targets = {NULL, 0}, force = {NULL, 0};
    const struct ik_opt opts[] = {
        {"--jobs", "-j", IK_OPT_VALUE, &o->jobs, set_jobs},
        {"--set", "-S", IK_OPT_LIST, sets, NULL},
        {"--target", "-t", IK_OPT_LIST, &targets, NULL},
        {"--force", "-f", IK_OPT_LIST, &force, NULL},
        {"--force-all", NULL, IK_OPT_FLAG, &o->force_all, NULL},
        {"--keep-going", "-k", IK_OPT_FLAG, &o->keep_going, NULL},
        {"--executor", NULL, IK_OPT_VALUE, executor, set_executor},
        {"--remote", NULL, IK_OPT_VALUE, remote, NULL},
        {"--dry-run", "-n", IK_OPT_FLAG, &o->dry_run, NULL},
        {"--json", NULL, IK_OPT_FLAG, &o->json, NULL},
        {"--verbose", "-v", IK_OPT_FLAG, &o->verbose, NULL},
        {0},
    };
    const struct ik_optspec spec = {
        .usage = run_usage, .help = run_help, .opts = opts, .pos = graph, .min_pos = 1, .max_pos = 1,
        .bad_option = "unknown or incomplete option", .extra = "more than one graph given",
        .missing = "no graph file given",
    };
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    o->targets = targets.items;
    o->n_targets = targets.n;
    o->force = force.items;
    o->n_force = force.n;
    return rc;
}

/* IKADA_HEARTBEAT=SECONDS, or 0 (the scheduler's 30 s) when unset or not a
 * positive number. */
static int heartbeat_seconds(void)
{
    const char *env = getenv("IKADA_HEARTBEAT");
    char *end = NULL;
    long v = env ? strtol(env, &end, 10) : 0;
    return env && *end == '\0' && v > 0 && v <= 86400 ? (int)v : 0;
}

/* Under Slurm the cluster, not this machine, has the cores and GPUs: these
 * only bound how many jobs are in the queue at once (-j overrides). */
#define SLURM_JOBS 256
#define SLURM_GPUS 64

/* --executor, else the graph's `executor: kind:`; local when neither says. */
static bool use_slurm(const char *executor, const struct ik_graph *g)
{
    const char *kind = executor ? executor : g->executor.kind;
    return kind && strcmp(kind, "slurm") == 0;
}

static bool want_live(void)
{
    const char *term = getenv("TERM");
    return isatty(2) && term && strcmp(term, "dumb") != 0;
}

int ik_cli_run(int argc, char **argv)
{
    struct ik_sched_opts o;
    memset(&o, 0, sizeof o);
    const char *graph_path = NULL;
    struct ik_opt_list sets = {NULL, 0};
    const char *executor = NULL, *remote_flag = NULL;
    int status = parse(argc, argv, &o, &sets, &graph_path, &executor, &remote_flag);
    if (status != 0) {
        free(o.targets);
        free(o.force);
        free(sets.items);
        return ik_opt_status(status);
    }
    struct ik_graph *g = NULL;
    struct ik_cache *c = NULL;
    status = ik_cli_load_graph_sets(graph_path, sets.items, sets.n, &g);
    free(sets.items);
    if (status == 0)
        status = ik_cli_open_cache(true, &c);
    struct ik_remote *remote = NULL;
    if (status == 0)
        status = ik_cli_open_remote(remote_flag, g, &remote);
    int lock = -1;
    if (status == 0) {
        struct ik_diag d = IK_DIAG_INIT;
        lock = ik_lock_cache_run(c, &d);
        if (lock < 0) {
            ik_diag_print(&d);
            status = IK_EXIT_FAILED;
        }
        ik_diag_free(&d);
    }
    if (status == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        bool slurm = use_slurm(executor, g);
        if (o.jobs <= 0)
            o.jobs = slurm ? SLURM_JOBS : (cores > 0 ? (int)cores : 1);
        o.gpus = SLURM_GPUS;
        o.remote_gpus = slurm;
        o.count_gpus = slurm ? NULL : ik_device_gpu_count;
        /* Jobs on this machine inherit its OpenBLAS check; Slurm jobs run on
         * compute nodes whose CPUs may differ, and check for themselves. */
        o.before_first_job = slurm ? NULL : ik_cpu_blas_pass_core;
        if (slurm)
            o.executor = ik_executor_slurm_new(g, c->root);
        o.live = want_live();
        o.heartbeat_s = heartbeat_seconds();
        o.self_exe = self_exe(argv[0]);
        o.argc = argc;
        o.argv = argv;
        o.exit_status = ik_cli_exit_status;
        o.remote = remote;
        struct ik_diag d = IK_DIAG_INIT;
        int rc = ik_sched_run(g, c, &o, &d);
        /* A failed or interrupted run says so in its report; any other
         * failure is bad input, found before anything ran. */
        status = rc == 0 || rc == IK_ENODE || rc == IK_ECANCELED ? ik_cli_exit_status(rc)
                                                                 : IK_EXIT_USAGE;
        if (d.code != 0)
            ik_diag_print(&d);
        ik_diag_free(&d);
        free((char *)o.self_exe);
        ik_executor_slurm_free(o.executor);
    }
    ik_unlock(lock);
    ik_remote_close(remote);
    free(o.targets);
    free(o.force);
    ik_cache_close(c);
    ik_graph_free(g);
    return status;
}
