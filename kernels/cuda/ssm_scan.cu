/* kernels/cuda/ssm_scan.cu - Mamba-2's selective scan on the device, forward
 * and backward (cuda_ops.h: ->ssm_scan_fwd, ->ssm_scan_bwd), as
 * ik_cpu_ssm_scan_fwd and ik_cpu_ssm_scan_bwd (kernels/kernels.h).
 *
 * Each (head h, channel p) row of the state is a recurrence of its own over
 * time: S[n] = S[n] exp(dt A) + dt x B[n] for the N states n. A warp owns a
 * row, its lanes the states (NL = N/32 a lane, rounded up), and walks the
 * sequence a step at a time; the read-out y = sum_n S[n] C[n] is a warp sum.
 * ROWS warps a block share a head, so they read the same dt, B and C rows.
 * The scan's FLOPs are few beside the in_proj and out_proj GEMMs around it
 * (T nh P N multiply-adds: about 1% of them at NemotronH-9B's shape), so the
 * step-per-row form, not the chunked SSD one, keeps the kernels short; its
 * time is latency (a step waits for the last), so what matters is how many
 * warps an SM can switch between.
 *
 * The backward is a reverse scan, dS_t = dy_t C_t + exp(dt_{t+1} A) dS_{t+1},
 * that needs the states S_t from last to first. They are recomputed: a
 * forward sweep keeps the state at the start of every WINDOW steps (in the
 * scratch), then one launch per window, from the last, sweeps the window
 * keeping the state before every 8 steps, recomputes each 8 steps' states
 * from there into shared memory (in registers, 147 of them a thread, an SM
 * would hold one block; so, 64 and four blocks) and walks them back: each
 * step is computed three times in all (the two sweeps and its 8 steps').
 * A row's dx is its warp's alone. dB and dC sum over all the rows of a group
 * (its heads' channels), ddt over a head's channels: each block sums its
 * warps' terms in shared memory in a fixed order into a partial per block
 * and step; a head's last block to finish its window (an atomic count
 * tells which) sums the head's partials, in tile order, while they are in
 * L2; a second kernel sums the heads' per group, in head order. Whichever
 * block is last, every sum runs in the same order: the same inputs give the
 * same bits. */
#include "kernels/cuda/cuda_util.h"
#include "kernels/cuda/scratch.h"

enum {
    ROWS = IK_SSM_ROWS,     /* warps (rows of one head) per block */
    WINDOW = IK_SSM_WINDOW, /* steps per backward launch; a state is kept at each window's start */
    MAX_NL = 8,  /* states per lane: N <= 256 */
};

/* Where row (h, p)'s step t reads. */
struct scan_args {
    const float *x, *B, *C, *dt, *A, *Dskip;
    int ld, nh, P, G, N;
};

/* The blocks of a head: ROWS channels each. */
__host__ __device__ static inline int tiles_of(int P) { return (P + ROWS - 1) / ROWS; }

/* S = S exp(dt_t A) + dt_t x_t B_t for row (h, p) of group g: one step. The
 * backward's recomputation calls this too, so it sees the forward's bits. */
template <int NL>
__device__ __forceinline__ void scan_step(float (&s)[NL], const scan_args &a, int t, int h, int p,
                                          int g, int lane)
{
    float d = a.dt[(size_t)t * a.nh + h], dA = expf(d * a.A[h]);
    float xd = d * a.x[(size_t)t * a.ld + (size_t)h * a.P + p];
    const float *Bt = a.B + (size_t)t * a.ld + (size_t)g * a.N;
#pragma unroll
    for (int j = 0; j < NL; j++) {
        int n = lane + 32 * j;
        if (n < a.N)
            s[j] = s[j] * dA + xd * Bt[n];
    }
}

/* Row (h, p) of block b's warp w, and whether it exists (P need not be a
 * multiple of ROWS). */
