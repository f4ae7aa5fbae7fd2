# bench/interop_llamacpp.py MODEL N_NEW ID,ID,... - llama.cpp's side of `make bench-interop`
# (bench/interop_bench.py; bench/interop_gen.c is ikada's, and this does what it does): loads
# MODEL with llama-cpp-python (2 threads, KV cache in f32 as ikada's, no flash attention,
# logits of the last position only; the weights read at load, not mapped, as ikada's loader
# does: mapped, the prompt's timing would include faulting in all 2 GB of them), evaluates the
# prompt (the given token ids) in one batch, then decodes N_NEW tokens greedily one at a time:
# the first from the prompt's logits, each next one after an eval() of the one before
# (N_NEW - 1 one-token evals). Prints one JSON object with interop_gen's fields: seconds of the
# load, the prompt and the decoding (timed apart), the tokens, the 5 most probable after the
# prompt and this process's peak RSS (getrusage). Run in the venv of
# tests/interop/llamacpp_venv.sh.
import json
import resource
import sys
import time

import numpy as np
import llama_cpp


def last_logits(llm):
    """The logits of the last evaluated position, read from llama.cpp's context (no copy)."""
    p = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(p, shape=(llm.n_vocab(),))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: interop_llamacpp.py MODEL N_NEW ID,ID,...")
    model, n_new = sys.argv[1], int(sys.argv[2])
    prompt = [int(x) for x in sys.argv[3].split(",")]
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=model, n_ctx=len(prompt) + n_new, n_batch=len(prompt),
                          n_ubatch=len(prompt), n_threads=2, n_threads_batch=2, logits_all=False,
                          type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32,
                          flash_attn=False, use_mmap=False, verbose=False)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    llm.eval(prompt)
    t_prompt = time.perf_counter() - t0
    top5 = [int(i) for i in np.argsort(-last_logits(llm), kind="stable")[:5]]  # ties: lower id first
    out = []
    t0 = time.perf_counter()
    for i in range(n_new):
        out.append(int(np.argmax(last_logits(llm))))  # the first of equal maxima, as ikada's argmax
        if i + 1 < n_new:
            llm.eval(out[-1:])
    t_decode = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    llm.close()
    print(json.dumps({"load_s": t_load, "prompt_tokens": len(prompt), "prompt_s": t_prompt,
                      "decode_forwards": n_new - 1, "decode_s": t_decode, "peak_rss_bytes": peak,
                      "tokens": out, "top5": top5, "llama_cpp_python": llama_cpp.__version__}))


if __name__ == "__main__":
    main()
