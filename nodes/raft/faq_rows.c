/* nodes/raft/faq_rows.c - FAQ rows from JSON Lines, JSON arrays, CSV and msgpack.
 *
 * Each format turns a row into four field views (question, answer, group,
 * url); one checker (take_row) then applies the same rules and messages to
 * every format, so "field is empty" reads the same for CSV and JSON. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "nodes/raft/faq_rows.h"
#include "nodes/raft/faq_rows_int.h"

const struct ik_faq_fields ik_faq_fields_jagovfaqs = {"Question", "Answer", "copyright", "url"};
const struct ik_faq_fields ik_faq_fields_artifact = {"question", "answer", "group", "url"};

int ik_faq_format_from_name(const char *name)
{
    static const char *const names[] = {"auto", "jsonl", "json", "csv", "msgpack"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void ik_faq_rows_init(struct ik_faq_rows *rows) { memset(rows, 0, sizeof *rows); }

void ik_faq_rows_free(struct ik_faq_rows *rows)
{
    for (size_t i = 0; i < rows->n; i++) {
        free(rows->v[i].question);
        free(rows->v[i].answer);
        free(rows->v[i].url);
    }
    free(rows->v);
    for (size_t i = 0; i < rows->n_groups; i++)
        free(rows->groups[i]);
    free(rows->groups);
    ik_strset_free(&rows->group_ids);
    memset(rows, 0, sizeof *rows);
}

size_t ik_faq_rows_add(struct ik_faq_rows *rows, const char *q, size_t q_len, const char *a,
                       size_t a_len, const char *group, size_t group_len, const char *url,
                       size_t url_len, long src)
{
    size_t gid;
    if (!ik_strset_get(&rows->group_ids, group, group_len, &gid)) {
        rows->groups = ik_xgrow(rows->groups, &rows->groups_cap, rows->n_groups + 1,
                                sizeof *rows->groups);
        gid = rows->n_groups++;
        rows->groups[gid] = ik_xstrndup(group, group_len);
        /* The set borrows the interned copy, which lives as long as rows. */
        ik_strset_put(&rows->group_ids, rows->groups[gid], group_len, gid, NULL);
    }
    rows->v = ik_xgrow(rows->v, &rows->cap, rows->n + 1, sizeof *rows->v);
    struct ik_faq_row *r = &rows->v[rows->n];
    r->question = ik_xstrndup(q, q_len);
    r->question_len = q_len;
    r->answer = ik_xstrndup(a, a_len);
    r->answer_len = a_len;
    r->url = url ? ik_xstrndup(url, url_len) : NULL;
    r->group = (uint32_t)gid;
    r->src = src;
    return rows->n++;
}

const char *ik_faq_rows_group(const struct ik_faq_rows *rows, size_t i)
{
    return rows->groups[rows->v[i].group];
}

/* --- one row, any format ------------------------------------------------- */

int ik__faq_row_err(struct reader *r, long row, const char *fmt, ...)
{
    struct ik_buf b = IK_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (r->line_form)
        ik_diag_row(r->d, IK_EPARSE, r->name, row, "%s", b.data);
    else
        ik_diag_set(r->d, IK_EPARSE, "%s: row %ld: %s", r->name, row, b.data);
    ik_buf_free(&b);
    return IK_EPARSE;
}

static const char *kind_name(enum vkind k)
{
    switch (k) {
    case V_NULL: return "null";
    case V_NUM: return "a number";
    case V_BOOL: return "a boolean";
    case V_ARRAY: return "an array";
    case V_OBJECT: return "an object";
    case V_BIN: return "binary data";
    default: return "not a string";
    }
}


/* Checks one field. `role` names the param that maps it, for the hint. */
static int check(struct reader *r, long row, const char *field, const char *param,
                 const struct val *v, bool required, bool nonempty, const char *keys)
{
    if (v->k == V_MISSING || (v->k == V_NULL && !required)) {
        if (!required)
            return 0;
        ik__faq_row_err(r, row, "missing field \"%s\"", field);
        ik_diag_hint(r->d, "this row has %s; set %s to the name that holds it", keys, param);
        return IK_EPARSE;
    }
    if (v->k != V_STR)
        return ik__faq_row_err(r, row, "field \"%s\" is %s, expected a string", field, kind_name(v->k));
    if (nonempty && v->len == 0)
        return ik__faq_row_err(r, row, "field \"%s\" is empty", field);
    if (r->check_utf8 && !ik_utf8_valid(v->s, v->len))
        return ik__faq_row_err(r, row, "field \"%s\" is not valid UTF-8", field);
    return 0;
}

