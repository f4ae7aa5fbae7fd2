# tests/interop/check_tokenizers.py - ikada's tokenizers against the reference
# libraries on real text: Hugging Face `tokenizers` on Qwen3's tokenizer.json,
# `sentencepiece` on tok512.model and LLM-jp v3. Per text: the ids, and the
# reference decode of ikada's ids gives the (normalized) text back.
import glob
import json
import os
import sys
import tempfile
import unicodedata

import numpy as np
import sentencepiece as spm
from tokenizers import Tokenizer

from common import Tally, env, ikada, ikada_json_lines, short, write_llama

SRC = env("IKADA_SRCDIR")
SHARED = os.environ.get("IKADA_SHARED", os.path.join(SRC, "..", "shared"))
T = Tally()

EDGE = [
    "", " ", "  ", "a", "Hello, world!", "  leading and trailing  ", "tab\there\t\tand  two",
    "line\nbreak\n\n\nruns\r\nCRLF", "   \n\t  ", "ideographic\u3000space\u3000\u3000x", "nbsp\u00a0x",
    "emoji 😀🎉👍🏽 family 👨\u200d👩\u200d👧\u200d👦 flag 🇯🇵 keycap 1\ufe0f\u20e3",
    "e\u0301 cafe\u0301 caf\u00e9 \u212b \u0041\u030a", "\u30ab\u3099 \u30ac \u304b\u3099",
    "\u1100\u1161 \uac00", "\uff76\uff9e\uff77\uff9e\uff78\uff9e \uff8a\uff9f\uff8b\uff9f\uff8c\uff9f \uff7a\uff9d\uff86\uff81\uff8a",
    "\uff76\u3099", "0", "1234567890", "3.14159 2,000,000 -42 1e-5", "\uff13\uff0e\uff11\uff14 \uff11\uff12\uff13",
    "2024年12月31日 午前9時30分", "\u2160\u2161\u2162 \u2460\u2461 \u00bd \u00b2",
    "def f(x):\n    return x ** 2  # square\n", "if (a <= b && c != d) { x += 1; }",
    '<div class="x">&amp; &lt;</div>', "SELECT * FROM t WHERE id = 'a''b';",
    "https://example.com/path?q=1&r=%E3%81%82#frag", "snake_case camelCase kebab-case CONSTANT_CASE",
    "日本語と English の mixed テキスト。", "「かぎ括弧」『二重』（全角）【墨付き】…‥・",
    "ｱｲｳｴｵ ﾊﾟﾋﾟﾌﾟ ｰ ｡｢｣､", "Ω≈ç√∫˜µ≤≥÷ ÅÍÎÏ˝ÓÔ", "Тест по-русски", "ελληνικά", "עברית العربية",
    "中文测试，简体与繁體", "한국어 테스트", "ไทย", "\u0915\u094d\u0937 देवनागरी",
    "zero\u200bwidth\u200cjoin\u200d", "\ufeffBOM at start", "tilde ~ backslash \\ pipe |",
    "<s> </s> <unk> <|im_start|>user<|im_end|> <think>x</think>",
]


