#!/bin/sh
# fuzz/run.sh MODE - `make fuzz` (MODE fuzz), `make fuzz-regress` (MODE
# regress) and `make fuzz-targets` (MODE targets: build only);
# fuzz/Makefile.inc sets the environment (see fuzz/README.md).
#   fuzz:    builds every target, then fuzzes each for FUZZ_SECONDS from its
#            seeds (fuzz/corpus/<t>/, plus what earlier runs found, kept in
#            fuzz-build/corpus/<t>/); a crash goes to fuzz-build/findings/<t>/
#            and the next target still runs.
#   regress: builds every target, then runs each once on every seed and every
#            saved finding (fuzz/findings/<t>/), one process per input, without
#            fuzzing.
# Exits 0 when nothing crashed, 1 when something did or a target did not build.
# Without a clang that links libFuzzer with ASan and UBSan it says so and
# exits 0: the fuzzers are a developer's and CI's tool, not a build requirement.
set -u
mode=$1
O=fuzz-build
: "${FUZZ_CC:=clang}" "${FUZZ_SECONDS:=60}" "${FUZZ_RSS_MB:=2048}" "${FUZZ_TIMEOUT:=30}"
: "${srcdir:=.}" "${MAKE:=make}"

# libFuzzer reads -max_total_time=0 as "no limit"
if [ "$mode" = fuzz ] && ! [ "$FUZZ_SECONDS" -gt 0 ] 2>/dev/null; then
    echo "fuzz: FUZZ_SECONDS must be a positive number of seconds" >&2
    exit 2
fi
mkdir -p "$O"
cat > "$O/probe.c" <<'EOF'
int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);
int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }
EOF
if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
    echo "fuzz: skipped: no $FUZZ_CC (FUZZ_CC); the targets need clang with libFuzzer" \
        "(apt-get install clang libclang-rt-14-dev)"
    exit 0
fi
if ! "$FUZZ_CC" -fsanitize=fuzzer,address,undefined -o "$O/probe" "$O/probe.c" \
    >"$O/probe.log" 2>&1; then
    echo "fuzz: skipped: $FUZZ_CC cannot link a libFuzzer target with ASan and UBSan" \
        "(see $O/probe.log)"
    exit 0
fi

"$MAKE" -f "$srcdir/fuzz/fuzz.mk" srcdir="$srcdir" FUZZ_CC="$FUZZ_CC" AR="${AR:-ar}" \
    FUZZ_SOURCES="$FUZZ_SOURCES" FUZZ_TARGETS="$FUZZ_TARGETS" \
    FUZZ_DEPS_CFLAGS="$FUZZ_DEPS_CFLAGS" FUZZ_LIBS="$FUZZ_LIBS" all || {
    echo "fuzz: the targets did not build" >&2
    exit 1
}

# msgpack-c's preallocation is capped in the harnesses; beyond that a failed
# big allocation is something a reader must handle, so ASan returns NULL for
# anything over 1 GiB, libFuzzer's own malloc limit is lifted above that
# (its default, the RSS limit, would report a clean NULL return as a crash),
# and the RSS limit catches memory that is really used.
ASAN_OPTIONS="allocator_may_return_null=1:max_allocation_size_mb=1024:${ASAN_OPTIONS:-}"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export ASAN_OPTIONS UBSAN_OPTIONS
limits="-rss_limit_mb=$FUZZ_RSS_MB -malloc_limit_mb=1048576 -timeout=$FUZZ_TIMEOUT"

failed=""
case $mode in
targets)
    ;;
fuzz)
    for t in $FUZZ_TARGETS; do
        mkdir -p "$O/corpus/$t" "$O/findings/$t"
        seeds="$srcdir/fuzz/corpus/$t"
        [ -d "$seeds" ] || seeds=""
        log="$O/fz_$t.log"
        printf 'fuzz: %-12s %ss ... ' "$t" "$FUZZ_SECONDS"
        # shellcheck disable=SC2086
        if "$O/fz_$t" $limits -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
            -artifact_prefix="$O/findings/$t/" "$O/corpus/$t" $seeds >"$log" 2>&1; then
            sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)/\1 runs, ok/p' "$log"
        else
            echo "CRASH"
            grep -m1 -E '^(SUMMARY|==[0-9]+==ERROR)' "$log" | sed 's/^/    /'
            sed -n 's/^.*Test unit written to /    input: /p' "$log"
            echo "    log:   $log"
            failed="$failed $t"
        fi
    done
    ;;
regress)
    n=0
    for t in $FUZZ_TARGETS; do
        for f in "$srcdir/fuzz/corpus/$t"/* "$srcdir/fuzz/findings/$t"/*; do
            [ -f "$f" ] || continue
            case $f in */README*) continue ;; esac
            n=$((n + 1))
            log="$O/regress-$t.log"
            # shellcheck disable=SC2086
            if ! "$O/fz_$t" $limits "$f" >"$log" 2>&1; then
                echo "fuzz-regress: $t: CRASH on $f"
                grep -m1 -E '^(SUMMARY|==[0-9]+==ERROR)' "$log" | sed 's/^/    /'
                cp "$log" "$O/regress-$t-$(basename "$f").log"
                echo "    log: $O/regress-$t-$(basename "$f").log"
                failed="$failed $t:$(basename "$f")"
            fi
        done
    done
    echo "fuzz-regress: $n inputs"
    ;;
*)
    echo "usage: fuzz/run.sh fuzz|regress|targets" >&2
    exit 2
    ;;
esac
if [ -n "$failed" ]; then
    echo "fuzz: crashed:$failed"
    exit 1
fi
echo "fuzz: ok"
