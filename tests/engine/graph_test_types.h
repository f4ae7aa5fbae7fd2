/* tests/engine/graph_test_types.h - node types that exist only in the tests.
 *
 * The registry holds only `command`, whose params are strings and maps. These
 * types cover INT/FLOAT/BOOL/LIST params, fixed ports and required inputs;
 * they are passed to ik__graph_load_string_types and never run (run = NULL). */
#ifndef IK_TESTS_ENGINE_GRAPH_TEST_TYPES_H
#define IK_TESTS_ENGINE_GRAPH_TEST_TYPES_H

#include <stddef.h>

#include "engine/node.h"

/* command (the real one), source, typed; terminated by NULL. */
extern const struct ik_node_type *const ik_test_types[];

/* The source tree (IKADA_SRCDIR, else the configure-time path). */
const char *ik_test_srcdir(void);

/* Reads a whole file; NULL if unreadable. The caller frees. */
char *ik_test_slurp(const char *path, size_t *len);

#endif
