# The evaluate node on graphs: two predictions models scored and compared
# (the report's figures checked against the answers written here), the
# records queried, refusal mode, the engine backend on the example model
# (prompts shortened to its 512-token context, answers cut at the token
# limit), and the params' and inputs' errors.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
cp -r "$SRCDIR/examples" .

data_nodes() {
    cat <<'YAML'
nodes:
  split:
    type: sample
    in: {rows: {file: examples/jagovfaqs/faq.jsonl}}
    params: {train: 20, test: 10, unseen: 10, unanswerable_extra: 5}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
YAML
}

# The questions, then two answer files: "good" repeats every expected
# answer; "half" answers the first five right, refuses item 5, and says
# something unrelated for the rest.
data_nodes > data.yaml
run_ik 0 run data.yaml
run_ik 0 cache export raft.test -o test.jsonl
python3 - <<'PY' || fail "could not write the predictions"
import json
rows = [json.loads(l) for l in open("test.jsonl")]
assert len(rows) == 10
with open("good.jsonl", "w") as g, open("half.jsonl", "w") as h:
    for i, r in enumerate(rows):
        q, a = r["metadata"]["question"], r["metadata"]["expected_answer"]
        g.write(json.dumps({"question": q, "answer": a}, ensure_ascii=False) + "\n")
        ans = a if i < 5 else "提供された情報からは回答できません。" if i == 5 else "ZZZZ"
        h.write(json.dumps({"index": i, "prediction": ans}, ensure_ascii=False) + "\n")
PY

eval_graph() { # MODE EXTRA
    data_nodes
    cat <<YAML
  eval:
    type: evaluate
    in: {samples: raft.test, good: {file: good.jsonl}, half: {file: half.jsonl}$2}
    params:
      mode: $1
      top: 3
      bootstrap_resamples: 2000
      models:
        - {name: half, backend: predictions, predictions: half}
        - {name: good, backend: predictions, predictions: good}
YAML
}

eval_graph answer "" > g.yaml
run_ik 0 run g.yaml
run_ik 0 cache query eval.report --select 'answers.half.f1,answers.good.f1,unanswerable'
contains out "answers.half.f1"
[ "$(wc -l < out)" = 11 ] || fail "expected a header and 10 records"
run_ik 0 cache export eval.report -o report.json --format json
python3 - <<'PY' || fail "the report's figures are wrong"
import json
r = json.load(open("report.json"))
assert r["kind"] == "eval.report", r["kind"]
half, good = r["models"]
assert (good["name"], good["f1"], good["em"], good["tn"], good["fp"]) == ("good", 1.0, 1.0, 10, 0), good
assert (half["tn"], half["fp"], half["em"]) == (9, 1, 0.5), half
# Items 6..9 say ZZZZ (F1 0), item 5 refused (0): the mean is 5/10.
assert abs(half["f1"] - 0.5) < 1e-12 and abs(half["f1_answered"] - 5 / 9) < 1e-12, half
c = r["comparison"]
assert (c["a"], c["b"], c["better"], c["worse"], c["same"]) == ("half", "good", 5, 0, 5), c
assert abs(c["deltas"]["f1"] - 0.5) < 1e-12 and c["deltas"]["fp"] == -1, c["deltas"]
ci = c["f1_delta"]
assert ci["n"] == 10 and ci["lo"] <= 0.5 <= ci["hi"] and 0 < ci["lo"], ci
assert len(c["gains"]) == 3 and c["losses"] == [], c
assert {g["index"] for g in c["gains"]} <= {5, 6, 7, 8, 9}, c["gains"]
assert all(g["delta"] == 1.0 and g["b"]["f1"] == 1.0 for g in c["gains"]), c["gains"]
rec = r["records"][5]
assert rec["index"] == 5 and rec["answers"]["half"]["refused"] is True, rec
PY
run_ik 0 cache query eval.report --where 'answers.good.f1 > answers.half.f1' --count
[ "$(cat out)" = 5 ] || fail "5 items improved, the query found $(cat out)"

# Refusal mode: every item unanswerable; "half" refuses one of ten.
eval_graph refusal "" > g.yaml
run_ik 0 run g.yaml
run_ik 0 cache export eval.report -o refusal.json --format json
python3 - <<'PY' || fail "refusal mode's figures are wrong"
import json
r = json.load(open("refusal.json"))
half, good = r["models"]
assert r["meta"]["mode"] == "refusal"
assert (half["n_unanswerable"], half["tp"], half["fn"]) == (10, 1, 9), half
assert abs(half["refusal_recall"] - 0.1) < 1e-12 and good["refusal_recall"] == 0, (half, good)
assert r["comparison"]["f1_delta"] is None
PY

# The engine on the example model: its 512-token context holds no whole
# prompt (Japanese is 3 tokens a character), so documents are shortened
# (with a one-word system prompt: the reference's alone is 700 tokens here).
cat > e.yaml <<YAML
$(data_nodes)
  short:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
    params: {system_prompt: Answer.}
  eval:
    type: evaluate
    in: {samples: short.test, tiny: {file: examples/models/stories260K-hf}}
    params:
      limit: 2
      models:
        - {name: tiny, backend: engine, model: tiny, max_new_tokens: 8}
YAML
run_ik 0 run e.yaml
run_ik 0 cache export e.yaml:eval.report -o engine.json --format json
python3 - <<'PY' || fail "the engine run's report is wrong"
import json
r = json.load(open("engine.json"))
m = r["models"][0]
assert m["n"] == 2 and m["prompts_shortened"] == 2, m
assert r["comparison"] is None
assert all(rec["answers"]["tiny"]["answer"] != "" or rec["answers"]["tiny"]["hit_max_tokens"] is False
           for rec in r["records"])
PY

# Errors.
eval_graph answer ", extra: {file: good.jsonl}" > g.yaml
run_ik 1 run g.yaml
contains err "input 'extra' is not named by any entry of param models"
eval_graph sometimes "" > g.yaml
run_ik 1 run g.yaml
contains err "param mode is 'sometimes', expected answer or refusal"
eval_graph answer "" | sed 's/name: good,/name: half,/' > g.yaml
run_ik 1 run g.yaml
contains err "name 'half' is also the name of models[0]"
pass
