/* cli/cache_admin.c - `ikada cache verify`, `gc` and `du`.
 *
 * verify and gc take the exclusive cache lock without waiting: a running
 * `ikada run` holds it shared, and gc must never delete what a running node is
 * about to reference (cache/lock.h). The work itself is cache/gc.h's. */
#include <stdio.h>
#include <string.h>

#include "cache/gc.h"
#include "base/mpjson.h"
#include "query/preview.h"
#include "base/buf.h"
#include "cli/cli.h"
#include "cli/cache_int.h"
#include "base/error.h"
#include "base/file.h"

static const char verify_help[] =
    "Re-hashes every object under the exclusive cache lock. Corrupt objects are\n"
    "moved to quarantine/, and the actions that produced them will re-run.\n"
    "Then checks every action record, refs file, run record and source-memo entry\n"
    "against its checksum: a corrupt file is moved to quarantine/ (a memo entry is\n"
    "dropped in place), and the next run rebuilds what it held.\n"
    "Exit 0 when all is intact, 1 when anything was corrupt, 75 when another\n"
    "ikada process is using the cache (nothing was checked: try again later).\n\n"
    "  --json  {checked, ok, corrupt, bytes_checked, corrupt_objects: [{hash, producers}],\n"
    "           records_checked, records_corrupt,\n"
    "           corrupt_records: [{path, problem, moved_to}]}\n";

/* The records part of verify's report (cache/verify.c): a count line and one
 * line per corrupt record, or the JSON fields records_checked, records_corrupt
 * and corrupt_records [{path, problem, moved_to}]. */
static void print_records(const struct ik_verify_report *rep, struct ik_jsonw *w,
                          struct ik_buf *out)
{
    if (w != NULL) {
        ik_jsonw_key(w, "records_checked");
        ik_jsonw_uint(w, rep->records_checked);
        ik_jsonw_key(w, "records_corrupt");
        ik_jsonw_uint(w, rep->records_corrupt);
        ik_jsonw_key(w, "corrupt_records");
        ik_jsonw_begin_array(w);
    } else {
        ik_buf_printf(out, "checked %zu records (action records, refs, run records, source "
                           "memo entries): %zu corrupt\n", rep->records_checked,
                      rep->records_corrupt);
    }
    for (size_t i = 0; i < rep->n_bad_records; i++) {
        const struct ik_verify_record *r = &rep->bad_records[i];
        const char *moved = r->moved ? ik_display_path(r->moved) : NULL;
        if (w != NULL) {
            ik_jsonw_begin_object(w);
            ik_jsonw_key(w, "path");
            ik_jsonw_str(w, ik_display_path(r->path));
            ik_jsonw_key(w, "problem");
            ik_jsonw_str(w, r->problem);
            ik_jsonw_key(w, "moved_to");
            if (moved)
                ik_jsonw_str(w, moved);
            else
                ik_jsonw_null(w);
            ik_jsonw_end_object(w);
        } else {
            ik_buf_printf(out, "corrupt  %s (%s%s)\n", r->problem, moved ? "moved to " : "",
                          moved ? moved : "repaired in place");
        }
    }
    if (w != NULL)
        ik_jsonw_end_array(w);
}

