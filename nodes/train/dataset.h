/* nodes/train/dataset.h - the train node's examples: samples with chat
 * `messages` (sft.samples from cot, raft.samples from distract) rendered
 * through a chat template, tokenized, fitted to max_length, with the mask of
 * the positions the loss is taken on.
 *
 * One example per kept sample, in input order. Position t of an example is a
 * target (mask[t] = 1) when the loss includes -log p(ids[t] | ids[<t]); mask[0]
 * is always 0. loss_on "assistant" selects the assistant turns' tokens with
 * their end-of-turn marker (lm/chat_template.h), "all" every position (what
 * the reference experiment did).
 *
 * BOS: the tokenizer's BOS (ik_tok_bos, when it has one) is prepended unless
 * the rendered text already starts with it, as Hugging Face tokenizers do for
 * Llama and SentencePiece models: llama3's template writes <|begin_of_text|>
 * itself and gets no second one, a llama2.c or Llama-2 SentencePiece model
 * gets <s> before a plain or llama2 rendering, and chatml models (Qwen) have
 * no BOS at all.
 *
 * Errors (IK_EVALIDATE, naming the artifact `what`, the record, counted from 1
 * as cot's messages count them, and what was expected): no records, a record
 * without `messages` (an array of {role, content} maps), a sample without an
 * assistant turn (unless its metadata.expected_answer stands in, see
 * use_expected_answer), a sample with no target position, a token id the
 * model's vocabulary lacks, a sample longer than max_length with truncate
 * "fail", a sample that cannot be shortened enough with "documents" (its
 * length with every document emptied is named), max_length below 2. The
 * tokenizer's and the template's own errors (text refused, llama2's turn
 * order) keep their code and get "<what>: record <i>: " put before them. */
#ifndef IK_NODES_TRAIN_DATASET_H
#define IK_NODES_TRAIN_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct ik_diag;
struct ik_tok;

enum ik_train_loss_on { IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_LOSS_ALL };

/* What to do with a sample longer than max_length tokens. */
enum ik_train_truncate {
    /* Shorten the reference documents of the first user turn in the layout
     * of nodes/raft/raft_prompt.h, longest first, cut at UTF-8 character
     * boundaries; the intro, the question, the system message and the
     * answers are kept whole (nodes/raft/doc_truncate.h). */
    IK_TRAIN_TRUNC_DOCUMENTS,
    IK_TRAIN_TRUNC_END,  /* keep the first max_length tokens; none of them a target: dropped */
    IK_TRAIN_TRUNC_DROP, /* leave the sample out (counted) */
    IK_TRAIN_TRUNC_FAIL, /* an error naming the sample */
};

struct ik_train_data_opts {
    int chat_template;   /* enum ik_chat_template */
    int loss_on;         /* enum ik_train_loss_on */
    int truncate;        /* enum ik_train_truncate */
    int max_length;      /* tokens, >= 2 */
    int vocab;           /* the model's vocabulary size: every id must be below it */
    /* For validation samples (distract's test split has no assistant turn):
     * a sample without one gets metadata.expected_answer as its answer. */
    int use_expected_answer;
    const char *what;    /* the input's name in messages, e.g. "input samples"; NULL: "samples" */
    /* truncate "documents": the labels of the user turn's layout (distract's
     * and cot's params doc_label, question_label); NULL for
     * ik_raft_prompt_default's 参考文書 and 質問. */
    const char *doc_label, *question_label;
};

struct ik_train_example {
    int *ids;            /* (n) */
    unsigned char *mask; /* (n) */
    int n;
    int n_target;        /* positions with mask = 1, >= 1 */
    size_t index;        /* the sample's index among the input's records, from 0 */
    int truncated;       /* 1 when it was shortened to fit */
};

struct ik_train_dataset {
    struct ik_train_example *ex; /* (n) kept examples, in input order */
    size_t n;
    size_t n_samples;            /* records read */
    size_t n_truncated;          /* kept but shortened */
    size_t n_dropped;            /* left out: too long with "drop", or no target left after "end" */
    uint64_t n_tokens, n_target; /* sums over the kept examples */
};

/* By name ("assistant"/"all"; "documents"/"end"/"drop"/"fail"), or
 * IK_EVALIDATE listing the names. */
int ik_train_loss_on_by_name(const char *name, int *out, struct ik_diag *d);
int ik_train_truncate_by_name(const char *name, int *out, struct ik_diag *d);

/* Builds the examples of the artifact `root` (a map with `records`). ds is
 * filled (zeroed first); on failure it is left empty. */
int ik_train_dataset_build(struct ik_train_dataset *ds, const msgpack_object *root,
                           const struct ik_tok *t, const struct ik_train_data_opts *o,
                           struct ik_diag *d);
/* Accepts a zeroed ds. */
void ik_train_dataset_free(struct ik_train_dataset *ds);

#endif
