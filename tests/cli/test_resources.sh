# resources: `cpu` above the machine's cores is refused at load with its
# place in the file; `mem` takes sizes (512M, 4G), and the scheduler starts
# no node whose declared memory would overcommit what the machine can give
# (IKADA_MEMORY_LIMIT stands in for a small machine here), failing one that
# could never fit.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

pair() { # MEM_A MEM_B: two independent nodes that log when they start and end
    cat <<YAML
nodes:
  a:
    type: command
    params: {cmd: "echo start >> $PWD/log; sleep 1.5; echo end >> $PWD/log; echo a > \$IKADA_OUT_o", outputs: {o: o.txt}}
    resources: {cpu: 1, mem: $1}
  b:
    type: command
    params: {cmd: "echo start >> $PWD/log; sleep 1.5; echo end >> $PWD/log; echo b > \$IKADA_OUT_o", outputs: {o: o.txt}}
    resources: {cpu: 1, mem: $2}
YAML
}

cores=$(getconf _NPROCESSORS_ONLN)
cat > many.yaml <<YAML
nodes:
  a:
    type: command
    params: {cmd: "echo > \$IKADA_OUT_o", outputs: {o: o.txt}}
    resources: {cpu: $((cores + 1))}
YAML
run_ik 2 run many.yaml
contains err "many.yaml:5:"
contains err "resource 'cpu' of node 'a' is $((cores + 1)), but this machine has $cores cores"

pair 2G lots > bad.yaml
run_ik 2 run bad.yaml
contains err "resource 'mem' of node 'b' expects a size such as 512M or 4G, got"

# With room for one at a time, the two never overlap...
export IKADA_MEMORY_LIMIT=$((3 << 30))
pair 2G 2Gi > g.yaml
run_ik 0 run -j 2 g.yaml
[ "$(tr '\n' ' ' < log)" = "start end start end " ] || fail "overlapped: $(tr '\n' ' ' < log)"
# ...and with room for both, they do.
rm -rf .ikada log
pair 1G 1024M > g.yaml
run_ik 0 run -j 2 g.yaml
[ "$(tr '\n' ' ' < log)" = "start start end end " ] || fail "ran one at a time: $(tr '\n' ' ' < log)"

# A node that could never fit fails, naming what it asked for.
rm -rf .ikada
pair 4G 1G > g.yaml
run_ik 1 run g.yaml
contains err "resources: mem asks for 4.00 GiB, but the machine had 3.00 GiB available"
pass
