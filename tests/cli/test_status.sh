# ikada status for CI and large graphs: a summary line, --stale (only what
# would run), --exit-code (1 when anything would run), and the failed state:
# the error and the log of the failed run of the current key, in status and
# in cache show, instead of "never run".
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > g.yaml <<'YAML'
nodes:
  a:
    type: command
    params: {cmd: "echo a > $IKADA_OUT_o", outputs: {o: o.txt}}
  b:
    type: command
    in: {x: a.o}
    params: {cmd: "cat $IKADA_IN_x > $IKADA_OUT_o", outputs: {o: o.txt}}
  c:
    type: command
    params: {cmd: "echo c > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML

# Nothing run yet: everything would run; --exit-code says so with 1.
run_ik 0 status g.yaml
contains out "3 nodes: 0 up to date, 0 stale, 3 never run; 3 would run"
run_ik 1 status --exit-code g.yaml
contains out "3 would run"

run_ik 0 run g.yaml
run_ik 0 status --exit-code g.yaml
contains out "3 nodes: 3 up to date, 0 stale, 0 never run; nothing would run"
[ "$(count out up-to-date)" = 3 ] || fail "status lists every node: $(cat out)"
# --stale lists no node when all are up to date, but keeps the summary.
run_ik 0 status --stale g.yaml
lacks out "up-to-date"
contains out "nothing would run"

# Edit a: a and b would run, c is listed only without --stale.
sed -i 's/echo a/echo A/' g.yaml
run_ik 1 status --exit-code --stale g.yaml
grep -qE "^a +stale +param 'cmd' changed" out || fail "--stale lacks a: $(cat out)"
grep -qE "^b +stale +upstream 'a' will run" out || fail "--stale lacks b: $(cat out)"
grep -qE "^c " out && fail "--stale lists the up-to-date c: $(cat out)"
contains out "3 nodes: 1 up to date, 2 stale, 0 never run; 2 would run"
run_ik 0 status --json --stale g.yaml
python3 - <<'PY' || fail "status --json --stale: $(cat out)"
import json
o = json.load(open("out"))
assert [n["name"] for n in o["nodes"]] == ["a", "b"], o["nodes"]
s = o["summary"]
assert (s["nodes"], s["up_to_date"], s["stale"], s["never_run"], s["would_run"]) == (3, 1, 2, 0, 2), s
PY
# A bad graph is still 2, not the "would run" 1.
echo "nodes: {x: {type: nope}}" > bad.yaml
run_ik 2 status --exit-code bad.yaml
pass
