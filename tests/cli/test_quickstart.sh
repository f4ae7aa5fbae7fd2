# The main job: graphs/quickstart.yaml on the bundled data runs, a second run
# is all cached, and its outputs are readable through `ikada cache`.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cp -r "$SRCDIR/graphs" "$SRCDIR/examples" .
run_ik 0 run graphs/quickstart.yaml
contains err "8 nodes: 8 ran, 0 cached, 0 failed"
run_ik 0 run graphs/quickstart.yaml
contains err "8 nodes: 0 ran, 8 cached, 0 failed"
run_ik 0 cache export stats.table -o -
contains out "train	150 samples	50 without the oracle"
contains out "test	40 samples	0 without the oracle"
run_ik 0 cache export raft.train -o train.jsonl
[ "$(wc -l < train.jsonl)" = 150 ] || fail "train.jsonl has $(wc -l < train.jsonl) lines"
run_ik 0 cache query raft.train --where 'metadata.has_oracle == false' --count
[ "$(cat out)" = 50 ] || fail "query counted $(cat out) refusal samples"
# cot (extractive, on_invalid: fail) answered every oracle sample with a valid citation.
# A table of Japanese questions lines up on a terminal: the second column
# starts at the same display column in every row (CJK characters are 2 wide).
run_ik 0 cache query raft.train --select 'metadata.question,metadata.has_oracle' --limit 5
python3 - out <<'PY' || fail "the query table's columns do not line up: $(cat out)"
import sys, unicodedata
cols = set()
for line in open(sys.argv[1], encoding="utf-8").read().splitlines():
    head = line[: line.rindex("  ") + 2]
    cols.add(sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in head))
sys.exit(len(cols) != 1)
PY
run_ik 0 cache query cot.sft --count
[ "$(cat out)" = 150 ] || fail "cot.sft has $(cat out) samples"
run_ik 0 cache show cot.report
contains out "answered 100"
contains out "invalid_citations 0"

# train: the loss falls clearly (the last training row against the first),
# validation rows are there, and the adapter exports as a PEFT folder that
# `ikada lm score` loads.
run_ik 0 cache export train.report -o rows.jsonl
first=$(grep '"type": "train"' rows.jsonl | head -1 | sed 's/.*"loss": \([0-9.e+-]*\).*/\1/')
last=$(grep '"type": "train"' rows.jsonl | tail -1 | sed 's/.*"loss": \([0-9.e+-]*\).*/\1/')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.5 * a) }' ||
    fail "the training loss went from $first to $last, expected below half"
grep -q '"type": "valid"' rows.jsonl || fail "no validation row"
run_ik 0 cache export train.adapter -o adapter
[ -f adapter/adapter_config.json ] && [ -f adapter/adapter_model.safetensors ] ||
    fail "the adapter folder lacks PEFT's files"
run_ik 0 lm score --model examples/models/stories260K-hf --adapter adapter "Once upon a time"
contains out "mean_nll"

# gguf: the adapter and base GGUFs and the Modelfile under export/quickstart.
for f in quickstart-lora-f16.gguf quickstart-base-f16.gguf Modelfile; do
    [ -s "export/quickstart/$f" ] || fail "export/quickstart lacks $f"
done
run_ik 0 gguf dump export/quickstart/quickstart-lora-f16.gguf
contains out "adapter.lora.alpha"

# eval: base and fine-tuned answered every test question through the
# engine; jcq scored 200 questions for both.
run_ik 0 cache export eval.report -o eval.json --format json
python3 - <<'PY' || fail "eval.report is not what the quickstart promises"
import json
r = json.load(open("eval.json"))
assert [m["name"] for m in r["models"]] == ["base", "raft"], r["models"]
assert all(m["n"] == 40 and m["new_tokens"] > 0 for m in r["models"]), r["models"]
assert r["comparison"]["f1_delta"]["n"] == 40, r["comparison"]
assert all(set(rec["answers"]) == {"base", "raft"} for rec in r["records"])
PY
run_ik 0 cache show jcq.report
contains out '"method":"loglik"'
contains out '"n":200'

# Status says why a node is out of date.
sed -i 's/oracle_p: 0.8/oracle_p: 0.7/' graphs/quickstart.yaml
run_ik 0 status graphs/quickstart.yaml
contains out "param 'oracle_p' changed: 0.8 -> 0.7"
sed -i 's/oracle_p: 0.7/oracle_p: 0.8/' graphs/quickstart.yaml

# Changing the LoRA rank re-runs train and what reads its adapter, not the
# data nodes (the plan; tests/cli/test_incremental.sh runs such plans).
sed -i 's/      rank: 8/      rank: 4/' graphs/quickstart.yaml
run_ik 0 run -n graphs/quickstart.yaml
for n in split raft cot stats; do grep -Eq "^$n +cached" out || fail "$n would not stay cached"; done
contains out "param 'rank' changed: 8 -> 4"
for n in gguf eval jcq; do grep -Eq "^$n +would run +upstream 'train'" out || fail "$n would not re-run"; done
pass
