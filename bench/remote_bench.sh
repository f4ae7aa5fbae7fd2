#!/bin/bash
# bench/remote_bench.sh - the remote cache's cost on the quickstart, against
# nginx WebDAV on loopback (tests/cli/nginx_dav.sh), in one run:
#  1. a no-op re-run with a local cache only (the reference)
#  2. the same no-op re-run with IKADA_REMOTE set: everything is local, so
#     the remote is never asked (the ratio should be ~1.0)
#  3. a run on an empty local cache that downloads every result from the
#     remote (the "second machine" case) against 1.
# Times are medians in ms of wall time. Not part of `make bench` (it needs
# nginx-light). Env: IKADA_BIN, IKADA_SRCDIR.
set -uo pipefail
IKADA=${IKADA_BIN:?set IKADA_BIN}
SRCDIR=${IKADA_SRCDIR:?set IKADA_SRCDIR}
. "$SRCDIR/tests/cli/nginx_dav.sh"
why=$(nginx_dav_available) || { echo "remote_bench: $why" >&2; exit 77; }
WORK=$(mktemp -d /tmp/ikada-remote-bench.XXXXXX)
trap 'nginx_dav_stop; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
export NO_COLOR=1
unset IKADA_REMOTE
nginx_dav_start "$WORK/srv" || { echo "remote_bench: nginx did not start" >&2; exit 1; }
REMOTE="http://127.0.0.1:$NGINX_PORT/cache"
cp -r "$SRCDIR/graphs" "$SRCDIR/examples" .

median_ms() { # N CMD...: the median wall time of N runs of CMD, in ms
    local n=$1; shift
    local times=()
    for _ in $(seq "$n"); do
        local a b
        a=$(date +%s%N)
        "$@" >/dev/null 2>&1 || { echo "remote_bench: $* failed" >&2; exit 1; }
        b=$(date +%s%N)
        times+=($(( (b - a) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int((NR+1)/2)]/1000}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
cold_run() { # a fresh local cache filled from the remote
    rm -rf "$WORK/cold"
    IKADA_CACHE=$WORK/cold IKADA_REMOTE=$REMOTE "$IKADA" run graphs/quickstart.yaml
}

echo "== filling the remote: one full quickstart run"
IKADA_CACHE=$WORK/warm IKADA_REMOTE=$REMOTE "$IKADA" run graphs/quickstart.yaml >/dev/null 2>&1 ||
    { echo "remote_bench: the quickstart failed" >&2; exit 1; }
local_ms=$(IKADA_CACHE=$WORK/warm median_ms 11 "$IKADA" run graphs/quickstart.yaml)
remote_ms=$(IKADA_CACHE=$WORK/warm IKADA_REMOTE=$REMOTE median_ms 11 "$IKADA" run graphs/quickstart.yaml)
cold_ms=$(median_ms 5 cold_run)
IKADA_CACHE=$WORK/cold IKADA_REMOTE=$REMOTE "$IKADA" run graphs/quickstart.yaml 2>&1 >/dev/null |
    grep -q " 0 ran," || { echo "remote_bench: the cold run re-ran nodes" >&2; exit 1; }
echo "no-op, local cache only:                 $local_ms ms"
echo "no-op, remote configured (all local):    $remote_ms ms  (x$(ratio "$remote_ms" "$local_ms") of local)"
echo "empty local cache, all from the remote:  $cold_ms ms  (x$(ratio "$cold_ms" "$local_ms") of local)"
echo "remote objects: $(find srv/cache/cas -type f | wc -l), $(du -sh srv/cache | cut -f1)"
