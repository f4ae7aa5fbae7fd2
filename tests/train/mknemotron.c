/* tests/train/mknemotron.c - a test helper, not a test: writes a random
 * NemotronH Hugging Face folder (config.json + model.safetensors, backbone.*
 * names, tests/lm/lm_test.c's writer) for the shell tests, which add a
 * tokenizer of the same vocabulary.
 *
 *   mknemotron DIR PATTERN D F V MAX_SEQ SEED [STATE]
 *
 * PATTERN is hybrid_override_pattern ("M-M*-M"); the Mamba-2 and attention
 * sizes are lmt_nemotron_cfg's, the SSM state size STATE when given (the
 * CUDA trainer takes at most 256). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm/config.h"
#include "lm/safetensors.h"
#include "tests/lm/lm_test.h"

int main(int argc, char **argv)
{
    if ((argc != 8 && argc != 9) || strlen(argv[2]) == 0 || strlen(argv[2]) > IK_LM_MAX_HYBRID_LAYERS) {
        fprintf(stderr, "usage: mknemotron DIR PATTERN D F V MAX_SEQ SEED [STATE]\n");
        return 2;
    }
    struct ik_lm_config c = lmt_nemotron_cfg(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    c.max_seq = atoi(argv[6]);
    if (argc == 9)
        c.ssm.state = atoi(argv[8]);
    lmt_write_random_nemotron(argv[1], &c, IK_ST_F32, (unsigned)atoi(argv[7]), 0.3f);
    return 0;
}
