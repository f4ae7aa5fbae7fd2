/* tests/cuda/emu/emu_cublas.cpp - the cuBLAS and cuBLASLt calls of
 * kernels/cuda/ (gemm.cu's plans and matmul, and its cublasGemmEx for the
 * shapes cuBLASLt refuses; attention.cu's strided-batched GEMM) for the CUDA
 * emulator: a reference GEMM in fp32 behind the same
 * descriptors, as strict as the library about what it is given: the
 * layouts must agree with the operation's shape, every operand must lie in
 * device memory as far as its leading dimension reaches, an operand must be
 * aligned as the preference said the algorithm may assume, and with beta 0,
 * C is not read (the emulator's device memory starts as NaN). TF32 compute
 * rounds fp32 inputs to 10 mantissa bits (to nearest, ties to even; the
 * hardware's cvt.rna takes ties away from zero, which differs only at exact
 * ties); sums run in fp32 in order of k (the library's order is its own).
 * Types and compute types other than the module's are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>
#include <cublasLt.h>
#include <cublas_v2.h>

#include "tests/cuda/emu/cuda_emu.h"

struct cublasContext {
    int unused;
};
struct cublasLtContext {
    int unused;
};

namespace {

struct layout {
    cudaDataType type;
    uint64_t rows, cols;
    int64_t ld;
};
struct matmul_desc {
    cublasComputeType_t compute;
    cublasOperation_t ta, tb;
};
struct preference {
    uint32_t align[4]; /* A, B, C, D: the alignment an algorithm may assume */
};
struct algo {
    uint32_t magic;
    uint32_t align[4];
};
enum { ALGO_MAGIC = 0x656d7531 };

template <class Mine, class Opaque> Mine *mine(Opaque *o)
{
    static_assert(sizeof(Mine) <= sizeof(Opaque), "the emulator's descriptor fits the opaque one");
    return reinterpret_cast<Mine *>(o->data);
}

size_t type_bytes(cudaDataType t) { return t == CUDA_R_16BF ? 2 : 4; }

float tf32(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u)
        u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
    memcpy(&x, &u, 4);
    return x;
}

float load(const void *p, cudaDataType t, size_t i, bool round_tf32)
{
    if (t == CUDA_R_16BF)
        return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    float x = ((const float *)p)[i];
    return round_tf32 ? tf32(x) : x;
}

void store(void *p, cudaDataType t, size_t i, float x)
{
    if (t == CUDA_R_16BF)
        ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(x);
    else
        ((float *)p)[i] = x;
}

bool reaches(const char *call, const char *what, const void *p, cudaDataType t, uint64_t rows,
             uint64_t cols, int64_t ld, long long stride, int batch)
{
    size_t extent = (size_t)ld * (cols - 1) + rows + (size_t)stride * (size_t)(batch - 1);
    if (ik_emu::in_device_memory(p, extent * type_bytes(t)))
        return true;
    fprintf(stderr, "ikada CUDA emulator: %s: %s (%p, %llu x %llu, ld %lld%s) reaches past device "
            "memory\n", call, what, p, (unsigned long long)rows, (unsigned long long)cols,
            (long long)ld, batch > 1 ? ", batched" : "");
    return false;
}

/* D = alpha op(A) op(B) + beta C, column-major, one batch item. */
void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
          const void *A, cudaDataType at, int64_t lda, const void *B, cudaDataType bt, int64_t ldb,
          float beta, const void *C, cudaDataType ct, int64_t ldc, void *D, cudaDataType dt,
          int64_t ldd, bool round_tf32)
{
    std::vector<float> a((size_t)m * k), b((size_t)n * k);
    for (int i = 0; i < m; i++)
        for (int l = 0; l < k; l++)
            a[(size_t)i * k + l] = load(A, at, ta == CUBLAS_OP_N ? i + (size_t)l * lda : l + (size_t)i * lda, round_tf32);
    for (int j = 0; j < n; j++)
        for (int l = 0; l < k; l++)
            b[(size_t)j * k + l] = load(B, bt, tb == CUBLAS_OP_N ? l + (size_t)j * ldb : j + (size_t)l * ldb, round_tf32);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float s = 0.0f;
            for (int l = 0; l < k; l++)
                s += a[(size_t)i * k + l] * b[(size_t)j * k + l];
            float out = alpha * s;
            if (beta != 0.0f)
                out += beta * load(C, ct, i + (size_t)j * ldc, false);
            store(D, dt, i + (size_t)j * ldd, out);
        }
}

