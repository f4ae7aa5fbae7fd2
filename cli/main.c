/* cli/main.c - `ikada` entry point: the subcommand table and its dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "kernels/cpu/blas_core.h"

const struct ik_cli_command ik_cli_commands[] = {
    {"run", "run [options] GRAPH", "run what is out of date in a graph", ik_cli_run},
    {"status", "status [--json] GRAPH", "say which nodes are up to date, and why not", ik_cli_status},
    {"report", "report [options] GRAPH", "one page of a graph's results: HTML, md, JSON", ik_cli_report},
    {"graph", "graph [--dot|--mermaid|--json] GRAPH", "print a graph's nodes and edges", ik_cli_graph},
    {"nodes", "nodes [--json] [TYPE]", "list node types, their ports and params", ik_cli_nodes},
    {"log", "log [-n N] [--json]", "list past runs", ik_cli_log},
    {"cache", "cache VERB [ARGS]", "inspect and manage the artifact cache", ik_cli_cache},
    {"lm", "lm tokenize|generate|score --model PATH TEXT", "run the language model on the CPU", ik_cli_lm},
    {"gguf", "gguf dump [--json] FILE", "print a GGUF file's header, metadata and tensors", ik_cli_gguf},
    {"exec", "exec KEY [--node NAME] [--file PORT=PATH]...", "run one node (used by the scheduler)", ik_cli_exec},
    {"version", "version [--json]", "print the version and the accelerator support", ik_cli_version},
    {"help", "help [COMMAND [VERB]]", "describe the commands, or one command's options", ik_cli_help},
    {"completion", "completion bash|zsh", "print a shell completion script", ik_cli_completion},
    {NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    /* Before anything else: OpenBLAS fixes its kernels when it loads. Only
     * the commands that compute in this process load it (kernels/cpu/
     * blas_lib.h) and restart for it; `ikada run` passes the setting on to
     * the nodes it starts (ik_cpu_blas_pass_core), which then need none. */
    if (argc >= 2 && (strcmp(argv[1], "exec") == 0 || strcmp(argv[1], "lm") == 0))
        ik_cpu_blas_fix_core("ikada", argv);
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
        return ik_cli_version(argc - 1, argv + 1);
    static const struct ik_cli_table table = {"command", ik_cli_commands, ik_cli_usage};
    return ik_cli_dispatch(&table, argc, argv);
}
