/* kernels/cuda/gemm.cu - the module's GEMM: row-major C = alpha op(A) op(B) +
 * beta C through cuBLASLt, fp32 accumulation, A and B fp32 (products in fp32
 * or, asked for, TF32) or BF16, C fp32 or BF16 (cuda_ops.h, ->gemm), and the
 * fp32 <-> BF16 conversions.
 *
 * cuBLASLt is column-major; a row-major (r, c) matrix with leading dimension
 * ld is the column-major (c, r) one with the same ld, its transpose. So
 * C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T: B's buffer is
 * cuBLASLt's first operand, A's the second, and m, n swap.
 *
 * Choosing an algorithm (cublasLtMatmulAlgoGetHeuristic) costs tens of
 * microseconds: the descriptors and the chosen algorithm are kept per shape
 * in a small table, as llm.c's wrapper does not (it asks on every call). One
 * 32 MiB workspace, the size llm.c gives Hopper, serves every call, and the
 * plan knows how far each pointer is aligned (a LoRA tensor inside the
 * adapter's one array may be aligned to 4 bytes only); all work
 * is on the legacy default stream, like the module's other kernels, so it is
 * never used by two GEMMs at once.
 *
 * A shape cuBLASLt offers no algorithm for (an odd leading dimension, a
 * pointer aligned to 4 bytes: its heuristic may refuse what cuBLAS takes) runs
 * through cublasGemmEx instead, the same product with the same fp32
 * accumulation, and says so once on stderr: a first run on a new GPU goes on
 * and shows which shape to look at, rather than stopping at the first
 * refusal. */
#include <mutex>
#include <string.h>
#include <cublas_v2.h>
#include <cublasLt.h>
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_util.h"

enum { WORKSPACE_BYTES = 32 << 20, PLAN_SLOTS = 256 };

/* What decides a plan. */
struct plan_key {
    int ta, tb, M, N, K, lda, ldb, ldc, ab_type, c_type, beta_zero;
    int align_a, align_b, align_c; /* bytes each pointer is aligned to, up to 256 */
};

struct plan {
    int used;
    int legacy; /* cuBLASLt offered no algorithm: cublasGemmEx runs it */
    struct plan_key key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, c; /* cuBLASLt's operands: a = our B, b = our A */
    cublasLtMatmulAlgo_t algo;
};

static cublasLtHandle_t lt;
static void *workspace;
static struct plan plans[PLAN_SLOTS];
static std::mutex plans_lock; /* the table, held until a GEMM using a plan is queued */

static int lt_fail(const char *call, cublasStatus_t st)
{
    char text[160];
    snprintf(text, sizeof text, "%s", cublasGetStatusString(st));
    return ik_cuda__bad_arg("gemm", "%s: %s", call, text);
}

/* The handle and the workspace, made on first use. A failure is kept as text
 * and reported again by every later call (the error text is per thread and
 * per call; the failure is for good). */
static int lt_ready(void)
{
    static std::once_flag once;
    static char setup_error[200];
    std::call_once(once, [] {
        cublasStatus_t st = cublasLtCreate(&lt);
        if (st != CUBLAS_STATUS_SUCCESS) {
            snprintf(setup_error, sizeof setup_error, "cublasLtCreate: %s", cublasGetStatusString(st));
            return;
        }
        cudaError_t e = cudaMalloc(&workspace, WORKSPACE_BYTES);
        if (e != cudaSuccess) {
            snprintf(setup_error, sizeof setup_error, "cudaMalloc for its %d MiB workspace: %s",
                     WORKSPACE_BYTES >> 20, cudaGetErrorString(e));
            cudaGetLastError(); /* not sticky: the next call starts clean */
        }
    });
    return setup_error[0] ? ik_cuda__bad_arg("gemm", "%s", setup_error) : 0;
}

/* The largest power of two up to 256 that divides p's address. */
static int alignment(const void *p)
{
    uintptr_t u = (uintptr_t)p;
    int a = 1;
    while (a < 256 && u % (uintptr_t)(2 * a) == 0)
        a *= 2;
    return a;
}

static cudaDataType_t dtype(int t) { return t == IK_CUDA_BF16 ? CUDA_R_16BF : CUDA_R_32F; }

