/* cli/graph.c - `ikada graph GRAPH [--dot|--json]`: print the DAG. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/common.h"

static const char graph_usage[] = "graph [--dot|--json] GRAPH";

static void print_dot(const struct ik_graph *g)
{
    printf("digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n", g->name);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const struct ik_graph_node *n = &g->nodes[i];
        printf("  \"%s\" [label=\"%s\\n(%s)\"];\n", n->name, n->name, n->type->name);
        for (size_t k = 0; k < n->n_inputs; k++) {
            const struct ik_graph_input *in = &n->inputs[k];
            if (in->source == IK_INPUT_NODE) {
                printf("  \"%s\" -> \"%s\" [label=\"%s -> %s\"];\n", g->nodes[in->node].name,
                       n->name, in->node_port, in->port);
            } else {
                printf("  \"file:%s\" [shape=note, label=\"%s\"];\n", in->path, in->path);
                printf("  \"file:%s\" -> \"%s\" [label=\"%s\"];\n", in->path, n->name, in->port);
            }
        }
    }
    printf("}\n");
}

static void print_json(const struct ik_graph *g)
{
    json_t *nodes = json_array();
    for (size_t k = 0; k < g->n_nodes; k++) {
        const struct ik_graph_node *n = &g->nodes[g->topo[k]];
        json_t *ins = json_object(), *outs = json_array();
        for (size_t i = 0; i < n->n_inputs; i++) {
            const struct ik_graph_input *in = &n->inputs[i];
            char ref[512];
            if (in->source == IK_INPUT_NODE)
                snprintf(ref, sizeof ref, "%s.%s", g->nodes[in->node].name, in->node_port);
            else
                snprintf(ref, sizeof ref, "file:%s", in->path);
            json_object_set_new(ins, in->port, json_string(ref));
        }
        for (size_t o = 0; o < n->n_outputs; o++)
            json_array_append_new(outs, json_string(n->outputs[o]));
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:o, s:o}", "name", n->name, "type",
                                               n->type->name, "in", ins, "out", outs));
    }
    json_t *out = json_pack("{s:s, s:o}", "graph", g->path, "nodes", nodes);
    json_dumpf(out, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(out);
}

static void print_text(const struct ik_graph *g)
{
    for (size_t k = 0; k < g->n_nodes; k++) {
        const struct ik_graph_node *n = &g->nodes[g->topo[k]];
        printf("%s (%s)\n", n->name, n->type->name);
        for (size_t i = 0; i < n->n_inputs; i++) {
            const struct ik_graph_input *in = &n->inputs[i];
            if (in->source == IK_INPUT_NODE)
                printf("  <- %s: %s.%s\n", in->port, g->nodes[in->node].name, in->node_port);
            else
                printf("  <- %s: file %s\n", in->port, in->path);
        }
    }
}

int ik_cli_graph(int argc, char **argv)
{
    const char *path = NULL, *format = "text";
    for (int i = 1; i < argc; i++) {
        if (ik_cli_is_help(argv[i])) {
            printf("usage: ikada %s\n\nPrints the graph's nodes and edges in topological order; "
                   "--dot for Graphviz (ikada graph g.yaml --dot | dot -Tsvg > g.svg).\n", graph_usage);
            return IK_EXIT_OK;
        } else if (!strcmp(argv[i], "--dot")) {
            format = "dot";
        } else if (!strcmp(argv[i], "--json")) {
            format = "json";
        } else if (argv[i][0] == '-' || path) {
            return ik_cli_usage_error(graph_usage, "unexpected argument '%s'", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (path == NULL)
        return ik_cli_usage_error(graph_usage, "no graph file given");
    struct ik_graph *g = NULL;
    int status = ik_cli_load_graph(path, &g);
    if (status != 0)
        return status;
    if (!strcmp(format, "dot"))
        print_dot(g);
    else if (!strcmp(format, "json"))
        print_json(g);
    else
        print_text(g);
    ik_graph_free(g);
    return IK_EXIT_OK;
}
