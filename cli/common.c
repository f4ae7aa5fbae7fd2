/* cli/common.c - shared subcommand helpers (cli/common.h). */
#include <string.h>

#include "base/error.h"
#include "cache/cas.h"

#include "cli/cli.h"
#include "cli/common.h"
#include "engine/config.h"
#include "nodes/registry.h"

int ik_cli_load_graph(const char *path, struct ik_graph **g)
{
    return ik_cli_load_graph_sets(path, NULL, 0, g);
}

int ik_cli_load_graph_sets(const char *path, char *const *sets, size_t n_sets, struct ik_graph **g)
{
    struct ik_diag d = IK_DIAG_INIT;
    const struct ik_graph_opts opts = {(const char *const *)sets, n_sets};
    struct ik_graph *config = NULL;
    *g = NULL;
    if (ik_graph_load_opts(ik_node_types, path, &opts, g, &d) < 0 ||
        ik_config_load(ik_node_types, &config, &d) < 0) {
        ik_diag_print(&d);
        ik_diag_free(&d);
        ik_graph_free(*g);
        *g = NULL;
        return IK_EXIT_USAGE;
    }
    ik_config_apply(*g, config);
    ik_graph_free(config);
    return 0;
}

int ik_cli_open_cache(bool create, struct ik_cache **c)
{
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_cache_open(create, c, &d) < 0) {
        ik_diag_print(&d);
        ik_diag_free(&d);
        return IK_EXIT_USAGE;
    }
    return 0;
}

int ik_cli_exit_status(int rc)
{
    if (rc == 0)
        return IK_EXIT_OK;
    if (rc == IK_ECANCELED)
        return IK_EXIT_INTERRUPTED;
    return rc == IK_EUSAGE ? IK_EXIT_USAGE : IK_EXIT_FAILED;
}

/* Whether [p, end) is the line "ikada: ERROR" a node prints as it fails. */
static bool repeats_error(const char *p, const char *end, const char *error)
{
    if (error == NULL)
        return false;
    size_t n = strlen(error);
    return (size_t)(end - p) == 7 + n && memcmp(p, "ikada: ", 7) == 0 &&
           memcmp(p + 7, error, n) == 0;
}

void ik_cli_print_log_tail(const struct ik_cache *c, const struct ik_hash *h, const char *error,
                           int lines, FILE *out)
{
    struct ik_blob b;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_cas_map_verified(c, h, UINT64_MAX, &b, &d) < 0) {
        fprintf(out, "  | (the log is not readable: %s)\n", ik_diag_message(&d) + strlen("error: "));
        ik_diag_free(&d);
        return;
    }
    const char *start = (const char *)b.data, *end = start + b.len, *p = end;
    if (p > start && p[-1] == '\n')
        p--;
    const char *text_end = p;
    const char *last = p;
    while (last > start && last[-1] != '\n')
        last--;
    if (repeats_error(last, text_end, error))
        text_end = p = last > start ? last - 1 : last;
    for (int seen = 0; p > start;)
        if (p[-1] == '\n' && ++seen == lines)
            break;
        else
            p--;
    while (p < text_end) {
        const char *nl = memchr(p, '\n', (size_t)(text_end - p));
        const char *line_end = nl ? nl : text_end;
        fprintf(out, "  | %.*s\n", (int)(line_end - p), p);
        p = line_end + 1;
    }
    ik_blob_release(&b);
}
