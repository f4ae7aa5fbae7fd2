# ikada report on a small pipeline (data, cot, train, evaluate on two
# predictions files, jcq-regress on 20 questions, gguf-export): before
# anything ran (every node listed as not run, exit 0), with the data nodes
# only, after a failed jcq-regress (its error given), then whole in the three
# formats: the JSON's figures checked against the artifacts and the
# reference's files, the Markdown's sections, and the HTML rendered in
# headless Chromium (the text of every section and its figures, the charts'
# axes and labels, no console error, a screenshot). Skips the rendering when
# chromium is not installed (Debian: apt-get install chromium).
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
cp -r "$SRCDIR/examples" .

cat > g.yaml <<'YAML'
nodes:
  split:
    type: sample
    in: {rows: {file: examples/jagovfaqs/faq.jsonl}}
    params: {train: 12, test: 6, unseen: 4, unanswerable_extra: 4}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
  cot:
    type: cot
    in: {samples: raft.train}
    params: {provider: extractive}
  train:
    type: train
    in: {samples: cot.sft, valid: raft.test, model: {file: examples/models/stories260K-hf}}
    params: {max_length: 48, truncate: end, loss_on: all, rank: 4, max_steps: 6, lr: 2e-2,
             log_every: 1, eval_every: 3}
  eval:
    type: evaluate
    in: {samples: raft.test, base_answers: {file: base.jsonl}, tuned_answers: {file: tuned.jsonl}}
    params:
      top: 2
      bootstrap_resamples: 500
      models:
        - {name: base, backend: predictions, predictions: base_answers}
        - {name: tuned, backend: predictions, predictions: tuned_answers}
  jcq:
    type: jcq-regress
    in:
      questions: {file: examples/jcommonsenseqa/valid.jsonl}
      base_replies: {file: jcq_base.jsonl}
      tuned_replies: {file: jcq_tuned.jsonl}
    params:
      limit: 20
      max_drop_pp: MAX_DROP
      models:
        - {name: base, backend: predictions, predictions: base_replies}
        - {name: tuned, backend: predictions, predictions: tuned_replies}
  gguf:
    type: gguf-export
    in: {adapter: train.adapter, model: {file: examples/models/stories260K-hf}}
    params: {name: tiny, base: true, export_to: export}
YAML
sed -i 's/MAX_DROP/0/' g.yaml

