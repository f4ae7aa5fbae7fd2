/* engine/plan.h - deciding, node by node, what is up to date and why not.
 *
 * A plan pairs a graph with a cache. Resolving node i computes its input
 * hashes (source files through the memo, node inputs from the producers'
 * action records), its spec and key, and looks the key up in the action cache.
 * That needs every producer resolved first and up to date (or just run), so
 * `status` and `--dry-run` resolve in topological order and stop at the first
 * node that must run ("upstream 'x' will run"), while the scheduler resolves a
 * node when its producers finish — which is what gives early cutoff: a
 * producer that re-ran with identical bytes leaves its consumers' keys as they
 * were. Reasons are recorded at each decision (ninja's explanations), so
 * `ikada status` can say which param or which input changed. */
#ifndef IK_ENGINE_PLAN_H
#define IK_ENGINE_PLAN_H

#include <stdbool.h>

#include "cache/action.h"
#include "cache/cache.h"
#include "cache/refs.h"
#include "cache/remote.h"
#include "cache/srcmemo.h"
#include "engine/graph.h"
#include "engine/key.h"

enum ik_plan_state {
    IK_PLAN_UNRESOLVED, /* producers not ready yet */
    IK_PLAN_CACHED,     /* key known, action present with all its outputs */
    IK_PLAN_STALE,      /* key known, no usable action: must run */
    IK_PLAN_BLOCKED,    /* a producer must run first, so the key is not known yet */
};

struct ik_plan_entry {
    enum ik_plan_state state;
    bool key_known;
    struct ik_hash key;
    char *spec; /* canonical spec bytes (engine/key.h) */
    size_t spec_len;
    struct ik_key_input *inputs; /* one per graph input */
    struct ik_action *action;    /* the record once known (cached or just run) */
    char *reason;                /* why it must run / is blocked; NULL when cached */
    bool never_run;              /* no ref for this node */
    bool from_remote;            /* CACHED because the remote cache had it (with
                                  * remote_peek: has it, not downloaded) */
    /* The key last looked up remotely (kept across re-resolves), so the
     * scheduler's second look after taking the key's lock asks no server. */
    bool remote_looked;
    struct ik_hash remote_key;
};

struct ik_plan {
    struct ik_graph *graph;     /* borrowed */
    struct ik_cache *cache;     /* borrowed */
    struct ik_srcmemo *memo;    /* borrowed */
    struct ik_plan_entry *entries; /* one per graph node */
    struct ik_refset *refs;     /* the graph's refs, loaded on first use (owned) */
    bool refs_failed;           /* they could not be loaded (warned once) */
    char *graph_id;             /* the graph's identity in the cache (cache/refs.h), owned */
    /* The second tier (cache/remote.h), borrowed; NULL: local only. A key
     * missing locally is looked up there before it counts as STALE. */
    struct ik_remote *remote;
    bool remote_warned;         /* the remote went down and the user was told */
    /* Only look: a remote hit reads the record (its outputs' hashes, for the
     * consumers' keys) and downloads nothing (`status`, `run -n`). */
    bool remote_peek;
    size_t remote_hits;         /* nodes made CACHED by downloads */
};

void ik_plan_init(struct ik_plan *p, struct ik_graph *g, struct ik_cache *c, struct ik_srcmemo *m);
void ik_plan_close(struct ik_plan *p);

/* Checks that every file: input of the selected nodes (selected == NULL: all)
 * exists; IK_EVALIDATE with d naming each missing one at its graph location. */
int ik_plan_check_sources(const struct ik_plan *p, const bool *selected, struct ik_diag *d);

/* Checks the environment variables (node type's needs_env) of the selected
 * nodes that will run: resolved as far as the cache allows on a plan of its
 * own (a cached node needs no key); with sources_ok false every selected
 * node counts as running. IK_EVALIDATE with d naming each unset variable,
 * its node and what it is for; 0 when every one is set. */
int ik_plan_check_env(struct ik_plan *p, const bool *selected, bool sources_ok,
                      struct ik_diag *d);

/* Resolves node i; every producer of i must have an action. force: treat an
 * existing action as absent. Sets the entry's state to CACHED or STALE (with a
 * reason). With a remote, a local miss (not forced) is fetched from it first
 * (CACHED, from_remote); a damaged remote result or a remote that is down is
 * a warning on stderr (once for down) and leaves the node STALE. Fails on an
 * unreadable source or a cache error. */
int ik_plan_resolve(struct ik_plan *p, size_t i, bool force, struct ik_diag *d);

/* Resolves the selected nodes in topological order as far as the cache allows
 * (status, --dry-run): nodes behind a stale one become BLOCKED. */
int ik_plan_resolve_all(struct ik_plan *p, const bool *selected, const bool *forced,
                        struct ik_diag *d);

/* Marks `selected` (n_nodes bools) as the targets and all their producers,
 * transitively. targets == NULL / n == 0 selects every node. Unknown target
 * names fail with IK_EUSAGE and a did-you-mean. */
int ik_plan_select(const struct ik_graph *g, char *const *targets, size_t n, bool *selected,
                   struct ik_diag *d);

/* The graph's refs (what each node last ran with), loaded once (after moving
 * an older ikada's refs aside: ik_refs_migrate). Refs only explain and name
 * results, so a damaged refs file must not stop a run: a corrupt one is
 * replaced by an empty set that the scheduler's next save writes (one
 * warning); an unreadable one gives NULL (one warning). */
struct ik_refset *ik_plan_refs(struct ik_plan *p);

/* The graph's identity in the cache: its path relative to the folder holding
 * the cache, or absolute (cache/refs.h). Computed once. */
const char *ik_plan_graph_id(struct ik_plan *p);

/* Stores the action that just ran for node i (takes ownership). */
void ik_plan_set_action(struct ik_plan *p, size_t i, struct ik_action *a);

#endif
