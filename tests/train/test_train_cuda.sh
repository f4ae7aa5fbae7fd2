# The train node's `device: cuda` path, loader and all, on a machine without
# a GPU: IKADA_CUDA_MODULE points at the CPU stand-in of the CUDA module
# (tests/cuda/libikada-cuda-cpu.so, tests/cuda/cpu_module.c), so the node
# loads a module, asks it for a device and its free memory, and trains
# through lm/train_cuda.c. The report names the device, the loss falls, and
# a run killed after a checkpoint resumes to the uninterrupted run's adapter,
# byte for byte. The device kernels themselves are tests/cuda's (on a GPU).
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

module="$(cd "$(dirname "$IKADA")" && pwd)/tests/cuda/libikada-cuda-cpu.so"
[ -f "$module" ] || fail "$module is not built (make check builds it)"
export IKADA_CUDA_MODULE="$module"

cp -r "$SRCDIR/examples" .
cat > g.yaml <<'YAML'
nodes:
  split:
    type: sample
    in: {rows: {file: examples/jagovfaqs/faq.jsonl}}
    params: {train: 24, test: 4, unseen: 4, unanswerable_extra: 4}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
  train:
    type: train
    in: {samples: raft.train, model: {file: examples/models/stories260K-hf}}
    params:
      device: cuda
      max_length: 96
      truncate: end
      loss_on: all
      rank: 4
      max_steps: 40
      checkpoint_every: 2
      log_every: 1
      lr: 1e-3
YAML

export IKADA_CACHE="$WORK/ref-cache"
run_ik 0 run g.yaml
contains err "train: done"
run_ik 0 cache show train.report
contains out '"device":"cuda (CPU stand-in)"'
first=$(grep -o '"loss": [0-9.]*' out | head -1 | cut -d' ' -f2)
last=$(grep -o '"loss": [0-9.]*' out | tail -1 | cut -d' ' -f2)
awk -v a="$first" -v b="$last" 'BEGIN {exit !(b < 0.8 * a)}' ||
    fail "the loss did not fall on the CUDA path: first $first, last $last"
run_ik 0 cache export train.adapter -o ref.mp --format msgpack

# Killed once the first checkpoint is saved, then run again.
export IKADA_CACHE="$WORK/cache"
"$IKADA" run g.yaml >out 2>err &
runner=$!
for _ in $(seq 600); do
    [ -n "$(cat "$IKADA_CACHE"/kv/ckpt/*/* 2>/dev/null)" ] && break
    sleep 0.05
done
node=$(pgrep -P $runner -f "ikada exec .* --node train") || fail "no train process to kill"
kill -KILL $node
wait $runner 2>/dev/null
run_ik 0 run g.yaml
contains err "train: done"
run_ik 0 cache export train.adapter -o got.mp --format msgpack
cmp ref.mp got.mp || fail "the resumed adapter differs from the uninterrupted one"
run_ik 0 cache show train.report
lacks out '"resumed_at":0'
pass
