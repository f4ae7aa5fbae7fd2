/* base/prng.c - xoshiro256** seeded by splitmix64, with unbiased bounded
 * integers and Fisher-Yates shuffles (the exact algorithm is in prng.h). */
#include "base/prng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void ik_prng_seed(struct ik_prng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t ik_prng_next(struct ik_prng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t ik_prng_below(struct ik_prng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* (2^64 - n) mod n, computed in 64 bits: the count of low values that
     * would make some residues more likely than others. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = ik_prng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

double ik_prng_double(struct ik_prng *r) { return (double)(ik_prng_next(r) >> 11) * 0x1.0p-53; }

void ik_prng_shuffle(struct ik_prng *r, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ik_prng_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void ik_prng_partial_shuffle(struct ik_prng *r, size_t *a, size_t n, size_t k)
{
    for (size_t i = 0; i < k && i < n; i++) {
        size_t j = i + (size_t)ik_prng_below(r, n - i);
        size_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
