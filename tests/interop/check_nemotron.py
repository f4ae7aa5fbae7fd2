# tests/interop/check_nemotron.py - NemotronH (Mamba-2 / attention / MLP hybrid) as ikada writes
# it to GGUF, loaded by llama.cpp itself (llama-cpp-python, its nemotron_h architecture) and read
# by llama.cpp's gguf-py. A random NemotronHForCausalLM folder (backbone.* names, pattern
# M-M*-M*, tok512 as its tokenizer, a vocabulary of 520 rows for tok512's 512 pieces) and random
# PEFT adapters for it (base_model.model.model.layers.N.mixer.<module>, every target: in_proj and
# out_proj included; and one on in_proj/out_proj alone) are written here with NumPy, then
# tests/lm/mkgguf writes the f32 base GGUF and adapter GGUFs with gguf-export's writers (the
# graph path, train then gguf-export on a NemotronH, is tests/train/test_train_nemotron.sh's,
# against ikada's own reader). Then:
#   - GGUFReader reads the files; the keys are the ones llama.cpp's converter writes and its
#     loader reads (per-layer head_count_kv / feed_forward_length naming each layer's mixer,
#     ssm.*, both norm epsilons), the token list is as long as token_embd, and every tensor holds
#     what conversion/nemotron.py would write (A = -exp(A_log), the conv squeezed, the norm per
#     group, q/k rows permuted as LlamaModel.permute, lora_b of q/k likewise);
#   - llama.cpp tokenizes each text to ikada's ids, and its per-token log-probs (log_softmax of
#     its logits) equal `ikada lm score` on the folder (with the PEFT folder) within TOL, base
#     alone, with the adapter, and with the in_proj/out_proj-only adapter, which must move
#     llama.cpp's scores by more than 10 TOL (llama.cpp applies LoRA to ssm_in and ssm_out);
#   - ikada on the GGUF pair scores as ikada on the folder + PEFT folder.
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from gguf import GGUFValueType

import check_llamacpp as lc  # the tally, gguf-py helpers and llama.cpp runner, shared
from common import env, write_llama

T = lc.T
TOL = lc.TOL
SRC = env("IKADA_SRCDIR")
MKGGUF = os.path.join(os.environ.get("IKADA_BUILDDIR") or os.path.dirname(env("IKADA_BIN")), "tests", "lm",
                      "mkgguf")
PATTERN = "M-M*-M*"
CFG = {"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h", "hidden_size": 64,
       "intermediate_size": 96, "num_hidden_layers": len(PATTERN), "hybrid_override_pattern": PATTERN,
       "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 520,
       "max_position_embeddings": 256, "layer_norm_epsilon": 1e-5, "mamba_num_heads": 8,
       "mamba_head_dim": 16, "n_groups": 2, "ssm_state_size": 16, "conv_kernel": 4, "chunk_size": 16,
       "use_conv_bias": True, "mamba_hidden_act": "silu", "mlp_hidden_act": "relu2",
       "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
TARGETS = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
           "up_proj": "ffn_up", "down_proj": "ffn_down", "in_proj": "ssm_in", "out_proj": "ssm_out"}
MIXER_TARGETS = {"M": ["in_proj", "out_proj"], "*": ["q_proj", "k_proj", "v_proj", "o_proj"],
                 "-": ["up_proj", "down_proj"]}


def dims(c):
    nh, P, G, N = c["mamba_num_heads"], c["mamba_head_dim"], c["n_groups"], c["ssm_state_size"]
    inner = nh * P
    return nh, inner, G, inner + 2 * G * N, 2 * inner + 2 * G * N + nh


def projection_shapes(c):
    """(out, in) of each target's projection."""
    D, F, H, K, hd = (c["hidden_size"], c["intermediate_size"], c["num_attention_heads"],
                      c["num_key_value_heads"], c["head_dim"])
    nh, inner, G, conv, in_dim = dims(c)
    return {"q_proj": (H * hd, D), "k_proj": (K * hd, D), "v_proj": (K * hd, D), "o_proj": (D, H * hd),
            "up_proj": (F, D), "down_proj": (D, F), "in_proj": (in_dim, D), "out_proj": (D, inner)}


