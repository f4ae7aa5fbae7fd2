/* bench/lm_bench.c - `make bench` figures of the CPU language-model core:
 * tokens/s of a LoRA training step (forward + backward) and of greedy
 * generation, on stories260K and on a random model of Qwen2.5-0.5B's shape
 * (config.json written here); the same step in PyTorch
 * (bench/torch_lora_step.py --serve in a child process, when a python3 can
 * import torch), its steps alternating with ikada's, and the ratio; the GEMM
 * GFLOP/s a training step achieves as a share of OpenBLAS sgemm measured just
 * before and after each step; the memory activation checkpointing saves and
 * what it costs; and the peak RSS. Both sides of every ratio are measured in
 * this run, interleaved, so the ratios hold on a loaded machine where the
 * absolute figures do not.
 *
 * Environment: LM_BENCH_PYTHON (the interpreter for the PyTorch baseline;
 * default: the first of python3 and /usr/bin/python3 that imports torch),
 * LM_BENCH_TORCH=0 (skip the baseline), LM_BENCH_SEQ (the Qwen-shape length,
 * default 512), IKADA_THREADS and OPENBLAS_NUM_THREADS as for ikada,
 * OPENBLAS_THREAD_TIMEOUT (default here 4, for lm_bench's process only: see
 * main). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/diag.h"
#include "bench/bench_common.h"
#include "kernels/cpu/blas_core.h"
#include "kernels/cpu/blas_lib.h"
#include "lm/config.h"
#include "lm/generate.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/train.h"
#include "bench/qwen_shape.h"

/* The threads of ikada's kernel pool (kernels/cpu/parallel.c's rule). */
static int pool_threads(void)
{
    const char *env = getenv("IKADA_THREADS");
    long n = env ? strtol(env, NULL, 10) : 0;
    return n > 0 ? (int)n : (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* OpenBLAS's own sgemm at a training-step shape (M tokens, the MLP's F x D),
 * for about secs seconds, on OpenBLAS's own threads (as many as ikada's
 * pool): the best a plain sgemm call gets from this machine. ikada's
 * ik_cpu_sgemm sets OpenBLAS to one thread on first use and runs blocks on
 * its pool, so the count is set here for the baseline and put back after
 * (without that, every baseline after the first step measured one core). */
static double sgemm_gflops(int M, int N, int K, double secs)
{
    int threads_before = ik_cpu_blas()->get_num_threads();
    ik_cpu_blas()->set_num_threads(pool_threads());
    float *a = calloc((size_t)M * K, 4), *b = calloc((size_t)N * K, 4), *c = calloc((size_t)M * N, 4);
    for (size_t i = 0; i < (size_t)M * K; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)N * K; i++)
        b[i] = (float)(i % 5) * 0.1f;
    ik_cpu_blas()->sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
    int reps = 0;
    double t0 = ik_clock_monotonic_s(), t;
    do {
        ik_cpu_blas()->sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
        reps++;
    } while ((t = ik_clock_monotonic_s() - t0) < secs);
    free(a), free(b), free(c);
    ik_cpu_blas()->set_num_threads(threads_before);
    return 2.0 * M * N * K * reps / t * 1e-9;
}

static double peak_gflops(double secs) { return sgemm_gflops(512, 4864, 896, secs); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A trainer of seq tokens with options opts, and the tokens it trains on. */
struct ik_run {
    struct ik_lm_train *tr;
    struct ik_lora *a;
    int *tok, seq;
};

static void run_new(struct ik_run *r, struct ik_lm_model *m, struct ik_lora *a, int seq, int opts)
{
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lm_train_new_opts(&r->tr, m, a, seq, opts, &d))
        ik_bench_die(&d);
    r->a = a;
    r->seq = seq;
    r->tok = malloc(sizeof(int) * (size_t)seq);
    for (int i = 0; i < seq; i++)
        r->tok[i] = (i * 7919 + 13) % m->cfg.V; /* bench/torch_lora_step.py uses the same */
}

