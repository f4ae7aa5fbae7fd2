# tests/interop/check_llamacpp.py - what the gguf-export node writes, loaded by llama.cpp itself
# (llama-cpp-python) and read by llama.cpp's own gguf-py. For stories260K-hf and for random
# Llama (untied, llama3 rope scaling), Mistral (one KV head; written as llama), Qwen2 (q/k/v
# biases, untied) and Qwen3 (q/k norms, head_dim * heads != hidden, tied) folders written here
# (tok512 for the first two, Qwen3's byte-level BPE from shared/ for the Qwens), a graph trains
# an adapter for a few steps (so B != 0) and exports it with base: true at f32. Then:
#   - GGUFReader reads both files; the key types are the ones llama.cpp demands
#     (adapter.lora.alpha FLOAT32, general.type "adapter"), the adapter's shapes pass
#     llama-adapter.cpp's checks against the base's tensors, and every tensor holds what
#     llama.cpp's converters would write from the safetensors and PEFT files (q/k rows, and
#     lora_b of q/k, permuted as convert_hf_to_gguf.py's LlamaModel.permute for llama only);
#   - llama.cpp tokenizes each text to ikada's ids, and its per-token log-probs (log_softmax of
#     its logits, KV cache in f32) are `ikada lm score --model BASE.gguf [--adapter LORA.gguf]`'s
#     within TOL, base alone and with the adapter;
#   - the comparison has the power to see a wrong q/k permutation: the same adapter with the
#     permutation of q/k lora_b undone (llama) or wrongly applied (qwen) must miss by > TOL.
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from gguf import GGUFReader, GGUFValueType
import llama_cpp
from safetensors.numpy import load_file

from common import Tally, env, ikada, write_llama

SRC = env("IKADA_SRCDIR")
SHARED = os.environ.get("IKADA_SHARED", os.path.join(SRC, "..", "shared"))
STORIES = os.path.join(SRC, "examples", "models", "stories260K-hf")
TOK512 = os.path.join(STORIES, "tok512.model")
QWEN_TOK = os.path.join(SHARED, "data", "tokenizers", "qwen3")
FAQ = os.path.join(SRC, "examples", "jagovfaqs", "faq.jsonl")
# Both run float32 forwards (llama.cpp's KV cache too); f16 anywhere would cost 3-5e-3.
TOL = 1e-3
T = Tally()
EN = ["Once upon a time, there was a little girl named Lily. She loved to play outside.",
      "Tom and Sue went to the park. They saw a big red ball and a dog."]
QWEN_TEXTS = EN[:1] + ["<|im_start|>user\n年金の手続きはどこでできますか？<|im_end|>\n<|im_start|>assistant\n"
                       "お近くの年金事務所で、123件 of them."]
TARGETS = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
           "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
PART = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
        "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


# ---- the models ----

