/* tests/engine/test_graph_executor.c - the graph's `executor:` block and a
 * node's `executor:` key: what they hold, that they do not change a node's
 * params (so not its key), and the messages for what is wrong in them. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "engine/graph.h"
#include "tests/engine/graph_test_types.h"

static const char BLOCK[] =
    "executor:\n"
    "  kind: slurm\n"
    "  partition: debug\n"
    "  account: lab\n"
    "  time: \"1:00:00\"\n"
    "  sbatch: --qos=short --exclude=n1\n"
    "  types:\n"
    "    source: local\n"
    "    command: {partition: gpu, time: \"2:00:00\"}\n";

static const char NODES[] = "nodes:\n"
                            "  a:\n"
                            "    type: command\n"
                            "    executor: local\n"
                            "    params: {cmd: \"echo a > $IKADA_OUT_o\", outputs: {o: o.txt}}\n"
                            "  b:\n"
                            "    type: command\n"
                            "    params: {cmd: \"echo b > $IKADA_OUT_o\", outputs: {o: o.txt}}\n";

static struct ik_graph *load(const char *text, int want, const char *message)
{
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_graph_load_string(ik_test_types, "g.yaml", text, strlen(text), &g, &d);
    cr_assert_eq(rc, want, "%s", ik_diag_message(&d));
    if (message)
        cr_expect(strstr(d.text, message) != NULL, "expected '%s' in:\n%s", message, d.text);
    ik_diag_free(&d);
    return g;
}

Test(graph_executor, block_and_node_key)
{
    char *text = NULL;
    cr_assert(asprintf(&text, "%s%s", BLOCK, NODES) > 0);
    struct ik_graph *g = load(text, 0, NULL);
    const struct ik_graph_executor *e = &g->executor;
    cr_expect_str_eq(e->kind, "slurm");
    cr_expect_str_eq(e->all.partition, "debug");
    cr_expect_str_eq(e->all.account, "lab");
    cr_expect_str_eq(e->all.time, "1:00:00");
    cr_expect_str_eq(e->all.sbatch, "--qos=short --exclude=n1");
    cr_assert_eq(e->n_types, 2);
    cr_expect_str_eq(e->type_names[0], "source");
    cr_expect(e->types[0].local);
    cr_expect_str_eq(e->type_names[1], "command");
    cr_expect_not(e->types[1].local);
    cr_expect_str_eq(e->types[1].partition, "gpu");
    cr_expect_str_eq(e->types[1].time, "2:00:00");
    cr_expect(g->nodes[0].run_local);
    cr_expect_not(g->nodes[1].run_local);
    /* Where a node runs is no param: the same bytes as without the block. */
    struct ik_graph *plain = load(NODES, 0, NULL);
    cr_assert_eq(g->nodes[1].params_len, plain->nodes[1].params_len);
    cr_expect_eq(memcmp(g->nodes[1].params_mp, plain->nodes[1].params_mp, g->nodes[1].params_len), 0);
    cr_expect_null(plain->executor.kind);
    ik_graph_free(plain);
    ik_graph_free(g);
    free(text);
}

static void expect_error(const char *block, const char *message)
{
    char *text = NULL;
    cr_assert(asprintf(&text, "%s%s", block, NODES) > 0);
    cr_expect_null(load(text, IK_EVALIDATE, message));
    free(text);
}

Test(graph_executor, errors)
{
    expect_error("executor: {partiton: gpu}\n",
                 "g.yaml:1:12: error: unknown key 'partiton' in 'executor:'; did you mean 'partition'?");
    expect_error("executor: {kind: pbs}\n", "'executor: kind:' must be slurm or local, got 'pbs'");
    expect_error("executor: slurm\n", "'executor:' must be a mapping, got 'slurm'");
    expect_error("executor: {time: \"\"}\n", "'executor: time:' must be a Slurm time limit");
    expect_error("executor: {time: 1h}\n", "g.yaml:1:18: error: 'executor: time:' must be a "
                                            "Slurm time limit: minutes, \"H:MM:SS\" or "
                                            "\"D-HH:MM:SS\", got '1h'");
    expect_error("executor: {types: {trian: local}}\n",
                 "'executor: types:' names 'trian', which is not a node type");
    expect_error("executor: {types: {command: remote}}\n",
                 "'executor: types: command:' must be local, slurm or a mapping of sbatch settings");
    expect_error("executor: {types: {command: {qos: x}}}\n",
                 "unknown key 'qos' in 'executor: types: command:'");
    struct ik_graph *g = load("nodes:\n  a:\n    type: command\n    executor: elsewhere\n"
                              "    params: {cmd: x, outputs: {o: o.txt}}\n",
                              IK_EVALIDATE, "g.yaml:4:15: error: 'executor:' of node 'a' must be "
                                            "local or slurm, got 'elsewhere'");
    cr_expect_null(g);
}

/* `resources: time`: Slurm's forms, kept as written; not part of the params. */
Test(graph_executor, resources_time)
{
    const char *good[] = {"90", "\"30:00\"", "\"2:00:00\"", "\"1-00\"", "\"1-12:30\"",
                          "\"2-00:00:00\""};
    for (size_t k = 0; k < sizeof good / sizeof *good; k++) {
        char *text = NULL;
        cr_assert(asprintf(&text, "nodes:\n  a:\n    type: command\n    resources: {time: %s}\n"
                                  "    params: {cmd: x, outputs: {o: o.txt}}\n", good[k]) > 0);
        struct ik_graph *g = load(text, 0, NULL);
        const char *want = good[k][0] == '"' ? good[k] + 1 : good[k];
        cr_expect_eq(strncmp(g->nodes[0].time, want, strlen(g->nodes[0].time)), 0, "%s", good[k]);
        ik_graph_free(g);
        free(text);
    }
    const char *bad[] = {"1h", "\"1:2:3:4\"", "\"-5\"", "\"1-\"", "\"::\"", "[1]"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char *text = NULL;
        cr_assert(asprintf(&text, "nodes:\n  a:\n    type: command\n    resources: {time: %s}\n"
                                  "    params: {cmd: x, outputs: {o: o.txt}}\n", bad[k]) > 0);
        cr_expect_null(load(text, IK_EVALIDATE, "g.yaml:4:23: error: resource 'time' of node 'a' "
                                                "must be a Slurm time limit"), "%s", bad[k]);
        free(text);
    }
}
