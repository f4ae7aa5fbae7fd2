/* kernels/cpu/attention_gemm.h - the backward of causal GQA attention as
 * single-threaded sgemm products on blocks of the score matrix, run in
 * parallel on the kernels' pool: the implementation behind
 * ik_cpu_attention_bwd (kernels/kernels.h) when a KV head's scores fit the
 * scratch (attention.c chooses; the arguments are theirs).
 *
 * A KV head's query slots are its (position, query head) pairs, position
 * major, so the H/K query heads of a group share every product with that
 * head's keys. Pass 1 takes blocks of IK_ATT_GEMM_BLOCK positions: their
 * scores S = Q K^T and dP = dO V^T against the keys they can see (the blocks
 * above the causal diagonal are skipped), the softmax P and dS = P (dP -
 * rowsum(P dP)) row by row, both kept in the scratch, and dQ = dS K. Pass 2
 * takes blocks of as many keys: dK = dS^T Q and dV = P^T dO over every slot
 * that sees them, one product each. Each output element is written by one
 * block's product, whose shape alone decides its order of operations, so
 * results do not depend on the number of threads. */
#ifndef IK_KERNELS_CPU_ATTENTION_GEMM_H
#define IK_KERNELS_CPU_ATTENTION_GEMM_H

#include <stddef.h>

/* Positions per block of pass 1 and keys per block of pass 2. */
enum { IK_ATT_GEMM_BLOCK = 64 };

/* The floats of scratch ik__att_gemm_bwd needs for T positions, or 0 when
 * one KV head's P and dS (2 x T*H/K x T floats) would pass
 * IK_ATT_GEMM_MAX_FLOATS (64 MiB) and it cannot run. */
#define IK_ATT_GEMM_MAX_FLOATS ((size_t)1 << 24)
size_t ik__att_gemm_bwd_floats(int T, int H, int K, int hd);

/* ik_cpu_attention_bwd takes these blocks for heads at least this wide (and
 * the tiles below): products with so short a reduction ran slower than the
 * tiles, at hd 16 by a third, at 32 even; at 64 the blocks took 30 % less
 * time, at 128 45 % less (one thread, T = 511). */
enum { IK_ATT_GEMM_MIN_HD = 32 };

/* 0 for heads under IK_ATT_GEMM_MIN_HD, else at least
 * ik__att_gemm_bwd_floats(T', ...) for any T' <= T: what a caller allocates
 * once for sequences of up to T positions. */
size_t ik__att_gemm_bwd_floats_upto(int T, int H, int K, int hd);

/* scratch: ik__att_gemm_bwd_floats(T, H, K, hd) floats, or where that is 0,
 * one KV head's 2 x T*H/K x T + 3 x T*H/K x hd (run one head at a time). */
void ik__att_gemm_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                      const float *k, const float *v, int T, int H, int K, int hd, int window,
                      float *scratch);

/* The forward of a whole sequence (ik_cpu_attention_fwd with pos0 = 0, the
 * cache being k and v) on the same blocks: per block of positions of a KV
 * head, S = Q K^T and O = P V as single-threaded sgemm products, the softmax
 * row by row between them. scratch: as ik__att_gemm_bwd's (it uses part). */
void ik__att_gemm_fwd(float *out, const float *q, const float *k, const float *v, int T, int H,
                      int K, int hd, int window, float *scratch);

#endif
