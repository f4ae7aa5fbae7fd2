# jcq-regress on two predictions files: the reference's own 2 x 1,119 replies
# give its published 1029 vs 1024 (3 unparseable), 24 lost, 19 gained and
# McNemar's p; a threshold below the drop fails the node with both
# accuracies, and the report of the failed run is still there (after gc
# too) under the hash the message names; limit, flips and unparseable on a
# small hand-made pair; bad params and inputs are named.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
. "$SRCDIR/tests/eval/lib_jcq.sh"
mkdir -p examples && cp -r "$SRCDIR/examples/jcommonsenseqa" examples/

predictions_from "$SRCDIR/tests/data/eval/jcq_baseline_nothink.json" base.jsonl
predictions_from "$SRCDIR/tests/data/eval/jcq_raft_nothink.json" raft.jsonl
BASE="{name: base, backend: predictions, predictions: base_answers}"
RAFT="{name: raft, backend: predictions, predictions: raft_answers}"
INPUTS="      base_answers: {file: base.jsonl}
      raft_answers: {file: raft.jsonl}"

# The reference, at the default threshold (1 point): passes.
jcq_graph ref.yaml "$BASE" "$RAFT" "" "$INPUTS"
run_ik 0 run ref.yaml
contains err "jcq: done"
[ "$(report_field jcq.report models.0.correct)" = 1029 ] || fail "baseline correct"
[ "$(report_field jcq.report models.1.correct)" = 1024 ] || fail "candidate correct"
[ "$(report_field jcq.report models.1.unparseable)" = 3 ] || fail "unparseable"
[ "$(report_field jcq.report models.0.unparseable)" = 0 ] || fail "baseline unparseable"
[ "$(report_field jcq.report mcnemar)" = '{"b": 24, "c": 19, "p": 0.542384011856484}' ] ||
    fail "mcnemar: $(report_field jcq.report mcnemar)"
[ "$(report_field jcq.report passed)" = true ] || fail "passed"
python3 -c 'import json; d = json.load(open("report.json"))
assert abs(d["delta_pp"] - (-500 / 1119)) < 1e-12, d["delta_pp"]
assert d["meta"]["n"] == 1119 and d["meta"]["method"] == "generate"
assert [r["flip"] for r in d["records"]] == ["lost"] * 24 + ["gained"] * 19' ||
    fail "report figures"
run_ik 0 cache query jcq.report --where "flip == 'lost' and candidate_pred == -1" --count
# Of the 3 unparseable replies, the baseline had rows 286 and 532 right, 868 wrong.
[ "$(cat out)" = 2 ] || fail "unparseable and lost: $(cat out), expected 2"

# A threshold below the drop of 0.45 points: the node fails, saying both
# accuracies, and the report is kept under the hash the hint names.
jcq_graph tight.yaml "$BASE" "$RAFT" "max_drop_pp: 0.4" "$INPUTS"
run_ik 1 run tight.yaml
contains err "jcq: FAILED: JCQ regression: candidate 'raft' 91.51 % (1024/1119) is 0.45 points below baseline 'base' 91.96 % (1029/1119), more than max_drop_pp 0.4"
hash=$(sed -n 's/.*the report is kept: ikada cache show \([0-9a-f]*\) .*/\1/p' err)
[ -n "$hash" ] || fail "no report hash in the failure"
run_ik 0 cache gc --keep-runs 0
run_ik 0 cache show "$hash"
contains out "kind     jcq.report"
[ "$(report_field "$hash" passed)" = false ] || fail "the kept report does not say failed"
[ "$(report_field "$hash" max_drop_pp)" = 0.4 ] || fail "threshold"
run_ik 0 cache query "$hash" --where "flip == 'gained'" --count
[ "$(cat out)" = 19 ] || fail "gained: $(cat out)"