__device__ __forceinline__ bool row_of(int P, int *h, int *p)
{
    int tiles = tiles_of(P);
    *h = blockIdx.x / tiles;
    *p = blockIdx.x % tiles * ROWS + (threadIdx.x >> 5);
    return *p < P;
}

/* y and the state after T steps from state (nh, N, P). */
template <int NL>
__global__ void __launch_bounds__(ROWS * 32) ssm_fwd_kernel(float *y, float *state, scan_args a, int T)
{
    int h, p, lane = threadIdx.x & 31;
    if (!row_of(a.P, &h, &p))
        return;
    int g = h / (a.nh / a.G);
    float *st = state + (size_t)h * a.N * a.P + p; /* S[n] at st[n P] */
    float s[NL];
#pragma unroll
    for (int j = 0; j < NL; j++)
        s[j] = lane + 32 * j < a.N ? st[(size_t)(lane + 32 * j) * a.P] : 0.0f;
    size_t yw = (size_t)a.nh * a.P;
    for (int t = 0; t < T; t++) {
        scan_step(s, a, t, h, p, g, lane);
        const float *Ct = a.C + (size_t)t * a.ld + (size_t)g * a.N;
        float acc = 0.0f;
#pragma unroll
        for (int j = 0; j < NL; j++)
            if (lane + 32 * j < a.N)
                acc += s[j] * Ct[lane + 32 * j];
        acc = ik_cuda__warp_sum(acc);
        if (lane == 0) {
            float xv = a.x[(size_t)t * a.ld + (size_t)h * a.P + p];
            y[(size_t)t * yw + (size_t)h * a.P + p] = acc + a.Dskip[h] * xv;
        }
    }
#pragma unroll
    for (int j = 0; j < NL; j++)
        if (lane + 32 * j < a.N)
            st[(size_t)(lane + 32 * j) * a.P] = s[j];
}

/* The backward's scratch, carved in this order. */
struct bwd_scratch {
    float *ck;    /* (windows, nh, P, N): the state before each window's first step */
    float *carry; /* (nh, P, N): dS between windows */
    float *part;  /* (WINDOW, nh, tiles, 2, N): each block's dB and dC terms per step */
    float *pddt;  /* (WINDOW, nh, P): each row's ddt term per step */
    float *hpart; /* (WINDOW, nh, 2, N): each head's dB and dC terms per step */
    int *done;    /* (nh): the head's blocks done with this window (0 between windows) */
    float *sub;   /* (nh, P, WINDOW / SUBN, N): the state before each SUBN steps of the window */
};

/* Steps recomputed into shared memory at a time (scratch.h says why). */
__host__ __device__ static constexpr int sub_steps(int N) { return IK_SSM_SUB_STEPS(N); }

/* The scratch's bytes; with s, its parts carved from base too (scratch.h's
 * sizes, the trainer's estimate's). */
static size_t carve(struct bwd_scratch *s, char *base, int T, int nh, int P, int N)
{
    size_t sizes[IK_SSM_BWD_PARTS], off = 0;
    ik_ssm_bwd_part_floats(T, nh, P, N, sizes);
    char *parts[IK_SSM_BWD_PARTS];
    for (int i = 0; i < IK_SSM_BWD_PARTS; i++) {
        parts[i] = base != NULL ? base + off : NULL;
        off += ik_scratch_up(sizes[i] * 4); /* floats, and the counts' ints */
    }
    if (s != NULL)
        *s = (struct bwd_scratch){(float *)parts[0], (float *)parts[1], (float *)parts[2],
                                  (float *)parts[3], (float *)parts[4], (int *)parts[5],
                                  (float *)parts[6]};
    return off;
}

/* The forward sweep from the zero state, keeping the state before every
 * WINDOW-th step. */
