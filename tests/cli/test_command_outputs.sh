# A command's folder outputs, glob inputs and $IKADA_ROOT, as a user meets
# them: a folder written at $IKADA_OUT_x is stored as a tree and reaches the
# next command as that folder; `cache export` writes it back with its execute
# bits; a glob input is a set (a touch reruns nothing, a new match does) that
# the command sees as one folder; the command runs in a scratch folder and
# finds the graph's folder in $IKADA_ROOT.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

mkdir -p data/sub
printf 'a\n' > data/a.txt
printf 'b\n' > data/b.txt
printf 'not matched\n' > data/notes.md
printf 'from the graph folder\n' > settings.txt
cat > g.yaml <<'YAML'
nodes:
  adapter:
    type: command
    in: {txt: {glob: "data/*.txt"}}
    params:
      cmd: >-
        mkdir -p $IKADA_OUT_peft/sub &&
        cat $IKADA_IN_txt/*.txt > $IKADA_OUT_peft/adapter_model.bin &&
        printf '{"r": 8}\n' > $IKADA_OUT_peft/adapter_config.json &&
        printf '#!/bin/sh\necho hi\n' > $IKADA_OUT_peft/sub/run.sh &&
        chmod +x $IKADA_OUT_peft/sub/run.sh &&
        ls $IKADA_IN_txt > $IKADA_OUT_made/inputs.txt &&
        cat $IKADA_ROOT/settings.txt > $IKADA_OUT_made/root.txt &&
        pwd > $IKADA_OUT_made/pwd.txt
      outputs: {peft: peft, made: made/}
  use:
    type: command
    in: {p: adapter.peft}
    params:
      cmd: "basename $IKADA_IN_p > $IKADA_OUT_o; (cd $IKADA_IN_p && find . -type f | sort && cat adapter_model.bin) >> $IKADA_OUT_o"
      outputs: {o: o.txt}
YAML

run_ik 0 run g.yaml
contains err "adapter: done"
contains err "use: done"

# The consumer saw the folder under its own name, with every file.
run_ik 0 cache export use.o -o -
printf 'peft\n./adapter_config.json\n./adapter_model.bin\n./sub/run.sh\na\nb\n' > want
cmp -s out want || { diff want out >&2; fail "the consumer did not see the folder as written"; }

# A tree artifact: its files listed by cache show; export writes the folder.
run_ik 0 cache show adapter.peft
contains out "kind     tree"
contains out '"files":3'
run_ik 0 cache export adapter.peft -o exported
cmp -s exported/adapter_config.json <(printf '{"r": 8}\n') || fail "adapter_config.json differs"
[ -x exported/sub/run.sh ] || fail "the execute bit of sub/run.sh was lost"
[ ! -x exported/adapter_config.json ] || fail "adapter_config.json became executable"
[ "$(./exported/sub/run.sh)" = hi ] || fail "exported script does not run"
# An existing folder that holds files is not written into; -o - is refused.
run_ik 2 cache export adapter.peft -o exported
contains err "export --format tree: 'exported' is a folder that holds files; not writing a tree into it"
run_ik 2 cache export adapter.peft -o -
contains err "export --format tree writes a folder: -o DIR, not -o -"
run_ik 2 cache export use.o --format tree -o t2
contains err "export --format tree: 'use.o' is kind 'file', not a tree"

# The glob matched only the .txt files, named below data/; the command ran in a
# scratch folder and read settings.txt through $IKADA_ROOT.
run_ik 0 cache export adapter.made -o made
printf 'a.txt\nb.txt\n' > want
cmp -s made/inputs.txt want || { diff want made/inputs.txt >&2; fail "glob folder holds the wrong files"; }
contains made/root.txt "from the graph folder"
case $(cat made/pwd.txt) in
"$WORK") fail "the command ran in the graph's folder, not a scratch one" ;;
*/.ikada/tmp/*) ;;
*) fail "the command ran in $(cat made/pwd.txt)" ;;
esac

# A glob is a set: touching a match, or adding a file it does not match,
# reruns nothing; a new match or a changed one does, and status says which.
sleep 0.01
touch data/a.txt data/notes.md
printf 'x\n' > data/other.md
run_ik 0 status g.yaml
contains out "adapter              up-to-date"
printf 'c\n' > data/c.txt
run_ik 0 status g.yaml
contains out "input 'txt' changed (glob data/*.txt)"
run_ik 0 run g.yaml
contains err "adapter: done"
run_ik 0 cache export use.o -o -
contains out "c"
# The same bytes again: the tree has the same hash, so use is cached.
run_ik 0 run g.yaml
contains err "use: cached"

# A folder output the command left as a file, and a glob matching nothing.
cat > bad.yaml <<'YAML'
nodes:
  f:
    type: command
    params: {cmd: "rmdir $IKADA_OUT_d && echo x > $IKADA_OUT_d", outputs: {d: d/}}
YAML
run_ik 1 run bad.yaml
contains err "output 'd' is declared a folder ('d/') but the command left a file at \$IKADA_OUT_d"
cat > none.yaml <<'YAML'
nodes:
  n:
    type: command
    in: {x: {glob: "nothing/*.csv"}}
    params: {cmd: "true", outputs: {}}
YAML
run_ik 2 run none.yaml
contains err "none.yaml:4:20: error: input 'x' of node 'n': no file matches 'nothing/*.csv'"
cat > both.yaml <<'YAML'
nodes:
  n:
    type: command
    in: {x: {file: a.txt, glob: "*.txt"}}
    params: {cmd: "true"}
YAML
run_ik 2 status both.yaml
contains err "both.yaml:4:27: error: input 'x' of node 'n' takes one of 'file:' and 'glob:', not both"
pass
