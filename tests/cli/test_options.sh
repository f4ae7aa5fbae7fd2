# run's options: --target, --force, -j, --dry-run and --json.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > g.yaml <<'YAML'
nodes:
  a:
    type: command
    params: {cmd: "echo a > $IKADA_OUT_o", outputs: {o: a.txt}}
  b:
    type: command
    in: {x: a.o}
    params: {cmd: "cat $IKADA_IN_x > $IKADA_OUT_o; echo b >> $IKADA_OUT_o", outputs: {o: b.txt}}
  c:
    type: command
    params: {cmd: "echo c > $IKADA_OUT_o", outputs: {o: c.txt}}
YAML

run_ik 0 run -n g.yaml
contains out "never run"
[ ! -d .ikada/actions ] || [ -z "$(ls .ikada/actions)" ] || fail "dry run ran something"

run_ik 0 run --target b g.yaml
contains err "2 nodes: 2 ran"
lacks err "c: "
run_ik 0 status g.yaml
contains out "c                    never-run"

run_ik 0 run --json -j 1 g.yaml
contains out '"status": "ran"'
contains out '"status": "cached"'
python3 -c 'import json,sys; d=json.load(open("out")); assert d["exit"]==0 and len(d["nodes"])==3' \
    || fail "--json output is not the expected JSON"

run_ik 0 run --force a g.yaml
contains err "a: running (forced (--force))"
contains err "3 nodes: 1 ran, 2 cached"   # a re-ran with identical bytes: b stays cached

run_ik 2 run --target nope g.yaml
contains err "no node 'nope'"
run_ik 2 run -j zero g.yaml
contains err "-j expects a positive integer"
run_ik 2 run
contains err "no graph file given"

run_ik 0 graph --dot g.yaml
contains out '"a" -> "b"'
run_ik 0 graph --mermaid g.yaml
contains out "flowchart LR"
contains out 'n0["a<br/><i>command</i>"]'
run_ik 0 nodes
contains out "command"
contains out "param  cmd"
run_ik 0 nodes --json
python3 -c 'import json; d=json.load(open("out")); assert any(t["name"]=="command" for t in d)' \
    || fail "nodes --json"
run_ik 0 log
contains out "g.yaml"
run_ik 0 log --json
python3 -c 'import json; d=json.load(open("out")); assert len(d)>=3 and all("nodes" in r for r in d) and d[0]["started_ms"]>=d[-1]["started_ms"]' \
    || fail "log --json"
pass
