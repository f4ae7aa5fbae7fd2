/* tests/eval/helpers.h - shared helpers of the eval tests: paths under
 * tests/data, loading the reference's JSON files, field access that fails
 * the test on a missing field, and doubles compared with a tolerance. */
#ifndef IK_TESTS_EVAL_HELPERS_H
#define IK_TESTS_EVAL_HELPERS_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/xmalloc.h"

#ifndef IK_TEST_SRCDIR
#define IK_TEST_SRCDIR "."
#endif

/* The JSON document tests/data/<rel>; fails the test if it does not load. */
static inline json_t *load_json(const char *rel)
{
    char *path = ik_xasprintf("%s/tests/data/%s", IK_TEST_SRCDIR, rel);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    cr_assert_not_null(j, "%s:%d: %s", path, err.line, err.text);
    free(path);
    return j;
}

/* The JSON Lines file tests/data/<rel> as one array of its rows. */
static inline json_t *load_jsonl(const char *rel)
{
    char *path = ik_xasprintf("%s/tests/data/%s", IK_TEST_SRCDIR, rel);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    json_t *rows = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_error_t err;
        json_t *row = json_loadb(line, (size_t)len, 0, &err);
        cr_assert_not_null(row, "%s:%zu: %s", path, json_array_size(rows) + 1, err.text);
        json_array_append_new(rows, row);
    }
    free(line);
    fclose(f);
    free(path);
    return rows;
}

static inline json_t *field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert_not_null(v, "missing field '%s'", key);
    return v;
}

static inline const char *str_field(json_t *obj, const char *key, size_t *len)
{
    json_t *v = field(obj, key);
    cr_assert(json_is_string(v), "field '%s' is not a string", key);
    *len = json_string_length(v);
    return json_string_value(v);
}

static inline void assert_near(double got, double want, double tol, const char *what)
{
    cr_assert(fabs(got - want) <= tol, "%s: got %.17g, want %.17g", what, got, want);
}

/* |got - want| <= rel * |want| (want != 0). */
static inline void assert_rel(double got, double want, double rel, const char *what)
{
    cr_assert(fabs(got - want) <= rel * fabs(want), "%s: got %.17g, want %.17g", what, got, want);
}

#endif
