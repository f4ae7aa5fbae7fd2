# The train node's `device: cuda` path, loader and all, on a machine without
# a GPU: IKADA_CUDA_MODULE points at the CPU stand-in of the CUDA module
# (tests/cuda/libikada-cuda-cpu.so, tests/cuda/cpu_module.c), so the node
# loads a module, asks it for a device and its free memory, and trains
# through lm/train_cuda.c. The report names the device, the loss falls, and
# a run killed after a checkpoint resumes to the uninterrupted run's adapter,
# byte for byte; so do a run with activation checkpointing and one with
# device: auto (which finds the stand-in's device); cuDNN's attention
# (IKADA_CUDA_ATTENTION=cudnn) and the flash kernels (=flash) train to near
# the same losses. Without a
# module, auto trains on the CPU and says why; an auto run killed on either
# device resumes on the other. The device kernels themselves are
# tests/cuda's (on a GPU).
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

# On a GPU machine `make check-cuda` (and .devbundle/run.sh) give the real
# module in IKADA_TEST_CUDA_MODULE: the same checks then run on the device.
module="$(cd "$(dirname "$IKADA")" && pwd)/tests/cuda/libikada-cuda-cpu.so"
device='"device":"cuda (CPU stand-in)"'
if [ -n "${IKADA_TEST_CUDA_MODULE:-}" ]; then
    module=$IKADA_TEST_CUDA_MODULE
    device='"device":"cuda ('
fi
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
contains out "$device"
first=$(grep -o '"loss": [0-9.]*' out | head -1 | cut -d' ' -f2)
last=$(grep -o '"loss": [0-9.]*' out | tail -1 | cut -d' ' -f2)
awk -v a="$first" -v b="$last" 'BEGIN {exit !(b < 0.8 * a)}' ||
    fail "the loss did not fall on the CUDA path: first $first, last $last"
run_ik 0 cache export train.adapter -o ref.mp --format msgpack
run_ik 0 cache show train.log
contains out "base model streamed to the device: "

# Runs graph $1 into $IKADA_CACHE and kills its train node once the first
# checkpoint is saved.
kill_after_checkpoint() {
    "$IKADA" run "$1" >out 2>err &
    runner=$!
    for _ in $(seq 600); do
        [ -n "$(cat "$IKADA_CACHE"/kv/ckpt/*/* 2>/dev/null)" ] && break
        sleep 0.05
    done
    node=$(child_pid $runner "ikada exec .* --node train") || fail "no train process to kill"
    kill -KILL $node
    wait $runner 2>/dev/null
}

# Killed once the first checkpoint is saved, then run again.
export IKADA_CACHE="$WORK/cache"
kill_after_checkpoint g.yaml
run_ik 0 run g.yaml
contains err "train: done"
run_ik 0 cache export train.adapter -o got.mp --format msgpack
cmp ref.mp got.mp || fail "the resumed adapter differs from the uninterrupted one"
run_ik 0 cache show train.report
lacks out '"resumed_at":0'

# The same run with activation checkpointing, then chosen by device: auto:
# the stand-in recomputes with the same calls, so the same adapter.
export IKADA_CACHE="$WORK/ref-cache"
sed 's/device: cuda/device: cuda\n      activation_checkpointing: "on"/' g.yaml > ckpt.yaml
run_ik 0 run ckpt.yaml
run_ik 0 cache show ckpt.yaml:train.report
contains out '"activation_checkpointing":true'
run_ik 0 cache export ckpt.yaml:train.adapter -o ckpt.mp --format msgpack
cmp ref.mp ckpt.mp || fail "the checkpointed run's adapter differs from the full one's"
sed 's/device: cuda/device: auto/' g.yaml > auto.yaml
run_ik 0 run auto.yaml
run_ik 0 cache show auto.yaml:train.report
contains out "$device"
run_ik 0 cache export auto.yaml:train.adapter -o auto.mp --format msgpack
cmp ref.mp auto.mp || fail "device: auto's adapter differs from device: cuda's"

