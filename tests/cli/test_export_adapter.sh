# `ikada cache export` of a lora.adapter: by default (and with --format peft)
# a PEFT folder that `ikada lm score --adapter` uses on the base model (B != 0
# changes the log-probs, B = 0 leaves them bit-identical); --format json still
# works; peft is refused for another kind, for -o -, and for a folder that
# holds other files (which are left as they were). The adapters are packed
# into the cache by tests/train/mkadapter, seeded.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
mk=$(dirname "$IKADA")/tests/train/mkadapter
[ -x "$mk" ] || fail "no helper $mk (make check builds it)"
model=$SRCDIR/examples/models/stories260K-hf
text="Once upon a time, there was a little girl named Lily. She loved to play outside."

h=$("$mk" "$model/config.json" all 4 0.05 3) || fail "mkadapter exited $?"
h0=$("$mk" "$model/config.json" q,v 2 0 3) || fail "mkadapter (B = 0) exited $?"
[ ${#h} -eq 64 ] || fail "mkadapter printed '$h'"

# The default format of a lora.adapter is peft; the folder is created with its parents.
run_ik 0 cache export "$h" -o exp/adapter
for f in adapter_config.json adapter_model.safetensors ikada.json; do
    [ -s "exp/adapter/$f" ] || fail "export wrote no $f"
done
contains exp/adapter/adapter_config.json '"peft_type": "LORA"'
contains exp/adapter/adapter_config.json '"r": 4'
contains exp/adapter/adapter_config.json '"base_model_name_or_path": null'
contains exp/adapter/ikada.json "\"artifact\": \"$h\""
contains exp/adapter/ikada.json '"chat_template": "plain"'
contains exp/adapter/ikada.json '"steps": 0'
run_ik 0 cache export "$h0" --format peft -o zero

# The adapter changes the scores, the zero adapter does not.
run_ik 0 lm score --model "$model" "$text"
mv out base.txt
run_ik 0 lm score --model "$model" --adapter exp/adapter "$text"
mv out adapted.txt
run_ik 0 lm score --model "$model" --adapter zero "$text"
mv out zero.txt
cmp -s base.txt zero.txt || { diff base.txt zero.txt >&2; fail "B = 0 changed the scores"; }
cmp -s base.txt adapted.txt && fail "the adapter left the scores as they were"
contains adapted.txt "mean_nll"
[ "$(wc -l < adapted.txt)" = "$(wc -l < base.txt)" ] || fail "the adapter changed the token count"

# Exporting again into an adapter folder replaces its files.
run_ik 0 cache export "$h0" -o exp/adapter
contains exp/adapter/ikada.json "\"artifact\": \"$h0\""
contains exp/adapter/adapter_config.json '"r": 2'

# --format json still gives the whole artifact.
run_ik 0 cache export "$h" --format json -o adapter.json
contains adapter.json '"kind": "lora.adapter"'
contains adapter.json '"base_architecture": "llama"'

# Refusals: -o -, a folder with other files, a file, another kind.
run_ik 2 cache export "$h" -o -
contains err "export --format peft writes a folder: -o DIR, not -o -"
mkdir notes && echo keep > notes/todo.txt
run_ik 2 cache export "$h" -o notes
contains err "export --format peft: 'notes' is a folder that holds files but no adapter_config.json"
contains err "hint: name a new or empty folder"
[ "$(ls notes)" = "todo.txt" ] || fail "the refused export wrote into notes/: $(ls notes)"
run_ik 2 cache export "$h" -o adapter.json
contains err "export --format peft: 'adapter.json' exists and is not a folder"

cat > g.yaml <<'YAML'
nodes:
  make:
    type: command
    params: {cmd: "echo hello > $IKADA_OUT_o", outputs: {o: hello.txt}}
YAML
run_ik 0 run g.yaml
run_ik 2 cache export make.o --format peft -o other
contains err "export --format peft: 'make.o' is kind 'file', not a lora.adapter"
[ ! -e other ] || fail "the refused export created other/"
run_ik 2 cache export "$h" --format gguf -o x
contains err "unknown --format 'gguf'; expected msgpack, jsonl, json, raw, peft or tree"
pass
