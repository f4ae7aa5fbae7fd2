#!/usr/bin/env python3
"""fuzz/mkseeds.py - writes the seed corpus of the fuzz targets, fuzz/corpus/<target>/.

Run from the repository root after `make` (it runs the quickstart into a temporary cache to
get real records):  python3 fuzz/mkseeds.py [--ikada ./ikada] [--shared ../shared]
Seeds are copies of the shipped files (examples/, graphs/, tests/graphs/), records of a
quickstart run, small hand-built files of every format (the model files shipped are 1 MB
each, too big for seeds) and, when --shared has them, the inputs of shared/repro/ (named
repro-<case>-<file>) and a trimmed Qwen3 tokenizer.json. The corpus is replaced whole;
fuzz/findings/ is not touched. Only the standard library is used."""
import argparse
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SEP = b"\n--ikada-fuzz-part--\n"  # FZ_SEP of fuzz/fuzz_util.h
KEY = "ab" * 32  # FZ_KEY_HEX
OBJECT_MAX = 64 << 10  # larger quickstart objects are left out

corpus = {}


def seed(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    corpus.setdefault(target, {})[name] = data


def parts(*p):
    return SEP.join(x.encode() if isinstance(x, str) else x for x in p)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- msgpack (the subset the seeds need) ----

def mp(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if 0 <= v < 1 << 32:
            return b"\xce" + struct.pack(">I", v)
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        return b"\xd9" + bytes([len(b)]) + b if len(b) < 256 else b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, bytes):
        return b"\xc4" + bytes([len(v)]) + v if len(v) < 256 else b"\xc5" + struct.pack(">H", len(v)) + v
    if isinstance(v, list):
        h = bytes([0x90 | len(v)]) if len(v) < 16 else b"\xdc" + struct.pack(">H", len(v))
        return h + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        h = bytes([0x80 | len(v)]) if len(v) < 16 else b"\xde" + struct.pack(">H", len(v))
        return h + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(type(v))


# ---- safetensors ----

def safetensors(tensors, meta=None):
    """tensors: [(name, dtype, shape, raw bytes)]"""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if meta is not None:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32(n, scale=0.01):
    return struct.pack("<%df" % n, *[((i * 37) % 17 - 8) * scale for i in range(n)])


# A tiny Llama: D 8, F 16, 2 layers, 2 heads of 4, 1 KV head, vocabulary 16 (fz_lora's shape).
TINY = dict(D=8, F=16, L=2, H=2, K=1, hd=4, V=16)


def tiny_config(**over):
    c = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": TINY["D"],
         "intermediate_size": TINY["F"], "num_hidden_layers": TINY["L"],
         "num_attention_heads": TINY["H"], "num_key_value_heads": TINY["K"], "head_dim": TINY["hd"],
         "vocab_size": TINY["V"], "max_position_embeddings": 32, "rms_norm_eps": 1e-5,
         "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": True,
         "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32", "attention_bias": False,
         "mlp_bias": False}
    c.update(over)
    return json.dumps(c, indent=2)


def tiny_weights(qk_norm=False, tied=True, dtype="F32"):
    D, F, L, H, K, hd, V = (TINY[k] for k in ("D", "F", "L", "H", "K", "hd", "V"))
    t = []

    def add(name, *shape):
        n = 1
        for s in shape:
            n *= s
        raw = f32(n)
        if dtype == "BF16":
            raw = b"".join(raw[i + 2:i + 4] for i in range(0, len(raw), 4))
        t.append((name, dtype, list(shape), raw))
    add("model.embed_tokens.weight", V, D)
    add("model.norm.weight", D)
    if not tied:
        add("lm_head.weight", V, D)
    for l in range(L):
        p = "model.layers.%d." % l
        add(p + "input_layernorm.weight", D)
        add(p + "post_attention_layernorm.weight", D)
        add(p + "self_attn.q_proj.weight", H * hd, D)
        add(p + "self_attn.k_proj.weight", K * hd, D)
        add(p + "self_attn.v_proj.weight", K * hd, D)
        add(p + "self_attn.o_proj.weight", D, H * hd)
        if qk_norm:
            add(p + "self_attn.q_norm.weight", hd)
            add(p + "self_attn.k_norm.weight", hd)
        add(p + "mlp.gate_proj.weight", F, D)
        add(p + "mlp.up_proj.weight", F, D)
        add(p + "mlp.down_proj.weight", D, F)
    return safetensors(sorted(t), {"format": "pt"})


# A tiny NemotronH: pattern M-*, D 8, MLP 16, attention 2 heads of 4 over 1, Mamba-2 2 heads of 4
# in 1 group, state 4, conv kernel 2 with bias, chunk 4, vocabulary 16.
def nemotron_config(**over):
    c = {"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h", "hidden_size": 8,
         "intermediate_size": 16, "num_hidden_layers": 3, "hybrid_override_pattern": "M-*",
         "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 4, "vocab_size": 16,
         "mamba_num_heads": 2, "mamba_head_dim": 4, "n_groups": 1, "ssm_state_size": 4,
         "conv_kernel": 2, "chunk_size": 4, "use_conv_bias": True, "mamba_hidden_act": "silu",
         "mlp_hidden_act": "relu2", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": False,
         "use_bias": False, "mlp_bias": False, "attention_bias": False}
    c.update(over)
    return json.dumps(c, indent=2)


