#!/bin/sh
# tests/interop/run.sh - `make check-interop`: ikada's language-model core against the
# reference implementations from PyPI (Hugging Face tokenizers, sentencepiece, and a NumPy
# Llama forward over safetensors), in a venv under the build folder. Not part of `make check`:
# it needs PyPI the first time. Prints "N passed, N failed"; exits non-zero on any failure.
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

passed=0
failed=0
for check in tokenizers model; do
    echo "=== check_$check.py"
    log=$builddir/interop-$check.log
    PYTHONPATH=$here "$venv/bin/python" -u "$here/check_$check.py" 2>&1 | tee "$log"
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