def random_model(folder, cfg, seed, tokenizer_files):
    """A random HF folder of cfg (its architecture's tensors, norms near 1) with the tokenizer."""
    rng = np.random.default_rng(seed)
    D, F, H, K = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, V = cfg.get("head_dim", D // H), cfg["vocab_size"]
    qwen2, qwen3 = cfg["model_type"] == "qwen2", cfg["model_type"] == "qwen3"

    def mat(o, i):
        return rng.normal(0, 0.3, (o, i))

    def norm(n):
        return rng.uniform(0.8, 1.2, n)

    t = {"model.embed_tokens.weight": rng.normal(0, 1.0, (V, D)), "model.norm.weight": norm(D)}
    if not cfg.get("tie_word_embeddings"):
        t["lm_head.weight"] = mat(V, D)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = norm(D)
        t[p + "post_attention_layernorm.weight"] = norm(D)
        for name, o, i in [("q_proj", H * hd, D), ("k_proj", K * hd, D), ("v_proj", K * hd, D),
                           ("o_proj", D, H * hd), ("gate_proj", F, D), ("up_proj", F, D), ("down_proj", D, F)]:
            t[f"{p}{PART[name]}.{name}.weight"] = mat(o, i)
        if qwen2:
            for name, o in [("q_proj", H * hd), ("k_proj", K * hd), ("v_proj", K * hd)]:
                t[f"{p}self_attn.{name}.bias"] = rng.normal(0, 0.3, o)
        if qwen3:
            t[p + "self_attn.q_norm.weight"] = norm(hd)
            t[p + "self_attn.k_norm.weight"] = norm(hd)
    write_llama(folder, cfg, t)
    for f in tokenizer_files:
        shutil.copy(f, folder)


def llama_cfg():
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
            "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 512, "max_position_embeddings": 256,
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False,
            "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}


def mistral_cfg():
    """Mistral as v0.3 configs have it (no sliding window), with one KV head: written as llama."""
    c = llama_cfg()
    del c["rope_scaling"]
    c.update({"architectures": ["MistralForCausalLM"], "model_type": "mistral", "num_key_value_heads": 1,
              "sliding_window": None, "rope_theta": 1000000.0})
    return c


def qwen_cfg(kind):
    c = {"architectures": ["Qwen2ForCausalLM" if kind == "qwen2" else "Qwen3ForCausalLM"], "model_type": kind,
         "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 256,
         "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "hidden_act": "silu",
         "tie_word_embeddings": kind == "qwen3", "bos_token_id": 151643, "eos_token_id": 151645,
         "torch_dtype": "float32"}
    if kind == "qwen3":
        c.update({"head_dim": 16, "attention_bias": False})  # 4 * 16 != 32, as in real Qwen3s
    return c


# ---- the graph ----

GRAPH = """nodes:
  split:
    type: sample
    in: {{rows: {{file: {faq}}}}}
    params: {{train: 12, test: 2, unseen: 2, unanswerable_extra: 2}}
  raft:
    type: distract
    in: {{train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}}
  train:
    type: train
    in: {{samples: raft.train, model: {{file: {model}}}}}
    params: {{max_length: 64, truncate: end, loss_on: all, rank: 4, max_steps: 4, lr: 2e-2,
             chat_template: {tmpl}}}
  export:
    type: gguf-export
    in: {{adapter: train.adapter, model: {{file: {model}}}}}
    params: {{base: true, outtype: f32, base_outtype: f32, name: {name}, export_to: exported}}
"""


def export(work, name, model, tmpl):
    """Runs the graph in work; returns (base GGUF, adapter GGUF, PEFT folder)."""
    os.makedirs(work, exist_ok=True)
    g = os.path.join(work, "g.yaml")
    with open(g, "w") as f:
        f.write(GRAPH.format(faq=json.dumps(FAQ), model=json.dumps(model), tmpl=tmpl, name=name))
    p = subprocess.run([env("IKADA_BIN"), "run", g], capture_output=True, text=True,
                       env=dict(os.environ, IKADA_CACHE=os.path.join(work, "cache")))
    if p.returncode != 0:
        raise RuntimeError(f"ikada run exited {p.returncode}: {p.stderr.strip()[-500:]}")
    out = os.path.join(work, "exported")
    return (os.path.join(out, f"{name}-base-f32.gguf"), os.path.join(out, f"{name}-lora-f32.gguf"),
            os.path.join(out, f"{name}-peft"))


# ---- gguf-py ----

def permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: HF rows of q/k (or of their lora_b) in
    llama.cpp's rotary order."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def ne(t):
    """A tensor's dimensions in ggml's order (ne0 first), as ints."""
    return [int(x) for x in t.shape]


def differ(a, w):
    return f"{np.abs(a.reshape(-1) - w.reshape(-1)).max():.3g}" if a.size == w.size else "n/a"


def field(r, key):
    """(GGUFValueType of the value or of the array's items, python value) of key, or (None, None)."""
    f = r.fields.get(key)
    if f is None:
        return None, None
    t = f.types[-1] if f.types else None
    v = f.contents()
    return t, v


def read_gguf(tag, path):
    """GGUFReader of path with every tensor's data touched; None (and a failure) if it fails."""
    try:
        r = GGUFReader(path)
        for t in r.tensors:
            np.asarray(t.data).sum()
        return r
    except Exception as e:
        T.ok(False, f"{tag}/gguf-py", f"GGUFReader({os.path.basename(path)}): {type(e).__name__}: {e}")
        return None


def check_base_file(tag, r, cfg, hf):
    """The base GGUF's keys and tensors as convert_hf_to_gguf.py would have written them."""
    arch = "llama" if cfg["model_type"] in ("llama", "mistral") else cfg["model_type"]
    want = [("general.architecture", GGUFValueType.STRING, arch), ("general.type", GGUFValueType.STRING, "model"),
            (f"{arch}.block_count", GGUFValueType.UINT32, cfg["num_hidden_layers"]),
            (f"{arch}.embedding_length", GGUFValueType.UINT32, cfg["hidden_size"]),
            (f"{arch}.feed_forward_length", GGUFValueType.UINT32, cfg["intermediate_size"]),
            (f"{arch}.attention.head_count", GGUFValueType.UINT32, cfg["num_attention_heads"]),
            (f"{arch}.attention.head_count_kv", GGUFValueType.UINT32, cfg["num_key_value_heads"]),
            (f"{arch}.context_length", GGUFValueType.UINT32, cfg["max_position_embeddings"]),
            (f"{arch}.rope.freq_base", GGUFValueType.FLOAT32, cfg["rope_theta"]),
            (f"{arch}.attention.layer_norm_rms_epsilon", GGUFValueType.FLOAT32, cfg["rms_norm_eps"]),
            ("tokenizer.ggml.model", GGUFValueType.STRING, "llama" if arch == "llama" else "gpt2")]
    for key, ty, val in want:
        t, v = field(r, key)
        good = t == ty and (abs(v - val) <= 1e-6 * abs(val) if ty == GGUFValueType.FLOAT32 else v == val)
        T.ok(good, f"{tag}/base-keys", f"{key}: {t.name if t else 'missing'} {v!r}, want {ty.name} {val!r}")
    t, toks = field(r, "tokenizer.ggml.tokens")
    T.ok(t == GGUFValueType.STRING and len(toks) == cfg["vocab_size"] and len(set(toks)) == len(toks),
         f"{tag}/base-keys", f"tokenizer.ggml.tokens: {t}, {len(toks or [])} tokens "
         f"({len(set(toks or []))} distinct) for vocab_size {cfg['vocab_size']}")
    t, ty = field(r, "tokenizer.ggml.token_type")
    T.ok(t == GGUFValueType.INT32 and len(ty) == cfg["vocab_size"], f"{tag}/base-keys", f"token_type: {t}")
    extra = ("tokenizer.ggml.scores", GGUFValueType.FLOAT32) if arch == "llama" else \
        ("tokenizer.ggml.merges", GGUFValueType.STRING)
    t, v = field(r, extra[0])
    T.ok(t == extra[1] and v, f"{tag}/base-keys", f"{extra[0]}: {t}")
    # The tensors: every one of the safetensors file, named, shaped and permuted as the converter does.
    H, K = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    conv = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
            "lm_head.weight": "output.weight"}
    sub = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
           "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight"}
    for mod, g in TARGETS.items():
        for kind in ("weight", "bias"):
            sub[f"{PART[mod]}.{mod}.{kind}"] = f"{g}.{kind}"
    got = {t.name: t for t in r.tensors}
    seen = set()
    for name, w in hf.items():
        if name.startswith("model.layers."):
            l, rest = name[len("model.layers."):].split(".", 1)
            g = f"blk.{l}.{sub[rest]}"
        else:
            g = conv[name]
        seen.add(g)
        if arch == "llama" and (".attn_q." in g or ".attn_k." in g):
            w = permute(w, H if ".attn_q." in g else K)
        t = got.get(g)
        if not T.ok(t is not None, f"{tag}/base-tensors", f"{g} (from {name}) is not in the file"):
            continue
        a = np.asarray(t.data)
        T.ok(a.dtype == np.float32 and ne(t) == list(reversed(w.shape)) and
             np.array_equal(a.reshape(w.shape), w), f"{tag}/base-tensors",
             f"{g}: {a.dtype} ne {ne(t)}, want float32 ne {list(reversed(w.shape))} and the "
             f"converter's values (max |difference| {differ(a, w)})")
    rest = set(got) - seen - {"rope_freqs.weight"}
    T.ok(not rest, f"{tag}/base-tensors", f"tensors the converter would not write: {sorted(rest)[:4]}")
    if cfg.get("rope_scaling"):
        T.ok("rope_freqs.weight" in got, f"{tag}/base-tensors", "llama3 rope scaling without rope_freqs.weight")


