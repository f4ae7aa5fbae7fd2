/* kernels/cuda/attention_cudnn.cu - causal grouped-query attention and its
 * backward through cuDNN's fused flash-attention engines (cuda_ops.h:
 * ->sdpa_available, ->sdpa_scratch, ->sdpa_fwd, ->sdpa_bwd), built from the
 * C backend API (cudnn_graph.h) as cudnn-frontend's CompositeSDPANode and
 * CompositeSDPABackwardNode lower them; the frontend itself is C++ and not
 * obtainable here.
 *
 * Why .cu and not .c: the entries convert fp32 to BF16 and accumulate BF16
 * gradients into fp32 (a small kernel below), and report failures through
 * module.cu's per-thread error text (cuda_util.h, CUDA C++); the cuDNN part
 * is host code written in C style.
 *
 * libcudnn is never linked: it is dlopen()ed on first use ($IKADA_CUDNN_LIB
 * when set, and then only that path, so an explicit choice is never
 * replaced by whatever the loader finds; else "libcudnn.so.9"; on the GPU
 * machines cuDNN is pip's nvidia-cudnn-cu13, whose lib folder must be on
 * LD_LIBRARY_PATH or its libcudnn.so.9 named by IKADA_CUDNN_LIB), its
 * sub-libraries from its own folder (load_siblings), and the dozen
 * functions used are dlsym()ed, so the module loads without it and
 * ->sdpa_available says why when it is missing. The header gives only the
 * types and enums (cuDNN 9.19's; the backend's numbering is stable in 9.x).
 *
 * Graphs (B = 1; Q, O, dO (1,H,T,hd), K, V (1,K,T,hd) with the strides of
 * row-major (T, H*hd) and (T, K*hd), so no copy reorders heads; GQA by the
 * head counts alone; Stats (1,H,T,1) fp32):
 *   forward:  S = scale Q K^T -> causal mask (and the sliding window) ->
 *             max, sub, exp, sum, div (P, as BF16) with Stats = max + log(sum)
 *             -> O = P V.
 *   backward: sum(dO * O) per row -> S recomputed, minus Stats, masked, exp
 *             (P) -> dV = P^T dO; dP = dO V^T; dS = scale P (dP - sum) ->
 *             dK = dS^T Q, dQ = dS K through an fp32 accumulator. With H > K
 *             dK and dV are formed per query head and reduced over the group.
 * Each graph is finalized once per (bucket(T), H, K, hd, window) and kept,
 * with its plan (graph building is the slow part): inputs are padded with
 * zero rows to the bucket's length (see bucket()). One workspace, grown on
 * demand, serves every plan. The plans and the handle belong to the device current
 * at first use (the training step uses one device). */
#include <dlfcn.h>
#include <glob.h>
#include <math.h>
#include <mutex>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cudnn_graph.h>

#include "kernels/cuda/cuda_util.h"
#include "kernels/cuda/scratch.h"

/* ---- libcudnn, loaded on first use ---- */

struct cudnn_api {
    size_t (*get_version)(void);
    const char *(*error_string)(cudnnStatus_t);
    void (*last_error_string)(char *, size_t); /* may be NULL */
    cudnnStatus_t (*create)(cudnnHandle_t *);
    cudnnStatus_t (*set_stream)(cudnnHandle_t, cudaStream_t);
    cudnnStatus_t (*create_desc)(cudnnBackendDescriptorType_t, cudnnBackendDescriptor_t *);
    cudnnStatus_t (*destroy_desc)(cudnnBackendDescriptor_t);
    cudnnStatus_t (*set_attr)(cudnnBackendDescriptor_t, cudnnBackendAttributeName_t,
                              cudnnBackendAttributeType_t, int64_t, const void *);
    cudnnStatus_t (*get_attr)(cudnnBackendDescriptor_t, cudnnBackendAttributeName_t,
                              cudnnBackendAttributeType_t, int64_t, int64_t *, void *);
    cudnnStatus_t (*finalize)(cudnnBackendDescriptor_t);
    cudnnStatus_t (*execute)(cudnnHandle_t, cudnnBackendDescriptor_t, cudnnBackendDescriptor_t);
    cudnnHandle_t handle;
    size_t version;
    char why[400]; /* the load's failure, "" when loaded */
};

static struct cudnn_api dnn;
/* Guards the plan cache and the workspace; the loading runs once. */
static std::mutex lock;

/* cuDNN 9.x numbers versions major*10000 + minor*100 + patch. */
static void version_text(char *buf, size_t cap, size_t v)
{
    snprintf(buf, cap, "cuDNN %zu.%zu.%zu", v / 10000, v / 100 % 100, v % 100);
}

static void *open_lib(void)
{
    const char *env = getenv("IKADA_CUDNN_LIB");
    void *lib = NULL;
    if (env != NULL && *env != '\0') {
        if ((lib = dlopen(env, RTLD_NOW | RTLD_LOCAL)) == NULL)
            snprintf(dnn.why, sizeof dnn.why, "cuDNN: IKADA_CUDNN_LIB=%s: %s", env, dlerror());
        return lib; /* a path asked for is not silently replaced by another */
    }
    if ((lib = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL)) == NULL)
        snprintf(dnn.why, sizeof dnn.why, "cuDNN: libcudnn.so.9 not found (%s; set "
                 "IKADA_CUDNN_LIB to its path)", dlerror());
    return lib;
}

#define SYM(field, name) (*(void **)&dnn.field = dlsym(lib, name)) == NULL ? name :

/* The first missing symbol's name, or NULL when all are there. */
static const char *bind(void *lib)
{
    *(void **)&dnn.last_error_string = dlsym(lib, "cudnnGetLastErrorString");
    return SYM(get_version, "cudnnGetVersion") SYM(error_string, "cudnnGetErrorString")
        SYM(create, "cudnnCreate") SYM(set_stream, "cudnnSetStream")
        SYM(create_desc, "cudnnBackendCreateDescriptor")
        SYM(destroy_desc, "cudnnBackendDestroyDescriptor")
        SYM(set_attr, "cudnnBackendSetAttribute") SYM(get_attr, "cudnnBackendGetAttribute")
        SYM(finalize, "cudnnBackendFinalize") SYM(execute, "cudnnBackendExecute") NULL;
}
#undef SYM

