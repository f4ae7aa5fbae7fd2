/* cli/cache_int.h - internals shared by the cli/cache*.c files.
 *
 * Not a public contract: only `ikada cache` verbs include this. It holds the
 * start every verb shares (open the cache, lock it, load the index), REF
 * resolution and the index of which action produced which object. A verb reads
 * its options with cli/opt.h, prints JSON through base/mpjson.h and text to
 * stdout, diagnostics to stderr, and returns an IK_EXIT_* status. */
#ifndef IK_CLI_CACHE_INT_H
#define IK_CLI_CACHE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/action.h"
#include "cache/cache.h"
#include "cache/cas.h"
#include "base/hash.h"
#include "base/diag.h"
#include "cli/opt.h"

struct ik_buf;

/* The syntax of every verb's options (ik_optspec.flags): --limit=N, and "-"
 * is an argument (export -o -). */
#define IK__CC_ARGS (IK_OPT_EQUALS | IK_OPT_DASH_ARG)

/* Parses a non-negative decimal count for option `name`; prints an error and
 * returns IK_EXIT_USAGE when it is not one. */
int ik__cc_count(const char *name, const char *text, size_t *out);

/* Prints d and returns the exit status for its code: 2 for a bad REF or
 * usage (not found, ambiguous, usage, parse), else 1. */
int ik__cc_fail(struct ik_diag *d);

/* What a producer index knows about one object. */
struct ik__cc_prod {
    struct ik_hash object;
    struct ik_hash key; /* the action that produced it */
    char *node;
    char *port;         /* "log" for a captured log */
    char *kind;         /* the artifact kind, or "log" */
    uint64_t size;
    int64_t time_ms;    /* when the action finished */
    bool is_log;
};

/* Every output and log of every action record, sorted newest first. */
struct ik__cc_index {
    struct ik__cc_prod *items;
    size_t n;
    struct ik_hash *keys; /* every action key */
    size_t n_keys;
    size_t cap_, keys_cap_; /* private */
};

int ik__cc_index_load(const struct ik_cache *c, struct ik__cc_index *ix, struct ik_diag *d);
void ik__cc_index_free(struct ik__cc_index *ix);
/* The newest producer of object h, or NULL. */
const struct ik__cc_prod *ik__cc_index_find(const struct ik__cc_index *ix, const struct ik_hash *h);

/* What a verb works on once its arguments are read. */
struct ik__cc_session {
    struct ik_cache *c;
    int lock;               /* the exclusive lock with IK__CC_EXCLUSIVE, else -1 */
    struct ik__cc_index ix; /* loaded with IK__CC_INDEX, else empty */
};

enum {
    IK__CC_EXCLUSIVE = 1, /* take the exclusive cache lock without waiting (verify, gc);
                           * held by another process: IK_EXIT_BUSY */
    IK__CC_INDEX = 2,     /* load the producer index */
};

/* The start every verb shares after parsing its arguments: opens the cache
 * (without creating it), then does what `need` asks (IK__CC_*); `verb` names
 * the verb in the message when the lock is taken. Returns 0, or prints why and
 * returns the exit status, x then holding nothing (ik__cc_end on it is a no-op). */
int ik__cc_begin(const char *verb, unsigned need, struct ik__cc_session *x);
/* Releases what ik__cc_begin took. */
void ik__cc_end(struct ik__cc_session *x);

/* A resolved REF. */
struct ik__cc_ref {
    bool is_action;            /* REF names an action key (a node without a port) */
    bool is_log;               /* REF is node.log */
    struct ik_hash hash;       /* the object, or the action key */
    struct ik_action *action;  /* the action named, or the one a node.port went through */
    char *port;                /* the port of node.port, else NULL */
};

/* Resolves REF (graph:node.port, node.port, node, a full hash or a unique hex
 * prefix). Returns 0, or IK_ENOTFOUND / IK_EAMBIGUOUS / IK_EUSAGE with d set. */
int ik__cc_resolve(const struct ik_cache *c, const char *ref, struct ik__cc_ref *out,
                   struct ik_diag *d);
void ik__cc_ref_free(struct ik__cc_ref *r);

/* Maps the object a REF names (not an action) and checks its hash (a corrupt
 * object is quarantined: cache/cas.h); prints and returns the exit status on
 * failure, 0 on success (release b with ik_blob_release). */
int ik__cc_load(const struct ik_cache *c, const char *ref, struct ik__cc_ref *r,
                struct ik_blob *b);

/* First 12 hex digits. */
void ik__cc_hex12(const struct ik_hash *h, char out[13]);
/* Writes b to stdout and flushes. */
void ik__cc_out(const struct ik_buf *b);
/* "5s", "3m", "2h", "4d" for an age in milliseconds. */
void ik__cc_age(int64_t ms, char out[16]);

int ik__cc_ls(int argc, char **argv);
int ik__cc_show(int argc, char **argv);
int ik__cc_query(int argc, char **argv);
int ik__cc_export(int argc, char **argv);
int ik__cc_diff(int argc, char **argv);
int ik__cc_verify(int argc, char **argv);
int ik__cc_gc(int argc, char **argv);
int ik__cc_du(int argc, char **argv);
int ik__cc_push(int argc, char **argv); /* cli/cache_remote.c */
int ik__cc_pull(int argc, char **argv);

#endif