/* fp32 products, or TF32's on the tensor cores for IK_CUDA_TF32 operands. */
static cublasComputeType_t compute_type(int ab_type)
{
    return ab_type == IK_CUDA_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

static size_t key_hash(const struct plan_key *k)
{
    const unsigned char *p = (const unsigned char *)k;
    size_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof *k; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Destroys what plan_build made (NULL members are skipped). */
static void plan_destroy(struct plan *p)
{
    if (p->desc)
        cublasLtMatmulDescDestroy(p->desc);
    cublasLtMatrixLayout_t *layouts[] = {&p->a, &p->b, &p->c};
    for (int i = 0; i < 3; i++)
        if (*layouts[i])
            cublasLtMatrixLayoutDestroy(*layouts[i]);
    memset(p, 0, sizeof *p);
}

int ik_cuda__cublas(cublasHandle_t *handle, const char *what)
{
    static std::once_flag once;
    static cublasHandle_t blas;
    static cublasStatus_t created;
    std::call_once(once, [] { created = cublasCreate(&blas); });
    *handle = blas;
    if (created != CUBLAS_STATUS_SUCCESS)
        return ik_cuda__bad_arg(what, "cublasCreate: %s", cublasGetStatusString(created));
    return 0;
}

/* Marks p to run through cublasGemmEx (its handle made on first need) and
 * says so once, with the shape and the pointers' alignment. */
static int plan_make_legacy(struct plan *p, const char *why)
{
    cublasHandle_t blas;
    if (ik_cuda__cublas(&blas, "gemm") != 0)
        return -1;
    const struct plan_key *k = &p->key;
    fprintf(stderr, "ikada CUDA module: gemm: cuBLASLt %s for M %d N %d K %d (ta %d tb %d, lda %d "
            "ldb %d ldc %d, %s in, %s out, alignment %d/%d/%d): cublasGemmEx runs this shape\n",
            why, k->M, k->N, k->K, k->ta, k->tb, k->lda, k->ldb, k->ldc,
            k->ab_type == IK_CUDA_BF16 ? "BF16" : k->ab_type == IK_CUDA_TF32 ? "TF32" : "fp32",
            k->c_type == IK_CUDA_BF16 ? "BF16" : "fp32",
            k->align_a, k->align_b, k->align_c);
    p->legacy = 1;
    return 0;
}

/* plan_build's work: p zeroed, each member set as it is made. */
static int plan_build_into(struct plan *p, const struct plan_key *k)
{
    cublasStatus_t st;
    cublasOperation_t opa = k->tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = k->ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    if ((st = cublasLtMatmulDescCreate(&p->desc, compute_type(k->ab_type), CUDA_R_32F)) !=
        CUBLAS_STATUS_SUCCESS)
        return lt_fail("cublasLtMatmulDescCreate", st);
    cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa);
    cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb);
    /* Our B (row-major (K,N), or (N,K) when tb) is cuBLASLt's A. */
    uint64_t ar = k->tb ? k->K : k->N, ac = k->tb ? k->N : k->K;
    uint64_t br = k->ta ? k->M : k->K, bc = k->ta ? k->K : k->M;
    if ((st = cublasLtMatrixLayoutCreate(&p->a, dtype(k->ab_type), ar, ac, k->ldb)) != CUBLAS_STATUS_SUCCESS ||
        (st = cublasLtMatrixLayoutCreate(&p->b, dtype(k->ab_type), br, bc, k->lda)) != CUBLAS_STATUS_SUCCESS ||
        (st = cublasLtMatrixLayoutCreate(&p->c, dtype(k->c_type), k->N, k->M, k->ldc)) != CUBLAS_STATUS_SUCCESS)
        return lt_fail("cublasLtMatrixLayoutCreate", st);
    cublasLtMatmulPreference_t pref;
    if ((st = cublasLtMatmulPreferenceCreate(&pref)) != CUBLAS_STATUS_SUCCESS)
        return lt_fail("cublasLtMatmulPreferenceCreate", st);
    uint64_t ws = WORKSPACE_BYTES;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    /* The heuristic assumes 256-byte aligned operands unless told: a LoRA
     * tensor inside the adapter's one array may be aligned to 4 only.
     * cuBLASLt's A is our B, its B our A. */
    uint32_t al_a = (uint32_t)k->align_b, al_b = (uint32_t)k->align_a, al_c = (uint32_t)k->align_c;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c);
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    st = cublasLtMatmulAlgoGetHeuristic(lt, p->desc, p->a, p->b, p->c, p->c, pref, 1, &res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    p->key = *k;
    p->used = 1;
    if (st == CUBLAS_STATUS_SUCCESS && found > 0) {
        p->algo = res.algo;
        return 0;
    }
    if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED)
        return lt_fail("cublasLtMatmulAlgoGetHeuristic", st);
    return plan_make_legacy(p, "has no algorithm");
}
/* Builds the descriptors and asks the heuristic for the best algorithm; on
 * failure p is left free, with nothing of it kept. */
