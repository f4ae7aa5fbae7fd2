# graphs/raft-nta.yaml, the reference's full configuration, is valid as
# shipped: `ikada run -n` without its dataset, base model and API key fails
# with exactly those three things named (every place each is used), and once
# they exist it plans every node.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
mkdir repo && cp -r "$SRCDIR/graphs" "$SRCDIR/examples" repo/ && cd repo || fail "no copy"
unset ANTHROPIC_API_KEY
run_ik 2 run -n graphs/raft-nta.yaml
contains err "input 'rows' of node 'split': cannot read '../data/JaGovFaqs-22k.jsonl'"
for n in train gguf eval eval_unseen jcq; do
    contains err "of node '$n': cannot read '../models/base'"
done
contains err "node 'cot' needs the environment variable ANTHROPIC_API_KEY"
[ "$(grep -c 'error:' err)" = 7 ] || fail "expected 7 errors, got: $(cat err)"

mkdir -p data models/base && : > data/JaGovFaqs-22k.jsonl   # beside graphs/, as ../ from it
export ANTHROPIC_API_KEY=sk-test-not-used
run_ik 0 run -n graphs/raft-nta.yaml
for n in split raft cot train gguf eval eval_unseen eval_ollama jcq; do
    grep -Eq "^$n +would run" out || fail "$n is not in the plan: $(cat out)"
done
pass
