# tests/interop/check_peft.py - what `ikada cache export` writes for a lora.adapter, loaded by
# Hugging Face PEFT on top of its base with transformers and torch: LoraConfig.from_pretrained
# reads adapter_config.json, set_peft_model_state_dict takes every tensor of
# adapter_model.safetensors (none missing, none unexpected), and PeftModel's log-probs are
# `ikada lm score --adapter`'s. Bases: stories260K-hf (Llama, tied embeddings) and a random
# Qwen2 (q/k/v biases, GQA, untied) saved here by transformers. The adapters are seeded random
# artifacts packed into a temporary cache by tests/train/mkadapter; one has B = 0 and must
# leave the base's log-probs as they are. Runs in the venv of run.sh that sees Debian's
# python3-torch; nothing is fetched from a hub (HF_HUB_OFFLINE).
import json
import os
import subprocess
import sys
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM  # noqa: E402

from common import Tally, env, ikada  # noqa: E402

SRC = env("IKADA_SRCDIR")
MKADAPTER = os.path.join(os.environ.get("IKADA_BUILDDIR") or os.path.dirname(env("IKADA_BIN")),
                         "tests", "train", "mkadapter")
STORIES = os.path.join(SRC, "examples", "models", "stories260K-hf")
TOKENIZER = os.path.join(STORIES, "tok512.model")
# Both sides run the same float32 forward; the golden test's tolerance (check_model.py).
RTOL, ATOL = 1e-4, 1e-5
T = Tally()
TEXTS = ["Once upon a time, there was a little girl named Lily. She loved to play outside.",
         "Tom and Sue went to the park. They saw a big red ball and a dog."]
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_qwen2(folder):
    """A random Qwen2 of vocabulary 512 (tok512's), with non-zero q/k/v biases."""
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=512, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, rope_theta=10000.0)
    m = Qwen2ForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)
        for layer in m.model.layers:  # RMSNorm weights near 1, as in a trained model
            layer.input_layernorm.weight.uniform_(0.8, 1.2)
            layer.post_attention_layernorm.weight.uniform_(0.8, 1.2)
        m.model.norm.weight.uniform_(0.8, 1.2)
    m.save_pretrained(folder, safe_serialization=True)


def export(cache, config, targets, r, b_scale, seed, folder):
    """Packs a seeded adapter artifact into cache and exports it; returns the artifact's hash."""
    e = dict(os.environ, IKADA_CACHE=cache)
    h = subprocess.run([MKADAPTER, config, targets, str(r), str(b_scale), str(seed)], env=e,
                       check=True, capture_output=True, text=True).stdout.strip()
    p = subprocess.run([env("IKADA_BIN"), "cache", "export", h, "-o", folder], env=e,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"cache export {h[:12]} exited {p.returncode}: {p.stderr.strip()[:300]}")
    return h


def peft_logprobs(model, ids):
    with torch.no_grad():
        lp = model(torch.tensor([ids])).logits.float().log_softmax(-1)[0]
    return [lp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]


def close(got, want):
    return len(got) == len(want) and all(abs(g - w) <= RTOL * abs(w) + ATOL for g, w in zip(got, want))


def maxdiff(a, b):
    return max(abs(x - y) for x, y in zip(a, b)) if a and len(a) == len(b) else float("inf")


def check_config(tag, folder, r, targets, h):
    """adapter_config.json as PEFT reads it, and ikada.json beside it."""
    c = LoraConfig.from_pretrained(folder)
    T.ok(c.peft_type.value == "LORA" and c.task_type == "CAUSAL_LM", f"{tag}/config",
         f"peft_type {c.peft_type}, task_type {c.task_type}")
    T.ok(c.r == r and c.lora_alpha == 2 * r and c.lora_dropout == 0.0, f"{tag}/config",
         f"r {c.r}, lora_alpha {c.lora_alpha}, lora_dropout {c.lora_dropout}")
    T.ok(set(c.target_modules) == set(targets), f"{tag}/config", f"target_modules {c.target_modules}")
    T.ok(c.bias == "none" and not c.fan_in_fan_out and not c.use_rslora and c.base_model_name_or_path is None,
         f"{tag}/config", f"bias {c.bias}, fan_in_fan_out {c.fan_in_fan_out}, use_rslora {c.use_rslora}")
    meta = json.load(open(os.path.join(folder, "ikada.json")))
    T.ok(meta.get("artifact") == h and len(meta.get("base_hash", "")) == 64 and
         meta.get("chat_template") == "plain" and meta.get("steps") == 0, f"{tag}/ikada.json", str(meta))


