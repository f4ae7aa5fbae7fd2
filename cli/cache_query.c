/* cli/cache_query.c - `ikada cache query`, `export` and `diff`.
 *
 * All three read one object through a REF and convert it with base/mpjson.h,
 * so the JSON a user sees in a query is byte for byte what export writes.
 * export also writes a lora.adapter as a PEFT folder (lm/lora.h) and a tree
 * (a command's folder output) as its folder (cache/tree.h). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/mpjson.h"
#include "base/pyjson.h"
#include "query/preview.h"
#include "query/query.h"
#include "base/buf.h"
#include "cli/cli.h"
#include "cli/cache_int.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/strmap.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "cache/tree.h"
#include "lm/chat_template.h"
#include "lm/lora.h"
#include "nodes/train/adapter_artifact.h"

/* An object loaded through a REF and unpacked. */
struct loaded {
    struct ik__cc_ref ref;
    struct ik_blob blob;
    msgpack_unpacked u;
    enum ik_object_form form;
    const msgpack_object *records; /* the records array, or NULL */
    char kind[64];                 /* kind for messages: the artifact's, else the form */
};

static int load(const struct ik_cache *c, const char *ref, struct loaded *l)
{
    int rc = ik__cc_load(c, ref, &l->ref, &l->blob);
    if (rc != 0)
        return rc;
    msgpack_unpacked_init(&l->u);
    l->form = ik_preview_classify(l->blob.data, l->blob.len, &l->u);
    l->records = NULL;
    static const char *const forms[] = {"artifact", "msgpack", "text", "binary"};
    snprintf(l->kind, sizeof l->kind, "%s", forms[l->form]);
    if (l->form == IK_OBJECT_ARTIFACT) {
        const msgpack_object *k = ik_mp_get(&l->u.data, "kind");
        snprintf(l->kind, sizeof l->kind, "%.*s", (int)k->via.str.size, k->via.str.ptr);
        const msgpack_object *r = ik_mp_get(&l->u.data, "records");
        if (r && r->type == MSGPACK_OBJECT_ARRAY)
            l->records = r;
    }
    return 0;
}

static void unload(struct loaded *l)
{
    msgpack_unpacked_destroy(&l->u);
    ik_blob_release(&l->blob);
    ik__cc_ref_free(&l->ref);
}

static int no_records(const char *verb, const char *ref, const struct loaded *l)
{
    struct ik_diag d = IK_DIAG_INIT;
    ik_diag_set(&d, IK_EUSAGE, "%s: '%s' is not a records artifact (it is %s '%s')", verb, ref,
                l->form == IK_OBJECT_ARTIFACT ? "kind" : "a", l->kind);
    ik_diag_hint(&d, "`ikada cache show %s` describes it", ref);
    return ik__cc_fail(&d);
}

/* ---- query ---- */

/* One table cell: strings as they are (first line, cut), other values as JSON. */
static char *cell(const msgpack_object *v)
{
    struct ik_buf b = IK_BUF_INIT;
    if (v == NULL) {
        ik_buf_puts(&b, "-");
    } else if (v->type == MSGPACK_OBJECT_STR) {
        for (uint32_t i = 0; i < v->via.str.size; i++) {
            char ch = v->via.str.ptr[i];
            ik_buf_putc(&b, ch == '\n' || ch == '\t' || ch == '\r' ? ' ' : ch);
        }
    } else {
        ik_mpjson_write(&b, v, 0, NULL);
    }
    /* Cut at 60 terminal columns so a table stays readable (a Japanese
     * question is 2 columns a character). */
    size_t cut = ik_utf8_cut_width(b.data, b.len, 60);
    if (cut < b.len) {
        b.len = cut;
        b.data[cut] = '\0';
        ik_buf_puts(&b, "\xe2\x80\xa6");
    }
    return ik_buf_steal(&b);
}

/* Columns on a terminal, so that cells of CJK text line up with ASCII ones. */
static size_t width(const char *s)
{
    return ik_utf8_width(s, strlen(s));
}

static void pad(struct ik_buf *b, const char *s, size_t w)
{
    ik_buf_puts(b, s);
    for (size_t i = width(s); i < w; i++)
        ik_buf_putc(b, ' ');
}

static void print_table(struct ik_buf *out, const struct ik_qselect *sel, char **cells, size_t rows)
{
    size_t *w = ik_xcalloc(sel->n, sizeof *w);
    for (size_t j = 0; j < sel->n; j++) {
        w[j] = width(ik_qpath_text(sel->paths[j]));
        for (size_t i = 0; i < rows; i++)
            if (width(cells[i * sel->n + j]) > w[j])
                w[j] = width(cells[i * sel->n + j]);
    }
    for (size_t i = 0; i <= rows; i++) {
        for (size_t j = 0; j < sel->n; j++) {
            const char *s = i == 0 ? ik_qpath_text(sel->paths[j]) : cells[(i - 1) * sel->n + j];
            if (j + 1 < sel->n) {
                pad(out, s, w[j]);
                ik_buf_puts(out, "  ");
            } else {
                ik_buf_puts(out, s);
            }
        }
        ik_buf_putc(out, '\n');
    }
    free(w);
}

