/* tests/engine/test_graph.c - good graph files: structure, params (canonical
 * msgpack bytes), defaults, value forms, file paths and topological order. */
#include <criterion/criterion.h>
#include <limits.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodes/registry.h"
#include "engine/graph.h"
#include "engine/graph_int.h"
#include "base/mp.h"
#include "tests/common/tmpcache.h"
#include "tests/engine/graph_test_types.h"

static struct ik_graph *load_typed(const char *path, const char *text)
{
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_graph_load_string(ik_test_types, path, text, strlen(text), &g, &d);
    cr_assert_eq(rc, 0, "load failed: %s", ik_diag_message(&d));
    ik_diag_free(&d);
    return g;
}

static struct ik_graph *load_good(const char *name)
{
    cr_assert_eq(chdir(ik_test_srcdir()), 0);
    char *path = NULL;
    cr_assert(asprintf(&path, "tests/graphs/good/%s", name) > 0);
    size_t len;
    char *text = ik_test_slurp(path, &len);
    cr_assert_not_null(text, "cannot read %s", path);
    struct ik_graph *g = load_typed(path, text);
    free(text);
    free(path);
    return g;
}

/* Asserts that node n's params_mp are exactly the bytes in sbuf. */
static void expect_params(const struct ik_graph_node *n, msgpack_sbuffer *sbuf)
{
    cr_assert_eq(n->params_len, sbuf->size, "node %s: %zu param bytes, expected %zu", n->name,
                 n->params_len, sbuf->size);
    cr_assert_eq(memcmp(n->params_mp, sbuf->data, sbuf->size), 0, "node %s: param bytes differ",
                 n->name);
}

