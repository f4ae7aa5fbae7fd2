#!/bin/sh
# tests/interop/llamacpp_venv.sh VENV - makes VENV a venv where llama-cpp-python imports, for
# check_llamacpp.py (run.sh) and bench/interop_llamacpp.py (make bench-interop).
# llama-cpp-python is an sdist, so pip compiles llama.cpp: CPU only, the AVX2/FMA baseline
# instead of -march=native, no OpenMP, tools, tests or llava (CMAKE_ARGS adds to these). A wheel
# that pip built before for the same version comes from pip's cache instead. The venv is kept
# while llamacpp-requirements.txt is unchanged (a copy of it inside VENV says which pins it has).
# Exits 0 when VENV is ready, 2 when it could not be made (and VENV is removed).
set -u
venv=${1:?usage: llamacpp_venv.sh VENV}
reqs=$(dirname "$0")/llamacpp-requirements.txt
cmp -s "$reqs" "$venv/ikada-requirements.txt" 2>/dev/null && exit 0
rm -rf "$venv"
echo "llamacpp_venv.sh: building llama-cpp-python into $venv (several minutes, once)"
t0=$(date +%s)
if python3 -m venv "$venv" &&
    CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_OPENMP=OFF -DLLAVA_BUILD=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
        -DLLAMA_BUILD_SERVER=OFF ${CMAKE_ARGS:-}" \
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$reqs"; then
    cp "$reqs" "$venv/ikada-requirements.txt"
    echo "llamacpp_venv.sh: llama-cpp-python built in $(($(date +%s) - t0)) s"
    exit 0
fi
rm -rf "$venv"
exit 2