def nemotron_weights():
    D, F, V, nh, P, N, Kc = 8, 16, 16, 2, 4, 4, 2
    inner, conv = nh * P, nh * P + 2 * N
    t = []

    def add(name, *shape):
        n = 1
        for s in shape:
            n *= s
        t.append((name, "F32", list(shape), f32(n)))
    add("backbone.embeddings.weight", V, D)
    add("backbone.norm_f.weight", D)
    add("lm_head.weight", V, D)
    for l in range(3):
        p = "backbone.layers.%d." % l
        add(p + "norm.weight", D)
    p = "backbone.layers.0.mixer."
    add(p + "in_proj.weight", 2 * inner + 2 * N + nh, D)
    add(p + "conv1d.weight", conv, 1, Kc)
    add(p + "conv1d.bias", conv)
    for name in ("dt_bias", "A_log", "D"):
        add(p + name, nh)
    add(p + "norm.weight", inner)
    add(p + "out_proj.weight", D, inner)
    add("backbone.layers.1.mixer.up_proj.weight", F, D)
    add("backbone.layers.1.mixer.down_proj.weight", D, F)
    p = "backbone.layers.2.mixer."
    add(p + "q_proj.weight", 8, D)
    add(p + "k_proj.weight", 4, D)
    add(p + "v_proj.weight", 4, D)
    add(p + "o_proj.weight", D, 8)
    return safetensors(sorted(t), {"format": "pt"})


# ---- GGUF ----

def gg_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf(kvs, tensors, version=3, align=32):
    """kvs: [(key, type, payload bytes)]; tensors: [(name, dims, ggml type, raw)]"""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for k, ty, payload in kvs:
        out += gg_str(k) + struct.pack("<I", ty) + payload
    off, data = 0, b""
    for name, dims, ty, raw in tensors:
        out += gg_str(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ty, off)
        pad = raw + b"\0" * (-len(raw) % align)
        data += pad
        off += len(pad)
    out += b"\0" * (-len(out) % align)
    return out + data


def gg_arr(elem_type, items):
    return struct.pack("<IQ", elem_type, len(items)) + b"".join(items)