def check_adapter_file(tag, r, base, cfg, peft_dir):
    """The adapter GGUF: llama.cpp's key types, llama-adapter.cpp's shape rules against the base
    GGUF, and the PEFT tensors as convert_lora_to_gguf.py writes them."""
    arch = "llama" if cfg["model_type"] in ("llama", "mistral") else cfg["model_type"]
    pc = json.load(open(os.path.join(peft_dir, "adapter_config.json")))
    for key, ty, val in [("general.architecture", GGUFValueType.STRING, arch),
                         ("general.type", GGUFValueType.STRING, "adapter"),
                         ("adapter.type", GGUFValueType.STRING, "lora"),
                         ("adapter.lora.alpha", GGUFValueType.FLOAT32, float(pc["lora_alpha"]))]:
        t, v = field(r, key)
        T.ok(t == ty and v == val, f"{tag}/adapter-keys",
             f"{key}: {t.name if t else 'missing'} {v!r}, want {ty.name} {val!r}")
    sd = load_file(os.path.join(peft_dir, "adapter_model.safetensors"))
    H, K = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    want = {}
    for k, v in sd.items():  # base_model.model.model.layers.L.self_attn.q_proj.lora_A.weight
        parts = k.split(".")
        l, mod, ab = parts[4], parts[6], parts[7]
        g = f"blk.{l}.{TARGETS[mod]}.weight.lora_{ab[-1].lower()}"
        if ab == "lora_B" and arch == "llama" and mod in ("q_proj", "k_proj"):
            v = permute(v, H if mod == "q_proj" else K)
        want[g] = v
    got = {t.name: t for t in r.tensors}
    T.ok(set(got) == set(want), f"{tag}/adapter-tensors",
         f"names: {sorted(set(got) ^ set(want))[:4]} differ from convert_lora_to_gguf.py's")
    bt = {t.name: t for t in base.tensors}
    nb = 0
    for g, w in want.items():
        t = got.get(g)
        if t is None:
            continue
        a = np.asarray(t.data)
        ok = a.dtype == np.float32 and ne(t) == list(reversed(w.shape)) and np.array_equal(a.reshape(w.shape), w)
        T.ok(ok, f"{tag}/adapter-tensors", f"{g}: {a.dtype} ne {ne(t)}, want float32 ne "
             f"{list(reversed(w.shape))} holding the PEFT tensor as the converter writes it "
             f"(max |difference| {differ(a, w)})")
        nb += g.endswith("lora_b") and bool(np.any(w != 0))
        if g.endswith("lora_a"):  # llama-adapter.cpp: model ne0 == a ne0, model ne1 == b ne1, a ne1 == b ne0
            m, b = bt.get(g[: -len(".lora_a")]), got.get(g[:-1] + "b")
            T.ok(m is not None and b is not None and m.shape[0] == t.shape[0] and m.shape[1] == b.shape[1]
                 and t.shape[1] == b.shape[0], f"{tag}/adapter-shapes",
                 f"{g}: a ne {ne(t)}, b ne {ne(b) if b else None}, base ne {ne(m) if m else None}")
    T.ok(nb > 0, f"{tag}/adapter-trained", "every lora_b is zero: the adapter changes nothing")


