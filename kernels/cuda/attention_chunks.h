/* kernels/cuda/attention_chunks.h - the order of work of the module's own
 * attention (attention.cu): which strided-batched products and row kernels
 * it runs, over which rows and keys, with which strides. Free of CUDA (plain
 * C and C++), so the same algorithm runs on the CPU with exact products in
 * place of cuBLAS (tests/cuda/test_attention_chunks.c, in every build):
 * its indexing is tested without a GPU, and attention.cu keeps only the
 * kernels and the cuBLAS call.
 *
 * The scores of every KV head are formed at once: for each g < H/K the
 * query heads kh*(H/K) + g of all KV heads kh are one batch of K (their
 * columns in q lie (H/K)*hd apart, their KV heads' hd apart), so no K or V
 * is copied per query head. Each batch's query rows are taken in chunks,
 * each over the keys its last row sees: rows [r0, r0 + R) need keys
 * [0, r0 + R) at most, so most of the masked half of the scores is never
 * formed (~56% of the full square's products in 8 chunks). With
 * P = softmax(S), S = scale Q K^T, O = P V the backward is dV += P^T dO,
 * dP = dO V^T, dS = P (dP - rowsum(P dP)), dQ += scale dS K,
 * dK += scale dS^T Q; the work runs in order, so the += of the query heads
 * that share a KV head never race. */
#ifndef IK_KERNELS_CUDA_ATTENTION_CHUNKS_H
#define IK_KERNELS_CUDA_ATTENTION_CHUNKS_H

#include <math.h>
#include <stddef.h>

/* What the algorithm runs; each returns 0 or -1 (the error already said). */
struct ik_att_ops {
    /* batch row-major products C_i = alpha op(A_i) op(B_i) + beta C_i,
     * A_i = A + i sa, B_i = B + i sb, C_i = C + i sc (cuda_ops.h's ->gemm
     * conventions per product) */
    int (*gemm)(void *ctx, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                int lda, long long sa, const float *B, int ldb, long long sb, float beta, float *C,
                int ldc, long long sc, int batch);
    /* rows rows of Tk scores (row r at P + r Tk, position r0 + r % R) to
     * their causal (and windowed) softmax, 0 past what each sees */
    int (*softmax)(void *ctx, float *P, int rows, int R, int r0, int Tk, int window);
    /* the same rows of dP (in G) to dS = P (dP - rowsum(P dP)), 0 elsewhere */
    int (*softmax_grad)(void *ctx, float *G, const float *P, int rows, int R, int r0, int Tk,
                        int window);
    void *ctx;
};

/* Query rows per chunk: an eighth of T, a multiple of 64, at least 64. */
static inline int ik_att_chunk_rows(int T)
{
    int R = (T + 7) / 8;
    R = (R + 63) / 64 * 64;
    return R < 64 ? 64 : R;
}

/* The floats one chunk's scores take at most: K batches of R rows over at
 * most T keys (the last chunk's). */
static inline size_t ik_att_chunk_floats(int T, int K)
{
    int R = ik_att_chunk_rows(T);
    return (size_t)K * (size_t)(R < T ? R : T) * (size_t)(T > 0 ? T : 0);
}

/* The scratch ik_att_fwd (P) and ik_att_bwd (P and dP/dS) need, in floats:
 * two chunks' scores, 2 K T^2 / 8 and not the whole square's 2 K T^2 (1 GiB
 * less for an 8B Llama at 4096 tokens). */
static inline size_t ik_att_scratch_floats(int T, int K)
{
    return 2 * ik_att_chunk_floats(T, K);
}

/* Rows [r0, r0 + R) of batch g (query heads kh*G + g), over keys [0, Tk). */
struct ik_att_chunk {
    int g, r0, R, Tk;
};

static inline struct ik_att_chunk ik_att_chunk_at(int T, int g, int r0)
{
    struct ik_att_chunk c;
    int R = ik_att_chunk_rows(T);
    c.g = g;
    c.r0 = r0;
    c.R = T - r0 < R ? T - r0 : R;
    c.Tk = r0 + c.R;
    return c;
}

