#!/bin/sh
# tests/interop/run.sh - `make check-interop`: ikada's language-model core against the
# reference implementations from PyPI (Hugging Face tokenizers, sentencepiece, and a NumPy
# Llama forward over safetensors), in a venv under the build folder; then exported LoRA
# adapters loaded by Hugging Face PEFT (check_peft.py), in a second venv that sees the system
# python's torch (Debian's python3-torch; IKADA_TORCH_PYTHON names another python); then the
# GGUF files of the gguf-export node loaded by llama.cpp (check_llamacpp.py), in a third venv
# where pip builds llama-cpp-python from source (several minutes on two cores; the venv is kept
# while llamacpp-requirements.txt is unchanged), and a random NemotronH's GGUFs in llama.cpp
# (check_nemotron.py, same venv). Not part of `make check`: it needs PyPI the first time.
# IKADA_INTEROP_CHECKS picks checks (default "tokenizers model peft llamacpp nemotron").
# Prints "N passed, N failed"; exits non-zero on any failure.
set -u
: "${IKADA_BIN:?set IKADA_BIN to the ikada binary}" "${IKADA_SRCDIR:?set IKADA_SRCDIR to the source tree}"
here=$IKADA_SRCDIR/tests/interop
builddir=${IKADA_BUILDDIR:-$(dirname "$IKADA_BIN")}
venv=$builddir/interop-venv
IKADA_SHARED=${IKADA_SHARED:-$IKADA_SRCDIR/../shared}
export IKADA_BIN IKADA_SRCDIR IKADA_SHARED

# (Re)create the venv when it is missing or the pins changed.
if ! cmp -s "$here/requirements.txt" "$venv/ikada-requirements.txt" 2>/dev/null; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv"; then
        echo "run.sh: python3 cannot create a venv; install it with: .ci/install-deps --interop" >&2
        exit 2
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
        -r "$here/requirements.txt" || { rm -rf "$venv"; exit 2; }
    cp "$here/requirements.txt" "$venv/ikada-requirements.txt"
fi

# The PEFT venv: torch 1.13 comes from the system python (a PyPI torch is 1 GB), so the venv
# sees its packages and adds only the pins of peft-requirements.txt.
torch_py=${IKADA_TORCH_PYTHON:-/usr/bin/python3}
pvenv=$builddir/interop-peft-venv
peft_ready=no
if ! "$torch_py" -c 'import torch' 2>/dev/null; then
    echo "run.sh: $torch_py cannot import torch; install python3-torch (.ci/install-deps --interop)" >&2
elif cmp -s "$here/peft-requirements.txt" "$pvenv/ikada-requirements.txt" 2>/dev/null; then
    peft_ready=yes
else
    rm -rf "$pvenv"
    if "$torch_py" -m venv --system-site-packages "$pvenv" &&
        "$pvenv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
            -r "$here/peft-requirements.txt"; then
        cp "$here/peft-requirements.txt" "$pvenv/ikada-requirements.txt"
        peft_ready=yes
    else
        rm -rf "$pvenv"
    fi
fi

# The llama.cpp venv (llamacpp_venv.sh: llama-cpp-python compiled from source, kept while
# llamacpp-requirements.txt is unchanged), made only when the llamacpp check runs.
checks=${IKADA_INTEROP_CHECKS:-tokenizers model peft llamacpp nemotron}
lvenv=$builddir/interop-llamacpp-venv
llama_ready=no
case " $checks " in *" llamacpp "* | *" nemotron "*)
    sh "$here/llamacpp_venv.sh" "$lvenv" && llama_ready=yes
esac

passed=0
failed=0
for check in $checks; do
    echo "=== check_$check.py"
    py=$venv/bin/python
    if [ "$check" = peft ]; then
        py=$pvenv/bin/python
        if [ $peft_ready = no ]; then
            echo "check_peft.py not run: no venv with torch, PEFT and transformers (see above)"
            failed=$((failed + 1))
            continue
        fi
    elif [ "$check" = llamacpp ] || [ "$check" = nemotron ]; then
        py=$lvenv/bin/python
        if [ $llama_ready = no ]; then
            echo "check_$check.py not run: llama-cpp-python did not install (see above)"
            failed=$((failed + 1))
            continue
        fi
    fi
    log=$builddir/interop-$check.log
    PYTHONPATH=$here "$py" -u "$here/check_$check.py" 2>&1 | tee "$log"
    # The last line is "RESULT passed failed"; a crash before it counts as one failure.
    set -- $(sed -n 's/^RESULT \([0-9]*\) \([0-9]*\)$/\1 \2/p' "$log" | tail -n 1)
    if [ $# -eq 2 ]; then
        passed=$((passed + $1))
        failed=$((failed + $2))
    else
        echo "check_$check.py ended without its RESULT line"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
