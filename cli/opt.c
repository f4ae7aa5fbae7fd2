/* cli/opt.c - the table-driven option parser (cli/opt.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/spellcheck.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "cli/opt.h"

/* Under IK_OPT_ABBREV help is an ordinary long option, found like the others. */
static const struct ik_opt help_opt = {"--help", NULL, IK_OPT_FLAG, NULL, NULL};

bool ik_opt_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int ik_opt_error(const char *usage, const char *fmt, ...)
{
    fprintf(stderr, "ikada: error: ");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: ikada %s\n", usage);
    return IK_EXIT_USAGE;
}

static size_t indent_of(const char *line, size_t len)
{
    size_t n = 0;
    while (n < len && line[n] == ' ')
        n++;
    return n;
}

/* Where a wrapped line's continuation starts: under a usage's first
 * argument ("usage: ikada cache ls [--kind K]": under "["), under an option's
 * description (the text after the first gap of two spaces, "  -j, --jobs N
 * at most..."), else under the line's own indent. */
static size_t hanging_indent(const char *line, size_t len)
{
    size_t indent = indent_of(line, len), at = indent;
    if (len - at > 13 && strncmp(line + at, "usage: ikada ", 13) == 0)
        at += 13;
    else if (len - at > 6 && strncmp(line + at, "ikada ", 6) == 0)
        at += 6;
    if (at > indent) { /* skip the command and verb names, lower-case words */
        while (at < len && line[at] >= 'a' && line[at] <= 'z') {
            while (at < len && line[at] != ' ')
                at++;
            while (at < len && line[at] == ' ')
                at++;
        }
        return at < len && at < 40 ? at : indent;
    }
    for (size_t i = indent; i + 2 < len; i++)
        if (line[i] != ' ' && line[i + 1] == ' ' && line[i + 2] == ' ') {
            size_t d = i + 1;
            while (d < len && line[d] == ' ')
                d++;
            return d < len && d < 40 ? ik_utf8_width(line, d) : indent;
        }
    return indent;
}

/* One line (without its newline) cut at spaces to cols columns. */
static void wrap_line(FILE *out, const char *line, size_t len, size_t hang, size_t cols)
{
    size_t at = 0, pad = 0;
    while (len - at > 0) {
        size_t room = cols > pad ? cols - pad : 1;
        size_t cut = ik_utf8_cut_width(line + at, len - at, room);
        if (cut < len - at) { /* the last space that keeps the piece within room */
            size_t sp = cut;
            while (sp > 0 && line[at + sp] != ' ')
                sp--;
            cut = sp > 0 && at + sp > hang ? sp : cut;
        }
        fprintf(out, "%*s%.*s\n", (int)pad, "", (int)cut, line + at);
        at += cut;
        while (at < len && line[at] == ' ')
            at++;
        pad = hang;
    }
}

void ik_opt_print_wrapped(FILE *out, const char *text, size_t cols)
{
    struct ik_buf cur = IK_BUF_INIT;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        ik_buf_reset(&cur);
        ik_buf_append(&cur, p, len);
        p += len + (nl != NULL);
        size_t hang = hanging_indent(cur.data, cur.len);
        /* A hand-wrapped continuation (indented deeper than the overflowing
         * line, or at its hanging indent; not an option, not another usage)
         * joins it, so the text reflows rather than leaving a one-word line
         * behind each cut. */
        while (cur.len > 0 && ik_utf8_width(cur.data, cur.len) > cols && *p) {
            nl = strchr(p, '\n');
            len = nl ? (size_t)(nl - p) : strlen(p);
            size_t ind = indent_of(p, len);
            bool deeper = ind > indent_of(cur.data, cur.len);
            if (ind == len || (!deeper && ind != hang) || p[ind] == '-' ||
                strncmp(p + ind, "ikada ", 6) == 0)
                break;
            hang = deeper ? ind : hang;
            ik_buf_puts(&cur, " ");
            ik_buf_append(&cur, p + ind, len - ind);
            p += len + (nl != NULL);
        }
        if (cur.len == 0)
            fputc('\n', out);
        else
            wrap_line(out, cur.data, cur.len, hang, cols);
    }
    ik_buf_free(&cur);
}

void ik_opt_usage(FILE *out, const char *usage, const char *help)
{
    char *line = ik_xasprintf("usage: ikada %s", usage);
    ik_opt_print_wrapped(out, line, IK_OPT_HELP_COLS);
    free(line);
    if (help) {
        fputc('\n', out);
        ik_opt_print_wrapped(out, help, IK_OPT_HELP_COLS);
    }
    fflush(out);
}

static bool spelled(const char *word, const char *a, size_t len)
{
    return word && strlen(word) == len && strncmp(word, a, len) == 0;
}