/* vals: question, answer, group, url. keys: the row's field names, quoted. */
int ik__faq_take_row(struct reader *r, long row, const struct val vals[4], const char *keys)
{
    const struct ik_faq_fields *f = r->f;
    int rc;
    if ((rc = check(r, row, f->question, "question_field", &vals[0], true, true, keys)) < 0 ||
        (rc = check(r, row, f->answer, "answer_field", &vals[1], true, true, keys)) < 0)
        return rc;
    if (has_name(f->group) &&
        (rc = check(r, row, f->group, "group_field", &vals[2], true, false, keys)) < 0)
        return rc;
    if (has_name(f->url) && (rc = check(r, row, f->url, "url_field", &vals[3], false, false, keys)) < 0)
        return rc;
    const struct val *g = &vals[2], *u = &vals[3];
    bool has_group = has_name(f->group) && g->k == V_STR;
    bool has_url = has_name(f->url) && u->k == V_STR && u->len > 0;
    ik_faq_rows_add(r->out, vals[0].s, vals[0].len, vals[1].s, vals[1].len, has_group ? g->s : "",
                    has_group ? g->len : 0, has_url ? u->s : NULL, has_url ? u->len : 0, row);
    return 0;
}

const char *ik__faq_role_name(const struct ik_faq_fields *f, int i)
{
    const char *n[4] = {f->question, f->answer, f->group, f->url};
    return n[i];
}

/* --- JSON (jansson) -------------------------------------------------------- */

static void json_val(json_t *j, struct val *v)
{
    memset(v, 0, sizeof *v);
    if (j == NULL) {
        v->k = V_MISSING;
    } else if (json_is_string(j)) {
        v->k = V_STR;
        v->s = json_string_value(j);
        v->len = json_string_length(j);
    } else if (json_is_null(j)) {
        v->k = V_NULL;
    } else if (json_is_number(j)) {
        v->k = V_NUM;
    } else if (json_is_boolean(j)) {
        v->k = V_BOOL;
    } else if (json_is_array(j)) {
        v->k = V_ARRAY;
    } else {
        v->k = V_OBJECT;
    }
}

static char *json_keys(json_t *obj)
{
    struct ik_buf b = IK_BUF_INIT;
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        (void)val;
        ik_buf_printf(&b, "%s\"%s\"", b.len ? ", " : "", key);
    }
    if (b.len == 0)
        ik_buf_puts(&b, "no fields");
    return ik_buf_steal(&b);
}

static int json_row(struct reader *r, long row, json_t *obj)
{
    if (!json_is_object(obj)) {
        struct val v;
        json_val(obj, &v);
        return ik__faq_row_err(r, row, "expected a JSON object, got %s",
                       v.k == V_STR ? "a string" : kind_name(v.k));
    }
    struct val vals[4];
    for (int i = 0; i < 4; i++) {
        const char *name = ik__faq_role_name(r->f, i);
        json_val(has_name(name) ? json_object_get(obj, name) : NULL, &vals[i]);
    }
    char *keys = json_keys(obj);
    int rc = ik__faq_take_row(r, row, vals, keys);
    free(keys);
    return rc;
}

static int parse_jsonl(struct reader *r, const char *data, size_t len)
{
    long line = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t'))
            k++;
        if (k < n) {
            json_error_t err;
            json_t *obj = json_loadb(p, n, JSON_ALLOW_NUL, &err);
            if (obj == NULL)
                return ik__faq_row_err(r, line, "not valid JSON: %s (column %d)", err.text, err.column);
            int rc = json_row(r, line, obj);
            json_decref(obj);
            if (rc < 0)
                return rc;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static int parse_json_array(struct reader *r, const char *data, size_t len)
{
    json_error_t err;
    json_t *root = json_loadb(data, len, JSON_ALLOW_NUL, &err);
    if (root == NULL) {
        struct ik_srcloc loc = {r->name, err.line, err.column};
        return ik_diag_at(r->d, IK_EPARSE, &loc, NULL, 0, "not valid JSON: %s", err.text);
    }
    int rc = 0;
    if (!json_is_array(root)) {
        rc = ik_diag_set(r->d, IK_EPARSE, "%s: expected a JSON array of objects", r->name);
    } else {
        for (size_t i = 0; i < json_array_size(root) && rc == 0; i++)
            rc = json_row(r, (long)i + 1, json_array_get(root, i));
    }
    json_decref(root);
    return rc;
}

/* --- msgpack ----------------------------------------------------------------- */

static void mp_val(const msgpack_object *o, struct val *v)
{
    memset(v, 0, sizeof *v);
    if (o == NULL) {
        v->k = V_MISSING;
        return;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        v->k = V_STR;
        v->s = o->via.str.ptr ? o->via.str.ptr : "";
        v->len = o->via.str.size;
        break;
    case MSGPACK_OBJECT_NIL: v->k = V_NULL; break;
    case MSGPACK_OBJECT_BOOLEAN: v->k = V_BOOL; break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: v->k = V_NUM; break;
    case MSGPACK_OBJECT_ARRAY: v->k = V_ARRAY; break;
    case MSGPACK_OBJECT_MAP: v->k = V_OBJECT; break;
    case MSGPACK_OBJECT_BIN: v->k = V_BIN; break;
    default: v->k = V_OTHER; break;
    }
}

/* The value of key in map; NULL when absent or when map is not a map (a
 * stream may hold any value: its type is checked by the caller after this). */
static const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
    if (!has_name(key) || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static int mp_row(struct reader *r, long row, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_MAP) {
        struct val v;
        mp_val(o, &v);
        return ik__faq_row_err(r, row, "expected a map, got %s", v.k == V_STR ? "a string" : kind_name(v.k));
    }
    struct val vals[4];
    for (int i = 0; i < 4; i++)
        mp_val(mp_get(o, ik__faq_role_name(r->f, i)), &vals[i]);
    struct ik_buf keys = IK_BUF_INIT;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR)
            ik_buf_printf(&keys, "%s\"%.*s\"", keys.len ? ", " : "", (int)k->via.str.size,
                          k->via.str.ptr);
    }
    if (keys.len == 0)
        ik_buf_puts(&keys, "no fields");
    int rc = ik__faq_take_row(r, row, vals, keys.data);
    ik_buf_free(&keys);
    return rc;
}

