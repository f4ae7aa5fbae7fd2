/* lm/tokenizer.c - the family-independent half of the tokenizers:
 * finding a model's tokenizer file, loading by file type, matching special tokens in the text before the
 * family's own encoder sees it, decoding, and the accessors (tokenizer.h). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "lm/tokenizer_int.h"

int ik__tok_add_piece(struct ik_tok *t, const char *s, size_t len, float score, int type, size_t *cap)
{
    size_t c = *cap;
    t->piece = ik_xgrow(t->piece, &c, (size_t)t->n + 1, sizeof *t->piece);
    c = *cap;
    t->piece_len = ik_xgrow(t->piece_len, &c, (size_t)t->n + 1, sizeof *t->piece_len);
    c = *cap;
    t->score = ik_xgrow(t->score, &c, (size_t)t->n + 1, sizeof *t->score);
    t->type = ik_xgrow(t->type, cap, (size_t)t->n + 1, sizeof *t->type);
    t->piece[t->n] = ik_xstrndup(s, len);
    t->piece_len[t->n] = len;
    t->score[t->n] = score;
    t->type[t->n] = (unsigned char)type;
    return t->n++;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
         : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int ik__tok_byte_value(const char *s, size_t len)
{
    /* strtol on the piece would read past a short one, or past its end in
     * the file, and map "<0xZZ>" to byte 0. */
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

int ik__tok_read_file(const char *path, unsigned char **data, size_t *len, int empty_rc,
                      const char *empty_tail, struct ik_diag *d)
{
    struct ik_diag io = IK_DIAG_INIT;
    char *raw;
    int rc = ik_read_file(path, &raw, len, &io);
    ik_diag_free(&io);
    /* ik_read_file fails in read(2) only with these; anything else is open(2)'s. */
    if (rc == -EISDIR || rc == -EIO)
        return ik_diag_set(d, -EIO, "cannot read '%s'", path);
    if (rc != 0)
        return ik_diag_set(d, rc, "cannot open '%s': %s", path, strerror(-rc));
    if (*len == 0) {
        free(raw);
        return ik_diag_set(d, empty_rc, "cannot read '%s'%s", path, empty_tail);
    }
    *data = (unsigned char *)raw;
    return 0;
}

/* The one *.model file in dir (the caller frees), or NULL with *count the
 * number of *.model files there (0 or more than one). */
static char *only_model_file(const char *dir, int *count)
{
    char *found = NULL;
    DIR *dh = opendir(dir);
    struct dirent *e;
    *count = 0;
    while (dh && (e = readdir(dh)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 6 && strcmp(e->d_name + l - 6, ".model") == 0 && (*count)++ == 0)
            found = ik_xasprintf("%s/%s", dir, e->d_name);
    }
    if (dh)
        closedir(dh);
    if (*count != 1) {
        free(found);
        found = NULL;
    }
    return found;
}

int ik_tok_find_for_model(const char *model_path, char **path, struct ik_diag *d)
{
    struct stat sb;
    if (stat(model_path, &sb) != 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot open model '%s': %s", model_path, strerror(e));
    }
    size_t ml = strlen(model_path);
    if (!S_ISDIR(sb.st_mode) && ml >= 5 && strcmp(model_path + ml - 5, ".gguf") == 0) {
        *path = ik_xstrdup(model_path); /* a GGUF model carries its vocabulary */
        return 0;
    }
    char *dir = ik_xstrdup(model_path);
    if (!S_ISDIR(sb.st_mode)) {
        char *slash = strrchr(dir, '/');
        if (slash)
            slash[slash == dir ? 1 : 0] = '\0'; /* "/m.bin" lives in "/", not "" */
        else {
            free(dir);
            dir = ik_xstrdup(".");
        }
    }
    static const char *const names[] = {"tokenizer.json", "tokenizer.model"};
    char *found = NULL;
    for (int i = 0; i < 2 && !found; i++) {
        char *p = ik_xasprintf("%s/%s", dir, names[i]);
        if (access(p, R_OK) == 0)
            found = p;
        else
            free(p);
    }
    int count = 0;
    if (!found)
        found = only_model_file(dir, &count);
    int rc = 0;
    if (!found && count > 1)
        rc = ik_diag_set(d, IK_EVALIDATE, "no tokenizer.json, tokenizer.model or single *.model file "
                         "in '%s' (%d *.model files there)", dir, count);
    else if (!found)
        rc = ik_diag_set(d, IK_ENOTFOUND, "no tokenizer.json, tokenizer.model or single *.model file "
                         "in '%s'", dir);
    free(dir);
    if (rc == 0)
        *path = found;
    return rc;
}

