#!/bin/bash
# bench/engine_bench.sh - engine overhead, measured in one run (make bench):
#  1. no-op re-run of the quickstart graph
#  2. planning (status) and no-op re-run of a generated 10,000-node graph
#  3. SHA-256 throughput of the cache against sha256sum on the same file
#  4. the same no-op re-runs by Snakemake on an equivalent Snakefile, as ratios
#  5. the cost of verified reads: `cache export` of a 256 MiB artifact (which
#     hashes every byte it maps) against `cat` of the same object
# Times are the median of several runs, in milliseconds of wall time.
set -euo pipefail
IKADA=${IKADA_BIN:?}
SRCDIR=${IKADA_SRCDIR:?}
HASH_BENCH=${HASH_BENCH:?}
WORK=$(mktemp -d /tmp/ikada-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export NO_COLOR=1

# median_ms N CMD...: runs CMD N times, prints the median wall time in ms.
median_ms() {
    local n=$1; shift
    local times=()
    for _ in $(seq "$n"); do
        local a b
        a=$(date +%s%N)
        "$@" >/dev/null 2>&1
        b=$(date +%s%N)
        times+=($(( (b - a) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int((NR+1)/2)]/1000}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}'; }

have_snakemake=no
command -v snakemake >/dev/null && have_snakemake=yes

echo "== 1. no-op re-run of graphs/quickstart.yaml"
cd "$WORK" && mkdir quick && cd quick
cp -r "$SRCDIR/graphs" "$SRCDIR/examples" .
"$IKADA" run graphs/quickstart.yaml >/dev/null 2>&1
quick_ms=$(median_ms 11 "$IKADA" run graphs/quickstart.yaml)
echo "ikada no-op re-run: $quick_ms ms (target <= 20 ms)"

echo "== 2. generated graph of 10,000 nodes (100 chains x 100 steps)"
cd "$WORK" && python3 "$SRCDIR/bench/gen_chains.py" 100 100 big
cd big
a=$(date +%s%N); "$IKADA" run -j 2 graph.yaml >/dev/null 2>&1; b=$(date +%s%N)
echo "first run (10,000 processes): $(( (b - a) / 1000000 )) ms"
plan_ms=$(median_ms 5 "$IKADA" status graph.yaml)
noop_ms=$(median_ms 5 "$IKADA" run graph.yaml)
echo "ikada planning (status): $plan_ms ms; no-op re-run: $noop_ms ms (target <= 200 ms)"

echo "== 3. SHA-256 throughput on a 1 GiB file (page cache warm)"
head -c 1073741824 /dev/urandom > "$WORK/blob"
sha256sum "$WORK/blob" >/dev/null
ik_gbs=$("$HASH_BENCH" "$WORK/blob")
a=$(date +%s%N); sha256sum "$WORK/blob" >/dev/null; b=$(date +%s%N)
sum_gbs=$(awk -v ns=$((b - a)) 'BEGIN {printf "%.3f", 1073741824 / ns}')
echo "ikada cache hashing: $ik_gbs GB/s; sha256sum: $sum_gbs GB/s; ratio $(ratio "$ik_gbs" "$sum_gbs")x"
rm -f "$WORK/blob"

if [ $have_snakemake = yes ]; then
    echo "== 4. the same no-op re-runs with Snakemake $(snakemake --version)"
    cd "$WORK/quick"
    python3 "$SRCDIR/bench/gen_chains.py" 1 "$(grep -c '^  [A-Za-z_]' graphs/quickstart.yaml)" smk-quick >/dev/null
    cd smk-quick && snakemake --cores 1 --quiet >/dev/null 2>&1
    smk_quick_ms=$(median_ms 3 snakemake --cores 1 --quiet)
    echo "snakemake no-op re-run (same node count as quickstart): $smk_quick_ms ms;" \
         "ikada is $(ratio "$smk_quick_ms" "$quick_ms")x faster (target >= 20x)"
    cd "$WORK/big"
    # Snakemake decides by mtimes: give it every output, oldest first, so it
    # finds all 10,000 jobs up to date without running them.
    python3 - <<'PY'
import os
os.makedirs("out", exist_ok=True)
t = 1_700_000_000
for c in range(100):
    for i in range(100):
        p = f"out/c{c}_{i}.txt"
        open(p, "w").close()
        os.utime(p, (t + i + 1, t + i + 1))
for c in range(100):
    os.utime(f"src{c}.txt", (t, t))
PY
    smk_big_ms=$(median_ms 3 snakemake --cores 1 --quiet)
    echo "snakemake no-op re-run of 10,000 jobs: $smk_big_ms ms;" \
         "ikada is $(ratio "$smk_big_ms" "$noop_ms")x faster (target >= 20x)"
else
    echo "== 4. skipped: snakemake not installed (.ci/install-deps --bench)"
fi

echo "== 5. verified reads: cache export of a 256 MiB artifact (page cache warm)"
cd "$WORK" && mkdir verify && cd verify
cat > g.yaml <<'YAML'
nodes:
  big:
    type: command
    params: {cmd: "head -c 268435456 /dev/urandom > $IKADA_OUT_o", outputs: {o: big.bin}}
YAML
"$IKADA" run g.yaml >/dev/null 2>&1
obj=$(find .ikada/objects -type f -size +200M | head -n 1)
cat "$obj" >/dev/null
export_ms=$(median_ms 5 "$IKADA" cache export big.o -o - --format msgpack)
cat_ms=$(median_ms 5 cat "$obj")
echo "ikada cache export (hash-checked): $export_ms ms; cat of the object: $cat_ms ms;" \
     "ratio $(ratio "$export_ms" "$cat_ms")x"
