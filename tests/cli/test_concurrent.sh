# Two `ikada run` at once on one cache both finish, and a node runs once.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > g.yaml <<YAML
nodes:
  once:
    type: command
    params: {cmd: "echo ran >> $WORK/side-effects; sleep 1; echo x > \$IKADA_OUT_o", outputs: {o: o.txt}}
  next:
    type: command
    in: {x: once.o}
    params: {cmd: "cp \$IKADA_IN_x \$IKADA_OUT_o", outputs: {o: o.txt}}
YAML
"$IKADA" run g.yaml >out1 2>err1 &
p1=$!
"$IKADA" run g.yaml >out2 2>err2 &
p2=$!
wait $p1 || fail "first run failed: $(cat err1)"
wait $p2 || fail "second run failed: $(cat err2)"
[ "$(wc -l < side-effects)" = 1 ] || fail "node ran $(wc -l < side-effects) times"
cat err1 err2 > both
contains both "cached (computed by a concurrent run)"
pass
