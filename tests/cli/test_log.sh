# ikada log: a no-op run is recorded compactly (one line, a small record
# without its nodes), a series of them of one graph takes two lines, GRAPH
# filters, and no-op runs do not push real runs out of `gc --keep-runs`.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > g.yaml <<'YAML'
nodes:
  a:
    type: command
    params: {cmd: "echo one > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
cat > h.yaml <<'YAML'
nodes:
  b:
    type: command
    params: {cmd: "echo b > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML

run_ik 0 run g.yaml
first_key=$("$IKADA" log --json -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["nodes"][0]["key"])')
# A new command: a second real run; the first key is now reachable from the
# first run's record only (the ref names the new one).
sed -i 's/echo one/echo two/' g.yaml
run_ik 0 run g.yaml
run_ik 0 run h.yaml
for _ in 1 2 3; do run_ik 0 run g.yaml; done

# The three no-op runs: small records without their nodes, one line plus a
# line for the rest of the series.
[ "$(ls .ikada/runs/*.noop.mp | wc -l)" = 3 ] || fail "no-op records: $(ls .ikada/runs)"
for f in .ikada/runs/*.noop.mp; do
    [ "$(wc -c < "$f")" -lt 300 ] || fail "$f is not compact: $(wc -c < "$f") bytes"
done
run_ik 0 log
grep -qE "^[0-9-]+  .*exit 0  [0-9.]+ s  g.yaml: no-op, 1 cached$" out || fail "no no-op line: $(cat out)"
contains out "    and 2 earlier no-op runs of g.yaml, since "
[ "$(count out "no-op, 1 cached")" = 1 ] || fail "a series of no-op runs takes two lines: $(cat out)"
contains out "h.yaml: 1 ran, 0 cached, 0 failed"
run_ik 0 log --json
python3 - <<'PY' || fail "log --json: $(cat out)"
import json
runs = json.load(open("out"))
assert [r["noop"] for r in runs] == [True, True, True, False, False, False], runs
assert runs[0]["cached"] == 1 and runs[0]["nodes"] == [], runs[0]
PY

# GRAPH: only its runs, by the path as typed or another path to the file.
run_ik 0 log h.yaml
contains out "h.yaml: 1 ran"
lacks out "g.yaml"
mkdir sub
(cd sub && "$IKADA" log ../h.yaml) > out 2>err || fail "log ../h.yaml: $(cat err)"
contains out "h.yaml: 1 ran"
lacks out "g.yaml"
run_ik 0 log -n 1 nothing.yaml
contains out "no runs of nothing.yaml recorded in"

# gc --keep-runs 3 keeps the three real runs, the no-op ones do not count:
# the first key's action is still there.
run_ik 0 cache gc --keep-runs 3
run_ik 0 cache show "$first_key"
contains out "node     a"
# Keeping two real runs drops it.
run_ik 0 cache gc --keep-runs 2
run_ik 2 cache show "$first_key"
pass