static const char query_help[] =
    "Filters the records array of an artifact. Output: one JSON object per line\n"
    "(JSONL); with --select and without --json, a table.\n\n"
    "  --where EXPR     keep records for which EXPR holds, e.g.\n"
    "                   --where 'score >= 0.5 and messages[-1].role == \"assistant\"'\n"
    "                   operators: == != < > <= >= contains and or not ( )\n"
    "                   values: paths (a.b, a[2], a[-1]), numbers, 'strings', true,\n"
    "                   false, null; a bare path is true unless missing, null,\n"
    "                   false, 0, \"\" or empty; not binds tighter than ==\n"
    "  --select FIELDS  comma-separated paths to output (a,b.c)\n"
    "  --limit N        stop after N matches (default: all)\n"
    "  --count          print only the number of matches\n"
    "  --json           JSON lines even with --select; {\"count\": N} with --count\n";

int ik__cc_query(int argc, char **argv)
{
    bool json = false, count_only = false;
    const char *where = NULL, *select = NULL, *limit_s = NULL, *ref = NULL;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL},
                                  {"--count", NULL, IK_OPT_FLAG, &count_only, NULL},
                                  {"--where", NULL, IK_OPT_VALUE, &where, NULL},
                                  {"--select", NULL, IK_OPT_VALUE, &select, NULL},
                                  {"--limit", NULL, IK_OPT_VALUE, &limit_s, NULL},
                                  {0}};
    const struct ik_optspec spec = {
        .usage = "cache query REF [--where EXPR] [--select FIELDS] [--limit N] [--count] [--json]",
        .help = query_help, .opts = opts, .pos = &ref, .min_pos = 1, .max_pos = 1,
        .flags = IK__CC_ARGS,
    };
    size_t limit = 0;
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc == 0 && limit_s)
        rc = ik__cc_count("--limit", limit_s, &limit);
    if (rc != 0)
        return ik_opt_status(rc);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_query *q = NULL;
    struct ik_qselect *sel = NULL;
    if (where && ik_query_parse(where, "--where", &q, &d) < 0)
        return ik__cc_fail(&d);
    if (select && ik_qselect_parse(select, "--select", &sel, &d) < 0) {
        ik_query_free(q);
        return ik__cc_fail(&d);
    }
    struct ik__cc_session s;
    struct loaded l;
    if ((rc = ik__cc_begin("query", 0, &s)) != 0 || (rc = load(s.c, ref, &l)) != 0)
        goto out;
    if (l.records == NULL) {
        rc = no_records("query", ref, &l);
        unload(&l);
        goto out;
    }
    struct ik_buf buf = IK_BUF_INIT;
    bool table = sel && !json;
    char **cells = NULL;
    size_t matches = 0, cells_cap = 0;
    for (uint32_t i = 0; i < l.records->via.array.size && (limit == 0 || matches < limit); i++) {
        const msgpack_object *rec = &l.records->via.array.ptr[i];
        if (q && !ik_query_match(q, rec))
            continue;
        matches++;
        if (count_only)
            continue;
        if (table) {
            cells = ik_xgrow(cells, &cells_cap, matches * sel->n, sizeof *cells);
            for (size_t j = 0; j < sel->n; j++)
                cells[(matches - 1) * sel->n + j] = cell(ik_qpath_get(sel->paths[j], rec));
        } else if (sel) {
            struct ik_jsonw w;
            ik_jsonw_init(&w, &buf, 0);
            ik_jsonw_begin_object(&w);
            for (size_t j = 0; j < sel->n; j++) {
                const msgpack_object *v = ik_qpath_get(sel->paths[j], rec);
                ik_jsonw_key(&w, ik_qpath_text(sel->paths[j]));
                if (v)
                    ik_jsonw_mp(&w, v, NULL);
                else
                    ik_jsonw_null(&w);
            }
            ik_jsonw_end_object(&w);
            ik_buf_putc(&buf, '\n');
        } else {
            ik_mpjson_write(&buf, rec, 0, NULL);
            ik_buf_putc(&buf, '\n');
        }
    }
    if (count_only)
        ik_buf_printf(&buf, json ? "{\"count\":%zu}\n" : "%zu\n", matches);
    else if (table)
        print_table(&buf, sel, cells, matches);
    ik__cc_out(&buf);
    ik_buf_free(&buf);
    for (size_t i = 0; table && i < matches * sel->n; i++)
        free(cells[i]);
    free(cells);
    unload(&l);
out:
    ik__cc_end(&s);
    ik_query_free(q);
    ik_qselect_free(sel);
    return rc;
}

/* ---- export ---- */

static const char export_help[] =
    "Writes an artifact to FILE (atomically: a temporary file, then a rename), or\n"
    "to stdout with -o -.\n\n"
    "  -o, --output FILE  where to write (a folder for --format peft and tree)\n"
    "  --format F         msgpack: the object's bytes\n"
    "                     jsonl:   one JSON line per record (records artifacts), in the\n"
    "                              layout of Python's json.dumps, as HF datasets write it\n"
    "                     json:    the whole artifact as JSON\n"
    "                     raw:     a file artifact's payload, else the object's bytes\n"
    "                     peft:    a lora.adapter as a PEFT LoRA folder, for Hugging Face\n"
    "                              PeftModel.from_pretrained and `lm score --adapter`:\n"
    "                              adapter_config.json, adapter_model.safetensors (f32)\n"
    "                              and ikada.json (the artifact's hash, base_hash,\n"
    "                              tokenizer_hash, chat_template, steps). The folder is\n"
    "                              created; an existing one must be empty or hold an\n"
    "                              adapter_config.json (an earlier export), whose files\n"
    "                              are replaced\n"
    "                     tree:    a tree (a folder a command wrote) as that folder,\n"
    "                              with its files' execute bits; the folder is created,\n"
    "                              an existing one must be empty\n"
    "                     default: raw for files and text, peft for lora.adapter, tree\n"
    "                              for tree; else what FILE's extension says (.jsonl,\n"
    "                              .json), else json for a report (kind *.report),\n"
    "                              jsonl for records, json for the rest\n";

