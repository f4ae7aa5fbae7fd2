/* kernels/cpu/attention_tiled.h - causal GQA attention and its backward as
 * 8-lane tiles on the kernels' thread pool, with no BLAS call: the
 * implementation behind ik_cpu_attention_fwd/_bwd (kernels/kernels.h) when
 * the heads are at most IK_ATT_TILE_HD wide and each KV head has at least
 * IK_VL query slots (attention.c chooses; the arguments are theirs).
 *
 * A KV head's query slots are its (position, query head) pairs, position
 * major; a tile is IK_VL consecutive slots, one per lane, which all read the
 * same keys and values. The forward runs an online softmax over blocks of
 * IK_VL keys (FlashAttention's rescaled running sum, in fp32), so no score
 * matrix is stored. The backward first redoes each query tile's forward for
 * its log-sum-exp and D = rowsum(dO * O), then forms dQ; a second pass runs
 * over tiles of IK_VL keys (one key per lane) and forms dK and dV from the
 * stored log-sum-exps and Ds. Every output element is written by one tile in
 * a fixed order, so results do not depend on the number of threads, and
 * each score is computed the same way in every pass. */
#ifndef IK_KERNELS_CPU_ATTENTION_TILED_H
#define IK_KERNELS_CPU_ATTENTION_TILED_H

/* The widest head the tiles hold: the tiles live on the stack, 4 of
 * IK_ATT_TILE_HD vectors each (64 KiB). */
enum { IK_ATT_TILE_HD = 256 };

void ik__att_tiled_fwd(float *out, const float *q, const float *kc, const float *vc, int T,
                       int pos0, int H, int K, int hd, int window);

/* scratch: 2 * H * T floats (each slot's log-sum-exp and D). */
void ik__att_tiled_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                       const float *k, const float *v, int T, int H, int K, int hd, int window,
                       float *scratch);

#endif
