# vars: files and mappings referenced as ${name}, and foreach:/matrix: fan-out
# to named nodes (train@r8) that status, run -n, -S, cache show and graph
# --dot name; bad references are refused with file:line, exit 2.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
export IKADA_CACHE="$WORK/cache"

cat > sweep.yaml <<'YAML'
greeting: hello
train: {ranks: [8, 16]}
YAML
cat > g.yaml <<'YAML'
vars:
  - sweep.yaml
  - {n: 3}
nodes:
  src:
    type: command
    params: {cmd: 'echo "${greeting} ${n} $${HOME}" > $IKADA_OUT_o', outputs: {o: o.txt}, timeout_s: "${n}"}
  train:
    type: command
    foreach: ${train.ranks}
    in: {x: src.o}
    params: {cmd: 'cat $IKADA_IN_x > $IKADA_OUT_o; echo rank ${item} >> $IKADA_OUT_o', outputs: {o: o.txt}}
  eval:
    type: command
    foreach: {r8: 8, r16: 16}
    in: {x: "train@${item}.o"}
    params: {cmd: 'cat $IKADA_IN_x > $IKADA_OUT_o; echo ${key} >> $IKADA_OUT_o', outputs: {o: o.txt}}
  grid:
    type: command
    matrix: {rank: [8, 16], lr: [1e-4, 2e-4]}
    params: {cmd: 'echo ${item.rank} ${item.lr} > $IKADA_OUT_o', outputs: {o: o.txt}}
YAML
run_ik 0 status g.yaml
for n in src train@8 train@16 eval@r8 eval@r16 grid@8-1e-4 grid@8-2e-4 grid@16-1e-4 grid@16-2e-4; do
    contains out "$n "
done
[ "$(grep -c never-run out)" = 9 ] || fail "expected 9 nodes"
run_ik 0 run g.yaml
run_ik 0 cache export eval@r16.o -o e.txt
printf 'hello 3 %s\nrank 16\nr16\n' "$HOME" > want.txt
diff -u want.txt e.txt || fail "eval@r16's output"
run_ik 0 cache export grid@16-1e-4.o -o m.txt
[ "$(cat m.txt)" = "16 1e-4" ] || fail "grid@16-1e-4 wrote '$(cat m.txt)'"
run_ik 0 cache show train@8
contains out "node     train@8"
run_ik 0 graph --dot g.yaml
contains out '"train@8" -> "eval@r8"'

# A value that is exactly ${n} keeps n's form: timeout_s is the integer 3.
run_ik 0 status -S src.timeout_s=3 g.yaml
lacks out stale
# -S on the fan-out node sets every instance; on an instance, that one.
run_ik 0 run -n -S 'train.cmd=echo x > $IKADA_OUT_o' g.yaml
contains out "train@8              would run"
contains out "train@16             would run"
run_ik 0 run -n -S 'train@16.cmd=echo x > $IKADA_OUT_o' g.yaml
contains out "train@8              cached"
contains out "train@16             would run"

# A vars file edited: only what uses the value is stale.
sed -i 's/greeting: hello/greeting: hi/' sweep.yaml
run_ik 0 status g.yaml
contains out "src                  stale"
contains out "grid@8-1e-4          up-to-date"

# Errors: file:line, exit 2.
printf 'vars: {rank: 8}\nnodes:\n  a:\n    type: command\n    params: {cmd: "echo ${rnk}"}\n' > bad1.yaml
run_ik 2 status bad1.yaml
contains err "bad1.yaml:5:19: error: unknown variable '\${rnk}'; did you mean 'rank'?"
printf 'vars: [missing.yaml]\nnodes:\n  a: {type: command, params: {cmd: x}}\n' > bad2.yaml
run_ik 2 run bad2.yaml
contains err "bad2.yaml:1:8: error: cannot read vars file 'missing.yaml'"
printf 'nodes:\n  a:\n    type: command\n    foreach: [1, 1]\n    params: {cmd: x}\n' > bad3.yaml
run_ik 2 run bad3.yaml
contains err "bad3.yaml:4:18: error: this item makes node 'a@1' a second time"
printf 'nodes:\n  a:\n    type: command\n    foreach: ["a b"]\n    params: {cmd: x}\n' > bad4.yaml
run_ik 2 run bad4.yaml
contains err "'a b' cannot name a node"
printf 'vars: {r: [1]}\nnodes:\n  a:\n    type: command\n    params: {cmd: "${r}"}\n' > bad5.yaml
run_ik 2 run bad5.yaml
contains err "bad5.yaml:5:19: error: '\${r}' is a list: only a scalar can be put in a value"
pass