/* Whether dir may receive an exported folder: missing (then created), empty,
 * or holding `marker` (an earlier export; NULL: none counts), so a mistyped
 * -o cannot litter a folder. `what` names the export in messages. */
static int export_folder(const char *dir, const char *format, const char *marker,
                         const char *what, struct ik_diag *d)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT)
            return ik_diag_set(d, -errno, "cannot use '%s': %s", dir, strerror(errno));
        return ik_mkdirs(dir, d);
    }
    if (!S_ISDIR(st.st_mode))
        return ik_diag_set(d, IK_EUSAGE, "export --format %s: '%s' exists and is not a folder",
                           format, dir);
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return ik_diag_set(d, -errno, "cannot open folder '%s': %s", dir, strerror(errno));
    bool empty = true, earlier = false;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        empty = false;
        earlier |= marker && strcmp(e->d_name, marker) == 0;
    }
    closedir(dh);
    if (empty || earlier)
        return 0;
    ik_diag_set(d, IK_EUSAGE, "export --format %s: '%s' is a folder that holds files%s%s; not "
                "writing %s into it", format, dir, marker ? " but no " : "", marker ? marker : "",
                what);
    ik_diag_hint(d, marker ? "name a new or empty folder, or one an earlier export wrote"
                           : "name a new or empty folder");
    return IK_EUSAGE;
}

/* DIR/ikada.json: what PEFT's adapter_config.json has no field for (old PEFT
 * versions refuse unknown keys there). */
static int peft_ikada_json(const char *dir, const char *hex, const struct ik_lora_artifact_info *info,
                           struct ik_diag *d)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "artifact", hex, "base_hash", info->base_hash,
                          "tokenizer_hash", info->tokenizer_hash, "chat_template",
                          ik_chat_template_name(info->chat_template), "steps", (json_int_t)info->steps);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    char *path = ik_xasprintf("%s/ikada.json", dir);
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_printf(&b, "%s\n", text);
    int rc = ik_write_atomic(dir, path, b.data, b.len, 0644, d);
    ik_buf_free(&b);
    free(text);
    free(path);
    return rc;
}

/* --format peft: the adapter read back strictly, then written as a folder. */
static int export_peft(const struct loaded *l, const char *ref, const char *dir)
{
    struct ik_diag d = IK_DIAG_INIT;
    if (l->form != IK_OBJECT_ARTIFACT || strcmp(l->kind, "lora.adapter") != 0) {
        ik_diag_set(&d, IK_EUSAGE, "export --format peft: '%s' is %s '%s', not a lora.adapter", ref,
                    l->form == IK_OBJECT_ARTIFACT ? "kind" : "a", l->kind);
        ik_diag_hint(&d, "--format peft exports LoRA adapters; `ikada cache show %s` describes it", ref);
        return ik__cc_fail(&d);
    }
    if (strcmp(dir, "-") == 0) {
        ik_diag_set(&d, IK_EUSAGE, "export --format peft writes a folder: -o DIR, not -o -");
        ik_diag_hint(&d, "--format json writes the adapter as JSON to stdout");
        return ik__cc_fail(&d);
    }
    char hex[IK_HASH_HEX_LEN + 1], short_hex[13];
    ik_hash_to_hex(&l->ref.hash, hex);
    ik__cc_hex12(&l->ref.hash, short_hex);
    char *what = ik_xasprintf("adapter %s", short_hex);
    struct ik_lora *a = NULL;
    struct ik_lora_artifact_info info;
    int rc = ik_lora_artifact_read(&l->u.data, what, &a, NULL, &info, &d);
    if (rc == 0)
        rc = export_folder(dir, "peft", "adapter_config.json", "an adapter", &d);
    if (rc == 0)
        rc = ik_lora_save(a, dir, NULL, &d);
    if (rc == 0)
        rc = peft_ikada_json(dir, hex, &info, &d);
    ik_lora_free(a);
    free(what);
    return rc == 0 ? 0 : ik__cc_fail(&d);
}

