# jcq-regress with the engine backend on the example model (stories260K):
# loglik on 20 questions, base against base + a LoRA adapter trained in the
# same graph (both figures reported, the gated one is the one asked for, the
# same model twice gives no flip), and generate on 3 questions with a short
# reply (the replies in the report, parsed as the reference parsed them).
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
. "$SRCDIR/tests/eval/lib_jcq.sh"
cp -r "$SRCDIR/examples" .

# The adapter: a few steps at a high rate, so it really changes the model.
cat > g.yaml <<'YAML'
nodes:
  split:
    type: sample
    in: {rows: {file: examples/jagovfaqs/faq.jsonl}}
    params: {train: 8, test: 2, unseen: 2, unanswerable_extra: 2}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
  train:
    type: train
    in: {samples: raft.train, model: {file: examples/models/stories260K-hf}}
    params: {max_length: 64, truncate: end, loss_on: all, rank: 4, max_steps: 3, lr: 5e-2}
  jcq:
    type: jcq-regress
    in:
      questions: {file: examples/jcommonsenseqa/valid.jsonl}
      m: {file: examples/models/stories260K-hf}
      lora: train.adapter
    params:
      method: loglik
      limit: 20
      max_drop_pp: 100
      models:
        - {name: base, backend: engine, model: m}
        - {name: tuned, backend: engine, model: m, adapter: lora}
YAML
run_ik 0 run g.yaml
contains err "jcq: done"
run_ik 0 cache export jcq.report -o - --format json
cp out loglik.json
python3 - <<'PY' || fail "loglik report"
import json
d = json.load(open("loglik.json"))
assert d["meta"] == {**d["meta"], "method": "loglik", "gate": "norm", "n": 20, "limit": 20}, d["meta"]
for m in d["models"]:
    assert m["n"] == 20 and m["unparseable"] == 0, m
    assert m["correct"] == m["correct_norm"] and 0 <= m["correct_sum"] <= 20, m
    assert m["info"]["backend"] == "engine", m
assert d["models"][0]["info"]["adapter_hash"] is None
assert d["models"][1]["info"]["adapter_hash"] is not None
a, b = d["models"][0]["correct"], d["models"][1]["correct"]
assert abs(d["delta_pp"] - 100 * (b - a) / 20) < 1e-12
assert d["lost"] + d["gained"] == len(d["records"])
# The adapter is applied: a few questions flip (4 lost, 5 gained at this commit).
assert len(d["records"]) > 0
assert all(r["flip"] in ("lost", "gained") and "baseline_reply" not in r for r in d["records"])
PY

# The raw sum gates instead; the same model twice: nothing flips, p = 1.
sed -e 's/max_drop_pp: 100/max_drop_pp: 0\n      loglik_gate: sum/' \
    -e 's/, adapter: lora}/}/' -e '/lora: train.adapter/d' g.yaml > same.yaml
run_ik 0 run same.yaml
run_ik 0 cache export same.yaml:jcq.report -o - --format json
python3 - <<'PY' || fail "same-model report"
import json
d = json.load(open("out"))
l = json.load(open("loglik.json"))
assert d["meta"]["gate"] == "sum"
b = l["models"][0]
for m in d["models"]:
    assert m["correct"] == m["correct_sum"] == b["correct_sum"], (m, b)
    assert m["correct_norm"] == b["correct_norm"]
assert d["delta_pp"] == 0 and d["records"] == [] and d["mcnemar"]["p"] == 1 and d["passed"]
PY

# generate: the reference prompt, a 4-token reply, parsed for its first digit 0-4.
cat > gen.yaml <<'YAML'
nodes:
  jcq:
    type: jcq-regress
    in:
      questions: {file: examples/jcommonsenseqa/valid.jsonl}
      m: {file: examples/models/stories260K-hf}
    params:
      limit: 3
      models:
        - {name: a, backend: engine, model: m, max_new_tokens: 4}
        - {name: b, backend: engine, model: m, max_new_tokens: 4, batch: 1}
YAML
run_ik 0 run gen.yaml
run_ik 0 cache export gen.yaml:jcq.report -o - --format json
python3 - <<'PY' || fail "generate report"
import json
d = json.load(open("out"))
assert d["meta"]["method"] == "generate" and d["meta"]["gate"] == "reply" and d["meta"]["n"] == 3
a, b = d["models"]
# Greedy decoding: batch 1 and batch 8 give the same replies, so the same figures.
assert (a["correct"], a["unparseable"]) == (b["correct"], b["unparseable"]), (a, b)
assert "correct_sum" not in a and d["records"] == [] and d["passed"]
PY
pass