int ik_tok_load(struct ik_tok **out, const char *path, struct ik_diag *d)
{
    struct ik_tok *t = ik_xcalloc(1, sizeof *t);
    t->bos = t->eos = t->unk = -1;
    size_t pl = strlen(path);
    int rc = pl >= 5 && strcmp(path + pl - 5, ".json") == 0   ? ik__tok_bpe_load(t, path, d)
             : pl >= 5 && strcmp(path + pl - 5, ".gguf") == 0 ? ik__tok_gguf_load(t, path, d)
             : pl >= 4 && strcmp(path + pl - 4, ".bin") == 0  ? ik__tok_l2c_load(t, path, d)
                                                              : ik__tok_spm_load(t, path, d);
    if (rc != 0) {
        ik_tok_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void ik_tok_free(struct ik_tok *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < t->n; i++)
        free(t->piece[i]);
    free(t->piece);
    free(t->piece_len);
    free(t->score);
    free(t->type);
    free(t->added);
    ik_strmap_free(&t->ids);
    ik__tok_bpe_free(t);
    free(t);
}

int ik_tok_kind(const struct ik_tok *t) { return t->kind; }
int ik_tok_vocab_size(const struct ik_tok *t) { return t->n; }
int ik_tok_bos(const struct ik_tok *t) { return t->bos; }
int ik_tok_eos(const struct ik_tok *t) { return t->eos; }

const char *ik_tok_piece(const struct ik_tok *t, int id)
{
    return id >= 0 && id < t->n ? t->piece[id] : NULL;
}

size_t ik_tok_piece_len(const struct ik_tok *t, int id)
{
    return id >= 0 && id < t->n ? t->piece_len[id] : 0;
}

/* The SPM_* numbering is the public one (tokenizer.h). */
int ik_tok_piece_type(const struct ik_tok *t, int id)
{
    return id >= 0 && id < t->n ? t->type[id] : 0;
}

float ik_tok_score(const struct ik_tok *t, int id)
{
    return id >= 0 && id < t->n && t->score ? t->score[id] : 0.0f;
}

int ik_tok_unk(const struct ik_tok *t) { return t->unk; }

int ik_tok_add_space_prefix(const struct ik_tok *t)
{
    return t->kind != IK_TOK_BYTE_BPE && t->add_dummy_prefix;
}

int ik_tok_remove_extra_spaces(const struct ik_tok *t)
{
    return t->kind != IK_TOK_BYTE_BPE && t->remove_extra_ws;
}

int ik_tok_n_merges(const struct ik_tok *t) { return t->n_merges; }

int ik_tok_merge(const struct ik_tok *t, int i, int *left, int *right)
{
    if (i < 0 || i >= t->n_merges)
        return -1;
    *left = t->merge[i][0];
    *right = t->merge[i][1];
    return 0;
}

int ik_tok_find(const struct ik_tok *t, const char *piece)
{
    int id = ik_strmap_get(&t->ids, piece, strlen(piece));
    for (int i = 0; id < 0 && i < t->n_added; i++)
        if (strcmp(t->piece[t->added[i]], piece) == 0)
            id = t->added[i];
    for (int i = 0; id < 0 && i < t->n; i++) /* byte and control pieces are not in the map */
        if (t->type[i] != SPM_NORMAL && strcmp(t->piece[i], piece) == 0)
            id = i;
    return id;
}

int ik_tok_is_special(const struct ik_tok *t, int id)
{
    return id >= 0 && id < t->n && (t->type[id] == SPM_CONTROL || t->type[id] == SPM_UNKNOWN);
}

/* The added/special token spelled at text[0..len), longest first, or -1.
 * USER pieces (SentencePiece user-defined, tokenizer.json non-special added
 * tokens) always match; CONTROL ones only with parse_special. */
static int match_added(const struct ik_tok *t, const char *text, size_t len, int parse_special)
{
    for (int i = 0; i < t->n_added; i++) {
        int id = t->added[i];
        if (t->type[id] == SPM_CONTROL && !parse_special)
            continue;
        if (t->piece_len[id] > 0 && t->piece_len[id] <= len && memcmp(text, t->piece[id], t->piece_len[id]) == 0)
            return id;
    }
    return -1;
}

static int encode_segment(const struct ik_tok *t, const char *text, size_t len, int at_start, int **ids,
                          size_t *n, size_t *cap, struct ik_diag *d)
{
    if (len == 0)
        return 0;
    if (t->kind == IK_TOK_BYTE_BPE)
        return ik__tok_bpe_encode(t, text, len, ids, n, cap, d);
    return ik__tok_spm_encode(t, text, len, at_start, ids, n, cap);
}

int ik_tok_encode(const struct ik_tok *t, const char *text, size_t len, int parse_special, int **ids,
                  size_t *n, struct ik_diag *d)
{
    int *v = NULL;
    size_t nv = 0, cap = 0, seg = 0;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        int id = t->n_added ? match_added(t, text + i, len - i, parse_special) : -1;
        if (id < 0) {
            i++;
            continue;
        }
        rc = encode_segment(t, text + seg, i - seg, seg == 0, &v, &nv, &cap, d);
        v = ik_xgrow(v, &cap, nv + 1, sizeof *v);
        v[nv++] = id;
        i += t->piece_len[id];
        seg = i;
    }
    if (rc == 0)
        rc = encode_segment(t, text + seg, len - seg, seg == 0, &v, &nv, &cap, d);
    if (rc != 0) {
        free(v);
        return rc;
    }
    *ids = v ? v : ik_xmalloc(sizeof *v);
    *n = nv;
    return 0;
}