/* The chunk's probabilities P (K batches of R x Tk, compact) from q and k. */
static inline int ik_att_probs(const struct ik_att_ops *o, float *P, const float *q, const float *k,
                               int H, int K, int hd, int window, const struct ik_att_chunk *c)
{
    int G = H / K, qw = H * hd, kw = K * hd;
    float scale = 1.0f / sqrtf((float)hd);
    const float *qc = q + (size_t)c->r0 * qw + (size_t)c->g * hd;
    if (o->gemm(o->ctx, 0, 1, c->R, c->Tk, hd, scale, qc, qw, (long long)G * hd, k, kw, hd, 0.0f,
                P, c->Tk, (long long)c->R * c->Tk, K))
        return -1;
    return o->softmax(o->ctx, P, K * c->R, c->R, c->r0, c->Tk, window);
}

/* out (T, H*hd) = causal GQA attention; P: room for ik_att_chunk_floats(T, K). */
static inline int ik_att_fwd(const struct ik_att_ops *o, float *out, const float *q, const float *k,
                             const float *v, int T, int H, int K, int hd, int window, float *P)
{
    int G = H / K, qw = H * hd, kw = K * hd;
    for (int g = 0; g < G; g++)
        for (int r0 = 0; r0 < T; r0 += ik_att_chunk_rows(T)) {
            struct ik_att_chunk c = ik_att_chunk_at(T, g, r0);
            float *oc = out + (size_t)r0 * qw + (size_t)g * hd;
            if (ik_att_probs(o, P, q, k, H, K, hd, window, &c) ||
                o->gemm(o->ctx, 0, 0, c.R, hd, c.Tk, 1.0f, P, c.Tk, (long long)c.R * c.Tk, v, kw,
                        hd, 0.0f, oc, qw, (long long)G * hd, K))
                return -1;
        }
    return 0;
}

/* One chunk's backward: its shares of dV, dQ and dK (+=); P and D scratch. */
static inline int ik_att_chunk_bwd(const struct ik_att_ops *o, float *dq, float *dk, float *dv,
                                   const float *dout, const float *q, const float *k,
                                   const float *v, int H, int K, int hd, int window,
                                   const struct ik_att_chunk *c, float *P, float *D)
{
    int G = H / K, qw = H * hd, kw = K * hd, R = c->R, Tk = c->Tk;
    float scale = 1.0f / sqrtf((float)hd);
    long long sq = (long long)G * hd, ss = (long long)R * Tk;
    size_t at = (size_t)c->r0 * qw + (size_t)c->g * hd; /* the chunk's first row, head g */
    const float *qc = q + at, *doc = dout + at;
    if (ik_att_probs(o, P, q, k, H, K, hd, window, c) ||
        o->gemm(o->ctx, 1, 0, Tk, hd, R, 1.0f, P, Tk, ss, doc, qw, sq, 1.0f, dv, kw, hd, K) ||
        o->gemm(o->ctx, 0, 1, R, Tk, hd, 1.0f, doc, qw, sq, v, kw, hd, 0.0f, D, Tk, ss, K) ||
        o->softmax_grad(o->ctx, D, P, K * R, R, c->r0, Tk, window) ||
        o->gemm(o->ctx, 0, 0, R, hd, Tk, scale, D, Tk, ss, k, kw, hd, 1.0f, dq + at, qw, sq, K) ||
        o->gemm(o->ctx, 1, 0, Tk, hd, R, scale, D, Tk, ss, qc, qw, sq, 1.0f, dk, kw, hd, K))
        return -1;
    return 0;
}

/* dq, dk, dv += the gradients; scratch: room for ik_att_scratch_floats(T, K). */
static inline int ik_att_bwd(const struct ik_att_ops *o, float *dq, float *dk, float *dv,
                             const float *dout, const float *q, const float *k, const float *v,
                             int T, int H, int K, int hd, int window, float *scratch)
{
    float *P = scratch, *D = scratch + ik_att_chunk_floats(T, K);
    for (int g = 0; g < H / K; g++)
        for (int r0 = 0; r0 < T; r0 += ik_att_chunk_rows(T)) {
            struct ik_att_chunk c = ik_att_chunk_at(T, g, r0);
            if (ik_att_chunk_bwd(o, dq, dk, dv, dout, q, k, v, H, K, hd, window, &c, P, D))
                return -1;
        }
    return 0;
}

#endif
