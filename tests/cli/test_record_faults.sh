# Metadata is checked, not trusted: one flipped byte in a graph's refs, an
# action record, a run record or the source memo is found by `cache verify`
# (named by path, exit 1, moved aside) and, without verify, repaired by the
# next run (warned about once) instead of failing runs or being believed.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

# flip FILE TEXT [DELTA]: changes the first byte of TEXT in FILE (or the byte
# DELTA bytes after it).
flip() {
    python3 - "$1" "$2" "${3:-0}" <<'PY' || fail "cannot flip '$2' in $1"
import os, sys
p, text, delta = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
os.chmod(p, 0o644)
b = bytearray(open(p, 'rb').read())
i = b.index(text) + delta
b[i] = ord('-') if b[i] != ord('-') else ord('+')
open(p, 'wb').write(bytes(b))
PY
}

printf 'alpha\nbeta\n' > words.txt
touch -d '2020-01-01' words.txt   # old enough to be memoised
cat > g.yaml <<'YAML'
nodes:
  split:
    type: command
    in: {text: {file: words.txt}}
    params: {cmd: "cp $IKADA_IN_text $IKADA_OUT_unseen", outputs: {unseen: u.txt}}
  count:
    type: command
    in: {u: split.unseen}
    params: {cmd: "wc -l < $IKADA_IN_u > $IKADA_OUT_n", outputs: {n: n.txt}}
YAML
run_ik 0 run g.yaml
refs=$(ls .ikada/refs/g-*.mp)

# 1. refs: a flipped output port name (../shared/repro/refs-port-flip-persistent-failure).
flip "$refs" unseen 1
run_ik 0 run g.yaml
contains err "corrupt refs"
contains err "2 nodes: 0 ran, 2 cached"
run_ik 0 run g.yaml
lacks err "warning"
flip "$refs" unseen 1
run_ik 1 cache verify
contains out "corrupt  $refs"
run_ik 0 cache verify
run_ik 0 run --force-all g.yaml
run_ik 0 run g.yaml
contains err "2 nodes: 0 ran, 2 cached"
lacks err "warning"

# 2. an action record: verify reports it; without verify, the next run rewrites it.
key=$("$IKADA" cache show --json split | python3 -c 'import json,sys; print(json.load(sys.stdin)["action"])')
rec=.ikada/actions/$(echo "$key" | cut -c1-2)/$(echo "$key" | cut -c3-)
[ -f "$rec" ] || fail "no action record at $rec"
flip "$rec" unseen 1
run_ik 1 cache verify
contains out "corrupt  $rec"
contains out "corrupt action record"
run_ik 0 cache verify
run_ik 0 run g.yaml
contains err "split: running"
contains err "count: cached"
run_ik 0 cache export split.unseen -o u.txt
cmp -s u.txt words.txt || fail "split.unseen after the rewrite is not words.txt"
flip "$rec" unseen 1
run_ik 0 run g.yaml
contains err "split: running (its action record is corrupt"
run_ik 0 run g.yaml
contains err "2 nodes: 0 ran, 2 cached"
run_ik 0 cache verify

# 3. a run record: `ikada log` skips and names it; verify reports it.
run_ik 0 log
runs_before=$(grep -c "exit 0" out)
bad=$(ls .ikada/runs/*.mp | head -n 1)
flip "$bad" nodes
run_ik 0 log
contains err "$bad"
[ "$(grep -c "exit 0" out)" = $((runs_before - 1)) ] || fail "log did not list the other runs: $(cat out)"
run_ik 1 cache verify
contains out "corrupt  $bad"
run_ik 0 log
lacks err "warning"
run_ik 0 cache gc

# 4. the source memo: a flipped hash is not believed (the file is re-hashed, so
# nothing re-runs), warned about once, and reported by verify.
h=$(sha256sum words.txt | cut -c1-64)
flip_memo_hash() { # a byte of the last memo entry's hash of words.txt
    python3 - .ikada/srcmemo "$h" <<'PY' || fail "cannot flip the memo's hash"
import sys
p, h = sys.argv[1], bytes.fromhex(sys.argv[2])
b = bytearray(open(p, 'rb').read())
i = b.rindex(h)
b[i + 5] ^= 0xff
open(p, 'wb').write(bytes(b))
PY
}
flip_memo_hash
run_ik 0 run g.yaml
contains err "2 nodes: 0 ran, 2 cached"
contains err "srcmemo"
run_ik 0 run g.yaml
lacks err "warning"
flip_memo_hash
run_ik 1 cache verify
contains out "srcmemo"
run_ik 0 cache verify
run_ik 0 run g.yaml
contains err "2 nodes: 0 ran, 2 cached"
pass
