/* query/query.c - parsing paths, --select lists and --where expressions (query.h).
 *
 * A hand-written recursive-descent parser over the option's text: it is small,
 * and it lets every error name the exact column. The tree it builds is
 * evaluated by query_eval.c against borrowed msgpack objects, without copies. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"
#include "query/query_int.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/xmalloc.h"

/* Operator spellings, indexed by enum cmp_op. */
static const char *const op_names[] = {"==", "!=", "<", ">", "<=", ">=", "contains"};

struct parser {
    const char *s;
    size_t len;
    size_t pos;
    const char *what;
    struct ik_diag *d;
    int depth;    /* '(' and 'not' open around pos */
    size_t links; /* 'and' / 'or' nodes built so far */
};

/* The parser recurses once per '(' or 'not', and the tree it builds (freed and
 * evaluated recursively) is as deep as its longest and/or chain: bounded so
 * that 20,000 parentheses fail with a message, not a stack overflow. A real
 * query has a handful of each. */
enum { MAX_NESTING = 100, MAX_LINKS = 10000 };

/* ---- errors ---- */

static int column_of(const struct parser *p, size_t at)
{
    return 1 + (int)ik_utf8_count(p->s, at < p->len ? at : p->len);
}

static int fail(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
    int col = column_of(p, at);
    struct ik_buf msg = IK_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    /* The expression and a caret under the column, as ik_diag_at draws them. */
    ik_buf_puts(&msg, "\n    ");
    for (size_t i = 0; i < p->len; i++)
        ik_buf_putc(&msg, p->s[i] == '\n' || p->s[i] == '\t' ? ' ' : p->s[i]);
    ik_buf_puts(&msg, "\n    ");
    for (int i = 1; i < col; i++)
        ik_buf_putc(&msg, ' ');
    ik_buf_putc(&msg, '^');
    ik_diag_set(p->d, IK_EUSAGE, "%s: column %d: %s", p->what, col, msg.data);
    ik_buf_free(&msg);
    return IK_EUSAGE;
}

/* ---- lexing helpers ---- */

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) != NULL)
        p->pos++;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$' || c == '-';
}

static bool is_name_start(char c) { return is_name_char(c) && c != '-' && !(c >= '0' && c <= '9'); }

/* Length of the name at pos (0 if none). */
static size_t name_len(const struct parser *p, size_t pos)
{
    size_t n = 0;
    while (pos + n < p->len && is_name_char(p->s[pos + n]))
        n++;
    return n;
}

static bool word_is(const struct parser *p, const char *w)
{
    size_t n = name_len(p, p->pos);
    return n == strlen(w) && memcmp(p->s + p->pos, w, n) == 0;
}

/* A quoted string at pos (either quote); on success *out is owned bytes. */
static int parse_string(struct parser *p, char **out, size_t *out_len)
{
    size_t start = p->pos;
    char q = p->s[p->pos++];
    struct ik_buf b = IK_BUF_INIT;
    while (p->pos < p->len && p->s[p->pos] != q) {
        char c = p->s[p->pos++];
        if (c == '\\') {
            if (p->pos >= p->len)
                break;
            char e = p->s[p->pos++];
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '\\': case '"': case '\'': c = e; break;
            default:
                ik_buf_free(&b);
                return fail(p, p->pos - 2, "unknown escape '\\%c' in a string", e);
            }
        }
        ik_buf_putc(&b, c);
    }
    if (p->pos >= p->len) {
        ik_buf_free(&b);
        return fail(p, start, "unterminated string; expected a closing %c", q);
    }
    p->pos++;
    *out_len = b.len;
    *out = ik_buf_steal(&b);
    return 0;
}

/* ---- paths ---- */

static void path_add(struct ik_qpath *path, size_t *cap, struct seg s)
{
    path->segs = ik_xgrow(path->segs, cap, path->n + 1, sizeof *path->segs);
    path->segs[path->n++] = s;
}

