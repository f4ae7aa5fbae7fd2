/* nodes/registry.c - the table of node types (tmux's cmd_table[]).
 *
 * Contract: engine/node.h. Adding a node type: write nodes/<name>.c exporting
 * ik_node_<name>, add it to nodes/Makefile.inc and to the list below. */
#include "nodes/registry.h"

extern const struct ik_node_type ik_node_command;
extern const struct ik_node_type ik_node_sample, ik_node_distract;
extern const struct ik_node_type ik_node_cot;
extern const struct ik_node_type ik_node_train;
extern const struct ik_node_type ik_node_gguf_export;
extern const struct ik_node_type ik_node_evaluate;
extern const struct ik_node_type ik_node_jcq_regress;

const struct ik_node_type *const ik_node_types[] = {
    &ik_node_command,
    &ik_node_sample,
    &ik_node_distract,
    &ik_node_cot,
    &ik_node_train,
    &ik_node_gguf_export,
    &ik_node_evaluate,
    &ik_node_jcq_regress,
    NULL,
};

const struct ik_node_type *ik_node_type_find(const char *name)
{
    return ik_node_type_find_in(ik_node_types, name);
}
