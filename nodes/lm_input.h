/* nodes/lm_input.h - what the nodes that run a model in process (train,
 * and the engine backend of evaluate and jcq-regress) share when they read
 * one from their inputs: its tokenizer. */
#ifndef IK_NODES_LM_INPUT_H
#define IK_NODES_LM_INPUT_H

struct ik_diag;
struct ik_node_ctx;
struct ik_tok;

/* The tokenizer of the model at model_path: the file on input port
 * tok_port when that port is given and connected, else the model's own
 * (ik_tok_find_for_model, lm/tokenizer.h). A llama2.c .bin holds none, and
 * its neighbours are not part of its hash, so it needs the port:
 * IK_EVALIDATE with a hint. hash_hex (65 bytes) receives the tokenizer's
 * content hash. The loader's and the lookup's codes otherwise. */
int ik_node_load_tokenizer(struct ik_node_ctx *ctx, const char *tok_port, const char *model_path,
                           struct ik_tok **out, char *hash_hex, struct ik_diag *d);

#endif
