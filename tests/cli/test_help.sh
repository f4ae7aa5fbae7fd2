# Help as a user meets it: `ikada help [CMD [VERB]]`, -V, `version --json`,
# every help text within 80 columns, each `cache VERB --help` naming
# `ikada cache VERB`, the man page listing every command, and the bash/zsh
# completion scripts.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

run_ik 0 help
contains out "usage: ikada COMMAND"
commands=$(sed -n 's/^  \([a-z]\+\) .*/\1/p; s/^  \([a-z]\+\)$/\1/p' out)
[ "$(echo "$commands" | wc -w)" -ge 13 ] || fail "help lists too few commands: $commands"
run_ik 0 help run
contains out "usage: ikada run"
contains out "--verbose"
run_ik 0 help cache gc
contains out "usage: ikada cache gc"
run_ik 2 help no-such
contains err "unknown command 'no-such'"
run_ik 0 -V
contains out "ikada "
run_ik 0 version --json
python3 -c 'import json,sys; d=json.load(open("out")); assert d["version"] and "accelerator" in d and isinstance(d["gpus"], int)' ||
    fail "version --json is not the documented object"
# The CUDA runtime and OpenBLAS are loaded on first use, never linked: the
# loader would map them into every ikada process (kernels/device_cuda.c,
# kernels/cpu/blas_lib.c), a command node's `ikada exec` included.
needed=$(readelf -d "$IKADA" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
[ -n "$needed" ] || fail "readelf found no shared libraries in $IKADA"
for lib in libcudart libcublas libopenblas; do
    case " $needed" in *" $lib"*) fail "ikada is linked to $lib (it needs: $needed)" ;; esac
done

too_wide() { awk 'length($0) > 80 {print FILENAME": "$0; bad=1} END {exit !bad}' "$1"; }
for c in $commands; do
    case $c in cache|help) continue ;; esac
    "$IKADA" $c --help >out 2>&1
    too_wide out && fail "ikada $c --help has a line over 80 columns"
done
"$IKADA" help >out; too_wide out && fail "ikada help has a line over 80 columns"
run_ik 0 cache --help
verbs=$(sed -n 's/^  \([a-z]\+\) .*/\1/p' out)
[ "$(echo "$verbs" | wc -w)" -ge 8 ] || fail "cache --help lists too few verbs: $verbs"
for v in $verbs; do
    run_ik 0 cache $v --help
    head -1 out | grep -q "^usage: ikada cache $v" || fail "cache $v --help: $(head -1 out)"
    lacks out "cache cache"
    too_wide out && fail "ikada cache $v --help has a line over 80 columns"
done

# The man page: valid troff, and every command of the table is in it.
man_page=$SRCDIR/doc/ikada.1
groff -man -Tutf8 -ww -z "$man_page" 2>warn
[ -s warn ] && { cat warn >&2; fail "groff warns about doc/ikada.1"; }
for c in $commands; do
    grep -q "^\.B $c\b" "$man_page" || fail "doc/ikada.1 does not list '$c'"
done

# Completion: drive the bash function as bash would.
run_ik 0 completion bash
cp out ikada.bash
complete_words() {
    bash -c '. ./ikada.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ikada; printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
PATH=$(dirname "$IKADA"):$PATH
[ "$(complete_words "$IKADA" ru)" = run ] || fail "completion: 'ru' does not give run"
[ "$(complete_words "$IKADA" cache ver)" = verify ] || fail "completion: 'cache ver' does not give verify"
complete_words "$IKADA" run --keep > words
contains words "--keep-going"
complete_words "$IKADA" cache gc --keep > words
contains words "--keep-runs"
touch graph_file.yaml
[ "$(complete_words "$IKADA" run graph_f)" = graph_file.yaml ] || fail "completion: files are not completed"
run_ik 0 completion zsh
contains out "bashcompinit"
contains out "complete -o filenames -F _ikada ikada"
run_ik 2 completion fish
contains err "no completion for shell 'fish'"
pass
