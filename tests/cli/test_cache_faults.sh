# A corrupted object is found by `cache verify` and re-created by the next
# run; a full disk during a write gives a clear error and a consistent cache.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > g.yaml <<'YAML'
nodes:
  make:
    type: command
    params: {cmd: "seq 1 20000 > $IKADA_OUT_o", outputs: {o: numbers.txt}}
YAML
run_ik 0 run g.yaml
run_ik 0 cache verify
obj=$(find .ikada/objects -type f -size +50k | head -n 1)
[ -n "$obj" ] || fail "no output object found"
chmod u+w "$obj"
printf 'X' | dd of="$obj" bs=1 seek=100 conv=notrunc 2>/dev/null
run_ik 1 cache verify
contains out "corrupt"
run_ik 0 run g.yaml
contains err "make: running"
run_ik 0 cache verify

# Disk full while the node stores its output: a clear error, nothing half-written.
cat > big.yaml <<'YAML'
nodes:
  big:
    type: command
    params: {cmd: "seq 1 300000 > $IKADA_OUT_o", outputs: {o: big.txt}}
YAML
IKADA_FAULT_WRITE=ENOSPC:4096 "$IKADA" run big.yaml >out 2>err
[ $? = 1 ] || fail "a full disk should fail the node"
contains err "No space left on device"
[ -z "$(find .ikada/tmp -type f 2>/dev/null)" ] || fail "temporary files left behind: $(find .ikada/tmp -type f)"
run_ik 0 cache verify
run_ik 0 run big.yaml
contains err "big: done"
pass
