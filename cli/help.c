/* cli/help.c - `ikada help [CMD [VERB]]`, `ikada version [--json]` (also
 * -V and --version) and the top-level usage, all read from the command
 * table of cli/main.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "cli/cli.h"
#include "cli/opt.h"
#include "config.h"
#include "kernels/device.h"

void ik_cli_usage(FILE *out)
{
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_puts(&b, "usage: ikada COMMAND [ARGS]\n\ncommands:\n");
    /* The summary beside a short usage, under a long one (as `cache --help`). */
    for (const struct ik_cli_command *c = ik_cli_commands; c->name; c++)
        if (ik_utf8_width(c->usage, strlen(c->usage)) <= 32)
            ik_buf_printf(&b, "  %s%*s  %s\n", c->usage, ik_utf8_pad(c->usage, 32), "", c->summary);
        else
            ik_buf_printf(&b, "  %s\n  %34s%s\n", c->usage, "", c->summary);
    ik_buf_puts(&b, "\n`ikada help COMMAND` (or `ikada COMMAND --help`) describes a command's\n"
                    "options; `man ikada` has them all.\n");
    ik_opt_print_wrapped(out, b.data, IK_OPT_HELP_COLS);
    ik_buf_free(&b);
}

static const char help_usage[] = "help [COMMAND [VERB]]";

int ik_cli_help(int argc, char **argv)
{
    if (argc > 1 && ik_opt_is_help(argv[1])) {
        ik_opt_usage(stdout, help_usage, "Prints the list of commands, or COMMAND's help "
                                         "(`ikada help cache gc`: a cache verb's).\n");
        return IK_EXIT_OK;
    }
    if (argc < 2) {
        ik_cli_usage(stdout);
        return IK_EXIT_OK;
    }
    if (argc > 3)
        return ik_opt_error(help_usage, "unexpected argument '%s'", argv[3]);
    /* `ikada help X Y` is `ikada X Y --help`: each command prints its own. */
    char *args[5] = {"ikada", argv[1], argc > 2 ? argv[2] : "--help", argc > 2 ? "--help" : NULL,
                     NULL};
    static const struct ik_cli_table table = {"command", ik_cli_commands, ik_cli_usage};
    return ik_cli_dispatch(&table, argc > 2 ? 4 : 3, args);
}

static const char version_help[] =
    "Prints ikada's version and what accelerator support it was built with and found.\n"
    "  --json  {\"version\", \"accelerator\", \"gpus\"}\n";

int ik_cli_version(int argc, char **argv)
{
    bool json = false;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL}, {0}};
    const struct ik_optspec spec = {.usage = "version [--json]", .help = version_help, .opts = opts};
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc != 0)
        return ik_opt_status(rc);
    if (!json) {
        printf("ikada %s (%s)\n", PACKAGE_VERSION, ik_device_describe());
        return IK_EXIT_OK;
    }
    json_t *out = json_pack("{s:s, s:s, s:i}", "version", PACKAGE_VERSION, "accelerator",
                            ik_device_describe(), "gpus", ik_device_gpu_count());
    json_dumpf(out, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(out);
    return IK_EXIT_OK;
}
