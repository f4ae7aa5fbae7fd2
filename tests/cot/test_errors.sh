# cot through `ikada run`: a 401 stops the node at once with the API's message
# and the key redacted; a missing key variable is named; the spend cap stops
# the node before the cap and says what was spent; citations that stay
# invalid fail the node with on_invalid: fail. The key is never stored.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"
. "$SRCDIR/tests/cot/lib_cot.sh"
cp -r "$SRCDIR/examples" .

start_fake unauthorized --default 401
write_graph "$PORT" "concurrency: 1"
run_ik 1 run g.yaml
contains err "provider anthropic: HTTP 401: invalid x-api-key: ***"
lacks err "$COT_TEST_KEY"
stop_fake
[ "$(awk '{s += $2} END {print s + 0}' unauthorized.counts)" = 1 ] || fail "requests after a 401"

# The variable the graph names is not set: refused before anything runs
# (exit 2), naming the node and the param.
( unset COT_TEST_KEY; "$IKADA" run g.yaml >out 2>err; echo $? > rc )
[ "$(cat rc)" = 2 ] || fail "a missing key exited $(cat rc), expected 2"
contains err "node 'cot' needs the environment variable COT_TEST_KEY (param api_key_env of provider anthropic), which is not set"
lacks err "split: running"

# Once cot is cached it needs no key: a re-run without one goes through.
start_fake fine
write_graph "$PORT" "concurrency: 4"
run_ik 0 run g.yaml
stop_fake
( unset COT_TEST_KEY; "$IKADA" run g.yaml >out 2>err; echo $? > rc )
[ "$(cat rc)" = 0 ] || { cat err >&2; fail "a cached cot still asked for its key"; }
contains err "cot: cached"
rm -rf .ikada # the checks below need cot to run

# Spend cap: about $0.0007 a request at these prices, so a few fit under $0.003.
start_fake cap
write_graph "$PORT" "max_usd: 0.003
      concurrency: 2"
run_ik 1 run g.yaml
contains err "max_usd 0.0030 reached"
contains err "stopped before the cap"
contains err "raise max_usd and run again"
stop_fake

# Citations that stay wrong after the reminders.
start_fake wrong --answer wrongnum
write_graph "$PORT" "on_invalid: fail
      validate_retries: 1"
run_ik 1 run g.yaml
contains err "citation is invalid (wrong_document) after 1 reminder(s); on_invalid is fail"
stop_fake

# The same with on_invalid: keep succeeds and counts them.
start_fake keep --answer badquote
write_graph "$PORT" "on_invalid: keep
      validate_retries: 1"
run_ik 0 run g.yaml
run_ik 0 cache show cot.report
contains out "kept_invalid"
contains out "quote_not_in_document"
stop_fake

no_key_anywhere out err
pass
