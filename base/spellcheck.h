/* base/spellcheck.h - "did you mean" for unknown names (ninja's SpellcheckString). */
#ifndef IK_BASE_SPELLCHECK_H
#define IK_BASE_SPELLCHECK_H

#include <stddef.h>

/* The candidate closest to `word` by edit distance, if close enough to be a
 * plausible typo (distance <= max(1, strlen(word)/3)); else NULL. `candidates`
 * is terminated by NULL. Returns a borrowed candidate pointer. Cannot fail. */
const char *ik_spellcheck(const char *word, const char *const *candidates);

/* Levenshtein distance between a and b. Cannot fail. */
size_t ik_edit_distance(const char *a, const char *b);

#endif
