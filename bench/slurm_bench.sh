#!/bin/sh
# bench/slurm_bench.sh - submission overhead through Slurm: 200 trivial
# independent nodes run by `ikada run --executor slurm` on a single-host Slurm
# started here (tests/cli/slurm_lib.sh), against the same graph run by the local
# executor in the same run; prints jobs/s for each, their ratio, the cost per
# node, and the same as a row of README's Performance table. Skips (77) without
# Slurm or root, as the test does.
set -u
IKADA=${IKADA_BIN:-ikada}
SRCDIR=${IKADA_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
N=${SLURM_BENCH_NODES:-200}
WORK=$(mktemp -d /tmp/ikada-slurm-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 99
# shellcheck source=../tests/cli/slurm_lib.sh
. "$SRCDIR/tests/cli/slurm_lib.sh"
# Claim 8 CPUs, so what is measured is submission and polling, not a 2-core queue.
SLURM_TEST_CPUS=${SLURM_TEST_CPUS:-8} slurm_start "$WORK/slurm"
trap 'slurm_stop "$WORK/slurm"; rm -rf "$WORK"' EXIT

{
    echo "nodes:"
    i=0
    while [ $i -lt "$N" ]; do
        printf '  n%d:\n    type: command\n    params: {cmd: "echo %d > $IKADA_OUT_o", outputs: {o: o.txt}}\n' $i $i
        i=$((i + 1))
    done
} > g.yaml

# run_timed EXECUTOR CACHE: seconds for a cold run of g.yaml.
run_timed() {
    start=$(date +%s%N)
    IKADA_CACHE="$WORK/$2" "$IKADA" run --executor "$1" g.yaml >/dev/null 2>"$WORK/$2.err" ||
        { cat "$WORK/$2.err" >&2; echo "slurm_bench: the $1 run failed" >&2; exit 1; }
    end=$(date +%s%N)
    echo "$start $end" | awk '{ printf "%.3f", ($2 - $1) / 1e9 }'
}

local_s=$(run_timed local local-cache)
slurm_s=$(run_timed slurm slurm-cache)
awk -v n="$N" -v l="$local_s" -v s="$slurm_s" 'BEGIN {
    printf "slurm executor: %d trivial nodes in %.2f s = %.1f jobs/s (local executor: %.2f s = %.1f jobs/s; slurm/local time ratio %.1fx; %.0f ms more per node)\n",
        n, s, n / s, l, n / l, s / l, (s - l) * 1000 / n
    printf "| submission through Slurm (single-host slurmctld + slurmd on loopback), %d trivial nodes | %.1f jobs/s (%.2f s) | local executor: %.1f jobs/s (%.2f s) | %.1f× the time; %.0f ms more per node | — |\n",
        n, n / s, s, n / l, l, s / l, (s - l) * 1000 / n }'
