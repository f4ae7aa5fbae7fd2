# Two graph files with one name in different folders (exp1/pipeline.yaml,
# exp2/pipeline.yaml) are two graphs: their refs, status, gc roots and REFs
# are their own. A graph is named by its path relative to the folder that
# holds the cache; `status` says which cache and graph identity it uses.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

write_graph() { # $1: file, $2: the word it writes
cat > "$1" <<YAML
nodes:
  say:
    type: command
    params: {cmd: "echo $2 > \$IKADA_OUT_o", outputs: {o: o.txt}}
YAML
}
mkdir .ikada exp1 exp2
write_graph exp1/pipeline.yaml one
write_graph exp2/pipeline.yaml two
run_ik 0 run exp1/pipeline.yaml
run_ik 0 run exp2/pipeline.yaml

# status names the cache and the graph identity, and quotes this graph's params.
run_ik 0 status exp1/pipeline.yaml
contains out "graph exp1/pipeline.yaml in cache $WORK/.ikada"
contains out "up-to-date"
run_ik 0 status --json exp1/pipeline.yaml
python3 -c 'import json,sys; d=json.load(open("out")); assert d["graph_id"]=="exp1/pipeline.yaml" and d["cache"].endswith("/.ikada") and d["graph"]=="exp1/pipeline.yaml", d' \
    || fail "status --json lacks the graph identity: $(cat out)"
write_graph exp1/pipeline.yaml uno
run_ik 0 status exp1/pipeline.yaml
contains out 'echo one > $IKADA_OUT_o'
lacks out 'echo two'
write_graph exp1/pipeline.yaml one

# REFs: by path, by path from another folder, and the short forms when unambiguous.
run_ik 0 cache export exp1/pipeline.yaml:say.o -o one.txt
[ "$(cat one.txt)" = one ] || fail "exp1/pipeline.yaml:say.o is '$(cat one.txt)'"
run_ik 0 cache export exp2/pipeline.yaml:say.o -o two.txt
[ "$(cat two.txt)" = two ] || fail "exp2/pipeline.yaml:say.o is '$(cat two.txt)'"
run_ik 0 cache export exp2/pipeline:say.o -o two.txt
[ "$(cat two.txt)" = two ] || fail "exp2/pipeline:say.o is '$(cat two.txt)'"
(cd exp1 && "$IKADA" cache export pipeline.yaml:say.o -o ../one.txt) >out 2>err \
    || fail "a graph path relative to the working directory: $(cat err)"
[ "$(cat one.txt)" = one ] || fail "pipeline.yaml:say.o from exp1/ is '$(cat one.txt)'"
run_ik 2 cache export say.o -o x.txt
contains err "'say.o' is ambiguous: node 'say' exists in graphs 'exp1/pipeline.yaml', 'exp2/pipeline.yaml'"
run_ik 2 cache export pipeline:say.o -o x.txt
contains err "is ambiguous"

# gc keeps both graphs' results.
run_ik 0 cache gc --keep-runs 0
run_ik 0 run exp1/pipeline.yaml
contains err "1 node: 0 ran, 1 cached"
run_ik 0 run exp2/pipeline.yaml
contains err "1 node: 0 ran, 1 cached"

# A graph outside the folder holding the cache is named by its absolute path.
OUTSIDE=$(mktemp -d /tmp/ikada-test-outside.XXXXXX)
write_graph "$OUTSIDE/pipeline.yaml" three
run_ik 0 run "$OUTSIDE/pipeline.yaml"
run_ik 0 status "$OUTSIDE/pipeline.yaml"
contains out "graph $OUTSIDE/pipeline.yaml in cache"
run_ik 0 cache export "$OUTSIDE/pipeline.yaml:say.o" -o three.txt
rm -rf "$OUTSIDE"
[ "$(cat three.txt)" = three ] || fail "the outside graph's say.o is '$(cat three.txt)'"

# An older ikada's refs/<stem>.mp is moved aside once, with a note; results stay cached.
printf '\202\241v\001\244refs\200' > .ikada/refs/pipeline.mp
run_ik 0 run exp1/pipeline.yaml
contains err "note: .ikada/refs/pipeline.mp holds an older ikada's names"
contains err "1 node: 0 ran, 1 cached"
[ -f .ikada/refs/legacy/pipeline.mp ] || fail "the old refs file was not moved to refs/legacy/"
run_ik 0 run exp2/pipeline.yaml
lacks err "note:"
run_ik 0 cache gc
pass
