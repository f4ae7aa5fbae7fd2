# gguf-export: a trained adapter becomes an adapter GGUF, a base GGUF with its
# tokenizer, a Modelfile and the PEFT folder, in the cache and under
# export_to; base GGUF + adapter GGUF score as the safetensors model + PEFT
# folder do (f32); a model that is not the adapter's base is refused.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cp -r "$SRCDIR/examples" .
export IKADA_CACHE="$WORK/cache"
cat > g.yaml <<'YAML'
nodes:
  split:
    type: sample
    in: {rows: {file: examples/jagovfaqs/faq.jsonl}}
    params: {train: 12, test: 2, unseen: 2, unanswerable_extra: 2}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
  train:
    type: train
    in: {samples: raft.train, model: {file: examples/models/stories260K-hf}}
    params: {max_length: 64, truncate: end, loss_on: all, rank: 4, max_steps: 4, lr: 1e-2}
  export:
    type: gguf-export
    in: {adapter: train.adapter, model: {file: examples/models/stories260K-hf}}
    params: {base: true, outtype: f32, base_outtype: f32, name: tiny, export_to: exported}
YAML
run_ik 0 run g.yaml
for f in tiny-lora-f32.gguf tiny-base-f32.gguf Modelfile tiny-peft/adapter_config.json \
         tiny-peft/adapter_model.safetensors; do
    [ -s "exported/$f" ] || fail "export_to lacks $f"
done
run_ik 0 cache export export.adapter -o a.gguf
cmp a.gguf exported/tiny-lora-f32.gguf || fail "the cached adapter GGUF differs from the exported one"
contains exported/Modelfile "FROM ./tiny-base-f32.gguf"
contains exported/Modelfile "ADAPTER ./tiny-lora-f32.gguf"
run_ik 0 gguf dump exported/tiny-lora-f32.gguf
contains out "general.type"
contains out "adapter.lora.alpha"
run_ik 0 cache show export.report
contains out "llama-cli -m"
contains out "ollama create tiny -f"

# The GGUF pair scores as the safetensors model with the PEFT folder.
text="Once upon a time there was a little girl"
"$IKADA" lm score --json --model exported/tiny-base-f32.gguf --adapter exported/tiny-lora-f32.gguf "$text" \
    > gguf.json || fail "lm score on the GGUF pair failed"
"$IKADA" lm score --json --model examples/models/stories260K-hf --adapter exported/tiny-peft "$text" \
    > peft.json || fail "lm score on the PEFT folder failed"
python3 -c '
import json
a = json.load(open("gguf.json")); b = json.load(open("peft.json"))
assert a["ids"] == b["ids"], (a["ids"], b["ids"])
worst = max(abs(x - y) / max(1.0, abs(y)) for x, y in zip(a["logprobs"], b["logprobs"]))
assert worst <= 1e-4, worst
' || fail "the GGUF pair and the PEFT folder score differently"

# A model that is not the adapter's base is refused.
mkdir other && cp examples/models/stories260K-hf/* other/ && echo >> other/config.json
python3 - <<'PY'
s = open("g.yaml").read()
i = s.index("  export:")
s = s[:i] + s[i:].replace("examples/models/stories260K-hf", "other")
open("g.yaml", "w").write(s)
PY
run_ik 1 run g.yaml
contains err "is not the base the adapter was trained on"
pass
