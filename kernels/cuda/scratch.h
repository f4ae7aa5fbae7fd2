/* kernels/cuda/scratch.h - the bytes of scratch each scratch-taking entry of
 * the CUDA module needs, one formula per entry, in plain C (C and CUDA C++
 * alike, no CUDA types): the module's .cu files carve their scratch by
 * these, the CPU stand-in of the table (tests/cuda/cpu_ops*.c) reports the
 * same figures, and the CUDA trainer (lm/train_cuda*.c) sizes its arena by
 * them when it only estimates, with no module loaded. Each had had its own
 * copy, and one had drifted (the stand-in's cuDNN bucket). The module's own
 * attention's formula is attention_chunks.h's, beside the algorithm it
 * follows. Each part of a scratch starts on 256 bytes. */
#ifndef IK_KERNELS_CUDA_SCRATCH_H
#define IK_KERNELS_CUDA_SCRATCH_H

#include <stddef.h>

static inline size_t ik_scratch_up(size_t bytes)
{
    return (bytes + 255) / 256 * 256;
}

/* ---- cuDNN's fused attention (attention_cudnn.cu) ---- */

/* T padded to the length its graphs are built for: a multiple of 128, of
 * 256 past 1024, and so on (at most an eighth more rows), so a few graphs
 * serve every length. */
static inline long long ik_sdpa_bucket(int T)
{
    long long step = 128;
    while (step * 8 < T)
        step *= 2;
    return (T + step - 1) / step * step;
}

/* The scratch's parts for Tb = ik_sdpa_bucket(T) rows, in order: BF16 q, k,
 * v, o, dO, dq, dk, dv, then fp32 stats (H, Tb), row sums (H, Tb) and dQ's
 * accumulator (Tb, H hd). */
enum { IK_SDPA_PARTS = 11 };

static inline void ik_sdpa_part_bytes(int T, int H, int K, int hd, size_t bytes[IK_SDPA_PARTS])
{
    size_t Tb = (size_t)ik_sdpa_bucket(T), nq = Tb * (size_t)H * (size_t)hd;
    size_t nk = Tb * (size_t)K * (size_t)hd, nh = (size_t)H * Tb;
    size_t n[IK_SDPA_PARTS] = {nq, nk, nk, nq, nq, nq, nk, nk, nh, nh, nq};
    for (int i = 0; i < IK_SDPA_PARTS; i++)
        bytes[i] = n[i] * (i < 8 ? 2 : 4);
}

static inline size_t ik_sdpa_scratch_bytes(int T, int H, int K, int hd)
{
    size_t part[IK_SDPA_PARTS], sum = 0;
    ik_sdpa_part_bytes(T, H, K, hd, part);
    for (int i = 0; i < IK_SDPA_PARTS; i++)
        sum += ik_scratch_up(part[i]);
    return sum;
}

/* ---- the module's flash attention (attention_flash.cu) ---- */

/* One float per row and head: the backward's rowsum(dO o). */
static inline size_t ik_flash_scratch_bytes(int T, int H)
{
    return (size_t)(T > 0 ? T : 1) * (size_t)(H > 0 ? H : 1) * sizeof(float);
}

/* ---- the LoRA branch through its dropout (lora_dropout.cu) ---- */

/* Tokens per partial sum of ->lora_dA_dropout's dA. */
#define IK_LORA_DA_ROWS 128

/* A partial (r, In) sum of dA per IK_LORA_DA_ROWS tokens. */
static inline size_t ik_lora_dA_scratch_bytes(int T, int In, int r)
{
    size_t chunks = T > 0 ? ((size_t)T + IK_LORA_DA_ROWS - 1) / IK_LORA_DA_ROWS : 1;
    return chunks * (size_t)(r > 0 ? r : 1) * (size_t)(In > 0 ? In : 1) * sizeof(float);
}

/* ---- the selective scan's backward (ssm_scan.cu) ---- */

/* Warps (channels of one head) per block; steps per backward window (a
 * state is kept at each window's start); steps recomputed into shared
 * memory at a time: 8, or 2 past 128 states (8 steps of 256 states would
 * not fit 48 KB). */
#define IK_SSM_ROWS 8
#define IK_SSM_WINDOW 64
#define IK_SSM_SUB_STEPS(N) ((N) <= 128 ? 8 : 2)

/* The parts, in floats (the counts' ints as floats), in order: the state at
 * every window's start (T/64, nh P, N), the carried gradient (nh P, N), a
 * window's per-block partial dB and dC (64, nh, P/8, 2, N), its ddt terms
 * (64, nh P), its per-head sums (64, nh, 2, N), a count per head, and the
 * state before every sub-window of a window (nh P, 64/sub, N). */
enum { IK_SSM_BWD_PARTS = 7 };

static inline void ik_ssm_bwd_part_floats(int T, int nh, int P, int N, size_t n[IK_SSM_BWD_PARTS])
{
    T = T > 0 ? T : 1, nh = nh > 0 ? nh : 1, P = P > 0 ? P : 1, N = N > 0 ? N : 1;
    size_t rows = (size_t)nh * (size_t)P, Nz = (size_t)N, W = IK_SSM_WINDOW;
    size_t windows = ((size_t)T + W - 1) / W, tiles = ((size_t)P + IK_SSM_ROWS - 1) / IK_SSM_ROWS;
    n[0] = windows * rows * Nz;
    n[1] = rows * Nz;
    n[2] = W * (size_t)nh * tiles * 2 * Nz;
    n[3] = W * rows;
    n[4] = W * (size_t)nh * 2 * Nz;
    n[5] = (size_t)nh;
    n[6] = rows * (W / IK_SSM_SUB_STEPS(N)) * Nz;
}

static inline size_t ik_ssm_bwd_scratch_bytes(int T, int nh, int P, int N)
{
    size_t n[IK_SSM_BWD_PARTS], sum = 0;
    ik_ssm_bwd_part_floats(T, nh, P, N, n);
    for (int i = 0; i < IK_SSM_BWD_PARTS; i++)
        sum += ik_scratch_up(n[i] * 4);
    return sum;
}

#endif
