/* cli/graph.c - `ikada graph GRAPH [--dot|--mermaid|--json]`: print the DAG. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/opt.h"

/* --dot, --mermaid and --json: the last one given wins. */
static int set_format(const struct ik_optspec *s, const struct ik_opt *o, const char *value)
{
    (void)s;
    (void)value;
    *(const char **)o->dest = o->name + 2;
    return 0;
}

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

/* The node and input that first read the source file at path. */
static void first_use(const struct ik_graph *g, const char *path, size_t *fi, size_t *fk)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++) {
            const struct ik_graph_input *in = &g->nodes[i].inputs[k];
            if (in->source == IK_INPUT_FILE && strcmp(in->path, path) == 0) {
                *fi = i, *fk = k;
                return;
            }
        }
}

/* Mermaid (GitHub, GitLab and many editors render it in Markdown): ids are
 * n<index>, since node names may hold characters Mermaid reserves; source
 * files become one rounded node per path. */
static void print_mermaid(const struct ik_graph *g)
{
    printf("flowchart LR\n");
    for (size_t i = 0; i < g->n_nodes; i++)
        printf("  n%zu[\"%s<br/><i>%s</i>\"]\n", i, g->nodes[i].name, g->nodes[i].type->name);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const struct ik_graph_node *n = &g->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++) {
            const struct ik_graph_input *in = &n->inputs[k];
            if (in->source == IK_INPUT_NODE) {
                printf("  n%zu -- %s --> n%zu\n", in->node, in->node_port, i);
                continue;
            }
            size_t fi = i, fk = k;
            first_use(g, in->path, &fi, &fk);
            if (fi == i && fk == k) /* declare a file once, where it is first read */
                printf("  f%zu_%zu([\"%s\"]) --> n%zu\n", fi, fk, in->path, i);
            else
                printf("  f%zu_%zu --> n%zu\n", fi, fk, i);
        }
    }
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
    const struct ik_opt opts[] = {{"--dot", NULL, IK_OPT_FLAG, &format, set_format},
                                  {"--mermaid", NULL, IK_OPT_FLAG, &format, set_format},
                                  {"--json", NULL, IK_OPT_FLAG, &format, set_format},
                                  {0}};
    const struct ik_optspec spec = {
        .usage = "graph [--dot|--mermaid|--json] GRAPH", .opts = opts, .pos = &path, .min_pos = 1, .max_pos = 1,
        .help = "Prints the graph's nodes and edges in topological order; --dot for Graphviz "
                "(ikada graph g.yaml --dot | dot -Tsvg > g.svg); --mermaid for a Markdown "
                "```mermaid block.\n",
        .bad_option = "unexpected argument", .missing = "no graph file given",
    };
    int status = ik_opt_parse(&spec, argc, argv, NULL);
    if (status != 0)
        return ik_opt_status(status);
    struct ik_graph *g = NULL;
    status = ik_cli_load_graph(path, &g);
    if (status != 0)
        return status;
    if (!strcmp(format, "dot"))
        print_dot(g);
    else if (!strcmp(format, "mermaid"))
        print_mermaid(g);
    else if (!strcmp(format, "json"))
        print_json(g);
    else
        print_text(g);
    ik_graph_free(g);
    return IK_EXIT_OK;
}
