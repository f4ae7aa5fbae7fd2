/* engine/exec.c - the node host: run one node in this (child) process.
 *
 * `ikada exec KEY` (cli/exec.c parses its argv) lands here. The scheduler
 * spawns that command for every node that must run; a cluster executor can
 * run the same command elsewhere on a shared cache. It loads the spec
 * object named KEY from the CAS, finds the node type, gives its `run` the
 * accessors of engine/node.h, stores each output in the CAS, and reports the
 * outputs to the parent on the progress pipe. It never writes the action
 * record: the parent does that after this process has exited 0, so a crash or
 * a kill here leaves no record pointing at a half-made result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include "base/error.h"
#include "cache/artifact.h"
#include "cache/cas.h"
#include "cache/lock.h"
#include "base/file.h"
#include "engine/exec.h"
#include "engine/exec_int.h"
#include "base/mp.h"
#include "engine/progress.h"
#include "base/xmalloc.h"

/* Maps and unpacks the spec object; fills type, params and input list. */
static int load_spec(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&ctx->key, hex);
    int rc = ik_cas_map_verified(ctx->cache, &ctx->key, UINT64_MAX, &ctx->spec_blob, d);
    if (rc < 0) {
        ik_diag_prefix(d, "spec %.12s: ", hex);
        if (rc == IK_ECORRUPT)
            ik_diag_hint(d, "the next `ikada run` stores it again");
        return rc;
    }
    msgpack_unpacked_init(&ctx->spec);
    if (msgpack_unpack_next(&ctx->spec, (const char *)ctx->spec_blob.data, ctx->spec_blob.len,
                            NULL) != MSGPACK_UNPACK_SUCCESS)
        return ik_diag_set(d, IK_ECORRUPT, "spec %.12s is not msgpack", hex);
    const msgpack_object *root = &ctx->spec.data;
    char *type_name = ik_mp_strdup(ik_mp_get(root, "type"));
    ctx->type = type_name ? ik_node_type_find_in(ctx->types, type_name) : NULL;
    double version = 0;
    ik_mp_number(ik_mp_get(root, "version"), &version);
    if (ctx->type == NULL) {
        rc = ik_diag_set(d, IK_EVALIDATE, "spec %.12s names unknown node type '%s'", hex,
                         type_name ? type_name : "?");
    } else if ((int)version != ctx->type->version) {
        rc = ik_diag_set(d, IK_EVERSION, "spec %.12s is for %s version %d, this ikada has version %d",
                         hex, type_name, (int)version, ctx->type->version);
    }
    free(type_name);
    if (rc < 0)
        return rc;
    ctx->params = ik_mp_get(root, "params");
    ctx->inputs = ik_mp_get(root, "inputs");
    if (ctx->params == NULL || ctx->inputs == NULL || ctx->inputs->type != MSGPACK_OBJECT_MAP)
        return ik_diag_set(d, IK_ECORRUPT, "spec %.12s lacks params or inputs", hex);
    return 0;
}

static int make_scratch(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&ctx->key, hex);
    char *rel = ik_xasprintf("tmp/exec-%.16s-%ld", hex, (long)getpid());
    ctx->scratch = ik_cache_path(ctx->cache, rel);
    free(rel);
    ik_remove_tree(ctx->scratch);
    return ik_mkdirs(ctx->scratch, d);
}

static void send_result(struct ik_node_ctx *ctx)
{
    struct ik_progress_output *outs = ik_xcalloc(ctx->n_outputs + 1, sizeof *outs);
    char (*hex)[IK_HASH_HEX_LEN + 1] = ik_xcalloc(ctx->n_outputs + 1, sizeof *hex);
    for (size_t i = 0; i < ctx->n_outputs; i++) {
        ik_hash_to_hex(&ctx->outputs[i].hash, hex[i]);
        outs[i] = (struct ik_progress_output){ctx->outputs[i].port, hex[i], ctx->outputs[i].size,
                                              ctx->outputs[i].kind};
    }
    ik_progress_send_result(IK_PROGRESS_FD, outs, ctx->n_outputs);
    free(hex);
    free(outs);
}

