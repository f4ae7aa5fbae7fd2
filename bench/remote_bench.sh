#!/bin/bash
# bench/remote_bench.sh - the remote cache's cost on the quickstart, in one run, against
# nginx WebDAV (tests/cli/nginx_dav.sh) and moto's S3 (tests/cli/moto_s3.sh) on loopback:
#  1. a no-op re-run with a local cache only (the reference)
#  2. the same no-op re-run with the remote set: everything is local, so the remote is
#     never asked (the ratio should be ~1.0)
#  3. a run on an empty local cache that downloads every result from the remote (the
#     "second machine" case) against 1.
# Times are medians in ms of wall time, the runs of 1, 2 and 3 alternating. A server that is not installed is left out, and
# with neither the bench skips (77). Env: IKADA_BIN, IKADA_SRCDIR.
set -uo pipefail
IKADA=${IKADA_BIN:?set IKADA_BIN}
SRCDIR=${IKADA_SRCDIR:?set IKADA_SRCDIR}
. "$SRCDIR/tests/cli/nginx_dav.sh"
. "$SRCDIR/tests/cli/moto_s3.sh"
WORK=$(mktemp -d /tmp/ikada-remote-bench.XXXXXX)
trap 'nginx_dav_stop; moto_s3_stop; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
export NO_COLOR=1 IKADA_CONFIG=
unset IKADA_REMOTE
cp -r "$SRCDIR/graphs" "$SRCDIR/examples" .

elapsed_us() { # CMD...: the wall time of one run of CMD, in microseconds
    local a b
    a=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo "remote_bench: $* failed" >&2; exit 1; }
    b=$(date +%s%N)
    echo $(( (b - a) / 1000 ))
}
median() { sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int((NR+1)/2)]/1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
cold_run() { # a fresh local cache filled from the remote $1
    rm -rf "$WORK/cold"
    IKADA_CACHE=$WORK/cold IKADA_REMOTE=$1 "$IKADA" run graphs/quickstart.yaml
}

echo "== the quickstart once, into a local cache"
IKADA_CACHE=$WORK/warm "$IKADA" run graphs/quickstart.yaml >/dev/null 2>&1 ||
    { echo "remote_bench: the quickstart failed" >&2; exit 1; }
objects=$(find warm/objects -type f | wc -l)
bytes=$(du -sh warm/objects | cut -f1)

# measure NAME REMOTE: the three figures against REMOTE, the reference measured beside it.
measure() {
    local name=$1 remote=$2
    IKADA_CACHE=$WORK/warm IKADA_REMOTE=$remote "$IKADA" cache push >/dev/null ||
        { echo "remote_bench: push to $name failed" >&2; exit 1; }
    # Alternating, so that the load of the machine falls on both sides alike.
    local local_us=() remote_us=() cold_us=() local_ms remote_ms cold_ms
    for i in $(seq 11); do
        local_us+=($(IKADA_CACHE=$WORK/warm elapsed_us "$IKADA" run graphs/quickstart.yaml))
        remote_us+=($(IKADA_CACHE=$WORK/warm IKADA_REMOTE=$remote elapsed_us "$IKADA" run graphs/quickstart.yaml))
        [ "$i" -le 5 ] && cold_us+=($(elapsed_us cold_run "$remote"))
    done
    local_ms=$(printf '%s\n' "${local_us[@]}" | median)
    remote_ms=$(printf '%s\n' "${remote_us[@]}" | median)
    cold_ms=$(printf '%s\n' "${cold_us[@]}" | median)
    cold_run "$remote" 2>&1 >/dev/null | grep -q " 0 ran," ||
        { echo "remote_bench: the cold run from $name re-ran nodes" >&2; exit 1; }
    echo "$name: no-op, local cache only:                 $local_ms ms"
    echo "$name: no-op, remote configured (all local):    $remote_ms ms  (x$(ratio "$remote_ms" "$local_ms") of local)"
    echo "$name: empty local cache, all from the remote:  $cold_ms ms  (x$(ratio "$cold_ms" "$local_ms") of local)"
    echo "| no-op re-run of the quickstart with a remote cache ($name on loopback) | $remote_ms ms; from an empty local cache, all $objects objects ($bytes) downloaded: $cold_ms ms | local cache only: $local_ms ms | $(ratio "$remote_ms" "$local_ms")×; $(ratio "$cold_ms" "$local_ms")× | — |"
}

done_any=
if why=$(nginx_dav_available); then
    nginx_dav_start "$WORK/srv" || { echo "remote_bench: nginx did not start" >&2; exit 1; }
    measure "nginx WebDAV" "http://127.0.0.1:$NGINX_PORT/cache"
    nginx_dav_stop
    done_any=1
else
    echo "remote_bench: no HTTP figures: $why"
fi
if why=$(moto_s3_available); then
    moto_s3_start "$WORK/s3" bench-cache || { echo "remote_bench: moto did not start" >&2; exit 1; }
    measure "moto S3" "s3://bench-cache/quickstart"
    done_any=1
else
    echo "remote_bench: no S3 figures: $why"
fi
[ -n "$done_any" ] || exit 77
