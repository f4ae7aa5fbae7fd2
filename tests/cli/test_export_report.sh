# ikada cache export of a report (kind *.report) writes the whole report as
# JSON by default (its records are a part of it; a report without records
# came out as an empty file), -o X.jsonl its records, and an export whose
# JSON Lines are empty says so.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cp -r "$SRCDIR/examples" .
cat > g.yaml <<'YAML'
nodes:
  split:
    type: sample
    in:
      rows: {file: examples/jagovfaqs/faq.jsonl}
    params: {ministry: 国税庁, train: 60, test: 20, unseen: 20, unanswerable_extra: 10, seed: 42}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
    params: {oracle_p: 0.8, seed: 42}
YAML
run_ik 0 run g.yaml
run_ik 0 cache export raft.report -o report.out
python3 - <<'PY' || fail "the report: $(head -c 400 report.out)"
import json
r = json.load(open("report.out"))
assert r["kind"] == "distract.report" and r["meta"]["oracle_p"] == 0.8, r
assert r["splits"]["train"]["samples"] == 70 and len(r["records"]) == 3, r
PY
"$IKADA" cache export raft.report -o - | cmp - report.out || fail "-o - differs from the file"
# Its records, when asked for by extension or --format.
run_ik 0 cache export raft.report -o rows.jsonl
[ "$(wc -l < rows.jsonl)" = 3 ] || fail "rows.jsonl: $(cat rows.jsonl)"
head -1 rows.jsonl | grep -q '"split": "train"' || fail "rows.jsonl: $(head -1 rows.jsonl)"
# A records artifact keeps JSON Lines as its default, a file its bytes.
run_ik 0 cache export raft.test -o test.out
[ "$(wc -l < test.out)" = 20 ] || fail "raft.test: $(wc -l < test.out) lines"
# Empty JSON Lines are said to be so.
cat > e.yaml <<'YAML'
nodes:
  split:
    type: sample
    in:
      rows: {file: examples/jagovfaqs/faq.jsonl}
    params: {ministry: 国税庁, train: 60, test: 20, unseen: 20, unanswerable_extra: 0, seed: 42}
YAML
run_ik 0 run e.yaml
run_ik 0 cache export e.yaml:split.extra -o extra.jsonl
[ -s extra.jsonl ] && fail "split.extra is not empty: $(head -2 extra.jsonl)"
contains err "warning: 'e.yaml:split.extra' has no records: the JSON Lines are empty"
pass