static int plan_build(struct plan *p, const struct plan_key *k)
{
    memset(p, 0, sizeof *p);
    int rc = plan_build_into(p, k);
    if (rc != 0)
        plan_destroy(p);
    return rc;
}

/* The plan of k: found in the table, or built into a free or evicted slot. */
static struct plan *plan_of(const struct plan_key *k) /* plans_lock held */
{
    size_t h = key_hash(k) % PLAN_SLOTS;
    for (size_t i = 0; i < PLAN_SLOTS; i++) {
        struct plan *p = &plans[(h + i) % PLAN_SLOTS];
        if (p->used && memcmp(&p->key, k, sizeof *k) == 0)
            return p;
        if (!p->used)
            return plan_build(p, k) == 0 ? p : NULL;
    }
    struct plan *p = &plans[h]; /* full: replace the home slot's plan */
    plan_destroy(p);
    return plan_build(p, k) == 0 ? p : NULL;
}

/* C (M,N), leading dimension ldc, = beta C: the whole GEMM when K is 0
 * (beta 0 writes zeros, as BLAS does, whatever C held). */
template <typename T>
__global__ void scale_c_kernel(T *C, size_t M, unsigned N, size_t ldc, float beta)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < M * N;
         i += (size_t)gridDim.x * blockDim.x) {
        T *c = C + (i / N) * ldc + i % N;
        *c = (T)(beta == 0.0f ? 0.0f : beta * (float)*c);
    }
}

static int scale_c(void *C, int M, int N, int ldc, float beta, int c_type)
{
    size_t n = (size_t)M * N;
    if (c_type == IK_CUDA_BF16)
        scale_c_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>((__nv_bfloat16 *)C, (size_t)M,
                                                                 (unsigned)N, (size_t)ldc, beta);
    else
        scale_c_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>((float *)C, (size_t)M, (unsigned)N,
                                                                 (size_t)ldc, beta);
    return ik_cuda__launched("gemm (K = 0)");
}