template <int NL>
__global__ void __launch_bounds__(ROWS * 32) ssm_ckpt_kernel(float *ck, scan_args a, int T)
{
    int h, p, lane = threadIdx.x & 31;
    if (!row_of(a.P, &h, &p))
        return;
    int g = h / (a.nh / a.G);
    size_t rowN = ((size_t)h * a.P + p) * a.N, stride = (size_t)a.nh * a.P * a.N;
    float s[NL];
#pragma unroll
    for (int j = 0; j < NL; j++)
        s[j] = 0.0f;
    for (int t = 0; t < T; t++) {
        if (t % WINDOW == 0) {
            float *out = ck + (size_t)(t / WINDOW) * stride + rowN;
#pragma unroll
            for (int j = 0; j < NL; j++)
                if (lane + 32 * j < a.N)
                    out[lane + 32 * j] = s[j];
        }
        scan_step(s, a, t, h, p, g, lane);
    }
}

/* What the backward reads besides the scan's inputs and its scratch, and
 * writes; t0: the window's first step. */
struct bwd_args {
    float *dx, *ddt;
    const float *dy;
    int lddx, t0;
};

/* Step t of row (h, p) walked back (kernels.h's ik_cpu_ssm_scan_bwd has the
 * formulas): dS takes dy_t C_t; the row's dx and ddt term are written; its
 * dB and dC terms go through red (the block's shared buffer of this step's
 * parity) into the block's partial; dS is decayed for step t-1. S is S_t,
 * Sp S_{t-1}. Every thread of the block calls it (a missing row with
 * live false), for the barrier. */
template <int NL>
__device__ __forceinline__ void back_step(float (&dS)[NL], const float (&S)[NL], const float (&Sp)[NL],
                                          const scan_args &a, const bwd_args &b, const bwd_scratch &s,
                                          float (*red)[2][NL * 32], int t, int h, int p, int g, bool live)
{
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, N = a.N;
    float d = a.dt[(size_t)t * a.nh + h], dA = expf(d * a.A[h]);
    size_t xi = (size_t)t * a.ld + (size_t)h * a.P + p;
    float xv = live ? a.x[xi] : 0.0f;
    float dyp = live ? b.dy[(size_t)t * a.nh * a.P + (size_t)h * a.P + p] : 0.0f, xd = d * xv;
    const float *Bt = a.B + (size_t)t * a.ld + (size_t)g * N, *Ct = a.C + (size_t)t * a.ld + (size_t)g * N;
    float sb = 0.0f, dec = 0.0f;
#pragma unroll
    for (int j = 0; j < NL; j++) {
        int n = lane + 32 * j;
        float cB = 0.0f, cC = 0.0f;
        if (live && n < N) {
            dS[j] += Ct[n] * dyp;
            cC = S[j] * dyp;
            cB = dS[j] * xd;
            sb += dS[j] * Bt[n];
            dec += dS[j] * Sp[j];
            dS[j] *= dA;
        }
        red[w][0][n] = cB;
        red[w][1][n] = cC;
    }
    sb = ik_cuda__warp_sum(sb);
    dec = ik_cuda__warp_sum(dec);
    if (live && lane == 0) {
        b.dx[(size_t)t * b.lddx + (size_t)h * a.P + p] += d * sb + a.Dskip[h] * dyp;
        s.pddt[(size_t)(t - b.t0) * a.nh * a.P + (size_t)h * a.P + p] = xv * sb + a.A[h] * dA * dec;
    }
    __syncthreads();
    int tiles = tiles_of(a.P), tile = blockIdx.x % tiles;
    float *out = s.part + (((size_t)(t - b.t0) * a.nh + h) * tiles + tile) * 2 * N;
    for (int k = threadIdx.x; k < 2 * N; k += blockDim.x) {
        float v = 0.0f;
        for (int r = 0; r < ROWS; r++)
            v += red[r][k / N][k % N];
        out[k] = v;
    }
}

/* Head h's window, once all its blocks are done: their dB and dC terms
 * summed over its tiles into hpart, and its ddt (its rows' terms summed
 * over its channels) added; done[h] back to 0 for the next window. The
 * partials are read with __ldcg (from L2): other blocks wrote them. Not
 * inlined: the walk's registers stay the walk's. */