/* A bracket step at pos ('['). */
static int parse_bracket(struct parser *p, struct ik_qpath *path, size_t *cap)
{
    size_t open = p->pos++;
    skip_ws(p);
    struct seg s = {0};
    if (p->pos < p->len && (p->s[p->pos] == '"' || p->s[p->pos] == '\'')) {
        int rc = parse_string(p, &s.key, &s.key_len);
        if (rc)
            return rc;
    } else {
        size_t at = p->pos, i = at;
        if (i < p->len && p->s[i] == '-')
            i++;
        size_t digits = i;
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
        if (i == digits)
            return fail(p, at, "expected an integer index or a quoted key after '['");
        char *num = ik_xstrndup(p->s + at, i - at);
        errno = 0;
        s.index = strtoll(num, NULL, 10);
        free(num);
        if (errno == ERANGE)
            return fail(p, at, "index out of range");
        s.is_index = true;
        p->pos = i;
    }
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ']') {
        free(s.key);
        return fail(p, p->pos, "expected ']' to close the '[' at column %d", column_of(p, open));
    }
    p->pos++;
    path_add(path, cap, s);
    return 0;
}

/* A path at pos, which must start with a name or '['. */
static int parse_path_at(struct parser *p, struct ik_qpath **out)
{
    size_t start = p->pos, cap = 0;
    struct ik_qpath *path = ik_xcalloc(1, sizeof *path);
    int rc = 0;
    bool first = true;
    for (;;) {
        char c = p->pos < p->len ? p->s[p->pos] : '\0';
        if (c == '[') {
            if ((rc = parse_bracket(p, path, &cap)) != 0)
                break;
        } else if (first || c == '.') {
            if (!first)
                p->pos++;
            size_t n = name_len(p, p->pos);
            if (n == 0 || (first && !is_name_start(p->s[p->pos]))) {
                rc = fail(p, p->pos, first ? "expected a field name" : "expected a field name after '.'");
                break;
            }
            struct seg s = {false, 0, ik_xstrndup(p->s + p->pos, n), n};
            path_add(path, &cap, s);
            p->pos += n;
        } else {
            break;
        }
        first = false;
    }
    if (rc) {
        ik_qpath_free(path);
        return rc;
    }
    path->text = ik_xstrndup(p->s + start, p->pos - start);
    *out = path;
    return 0;
}

int ik_qpath_parse(const char *text, const char *what, struct ik_qpath **out, struct ik_diag *d)
{
    struct parser p = {text, strlen(text), 0, what, d, 0, 0};
    skip_ws(&p);
    struct ik_qpath *path;
    int rc = parse_path_at(&p, &path);
    if (rc)
        return rc;
    skip_ws(&p);
    if (p.pos < p.len) {
        ik_qpath_free(path);
        return fail(&p, p.pos, "unexpected '%c' in a field path", p.s[p.pos]);
    }
    *out = path;
    return 0;
}

const char *ik_qpath_text(const struct ik_qpath *p) { return p->text; }

void ik_qpath_free(struct ik_qpath *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->segs[i].key);
    free(p->segs);
    free(p->text);
    free(p);
}

int ik_qselect_parse(const char *text, const char *what, struct ik_qselect **out,
                     struct ik_diag *d)
{
    struct parser p = {text, strlen(text), 0, what, d, 0, 0};
    struct ik_qselect *s = ik_xcalloc(1, sizeof *s);
    size_t cap = 0;
    for (;;) {
        skip_ws(&p);
        struct ik_qpath *path;
        int rc = parse_path_at(&p, &path);
        if (rc) {
            ik_qselect_free(s);
            return rc;
        }
        s->paths = ik_xgrow(s->paths, &cap, s->n + 1, sizeof *s->paths);
        s->paths[s->n++] = path;
        skip_ws(&p);
        if (p.pos >= p.len)
            break;
        if (p.s[p.pos] != ',') {
            ik_qselect_free(s);
            return fail(&p, p.pos, "expected ',' between field paths");
        }
        p.pos++;
    }
    *out = s;
    return 0;
}

void ik_qselect_free(struct ik_qselect *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        ik_qpath_free(s->paths[i]);
    free(s->paths);
    free(s);
}

/* ---- expressions ---- */

static void node_free(struct node *n)
{
    if (n == NULL)
        return;
    node_free(n->a);
    node_free(n->b);
    ik_qpath_free(n->path);
    free(n->lit_str);
    free(n);
}

static struct node *node_new(enum node_type t)
{
    struct node *n = ik_xcalloc(1, sizeof *n);
    n->type = t;
    return n;
}

