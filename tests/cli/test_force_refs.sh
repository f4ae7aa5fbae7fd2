# --force on a node whose outputs change: the refs, the action record and the
# keys downstream agree afterwards, so the next plain run serves the new
# outputs (not the ones recorded before the forced run), also when the forced
# run was another graph's that shares the node's key.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

# gen writes different bytes on every run; use copies them.
write_graph() {
cat > "$1" <<'YAML'
nodes:
  gen:
    type: command
    params: {cmd: "date +%s%N > $IKADA_OUT_o; echo $$ >> $IKADA_OUT_o", outputs: {o: o.txt}}
  use:
    type: command
    in: {x: gen.o}
    params: {cmd: "cat $IKADA_IN_x > $IKADA_OUT_y", outputs: {y: y.txt}}
YAML
}
write_graph a.yaml
run_ik 0 run a.yaml
contains err "2 nodes: 2 ran"
run_ik 0 cache export gen.o -o gen1.txt
run_ik 0 run --force gen a.yaml
contains err "2 nodes: 2 ran"          # new bytes: use re-runs on them
run_ik 0 cache export gen.o -o gen2.txt
cmp -s gen1.txt gen2.txt && fail "gen wrote the same bytes twice"
run_ik 0 cache export use.y -o use2.txt
cmp -s gen2.txt use2.txt || fail "after --force, use.y is not a copy of gen.o"

# The next plain run is a no-op on the forced outputs.
run_ik 0 run a.yaml
contains err "2 nodes: 0 ran, 2 cached"
run_ik 0 cache export use.y -o use3.txt
cmp -s gen2.txt use3.txt || fail "the plain run after --force served the old outputs downstream"
run_ik 0 status a.yaml
[ "$(count out up-to-date)" = 2 ] || fail "status after --force: $(cat out)"

# gc keeps what the graph names: the next run is still a no-op.
run_ik 0 cache gc --keep-runs 0
run_ik 0 run a.yaml
contains err "2 nodes: 0 ran, 2 cached"
run_ik 0 cache verify

# Another graph with the same nodes shares gen's key. Forcing gen there
# replaces the key's action record; this graph's next run follows the record.
mkdir other && write_graph other/b.yaml
run_ik 0 run other/b.yaml
contains err "2 nodes: 0 ran, 2 cached"
run_ik 0 run --force gen other/b.yaml
contains err "2 nodes: 2 ran"
run_ik 0 run a.yaml
contains err "2 nodes: 0 ran, 2 cached"   # b's forced run also ran use on gen's new bytes
run_ik 0 cache export a:gen.o -o gen4.txt
run_ik 0 cache export a:use.y -o use4.txt
cmp -s gen4.txt use4.txt || fail "a's use.y does not copy the action record's gen.o"
cmp -s gen2.txt gen4.txt && fail "a still names gen's output from before b's --force"
pass
