/* tests/cuda/test_attention_cudnn.c - the CUDA module's cuDNN attention
 * (cuda_ops.h: ->sdpa_fwd, ->sdpa_bwd) against the CPU reference
 * (ik_cpu_attention_seq_fwd, ik_cpu_attention_bwd) on random inputs, then
 * timed beside the module's own cuBLAS attention.
 *
 * The module is dlopen()ed as test_cuda_kernels does (IK_CUDA_MODULE_PATH,
 * or $IKADA_CUDA_MODULE); this program links no CUDA library. Without a
 * device it prints "skipped: ..." and exits 77 (1 under IKADA_REQUIRE_GPU=1);
 * with one where ->sdpa_available says 0 for the first (plainest) shape
 * (no libcudnn, no engine) it prints the module's reason and exits 77; a
 * later shape it says 0 for is reported as unavailable and passed over.
 *
 * Fairness: cuDNN computes on BF16 copies of q, k, v and dout, so the
 * reference gets the same BF16-rounded values; what remains is cuDNN's own
 * rounding: P (probabilities) and dS rounded to BF16 before their matmuls,
 * and O, dQ, dK, dV returned as BF16 (relative 2^-9 each). Summed over up to
 * T terms with cancellation in dS = P (dP - rowsum), the error is judged
 * against the size of the result, not each element: every element within
 * 2e-2 of max |reference| of its tensor (a wrong mask, head mapping or
 * stride gives errors of the order of the values themselves). Stats are
 * fp32 logsumexps of the same scores on both sides: within 2e-3 absolute.
 * The gradients are accumulated onto random values, so an overwrite fails.
 *
 * Then (unless IKADA_CUDA_BENCH=0) T = 4096, H = 32, K = 8, hd = 128: the
 * time of the first call (the plans' building), then of sdpa_fwd, sdpa_bwd,
 * attention_fwd, attention_bwd, flash_fwd and flash_bwd, as causal TFLOP/s (forward 2 * 2 * T^2/2
 * * H * hd, backward 2.5 times that). sdpa's figures include the module's
 * fp32/BF16 conversions, which the training step pays too.
 * Exit status: 0 passed, 1 a failure, 77 skipped. */
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/prng.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/kernels.h"
#include "lm/safetensors.h"
#include "tests/cuda/ref_attention.h"

#ifndef IK_CUDA_MODULE_PATH
#error "IK_CUDA_MODULE_PATH: the build defines it (tests/cuda/Makefile.inc)"
#endif

static const struct ik_cuda_ops *ops;
static struct ik_prng rng;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "test_attention_cudnn: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

#define CK(call)                                                                    \
    do {                                                                            \
        if ((call) != 0)                                                            \
            die("%s:%d: %s failed: %s", __FILE__, __LINE__, #call, ops->last_error()); \
    } while (0)

static float *host_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (p == NULL)
        die("out of memory (%zu floats)", n);
    return p;
}

/* n uniform values in [lo, hi), rounded to BF16 when bf16. */
static float *rand_floats(size_t n, float lo, float hi, int bf16)
{
    float *p = host_floats(n);
    for (size_t i = 0; i < n; i++) {
        p[i] = lo + (hi - lo) * (float)ik_prng_double(&rng);
        if (bf16)
            p[i] = ik_bf16_to_f32(ik_f32_to_bf16(p[i]));
    }
    return p;
}

static void *to_dev(const float *src, size_t n)
{
    void *d;
    CK(ops->alloc(&d, (n ? n : 1) * sizeof(float)));
    CK(ops->memcpy_htod(d, src, n * sizeof(float)));
    return d;
}

static float *from_dev(const void *d, size_t n)
{
    float *p = host_floats(n);
    CK(ops->memcpy_dtoh(p, d, n * sizeof *p));
    return p;
}

