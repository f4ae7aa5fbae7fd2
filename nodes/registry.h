/* nodes/registry.h - the table of every node type this ikada knows.
 *
 * The contract each type implements is engine/node.h. The engine never names
 * this table: cli/ hands it to ik_graph_load and ik_exec_node, and the tests
 * hand in tables of their own. */
#ifndef IK_NODES_REGISTRY_H
#define IK_NODES_REGISTRY_H

#include "engine/node.h"

/* All node types, terminated by NULL. */
extern const struct ik_node_type *const ik_node_types[];

/* The type called `name` in ik_node_types, or NULL. */
const struct ik_node_type *ik_node_type_find(const char *name);

#endif