def check_state_dict(tag, base_dir, folder, r, targets):
    """Every tensor of the file lands on a module of a fresh PEFT model of that config, with
    PEFT's own shapes and dtype, and no lora weight of the model is left unset."""
    base = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
    cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, lora_dropout=0.0, bias="none",
                     task_type="CAUSAL_LM")
    pm = get_peft_model(base, cfg)
    sd = load_file(os.path.join(folder, "adapter_model.safetensors"))
    T.ok(all(t.dtype == torch.float32 for t in sd.values()), f"{tag}/dtype",
         str({t.dtype for t in sd.values()}))
    want = {k: v.shape for k, v in pm.state_dict().items() if "lora_" in k}
    res = set_peft_model_state_dict(pm, sd)
    T.ok(not res.unexpected_keys, f"{tag}/unexpected", f"{res.unexpected_keys[:3]}")
    missing = [k for k in res.missing_keys if "lora_" in k]
    T.ok(not missing, f"{tag}/missing", f"{missing[:3]}")
    T.ok(len(sd) == len(want), f"{tag}/count", f"{len(sd)} tensors in the file, PEFT has {len(want)}")
    got = {k: v.shape for k, v in pm.state_dict().items() if "lora_" in k}
    T.ok(got == want, f"{tag}/shapes", "the loaded shapes are not PEFT's")
    loaded = pm.state_dict()
    same = all(torch.equal(loaded[k.replace(".lora_A.weight", ".lora_A.default.weight")
                                  .replace(".lora_B.weight", ".lora_B.default.weight")], v)
               for k, v in sd.items())
    T.ok(same, f"{tag}/values", "a tensor changed on the way into the PEFT model")


def check_scores(tag, base_dir, folder, tok_args, moves):
    """PeftModel.from_pretrained's log-probs against `ikada lm score --adapter`; with moves the
    adapter must change them (else equal the base's)."""
    base = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32).eval()
    pm = PeftModel.from_pretrained(base, folder).eval()
    for text in TEXTS:
        _, out, _ = ikada("lm", "score", "--json", "--model", base_dir, *tok_args, "--adapter", folder, text)
        j = json.loads(out)
        ids, got = j["ids"], j["logprobs"]
        want = peft_logprobs(pm, ids)
        T.ok(close(got, want), f"{tag}/logprobs", f"max |ikada - peft| {maxdiff(got, want):.3g}")
        with pm.disable_adapter():
            plain = peft_logprobs(pm, ids)
        d = maxdiff(want, plain)
        if moves:
            T.ok(d > 1e-3, f"{tag}/effect", f"the adapter moved the log-probs by only {d:.3g}")
        else:
            T.ok(d == 0.0, f"{tag}/zero", f"B = 0 moved PEFT's log-probs by {d:.3g}")


def main():
    with tempfile.TemporaryDirectory(prefix="ikada-interop-peft-") as tmp:
        cache = os.path.join(tmp, ".ikada")
        qwen = os.path.join(tmp, "qwen2")
        make_qwen2(qwen)
        cases = [  # tag, base, tokenizer args, targets, r, B scale
            ("stories260K+all", STORIES, [], "all", 4, 0.05),
            ("stories260K+qv", STORIES, [], "q,v", 8, 0.05),
            ("stories260K+zero", STORIES, [], "o,down", 2, 0),
            ("qwen2+all", qwen, ["--tokenizer", TOKENIZER], "all", 4, 0.2),
        ]
        for i, (tag, base, tok, targets, r, b) in enumerate(cases):
            folder = os.path.join(tmp, tag)
            names = ALL if targets == "all" else [n for n in ALL if n.split("_")[0] in targets.split(",")]
            try:
                h = export(cache, os.path.join(base, "config.json"), targets, r, b, 10 + i, folder)
                check_config(tag, folder, r, names, h)
                check_state_dict(tag, base, folder, r, names)
                check_scores(tag, base, folder, tok, b != 0)
            except Exception as e:  # one case failing must not hide the others
                T.ok(False, f"{tag}/error", f"{type(e).__name__}: {str(e)[:300]}")
    print(f"torch {torch.__version__}, peft {sys.modules['peft'].__version__}, "
          f"transformers {sys.modules['transformers'].__version__}")
    sys.exit(T.finish())


if __name__ == "__main__":
    main()
