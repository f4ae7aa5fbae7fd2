#!/usr/bin/env python3
"""bench/quickstart_figures.py - the quickstart from a clean cache, timed, and
the figures of its reports as the Markdown block at the top of README.md.

usage: quickstart_figures.py IKADA SRCDIR [--readme README.md]
Runs graphs/quickstart.yaml in a temporary copy of the repository's graphs/
and examples/, then prints the block (or, with --readme, replaces the text
between the quickstart-figures markers of that file)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def export(ikada, cwd, ref):
    out = subprocess.run([ikada, "cache", "export", ref, "-o", "-", "--format", "json"],
                         cwd=cwd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def commit(srcdir):
    r = subprocess.run(["git", "-C", srcdir, "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def block(ikada, srcdir):
    with tempfile.TemporaryDirectory() as work:
        for d in ("graphs", "examples"):
            shutil.copytree(os.path.join(srcdir, d), os.path.join(work, d))
        t0 = time.monotonic()
        subprocess.run([ikada, "run", "graphs/quickstart.yaml"], cwd=work, check=True,
                       capture_output=True)
        secs = time.monotonic() - t0
        ev = export(ikada, work, "eval.report")
        jcq = export(ikada, work, "jcq.report")
        rows = [json.loads(l) for l in subprocess.run(
            [ikada, "cache", "export", "train.report", "-o", "-", "--format", "jsonl"], cwd=work, check=True,
            capture_output=True, text=True).stdout.splitlines()]
    train = [r for r in rows if r["type"] == "train"]
    base, raft = ev["models"][0], ev["models"][1]
    ci = ev["comparison"]["f1_delta"]
    jb, jr = jcq["models"][0], jcq["models"][1]
    lines = [
        f"Commit {commit(srcdir)}, {os.cpu_count()} cores, {secs:.0f} s from a clean cache.",
        "",
        "| figure | base | fine-tuned (raft) | reference, published: base / RAFT |",
        "|---|--:|--:|--:|",
        f"| F1 on {base['n']} test questions | {base['f1']:.4f} | {raft['f1']:.4f} | 0.5646 / 0.6536 |",
        f"| F1 on answered questions only | {base['f1_answered']:.4f} | {raft['f1_answered']:.4f} | 0.738 / 0.664 |",
        f"| false refusals (FP) / answered (TN) | {base['fp']} / {base['tn']} | {raft['fp']} / {raft['tn']} | 47 / 153, 3 / 197 |",
        f"| F1 delta, 95 % bootstrap interval | | {ci['delta']:+.4f} [{ci['lo']:+.4f}, {ci['hi']:+.4f}] | |",
        f"| JCommonsenseQA, {jb['n']} questions (loglik) | {jb['accuracy']:.3f} | {jr['accuracy']:.3f} | 0.920 / 0.915 (generate, 1,119) |",
        f"| training loss, first / last row (step {train[0]['step']} / {train[-1]['step']}) | | {train[0]['loss']:.3f} / {train[-1]['loss']:.3f} | |",
    ]
    return "\n".join(lines)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ikada, srcdir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    text = block(ikada, srcdir)
    if len(sys.argv) == 5 and sys.argv[3] == "--readme":
        path = sys.argv[4]
        s = open(path, encoding="utf-8").read()
        a = s.index("<!-- quickstart-figures: begin -->\n") + len("<!-- quickstart-figures: begin -->\n")
        b = s.index("<!-- quickstart-figures: end -->")
        open(path, "w", encoding="utf-8").write(s[:a] + text + "\n" + s[b:])
    print("quickstart_figures:\n" + text)


main()
