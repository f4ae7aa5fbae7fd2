/* fuzz/fz_adapter.c - a lora.adapter artifact (nodes/train/adapter_artifact.c)
 * as `ikada cache export --format peft` and the train node's consumers read
 * it: the envelope check, then ik_lora_artifact_read. An adapter it accepts
 * must pack back to an artifact that reads again to the same values (the
 * reader and the packer agree on the layout), else the harness aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "base/diag.h"
#include "base/mp.h"
#include "cache/artifact.h"
#include "fuzz/fuzz_util.h"
#include "lm/lora.h"
#include "nodes/train/adapter_artifact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Packs a and reads it back; aborts unless the values and config survive. */
static void round_trip(const struct ik_lora *a, const struct ik_lm_config *mc,
                       const struct ik_lora_artifact_info *info)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_lora_artifact_pack(&w, a, mc, info);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lora *b = NULL;
    struct ik_lm_config mc2;
    struct ik_lora_artifact_info info2;
    if (ik_artifact_unpack(w.sb.data, w.sb.size, &u, "repacked", &d) != 0 ||
        ik_lora_artifact_read(&u.data, "repacked", &b, &mc2, &info2, &d) != 0) {
        fprintf(stderr, "fz_adapter: an accepted adapter does not read back: %s\n",
                ik_diag_message(&d));
        abort();
    }
    if (b->n_params != a->n_params || memcmp(b->params, a->params, a->n_params * sizeof(float)) ||
        memcmp(&mc2, mc, sizeof mc2) || memcmp(&info2, info, sizeof info2)) {
        fprintf(stderr, "fz_adapter: an accepted adapter reads back changed\n");
        abort();
    }
    ik_lora_free(b);
    ik_diag_free(&d);
    msgpack_unpacked_destroy(&u);
    ik_mp_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_mp_plausible(data, size))
        return 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lora *a = NULL;
    struct ik_lm_config mc;
    struct ik_lora_artifact_info info;
    if (ik_artifact_unpack(data, size, &u, "adapter fuzz", &d) == 0 &&
        ik_lora_artifact_read(&u.data, "adapter fuzz", &a, &mc, &info, &d) == 0) {
        round_trip(a, &mc, &info);
        ik_lora_free(a);
    }
    fz_diag_done(&d);
    msgpack_unpacked_destroy(&u);
    return 0;
}
