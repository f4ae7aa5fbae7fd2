/* nodes/raft/sample_split.h - the `sample` node's work as pure functions: filter
 * FAQ rows by answer length and split them into train / test / unseen /
 * extra exactly as the reference experiment does, with ikada's PRNG.
 *
 * Steps (the draw order is part of the output; docs/determinism.md):
 *  1. keep rows whose answer has min_chars..max_chars code points;
 *  2. target = rows whose group is `ministry`, others = the rest;
 *  3. shuffle the target rows; train = the first n_train distinct questions;
 *     test = the next n_test questions not in train (duplicates inside a
 *     split are skipped and counted as duplicates, rows whose question is in
 *     an earlier split as overlaps);
 *  4. extra = n_extra drawn (partial Fisher-Yates) from the target's other
 *     distinct questions, in file order before the draw;
 *  5. unseen = n_unseen drawn stratified from the others (distinct questions
 *     that appear nowhere in the target): groups by size, largest first,
 *     max(1, floor(n*size/total)) each while slots last, leftovers from the
 *     largest groups, a draw inside each group, then one shuffle.
 * Every question appears in at most one split. Too few rows is IK_EVALIDATE
 * naming the count and the param to lower, unless allow_short, which shrinks
 * the splits in the order train, test, extra, unseen and writes a note. */
#ifndef IK_NODES_RAFT_SAMPLE_SPLIT_H
#define IK_NODES_RAFT_SAMPLE_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "base/mp.h"
#include "nodes/raft/faq_rows.h"

enum { IK_SPLIT_TRAIN, IK_SPLIT_TEST, IK_SPLIT_UNSEEN, IK_SPLIT_EXTRA, IK_SPLIT_COUNT };
/* "train", "test", "unseen", "extra": also the output port names. */
extern const char *const ik_split_names[IK_SPLIT_COUNT];

struct ik_sample_params {
    const char *ministry;    /* the group value to target */
    const char *group_field; /* its column name, for messages and meta */
    size_t n[IK_SPLIT_COUNT]; /* requested sizes */
    size_t min_chars, max_chars;
    uint64_t seed;
    bool allow_short;
};

struct ik_sample_result {
    size_t *idx[IK_SPLIT_COUNT]; /* owned: row indices of each split, in split order */
    size_t n[IK_SPLIT_COUNT];
    size_t requested[IK_SPLIT_COUNT];
    size_t duplicates[IK_SPLIT_COUNT]; /* rows skipped: question repeated inside the split's pool */
    size_t overlaps[IK_SPLIT_COUNT];   /* rows skipped: question already in another split */
    size_t input_rows, kept_rows, answer_too_short, answer_too_long;
    size_t target_rows, other_rows; /* after the length filter */
    bool shortened;
    char *note; /* owned: what allow_short changed, or NULL */
};

/* Splits `rows` (read from `name`, used in messages). On success fills *out
 * (free with ik_sample_result_free). Fails with IK_EVALIDATE when the
 * ministry has no rows or there are too few rows (see above). */
int ik_sample_split(const char *name, const struct ik_faq_rows *rows,
                    const struct ik_sample_params *p, struct ik_sample_result *out,
                    struct ik_diag *d);
void ik_sample_result_free(struct ik_sample_result *res);

/* Packs split `split` as a `faq.rows` artifact (schema 1):
 *   {kind, schema, meta: {split, group_field, ministry, seed},
 *    records: [{question, answer, group[, url]}]} */
void ik_sample_pack_rows(struct ik_mp_writer *w, const struct ik_faq_rows *rows,
                         const struct ik_sample_result *res, int split,
                         const struct ik_sample_params *p);
/* Packs the `sample.summary` artifact (schema 1): input/kept/dropped counts,
 * per split {requested, rows, duplicates_removed, overlaps_removed}, short
 * and note, and records [{split, group, rows}] per split and group. */
void ik_sample_pack_summary(struct ik_mp_writer *w, const struct ik_faq_rows *rows,
                            const struct ik_sample_result *res, const struct ik_sample_params *p);

#endif