__device__ __attribute__((noinline)) void sum_head(bwd_scratch s, bwd_args b, int nh, int P, int N,
                                                   int h, int steps)
{
    int tiles = tiles_of(P), N2 = 2 * N;
    for (int k = threadIdx.x; k < steps * N2; k += blockDim.x) {
        int tt = k / N2, c = k % N2;
        const float *src = s.part + ((size_t)tt * nh + h) * tiles * N2 + c;
        float v = 0.0f;
        for (int i = 0; i < tiles; i++)
            v += __ldcg(src + (size_t)i * N2);
        s.hpart[((size_t)tt * nh + h) * N2 + c] = v;
    }
    for (int tt = threadIdx.x; tt < steps; tt += blockDim.x) {
        const float *src = s.pddt + (size_t)tt * nh * P + (size_t)h * P;
        float v = 0.0f;
        for (int p = 0; p < P; p++)
            v += __ldcg(src + p);
        b.ddt[(size_t)(b.t0 + tt) * nh + h] += v;
    }
    if (threadIdx.x == 0)
        s.done[h] = 0;
}

/* Steps t0..t1-1 (one window) walked back from the carried dS (zero for the
 * last window: first), which is carried on to the window before. A sweep
 * of the window from its start keeps the state before every SUBN steps
 * (the scratch's sub, read back while still in L2); then, from the last,
 * each SUBN steps' states are recomputed from there into shared memory,
 * a thread's own slots only (no barrier between writing and reading them:
 * in registers they would hold the block to one per SM), and walked back.
 * Each step is thus recomputed twice, not once per SUBN steps after it. */
template <int NL>
__global__ void __launch_bounds__(ROWS * 32) ssm_bwd_window_kernel(bwd_args b, bwd_scratch s, scan_args a,
                                                                   int t1, int first)
{
    constexpr int SUBN = sub_steps(32 * NL); /* N up to 32 NL */
    __shared__ float red[2][ROWS][2][NL * 32];
    __shared__ float sst[ROWS][SUBN][NL * 32];
    int h, p, lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    bool live = row_of(a.P, &h, &p);
    int g = h / (a.nh / a.G), t0 = b.t0;
    size_t row = (size_t)h * a.P + (live ? p : 0), rowN = row * a.N;
    const float *ck = s.ck + (size_t)(t0 / WINDOW) * a.nh * a.P * a.N + rowN;
    float *sub = s.sub + row * (WINDOW / SUBN) * a.N;
    float dS[NL], cur[NL], S[NL], Sp[NL];
#pragma unroll
    for (int j = 0; j < NL; j++) {
        dS[j] = live && !first && lane + 32 * j < a.N ? s.carry[rowN + lane + 32 * j] : 0.0f;
        cur[j] = live && lane + 32 * j < a.N ? ck[lane + 32 * j] : 0.0f;
    }
    for (int t = t0; live && t < t1; t++) { /* the state before every SUBN steps */
        if ((t - t0) % SUBN == 0)
#pragma unroll
            for (int j = 0; j < NL; j++)
                if (lane + 32 * j < a.N)
                    sub[(size_t)(t - t0) / SUBN * a.N + lane + 32 * j] = cur[j];
        scan_step(cur, a, t, h, p, g, lane);
    }
    int parity = 0;
    for (int ts = t0 + (t1 - 1 - t0) / SUBN * SUBN; ts >= t0; ts -= SUBN) {
        int q = t1 - ts < SUBN ? t1 - ts : SUBN;
        const float *s0 = sub + (size_t)(ts - t0) / SUBN * a.N; /* the state before step ts */
        /* The states after steps ts..ts+q-1. */
#pragma unroll
        for (int j = 0; j < NL; j++)
            cur[j] = live && lane + 32 * j < a.N ? s0[lane + 32 * j] : 0.0f;
        for (int i = 0; live && i < q; i++) {
            scan_step(cur, a, ts + i, h, p, g, lane);
#pragma unroll
            for (int j = 0; j < NL; j++)
                sst[w][i][lane + 32 * j] = cur[j];
        }
        for (int i = q - 1; i >= 0; i--) {
#pragma unroll
            for (int j = 0; j < NL; j++) {
                S[j] = live ? sst[w][i][lane + 32 * j] : 0.0f;
                Sp[j] = !live ? 0.0f
                        : i               ? sst[w][i - 1][lane + 32 * j]
                        : lane + 32 * j < a.N ? s0[lane + 32 * j] : 0.0f;
            }
            back_step(dS, S, Sp, a, b, s, red[parity], ts + i, h, p, g, live);
            parity ^= 1;
        }
    }
#pragma unroll
    for (int j = 0; j < NL; j++)
        if (live && lane + 32 * j < a.N)
            s.carry[rowN + lane + 32 * j] = dS[j];
    /* The head's last block to finish sums its blocks' partials, in order:
     * they were just written, so they are read from L2. red[parity], which
     * the last step did not use, holds the verdict. */
    __threadfence();
    __syncthreads();
    float *verdict = &red[parity][0][0][0];
    if (threadIdx.x == 0)
        *verdict = atomicAdd(&s.done[h], 1) == tiles_of(a.P) - 1 ? 1.0f : 0.0f;
    __syncthreads();
    if (*verdict != 0.0f)
        sum_head(s, b, a.nh, a.P, a.N, h, t1 - t0);
}