def load_texts():
    """[(source, texts)]: FAQ questions and answers, JCommonsenseQA questions and choices, edges."""
    faq = []
    with open(os.path.join(SRC, "examples", "jagovfaqs", "faq.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                faq += [row["Question"], row["Answer"]]
    out = [("jagovfaqs", faq)]
    jcq = os.path.join(SHARED, "data", "jcommonsenseqa", "valid-v1.1.json")
    if os.path.exists(jcq):
        texts = []
        with open(jcq, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    texts += [row["question"]] + [row[f"choice{i}"] for i in range(5)]
        out.append(("jcommonsenseqa", texts))
    else:
        print(f"SKIP jcommonsenseqa: {jcq} is absent")
    out.append(("edge", EDGE))
    return out


class HF:
    """Qwen3's tokenizer.json through Hugging Face tokenizers."""

    def __init__(self, path):
        self.path, self.tok = path, Tokenizer.from_file(path)
        self.vocab = self.tok.get_vocab_size(with_added_tokens=True)
        added = self.tok.get_added_tokens_decoder()
        self.special = [t.content for t in added.values() if t.special]
        # BOS as transformers sees it: tokenizer_config.json's bos_token (Qwen3: null).
        self.bos, self.eos = None, self.tok.token_to_id("<|im_end|>")
        tc = os.path.join(os.path.dirname(path), "tokenizer_config.json")
        if os.path.exists(tc):
            bos = json.load(open(tc, encoding="utf-8")).get("bos_token")
            bos = bos.get("content") if isinstance(bos, dict) else bos
            self.bos = self.tok.token_to_id(bos) if bos else None

    def encode(self, text, special=False):
        # `tokenize` without --special reads special tokens as text, as tokenizers does here.
        self.tok.encode_special_tokens = not special
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids):
        return self.tok.decode(ids, skip_special_tokens=False)

    def piece(self, i):
        return self.tok.id_to_token(i)

    def normalize(self, text):
        return unicodedata.normalize("NFC", text)


class SP:
    """A SentencePiece .model through the sentencepiece library."""

    def __init__(self, path):
        self.path, self.sp = path, spm.SentencePieceProcessor(model_file=path)
        self.vocab = self.sp.vocab_size()
        self.special = [self.sp.id_to_piece(i) for i in range(self.vocab)
                        if self.sp.is_control(i) or self.sp.is_unknown(i)]
        self.bos, self.eos = self.sp.bos_id(), self.sp.eos_id()

    def encode(self, text, special=False):
        return self.sp.encode(text)

    def decode(self, ids):
        return self.sp.decode(ids)

    def piece(self, i):
        return self.sp.id_to_piece(i)

    def normalize(self, text):
        t = self.sp.normalize(text).replace("\u2581", " ")
        return t[1:] if t.startswith(" ") else t


def carrier_model(folder, ref):
    """A Llama whose greedy output is always EOS: `ikada lm generate --json` takes many
    PROMPTs in one run and prints each one's prompt_ids, so this folder lets one run
    tokenize a batch of texts (loading Qwen3's tokenizer.json takes ~0.4 s, and there are
    thousands of texts). Every layer is zero, the residual is the embedding (1 on dim 0),
    and lm_head has one non-zero entry, on the EOS row."""
    V, D = (ref.vocab + 63) // 64 * 64, 8
    emb = np.zeros((V, D))
    emb[:, 0] = 1
    head = np.zeros((V, D))
    head[ref.eos, 0] = 1
    norm = np.zeros(D)
    norm[0] = 1
    t = {"model.embed_tokens.weight": emb, "model.norm.weight": norm, "lm_head.weight": head}
    p = "model.layers.0."
    for n in ["input_layernorm", "post_attention_layernorm"]:
        t[p + n + ".weight"] = np.zeros(D)
    for n in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]:
        t[p + n + ".weight"] = np.zeros((D, D))
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": D,
           "intermediate_size": D, "num_hidden_layers": 1, "num_attention_heads": 1,
           "num_key_value_heads": 1, "head_dim": D, "vocab_size": V,
           "max_position_embeddings": 1 << 17, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "hidden_act": "silu", "tie_word_embeddings": False, "eos_token_id": ref.eos,
           "torch_dtype": "float32"}
    if ref.bos is not None and ref.bos >= 0:
        cfg["bos_token_id"] = ref.bos
    write_llama(folder, cfg, t)


def tokenize_one(ref, text, special=False):
    """ikada lm tokenize --json for one text: (ids, pieces)."""
    args = ["lm", "tokenize", "--model", ref.path, "--tokenizer", ref.path, "--json"]
    j = ikada_json_lines(*args, *(["--special"] if special else []), "--", text)[0]
    return j["ids"], j["pieces"]


def tokenize_batch(ref, carrier, texts, skip):
    """ikada's ids for each text: generate's prompt_ids without the skip ids of BOS."""
    out, i = [], 0
    while i < len(texts):
        n, size = 0, 0
        while i + n < len(texts) and n < 200 and size < 60000:
            size += len(texts[i + n].encode()) + 1
            n += 1
        rows = ikada_json_lines("lm", "generate", "--model", carrier, "--tokenizer", ref.path,
                                "--max-tokens", "1", "--json", "--", *texts[i:i + n])
        if len(rows) != n:
            raise RuntimeError(f"generate printed {len(rows)} rows for {n} prompts")
        out += [r["prompt_ids"][skip:] for r in rows]
        i += n
    return out


def describe(ref, text, want, got):
    k = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
    pw = [ref.piece(x) for x in want[k:k + 5]]
    pg = [ref.piece(x) if 0 <= x < ref.vocab else "?" for x in got[k:k + 5]]
    return (f"text {short(text)}\n    reference {len(want)} ids, first 5 {want[:5]}\n"
            f"    ikada     {len(got)} ids, first 5 {got[:5]}\n"
            f"    first difference at {k}: reference {want[k:k + 5]} {pw}, ikada {got[k:k + 5]} {pg}")