/* --format tree: a `tree` artifact's files written back as the folder. */
static int export_tree(const struct loaded *l, const char *ref, const char *dir)
{
    struct ik_diag d = IK_DIAG_INIT;
    if (l->form != IK_OBJECT_ARTIFACT || strcmp(l->kind, "tree") != 0) {
        ik_diag_set(&d, IK_EUSAGE, "export --format tree: '%s' is %s '%s', not a tree (a folder "
                    "output)", ref, l->form == IK_OBJECT_ARTIFACT ? "kind" : "a", l->kind);
        ik_diag_hint(&d, "`ikada cache show %s` describes it", ref);
        return ik__cc_fail(&d);
    }
    if (strcmp(dir, "-") == 0) {
        ik_diag_set(&d, IK_EUSAGE, "export --format tree writes a folder: -o DIR, not -o -");
        ik_diag_hint(&d, "--format json writes the tree as JSON to stdout");
        return ik__cc_fail(&d);
    }
    int rc = export_folder(dir, "tree", NULL, "a tree", &d);
    if (rc == 0)
        rc = ik_tree_write(&l->u.data, dir, ref, &d);
    return rc == 0 ? 0 : ik__cc_fail(&d);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The format export writes without --format: a file's payload, an adapter's
 * folder; for other artifacts what -o's extension asks (.jsonl, .json), else
 * a report (kind *.report) whole as JSON (its records, when it has any, are
 * only a part of it: a report with none exported as JSON Lines was an empty
 * file), else a records artifact's records as JSON Lines. */
static const char *default_format(const struct loaded *l, const char *path)
{
    bool is_artifact = l->form == IK_OBJECT_ARTIFACT;
    if (l->form != IK_OBJECT_MSGPACK && !is_artifact)
        return "raw";
    if (is_artifact && strcmp(l->kind, "file") == 0)
        return "raw";
    if (is_artifact && strcmp(l->kind, "lora.adapter") == 0)
        return "peft";
    if (is_artifact && strcmp(l->kind, "tree") == 0)
        return "tree";
    if (ends_with(path, ".jsonl") && l->records)
        return "jsonl";
    if (ends_with(path, ".json") || ends_with(l->kind, ".report"))
        return "json";
    return l->records ? "jsonl" : "json";
}

int ik__cc_export(int argc, char **argv)
{
    const char *ref = NULL, *path = NULL, *format = NULL;
    const struct ik_opt opts[] = {{"--output", "-o", IK_OPT_VALUE, &path, NULL},
                                  {"--format", NULL, IK_OPT_VALUE, &format, NULL},
                                  {0}};
    const struct ik_optspec spec = {
        .usage = "cache export REF -o FILE [--format msgpack|jsonl|json|raw|peft|tree]",
        .help = export_help,
        .opts = opts, .pos = &ref, .min_pos = 1, .max_pos = 1, .flags = IK__CC_ARGS,
    };
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc != 0)
        return ik_opt_status(rc);
    if (path == NULL)
        return ik_opt_error(spec.usage, "export needs -o FILE (or -o - for stdout)");
    static const char *const formats[] = {"msgpack", "jsonl", "json", "raw", "peft", "tree", NULL};
    if (format) {
        int k = 0;
        while (formats[k] && strcmp(formats[k], format) != 0)
            k++;
        if (formats[k] == NULL)
            return ik_opt_error(spec.usage, "unknown --format '%s'; expected msgpack, jsonl, json, raw, "
                                "peft or tree", format);
    }
    struct ik__cc_session s;
    if ((rc = ik__cc_begin("export", 0, &s)) != 0)
        return rc;
    struct ik_cache *c = s.c;
    struct loaded l;
    if ((rc = load(c, ref, &l)) != 0) {
        ik__cc_end(&s);
        return rc;
    }
    bool is_file = l.form == IK_OBJECT_ARTIFACT && strcmp(l.kind, "file") == 0;
    bool is_mp = l.form == IK_OBJECT_ARTIFACT || l.form == IK_OBJECT_MSGPACK;
    if (format == NULL)
        format = default_format(&l, path);
    struct ik_buf out = IK_BUF_INIT;
    const void *bytes = l.blob.data;
    size_t len = l.blob.len;
    struct ik_diag d = IK_DIAG_INIT;
    if (strcmp(format, "peft") == 0 || strcmp(format, "tree") == 0) {
        rc = format[0] == 'p' ? export_peft(&l, ref, path) : export_tree(&l, ref, path);
        goto out;
    }
    if (strcmp(format, "jsonl") == 0) {
        if (l.records == NULL) {
            rc = no_records("export --format jsonl", ref, &l);
            goto out;
        }
        for (uint32_t i = 0; i < l.records->via.array.size; i++) {
            ik_pyjson_append(&out, &l.records->via.array.ptr[i]);
            ik_buf_putc(&out, '\n');
        }
        if (l.records->via.array.size == 0)
            fprintf(stderr, "ikada: warning: '%s' has no records: the JSON Lines are empty%s\n", ref,
                    ends_with(l.kind, ".report") ? " (--format json writes the whole report)" : "");
        bytes = out.data, len = out.len;
    } else if (strcmp(format, "json") == 0) {
        if (!is_mp) {
            ik_diag_set(&d, IK_EUSAGE, "export --format json: '%s' is not msgpack (it is %s)", ref, l.kind);
            ik_diag_hint(&d, "use --format raw");
            rc = ik__cc_fail(&d);
            goto out;
        }
        ik_mpjson_write(&out, &l.u.data, 2, NULL);
        ik_buf_putc(&out, '\n');
        bytes = out.data, len = out.len;
    } else if (strcmp(format, "raw") == 0 && is_file) {
        const msgpack_object *data = ik_mp_get(&l.u.data, "data");
        if (data && (data->type == MSGPACK_OBJECT_BIN || data->type == MSGPACK_OBJECT_STR))
            bytes = data->via.bin.ptr, len = data->via.bin.size;
    }
    if (strcmp(path, "-") == 0) {
        if (len && fwrite(bytes, 1, len, stdout) != len) {
            fprintf(stderr, "ikada: error: cannot write to stdout: %s\n", strerror(errno));
            rc = IK_EXIT_FAILED;
        }
        fflush(stdout);
    } else {
        /* The temporary file sits beside the target so the rename stays on one file system. */
        char *dir_copy = ik_xstrdup(path);
        if (ik_write_atomic(dirname(dir_copy), path, bytes, len, 0644, &d) < 0)
            rc = ik__cc_fail(&d);
        free(dir_copy);
    }
out:
    ik_buf_free(&out);
    unload(&l);
    ik__cc_end(&s);
    return rc;
}

