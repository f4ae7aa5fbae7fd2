/* cli/cache_remote.c - `ikada cache push` and `ikada cache pull`: moving
 * results between the local cache and the remote one (--remote, IKADA_REMOTE,
 * the graph's or the config file's remote:; cache/remote.h) without running
 * anything.
 *
 * push uploads every local result (or, with --graph, the current result of
 * each node of the graph that is up to date); pull resolves the graph as a run
 * would, downloading what the local cache lacks, in topological order (a node
 * whose producer is on neither side stays missing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cache/remote.h"
#include "cli/cache_int.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "base/xmalloc.h"
#include "engine/plan.h"

struct push_ctx {
    struct ik_remote *r;
    struct ik_cache *c;
    size_t pushed, skipped;
    struct ik_diag *d;
    int rc;
};

static int push_one(struct push_ctx *x, const struct ik_action *a)
{
    if (!ik_action_outputs_present(x->c, a)) {
        x->skipped++; /* gc took an output: nothing whole to offer */
        return 0;
    }
    x->rc = ik_remote_push(x->r, x->c, a, x->d);
    x->pushed += x->rc == 0;
    return x->rc;
}

static int push_record(const struct ik_action *a, void *arg) { return push_one(arg, a); }

/* What push and pull share: the options, the graph (optional for push), the
 * remote and a resolved plan. */
struct session {
    struct ik__cc_session cc;
    struct ik_remote *remote;
    struct ik_graph *g;
    struct ik_srcmemo *memo;
    struct ik_plan plan;
    bool *selected;
    bool stop; /* --help was printed, or the options were bad: nothing to do */
};

static int begin(const char *verb, int argc, char **argv, bool graph_required, struct session *s)
{
    memset(s, 0, sizeof *s);
    const char *graph = NULL, *remote = NULL;
    struct ik_opt_list targets = {NULL, 0};
    char *usage = ik_xasprintf("cache %s %s[--target NODE]... [--remote SETTING]", verb,
                               graph_required ? "--graph G " : "[--graph G] ");
    const struct ik_opt opts[] = {{"--graph", "-g", IK_OPT_VALUE, &graph, NULL},
                                  {"--target", "-t", IK_OPT_LIST, &targets, NULL},
                                  {"--remote", NULL, IK_OPT_VALUE, &remote, NULL},
                                  {0}};
    const struct ik_optspec spec = {
        .usage = usage, .opts = opts, .flags = IK__CC_ARGS, .bad_option = "unexpected argument",
        .help = "Moves results between the local cache and the remote one: --remote, else\n"
                "IKADA_REMOTE, else the graph's or the config file's remote:\n"
                "(docs/remote-cache.md).\n"
                "  -g, --graph G        the current results of G's nodes\n"
                "  -t, --target NODE    only NODE and what it needs (repeatable; needs --graph)\n"
                "      --remote SETTING the remote cache, URL [auth=VAR]\n",
    };
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    free(usage);
    if (rc == 0 && graph == NULL && (graph_required || targets.n > 0)) {
        fprintf(stderr, "ikada: error: cache %s: %s needs --graph G (which graph's nodes)\n", verb,
                targets.n > 0 ? "--target" : verb);
        rc = IK_EXIT_USAGE;
    } else if (rc != 0) {
        s->stop = true;
        s->cc.lock = -1;
        free(targets.items);
        return ik_opt_status(rc);
    }
    struct ik_diag d = IK_DIAG_INIT;
    s->cc.lock = -1;
    if (rc == 0 && graph != NULL)
        rc = ik_cli_load_graph(graph, &s->g);
    if (rc == 0)
        rc = ik_cli_open_remote(remote, s->g, &s->remote);
    if (rc == 0 && s->remote == NULL) {
        ik_diag_set(&d, IK_EUSAGE, "cache %s: no remote cache is set (--remote, IKADA_REMOTE, "
                                   "or remote: in the graph or the config file)", verb);
        rc = ik__cc_fail(&d);
    }
    /* pull fills a cache that may not exist yet; push needs one. */
    if (rc == 0)
        rc = ik_cli_open_cache(graph_required, &s->cc.c);
    if (rc == 0 && s->g != NULL) {
        s->selected = ik_xcalloc(s->g->n_nodes + 1, sizeof *s->selected);
        if (ik_srcmemo_open(s->cc.c, &s->memo, &d) < 0 ||
            ik_plan_select(s->g, targets.items, targets.n, s->selected, &d) < 0)
            rc = ik__cc_fail(&d);
        ik_plan_init(&s->plan, s->g, s->cc.c, s->memo);
    }
    ik_diag_free(&d);
    free(targets.items);
    return rc;
}

