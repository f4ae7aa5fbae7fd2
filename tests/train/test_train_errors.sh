# Bad inputs and params of the train node: each a clear error naming what is
# wrong, and nothing stored.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cp -r "$SRCDIR/examples" .
export IKADA_CACHE="$WORK/cache"

# graph NAME PARAMS [MODEL] [EXTRA_INPUTS]: a graph whose train node has these params.
graph() {
    cat > "$1.yaml" <<YAML
nodes:
  split:
    type: sample
    in: {rows: {file: examples/jagovfaqs/faq.jsonl}}
    params: {train: 6, test: 2, unseen: 2, unanswerable_extra: 2}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
  train:
    type: train
    in: {samples: raft.train, model: {file: ${3:-examples/models/stories260K-hf}}${4:-}}
    params: {max_length: 64, max_steps: 1, $2}
YAML
}

# fails NAME TEXT: running NAME.yaml fails in the train node with TEXT.
fails() {
    run_ik 1 run "$1.yaml"
    contains err "$2"
    contains err "train: FAILED"
}

graph too_long "truncate: fail"
fails too_long "longer than max_length 64"
graph template "chat_template: chatml2"
fails template "chatml2"
# Here no GPU is usable (or the build has no CUDA module): either way the
# message says why; a module path that does not exist is named.
graph cuda "device: cuda"
fails cuda "param device is cuda, but "
contains err "use device: cpu or auto"
IKADA_CUDA_MODULE=$WORK/no-such.so run_ik 1 run cuda.yaml
contains err "no usable CUDA module libikada-cuda.so: $WORK/no-such.so (absent)"
graph target "targets: 'q,kv'"
fails target "kv"
graph sched "scheduler: cosine_with_restarts"
fails sched "expected cosine, linear or constant"
graph bin "truncate: end" examples/models/stories260K/stories260K.bin
fails bin "holds no tokenizer"
mkdir -p notok && cp examples/models/stories260K-hf/config.json \
    examples/models/stories260K-hf/model.safetensors notok/
graph notok "truncate: end" notok
fails notok "no tokenizer"
graph dropped "truncate: end"
fails dropped "without a target token within it"
# A llama2.c model with its tokenizer named trains.
graph bin_ok "truncate: end, loss_on: all" examples/models/stories260K/stories260K.bin \
    ", tokenizer: {file: examples/models/stories260K/tok512.model}"
run_ik 0 run bin_ok.yaml
graph memory "truncate: end, loss_on: all"
IKADA_MEMORY_LIMIT=100000 run_ik 1 run memory.yaml
contains err "training would need"
contains err "but only 97.7 KiB more are available"
contains err "hint: lower max_length or rank"
graph noassist "truncate: end"
sed -i 's/samples: raft.train/samples: raft.test/' noassist.yaml
fails noassist "no assistant turn"
# (an artifact without records: tests/train/test_dataset.c)
# Nothing of the failed ones was stored: bin_ok's adapter is the only one.
run_ik 0 cache ls
[ "$(count out lora.adapter)" = 1 ] || fail "$(count out lora.adapter) adapters are stored"
pass