/* Every |got - want| <= tol_rel * max |want| + tol_abs; one line; 0 when so. */
static int compare(const char *what, const float *got, const float *want, size_t n,
                   double tol_rel, double tol_abs)
{
    double scale = 0, worst = 0;
    size_t at = 0, bad = 0;
    for (size_t i = 0; i < n; i++)
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    double tol = tol_rel * scale + tol_abs;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (isnan(got[i]))
            d = INFINITY;
        if (d > worst)
            worst = d, at = i;
        bad += !(d <= tol);
    }
    printf("  %-40s %8zu values: max |ref| %.3g, max error %.3g (%.2g of it) at [%zu], tol %.3g%s\n",
           what, n, scale, worst, scale > 0 ? worst / scale : worst, at, tol, bad ? "  FAIL" : "");
    if (bad)
        printf("    %zu out of tolerance; at [%zu]: gpu %.7g, ref %.7g\n", bad, at, (double)got[at],
               (double)want[at]);
    return bad != 0;
}

/* One shape: forward and backward against the reference; failures counted. */
static int check_case(const char *name, int T, int H, int K, int hd, int window)
{
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * K * hd, ns = (size_t)H * T;
    float *q = rand_floats(nq, -1, 1, 1), *k = rand_floats(nk, -1, 1, 1);
    float *v = rand_floats(nk, -1, 1, 1), *dout = rand_floats(nq, -1, 1, 1);
    float *init[3] = {rand_floats(nq, -1, 1, 0), rand_floats(nk, -1, 1, 0),
                      rand_floats(nk, -1, 1, 0)};
    float *out = host_floats(nq), *stats = host_floats(ns);
    float *ref[3] = {calloc(nq, 4), calloc(nk, 4), calloc(nk, 4)};
    float *scr = host_floats(ik_cpu_attention_bwd_scratch(T, H, K, hd));
    if (ref[0] == NULL || ref[1] == NULL || ref[2] == NULL)
        die("out of memory");
    ik_cpu_attention_seq_fwd(out, q, k, v, T, H, K, hd, window, scr);
    ik_cpu_attention_bwd(ref[0], ref[1], ref[2], dout, q, k, v, T, H, K, hd, window, scr);
    ref_attention_lse(stats, q, k, T, H, K, hd, window);

    float *d_q = to_dev(q, nq), *d_k = to_dev(k, nk), *d_v = to_dev(v, nk), *d_do = to_dev(dout, nq);
    float *d_g[3] = {to_dev(init[0], nq), to_dev(init[1], nk), to_dev(init[2], nk)};
    float *d_out, *d_stats;
    void *d_scr;
    CK(ops->alloc((void **)&d_out, nq * 4));
    CK(ops->alloc((void **)&d_stats, ns * 4));
    CK(ops->alloc(&d_scr, ops->sdpa_scratch(T, H, K, hd)));
    CK(ops->sdpa_fwd(d_out, d_stats, d_q, d_k, d_v, T, H, K, hd, window, d_scr));
    CK(ops->sdpa_bwd(d_g[0], d_g[1], d_g[2], d_do, d_out, d_stats, d_q, d_k, d_v, T, H, K, hd,
                     window, d_scr));
    CK(ops->synchronize());
    printf("%s: T %d, H %d, K %d, hd %d, window %d\n", name, T, H, K, hd, window);
    float *g_out = from_dev(d_out, nq), *g_stats = from_dev(d_stats, ns);
    int fails = compare("out", g_out, out, nq, 2e-2, 0) + compare("stats", g_stats, stats, ns, 0, 2e-3);
    const char *gname[3] = {"dq (+=)", "dk (+=)", "dv (+=)"};
    size_t gn[3] = {nq, nk, nk};
    for (int i = 0; i < 3; i++) {
        float *g = from_dev(d_g[i], gn[i]);
        for (size_t j = 0; j < gn[i]; j++)
            g[j] -= init[i][j];
        fails += compare(gname[i], g, ref[i], gn[i], 2e-2, 0);
        free(g);
        CK(ops->free(d_g[i]));
        free(init[i]), free(ref[i]);
    }
    void *dev[] = {d_q, d_k, d_v, d_do, d_out, d_stats, d_scr};
    for (int i = 0; i < 7; i++)
        CK(ops->free(dev[i]));
    free(q), free(k), free(v), free(dout), free(out), free(stats), free(scr), free(g_out),
        free(g_stats);
    return fails;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

enum { REPS = 10 };

/* Seconds per call of which (0 sdpa_fwd, 1 sdpa_bwd, 2 attention_fwd, 3
 * attention_bwd, 4 flash_fwd, 5 flash_bwd), after one untimed call. */
static double time_one(int which, float **t, void *scr, int T, int H, int K, int hd)
{
    double t0 = 0;
    for (int r = 0; r <= REPS; r++) {
        if (r == 1) {
            CK(ops->synchronize());
            t0 = now();
        }
        if (which == 0)
            CK(ops->sdpa_fwd(t[4], t[8], t[0], t[1], t[2], T, H, K, hd, 0, scr));
        else if (which == 1)
            CK(ops->sdpa_bwd(t[5], t[6], t[7], t[3], t[4], t[8], t[0], t[1], t[2], T, H, K, hd, 0,
                             scr));
        else if (which == 2)
            CK(ops->attention_fwd(t[4], t[0], t[1], t[2], T, H, K, hd, 0, scr));
        else if (which == 3)
            CK(ops->attention_bwd(t[5], t[6], t[7], t[3], t[0], t[1], t[2], T, H, K, hd, 0, scr));
        else if (which == 4)
            CK(ops->flash_fwd(t[4], t[8], t[0], t[1], t[2], T, H, K, hd, 0, scr));
        else
            CK(ops->flash_bwd(t[5], t[6], t[7], t[3], t[4], t[8], t[0], t[1], t[2], T, H, K, hd, 0,
                              scr));
    }
    CK(ops->synchronize());
    return (now() - t0) / REPS;
}

/* The training shape of an 8B Llama (32 heads on 8 KV heads of 128) at 4096. */
static void bench(void)
{
    int T = 4096, H = 32, K = 8, hd = 128;
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * K * hd;
    size_t n[9] = {nq, nk, nk, nq, nq, nq, nk, nk, (size_t)H * T};
    float *t[9], *h = rand_floats(nq, -1, 1, 0);
    for (int i = 0; i < 9; i++)
        t[i] = to_dev(h, n[i]);
    free(h);
    size_t a = ops->attention_scratch(T, H, K), b = ops->sdpa_scratch(T, H, K, hd);
    void *scr;
    CK(ops->alloc(&scr, a > b ? a : b));
    double t0 = now();
    if (!ops->sdpa_available(T, H, K, hd, 0))
        die("bench: %s", ops->last_error());
    printf("bench: T %d, H %d, K %d, hd %d: cuDNN plans built in %.2f s; scratch: sdpa %.0f MiB, "
           "own %.0f MiB\n", T, H, K, hd, now() - t0, b / 1048576.0, a / 1048576.0);
    double flops = 2.0 * 2.0 * T * (T / 2.0) * H * hd;
    const char *names[6] = {"sdpa_fwd", "sdpa_bwd", "attention_fwd (own)", "attention_bwd (own)",
                            "flash_fwd (own)", "flash_bwd (own)"};
    /* The flash pair runs after the others: its forward's stats are what its
     * backward reads. */
    for (int w = 0; w < 6; w++) {
        double s = time_one(w, t, scr, T, H, K, hd), f = w % 2 ? 2.5 * flops : flops;
        printf("  %-22s %8.3f ms  %6.1f TFLOP/s (causal)\n", names[w], s * 1e3, f / s * 1e-12);
    }
    for (int i = 0; i < 9; i++)
        CK(ops->free(t[i]));
    CK(ops->free(scr));
}

/* Which cuDNN the module loaded, from the process's own copy (dlopen with
 * RTLD_NOLOAD finds the library the module opened; nothing new is loaded). */
static void print_cudnn(void)
{
    const char *env = getenv("IKADA_CUDNN_LIB");
    void *h = dlopen(env && *env ? env : "libcudnn.so.9", RTLD_NOW | RTLD_NOLOAD);
    size_t (*version)(void) = h ? (size_t (*)(void))dlsym(h, "cudnnGetVersion") : NULL;
    Dl_info info;
    if (version == NULL || dladdr((void *)version, &info) == 0) {
        printf("test_attention_cudnn: which cuDNN was loaded is unknown\n");
        return;
    }
    size_t v = version();
    printf("test_attention_cudnn: cuDNN %zu.%zu.%zu from %s\n", v / 10000, v / 100 % 100, v % 100,
           info.dli_fname);
}

/* A shape cuDNN cannot do: passed over (77 for the first) where no GPU run
 * was asked for, or where libcudnn is missing; under IKADA_REQUIRE_GPU=1 a
 * refused graph is what the run is there to find, so it fails. */
static int refused_fails(int require_gpu, const char *why)
{
    return require_gpu && strstr(why, "not found") == NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *path = getenv("IKADA_CUDA_MODULE");
    if (path == NULL || *path == '\0')
        path = IK_CUDA_MODULE_PATH;
    const char *req = getenv("IKADA_REQUIRE_GPU"), *bench_env = getenv("IKADA_CUDA_BENCH");
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        die("cannot load the CUDA module: %s", dlerror());
    ik_cuda_ops_get_fn get = (ik_cuda_ops_get_fn)dlsym(lib, IK_CUDA_OPS_SYMBOL);
    if (get == NULL || (ops = get(IK_CUDA_ABI)) == NULL)
        die("%s: no table of ABI %d", path, IK_CUDA_ABI);
    if (ops->size < sizeof *ops)
        die("%s: its table predates the sdpa entries (%zu bytes, this header's %zu)", path,
            ops->size, sizeof *ops);
    if (ops->device_count() == 0) {
        printf("test_attention_cudnn: skipped: no CUDA device (%s)\n", ops->last_error());
        return req != NULL && strcmp(req, "1") == 0 ? 1 : 77;
    }
    char name[256];
    CK(ops->set_device(0));
    CK(ops->device_name(0, name, sizeof name));
    printf("test_attention_cudnn: module %s, device 0: %s\n", path, name);
    static const struct {
        const char *name;
        int T, H, K, hd, window;
    } cases[] = {
        {"GQA", 128, 4, 2, 64, 0},
        {"MHA, hd 128, T not a multiple of 64", 257, 8, 8, 128, 0},
        {"Qwen2.5-0.5B heads", 384, 14, 2, 64, 0},
        {"Qwen3 heads, sliding window", 200, 16, 8, 128, 37},
    };
    enum { N_CASES = sizeof cases / sizeof cases[0] };
    /* The first shape is the plainest: without it nothing is tested. A
     * later one cuDNN has no engine for is reported and passed over, or,
     * under IKADA_REQUIRE_GPU=1, fails (refused_fails). */
    int require_gpu = req != NULL && strcmp(req, "1") == 0;
    if (!ops->sdpa_available(cases[0].T, cases[0].H, cases[0].K, cases[0].hd, cases[0].window)) {
        const char *why = ops->last_error();
        printf("test_attention_cudnn: %s: %s\n", refused_fails(require_gpu, why) ? "FAIL" : "skipped",
               why);
        return refused_fails(require_gpu, why) ? 1 : 77;
    }
    print_cudnn();
    ik_prng_seed(&rng, 20251203);
    int failed = 0, unavailable = 0, passed = 0;
    for (int i = 0; i < N_CASES; i++) {
        if (!ops->sdpa_available(cases[i].T, cases[i].H, cases[i].K, cases[i].hd, cases[i].window)) {
            int fails = refused_fails(require_gpu, ops->last_error());
            printf("%s: unavailable: %s%s\n", cases[i].name, ops->last_error(), fails ? "  FAIL" : "");
            unavailable++;
            failed += fails;
            continue;
        }
        int bad = check_case(cases[i].name, cases[i].T, cases[i].H, cases[i].K, cases[i].hd,
                             cases[i].window) != 0;
        failed += bad;
        passed += !bad;
    }
    if (bench_env == NULL || strcmp(bench_env, "0") != 0)
        bench();
    printf("test_attention_cudnn: %d of %d shapes passed, %d unavailable\n", passed, (int)N_CASES,
           unavailable);
    return failed ? 1 : 0;
}
