/* cli/common.h - helpers shared by the subcommands: loading a graph and
 * opening the cache with the right messages and exit codes. */
#ifndef IK_CLI_COMMON_H
#define IK_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "cache/cache.h"
#include "engine/graph.h"

/* Loads and validates a graph file; on failure prints the diag and returns the
 * exit status (2). 0 on success. */
int ik_cli_load_graph(const char *path, struct ik_graph **g);
/* The same with `-S NODE.PARAM=VALUE` arguments (engine/graph.h's
 * ik_graph_opts). */
int ik_cli_load_graph_sets(const char *path, char *const *sets, size_t n_sets, struct ik_graph **g);
/* Opens (creating if asked) the cache; prints and returns 2 on failure. */
int ik_cli_open_cache(bool create, struct ik_cache **c);

#endif