# cuDNN's attention, IKADA_CUDA_ATTENTION=cudnn (on the stand-in: the
# references on BF16-rounded operands and results, so near the own
# kernel's run but not equal): the loss falls, its first step is within 1%
# of the own run's first and its last within 5% of its last, and the
# adapter's bytes differ (else the cuDNN path was not taken); with
# activation checkpointing the adapter is the same bytes (the stand-in's
# backward refuses stats that are not its forward's). With the real module
# where cuDNN is missing this part says so and is passed over. A value that
# is none of own, cudnn and flash, and cuDNN absent, fail the run, saying why.
first_own=$first last_own=$last
# The report in out (cache show): the loss falls, the first step is within
# 1% of the own run's first, the last within 5% of its last.
losses_near_own() {
    first=$(grep -o '"loss": [0-9.]*' out | head -1 | cut -d' ' -f2)
    last=$(grep -o '"loss": [0-9.]*' out | tail -1 | cut -d' ' -f2)
    awk -v a="$first" -v b="$last" -v a0="$first_own" -v b0="$last_own" 'BEGIN {
        d = a - a0; e = b - b0
        exit !(b < 0.8 * a && d * d < (0.01 * a0) ^ 2 && e * e < (0.05 * b0) ^ 2) }' ||
        fail "IKADA_CUDA_ATTENTION=$1: losses $first .. $last, the own kernel's $first_own .. $last_own"
}
export IKADA_CACHE="$WORK/sdpa-cache" IKADA_CUDA_ATTENTION=cudnn
"$IKADA" run g.yaml >out 2>err
rc=$?
if [ $rc != 0 ] && [ -n "${IKADA_TEST_CUDA_MODULE:-}" ] &&
    grep -qF "cuDNN attention is unavailable" err; then
    echo "IKADA_CUDA_ATTENTION=cudnn passed over: $(grep -F "cuDNN attention is unavailable" err)"
else
    [ $rc = 0 ] || { cat err >&2; fail "IKADA_CUDA_ATTENTION=cudnn: the run exited $rc"; }
    run_ik 0 cache show train.report
    contains out ', cuDNN attention"'
    losses_near_own cudnn
    run_ik 0 cache export train.adapter -o sdpa.mp --format msgpack
    cmp -s ref.mp sdpa.mp && fail "IKADA_CUDA_ATTENTION=cudnn gave the own kernel's adapter bytes"
    # cuDNN's backward accumulates dq in no fixed order: bytes only on the stand-in.
    if [ -z "${IKADA_TEST_CUDA_MODULE:-}" ]; then
        run_ik 0 run ckpt.yaml
        run_ik 0 cache export ckpt.yaml:train.adapter -o sdpa-ckpt.mp --format msgpack
        cmp sdpa.mp sdpa-ckpt.mp || fail "IKADA_CUDA_ATTENTION=cudnn: checkpointing changed the adapter"
    fi
fi
if [ -z "${IKADA_TEST_CUDA_MODULE:-}" ]; then
    export IKADA_CACHE="$WORK/no-sdpa-cache" IKADA_TEST_NO_SDPA=1
    run_ik 1 run g.yaml
    contains err "IKADA_CUDA_ATTENTION=cudnn: cuDNN attention is unavailable for this model"
    contains err "none on the CPU stand-in"
    unset IKADA_TEST_NO_SDPA
