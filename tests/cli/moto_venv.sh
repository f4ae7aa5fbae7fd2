#!/bin/sh
# tests/cli/moto_venv.sh [VENV] - makes VENV (default: moto_venv_path below) a venv with moto's
# S3 server, for tests/cli/test_remote_s3.sh and bench/remote_bench.sh; .ci/install-deps runs
# it so CI has it. Kept while moto-requirements.txt is unchanged (a copy of it inside VENV says
# which pins it has). Needs PyPI the first time; exits 0 when VENV is ready, 2 when it could
# not be made (VENV is then removed), quickly when PyPI cannot be reached.
set -u
venv=${1:-${IKADA_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ikada/moto-venv}}
reqs=$(dirname "$0")/moto-requirements.txt
cmp -s "$reqs" "$venv/ikada-requirements.txt" 2>/dev/null && exit 0
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
echo "moto_venv.sh: installing moto[server] into $venv (once)"
if python3 -m venv "$venv" >/dev/null &&
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --retries 1 --timeout 15 \
        -r "$reqs"; then
    cp "$reqs" "$venv/ikada-requirements.txt"
    exit 0
fi
rm -rf "$venv"
exit 2
