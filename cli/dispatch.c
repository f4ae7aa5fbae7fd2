/* cli/dispatch.c - runs the entry of a subcommand table that argv names
 * (cli/cli.h): `ikada COMMAND` and `ikada cache VERB`. */
#include <stdlib.h>
#include <string.h>

#include "base/spellcheck.h"
#include "base/xmalloc.h"
#include "cli/cli.h"
#include "cli/opt.h"

int ik_cli_dispatch(const struct ik_cli_table *t, int argc, char **argv)
{
    if (argc < 2 || ik_opt_is_help(argv[1])) {
        t->usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IK_EXIT_USAGE : IK_EXIT_OK;
    }
    size_t n = 0;
    for (const struct ik_cli_command *c = t->commands; c->name; c++, n++)
        if (strcmp(c->name, argv[1]) == 0)
            return c->main(argc - 1, argv + 1);
    const char **names = ik_xcalloc(n + 1, sizeof *names);
    for (size_t i = 0; i < n; i++)
        names[i] = t->commands[i].name;
    const char *near = ik_spellcheck(argv[1], names);
    fprintf(stderr, "ikada: error: unknown %s '%s'%s%s%s\n", t->what, argv[1],
            near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    free(names);
    t->usage(stderr);
    return IK_EXIT_USAGE;
}