static int mp_rows(struct reader *r, const msgpack_object *obj)
{
    const msgpack_object *arr = obj;
    if (obj->type == MSGPACK_OBJECT_MAP) {
        arr = mp_get(obj, "records");
        if (arr == NULL)
            return mp_row(r, 1, obj);
    }
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return ik_diag_set(r->d, IK_EPARSE, "%s: expected an array of rows", r->name);
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        int rc = mp_row(r, (long)i + 1, &arr->via.array.ptr[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_msgpack(struct reader *r, const char *data, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    long row = 0;
    int rc = 0;
    bool first = true;
    while (off < len && rc == 0) {
        size_t start = off;
        msgpack_unpack_return ur = msgpack_unpack_next(&u, data, len, &off);
        if (ur != MSGPACK_UNPACK_SUCCESS) {
            rc = ik_diag_set(r->d, IK_EPARSE, "%s: offset %zu: not valid msgpack%s", r->name,
                             start, ur == MSGPACK_UNPACK_CONTINUE ? " (truncated)" : "");
            break;
        }
        /* One array or artifact map holds all rows; otherwise a stream of maps. */
        if (first && off == len && (u.data.type == MSGPACK_OBJECT_ARRAY ||
                                    mp_get(&u.data, "records") != NULL)) {
            rc = mp_rows(r, &u.data);
            break;
        }
        first = false;
        rc = mp_row(r, ++row, &u.data);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int ik_faq_rows_from_object(const char *name, const msgpack_object *obj,
                            const struct ik_faq_fields *f, struct ik_faq_rows *out,
                            struct ik_diag *d)
{
    struct reader r = {name, false, true, f, out, d};
    return mp_rows(&r, obj);
}

/* --- entry points --------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int ik_faq_rows_parse(const char *name, const char *data, size_t len, enum ik_faq_format fmt,
                      const struct ik_faq_fields *f, struct ik_faq_rows *out, struct ik_diag *d)
{
    /* A UTF-8 byte order mark (Excel's CSV export writes one) is not data. */
    if (fmt != IK_FAQ_MSGPACK && len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    if (fmt == IK_FAQ_AUTO) {
        size_t i = 0;
        while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
            i++;
        unsigned char c = i < len ? (unsigned char)data[i] : 0;
        if (ends_with(name, ".csv"))
            fmt = IK_FAQ_CSV;
        else if (ends_with(name, ".msgpack") || ends_with(name, ".mpk"))
            fmt = IK_FAQ_MSGPACK;
        else if (c == '[')
            fmt = IK_FAQ_JSON;
        else if (c == '{')
            fmt = IK_FAQ_JSONL;
        else if ((c >= 0x80 && c <= 0x9f) || c == 0xdc || c == 0xdd || c == 0xde || c == 0xdf)
            fmt = IK_FAQ_MSGPACK;
        else if (i == len)
            return ik_diag_set(d, IK_EPARSE, "%s: no rows: the file is empty", name);
        else
            return ik_diag_set(d, IK_EPARSE,
                               "%s: cannot tell the format: expected JSON Lines, a JSON array, "
                               "CSV (.csv) or msgpack; set format to jsonl, json, csv or msgpack",
                               name);
    }
    struct reader r = {name, true, false, f, out, d};
    switch (fmt) {
    case IK_FAQ_JSONL: return parse_jsonl(&r, data, len);
    case IK_FAQ_JSON: r.line_form = false; return parse_json_array(&r, data, len);
    case IK_FAQ_CSV: r.check_utf8 = true; return ik__faq_parse_csv(&r, data, len);
    default: r.line_form = false; r.check_utf8 = true; return parse_msgpack(&r, data, len);
    }
}

int ik_faq_rows_read_file(const char *path, enum ik_faq_format fmt, const struct ik_faq_fields *f,
                          struct ik_faq_rows *out, struct ik_diag *d)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return ik_diag_set(d, -errno, "%s: cannot open: %s", path, strerror(errno));
    struct ik_buf b = IK_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        ik_buf_append(&b, chunk, n);
    int err = ferror(fp) ? errno : 0;
    fclose(fp);
    int rc;
    if (err)
        rc = ik_diag_set(d, -err, "%s: read failed: %s", path, strerror(err));
    else
        rc = ik_faq_rows_parse(path, b.data ? b.data : "", b.len, fmt, f, out, d);
    ik_buf_free(&b);
    return rc;
}
