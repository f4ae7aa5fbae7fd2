#!/bin/sh
# Here, on a machine without a GPU: builds and packs into .devbundle/ what the
# GPU machine runs. Its image has CUDA (nvcc, cuBLAS) but not ikada's build
# dependencies (libuv, libyaml, Criterion, ...) and fetches nothing, so the
# tests travel built, with the libraries they need beyond libc and CUDA's.
# Then, with the device tool: run `sh .devbundle/run.sh` with carry
# [".devbundle"] (.devbundle is ignored by git); logs come back under $OUT.
set -e
cd "$(dirname "$0")/.."
make -j2 ikada kernels/cuda/libikada-cuda.so tests/cuda/test_cuda_kernels tests/lm/lm_tests \
    bench/cuda_bench tests/cuda/test_attention_cudnn tests/train/mknemotron
b=.devbundle
rm -rf "$b"
mkdir -p "$b/lib" "$b/tests/cli" "$b/tests/train"
progs="ikada tests/cuda/test_cuda_kernels tests/lm/lm_tests bench/cuda_bench"
[ -x tests/cuda/test_attention_cudnn ] && progs="$progs tests/cuda/test_attention_cudnn"
for p in $progs; do cp "$p" "$b/"; done
cp kernels/cuda/libikada-cuda.so .ci/device-run.sh "$b/"
mv "$b/device-run.sh" "$b/run.sh"
# The train node's tests on the device (a NemotronH one's model written by
# mknemotron), with what they read from the source tree.
cp tests/cli/lib.sh "$b/tests/cli/"
cp tests/train/test_train_cuda.sh tests/train/test_train_nemotron.sh tests/train/mknemotron "$b/tests/train/"
cp -r examples "$b/"
for f in $progs tests/train/mknemotron; do ldd "$f"; done |
    awk '/=> \// {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+)\.so|/ld-linux|cuda|cublas' |
    while read -r lib; do cp -L "$lib" "$b/lib/"; done
du -sh "$b"
