# What a run killed with kill -9 leaves in the cache's tmp/ (a node's scratch
# folder, temporary files of atomic writes) is removed by the next run, but
# never while another run on the same cache may still be writing there.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > slow.yaml <<'YAML'
nodes:
  tmpclean_slow:
    type: command
    params: {cmd: "sleep 30.75; echo s > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
cat > quick.yaml <<'YAML'
nodes:
  quick:
    type: command
    params: {cmd: "echo q > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML

# wait_for CMD...: up to 10 s for CMD to succeed.
wait_for() {
    for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
    return 1
}
scratch_exists() { ls -d .ikada/tmp/exec-* >/dev/null 2>&1; }
node_alive() { pgrep -f "ikada exec .* --node $1" >/dev/null; }
node_gone() { ! node_alive "$1"; }

# 1. kill -9 of a run while its node works: the scratch folder stays behind.
"$IKADA" run slow.yaml >out 2>err &
runner=$!
wait_for scratch_exists || fail "the slow node never made its scratch folder"
kill -KILL $runner
wait $runner 2>/dev/null
wait_for node_gone tmpclean_slow || fail "the slow node outlived its killed run"
scratch_exists || fail "the killed run left no scratch folder (nothing to test)"
# A temporary file of an atomic write cut short by the kill (pid.n.rnd.tmp).
echo torn > .ikada/tmp/999999.1.0badf00d.tmp

# The next run (of any graph on this cache) removes both.
run_ik 0 run quick.yaml
contains err "quick: done"
[ -z "$(ls -A .ikada/tmp)" ] || fail "tmp/ still holds: $(ls -A .ikada/tmp)"

# 2. A run beside a running one leaves tmp/ alone: the other may be writing
# there (its scratch folder, its temporary files).
sed -i 's/sleep 30.75/sleep 2.5/' slow.yaml
"$IKADA" run slow.yaml >out.a 2>err.a &
runner=$!
wait_for scratch_exists || fail "the slow node never made its scratch folder"
scratch=$(ls -d .ikada/tmp/exec-*)
echo busy > .ikada/tmp/888888.1.0badf00d.tmp
sed -i 's/echo q/echo q2/' quick.yaml
run_ik 0 run quick.yaml
contains err "quick: done"
[ -d "$scratch" ] || fail "a concurrent run removed the running node's scratch folder"
[ -f .ikada/tmp/888888.1.0badf00d.tmp ] || fail "a concurrent run removed a temporary file in use"
wait $runner
[ $? = 0 ] || { cat err.a >&2; fail "the slow run failed beside the other"; }
contains err.a "tmpclean_slow: done"
run_ik 0 cache export tmpclean_slow.o -o s.txt
[ "$(cat s.txt)" = s ] || fail "tmpclean_slow.o is '$(cat s.txt)'"

# With no run left, the next one cleans up.
run_ik 0 run quick.yaml
[ -z "$(ls -A .ikada/tmp)" ] || fail "tmp/ still holds: $(ls -A .ikada/tmp)"
pass