def check_tokenizer(name, ref, sources, tmp):
    carrier = os.path.join(tmp, "carrier-" + name)
    carrier_model(carrier, ref)
    # What generate and score put before the text: the tokenizer's BOS, as ikada sees it.
    gen = ikada_json_lines("lm", "generate", "--model", carrier, "--tokenizer", ref.path,
                           "--max-tokens", "1", "--json", "--", "a")[0]["prompt_ids"]
    tok, _ = tokenize_one(ref, "a")
    skip = len(gen) - len(tok)
    if not T.ok(gen[skip:] == tok and skip in (0, 1), f"{name}/bos-calibration",
                f"generate's prompt_ids {gen} do not end with tokenize's ids {tok}"):
        return
    ikada_bos = gen[0] if skip else None
    ref_bos = ref.bos if ref.bos is not None and ref.bos >= 0 else None
    T.ok(ikada_bos == ref_bos, f"{name}/bos",
         f"generate/score prepend {ikada_bos} ({ref.piece(ikada_bos) if ikada_bos is not None else '-'})"
         f" as BOS; the reference's BOS is {ref_bos}"
         f" ({ref.piece(ref_bos) if ref_bos is not None else 'none'})")
    for source, texts in sources:
        # Texts naming a special token go alone through `tokenize` (no --special), since
        # generate parses special tokens; so do empty texts (generate needs a token).
        batched = [t for t in texts if t and not any(s in t for s in ref.special)]
        got = dict(zip(batched, tokenize_batch(ref, carrier, batched, skip)))
        sample = set(texts if source == "edge" else texts[:10])
        lossy, mism = [], 0
        for text in dict.fromkeys(texts):  # each distinct text once
            want = ref.encode(text)
            pieces = None
            if text not in got or text in sample:
                ids, pieces = tokenize_one(ref, text)
                if text in got:  # the batch path against `tokenize` itself
                    T.ok(got[text] == ids, f"{name}/{source}/batch-vs-tokenize",
                         f"text {short(text)}: generate prompt_ids {got[text][:8]}, tokenize {ids[:8]}")
                got[text] = ids
            ids = got[text]
            if not T.ok(ids == want, f"{name}/{source}/ids", describe(ref, text, want, ids)):
                mism += 1
                if pieces is None and mism <= 3:  # confirm a few without the batch path
                    alone, _ = tokenize_one(ref, text)
                    print(f"    (`ikada lm tokenize` alone gives the same ids: {alone == ids})")
            if pieces is not None:
                T.ok(pieces == [ref.piece(x) for x in ids], f"{name}/{source}/pieces",
                     f"text {short(text)}: ikada pieces {pieces[:8]}, reference {[ref.piece(x) for x in ids[:8]]}")
            expect = ref.normalize(text)
            if ref.decode(want) != expect:
                lossy.append(text)
                expect = ref.decode(want)
            T.ok(ref.decode(ids) == expect, f"{name}/{source}/roundtrip",
                 f"text {short(text)}: reference decode of ikada's ids {short(ref.decode(ids))}")
        print(f"{name}/{source}: {len(set(texts))} distinct texts, {len(batched)} batched, "
              f"{mism} id mismatches")
        if lossy:
            print(f"  note: the reference's own decode(encode(text)) differs from the normalized "
                  f"text for {len(lossy)} text(s), e.g. {short(lossy[0], 80)}; compared with it instead")
    for text in [t for t in EDGE if any(s in t for s in ref.special)]:
        if isinstance(ref, HF):  # sentencepiece never parses special tokens in text
            ids, _ = tokenize_one(ref, text, special=True)
            want = ref.encode(text, special=True)
            T.ok(ids == want, f"{name}/edge/--special", describe(ref, text, want, ids))


def main():
    sources = load_texts()
    toks = [("tok512", SP, os.path.join(SRC, "examples", "models", "stories260K", "tok512.model"))]
    ljp = glob.glob(os.path.join(SHARED, "data", "tokenizers", "llm-jp-tokenizer-v3", "*.model"))
    toks.append(("llm-jp-v3", SP, ljp[0] if ljp else None))
    q3 = os.path.join(SHARED, "data", "tokenizers", "qwen3", "tokenizer.json")
    toks.append(("qwen3", HF, q3 if os.path.exists(q3) else None))
    with tempfile.TemporaryDirectory(prefix="ikada-interop-") as tmp:
        for name, cls, path in toks:
            if path is None:
                print(f"SKIP {name}: its tokenizer is not under {SHARED}/data/tokenizers")
                continue
            check_tokenizer(name, cls(path), sources, tmp)
    sys.exit(T.finish())


if __name__ == "__main__":
    main()
