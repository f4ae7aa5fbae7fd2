# jcq-regress against the cot tests' fake API server, in the ollama and the
# openai shapes, through 429 and 500 faults; then kill -9 of `ikada run` in
# the middle of the questions and a re-run on another server: each distinct
# request is answered exactly once over both, and the key is stored nowhere.
# (The fake answers every JCQ prompt "参考文書0に…", parsed as choice 0, so
# each model's accuracy is the share of label 0 among the questions asked.)
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
. "$SRCDIR/tests/cot/lib_cot.sh"
. "$SRCDIR/tests/eval/lib_jcq.sh"
mkdir -p examples && cp -r "$SRCDIR/examples/jcommonsenseqa" examples/

# label0 N: questions with label 0 among the first N.
label0() { head -n "$1" examples/jcommonsenseqa/valid.jsonl | grep -c '"label": 0}'; }

# http_graph FILE BACKEND PORT LIMIT: base and raft on the fake at PORT.
http_graph() {
    local common="backend: $2, base_url: 'http://127.0.0.1:$3', api_key_env: COT_TEST_KEY, max_new_tokens: 8, concurrency: 4"
    jcq_graph "$1" "{name: base, model: fake-base, $common}" "{name: raft, model: fake-raft, $common}" \
        "limit: $4"
}

# answered_once COUNTS... N: N distinct bodies, each answered exactly once in all.
answered_once() {
    local n=$1
    shift
    cat "$@" | awk '{a[$3] += $1} END { for (k in a) { n++; if (a[k] != 1) bad++ } print n, bad + 0 }' > sums
    read -r distinct bad < sums
    [ "$distinct" = "$n" ] || fail "$distinct distinct requests answered, expected $n"
    [ "$bad" = 0 ] || fail "$bad requests were answered more than once"
}

for shape in ollama openai; do
    start_fake "$shape" --script 429,500,ok,429,500 --latency-ms 5
    http_graph "$shape.yaml" "$shape" "$PORT" 12
    run_ik 0 run "$shape.yaml"
    contains err "jcq: done"
    stop_fake
    want=$(label0 12)
    [ "$(report_field "$shape.yaml:jcq.report" models.0.correct)" = "$want" ] || fail "$shape: base"
    [ "$(report_field "$shape.yaml:jcq.report" models.1.correct)" = "$want" ] || fail "$shape: raft"
    [ "$(report_field "$shape.yaml:jcq.report" models.1.info.backend)" = "\"$shape\"" ] ||
        fail "$shape: backend in info"
    # 2 models x 12 questions, each body answered once through the faults.
    answered_once 24 "$shape.counts"
done

# Kill -9 in the middle (a cache of its own, to count its stored answers):
# the fake answers 10 requests, then holds the rest.
export IKADA_CACHE="$WORK/kill-cache"
start_fake first --stall-after 10 --latency-ms 10
FIRST_PID=$FAKE_PID
http_graph kill.yaml ollama "$PORT" 30
"$IKADA" run kill.yaml > out1 2> err1 &
kill_run_when_stored $! "$IKADA_CACHE/kv/eval" 10 jcq
FAKE_PID=$FIRST_PID stop_fake

start_fake second
http_graph kill.yaml ollama "$PORT" 30
run_ik 0 run kill.yaml
contains err "jcq: done"
stop_fake
[ "$(report_field kill.yaml:jcq.report models.0.correct)" = "$(label0 30)" ] || fail "resumed base"
answered_once 60 first.counts second.counts

no_key_anywhere out1 err1 out err
pass