/* Seconds of one training step. */
static double run_step(struct ik_run *r)
{
    struct ik_diag d = IK_DIAG_INIT;
    double loss, t0 = ik_clock_monotonic_s();
    ik_lora_zero_grad(r->a);
    if (ik_lm_train_step(r->tr, r->tok, NULL, r->seq, IK_LM_BACKWARD, 0, 1.0f, &loss, NULL, &d))
        ik_bench_die(&d);
    return ik_clock_monotonic_s() - t0;
}

static void run_free(struct ik_run *r)
{
    ik_lm_train_free(r->tr);
    free(r->tok);
}

/* A python3 that can import torch: LM_BENCH_PYTHON, else python3 on PATH,
 * else Debian's /usr/bin/python3 (python3-torch installs into the system
 * interpreter, which a pyenv or venv python3 on PATH hides). NULL: none. */
static const char *torch_python(void)
{
    static const char *cand[] = {"python3", "/usr/bin/python3"};
    static const char *found;
    static int probed;
    const char *env = getenv("LM_BENCH_PYTHON");
    char cmd[512];
    for (int i = env ? -1 : 0; !probed && i < 2; i++) {
        const char *py = i < 0 ? env : cand[i];
        snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", py);
        if (system(cmd) == 0)
            found = py;
        if (found || i < 0)
            break;
    }
    probed = 1;
    return found;
}

/* bench/torch_lora_step.py --serve in a child process: one PyTorch step per
 * request, so that its steps alternate with ikada's and both meet the same
 * load on a shared machine. */
struct torch_child {
    pid_t pid;
    FILE *to, *from;
    const char *py;
};

/* Starts the child on shape (it builds the model and runs its warm-up step):
 * 0, or -1 with the reason printed (the baseline is then skipped). */
