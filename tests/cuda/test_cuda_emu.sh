# The CUDA module's own code (kernels/cuda/*.cu, lm/train_cuda.c's calls into
# it) run on the CPU by the CUDA emulator (tests/cuda/emu/cuda_emu.h): every
# kernel check of `make check-cuda` against its CPU reference, then the
# training step's comparisons with the CPU trainer (5 steps each, the
# trainer's buffers guarded; cuDNN's two are left out: the emulator has no
# cuDNN, and says so), and the emulator's own checks (tests/cuda/emu/test_emu: that it refuses what a GPU would hang
# on or get wrong). What a GPU adds is in cuda_emu.h's list of what is not
# modelled.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

top="$(cd "$(dirname "$IKADA")" && pwd)"
module="$top/tests/cuda/libikada-cuda-emu.so"
[ -f "$module" ] || fail "$module is not built (make check builds it)"
export IKADA_CUDA_MODULE="$module" IKADA_CUDNN_LIB=/nonexistent/libcudnn.so.9

"$top/tests/cuda/emu/test_emu" >out 2>err || fail "the emulator's own checks: $(cat out err)"

IKADA_REQUIRE_GPU=1 "$top/tests/cuda/test_cuda_kernels" >out 2>err ||
    fail "kernel checks on the emulator: $(tail -30 out) $(cat err)"
contains out "ikada CUDA emulator (CPU)"
grep -Eq '^test_cuda_kernels: ([0-9]+) of \1 kernel checks passed' out ||
    fail "kernel checks on the emulator: $(tail -5 out)"

# A shape cuBLASLt has no algorithm for runs through cublasGemmEx, and says so.
IKADA_EMU_LT_NO_ALGO=1 IKADA_REQUIRE_GPU=1 "$top/tests/cuda/test_cuda_kernels" gemm >out 2>err ||
    fail "the GEMM checks through cublasGemmEx: $(tail -30 out) $(cat err)"
contains out "1 of 1 kernel checks passed"
contains err "cuBLASLt has no algorithm for M 37 N 896 K 896 (ta 0 tb 1, lda 896 ldb 896 ldc 896, fp32 in, fp32 out, alignment 256/256/256): cublasGemmEx runs this shape"

# Guarded (IKADA_CUDA_GUARD=1, lm/train_cuda_guard.c): the emulator checks accesses against
# allocations, the guards against the trainer's buffers inside its one allocation.
IKADA_CUDA_GUARD=1 IKADA_CUDA_REAL=1 IKADA_TEST_TRAIN_STEPS=5 "$top/tests/lm/lm_tests" --filter 'lm_train_cuda/!(cudnn_*)' \
    >out 2>err || fail "the training step on the emulator: $(grep -v '^\[SKIP' err | tail -30)"
grep -Eq 'Tested: ([1-9][0-9]*) \| Passing: \1 \| Failing: 0 \| Crashing: 0' err ||
    fail "the training step on the emulator: $(grep -v '^\[SKIP' err | tail -30)"

# Where no row of a judged shape can run (here cuDNN's attention alone, and
# no cuDNN), the benchmark says its targets were not judged, never "met".
"$top/bench/cuda_bench" --attention cudnn >out 2>err || fail "cuda_bench --attention cudnn: $(cat out err)"
contains out "target: >= 40% MFU on Llama-3-8B: not judged, no row ran"
contains out "on the rows above: not judged (a target's shape has no row)"
lacks out "above: met"
