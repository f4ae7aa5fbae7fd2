# Every bad graph in tests/graphs/bad (except typed-* cases, which need test
# node types) is refused by `ikada run` with exit 2, the exact message from
# its .err file, and nothing run.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cd "$SRCDIR" || fail "no source folder"
n=0
for yaml in tests/graphs/bad/*.yaml; do
    case $(basename "$yaml") in typed-*) continue ;; esac
    expected=${yaml%.yaml}.err
    [ -f "$expected" ] || continue
    IKADA_CACHE="$WORK/cache" "$IKADA" run "$yaml" >"$WORK/out" 2>"$WORK/err"
    status=$?
    [ $status = 2 ] || fail "$yaml: exit $status, expected 2"
    printf 'ikada: ' > "$WORK/want"
    cat "$expected" >> "$WORK/want"
    if ! diff -u "$WORK/want" "$WORK/err" >"$WORK/diff" && ! diff -u "$expected" "$WORK/err" >/dev/null; then
        cat "$WORK/diff" >&2
        fail "$yaml: message differs"
    fi
    n=$((n + 1))
done
[ $n -ge 5 ] || fail "only $n bad graph cases found"
[ -z "$(ls "$WORK/cache/actions" 2>/dev/null)" ] || fail "a bad graph ran something"

# A missing source file: file:line:col, exit 2, nothing run.
cd "$WORK"
cat > g.yaml <<'YAML'
nodes:
  a:
    type: command
    in: {rows: {file: missing.jsonl}}
    params: {cmd: "cp $IKADA_IN_rows $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
run_ik 2 run g.yaml
contains err "g.yaml:4:"
contains err "cannot read 'missing.jsonl'"
pass