extern "C" int ik_cuda_gemm(int ta, int tb, int M, int N, int K, float alpha, const void *A, int lda,
                            const void *B, int ldb, float beta, void *C, int ldc, int ab_type,
                            int c_type)
{
    if (M < 0 || N < 0 || K < 0)
        return ik_cuda__bad_arg("gemm", "M %d, N %d, K %d", M, N, K);
    if (M == 0 || N == 0)
        return 0;
    if ((ab_type != IK_CUDA_F32 && ab_type != IK_CUDA_BF16 && ab_type != IK_CUDA_TF32) ||
        (c_type != IK_CUDA_F32 && c_type != IK_CUDA_BF16))
        return ik_cuda__bad_arg("gemm", "types %d and %d (expected A and B IK_CUDA_F32, "
                                "IK_CUDA_BF16 or IK_CUDA_TF32, C IK_CUDA_F32 or IK_CUDA_BF16)",
                                ab_type, c_type);
    if (lda < (ta ? M : K) || ldb < (tb ? K : N) || ldc < N)
        return ik_cuda__bad_arg("gemm", "leading dimensions %d, %d, %d too small for M %d N %d K %d",
                                lda, ldb, ldc, M, N, K);
    if (K == 0)
        return scale_c(C, M, N, ldc, beta, c_type);
    if (lt_ready() != 0)
        return -1;
    struct plan_key k = {ta != 0, tb != 0, M, N, K, lda, ldb, ldc, ab_type, c_type, beta == 0.0f,
                         alignment(A), alignment(B), alignment(C)};
    /* Held until the GEMM is queued: another thread could evict the plan. */
    std::lock_guard<std::mutex> g(plans_lock);
    struct plan *p = plan_of(&k);
    if (p == NULL)
        return -1;
    cublasStatus_t st;
    if (!p->legacy) {
        st = cublasLtMatmul(lt, p->desc, &alpha, B, p->a, A, p->b, &beta, C, p->c, C, p->c, &p->algo,
                            workspace, WORKSPACE_BYTES, 0);
        if (st != CUBLAS_STATUS_SUCCESS)
            return lt_fail("cublasLtMatmul", st);
    } else {
        /* The same column-major swap as the plan's layouts. */
        cublasHandle_t blas;
        if (ik_cuda__cublas(&blas, "gemm") != 0)
            return -1;
        st = cublasGemmEx(blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
                          &alpha, B, dtype(ab_type), ldb, A, dtype(ab_type), lda, &beta, C,
                          dtype(c_type), ldc, compute_type(ab_type), CUBLAS_GEMM_DEFAULT);
        if (st != CUBLAS_STATUS_SUCCESS)
            return lt_fail("cublasGemmEx", st);
    }
    /* Named by its types, so that a profile tells the kinds of GEMM apart. */
    static const char *const names[3][2] = {{"gemm (fp32 -> fp32)", "gemm (fp32 -> BF16)"},
                                            {"gemm (BF16 -> fp32)", "gemm (BF16 -> BF16)"},
                                            {"gemm (TF32 -> fp32)", "gemm (TF32 -> BF16)"}};
    return ik_cuda__queued(names[ab_type][c_type == IK_CUDA_BF16]);
}

__global__ void to_bf16_kernel(__nv_bfloat16 *out, const float *x, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(x[i]);
}

__global__ void from_bf16_kernel(float *out, const __nv_bfloat16 *x, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = __bfloat162float(x[i]);
}

__global__ void to_bf16_2d_kernel(__nv_bfloat16 *out, size_t ld_out, const float *x, size_t ld_x,
                                  size_t rows, unsigned cols, unsigned out_cols, float scale)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < rows * out_cols;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / out_cols;
        unsigned c = (unsigned)(i % out_cols);
        out[r * ld_out + c] = c < cols ? __float2bfloat16_rn(__fmul_rn(scale, x[r * ld_x + c]))
                                       : __float2bfloat16_rn(0.0f);
    }
}

extern "C" int ik_cuda_to_bf16_2d(uint16_t *out, int ld_out, const float *x, int ld_x, int rows,
                                  int cols, int out_cols, float scale)
{
    if (rows < 0 || cols < 0 || out_cols < cols || ld_out < out_cols || (rows > 0 && cols > 0 && ld_x < cols))
        return ik_cuda__bad_arg("to_bf16_2d", "rows %d, cols %d, out_cols %d, ld_out %d, ld_x %d "
                                "(expected cols <= out_cols <= ld_out, cols <= ld_x)",
                                rows, cols, out_cols, ld_out, ld_x);
    size_t n = (size_t)rows * (size_t)out_cols;
    if (n == 0)
        return 0;
    to_bf16_2d_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(
        (__nv_bfloat16 *)out, (size_t)ld_out, x, (size_t)ld_x, (size_t)rows, (unsigned)cols,
        (unsigned)out_cols, scale);
    return ik_cuda__launched("to_bf16_2d");
}

extern "C" int ik_cuda_to_bf16(uint16_t *out, const float *x, size_t n)
{
    if (n == 0)
        return 0;
    to_bf16_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>((__nv_bfloat16 *)out, x, n);
    return ik_cuda__launched("to_bf16");
}

extern "C" int ik_cuda_from_bf16(float *out, const uint16_t *x, size_t n)
{
    if (n == 0)
        return 0;
    from_bf16_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, (const __nv_bfloat16 *)x, n);
    return ik_cuda__launched("from_bf16");
}