static int parse_or(struct parser *p, struct node **out, const char *after);

static int parse_number(struct parser *p, struct node **out)
{
    size_t i = p->pos;
    bool real = false;
    if (p->s[i] == '-')
        i++;
    size_t digits = i;
    while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
        i++;
    if (i == digits)
        return fail(p, p->pos, "expected a digit after '-'");
    if (i < p->len && p->s[i] == '.') {
        real = true;
        for (i++; i < p->len && p->s[i] >= '0' && p->s[i] <= '9';)
            i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        real = true;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        size_t e = i;
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
        if (i == e)
            return fail(p, e, "expected digits in the exponent");
    }
    if (i < p->len && is_name_char(p->s[i]))
        return fail(p, i, "unexpected '%c' in a number", p->s[i]);
    char *num = ik_xstrndup(p->s + p->pos, i - p->pos);
    struct node *n = node_new(N_LIT);
    errno = 0;
    if (!real && num[0] == '-') {
        long long v = strtoll(num, NULL, 10);
        real = errno == ERANGE;
        n->lit.type = v < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER : MSGPACK_OBJECT_POSITIVE_INTEGER;
        n->lit.via.i64 = v;
    } else if (!real) {
        unsigned long long v = strtoull(num, NULL, 10);
        real = errno == ERANGE;
        n->lit.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        n->lit.via.u64 = v;
    }
    if (real) {
        n->lit.type = MSGPACK_OBJECT_FLOAT64;
        n->lit.via.f64 = strtod(num, NULL);
    }
    free(num);
    p->pos = i;
    *out = n;
    return 0;
}

static int parse_primary(struct parser *p, struct node **out, const char *after)
{
    skip_ws(p);
    if (p->pos >= p->len) {
        if (after)
            return fail(p, p->pos, "expected a value after '%s'", after);
        return fail(p, p->pos, "expected a field path or a value");
    }
    char c = p->s[p->pos];
    if (c == '(') {
        size_t open = p->pos++;
        if (p->depth >= MAX_NESTING)
            return fail(p, open, "expression nested more than %d levels deep", MAX_NESTING);
        struct node *inner;
        p->depth++;
        int rc = parse_or(p, &inner, "(");
        p->depth--;
        if (rc)
            return rc;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ')') {
            node_free(inner);
            return fail(p, p->pos, "expected ')' to close the '(' at column %d", column_of(p, open));
        }
        p->pos++;
        *out = inner;
        return 0;
    }
    if (c == '"' || c == '\'') {
        struct node *n = node_new(N_LIT);
        size_t len;
        int rc = parse_string(p, &n->lit_str, &len);
        if (rc) {
            free(n);
            return rc;
        }
        n->lit.type = MSGPACK_OBJECT_STR;
        n->lit.via.str.ptr = n->lit_str;
        n->lit.via.str.size = (uint32_t)len;
        *out = n;
        return 0;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p, out);
    if (word_is(p, "true") || word_is(p, "false") || word_is(p, "null")) {
        struct node *n = node_new(N_LIT);
        if (word_is(p, "null")) {
            n->lit.type = MSGPACK_OBJECT_NIL;
        } else {
            n->lit.type = MSGPACK_OBJECT_BOOLEAN;
            n->lit.via.boolean = word_is(p, "true");
        }
        p->pos += name_len(p, p->pos);
        *out = n;
        return 0;
    }
    static const char *const reserved[] = {"and", "or", "not", "contains", NULL};
    for (int i = 0; reserved[i]; i++)
        if (word_is(p, reserved[i]))
            return after ? fail(p, p->pos, "expected a value after '%s', found '%s'", after, reserved[i])
                         : fail(p, p->pos, "expected a field path or a value, found '%s'", reserved[i]);
    if (c == '[' || is_name_start(c)) {
        struct node *n = node_new(N_PATH);
        int rc = parse_path_at(p, &n->path);
        if (rc) {
            free(n);
            return rc;
        }
        *out = n;
        return 0;
    }
    if (after)
        return fail(p, p->pos, "expected a value after '%s', found '%c'", after, c);
    return fail(p, p->pos, "expected a field path or a value, found '%c'", c);
}

