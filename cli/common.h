/* cli/common.h - helpers shared by the subcommands: loading a graph and
 * opening the cache with the right messages and exit codes. */
#ifndef IK_CLI_COMMON_H
#define IK_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cache/cache.h"
#include "engine/graph.h"

/* Loads and validates a graph file, under the config file's settings
 * (engine/config.h); on failure (of either) prints the diag and returns the
 * exit status (2). 0 on success. */
int ik_cli_load_graph(const char *path, struct ik_graph **g);
/* The same with `-S NODE.PARAM=VALUE` arguments (engine/graph.h's
 * ik_graph_opts). */
int ik_cli_load_graph_sets(const char *path, char *const *sets, size_t n_sets, struct ik_graph **g);
/* The remote cache (cache/remote.h) a command uses: flag (--remote; NULL when
 * not given), else $IKADA_REMOTE, else g's `remote:` (the graph's, else the
 * config file's; with g NULL the config file is read for it). An empty
 * --remote or IKADA_REMOTE means none, whatever the files say. *out NULL when
 * there is none; prints and returns 2 for a bad setting, naming where it was. */
struct ik_remote;
int ik_cli_open_remote(const char *flag, const struct ik_graph *g, struct ik_remote **out);
/* Opens (creating if asked) the cache; prints and returns 2 on failure. */
int ik_cli_open_cache(bool create, struct ik_cache **c);
/* Prints the last `lines` lines of the log object h to out, each indented
 * "  | " as a run shows a failure's log, less a last line that only repeats
 * `error` (the node's own "ikada: error: ..." line; error may be NULL); a
 * missing or corrupt log is a one-line note instead (a corrupt one is
 * quarantined). */
void ik_cli_print_log_tail(const struct ik_cache *c, const struct ik_hash *h, const char *error,
                           int lines, FILE *out);

#endif