int ik__cc_verify(int argc, char **argv)
{
    bool json = false;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL}, {0}};
    const struct ik_optspec spec = {.usage = "cache verify [--json]", .help = verify_help,
                                    .opts = opts, .flags = IK__CC_ARGS};
    struct ik__cc_session s;
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc == 0)
        rc = ik__cc_begin("verify", IK__CC_EXCLUSIVE | IK__CC_INDEX, &s);
    if (rc != 0)
        return ik_opt_status(rc);
    const struct ik__cc_index *ix = &s.ix;
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_verify_report rep;
    memset(&rep, 0, sizeof rep);
    if (ik_cache_verify_all(s.c, &rep, &d) < 0) {
        rc = ik__cc_fail(&d);
        goto out;
    }
    struct ik_buf out = IK_BUF_INIT;
    struct ik_jsonw w;
    ik_jsonw_init(&w, &out, 2);
    char hs[32];
    ik_preview_human_size(rep.bytes_checked, hs);
    if (json) {
        ik_jsonw_begin_object(&w);
        ik_jsonw_key(&w, "checked");
        ik_jsonw_uint(&w, rep.objects_checked);
        ik_jsonw_key(&w, "ok");
        ik_jsonw_uint(&w, rep.objects_ok);
        ik_jsonw_key(&w, "corrupt");
        ik_jsonw_uint(&w, rep.objects_corrupt);
        ik_jsonw_key(&w, "bytes_checked");
        ik_jsonw_uint(&w, rep.bytes_checked);
        ik_jsonw_key(&w, "corrupt_objects");
        ik_jsonw_begin_array(&w);
    } else {
        ik_buf_printf(&out, "checked %zu objects (%s): %zu ok, %zu corrupt\n", rep.objects_checked, hs,
                      rep.objects_ok, rep.objects_corrupt);
    }
    for (size_t i = 0; i < rep.n_corrupt; i++) {
        char hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(&rep.corrupt[i], hex);
        if (json) {
            ik_jsonw_begin_object(&w);
            ik_jsonw_key(&w, "hash");
            ik_jsonw_str(&w, hex);
            ik_jsonw_key(&w, "producers");
            ik_jsonw_begin_array(&w);
        } else {
            ik_buf_printf(&out, "corrupt  %s (moved to quarantine/)", hex);
        }
        size_t n_prod = 0;
        for (size_t k = 0; k < ix->n; k++) {
            const struct ik__cc_prod *p = &ix->items[k];
            if (!ik_hash_equal(&p->object, &rep.corrupt[i]))
                continue;
            char key[IK_HASH_HEX_LEN + 1];
            ik_hash_to_hex(&p->key, key);
            if (json) {
                ik_jsonw_begin_object(&w);
                ik_jsonw_key(&w, "node");
                ik_jsonw_str(&w, p->node);
                ik_jsonw_key(&w, "port");
                ik_jsonw_str(&w, p->port);
                ik_jsonw_key(&w, "key");
                ik_jsonw_str(&w, key);
                ik_jsonw_end_object(&w);
            } else {
                ik_buf_printf(&out, "%s %s.%s (action %.12s)", n_prod ? "," : "; produced by", p->node,
                              p->port, key);
            }
            n_prod++;
        }
        if (json) {
            ik_jsonw_end_array(&w);
            ik_jsonw_end_object(&w);
        } else {
            ik_buf_puts(&out, n_prod ? "\n" : "; no action produced it\n");
        }
    }
    if (json)
        ik_jsonw_end_array(&w);
    print_records(&rep, json ? &w : NULL, &out);
    if (json) {
        ik_jsonw_end_object(&w);
        ik_buf_putc(&out, '\n');
    }
    ik__cc_out(&out);
    ik_buf_free(&out);
    rc = rep.objects_corrupt + rep.records_corrupt > 0 ? IK_EXIT_FAILED : IK_EXIT_OK;
out:
    ik_verify_report_free(&rep);
    ik__cc_end(&s);
    return rc;
}

static void totals_json(struct ik_jsonw *w, const char *key, size_t objects, uint64_t object_bytes,
                        size_t actions, uint64_t action_bytes)
{
    ik_jsonw_key(w, key);
    ik_jsonw_begin_object(w);
    ik_jsonw_key(w, "objects");
    ik_jsonw_uint(w, objects);
    ik_jsonw_key(w, "object_bytes");
    ik_jsonw_uint(w, object_bytes);
    ik_jsonw_key(w, "actions");
    ik_jsonw_uint(w, actions);
    ik_jsonw_key(w, "action_bytes");
    ik_jsonw_uint(w, action_bytes);
    ik_jsonw_end_object(w);
}

