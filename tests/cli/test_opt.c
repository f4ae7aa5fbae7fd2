/* tests/cli/test_opt.c - the option parser (cli/opt.h): flags, values,
 * repeats, positionals, --help and the wording of its errors. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opt.h"

/* What the parser fills for the small command `t` below. */
static bool json, all;
static const char *limit, *pos[2];
static struct ik_opt_list targets;
static size_t n_pos;

static const struct ik_opt opts[] = {
    {"--json", NULL, IK_OPT_FLAG, &json, NULL},
    {"--all", "-a", IK_OPT_FLAG, &all, NULL},
    {"--limit", "-l", IK_OPT_VALUE, &limit, NULL},
    {"--target", "-t", IK_OPT_LIST, &targets, NULL},
    {0},
};

static struct ik_optspec spec(unsigned flags)
{
    return (struct ik_optspec){.usage = "t [--json] [--all] [--limit N] [--target T]... X [Y]",
                               .help = "Tests the parser.\n", .opts = opts, .pos = pos,
                               .min_pos = 1, .max_pos = 2, .flags = flags};
}

/* Parses the NULL-terminated arguments after the command name `t`. */
static int parse_with(const struct ik_optspec *s, const char *first, ...)
{
    json = all = false;
    limit = pos[0] = pos[1] = NULL;
    free(targets.items);
    targets = (struct ik_opt_list){NULL, 0};
    char *argv[16] = {(char *)"t"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    return ik_opt_parse(s, argc, argv, &n_pos);
}

#define USAGE "usage: ikada t [--json] [--all] [--limit N] [--target T]... X [Y]\n"

TestSuite(opt, .init = cr_redirect_stderr);

Test(opt, flags_values_and_aliases)
{
    struct ik_optspec s = spec(0);
    cr_assert_eq(parse_with(&s, "x", "--json", "-l", "5", "-a", NULL), 0);
    cr_expect(json && all);
    cr_expect_str_eq(limit, "5");
    cr_expect_str_eq(pos[0], "x");
    cr_expect_eq(n_pos, 1);
    /* The last value wins; a value is taken whatever it looks like. */
    cr_assert_eq(parse_with(&s, "--limit", "1", "--limit", "--json", "x", NULL), 0);
    cr_expect_str_eq(limit, "--json");
    cr_expect(!json);
}

Test(opt, repeated_options_collect_in_order)
{
    struct ik_optspec s = spec(0);
    cr_assert_eq(parse_with(&s, "-t", "a", "x", "--target", "b", "-t", "c", NULL), 0);
    cr_assert_eq(targets.n, 3);
    cr_expect_str_eq(targets.items[0], "a");
    cr_expect_str_eq(targets.items[1], "b");
    cr_expect_str_eq(targets.items[2], "c");
    free(targets.items);
    targets = (struct ik_opt_list){NULL, 0};
}

Test(opt, equals_only_where_the_command_takes_it)
{
    struct ik_optspec s = spec(IK_OPT_EQUALS);
    cr_assert_eq(parse_with(&s, "--limit=7", "x", NULL), 0);
    cr_expect_str_eq(limit, "7");
    cr_assert_eq(parse_with(&s, "--json=1", "x", NULL), IK_EXIT_USAGE);
    s = spec(0);
    cr_assert_eq(parse_with(&s, "--limit=7", "x", NULL), IK_EXIT_USAGE);
    fflush(stderr);
    cr_assert_stderr_eq_str("ikada: error: option '--json' takes no value\n" USAGE
                            "ikada: error: unknown option '--limit=7'; did you mean '--limit'?\n" USAGE);
}

Test(opt, unknown_option_with_did_you_mean)
{
    struct ik_optspec s = spec(0);
    cr_assert_eq(parse_with(&s, "x", "--jsn", "--bogus", NULL), IK_EXIT_USAGE);
    fflush(stderr);
    cr_assert_stderr_eq_str("ikada: error: unknown option '--jsn'; did you mean '--json'?\n" USAGE);
}

Test(opt, missing_value)
{
    struct ik_optspec s = spec(0);
    cr_assert_eq(parse_with(&s, "x", "--limit", NULL), IK_EXIT_USAGE);
    fflush(stderr);
    cr_assert_stderr_eq_str("ikada: error: option '--limit' needs a value\n" USAGE);
}

Test(opt, the_wording_a_command_keeps)
{
    struct ik_optspec s = spec(0);
    s.bad_option = "unknown or incomplete option";
    s.extra = "more than one X given";
    s.missing = "no X given";
    cr_assert_eq(parse_with(&s, "--limit", NULL), IK_EXIT_USAGE);
    cr_assert_eq(parse_with(&s, "--jsn", NULL), IK_EXIT_USAGE);
    cr_assert_eq(parse_with(&s, NULL), IK_EXIT_USAGE);
    s.max_pos = 1;
    cr_assert_eq(parse_with(&s, "a", "b", NULL), IK_EXIT_USAGE);
    fflush(stderr);
    cr_assert_stderr_eq_str("ikada: error: unknown or incomplete option '--limit'\n" USAGE
                            "ikada: error: unknown or incomplete option '--jsn'\n" USAGE
                            "ikada: error: no X given\n" USAGE
                            "ikada: error: more than one X given ('a', 'b')\n" USAGE);
}

Test(opt, positionals_count_dash_and_dashdash)
{
    struct ik_optspec s = spec(0);
    cr_assert_eq(parse_with(&s, "a", "b", NULL), 0);
    cr_expect_eq(n_pos, 2);
    cr_expect_str_eq(pos[1], "b");
    cr_assert_eq(parse_with(&s, "a", "b", "c", NULL), IK_EXIT_USAGE);
    cr_expect_eq(n_pos, 2);
    cr_assert_eq(parse_with(&s, "--json", NULL), IK_EXIT_USAGE);
    s.min_pos = 2;
    cr_assert_eq(parse_with(&s, NULL), IK_EXIT_USAGE);
    s.min_pos = 1;
    cr_assert_eq(parse_with(&s, "-", NULL), IK_EXIT_USAGE); /* an option unless IK_OPT_DASH_ARG */
    cr_assert_eq(parse_with(&s, "--", "x", NULL), IK_EXIT_USAGE);
    fflush(stderr);
    cr_assert_stderr_eq_str("ikada: error: unexpected argument 'c'\n" USAGE
                            "ikada: error: missing argument\n" USAGE
                            "ikada: error: missing arguments\n" USAGE
                            "ikada: error: unknown option '-'\n" USAGE
                            "ikada: error: unknown option '--'\n" USAGE);
    s.flags = IK_OPT_DASH_ARG | IK_OPT_DASHDASH;
    cr_assert_eq(parse_with(&s, "-", "--", "--json", NULL), 0);
    cr_expect_str_eq(pos[0], "-");
    cr_expect_str_eq(pos[1], "--json");
    cr_expect(!json);
}

Test(opt, help_returns_instead_of_exiting)
{
    cr_redirect_stdout();
    struct ik_optspec s = spec(0);
    cr_assert_eq(parse_with(&s, "--json", "-h", "--bogus", NULL), IK_OPT_HELP);
    cr_expect_eq(ik_opt_status(IK_OPT_HELP), IK_EXIT_OK);
    cr_expect_eq(ik_opt_status(IK_EXIT_USAGE), IK_EXIT_USAGE);
    /* Help goes to stdout even with the positionals missing. */
    cr_assert_eq(parse_with(&s, "--help", NULL), IK_OPT_HELP);
    cr_assert_stdout_eq_str(USAGE "\nTests the parser.\n" USAGE "\nTests the parser.\n");
}

Test(opt, an_error_before_help_wins)
{
    struct ik_optspec s = spec(0);
    cr_assert_eq(parse_with(&s, "--bogus", "--help", NULL), IK_EXIT_USAGE);
    cr_assert_eq(parse_with(&s, "--limit", "--help", "x", NULL), 0);
    cr_expect_str_eq(limit, "--help");
}

static int set_count(const struct ik_optspec *s, const struct ik_opt *o, const char *value)
{
    char *end;
    long v = strtol(value, &end, 10);
    if (*end || v < 0)
        return ik_opt_error(s->usage, "%s expects a count, got '%s'", o->name, value);
    *(long *)o->dest = v;
    return 0;
}

Test(opt, set_checks_each_value_as_it_is_read)
{
    long n = -1;
    bool quiet = false;
    const struct ik_opt o[] = {{"-n", NULL, IK_OPT_VALUE, &n, set_count},
                               {"--quiet", NULL, IK_OPT_FLAG, &quiet, NULL},
                               {0}};
    const struct ik_optspec s = {.usage = "c [-n N]", .opts = o};
    char *ok[] = {(char *)"c", (char *)"-n", (char *)"4", NULL};
    cr_assert_eq(ik_opt_parse(&s, 3, ok, NULL), 0);
    cr_expect_eq(n, 4);
    char *bad[] = {(char *)"c", (char *)"-n", (char *)"x", (char *)"--bogus", (char *)"--quiet", NULL};
    cr_assert_eq(ik_opt_parse(&s, 5, bad, NULL), IK_EXIT_USAGE);
    cr_expect(!quiet, "parsing stops at the first error");
    fflush(stderr);
    cr_assert_stderr_eq_str("ikada: error: -n expects a count, got 'x'\nusage: ikada c [-n N]\n");
}

Test(opt, getopt_rules_abbreviate_long_names)
{
    cr_redirect_stdout();
    struct ik_optspec s = spec(IK_OPT_GETOPT);
    cr_assert_eq(parse_with(&s, "--li", "3", "--js", "x", NULL), 0);
    cr_expect_str_eq(limit, "3");
    cr_expect(json);
    cr_assert_eq(parse_with(&s, "--limit=4", "x", NULL), 0);
    cr_expect_str_eq(limit, "4");
    /* --t is --target alone here; -h is no option at all. */
    cr_assert_eq(parse_with(&s, "--t", "a", "x", NULL), 0);
    cr_expect_eq(targets.n, 1);
    cr_assert_eq(parse_with(&s, "-h", NULL), IK_EXIT_USAGE);
    cr_assert_eq(parse_with(&s, "--he", NULL), IK_OPT_HELP);
    fflush(stderr);
    cr_assert_stderr_eq_str("ikada: error: unknown option '-h'\n" USAGE);
    free(targets.items);
    targets = (struct ik_opt_list){NULL, 0};
}
