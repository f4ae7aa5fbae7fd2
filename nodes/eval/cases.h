/* nodes/eval/cases.h - the questions of an evaluation: raft.samples (or
 * sft.samples) records turned into prompts with their ground truth.
 *
 * A record gives:
 *   prompt        its messages up to (excluding) the first assistant turn:
 *                 the system and user messages the model is asked with;
 *   question      metadata.question (required);
 *   expected      metadata.expected_answer, or "" when the record has none
 *                 (a training refusal sample);
 *   unanswerable  no oracle document: metadata.oracle_position is 0 or
 *                 absent, or metadata.has_oracle is false.
 *
 * mode refusal (the reference's missing metric, refusal recall): the oracle
 * document is removed from the user message and the others are renumbered
 * 1..n-1, so every case is unanswerable and the right reply is a refusal.
 * The user message must then be in the layout of nodes/raft/raft_prompt.h
 * with oracle_position naming one of its documents.
 *
 * Errors: IK_EVALIDATE naming `what`, the record (counted from 1) and the
 * field: an artifact without records, a record without messages or without
 * a user turn, a missing or non-string metadata.question, and in refusal
 * mode an oracle_position the user message has no document for. */
#ifndef IK_NODES_EVAL_CASES_H
#define IK_NODES_EVAL_CASES_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "nodes/eval/model.h"

struct ik_buf;
struct ik_diag;

enum ik_eval_mode { IK_EVAL_MODE_ANSWER, IK_EVAL_MODE_REFUSAL };

struct ik_eval_case {
    size_t index;         /* 0-based record number in the input */
    char *question;       /* owned */
    char *expected;       /* owned; "" when none */
    bool unanswerable;
    int oracle_position;  /* 1-based in the input's user message; 0 = none */
    struct ik_eval_msg msgs[4];
    size_t n_msgs;
    char *user_rewritten; /* owned: the user message of refusal mode, else NULL */
};

struct ik_eval_cases {
    struct ik_eval_case *v;
    size_t n;
    size_t n_records; /* in the input, before limit */
};

struct ik_eval_cases_opts {
    enum ik_eval_mode mode;
    const char *doc_label, *question_label;
    size_t limit; /* 0 = all */
    const char *what; /* "input samples" */
};

/* Reads the records of root (an unpacked artifact) into out. Message
 * contents borrow from root, which must outlive out. */
int ik_eval_cases_load(struct ik_eval_cases *out, const msgpack_object *root,
                       const struct ik_eval_cases_opts *o, struct ik_diag *d);
void ik_eval_cases_free(struct ik_eval_cases *c);

/* The prompt of case c for a model: messages, question, index, labels. */
void ik_eval_case_prompt(const struct ik_eval_case *c, const struct ik_eval_cases_opts *o,
                         struct ik_eval_prompt *out);

/* The mode called name ("answer" or "refusal"): 0, or IK_EVALIDATE. */
int ik_eval_mode_by_name(const char *name, enum ik_eval_mode *out, struct ik_diag *d);

/* Appends user[0..len) with document `drop` (1-based) removed and the
 * others renumbered, in the raft_prompt.h layout. Returns false (out
 * untouched) when the text has no document `drop`. */
bool ik_eval_drop_document(const char *user, size_t len, const char *doc_label,
                           const char *question_label, int drop, struct ik_buf *out);

#endif
