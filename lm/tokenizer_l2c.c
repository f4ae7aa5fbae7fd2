/* lm/tokenizer_l2c.c - llama2.c's `tokenizer.bin` (tokenizer.py's
 * export of a SentencePiece BPE model) as a SentencePiece BPE tokenizer:
 * u32 max_token_length, then per piece f32 score, u32 length, bytes; the
 * vocabulary size is not stored, so the pieces run to the end of the file.
 * The export replaced U+2581 by ' ' and spelled BOS/EOS "\n<s>\n"/"\n</s>\n";
 * both are undone. llama2.c's run.c fixes ids 0, 1, 2 as <unk>, BOS, EOS and
 * encodes with a dummy prefix, no whitespace folding and byte fallback (the
 * <0xXX> pieces), which is what the flags below select. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/tokenizer_int.h"

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The piece as SentencePiece spells it: ' ' back to U+2581, BOS/EOS unwrapped. */
static void spm_spelling(struct ik_buf *b, int id, const char *s, size_t len)
{
    ik_buf_reset(b);
    if (id == 1 || id == 2) {
        ik_buf_puts(b, id == 1 ? "<s>" : "</s>");
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ')
            ik_buf_puts(b, "\xe2\x96\x81");
        else
            ik_buf_putc(b, s[i]);
    }
}

int ik__tok_l2c_load(struct ik_tok *t, const char *path, struct ik_diag *d)
{
    unsigned char *data;
    size_t n;
    int rc = ik__tok_read_file(path, &data, &n, IK_EPARSE, ": the file is empty", d);
    if (rc != 0)
        return rc;
    struct ik_srcloc loc = {path, 0, 0};
    size_t off = 4, cap = 0;
    uint32_t max_len = n >= 4 ? le32(data) : 0;
    if (n < 4 || max_len == 0 || max_len > 4096)
        rc = ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "offset 0: max_token_length %u is not that of "
                        "a llama2.c tokenizer.bin (expected 1 to 4096)", (unsigned)max_len);
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = -1;
    struct ik_buf b = IK_BUF_INIT;
    for (int id = 0; rc == 0 && off < n; id++) {
        if (n - off < 8) {
            rc = ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "offset %zu: piece %d is truncated (the "
                            "file ends inside its score and length)", off, id);
            break;
        }
        float score;
        memcpy(&score, data + off, 4);
        uint32_t len = le32(data + off + 4);
        if (len > max_len || len > n - off - 8) {
            rc = ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "offset %zu: piece %d has length %u, "
                            "expected at most %u and within the file's %zu bytes", off + 4, id,
                            (unsigned)len, (unsigned)max_len, n);
            break;
        }
        const char *s = (const char *)data + off + 8;
        off += 8 + (size_t)len;
        spm_spelling(&b, id, s, len);
        int byte = ik__tok_byte_value(s, len);
        int type = id == 0 ? SPM_UNKNOWN : id <= 2 ? SPM_CONTROL : byte >= 0 ? SPM_BYTE : SPM_NORMAL;
        const char *sp = b.len ? b.data : "";
        int at = ik__tok_add_piece(t, sp, b.len, score, type, &cap);
        if (type == SPM_NORMAL)
            ik_strmap_put(&t->ids, sp, b.len, at);
        if (byte >= 0)
            t->byte_id[byte] = at;
    }
    ik_buf_free(&b);
    free(data);
    if (rc == 0 && t->n < 3)
        rc = ik_diag_at(d, IK_EPARSE, &loc, NULL, 0, "offset %zu: only %d pieces; a llama2.c "
                        "tokenizer.bin has at least <unk>, <s> and </s>", n, t->n);
    if (rc != 0)
        return rc;
    t->kind = IK_TOK_SPM_BPE;
    t->unk = 0, t->bos = 1, t->eos = 2;
    t->byte_fallback = 1;
    t->add_dummy_prefix = 1;
    t->remove_extra_ws = 0;
    t->escape_ws = 1;
    return ik__tok_spm_finish(t, path, d);
}
