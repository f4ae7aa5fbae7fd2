/* tests/engine/graph_test_types.c - test-only node types and file helpers
 * (see graph_test_types.h). */
#include <stdio.h>
#include <stdlib.h>

#include "tests/engine/graph_test_types.h"

extern const struct ik_node_type ik_node_command;

/* `source`: no inputs, fixed outputs, one required string param. */
static const struct ik_port_spec source_inputs[] = {{NULL, NULL, false, NULL}};
static const struct ik_port_spec source_outputs[] = {
    {"rows", "faq.rows", false, "the rows read"},
    {"log", "*", false, "what was skipped"},
    {NULL, NULL, false, NULL},
};
static const struct ik_param_spec source_params[] = {
    {"path", IK_PARAM_STRING, NULL, "where the rows are", NULL},
    {NULL, 0, NULL, NULL, NULL},
};
static const struct ik_node_type test_source = {
    .name = "source",
    .version = 1,
    .summary = "test: produces rows",
    .inputs = source_inputs,
    .outputs = source_outputs,
    .params = source_params,
    .cpu = 1,
};

/* `typed`: one param of each type, a required and an optional input. */
static const struct ik_port_spec typed_inputs[] = {
    {"data", "faq.rows", false, "rows to work on"},
    {"extra", "*", true, "anything"},
    {NULL, NULL, false, NULL},
};
static const struct ik_port_spec typed_outputs[] = {
    {"out", "faq.rows", false, "result"},
    {"stats", "*", false, "figures"},
    {"debug", "*", false, "written only with flag: true"},
    {NULL, NULL, false, NULL},
};
static const struct ik_output_when typed_when[] = {{"debug", "flag"}, {NULL, NULL}};
static const struct ik_param_spec typed_params[] = {
    {"n", IK_PARAM_INT, NULL, "how many", NULL},
    {"rate", IK_PARAM_FLOAT, "2e-4", "learning rate", NULL},
    {"flag", IK_PARAM_BOOL, "false", "a switch", NULL},
    {"tags", IK_PARAM_LIST, "[a, 1, true]", "labels", NULL},
    {"opts", IK_PARAM_MAP, "{b: 2, a: [1.5, ~]}", "options", NULL},
    {"label", IK_PARAM_STRING, "hello world", "a name", NULL},
    {NULL, 0, NULL, NULL, NULL},
};
static const struct ik_node_type test_typed = {
    .name = "typed",
    .version = 3,
    .summary = "test: every param type",
    .inputs = typed_inputs,
    .outputs = typed_outputs,
    .params = typed_params,
    .outputs_when = typed_when,
    .cpu = 2,
    .gpu = 1,
};

const struct ik_node_type *const ik_test_types[] = {&ik_node_command, &test_source, &test_typed,
                                                    NULL};

const char *ik_test_srcdir(void)
{
    const char *s = getenv("IKADA_SRCDIR");
    return s && *s ? s : IK_TEST_SRCDIR;
}

char *ik_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0)
            buf = realloc(buf, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}
