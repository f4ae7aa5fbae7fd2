/* base/strmap.h - open-addressing hash maps: byte
 * string -> int (graph node names, vocabularies of 150k+ entries) and
 * (int, int) -> (int, int)
 * (BPE merges: pair of ids -> rank and merged id). Keys are copied into one
 * growing pool, so a map is two allocations whatever its size. Growth uses
 * ik_x* allocators and cannot fail. Not thread-safe for writers; lookups on a
 * finished map may run concurrently. */
#ifndef IK_BASE_STRMAP_H
#define IK_BASE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct ik_strmap {
    uint32_t *slots;   /* private: entry index + 1, 0 = empty */
    size_t n_slots;    /* private: a power of two */
    size_t *key_off;   /* private: (n) offsets into pool */
    uint32_t *key_len; /* private: (n) */
    int *val;          /* private: (n) */
    size_t n, cap;     /* read-only: entries */
    char *pool;        /* private */
    size_t pool_len, pool_cap;
};

#define IK_STRMAP_INIT {0}

/* Sets key -> val, replacing an existing value. */
void ik_strmap_put(struct ik_strmap *m, const char *key, size_t len, int val);
/* The value of key, or -1. */
int ik_strmap_get(const struct ik_strmap *m, const char *key, size_t len);
void ik_strmap_free(struct ik_strmap *m);

struct ik_pairmap {
    uint64_t *keys;  /* private: (a << 32 | b) + 1, 0 = empty */
    int *rank, *merged;
    size_t n_slots, n;
};

#define IK_PAIRMAP_INIT {0}

/* Sets (a, b) -> (rank, merged) unless the pair is already there (the first,
 * lowest rank wins, as in a merges list). a, b >= 0. */
void ik_pairmap_put(struct ik_pairmap *m, int a, int b, int rank, int merged);
/* The rank of (a, b) and its merged id in *merged, or -1. */
int ik_pairmap_get(const struct ik_pairmap *m, int a, int b, int *merged);
void ik_pairmap_free(struct ik_pairmap *m);

#endif
