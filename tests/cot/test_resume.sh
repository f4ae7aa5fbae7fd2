# kill -9 of `ikada run` in the middle of the cot node, then a re-run: the
# API answers each sample's request exactly once in all (answers that arrived
# are reused from the cache, even through a base_url change and a gc), and
# the key is stored nowhere.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
. "$SRCDIR/tests/cot/lib_cot.sh"
cp -r "$SRCDIR/examples" .

# First run: the fake answers 10 requests, then holds every other one.
start_fake first --stall-after 10 --latency-ms 20
FIRST_PID=$FAKE_PID
write_graph "$PORT" "concurrency: 4"
"$IKADA" run g.yaml >out1 2>err1 &
kill_run_when_stored $! ".ikada/kv" 10 cot
FAKE_PID=$FIRST_PID stop_fake

# Second run, on another server (base_url is not part of the request key).
start_fake second
write_graph "$PORT" "concurrency: 4"
run_ik 0 run g.yaml
contains err "cot: done"
run_ik 0 cache show cot.report
contains out "from_cache 10"
with_oracle=$(sed -n 's/^with_oracle *//p' out)
requests=$(sed -n 's/^requests *//p' out)
[ "$requests" = $((with_oracle - 10)) ] || fail "re-run sent $requests requests for $with_oracle samples"
stop_fake

# Each distinct request body was answered exactly once over both servers.
cat first.counts second.counts | awk '{a[$3] += $1} END {
    for (k in a) { n++; if (a[k] != 1) bad++ } print n, bad + 0 }' > sums
read -r distinct bad < sums
[ "$distinct" = "$with_oracle" ] || fail "$distinct distinct requests answered, expected $with_oracle"
[ "$bad" = 0 ] || fail "$bad requests were answered more than once"

# gc keeps the paid responses: a forced re-run after gc sends nothing.
run_ik 0 cache gc --keep-runs 0
start_fake third
write_graph "$PORT" "concurrency: 2"
run_ik 0 run g.yaml
run_ik 0 cache show cot.report
contains out "requests 0"
contains out "from_cache $with_oracle"
stop_fake
[ "$(awk '{s += $2} END {print s + 0}' third.counts)" = 0 ] || fail "the server was asked again"

no_key_anywhere out1 err1 out err
pass
