/* fuzz/fz_predictions.c - the JSON Lines answers file of the predictions
 * backend (nodes/eval/model_int.h): parsed, and on success matched to a few
 * items by question and by index. */
#include <stdint.h>

#include "base/diag.h"
#include "fuzz/fuzz_util.h"
#include "nodes/eval/model_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ik_eval_preds p;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik__eval_preds_parse("p.jsonl", (const char *)data, size, &p, &d) == 0) {
        static const struct ik_eval_msg msg = {"user", "q", 1};
        struct ik_eval_prompt items[3] = {{&msg, 1, "Q", 0, NULL, NULL},
                                          {&msg, 1, "Q", 1, NULL, NULL},
                                          {&msg, 1, NULL, 2, NULL, NULL}};
        size_t match[3];
        ik__eval_preds_match(&p, "p.jsonl", items, 3, match, &d);
        ik__eval_preds_free(&p);
    }
    fz_diag_done(&d);
    return 0;
}
