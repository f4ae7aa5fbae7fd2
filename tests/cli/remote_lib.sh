# tests/cli/remote_lib.sh - what the remote cache tests (test_remote_http.sh on nginx,
# test_remote_s3.sh on moto) share: the two-node graph (g.yaml), the count of node runs,
# and the checks that read the same whatever the server. Source it after lib.sh.
cat > g.yaml <<YAML
nodes:
  make:
    type: command
    params: {cmd: "echo ran make >> $WORK/side-effects; echo hi > \$IKADA_OUT_o", outputs: {o: o.txt}}
  next:
    type: command
    in: {x: make.o}
    params: {cmd: "echo ran next >> $WORK/side-effects; tr a-z A-Z < \$IKADA_IN_x > \$IKADA_OUT_o", outputs: {o: o.txt}}
YAML

# How many node runs have happened so far (every local cache counted).
ran() { [ -f side-effects ] && wc -l < side-effects || echo 0; }

# Two runs upload the same new result at once (separate local caches, c7 and c8); a third
# (c9) then runs nothing and gets what they uploaded.
check_two_uploads() {
    local set="make.cmd=sleep 0.3; echo two > \$IKADA_OUT_o" before
    IKADA_CACHE=$WORK/c7 "$IKADA" run -S "$set" g.yaml >o7 2>e7 &
    local p7=$!
    IKADA_CACHE=$WORK/c8 "$IKADA" run -S "$set" g.yaml >o8 2>e8 &
    local p8=$!
    wait $p7 || fail "first concurrent run failed: $(cat e7)"
    wait $p8 || fail "second concurrent run failed: $(cat e8)"
    lacks e7 "warning"
    lacks e8 "warning"
    before=$(ran)
    IKADA_CACHE=$WORK/c9 run_ik 0 run -S "$set" g.yaml
    [ "$(ran)" = "$before" ] || fail "after two concurrent uploads a third run re-ran nodes"
    IKADA_CACHE=$WORK/c9 run_ik 0 cache export next.o -o got.txt
    [ "$(cat got.txt)" = TWO ] || fail "concurrent uploads left '$(cat got.txt)'"
}

# check_stop_mid_run STOP_COMMAND: the server stops (STOP_COMMAND) while a node runs; the
# run finishes locally with exactly one warning.
check_stop_mid_run() {
    IKADA_CACHE=$WORK/c10 "$IKADA" run -S make.cmd="sleep 1; echo three > \$IKADA_OUT_o" g.yaml \
        >o10 2>e10 &
    local p10=$!
    sleep 0.5
    "$1"
    wait $p10 || fail "the run failed when the server stopped: $(cat e10)"
    [ "$(count e10 "remote cache unavailable")" = 1 ] || { cat e10 >&2; fail "expected exactly one warning"; }
    contains e10 "2 ran"
}
