/* fuzz/fz_graph.c - a graph file (YAML) through ik_graph_load_string with
 * the program's node table, so every type's params are validated as
 * `ikada run` validates them. The path only names the file in messages and
 * anchors file: inputs; nothing is read from it. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "engine/graph.h"
#include "fuzz/fuzz_util.h"
#include "nodes/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *path;
    if (path == NULL)
        path = fz_path("graphs/g.yaml");
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_graph_load_string(ik_node_types, path, (const char *)data, size, &g, &d) == 0) {
        for (size_t i = 0; i < g->n_nodes; i++) {
            const struct ik_graph_node *n = &g->nodes[g->topo[i]];
            ik_graph_find(g, n->name);
            for (size_t j = 0; j < n->n_outputs; j++)
                ik_graph_node_output(n, n->outputs[j]);
        }
        ik_graph_free(g);
    }
    fz_diag_done(&d);
    return 0;
}
