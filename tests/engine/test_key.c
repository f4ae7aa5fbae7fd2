/* tests/engine/test_key.c - node keys: canonical, sensitive to what matters
 * (params, inputs, version) and blind to what does not (YAML order, names). */
#include <criterion/criterion.h>
#include <string.h>

#include "nodes/registry.h"
#include "engine/graph.h"
#include "engine/key.h"

/* The key of `x: {type: command, params: {cmd: echo}}` with no inputs. */
#define GOLDEN_KEY "3126c6670edefd3b87483bc34004c3c8b991a1652efcd1b9f5581e4ff66ff911"

static struct ik_graph *load(const char *yaml)
{
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_graph_load_string(ik_node_types, "/tmp/k.yaml", yaml, strlen(yaml), &g, &d);
    cr_assert_eq(rc, 0, "graph did not load: %s", ik_diag_message(&d));
    return g;
}

static void key_of(const char *yaml, const char *node, struct ik_hash *key)
{
    struct ik_graph *g = load(yaml);
    long i = ik_graph_find(g, node);
    cr_assert_geq(i, 0);
    struct ik_key_input in[4];
    memset(in, 0, sizeof in);
    for (size_t k = 0; k < g->nodes[i].n_inputs; k++) {
        in[k].port = g->nodes[i].inputs[k].port;
        memset(in[k].hash.b, (int)strlen(in[k].port), sizeof in[k].hash.b);
        in[k].size = 7;
    }
    char *spec;
    size_t len;
    ik_key_spec(&g->nodes[i], in, &spec, &len, key);
    free(spec);
    ik_graph_free(g);
}

Test(key, yaml_order_and_node_name_do_not_matter)
{
    struct ik_hash a, b;
    key_of("nodes:\n  x:\n    type: command\n    params: {cmd: 'echo', shell: /bin/sh}\n", "x", &a);
    key_of("nodes:\n  renamed:\n    type: command\n    params: {shell: /bin/sh, cmd: 'echo'}\n", "renamed", &b);
    cr_assert(ik_hash_equal(&a, &b));
}

Test(key, default_written_out_equals_default_left_out)
{
    struct ik_hash a, b;
    key_of("nodes:\n  x:\n    type: command\n    params: {cmd: 'echo'}\n", "x", &a);
    key_of("nodes:\n  x:\n    type: command\n    params: {cmd: 'echo', timeout_s: 0}\n", "x", &b);
    cr_assert(ik_hash_equal(&a, &b));
}

Test(key, a_param_changes_the_key)
{
    struct ik_hash a, b;
    key_of("nodes:\n  x:\n    type: command\n    params: {cmd: 'echo 1'}\n", "x", &a);
    key_of("nodes:\n  x:\n    type: command\n    params: {cmd: 'echo 2'}\n", "x", &b);
    cr_assert_not(ik_hash_equal(&a, &b));
}

Test(key, input_order_does_not_matter_but_port_names_do)
{
    struct ik_hash a, b, c;
    key_of("nodes:\n  x:\n    type: command\n    in: {aa: {file: f}, b: {file: g}}\n    params: {cmd: c}\n", "x", &a);
    key_of("nodes:\n  x:\n    type: command\n    in: {b: {file: g}, aa: {file: f}}\n    params: {cmd: c}\n", "x", &b);
    key_of("nodes:\n  x:\n    type: command\n    in: {ab: {file: f}, b: {file: g}}\n    params: {cmd: c}\n", "x", &c);
    cr_assert(ik_hash_equal(&a, &b));
    cr_assert_not(ik_hash_equal(&a, &c));
}

/* Pins the spec format: if this changes, every user's cache is invalidated,
 * so it must only change on purpose (and then this golden value with it). */
Test(key, golden_spec_bytes)
{
    struct ik_graph *g = load("nodes:\n  x:\n    type: command\n    params: {cmd: echo}\n");
    char *spec;
    size_t len;
    struct ik_hash key, check;
    ik_key_spec(&g->nodes[0], NULL, &spec, &len, &key);
    ik_hash_bytes(spec, len, &check);
    cr_assert(ik_hash_equal(&key, &check), "key is the SHA-256 of the spec bytes");
    const char head[] = "\x85\xa6inputs\x80\xa6params\x86\xa3" "cmd\xa4" "echo";
    cr_assert_eq(memcmp(spec, head, sizeof head - 1), 0, "spec starts with sorted inputs, params");
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&key, hex);
    cr_assert_str_eq(hex, GOLDEN_KEY, "spec format changed: %s", hex);
    free(spec);
    ik_graph_free(g);
}