json_field() { # FILE PYTHON-EXPRESSION-ON-r
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Nothing ran: every reported node is "not run yet" (stats-like command nodes
# are not reported), and that is not an error.
run_ik 0 report g.yaml --format json
cp out none.json
[ "$(json_field none.json 'len(r["sections"])')" = 0 ] || fail "sections before any run"
[ "$(json_field none.json '"/".join(m["node"] + ":" + m["why"] for m in r["not_run"])')" = \
  "split:never run/raft:never run/cot:never run/train:never run/eval:never run, and an input file is missing (ikada status names it)/jcq:never run, and an input file is missing (ikada status names it)/gguf:never run" ] ||
    fail "not run before any run: $(json_field none.json 'r["not_run"]')"

# The data nodes, then answers written from the test split: "base" refuses
# every other item and gives half of the answer otherwise, "tuned" repeats
# the answers but item 3.
run_ik 0 run --target raft g.yaml
run_ik 0 report g.yaml -o partial.md
contains partial.md "## Data splits — split"
contains partial.md "## RAFT samples — raft"
contains partial.md '- `eval` (evaluate): never run'
run_ik 0 cache export raft.test -o test.jsonl
python3 - <<'PY' || fail "could not write the predictions"
import json
rows = [json.loads(l) for l in open("test.jsonl")]
with open("base.jsonl", "w") as b, open("tuned.jsonl", "w") as t:
    for i, r in enumerate(rows):
        a = r["metadata"]["expected_answer"]
        b.write(json.dumps({"index": i, "answer": "提供された情報からは回答できません。" if i % 2 else a[: len(a) // 2]}, ensure_ascii=False) + "\n")
        t.write(json.dumps({"index": i, "answer": a if i != 3 else "ZZZ"}, ensure_ascii=False) + "\n")
qs = [json.loads(l) for l in open("examples/jcommonsenseqa/valid.jsonl")][:20]
with open("jcq_base.jsonl", "w") as b, open("jcq_tuned.jsonl", "w") as t:
    for i, q in enumerate(qs):
        b.write(json.dumps({"index": i, "answer": str(q["label"] if i < 15 else (q["label"] + 1) % 5)}) + "\n")
        t.write(json.dumps({"index": i, "answer": str(q["label"] if i < 12 or i == 19 else (q["label"] + 1) % 5)}) + "\n")
PY

# max_drop_pp 0 fails jcq (75 % → 65 %): it is listed with its error.
run_ik 1 run g.yaml
contains err "jcq: FAILED"
run_ik 0 report g.yaml --format json -o failed.json
json_field failed.json '[m["why"] for m in r["not_run"] if m["node"] == "jcq"][0]' > why
contains why "failed in run "
contains why "JCQ regression: candidate 'tuned' 65.00 % (13/20) is 10.00 points below baseline 'base' 75.00 % (15/20)"

sed -i 's/max_drop_pp: 0$/max_drop_pp: 20/' g.yaml
run_ik 0 run g.yaml
run_ik 0 report g.yaml -o report.json
run_ik 0 report g.yaml -o report.md
run_ik 0 report g.yaml -o report.html
run_ik 0 report g.yaml --format html
grep -v "made 20" out > a.html; grep -v "made 20" report.html > b.html
cmp -s a.html b.html || fail "stdout and -o differ"
run_ik 2 report g.yaml --format pdf
contains err "--format is 'pdf', expected html, md or json"
run_ik 0 status --json g.yaml
cp out status.json
for a in split.summary raft.report cot.report train.report eval.report jcq.report gguf.report; do
    run_ik 0 cache export "$a" -o "$a.json" --format json
done

# The JSON's figures are the artifacts', its keys the graph's current ones,
# its reference columns those of the reference's files.
python3 - "$SRCDIR/tests/data/eval" <<'PY' || fail "the JSON report's figures are wrong"
import json, sys
R = json.load(open("report.json"))
A = {k: json.load(open(k + ".json")) for k in
     ["split.summary", "raft.report", "cot.report", "train.report", "eval.report", "jcq.report", "gguf.report"]}
keys = {n["name"]: n["key"] for n in json.load(open("status.json"))["nodes"]}
S = {s["node"]: s for s in R["sections"]}
assert [s["node"] for s in R["sections"]] == ["split", "raft", "cot", "train", "eval", "jcq", "gguf"], S.keys()
assert R["not_run"] == [], R["not_run"]
for name, s in S.items():
    assert s["key"] == keys[name] and s["stale"] is None and s["ran_ms"] > 0, s
def table(sec, caption):
    """The rows of a section's table by their first column."""
    return {row[t["columns"][0]]: row
            for t in S[sec]["tables"] if t["caption"] == caption for row in t["rows"]}
sp = table("split", "Rows per split")
for k, v in A["split.summary"]["splits"].items():
    assert sp[k]["rows"] == v["rows"] and sp[k]["requested"] == v["requested"], (k, sp[k], v)
rs = table("raft", "RAFT samples per split")
for k, v in A["raft.report"]["splits"].items():
    assert rs[k]["with oracle"] == v["with_oracle"] and rs[k]["without oracle"] == v["without_oracle"], k
cot = table("cot", "Cost and outcome")
c = A["cot.report"]
for label, field in [("retries", "retries"), ("requests", "requests"), ("invalid citations", "invalid_citations"),
                     ("cost (USD)", "usd"), ("answered", "answered")]:
    assert cot[label]["value"] == c[field], (label, cot[label], c[field])
assert set(table("cot", "Citation failures by cause")) == set(c["invalid_by_cause"])
charts = {ch["title"]: ch for ch in S["train"]["charts"]}
rows = A["train.report"]["records"]
for title, field in [("Loss", "loss"), ("Token accuracy", "accuracy")]:
    ser = {x["name"]: x["points"] for x in charts[title]["series"]}
    assert ser["train"] == [[r["step"], r[field]] for r in rows if r["type"] == "train"], title
    assert ser["validation"] == [[r["step"], r[field]] for r in rows if r["type"] == "valid"], title
    assert len(ser["validation"]) == 2, ser["validation"]
assert charts["Loss"]["x_label"] == "step" and charts["Loss"]["y_label"] == "loss"
assert table("train", "Totals")["optimiser steps"]["value"] == A["train.report"]["totals"]["steps"] == 6
e = A["eval.report"]
sc = table("eval", "Scores")
base, tuned = e["models"]
for label, field in [("F1", "f1"), ("F1, answered only", "f1_answered"), ("EM", "em"),
                     ("FP (answerable, refused)", "fp"), ("TN (answerable, answered)", "tn"),
                     ("refusal recall", "refusal_recall")]:
    assert sc[label]["base"] == base[field] and sc[label]["tuned"] == tuned[field], label
    assert sc[label]["difference (tuned − base)"] == e["comparison"]["deltas"][field], label
assert base["fp"] == 3 and tuned["tn"] == 6
ci = table("eval", "F1 difference and its bootstrap interval")
assert (ci["interval low"]["value"], ci["interval high"]["value"]) == (e["comparison"]["f1_delta"]["lo"], e["comparison"]["f1_delta"]["hi"])
gains = [t for t in S["eval"]["tables"] if t["caption"] == "Largest gains"][0]["rows"]
assert [g["item"] for g in gains] == [g["index"] for g in e["comparison"]["gains"]] and len(gains) == 2
# The reference's columns: its files' own figures, never in our columns.
scores = [t for t in S["eval"]["tables"] if t["caption"] == "Scores"][0]
assert scores["reference_columns"] == ["reference baseline (published)", "reference RAFT (published)"]
for col, f in [("reference baseline (published)", "results_baseline_nothink.json"),
               ("reference RAFT (published)", "results_ngc_raft_nothink.json")]:
    ref = json.load(open(sys.argv[1] + "/" + f))
    m = ref["metrics"]
    answered = [x["f1"] for x in ref["results"] if not x["pred_unanswerable"]]
    assert sc["F1"][col] == m["f1_mean"] and sc["EM"][col] == m["em_mean"], col
    assert sc["FP (answerable, refused)"][col] == m["unanswerable_fp"], col
    assert sc["TN (answerable, answered)"][col] == m["unanswerable_tn"], col
    assert abs(sc["F1, answered only"][col] - sum(answered) / len(answered)) < 1e-15, col
    assert sc["items"][col] == ref["total_samples"] and sc["refusal recall"][col] is None, col
    assert f in " ".join(S["eval"]["notes"]), S["eval"]["notes"]
j = A["jcq.report"]
acc = table("jcq", "Accuracy")
assert acc["baseline"]["accuracy"] == j["models"][0]["accuracy"] == 0.75, acc
assert acc["candidate"]["correct"] == j["models"][1]["correct"] == 13
for role, f in [("baseline", "jcq_baseline_nothink.json"), ("candidate", "jcq_raft_nothink.json")]:
    ref = json.load(open(sys.argv[1] + "/" + f))
    assert abs(acc[role]["reference accuracy (published)"] - ref["accuracy"]) < 1e-15, role
cmp = table("jcq", "Candidate against baseline")
assert cmp["difference (points)"]["value"] == j["delta_pp"] and cmp["McNemar p"]["value"] == j["mcnemar"]["p"]
assert cmp["gate passed"]["value"] == "yes" and cmp["lost (right, then wrong)"]["value"] == j["lost"] == 3
assert table("gguf", "Files")["adapter"]["file"] == A["gguf.report"]["files"]["adapter"]
PY

# A param changed since: the eval section shows the last result, saying why
# it is stale; the others are current.
sed -i 's/top: 2$/top: 3/' g.yaml
run_ik 0 report g.yaml --format json -o stale.json
[ "$(json_field stale.json '[s["node"] for s in r["sections"] if s["stale"]]')" = "['eval']" ] ||
    fail "stale sections: $(json_field stale.json '[(s["node"], s["stale"]) for s in r["sections"]]')"
json_field stale.json '[s["stale"] for s in r["sections"] if s["stale"]][0]' > why
contains why "top"
sed -i 's/top: 3$/top: 2/' g.yaml

# Markdown: every section, the figures as printed.
for h in "# ikada report: g.yaml" "## Data splits — split" "## RAFT samples — raft" \
    "## Chain-of-thought answers — cot" "## Training — train" "## Evaluation — eval" \
    "## JCQ regression — jcq" "## GGUF export — gguf" "## Not run yet"; do
    contains report.md "$h"
done
f1=$(json_field eval.report.json '"%.4f" % r["models"][1]["f1"]')
contains report.md "| F1 | $(json_field eval.report.json '"%.4f" % r["models"][0]["f1"]') | $f1 |"
contains report.md "| baseline | base | 15 | 20 | 0.7500 | 0 | 0.9196 |"
contains report.md "Every reported node has a result."

# The HTML as a person sees it.
grep -q '<script' report.html && fail "the page has a script"
grep -Eq '(src|href)="(https?:)?//' report.html && fail "the page links outside itself"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "SKIP: $TEST_NAME: chromium is not installed (apt-get install chromium), the page was not rendered"
    exit 77
fi
chrome() { # ARGS...: headless, with a private profile
    timeout 60 "$CHROMIUM" --headless --disable-gpu --no-sandbox --no-first-run \
        --user-data-dir="$WORK/profile" --allow-file-access-from-files "$@"
}
chrome --dump-dom --enable-logging=stderr --v=0 "file://$WORK/report.html" > dom.html 2> console.log ||
    { cat console.log >&2; fail "chromium could not render the page"; }
if grep -E 'CONSOLE|Uncaught|ERROR:.*(html|svg)' console.log; then fail "the console has errors"; fi
for h in "Data splits — split" "RAFT samples — raft" "Chain-of-thought answers — cot" \
    "Training — train" "Evaluation — eval" "JCQ regression — jcq" "GGUF export — gguf" \
    "Not run yet" "reference baseline (published)" "Largest gains" "McNemar p"; do
    contains dom.html "$h"
done
contains dom.html "<td class=\"n\">$f1</td>"
contains dom.html "<td class=\"n ref\">0.5646</td>"
contains dom.html "$(json_field status.json '[n["key"] for n in r["nodes"] if n["name"] == "eval"][0][:12]')"
# Two charts, each with its axes, tick numbers and axis labels as text.
[ "$(grep -c '<svg class="chart"' dom.html)" = 2 ] || fail "expected 2 charts"
[ "$(grep -c '<line class="axis"' dom.html)" = 2 ] || fail "expected the axes of 2 charts"
contains dom.html '<text class="label" x="'
[ "$(grep -o '<text class="label"[^>]*>step</text>' dom.html | wc -l)" = 2 ] || fail "x axis labels"
grep -q '<text class="label"[^>]*>loss</text>' dom.html || fail "no y label 'loss'"
grep -q '<text class="label"[^>]*>accuracy</text>' dom.html || fail "no y label 'accuracy'"
[ "$(grep -c '<line class="tick"' dom.html)" -ge 6 ] || fail "too few ticks on the x axes"
chrome --screenshot="$WORK/report.png" --window-size=1200,3000 "file://$WORK/report.html" 2> shot.log ||
    { cat shot.log >&2; fail "no screenshot"; }
python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); assert d[:8] == b"\x89PNG\r\n\x1a\n" and len(d) > 20000, len(d)' \
    "$WORK/report.png" || fail "the screenshot is not a picture of the page"
[ -n "${IKADA_REPORT_KEEP:-}" ] && cp report.html report.png report.md "$IKADA_REPORT_KEEP/"
pass
