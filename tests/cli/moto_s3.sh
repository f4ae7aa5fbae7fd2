# tests/cli/moto_s3.sh - a local S3 (moto's server, from the venv of tests/cli/moto_venv.sh)
# for the remote cache tests and bench/remote_bench.sh. Source it, then:
#   moto_s3_available    makes the venv if it can; says why not (exit 77 material)
#   moto_s3_start DIR BUCKET
#                        serves on a free loopback port with BUCKET and an IAM user, turns
#                        signature checks on and exports AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
#                        AWS_SECRET_ACCESS_KEY, AWS_REGION for it; sets MOTO_PID, MOTO_URL
#   moto_s3_stop
#   moto_s3 corrupt|check ...   tests/cli/moto_s3.py's other verbs
MOTO_VENV=${IKADA_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ikada/moto-venv}
MOTO_HERE=${SRCDIR:-.}/tests/cli

moto_s3_available() {
    command -v python3 >/dev/null || { echo "python3 not installed"; return 1; }
    sh "$MOTO_HERE/moto_venv.sh" "$MOTO_VENV" >/dev/null 2>&1 ||
        { echo "moto not available: tests/cli/moto_venv.sh could not install moto[server] into $MOTO_VENV (needs PyPI once)"; return 1; }
}

moto_s3() { "$MOTO_VENV/bin/python" "$MOTO_HERE/moto_s3.py" "$@"; }

moto_s3_start() {
    local dir=$1 bucket=$2 port keys
    mkdir -p "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    MOTO_PID=$!
    MOTO_URL=http://127.0.0.1:$port
    for _ in $(seq 100); do
        curl -s -o /dev/null "$MOTO_URL/moto-api/" && break
        sleep 0.1
    done
    # The setup's own requests go in before auth is on, with moto's default keys.
    keys=$(unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
        moto_s3 setup "$MOTO_URL" "$bucket") || { cat "$dir/moto.log" >&2; return 1; }
    export AWS_ENDPOINT_URL=$MOTO_URL AWS_REGION=us-east-1
    export AWS_ACCESS_KEY_ID=${keys% *} AWS_SECRET_ACCESS_KEY=${keys#* }
}

moto_s3_stop() {
    [ -n "${MOTO_PID:-}" ] || return 0
    kill "$MOTO_PID" 2>/dev/null
    wait "$MOTO_PID" 2>/dev/null
    MOTO_PID=
}