/* The param `name` of node n, unpacked into u (msgpack_unpacked_destroy it). */
static const msgpack_object *param(const struct ik_graph_node *n, const char *name,
                                   msgpack_unpacked *u)
{
    msgpack_unpacked_init(u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(u, n->params_mp, n->params_len, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, n->params_len);
    const msgpack_object *v = ik_mp_get(&u->data, name);
    cr_assert_not_null(v, "node %s has no param %s", n->name, name);
    return v;
}

Test(graph, pipeline_structure_from_file)
{
    cr_assert_eq(chdir(ik_test_srcdir()), 0);
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_graph_load(ik_node_types, "tests/graphs/good/pipeline.yaml", &g, &d);
    cr_assert_eq(rc, 0, "%s", ik_diag_message(&d));
    cr_assert_null(d.text);

    cr_assert_str_eq(g->path, "tests/graphs/good/pipeline.yaml");
    cr_assert_str_eq(g->name, "pipeline");
    char *real = realpath("tests/graphs/good", NULL);
    cr_assert_str_eq(g->dir, real);
    cr_assert_eq(g->n_nodes, 4);
    const char *names[] = {"report", "count", "double", "hello"};
    for (size_t i = 0; i < 4; i++) {
        cr_expect_str_eq(g->nodes[i].name, names[i]);
        cr_expect_eq(g->nodes[i].type, ik_node_type_find("command"));
        cr_expect_eq(ik_graph_find(g, names[i]), (long)i);
    }
    cr_expect_eq(ik_graph_find(g, "nope"), -1);
    cr_expect_eq(g->nodes[0].loc.line, 4);
    cr_expect_eq(g->nodes[0].loc.col, 3);
    cr_expect_str_eq(g->nodes[0].loc.file, g->path);

    /* report reads count.count and double.out, in the order written. */
    const struct ik_graph_node *report = &g->nodes[0];
    cr_assert_eq(report->n_inputs, 2);
    cr_expect_str_eq(report->inputs[0].port, "a");
    cr_expect_eq(report->inputs[0].source, IK_INPUT_NODE);
    cr_expect_eq(report->inputs[0].node, 1);
    cr_expect_str_eq(report->inputs[0].node_port, "count");
    cr_expect_eq(report->inputs[0].loc.line, 7);
    cr_expect_eq(report->inputs[0].loc.col, 10);
    cr_expect_str_eq(report->inputs[1].port, "b");
    cr_expect_eq(report->inputs[1].node, 2);
    cr_expect_str_eq(report->inputs[1].node_port, "out");

    /* A file input resolves against the graph's folder. */
    const struct ik_graph_node *count = &g->nodes[1];
    cr_assert_eq(count->n_inputs, 1);
    cr_expect_eq(count->inputs[0].source, IK_INPUT_FILE);
    cr_expect_str_eq(count->inputs[0].path, "../data/faq.jsonl");
    char *want = NULL;
    cr_assert(asprintf(&want, "%.*s/data/faq.jsonl", (int)(strrchr(real, '/') - real), real) > 0);
    cr_expect_str_eq(count->inputs[0].abs_path, want);
    cr_expect_eq(count->inputs[0].loc.line, 16);
    cr_expect_eq(count->inputs[0].loc.col, 19);
    free(want);
    free(real);

    /* Outputs are the keys of `outputs:`; none when it is left out. */
    cr_assert_eq(report->n_outputs, 1);
    cr_expect_str_eq(report->outputs[0], "report");
    cr_expect_eq(ik_graph_node_output(report, "report"), 0);
    cr_expect_eq(ik_graph_node_output(report, "count"), -1);
    cr_expect_eq(g->nodes[3].n_outputs, 0);

    cr_expect_eq(g->nodes[2].cpu, 2);
    cr_expect_eq(g->nodes[2].gpu, 0);
    cr_expect_eq(g->nodes[0].cpu, 1);

    /* count, then double (now ready, and before hello in the file), report, hello. */
    size_t topo[] = {1, 2, 0, 3};
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(g->topo[i], topo[i], "topo[%zu] = %zu", i, g->topo[i]);

    /* Every declared param, defaults included, keys sorted. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    ik_mp_pack_str(&pk, "cmd");
    ik_mp_pack_str(&pk, "echo $(( $(cat \"$IKADA_IN_n\") * 2 )) > \"$IKADA_OUT_out\"");
    ik_mp_pack_str(&pk, "env");
    msgpack_pack_map(&pk, 0);
    ik_mp_pack_str(&pk, "in_format");
    ik_mp_pack_str(&pk, "msgpack");
    ik_mp_pack_str(&pk, "outputs");
    msgpack_pack_map(&pk, 1);
    ik_mp_pack_str(&pk, "out");
    ik_mp_pack_str(&pk, "out.txt");
    ik_mp_pack_str(&pk, "shell");
    ik_mp_pack_str(&pk, "/bin/sh");
    ik_mp_pack_str(&pk, "timeout_s");
    msgpack_pack_int(&pk, 30);
    expect_params(&g->nodes[2], &sb);
    msgpack_sbuffer_destroy(&sb);

    /* Where each given param was: its value. */
    const struct ik_graph_node *dbl = &g->nodes[2];
    cr_assert_eq(dbl->n_param_locs, 3);
    cr_expect_str_eq(dbl->param_locs[0].name, "cmd");
    cr_expect_eq(dbl->param_locs[0].loc.line, 26);
    cr_expect_eq(dbl->param_locs[0].loc.col, 12);
    cr_expect_str_eq(dbl->param_locs[2].name, "timeout_s");
    cr_expect_eq(dbl->param_locs[2].loc.line, 28);
    cr_expect_eq(g->nodes[3].n_param_locs, 1);
    ik_graph_free(g);
}

Test(graph, typed_params_canonical_bytes)
{
    struct ik_graph *g = load_good("typed.yaml");
    cr_assert_eq(g->n_nodes, 3);
    const struct ik_graph_node *t = &g->nodes[1];
    cr_expect_str_eq(t->type->name, "typed");
    cr_expect_eq(t->cpu, 2);
    cr_expect_eq(t->gpu, 1);
    cr_assert_eq(t->n_outputs, 3, "flag: yes turns on the output 'debug' (outputs_when)");
    cr_expect_str_eq(t->outputs[1], "stats");
    cr_expect_str_eq(t->outputs[2], "debug");
    cr_expect_eq(ik_graph_node_output(t, "stats"), 1);
    cr_expect_str_eq(t->inputs[1].abs_path, "/srv/extra.txt");
    cr_expect_eq(g->nodes[0].n_outputs, 2);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    ik_mp_pack_str(&pk, "flag");
    msgpack_pack_true(&pk); /* yes */
    ik_mp_pack_str(&pk, "label");
    ik_mp_pack_str(&pk, "007"); /* the text as written */
    ik_mp_pack_str(&pk, "n");
    msgpack_pack_int(&pk, -3);
    ik_mp_pack_str(&pk, "opts"); /* default {b: 2, a: [1.5, ~]}, keys sorted */
    msgpack_pack_map(&pk, 2);
    ik_mp_pack_str(&pk, "a");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_nil(&pk);
    ik_mp_pack_str(&pk, "b");
    msgpack_pack_int(&pk, 2);
    ik_mp_pack_str(&pk, "rate");
    msgpack_pack_double(&pk, 1.0); /* an integer, stored as float64 */
    ik_mp_pack_str(&pk, "tags");
    msgpack_pack_array(&pk, 7);
    ik_mp_pack_str(&pk, "x");
    ik_mp_pack_str(&pk, "1"); /* quoted: stays text */
    msgpack_pack_int(&pk, 2);
    msgpack_pack_double(&pk, 2.5);
    msgpack_pack_nil(&pk);
    msgpack_pack_false(&pk);
    msgpack_pack_map(&pk, 1);
    ik_mp_pack_str(&pk, "k");
    ik_mp_pack_str(&pk, "v");
    expect_params(t, &sb);
    msgpack_sbuffer_destroy(&sb);
    ik_graph_free(g);
}

Test(graph, typed_defaults_filled_in)
{
    struct ik_graph *g = load_good("typed.yaml");
    const struct ik_graph_node *n = &g->nodes[2];
    cr_expect_eq(n->cpu, 0);
    cr_expect_eq(n->gpu, 0);
    cr_expect_eq(n->inputs[0].node, 1);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    ik_mp_pack_str(&pk, "flag");
    msgpack_pack_false(&pk);
    ik_mp_pack_str(&pk, "label");
    ik_mp_pack_str(&pk, "hello world");
    ik_mp_pack_str(&pk, "n");
    msgpack_pack_int(&pk, 5);
    ik_mp_pack_str(&pk, "opts");
    msgpack_pack_map(&pk, 2);
    ik_mp_pack_str(&pk, "a");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_nil(&pk);
    ik_mp_pack_str(&pk, "b");
    msgpack_pack_int(&pk, 2);
    ik_mp_pack_str(&pk, "rate");
    msgpack_pack_double(&pk, 2e-4);
    ik_mp_pack_str(&pk, "tags");
    msgpack_pack_array(&pk, 3);
    ik_mp_pack_str(&pk, "a");
    msgpack_pack_int(&pk, 1);
    msgpack_pack_true(&pk);
    expect_params(n, &sb);
    msgpack_sbuffer_destroy(&sb);
    size_t topo[] = {0, 1, 2};
    for (size_t i = 0; i < 3; i++)
        cr_expect_eq(g->topo[i], topo[i]);
    ik_graph_free(g);
}

/* One `typed` node (plus its source) with extra param lines. */
static struct ik_graph *typed_with(const char *params)
{
    char *text = NULL;
    cr_assert(asprintf(&text,
                       "nodes:\n  s: {type: source, params: {path: p}}\n"
                       "  t:\n    type: typed\n    in: {data: s.rows}\n    params:\n%s",
                       params) > 0);
    struct ik_graph *g = load_typed("g.yaml", text);
    free(text);
    return g;
}

Test(graph, float_forms)
{
    const char *forms[] = {"2e-4", "-1.5", ".5", "3", "1E3", "+2.", "\"0.25\""};
    double want[] = {2e-4, -1.5, 0.5, 3.0, 1000.0, 2.0, 0.25};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char *p = NULL;
        cr_assert(asprintf(&p, "      n: 1\n      rate: %s\n", forms[i]) > 0);
        struct ik_graph *g = typed_with(p);
        msgpack_unpacked u;
        const msgpack_object *v = param(&g->nodes[1], "rate", &u);
        cr_expect_eq(v->type, MSGPACK_OBJECT_FLOAT64, "%s", forms[i]);
        cr_expect_eq(v->via.f64, want[i], "%s gave %g", forms[i], v->via.f64);
        msgpack_unpacked_destroy(&u);
        ik_graph_free(g);
        free(p);
    }
}

