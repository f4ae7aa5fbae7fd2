/* kernels/cpu/attention_tiled.c - the tiled attention of attention_tiled.h.
 * A tile is an array of hd vectors: vector e holds element e of each lane's
 * row (a transposed block of rows). Scores of IK_VL query lanes against a
 * block of IK_VL keys are (sum_e q[e] * k_j[e]) / sqrt(hd), fused
 * multiply-adds over e in ascending order, the same bits in every pass; keys
 * past the last visible one get score -inf, hence probability 0. The loops
 * use fmaf (simd.h's FMA builds), so attention.c sends CPUs without FMA to
 * the sgemm implementation. Items of the
 * parallel loops are (KV head, tile) pairs, taken in a zig-zag order so that
 * any contiguous range of them mixes early (cheap) and late (dear) tiles of
 * the causal triangle. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels/cpu/attention_tiled.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

enum { KB = IK_VL }; /* keys per block */

union tile {
    ik_vf v[IK_ATT_TILE_HD];
    float f[IK_ATT_TILE_HD][IK_VL];
};

struct att {
    const float *q, *k, *v, *dout;
    float *out, *dq, *dk, *dv;
    float *lse, *dd; /* (K, T*group): each slot's log-sum-exp and rowsum(dO * O) */
    int T, pos0, H, K, hd, window, group;
    size_t ntiles; /* tiles per KV head */
    float scale;
};

/* Item i's KV head and tile (in the zig-zag order). */
static void item(const struct att *a, size_t i, int *kh, int *tile)
{
    size_t n = a->ntiles, j = i % n;
    *kh = (int)(i / n);
    *tile = (int)(j % 2 ? n - 1 - j / 2 : j / 2);
}

/* A tile of query slots s0..s0+n-1 of KV head kh. */
struct qtile {
    int n, s0, p_first, p_last; /* lanes, first slot, positions of lanes 0 and n-1 */
    ik_vi pos;                  /* each lane's position; -1 past n (sees no key) */
    size_t off[IK_VL];          /* each lane's row in q, out, dq, dout; past n, lane n-1's */
};

IK_VINLINE void qtile_init(struct qtile *t, const struct att *a, int kh, int tile)
{
    int ns = a->T * a->group;
    int32_t pos[IK_VL];
    t->s0 = tile * IK_VL;
    t->n = ns - t->s0 < IK_VL ? ns - t->s0 : IK_VL;
    for (int i = 0; i < IK_VL; i++) {
        int s = t->s0 + (i < t->n ? i : t->n - 1), tt = s / a->group;
        pos[i] = i < t->n ? a->pos0 + tt : -1;
        t->off[i] = (size_t)tt * a->H * a->hd + (size_t)(kh * a->group + s % a->group) * a->hd;
    }
    memcpy(&t->pos, pos, sizeof pos);
    t->p_first = a->pos0 + t->s0 / a->group;
    t->p_last = a->pos0 + (t->s0 + t->n - 1) / a->group;
}

/* X[e] lane i = src[off[i] + e] * mul, for lanes < n (the others repeat lane n-1). */
IK_VINLINE void load_t(union tile *X, const float *src, const size_t *off, int hd, float mul)
{
    for (int i = 0; i < IK_VL; i++)
        for (int e = 0; e < hd; e++)
            X->f[e][i] = src[off[i] + e] * mul;
}

/* dst[off[i] + e] += X[e] lane i * mul for lanes < n. */
IK_VINLINE void add_t(float *dst, const union tile *X, const size_t *off, int n, int hd, float mul)
{
    for (int i = 0; i < n; i++)
        for (int e = 0; e < hd; e++)
            dst[off[i] + e] += X->f[e][i] * mul;
}

/* Rows are taken HALF at a time in the two loops below: 8 sums in flight keep
 * both FMA pipes busy, and 8 row pointers fit in registers where 16 did not. */
enum { HALF = KB / 2 };

/* S[kk] = sum_e X[e] * row[kk][e] (fused multiply-adds, e ascending) for the
 * KB rows of a block, times mul. */
IK_VINLINE void dots(ik_vf *S, const ik_vf *X, const float *const *row, int hd, float mul)
{
    for (int h = 0; h < KB; h += HALF) {
        ik_vf s[HALF];
        const float *r[HALF];
        for (int kk = 0; kk < HALF; kk++) {
            s[kk] = (ik_vf){0};
            r[kk] = row[h + kk];
        }
        for (int e = 0; e < hd; e++) {
            ik_vf x = X[e];
#pragma GCC unroll 8
            for (int kk = 0; kk < HALF; kk++)
                ik_vfmas(&s[kk], &x, r[kk][e]);
        }
        for (int kk = 0; kk < HALF; kk++)
            S[h + kk] = s[kk] * mul;
    }
}

