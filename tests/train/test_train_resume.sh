# A training node killed at three random points resumes from its newest
# checkpoint, and its adapter is byte for byte the one of a run that was never
# interrupted, even with another thread count; the checkpoint is gone once
# the outputs are stored. Kills 1 and 3 SIGKILL the node's process (a crash);
# kill 2 SIGKILLs `ikada run`, so the node gets SIGTERM and saves first.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cp -r "$SRCDIR/examples" .
cat > g.yaml <<'YAML'
nodes:
  split:
    type: sample
    in: {rows: {file: examples/jagovfaqs/faq.jsonl}}
    params: {train: 40, test: 4, unseen: 4, unanswerable_extra: 4}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
  train:
    type: train
    in: {samples: raft.train, model: {file: examples/models/stories260K-hf}}
    params:
      max_length: 96
      truncate: end
      loss_on: all
      rank: 4
      grad_accum: 2
      max_steps: 200 # long enough that three kills land before the end on a fast machine
      checkpoint_every: 2
      log_every: 5
      lr: 1e-3
YAML

export IKADA_CACHE="$WORK/ref-cache"
run_ik 0 run -j 1 g.yaml
run_ik 0 cache export train.adapter -o ref.mp --format msgpack

export IKADA_CACHE="$WORK/cache"
ckpt_dir="$IKADA_CACHE/kv/ckpt"
# The content of the (one) checkpoint entry: the hash of its newest state.
ckpt() { cat "$ckpt_dir"/*/* 2>/dev/null; }

# Waits until the checkpoint differs from $1 (a new one was saved).
wait_new_ckpt() {
    for _ in $(seq 300); do
        now=$(ckpt)
        [ -n "$now" ] && [ "$now" != "$1" ] && return 0
        sleep 0.05
    done
    fail "no new checkpoint appeared"
}

# The run's train node: looked for a few times, since one scan of /proc can
# miss a process while the machine is loaded (two suites at once).
train_process() {
    for _ in $(seq 20); do
        child_pid "$1" "ikada exec .* --node train" && return 0
        sleep 0.05
    done
    return 1
}

last=""
for kill in 1 2 3; do
    "$IKADA" run g.yaml >out 2>err &
    runner=$!
    wait_new_ckpt "$last"
    node=$(train_process $runner) ||
        fail "kill $kill: no train process; the run $(kill -0 $runner 2>/dev/null && echo "is alive" ||
            echo "has ended"): $(tail -5 err)"
    sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
    if [ $kill = 2 ]; then
        kill -KILL $runner
    else
        kill -KILL $node
    fi
    wait $runner 2>/dev/null
    for _ in $(seq 100); do kill -0 $node 2>/dev/null || break; sleep 0.1; done
    last=$(ckpt)
    [ -n "$last" ] || fail "kill $kill: no checkpoint is left"
done
run_ik 0 run g.yaml
contains err "train: done"
run_ik 0 cache export train.adapter -o got.mp --format msgpack
cmp ref.mp got.mp || fail "the resumed adapter differs from the uninterrupted one"
run_ik 0 cache show train.report
contains out "resumed_at"
lacks out '"resumed_at": 0'
[ -z "$(ckpt)" ] || fail "the checkpoint outlived the stored outputs"
pass