def random_nemotron(folder, c, seed):
    """A NemotronH folder with transformers' tensor names (backbone.*), norms near 1, A_log =
    log(1..nh), dt_bias = softplus^-1 of a log-uniform dt."""
    rng = np.random.default_rng(seed)
    D, V, K = c["hidden_size"], c["vocab_size"], c["conv_kernel"]
    nh, inner, G, conv, in_dim = dims(c)
    shapes = projection_shapes(c)
    t = {"backbone.embeddings.weight": rng.normal(0, 1.0, (V, D)),
         "backbone.norm_f.weight": rng.uniform(0.8, 1.2, D), "lm_head.weight": rng.normal(0, 0.3, (V, D))}
    for l, kind in enumerate(PATTERN):
        p = f"backbone.layers.{l}."
        t[p + "norm.weight"] = rng.uniform(0.8, 1.2, D)
        for mod in MIXER_TARGETS[kind]:
            t[f"{p}mixer.{mod}.weight"] = rng.normal(0, 0.3 if kind != "-" else 0.1, shapes[mod])
        if kind == "M":
            t[p + "mixer.conv1d.weight"] = rng.normal(0, 0.3, (conv, 1, K))
            t[p + "mixer.conv1d.bias"] = rng.normal(0, 0.1, conv)
            dt = np.exp(rng.uniform(np.log(1e-2), np.log(0.5), nh))
            t[p + "mixer.dt_bias"] = dt + np.log(-np.expm1(-dt))
            t[p + "mixer.A_log"] = np.log(np.arange(1, nh + 1, dtype=np.float64))
            t[p + "mixer.D"] = rng.uniform(0.8, 1.2, nh)
            t[p + "mixer.norm.weight"] = rng.uniform(0.8, 1.2, inner)
    write_llama(folder, c, t)
    shutil.copy(lc.TOK512, os.path.join(folder, "tokenizer.model"))
    return {k: np.asarray(v, dtype=np.float32) for k, v in t.items()}


def random_peft(folder, c, modules, seed, r=4, alpha=8.0):
    """A PEFT folder with Hugging Face's NemotronH module paths; A and B both random."""
    rng = np.random.default_rng(seed)
    shapes = projection_shapes(c)
    sd = {}
    for l, kind in enumerate(PATTERN):
        for mod in MIXER_TARGETS[kind]:
            if mod not in modules:
                continue
            out, inp = shapes[mod]
            p = f"base_model.model.model.layers.{l}.mixer.{mod}"
            sd[p + ".lora_A.weight"] = rng.normal(0, 0.2, (r, inp))
            sd[p + ".lora_B.weight"] = rng.normal(0, 0.2, (out, r))
    os.makedirs(folder, exist_ok=True)
    from safetensors.numpy import save_file
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()},
              os.path.join(folder, "adapter_model.safetensors"))
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha,
                   "lora_dropout": 0.0, "target_modules": sorted(modules), "bias": "none",
                   "fan_in_fan_out": False, "use_rslora": False}, f)
    return {k: np.asarray(v, dtype=np.float32) for k, v in sd.items()}


# ---- the files, as llama.cpp's converter writes them ----

