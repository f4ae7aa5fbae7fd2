# tests/interop/check_model.py - `ikada lm score/generate` against a NumPy Llama
# written here from the math of transformers' modeling_llama.py (RMSNorm,
# rotate_half RoPE, GQA by repeat_kv, SwiGLU MLP), in float64, on stories260K-hf;
# then a PEFT adapter folder written here (PEFT's names, random A and B)
# against the same forward with W + alpha/r * B @ A.
import json
import os
import sys
import tempfile

import numpy as np
import sentencepiece as spm
from safetensors.numpy import load_file, save_file

from common import Tally, env, ikada, ikada_json_lines, short

SRC = env("IKADA_SRCDIR")
MODEL = os.path.join(SRC, "examples", "models", "stories260K-hf")
# Per token |ikada - numpy| <= RTOL*|numpy| + ATOL. RTOL alone cannot hold for log-probs near
# 0 (-4e-5) in fp32: the same forward in NumPy float32 (transformers' precision) is 2-4e-6
# away from float64 there, i.e. up to 1e-3 relative; ATOL is the golden test's (1e-5).
RTOL, ATOL = 1e-4, 1e-5
T = Tally()
TEXTS = [
    "Once upon a time, there was a little girl named Lily. She loved to play outside.",
    "Tom and Sue went to the park. They saw a big red ball and a dog.",
    "The sun was hot. The cat sat under the tree and slept all day long",
    "One day, a small bird found a shiny key! \"What is this?\" it asked 123 times.",
]
TARGETS = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
           "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + x.dtype.type(eps)) * w


