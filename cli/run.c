/* cli/run.c - `ikada run GRAPH`: run what is out of date. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "cache/lock.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "engine/sched.h"
#include "base/xmalloc.h"
#include "kernels/device.h"

static const char run_usage[] =
    "run [-j N] [--target NODE]... [--force NODE]... [--force-all] [--keep-going] [-n] [--json] GRAPH";

static const char run_help[] =
    "Runs the nodes of GRAPH that are not up to date, in parallel where the graph allows.\n"
    "  -j, --jobs N        at most N CPU slots in use (default: number of cores)\n"
    "  -t, --target NODE   run only NODE and what it needs (repeatable)\n"
    "  -f, --force NODE    ignore the cache for NODE (repeatable); --force-all for every node\n"
    "  -k, --keep-going    go on with independent nodes after a failure\n"
    "  -n, --dry-run       print what would run and why, run nothing\n"
    "      --json          print a JSON summary on stdout\n";

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

static int parse(int argc, char **argv, struct ik_sched_opts *o, const char **graph)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (ik_cli_is_help(a)) {
            printf("usage: ikada %s\n\n%s", run_usage, run_help);
            exit(0);
        } else if ((!strcmp(a, "-j") || !strcmp(a, "--jobs")) && has_next) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 4096)
                return ik_cli_usage_error(run_usage, "-j expects a positive integer, got '%s'", argv[i]);
            o->jobs = (int)v;
        } else if ((!strcmp(a, "-t") || !strcmp(a, "--target")) && has_next) {
            o->targets = ik_xrealloc(o->targets, (o->n_targets + 1) * sizeof(char *));
            o->targets[o->n_targets++] = argv[++i];
        } else if ((!strcmp(a, "-f") || !strcmp(a, "--force")) && has_next) {
            o->force = ik_xrealloc(o->force, (o->n_force + 1) * sizeof(char *));
            o->force[o->n_force++] = argv[++i];
        } else if (!strcmp(a, "--force-all")) {
            o->force_all = true;
        } else if (!strcmp(a, "-k") || !strcmp(a, "--keep-going")) {
            o->keep_going = true;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--dry-run")) {
            o->dry_run = true;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (a[0] == '-') {
            return ik_cli_usage_error(run_usage, "unknown or incomplete option '%s'", a);
        } else if (*graph == NULL) {
            *graph = a;
        } else {
            return ik_cli_usage_error(run_usage, "more than one graph given ('%s', '%s')", *graph, a);
        }
    }
    if (*graph == NULL)
        return ik_cli_usage_error(run_usage, "no graph file given");
    return 0;
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
    int status = parse(argc, argv, &o, &graph_path);
    struct ik_graph *g = NULL;
    struct ik_cache *c = NULL;
    if (status == 0)
        status = ik_cli_load_graph(graph_path, &g);
    if (status == 0)
        status = ik_cli_open_cache(true, &c);
    int lock = -1;
    if (status == 0) {
        struct ik_diag d = IK_DIAG_INIT;
        lock = ik_lock_cache(c, false, true, &d);
        if (lock < 0) {
            ik_diag_print(&d);
            status = IK_EXIT_FAILED;
        }
        ik_diag_free(&d);
    }
    if (status == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        if (o.jobs <= 0)
            o.jobs = cores > 0 ? (int)cores : 1;
        o.gpus = ik_device_gpu_count();
        o.live = want_live();
        o.self_exe = self_exe(argv[0]);
        o.argc = argc;
        o.argv = argv;
        o.exit_status = ik_cli_exit_status;
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
    }
    ik_unlock(lock);
    free(o.targets);
    free(o.force);
    ik_cache_close(c);
    ik_graph_free(g);
    return status;
}
