/* engine/node.c - lookups in a table of node types (node.h). */
#include <string.h>

#include "engine/node.h"

const struct ik_node_type *ik_node_type_find_in(const struct ik_node_type *const *types,
                                                const char *name)
{
    for (size_t i = 0; types[i] != NULL; i++)
        if (strcmp(types[i]->name, name) == 0)
            return types[i];
    return NULL;
}

const char *ik_node_type_output_param(const struct ik_node_type *t, const char *port)
{
    for (const struct ik_output_when *w = t->outputs_when; w && w->port; w++)
        if (strcmp(w->port, port) == 0)
            return w->param;
    return NULL;
}
