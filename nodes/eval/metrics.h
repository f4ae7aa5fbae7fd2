/* nodes/eval/metrics.h - the RAG answer metrics of the reference experiment
 * (N3, DESIGN.md §6), exactly, plus the ones it lacked. Pure functions on
 * UTF-8 strings; the evaluate node and its reports are built on them.
 *
 * Definitions (docs/eval-metrics.md has them with the reference's code in
 * words):
 *   whitespace  the characters Python's str.isspace() accepts (the same set
 *               its re module's \s matches on str): U+0009..000D,
 *               U+001C..001F, U+0020, U+0085, U+00A0, U+1680, U+2000..200A,
 *               U+2028, U+2029, U+202F, U+205F, U+3000;
 *   punctuation 。．.、，, (U+3002 U+FF0E U+002E U+3001 U+FF0C U+002C);
 *   normalise   strip whitespace at both ends, replace every run of
 *               whitespace by one U+0020, then drop punctuation at the end
 *               (whitespace this uncovers stays, as with Python's rstrip);
 *   EM          1 when the normalised strings are equal bytes, else 0;
 *   tokens      the characters of the normalised text that are neither
 *               whitespace nor punctuation;
 *   set F1      over the SETS P and G of pred and gold tokens: an empty G
 *               gives 1 for an empty P, else 0; an empty P or P∩G gives 0;
 *               else p = |P∩G|/|P|, r = |P∩G|/|G|, F1 = 2pr/(p+r), in that
 *               order of operations in double (the reference's values are
 *               reproduced bit for bit);
 *   multiset F1 the same over multisets: |P∩G| = Σ min(count_P, count_G),
 *               |P| and |G| count repetitions;
 *   refusal     the whole reply contains one of the keywords as a substring.
 * A character is a code point. Bytes that are not well-formed UTF-8 (Python
 * would never have seen them) are each one character of their own, equal
 * only to the same byte and never whitespace or punctuation.
 *
 * Nothing here fails; the F1 functions allocate scratch memory through
 * base/xmalloc.h (which aborts on exhaustion) and free it before returning. */
#ifndef IK_NODES_EVAL_METRICS_H
#define IK_NODES_EVAL_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct ik_buf;

/* A refusal keyword list: borrowed NUL-terminated UTF-8 strings. An empty
 * keyword matches every reply (Python's `"" in s`); the node's param check
 * is where to reject one. */
struct ik_eval_refusal {
    const char *const *keywords;
    size_t n;
};

#define IK_EVAL_N_REFUSAL_DEFAULT 5
/* The reference's UNANSWERABLE_KEYWORDS: 回答できません, 情報が含まれていません,
 * 情報は見つかりません, 該当する記述は見つかりません, 回答するための十分な情報. */
extern const char *const ik_eval_refusal_keywords[IK_EVAL_N_REFUSAL_DEFAULT];
extern const struct ik_eval_refusal ik_eval_refusal_default;

/* One scored item. The reference's gating applies to every score: em, f1 and
 * f1_multiset are computed only for an answerable item whose reply is not a
 * refusal (TN); they are 0 otherwise, and a refusal on an answerable item
 * (FP) stays in the means as a 0. */
struct ik_eval_item {
    bool unanswerable; /* ground truth: the prompt holds no oracle document */
    bool refused;      /* the reply contains a refusal keyword */
    double em;         /* 0 or 1 */
    double f1;         /* the reference's set F1 */
    double f1_multiset;
};

/* Aggregates over items in their order (left-to-right sums). A mean over no
 * items is 0, as in the reference. */
struct ik_eval_summary {
    size_t n, n_answerable, n_unanswerable;
    size_t tp; /* unanswerable, refused */
    size_t fn; /* unanswerable, answered */
    size_t fp; /* answerable, refused (a false refusal) */
    size_t tn; /* answerable, answered */
    double em_mean;          /* over answerable items, FP as 0 */
    double f1_mean;          /* the headline: over answerable items, FP as 0 */
    double f1_multiset_mean; /* over answerable items, FP as 0 */
    double f1_answered;      /* over TN items only */
    double f1_multiset_answered;
    double refusal_precision; /* TP/(TP+FP), 0 when TP+FP = 0 */
    double refusal_recall;    /* TP/(TP+FN), 0 when TP+FN = 0 */
};

/* Appends the normalised s[0..n) to out. */
void ik_eval_normalize(struct ik_buf *out, const char *s, size_t n);

/* The reference's EM of pred against gold: 1.0 or 0.0. */
double ik_eval_em(const char *pred, size_t pred_len, const char *gold, size_t gold_len);

/* The reference's character-set F1 of pred against gold, in [0, 1]. */
double ik_eval_f1_set(const char *pred, size_t pred_len, const char *gold, size_t gold_len);

/* Multiset character F1 (repeated characters count), in [0, 1]. */
double ik_eval_f1_multiset(const char *pred, size_t pred_len, const char *gold, size_t gold_len);

/* True if reply[0..n) contains one of kw's keywords (byte substring, which
 * for UTF-8 is the same as a code point substring). */
bool ik_eval_is_refusal(const char *reply, size_t n, const struct ik_eval_refusal *kw);

/* Scores one reply against its gold answer with the reference's gating (see
 * struct ik_eval_item); kw NULL means ik_eval_refusal_default. */
void ik_eval_score(struct ik_eval_item *it, const char *reply, size_t reply_len, const char *gold,
                   size_t gold_len, bool unanswerable, const struct ik_eval_refusal *kw);

/* Fills s from items[0..n) (n may be 0). */
void ik_eval_summarize(struct ik_eval_summary *s, const struct ik_eval_item *items, size_t n);

#endif