int ik_tok_decode(const struct ik_tok *t, const int *ids, size_t n, int skip_special,
                  struct ik_buf *out, struct ik_diag *d)
{
    int at_start = 1;
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= t->n)
            return ik_diag_set(d, IK_EVALIDATE, "token id %d at index %zu is outside the vocabulary [0, %d)",
                               id, i, t->n);
        int ty = t->type[id];
        if (ty == SPM_CONTROL || ty == SPM_UNKNOWN) {
            if (!skip_special)
                ik_buf_append(out, t->piece[id], t->piece_len[id]);
            continue;
        }
        if (t->kind == IK_TOK_BYTE_BPE) {
            if (ty == SPM_USER)
                ik_buf_append(out, t->piece[id], t->piece_len[id]);
            else
                ik__tok_bpe_piece_bytes(t->piece[id], out);
            continue;
        }
        int byte = ty == SPM_BYTE ? ik__tok_byte_value(t->piece[id], t->piece_len[id]) : -1;
        if (byte >= 0) {
            ik_buf_putc(out, (char)byte);
            at_start = 0;
            continue;
        }
        const char *p = t->piece[id], *end = p + t->piece_len[id];
        while (p < end) {
            if (end - p >= 3 && memcmp(p, "\xe2\x96\x81", 3) == 0) { /* U+2581 stands for a space */
                if (!(at_start && t->add_dummy_prefix))
                    ik_buf_putc(out, ' ');
                p += 3;
            } else {
                ik_buf_putc(out, *p++);
            }
            at_start = 0;
        }
    }
    return 0;
}