def rope(x, theta):
    """x [heads, T, hd]; LlamaRotaryEmbedding (default type) + apply_rotary_pos_emb."""
    hd = x.shape[-1]
    inv = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    f = np.outer(np.arange(x.shape[1], dtype=np.float64), inv)
    emb = np.concatenate([f, f], -1).astype(x.dtype)
    rot = np.concatenate([-x[..., hd // 2:], x[..., :hd // 2]], -1)  # rotate_half
    return x * np.cos(emb) + rot * np.sin(emb)


def forward(W, cfg, ids, lora=None, scale=None):
    """Log-softmax of the logits at every position, in the dtype of W's arrays (float64 for
    the checks; float32 gives HF's own precision). lora: {(layer, module): (A, B)}."""
    D, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", D // H)
    eps, theta = cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
    n = len(ids)

    def lin(h, l, mod):
        w = W[f"model.layers.{l}.{TARGETS[mod]}.{mod}.weight"]
        if lora and (l, mod) in lora:
            a, b = lora[(l, mod)]
            w = w + (scale[mod] * (b @ a)).astype(w.dtype)
        return h @ w.T

    x = W["model.embed_tokens.weight"][ids]
    dt = W["model.norm.weight"].dtype
    mask = np.triu(np.full((n, n), -np.inf, dtype=dt), 1)
    for l in range(cfg["num_hidden_layers"]):
        h = rmsnorm(x, W[f"model.layers.{l}.input_layernorm.weight"], eps)
        q = lin(h, l, "q_proj").reshape(n, H, hd).transpose(1, 0, 2)
        k = lin(h, l, "k_proj").reshape(n, KV, hd).transpose(1, 0, 2)
        v = lin(h, l, "v_proj").reshape(n, KV, hd).transpose(1, 0, 2)
        q, k = rope(q, theta), rope(k, theta)
        k, v = np.repeat(k, H // KV, axis=0), np.repeat(v, H // KV, axis=0)  # repeat_kv
        s = q @ k.transpose(0, 2, 1) / dt.type(np.sqrt(hd)) + mask
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        x = x + lin((p @ v).transpose(1, 0, 2).reshape(n, H * hd), l, "o_proj")
        h = rmsnorm(x, W[f"model.layers.{l}.post_attention_layernorm.weight"], eps)
        g = lin(h, l, "gate_proj")
        x = x + lin(g / (1 + np.exp(-g)) * lin(h, l, "up_proj"), l, "down_proj")
    x = rmsnorm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else W["lm_head.weight"]
    z = x @ head.T
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def compare_score(tag, W, cfg, sp, text, extra=(), lora=None, scale=None):
    """ikada lm score --json against the NumPy forward; returns ikada's log-probs."""
    j = ikada_json_lines("lm", "score", "--model", MODEL, "--json", *extra, "--", text)[0]
    ids = j["ids"]
    want_ids = [sp.bos_id()] + sp.encode(text)
    T.ok(ids == want_ids, f"{tag}/ids", f"text {short(text)}: ikada {ids[:8]}, sentencepiece {want_ids[:8]}")
    pos = np.arange(len(ids) - 1)
    want = forward(W, cfg, np.array(ids), lora, scale)[pos, ids[1:]]
    w32 = {k: v.astype(np.float32) for k, v in W.items()}
    l32 = {k: (a.astype(np.float32), b.astype(np.float32)) for k, (a, b) in (lora or {}).items()}
    base32 = forward(w32, cfg, np.array(ids), l32, scale)[pos, ids[1:]].astype(np.float64)
    got = np.array(j["logprobs"], dtype=np.float64)
    if len(got) != len(want):
        T.ok(False, f"{tag}/logprobs", f"{len(got)} log-probs for {len(ids)} ids")
        return got
    err = np.abs(got - want)
    rel = err / np.abs(want)
    i = int(np.argmax(err - RTOL * np.abs(want)))
    T.ok(np.all(err <= RTOL * np.abs(want) + ATOL), f"{tag}/logprobs",
         f"text {short(text)}: worst at position {i} (token {ids[i + 1]}): ikada {got[i]:.9g}, "
         f"numpy {want[i]:.9g}, |difference| {err[i]:.3g} > {RTOL:g}*|numpy| + {ATOL:g}")
    mean = -want.mean()
    T.ok(abs(j["mean_nll"] - mean) <= RTOL * mean, f"{tag}/mean_nll",
         f"text {short(text)}: ikada {j['mean_nll']:.9g}, numpy {mean:.9g}")
    e32 = np.abs(base32 - want)
    print(f"{tag}: {short(text, 50)} {len(ids)} ids: ikada max |error| {err.max():.2e}, max relative "
          f"{rel.max():.2e} ({int((rel > RTOL).sum())} positions > {RTOL:g} relative); NumPy float32: "
          f"{e32.max():.2e}, {(e32 / np.abs(want)).max():.2e} ({int((e32 > RTOL * np.abs(want)).sum())})")
    return got


def check_generate(W, cfg, sp, prompt):
    """Greedy ids against NumPy's argmax, and ikada's decoded text against sentencepiece's."""
    j = ikada_json_lines("lm", "generate", "--model", MODEL, "--max-tokens", "24", "--json", "--", prompt)[0]
    seq = list(j["prompt_ids"])
    want = []
    for _ in range(24):
        nxt = int(np.argmax(forward(W, cfg, np.array(seq))[-1]))
        want.append(nxt)
        seq.append(nxt)
        if nxt == cfg["eos_token_id"]:
            break
    got = j["ids"]
    T.ok(got == want[:len(got)] and (len(got) == len(want) or want[len(got) - 1] == cfg["eos_token_id"]),
         "stories260K/generate-ids", f"prompt {short(prompt)}: ikada {got}, numpy greedy {want}")
    ref = sp.decode(got)
    T.ok(j["text"] == ref, "stories260K/generate-decode",
         f"ids {got[:10]}: ikada text {short(j['text'])}, sentencepiece decode {short(ref)}")


def write_adapter(folder, W, cfg, r, alpha, rng, extra_cfg=None):
    """A PEFT LoRA folder as PeftModel.save_pretrained writes it (rank_pattern, alpha_pattern
    and use_dora as PEFT lays them out); returns ({(l, mod): (A, B)}, {mod: scale})."""
    os.makedirs(folder, exist_ok=True)
    c = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "stories260K-hf",
         "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
         "layers_pattern": None, "layers_to_transform": None, "lora_alpha": alpha, "lora_dropout": 0.0,
         "modules_to_save": None, "peft_type": "LORA", "r": r, "rank_pattern": {}, "revision": None,
         "target_modules": sorted(TARGETS), "task_type": "CAUSAL_LM", "use_dora": False,
         "use_rslora": False}
    c.update(extra_cfg or {})
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump(c, f, indent=2)
    lora, tensors, scale = {}, {}, {}
    for mod in TARGETS:
        scale[mod] = c["alpha_pattern"].get(mod, alpha) / c["rank_pattern"].get(mod, r)
    for l in range(cfg["num_hidden_layers"]):
        for mod, part in TARGETS.items():
            out_f, in_f = W[f"model.layers.{l}.{part}.{mod}.weight"].shape
            rm = c["rank_pattern"].get(mod, r)
            a = rng.uniform(-1, 1, (rm, in_f)).astype(np.float32) / np.float32(np.sqrt(in_f))
            b = rng.normal(0, 0.1, (out_f, rm)).astype(np.float32)
            lora[(l, mod)] = (a.astype(np.float64), b.astype(np.float64))
            name = f"base_model.model.model.layers.{l}.{part}.{mod}"
            tensors[name + ".lora_A.weight"], tensors[name + ".lora_B.weight"] = a, b
            if c["use_dora"]:  # a magnitude that is not the merged row norm, so it matters
                tensors[name + ".lora_magnitude_vector"] = rng.uniform(0.5, 2, out_f).astype(np.float32)
    save_file(tensors, os.path.join(folder, "adapter_model.safetensors"), metadata={"format": "pt"})
    return lora, scale


def check_adapter(W, cfg, sp, tmp):
    rng = np.random.default_rng(20240603)
    folder = os.path.join(tmp, "adapter")
    lora, scale = write_adapter(folder, W, cfg, 4, 8, rng)
    for text in TEXTS[:2]:
        ids = [sp.bos_id()] + sp.encode(text)
        base = forward(W, cfg, np.array(ids))[np.arange(len(ids) - 1), ids[1:]]
        got = compare_score("stories260K+lora", W, cfg, sp, text, ["--adapter", folder], lora, scale)
        moved = np.abs(got - base).max()
        T.ok(moved > 1e-2, "stories260K+lora/effect",
             f"the adapter moves the log-probs by at most {moved:.3g}: too little to test it")
    # PEFT options that change the math: ikada must honour them or refuse the folder.
    for key, val in [("alpha_pattern", {"q_proj": 32}), ("rank_pattern", {"v_proj": 2}),
                     ("use_dora", True)]:
        odd = os.path.join(tmp, "adapter-" + key)
        la, sc = write_adapter(odd, W, cfg, 4, 8, np.random.default_rng(7), {key: val})
        rc, out, err = ikada("lm", "score", "--model", MODEL, "--adapter", odd, "--json", "--",
                             TEXTS[0], check=False)
        if rc != 0:
            T.ok(True, "stories260K+lora/peft-options")
            print(f"peft option {key}={val}: refused: {err.strip().splitlines()[0][:200]}")
        elif key == "use_dora":
            T.ok(False, "stories260K+lora/peft-options",
                 f"{key}={val} accepted without error; DoRA's magnitude vectors are not modelled")
        else:
            j = json.loads(out)
            ids = j["ids"]
            want = forward(W, cfg, np.array(ids), la, sc)[np.arange(len(ids) - 1), ids[1:]]
            got = np.array(j["logprobs"])
            T.ok(np.all(np.abs(got - want) <= RTOL * np.abs(want) + ATOL), "stories260K+lora/peft-options",
                 f"{key}={val} accepted, but the scores are not PEFT's: max |logprob difference| "
                 f"{np.abs(got - want).max():.3g}")


def main():
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    W = {k: v.astype(np.float64) for k, v in load_file(os.path.join(MODEL, "model.safetensors")).items()}
    sp = spm.SentencePieceProcessor(model_file=os.path.join(MODEL, "tok512.model"))
    for text in TEXTS:
        compare_score("stories260K", W, cfg, sp, text)
    for prompt in ["Once upon a time", "The dog"]:
        check_generate(W, cfg, sp, prompt)
    with tempfile.TemporaryDirectory(prefix="ikada-interop-") as tmp:
        check_adapter(W, cfg, sp, tmp)
    sys.exit(T.finish())


if __name__ == "__main__":
    main()
