#!/bin/sh
# On a machine with an NVIDIA GPU, from the repository root: build, then run
# every CUDA kernel against its CPU reference (`make check-cuda`, which fails
# where no GPU is found). Logs go to ${OUT:-/tmp}/device-*.log; exits non-zero
# at the first failing step, naming it and its log.
out=${OUT:-/tmp}
mkdir -p "$out" || exit 2
cd "$(dirname "$0")/.." || exit 2
step() {
    name=$1
    shift
    echo "device-check: $name" >&2
    if ! "$@" >"$out/device-$name.log" 2>&1; then
        tail -n 40 "$out/device-$name.log" >&2
        echo "device-check: $name failed (log: $out/device-$name.log)" >&2
        exit 1
    fi
}
nvidia-smi >"$out/device-nvidia-smi.log" 2>&1
step autogen ./autogen.sh
step configure ./configure
step make make -j16
step check-cuda make check-cuda
cat "$out/device-check-cuda.log"
echo "device-check: ok (logs in $out)" >&2
