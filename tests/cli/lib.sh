# tests/cli/lib.sh - helpers for the integration tests that drive the ikada
# binary. Each test sources this, gets a fresh temporary project folder as its
# working directory (removed on exit) and a private cache in it.
set -u
IKADA=${IKADA_BIN:-ikada}
SRCDIR=${IKADA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=$(mktemp -d /tmp/ikada-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 99
unset IKADA_CACHE IKADA_FAULT_WRITE
export NO_COLOR=1
TEST_NAME=$(basename "$0" .sh)

fail() {
    echo "FAIL: $TEST_NAME: $*" >&2
    exit 1
}

# run_ik EXPECTED_STATUS ARGS...: runs ikada, saves stdout/stderr in out/err.
run_ik() {
    local want=$1
    shift
    "$IKADA" "$@" >out 2>err
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "--- stdout" >&2; cat out >&2; echo "--- stderr" >&2; cat err >&2
        fail "ikada $* exited $got, expected $want"
    fi
}

# contains FILE TEXT: FILE has a line containing TEXT.
contains() {
    grep -qF -- "$2" "$1" || { echo "--- $1:" >&2; cat "$1" >&2; fail "$1 lacks '$2'"; }
}

lacks() {
    if grep -qF -- "$2" "$1"; then echo "--- $1:" >&2; cat "$1" >&2; fail "$1 has '$2'"; fi
}

# count FILE TEXT: number of lines of FILE containing TEXT.
count() { grep -cF -- "$2" "$1"; }

pass() { echo "PASS: $TEST_NAME"; exit 0; }

# child_pid PARENT REGEX: the pid of a child of PARENT whose command line
# matches REGEX (extended), as `pgrep -P PARENT -f REGEX`, read from /proc:
# procps is not on every machine the tests run on (the GPU machines' image).
child_pid() {
    local p key val ppid
    for p in /proc/[0-9]*; do
        ppid=
        while read -r key val; do
            [ "$key" = "PPid:" ] && { ppid=$val; break; }
        done <"$p/status" 2>/dev/null
        [ "$ppid" = "$1" ] || continue
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qE -- "$2" || continue
        echo "${p#/proc/}"
        return 0
    done
    return 1
}

# kill_run_when_stored RUNNER DIR N NODE: once DIR holds N files (a node's
# answers, stored as they arrive), kill -9 the `ikada run` whose pid is RUNNER
# and check that node NODE's process died with it: the start of every resume
# test (what was stored survives, nothing else runs on).
kill_run_when_stored() {
    local runner=$1 dir=$2 n=$3 node=$4 child
    for _ in $(seq 200); do
        [ "$(find "$dir" -type f 2>/dev/null | wc -l)" -ge "$n" ] && break
        sleep 0.05
    done
    [ "$(find "$dir" -type f | wc -l)" = "$n" ] || fail "expected $n stored answers in $dir before the kill"
    child=$(child_pid "$runner" "exec .* --node $node")
    [ -n "$child" ] || fail "no $node node process under ikada run"
    kill -9 "$runner"
    wait "$runner" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$child" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$child" 2>/dev/null && fail "the $node node survived kill -9 of ikada run"
    return 0
}
