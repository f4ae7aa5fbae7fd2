/* tests/cuda/check_ssm_scan.c - test_cuda_kernels' check of Mamba-2's
 * selective scan, forward and backward (ssm_scan.cu), against the CPU
 * references ik_cpu_ssm_scan_fwd and ik_cpu_ssm_scan_bwd (kernels/kernels.h);
 * returns the number of comparisons that failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

/* One shape: T steps, nh heads of P channels, G groups of N states. */
struct scan_shape {
    int T, nh, P, G, N;
};

/* The inputs as the trainer lays them out: x | B | C in rows of the conv's
 * width plus a few columns (ld > nh P + 2 G N), dt in softplus's range, A
 * as -exp(log(1..nh)) / 4, Dskip around 1. */
struct scan_in {
    int ld;
    float *xbc, *dt, *A, *Dskip, *state, *dy;
};

static struct scan_in make_inputs(const struct scan_shape *s)
{
    struct scan_in in;
    in.ld = s->nh * s->P + 2 * s->G * s->N + 3;
    in.xbc = rand_floats((size_t)s->T * in.ld, -1, 1);
    in.dt = rand_floats((size_t)s->T * s->nh, 0.01f, 0.5f);
    in.A = host_floats(s->nh);
    for (int h = 0; h < s->nh; h++)
        in.A[h] = -(float)(h + 1) / 4;
    in.Dskip = rand_floats(s->nh, 0.5f, 1.5f);
    in.state = rand_floats((size_t)s->nh * s->N * s->P, -1, 1);
    in.dy = rand_floats((size_t)s->T * s->nh * s->P, -1, 1);
    return in;
}

static void free_inputs(struct scan_in *in)
{
    free(in->xbc), free(in->dt), free(in->A), free(in->Dskip), free(in->state), free(in->dy);
}

/* The forward from a random state: y and the state after. Each y is a sum
 * of N products of states that carry T steps of rounding; the CPU sums in
 * order of n, the device per lane then across the warp, hence rtol 1e-5
 * with atol 1e-5 for the sums that cancel. */
static int check_fwd(const struct scan_shape *s, const struct scan_in *in)
{
    int T = s->T, nh = s->nh, P = s->P, G = s->G, N = s->N, ld = in->ld;
    size_t ny = (size_t)T * nh * P, ns = (size_t)nh * N * P;
    float *y = host_floats(ny), *state = copy_floats(in->state, ns);
    const float *x = in->xbc, *B = x + nh * P, *C = B + G * N;
    ik_cpu_ssm_scan_fwd(y, state, x, B, C, ld, in->dt, in->A, in->Dskip, T, nh, P, G, N);
    float *d_xbc = to_dev(in->xbc, (size_t)T * ld * 4), *d_dt = to_dev(in->dt, (size_t)T * nh * 4);
    float *d_A = to_dev(in->A, nh * 4), *d_D = to_dev(in->Dskip, nh * 4);
    float *d_state = to_dev(in->state, ns * 4), *d_y;
    CK(ops->alloc((void **)&d_y, ny * 4));
    CK(ops->ssm_scan_fwd(d_y, d_state, d_xbc, d_xbc + nh * P, d_xbc + nh * P + G * N, ld, d_dt, d_A, d_D,
                         T, nh, P, G, N));
    float *gy = from_dev(d_y, ny), *gs = from_dev(d_state, ns);
    char what[80];
    snprintf(what, sizeof what, "ssm_scan_fwd y T=%d nh=%d P=%d G=%d N=%d", T, nh, P, G, N);
    int fails = compare(what, gy, y, ny, 1e-5, 1e-5);
    snprintf(what, sizeof what, "ssm_scan_fwd state T=%d N=%d", T, N);
    fails += compare(what, gs, state, ns, 1e-5, 1e-5);
    void *bufs[] = {d_xbc, d_dt, d_A, d_D, d_state, d_y};
    for (int i = 0; i < 6; i++)
        CK(ops->free(bufs[i]));
    free(y), free(state), free(gy), free(gs);
    return fails;
}

/* The device's backward: dx | dB | dC (rows ld apart) and ddt added onto
 * what they hold. */
