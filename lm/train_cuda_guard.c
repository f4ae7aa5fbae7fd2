/* lm/train_cuda_guard.c - guard bytes between the CUDA trainer's buffers
 * (IK_LM_TRAIN_CUDA_GUARD, or IKADA_CUDA_GUARD=1): the trainer carves every
 * buffer out of one device allocation, so a kernel that writes past the end
 * of its buffer corrupts the next one silently, on a GPU and on the CUDA
 * emulator alike (the emulator checks accesses against allocations, not
 * against the buffers inside one). With guards each buffer is followed, from
 * its last byte on, by its alignment padding and IK_LM_CUDA_GUARD bytes more of
 * a known pattern, checked at the end of every
 * step and optimizer step: the first changed one fails the call, naming
 * where the layout took the buffer before it. For tests, and for a first
 * run on a new GPU; the arena grows by a guard per buffer. */
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "kernels/cuda/cuda_ops.h"
#include "lm/train_cuda.h"
#include "lm/train_cuda_int.h"

int ik_lm_cuda_guarded(int opts)
{
    const char *e = getenv("IKADA_CUDA_GUARD");
    return (opts & IK_LM_TRAIN_CUDA_GUARD) != 0 || (e != NULL && strcmp(e, "1") == 0);
}

void ik_lm_cuda_carve_guard(struct carve *c, const char *file, int line)
{
    size_t at = c->off; /* from the last byte of the buffer on: its alignment padding too */
    c->off = (at + IK_LM_CUDA_ALIGN - 1) / IK_LM_CUDA_ALIGN * IK_LM_CUDA_ALIGN + IK_LM_CUDA_GUARD;
    if (c->base == NULL)
        return;
    if (c->n_guards == c->cap_guards) {
        c->cap_guards = c->cap_guards ? 2 * c->cap_guards : 64;
        c->guards = ik_xrealloc(c->guards, c->cap_guards * sizeof *c->guards);
    }
    c->guards[c->n_guards++] = (struct ik_lm_cuda_guard){at, c->off - at, file, line};
}

void ik_lm_cuda_fill_guards(struct ik_lm_train_cuda *tr)
{
    for (size_t i = 0; i < tr->n_guards; i++)
        CK(tr, tr->ops->memset((char *)tr->mem + tr->guards[i].at, IK_LM_CUDA_GUARD_BYTE,
                               tr->guards[i].len));
}

void ik_lm_cuda_check_guards(struct ik_lm_train_cuda *tr)
{
    unsigned char got[IK_LM_CUDA_ALIGN + IK_LM_CUDA_GUARD];
    for (size_t i = 0; i < tr->n_guards && !tr->failed; i++) {
        const struct ik_lm_cuda_guard *g = &tr->guards[i];
        CK(tr, tr->ops->memcpy_dtoh(got, (char *)tr->mem + g->at, g->len));
        for (size_t k = 0; k < g->len && !tr->failed; k++) {
            if (got[k] == IK_LM_CUDA_GUARD_BYTE)
                continue;
            tr->failed = 1;
            ik_diag_set(tr->d, IK_ECUDA, "CUDA training: a kernel wrote past the end of the "
                        "device buffer taken at %s:%d (byte %zu after it is %#x, the guard's %#x)",
                        g->file, g->line, k, got[k], IK_LM_CUDA_GUARD_BYTE);
        }
    }
}
