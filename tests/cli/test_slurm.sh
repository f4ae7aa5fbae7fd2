# `ikada run --executor slurm` against a real single-host Slurm (slurmctld +
# slurmd started here, two fake GPUs): the whole quickstart gives the same
# outputs as a local run, a GPU node gets CUDA_VISIBLE_DEVICES from Slurm, a
# node marked `executor: local` is no Slurm job, a job's queue state is in the
# progress lines, a job whose compute node goes down (NODE_FAIL) or that is
# preempted (PREEMPTED) is submitted once more, scancel, a node's time limit
# and Ctrl-C give their messages, and the config file's executor: block
# reaches sbatch. Skips (77) without Slurm or root, and in the sanitizer pass
# (IKADA_SANITIZED, set by make check-sanitizers): it is the slowest test by
# far (about 130 s, three times that under ASan), and the plain pass already
# runs it.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
if [ -n "${IKADA_SANITIZED:-}" ]; then
    echo "SKIP: $TEST_NAME: not in the sanitizer pass (make check runs it)"
    exit 77
fi
. "$SRCDIR/tests/cli/slurm_lib.sh"

slurm_start "$WORK/slurm"
trap 'slurm_stop "$WORK/slurm"; rm -rf "$WORK"' EXIT
cp -r "$SRCDIR/graphs" "$SRCDIR/examples" .
mkdir .ikada

# wait_state NAME STATE: a job of the run whose script is for node NAME shows STATE.
job_of() { grep -l "^# ikada: node $1\$" .ikada/slurm/*/*.sh 2>/dev/null | head -1; }
wait_state() {
    for _ in $(seq 150); do
        squeue -h --states=all -o '%i|%T|%j' | grep -q "|$2|" && [ -n "$(job_of "$1")" ] && return 0
        sleep 0.2
    done
    squeue --states=all >&2
    fail "no job of node $1 reached $2"
}

# retried NODE STATE CMD...: a one-node graph (a job of 3 s, its command naming
# NODE so that no other case's result is reused) run through Slurm; once its
# job runs, CMD ends it with Slurm state STATE. The job must be submitted once
# more and the run succeed.
retried() {
    local node=$1 state=$2 runner
    shift 2
    cat > "$node.yaml" <<YAML
nodes:
  $node:
    type: command
    params: {cmd: "sleep 3; echo $node > \$IKADA_OUT_o", outputs: {o: o.txt}}
YAML
    "$IKADA" run --executor slurm "$node.yaml" >"$node.out" 2>"$node.err" &
    runner=$!
    wait_state "$node" RUNNING
    "$@" || fail "could not end the job: $*"
    wait $runner || { cat "$node.err" >&2; fail "the run whose job ended $state did not succeed"; }
    grep -Eq "^$node: slurm job [0-9]+ $state: submitting it once more\$" "$node.err" ||
        { cat "$node.err" >&2; fail "no retry after $state"; }
    contains "$node.err" "1 node: 1 ran"
    rm -r .ikada/slurm # the job files of the cases below, counted there
}

# The compute node goes down under a running job (NODE_FAIL). First, while no
# other job runs.
retried lost NODE_FAIL scontrol update nodename="$(hostname -s)" state=down reason=ikada-test
scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null # ReturnToService may have
for _ in $(seq 50); do
    sinfo -h -N -o "%T" | grep -Eq '^(idle|mixed|allocated)' && break
    sleep 0.2
done

# A job of a higher partition preempts it (PreemptMode=CANCEL: PREEMPTED).
retried bumped PREEMPTED sbatch -p urgent --exclusive --wrap "sleep 1" -o /dev/null

# The whole quickstart through Slurm gives the outputs of a local run: every
# artifact but the two reports that carry wall times has the same hash. train
# and evaluate want every core: each gets a whole node (--exclusive) and
# Slurm's CPU count as its threads. Before the time-limit case below, whose
# job holds a CPU that a whole-node job would wait for.
run_ik 0 run --executor slurm graphs/quickstart.yaml
contains err "8 nodes: 8 ran, 0 cached, 0 failed"
[ "$(ls .ikada/slurm/*/*.sh | wc -l)" = 8 ] || fail "expected 8 job scripts"
grep -q 'IKADA_THREADS="${SLURM_CPUS_ON_NODE:-1}"' "$(job_of train)" ||
    fail "train's job does not take Slurm's CPU count: $(cat "$(job_of train)")"
grep -q "IKADA_THREADS='1'" "$(job_of cot)" || fail "cot's job is not given its one slot"
run_ik 0 run --executor slurm graphs/quickstart.yaml
contains err "8 nodes: 0 ran, 8 cached, 0 failed"
IKADA_CACHE="$WORK/local-cache" "$IKADA" run graphs/quickstart.yaml 2>/dev/null ||
    fail "the local run failed"
