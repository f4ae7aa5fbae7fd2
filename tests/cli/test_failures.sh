# Failing, crashing and killed nodes: the error and log are shown, no result
# is recorded for them, --keep-going goes on with independent nodes, and a
# re-run after the fix completes.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > g.yaml <<'YAML'
nodes:
  bad:
    type: command
    params: {cmd: "echo 'about to fail' >&2; exit 3", outputs: {o: o.txt}}
  after:
    type: command
    in: {x: bad.o}
    params: {cmd: "cp $IKADA_IN_x $IKADA_OUT_o", outputs: {o: o.txt}}
  other:
    type: command
    params: {cmd: "sleep 0.3; echo ok > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML

run_ik 1 run -j 1 g.yaml
contains err "bad: FAILED: command exited with status 3"
contains err "| about to fail"
run_ik 1 run -j 2 --keep-going g.yaml
contains err "other: done"
contains err "3 nodes: 1 ran, 0 cached, 1 failed, 1 not run"

# The command did not write its declared output.
cat > h.yaml <<'YAML'
nodes:
  lazy:
    type: command
    params: {cmd: "true", outputs: {o: o.txt}}
YAML
run_ik 1 run h.yaml
contains err "did not write output 'o'"

# A node killed with SIGKILL mid-way: the run fails cleanly, nothing partial.
cat > k.yaml <<'YAML'
nodes:
  sigkill_victim:
    type: command
    params: {cmd: "echo started > $IKADA_OUT_o; sleep 30", outputs: {o: o.txt}}
YAML
"$IKADA" run k.yaml >out 2>err &
runner=$!
# Wait for this node's own process (other test runs may have theirs), up to
# 20 s on a loaded machine.
for _ in $(seq 200); do pgrep -f "ikada exec .* --node sigkill_victim" >/dev/null && break; sleep 0.1; done
sleep 0.2
pkill -KILL -f "ikada exec .* --node sigkill_victim" || fail "no node process to kill"
wait $runner
[ $? = 1 ] || fail "run with a killed node should exit 1"
contains err "sigkill_victim: FAILED: killed by signal 9"
run_ik 0 status k.yaml
grep -qE "^sigkill_victim +failed +failed in run .*: killed by signal 9" out \
    || fail "a killed node left a result, or its failure is not shown: $(cat out)"

# Fix the graph: the rerun completes.
sed -i 's/sleep 30/true/' k.yaml
run_ik 0 run k.yaml
contains err "1 node: 1 ran"

# A node on a GPU, on a machine without one, fails with a clear message.
if [ "$("$IKADA" version | grep -c ' 0 devices\|cpu-only')" = 1 ]; then
cat > gpu.yaml <<'YAML'
nodes:
  needs_gpu:
    type: command
    params: {cmd: "nvidia-smi > $IKADA_OUT_o", outputs: {o: o.txt}}
    resources: {gpu: 1}
YAML
run_ik 1 run gpu.yaml
contains err "needs a GPU and none was found"
fi
pass
