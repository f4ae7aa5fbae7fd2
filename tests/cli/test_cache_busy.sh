# `cache verify` and `cache gc` need the cache to themselves: while a run holds
# it they exit 75 ("busy, try again"), a status of its own, never 1 (which
# verify uses for "corruption found"), and change nothing.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > g.yaml <<'YAML'
nodes:
  make:
    type: command
    params: {cmd: "seq 1 20000 > $IKADA_OUT_o", outputs: {o: numbers.txt}}
  busy_holder:
    type: command
    params: {cmd: "sleep 2.25; echo b > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
sed 's/sleep 2.25; //' g.yaml > quick.yaml
run_ik 0 run quick.yaml
obj=$(find .ikada/objects -type f -size +50k | head -n 1)
[ -n "$obj" ] || fail "no output object found"
chmod u+w "$obj"
printf 'X' | dd of="$obj" bs=1 seek=100 conv=notrunc 2>/dev/null

"$IKADA" run g.yaml >out.run 2>err.run &
runner=$!
for _ in $(seq 100); do grep -q "busy_holder: running" err.run && break; sleep 0.1; done
grep -q "busy_holder: running" err.run || fail "the run never started its node"

run_ik 75 cache verify
contains err "another ikada process is using the cache"
contains err "hint: try again"
[ -f "$obj" ] || fail "a busy verify quarantined an object"
run_ik 75 cache verify --json
run_ik 75 cache gc
contains err "cache gc: another ikada process is using the cache"
run_ik 75 cache gc --dry-run

wait $runner || fail "the run failed: $(cat err.run)"
# Alone again: verify reports the corruption with 1, then all is well.
run_ik 1 cache verify
contains out "1 corrupt"
run_ik 0 cache verify
run_ik 0 cache gc
pass
