#!/usr/bin/env python3
"""Writes an ikada graph and an equivalent Snakefile of CHAINS x LENGTH nodes.

Each chain starts from a source file and every node copies its producer's
output with one extra line, so both engines see the same DAG: CHAINS
independent chains of LENGTH steps, written as one foreach: line per step
(LENGTH + 2 lines for 10,000 nodes). Used by bench/engine_bench.sh.
"""
import os
import sys

chains, length, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
# The graph is one line per step, fanned out over the chains with foreach:
# step i of chain c is node s<i>@<c>, as the Snakefile's wildcards make it.
for c in range(chains):
    with open(os.path.join(out, f"src{c}.txt"), "w") as f:
        f.write(f"chain {c}\n")
with open(os.path.join(out, "graph.yaml"), "w") as g:
    g.write(f"vars: {{chains: [{', '.join(str(c) for c in range(chains))}]}}\n")
    g.write("nodes:\n")
    for i in range(length):
        src = "{file: 'src${item}.txt'}" if i == 0 else f"'s{i - 1}@${{item}}.o'"
        g.write(f"  s{i}: {{type: command, foreach: '${{chains}}', in: {{x: {src}}}, params: "
                f"{{cmd: 'cat $IKADA_IN_x > $IKADA_OUT_o; echo {i} >> $IKADA_OUT_o', "
                f"outputs: {{o: o.txt}}}}}}\n")
with open(os.path.join(out, "Snakefile"), "w") as s:
    s.write(f"CHAINS = range({chains})\nLENGTH = {length}\n\n")
    s.write("rule all:\n    input: expand('out/c{c}_%d.txt' % (LENGTH - 1), c=CHAINS)\n\n")
    s.write("rule first:\n    input: 'src{c}.txt'\n    output: 'out/c{c}_0.txt'\n"
            "    shell: 'cat {input} > {output}; echo 0 >> {output}'\n\n")
    s.write("def prev(w):\n    return 'out/c%s_%d.txt' % (w.c, int(w.i) - 1)\n\n")
    s.write("rule step:\n    input: prev\n    output: 'out/c{c}_{i,[1-9][0-9]*}.txt'\n"
            "    shell: 'cat {input} > {output}; echo {wildcards.i} >> {output}'\n")
