# Tables line up by display width, not bytes: a Japanese default (国税庁,
# double width) takes the columns it shows in, in `ikada nodes`, and the
# ASCII tables of `status`, `run -n` and `cache ls` keep their columns.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

# columns FILE PATTERN: the display column where the text after the last
# match of PATTERN's group starts, for each line matching it.
columns() {
    python3 - "$1" "$2" <<'PY'
import re, sys, unicodedata
def width(s):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(sys.argv[2], line)
    if m:
        print(width(line[:m.end(1)]))
PY
}

run_ik 0 nodes sample
contains out "国税庁"
# Every param whose default fits in 12 columns: the help starts at one column.
columns out '^    param  \S{1,14}\s+\S+\s+= (?:\S{1,12}|"[^"]{0,10}")(\s+)\S' > cols
[ "$(sort -u cols | wc -l)" = 1 ] || { cat out cols >&2; fail "nodes: the help column moves with the default's bytes"; }
[ "$(wc -l < cols)" -ge 5 ] || fail "nodes: too few param lines checked"
grep -q "= 国税庁       group value" out || fail "nodes: 国税庁 not padded to 12 columns"

cat > g.yaml <<'YAML'
nodes:
  a:
    type: command
    params: {cmd: "echo a > $IKADA_OUT_o", outputs: {o: o.txt}}
  a_much_longer_name:
    type: command
    in: {x: a.o}
    params: {cmd: "cp $IKADA_IN_x $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
for cmd in status "run -n"; do
    run_ik 0 $cmd g.yaml
    grep -E '^a(_much_longer_name)? ' out > rows
    columns rows '^\S+(\s+)\S' | sort -u > cols
    [ "$(wc -l < rows)" = 2 ] || { cat out >&2; fail "$cmd: not one line per node"; }
    [ "$(cat cols)" = 21 ] || { cat out >&2; fail "$cmd: the second column is not at column 21"; }
done
run_ik 0 run g.yaml
run_ik 0 cache ls
columns out '^\S+\s+\S+\s+\S+\s+\S+\s+\S+(\s+)\S' | sort -u > cols
[ "$(wc -l < cols)" = 1 ] || { cat out >&2; fail "cache ls: the AGE column moves"; }
pass
