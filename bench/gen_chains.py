#!/usr/bin/env python3
"""Writes an ikada graph and an equivalent Snakefile of CHAINS x LENGTH nodes.

Each chain starts from a source file and every node copies its producer's
output with one extra line, so both engines see the same DAG: CHAINS
independent chains of LENGTH steps. Used by bench/engine_bench.sh.
"""
import os
import sys

chains, length, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "graph.yaml"), "w") as g:
    g.write("nodes:\n")
    for c in range(chains):
        src = os.path.join(out, f"src{c}.txt")
        with open(src, "w") as f:
            f.write(f"chain {c}\n")
        for i in range(length):
            g.write(f"  c{c}_{i}:\n    type: command\n")
            if i == 0:
                g.write(f"    in: {{x: {{file: src{c}.txt}}}}\n")
            else:
                g.write(f"    in: {{x: c{c}_{i - 1}.o}}\n")
            g.write(f"    params: {{cmd: \"cat $IKADA_IN_x > $IKADA_OUT_o; echo {i} >> $IKADA_OUT_o\","
                    f" outputs: {{o: o.txt}}}}\n")
with open(os.path.join(out, "Snakefile"), "w") as s:
    s.write(f"CHAINS = range({chains})\nLENGTH = {length}\n\n")
    s.write("rule all:\n    input: expand('out/c{c}_%d.txt' % (LENGTH - 1), c=CHAINS)\n\n")
    s.write("rule first:\n    input: 'src{c}.txt'\n    output: 'out/c{c}_0.txt'\n"
            "    shell: 'cat {input} > {output}; echo 0 >> {output}'\n\n")
    s.write("def prev(w):\n    return 'out/c%s_%d.txt' % (w.c, int(w.i) - 1)\n\n")
    s.write("rule step:\n    input: prev\n    output: 'out/c{c}_{i,[1-9][0-9]*}.txt'\n"
            "    shell: 'cat {input} > {output}; echo {wildcards.i} >> {output}'\n")
