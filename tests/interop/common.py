# tests/interop/common.py - shared by the interop checks: the pass/fail tally
# (its last line, "RESULT passed failed", is what run.sh adds up), running the
# ikada binary, and writing tiny Llama folders with safetensors.numpy.
import json
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file


class Tally:
    """Counts checks; prints each failure (up to max_shown per group) in full."""

    def __init__(self, max_shown=10):
        self.passed = 0
        self.failed = 0
        self.max_shown = max_shown
        self.shown = {}

    def ok(self, cond, group, detail=""):
        if cond:
            self.passed += 1
            return True
        self.failed += 1
        n = self.shown.get(group, 0)
        self.shown[group] = n + 1
        if n < self.max_shown:
            print(f"FAIL {group}: {detail}" if detail else f"FAIL {group}")
        elif n == self.max_shown:
            print(f"FAIL {group}: (further failures of this group counted, not shown)")
        sys.stdout.flush()
        return False

    def finish(self):
        print(f"RESULT {self.passed} {self.failed}")
        return 1 if self.failed else 0


def env(name):
    v = os.environ.get(name)
    if not v:
        sys.exit(f"{name} is not set (run through tests/interop/run.sh)")
    return v


def ikada(*args, check=True):
    """Runs $IKADA_BIN with args; returns (rc, stdout, stderr)."""
    p = subprocess.run([env("IKADA_BIN"), *args], capture_output=True)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise RuntimeError(f"ikada {' '.join(args[:6])} ... exited {p.returncode}: {err.strip()[:500]}")
    return p.returncode, out, err


def ikada_json_lines(*args):
    _, out, _ = ikada(*args)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def short(text, n=120):
    """repr of text cut to about n characters, for failure lines."""
    r = repr(text)
    return r if len(r) <= n else r[: n - 20] + f"...<{len(text)} chars>..." + r[-12:]


def write_llama(folder, cfg, tensors):
    """A Hugging Face folder: config.json and model.safetensors (fp32)."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
              os.path.join(folder, "model.safetensors"))
