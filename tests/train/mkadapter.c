/* tests/train/mkadapter.c - a test helper, not a test: packs a seeded random
 * lora.adapter artifact for the model of a config.json into the cache (found
 * as ikada finds it: $IKADA_CACHE, else the nearest .ikada, else created in
 * the working directory) and prints its hash, so shell tests can export and
 * use an adapter without a train node.
 *
 *   mkadapter CONFIG_JSON TARGETS R B_SCALE SEED
 *
 * A is PEFT's initialisation from SEED; B is uniform in [-B_SCALE, B_SCALE]
 * (0: zeros, an adapter that changes nothing). alpha is 2 * R. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/hash.h"
#include "base/mp.h"
#include "base/prng.h"
#include "cache/cache.h"
#include "cache/cas.h"
#include "lm/chat_template.h"
#include "lm/config.h"
#include "lm/lora.h"
#include "nodes/train/adapter_artifact.h"

static int usage(void)
{
    fprintf(stderr, "usage: mkadapter CONFIG_JSON TARGETS R B_SCALE SEED\n");
    return 2;
}

static int fail(struct ik_diag *d)
{
    ik_diag_print(d);
    ik_diag_free(d);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 6)
        return usage();
    char *end;
    errno = 0;
    long r = strtol(argv[3], &end, 10);
    double scale = strtod(argv[4], NULL);
    unsigned long long seed = strtoull(argv[5], NULL, 10);
    if (errno || *end || r < 1 || r > 1024)
        return usage();
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_config mc;
    struct ik_lora_config lc = {(int)r, 2.0f * (float)r, 0.0f, 0};
    struct ik_lora *a = NULL;
    if (ik_lm_config_load(&mc, argv[1], &d) != 0 || ik_lora_parse_targets(argv[2], &lc.targets, &d) != 0 ||
        ik_lora_new(&a, &mc, &lc, seed, &d) != 0)
        return fail(&d);
    struct ik_prng p;
    ik_prng_seed(&p, seed ^ 0xB);
    for (int i = 0; i < a->L * IK_LORA_NT; i++) {
        struct ik_lora_module *m = &a->mod[i];
        for (size_t j = 0; m->B && j < (size_t)m->out * (size_t)lc.r; j++)
            m->B[j] = (float)((2 * ik_prng_double(&p) - 1) * scale);
    }
    /* The hashes stand for the base folder and tokenizer a train node would name. */
    struct ik_lora_artifact_info info = {.chat_template = IK_CHAT_PLAIN, .steps = 0};
    struct ik_hash h;
    ik_hash_bytes(argv[1], strlen(argv[1]), &h);
    ik_hash_to_hex(&h, info.base_hash);
    ik_hash_bytes(argv[2], strlen(argv[2]), &h);
    ik_hash_to_hex(&h, info.tokenizer_hash);
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_lora_artifact_pack(&w, a, &mc, &info);
    ik_lora_free(a);
    struct ik_cache *c = NULL;
    int rc = ik_cache_open(true, &c, &d);
    if (rc == 0)
        rc = ik_cas_put(c, w.sb.data, w.sb.size, &h, &d);
    ik_mp_writer_free(&w);
    ik_cache_close(c);
    if (rc != 0)
        return fail(&d);
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&h, hex);
    printf("%s\n", hex);
    return 0;
}
