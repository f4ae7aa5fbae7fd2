/* cli/completion.c - `ikada completion bash|zsh`: a completion script.
 *
 * The command and cache-verb names come from the tables (cli/main.c,
 * cli/cache.c) when the script is printed; a command's options are read from
 * its own --help when completing, so they never go stale. zsh runs the bash
 * function through bashcompinit. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"

static const char completion_usage[] = "completion bash|zsh";

static const char completion_help[] =
    "Prints a completion script for bash or zsh: commands, cache verbs, each\n"
    "command's options (read from its --help), files for the rest. Install with\n"
    "  ikada completion bash > ~/.local/share/bash-completion/completions/ikada\n"
    "or add `source <(ikada completion zsh)` to ~/.zshrc.\n";

static void names(const struct ik_cli_command *t)
{
    for (const struct ik_cli_command *c = t; c->name; c++)
        printf("%s%s", c == t ? "" : " ", c->name);
}

static void bash_function(void)
{
    printf("_ikada() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} help words\n"
           "    local commands=\"");
    names(ik_cli_commands);
    printf("\" verbs=\"");
    names(ik_cli_cache_verbs);
    printf("\"\n"
           "    if [ \"$COMP_CWORD\" -eq 1 ]; then words=$commands\n"
           "    elif [ \"$COMP_CWORD\" -eq 2 ] && [ \"$cmd\" = help ]; then words=$commands\n"
           "    elif [ \"$COMP_CWORD\" -eq 2 ] && [ \"$cmd\" = completion ]; then words=\"bash zsh\"\n"
           "    elif [ \"$COMP_CWORD\" -eq 2 ] && [ \"$cmd\" = cache ]; then words=$verbs\n"
           "    elif [ \"$COMP_CWORD\" -eq 3 ] && [ \"$cmd\" = help ] && [ \"${COMP_WORDS[2]}\" = cache ]; then\n"
           "        words=$verbs\n"
           "    elif [[ $cur == -* ]]; then\n"
           "        if [ \"$cmd\" = cache ]; then\n"
           "            help=$(\"${COMP_WORDS[0]}\" cache \"${COMP_WORDS[2]}\" --help 2>/dev/null)\n"
           "        else\n"
           "            help=$(\"${COMP_WORDS[0]}\" \"$cmd\" --help 2>/dev/null)\n"
           "        fi\n"
           "        words=$(printf '%%s\\n' \"$help\" | grep -oE -- '(^|[ [,])--?[a-zA-Z][a-zA-Z-]*' |\n"
           "                grep -oE -- '--?[a-zA-Z][a-zA-Z-]*' | sort -u)\n"
           "    else\n"
           "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
           "        return\n"
           "    fi\n"
           "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
           "}\n"
           "complete -o filenames -F _ikada ikada\n");
}

int ik_cli_completion(int argc, char **argv)
{
    const char *shell = NULL;
    const struct ik_opt opts[] = {{0}};
    const struct ik_optspec spec = {.usage = completion_usage, .help = completion_help,
                                    .opts = opts, .pos = &shell, .min_pos = 1, .max_pos = 1};
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc != 0)
        return ik_opt_status(rc);
    if (strcmp(shell, "zsh") == 0)
        printf("#compdef ikada\nautoload -U +X bashcompinit && bashcompinit\n");
    else if (strcmp(shell, "bash") != 0)
        return ik_opt_error(completion_usage, "no completion for shell '%s': bash or zsh", shell);
    bash_function();
    return IK_EXIT_OK;
}
