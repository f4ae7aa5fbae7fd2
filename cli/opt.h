/* cli/opt.h - the option parser every `ikada` subcommand reads its argv with.
 *
 * A command describes its options in a table of struct ik_opt and its
 * positional arguments by count in a struct ik_optspec; ik_opt_parse reads
 * argv[1..] (argv[0] is the command or verb) in order, options and positionals
 * mixed. An option is matched by its whole spelling ("--json", "-n"), and one
 * that takes a value takes the next argument, whatever it looks like.
 * `-h`/`--help` prints the usage and help to stdout and returns IK_OPT_HELP:
 * nothing exits, so a test can drive a command in process. Every error is
 * printed by ik_opt_error ("ikada: error: MSG" and the usage line) and parsing
 * stops at the first one, returning IK_EXIT_USAGE.
 *
 * The commands had parsers of their own before this one, and what they
 * accepted and said is kept: the spec's flags add the syntax a command accepts
 * beyond whole spellings, and its bad_option / extra / missing fields the
 * wording of its errors. A new command leaves the wording at its defaults. */
#ifndef IK_CLI_OPT_H
#define IK_CLI_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/cli.h"

enum ik_opt_kind {
    IK_OPT_FLAG,  /* no value: sets *(bool *)dest */
    IK_OPT_VALUE, /* one value: *(const char **)dest = it; the last one given wins */
    IK_OPT_LIST,  /* repeatable: appends to *(struct ik_opt_list *)dest */
};

/* What an IK_OPT_LIST collects: pointers into argv, in order (free items). */
struct ik_opt_list {
    char **items;
    size_t n;
};

struct ik_optspec;

struct ik_opt {
    const char *name;  /* "--json", or "-n" for an option without a long form; NULL ends a table */
    const char *alias; /* the other spelling ("-j"), or NULL */
    enum ik_opt_kind kind;
    void *dest;
    /* When set, called instead of the store above each time the option is
     * read, with its value (NULL for a flag): it converts and checks the
     * value, stores it through o->dest and returns 0 or ik_opt_error's status. */
    int (*set)(const struct ik_optspec *s, const struct ik_opt *o, const char *value);
};

/* The syntax a command accepts beyond whole spellings (ik_optspec.flags). */
enum {
    IK_OPT_EQUALS = 1 << 0,   /* --name=value; a flag given one is an error */
    IK_OPT_DASH_ARG = 1 << 1, /* "-" alone is a positional (stdin, stdout), not an option */
    IK_OPT_DASHDASH = 1 << 2, /* "--" ends the options: all that follows is positional */
    IK_OPT_ABBREV = 1 << 3,   /* a unique prefix of a long name stands for it; help is
                               * then --help (and its prefixes) only, not -h */
    /* getopt_long(3)'s rules with no short options, which `ikada lm` was written to. */
    IK_OPT_GETOPT = IK_OPT_EQUALS | IK_OPT_DASH_ARG | IK_OPT_DASHDASH | IK_OPT_ABBREV,
};

struct ik_optspec {
    const char *usage;         /* what follows "usage: ikada " (may span lines) */
    const char *help;          /* --help's text after the usage line and a blank line, or NULL */
    const struct ik_opt *opts; /* ends with {NULL} */
    const char **pos;          /* receives the positional arguments; room for max_pos */
    size_t min_pos, max_pos;   /* how many there must be */
    unsigned flags;            /* IK_OPT_EQUALS, ... */
    /* The wording of errors; NULL keeps the default. */
    const char *bad_option; /* "BAD_OPTION 'ARG'", ARG as typed, for an unknown option, a
                             * missing value and a value given to a flag; default:
                             * "unknown option 'NAME'" with a did-you-mean, "option 'NAME'
                             * needs a value", "option 'NAME' takes no value" */
    const char *extra;      /* for a positional past max_pos: "EXTRA ('FIRST', 'ARG')" naming
                             * the first positional too; default "unexpected argument 'ARG'" */
    const char *missing;    /* for fewer than min_pos; default "missing argument(s)" */
};

/* What ik_opt_parse returns after printing --help. */
#define IK_OPT_HELP (-1)

/* Parses argv[1..argc-1] as s describes, storing through the tables' dest
 * pointers and s->pos; *n_pos (when not NULL) gets how many positionals were
 * stored, even after an error. Returns 0, IK_OPT_HELP after printing the help,
 * or IK_EXIT_USAGE after printing an error. */
int ik_opt_parse(const struct ik_optspec *s, int argc, char **argv, size_t *n_pos);

/* The exit status a command returns for ik_opt_parse's non-zero result. */
static inline int ik_opt_status(int rc) { return rc == IK_OPT_HELP ? IK_EXIT_OK : rc; }

/* Prints "ikada: error: MSG" and "usage: ikada USAGE" to stderr; returns
 * IK_EXIT_USAGE. The one way a command reports bad usage. */
int ik_opt_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Help texts are wrapped to this many columns when printed, so each command's
 * text can be written without counting. */
#define IK_OPT_HELP_COLS 80

/* Prints text with every line longer than cols display columns cut at
 * spaces; a continuation is indented under the line's option description
 * (after its first two-space gap), a usage line's arguments, or the line's
 * own indent. A word longer than the room is cut where it must be. */
void ik_opt_print_wrapped(FILE *out, const char *text, size_t cols);

/* Prints "usage: ikada USAGE" and, when help is not NULL, a blank line and
 * help, both wrapped to IK_OPT_HELP_COLS. */
void ik_opt_usage(FILE *out, const char *usage, const char *help);

/* True for -h and --help. */
bool ik_opt_is_help(const char *arg);

#endif