/* Version 9.0 or later (any sequence length, GQA) within major 9 (the enums
 * this file was built with), and not 9.10.0/9.10.1, whose BF16 SDPA the
 * frontend refuses for known bugs. */
static int version_ok(size_t v)
{
    char name[64];
    version_text(name, sizeof name, v);
    if (v < 90000 || v >= 100000)
        snprintf(dnn.why, sizeof dnn.why, "cuDNN: %s loaded, but this module needs 9.x", name);
    else if (v == 91000 || v == 91001)
        snprintf(dnn.why, sizeof dnn.why, "cuDNN: %s has known SDPA bugs (the frontend refuses "
                 "it); use 9.10.2 or later", name);
    else
        return 1;
    return 0;
}

/* libcudnn.so.9 loads its sub-libraries (libcudnn_graph, _engines_*, ...)
 * by soname, and LD_LIBRARY_PATH comes before its own folder: another
 * cuDNN there would be mixed in (CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED at
 * the first graph). Loading the loaded one's siblings from its folder by
 * full path first makes those the ones its sonames find (PyTorch does the
 * same). libcudnn_graph first: the others need it. Best effort: a sibling
 * that does not load is left for cuDNN to report. */
static void load_siblings(void)
{
    Dl_info info;
    if (dladdr((void *)dnn.get_version, &info) == 0 || info.dli_fname == NULL)
        return;
    const char *slash = strrchr(info.dli_fname, '/');
    if (slash == NULL)
        return;
    char pattern[4096];
    int dir = (int)(slash - info.dli_fname);
    snprintf(pattern, sizeof pattern, "%.*s/libcudnn_graph.so.9", dir, info.dli_fname);
    dlopen(pattern, RTLD_NOW | RTLD_LOCAL);
    snprintf(pattern, sizeof pattern, "%.*s/libcudnn_*.so.9", dir, info.dli_fname);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++)
        dlopen(g.gl_pathv[i], RTLD_NOW | RTLD_LOCAL);
    globfree(&g);
}

static void load_once(void)
{
    void *lib = open_lib();
    if (lib == NULL)
        return;
    const char *missing = bind(lib);
    if (missing != NULL) {
        snprintf(dnn.why, sizeof dnn.why, "cuDNN: the loaded libcudnn has no %s", missing);
        return;
    }
    load_siblings();
    dnn.version = dnn.get_version();
    if (!version_ok(dnn.version))
        return;
    cudnnStatus_t st = dnn.create(&dnn.handle);
    if (st == CUDNN_STATUS_SUCCESS)
        st = dnn.set_stream(dnn.handle, 0); /* the legacy default stream, as every kernel */
    char name[64];
    version_text(name, sizeof name, dnn.version);
    if (st != CUDNN_STATUS_SUCCESS)
        snprintf(dnn.why, sizeof dnn.why, "%s: cudnnCreate: %s (no usable CUDA device?)",
                 name, dnn.error_string(st));
}

/* 0 when cuDNN is usable; else -1 with the reason as WHAT's error. */
static int loaded(const char *what)
{
    static std::once_flag once;
    std::call_once(once, load_once);
    return dnn.why[0] ? ik_cuda__bad_arg(what, "%s", dnn.why) : 0;
}

/* ---- building a graph: every descriptor kept in one list ---- */

/* The backward graph with a window takes 95 descriptors, each heuristic mode
 * 16 configs and up to 16 plans. */
enum { MAX_DESCS = 256, MAX_OPS = 48 };

/* The non-virtual tensors' ids (virtual ones count up from UID_VIRTUAL). */
enum {
    UID_Q = 1, UID_K, UID_V, UID_O, UID_STATS, UID_DO, UID_DQ, UID_DK, UID_DV, UID_SCALE,
    UID_ONE, UID_LOWEST, UID_WINDOW, UID_FAR, UID_SUM, UID_DQ_ACC, UID_VIRTUAL = 100
};

/* Attributes the 9.x headers mark deprecated but that still bind a graph
 * and a plan to the handle (cudnn-frontend and NVIDIA's samples set them);
 * by number, to keep the build free of deprecation warnings. */
static const cudnnBackendAttributeName_t ATTR_GRAPH_HANDLE = (cudnnBackendAttributeName_t)800;
static const cudnnBackendAttributeName_t ATTR_PLAN_HANDLE = (cudnnBackendAttributeName_t)400;

struct build {
    cudnnBackendDescriptor_t descs[MAX_DESCS];
    int n_descs;
    cudnnBackendDescriptor_t ops[MAX_OPS];
    int n_ops;
    int64_t next_uid;
    cudnnStatus_t st; /* the first failure; later calls do nothing */
    const char *failed_at;
    int n_configs;      /* engine configs the heuristics offered, all modes */
    char plan_why[200]; /* why the last of them did not finalize */
};

static void destroy_all(struct build *b)
{
    for (int i = b->n_descs - 1; i >= 0; i--)
        dnn.destroy_desc(b->descs[i]);
    b->n_descs = 0;
}

static void fail_at(struct build *b, cudnnStatus_t st, const char *what)
{
    if (b->st == CUDNN_STATUS_SUCCESS && st != CUDNN_STATUS_SUCCESS) {
        b->st = st;
        b->failed_at = what;
    }
}

static cudnnBackendDescriptor_t make(struct build *b, cudnnBackendDescriptorType_t type)
{
    cudnnBackendDescriptor_t d = NULL;
    if (b->st != CUDNN_STATUS_SUCCESS)
        return NULL;
    if (b->n_descs == MAX_DESCS) {
        fail_at(b, CUDNN_STATUS_INTERNAL_ERROR, "too many descriptors");
        return NULL;
    }
    fail_at(b, dnn.create_desc(type, &d), "cudnnBackendCreateDescriptor");
    if (b->st == CUDNN_STATUS_SUCCESS)
        b->descs[b->n_descs++] = d;
    return d;
}

