# bench/cot_bench.sh - cot against the fake API with 200 ms per request:
# 1,100 samples (all with the oracle) at concurrency 1 (the reference's one
# request at a time) and at 32, each on a fresh cache; prints both
# throughputs and their ratio. Target at 32: >= 90 % of the 160 req/s that
# 32 requests in flight over 200 ms allow (exits 1 below it).
# Env: IKADA_BIN, IKADA_BUILDDIR (for tests/cot/fake_api), COT_BENCH_SAMPLES.
set -u
IKADA=${IKADA_BIN:?set IKADA_BIN}
FAKE=${FAKE_API:-$(dirname "$IKADA")/tests/cot/fake_api}
N=${COT_BENCH_SAMPLES:-1100}
LAT_MS=200
WORK=$(mktemp -d /tmp/ikada-cot-bench.XXXXXX)
FAKE_PID=
trap '[ -n "$FAKE_PID" ] && kill $FAKE_PID 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
[ -x "$FAKE" ] || { echo "cot_bench: no $FAKE (run make check once)" >&2; exit 1; }

# N distinct FAQ rows of one ministry, answers of ~80 code points.
awk -v n="$N" 'BEGIN {
    for (i = 1; i <= n + 10; i++)
        printf "{\"Question\": \"質問その%d: 所得税の控除%dについて教えてください。\", \"Answer\": \"回答%dです。この控除は一定の要件を満たす場合に適用され、確定申告書に必要事項を記載して提出することで受けられます。詳しくは第%d条を参照してください。\", \"copyright\": \"国税庁\", \"url\": \"\"}\n", i, i, i, i
}' > rows.jsonl

"$FAKE" --latency-ms $LAT_MS --timeout-s 1200 > port &
FAKE_PID=$!
for _ in $(seq 100); do grep -q '^port ' port 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/^port //p' port)
export COT_BENCH_KEY=bench-key

run_at() { # concurrency -> prints "seconds requests"
    mkdir -p "c$1" && cd "c$1" || exit 1
    cat > g.yaml <<YAML
nodes:
  split:
    type: sample
    in: {rows: {file: ../rows.jsonl}}
    params: {train: $N, test: 0, unseen: 0, unanswerable_extra: 0, allow_short: true}
  raft:
    type: distract
    in: {train: split.train}
    params: {oracle_p: 1.0}
  cot:
    type: cot
    in: {samples: raft.train}
    params: {provider: anthropic, model: fake-model, base_url: "http://127.0.0.1:$PORT",
             api_key_env: COT_BENCH_KEY, concurrency: $1, max_usd: 0}
YAML
    "$IKADA" run g.yaml > out 2> err || { cat err >&2; exit 1; }
    local secs req
    secs=$(sed -n 's/^cot: done in \([0-9.]*\) s.*/\1/p' err)
    "$IKADA" cache show cot.report > report
    req=$(sed -n 's/^requests *//p' report)
    cd ..
    echo "$secs $req"
}

read -r s1 r1 <<< "$(run_at 1)"
read -r s32 r32 <<< "$(run_at 32)"
awk -v s1="$s1" -v r1="$r1" -v s32="$s32" -v r32="$r32" -v lat="$LAT_MS" 'BEGIN {
    t1 = r1 / s1; t32 = r32 / s32; ideal = 32 * 1000 / lat
    printf "cot bench: %d requests, %d ms latency\n", r32, lat
    printf "  concurrency  1: %7.1f req/s (%.1f s)\n", t1, s1
    printf "  concurrency 32: %7.1f req/s (%.1f s), %.0f %% of the %.0f req/s the latency allows\n", t32, s32, 100 * t32 / ideal, ideal
    printf "  ratio 32/1: %.1fx\n", t32 / t1
    exit (t32 >= 0.9 * ideal) ? 0 : 1
}'
