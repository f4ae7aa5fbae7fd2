/* engine/graph_sets.c - `-S NODE.PARAM=VALUE`: params given on the command
 * line instead of in the graph file.
 *
 * Each argument is split and its VALUE parsed as a YAML document here, once
 * per load; graph_params.c converts it by the param's declared type like a
 * value written in the file. A -S has no place in the file, so its errors name
 * the argument instead of a line. */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/error.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"
#include "engine/graph_int.h"

/* NODE is everything before the last '.' left of the first '=': params have no
 * '.', instance names may (train@0.0001). */
static int split_set(const char *arg, struct ik__graph_set *s, struct ik_diag *d)
{
    const char *eq = strchr(arg, '=');
    const char *dot = NULL;
    for (const char *p = arg; eq && p < eq; p++)
        if (*p == '.')
            dot = p;
    if (eq == NULL || dot == NULL || dot == arg || dot + 1 == eq) {
        ik_diag_set(d, IK_EVALIDATE, "-S '%s': expected NODE.PARAM=VALUE", arg);
        ik_diag_hint(d, "for example -S train.rank=8 or -S 'train.targets=[q, v]'");
        return IK_EVALIDATE;
    }
    s->node = ik_xstrndup(arg, (size_t)(dot - arg));
    s->param = ik_xstrndup(dot + 1, (size_t)(eq - dot - 1));
    return 0;
}

static int parse_value(const char *text, struct ik__graph_set *s, struct ik_diag *d)
{
    yaml_parser_t parser;
    IK_ASSERT(yaml_parser_initialize(&parser)); /* fails only on allocation, like ik_xmalloc */
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    int rc = 0;
    if (!yaml_parser_load(&parser, &s->doc)) {
        rc = ik_diag_set(d, IK_EVALIDATE, "-S '%s': VALUE is not valid YAML: %s", s->arg,
                         parser.problem ? parser.problem : "syntax error");
        ik_diag_hint(d, "quote a value the shell or YAML would split: -S 'node.cmd=\"a: b\"'");
        memset(&s->doc, 0, sizeof s->doc);
    } else {
        s->value = yaml_document_get_root_node(&s->doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

int ik__graph_parse_sets(struct ik__graph_build *b, const struct ik_graph_opts *opts,
                         struct ik_diag *d)
{
    if (opts == NULL || opts->n_sets == 0)
        return 0;
    b->sets = ik_xcalloc(opts->n_sets, sizeof *b->sets);
    for (size_t i = 0; i < opts->n_sets; i++) {
        struct ik__graph_set *s = &b->sets[b->n_sets++];
        s->arg = opts->sets[i];
        int rc = split_set(s->arg, s, d);
        if (rc == 0)
            rc = parse_value(strchr(s->arg, '=') + 1, s, d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

bool ik__graph_set_matches(const struct ik__graph_set *s, const char *name)
{
    size_t n = strlen(s->node);
    return strncmp(name, s->node, n) == 0 && (name[n] == '\0' || name[n] == '@');
}

int ik__graph_check_sets(struct ik__graph_build *b, struct ik_diag *d)
{
    const struct ik_graph *g = b->g;
    for (size_t k = 0; k < b->n_sets; k++) {
        const struct ik__graph_set *s = &b->sets[k];
        size_t i = 0;
        while (i < g->n_nodes && !ik__graph_set_matches(s, g->nodes[i].name))
            i++;
        if (i < g->n_nodes)
            continue;
        const char **names = ik_xmalloc((g->n_nodes + 1) * sizeof *names);
        for (size_t j = 0; j < g->n_nodes; j++)
            names[j] = g->nodes[j].name;
        names[g->n_nodes] = NULL;
        const char *near = ik_spellcheck(s->node, names);
        ik_diag_set(d, IK_EVALIDATE, "-S '%s': %s has no node '%s'" IK__DYM_FMT, s->arg, g->path,
                    s->node, IK__DYM_ARGS(near));
        if (near == NULL)
            ik__graph_hint_list(d, "nodes", names);
        free(names);
        return IK_EVALIDATE;
    }
    return 0;
}

void ik__graph_free_sets(struct ik__graph_build *b)
{
    for (size_t k = 0; k < b->n_sets; k++) {
        free(b->sets[k].node);
        free(b->sets[k].param);
        if (b->sets[k].value != NULL || b->sets[k].doc.nodes.start != NULL)
            yaml_document_delete(&b->sets[k].doc);
    }
    free(b->sets);
}