/* The option a[0..len) names, or NULL. */
static const struct ik_opt *find(const struct ik_optspec *s, const char *a, size_t len)
{
    bool abbrev = (s->flags & IK_OPT_ABBREV) != 0;
    if (abbrev && spelled(help_opt.name, a, len))
        return &help_opt;
    for (const struct ik_opt *o = s->opts; o->name; o++)
        if (spelled(o->name, a, len) || spelled(o->alias, a, len))
            return o;
    if (!abbrev || len < 3 || strncmp(a, "--", 2) != 0)
        return NULL;
    /* As getopt_long: a prefix of exactly one long name; of several, none. */
    const struct ik_opt *hit = strncmp(help_opt.name, a, len) == 0 ? &help_opt : NULL;
    size_t hits = hit != NULL;
    for (const struct ik_opt *o = s->opts; o->name; o++)
        if (strncmp(o->name, "--", 2) == 0 && strncmp(o->name, a, len) == 0 && hits++ == 0)
            hit = o;
    return hits == 1 ? hit : NULL;
}

static int unknown(const struct ik_optspec *s, const char *a, size_t len)
{
    if (s->bad_option)
        return ik_opt_error(s->usage, "%s '%s'", s->bad_option, a);
    const char *names[32];
    size_t n = 0;
    for (const struct ik_opt *o = s->opts; o->name && n < 31; o++)
        names[n++] = o->name;
    names[n] = NULL;
    char *word = ik_xstrndup(a, len);
    const char *near = ik_spellcheck(word, names);
    int rc = ik_opt_error(s->usage, "unknown option '%s'%s%s%s", word, near ? "; did you mean '" : "",
                          near ? near : "", near ? "'?" : "");
    free(word);
    return rc;
}

static int store(const struct ik_optspec *s, const struct ik_opt *o, char *value)
{
    if (o->set)
        return o->set(s, o, value);
    if (o->kind == IK_OPT_FLAG) {
        *(bool *)o->dest = true;
    } else if (o->kind == IK_OPT_VALUE) {
        *(const char **)o->dest = value;
    } else {
        struct ik_opt_list *l = o->dest;
        l->items = ik_xrealloc(l->items, (l->n + 1) * sizeof *l->items);
        l->items[l->n++] = value;
    }
    return 0;
}

static int positional(const struct ik_optspec *s, const char *a, size_t *npos)
{
    if (*npos < s->max_pos) {
        s->pos[(*npos)++] = a;
        return 0;
    }
    if (s->extra && *npos > 0)
        return ik_opt_error(s->usage, "%s ('%s', '%s')", s->extra, s->pos[0], a);
    return ik_opt_error(s->usage, "unexpected argument '%s'", a);
}

int ik_opt_parse(const struct ik_optspec *s, int argc, char **argv, size_t *n_pos)
{
    size_t npos = 0;
    bool options = true;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        char *a = argv[i];
        if (!options || a[0] != '-' || (a[1] == '\0' && (s->flags & IK_OPT_DASH_ARG))) {
            rc = positional(s, a, &npos);
            continue;
        }
        if ((s->flags & IK_OPT_DASHDASH) && strcmp(a, "--") == 0) {
            options = false;
            continue;
        }
        if (!(s->flags & IK_OPT_ABBREV) && ik_opt_is_help(a)) {
            rc = IK_OPT_HELP;
            break;
        }
        char *eq = s->flags & IK_OPT_EQUALS ? strchr(a, '=') : NULL;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const struct ik_opt *o = find(s, a, len);
        if (o == NULL) {
            rc = unknown(s, a, len);
        } else if (o->kind == IK_OPT_FLAG && eq) {
            rc = s->bad_option ? ik_opt_error(s->usage, "%s '%s'", s->bad_option, a)
                               : ik_opt_error(s->usage, "option '%s' takes no value", o->name);
        } else if (o == &help_opt) {
            rc = IK_OPT_HELP;
        } else if (o->kind == IK_OPT_FLAG) {
            rc = store(s, o, NULL);
        } else if (eq || i + 1 < argc) {
            rc = store(s, o, eq ? eq + 1 : argv[++i]);
        } else {
            rc = s->bad_option ? ik_opt_error(s->usage, "%s '%s'", s->bad_option, a)
                               : ik_opt_error(s->usage, "option '%s' needs a value", o->name);
        }
    }
    if (rc == IK_OPT_HELP)
        ik_opt_usage(stdout, s->usage, s->help);
    else if (rc == 0 && npos < s->min_pos && s->missing)
        rc = ik_opt_error(s->usage, "%s", s->missing);
    else if (rc == 0 && npos < s->min_pos)
        rc = ik_opt_error(s->usage, "missing %s", s->min_pos - npos > 1 ? "arguments" : "argument");
    if (n_pos)
        *n_pos = npos;
    return rc;
}