def converted(c, hf):
    """{GGUF name: array in the converter's layout} of the base (conversion/nemotron.py, mamba.py)."""
    nh, inner, G, conv, in_dim = dims(c)
    H, K = c["num_attention_heads"], c["num_key_value_heads"]
    glob = {"backbone.embeddings.weight": "token_embd.weight", "backbone.norm_f.weight": "output_norm.weight",
            "lm_head.weight": "output.weight"}
    sub = {"norm.weight": "attn_norm.weight", "mixer.conv1d.weight": "ssm_conv1d.weight",
           "mixer.conv1d.bias": "ssm_conv1d.bias", "mixer.dt_bias": "ssm_dt.bias", "mixer.A_log": "ssm_a",
           "mixer.D": "ssm_d", "mixer.norm.weight": "ssm_norm.weight"}
    for mod, g in TARGETS.items():
        sub[f"mixer.{mod}.weight"] = f"{g}.weight"
    out = {}
    for name, w in hf.items():
        if name in glob:
            out[glob[name]] = w
            continue
        l, rest = name[len("backbone.layers."):].split(".", 1)
        g = f"blk.{l}.{sub[rest]}"
        if rest == "mixer.conv1d.weight":
            w = w.squeeze()
        elif rest == "mixer.A_log":
            w = (-np.exp(w.astype(np.float64))).astype(np.float32).reshape(-1, 1)
        elif rest == "mixer.D":
            w = w.reshape(-1, 1)
        elif rest == "mixer.norm.weight":
            w = w.reshape(G, inner // G)
        elif rest in ("mixer.q_proj.weight", "mixer.k_proj.weight"):
            w = lc.permute(w, H if "q_proj" in rest else K)
        out[g] = w
    return out


def check_base_file(tag, r, c, hf):
    a = "nemotron_h"
    nh, inner, G, conv, in_dim = dims(c)
    kv = [c["num_key_value_heads"] if k == "*" else 0 for k in PATTERN]
    ff = [c["intermediate_size"] if k == "-" else 0 for k in PATTERN]
    want = [("general.architecture", GGUFValueType.STRING, a), ("general.type", GGUFValueType.STRING, "model"),
            (f"{a}.block_count", GGUFValueType.UINT32, len(PATTERN)),
            (f"{a}.embedding_length", GGUFValueType.UINT32, c["hidden_size"]),
            (f"{a}.attention.head_count", GGUFValueType.UINT32, c["num_attention_heads"]),
            (f"{a}.attention.head_count_kv", GGUFValueType.INT32, kv),
            (f"{a}.feed_forward_length", GGUFValueType.INT32, ff),
            (f"{a}.attention.key_length", GGUFValueType.UINT32, c["head_dim"]),
            (f"{a}.ssm.conv_kernel", GGUFValueType.UINT32, c["conv_kernel"]),
            (f"{a}.ssm.inner_size", GGUFValueType.UINT32, inner),
            (f"{a}.ssm.state_size", GGUFValueType.UINT32, c["ssm_state_size"]),
            (f"{a}.ssm.time_step_rank", GGUFValueType.UINT32, nh),
            (f"{a}.ssm.group_count", GGUFValueType.UINT32, G),
            (f"{a}.attention.layer_norm_epsilon", GGUFValueType.FLOAT32, c["layer_norm_epsilon"]),
            (f"{a}.attention.layer_norm_rms_epsilon", GGUFValueType.FLOAT32, c["layer_norm_epsilon"])]
    for key, ty, val in want:
        t, v = lc.field(r, key)
        if isinstance(val, list):
            good = t == ty and list(v) == val
        else:
            good = t == ty and (abs(v - val) <= 1e-6 * abs(val) if ty == GGUFValueType.FLOAT32 else v == val)
        T.ok(good, f"{tag}/base-keys", f"{key}: {t.name if t else 'missing'} {v!r}, want {ty.name} {val!r}")
    T.ok(lc.field(r, f"{a}.rope.freq_base")[0] is None, f"{tag}/base-keys", "a RoPE key for a model without RoPE")
    got = {t.name: t for t in r.tensors}
    t, toks = lc.field(r, "tokenizer.ggml.tokens")
    emb = got.get("token_embd.weight")
    T.ok(emb is not None and len(toks or []) == int(emb.shape[1]) == c["vocab_size"], f"{tag}/base-keys",
         f"{len(toks or [])} tokens for token_embd's {emb.shape[1] if emb else None} rows (llama.cpp "
         "refuses a difference)")
    want_t = converted(c, hf)
    for g, w in want_t.items():
        t = got.get(g)
        if not T.ok(t is not None, f"{tag}/base-tensors", f"{g} is not in the file"):
            continue
        a = np.asarray(t.data)
        same = np.allclose(a.reshape(w.shape), w, rtol=1e-6, atol=0) if g.endswith("ssm_a") else \
            np.array_equal(a.reshape(w.shape), w)
        T.ok(a.dtype == np.float32 and lc.ne(t) == list(reversed(w.shape)) and same, f"{tag}/base-tensors",
             f"{g}: {a.dtype} ne {lc.ne(t)}, want float32 ne {list(reversed(w.shape))} and the converter's "
             f"values (max |difference| {lc.differ(a, w)})")
    rest = set(got) - set(want_t)
    T.ok(not rest, f"{tag}/base-tensors", f"tensors the converter would not write: {sorted(rest)[:4]}")


def check_adapter_file(tag, r, base, c, sd, alpha):
    for key, ty, val in [("general.architecture", GGUFValueType.STRING, "nemotron_h"),
                         ("general.type", GGUFValueType.STRING, "adapter"),
                         ("adapter.type", GGUFValueType.STRING, "lora"),
                         ("adapter.lora.alpha", GGUFValueType.FLOAT32, alpha)]:
        t, v = lc.field(r, key)
        T.ok(t == ty and v == val, f"{tag}/adapter-keys", f"{key}: {t.name if t else 'missing'} {v!r}")
    H, K = c["num_attention_heads"], c["num_key_value_heads"]
    want = {}
    for k, v in sd.items():  # base_model.model.model.layers.L.mixer.in_proj.lora_A.weight
        parts = k.split(".")
        l, mod, ab = parts[4], parts[6], parts[7]
        if ab == "lora_B" and mod in ("q_proj", "k_proj"):
            v = lc.permute(v, H if mod == "q_proj" else K)
        want[f"blk.{l}.{TARGETS[mod]}.weight.lora_{ab[-1].lower()}"] = v
    got = {t.name: t for t in r.tensors}
    T.ok(set(got) == set(want), f"{tag}/adapter-tensors", f"names {sorted(set(got) ^ set(want))[:4]} differ")
    bt = {t.name: t for t in base.tensors}
    for g, w in want.items():
        t = got.get(g)
        if t is None:
            continue
        a = np.asarray(t.data)
        T.ok(a.dtype == np.float32 and lc.ne(t) == list(reversed(w.shape)) and
             np.array_equal(a.reshape(w.shape), w), f"{tag}/adapter-tensors",
             f"{g}: ne {lc.ne(t)}, want ne {list(reversed(w.shape))} (max |difference| {lc.differ(a, w)})")
        if g.endswith("lora_a"):  # llama-adapter.cpp's rules against the base tensor
            m, b = bt.get(g[: -len(".lora_a")]), got.get(g[:-1] + "b")
            T.ok(m is not None and b is not None and m.shape[0] == t.shape[0] and m.shape[1] == b.shape[1]
                 and t.shape[1] == b.shape[0], f"{tag}/adapter-shapes",
                 f"{g}: a ne {lc.ne(t)}, b ne {lc.ne(b) if b else None}, base ne {lc.ne(m) if m else None}")


def mkgguf(*args):
    p = subprocess.run([MKGGUF, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"mkgguf exited {p.returncode}: {p.stderr.strip()[-500:]}")


def main():
    start = time.time()
    tag = "nemotron_h"
    with tempfile.TemporaryDirectory(prefix="ikada-interop-nemotron-") as tmp:
        try:
            model = os.path.join(tmp, "nemotron-random")
            hf = random_nemotron(model, CFG, 7)
            peft, mamba = os.path.join(tmp, "peft"), os.path.join(tmp, "peft-mamba")
            sd = random_peft(peft, CFG, list(TARGETS), 8)
            random_peft(mamba, CFG, ["in_proj", "out_proj"], 9)
            base, lora, lora_m = (os.path.join(tmp, f) for f in ("base.gguf", "lora.gguf", "lora-mamba.gguf"))
            tok = os.path.join(model, "tokenizer.model")
            mkgguf(model, tok, base, peft, lora)
            mkgguf(model, tok, base, mamba, lora_m)
            rb, ra = lc.read_gguf(tag, base), lc.read_gguf(tag, lora)
            if rb:
                check_base_file(tag, rb, CFG, hf)
            if rb and ra:
                check_adapter_file(tag, ra, rb, CFG, sd, 8.0)
            ids, ik = [], {"base": [], "lora": [], "mamba": [], "pair": []}
            for text in lc.EN:
                i, lp = lc.ik_score(model, None, text)
                ids.append(i)
                ik["base"].append(lp)
                ik["lora"].append(lc.ik_score(model, peft, text)[1])
                ik["mamba"].append(lc.ik_score(model, mamba, text)[1])
                i2, lq = lc.ik_score(base, lora, text)
                T.ok(i2 == i, f"{tag}/ids", f"{text[:30]!r}: the GGUF's ids differ from the folder's")
                ik["pair"].append(lq)
            lcp = {}
            lcp["base"], lc_ids = lc.llama_logprobs(base, None, ids, lc.EN)
            for text, a, b in zip(lc.EN, lc_ids, ids):
                T.ok(a == b, f"{tag}/tokens", f"{text[:30]!r}: llama.cpp {a[:10]}..., ikada {b[:10]}...")
            lcp["lora"] = lc.llama_logprobs(base, lora, ids)[0]
            lcp["mamba"] = lc.llama_logprobs(base, lora_m, ids)[0]
            worst = {k: 0.0 for k in ("base", "lora", "mamba", "pair", "effect", "mamba_effect")}
            for k, text in enumerate(lc.EN):
                for case in ("base", "lora", "mamba"):
                    d = np.abs(lcp[case][k] - ik[case][k]).max()
                    T.ok(d <= TOL, f"{tag}/{case}-logprobs", f"{text[:30]!r}: max |llama.cpp - ikada| {d:.3g}")
                    worst[case] = max(worst[case], d)
                d = np.abs(ik["pair"][k] - ik["lora"][k]).max()
                T.ok(d <= 1e-4 * max(1.0, np.abs(ik["lora"][k]).max()), f"{tag}/gguf-vs-peft",
                     f"{text[:30]!r}: ikada on the GGUF pair vs the folder + PEFT: {d:.3g}")
                worst["pair"] = max(worst["pair"], d)
                worst["effect"] = max(worst["effect"], np.abs(lcp["lora"][k] - lcp["base"][k]).max())
                worst["mamba_effect"] = max(worst["mamba_effect"],
                                            np.abs(lcp["mamba"][k] - lcp["base"][k]).max())
            T.ok(worst["effect"] > 10 * TOL, f"{tag}/effect", f"the adapter moves llama.cpp by {worst['effect']:.3g}")
            T.ok(worst["mamba_effect"] > 10 * TOL, f"{tag}/ssm-effect",
                 f"ssm_in/ssm_out adapters move llama.cpp by only {worst['mamba_effect']:.3g}: not applied?")
            print(f"{tag}: max |llama.cpp - ikada| base {worst['base']:.2e}, with adapter {worst['lora']:.2e}, "
                  f"in_proj/out_proj adapter {worst['mamba']:.2e}; adapter effect {worst['effect']:.2e}, "
                  f"in_proj/out_proj alone {worst['mamba_effect']:.2e}; GGUF pair vs PEFT in ikada "
                  f"{worst['pair']:.2e} ({time.time() - start:.1f} s)")
        except Exception as e:
            T.ok(False, f"{tag}/error", f"{type(e).__name__}: {str(e)[:400]}")
    sys.exit(T.finish())


if __name__ == "__main__":
    main()