static const char gc_help[] =
    "Removes every object and action record that no ref and none of the last N\n"
    "runs reaches, and empties tmp/, under the exclusive cache lock.\n"
    "Exit 0 when done, 1 on a failure, 75 when another ikada process is using the\n"
    "cache (nothing was removed: try again later).\n\n"
    "  --keep-runs N  runs whose nodes are kept (default 10)\n"
    "  --dry-run      only print what would be removed\n"
    "  --json         {dry_run, removed, kept, checkpoints_removed, tmp_removed, items: [{hash, type, size}]}\n";

int ik__cc_gc(int argc, char **argv)
{
    bool json = false, dry = false;
    const char *keep_s = NULL;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL},
                                  {"--dry-run", "-n", IK_OPT_FLAG, &dry, NULL},
                                  {"--keep-runs", NULL, IK_OPT_VALUE, &keep_s, NULL},
                                  {0}};
    const struct ik_optspec spec = {.usage = "cache gc [--keep-runs N] [--dry-run] [--json]",
                                    .help = gc_help, .opts = opts, .flags = IK__CC_ARGS};
    size_t keep = 10;
    struct ik__cc_session s;
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc == 0 && keep_s)
        rc = ik__cc_count("--keep-runs", keep_s, &keep);
    if (rc == 0)
        rc = ik__cc_begin("gc", IK__CC_EXCLUSIVE, &s);
    if (rc != 0)
        return ik_opt_status(rc);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_gc_report rep;
    memset(&rep, 0, sizeof rep);
    if (ik_gc(s.c, keep, dry, &rep, &d) < 0) {
        rc = ik__cc_fail(&d);
        goto out;
    }
    struct ik_buf out = IK_BUF_INIT;
    if (json) {
        struct ik_jsonw w;
        ik_jsonw_init(&w, &out, 2);
        ik_jsonw_begin_object(&w);
        ik_jsonw_key(&w, "dry_run");
        ik_jsonw_bool(&w, dry);
        totals_json(&w, "removed", rep.objects_removed, rep.object_bytes_removed, rep.actions_removed,
                    rep.action_bytes_removed);
        totals_json(&w, "kept", rep.objects_kept, rep.object_bytes_kept, rep.actions_kept,
                    rep.action_bytes_kept);
        ik_jsonw_key(&w, "checkpoints_removed");
        ik_jsonw_uint(&w, rep.checkpoints_removed);
        ik_jsonw_key(&w, "tmp_removed");
        ik_jsonw_uint(&w, rep.tmp_removed);
        ik_jsonw_key(&w, "tmp_bytes_removed");
        ik_jsonw_uint(&w, rep.tmp_bytes_removed);
        ik_jsonw_key(&w, "items");
        ik_jsonw_begin_array(&w);
        for (size_t i = 0; i < rep.n_removed; i++) {
            char hex[IK_HASH_HEX_LEN + 1];
            ik_hash_to_hex(&rep.removed[i].hash, hex);
            ik_jsonw_begin_object(&w);
            ik_jsonw_key(&w, "hash");
            ik_jsonw_str(&w, hex);
            ik_jsonw_key(&w, "type");
            ik_jsonw_str(&w, rep.removed[i].is_action ? "action" : "object");
            ik_jsonw_key(&w, "size");
            ik_jsonw_uint(&w, rep.removed[i].size);
            ik_jsonw_end_object(&w);
        }
        ik_jsonw_end_array(&w);
        ik_jsonw_end_object(&w);
        ik_buf_putc(&out, '\n');
    } else {
        char ob[32], ab[32], kb[32];
        ik_preview_human_size(rep.object_bytes_removed, ob);
        ik_preview_human_size(rep.action_bytes_removed, ab);
        ik_preview_human_size(rep.object_bytes_kept, kb);
        for (size_t i = 0; i < rep.n_removed; i++) {
            char h[13], hs[32];
            ik__cc_hex12(&rep.removed[i].hash, h);
            ik_preview_human_size(rep.removed[i].size, hs);
            ik_buf_printf(&out, "%s %-6s %s  %s\n", dry ? "would remove" : "removed", 
                          rep.removed[i].is_action ? "action" : "object", h, hs);
        }
        ik_buf_printf(&out, "%s %zu objects (%s) and %zu action records (%s)", dry ? "would remove" : "removed",
                      rep.objects_removed, ob, rep.actions_removed, ab);
        if (rep.checkpoints_removed)
            ik_buf_printf(&out, ", %zu orphan checkpoints", rep.checkpoints_removed);
        if (!dry && rep.tmp_removed)
            ik_buf_printf(&out, ", %zu temporary files", rep.tmp_removed);
        ik_buf_printf(&out, "; kept %zu objects (%s) and %zu action records\n", rep.objects_kept, kb,
                      rep.actions_kept);
    }
    ik__cc_out(&out);
    ik_buf_free(&out);