# ---- llama.cpp ----

def llama_logprobs(model, lora, id_lists, texts=()):
    """Per-token log-probs of each list of ids (position i scores ids[i + 1]) from llama.cpp's
    logits, the model (and adapter) loaded once; and llama.cpp's ids of each of texts (BOS added
    as the file's tokenizer.ggml.add_bos_token says, special tokens parsed)."""
    llm = llama_cpp.Llama(model_path=model, lora_path=lora, n_ctx=128, n_batch=128, n_ubatch=128,
                          logits_all=True, type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32,
                          flash_attn=False, n_threads=2, n_threads_batch=2, verbose=False)
    out = []
    try:
        toks = [llm.tokenize(t.encode("utf-8"), add_bos=True, special=True) for t in texts]
        for ids in id_lists:
            llm.reset()
            llm.eval(ids)
            z = np.asarray(llm.scores[: len(ids)], dtype=np.float64)
            z = z - z.max(-1, keepdims=True)
            lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
            out.append(lp[np.arange(len(ids) - 1), ids[1:]])
    finally:
        llm.close()
    return out, toks


def ik_score(model, adapter, text):
    args = ["lm", "score", "--json", "--model", model] + (["--adapter", adapter] if adapter else []) + ["--", text]
    j = json.loads(ikada(*args)[1])
    return j["ids"], np.array(j["logprobs"], dtype=np.float64)


