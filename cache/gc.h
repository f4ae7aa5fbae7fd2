/* cache/gc.h - whole-cache maintenance: garbage collection, verification, usage
 * (gc.c; the checks of records are in verify.c).
 *
 * Callers hold the exclusive cache lock (cache/lock.h) for ik_gc and
 * ik_cache_verify_all, so no run is adding objects or reading them meanwhile.
 * Reachability: the roots are every ref's key (also those of refs/legacy/,
 * cache/refs.h) and every node key recorded in the last `keep_runs` run records
 * (no-op runs, which reach only what refs reach, do not count). A root keeps its action record, that
 * record's output and log objects, and its spec object (the object whose hash
 * is the key). Every object a kv entry names (cache/kv.h: paid-for API
 * responses) is kept too, except the checkpoints (IK_KV_CHECKPOINTS, cache/kv.h)
 * of a node that has finished (its action record exists) or that no root
 * names any more: those entries are removed, and their objects with them.
 * Everything else in objects/ and actions/ is garbage. Run records, refs, the
 * other kv entries and the srcmemo are never removed by gc.
 * Returns 0 or -errno / IK_ECORRUPT (an unreadable ref or run record: gc stops
 * rather than guess what it reaches) with d filled. */
#ifndef IK_CACHE_GC_H
#define IK_CACHE_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "base/hash.h"
#include "base/diag.h"

struct ik_gc_item {
    struct ik_hash hash;
    bool is_action; /* an action record (actions/…) rather than an object */
    uint64_t size;
};

/* Filled by ik_gc (which zeroes it first); release with ik_gc_report_free. */
struct ik_gc_report {
    size_t objects_kept, objects_removed;
    uint64_t object_bytes_kept, object_bytes_removed;
    size_t actions_kept, actions_removed;
    uint64_t action_bytes_kept, action_bytes_removed;
    size_t checkpoints_removed; /* orphan checkpoint entries (cache/kv.h), removed or not */
    size_t tmp_removed;        /* entries of root/tmp removed (0 with dry_run) */
    uint64_t tmp_bytes_removed;
    struct ik_gc_item *removed; /* what was removed (or, with dry_run, would be) */
    size_t n_removed;
};

/* Removes everything not reachable (see above), empties root/tmp (ik_gc_tmp)
 * and removes stale key lock files; with dry_run, only fills rep. keep_runs = 0 means no run
 * record is a root (only refs are). */
int ik_gc(struct ik_cache *c, size_t keep_runs, bool dry_run, struct ik_gc_report *rep,
          struct ik_diag *d);
/* Accepts NULL; frees rep->removed and zeroes rep. */
void ik_gc_report_free(struct ik_gc_report *rep);

/* A record found corrupt by verify (cache/verify.c). */
struct ik_verify_record {
    char *path;    /* absolute path of the file */
    char *problem; /* one line naming the file and what is wrong */
    char *moved;   /* where it is now (quarantine/...), or NULL: repaired in place */
};
/* Removes what killed runs left in root/tmp (exec scratch folders, temporary
 * files of atomic writes); adds to *removed and *bytes. The caller holds the
 * exclusive cache lock, so no run or node is writing there; an entry whose
 * name carries the pid of a live process is kept all the same (a process that
 * is creating the cache writes through tmp/ before it can lock it). */
void ik_gc_tmp(struct ik_cache *c, size_t *removed, uint64_t *bytes);

/* Filled by ik_cache_verify_all (which zeroes it first). */
struct ik_verify_report {
    size_t objects_checked, objects_ok, objects_corrupt;
    uint64_t bytes_checked;
    struct ik_hash *corrupt; /* the corrupt objects, now in quarantine/ */
    size_t n_corrupt;
    /* Records: action records, refs files, run records, source-memo entries. */
    size_t records_checked, records_corrupt;
    struct ik_verify_record *bad_records;
    size_t n_bad_records;
};

/* Re-hashes every object, then checks every record (ik_cache_verify_records);
 * moves each corrupt object to quarantine/ and lists it in rep. Corruption is
 * a finding, not a failure: returns 0 unless the store cannot be read
 * (-errno, d filled). */
int ik_cache_verify_all(struct ik_cache *c, struct ik_verify_report *rep, struct ik_diag *d);
/* Reads every action record, refs file (refs/ and refs/legacy/), run record
 * and source-memo entry, each against its checksum or what it names; moves a
 * corrupt file to quarantine/<area>-<name> (never overwriting) and repairs the
 * memo in place, listing each in rep (records_* and bad_records; the object
 * fields are untouched). What is moved aside is what a run would rebuild:
 * the node re-runs, the graph's refs are written again, a file is re-hashed;
 * a run record only loses its line of `ikada log`. Returns 0 unless a folder
 * cannot be read (-errno, d filled). */
int ik_cache_verify_records(struct ik_cache *c, struct ik_verify_report *rep, struct ik_diag *d);
/* Accepts NULL; frees rep->corrupt and zeroes rep. */
void ik_verify_report_free(struct ik_verify_report *rep);

enum { IK_DU_OBJECTS, IK_DU_ACTIONS, IK_DU_RUNS, IK_DU_QUARANTINE, IK_DU_TMP, IK_DU_N };

struct ik_du_entry {
    const char *name; /* static: "objects", "actions", "runs", "quarantine", "tmp" */
    uint64_t bytes;   /* sum of file sizes below the folder */
    uint64_t files;
};

struct ik_du_report {
    struct ik_du_entry dirs[IK_DU_N]; /* indexed by IK_DU_* */
    uint64_t total_bytes, total_files;
};

/* Bytes and file counts per cache folder. A missing folder counts as empty.
 * Returns 0 or -errno with d filled. Needs only the shared lock. */
int ik_cache_du(const struct ik_cache *c, struct ik_du_report *rep, struct ik_diag *d);
/* Accepts NULL. The report owns no memory today; this exists so callers stay
 * correct if it ever does. */
void ik_du_report_free(struct ik_du_report *rep);

#endif
