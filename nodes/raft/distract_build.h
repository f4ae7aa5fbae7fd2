/* nodes/raft/distract_build.h - the `distract` node's work as pure functions: RAFT
 * samples (documents = oracle + distractors, prompts, refusals) from the
 * splits that `sample` made, as the reference experiment builds them.
 *
 * Pools (as the reference): train samples draw distractors from train+extra,
 * test and unseen samples from train+test. A distractor is the answer of a
 * pool row of the same group with another question; if the group has too
 * few, the rest are topped up from other groups (counted). A distractor never
 * equals the sample's own answer text, and no two documents of a sample are
 * equal. Draw order (docs/determinism.md), stream 1 seeded with `seed`:
 *   for each train row: u = double() (oracle when u < oracle_p); with oracle
 *     draw k distractors, shuffle them, slot = below(k+1) (oracle inserted
 *     there, oracle_position = slot+1); without, draw k+1 distractors,
 *     shuffle, refusal = below(n_refusals);
 *   for each extra row: k+1 distractors, shuffle, refusal = below(n_refusals);
 *   shuffle all train samples (train rows first, then extra rows).
 * Stream 2, seeded with seed ^ IK_DISTRACT_EVAL_STREAM, builds test then
 * unseen (k distractors, shuffle, slot), so that changing oracle_p or the
 * refusals never changes the evaluation sets (their meta leaves oracle_p
 * out too; the train rows still change them, being in their pool). Drawing distractors is a
 * partial Fisher-Yates over a per-group permutation kept across samples. */
#ifndef IK_NODES_RAFT_DISTRACT_BUILD_H
#define IK_NODES_RAFT_DISTRACT_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "base/mp.h"
#include "nodes/raft/faq_rows.h"
#include "nodes/raft/raft_prompt.h"

#define IK_DISTRACT_EVAL_STREAM 0x6576616c5f736574ULL /* "eval_set" */
#define IK_DISTRACT_MAX_DOCS 64
#define IK_DISTRACT_MAX_REFUSALS 32

enum { IK_RAFT_TRAIN, IK_RAFT_TEST, IK_RAFT_UNSEEN, IK_RAFT_SPLITS };
/* "train", "test", "unseen": the output ports. */
extern const char *const ik_raft_split_names[IK_RAFT_SPLITS];

struct ik_distract_params {
    size_t n_distractors; /* k < IK_DISTRACT_MAX_DOCS: documents per sample = k + 1 */
    double oracle_p;
    uint64_t seed;
    const char *system_prompt;
    struct ik_raft_prompt prompt;
    const char *const *refusals;
    size_t n_refusals; /* 1..IK_DISTRACT_MAX_REFUSALS */
    const char *source;    /* metadata "source" */
    const char *group_key; /* metadata key of the group, e.g. "copyright" */
};

/* Fills p with the reference's values (4 distractors, 0.8, seed 42, its
 * prompts and refusals, source JaGovFaqs-22k, key copyright). */
void ik_distract_params_default(struct ik_distract_params *p);

struct ik_raft_sample {
    const struct ik_faq_rows *set; /* borrowed: the rows the question comes from */
    size_t row;                    /* its index there */
    struct ik_raft_doc docs[IK_DISTRACT_MAX_DOCS]; /* borrowed from the input rows */
    size_t n_docs;
    int oracle_pos;    /* 1-based slot of the oracle; 0 = none */
    int refusal;       /* index into refusals, or -1 */
    bool is_extra;     /* made from an extra row */
    size_t from_other; /* distractors topped up from other groups */
};

struct ik_raft_stats {
    size_t samples, with_oracle, without_oracle, extra, topped_up_samples, other_group_docs;
    size_t positions[IK_DISTRACT_MAX_DOCS + 1]; /* [slot] for slot 1..k+1 */
    size_t refusals[IK_DISTRACT_MAX_REFUSALS];  /* per refusal index */
};

struct ik_distract_result {
    struct ik_raft_sample *samples[IK_RAFT_SPLITS]; /* owned */
    size_t n[IK_RAFT_SPLITS];
    struct ik_raft_stats stats[IK_RAFT_SPLITS];
};

/* Builds every sample. The inputs must outlive *out. Fails with IK_EVALIDATE
 * when a pool has too few distinct answers for a sample (naming the split,
 * the row and the question) or the params are out of range. */
int ik_distract_build(const struct ik_faq_rows *train, const struct ik_faq_rows *test,
                      const struct ik_faq_rows *unseen, const struct ik_faq_rows *extra,
                      const struct ik_distract_params *p, struct ik_distract_result *out,
                      struct ik_diag *d);
void ik_distract_result_free(struct ik_distract_result *res);

/* Packs one record {messages: [{role, content}…], metadata: {…}} exactly in the
 * reference's key order. Train: system, user, assistant (the oracle's answer
 * for oracle samples, to be replaced by `cot`; the refusal otherwise);
 * metadata source, <group_key>, has_oracle, question, then expected_answer
 * and oracle_position when it has the oracle, then is_extra_unanswerable: true for
 * extra rows. Test/unseen: system, user; metadata source, <group_key>,
 * question, expected_answer, oracle_position. */
void ik_distract_pack_record(struct ik_mp_writer *w, const struct ik_raft_sample *s, int split,
                             const struct ik_distract_params *p);
/* Packs a `raft.samples` artifact (schema 1) of one split: meta {split, seed,
 * oracle_p, distractors} for train, {split, seed, distractors} for test and
 * unseen (which oracle_p does not touch), records. */
void ik_distract_pack_samples(struct ik_mp_writer *w, const struct ik_distract_result *res,
                              int split, const struct ik_distract_params *p);
/* Packs the `distract.report` artifact (schema 1): meta {seed, oracle_p,
 * distractors}; per split samples,
 * with_oracle, without_oracle, extra_refusals, topped_up_samples,
 * other_group_distractors, oracle_positions [count per slot], refusals [count
 * per template]; records [{split, samples, with_oracle, without_oracle,
 * topped_up_samples, other_group_distractors}]. */
void ik_distract_pack_report(struct ik_mp_writer *w, const struct ik_distract_result *res,
                             const struct ik_distract_params *p);

#endif
