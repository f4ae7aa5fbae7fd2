/* cli/nodes.c - `ikada nodes`: every node type, its ports and params. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/utf8.h"
#include "cli/cli.h"
#include "cli/opt.h"
#include "nodes/registry.h"

static const char *type_name(enum ik_param_type t)
{
    static const char *names[] = {"string", "int", "float", "bool", "list", "map"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static void print_ports(const struct ik_node_type *t, const char *title,
                        const struct ik_port_spec *p)
{
    for (; p && p->name; p++) {
        const char *when = ik_node_type_output_param(t, p->name);
        printf("    %-6s %s%*s %-16s %s%s", title, p->name, ik_utf8_pad(p->name, 14), "", p->kind,
               p->help ? p->help : "",
               p->optional ? " (optional)" : "");
        if (when && strcmp(title, "out") == 0)
            printf(" (only with %s: true)", when);
        putchar('\n');
    }
}

static void print_type(const struct ik_node_type *t)
{
    char cpu[16];
    snprintf(cpu, sizeof cpu, t->cpu >= IK_NODE_CPU_ALL ? "all" : "%d", t->cpu);
    printf("%s (version %d, cpu %s, gpu %d)\n  %s\n", t->name, t->version, cpu, t->gpu, t->summary);
    if (t->any_inputs)
        printf("    in     (any name)     *                %s\n",
               t->any_inputs_help ? t->any_inputs_help : "any input");
    print_ports(t, "in", t->inputs);
    if (t->outputs_from_param)
        printf("    out    (from param '%s')\n", t->outputs_from_param);
    print_ports(t, "out", t->outputs);
    for (const struct ik_param_spec *p = t->params; p && p->name; p++) {
        const char *dflt = p->default_yaml ? p->default_yaml : "(required)";
        printf("    param  %s%*s %-6s = %s%*s %s\n", p->name, ik_utf8_pad(p->name, 14), "",
               type_name(p->type), dflt, ik_utf8_pad(dflt, 12), "", p->help);
    }
    putchar('\n');
}

static json_t *ports_json(const struct ik_port_spec *p)
{
    json_t *a = json_array();
    for (; p && p->name; p++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:s}", "name", p->name, "kind", p->kind,
                                           "optional", p->optional, "help", p->help ? p->help : ""));
    return a;
}

static json_t *type_json(const struct ik_node_type *t)
{
    json_t *params = json_array();
    for (const struct ik_param_spec *p = t->params; p && p->name; p++)
        json_array_append_new(params, json_pack("{s:s, s:s, s:s?, s:b, s:s}", "name", p->name, "type",
                                                type_name(p->type), "default", p->default_yaml,
                                                "required", p->default_yaml == NULL, "help", p->help));
    return json_pack("{s:s, s:i, s:s, s:o, s:o, s:o, s:b, s:s?, s:i, s:i}", "name", t->name, "version",
                     t->version, "summary", t->summary, "inputs", ports_json(t->inputs), "outputs",
                     ports_json(t->outputs), "params", params, "any_inputs", t->any_inputs,
                     "outputs_from_param", t->outputs_from_param, "cpu", t->cpu, "gpu", t->gpu);
}

int ik_cli_nodes(int argc, char **argv)
{
    bool json = false;
    const char *only = NULL;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL}, {0}};
    const struct ik_optspec spec = {
        .usage = "nodes [--json] [TYPE]", .opts = opts, .pos = &only, .max_pos = 1,
        .help = "Lists every node type with its ports, params, defaults and meaning.\n",
        .bad_option = "unexpected argument",
    };
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc != 0)
        return ik_opt_status(rc);
    if (only && ik_node_type_find(only) == NULL) {
        fprintf(stderr, "ikada: error: no node type '%s' (see `ikada nodes`)\n", only);
        return IK_EXIT_USAGE;
    }
    json_t *all = json_array();
    for (size_t i = 0; ik_node_types[i]; i++) {
        if (only && strcmp(only, ik_node_types[i]->name) != 0)
            continue;
        if (json)
            json_array_append_new(all, type_json(ik_node_types[i]));
        else
            print_type(ik_node_types[i]);
    }
    if (json) {
        json_dumpf(all, stdout, JSON_INDENT(2));
        putchar('\n');
    }
    json_decref(all);
    return IK_EXIT_OK;
}