/* Every declared output port must have been written. */
static int check_outputs(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    const char *const *names = (const char *const *)ctx->declared_outputs;
    for (size_t i = 0; i < ctx->n_declared_outputs; i++) {
        bool found = false;
        for (size_t j = 0; j < ctx->n_outputs && !found; j++)
            found = strcmp(ctx->outputs[j].port, names[i]) == 0;
        if (!found)
            return ik_diag_set(d, IK_ENODE, "node type '%s' finished without writing output '%s'",
                               ctx->type->name, names[i]);
    }
    return 0;
}

static void ctx_free(struct ik_node_ctx *ctx)
{
    if (ctx->scratch)
        ik_remove_tree(ctx->scratch);
    free(ctx->scratch);
    ik__exec_inputs_free(ctx);
    for (size_t i = 0; i < ctx->n_outputs; i++) {
        free(ctx->outputs[i].port);
        free(ctx->outputs[i].kind);
    }
    free(ctx->outputs);
    for (size_t i = 0; i < ctx->n_declared_outputs; i++)
        free(ctx->declared_outputs[i]);
    free(ctx->declared_outputs);
    if (ctx->spec_blob.map_ || ctx->spec_blob.data) {
        msgpack_unpacked_destroy(&ctx->spec);
        ik_blob_release(&ctx->spec_blob);
    }
    ik_cache_close(ctx->cache);
}

/* The scheduler runs each node as the leader of its own process group: on
 * SIGTERM (the scheduler stopping it, or the scheduler itself dying, through
 * PR_SET_PDEATHSIG) take down everything the node started too, such as a
 * command node's shell and its children. */
static volatile sig_atomic_t graceful, stop_requested;

static void on_terminate(int sig)
{
    (void)sig;
    if (graceful && !stop_requested) { /* the node saves its state and returns */
        stop_requested = 1;
        return;
    }
    kill(0, SIGKILL);
    _exit(128 + SIGTERM);
}

bool ik__exec_stop_requested(void) { return stop_requested != 0; }

void ik_exec_die_with_scheduler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_terminate;
    sigaction(SIGTERM, &sa, NULL);
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* it died before prctl took effect */
        on_terminate(SIGTERM);
}

int ik_exec_node(const struct ik_exec_request *req)
{
    struct ik_node_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.key = req->key;
    ctx.name = req->name ? req->name : "node";
    ctx.files = req->files;
    ctx.n_files = req->n_files;
    ctx.types = req->types;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_cache_open(false, &ctx.cache, &d);
    /* Shared, like the run that started us: while this process lives (even if
     * that run was killed), no new run takes the cache exclusive and empties
     * tmp/, where the scratch folder and the outputs being written are. */
    int lock = rc == 0 ? ik_lock_cache(ctx.cache, false, true, &d) : -1;
    if (lock < 0 && rc == 0)
        rc = lock;
    if (rc == 0)
        rc = load_spec(&ctx, &d);
    if (rc == 0)
        rc = ik__exec_declared_outputs(&ctx, &d);
    if (rc == 0)
        rc = make_scratch(&ctx, &d);
    if (rc == 0) {
        graceful = ctx.type->stops_gracefully; /* a SIGTERM before this has killed us */
        rc = ctx.type->run(&ctx, &d);
        if (rc == 0)
            rc = check_outputs(&ctx, &d);
        else if (d.text == NULL)
            ik_diag_set(&d, rc, "node type '%s' failed: %s", ctx.type->name, ik_strerror(rc));
    }
    if (rc == 0) {
        fflush(stdout);
        send_result(&ctx);
    } else {
        ik_exec_report_failure(&d);
    }
    ctx_free(&ctx);
    ik_unlock(lock);
    ik_diag_free(&d);
    return rc;
}

void ik_exec_report_failure(const struct ik_diag *d)
{
    ik_diag_print(d);
    ik_progress_send_error(IK_PROGRESS_FD, ik_diag_message(d));
}

struct ik_node_ctx *ik_exec_store_ctx_new(struct ik_cache *cache)
{
    struct ik_node_ctx *ctx = ik_xcalloc(1, sizeof *ctx);
    ctx->cache = cache;
    ctx->name = "node";
    return ctx;
}

void ik_exec_store_ctx_free(struct ik_node_ctx *ctx) { free(ctx); }