static int torch_start(struct torch_child *c, const char *label, const char *shape, int seq)
{
    const char *skip = getenv("LM_BENCH_TORCH");
    if (skip && strcmp(skip, "0") == 0) {
        printf("lm_bench: %s: PyTorch baseline skipped (LM_BENCH_TORCH=0)\n", label);
        return -1;
    }
    if ((c->py = torch_python()) == NULL) {
        printf("lm_bench: %s: PyTorch baseline skipped: neither LM_BENCH_PYTHON, python3 nor "
               "/usr/bin/python3 can import torch (.ci/install-deps --bench installs Debian's "
               "python3-torch)\n", label);
        return -1;
    }
    /* libgomp's idle threads spin for a while after each parallel loop; on a
     * small machine they starve OpenBLAS's threads and make torch's step 3-4x
     * slower. The baseline is torch with them sleeping. */
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    char script[512], sq[16], th[16], line[256];
    snprintf(script, sizeof script, "%s/bench/torch_lora_step.py", IK_BENCH_SRCDIR);
    snprintf(sq, sizeof sq, "%d", seq);
    snprintf(th, sizeof th, "%d", pool_threads());
    int in[2], out[2];
    if (pipe(in) || pipe(out)) {
        perror("lm_bench: pipe");
        return -1;
    }
    fflush(stdout);
    if ((c->pid = fork()) == 0) {
        if (getenv("LM_BENCH_SET_TIMEOUT")) /* PyTorch runs with OpenBLAS's default */
            unsetenv("OPENBLAS_THREAD_TIMEOUT");
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execlp(c->py, c->py, script, shape, "--seq", sq, "--threads", th, "--serve", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->to = fdopen(in[1], "w");
    c->from = fdopen(out[0], "r");
    if (c->pid > 0 && fgets(line, sizeof line, c->from) && strncmp(line, "ready", 5) == 0)
        return 0;
    printf("lm_bench: %s: PyTorch baseline failed: %s %s %s gave no 'ready' line\n", label, c->py,
           script, shape);
    fclose(c->to);
    fclose(c->from);
    if (c->pid > 0)
        waitpid(c->pid, NULL, 0);
    return -1;
}

/* Seconds of one PyTorch step, or -1. */
static double torch_step(struct torch_child *c)
{
    char line[256];
    fputs("step\n", c->to);
    fflush(c->to);
    if (fgets(line, sizeof line, c->from) == NULL || strncmp(line, "step_s=", 7) != 0)
        return -1;
    return strtod(line + 7, NULL);
}

static void torch_stop(struct torch_child *c)
{
    fclose(c->to); /* EOF: the child returns */
    fclose(c->from);
    waitpid(c->pid, NULL, 0);
}

enum { MAX_STEPS = 16 };

/* Training steps of ikada and PyTorch, alternating after a warm-up step each,
 * with 0.5 s of sgemm just before and just after each of ikada's: tokens/s of
 * both (medians), their ratio, and the share of sgemm's rate that ikada's
 * step GEMMs reach (the median over steps, each against the mean of the
 * sgemm rates around it). */
static void bench_train(const char *name, const char *shape, struct ik_lm_model *m, struct ik_lora *a,
                        int seq, int steps, double *t_out)
{
    struct ik_run r;
    struct torch_child c = {0, NULL, NULL, NULL};
    double t[MAX_STEPS], tt[MAX_STEPS], share[MAX_STEPS], before[MAX_STEPS], after[MAX_STEPS];
    int nt = 0;
    if (steps > MAX_STEPS)
        steps = MAX_STEPS;
    run_new(&r, m, a, seq, 0);
    int torch = torch_start(&c, name, shape, seq) == 0;
    run_step(&r); /* warms caches, threads and the arena's pages */
    for (int s = 0; s < steps; s++) {
        before[s] = peak_gflops(0.5);
        t[s] = run_step(&r);
        after[s] = peak_gflops(0.5);
        double x = torch ? torch_step(&c) : -1;
        if (x > 0)
            tt[nt++] = x;
    }
    double flops = ik_lm_train_gemm_flops(r.tr), p_lo = before[0], p_hi = before[0];
    for (int s = 0; s < steps; s++) {
        share[s] = flops / t[s] * 1e-9 / ((before[s] + after[s]) / 2);
        for (int k = 0; k < 2; k++) {
            double p = k ? after[s] : before[s];
            p_lo = p < p_lo ? p : p_lo;
            p_hi = p > p_hi ? p : p_hi;
        }
    }
    size_t bytes = ik_lm_train_bytes(r.tr);
    double tm = median(t, steps), sh = median(share, steps);
    printf("lm_bench: %s: training step (LoRA r=8 on q,k,v,o,gate,up,down), seq %d: %.0f tokens/s "
           "(%.2f s/step, median of %d), GEMM %.1f GFLOP/s = %.0f%% of sgemm (median over the "
           "steps, each against the sgemm just before and after it: %.0f to %.0f GFLOP/s); "
           "activations %.0f MiB\n", name, seq, seq / tm, tm, steps, flops / tm * 1e-9, 100 * sh, p_lo,
           p_hi, bytes / 1048576.0);
    if (torch) {
        torch_stop(&c);
        if (nt < steps) {
            printf("lm_bench: %s: PyTorch baseline failed after %d steps\n", name, nt);
        } else {
            double ttm = median(tt, nt);
            printf("lm_bench: %s: PyTorch (%s, fp32 eager, %d threads, OMP_WAIT_POLICY=%s), its "
                   "steps alternating with ikada's: %.0f tokens/s (%.2f s/step, median of %d)\n", name,
                   c.py, pool_threads(), getenv("OMP_WAIT_POLICY"), seq / ttm, ttm, nt);
            printf("lm_bench: %s: ikada / PyTorch = %.2fx (tokens/s)\n", name, ttm / tm);
        }
    }
    run_free(&r);
    *t_out = tm;
}

static void bench_model(const char *name, const char *shape, struct ik_lm_model *m, int seq, int steps,
                        int gen, int ckpt)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lora_config lc = {8, 16.0f, 0.0f, (1u << IK_LORA_NT) - 1};
    struct ik_lora *a;
    if (ik_lora_new(&a, &m->cfg, &lc, 1, &d))
        ik_bench_die(&d);
    double t;
    bench_train(name, shape, m, a, seq, steps, &t);
    if (ckpt) {
        struct ik_run r;
        run_new(&r, m, a, seq, IK_LM_TRAIN_CHECKPOINT);
        size_t cbytes = ik_lm_train_bytes(r.tr), bytes;
        run_step(&r);
        double ct = run_step(&r);
        run_free(&r);
        run_new(&r, m, a, seq, 0); /* for its size only */
        bytes = ik_lm_train_bytes(r.tr);
        run_free(&r);
        printf("lm_bench: %s: with activation checkpointing: %.2f s/step (%+.0f%%), activations "
               "%.0f MiB (%.0f MiB saved)\n", name, ct, 100.0 * (ct - t) / t, cbytes / 1048576.0,
               ((double)bytes - (double)cbytes) / 1048576.0);
    }

    struct ik_lm_state *st;
    if (ik_lm_state_new(&st, m, 1 + gen, 64, &d))
        ik_bench_die(&d);
    int *out = malloc(sizeof(int) * (size_t)gen), bos = 1;
    struct ik_lm_gen_opts o = {gen, 0.0f, 1.0f, 0, 0, NULL, 0};
    double t0 = ik_clock_monotonic_s();
    int k = ik_lm_generate(st, NULL, &bos, 1, &o, out, NULL, &d);
    if (k < 0)
        ik_bench_die(&d);
    printf("lm_bench: %s: greedy generation: %.1f tokens/s (%d tokens)\n", name, k / (ik_clock_monotonic_s() - t0), k);
    ik_lm_state_free(st);
    free(out);
    ik_lora_free(a);
}

int main(int argc, char **argv)
{
    (void)argc;
    /* OpenBLAS's threads spin about 0.1 s after each of the baseline's
     * threaded calls before they sleep, taking a core from the step measured
     * next (ikada's after the "before" baseline, PyTorch's after the "after"
     * one); bench/gemm_shapes measured the products that followed a baseline
     * call at half their rate. So this process (only: see torch_start) runs
     * with OPENBLAS_THREAD_TIMEOUT=4 (2^4 cycles), unless it is set. Read
     * when OpenBLAS loads, hence the re-execution. */
    if (getenv("OPENBLAS_THREAD_TIMEOUT") == NULL) {
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
        setenv("LM_BENCH_SET_TIMEOUT", "1", 1);
        execv("/proc/self/exe", argv);
        perror("lm_bench: re-executing with OPENBLAS_THREAD_TIMEOUT=4");
    }
    ik_cpu_blas_fix_core("lm_bench", argv); /* PyTorch, linked to the same OpenBLAS, inherits it */
    struct ik_diag d = IK_DIAG_INIT;
    printf("lm_bench: OpenBLAS %s kernels, %d threads, OPENBLAS_THREAD_TIMEOUT=%s (PyTorch: %s); "
           "ikada kernel pool %d threads\n", ik_cpu_blas()->get_corename(), ik_cpu_blas()->get_num_threads(),
           getenv("OPENBLAS_THREAD_TIMEOUT"), getenv("LM_BENCH_SET_TIMEOUT") ? "unset" : "the same",
           pool_threads());
    printf("lm_bench: OpenBLAS sgemm 512x4864x896: %.1f GFLOP/s\n", peak_gflops(1.0));

    struct ik_lm_model *m;
    if (ik_lm_model_load(&m, IK_BENCH_SRCDIR "/examples/models/stories260K/stories260K.bin", &d))
        ik_bench_die(&d);
    bench_model("stories260K", "stories260K", m, 512, 5, 256, 0);
    ik_lm_model_free(m);

    const char *seq_env = getenv("LM_BENCH_SEQ");
    int seq = seq_env ? (int)strtol(seq_env, NULL, 10) : 512;
    m = ik_bench_qwen_shape();
    bench_model("Qwen2.5-0.5B shape (random)", "qwen2.5-0.5b", m, seq, 3, 16, 1);
    ik_lm_model_free(m);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("lm_bench: peak RSS %.0f MiB (the PyTorch baseline runs in its own process)\n",
           ru.ru_maxrss / 1024.0);
    return 0;
}
