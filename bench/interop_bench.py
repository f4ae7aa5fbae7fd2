# bench/interop_bench.py - `make bench-interop`: ikada's generation beside llama.cpp's on the
# same file in the same run (issue 12). interop_write writes the random model of Qwen2.5-0.5B's
# shape that the benches time (bench/qwen_shape.c) as an f32 GGUF with Qwen3's byte-level BPE
# tokenizer (IKADA_SHARED/data/tokenizers/qwen3, as check_llamacpp.py uses); then ikada
# (interop_gen) and llama.cpp (interop_llamacpp.py, in the llama-cpp-python venv) run
# alternately, ROUNDS times each, one process per run, 2 threads each: the same prompt of
# PROMPT token ids in one chunk (timed apart), then NEW tokens decoded greedily one at a time.
# Prints the medians of prompt tokens/s, decode tokens/s (one-token forwards per second) and
# peak RSS of each, with the ratio ikada/llama.cpp (and the spread of each round's own decode
# ratio), how many of the first greedy tokens agree and whether the 5 most probable tokens
# after the prompt do (random weights give near-flat logits, so rounding may part the two
# early: reported, not failed). Alternating keeps both sides under the same load on a shared machine, where the
# absolute figures drift. Exits 1 when a side fails to run, 2 for a missing input.
# Usage: interop_bench.py WRITE_BIN GEN_BIN VENV_PYTHON SRCDIR
# Environment: IKADA_SHARED (default SRCDIR/../shared), INTEROP_NEW (64), INTEROP_PROMPT (128),
# INTEROP_ROUNDS (3), TMPDIR for the 2 GB model file (removed at the end).
import json
import os
import statistics
import subprocess
import sys
import tempfile

SHAPE = "0.5B shape f32, 2 threads"


def run_json(tag, argv, env):
    """Runs argv; returns the JSON object of its last stdout line, or exits naming the side."""
    p = subprocess.run(argv, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"bench-interop: {tag} exited {p.returncode}: {p.stderr.strip()[-800:]}")
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        sys.exit(f"bench-interop: {tag} printed no JSON object: {p.stdout.strip()[-400:]!r}")


def prompt_ids(n):
    """n token ids spread over Qwen's regular vocabulary (below its first special, 151643)."""
    return [1 + (j * 104729 + 7919) % 151642 for j in range(n)]


def agreement(a, b):
    """How many leading tokens of a and b are the same."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def line(what, ik, lc, unit, fmt="{:.1f}"):
    print(f"bench-interop: {what}, {SHAPE}: ikada {fmt.format(ik)} {unit}, "
          f"llama.cpp {fmt.format(lc)} {unit}: {ik / lc:.2f}x", flush=True)


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: interop_bench.py WRITE_BIN GEN_BIN VENV_PYTHON SRCDIR")
    write_bin, gen_bin, py, src = sys.argv[1:]
    shared = os.environ.get("IKADA_SHARED") or os.path.join(src, "..", "shared")
    tok = os.path.join(shared, "data", "tokenizers", "qwen3", "tokenizer.json")
    if not os.path.exists(tok):
        print(f"bench-interop: no Qwen3 tokenizer at {tok} (set IKADA_SHARED to the shared folder)",
              file=sys.stderr)
        sys.exit(2)
    new = int(os.environ.get("INTEROP_NEW", "64"))
    n_prompt = int(os.environ.get("INTEROP_PROMPT", "128"))
    rounds = int(os.environ.get("INTEROP_ROUNDS", "3"))
    ids = ",".join(map(str, prompt_ids(n_prompt)))
    env = dict(os.environ, IKADA_THREADS="2")
    with tempfile.TemporaryDirectory(prefix="ikada-bench-interop-") as tmp:
        model = os.path.join(tmp, "qwen2.5-0.5b-shape-f32.gguf")
        p = subprocess.run([write_bin, model, tok], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"bench-interop: interop_write exited {p.returncode}: {p.stderr.strip()[-800:]}")
        here = os.path.dirname(os.path.abspath(__file__))
        ik, lc = [], []
        for r in range(rounds):
            ik.append(run_json("interop_gen", [gen_bin, model, str(new), ids], env))
            lc.append(run_json("interop_llamacpp.py",
                               [py, os.path.join(here, "interop_llamacpp.py"), model, str(new), ids], env))
            a, b = (x[-1]["decode_forwards"] / x[-1]["decode_s"] for x in (ik, lc))
            print(f"bench-interop: round {r + 1}: decode ikada {a:.2f} tok/s, llama.cpp {b:.2f} tok/s: "
                  f"{a / b:.2f}x", flush=True)
    med = statistics.median

    def rate(runs, n, s):
        return med(x[n] / x[s] for x in runs)

    print(f"bench-interop: {rounds} rounds each, alternating; prompt of {n_prompt} token ids, "
          f"{new} new tokens greedy; llama-cpp-python {lc[0]['llama_cpp_python']} (KV cache f32)")
    line(f"prompt processing ({n_prompt} tokens)", rate(ik, "prompt_tokens", "prompt_s"),
         rate(lc, "prompt_tokens", "prompt_s"), "tok/s")
    line(f"decode ({new - 1} one-token forwards)", rate(ik, "decode_forwards", "decode_s"),
         rate(lc, "decode_forwards", "decode_s"), "tok/s")
    # A busy machine slows the two sides unequally within a round; each round's own ratio
    # (both runs back to back) says how far the medians' ratio can be trusted.
    paired = sorted((a["decode_forwards"] / a["decode_s"]) / (b["decode_forwards"] / b["decode_s"])
                    for a, b in zip(ik, lc))
    print(f"bench-interop: decode, each round's ikada/llama.cpp: median {med(paired):.2f}x "
          f"({paired[0]:.2f}x to {paired[-1]:.2f}x)")
    w = ik[0]["weights_bytes"]
    rik, rlc = med(x["peak_rss_bytes"] for x in ik), med(x["peak_rss_bytes"] for x in lc)
    print(f"bench-interop: peak RSS, {SHAPE}: ikada {rik / 2**20:.0f} MiB ({rik / w:.2f}x the "
          f"{w / 2**20:.0f} MiB of weights), llama.cpp {rlc / 2**20:.0f} MiB ({rlc / w:.2f}x): "
          f"{rik / rlc:.2f}x")
    same_ik = all(x["tokens"] == ik[0]["tokens"] for x in ik)
    same_lc = all(x["tokens"] == lc[0]["tokens"] for x in lc)
    a, b = ik[0]["tokens"], lc[0]["tokens"]
    k = agreement(a, b)
    print(f"bench-interop: greedy tokens: the first {k} of {new} agree (ikada {a[:8]}..., llama.cpp "
          f"{b[:8]}...); each side the same in every round: ikada {'yes' if same_ik else 'NO'}, "
          f"llama.cpp {'yes' if same_lc else 'NO'}")
    t, u = ik[0]["top5"], lc[0]["top5"]
    print(f"bench-interop: the 5 most probable tokens after the prompt: ikada {t}, llama.cpp {u}: "
          f"{'the same' if t == u else 'they differ'}")


if __name__ == "__main__":
    main()
