# Refs: a node deleted from a graph loses its name at the graph's next run;
# a REF that names one artifact (or one action) under two graphs' names is
# not ambiguous, while two different artifacts still are.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > g.yaml <<'YAML'
nodes:
  a:
    type: command
    params: {cmd: "echo a > $IKADA_OUT_o", outputs: {o: o.txt}}
  gone:
    type: command
    params: {cmd: "echo gone > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
run_ik 0 run g.yaml
run_ik 0 cache show gone.o
sed -i '/^  gone:/,$d' g.yaml
run_ik 0 run g.yaml
run_ik 2 cache show gone.o
contains err "unknown REF 'gone.o'"
run_ik 0 cache ls
[ "$(grep -c '^\* ' out)" = 1 ] || fail "a deleted node's output is still marked: $(cat out)"
# status and a dry run leave the refs alone.
gone_again='  gone:\n    type: command\n    params: {cmd: "echo gone > $IKADA_OUT_o", outputs: {o: o.txt}}'
printf '%b\n' "$gone_again" >> g.yaml
run_ik 0 run g.yaml
sed -i '/^  gone:/,$d' g.yaml
run_ik 0 status g.yaml
run_ik 0 run -n g.yaml
run_ik 0 cache show gone.o

# Two graphs whose node 'a' is the same spec: one action, one artifact.
mkdir exp1 exp2
for e in exp1 exp2; do
cat > $e/p.yaml <<'YAML'
nodes:
  a:
    type: command
    params: {cmd: "echo same > $IKADA_OUT_o", outputs: {o: o.txt}}
  b:
    type: command
    params: {cmd: "echo $0 > $IKADA_OUT_o; echo same > $IKADA_OUT_s", outputs: {o: o.txt, s: s.txt}}
YAML
done
sed -i 's/echo \$0/echo one/' exp1/p.yaml
sed -i 's/echo \$0/echo two/' exp2/p.yaml
run_ik 0 run exp1/p.yaml
run_ik 0 run exp2/p.yaml
run_ik 0 cache show p:a
contains out "node     a"
run_ik 0 cache export p:a.o -o a.txt
[ "$(cat a.txt)" = same ] || fail "p:a.o: $(cat a.txt)"
# b has two keys (its commands differ) but b.s is one artifact.
run_ik 0 cache export p:b.s -o s.txt
[ "$(cat s.txt)" = same ] || fail "p:b.s: $(cat s.txt)"
# b.o differs between them: still ambiguous, and so is the action b.
run_ik 2 cache show p:b.o
contains err "is ambiguous: node 'b' exists in graphs 'exp1/p.yaml', 'exp2/p.yaml'"
run_ik 2 cache show p:b
contains err "is ambiguous"
pass