/* ---- diff ---- */

/* The first MAX_PATHS differing paths with their values (NULL: absent, or
 * not one value: a top-level field of a non-map), and how many there were. */
#define MAX_PATHS 10

struct paths {
    char *items[MAX_PATHS];
    const msgpack_object *a[MAX_PATHS], *b[MAX_PATHS];
    bool values; /* a and b hold the values */
    size_t n;
};

static void add_change(struct paths *p, const char *path, const msgpack_object *a,
                       const msgpack_object *b)
{
    if (p->n < MAX_PATHS) {
        p->items[p->n] = ik_xstrdup(*path ? path : "(whole record)");
        p->a[p->n] = a;
        p->b[p->n] = b;
    }
    p->n++;
}

static void add_path(struct paths *p, const char *path)
{
    add_change(p, path, NULL, NULL);
}

/* A value as a diff shows it: JSON, cut at 60 code points (cell), or "(absent)". */
static char *shown_value(const msgpack_object *v)
{
    if (v == NULL)
        return ik_xstrdup("(absent)");
    if (v->type != MSGPACK_OBJECT_STR)
        return cell(v);
    struct ik_buf b = IK_BUF_INIT;
    ik_mpjson_write_string(&b, v->via.str.ptr, v->via.str.size, 60);
    return ik_buf_steal(&b);
}

/* "q: "a" -> "b", tags" (values where known) */
static void paths_text(struct ik_buf *b, const struct paths *p)
{
    for (size_t i = 0; i < p->n && i < MAX_PATHS; i++) {
        ik_buf_printf(b, "%s%s", i ? ", " : "", p->items[i]);
        if (!p->values)
            continue;
        char *va = shown_value(p->a[i]), *vb = shown_value(p->b[i]);
        ik_buf_printf(b, ": %s -> %s", va, vb);
        free(va);
        free(vb);
    }
    if (p->n > MAX_PATHS)
        ik_buf_printf(b, ", … (%zu in all)", p->n);
}

static void paths_json(struct ik_jsonw *w, const struct paths *p)
{
    ik_jsonw_begin_array(w);
    for (size_t i = 0; i < p->n && i < MAX_PATHS; i++)
        ik_jsonw_str(w, p->items[i]);
    ik_jsonw_end_array(w);
}

/* [{path, a, b}]: the values, whole (an absent one is null). */
static void changes_json(struct ik_jsonw *w, const struct paths *p)
{
    ik_jsonw_begin_array(w);
    for (size_t i = 0; i < p->n && i < MAX_PATHS; i++) {
        ik_jsonw_begin_object(w);
        ik_jsonw_key(w, "path");
        ik_jsonw_str(w, p->items[i]);
        for (int side = 0; side < 2; side++) {
            const msgpack_object *v = side ? p->b[i] : p->a[i];
            ik_jsonw_key(w, side ? "b" : "a");
            if (v)
                ik_jsonw_mp(w, v, NULL);
            else
                ik_jsonw_null(w);
        }
        ik_jsonw_end_object(w);
    }
    ik_jsonw_end_array(w);
}

static void paths_free(struct paths *p)
{
    for (size_t i = 0; i < p->n && i < MAX_PATHS; i++)
        free(p->items[i]);
    p->n = 0;
}
/* Collects the paths below `path` where a and b differ (NULL = absent). */
static void diff_paths(const msgpack_object *a, const msgpack_object *b, struct ik_buf *path,
                       struct paths *out)
{
    if (ik_query_equal(a, b) && (a == NULL) == (b == NULL))
        return;
    size_t keep = path->len;
    if (a && b && a->type == MSGPACK_OBJECT_MAP && b->type == MSGPACK_OBJECT_MAP) {
        for (int side = 0; side < 2; side++) {
            const msgpack_object *x = side ? b : a, *y = side ? a : b;
            for (uint32_t i = 0; i < x->via.map.size; i++) {
                const msgpack_object *k = &x->via.map.ptr[i].key;
                if (k->type != MSGPACK_OBJECT_STR)
                    continue;
                char *name = ik_xstrndup(k->via.str.ptr, k->via.str.size);
                const msgpack_object *yv = ik_mp_get(y, name);
                if (side == 0 || yv == NULL) {
                    ik_buf_printf(path, "%s%s", keep ? "." : "", name);
                    diff_paths(side ? yv : &x->via.map.ptr[i].val, side ? &x->via.map.ptr[i].val : yv,
                               path, out);
                    path->len = keep;
                    path->data[keep] = '\0';
                }
                free(name);
            }
        }
        return;
    }
    if (a && b && a->type == MSGPACK_OBJECT_ARRAY && b->type == MSGPACK_OBJECT_ARRAY) {
        uint32_t n = a->via.array.size > b->via.array.size ? a->via.array.size : b->via.array.size;
        for (uint32_t i = 0; i < n; i++) {
            ik_buf_printf(path, "[%" PRIu32 "]", i);
            diff_paths(i < a->via.array.size ? &a->via.array.ptr[i] : NULL,
                       i < b->via.array.size ? &b->via.array.ptr[i] : NULL, path, out);
            path->len = keep;
            path->data[keep] = '\0';
        }
        return;
    }
    ik_buf_putc(path, '\0'); /* make sure data is allocated for an empty path */
    path->len = keep;
    out->values = true;
    add_change(out, path->data, a, b);
}