/* acc[e] = acc[e] * scale + sum_kk W[kk] * row[kk][e], kk ascending. */
IK_VINLINE void axpys(ik_vf *acc, const ik_vf *scale, const ik_vf *W, const float *const *row, int hd)
{
    for (int h = 0; h < KB; h += HALF) {
        const float *r[HALF];
        ik_vf w[HALF];
        for (int kk = 0; kk < HALF; kk++) {
            r[kk] = row[h + kk];
            w[kk] = W[h + kk];
        }
        for (int e = 0; e < hd; e++) {
            ik_vf s = scale && h == 0 ? acc[e] * *scale : acc[e];
#pragma GCC unroll 8
            for (int kk = 0; kk < HALF; kk++)
                ik_vfmas(&s, &w[kk], r[kk][e]);
            acc[e] = s;
        }
    }
}

/* The rows of keys j0..j0+KB-1 of KV head kh (past jhi: jhi's, masked by the caller). */
IK_VINLINE void block_rows(const float **kr, const float **vr, const struct att *a, int kh, int j0,
                           int jhi)
{
    size_t kw = (size_t)a->K * a->hd;
    for (int kk = 0; kk < KB; kk++) {
        size_t j = (size_t)(j0 + kk <= jhi ? j0 + kk : jhi);
        kr[kk] = a->k + j * kw + (size_t)kh * a->hd;
        vr[kk] = a->v + j * kw + (size_t)kh * a->hd;
    }
}

/* Scores of query tile Q against the block at j0, -inf where not visible. */
IK_VINLINE void block_scores(ik_vf *S, const ik_vf *Q, const float *const *kr, const struct qtile *t,
                             int j0, const struct att *a)
{
    int window = a->window;
    dots(S, Q, kr, a->hd, a->scale);
    for (int kk = 0; kk < KB; kk++) {
        ik_vi vis = t->pos >= j0 + kk;
        if (window > 0)
            vis = vis & (t->pos - (j0 + kk) < window);
        S[kk] = IK_VSEL(vis, S[kk], (ik_vf){0} - __builtin_inff());
    }
}

static int first_key(const struct qtile *t, int window)
{
    return window > 0 && t->p_first - window + 1 > 0 ? t->p_first - window + 1 : 0;
}

/* Query tile Q's unnormalised output O (sum_j exp(s_j - m) v_j), running
 * max m and sum l = sum_j exp(s_j - m). */
IK_VINLINE void fwd_tile(union tile *O, ik_vf *m, ik_vf *l, const union tile *Q, const struct qtile *t,
                         const struct att *a, int kh)
{
    int hd = a->hd;
    ik_vf ninf = (ik_vf){0} - __builtin_inff(), zero = {0};
    for (int e = 0; e < hd; e++)
        O->v[e] = zero;
    *m = ninf;
    *l = zero;
    for (int j0 = first_key(t, a->window); j0 <= t->p_last; j0 += KB) {
        const float *kr[KB], *vr[KB];
        ik_vf S[KB];
        block_rows(kr, vr, a, kh, j0, t->p_last);
        block_scores(S, Q->v, kr, t, j0, a);
        ik_vf mn = *m;
        for (int kk = 0; kk < KB; kk++)
            mn = IK_VSEL(S[kk] > mn, S[kk], mn);
        /* Lanes that have seen no visible key yet subtract 0, not -inf. */
        ik_vf ms = IK_VSEL(mn == ninf, zero, mn), alpha = *m - ms, sum = zero;
        ik_vexp(&alpha);
        for (int kk = 0; kk < KB; kk++) {
            S[kk] = S[kk] - ms;
            ik_vexp(&S[kk]);
            sum = sum + S[kk];
        }
        *l = *l * alpha + sum;
        axpys(O->v, &alpha, S, vr, hd);
        *m = mn;
    }
}

static size_t tiles_of(int n) { return ((size_t)n + IK_VL - 1) / IK_VL; }

IK_VINLINE void fwd_body(void *ctx, size_t lo, size_t hi)
{
    const struct att *a = ctx;
    union tile Q, O;
    for (size_t i = lo; i < hi; i++) {
        int kh, tile;
        struct qtile t;
        ik_vf m, l;
        item(a, i, &kh, &tile);
        qtile_init(&t, a, kh, tile);
        load_t(&Q, a->q, t.off, a->hd, 1.0f);
        fwd_tile(&O, &m, &l, &Q, &t, a, kh);
        for (int e = 0; e < a->hd; e++)
            O.v[e] = O.v[e] / l;
        for (int ln = 0; ln < t.n; ln++)
            for (int e = 0; e < a->hd; e++)
                a->out[t.off[ln] + e] = O.f[e][ln];
    }
}
IK_SIMD_FMA_RANGE_FN(fwd)

