#!/usr/bin/env python3
"""bench/torch_lora_step.py - the PyTorch baseline of bench/lm_bench.c: one LoRA
training step (forward, mean cross-entropy over all positions, loss.backward())
of the same decoder as lm/ (RMSNorm, RoPE rotate_half, GQA attention with a
causal softmax, SwiGLU, tied lm_head, Qwen2 q/k/v biases) written directly in
torch: fp32, eager, the base frozen (requires_grad False), LoRA A/B on q, k,
v, o, gate, up and down with lm_bench's r and alpha, and lm_bench's tokens.
Weights are random, uniform in [-0.02, 0.02) with unit norms, as lm_bench's
Qwen-shape model (lm_bench trains the real stories260K; the step's time does
not depend on the values as long as they stay clear of subnormal floats).

Usage: torch_lora_step.py SHAPE [--seq N] [--steps N] [--threads N] [--serve]
SHAPE: stories260K or qwen2.5-0.5b. Prints one machine-readable line:
  torch_lora_step shape=S seq=N threads=N steps=N median_s=X tokens_per_s=Y
where X is the median of the timed steps, which follow one warm-up step.
With --serve (how lm_bench runs it, alternating its own steps with these so
that both see the same load): 'ready threads=N' after the warm-up step, then
'step_s=X' for each 'step' line on stdin, until EOF."""
import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

# The shapes lm_bench trains: stories260K (examples/models/stories260K-hf/config.json)
# and Qwen2.5-0.5B's config.json.
SHAPES = {
    "stories260K": dict(D=64, F=172, L=5, H=8, K=4, hd=8, V=512, eps=1e-5, theta=10000.0,
                        qkv_bias=False),
    "qwen2.5-0.5b": dict(D=896, F=4864, L=24, H=14, K=2, hd=64, V=151936, eps=1e-6,
                         theta=1000000.0, qkv_bias=True),
}
RANK, ALPHA = 8, 16.0  # lm_bench's LoRA: r 8, alpha 16 on all seven targets


def frozen(*shape):
    """Uniform in [-0.02, 0.02), as lm_bench's Qwen-shape weights."""
    return torch.empty(*shape).uniform_(-0.02, 0.02).requires_grad_(False)


class Lora:
    """A frozen nn.Linear (w, b) plus scale * B @ A (PEFT's init: B = 0)."""

    def __init__(self, n_in, n_out, bias):
        self.w = frozen(n_out, n_in)
        self.b = frozen(n_out) if bias else None
        self.A = (torch.rand(RANK, n_in) * 2 - 1).mul_(1 / math.sqrt(n_in)).requires_grad_(True)
        self.B = torch.zeros(n_out, RANK, requires_grad=True)

    def __call__(self, x):
        return F.linear(x, self.w, self.b) + (ALPHA / RANK) * F.linear(F.linear(x, self.A), self.B)

    def params(self):
        return [self.A, self.B]


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Model:
    def __init__(self, s, T):
        self.s = s
        D, Fw, H, K, hd = s["D"], s["F"], s["H"], s["K"], s["hd"]
        self.embed = frozen(s["V"], D)  # tied: also the lm_head
        self.layers = []
        for _ in range(s["L"]):
            self.layers.append(dict(
                n1=torch.ones(D), n2=torch.ones(D),
                q=Lora(D, H * hd, s["qkv_bias"]), k=Lora(D, K * hd, s["qkv_bias"]),
                v=Lora(D, K * hd, s["qkv_bias"]), o=Lora(H * hd, D, False),
                gate=Lora(D, Fw, False), up=Lora(D, Fw, False), down=Lora(Fw, D, False)))
        self.final_norm = torch.ones(D)
        inv_freq = 1.0 / s["theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
        ang = torch.cat((ang, ang), dim=-1)
        self.cos = ang.cos().float()[:, None, :]  # (T, 1, hd)
        self.sin = ang.sin().float()[:, None, :]
        self.mask = torch.ones(T, T, dtype=torch.bool).triu(1)

    def params(self):
        return [p for y in self.layers for k in ("q", "k", "v", "o", "gate", "up", "down")
                for p in y[k].params()]

    def attention(self, y, xn, T):
        s = self.s
        H, K, hd = s["H"], s["K"], s["hd"]
        q = y["q"](xn).view(T, H, hd)
        k = y["k"](xn).view(T, K, hd)
        v = y["v"](xn).view(T, K, hd)
        q = q * self.cos + rotate_half(q) * self.sin
        k = k * self.cos + rotate_half(k) * self.sin
        # GQA as Hugging Face's eager attention: repeat each KV head H/K times.
        q = q.transpose(0, 1)
        k = k.transpose(0, 1).repeat_interleave(H // K, dim=0)
        v = v.transpose(0, 1).repeat_interleave(H // K, dim=0)
        scores = (q @ k.transpose(1, 2)) / math.sqrt(hd)
        p = scores.masked_fill(self.mask, float("-inf")).softmax(dim=-1)
        return (p @ v).transpose(0, 1).reshape(T, H * hd)

    def loss(self, inp, tgt):
        s, T = self.s, inp.shape[0]
        x = self.embed[inp]
        for y in self.layers:
            x = x + y["o"](self.attention(y, rmsnorm(x, y["n1"], s["eps"]), T))
            xn = rmsnorm(x, y["n2"], s["eps"])
            x = x + y["down"](F.silu(y["gate"](xn)) * y["up"](xn))
        logits = F.linear(rmsnorm(x, self.final_norm, s["eps"]), self.embed)
        return F.cross_entropy(logits, tgt)


def step(m, params, inp, tgt):
    """Seconds of one training step."""
    for p in params:
        p.grad = None
    t0 = time.perf_counter()
    m.loss(inp, tgt).backward()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shape", choices=sorted(SHAPES))
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--serve", action="store_true",
                    help="after the warm-up step print 'ready', then run one step per 'step' "
                         "line read from stdin, printing 'step_s=X' for each, until EOF")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    s = SHAPES[a.shape]
    # lm_bench's tokens: position i holds (i * 7919 + 13) % V.
    tok = torch.tensor([(i * 7919 + 13) % s["V"] for i in range(a.seq)])
    inp, tgt = tok[:-1], tok[1:]
    m = Model(s, a.seq - 1)
    params = m.params()
    step(m, params, inp, tgt)  # warms caches and threads
    if a.serve:
        print(f"ready threads={torch.get_num_threads()}", flush=True)
        for line in sys.stdin:
            if line.strip() == "step":
                print(f"step_s={step(m, params, inp, tgt):.4f}", flush=True)
        return 0
    med = statistics.median(step(m, params, inp, tgt) for _ in range(a.steps))
    print(f"torch_lora_step shape={a.shape} seq={a.seq} threads={torch.get_num_threads()} "
          f"steps={a.steps} median_s={med:.4f} tokens_per_s={a.seq / med:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
