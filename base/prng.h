/* base/prng.h - the seedable PRNG behind every random draw in ikada's nodes.
 *
 * Algorithm (fixed forever: changing it changes every artifact, so it would
 * need a version bump of every node that draws):
 *   - state: xoshiro256** (Blackman & Vigna, 2018), four uint64 words;
 *   - seeding: the 64-bit seed is expanded by splitmix64, whose first four
 *     outputs become s[0..3] (never all zero, so the state is valid);
 *   - ik_prng_below(n): unbiased integer in [0, n) by rejection: draws x until
 *     x >= (2^64 - n) mod n, then returns x mod n (one draw almost always);
 *   - ik_prng_double(): the top 53 bits of one draw times 2^-53, in [0, 1);
 *   - ik_prng_shuffle: Fisher-Yates from the end: for i = n-1 down to 1,
 *     swap a[i] with a[below(i + 1)];
 *   - ik_prng_sample: partial Fisher-Yates from the front on a copy: for
 *     i = 0..k-1, swap a[i] with a[i + below(n - i)]; returns a[0..k).
 * Identical seeds give identical sequences on every platform (only integer
 * arithmetic; the double is exact). docs/determinism.md lists which draws each
 * node makes in which order. Not for cryptography. The struct is public so
 * callers embed it; its fields are private. Nothing here can fail. */
#ifndef IK_BASE_PRNG_H
#define IK_BASE_PRNG_H

#include <stddef.h>
#include <stdint.h>

struct ik_prng {
    uint64_t s[4]; /* private */
};

/* Seeds r from `seed` through splitmix64. */
void ik_prng_seed(struct ik_prng *r, uint64_t seed);
/* The next 64 random bits (xoshiro256**). */
uint64_t ik_prng_next(struct ik_prng *r);
/* A uniform integer in [0, n) without modulo bias; n must be > 0 (0 returns 0
 * without drawing). */
uint64_t ik_prng_below(struct ik_prng *r, uint64_t n);
/* A uniform double in [0, 1) with 53 random bits. */
double ik_prng_double(struct ik_prng *r);
/* Shuffles a[0..n) in place (Fisher-Yates, see above). */
void ik_prng_shuffle(struct ik_prng *r, size_t *a, size_t n);
/* Moves a uniform random k-subset of a[0..n) (k <= n), in random order, to
 * a[0..k); the rest of a keeps the other elements. */
void ik_prng_partial_shuffle(struct ik_prng *r, size_t *a, size_t n, size_t k);

#endif
