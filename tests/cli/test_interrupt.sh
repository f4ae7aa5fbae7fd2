# Ctrl-C (SIGINT) stops the running nodes, exits 130 and keeps what finished;
# the next run completes from there.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > g.yaml <<'YAML'
nodes:
  quick:
    type: command
    params: {cmd: "echo q > $IKADA_OUT_o", outputs: {o: o.txt}}
  sigint_victim:
    type: command
    in: {x: quick.o}
    params: {cmd: "sleep 30; cp $IKADA_IN_x $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
"$IKADA" run g.yaml >out 2>err &
runner=$!
for _ in $(seq 100); do grep -q "sigint_victim: running" err && break; sleep 0.1; done
kill -INT $runner
wait $runner
status=$?
[ $status = 130 ] || fail "interrupted run exited $status, expected 130"
contains err "interrupted"
sleep 0.2
pgrep -f "ikada exec .* --node sigint_victim" >/dev/null && fail "the sigint_victim node survived Ctrl-C"
sed -i 's/sleep 30; //' g.yaml
run_ik 0 run g.yaml
contains err "quick: cached"
contains err "sigint_victim: done"

# kill -9 of `ikada run` itself: its nodes, and what they started, go too.
cat > k.yaml <<'YAML'
nodes:
  orphan_check:
    type: command
    params: {cmd: "sleep 31.25; echo x > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
"$IKADA" run k.yaml >out 2>err &
runner=$!
for _ in $(seq 100); do pgrep -f "sleep 31.25" >/dev/null && break; sleep 0.1; done
pgrep -f "sleep 31.25" >/dev/null || fail "the node's command never started"
kill -KILL $runner
wait $runner 2>/dev/null
for _ in $(seq 30); do pgrep -f "sleep 31.25" >/dev/null || break; sleep 0.1; done
pgrep -f "sleep 31.25" >/dev/null && fail "a node's process outlived a killed ikada run"
pass