/* Top-level fields that differ (records excluded when both have them). */
static void diff_fields(const struct loaded *a, const struct loaded *b, struct paths *out)
{
    const msgpack_object *x = &a->u.data, *y = &b->u.data;
    if (x->type != MSGPACK_OBJECT_MAP || y->type != MSGPACK_OBJECT_MAP) {
        if (!ik_query_equal(x, y))
            add_path(out, "(whole value)");
        return;
    }
    for (int side = 0; side < 2; side++) {
        const msgpack_object *m = side ? y : x, *o = side ? x : y;
        for (uint32_t i = 0; i < m->via.map.size; i++) {
            const msgpack_object *k = &m->via.map.ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR)
                continue;
            char *name = ik_xstrndup(k->via.str.ptr, k->via.str.size);
            const msgpack_object *ov = ik_mp_get(o, name);
            bool both_records = strcmp(name, "records") == 0 && a->records && b->records;
            const msgpack_object *mv = &m->via.map.ptr[i].val;
            if (!both_records && ((side == 0 && !ik_query_equal(mv, ov)) ||
                                  (side == 1 && ov == NULL) || (side == 0 && ov == NULL))) {
                out->values = true;
                add_change(out, name, side ? ov : mv, side ? mv : ov);
            }
            free(name);
        }
    }
}

static const char diff_help[] =
    "Compares two artifacts. For records artifacts: how many records are only in\n"
    "A, only in B, or changed, and the first changed records with their differing\n"
    "field paths and values (A -> B). Records are matched by a key field when\n"
    "there is one (--key, else the first of 'id', a field named *id, 'key' that\n"
    "every record of both has, as a string or integer unique on each side), else\n"
    "by position. For others, the differing top-level fields. Exit 0 when\n"
    "identical, 1 when different.\n\n"
    "  --key F  match records by field F\n"
    "  --json   the same as one JSON object\n";

#define MAX_SHOWN 5

/* The records of A and B compared, by key or by position. */
struct rec_diff {
    const char *key; /* the key field, or NULL (by position) */
    size_t only_a, only_b, changed, n_shown;
    struct {
        char *label; /* "1" (a position) or "id=2" */
        struct paths p;
    } shown[MAX_SHOWN];
    struct paths only_in[2]; /* the labels of the first records only in A, only in B */
};

/* The compact JSON of a record's key value, or NULL when it has none that
 * can be a key (a string or an integer). */
