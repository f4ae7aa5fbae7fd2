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

# After a run uploaded g.yaml's results: `ikada status` on an empty local cache (cs) says
# both nodes are on the remote, would run none, and downloads nothing; `run -n` says it
# would download them; without a remote they are never run.
check_status_remote() {
    IKADA_CACHE=$WORK/cs run_ik 0 status --exit-code g.yaml
    [ "$(grep -c "^[a-z]* *remote  *on the remote cache (a run downloads it)" out)" = 2 ] ||
        { cat out >&2; fail "status did not show the 2 remote results"; }
    contains out "2 nodes: 2 on the remote; nothing would run"
    IKADA_CACHE=$WORK/cs run_ik 0 status --json g.yaml
    contains out '"remote": 2'
    IKADA_CACHE=$WORK/cs run_ik 0 run -n g.yaml
    [ "$(grep -c "download   from the remote cache" out)" = 2 ] || fail "run -n: $(cat out)"
    [ -z "$(find cs/objects -type f 2>/dev/null)" ] || fail "status or run -n downloaded objects"
    IKADA_REMOTE= IKADA_CACHE=$WORK/cs run_ik 0 status g.yaml
    contains out "2 never run; 2 would run"
}

# check_status_down: status with a remote that refuses this client warns once and shows
# the local state (the caller sets up the refusal).
check_status_down() {
    IKADA_CACHE=$WORK/cs run_ik 0 status g.yaml
    [ "$(count err "remote cache unavailable")" = 1 ] || fail "expected one warning: $(cat err)"
    contains out "2 never run; 2 would run"
}
