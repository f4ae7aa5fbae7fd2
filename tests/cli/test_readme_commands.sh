# The commands the README and the graphs' comments show run as written: the
# README's "Using it" block and its example graph (on examples/words.txt),
# and every `ikada ...` line in the comments of graphs/quickstart.yaml and
# graphs/raft-data.yaml, each after its graph has run (dot comes with
# .ci/install-deps). Lines that need a program the tests do not install
# (llama-cli, ollama) are left out.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
cp -r "$SRCDIR/graphs" "$SRCDIR/examples" .
PATH=$(dirname "$IKADA"):$PATH
[ "$(basename "$IKADA")" = ikada ] || fail "IKADA_BIN must name a binary called ikada"

# run_lines FILE: runs each line of FILE (a shell line each); fails naming the first that fails.
run_lines() {
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        sh -c "$line" >out 2>err || { cat err >&2; fail "this documented command failed: $line"; }
    done < "$1"
}

# The README's "Using it" block, in its order, from a clean cache.
sed -n '/^## Using it/,/^```$/p' "$SRCDIR/README.md" | sed -n '/^ikada /p' > using.txt
[ "$(wc -l < using.txt)" -ge 15 ] || fail "the README's command block was not found"
run_lines using.txt
[ -s report.html ] && [ -s sft.jsonl ] && [ -f lora/adapter_config.json ] || fail "missing outputs"

# The README's example graph.
sed -n '/^A graph file:/,/^```$/p' "$SRCDIR/README.md" | sed '1,3d;$d' > words.yaml
grep -q "examples/words.txt" words.yaml || fail "the README's example graph was not found"
run_ik 0 run words.yaml
run_ik 0 cache export count.n -o -
[ "$(tr -d ' ' < out)" = "$(wc -l < examples/words.txt | tr -d ' ')" ] || fail "count.n is $(cat out)"

# The quickstart's own comments (its outputs exist from the README block above).
sed -n 's/^#   \(ikada .*\)/\1/p' graphs/quickstart.yaml | sed 's/  *# .*$//' > quick.txt
run_lines quick.txt
[ -s train.jsonl ] || fail "cache export raft.train -o train.jsonl wrote nothing"

# raft-data.yaml's, in a cache of its own (its node names are the quickstart's).
mkdir data && cp -r graphs examples data/ && cd data || fail "no folder"
export IKADA_CACHE=$PWD/.ikada
sed -n 's/^#   \(ikada .*\)/\1/p' graphs/raft-data.yaml | sed 's/  *# .*$//' > lines.txt
run_lines lines.txt
[ -s train.jsonl ] || fail "raft-data's export wrote nothing"
pass