void ik__att_tiled_fwd(float *out, const float *q, const float *kc, const float *vc, int T,
                       int pos0, int H, int K, int hd, int window)
{
    struct att a = {q, kc, vc, NULL, out, NULL, NULL, NULL, NULL, NULL, T, pos0, H, K, hd, window,
                    H / K, tiles_of(T * (H / K)), 1.0f / sqrtf((float)hd)};
    size_t keys = (size_t)pos0 + (size_t)T / 2;
    ik_cpu_parallel_for((size_t)K * a.ntiles, (size_t)T * H * keys * hd * 4, fwd, &a);
}

/* Backward pass 1, per query tile: the forward again for its log-sum-exp
 * and O, D = rowsum(dO * O), then dQ = scale * sum_j dS_j k_j with
 * dS_j = P_j (dP_j - D), P_j = exp(s_j - lse), dP_j = dO . v_j. */
IK_VINLINE void bwd_q_body(void *ctx, size_t lo, size_t hi)
{
    const struct att *a = ctx;
    int hd = a->hd;
    union tile Q, O, dO, dQ;
    for (size_t i = lo; i < hi; i++) {
        int kh, tile;
        struct qtile t;
        ik_vf m, l, D = {0};
        item(a, i, &kh, &tile);
        qtile_init(&t, a, kh, tile);
        load_t(&Q, a->q, t.off, hd, 1.0f);
        load_t(&dO, a->dout, t.off, hd, 1.0f);
        fwd_tile(&O, &m, &l, &Q, &t, a, kh);
        for (int e = 0; e < hd; e++) {
            O.v[e] = O.v[e] / l;
            ik_vfma(&D, &dO.v[e], &O.v[e]);
        }
        float mf[IK_VL], lf[IK_VL], lsef[IK_VL];
        memcpy(mf, &m, sizeof mf);
        memcpy(lf, &l, sizeof lf);
        for (int ln = 0; ln < IK_VL; ln++)
            lsef[ln] = ln < t.n ? mf[ln] + logf(lf[ln]) : __builtin_inff(); /* dead lanes: P = 0 */
        ik_vf lse;
        memcpy(&lse, lsef, sizeof lse);
        size_t slot = (size_t)kh * a->T * a->group + (size_t)t.s0;
        ik_vstore(a->lse + slot, &lse, t.n);
        ik_vstore(a->dd + slot, &D, t.n);
        for (int e = 0; e < hd; e++)
            dQ.v[e] = (ik_vf){0};
        for (int j0 = first_key(&t, a->window); j0 <= t.p_last; j0 += KB) {
            const float *kr[KB], *vr[KB];
            ik_vf P[KB], dS[KB];
            block_rows(kr, vr, a, kh, j0, t.p_last);
            block_scores(P, Q.v, kr, &t, j0, a);
            dots(dS, dO.v, vr, hd, 1.0f);
            for (int kk = 0; kk < KB; kk++) {
                P[kk] = P[kk] - lse; /* -inf where not visible: lse is finite, or +inf */
                ik_vexp(&P[kk]);
                dS[kk] = P[kk] * (dS[kk] - D);
            }
            axpys(dQ.v, NULL, dS, kr, hd);
        }
        add_t(a->dq, &dQ, t.off, t.n, hd, a->scale);
    }
}
IK_SIMD_FMA_RANGE_FN(bwd_q)

/* One query slot as pass 2 reads it. */
struct slot {
    const float *q, *dout;
    float lse, d;
    int pos, live;
};

/* Slot (position tt, head g of the group) of KV head kh; live 0: padding,
 * which reads that slot's rows and is masked out. */
IK_VINLINE void slot_at(struct slot *u, const struct att *a, int kh, int tt, int g, int live)
{
    size_t off = (size_t)tt * a->H * a->hd + (size_t)(kh * a->group + g) * a->hd;
    size_t at = (size_t)kh * a->T * a->group + (size_t)tt * a->group + (size_t)g;
    u->q = a->q + off;
    u->dout = a->dout + off;
    u->lse = a->lse[at];
    u->d = a->dd[at];
    u->pos = tt;
    u->live = live;
}