out:
    ik_gc_report_free(&rep);
    ik__cc_end(&s);
    return rc;
}

static const char du_help[] =
    "Bytes and file counts per part of the cache (objects, actions, runs,\n"
    "quarantine, tmp) and in all.\n\n"
    "  --json  {root, parts: {name: {bytes, files}}, total_bytes, total_files}\n";

int ik__cc_du(int argc, char **argv)
{
    bool json = false;
    const struct ik_opt opts[] = {{"--json", NULL, IK_OPT_FLAG, &json, NULL}, {0}};
    const struct ik_optspec spec = {.usage = "cache du [--json]", .help = du_help, .opts = opts,
                                    .flags = IK__CC_ARGS};
    struct ik__cc_session s;
    int rc = ik_opt_parse(&spec, argc, argv, NULL);
    if (rc == 0)
        rc = ik__cc_begin("du", 0, &s);
    if (rc != 0)
        return ik_opt_status(rc);
    struct ik_cache *c = s.c;
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_du_report rep;
    if (ik_cache_du(c, &rep, &d) < 0) {
        ik__cc_end(&s);
        return ik__cc_fail(&d);
    }
    struct ik_buf out = IK_BUF_INIT;
    if (json) {
        struct ik_jsonw w;
        ik_jsonw_init(&w, &out, 2);
        ik_jsonw_begin_object(&w);
        ik_jsonw_key(&w, "root");
        ik_jsonw_str(&w, c->root);
        ik_jsonw_key(&w, "parts");
        ik_jsonw_begin_object(&w);
        for (int i = 0; i < IK_DU_N; i++) {
            ik_jsonw_key(&w, rep.dirs[i].name);
            ik_jsonw_begin_object(&w);
            ik_jsonw_key(&w, "bytes");
            ik_jsonw_uint(&w, rep.dirs[i].bytes);
            ik_jsonw_key(&w, "files");
            ik_jsonw_uint(&w, rep.dirs[i].files);
            ik_jsonw_end_object(&w);
        }
        ik_jsonw_end_object(&w);
        ik_jsonw_key(&w, "total_bytes");
        ik_jsonw_uint(&w, rep.total_bytes);
        ik_jsonw_key(&w, "total_files");
        ik_jsonw_uint(&w, rep.total_files);
        ik_jsonw_end_object(&w);
        ik_buf_putc(&out, '\n');
    } else {
        char hs[32];
        ik_buf_printf(&out, "%-12s %10s %8s\n", "PART", "SIZE", "FILES");
        for (int i = 0; i < IK_DU_N; i++) {
            ik_preview_human_size(rep.dirs[i].bytes, hs);
            ik_buf_printf(&out, "%-12s %10s %8llu\n", rep.dirs[i].name, hs,
                          (unsigned long long)rep.dirs[i].files);
        }
        ik_preview_human_size(rep.total_bytes, hs);
        ik_buf_printf(&out, "%-12s %10s %8llu\n%s\n", "total", hs, (unsigned long long)rep.total_files,
                      c->root);
    }
    ik__cc_out(&out);
    ik_buf_free(&out);
    ik_du_report_free(&rep);
    ik__cc_end(&s);
    return IK_EXIT_OK;
}