Test(graph, int_and_bool_forms)
{
    struct ik_graph *g = typed_with("      n: -9223372036854775808\n      flag: ON\n");
    msgpack_unpacked u;
    const msgpack_object *v = param(&g->nodes[1], "n", &u);
    cr_expect_eq(v->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    cr_expect_eq(v->via.i64, INT64_MIN);
    msgpack_unpacked_destroy(&u);
    v = param(&g->nodes[1], "flag", &u);
    cr_expect_eq(v->type, MSGPACK_OBJECT_BOOLEAN);
    cr_expect(v->via.boolean);
    msgpack_unpacked_destroy(&u);
    ik_graph_free(g);

    g = typed_with("      n: \"42\"\n      flag: Off\n");
    v = param(&g->nodes[1], "n", &u);
    cr_expect_eq(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_expect_eq(v->via.u64, 42);
    msgpack_unpacked_destroy(&u);
    v = param(&g->nodes[1], "flag", &u);
    cr_expect_not(v->via.boolean);
    msgpack_unpacked_destroy(&u);
    ik_graph_free(g);
}

Test(graph, string_param_keeps_text)
{
    const char *forms[] = {"1.50", "true", "'it''s'", "|\n        two\n        lines", "~"};
    const char *want[] = {"1.50", "true", "it's", "two\nlines\n", "~"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char *p = NULL;
        cr_assert(asprintf(&p, "      n: 1\n      label: %s\n", forms[i]) > 0);
        struct ik_graph *g = typed_with(p);
        msgpack_unpacked u;
        const msgpack_object *v = param(&g->nodes[1], "label", &u);
        cr_expect(ik_mp_str_eq(v, want[i]), "%s", forms[i]);
        msgpack_unpacked_destroy(&u);
        ik_graph_free(g);
        free(p);
    }
}

Test(graph, file_paths_resolve_lexically)
{
    const char *text = "nodes:\n  a:\n    type: command\n    params: {cmd: x}\n    in:\n"
                       "      p: {file: ./in/../data.txt}\n"
                       "      q: {file: /etc//./hosts}\n"
                       "      r: {file: ../../../../../../../x}\n";
    struct ik_graph *g = load_typed("/nonexistent-ikada/graphs/g.yaml", text);
    cr_expect_str_eq(g->dir, "/nonexistent-ikada/graphs");
    cr_expect_str_eq(g->name, "g");
    cr_expect_str_eq(g->nodes[0].inputs[0].path, "./in/../data.txt");
    cr_expect_str_eq(g->nodes[0].inputs[0].abs_path, "/nonexistent-ikada/graphs/data.txt");
    cr_expect_str_eq(g->nodes[0].inputs[1].abs_path, "/etc/hosts");
    cr_expect_str_eq(g->nodes[0].inputs[2].abs_path, "/x");
    ik_graph_free(g);

    /* A relative graph path is taken against the working directory. */
    char *tmpl = tc_tmpdir();
    cr_assert_eq(chdir(tmpl), 0);
    char *cwd = getcwd(NULL, 0);
    g = load_typed("sub/g.yml", text);
    char *want = NULL;
    cr_assert(asprintf(&want, "%s/sub/data.txt", cwd) > 0);
    cr_expect_str_eq(g->nodes[0].inputs[0].abs_path, want);
    cr_expect_str_eq(g->name, "g");
    ik_graph_free(g);
    free(want);
    cr_assert_eq(chdir("/"), 0);
    cr_assert_eq(rmdir(tmpl), 0);
    free(tmpl);
    free(cwd);
}

Test(graph, load_string_uses_registry)
{
    const char *text = "nodes:\n  a: {type: command, params: {cmd: 'true', outputs: {o: o.txt}}}\n"
                       "  b: {type: command, params: {cmd: 'true'}, in: {x: a.o, y: a.o}}\n";
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_graph_load_string(ik_node_types, "g.yaml", text, strlen(text), &g, &d);
    cr_assert_eq(rc, 0, "%s", ik_diag_message(&d));
    cr_expect_eq(g->n_nodes, 2);
    cr_expect_eq(g->topo[0], 0);
    cr_expect_eq(g->topo[1], 1);
    cr_expect_eq(g->nodes[1].inputs[1].node, 0);
    ik_graph_free(g);
}

Test(graph, free_accepts_null) { ik_graph_free(NULL); }
