/* nodes/lm_input.c - a model's tokenizer, from a port or beside the model
 * (lm_input.h). */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/file.h"
#include "base/hash.h"
#include "engine/node.h"
#include "lm/tokenizer.h"
#include "nodes/lm_input.h"

int ik_node_load_tokenizer(struct ik_node_ctx *ctx, const char *tok_port, const char *model_path,
                           struct ik_tok **out, char *hash_hex, struct ik_diag *d)
{
    const char *path = NULL;
    char *found = NULL;
    struct ik_hash h;
    int rc;
    if (tok_port != NULL && ik_node_has_input(ctx, tok_port)) {
        if ((rc = ik_node_input_path(ctx, tok_port, &path, d)) != 0 ||
            (rc = ik_node_input_hash(ctx, tok_port, &h, d)) != 0)
            return rc;
    } else {
        /* A model file's neighbours are not part of its hash: a tokenizer
         * beside a .bin could change without changing this node's key. */
        size_t n = strlen(model_path);
        if (n > 4 && strcmp(model_path + n - 4, ".bin") == 0) {
            ik_diag_set(d, IK_EVALIDATE, "input model is a llama2.c file (%s), which holds no "
                        "tokenizer", model_path);
            ik_diag_hint(d, "connect one: `tokenizer: {file: path/to/tok512.model}`, or use a "
                         "model folder with its tokenizer");
            return IK_EVALIDATE;
        }
        if ((rc = ik_tok_find_for_model(model_path, &found, d)) != 0) {
            ik_diag_hint(d, "the model folder needs tokenizer.json or tokenizer.model, or connect "
                         "a `tokenizer` input");
            return rc;
        }
        path = found;
        rc = ik_hash_file(found, &h, NULL, d);
    }
    if (rc == 0)
        rc = ik_tok_load(out, path, d);
    if (rc == 0)
        ik_hash_to_hex(&h, hash_hex);
    free(found);
    return rc;
}