def gguf_model(arch, vocab="gpt2", bias=False, qk_norm=False):
    """A tiny base model GGUF as lm/model_gguf_write.c lays it out: D 8, F 32, 1 layer, 2 heads
    of 4, 1 KV head, vocabulary 16, matrices F32/F16/BF16/Q8_0, and its tokenizer."""
    D, F, H, K, V, hd = 8, 32, 2, 1, 16, 4
    u32 = lambda v: struct.pack("<I", v)
    kvs = [("general.architecture", 8, gg_str(arch)), ("general.type", 8, gg_str("model"))]
    for k, v in (("context_length", 16), ("embedding_length", D), ("block_count", 1),
                 ("feed_forward_length", F), ("attention.head_count", H), ("attention.head_count_kv", K),
                 ("rope.dimension_count", hd), ("vocab_size", V)):
        kvs.append((arch + "." + k, 4, u32(v)))
    kvs += [(arch + ".attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5)),
            (arch + ".rope.freq_base", 6, struct.pack("<f", 10000.0))]
    if vocab == "gpt2":
        toks = ["a", "b", "c", "\u0120", "ab", "abc", "\u0120a", "1", "2", "12", "<|im_end|>"]
        types = [1] * 10 + [3]
        kvs += [("tokenizer.ggml.model", 8, gg_str("gpt2")), ("tokenizer.ggml.pre", 8, gg_str("qwen2")),
                ("tokenizer.ggml.merges", 9, gg_arr(8, [gg_str(m) for m in ("a b", "ab c", "\u0120 a", "1 2")]))]
    else:
        toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(4)] + WORDS[:4]
        types = [2, 3, 3] + [6] * 4 + [1] * 4
        kvs += [("tokenizer.ggml.model", 8, gg_str("llama")),
                ("tokenizer.ggml.scores", 9, gg_arr(6, [struct.pack("<f", -float(i)) for i in range(V)]))]
    toks += ["[PAD%d]" % i for i in range(len(toks), V)]
    types += [5] * (V - len(types))
    kvs += [("tokenizer.ggml.tokens", 9, gg_arr(8, [gg_str(t) for t in toks])),
            ("tokenizer.ggml.token_type", 9, gg_arr(5, [struct.pack("<i", t) for t in types])),
            ("tokenizer.ggml.bos_token_id", 4, u32(1)), ("tokenizer.ggml.eos_token_id", 4, u32(2)),
            ("tokenizer.ggml.add_bos_token", 7, b"\x00"),
            ("tokenizer.chat_template", 8, gg_str("{% for m in messages %}<|im_start|>{% endfor %}<|im_end|>"))]
    f16 = lambda n: b"".join(struct.pack("<e", ((i * 37) % 17 - 8) * 0.01) for i in range(n))
    bf16 = lambda n: b"".join(f32(n)[4 * i + 2:4 * i + 4] for i in range(n))
    q8 = lambda rows: b"".join(struct.pack("<e", 0.01) + bytes((i * 7 + r) % 256 for i in range(32))
                               for r in range(rows))
    ones = lambda n: struct.pack("<%df" % n, *([1.0] * n))
    b = "blk.0."
    t = [("token_embd.weight", [D, V], 0, f32(V * D)), ("output_norm.weight", [D], 0, ones(D)),
         (b + "attn_norm.weight", [D], 0, ones(D)), (b + "attn_q.weight", [D, H * hd], 1, f16(D * H * hd)),
         (b + "attn_k.weight", [D, K * hd], 1, f16(D * K * hd)), (b + "attn_v.weight", [D, K * hd], 0, f32(D * K * hd)),
         (b + "attn_output.weight", [H * hd, D], 30, bf16(D * H * hd)), (b + "ffn_norm.weight", [D], 0, ones(D)),
         (b + "ffn_gate.weight", [D, F], 30, bf16(D * F)), (b + "ffn_up.weight", [D, F], 0, f32(D * F)),
         (b + "ffn_down.weight", [F, D], 8, q8(D * F // 32))]
    if bias:
        t += [(b + "attn_q.bias", [H * hd], 0, f32(H * hd)), (b + "attn_k.bias", [K * hd], 0, f32(K * hd)),
              (b + "attn_v.bias", [K * hd], 0, f32(K * hd))]
    if qk_norm:
        t += [(b + "attn_q_norm.weight", [hd], 0, ones(hd)), (b + "attn_k_norm.weight", [hd], 0, ones(hd))]
    return gguf(kvs, t)


def gguf_nemotron():
    """A tiny nemotron_h base GGUF as lm/model_gguf_nemotron_h.c writes it (the shape of
    nemotron_config(): layers M-*, D 8, F 16, 2 Mamba heads of 4, 1 group, state 4, conv 2), with
    a llama vocabulary of 16 (the token list as long as token_embd)."""
    D, F, H, K, hd, V, nh, P, N, Kc = 8, 16, 2, 1, 4, 16, 2, 4, 4, 2
    inner, conv = nh * P, nh * P + 2 * N
    u32 = lambda v: struct.pack("<I", v)
    i32s = lambda vals: gg_arr(5, [struct.pack("<i", v) for v in vals])
    a = "nemotron_h."
    kvs = [("general.architecture", 8, gg_str("nemotron_h")), ("general.type", 8, gg_str("model"))]
    for k, v in (("vocab_size", V), ("context_length", 16), ("embedding_length", D), ("block_count", 3),
                 ("attention.head_count", H), ("attention.key_length", hd), ("attention.value_length", hd),
                 ("ssm.conv_kernel", Kc), ("ssm.inner_size", inner), ("ssm.state_size", N),
                 ("ssm.time_step_rank", nh), ("ssm.group_count", 1)):
        kvs.append((a + k, 4, u32(v)))
    kvs += [(a + "attention.head_count_kv", 9, i32s([0, 0, K])), (a + "feed_forward_length", 9, i32s([0, F, 0])),
            (a + "attention.layer_norm_epsilon", 6, struct.pack("<f", 1e-5)),
            (a + "attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5)),
            ("ikada.ssm.chunk_size", 4, u32(4))]
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(4)] + WORDS[:4]
    types = [2, 3, 3] + [6] * 4 + [1] * 4
    toks += ["[PAD%d]" % i for i in range(len(toks), V)]
    types += [5] * (V - len(types))
    kvs += [("tokenizer.ggml.model", 8, gg_str("llama")),
            ("tokenizer.ggml.tokens", 9, gg_arr(8, [gg_str(t) for t in toks])),
            ("tokenizer.ggml.scores", 9, gg_arr(6, [struct.pack("<f", -float(i)) for i in range(V)])),
            ("tokenizer.ggml.token_type", 9, gg_arr(5, [struct.pack("<i", t) for t in types])),
            ("tokenizer.ggml.bos_token_id", 4, u32(1)), ("tokenizer.ggml.eos_token_id", 4, u32(2))]
    ones = lambda n: struct.pack("<%df" % n, *([1.0] * n))
    neg = lambda n: struct.pack("<%df" % n, *[-(h + 1.0) for h in range(n)])  # A = -exp(log(1..nh))
    f16 = lambda n: b"".join(struct.pack("<e", ((i * 37) % 17 - 8) * 0.01) for i in range(n))
    t = [("token_embd.weight", [D, V], 0, f32(V * D)), ("output_norm.weight", [D], 0, ones(D)),
         ("output.weight", [D, V], 1, f16(V * D))]
    for l in range(3):
        t.append(("blk.%d.attn_norm.weight" % l, [D], 0, ones(D)))
    b = "blk.0."
    t += [(b + "ssm_in.weight", [D, 2 * inner + 2 * N + nh], 1, f16(D * (2 * inner + 2 * N + nh))),
          (b + "ssm_conv1d.weight", [Kc, conv], 0, f32(Kc * conv)), (b + "ssm_conv1d.bias", [conv], 0, f32(conv)),
          (b + "ssm_dt.bias", [nh], 0, f32(nh)), (b + "ssm_a", [1, nh], 0, neg(nh)), (b + "ssm_d", [1, nh], 0, ones(nh)),
          (b + "ssm_norm.weight", [inner, 1], 0, ones(inner)), (b + "ssm_out.weight", [inner, D], 0, f32(inner * D)),
          ("blk.1.ffn_up.weight", [D, F], 0, f32(D * F)), ("blk.1.ffn_down.weight", [F, D], 1, f16(D * F))]
    b = "blk.2."
    t += [(b + "attn_q.weight", [D, H * hd], 0, f32(D * H * hd)), (b + "attn_k.weight", [D, K * hd], 0, f32(D * K * hd)),
          (b + "attn_v.weight", [D, K * hd], 0, f32(D * K * hd)), (b + "attn_output.weight", [H * hd, D], 0, f32(D * H * hd))]
    return gguf(kvs, t)


# ---- protobuf (SentencePiece .model) ----

def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(field, wire, payload):
    key = varint(field << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 5:
        return key + payload
    return key + varint(len(payload)) + payload


def spm_model(pieces, model_type, byte_fallback=False, normalizer=None):
    """pieces: [(piece, score, type)] with SentencePiece's types (1 normal, 2 unk, 3 control,
    4 user, 6 byte)."""
    out = b""
    for p, score, ty in pieces:
        sub = pb_field(1, 2, p.encode()) + pb_field(2, 5, struct.pack("<f", score)) + pb_field(3, 0, ty)
        out += pb_field(1, 2, sub)
    trainer = pb_field(3, 0, model_type) + pb_field(35, 0, int(byte_fallback))
    trainer += pb_field(40, 0, 0) + pb_field(41, 0, 1) + pb_field(42, 0, 2)
    out += pb_field(2, 2, trainer)
    norm = pb_field(1, 2, (normalizer or "identity").encode()) + pb_field(3, 0, 1) + pb_field(4, 0, 1)
    return out + pb_field(3, 2, norm)


def spm_pieces(words, byte_pieces=False):
    ps = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    if byte_pieces:
        ps += [("<0x%02X>" % b, 0.0, 6) for b in range(256)]
    for i, w in enumerate(words):
        ps.append((w, -1.0 - i * 0.5, 1))
    return ps


WORDS = ["\u2581", "e", "o", "l", "H", "w", "r", "d", "h", "\u2581w", "ll", "llo", "\u2581H", "He",
         "Hello", "\u2581world", "or", "ld", "\u65e5", "\u672c", "\u8a9e", "\u65e5\u672c", ","]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ikada", default="./ikada")
    ap.add_argument("--shared", default=next((d for d in ("../shared", "../../shared") if os.path.isdir(d)),
                                             "../shared"), help="the shared folder (default ../shared)")
    ap.add_argument("--out", default="fuzz/corpus")
    a = ap.parse_args()

    # graph: every graph file shipped, good and bad.
    for f in sorted(glob.glob("graphs/*.yaml") + glob.glob("tests/graphs/*/*.yaml")):
        seed("graph", f.replace("/", "_"), read(f))
    # issue 9: libyaml spends seconds in a deeply nested file (40,000 deep: 4.4 s); the graph
    # reader is to refuse beyond a sane depth before parsing.
    seed("graph", "deep-10000", "nodes:\n  a:\n    type: command\n    params: {cmd: %s%s}\n"
         % ("[" * 10000, "]" * 10000))

    # Cache records of a real run: actions, refs, run record, srcmemo, objects.
    # The cache sits in the repository root so that refs name the graph "graphs/quickstart.yaml"
    # (its path from the cache's folder), which fz_refs loads. The targets re-seal records
    # (fuzz_util.h's fz_reseal), so seeds edited here need no new checksum.
    with tempfile.TemporaryDirectory(dir=".", prefix=".fuzz-seeds-") as tmp:
        env = dict(os.environ, IKADA_CACHE=os.path.abspath(tmp))
        subprocess.run([a.ikada, "run", "graphs/quickstart.yaml"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        root = env["IKADA_CACHE"]
        for f in sorted(glob.glob(root + "/actions/*/*")):
            key = os.path.basename(os.path.dirname(f)) + os.path.basename(f)
            rec = read(f).replace(key.encode(), KEY.encode())
            seed("action", "quickstart-" + key[:12], rec)
        for f in sorted(glob.glob(root + "/refs/**/*", recursive=True)):
            if os.path.isfile(f):
                b = read(f)
                seed("refs", "quickstart-" + os.path.basename(f), b)
                i = b.find(b"\xa6unseen")  # shared/repro/refs-port-flip-persistent-failure
                if i >= 0:
                    seed("refs", "port-flip", b[:i + 1] + b"-" + b[i + 2:])
        for f in sorted(glob.glob(root + "/runs/*")):
            seed("runlog", "quickstart-run", read(f))
        memo = read(root + "/srcmemo")
        seed("srcmemo", "quickstart", memo)
        seed("srcmemo", "torn-tail", memo + memo[:len(memo) // 2])
        for f in sorted(glob.glob(root + "/objects/*/*")):
            if os.path.getsize(f) <= OBJECT_MAX:
                seed("object", "quickstart-" + os.path.basename(os.path.dirname(f)) +
                     os.path.basename(f)[:10], read(f))
    seed("srcmemo", "hand", mp(["/tmp/x", 1, 2, 3, 4, b"\x11" * 32]) + mp(["/tmp/y", 1, 2, 3, 4, b"\x22" * 31]))
    seed("kv", "good", KEY + "\n")
    seed("kv", "upper", KEY.upper() + "\n")
    seed("kv", "short", KEY[:40])

    # object: hand-made forms beside the quickstart's.
    tensor = {"dtype": "f32", "shape": [2, 2], "data": struct.pack("<4f", 1, -2, 0.5, 3e38)}
    seed("object", "tensors", mp({"kind": "lm.weights", "schema": 1, "meta": {"name": "w"},
                                  "tensors": {"a": tensor, "b": dict(tensor, dtype="bf16", shape=[1, 4])}}))
    seed("object", "file-text", mp({"kind": "file", "schema": 1, "meta": {"name": "a.txt"},
                                    "data": b"line 1\nline 2\n\xe6\x97\xa5\n"}))
    seed("object", "file-binary", mp({"kind": "file", "schema": 1, "meta": {"name": "a.bin"},
                                      "data": bytes(range(256))}))
    recs = [{"id": 1, "q": "\u65e5\u672c\u8a9e", "n": -3, "f": 1.5, "ok": True, "x": None, "e": "",
             "tags": ["a", "b"], "m": {"k": [1, {"z": 2}]}, "b": b"\x00\xff"},
            {"id": 2, "q": "tab\there \"quoted\" \\ \x01", "n": 1 << 63, "f": 1e-7, "ok": False}]
    seed("object", "records", mp({"kind": "raft.samples", "schema": 1, "meta": {"seed": 42}, "records": recs}))
    seed("object", "spec", mp({"type": "sample", "version": 1, "params": {"seed": 42}, "inputs": [b"\x01" * 32]}))
    seed("object", "log-text", "ikada: node ran\n\u65e5\u672c\n")
    seed("object", "ext", b"\x81\xa4kind\xd4\x01\x02")

    # query: expressions, each against records.
    arr = mp({"kind": "raft.samples", "schema": 1, "meta": {}, "records": recs})
    for i, e in enumerate(["id == 1", "q contains '\u65e5' and not ok", "n < 0 or f >= 1.5e0",
                           "tags contains \"a\" and m.k[1].z == 2", "m[\"k\"][-1] != null",
                           "(id > 1) == true", "q, n, m.k[0], tags[-1]", "meta[\"odd key\"].x",
                           "e == '' or x == null", "not not id", "id contains 1 ==", "\"unclosed"]):
        seed("query", "expr%02d" % i, parts(e, arr))
    seed("query", "bare-record", parts("a.b", mp({"a": {"b": [1, 2]}})))

    # faqrows: the first rows of the shipped FAQ in every format.
    lines = read("examples/jagovfaqs/faq.jsonl").decode().splitlines()[:6]
    rows = [json.loads(x) for x in lines]
    seed("faqrows", "jsonl", "\n".join(lines) + "\n")
    seed("faqrows", "json", json.dumps(rows, ensure_ascii=False))
    cols = list(rows[0].keys())

    def csvq(v):
        v = str(v)
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n\r') else v
    csv = "\r\n".join([",".join(cols)] + [",".join(csvq(r.get(c, "")) for c in cols) for r in rows])
    seed("faqrows", "csv", "\ufeff" + csv + "\r\n")
    seed("faqrows", "msgpack-array", mp(rows[:3]))
    seed("faqrows", "msgpack-stream", b"".join(mp(r) for r in rows[:3]))
    seed("faqrows", "msgpack-artifact", mp({"kind": "faq.rows", "schema": 1, "meta": {},
                                            "records": [{"question": "q?", "answer": "a.", "group": "g",
                                                         "url": None}]}))

    # safetensors: dtypes, metadata, an empty tensor, a sharded folder.
    st = safetensors([("a", "F32", [2, 3], f32(6)), ("b", "F16", [4], b"\x00\x3c" * 4),
                      ("c", "BF16", [1, 2], b"\x80\x3f" * 2), ("d", "I64", [1], b"\x07" + b"\0" * 7),
                      ("e", "F32", [0, 5], b"")], {"format": "pt"})
    seed("safetensors", "dtypes", st)
    seed("safetensors", "tiny-model", tiny_weights())
    idx = json.dumps({"metadata": {"total_size": 40}, "weight_map": {"a": "a.safetensors", "b": "b.safetensors"}})
    seed("safetensors", "sharded", parts(idx, safetensors([("a", "F32", [2], f32(2))]),
                                         safetensors([("b", "BF16", [3], b"\x80\x3f" * 3)])))

    # config: the shipped one and every variant the parser knows.
    seed("config", "stories260K", read("examples/models/stories260K-hf/config.json"))
    seed("config", "tiny", tiny_config())
    seed("config", "qwen3", tiny_config(architectures=["Qwen3ForCausalLM"], model_type="qwen3",
                                        tie_word_embeddings=False, eos_token_id=[2, 3], sliding_window=None,
                                        use_sliding_window=False, rope_theta=1000000.0))
    seed("config", "qwen2", tiny_config(architectures=["Qwen2ForCausalLM"], model_type="qwen2",
                                        head_dim=None))
    seed("config", "mistral", tiny_config(architectures=["MistralForCausalLM"], model_type="mistral",
                                          sliding_window=16))
    seed("config", "llama3-rope", tiny_config(rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                            "original_max_position_embeddings": 16},
                                              attention_bias=True))
    seed("config", "nemotron-h", nemotron_config())
    seed("config", "nemotron-h-block-list", nemotron_config(hybrid_override_pattern=None,
                                                            layers_block_type=["mamba", "mlp", "attention"]))

    # model: config.json + model.safetensors of the tiny shape.
    seed("model", "tiny", parts(tiny_config(), tiny_weights()))
    seed("model", "tiny-bf16-untied", parts(tiny_config(tie_word_embeddings=False),
                                            tiny_weights(tied=False, dtype="BF16")))
    seed("model", "tiny-qwen3", parts(tiny_config(architectures=["Qwen3ForCausalLM"], model_type="qwen3"),
                                      tiny_weights(qk_norm=True)))
    seed("model", "tiny-nemotron-h", parts(nemotron_config(), nemotron_weights()))

    # llama2c: the v0 checkpoint of the tiny shape, shared and separate classifier.
    D, F, L, H, K, hd, V = (TINY[k] for k in ("D", "F", "L", "H", "K", "hd", "V"))
    seq = 8
    body = (V * D + L * D + L * D * D + 2 * L * K * hd * D + L * D * D + L * D + 3 * L * F * D + D
            + 2 * seq * hd // 2)
    seed("llama2c", "tiny-shared", struct.pack("<7i", D, F, L, H, K, V, seq) + f32(body))
    seed("llama2c", "tiny-wcls", struct.pack("<7i", D, F, L, H, K, -V, seq) + f32(body + V * D))

    # lora: a PEFT folder for the tiny shape.
    r = 2
    mods = {"q_proj": (H * hd, D), "k_proj": (K * hd, D), "v_proj": (K * hd, D), "o_proj": (D, H * hd),
            "gate_proj": (F, D), "up_proj": (F, D), "down_proj": (D, F)}

    def adapter(targets):
        t = []
        for l in range(L):
            for m in targets:
                out, inn = mods[m]
                part = "self_attn" if m[0] in "qkvo" else "mlp"
                p = "base_model.model.model.layers.%d.%s.%s." % (l, part, m)
                t.append((p + "lora_A.weight", "F32", [r, inn], f32(r * inn)))
                t.append((p + "lora_B.weight", "F32", [out, r], f32(out * r)))
        cfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": 4.0, "lora_dropout": 0.0,
               "target_modules": targets, "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
               "layers_to_transform": None, "base_model_name_or_path": "tiny"}
        return parts(json.dumps(cfg, indent=2), safetensors(sorted(t)))
    seed("lora", "qv", adapter(["q_proj", "v_proj"]))
    seed("lora", "all", adapter(list(mods)))

    # adapter: the lora.adapter artifact (nodes/train/adapter_artifact.h) of the same shape.
    def adapter_artifact(targets, arch="llama", **over):
        tens = {}
        for l in range(L):
            for m in targets:
                out, inn = mods[m]
                part = "self_attn" if m[0] in "qkvo" else "mlp"
                p = "base_model.model.model.layers.%d.%s.%s." % (l, part, m)
                tens[p + "lora_A.weight"] = {"dtype": "f32", "shape": [r, inn], "data": f32(r * inn)}
                tens[p + "lora_B.weight"] = {"dtype": "f32", "shape": [out, r], "data": f32(out * r)}
        bc = {"arch": arch, "D": D, "F": F, "L": L, "H": H, "K": K, "head_dim": hd, "V": V, "max_seq": 32,
              "norm_eps": 1e-5, "rope_theta": 10000.0, "rope_factor": 0.0, "rope_low_freq_factor": 0.0,
              "rope_high_freq_factor": 0.0, "rope_original_max_seq": 0, "tie_embeddings": True,
              "qkv_bias": arch == "qwen2", "o_bias": False, "qk_norm": False, "sliding_window": 0,
              "bos_id": 1, "eos_ids": [2]}
        bc.update(over)
        meta = {"r": r, "alpha": 4.0, "dropout": 0.0, "targets": targets, "base_architecture": arch,
                "base_hash": "ab" * 32, "tokenizer_hash": "cd" * 32, "chat_template": "chatml", "steps": 100}
        return mp({"kind": "lora.adapter", "schema": 1, "meta": meta, "base_config": bc, "tensors": tens})
    seed("adapter", "qv", adapter_artifact(["q_proj", "v_proj"]))
    seed("adapter", "all-qwen2", adapter_artifact(list(mods), "qwen2", bos_id=-1, eos_ids=[14, 15]))
    seed("adapter", "down-rope", adapter_artifact(["down_proj"], rope_factor=8.0, rope_low_freq_factor=1.0,
                                                  rope_high_freq_factor=4.0, rope_original_max_seq=16))
    # And one as the C packer writes it (float32 floats), where `make check` has built the helper.
    mk = os.path.join(os.path.dirname(a.ikada), "tests/train/mkadapter")
    if os.path.exists(mk):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "config.json"), "w") as f:
                f.write(tiny_config())
            env = dict(os.environ, IKADA_CACHE=os.path.join(tmp, ".ikada"))
            h = subprocess.run([mk, os.path.join(tmp, "config.json"), "q,o,up", "2", "0.1", "5"], env=env,
                               check=True, capture_output=True, text=True).stdout.strip()
            seed("adapter", "packed-qou", read(os.path.join(tmp, ".ikada", "objects", h[:2], h[2:])))
            # A NemotronH base (blocks, ssm_* in base_config; each layer its mixer's modules).
            with open(os.path.join(tmp, "config.json"), "w") as f:
                f.write(nemotron_config())
            h = subprocess.run([mk, os.path.join(tmp, "config.json"), "all", "2", "0.1", "6"], env=env,
                               check=True, capture_output=True, text=True).stdout.strip()
            seed("adapter", "packed-nemotron-h", read(os.path.join(tmp, ".ikada", "objects", h[:2], h[2:])))
    else:
        print("mkseeds: no %s (make check builds it): seeds adapter/packed-qou, packed-nemotron-h left out" % mk,
              file=sys.stderr)

    # checkpoint: a training checkpoint (nodes/train/checkpoint.h) of fz_checkpoint's
    # 32-value adapter, with a training and a validation row.
    def ckpt(step, rows):
        vals = struct.pack("<32f", *[0.01 * i for i in range(32)])
        return mp({"format": 1, "step": step, "samples": 8 * step, "tokens": 96 * step,
                   "targets": 90 * step, "seconds": 0.5, "win": [1.5, 3, 1, 40, 0.1],
                   "cursor": {"epoch": 0, "batch": step}, "rows": rows, "n_params": 32,
                   "params": vals, "m": vals, "v": vals})
    seed("checkpoint", "fresh", ckpt(0, []))
    seed("checkpoint", "rows", ckpt(4, [[False, 2, 0.5, 3.25, 0.125, 2e-4, 1.5, 900.0],
                                        [True, 4, 1.0, 3.0, 0.25, 0.0, 0.0, 0.0]]))

    # tokenizers
    seed("tokspm", "tok512.model", read("examples/models/stories260K/tok512.model"))
    seed("tokspm", "tok512.model-text", parts(read("examples/models/stories260K/tok512.model"),
                                              "Once upon a time, \u65e5\u672c \U0001F600"))
    seed("tokspm", "unigram", spm_model(spm_pieces(WORDS), 1))
    seed("tokspm", "bpe-bytes", spm_model(spm_pieces(WORDS, byte_pieces=True), 2, byte_fallback=True))
    seed("tokl2c", "tok512.bin", read("examples/models/stories260K/tok512.bin"))
    seed("tokl2c", "tok512.bin-text", parts(read("examples/models/stories260K/tok512.bin"), "Hello <s> x\n"))
    bpe = {"version": "1.0", "added_tokens": [{"id": 8, "content": "<|im_end|>", "special": True},
                                              {"id": 9, "content": "<extra>", "special": False}],
           "normalizer": {"type": "NFC"},
           "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
               {"type": "Split", "pattern": {"Regex": "\\s?\\p{L}+|\\s?\\p{N}|[^\\s\\p{L}\\p{N}]+|\\s+"},
                "behavior": "Isolated", "invert": False},
               {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
           "post_processor": None, "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "byte_fallback": False,
                     "ignore_merges": False,
                     "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5, "\u0120": 6, "\u0120a": 7},
                     "merges": ["b c", ["a", "b"], "ab c", "\u0120 a"]}}
    seed("tokjson", "hand", json.dumps(bpe, indent=1))
    seed("tokjson", "hand-text", parts(json.dumps(bpe), "abc abcab<|im_end|> c\u0301"))
    qwen = os.path.join(a.shared, "data/tokenizers/qwen3/tokenizer.json")
    if os.path.exists(qwen):
        # The real file is 11 MB: keep its structure, the first 400 pieces and the merges
        # among them.
        j = json.loads(read(qwen))
        vocab = {k: v for k, v in j["model"]["vocab"].items() if v < 400}
        merges = []
        for m in j["model"]["merges"]:
            x, y = m if isinstance(m, list) else m.split(" ", 1)
            if x in vocab and y in vocab and x + y in vocab:
                merges.append(m)
        j["model"]["vocab"], j["model"]["merges"] = vocab, merges
        j["added_tokens"] = j["added_tokens"][:12]
        seed("tokjson", "qwen3-trimmed", json.dumps(j, ensure_ascii=False))

    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(4)] + WORDS
    types = [2, 3, 3] + [6] * 4 + [1] * len(WORDS)
    kvs = [("general.architecture", 8, gg_str("llama")), ("general.alignment", 4, struct.pack("<I", 32)),
           ("tokenizer.ggml.model", 8, gg_str("llama")),
           ("tokenizer.ggml.tokens", 9, gg_arr(8, [gg_str(t) for t in toks])),
           ("tokenizer.ggml.scores", 9, gg_arr(6, [struct.pack("<f", -float(i)) for i in range(len(toks))])),
           ("tokenizer.ggml.token_type", 9, gg_arr(5, [struct.pack("<i", t) for t in types])),
           ("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 1)),
           ("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", 2)),
           ("tokenizer.ggml.add_space_prefix", 7, b"\x01"),
           ("llama.context_length", 10, struct.pack("<Q", 32)), ("x.i16", 3, struct.pack("<h", -7)),
           ("x.f64", 12, struct.pack("<d", 0.5)), ("x.nested", 9, gg_arr(9, [gg_arr(0, [b"\x01"])]))]
    q8 = struct.pack("<e", 0.5) + bytes(range(32))
    tensors = [("token_embd.weight", [8, 2], 0, f32(16)), ("blk.0.attn_norm.weight", [8], 1, b"\x00\x3c" * 8),
               ("output.weight", [32, 1], 8, q8), ("x.bf16", [4], 30, b"\x80\x3f" * 4)]
    seed("gguf", "tiny-v3", gguf(kvs, tensors))
    seed("gguf", "tiny-v2-text", parts(gguf(kvs[:9], tensors[:1], version=2), "Hello world"))
    seed("ggufmodel", "llama-spm", gguf_model("llama", "llama"))
    seed("ggufmodel", "qwen2-gpt2-text", parts(gguf_model("qwen2", bias=True), "abc ab 12<|im_end|>"))
    seed("ggufmodel", "qwen3-gpt2", gguf_model("qwen3", qk_norm=True))
    seed("ggufmodel", "nemotron-h-llama", gguf_nemotron())

    # loragguf: adapter GGUFs (lm/lora_gguf.h) for fz_lora's tiny shape, as llama.cpp names them.
    gmods = [("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj"),
             ("ffn_gate", "gate_proj"), ("ffn_up", "up_proj"), ("ffn_down", "down_proj")]

    def lora_gguf(arch, targets, ty=0, r=2, extra=()):
        half = {0: lambda n: f32(n), 1: lambda n: b"\x00\x3c" * n, 30: lambda n: b"\x80\x3f" * n}[ty]
        kvs = [("general.architecture", 8, gg_str(arch)), ("general.type", 8, gg_str("adapter")),
               ("general.file_type", 4, struct.pack("<I", {0: 0, 1: 1, 30: 32}[ty])),
               ("adapter.type", 8, gg_str("lora")), ("adapter.lora.alpha", 6, struct.pack("<f", 4.0))]
        t = []
        for l in range(L):
            for g, m in gmods:
                if m in targets:
                    out, inn = mods[m]
                    t.append(("blk.%d.%s.weight.lora_a" % (l, g), [inn, r], ty, half(inn * r)))
                    t.append(("blk.%d.%s.weight.lora_b" % (l, g), [r, out], ty, half(r * out)))
        return gguf(kvs + list(extra), t)
    seed("loragguf", "llama-qkv", lora_gguf("llama", ["q_proj", "k_proj", "v_proj"]))
    seed("loragguf", "qwen2-all-f16", lora_gguf("qwen2", [m for _, m in gmods], ty=1))
    seed("loragguf", "llama-down-bf16-r3", lora_gguf("llama", ["down_proj", "o_proj"], ty=30, r=3))

    # Regression seeds: the inputs of shared/repro that these targets read.
    repro = os.path.join(a.shared, "repro")
    if os.path.isdir(repro):
        def rp(case, f):
            return read(os.path.join(repro, case, f))
        seed("object", "repro-pyjson-null-plus-zero", rp("pyjson-null-plus-zero", "ubsan-null-plus-zero.mp"))
        seed("safetensors", "repro-safetensors-shape-overflow", rp("safetensors-shape-overflow", "ovf.safetensors"))
        seed("config", "repro-config-huge-layers-abort", rp("config-huge-layers-abort", "config.json"))
        seed("config", "repro-model-arena-overflow", rp("model-arena-overflow", "config.json"))
        seed("model", "repro-model-arena-overflow", parts(rp("model-arena-overflow", "config.json"),
                                                          rp("model-arena-overflow", "model.safetensors")))
        seed("model", "repro-config-huge-layers-abort", parts(rp("config-huge-layers-abort", "config.json"),
                                                              tiny_weights()))
        for f in ("crash-min.model", "crash-unigram-uninit-from.model"):
            seed("tokspm", "repro-tokenizer-spm-unigram-uninit-" + f, parts(rp("tokenizer-spm-unigram-uninit", f),
                                                                            "Hello world"))
        seed("tokspm", "repro-lm-tokenize-uninit-free-truncated.model",
             rp("lm-tokenize-uninit-free", "truncated.model"))
        seed("tokjson", "repro-lm-tokenize-uninit-free-tokenizer.json",
             rp("lm-tokenize-uninit-free", "tokenizer.json"))
        # query-where-stack-overflow has no input file: its README's expression.
        seed("query", "repro-query-where-stack-overflow", parts("(" * 20000 + "id" + ")" * 20000,
                                                                 mp({"id": 1})))
    else:
        print("mkseeds: no %s: the regression seeds are left out" % repro, file=sys.stderr)

    shutil.rmtree(a.out, ignore_errors=True)
    total = 0
    for t, files in sorted(corpus.items()):
        os.makedirs(os.path.join(a.out, t))
        for name, data in sorted(files.items()):
            with open(os.path.join(a.out, t, name), "wb") as f:
                f.write(data)
            total += len(data)
    with open(os.path.join(a.out, "README.md"), "w") as f:
        f.write("Written by fuzz/mkseeds.py (see fuzz/README.md); seeds named repro-<case>-* are the "
                "inputs of ../shared/repro/<case>/, copied as regression seeds.\n")
    print("mkseeds: %d seeds, %d bytes, in %s" % (sum(len(f) for f in corpus.values()), total, a.out))


if __name__ == "__main__":
    main()
