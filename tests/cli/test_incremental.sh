# Incremental reruns: a second run is all cached; editing one node's params
# re-runs it and its consumers only; a re-run with identical output stops there
# (early cutoff); status explains each decision.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

printf 'alpha\nbeta\ngamma\n' > words.txt
write_graph() { # $1: upper's suffix, $2: count's command
cat > g.yaml <<YAML
nodes:
  upper:
    type: command
    in: {words: {file: words.txt}}
    params: {cmd: "tr a-z A-Z < \$IKADA_IN_words > \$IKADA_OUT_text$1", outputs: {text: upper.txt}}
  count:
    type: command
    in: {text: upper.text}
    params: {cmd: "$2", outputs: {n: n.txt}}
  first:
    type: command
    in: {text: upper.text}
    params: {cmd: "head -n 1 \$IKADA_IN_text > \$IKADA_OUT_line", outputs: {line: line.txt}}
YAML
}
write_graph "" 'wc -l < $IKADA_IN_text > $IKADA_OUT_n'

run_ik 0 status g.yaml
contains out "never-run"
run_ik 0 run g.yaml
contains err "3 nodes: 3 ran, 0 cached"
run_ik 0 run g.yaml
contains err "3 nodes: 0 ran, 3 cached"
run_ik 0 status g.yaml
[ "$(count out up-to-date)" = 3 ] || fail "status after a run: $(cat out)"

# Edit one node's params: only it re-runs, and status says which param changed.
write_graph "" 'wc -c < $IKADA_IN_text > $IKADA_OUT_n'
run_ik 0 status g.yaml
contains out "param 'cmd' changed"
run_ik 0 run -n g.yaml
contains out "count"
run_ik 0 run g.yaml
contains err "3 nodes: 1 ran, 2 cached"
contains err "count: running (param 'cmd' changed"

# Early cutoff: upper's command changes but writes the same bytes.
write_graph " && true" 'wc -c < $IKADA_IN_text > $IKADA_OUT_n'
run_ik 0 run g.yaml
contains err "upper: running"
contains err "3 nodes: 1 ran, 2 cached"

# A changed source file re-runs everything below it, and status names the file.
printf 'delta\n' >> words.txt
run_ik 0 status g.yaml
contains out "input 'words' changed (file words.txt)"
contains out "upstream 'upper' will run first"
run_ik 0 run g.yaml
contains err "3 nodes: 3 ran, 0 cached"

# The outputs are in the cache and readable by name.
run_ik 0 cache export first.line -o line.txt
[ "$(cat line.txt)" = "ALPHA" ] || fail "first.line is '$(cat line.txt)'"
pass
