/* lm/arena.h - buffers carved out of one allocation of floats, laid out by a
 * function that runs twice: first with base NULL, only counting (so the
 * allocation is made once, of the exact size), then with the allocation,
 * handing out the same offsets. The model's weights (lm/model.c) and the
 * trainers' activations (lm/train.c, lm/train_mamba.c) are laid out so. */
#ifndef IK_LM_ARENA_H
#define IK_LM_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* Hands out n floats of the arena at *off (NULL while only counting); the
 * count saturates at SIZE_MAX instead of wrapping, so a size too large for
 * memory fails its allocation instead of making a small one. */
static inline float *ik_lm_arena_take(float *base, size_t *off, size_t n)
{
    float *p = base ? base + *off : NULL;
    *off = n > SIZE_MAX - *off ? SIZE_MAX : *off + n;
    return p;
}

#endif
