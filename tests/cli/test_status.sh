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
contains out "3 nodes: 3 never run; 3 would run"
run_ik 1 status --exit-code g.yaml
contains out "3 would run"

run_ik 0 run g.yaml
run_ik 0 status --exit-code g.yaml
contains out "3 nodes: 3 up to date; nothing would run"
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
contains out "3 nodes: 1 up to date, 2 stale; 2 would run"
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

# A failure: status says "failed" with the run's error and the end of the
# log (not "never run"), cache show gives the error and the log.
cat > f.yaml <<'YAML'
nodes:
  bad:
    type: command
    params: {cmd: "for i in 1 2 3 4 5 6 7; do echo step $i >&2; done; exit 3", outputs: {o: o.txt}}
  after:
    type: command
    in: {x: bad.o}
    params: {cmd: "cp $IKADA_IN_x $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
run_ik 1 run f.yaml
run_ik 1 status --exit-code f.yaml
grep -qE "^bad +failed +failed in run [0-9-]+: command exited with status 3$" out \
    || fail "status lacks the failure: $(cat out)"
contains out "  | step 7"
lacks out "  | step 2"                    # only the end of the log
lacks out "  | ikada: error: command exited" # the error is not shown twice
grep -qE "^after +never-run +upstream 'bad' will run first" out || fail "after: $(cat out)"
contains out "2 nodes: 1 never run, 1 failed; 2 would run"
run_ik 0 status --json f.yaml
python3 - <<'PY' || fail "status --json of a failure: $(cat out)"
import json
o = json.load(open("out"))
bad = o["nodes"][0]
assert bad["status"] == "failed" and "status 3" in bad["reason"] and len(bad["log"]) == 64, bad
assert o["summary"]["failed"] == 1, o["summary"]
PY
log=$(python3 -c 'import json; print(json.load(open("out"))["nodes"][0]["log"])')
run_ik 0 cache show bad
contains out "status   failed in run"
contains out "command exited with status 3"
contains out "  | step 1"
run_ik 0 cache show f.yaml:bad --json
python3 - "$log" <<'PY' || fail "cache show --json of a failure: $(cat out)"
import json, sys
o = json.load(open("out"))
assert o["status"] == "failed" and o["error"] == "command exited with status 3", o
assert o["log"].startswith("step 1\n") and "step 7" in o["log"], o
PY
# gc keeps the log of a failure the kept runs name.
run_ik 0 cache gc --keep-runs 5
run_ik 0 cache show "$log"
contains out "step 7"
# Another command is another key: never run, not the old failure.
sed -i 's/exit 3/exit 4/' f.yaml
run_ik 0 status f.yaml
grep -qE "^bad +never-run" out || fail "a new key shows an old failure: $(cat out)"
# Fixed: it runs, and the failure is gone.
sed -i 's/exit 4/echo ok > $IKADA_OUT_o/' f.yaml
run_ik 0 run f.yaml
run_ik 0 status --exit-code f.yaml
grep -qE "^bad +up-to-date" out || fail "the fixed node: $(cat out)"
lacks out failed
pass
