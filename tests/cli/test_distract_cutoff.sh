# Early cutoff through distract: changing oracle_p re-runs distract and what
# reads its train split, while the test and unseen artifacts stay
# byte-identical (docs/determinism.md), so a node that reads only them stays
# cached.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cp -r "$SRCDIR/examples" .
write_graph() { # $1: oracle_p
cat > g.yaml <<YAML
nodes:
  split:
    type: sample
    in:
      rows: {file: examples/jagovfaqs/faq.jsonl}
    params: {ministry: 国税庁, train: 60, test: 20, unseen: 20, unanswerable_extra: 10, seed: 42}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
    params: {oracle_p: $1, seed: 42}
  train_reader:
    type: command
    in: {s: raft.train}
    params: {cmd: "wc -c < \$IKADA_IN_s > \$IKADA_OUT_n", outputs: {n: n.txt}}
  eval_reader:
    type: command
    in: {test: raft.test, unseen: raft.unseen}
    params: {cmd: "cat \$IKADA_IN_test \$IKADA_IN_unseen | wc -c > \$IKADA_OUT_n", outputs: {n: n.txt}}
YAML
}
write_graph 0.8
run_ik 0 run g.yaml
contains err "4 nodes: 4 ran, 0 cached"
run_ik 0 cache export raft.test --format msgpack -o test-0.8.mp
run_ik 0 cache export raft.unseen --format msgpack -o unseen-0.8.mp

write_graph 0.5
run_ik 0 status g.yaml
contains out "param 'oracle_p' changed: 0.8 -> 0.5"
run_ik 0 run g.yaml
contains err "raft: running (param 'oracle_p' changed"
contains err "train_reader: running"
lacks err "eval_reader: running"
contains err "4 nodes: 2 ran, 2 cached"
run_ik 0 cache export raft.test --format msgpack -o test-0.5.mp
run_ik 0 cache export raft.unseen --format msgpack -o unseen-0.5.mp
cmp -s test-0.8.mp test-0.5.mp || fail "oracle_p changed the test artifact"
cmp -s unseen-0.8.mp unseen-0.5.mp || fail "oracle_p changed the unseen artifact"
pass
