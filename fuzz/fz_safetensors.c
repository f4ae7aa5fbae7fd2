/* fuzz/fz_safetensors.c - safetensors files (lm/safetensors.h). An input of
 * one part is one .safetensors file; an input of several is a sharded model
 * folder: part 1 is model.safetensors.index.json, parts 2.. are the shards
 * a.safetensors, b.safetensors, c.safetensors (the names the index must use).
 * Every tensor that opens is then read as the loaders read it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "fuzz/fuzz_util.h"
#include "lm/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read at most this many bytes of converted floats per tensor. */
#define MAX_READ (64u << 20)

static void read_all(const struct ik_st *st)
{
    struct ik_diag d = IK_DIAG_INIT;
    for (size_t i = 0; i < ik_st_count(st); i++) {
        const struct ik_st_tensor *t = ik_st_at(st, i);
        ik_st_find(st, t->name);
        if (t->dtype == IK_ST_OTHER) {
            ik_st_read_f32(st, t->name, NULL, t->ndim, t->shape, &d); /* refused */
            fz_diag_done(&d);
            continue;
        }
        size_t count = t->nbytes / (t->dtype == IK_ST_F32 ? 4 : 2);
        if (count * sizeof(float) > MAX_READ)
            continue;
        float *dst = ik_xmalloc(count ? count * sizeof(float) : 1);
        ik_st_read_f32(st, t->name, dst, t->ndim, t->shape, &d);
        fz_diag_done(&d);
        /* a wrong shape, and a missing name (its "did you mean") */
        int64_t other[IK_ST_MAX_DIMS] = {1};
        ik_st_read_f32(st, t->name, dst, 1, other, &d);
        fz_diag_done(&d);
        free(dst);
    }
    ik_st_read_f32(st, "model.embed_tokens.weigth", NULL, 1, (const int64_t[]){1}, &d);
    fz_diag_done(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *file, *dir, *index, *shard[3];
    if (file == NULL) {
        file = fz_path("one.safetensors");
        dir = fz_path("sharded");
        struct ik_diag d = IK_DIAG_INIT;
        if (ik_mkdirs(dir, &d) != 0)
            abort();
        index = ik_xasprintf("%s/model.safetensors.index.json", dir);
        for (int i = 0; i < 3; i++)
            shard[i] = ik_xasprintf("%s/%c.safetensors", dir, 'a' + i);
    }
    struct fz_part part[4];
    size_t np = fz_split(data, size, part, 4);
    const char *open_path = file;
    if (np == 1) {
        fz_write(file, data, size);
    } else {
        fz_write(index, part[0].p, part[0].n);
        for (size_t i = 0; i < 3; i++)
            if (i + 1 < np)
                fz_write(shard[i], part[i + 1].p, part[i + 1].n);
            else
                unlink(shard[i]);
        open_path = dir;
    }
    struct ik_st *st = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_st_open(&st, open_path, &d) == 0) {
        read_all(st);
        ik_st_close(st);
    }
    fz_diag_done(&d);
    return 0;
}