/* dB, dC (rows lddx apart) += a window's head partials, summed over the
 * group's heads in order: a thread per (step, group, B or C, state). */
__global__ void ssm_bwd_sum_bc_kernel(float *dB, float *dC, int lddx, const float *hpart, int t0,
                                      int steps, int nh, int G, int N)
{
    int hpg = nh / G;
    size_t n_out = (size_t)steps * G * 2 * N;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n_out;
         i += (size_t)gridDim.x * blockDim.x) {
        int n = (int)(i % N), kind = (int)(i / N % 2), g = (int)(i / (2 * (size_t)N) % G);
        int tt = (int)(i / (2 * (size_t)N * G));
        float v = 0.0f;
        for (int h = g * hpg; h < (g + 1) * hpg; h++)
            v += hpart[((size_t)tt * nh + h) * 2 * N + (size_t)kind * N + n];
        (kind ? dC : dB)[(size_t)(t0 + tt) * lddx + (size_t)g * N + n] += v;
    }
}

/* Rows of x, B, C (and of dx, dB, dC) hold nh P and G N values. */
static int scan_args_bad(const char *what, int T, int nh, int P, int G, int N, int ld)
{
    if (T < 0 || nh <= 0 || P <= 0 || G <= 0 || nh % G != 0 || N <= 0 || N > 32 * MAX_NL ||
        ld < nh * P || ld < G * N)
        return ik_cuda__bad_arg(what, "T %d, nh %d, P %d, G %d, N %d, ld %d (T >= 0, nh a multiple "
                                "of G, 0 < N <= %d, ld >= nh P and G N)", T, nh, P, G, N, ld,
                                32 * MAX_NL);
    return 0;
}

/* States per lane: N/32 rounded up to 1, 2, 4 or 8, the kernels' template. */
static int lane_states(int N) { return N <= 32 ? 1 : N <= 64 ? 2 : N <= 128 ? 4 : 8; }

template <int NL>
static int scan_fwd(float *y, float *state, const scan_args &a, int T)
{
    ssm_fwd_kernel<NL><<<(unsigned)(a.nh * tiles_of(a.P)), ROWS * 32>>>(y, state, a, T);
    return ik_cuda__launched("ssm_scan_fwd");
}

/* The states kept, then each window from the last: its reverse scan, then
 * its sums. */
