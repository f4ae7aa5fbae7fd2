/* engine/config.h - the user's config file: settings for every graph run on a
 * machine or by a user, under those a graph gives itself.
 *
 *     # ~/.config/ikada/config.yaml
 *     remote: s3://team-cache/ikada        # as IKADA_REMOTE / a graph's remote:
 *     executor:                            # the graph's executor: block, same keys
 *       partition: gpu
 *       account: lab
 *       types: {train: {time: "12:00:00"}}
 *
 * Where: $IKADA_CONFIG when set (empty: no config file at all; a named file
 * that does not exist is an error), else $XDG_CONFIG_HOME/ikada/config.yaml
 * (XDG_CONFIG_HOME unset or not absolute: ~/.config), where a missing file
 * means no config. The file is YAML read by the graph's own code
 * (engine/graph.c, engine/graph_executor.c), so errors have file:line:col.
 *
 * Precedence, nearest first (as DVC's config levels): the command line
 * (--remote, --executor), the environment (IKADA_REMOTE), the graph, this
 * file. The executor block merges setting by setting
 * (ik_graph_executor_inherit). */
#ifndef IK_ENGINE_CONFIG_H
#define IK_ENGINE_CONFIG_H

#include "engine/graph.h"

/* The config file's path (caller frees), or NULL when there is none to read. */
char *ik_config_path(void);

/* Reads the config file into a struct ik_graph with no nodes: only its
 * `remote` (remote_file, remote_loc) and `executor` are set. *out NULL and 0
 * when there is no config file. IK_EPARSE / IK_EVALIDATE / -errno with d. */
int ik_config_load(const struct ik_node_type *const *types, struct ik_graph **out,
                   struct ik_diag *d);

/* Gives g what it leaves unsaid from config (may be NULL): the remote, and
 * the executor block setting by setting. */
void ik_config_apply(struct ik_graph *g, const struct ik_graph *config);

#endif
