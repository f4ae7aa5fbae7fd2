# bench/cuda_bench (`make bench-cuda`) runs end to end: against the CPU
# stand-in of the CUDA module (tests/cuda/libikada-cuda-cpu.so) with a tiny
# model, so the program that times the real GPU is known to work before a
# GPU session spends its minutes on it. The figures themselves mean nothing
# here; that each row is printed (each shape with the cuBLAS attention, the
# flash kernels and cuDNN's), with a finite loss, does. And the full shapes' device arenas, which
# the host computes, against the 8B memory target.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

top="$(cd "$(dirname "$IKADA")" && pwd)"
export IKADA_CUDA_MODULE="$top/tests/cuda/libikada-cuda-cpu.so"
[ -f "$IKADA_CUDA_MODULE" ] || fail "$IKADA_CUDA_MODULE is not built (make check builds it)"
"$top/bench/cuda_bench" --shapes tiny >out 2>err || fail "cuda_bench failed: $(cat err)"
contains out "CUDA training step on CPU stand-in"
contains out "tiny (smoke test)"
contains out "tiny checkpointed"
contains out "tiny NemotronH"
# Each shape three times: the own attention's row, the flash kernels' and
# cuDNN's (the stand-in has both); the first shape once more with dropout.
awk '/^tiny/ {n++; if ($NF !~ /^[0-9]+\.[0-9]+$/ || $NF + 0 <= 0) bad = 1} END {exit !(n == 10 && !bad)}' out ||
    fail "cuda_bench printed no finite loss for all ten rows: $(cat out)"
[ "$(grep -c ' own+do ' out)" = 1 ] || fail "cuda_bench printed no row with LoRA dropout: $(cat out)"
[ "$(grep -c ' flash ' out)" = 3 ] || fail "cuda_bench printed no flash attention rows: $(cat out)"
[ "$(grep -c ' cudnn ' out)" = 3 ] || fail "cuda_bench printed no cuDNN attention rows: $(cat out)"
# --attention picks the rows (device-run.sh runs each in a process of its own).
"$top/bench/cuda_bench" --shapes tiny --attention flash >out 2>err || fail "cuda_bench --attention flash failed: $(cat err)"
[ "$(grep -c '^tiny' out)" = 3 ] && [ "$(grep -c ' flash ' out)" = 3 ] ||
    fail "cuda_bench --attention flash: $(cat out)"
"$top/bench/cuda_bench" --attention bogus >out 2>err && fail "cuda_bench --attention bogus succeeded"
contains err "usage: cuda_bench"
# Where the module has no cuDNN attention, one line says why instead.
IKADA_TEST_NO_SDPA=1 "$top/bench/cuda_bench" --shapes tiny >out 2>err || fail "cuda_bench failed: $(cat err)"
[ "$(grep -c '^tiny' out)" = 7 ] || fail "without cuDNN attention: $(cat out)"
contains out "no cuDNN attention row: "
# --estimate needs no module: the trainer's arena for each full shape. The
# issue's memory target is the 8B shape in <= 30 GB on the device; the
# arena must leave room for the CUDA context and the libraries' workspaces
# (about 1 GB): at most 29 GB with any of the three attentions. NemotronH-9B
# (checkpointed) fits an 80 GB GPU with room to spare: under 40 GB.
"$top/bench/cuda_bench" --estimate >out 2>err || fail "cuda_bench --estimate failed: $(cat err)"
[ "$(grep -c '^Qwen2.5-\|^Llama-3-8B\|^Nemotron-H-9B' out)" = 4 ] || fail "cuda_bench --estimate: $(cat out)"
awk '/^Nemotron-H-9B/ {found = 1; if ($4 + 0 <= 0 || $4 > 40 || $5 > 40 || $6 > 40) bad = 1} END {exit !(found && !bad)}' out ||
    fail "the NemotronH-9B shape's arena is over 40 GB: $(cat out)"
awk '/^Llama-3-8B/ {found = 1; if ($4 + 0 <= 0 || $4 > 29 || $5 > 29 || $6 > 29) bad = 1} END {exit !(found && !bad)}' out ||
    fail "the 8B shape's arena is over 29 GB: $(cat out)"
# Without a module it skips, saying why.
export IKADA_CUDA_MODULE="$WORK/none.so"
"$top/bench/cuda_bench" >out 2>err
rc=$?
[ "$rc" = 77 ] || fail "cuda_bench without a module exited $rc, expected 77"
contains out "cuda_bench: skipped: "
pass