enum { SLOTS = 4 }; /* slots at once in pass 2: independent sums in flight */

/* Backward pass 2, per tile of IK_VL keys (lane = key): over every query
 * slot that sees one of them, in slot order, dK += dS * q (times scale at
 * the end) and dV += P * dO. */
IK_VINLINE void bwd_kv_body(void *ctx, size_t lo, size_t hi)
{
    const struct att *a = ctx;
    int hd = a->hd, kw = a->K * hd;
    union tile Kt, Vt, dK, dV;
    for (size_t i = lo; i < hi; i++) {
        int kh, tile;
        item(a, i, &kh, &tile);
        int j0 = tile * IK_VL, nj = a->T - j0 < IK_VL ? a->T - j0 : IK_VL;
        size_t off[IK_VL];
        int32_t jp[IK_VL];
        for (int ln = 0; ln < IK_VL; ln++) {
            off[ln] = (size_t)(j0 + (ln < nj ? ln : nj - 1)) * kw + (size_t)kh * hd;
            jp[ln] = ln < nj ? j0 + ln : a->T; /* past nj: a key no query sees */
        }
        ik_vi jpos;
        memcpy(&jpos, jp, sizeof jpos);
        load_t(&Kt, a->k, off, hd, 1.0f);
        load_t(&Vt, a->v, off, hd, 1.0f);
        for (int e = 0; e < hd; e++)
            dK.v[e] = dV.v[e] = (ik_vf){0};
        int t_end = a->window > 0 && j0 + nj - 1 + a->window < a->T ? j0 + nj - 1 + a->window : a->T;
        int s_end = t_end * a->group;
        int tt = j0, g = 0; /* the next slot's position and head */
        for (int s = j0 * a->group; s < s_end; s += SLOTS) {
            struct slot u[SLOTS];
            ik_vf sc[SLOTS], dp[SLOTS], P[SLOTS], dS[SLOTS];
            for (int k = 0; k < SLOTS; k++) {
                if (s + k < s_end) {
                    slot_at(&u[k], a, kh, tt, g, 1);
                } else { /* padding; k >= 1, as s < s_end */
                    u[k] = u[k - 1];
                    u[k].live = 0;
                }
                if (++g == a->group) {
                    g = 0;
                    tt++;
                }
                sc[k] = dp[k] = (ik_vf){0};
            }
            for (int e = 0; e < hd; e++) {
                ik_vf kv = Kt.v[e], vv = Vt.v[e];
#pragma GCC unroll 4
                for (int k = 0; k < SLOTS; k++) {
                    ik_vfmas(&sc[k], &kv, u[k].q[e]);
                    ik_vfmas(&dp[k], &vv, u[k].dout[e]);
                }
            }
            for (int k = 0; k < SLOTS; k++) {
                sc[k] = sc[k] * a->scale;
                ik_vi vis = (jpos <= u[k].pos) & (u[k].live ? -1 : 0);
                if (a->window > 0)
                    vis = vis & (u[k].pos - jpos < a->window);
                P[k] = sc[k] - u[k].lse;
                ik_vexp(&P[k]);
                P[k] = IK_VSEL(vis, P[k], (ik_vf){0});
                dS[k] = P[k] * (dp[k] - u[k].d);
            }
            for (int e = 0; e < hd; e++) {
                ik_vf gk = dK.v[e], gv = dV.v[e];
#pragma GCC unroll 4
                for (int k = 0; k < SLOTS; k++) {
                    ik_vfmas(&gk, &dS[k], u[k].q[e]);
                    ik_vfmas(&gv, &P[k], u[k].dout[e]);
                }
                dK.v[e] = gk;
                dV.v[e] = gv;
            }
        }
        add_t(a->dk, &dK, off, nj, hd, a->scale);
        add_t(a->dv, &dV, off, nj, hd, 1.0f);
    }
}
IK_SIMD_FMA_RANGE_FN(bwd_kv)

void ik__att_tiled_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                       const float *k, const float *v, int T, int H, int K, int hd, int window,
                       float *scratch)
{
    struct att a = {q, k, v, dout, NULL, dq, dk, dv, scratch, scratch + (size_t)H * T, T, 0, H, K, hd,
                    window, H / K, tiles_of(T * (H / K)), 1.0f / sqrtf((float)hd)};
    size_t work = (size_t)T * H * (size_t)(T / 2) * hd * 8;
    ik_cpu_parallel_for((size_t)K * a.ntiles, work, bwd_q, &a);
    a.ntiles = tiles_of(T);
    ik_cpu_parallel_for((size_t)K * a.ntiles, work, bwd_kv, &a);
}