static int parse_unary(struct parser *p, struct node **out, const char *after)
{
    skip_ws(p);
    if (!word_is(p, "not"))
        return parse_primary(p, out, after);
    if (p->depth >= MAX_NESTING)
        return fail(p, p->pos, "expression nested more than %d levels deep", MAX_NESTING);
    p->pos += 3;
    struct node *n = node_new(N_NOT);
    p->depth++;
    int rc = parse_unary(p, &n->a, "not");
    p->depth--;
    if (rc) {
        free(n);
        return rc;
    }
    *out = n;
    return 0;
}

/* The comparison operator at pos, or -1; sets *len. */
static int peek_op(const struct parser *p, size_t *len)
{
    const char *s = p->s + p->pos;
    size_t left = p->len - p->pos;
    static const int order[] = {OP_EQ, OP_NE, OP_LE, OP_GE, OP_LT, OP_GT};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        size_t n = strlen(op_names[order[i]]);
        if (left >= n && memcmp(s, op_names[order[i]], n) == 0) {
            *len = n;
            return order[i];
        }
    }
    if (word_is(p, "contains")) {
        *len = 8;
        return OP_CONTAINS;
    }
    return -1;
}

static int parse_cmp(struct parser *p, struct node **out, const char *after)
{
    struct node *left;
    int rc = parse_unary(p, &left, after);
    if (rc)
        return rc;
    skip_ws(p);
    size_t oplen;
    int op = peek_op(p, &oplen);
    if (op < 0) {
        if (p->pos < p->len && p->s[p->pos] == '=') {
            node_free(left);
            return fail(p, p->pos, "unexpected '='; did you mean '=='?");
        }
        *out = left;
        return 0;
    }
    p->pos += oplen;
    struct node *n = node_new(N_CMP);
    n->op = (enum cmp_op)op;
    n->a = left;
    if ((rc = parse_unary(p, &n->b, op_names[op])) != 0) {
        node_free(n);
        return rc;
    }
    skip_ws(p);
    if (peek_op(p, &oplen) >= 0) {
        node_free(n);
        return fail(p, p->pos, "comparisons do not chain; join them with 'and'");
    }
    *out = n;
    return 0;
}

/* One level of `X (kw X)*` for kw "and" (over comparisons) or "or" (over and). */
static int parse_chain(struct parser *p, struct node **out, const char *after, const char *kw,
                       enum node_type t, int (*sub)(struct parser *, struct node **, const char *))
{
    struct node *left;
    int rc = sub(p, &left, after);
    if (rc)
        return rc;
    for (;;) {
        skip_ws(p);
        if (!word_is(p, kw))
            break;
        if (++p->links > MAX_LINKS) {
            node_free(left);
            return fail(p, p->pos, "more than %d 'and' / 'or' in one expression", MAX_LINKS);
        }
        p->pos += strlen(kw);
        struct node *n = node_new(t);
        n->a = left;
        if ((rc = sub(p, &n->b, kw)) != 0) {
            node_free(n);
            return rc;
        }
        left = n;
    }
    *out = left;
    return 0;
}

static int parse_and(struct parser *p, struct node **out, const char *after)
{
    return parse_chain(p, out, after, "and", N_AND, parse_cmp);
}

static int parse_or(struct parser *p, struct node **out, const char *after)
{
    return parse_chain(p, out, after, "or", N_OR, parse_and);
}

int ik_query_parse(const char *text, const char *what, struct ik_query **out, struct ik_diag *d)
{
    struct parser p = {text, strlen(text), 0, what, d, 0, 0};
    struct node *root;
    int rc = parse_or(&p, &root, NULL);
    if (rc)
        return rc;
    skip_ws(&p);
    if (p.pos < p.len) {
        size_t n = name_len(&p, p.pos);
        node_free(root);
        if (n > 0)
            return fail(&p, p.pos, "unexpected '%.*s'; expected 'and', 'or', a comparison or the end",
                        (int)n, p.s + p.pos);
        return fail(&p, p.pos, "unexpected '%c'; expected 'and', 'or', a comparison or the end",
                    p.s[p.pos]);
    }
    *out = ik_xmalloc(sizeof **out);
    (*out)->root = root;
    return 0;
}

void ik_query_free(struct ik_query *q)
{
    if (q == NULL)
        return;
    node_free(q->root);
    free(q);
}
