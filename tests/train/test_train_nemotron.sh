# The train, jcq-regress and evaluate nodes on a random NemotronH folder
# (pattern M-M*-M, written by tests/train/mknemotron, with the example
# model's 512-piece tokenizer), as a user would run them on a Llama: LoRA
# with targets: all trains every linear layer, in_proj and out_proj
# included, and the report says so per kind and as a share of the
# parameters; jcq-regress scores with and without the adapter (engine
# backend); evaluate runs the model; the adapter exported as a PEFT folder
# changes `lm score`; gguf-export writes the nemotron_h base GGUF and adapter
# GGUF, which score as the folder with the PEFT folder do.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
cp -r "$SRCDIR/examples" .
mk=$(dirname "$IKADA")/tests/train/mknemotron
mkdir nemo
"$mk" nemo 'M-M*-M' 32 48 512 512 5 || fail "mknemotron exited $?"
cp examples/models/stories260K-hf/tok512.model nemo/

cat > g.yaml <<'YAML'
nodes:
  split:
    type: sample
    in: {rows: {file: examples/jagovfaqs/faq.jsonl}}
    params: {train: 8, test: 2, unseen: 2, unanswerable_extra: 2}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
    params: {system_prompt: Answer.}
  train:
    type: train
    in: {samples: raft.train, model: {file: nemo}}
    params: {max_length: 64, truncate: end, loss_on: all, rank: 4, max_steps: 3, lr: 5e-2,
             targets: all, grad_accum: 2, device: cpu}
  jcq:
    type: jcq-regress
    in:
      questions: {file: examples/jcommonsenseqa/valid.jsonl}
      m: {file: nemo}
      lora: train.adapter
    params:
      method: loglik
      limit: 6
      max_drop_pp: 100
      models:
        - {name: base, backend: engine, model: m}
        - {name: tuned, backend: engine, model: m, adapter: lora}
  eval:
    type: evaluate
    in: {samples: raft.test, m: {file: nemo}}
    params:
      limit: 2
      models:
        - {name: nemo, backend: engine, model: m, max_new_tokens: 4}
  export:
    type: gguf-export
    in: {adapter: train.adapter, model: {file: nemo}}
    params: {base: true, outtype: f32, base_outtype: f32, name: nemo, export_to: exported}
YAML
run_ik 0 run g.yaml
contains err "train: done"
contains err "jcq: done"
contains err "eval: done"
contains err "export: done"
run_ik 0 cache export train.report -o report.json --format json
python3 - <<'PY' || fail "train report"
import json
t = json.load(open("report.json"))["totals"]
assert t["coverage"] == "in_proj 3/3, out_proj 3/3, q,k,v,o 1/1, up,down 2/2", t["coverage"]
assert 0.05 < t["covered_share"] < 1 and t["covered_params"] > 0, t
assert t["steps"] == 3 and t["memory_estimate_mib"] > 0, t
PY
run_ik 0 cache export jcq.report -o jcq.json --format json
python3 - <<'PY' || fail "jcq report"
import json
d = json.load(open("jcq.json"))
base, tuned = d["models"]
assert base["n"] == tuned["n"] == 6 and base["info"]["backend"] == "engine", d["models"]
assert tuned["info"]["adapter_hash"] is not None
PY
run_ik 0 cache export eval.report -o eval.json --format json
python3 - <<'PY' || fail "evaluate report"
import json
r = json.load(open("eval.json"))
assert r["models"][0]["n"] == 2, r["models"]
PY
# The trained adapter as a PEFT folder (Hugging Face's NemotronH module
# names, out_proj included), which `lm score --adapter` applies.
run_ik 0 cache export train.adapter -o peft
contains peft/adapter_config.json '"peft_type": "LORA"'
grep -q 'base_model.model.model.layers.5.mixer.out_proj.lora_B.weight' peft/adapter_model.safetensors ||
    fail "no out_proj tensor of layer 5 in the PEFT folder"
text="Once upon a time, there was a little girl named Lily."
run_ik 0 lm score --model nemo "$text"
mv out base.txt
run_ik 0 lm score --model nemo --adapter peft "$text"
cmp -s base.txt out && fail "the trained adapter left the scores as they were"
contains out "mean_nll"