static void set(struct build *b, cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                cudnnBackendAttributeType_t type, int64_t n, const void *v)
{
    if (b->st == CUDNN_STATUS_SUCCESS)
        fail_at(b, dnn.set_attr(d, name, type, n, v), "cudnnBackendSetAttribute");
}

static void set_desc(struct build *b, cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                     cudnnBackendDescriptor_t v)
{
    set(b, d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v);
}

static void finalize(struct build *b, cudnnBackendDescriptor_t d, const char *what)
{
    if (b->st == CUDNN_STATUS_SUCCESS)
        fail_at(b, dnn.finalize(d), what);
}

/* ---- tensors ---- */

struct shape {
    int64_t dim[4], str[4];
};

static struct shape shape4(int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t s0, int64_t s1,
                           int64_t s2, int64_t s3)
{
    struct shape s = {{d0, d1, d2, d3}, {s0, s1, s2, s3}};
    return s;
}

static cudnnBackendDescriptor_t tensor_desc(struct build *b, int64_t uid, cudnnDataType_t dt,
                                            struct shape s, bool is_virtual, bool by_value)
{
    cudnnBackendDescriptor_t t = make(b, CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    int64_t align = by_value ? 4 : 16;
    set(b, t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
    set(b, t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
    set(b, t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
    set(b, t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, s.dim);
    set(b, t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, s.str);
    set(b, t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
    if (by_value)
        set(b, t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value);
    finalize(b, t, "cudnnBackendFinalize(tensor)");
    return t;
}

/* A tensor in device memory (the variant pack names it by uid). */
static cudnnBackendDescriptor_t real(struct build *b, int64_t uid, cudnnDataType_t dt, struct shape s)
{
    return tensor_desc(b, uid, dt, s, false, false);
}

/* An intermediate the fused kernel never writes out. */
static cudnnBackendDescriptor_t virt(struct build *b, cudnnDataType_t dt, struct shape s)
{
    return tensor_desc(b, b->next_uid++, dt, s, true, false);
}

/* A host scalar passed by value at execution. */
static cudnnBackendDescriptor_t scalar(struct build *b, int64_t uid, cudnnDataType_t dt)
{
    return tensor_desc(b, uid, dt, shape4(1, 1, 1, 1, 1, 1, 1, 1), false, true);
}

/* ---- operations ---- */

static void add_op(struct build *b, cudnnBackendDescriptor_t op, const char *what)
{
    finalize(b, op, what);
    if (b->st != CUDNN_STATUS_SUCCESS)
        return;
    if (b->n_ops == MAX_OPS)
        fail_at(b, CUDNN_STATUS_INTERNAL_ERROR, "too many operations");
    else
        b->ops[b->n_ops++] = op;
}

/* y = mode(x[, in_b[, t]]) in precision prec; axis >= 0 for GEN_INDEX. */
static void pointwise(struct build *b, cudnnPointwiseMode_t mode, cudnnDataType_t prec,
                      cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t in_b,
                      cudnnBackendDescriptor_t t, cudnnBackendDescriptor_t y, int64_t axis)
{
    cudnnBackendDescriptor_t pw = make(b, CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    set(b, pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
    set(b, pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec);
    if (axis >= 0)
        set(b, pw, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis);
    finalize(b, pw, "cudnnBackendFinalize(pointwise)");
    cudnnBackendDescriptor_t op = make(b, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    set_desc(b, op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw);
    set_desc(b, op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
    if (in_b)
        set_desc(b, op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, in_b);
    if (t)
        set_desc(b, op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, t);
    set_desc(b, op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
    add_op(b, op, "cudnnBackendFinalize(pointwise op)");
}

static void binary(struct build *b, cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x,
                   cudnnBackendDescriptor_t in_b, cudnnBackendDescriptor_t y)
{
    pointwise(b, mode, CUDNN_DATA_FLOAT, x, in_b, NULL, y, -1);
}

static void unary(struct build *b, cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x,
                  cudnnBackendDescriptor_t y)
{
    pointwise(b, mode, CUDNN_DATA_FLOAT, x, NULL, NULL, y, -1);
}

/* y = the ADD or MAX of x over the dimensions where y has extent 1. */
static void reduction(struct build *b, cudnnReduceTensorOp_t mode, cudnnBackendDescriptor_t x,
                      cudnnBackendDescriptor_t y)
{
    cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t r = make(b, CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
    set(b, r, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode);
    set(b, r, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f32);
    finalize(b, r, "cudnnBackendFinalize(reduction)");
    cudnnBackendDescriptor_t op = make(b, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
    set_desc(b, op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, r);
    set_desc(b, op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x);
    set_desc(b, op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y);
    add_op(b, op, "cudnnBackendFinalize(reduction op)");
}

/* c = a b over the last two dimensions, batched over the first two (a
 * batch extent that divides the other's is broadcast: the GQA groups). */
static void matmul(struct build *b, cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t bm,
                   cudnnBackendDescriptor_t c)
{
    cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t m = make(b, CUDNN_BACKEND_MATMUL_DESCRIPTOR);
    set(b, m, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f32);
    finalize(b, m, "cudnnBackendFinalize(matmul)");
    cudnnBackendDescriptor_t op = make(b, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
    set_desc(b, op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, a);
    set_desc(b, op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, bm);
    set_desc(b, op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, c);
    set_desc(b, op, CUDNN_ATTR_OPERATION_MATMUL_DESC, m);
    add_op(b, op, "cudnnBackendFinalize(matmul op)");
}

/* y: x's elements under another shape (a transpose by strides). */
static void reshape(struct build *b, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y)
{
    cudnnBackendDescriptor_t op = make(b, CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR);
    set_desc(b, op, CUDNN_ATTR_OPERATION_RESHAPE_XDESC, x);
    set_desc(b, op, CUDNN_ATTR_OPERATION_RESHAPE_YDESC, y);
    add_op(b, op, "cudnnBackendFinalize(reshape op)");
}

/* ---- the attention graphs ---- */

struct dims {
    int64_t T, H, K, hd, window;
};

/* Scores (1,H,T,T) and per-row values (1,H,T,1), dense. */
static struct shape scores(const struct dims *d)
{
    return shape4(1, d->H, d->T, d->T, d->H * d->T * d->T, d->T * d->T, d->T, 1);
}

static struct shape rows(const struct dims *d)
{
    return shape4(1, d->H, d->T, 1, d->H * d->T, d->T, 1, 1);
}

/* (1,n,T,hd) over row-major (T, n*hd): head h at column h*hd. */
static struct shape heads(const struct dims *d, int64_t n)
{
    return shape4(1, n, d->T, d->hd, d->T * n * d->hd, d->hd, n * d->hd, 1);
}

/* Its transpose (1,n,hd,T), the same memory. */
static struct shape heads_t(const struct dims *d, int64_t n)
{
    return shape4(1, n, d->hd, d->T, d->T * n * d->hd, d->hd, 1, n * d->hd);
}

/* (1,n,T,hd) dense per head: the per-query-head gradients and dQ's accumulator. */
static struct shape bhsd(const struct dims *d, int64_t n)
{
    return shape4(1, n, d->T, d->hd, n * d->T * d->hd, d->T * d->hd, d->hd, 1);
}

/* The scores' transpose (1,H,T,T) with swapped strides, as BF16 for a matmul. */
static cudnnBackendDescriptor_t transposed_scores(struct build *b, const struct dims *d,
                                                  cudnnBackendDescriptor_t s)
{
    struct shape t = scores(d);
    t.str[2] = 1;
    t.str[3] = d->T;
    cudnnBackendDescriptor_t y = virt(b, CUDNN_DATA_BFLOAT16, t);
    reshape(b, s, y);
    return y;
}

/* Scores with key j > query i set to the lowest float (the causal mask, as
 * the frontend's right bound 0), then, with a window, keys j <= i - window to
 * -2^30 (its left bound: kept when j + window > i). */
static cudnnBackendDescriptor_t mask(struct build *b, const struct dims *d, cudnnBackendDescriptor_t s)
{
    struct shape sh = scores(d);
    cudnnBackendDescriptor_t row = virt(b, CUDNN_DATA_INT32, sh), col = virt(b, CUDNN_DATA_INT32, sh);
    cudnnBackendDescriptor_t keep = virt(b, CUDNN_DATA_BOOLEAN, sh), out = virt(b, CUDNN_DATA_FLOAT, sh);
    pointwise(b, CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_FLOAT, s, NULL, NULL, row, 2);
    pointwise(b, CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_FLOAT, s, NULL, NULL, col, 3);
    pointwise(b, CUDNN_POINTWISE_CMP_GE, CUDNN_DATA_BOOLEAN, row, col, NULL, keep, -1);
    pointwise(b, CUDNN_POINTWISE_BINARY_SELECT, CUDNN_DATA_FLOAT, s,
              scalar(b, UID_LOWEST, CUDNN_DATA_FLOAT), keep, out, -1);
    if (d->window <= 0)
        return out;
    cudnnBackendDescriptor_t wrow = virt(b, CUDNN_DATA_FLOAT, sh), wcol = virt(b, CUDNN_DATA_FLOAT, sh);
    cudnnBackendDescriptor_t shifted = virt(b, CUDNN_DATA_FLOAT, sh);
    cudnnBackendDescriptor_t inside = virt(b, CUDNN_DATA_BOOLEAN, sh), out2 = virt(b, CUDNN_DATA_FLOAT, sh);
    pointwise(b, CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_FLOAT, out, NULL, NULL, wrow, 2);
    pointwise(b, CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_FLOAT, out, NULL, NULL, wcol, 3);
    pointwise(b, CUDNN_POINTWISE_ADD, CUDNN_DATA_FLOAT, wcol, scalar(b, UID_WINDOW, CUDNN_DATA_FLOAT),
              NULL, shifted, 3);
    pointwise(b, CUDNN_POINTWISE_CMP_GT, CUDNN_DATA_BOOLEAN, shifted, wrow, NULL, inside, -1);
    pointwise(b, CUDNN_POINTWISE_BINARY_SELECT, CUDNN_DATA_FLOAT, out,
              scalar(b, UID_FAR, CUDNN_DATA_FLOAT), inside, out2, -1);
    return out2;
}

/* scale Q K^T, masked: the first steps of both graphs. */
static cudnnBackendDescriptor_t scaled_scores(struct build *b, const struct dims *d,
                                              cudnnBackendDescriptor_t q, cudnnBackendDescriptor_t kt,
                                              cudnnBackendDescriptor_t scale)
{
    cudnnBackendDescriptor_t s = virt(b, CUDNN_DATA_FLOAT, scores(d));
    cudnnBackendDescriptor_t s2 = virt(b, CUDNN_DATA_FLOAT, scores(d));
    matmul(b, q, kt, s);
    binary(b, CUDNN_POINTWISE_MUL, s, scale, s2);
    return s2;
}

static void forward_graph(struct build *b, const struct dims *d)
{
    cudnnDataType_t bf = CUDNN_DATA_BFLOAT16, f32 = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t q = real(b, UID_Q, bf, heads(d, d->H));
    cudnnBackendDescriptor_t kt = real(b, UID_K, bf, heads_t(d, d->K));
    cudnnBackendDescriptor_t v = real(b, UID_V, bf, heads(d, d->K));
    cudnnBackendDescriptor_t o = real(b, UID_O, bf, heads(d, d->H));
    cudnnBackendDescriptor_t stats = real(b, UID_STATS, f32, rows(d));
    cudnnBackendDescriptor_t s = mask(b, d, scaled_scores(b, d, q, kt, scalar(b, UID_SCALE, f32)));
    /* softmax, as the frontend's CompositeSoftmaxNode with its Stats output */
    cudnnBackendDescriptor_t mx = virt(b, f32, rows(d)), sum = virt(b, f32, rows(d));
    cudnnBackendDescriptor_t lg = virt(b, f32, rows(d));
    cudnnBackendDescriptor_t z = virt(b, f32, scores(d)), e = virt(b, f32, scores(d));
    cudnnBackendDescriptor_t p = virt(b, bf, scores(d)); /* bmm2's A is of the I/O type */
    reduction(b, CUDNN_REDUCE_TENSOR_MAX, s, mx);
    binary(b, CUDNN_POINTWISE_SUB, s, mx, z);
    unary(b, CUDNN_POINTWISE_EXP, z, e);
    reduction(b, CUDNN_REDUCE_TENSOR_ADD, e, sum);
    unary(b, CUDNN_POINTWISE_LOG, sum, lg);
    binary(b, CUDNN_POINTWISE_ADD, mx, lg, stats);
    binary(b, CUDNN_POINTWISE_DIV, e, sum, p);
    matmul(b, p, v, o);
}

/* d = x^T y per query head, reduced over each group to the n = K heads of
 * out when H > K (the frontend's dK/dV "fullhead" path). */
static void grad_matmul(struct build *b, const struct dims *d, cudnnBackendDescriptor_t xt,
                        cudnnBackendDescriptor_t y, cudnnBackendDescriptor_t out)
{
    if (d->H == d->K) {
        matmul(b, xt, y, out);
        return;
    }
    cudnnBackendDescriptor_t full = virt(b, CUDNN_DATA_BFLOAT16, bhsd(d, d->H));
    matmul(b, xt, y, full);
    reduction(b, CUDNN_REDUCE_TENSOR_ADD, full, out);
}

static void backward_graph(struct build *b, const struct dims *d)
{
    cudnnDataType_t bf = CUDNN_DATA_BFLOAT16, f32 = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t q = real(b, UID_Q, bf, heads(d, d->H));
    cudnnBackendDescriptor_t kt = real(b, UID_K, bf, heads_t(d, d->K));
    cudnnBackendDescriptor_t vt = real(b, UID_V, bf, heads_t(d, d->K));
    cudnnBackendDescriptor_t o = real(b, UID_O, bf, heads(d, d->H));
    cudnnBackendDescriptor_t dO = real(b, UID_DO, bf, heads(d, d->H));
    cudnnBackendDescriptor_t stats = real(b, UID_STATS, f32, rows(d));
    cudnnBackendDescriptor_t dq = real(b, UID_DQ, bf, heads(d, d->H));
    cudnnBackendDescriptor_t dk = real(b, UID_DK, bf, heads(d, d->K));
    cudnnBackendDescriptor_t dv = real(b, UID_DV, bf, heads(d, d->K));
    cudnnBackendDescriptor_t scale = scalar(b, UID_SCALE, f32);
    /* sum_j P dP = rowsum(dO * O), kept in memory (scratch) as the frontend's softmax_sum */
    struct shape doo = shape4(1, d->H, d->T, d->hd, d->H * d->T * d->hd, d->T * d->hd,
                              d->H * d->hd, 1);
    cudnnBackendDescriptor_t prod = virt(b, f32, doo), rsum = virt(b, f32, rows(d));
    cudnnBackendDescriptor_t sm_sum = real(b, UID_SUM, f32, rows(d));
    binary(b, CUDNN_POINTWISE_MUL, dO, o, prod);
    reduction(b, CUDNN_REDUCE_TENSOR_ADD, prod, rsum);
    binary(b, CUDNN_POINTWISE_MUL, rsum, scalar(b, UID_ONE, f32), sm_sum);
    /* P = exp(mask(scale Q K^T - Stats)) */
    cudnnBackendDescriptor_t s = scaled_scores(b, d, q, kt, scale);
    cudnnBackendDescriptor_t z = virt(b, f32, scores(d)), p = virt(b, f32, scores(d));
    binary(b, CUDNN_POINTWISE_SUB, s, stats, z);
    unary(b, CUDNN_POINTWISE_EXP, mask(b, d, z), p);
    grad_matmul(b, d, transposed_scores(b, d, p), dO, dv);
    /* dS = scale P (dO V^T - sum) */
    cudnnBackendDescriptor_t dp = virt(b, f32, scores(d)), t1 = virt(b, f32, scores(d));
    cudnnBackendDescriptor_t t2 = virt(b, f32, scores(d)), ds = virt(b, f32, scores(d));
    matmul(b, dO, vt, dp);
    binary(b, CUDNN_POINTWISE_SUB, dp, sm_sum, t1);
    binary(b, CUDNN_POINTWISE_MUL, t1, p, t2);
    binary(b, CUDNN_POINTWISE_MUL, t2, scale, ds);
    grad_matmul(b, d, transposed_scores(b, d, ds), q, dk);
    /* dQ = dS K, K as (1,K,T,hd) again, through the fp32 accumulator */
    cudnnBackendDescriptor_t k = virt(b, bf, heads(d, d->K));
    cudnnBackendDescriptor_t acc = real(b, UID_DQ_ACC, f32, bhsd(d, d->H));
    reshape(b, kt, k);
    matmul(b, ds, k, acc);
    unary(b, CUDNN_POINTWISE_IDENTITY, acc, dq);
}

/* ---- plans, cached per shape ---- */

enum { FWD = 0, BWD = 1, MAX_PLANS = 128 };

struct plan {
    int used, dir, ok;
    int transient; /* !ok for want of memory or a failed launch: tried again next time */
    struct dims d;
    cudnnBackendDescriptor_t exec;
    int64_t workspace;
    struct build *b; /* every descriptor the plan was built from, kept alive */
    char why[400];   /* when !ok */
};

static struct plan plans[MAX_PLANS];
static void *workspace;
static size_t workspace_bytes;

static const char *status_text(cudnnStatus_t st)
{
    static thread_local char text[300];
    char last[200] = "";
    if (dnn.last_error_string)
        dnn.last_error_string(last, sizeof last);
    snprintf(text, sizeof text, "%s%s%s", dnn.error_string(st), last[0] ? ": " : "", last);
    return text;
}

/* The first engine config of heuristic mode that finalizes into a plan. */
static cudnnBackendDescriptor_t plan_for(struct build *b, cudnnBackendDescriptor_t graph,
                                         cudnnBackendHeurMode_t mode)
{
    enum { MAX_CFGS = 16 };
    cudnnBackendDescriptor_t heur = make(b, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    set_desc(b, heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
    set(b, heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    finalize(b, heur, "cudnnBackendFinalize(engine heuristics)");
    cudnnBackendDescriptor_t cfgs[MAX_CFGS];
    for (int i = 0; i < MAX_CFGS; i++)
        cfgs[i] = make(b, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    int64_t n = 0;
    if (b->st == CUDNN_STATUS_SUCCESS)
        fail_at(b, dnn.get_attr(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                MAX_CFGS, &n, cfgs),
                "cudnnBackendGetAttribute(heuristic results)");
    for (int64_t i = 0; i < n && i < MAX_CFGS && b->st == CUDNN_STATUS_SUCCESS; i++) {
        cudnnBackendDescriptor_t plan = make(b, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
        set(b, plan, ATTR_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &dnn.handle);
        set_desc(b, plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfgs[i]);
        cudnnStatus_t st = b->st == CUDNN_STATUS_SUCCESS ? dnn.finalize(plan) : b->st;
        b->n_configs++;
        if (st == CUDNN_STATUS_SUCCESS)
            return plan;
        snprintf(b->plan_why, sizeof b->plan_why, "%s", status_text(st));
    }
    return NULL;
}

static const char *dir_name(int dir) { return dir == FWD ? "forward" : "backward"; }

/* Builds p's graph and plan; on failure p->why says where. */
static void build_plan(struct plan *p)
{
    struct build *b = (struct build *)calloc(1, sizeof *b);
    char ver[64];
    version_text(ver, sizeof ver, dnn.version);
    if (b == NULL) {
        snprintf(p->why, sizeof p->why, "out of host memory");
        return;
    }
    b->next_uid = UID_VIRTUAL;
    if (p->dir == FWD)
        forward_graph(b, &p->d);
    else
        backward_graph(b, &p->d);
    cudnnBackendDescriptor_t graph = make(b, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    set(b, graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, b->n_ops, b->ops);
    set(b, graph, ATTR_GRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &dnn.handle);
    finalize(b, graph, "cudnnBackendFinalize(operation graph)");
    if (b->st == CUDNN_STATUS_SUCCESS) {
        p->exec = plan_for(b, graph, CUDNN_HEUR_MODE_A);
        if (p->exec == NULL && b->st == CUDNN_STATUS_SUCCESS)
            p->exec = plan_for(b, graph, CUDNN_HEUR_MODE_FALLBACK);
    }
    int64_t n_got = 0;
    if (b->st == CUDNN_STATUS_SUCCESS && p->exec != NULL)
        fail_at(b, dnn.get_attr(p->exec, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64,
                                1, &n_got, &p->workspace),
                "cudnnBackendGetAttribute(workspace size)");
    if (b->st != CUDNN_STATUS_SUCCESS)
        snprintf(p->why, sizeof p->why, "%s: the SDPA %s graph: %s: %s", ver, dir_name(p->dir),
                 b->failed_at, status_text(b->st));
    else if (p->exec == NULL && b->n_configs == 0)
        snprintf(p->why, sizeof p->why, "%s: no engine for the SDPA %s graph (the heuristics "
                 "offered none)", ver, dir_name(p->dir));
    else if (p->exec == NULL)
        snprintf(p->why, sizeof p->why, "%s: no engine for the SDPA %s graph (%d configs did not "
                 "finalize; the last: %s)", ver, dir_name(p->dir), b->n_configs, b->plan_why);
    p->ok = p->why[0] == '\0';
    /* Out of memory, or a launch that failed, may pass (a plan built mid-
     * training, once the trainer holds its memory): not kept as a verdict. */
    p->transient = b->st == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
                   b->st == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED ||
                   CUDNN_STATUS_CATEGORY(b->st) == CUDNN_STATUS_EXECUTION_FAILED;
    if (!p->ok) {
        destroy_all(b);
        free(b);
        return;
    }
    p->b = b;
}

static int same(const struct dims *a, const struct dims *b)
{
    return a->T == b->T && a->H == b->H && a->K == b->K && a->hd == b->hd && a->window == b->window;
}

/* The cached plan of (dir, d), built on first use; NULL with the reason as
 * WHAT's error. Caller holds the lock. */
static struct plan *get_plan(const char *what, int dir, const struct dims *d)
{
    struct plan *p = NULL;
    for (int i = 0; i < MAX_PLANS && p == NULL; i++)
        if (plans[i].used && plans[i].dir == dir && same(&plans[i].d, d))
            p = &plans[i];
    for (int i = 0; i < MAX_PLANS && p == NULL; i++)
        if (!plans[i].used) {
            struct plan fresh = {1, dir, 0, 0, *d, NULL, 0, NULL, ""};
            p = &plans[i];
            *p = fresh;
            build_plan(p);
        }
    if (p == NULL) {
        ik_cuda__bad_arg(what, "cuDNN: more than %d attention shapes (forward and backward "
                         "plans, %d slots)", MAX_PLANS / 2, MAX_PLANS);
        return NULL;
    }
    if (!p->ok) {
        ik_cuda__bad_arg(what, "%s (T=%lld, H=%lld, K=%lld, hd=%lld, window=%lld)", p->why,
                         (long long)d->T, (long long)d->H, (long long)d->K, (long long)d->hd,
                         (long long)d->window);
        if (p->transient)
            p->used = 0;
        return NULL;
    }
    return p;
}

/* The workspace for p, grown when too small (cudaFree waits for the device,
 * so a plan still running on the old one is done). Caller holds the lock. */
static int grow_workspace(const char *what, const struct plan *p)
{
    size_t need = (size_t)p->workspace;
    if (need <= workspace_bytes)
        return 0;
    cudaError_t e = cudaFree(workspace);
    workspace = NULL;
    workspace_bytes = 0;
    if (e == cudaSuccess)
        e = cudaMalloc(&workspace, need);
    if (e != cudaSuccess)
        return ik_cuda__fail("cudaMalloc (cuDNN workspace)", what, e);
    workspace_bytes = need;
    return 0;
}

/* Runs p with the tensors of uids[i] at ptrs[i]. Caller holds the lock. */
static int execute(const char *what, const struct plan *p, int n, const int64_t *uids, void **ptrs)
{
    if (grow_workspace(what, p))
        return -1;
    struct build vp = {};
    cudnnBackendDescriptor_t pack = make(&vp, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    set(&vp, pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, uids);
    set(&vp, pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, ptrs);
    set(&vp, pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
    finalize(&vp, pack, "cudnnBackendFinalize(variant pack)");
    if (vp.st == CUDNN_STATUS_SUCCESS)
        fail_at(&vp, dnn.execute(dnn.handle, p->exec, pack), "cudnnBackendExecute");
    int rc = vp.st == CUDNN_STATUS_SUCCESS
                 ? ik_cuda__queued(what)
                 : ik_cuda__bad_arg(what, "cuDNN %s: %s", vp.failed_at, status_text(vp.st));
    destroy_all(&vp);
    return rc;
}

/* ---- the table's entries ---- */

/* The length a plan is built for: T rounded up to a multiple of a step that
 * doubles from 128 so that it stays within T/8 (or is 128), so sequences of
 * varying length share a few dozen plans instead of one each. The extra
 * rows change nothing: a causal query never sees a later key, and the extra
 * queries' dout rows are 0, so they add nothing to dk and dv. The step is
 * at least 128, cuDNN's key tile: a last tile half full (s_kv % 128 == 64)
 * is where the frontend adds a padding mask to the backward on cuDNN <=
 * 9.15 and where PyTorch saw NaN gradients on Hopper (pytorch#196678). */
static int64_t bucket(int T)
{
    return (int64_t)ik_sdpa_bucket(T); /* scratch.h's, which the trainer's estimate uses too */
}

static int check_args(const char *what, int T, int H, int K, int hd, int window)
{
    if (T < 0 || H <= 0 || K <= 0 || hd <= 0 || H % K != 0 || window < 0)
        return ik_cuda__bad_arg(what, "T %d, H %d, K %d, hd %d, window %d (H a multiple of K, "
                                "window >= 0 expected)", T, H, K, hd, window);
    /* Rows of (T, n*hd) BF16 must start on 16 bytes: cuDNN's alignment. */
    if (hd % 8 != 0)
        return ik_cuda__bad_arg(what, "cuDNN attention needs hd a multiple of 8, got %d", hd);
    return 0;
}

static struct dims dims_of(int T, int H, int K, int hd, int window)
{
    struct dims d = {bucket(T), H, K, hd, window};
    return d;
}

extern "C" int ik_cuda_sdpa_available(int T, int H, int K, int hd, int window)
{
    const char *what = "sdpa_available";
    if (check_args(what, T, H, K, hd, window) || loaded(what))
        return 0;
    if (T == 0)
        return 1;
    struct dims d = dims_of(T, H, K, hd, window);
    std::lock_guard<std::mutex> g(lock);
    return get_plan(what, FWD, &d) != NULL && get_plan(what, BWD, &d) != NULL;
}

/* The scratch's parts for Tb = bucket(T) rows, each on 256 bytes: BF16 q,
 * k, v, o, dO, dq, dk, dv, then fp32 stats (H, Tb), the row sums (H, Tb)
 * and dQ's accumulator (Tb, H hd) (scratch.h's ik_sdpa_part_bytes). */
struct parts {
    uint16_t *q, *k, *v, *o, *dout, *dq, *dk, *dv;
    float *stats, *sum, *dq_acc;
    size_t bytes;
};

static struct parts carve(void *scratch, int T, int H, int K, int hd)
{
    size_t bytes[IK_SDPA_PARTS], off = 0;
    ik_sdpa_part_bytes(T, H, K, hd, bytes);
    char *base = (char *)scratch, *at[IK_SDPA_PARTS];
    for (int i = 0; i < IK_SDPA_PARTS; i++) {
        at[i] = base != NULL ? base + off : NULL;
        off += ik_scratch_up(bytes[i]);
    }
    struct parts p = {(uint16_t *)at[0], (uint16_t *)at[1], (uint16_t *)at[2], (uint16_t *)at[3],
                      (uint16_t *)at[4], (uint16_t *)at[5], (uint16_t *)at[6], (uint16_t *)at[7],
                      (float *)at[8],    (float *)at[9],    (float *)at[10],   off};
    return p;
}

extern "C" size_t ik_cuda_sdpa_scratch(int T, int H, int K, int hd)
{
    return carve(NULL, T, H, K, hd).bytes;
}

/* dst (Tb rows of w values) = src's T rows as BF16, the rows after them 0. */
static int pad_bf16(const char *what, uint16_t *dst, const float *src, int T, int64_t Tb, size_t w)
{
    if (ik_cuda_to_bf16(dst, src, (size_t)T * w))
        return -1;
    cudaError_t e = cudaMemsetAsync(dst + (size_t)T * w, 0, (size_t)(Tb - T) * w * sizeof *dst, 0);
    return e == cudaSuccess ? 0 : ik_cuda__fail("cudaMemsetAsync", what, e);
}

/* H rows of n floats from pitch sp to pitch dp (the stats, (H, Tb) and (H, T)). */
static int copy_rows(const char *what, float *dst, size_t dp, const float *src, size_t sp, size_t n,
                     int H)
{
    cudaError_t e = cudaMemcpy2DAsync(dst, dp * sizeof *dst, src, sp * sizeof *src, n * sizeof *src,
                                      (size_t)H, cudaMemcpyDeviceToDevice, 0);
    return e == cudaSuccess ? 0 : ik_cuda__fail("cudaMemcpy2DAsync", what, e);
}

/* The caller's stats (H, T) into s.stats (H, Tb); the extra rows get
 * 0x7f7f7f7f (3.4e38), so exp(S - stats) is 0 there, not inf. */
static int stats_in(const char *what, const struct parts *s, const float *stats, int T, int64_t Tb,
                    int H)
{
    if (copy_rows(what, s->stats, (size_t)Tb, stats, (size_t)T, (size_t)T, H))
        return -1;
    if (Tb == T)
        return 0;
    cudaError_t e = cudaMemset2DAsync(s->stats + T, (size_t)Tb * sizeof(float), 0x7f,
                                      (size_t)(Tb - T) * sizeof(float), (size_t)H, 0);
    return e == cudaSuccess ? 0 : ik_cuda__fail("cudaMemset2DAsync", what, e);
}

__global__ void accumulate_bf16_kernel(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] += __uint_as_float((unsigned)src[i] << 16);
}

/* dst += src widened: the gradients' += of the table's convention. */
static int accumulate_bf16(const char *what, float *dst, const uint16_t *src, size_t n)
{
    if (n == 0)
        return 0;
    accumulate_bf16_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(dst, src, n);
    return ik_cuda__launched(what);
}

/* The scale and the mask's fill values, passed by value. */
struct consts {
    float scale, one, lowest, window, far;
};

static struct consts consts_of(int hd, int window)
{
    struct consts c = {1.0f / sqrtf((float)hd), 1.0f, -3.40282347e38f, (float)window,
                       -1024.0f * 1024.0f * 1024.0f};
    return c;
}

/* Runs the cached plan of (dir, d) on uids/ptrs under the lock. */
static int run(const char *what, int dir, const struct dims *d, int n, const int64_t *uids,
               void **ptrs)
{
    std::lock_guard<std::mutex> g(lock);
    const struct plan *p = get_plan(what, dir, d);
    return p == NULL || execute(what, p, n, uids, ptrs) ? -1 : 0;
}

/* What both entries do first: the checks, the plan's dims, the scratch's
 * parts and q, k, v padded to BF16 in them. 1 when T is 0 (nothing to do),
 * 0 to go on, -1 on failure. */
static int begin(const char *what, const float *q, const float *k, const float *v, int T, int H,
                 int K, int hd, int window, void *scratch, struct dims *d, struct parts *s)
{
    if (check_args(what, T, H, K, hd, window) || loaded(what))
        return -1;
    if (T == 0)
        return 1;
    *d = dims_of(T, H, K, hd, window);
    *s = carve(scratch, T, H, K, hd);
    size_t qw = (size_t)H * hd, kw = (size_t)K * hd;
    return pad_bf16(what, s->q, q, T, d->T, qw) || pad_bf16(what, s->k, k, T, d->T, kw) ||
                   pad_bf16(what, s->v, v, T, d->T, kw)
               ? -1
               : 0;
}

extern "C" int ik_cuda_sdpa_fwd(float *out, float *stats, const float *q, const float *k,
                                const float *v, int T, int H, int K, int hd, int window,
                                void *scratch)
{
    const char *what = "sdpa_fwd";
    struct dims d;
    struct parts s;
    int rc = begin(what, q, k, v, T, H, K, hd, window, scratch, &d, &s);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    size_t qw = (size_t)H * hd;
    struct consts c = consts_of(hd, window);
    int64_t uids[] = {UID_Q, UID_K, UID_V, UID_O, UID_STATS, UID_SCALE, UID_LOWEST, UID_WINDOW,
                      UID_FAR};
    void *ptrs[] = {s.q, s.k, s.v, s.o, s.stats, &c.scale, &c.lowest, &c.window, &c.far};
    if (run(what, FWD, &d, window > 0 ? 9 : 7, uids, ptrs) ||
        copy_rows(what, stats, (size_t)T, s.stats, (size_t)d.T, (size_t)T, H))
        return -1;
    return ik_cuda_from_bf16(out, s.o, (size_t)T * qw);
}

extern "C" int ik_cuda_sdpa_bwd(float *dq, float *dk, float *dv, const float *dout,
                                const float *out, const float *stats, const float *q,
                                const float *k, const float *v, int T, int H, int K, int hd,
                                int window, void *scratch)
{
    const char *what = "sdpa_bwd";
    struct dims d;
    struct parts s;
    int rc = begin(what, q, k, v, T, H, K, hd, window, scratch, &d, &s);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    size_t qw = (size_t)H * hd, kw = (size_t)K * hd;
    if (pad_bf16(what, s.o, out, T, d.T, qw) || pad_bf16(what, s.dout, dout, T, d.T, qw) ||
        stats_in(what, &s, stats, T, d.T, H))
        return -1;
    /* cuDNN before 9.6 wanted the accumulator zeroed by the caller; cheap, so always. */
    cudaError_t e = cudaMemsetAsync(s.dq_acc, 0, (size_t)d.T * qw * sizeof(float), 0);
    if (e != cudaSuccess)
        return ik_cuda__fail("cudaMemsetAsync", what, e);
    struct consts c = consts_of(hd, window);
    int64_t uids[] = {UID_Q, UID_K, UID_V, UID_O, UID_DO, UID_STATS, UID_DQ, UID_DK, UID_DV,
                      UID_SUM, UID_DQ_ACC, UID_SCALE, UID_ONE, UID_LOWEST, UID_WINDOW, UID_FAR};
    void *ptrs[] = {s.q, s.k, s.v, s.o, s.dout, s.stats, s.dq, s.dk, s.dv, s.sum, s.dq_acc,
                    &c.scale, &c.one, &c.lowest, &c.window, &c.far};
    if (run(what, BWD, &d, window > 0 ? 16 : 14, uids, ptrs))
        return -1;
    return accumulate_bf16(what, dq, s.dq, (size_t)T * qw) ||
                   accumulate_bf16(what, dk, s.dk, (size_t)T * kw) ||
                   accumulate_bf16(what, dv, s.dv, (size_t)T * kw)
               ? -1
               : 0;
}
