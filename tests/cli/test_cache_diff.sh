# ikada cache diff: records matched by a key field (--key here), else by
# position, and the values that differ printed as A -> B.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cp -r "$SRCDIR/examples" .
cat > g.yaml <<'YAML'
nodes:
  split:
    type: sample
    in:
      rows: {file: examples/jagovfaqs/faq.jsonl}
    params: {ministry: 国税庁, train: 60, test: 20, unseen: 20, unanswerable_extra: 10, seed: 42}
  hi:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
    params: {oracle_p: 0.8, seed: 42}
  lo:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
    params: {oracle_p: 0.5, seed: 42}
YAML
run_ik 0 run g.yaml

# The reports' records are one per split: matched by --key split, the values shown.
run_ik 1 cache diff hi.report lo.report --key split
contains out "records (matched by 'split'): 0 only in A, 0 only in B, 1 changed"
grep -qE '^  record split="train": with_oracle: 50 -> [0-9]+, without_oracle: 20 -> [0-9]+' out \
    || fail "the train split's values: $(cat out)"
contains out 'fields that differ: meta: {"seed":42,"oracle_p":0.8,"distractors":4} -> {"seed":42,"oracle_p":0.5,"distractors":4}'
run_ik 1 cache diff hi.report lo.report --key split --json
python3 - <<'PY' || fail "diff --json: $(cat out)"
import json
o = json.load(open("out"))
r = o["records"]
assert r["matched_by"] == "split" and r["changed"] == 1, r
c = r["first_changed"][0]
assert c["key"] == '"train"' and "with_oracle" in c["paths"], c
ch = {x["path"]: (x["a"], x["b"]) for x in c["changes"]}
assert ch["with_oracle"][0] == 50 and ch["with_oracle"][1] < 50, ch
assert o["field_changes"][0]["a"]["oracle_p"] == 0.8, o["field_changes"]
PY
# Without a key field: by position.
run_ik 1 cache diff hi.train lo.train
contains out "records (matched by position): 0 only in A, 0 only in B,"
# A --key that is not one: exit 2, naming the record.
run_ik 2 cache diff hi.report lo.report --key nope
contains err "diff --key nope: record 0 of 'hi.report' has no string or integer field by that name"
# (an id field found by itself: tests/cli/test_cache_cli.c, diff_identical_and_different)
pass
