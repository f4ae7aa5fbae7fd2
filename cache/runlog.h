/* cache/runlog.h - the history of `ikada run` invocations (ikada log, gc roots).
 *
 * One file per run, root/runs/<started_ms>-<pid>.mp, written atomically when
 * the run ends (also on failure and Ctrl-C). A no-op run (exit 0, every node
 * found cached) is recorded compactly, without its nodes, in
 * <started_ms>-<pid>.noop.mp: a 10,000-node graph's no-op run writes a few
 * bytes, and the name lets gc and `ikada log` pass over such runs unread.
 * Format: a msgpack map
 *   {v: 1, id: str, graph: str (path), started_ms: int, duration_ms: int,
 *    exit: int, argv: [str],
 *    nodes: [{name, key: hex|nil, status: "ran"|"cached"|"failed"|"skipped"|"canceled",
 *             duration_ms: int, error: str|nil, log: hex (a failed node's log object, optional)}],
 *    graph_id: str (the graph's identity, cache/refs.h; optional: older records lack it),
 *    noop: int (a no-op run only: how many nodes it found cached; nodes is []),
 *    sum: bin 32}
 * sum (cache/seal.h) is the SHA-256 of the bytes before it. Records written
 * before sums existed have the 8 other fields only and are still read (v
 * stays 1, so an older ikada reads sealed ones too); any other record without
 * a valid sum is corrupt: `ikada log` skips it (naming it), gc refuses to guess
 * what it reached, and `ikada cache verify` moves it to quarantine/. */
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
    bool has_log;
    struct ik_hash log; /* a failed node's captured log, an object in the CAS (gc keeps it
                         * with the run) */
};

struct ik_run {
    char *id;
    char *graph;
    char *graph_id; /* the graph's identity (cache/refs.h), NULL in older records */
    int64_t started_ms;
    int64_t duration_ms;
    int exit_code;
    char **argv;
    size_t argc;
    struct ik_run_node *nodes;
    size_t n_nodes;
    bool noop;         /* exit 0 and every node cached: written without its nodes */
    size_t noop_nodes; /* how many nodes such a run found cached */
};

/* Writes the run's record (its id is made from started_ms and the pid when
 * run->id is NULL). */
int ik_runlog_write(struct ik_cache *c, const struct ik_run *run, struct ik_diag *d);

/* Reads up to `limit` most recent runs (0 = all), newest first. *runs is a new
 * array (ik_runs_free). */
int ik_runlog_list(const struct ik_cache *c, size_t limit, struct ik_run **runs, size_t *n,
                   struct ik_diag *d);
void ik_runs_free(struct ik_run *runs, size_t n);

/* Unreadable run records left out of a listing: one message each, naming the file. */
struct ik_runlog_skipped {
    char **why;
    size_t n;
};
/* The same as ik_runlog_list, but a corrupt record is skipped (and named in
 * *skipped, which the caller frees with ik_runlog_skipped_free) instead of
 * failing the list; limit counts the readable ones. */
int ik_runlog_list_readable(const struct ik_cache *c, size_t limit, struct ik_run **runs,
                            size_t *n, struct ik_runlog_skipped *skipped, struct ik_diag *d);
void ik_runlog_skipped_free(struct ik_runlog_skipped *s);

/* What the newest run record naming a key says of it, when that is a failure. */
struct ik_run_failure {
    bool failed;
    char *run_id;
    char *error; /* NULL when the record has no message */
    bool has_log;
    struct ik_hash log;
};

/* For each of keys[0..n): out[i].failed when the newest run that ran, found
 * cached or failed that key failed it (a later success or cached result of
 * the same key settles it), with that run's id, error and log. Reads records
 * newest first and stops once every key is settled; a corrupt record is
 * skipped (ikada log names it). out is zeroed first; free with
 * ik_run_failures_free. */
int ik_runlog_failures(const struct ik_cache *c, const struct ik_hash *keys, size_t n,
                       struct ik_run_failure *out, struct ik_diag *d);
void ik_run_failures_free(struct ik_run_failure *f, size_t n);
/* The same for the newest run (of graph, as the run recorded its path; NULL:
 * any) that tried a node named `node`, whatever its key: what `cache show`
 * says of a node that has no result to show. */
int ik_runlog_node_failure(const struct ik_cache *c, const char *graph, const char *node,
                           struct ik_run_failure *out, struct ik_diag *d);

/* Which runs a listing returns (NULL: all). */
struct ik_runlog_filter {
    bool real_only; /* leave out no-op runs (gc's --keep-runs counts real runs only) */
    /* When set, a run is listed only if it returns true (e.g. one graph's runs). */
    bool (*keep)(const struct ik_run *r, void *arg);
    void *arg;
};
/* ik_runlog_list_readable over the runs the filter keeps; limit counts those
 * (skipped may be NULL: a corrupt record then fails the list). */
int ik_runlog_list_where(const struct ik_cache *c, size_t limit, const struct ik_runlog_filter *f,
                         struct ik_run **runs, size_t *n, struct ik_runlog_skipped *skipped,
                         struct ik_diag *d);

/* Reads the run record at path: 0, IK_ECORRUPT or -errno with d filled. */
int ik_runlog_check(const char *path, struct ik_diag *d);

#endif