# The quickstart's artifact hashes, one "node.port hash" line each.
hashes() {
    "$IKADA" cache ls --json | python3 -c '
import json, sys
nodes = {"split", "raft", "cot", "stats", "train", "gguf", "eval", "jcq"}
for a in json.load(sys.stdin):
    p = a["producer"]
    if a.get("ref") and p["node"] in nodes and a["kind"] not in ("train.report", "eval.report"):
        print(p["node"] + "." + p["port"], a["hash"])' | sort
}
hashes > slurm.hashes
IKADA_CACHE="$WORK/local-cache" hashes > local.hashes
[ "$(wc -l < slurm.hashes)" -ge 12 ] || fail "too few artifacts compared: $(cat slurm.hashes)"
diff local.hashes slurm.hashes >&2 || fail "the Slurm and the local quickstart differ (above)"
echo "the quickstart through Slurm and locally: $(wc -l < slurm.hashes) artifacts alike"
rm -r .ikada/slurm

# A time limit from the node's resources (over the executor block's hour; Slurm's
# are whole minutes: about a minute and a half), started now and checked last so
# the other cases run meanwhile.
cat > slow.yaml <<'YAML'
executor: {kind: slurm, time: "1:00:00"}
nodes:
  overtime:
    type: command
    resources: {time: 1}
    params: {cmd: "sleep 300; echo x > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
IKADA_CACHE="$WORK/slow-cache" "$IKADA" run slow.yaml >slow.out 2>slow.err &
slow=$!

# A GPU node gets its device from Slurm; a node marked local is no Slurm job.
cat > gpu.yaml <<'YAML'
executor: {kind: slurm, types: {sample: local}}
nodes:
  on_gpu:
    type: command
    resources: {gpu: 1}
    params: {cmd: "sleep 1; echo \"dev=$CUDA_VISIBLE_DEVICES job=$SLURM_JOB_ID\" > $IKADA_OUT_o", outputs: {o: o.txt}}
  here:
    type: command
    executor: local
    params: {cmd: "echo \"job=$${SLURM_JOB_ID:-none}\" > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
run_ik 0 run gpu.yaml
# The progress lines tell a job's queue states as they change.
grep -Eq '^on_gpu: slurm job [0-9]+ (PENDING|RUNNING)$' err || { cat err >&2; fail "no Slurm state line"; }
run_ik 0 cache export on_gpu.o -o -
grep -Eq '^dev=[01] job=[0-9]+$' out || fail "the GPU node saw: $(cat out)"
run_ik 0 cache export here.o -o -
contains out "job=none"
[ -z "$(job_of here)" ] || fail "the local node became a Slurm job"

# scancel from outside: the node fails with the job id, the state and its log.
cat > cancel.yaml <<'YAML'
nodes:
  victim:
    type: command
    params: {cmd: "sleep 300; echo x > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
"$IKADA" run --executor slurm cancel.yaml >out 2>err &
runner=$!
wait_state victim RUNNING
id=$(squeue -h -o '%i|%j' | grep '|ikada-cancel-' | cut -d'|' -f1)
scancel "$id"
wait $runner
status=$?
[ $status = 1 ] || fail "the run with a cancelled job exited $status, expected 1"
contains err "victim: FAILED: slurm job $id CANCELLED: was cancelled"
contains err "log: $WORK/.ikada/slurm/"

# Ctrl-C of `ikada run`: its queued and running jobs are cancelled.
cat > intr.yaml <<'YAML'
nodes:
  sleeper_a:
    type: command
    params: {cmd: "sleep 300; echo a > $IKADA_OUT_o", outputs: {o: o.txt}}
  sleeper_b:
    type: command
    params: {cmd: "sleep 301; echo b > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
"$IKADA" run --executor slurm intr.yaml >out 2>err &
runner=$!
wait_state sleeper_a RUNNING
kill -INT $runner
wait $runner
status=$?
[ $status = 130 ] || fail "the interrupted run exited $status, expected 130"
contains err "interrupted"
alive=$(squeue -h -o '%j|%T' | grep -c '^ikada-intr-')
[ "$alive" = 0 ] || fail "$alive jobs of the interrupted run are still queued or running"

# sbatch refusing a job fails the node with sbatch's own words; the partition
# comes from the config file's executor: block, under the graph's.
cat > nopart.yaml <<'YAML'
executor: {kind: slurm}
nodes:
  refused:
    type: command
    params: {cmd: "echo x > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
echo "executor: {partition: nosuch, kind: local}" > config.yaml
IKADA_CONFIG=$WORK/config.yaml run_ik 1 run nopart.yaml
contains err "refused: FAILED: sbatch failed (exit 1): sbatch: error: invalid partition specified: nosuch"

# The time limit, from above.
wait $slow
status=$?
[ $status = 1 ] || { cat slow.err >&2; fail "the run over its time limit exited $status, expected 1"; }
contains slow.err "overtime: FAILED: slurm job"
contains slow.err "TIMEOUT: hit its time limit"
pass
