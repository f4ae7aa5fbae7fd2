/* cache/runlog.h - the history of `ikada run` invocations (ikada log, gc roots).
 *
 * One file per run, root/runs/<started_ms>-<pid>.mp, written atomically when
 * the run ends (also on failure and Ctrl-C). Format: a msgpack map
 *   {v: 1, id: str, graph: str (path), started_ms: int, duration_ms: int,
 *    exit: int, argv: [str],
 *    nodes: [{name, key: hex|nil, status: "ran"|"cached"|"failed"|"skipped"|"canceled",
 *             duration_ms: int, error: str|nil}]} */
#ifndef IK_CACHE_RUNLOG_H
#define IK_CACHE_RUNLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "base/hash.h"

struct ik_run_node {
    char *name;
    bool has_key;
    struct ik_hash key;
    char *status;
    int64_t duration_ms;
    char *error; /* NULL unless failed */
};

struct ik_run {
    char *id;
    char *graph;
    int64_t started_ms;
    int64_t duration_ms;
    int exit_code;
    char **argv;
    size_t argc;
    struct ik_run_node *nodes;
    size_t n_nodes;
};

/* Writes the run's record (its id is made from started_ms and the pid when
 * run->id is NULL). */
int ik_runlog_write(struct ik_cache *c, const struct ik_run *run, struct ik_diag *d);

/* Reads up to `limit` most recent runs (0 = all), newest first. *runs is a new
 * array (ik_runs_free). */
int ik_runlog_list(const struct ik_cache *c, size_t limit, struct ik_run **runs, size_t *n,
                   struct ik_diag *d);
void ik_runs_free(struct ik_run *runs, size_t n);

#endif