fi
# The module's flash attention, IKADA_CUDA_ATTENTION=flash (on the stand-in
# the references on BF16-rounded operands; with the real module its
# kernels): near the own kernel's run, other bytes, and, every sum in a
# fixed order, the same bytes with activation checkpointing on either.
export IKADA_CACHE="$WORK/flash-cache" IKADA_CUDA_ATTENTION=flash
run_ik 0 run g.yaml
run_ik 0 cache show train.report
contains out ', flash attention"'
losses_near_own flash
run_ik 0 cache export train.adapter -o flash.mp --format msgpack
cmp -s ref.mp flash.mp && fail "IKADA_CUDA_ATTENTION=flash gave the own kernel's adapter bytes"
run_ik 0 run ckpt.yaml
run_ik 0 cache export ckpt.yaml:train.adapter -o flash-ckpt.mp --format msgpack
cmp flash.mp flash-ckpt.mp || fail "IKADA_CUDA_ATTENTION=flash: checkpointing changed the adapter"
# IKADA_CUDA_PROFILE=1: the node's log ends with the module's breakdown of
# its calls (the stand-in times nothing: an empty one says so).
unset IKADA_CUDA_ATTENTION
export IKADA_CACHE="$WORK/profile-cache" IKADA_CUDA_PROFILE=1
run_ik 0 run g.yaml
run_ik 0 cache show train.log
contains out "CUDA profile (IKADA_CUDA_PROFILE=1"
if [ -n "${IKADA_TEST_CUDA_MODULE:-}" ]; then contains out "gemm (BF16 -> fp32)"; fi
unset IKADA_CUDA_PROFILE
export IKADA_CACHE="$WORK/bogus-cache" IKADA_CUDA_ATTENTION=bogus
run_ik 1 run g.yaml
contains err 'IKADA_CUDA_ATTENTION=bogus: expected "own" (the default), "cudnn" or "flash"'
unset IKADA_CUDA_ATTENTION

# No module: auto trains on the CPU, and the log says why.
export IKADA_CUDA_MODULE="$WORK/no-such-module.so"
sed 's/max_steps: 40/max_steps: 2/' auto.yaml > auto-cpu.yaml
run_ik 0 run auto-cpu.yaml
run_ik 0 cache show auto-cpu.yaml:train.report
contains out '"device":"cpu"'
run_ik 0 cache show auto-cpu.yaml:train.log
contains out "device auto: training on the CPU ("
contains out "no-such-module.so"

# A device: auto run killed on one device resumes on the other (the key does
# not name the device, and both write the same checkpoint): on the CPU after
# the GPU, then on the GPU after the CPU, each finishing from its checkpoint.
# ($module is the stand-in or, under check-cuda, the real module.)
for order in "$module $WORK/no-such-module.so cpu" "$WORK/no-such-module.so $module cuda"; do
    set -- $order
    export IKADA_CACHE="$WORK/cross-$3"
    export IKADA_CUDA_MODULE="$1"
    kill_after_checkpoint auto.yaml
    export IKADA_CUDA_MODULE="$2"
    run_ik 0 run auto.yaml
    contains err "train: done"
    run_ik 0 cache show auto.yaml:train.report
    lacks out '"resumed_at":0'
    contains out "\"device\":\"$3"
    last=$(grep -o '"loss": [0-9.]*' out | tail -1 | cut -d' ' -f2)
    awk -v a="$first_own" -v b="$last" 'BEGIN {exit !(b < 0.8 * a)}' ||
        fail "resumed on $3 after the other device: first loss $first_own, last $last"
done
export IKADA_CUDA_MODULE="$module"

# A model the CUDA trainer does not take (a NemotronH with 300 SSM states):
# auto says why and trains on the CPU, the base loaded again in full (it
# was loaded streamed for the device).
export IKADA_CACHE="$WORK/wide-state"
mkdir nemo
"$(dirname "$IKADA")/tests/train/mknemotron" nemo 'M*-' 32 48 512 512 5 300 || fail "mknemotron exited $?"
cp examples/models/stories260K-hf/tok512.model nemo/
sed 's|model: {file: examples/models/stories260K-hf}|model: {file: nemo}|; s/max_steps: 40/max_steps: 2/' \
    auto.yaml > nemo.yaml
run_ik 0 run nemo.yaml
run_ik 0 cache show nemo.yaml:train.log
contains out "device auto: training on the CPU (the CUDA selective scan takes at most 256 states, this model has 300)"
run_ik 0 cache show nemo.yaml:train.report
contains out '"device":"cpu"'
pass