static void device_bwd(const struct scan_shape *s, const struct scan_in *in, const float *g0,
                       const float *ddt0, float **g, float **ddt)
{
    int T = s->T, nh = s->nh, P = s->P, G = s->G, N = s->N, ld = in->ld;
    size_t nx = (size_t)T * ld, nt = (size_t)T * nh;
    float *d_xbc = to_dev(in->xbc, nx * 4), *d_dt = to_dev(in->dt, nt * 4);
    float *d_A = to_dev(in->A, nh * 4), *d_D = to_dev(in->Dskip, nh * 4);
    float *d_dy = to_dev(in->dy, (size_t)T * nh * P * 4), *d_g = to_dev(g0, nx * 4);
    float *d_ddt = to_dev(ddt0, nt * 4);
    void *scratch;
    CK(ops->alloc(&scratch, ops->ssm_scan_bwd_scratch(T, nh, P, N)));
    float *x = d_xbc, *B = x + nh * P, *C = B + G * N, *dx = d_g, *dB = dx + nh * P, *dC = dB + G * N;
    CK(ops->ssm_scan_bwd(dx, dB, dC, ld, d_ddt, d_dy, x, B, C, ld, d_dt, d_A, d_D, T, nh, P, G, N,
                         scratch));
    *g = from_dev(d_g, nx);
    *ddt = from_dev(d_ddt, nt);
    void *bufs[] = {d_xbc, d_dt, d_A, d_D, d_dy, d_g, d_ddt, scratch};
    for (int i = 0; i < 8; i++)
        CK(ops->free(bufs[i]));
}

/* The backward onto random gradients (it adds). Each gradient sums over
 * the steps after it (dS decays by exp(dt A) a step) and, for dB, dC and
 * ddt, over a group's or head's channels, in another order than the CPU's
 * (which also recomputes its states chunk by chunk from other checkpoints):
 * rtol 2e-5, atol 2e-5 for sums that cancel (the values are O(1) to O(10)).
 * Run twice, the bits must repeat (no atomics). The columns past dC (the
 * row's padding) must be untouched. */
static int check_bwd(const struct scan_shape *s, const struct scan_in *in)
{
    int T = s->T, nh = s->nh, P = s->P, G = s->G, N = s->N, ld = in->ld;
    size_t nx = (size_t)T * ld, nt = (size_t)T * nh;
    float *g0 = rand_floats(nx, -1, 1), *ddt0 = rand_floats(nt, -1, 1);
    float *g = copy_floats(g0, nx), *ddt = copy_floats(ddt0, nt);
    int Q = 5; /* a checkpoint interval of the CPU's own, unrelated to the device's */
    float *wk = host_floats(ik_cpu_ssm_scan_bwd_scratch(T, G, P, N, Q));
    const float *x = in->xbc, *B = x + nh * P, *C = B + G * N;
    ik_cpu_ssm_scan_bwd(g, g + nh * P, g + nh * P + G * N, ld, ddt, in->dy, x, B, C, ld, in->dt, in->A,
                        in->Dskip, T, nh, P, G, N, Q, wk);
    float *gg, *gddt, *gg2, *gddt2;
    device_bwd(s, in, g0, ddt0, &gg, &gddt);
    device_bwd(s, in, g0, ddt0, &gg2, &gddt2);
    char what[80];
    snprintf(what, sizeof what, "ssm_scan_bwd dx|dB|dC T=%d nh=%d P=%d G=%d N=%d", T, nh, P, G, N);
    int fails = compare(what, gg, g, nx, 2e-5, 2e-5);
    snprintf(what, sizeof what, "ssm_scan_bwd ddt T=%d nh=%d", T, nh);
    fails += compare(what, gddt, ddt, nt, 2e-5, 2e-5);
    fails += compare_bits("ssm_scan_bwd dx|dB|dC run twice", gg2, gg, nx);
    fails += compare_bits("ssm_scan_bwd ddt run twice", gddt2, gddt, nt);
    free(g0), free(ddt0), free(g), free(ddt), free(wk), free(gg), free(gddt), free(gg2), free(gddt2);
    return fails;
}

/* Shapes for each lane count (N up to 32, 64, 128, 256), a head's channels
 * not a multiple of the block's 8 rows, several heads a group, and T past
 * one and two backward windows of 64 steps, not a multiple of them. */
int check_ssm_scan(void)
{
    static const struct scan_shape shapes[] = {
        {37, 4, 12, 2, 16}, {150, 2, 8, 1, 48}, {70, 6, 5, 3, 128}, {9, 2, 3, 2, 200},
    };
    int fails = 0;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        struct scan_in in = make_inputs(&shapes[k]);
        fails += check_fwd(&shapes[k], &in);
        fails += check_bwd(&shapes[k], &in);
        free_inputs(&in);
    }
    return fails;
}