def broken_copy(src, dst, r, cfg):
    """src with the q/k lora_b rows in the other order: the permutation undone for llama, applied
    for the archs that must not have it. Written in place of the tensor bytes of a copy."""
    shutil.copy(src, dst)
    arch_llama = cfg["model_type"] in ("llama", "mistral")
    H, K = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    with open(dst, "r+b") as f:
        for t in r.tensors:
            if not t.name.endswith("lora_b") or not (".attn_q." in t.name or ".attn_k." in t.name):
                continue
            n = H if ".attn_q." in t.name else K
            a = np.asarray(t.data, dtype=np.float32)
            a = a.reshape(int(t.shape[1]), int(t.shape[0]))
            b = unpermute(a, n) if arch_llama else permute(a, n)
            f.seek(t.data_offset)
            f.write(np.ascontiguousarray(b, dtype=np.float32).tobytes())


def check_model(tag, work, model, cfg, tmpl, texts):
    start = time.time()
    base_gguf, lora_gguf, peft = export(work, tag, model, tmpl)
    hf = load_file(os.path.join(model, "model.safetensors"))
    rb, ra = read_gguf(tag, base_gguf), read_gguf(tag, lora_gguf)
    if rb:
        check_base_file(tag, rb, cfg, hf)
    if rb and ra:
        check_adapter_file(tag, ra, rb, cfg, peft)
    broken = os.path.join(work, "broken-qk.gguf")
    if ra:
        broken_copy(lora_gguf, broken, ra, cfg)
    ids, ik_base, ik_lora, ik_peft = [], [], [], []
    for text in texts:
        i, lp = ik_score(base_gguf, None, text)
        i2, lq = ik_score(base_gguf, lora_gguf, text)
        i3, lr = ik_score(model, peft, text)
        T.ok(i2 == i and i3 == i, f"{tag}/ids", f"{text[:30]!r}: ikada's ids differ between the GGUF "
             "pair and the safetensors folder")
        ids.append(i), ik_base.append(lp), ik_lora.append(lq), ik_peft.append(lr)
    lc_base, lc_ids = llama_logprobs(base_gguf, None, ids, texts)
    for text, lc, i in zip(texts, lc_ids, ids):
        T.ok(lc == i, f"{tag}/tokens", f"{text[:30]!r}: llama.cpp {lc[:10]}..., ikada {i[:10]}...")
    lc_lora, _ = llama_logprobs(base_gguf, lora_gguf, ids)
    lc_broken = llama_logprobs(base_gguf, broken, ids)[0] if ra else []
    worst = {"base": 0.0, "adapter": 0.0, "effect": 0.0, "broken": 0.0, "peft": 0.0}
    for k, text in enumerate(texts):
        d = np.abs(lc_base[k] - ik_base[k]).max()
        T.ok(d <= TOL, f"{tag}/base-logprobs", f"{text[:30]!r}: max |llama.cpp - ikada| {d:.3g} > {TOL:g}")
        worst["base"] = max(worst["base"], d)
        d = np.abs(lc_lora[k] - ik_lora[k]).max()
        T.ok(d <= TOL, f"{tag}/adapter-logprobs",
             f"{text[:30]!r}: max |llama.cpp - ikada| {d:.3g} > {TOL:g} with the adapter")
        worst["adapter"] = max(worst["adapter"], d)
        worst["effect"] = max(worst["effect"], np.abs(lc_lora[k] - ik_base[k]).max())
        # ikada on the GGUF pair = ikada on the safetensors folder + PEFT folder (f32 both).
        d = np.abs(ik_peft[k] - ik_lora[k]).max()
        T.ok(d <= 1e-4 * max(1.0, np.abs(ik_peft[k]).max()), f"{tag}/gguf-vs-peft",
             f"{text[:30]!r}: ikada on the GGUF pair vs on safetensors + PEFT: {d:.3g}")
        worst["peft"] = max(worst["peft"], d)
        if lc_broken:
            worst["broken"] = max(worst["broken"], np.abs(lc_broken[k] - ik_lora[k]).max())
    # Power: the adapter moves the log-probs well past TOL, and a q/k lora_b in the wrong row order
    # loads in llama.cpp and misses ikada by more than TOL on some text.
    T.ok(worst["effect"] > 10 * TOL, f"{tag}/effect",
         f"the adapter moves llama.cpp's log-probs by only {worst['effect']:.3g}: too little to test")
    T.ok(worst["broken"] > TOL, f"{tag}/power",
         f"q/k lora_b in the other row order gives {worst['broken']:.3g} <= {TOL:g}: the check cannot see it")
    print(f"{tag}: max |llama.cpp - ikada| base {worst['base']:.2e}, with adapter {worst['adapter']:.2e}; "
          f"adapter effect {worst['effect']:.2e}; q/k lora_b rows "
          f"{'unpermuted' if cfg['model_type'] in ('llama', 'mistral') else 'permuted'}: {worst['broken']:.2e}; "
          f"GGUF vs PEFT in ikada {worst['peft']:.2e} ({time.time() - start:.1f} s)")
    sys.stdout.flush()