bool aligned(const void *p, uint32_t a) { return a == 0 || (uintptr_t)p % a == 0; }

} /* namespace */

extern "C" {

const char *cublasGetStatusString(cublasStatus_t st)
{
    switch (st) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "unknown error";
    }
}

cublasStatus_t cublasCreate_v2(cublasHandle_t *h)
{
    *h = new cublasContext();
    return CUBLAS_STATUS_SUCCESS;
}

/* cublasGemmStridedBatchedEx and cublasGemmEx: batches of
 * C_i = alpha op(A_i) op(B_i) + beta C_i with the types the module asks for
 * (attention.cu: fp32 with TF32 products; gemm.cu's fallback: fp32 or BF16
 * in, fp32 or BF16 out, fp32 products); anything else is not emulated. */
static cublasStatus_t gemm_batches(const char *call, cublasHandle_t h, cublasOperation_t ta,
                                   cublasOperation_t tb, int m, int n, int k, const void *alpha,
                                   const void *A, cudaDataType at, int lda, long long sa,
                                   const void *B, cudaDataType bt, int ldb, long long sb,
                                   const void *beta, void *C, cudaDataType ct, int ldc,
                                   long long sc, int batch, cublasComputeType_t compute)
{
    if (h == NULL)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < (ta == CUBLAS_OP_N ? m : k) ||
        ldb < (tb == CUBLAS_OP_N ? k : n) || ldc < m || lda < 1 || ldb < 1 || ldc < 1)
        return CUBLAS_STATUS_INVALID_VALUE;
    bool tf32_products = compute == CUBLAS_COMPUTE_32F_FAST_TF32;
    bool fp32_in = at == CUDA_R_32F && bt == CUDA_R_32F;
    bool bf16_in = at == CUDA_R_16BF && bt == CUDA_R_16BF;
    if ((compute != CUBLAS_COMPUTE_32F && !tf32_products) || !(fp32_in || bf16_in) ||
        (tf32_products && !fp32_in) || (ct != CUDA_R_32F && ct != CUDA_R_16BF))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (m == 0 || n == 0 || batch == 0)
        return CUBLAS_STATUS_SUCCESS;
    float al = *(const float *)alpha, be = *(const float *)beta;
    if (k > 0 &&
        (!reaches(call, "A", A, at, ta == CUBLAS_OP_N ? m : k, ta == CUBLAS_OP_N ? k : m, lda, sa, batch) ||
         !reaches(call, "B", B, bt, tb == CUBLAS_OP_N ? k : n, tb == CUBLAS_OP_N ? n : k, ldb, sb, batch)))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (!reaches(call, "C", C, ct, m, n, ldc, sc, batch))
        return CUBLAS_STATUS_INVALID_VALUE;
    for (int i = 0; i < batch; i++)
        gemm(ta, tb, m, n, k, al, (const char *)A + (size_t)sa * i * type_bytes(at), at, lda,
             (const char *)B + (size_t)sb * i * type_bytes(bt), bt, ldb, be,
             (const char *)C + (size_t)sc * i * type_bytes(ct), ct, ldc,
             (char *)C + (size_t)sc * i * type_bytes(ct), ct, ldc, tf32_products);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta,
                                          cublasOperation_t tb, int m, int n, int k,
                                          const void *alpha, const void *A, cudaDataType at,
                                          int lda, long long sa, const void *B, cudaDataType bt,
                                          int ldb, long long sb, const void *beta, void *C,
                                          cudaDataType ct, int ldc, long long sc, int batch,
                                          cublasComputeType_t compute, cublasGemmAlgo_t algo)
{
    (void)algo;
    return gemm_batches("cublasGemmStridedBatchedEx", h, ta, tb, m, n, k, alpha, A, at, lda, sa, B,
                        bt, ldb, sb, beta, C, ct, ldc, sc, batch, compute);
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const void *alpha, const void *A, cudaDataType at, int lda,
                            const void *B, cudaDataType bt, int ldb, const void *beta, void *C,
                            cudaDataType ct, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t algo)
{
    (void)algo;
    return gemm_batches("cublasGemmEx", h, ta, tb, m, n, k, alpha, A, at, lda, 0, B, bt, ldb, 0,
                        beta, C, ct, ldc, 0, 1, compute);
}

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h)
{
    *h = new cublasLtContext();
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t compute,
                                        cudaDataType_t scale)
{
    if (scale != CUDA_R_32F ||
        (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_TF32))
        return CUBLAS_STATUS_NOT_SUPPORTED; /* what gemm.cu asks for; anything else is not emulated */
    *d = new cublasLtMatmulDescOpaque_t();
    *mine<matmul_desc>(*d) = matmul_desc{compute, CUBLAS_OP_N, CUBLAS_OP_N};
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d)
{
    delete d;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
                                              cublasLtMatmulDescAttributes_t attr, const void *buf,
                                              size_t bytes)
{
    if (buf == NULL || bytes != sizeof(int32_t))
        return CUBLAS_STATUS_INVALID_VALUE;
    int32_t v;
    memcpy(&v, buf, sizeof v);
    if (attr == CUBLASLT_MATMUL_DESC_TRANSA)
        mine<matmul_desc>(d)->ta = (cublasOperation_t)v;
    else if (attr == CUBLASLT_MATMUL_DESC_TRANSB)
        mine<matmul_desc>(d)->tb = (cublasOperation_t)v;
    else
        return CUBLAS_STATUS_NOT_SUPPORTED; /* none other is emulated */
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld)
{
    if ((type != CUDA_R_32F && type != CUDA_R_16BF) || ld < (int64_t)rows || ld < 1)
        return CUBLAS_STATUS_INVALID_VALUE;
    *l = new cublasLtMatrixLayoutOpaque_t();
    *mine<layout>(*l) = layout{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l)
{
    delete l;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p)
{
    *p = new cublasLtMatmulPreferenceOpaque_t();
    *mine<preference>(*p) = preference{{256, 256, 256, 256}};
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p)
{
    delete p;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    const void *buf, size_t bytes)
{
    if (buf == NULL)
        return CUBLAS_STATUS_INVALID_VALUE;
    int slot = attr == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES   ? 0
               : attr == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES ? 1
               : attr == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES ? 2
               : attr == CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES ? 3
                                                                    : -1;
    if (slot >= 0) {
        if (bytes != sizeof(uint32_t))
            return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&mine<preference>(p)->align[slot], buf, sizeof(uint32_t));
        return CUBLAS_STATUS_SUCCESS;
    }
    if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES)
        return bytes == sizeof(uint64_t) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_NOT_SUPPORTED;
}

