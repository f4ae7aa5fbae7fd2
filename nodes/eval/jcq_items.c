/* nodes/eval/jcq_items.c - JCommonsenseQA JSON Lines reader (jcq_items.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/file.h"
#include "base/strset.h"
#include "base/xmalloc.h"
#include "nodes/eval/jcq_items.h"

static const char *const choice_fields[IK_JCQ_N_CHOICES] = {"choice0", "choice1", "choice2",
                                                             "choice3", "choice4"};

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* The non-empty string field `key` of obj, copied into *out. */
static int take_string(const char *name, long line, json_t *obj, const char *key, char **out,
                       struct ik_diag *d)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return ik_diag_row(d, IK_EPARSE, name, line, "missing field \"%s\"", key);
    if (!json_is_string(v))
        return ik_diag_row(d, IK_EPARSE, name, line, "field \"%s\" is %s, expected a string", key,
                           json_kind(v));
    if (json_string_length(v) == 0)
        return ik_diag_row(d, IK_EPARSE, name, line, "field \"%s\" is empty", key);
    *out = ik_xstrndup(json_string_value(v), json_string_length(v));
    return 0;
}

/* The integer field `key` of obj; `expected` words what it must be. */
static int take_int(const char *name, long line, json_t *obj, const char *key,
                    const char *expected, json_int_t *out, struct ik_diag *d)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return ik_diag_row(d, IK_EPARSE, name, line, "missing field \"%s\"", key);
    if (!json_is_integer(v))
        return ik_diag_row(d, IK_EPARSE, name, line, "field \"%s\" is %s, expected %s", key,
                           json_kind(v), expected);
    *out = json_integer_value(v);
    return 0;
}

static void item_free(struct ik_jcq_item *it)
{
    free(it->question);
    for (int c = 0; c < IK_JCQ_N_CHOICES; c++)
        free(it->choices[c]);
}

static int take_item(const char *name, long line, json_t *obj, struct ik_jcq_item *it,
                     struct ik_diag *d)
{
    memset(it, 0, sizeof *it);
    it->line = line;
    if (!json_is_object(obj))
        return ik_diag_row(d, IK_EPARSE, name, line, "expected a JSON object, got %s",
                           json_kind(obj));
    json_int_t q_id, label;
    int rc = take_int(name, line, obj, "q_id", "an integer", &q_id, d);
    if (rc == 0)
        rc = take_string(name, line, obj, "question", &it->question, d);
    for (int c = 0; c < IK_JCQ_N_CHOICES && rc == 0; c++)
        rc = take_string(name, line, obj, choice_fields[c], &it->choices[c], d);
    if (rc == 0)
        rc = take_int(name, line, obj, "label", "an integer 0-4", &label, d);
    if (rc == 0 && (label < 0 || label >= IK_JCQ_N_CHOICES))
        rc = ik_diag_row(d, IK_EPARSE, name, line, "field \"label\" is %" PRId64
                         ", expected an integer 0-4", (int64_t)label);
    if (rc < 0) {
        item_free(it);
        return rc;
    }
    it->q_id = (int64_t)q_id;
    it->label = (int)label;
    return 0;
}

static int parse_line(const char *name, long line, const char *p, size_t n,
                      struct ik_jcq_items *out, struct ik_diag *d)
{
    json_error_t err;
    json_t *obj = json_loadb(p, n, 0, &err);
    if (obj == NULL)
        return ik_diag_row(d, IK_EPARSE, name, line, "not valid JSON: %s (column %d)", err.text,
                           err.column);
    struct ik_jcq_item it;
    int rc = take_item(name, line, obj, &it, d);
    json_decref(obj);
    if (rc < 0)
        return rc;
    out->v = ik_xgrow(out->v, &out->cap, out->n + 1, sizeof *out->v);
    out->v[out->n++] = it;
    return 0;
}

/* A q_id seen twice is most likely two files concatenated, and would pair
 * the wrong answers of a predictions file: refuse it, naming both lines. */
static int check_unique(const char *name, const struct ik_jcq_items *items, struct ik_diag *d)
{
    struct ik_strset seen = IK_STRSET_INIT;
    int rc = 0;
    for (size_t i = 0; i < items->n && rc == 0; i++) {
        size_t first;
        const struct ik_jcq_item *it = &items->v[i];
        if (!ik_strset_put(&seen, (const char *)&it->q_id, sizeof it->q_id, i, &first))
            rc = ik_diag_row(d, IK_EPARSE, name, it->line,
                             "duplicate q_id %" PRId64 " (first on line %ld)", it->q_id,
                             items->v[first].line);
    }
    ik_strset_free(&seen);
    return rc;
}

int ik_jcq_items_parse(const char *name, const char *data, size_t len, struct ik_jcq_items *out,
                       struct ik_diag *d)
{
    long line = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t'))
            k++;
        if (k < n) {
            int rc = parse_line(name, line, p, n, out, d);
            if (rc < 0)
                return rc;
        }
        p = nl ? nl + 1 : end;
    }
    if (out->n == 0)
        return ik_diag_set(d, IK_EPARSE,
                           "%s: no questions (expected JSON Lines with q_id, question, "
                           "choice0..choice4 and label)",
                           name);
    return check_unique(name, out, d);
}

int ik_jcq_items_read_file(const char *path, const char *name, struct ik_jcq_items *out,
                           struct ik_diag *d)
{
    char *data;
    size_t len;
    int rc = ik_read_file(path, &data, &len, d);
    if (rc < 0)
        return rc;
    rc = ik_jcq_items_parse(name ? name : path, data, len, out, d);
    free(data);
    return rc;
}

void ik_jcq_items_free(struct ik_jcq_items *items)
{
    for (size_t i = 0; i < items->n; i++)
        item_free(&items->v[i]);
    free(items->v);
    *items = (struct ik_jcq_items)IK_JCQ_ITEMS_INIT;
}
