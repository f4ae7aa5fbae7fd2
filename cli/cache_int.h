/* cli/cache_int.h - internals shared by the cli/cache*.c files.
 *
 * Not a public contract: only `ikada cache` verbs include this. It holds the
 * option parser, REF resolution and the index of which action produced which
 * object. Every verb prints JSON through base/mpjson.h and text to stdout,
 * diagnostics to stderr, and returns an IK_EXIT_* status. */
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

struct ik_buf;

/* One option of a verb: "--json" (flag) or "--limit" (takes a value); `alias`
 * is an optional short form ("-o"). */
struct ik__cc_opt {
    const char *name;
    const char *alias;
    bool has_value;
    bool *flag;         /* set for a flag */
    const char **value; /* set for an option with a value */
};

/* Parses argv[1..] (argv[0] is the verb): options anywhere, positionals into
 * pos (at most max_pos, exactly min_pos..max_pos). Returns -1 when --help was
 * printed (exit 0), IK_EXIT_USAGE after printing an error, or 0. */
int ik__cc_parse(int argc, char **argv, const struct ik__cc_opt *opts, const char **pos,
                 size_t min_pos, size_t max_pos, const char *usage, const char *help);

/* Parses a non-negative decimal count for option `name`; prints an error and
 * returns IK_EXIT_USAGE when it is not one. */
int ik__cc_count(const char *name, const char *text, size_t *out);

/* Opens the cache (no creation); prints and returns IK_EXIT_USAGE on failure. */
int ik__cc_open(struct ik_cache **c);

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

/* Maps the object a REF names (not an action); prints and returns the exit
 * status on failure, 0 on success (release b with ik_blob_release). */
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

#endif
