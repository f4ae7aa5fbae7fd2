#!/bin/sh
# On the GPU machine (packed by .ci/device-bundle.sh as .devbundle/run.sh):
# every CUDA kernel against its CPU reference, then the training step on the
# device against the CPU's (tests/lm/test_train_cuda.c, 20 steps of two
# model shapes). Logs under ${OUT:-/tmp}; exit status 0 when both pass.
b=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp}
mkdir -p "$out"
export LD_LIBRARY_PATH="$b/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Where the toolkit's cuBLAS is not in /usr/local/cuda, pip's nvidia-* wheels may hold it.
for d in $(python3 -c 'import nvidia, os
for p in nvidia.__path__:
    for s in sorted(os.listdir(p)):
        print(os.path.join(p, s, "lib"))' 2>/dev/null); do
    [ -d "$d" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done
export IKADA_CUDA_MODULE="$b/libikada-cuda.so"
nvidia-smi >"$out/nvidia-smi.log" 2>&1
ldd "$b/libikada-cuda.so" >"$out/ldd-module.log" 2>&1
IKADA_REQUIRE_GPU=1 timeout 300 "$b/test_cuda_kernels" >"$out/kernels.log" 2>&1
k=$?
IKADA_CUDA_REAL=1 timeout 300 "$b/lm_tests" --filter 'lm_train_cuda/*' --verbose >"$out/train.log" 2>&1
t=$?
tail -n 30 "$out/kernels.log"
tail -n 30 "$out/train.log"
echo "device-run: kernels exit $k, training step exit $t (logs in $out)"
[ "$k" = 0 ] && [ "$t" = 0 ]
