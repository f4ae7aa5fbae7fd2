/* engine/config.c - finding and reading the config file (engine/config.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"
#include "engine/config.h"
#include "engine/graph_int.h"

static const char *const config_keys[] = {"remote", "executor", NULL};

char *ik_config_path(void)
{
    const char *named = getenv("IKADA_CONFIG");
    if (named != NULL)
        return *named ? ik_xstrdup(named) : NULL;
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char *path = NULL;
    if (xdg != NULL && xdg[0] == '/')
        path = ik_xasprintf("%s/ikada/config.yaml", xdg);
    else if (home != NULL && *home)
        path = ik_xasprintf("%s/.config/ikada/config.yaml", home);
    if (path != NULL && access(path, F_OK) != 0) {
        free(path); /* the default place, empty: no config */
        path = NULL;
    }
    return path;
}

static int read_config(struct ik__graph_build *b, yaml_node_t *root, struct ik_diag *d)
{
    struct ik_graph *g = b->g;
    if (root == NULL)
        return 0; /* an empty file says nothing */
    if (root->type != YAML_MAPPING_NODE) {
        char *got = ik__graph_describe(root);
        ik__graph_error(g, d, ik__graph_loc(g, root->start_mark),
                        "a config file must be a mapping with remote: and executor: keys, got %s",
                        got);
        free(got);
        return IK_EVALIDATE;
    }
    int rc = ik__graph_check_dup_keys(g, b->doc, root, "key", d);
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         rc == 0 && p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(b->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(b->doc, p->value);
        const char *key = ik__graph_scalar(k);
        if (key != NULL && !strcmp(key, "remote")) {
            rc = ik__graph_read_remote(b, v, d);
        } else if (key != NULL && !strcmp(key, "executor")) {
            rc = ik__graph_read_executor(b, v, d);
        } else {
            const char *near = ik_spellcheck(key ? key : "", config_keys);
            rc = ik__graph_error(g, d, ik__graph_loc(g, k->start_mark),
                                 "unknown key '%s' in the config file" IK__DYM_FMT,
                                 key ? key : "?", IK__DYM_ARGS(near));
            if (near == NULL)
                ik__graph_hint_list(d, "known keys", config_keys);
        }
    }
    return rc;
}

int ik_config_load(const struct ik_node_type *const *types, struct ik_graph **out,
                   struct ik_diag *d)
{
    *out = NULL;
    char *path = ik_config_path();
    if (path == NULL)
        return 0;
    int rc = ik__graph_load_file_with(types, path, NULL, read_config, out, d);
    if (rc == -ENOENT)
        ik_diag_hint(d, "IKADA_CONFIG names the config file; set it empty for none");
    free(path);
    return rc;
}

void ik_config_apply(struct ik_graph *g, const struct ik_graph *config)
{
    if (config == NULL)
        return;
    if (g->remote == NULL && config->remote != NULL) {
        g->remote = ik_xstrdup(config->remote);
        g->remote_file = ik_xstrdup(config->remote_file);
        g->remote_loc = config->remote_loc;
        g->remote_loc.file = g->remote_file;
    }
    ik_graph_executor_inherit(&g->executor, &config->executor);
}
