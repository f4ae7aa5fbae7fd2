/* cli/cli.h - the `ikada` subcommands.
 *
 * Each subcommand is one function in one cli/<name>.c file, listed in
 * the table in cli/main.c and run by ik_cli_dispatch, which also runs the
 * `ikada cache` verbs; each reads its options with cli/opt.h. A subcommand
 * returns the process exit status:
 * 0 success, 1 a node or check failed, 2 bad input or usage (nothing was run),
 * 75 the cache is busy (`cache verify` / `gc` found another ikada process
 * using it: nothing was done, try again; sysexits' EX_TEMPFAIL), 130 interrupted. Diagnostics go to stderr; stdout carries only what was asked
 * for (tables, JSON with --json). */
#ifndef IK_CLI_CLI_H
#define IK_CLI_CLI_H

#include <stdio.h>

enum {
    IK_EXIT_OK = 0,
    IK_EXIT_FAILED = 1,
    IK_EXIT_USAGE = 2,
    IK_EXIT_BUSY = 75,
    IK_EXIT_INTERRUPTED = 130,
};

/* The exit status for an IK_E* outcome: 0 -> 0, IK_ECANCELED -> 130,
 * IK_EUSAGE -> 2, anything else -> 1. */
int ik_cli_exit_status(int rc);

struct ik_cli_command {
    const char *name;
    const char *usage;   /* e.g. "run [options] GRAPH" */
    const char *summary; /* one line */
    int (*main)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/* The table, terminated by {NULL}; defined in cli/main.c. */
extern const struct ik_cli_command ik_cli_commands[];

/* A table of subcommands (`ikada`'s, `ikada cache`'s) and how to name them. */
struct ik_cli_table {
    const char *what;                      /* "command": "unknown command 'x'" */
    const struct ik_cli_command *commands; /* terminated by {NULL} */
    void (*usage)(FILE *out);              /* the table's usage text */
};

/* Runs the command that argv[1] names with argv[1..] (its argv[0] is its
 * name) and returns its status. Without argv[1] prints the usage to stderr and
 * returns 2; for -h or --help prints it to stdout and returns 0; an unknown
 * name is an error with a did-you-mean, then the usage, and returns 2. */
int ik_cli_dispatch(const struct ik_cli_table *t, int argc, char **argv);

/* The list of commands `ikada`, `ikada --help` and `ikada help` print. */
void ik_cli_usage(FILE *out);

/* `ikada cache`'s verbs (cli/cache.c), for help and completion. */
extern const struct ik_cli_command *const ik_cli_cache_verbs;

int ik_cli_version(int argc, char **argv);
int ik_cli_help(int argc, char **argv);
int ik_cli_completion(int argc, char **argv);
int ik_cli_run(int argc, char **argv);
int ik_cli_status(int argc, char **argv);
int ik_cli_report(int argc, char **argv);
int ik_cli_graph(int argc, char **argv);
int ik_cli_nodes(int argc, char **argv);
int ik_cli_log(int argc, char **argv);
int ik_cli_exec(int argc, char **argv);
int ik_cli_cache(int argc, char **argv);
int ik_cli_lm(int argc, char **argv);
int ik_cli_gguf(int argc, char **argv);

#endif
