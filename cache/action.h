/* cache/action.h - action records: node key -> what running it produced.
 *
 * A node's key is the SHA-256 of its spec object (engine/key.h: type,
 * version, resolved params, input hashes). After the node's child process
 * exits successfully and every output object exists, the scheduler writes
 * actions/ab/<key> (atomically), so an action record never points at a missing
 * object unless that object was removed later (gc, quarantine), which callers
 * check with ik_cas_stat before trusting a record.
 *
 * On-disk format: a msgpack map
 *   {v: 1, key: hex, spec: hex, type: str, version: int, node: str,
 *    outputs: [{port, hash, size, kind}], log: hex|nil,
 *    started_ms: int (unix ms), duration_ms: int, counters: {name: float},
 *    sum: bin 32}
 * sum (cache/seal.h) is the SHA-256 of the bytes before it, so a flipped byte
 * makes the record IK_ECORRUPT: a cache miss for a run (which re-runs the node
 * and rewrites the record), a finding for `ikada cache verify`. Records
 * written before sums existed have the 11 other fields only and are still
 * read (v stays 1, so an older ikada reads sealed records too); a record
 * with any other set of fields and no valid sum is corrupt. */
#ifndef IK_CACHE_ACTION_H
#define IK_CACHE_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "base/hash.h"

struct ik_action_output {
    char *port;
    struct ik_hash hash;
    uint64_t size;
    char *kind; /* the artifact's kind, e.g. "file", "faq.rows" */
};

/* Which file a record was read from or written to: a ref that copies a
 * record's outputs keeps this, so it can tell (with one stat) that the record
 * was since replaced, by a `--force` run of another graph sharing the key. All
 * zero when unknown. */
struct ik_action_stamp {
    uint64_t ino;
    uint64_t size;
    int64_t mtime_ns;
};

struct ik_action_counter {
    char *name;
    double value;
};

struct ik_action {
    struct ik_hash key;
    char *type;
    int version;
    char *node; /* name of the graph node that first produced it */
    struct ik_action_output *outputs;
    size_t n_outputs;
    bool has_log;
    struct ik_hash log; /* object holding the captured stdout+stderr */
    int64_t started_ms;
    int64_t duration_ms;
    struct ik_action_counter *counters;
    size_t n_counters;
    struct ik_action_stamp stamp; /* set by ik_action_get and ik_action_put */
};

/* Writes the record atomically, replacing any earlier record of the key (a
 * `--force` run: the newest outputs are the key's), and sets a->stamp.
 * Returns 0 or -errno with d filled. */
int ik_action_put(struct ik_cache *c, struct ik_action *a, struct ik_diag *d);

/* Reads the record for key: 0 and a new *out (ik_action_free), -ENOENT when
 * there is none, IK_ECORRUPT when it cannot be parsed (d filled). */
int ik_action_get(const struct ik_cache *c, const struct ik_hash *key, struct ik_action **out,
                  struct ik_diag *d);

/* Parses a record's bytes (read from `where`, named in messages) as
 * ik_action_get does, without a stamp: 0 and a new *out, or IK_ECORRUPT. The
 * remote cache (cache/remote.h) checks downloaded records with it. */
int ik_action_parse(const char *data, size_t len, const char *where, const struct ik_hash *key,
                    struct ik_action **out, struct ik_diag *d);

/* The stamp of the key's record as it is on disk now: 0, or -errno
 * (-ENOENT: no record). */
int ik_action_stamp_of(const struct ik_cache *c, const struct ik_hash *key,
                       struct ik_action_stamp *out);
bool ik_action_stamp_equal(const struct ik_action_stamp *a, const struct ik_action_stamp *b);

/* True if every output object of a exists with its recorded size. */
bool ik_action_outputs_present(const struct ik_cache *c, const struct ik_action *a);

/* The output named port, or NULL. */
const struct ik_action_output *ik_action_output(const struct ik_action *a, const char *port);

/* Calls fn for every record (parsed); stops when fn returns non-zero. */
int ik_action_foreach(const struct ik_cache *c, int (*fn)(const struct ik_action *a, void *arg),
                      void *arg);

/* Deletes a record (gc). */
int ik_action_remove(struct ik_cache *c, const struct ik_hash *key);

/* Accepts NULL. */
void ik_action_free(struct ik_action *a);

#endif
