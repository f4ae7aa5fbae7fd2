# tests/cot/lib_cot.sh - shell helpers of the cot integration tests: the fake
# API server (started on port 0, stopped by the test or by its own timeout)
# and a small RAFT graph whose cot node talks to it.
FAKE=${FAKE_API:-$(dirname "$IKADA")/tests/cot/fake_api}
[ -x "$FAKE" ] || fail "no fake API at $FAKE"
export COT_TEST_KEY="sk-ant-test-$$-DO-NOT-STORE-9f8e7d"
ALL_FAKES=""
# A failing test must not leave servers behind (they also stop by themselves).
trap 'for p in $ALL_FAKES; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT

# start_fake NAME ARGS...: starts the fake; sets PORT and FAKE_PID; counts go to NAME.counts.
start_fake() {
    local name=$1
    shift
    "$FAKE" --counts "$WORK/$name.counts" --timeout-s 120 "$@" > "$WORK/$name.port" &
    FAKE_PID=$!
    ALL_FAKES="$ALL_FAKES $FAKE_PID"
    for _ in $(seq 100); do grep -q '^port ' "$WORK/$name.port" 2>/dev/null && break; sleep 0.05; done
    PORT=$(sed -n 's/^port //p' "$WORK/$name.port")
    [ -n "$PORT" ] || fail "fake API did not start"
}

stop_fake() { kill -TERM "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; }

# write_graph PORT EXTRA_PARAMS: sample + distract on the bundled rows, then cot.
write_graph() {
    cat > g.yaml <<YAML
nodes:
  split:
    type: sample
    in: {rows: {file: examples/jagovfaqs/faq.jsonl}}
    params: {train: 40, test: 10, unseen: 10, unanswerable_extra: 10}
  raft:
    type: distract
    in: {train: split.train, test: split.test, unseen: split.unseen, extra: split.extra}
  cot:
    type: cot
    in: {samples: raft.train}
    params:
      provider: anthropic
      model: fake-model
      base_url: http://127.0.0.1:$1
      api_key_env: COT_TEST_KEY
      backoff_s: 0.01
      prices: {fake-model: {input: 1.0, output: 5.0}}
      $2
YAML
}

# no_key_anywhere FILES...: the key is in no file of the cache nor in FILES.
no_key_anywhere() {
    if grep -rqF -- "$COT_TEST_KEY" .ikada "$@"; then
        grep -rlF -- "$COT_TEST_KEY" .ikada "$@" >&2
        fail "the API key was stored"
    fi
}
