# A command node's timeout_s stops the whole command, not only its shell: the
# run returns at the timeout, says so, and leaves none of the command's
# processes behind. What a command leaves running when it exits goes too, and
# does not hold the run up. Each command sleeps for a duration no other test
# uses, so pgrep finds only its processes.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

# timed_run NAME CMD: runs a one-node graph with timeout_s 1; it must fail in
# under 3 s with the timeout message.
timed_run() {
    cat > "$1.yaml" <<YAML
nodes:
  $1:
    type: command
    params: {cmd: "$2", timeout_s: 1, outputs: {o: o.txt}}
YAML
    local start end
    start=$(date +%s%N)
    run_ik 1 run "$1.yaml"
    end=$(date +%s%N)
    contains err "$1: FAILED: command timed out after 1 s"
    [ $(((end - start) / 1000000)) -lt 3000 ] ||
        fail "$1: the run took $(((end - start) / 1000000)) ms, the timeout is 1 s"
}

# no_survivor PATTERN: no process matches it (a killed one may take a moment
# to be reaped).
no_survivor() {
    for _ in $(seq 20); do pgrep -f "$1" >/dev/null || return 0; sleep 0.1; done
    pgrep -af "$1" >&2
    fail "'$1' outlived its node"
}

# A compound command: dash forks `sleep` and waits for it.
timed_run compound 'sleep 7.71; echo done > $IKADA_OUT_o'
no_survivor "sleep 7.71"
# A pipeline: the shell waits for both members.
timed_run pipeline 'sleep 7.72 | cat > $IKADA_OUT_o'
no_survivor "sleep 7.72"
# A simple command followed by another, so the shell cannot exec it in place.
timed_run script 'python3 -c \"import time; time.sleep(7.73)\"; true'
no_survivor "time.sleep(7.73)"
# A plain command (the shell may exec it, or fork it).
timed_run plain 'sleep 7.74'
no_survivor "sleep 7.74"

# A command that exits at once but leaves a job running that holds its stdout:
# the node finishes now, and the job ends with it.
cat > bg.yaml <<'YAML'
nodes:
  background:
    type: command
    params: {cmd: "sleep 7.75 & echo ok > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
start=$(date +%s%N)
run_ik 0 run bg.yaml
end=$(date +%s%N)
contains err "background: done"
ms=$(((end - start) / 1000000))
[ $ms -lt 3000 ] || fail "background: the run waited $ms ms for a job the command left behind"
no_survivor "sleep 7.75"

# The output of a command that timed out still reaches its log.
timed_run chatty 'echo before-the-timeout; sleep 7.76'
contains err "| before-the-timeout"
no_survivor "sleep 7.76"
pass