static char *key_text(const msgpack_object *rec, const char *field)
{
    const msgpack_object *v = rec->type == MSGPACK_OBJECT_MAP ? ik_mp_get(rec, field) : NULL;
    if (v == NULL || (v->type != MSGPACK_OBJECT_STR && v->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
                      v->type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
        return NULL;
    struct ik_buf b = IK_BUF_INIT;
    ik_mpjson_write(&b, v, 0, NULL);
    return ik_buf_steal(&b);
}

/* Indexes records by field into m (key text -> position): 0, or the
 * position + 1 of the first record without a key or with a repeated one. */
static size_t index_by(const msgpack_object *recs, const char *field, struct ik_strmap *m)
{
    for (uint32_t i = 0; i < recs->via.array.size; i++) {
        char *k = key_text(&recs->via.array.ptr[i], field);
        bool bad = k == NULL || ik_strmap_get(m, k, strlen(k)) >= 0;
        if (!bad)
            ik_strmap_put(m, k, strlen(k), (int)i);
        free(k);
        if (bad)
            return (size_t)i + 1;
    }
    return 0;
}

/* Whether field keys both record sets. */
static bool keys_both(const msgpack_object *ra, const msgpack_object *rb, const char *field)
{
    struct ik_strmap ma = IK_STRMAP_INIT, mb = IK_STRMAP_INIT;
    bool ok = index_by(ra, field, &ma) == 0 && index_by(rb, field, &mb) == 0;
    ik_strmap_free(&ma);
    ik_strmap_free(&mb);
    return ok;
}

/* The key field to match by, taken from the first record of A (see diff_help);
 * NULL: by position. The name points into the artifact. */
static char *pick_key(const msgpack_object *ra, const msgpack_object *rb)
{
    if (ra->via.array.size == 0 || ra->via.array.ptr[0].type != MSGPACK_OBJECT_MAP)
        return NULL;
    const msgpack_object *first = &ra->via.array.ptr[0];
    for (int rank = 0; rank < 3; rank++)
        for (uint32_t i = 0; i < first->via.map.size; i++) {
            const msgpack_object *k = &first->via.map.ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR)
                continue;
            char *name = ik_xstrndup(k->via.str.ptr, k->via.str.size);
            size_t n = strlen(name);
            bool fits = rank == 0   ? strcmp(name, "id") == 0
                        : rank == 1 ? n > 2 && strcmp(name + n - 2, "id") == 0
                                    : strcmp(name, "key") == 0;
            if (fits && keys_both(ra, rb, name))
                return name;
            free(name);
        }
    return NULL;
}

static void note_changed(struct rec_diff *rd, const msgpack_object *x, const msgpack_object *y,
                         char *label)
{
    rd->changed++;
    if (rd->n_shown == MAX_SHOWN) {
        free(label);
        return;
    }
    rd->shown[rd->n_shown].label = label;
    memset(&rd->shown[rd->n_shown].p, 0, sizeof rd->shown[rd->n_shown].p);
    struct ik_buf path = IK_BUF_INIT;
    diff_paths(x, y, &path, &rd->shown[rd->n_shown].p);
    ik_buf_free(&path);
    rd->n_shown++;
}

static void diff_by_position(const msgpack_object *ra, const msgpack_object *rb, struct rec_diff *rd)
{
    uint32_t na = ra->via.array.size, nb = rb->via.array.size;
    rd->only_a = na > nb ? na - nb : 0;
    rd->only_b = nb > na ? nb - na : 0;
    for (uint32_t i = 0; i < na || i < nb; i++) {
        char *label = ik_xasprintf("%" PRIu32, i);
        if (i >= nb || i >= na)
            add_path(&rd->only_in[i >= nb ? 0 : 1], label);
        else if (!ik_query_equal(&ra->via.array.ptr[i], &rb->via.array.ptr[i]))
            note_changed(rd, &ra->via.array.ptr[i], &rb->via.array.ptr[i], ik_xstrdup(label));
        free(label);
    }
}

static void diff_by_key(const msgpack_object *ra, const msgpack_object *rb, struct rec_diff *rd)
{
    struct ik_strmap in_b = IK_STRMAP_INIT;
    index_by(rb, rd->key, &in_b);
    bool *matched = ik_xcalloc(rb->via.array.size + 1, sizeof *matched);
    for (uint32_t i = 0; i < ra->via.array.size; i++) {
        char *k = key_text(&ra->via.array.ptr[i], rd->key);
        char *label = ik_xasprintf("%s=%s", rd->key, k);
        int j = ik_strmap_get(&in_b, k, strlen(k));
        if (j < 0) {
            rd->only_a++;
            add_path(&rd->only_in[0], label);
        } else {
            matched[j] = true;
            if (!ik_query_equal(&ra->via.array.ptr[i], &rb->via.array.ptr[j])) {
                note_changed(rd, &ra->via.array.ptr[i], &rb->via.array.ptr[j], label);
                label = NULL;
            }
        }
        free(label);
        free(k);
    }
    for (uint32_t j = 0; j < rb->via.array.size; j++)
        if (!matched[j]) {
            char *k = key_text(&rb->via.array.ptr[j], rd->key);
            char *label = ik_xasprintf("%s=%s", rd->key, k);
            rd->only_b++;
            add_path(&rd->only_in[1], label);
            free(label);
            free(k);
        }
    free(matched);
    ik_strmap_free(&in_b);
}

static void rec_diff_free(struct rec_diff *rd)
{
    for (size_t i = 0; i < rd->n_shown; i++) {
        free(rd->shown[i].label);
        paths_free(&rd->shown[i].p);
    }
    paths_free(&rd->only_in[0]);
    paths_free(&rd->only_in[1]);
}

/* --key F must key both sides: else a usage error naming the first record
 * that has no such string or integer field, or repeats one. */
static int check_key(const struct loaded *a, const struct loaded *b, const char *key,
                     const char *const refs[2])
{
    const struct loaded *side[2] = {a, b};
    for (int s = 0; s < 2; s++) {
        struct ik_strmap m = IK_STRMAP_INIT;
        size_t bad = index_by(side[s]->records, key, &m);
        ik_strmap_free(&m);
        if (bad == 0)
            continue;
        struct ik_diag d = IK_DIAG_INIT;
        char *k = key_text(&side[s]->records->via.array.ptr[bad - 1], key);
        ik_diag_set(&d, IK_EUSAGE, "diff --key %s: record %zu of '%s' %s", key, bad - 1, refs[s],
                    k ? "repeats a key of an earlier record" : "has no string or integer field by that name");
        ik_diag_hint(&d, "without --key, records are matched by a key field when one fits, else "
                         "by position");
        free(k);
        return ik__cc_fail(&d);
    }
    return 0;
}

static void print_diff_json(struct ik_buf *out, bool identical, const char *ha, const char *hb,
                            const struct paths *fields, const struct loaded *a,
                            const struct loaded *b, const struct rec_diff *rd)
{
    struct ik_jsonw w;
    ik_jsonw_init(&w, out, 2);
    ik_jsonw_begin_object(&w);
    ik_jsonw_key(&w, "identical");
    ik_jsonw_bool(&w, identical);
    ik_jsonw_key(&w, "a");
    ik_jsonw_str(&w, ha);
    ik_jsonw_key(&w, "b");
    ik_jsonw_str(&w, hb);
    ik_jsonw_key(&w, "fields");
    paths_json(&w, fields);
    ik_jsonw_key(&w, "field_changes");
    changes_json(&w, fields);
    if (a->records && b->records) {
        ik_jsonw_key(&w, "records");
        ik_jsonw_begin_object(&w);
        ik_jsonw_key(&w, "matched_by");
        if (rd->key)
            ik_jsonw_str(&w, rd->key);
        else
            ik_jsonw_null(&w);
        ik_jsonw_key(&w, "only_in_a");
        ik_jsonw_uint(&w, rd->only_a);
        ik_jsonw_key(&w, "only_in_b");
        ik_jsonw_uint(&w, rd->only_b);
        ik_jsonw_key(&w, "changed");
        ik_jsonw_uint(&w, rd->changed);
        ik_jsonw_key(&w, "first_changed");
        ik_jsonw_begin_array(&w);
        for (size_t i = 0; i < rd->n_shown; i++) {
            ik_jsonw_begin_object(&w);
            ik_jsonw_key(&w, rd->key ? "key" : "index");
            if (rd->key)
                ik_jsonw_str(&w, rd->shown[i].label + strlen(rd->key) + 1);
            else
                ik_jsonw_uint(&w, strtoull(rd->shown[i].label, NULL, 10));
            ik_jsonw_key(&w, "paths");
            paths_json(&w, &rd->shown[i].p);
            ik_jsonw_key(&w, "changes");
            changes_json(&w, &rd->shown[i].p);
            ik_jsonw_end_object(&w);
        }
        ik_jsonw_end_array(&w);
        ik_jsonw_end_object(&w);
    }
    ik_jsonw_end_object(&w);
    ik_buf_putc(out, '\n');
}

static void print_diff_text(struct ik_buf *out, const char *ha, const char *hb,
                            const struct paths *fields, const struct loaded *a,
                            const struct loaded *b, const struct rec_diff *rd)
{
    ik_buf_printf(out, "A  %.12s  %s", ha, a->kind);
    if (a->records)
        ik_buf_printf(out, ", %" PRIu32 " records", a->records->via.array.size);
    ik_buf_printf(out, "\nB  %.12s  %s", hb, b->kind);
    if (b->records)
        ik_buf_printf(out, ", %" PRIu32 " records", b->records->via.array.size);
    ik_buf_putc(out, '\n');
    if (fields->n) {
        ik_buf_puts(out, "fields that differ: ");
        paths_text(out, fields);
        ik_buf_putc(out, '\n');
    }
    if (!(a->records && b->records))
        return;
    ik_buf_printf(out, "records (matched by %s%s%s): %zu only in A, %zu only in B, %zu changed\n",
                  rd->key ? "'" : "position", rd->key ? rd->key : "", rd->key ? "'" : "", rd->only_a,
                  rd->only_b, rd->changed);
    for (size_t i = 0; i < rd->n_shown; i++) {
        ik_buf_printf(out, "  record %s: ", rd->shown[i].label);
        paths_text(out, &rd->shown[i].p);
        ik_buf_putc(out, '\n');
    }
    for (int s = 0; s < 2; s++)
        if (rd->only_in[s].n) {
            ik_buf_printf(out, "  only in %c: ", s ? 'B' : 'A');
            paths_text(out, &rd->only_in[s]);
            ik_buf_putc(out, '\n');
        }
}

int ik__cc_diff(int argc, char **argv)
{
    bool json = false;
    const char *refs[2] = {NULL, NULL}, *key = NULL;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL},
                                  {"--key", NULL, IK_OPT_VALUE, &key, NULL},
                                  {0}};
    const struct ik_optspec spec = {.usage = "cache diff REF REF [--key F] [--json]", .help = diff_help,
                                    .opts = opts, .pos = refs, .min_pos = 2, .max_pos = 2,
                                    .flags = IK__CC_ARGS};
    struct ik__cc_session s;
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc == 0)
        rc = ik__cc_begin("diff", 0, &s);
    if (rc != 0)
        return ik_opt_status(rc);
    struct loaded a, b;
    if ((rc = load(s.c, refs[0], &a)) != 0) {
        ik__cc_end(&s);
        return rc;
    }
    if ((rc = load(s.c, refs[1], &b)) != 0) {
        unload(&a);
        ik__cc_end(&s);
        return rc;
    }
    bool same_bytes = a.blob.len == b.blob.len && (a.blob.len == 0 || memcmp(a.blob.data, b.blob.data, a.blob.len) == 0);
    bool mp = (a.form == IK_OBJECT_ARTIFACT || a.form == IK_OBJECT_MSGPACK) &&
              (b.form == IK_OBJECT_ARTIFACT || b.form == IK_OBJECT_MSGPACK);
    struct paths fields;
    struct rec_diff rd;
    memset(&fields, 0, sizeof fields);
    memset(&rd, 0, sizeof rd);
    char *picked = NULL;
    if (key && a.records && b.records && (rc = check_key(&a, &b, key, refs)) != 0)
        goto out;
    if (!same_bytes && mp) {
        diff_fields(&a, &b, &fields);
        if (a.records && b.records) {
            rd.key = key ? key : (picked = pick_key(a.records, b.records));
            if (rd.key)
                diff_by_key(a.records, b.records, &rd);
            else
                diff_by_position(a.records, b.records, &rd);
        }
    } else if (!same_bytes) {
        add_path(&fields, "(bytes)");
    }
    bool identical = same_bytes || (fields.n == 0 && rd.only_a == 0 && rd.only_b == 0 && rd.changed == 0);
    char ha[IK_HASH_HEX_LEN + 1], hb[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&a.ref.hash, ha);
    ik_hash_to_hex(&b.ref.hash, hb);
    struct ik_buf text = IK_BUF_INIT;
    if (json)
        print_diff_json(&text, identical, ha, hb, &fields, &a, &b, &rd);
    else if (identical)
        ik_buf_puts(&text, "identical\n");
    else
        print_diff_text(&text, ha, hb, &fields, &a, &b, &rd);
    ik__cc_out(&text);
    ik_buf_free(&text);
    rc = identical ? IK_EXIT_OK : IK_EXIT_FAILED;
out:
    paths_free(&fields);
    rec_diff_free(&rd);
    free(picked);
    unload(&a);
    unload(&b);
    ik__cc_end(&s);
    return rc;
}
