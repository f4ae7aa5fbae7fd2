/* fuzz/fz_tokl2c.c - a llama2.c tokenizer.bin (lm/tokenizer_l2c.c),
 * loaded from a file and used as `ikada lm tokenize` uses it. Part 1 of the
 * input is the file, part 2 (after FZ_SEP), if any, the text to encode. */
#include <stdint.h>

#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_tokenizer_input("tokenizer.bin", data, size);
    return 0;
}
