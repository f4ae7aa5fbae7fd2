# ikada cache ls: '*' marks the artifacts a graph's refs name (its current
# results), --graph and --node filter, --json says "ref".
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

mkdir exp1 exp2
for e in exp1 exp2; do
cat > $e/g.yaml <<YAML
nodes:
  a:
    type: command
    params: {cmd: "echo $e-one > \$IKADA_OUT_o", outputs: {o: o.txt}}
  b:
    type: command
    in: {x: a.o}
    params: {cmd: "tr a-z A-Z < \$IKADA_IN_x > \$IKADA_OUT_o", outputs: {o: o.txt}}
YAML
done
run_ik 0 run exp1/g.yaml
run_ik 0 run exp2/g.yaml
old=$("$IKADA" cache ls --json --graph exp1/g.yaml --node a | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')
sed -i 's/exp1-one/exp1-two/' exp1/g.yaml
run_ik 0 run exp1/g.yaml

run_ik 0 cache ls
contains out "  HASH"
# exp1's old a.o and b.o are no ref's any more; the other four artifacts are.
[ "$(grep -c '^\* ' out)" = 4 ] || fail "marked: $(cat out)"
grep -qE "^  ${old:0:12}  file .* a\.o " out || fail "the old a.o is marked: $(cat out)"

# exp1's four (two current), not exp2's, though they share node names.
run_ik 0 cache ls --graph exp1/g.yaml
[ "$(grep -cE '^[* ] [0-9a-f]{12}' out)" = 4 ] || fail "exp1's artifacts: $(cat out)"
[ "$(grep -c '^\* ' out)" = 2 ] || fail "exp1's current ones: $(cat out)"
run_ik 0 cache ls --graph exp2/g
[ "$(grep -cE '^\* [0-9a-f]{12}' out)" = 2 ] || fail "exp2's artifacts: $(cat out)"
run_ik 0 cache ls --graph exp1/g.yaml --node a
[ "$(grep -cE '^[* ] [0-9a-f]{12}' out)" = 2 ] || fail "exp1's a: $(cat out)"
[ "$(grep -c '^\* ' out)" = 1 ] || fail "one of exp1's a.o is current: $(cat out)"
run_ik 0 cache ls --node nope
[ "$(grep -cE '^[* ] [0-9a-f]{12}' out)" = 0 ] || fail "--node nope lists: $(cat out)"
run_ik 0 cache ls --json --node a
python3 - "$old" <<'PY' || fail "ls --json: $(cat out)"
import json, sys
rows = json.load(open("out"))
assert all(r["producer"]["node"] == "a" for r in rows), rows
by = {r["hash"]: r["ref"] for r in rows}
assert len(by) == 3 and by[sys.argv[1]] is False and sum(by.values()) == 2, by
PY
pass