# Five questions by hand: limit, an unparseable reply, one flip each way.
cat > a.jsonl <<'EOF'
{"index": 0, "answer": "2"}
{"index": 1, "answer": "答えは 2 です"}
{"index": 2, "answer": "0"}
{"index": 3, "answer": "1"}
{"index": 4, "answer": "0"}
EOF
cat > b.jsonl <<'EOF'
{"index": 0, "answer": "2"}
{"index": 1, "answer": "わかりません"}
{"index": 2, "answer": "0"}
{"index": 3, "answer": "0"}
{"index": 4, "answer": "0"}
EOF
# Labels of the first five questions: 2 2 0 0 0 (q_id 8939..8943).
jcq_graph small.yaml "{name: a, backend: predictions, predictions: pa}" \
    "{name: b, backend: predictions, predictions: pb}" "limit: 5
      max_drop_pp: 0" \
    "      pa: {file: a.jsonl}
      pb: {file: b.jsonl}"
run_ik 0 run small.yaml
[ "$(report_field small.yaml:jcq.report models.0.correct)" = 4 ] || fail "a correct"
[ "$(report_field small.yaml:jcq.report models.1.correct)" = 4 ] || fail "b correct"
[ "$(report_field small.yaml:jcq.report models.1.unparseable)" = 1 ] || fail "b unparseable"
[ "$(report_field small.yaml:jcq.report delta_pp)" = 0.0 ] || fail "delta"
python3 -c 'import json; d = json.load(open("report.json"))
r = d["records"]
assert [(x["flip"], x["q_id"], x["label"], x["baseline_pred"], x["candidate_pred"]) for x in r] == \
    [("lost", 8940, 2, 2, -1), ("gained", 8942, 0, 1, 0)], r
assert r[0]["candidate_reply"] == "わかりません"
assert d["mcnemar"] == {"b": 1, "c": 1, "p": 1.0} and d["meta"]["limit"] == 5' ||
    fail "small report"

# Bad params and inputs, each named.
jcq_graph one.yaml "$BASE" "$BASE" "" "$INPUTS"
sed -i '/- {name: raft/d; 0,/- {name: base/!{/- {name: base/d}' one.yaml
run_ik 1 run one.yaml
contains err "param models has 1 entries, expected 2: the baseline, then the candidate"
jcq_graph method.yaml "$BASE" "$RAFT" "method: logprob" "$INPUTS"
run_ik 1 run method.yaml
contains err "param method is 'logprob', expected generate or loglik"
jcq_graph gate.yaml "$BASE" "$RAFT" "method: loglik
      loglik_gate: mean" "$INPUTS"
run_ik 1 run gate.yaml
contains err "param loglik_gate is 'mean', expected norm or sum"
jcq_graph drop.yaml "$BASE" "$RAFT" "max_drop_pp: -1" "$INPUTS"
run_ik 1 run drop.yaml
contains err "param max_drop_pp is -1, expected 0 or more points"
jcq_graph stray.yaml "$BASE" "$RAFT" "" "$INPUTS
      extra_answers: {file: a.jsonl}"
run_ik 1 run stray.yaml
contains err "input 'extra_answers' is not 'questions' and no entry of models names it"
jcq_graph loglik.yaml "$BASE" "$RAFT" "method: loglik" "$INPUTS"
run_ik 1 run loglik.yaml
contains err "models[0] ('base'): method loglik scores the choices in process and needs backend engine"
printf '%s\n' '{"q_id": 1, "question": "q", "choice0": "a", "choice1": "b", "choice2": "c", "choice3": "d", "choice4": "e", "label": 5}' > bad.jsonl
jcq_graph badq.yaml "$BASE" "$RAFT" "" "$INPUTS"
sed -i 's|examples/jcommonsenseqa/valid.jsonl|bad.jsonl|' badq.yaml
run_ik 1 run badq.yaml
contains err 'bad.jsonl:1: error: field "label" is 5, expected an integer 0-4'
pass