# The exported GGUF pair (f32) scores as the folder with the exported PEFT
# folder, and the base GGUF alone as the folder alone: the same ids,
# log-probs within 1e-5 relative to max(1, |lp|) (the paths may differ in
# float rounding, A = -exp(A_log) stored instead of A_log; measured: equal to
# the last bit). The adapter moves the GGUF base's log-probs (by 2.1 nats at
# most when measured). The adapter GGUF has every kind of target.
for f in nemo-lora-f32.gguf nemo-base-f32.gguf nemo-peft/adapter_config.json \
         nemo-peft/adapter_model.safetensors Modelfile; do
    [ -s "exported/$f" ] || fail "export_to lacks $f"
done
run_ik 0 gguf dump exported/nemo-lora-f32.gguf
for t in ssm_in ssm_out attn_q attn_k attn_v attn_output ffn_up ffn_down; do
    grep -q "\.$t\.weight\.lora_b" out || fail "the adapter GGUF has no $t.weight.lora_b"
done
contains out '"nemotron_h"'
run_ik 0 lm score --json --model exported/nemo-base-f32.gguf --adapter exported/nemo-lora-f32.gguf "$text"
mv out gguf.json
run_ik 0 lm score --json --model nemo --adapter exported/nemo-peft "$text"
mv out peft.json
run_ik 0 lm score --json --model exported/nemo-base-f32.gguf "$text"
mv out gguf-base.json
run_ik 0 lm score --json --model nemo "$text"
mv out folder-base.json
python3 - <<'PY' || fail "the GGUF pair and the PEFT folder score differently"
import json
a = json.load(open("gguf.json")); b = json.load(open("peft.json"))
c = json.load(open("gguf-base.json")); d = json.load(open("folder-base.json"))
assert a["ids"] == b["ids"] == c["ids"] == d["ids"], (a["ids"], b["ids"], c["ids"], d["ids"])
assert len(a["logprobs"]) == len(a["ids"]) - 1 > 5, a
def worst(x, y):
    return max(abs(p - q) / max(1.0, abs(q)) for p, q in zip(x["logprobs"], y["logprobs"]))
assert worst(a, b) <= 1e-5, ("with the adapter", worst(a, b))
assert worst(c, d) <= 1e-5, ("the base alone", worst(c, d))
moved = max(abs(x - y) for x, y in zip(a["logprobs"], c["logprobs"]))
assert moved > 1e-2, moved
PY

# The same node with device: cuda (lm/train_cuda_mamba.c) through the CPU
# stand-in of the CUDA module (tests/cuda/libikada-cuda-cpu.so: the CPU
# kernels behind the module's table, with a GPU's BF16 rounding of the base
# weights and of each frozen GEMM's input; tests/cuda checks the device's
# kernels): the report names the device, every projection kind is trained,
# and each logged loss is the CPU run's within 2 %. With
# IKADA_TEST_CUDA_MODULE (make check-cuda) the real module on the GPU.
module="$(cd "$(dirname "$IKADA")" && pwd)/tests/cuda/libikada-cuda-cpu.so"
module=${IKADA_TEST_CUDA_MODULE:-$module}
sed -e 's/device: cpu/device: cuda/' g.yaml > cuda.yaml
IKADA_CUDA_MODULE="$module" run_ik 0 run --target train cuda.yaml
run_ik 0 cache export cuda.yaml:train.report -o cuda.json --format json
python3 - <<'PY' || fail "the CUDA path's report"
import json
def steps(doc):
    found = []
    def walk(x):
        if isinstance(x, dict):
            if x.get("type") == "train" and "loss" in x:
                found.append(x["loss"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(doc)
    return found
cpu, gpu = json.load(open("report.json")), json.load(open("cuda.json"))
t = gpu["totals"]
assert t["device"].startswith("cuda ("), t["device"]
assert t["coverage"] == "in_proj 3/3, out_proj 3/3, q,k,v,o 1/1, up,down 2/2", t["coverage"]
lc, lg = steps(cpu), steps(gpu)
assert len(lc) == len(lg) >= 1, (lc, lg)
for a, b in zip(lc, lg):
    assert abs(a - b) <= 0.02 * a, (lc, lg)
PY

# The default targets (Llama's list) mean the projections NemotronH has: no gate.
sed -e 's/targets: all, //' g.yaml > d.yaml
run_ik 0 run --target train d.yaml
run_ik 0 cache export d.yaml:train.report -o - --format json
python3 - <<'PY' || fail "default targets"
import json
t = json.load(open("out"))["totals"]
assert t["coverage"] == "in_proj 0/3, out_proj 0/3, q,k,v,o 1/1, up,down 2/2", t["coverage"]
PY
pass
