# `ikada run -S NODE.PARAM=VALUE`: a param set on the command line, as YAML,
# changes the plan of `status` and `run -n` and what `run` runs; bad -S
# arguments are refused with exit 2 naming the argument, before anything runs.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
export IKADA_CACHE="$WORK/cache"

cat > g.yaml <<'YAML'
nodes:
  a:
    type: command
    params: {cmd: 'printf "%s" "$N" > $IKADA_OUT_o', outputs: {o: o.txt}, env: {N: one}, timeout_s: 5}
  b:
    type: command
    in: {x: a.o}
    params: {cmd: 'cat $IKADA_IN_x > $IKADA_OUT_o', outputs: {o: o.txt}}
YAML
run_ik 0 run g.yaml
run_ik 0 status g.yaml
contains out "a                    up-to-date"

# status and run -n show the plan of the -S run; neither runs anything.
run_ik 0 status -S a.timeout_s=7 g.yaml
contains out "param 'timeout_s' changed: 5 -> 7"
run_ik 0 run -n --set a.timeout_s=7 g.yaml
contains out "param 'timeout_s' changed: 5 -> 7"
run_ik 0 status g.yaml
lacks out "stale"

# A YAML mapping value; the later of two -S for one param wins.
run_ik 0 run -S 'a.env={N: two}' -S 'a.env={N: three}' g.yaml
run_ik 0 cache export b.o -o b.txt
[ "$(cat b.txt)" = three ] || fail "b.o is '$(cat b.txt)', expected 'three'"
run_ik 0 status -S 'a.env={N: three}' g.yaml
lacks out "stale"

# Errors: exit 2, the argument named, nothing run.
run_ik 2 run -S a.timeout_s=soon g.yaml
contains err "-S 'a.timeout_s=soon': param 'timeout_s' of node 'a' expects an integer, got 'soon'"
run_ik 2 run -S c.timeout_s=1 g.yaml
contains err "-S 'c.timeout_s=1': g.yaml has no node 'c'"
run_ik 2 status -S a.timout_s=1 g.yaml
contains err "unknown param 'timout_s' for type 'command' (node 'a'); did you mean 'timeout_s'?"
run_ik 2 run -S timeout_s=1 g.yaml
contains err "-S 'timeout_s=1': expected NODE.PARAM=VALUE"
run_ik 2 run -n -S 'a.outputs={o: [' g.yaml
contains err "VALUE is not valid YAML"
run_ik 0 status g.yaml
lacks out "stale"
pass
