# The evaluate node against the cot tests' fake API server: an ollama model
# and an openai one through 429 and 500 faults, then kill -9 of `ikada run`
# in the middle of an evaluation and a re-run on another server: every
# question was answered exactly once in all, and the API key is stored
# nowhere.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
. "$SRCDIR/tests/cot/lib_cot.sh"
cp -r "$SRCDIR/examples" .

eval_graph() { # PORT_A PORT_B
    cat <<YAML
nodes:
  split:
    type: sample
    in: {rows: {file: examples/jagovfaqs/faq.jsonl}}
    params: {train: 20, test: 12, unseen: 10, unanswerable_extra: 5}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
  eval:
    type: evaluate
    in: {samples: raft.test}
    params:
      models:
        - {name: base, backend: ollama, model: fake-base, base_url: "http://127.0.0.1:$1",
           max_new_tokens: 64, concurrency: 3}
        - {name: tuned, backend: openai, model: fake-tuned, base_url: "http://127.0.0.1:$2",
           api_key_env: COT_TEST_KEY, max_new_tokens: 64, concurrency: 3}
YAML
}

# Faults on both shapes: retried, then every question answered.
start_fake faults --script 429,500,ok,500,429
eval_graph "$PORT" "$PORT" > g.yaml
run_ik 0 run g.yaml
run_ik 0 cache export eval.report -o report.json --format json
python3 - <<'PY' || fail "the report lacks answers"
import json
r = json.load(open("report.json"))
assert [m["name"] for m in r["models"]] == ["base", "tuned"]
assert all(m["n"] == 12 and m["from_cache"] == 0 for m in r["models"]), r["models"]
assert all(rec["answers"][k]["answer"] for rec in r["records"] for k in ("base", "tuned"))
assert r["meta"]["models"][1]["server_model"] == "fake-tuned", r["meta"]["models"]
PY
stop_fake
received=$(awk '{s += $2} END {print s + 0}' faults.counts)
[ "$received" = 28 ] || fail "expected the 4 faults to be retried once each: $received requests for 24 answers"

# kill -9 of ikada run after 5 answers; the re-run asks only the others.
rm -rf .ikada
start_fake first --stall-after 5 --latency-ms 20
FIRST_PID=$FAKE_PID
eval_graph "$PORT" "$PORT" > g.yaml
"$IKADA" run g.yaml >out1 2>err1 &
kill_run_when_stored $! ".ikada/kv/eval" 5 eval
FAKE_PID=$FIRST_PID stop_fake

start_fake second
eval_graph "$PORT" "$PORT" > g.yaml
run_ik 0 run g.yaml
run_ik 0 cache export eval.report -o report.json --format json
python3 - <<'PY' || fail "the re-run did not reuse the 5 answers"
import json
r = json.load(open("report.json"))
assert sum(m["from_cache"] for m in r["models"]) == 5, r["models"]
PY
stop_fake
cat first.counts second.counts | awk '{a[$3] += $1} END {
    for (k in a) { n++; if (a[k] != 1) bad++ } print n, bad + 0 }' > sums
read -r distinct bad < sums
[ "$distinct" = 24 ] || fail "$distinct distinct requests answered, expected 24"
[ "$bad" = 0 ] || fail "$bad requests were answered more than once"
no_key_anywhere out1 err1 out err
pass