/* The shape the four layouts give, or false when they disagree. */
static bool shape(const matmul_desc *d, const layout *a, const layout *b, const layout *c,
                  const layout *dd, uint64_t *m, uint64_t *n, uint64_t *k)
{
    *m = dd->rows;
    *n = dd->cols;
    *k = d->ta == CUBLAS_OP_N ? a->cols : a->rows;
    uint64_t am = d->ta == CUBLAS_OP_N ? a->rows : a->cols;
    uint64_t bk = d->tb == CUBLAS_OP_N ? b->rows : b->cols, bn = d->tb == CUBLAS_OP_N ? b->cols : b->rows;
    return am == *m && bk == *k && bn == *n && c->rows == *m && c->cols == *n;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B,
                                              cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int *found)
{
    uint64_t m, n, k;
    if (h == NULL || requested < 1)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (!shape(mine<matmul_desc>(desc), mine<layout>(A), mine<layout>(B), mine<layout>(C),
               mine<layout>(D), &m, &n, &k))
        return CUBLAS_STATUS_INVALID_VALUE;
    memset(&results[0], 0, sizeof results[0]);
    /* IKADA_EMU_LT_NO_ALGO=1: no algorithm for any shape, as the real
     * heuristic answers for one it cannot run (gemm.cu then falls back). */
    const char *refuse = getenv("IKADA_EMU_LT_NO_ALGO");
    if (refuse != NULL && strcmp(refuse, "1") == 0) {
        *found = 0;
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    algo *a = reinterpret_cast<algo *>(results[0].algo.data);
    a->magic = ALGO_MAGIC;
    memcpy(a->align, mine<preference>(pref)->align, sizeof a->align);
    results[0].state = CUBLAS_STATUS_SUCCESS;
    results[0].wavesCount = 1.0f;
    *found = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const void *alpha,
                              const void *A, cublasLtMatrixLayout_t Ad, const void *B,
                              cublasLtMatrixLayout_t Bd, const void *beta, const void *C,
                              cublasLtMatrixLayout_t Cd, void *D, cublasLtMatrixLayout_t Dd,
                              const cublasLtMatmulAlgo_t *al, void *workspace, size_t ws_bytes,
                              cudaStream_t stream)
{
    (void)workspace, (void)ws_bytes, (void)stream;
    const char *call = "cublasLtMatmul";
    const matmul_desc *d = mine<matmul_desc>(desc);
    const layout *a = mine<layout>(Ad), *b = mine<layout>(Bd), *c = mine<layout>(Cd), *dd = mine<layout>(Dd);
    uint64_t m, n, k;
    if (h == NULL || !shape(d, a, b, c, dd, &m, &n, &k))
        return CUBLAS_STATUS_INVALID_VALUE;
    const algo *g = reinterpret_cast<const algo *>(al->data);
    if (g->magic != ALGO_MAGIC)
        return CUBLAS_STATUS_INVALID_VALUE;
    const void *ptr[4] = {A, B, C, D};
    for (int i = 0; i < 4; i++)
        if (!aligned(ptr[i], g->align[i])) {
            fprintf(stderr, "ikada CUDA emulator: %s: operand %c at %p is not aligned to the %u "
                    "bytes its algorithm was chosen for\n", call, "ABCD"[i], ptr[i], g->align[i]);
            return CUBLAS_STATUS_NOT_SUPPORTED;
        }
    float alf = *(const float *)alpha, bet = *(const float *)beta;
    if ((k > 0 && (!reaches(call, "A", A, a->type, a->rows, a->cols, a->ld, 0, 1) ||
                   !reaches(call, "B", B, b->type, b->rows, b->cols, b->ld, 0, 1))) ||
        (bet != 0.0f && !reaches(call, "C", C, c->type, c->rows, c->cols, c->ld, 0, 1)) ||
        !reaches(call, "D", D, dd->type, dd->rows, dd->cols, dd->ld, 0, 1))
        return CUBLAS_STATUS_INVALID_VALUE;
    gemm(d->ta, d->tb, (int)m, (int)n, (int)k, alf, A, a->type, a->ld, B, b->type, b->ld, bet, C,
         c->type, c->ld, D, dd->type, dd->ld, d->compute == CUBLAS_COMPUTE_32F_FAST_TF32);
    return CUBLAS_STATUS_SUCCESS;
}

} /* extern "C" */