template <int NL>
static int scan_bwd(bwd_args b, const bwd_scratch &s, float *dB, float *dC, const scan_args &a, int T)
{
    unsigned blocks = (unsigned)(a.nh * tiles_of(a.P));
    cudaError_t e = cudaMemsetAsync(s.done, 0, (size_t)a.nh * sizeof *s.done, 0);
    if (e != cudaSuccess)
        return ik_cuda__fail("cudaMemsetAsync", "ssm_scan_bwd", e);
    ssm_ckpt_kernel<NL><<<blocks, ROWS * 32>>>(s.ck, a, T);
    if (ik_cuda__launched("ssm_scan_bwd (states kept)") != 0)
        return -1;
    for (int t0 = (T - 1) / WINDOW * WINDOW; t0 >= 0; t0 -= WINDOW) {
        int t1 = T - t0 < WINDOW ? T : t0 + WINDOW;
        b.t0 = t0;
        ssm_bwd_window_kernel<NL><<<blocks, ROWS * 32>>>(b, s, a, t1, t1 == T);
        if (ik_cuda__launched("ssm_scan_bwd (reverse scan)") != 0)
            return -1;
        size_t n_bc = (size_t)(t1 - t0) * a.G * 2 * a.N;
        ssm_bwd_sum_bc_kernel<<<ik_cuda__blocks(n_bc), IK_CUDA_THREADS>>>(dB, dC, b.lddx, s.hpart, t0,
                                                                          t1 - t0, a.nh, a.G, a.N);
        if (ik_cuda__launched("ssm_scan_bwd (dB, dC sums)") != 0)
            return -1;
    }
    return 0;
}

extern "C" int ik_cuda_ssm_scan_fwd(float *y, float *state, const float *x, const float *B, const float *C,
                                    int ld, const float *dt, const float *A, const float *Dskip, int T,
                                    int nh, int P, int G, int N)
{
    if (scan_args_bad("ssm_scan_fwd", T, nh, P, G, N, ld) != 0)
        return -1;
    if (T == 0)
        return 0;
    scan_args a = {x, B, C, dt, A, Dskip, ld, nh, P, G, N};
    switch (lane_states(N)) {
    case 1:
        return scan_fwd<1>(y, state, a, T);
    case 2:
        return scan_fwd<2>(y, state, a, T);
    case 4:
        return scan_fwd<4>(y, state, a, T);
    default:
        return scan_fwd<8>(y, state, a, T);
    }
}

extern "C" size_t ik_cuda_ssm_scan_bwd_scratch(int T, int nh, int P, int N)
{
    return carve(NULL, NULL, T > 0 ? T : 1, nh > 0 ? nh : 1, P > 0 ? P : 1, N > 0 ? N : 1);
}

extern "C" int ik_cuda_ssm_scan_bwd(float *dx, float *dB, float *dC, int lddx, float *ddt, const float *dy,
                                    const float *x, const float *B, const float *C, int ld, const float *dt,
                                    const float *A, const float *Dskip, int T, int nh, int P, int G, int N,
                                    void *scratch)
{
    if (scan_args_bad("ssm_scan_bwd", T, nh, P, G, N, ld) != 0)
        return -1;
    if (lddx < nh * P || lddx < G * N)
        return ik_cuda__bad_arg("ssm_scan_bwd", "lddx %d (>= nh P = %d and G N = %d)", lddx, nh * P, G * N);
    if (T == 0)
        return 0;
    scan_args a = {x, B, C, dt, A, Dskip, ld, nh, P, G, N};
    bwd_scratch s;
    carve(&s, (char *)scratch, T, nh, P, N);
    bwd_args b = {dx, ddt, dy, lddx, 0};
    switch (lane_states(N)) {
    case 1:
        return scan_bwd<1>(b, s, dB, dC, a, T);
    case 2:
        return scan_bwd<2>(b, s, dB, dC, a, T);
    case 4:
        return scan_bwd<4>(b, s, dB, dC, a, T);
    default:
        return scan_bwd<8>(b, s, dB, dC, a, T);
    }
}