static void end(struct session *s)
{
    if (s->g != NULL)
        ik_plan_close(&s->plan);
    ik_srcmemo_close(s->memo);
    free(s->selected);
    ik_graph_free(s->g);
    ik__cc_end(&s->cc);
    ik_remote_close(s->remote);
}

/* A failed transfer: the remote's own reason when it went down. */
static int transfer_failed(struct session *s, const char *verb, struct ik_diag *d)
{
    if (ik_remote_down_reason(s->remote) != NULL) {
        ik_diag_free(d);
        ik_diag_set(d, IK_EHTTP, "cache %s: remote cache unavailable (%s)", verb,
                    ik_remote_down_reason(s->remote));
    }
    return ik__cc_fail(d);
}

int ik__cc_push(int argc, char **argv)
{
    struct session s;
    int rc = begin("push", argc, argv, false, &s);
    if (s.stop) {
        end(&s);
        return rc;
    }
    struct ik_diag d = IK_DIAG_INIT;
    struct push_ctx x = {s.remote, s.cc.c, 0, 0, &d, 0};
    if (rc == 0 && s.g == NULL) {
        ik_action_foreach(s.cc.c, push_record, &x);
    } else if (rc == 0) {
        if (ik_plan_resolve_all(&s.plan, s.selected, NULL, &d) < 0)
            x.rc = d.code;
        for (size_t i = 0; x.rc == 0 && i < s.g->n_nodes; i++)
            if (s.selected[i] && s.plan.entries[i].state == IK_PLAN_CACHED)
                push_one(&x, s.plan.entries[i].action);
    }
    if (rc == 0 && x.rc != 0)
        rc = transfer_failed(&s, "push", &d);
    else if (rc == 0)
        printf("pushed %zu result%s to %s%s\n", x.pushed, x.pushed == 1 ? "" : "s",
               ik_remote_name(s.remote), x.skipped ? " (some lacked outputs locally)" : "");
    ik_diag_free(&d);
    end(&s);
    return rc;
}

int ik__cc_pull(int argc, char **argv)
{
    struct session s;
    int rc = begin("pull", argc, argv, true, &s);
    if (s.stop) {
        end(&s);
        return rc;
    }
    struct ik_diag d = IK_DIAG_INIT;
    if (rc == 0) {
        s.plan.remote = s.remote;
        if (ik_plan_resolve_all(&s.plan, s.selected, NULL, &d) < 0)
            rc = ik__cc_fail(&d);
    }
    if (rc == 0 && ik_remote_down_reason(s.remote) != NULL)
        rc = transfer_failed(&s, "pull", &d);
    if (rc == 0) {
        size_t here = 0, missing = 0;
        for (size_t i = 0; i < s.g->n_nodes; i++) {
            const struct ik_plan_entry *e = &s.plan.entries[i];
            if (s.selected[i] && e->state == IK_PLAN_CACHED)
                here += !e->from_remote;
            else if (s.selected[i])
                missing++;
        }
        printf("pulled %zu result%s from %s (%zu already here, %zu on neither side)\n",
               s.plan.remote_hits, s.plan.remote_hits == 1 ? "" : "s", ik_remote_name(s.remote),
               here, missing);
    }
    ik_diag_free(&d);
    end(&s);
    return rc;
}