def main():
    stories_cfg = json.load(open(os.path.join(STORIES, "config.json")))
    with tempfile.TemporaryDirectory(prefix="ikada-interop-llamacpp-") as tmp:
        cases = [("stories260K", STORIES, stories_cfg, "plain", EN)]
        m = os.path.join(tmp, "llama-random")
        random_model(m, llama_cfg(), 1, [TOK512])
        cases.append(("llama-random", m, llama_cfg(), "plain", EN))
        m = os.path.join(tmp, "mistral-random")
        random_model(m, mistral_cfg(), 4, [TOK512])
        cases.append(("mistral-random", m, mistral_cfg(), "plain", EN))
        qtok = [os.path.join(QWEN_TOK, f) for f in ("tokenizer.json", "tokenizer_config.json")]
        if all(os.path.exists(f) for f in qtok):
            for i, kind in enumerate(["qwen2", "qwen3"]):
                m = os.path.join(tmp, kind + "-random")
                random_model(m, qwen_cfg(kind), 2 + i, qtok)
                cases.append((kind + "-random", m, qwen_cfg(kind), "chatml", QWEN_TEXTS))
        else:
            T.ok(False, "qwen/tokenizer", f"no byte-level BPE tokenizer at {QWEN_TOK} for the Qwen models")
        for tag, model, cfg, tmpl, texts in cases:
            try:
                check_model(tag, os.path.join(tmp, "work-" + tag), model, cfg, tmpl, texts)
            except Exception as e:  # one model failing must not hide the others
                T.ok(False, f"{tag}/error", f"{type(e).__name__}: {str(e)[:400]}")
    print(f"llama-cpp-python {llama_cpp.__version__}")
    sys.exit(T.finish())


if __name__ == "__main__":
    main()
