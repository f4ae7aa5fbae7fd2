/* base/strmap.c - hash maps for names and vocabularies (see strmap.h): linear
 * probing, load factor kept under 1/2, FNV-1a for strings. */
#include <stdlib.h>
#include <string.h>

#include "base/xmalloc.h"
#include "base/strmap.h"

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static void rehash(struct ik_strmap *m, size_t n_slots)
{
    free(m->slots);
    m->slots = ik_xcalloc(n_slots, sizeof *m->slots);
    m->n_slots = n_slots;
    for (size_t i = 0; i < m->n; i++) {
        size_t s = fnv(m->pool + m->key_off[i], m->key_len[i]) & (n_slots - 1);
        while (m->slots[s])
            s = (s + 1) & (n_slots - 1);
        m->slots[s] = (uint32_t)(i + 1);
    }
}

/* Slot of key, or of the empty slot where it would go. */
static size_t find(const struct ik_strmap *m, const char *key, size_t len)
{
    size_t s = fnv(key, len) & (m->n_slots - 1);
    while (m->slots[s]) {
        size_t i = m->slots[s] - 1;
        if (m->key_len[i] == len && memcmp(m->pool + m->key_off[i], key, len) == 0)
            break;
        s = (s + 1) & (m->n_slots - 1);
    }
    return s;
}

void ik_strmap_put(struct ik_strmap *m, const char *key, size_t len, int val)
{
    if (2 * (m->n + 1) > m->n_slots)
        rehash(m, m->n_slots ? 2 * m->n_slots : 64);
    size_t s = find(m, key, len);
    if (m->slots[s]) {
        m->val[m->slots[s] - 1] = val;
        return;
    }
    size_t cap = m->cap;
    m->key_off = ik_xgrow(m->key_off, &cap, m->n + 1, sizeof *m->key_off);
    cap = m->cap;
    m->key_len = ik_xgrow(m->key_len, &cap, m->n + 1, sizeof *m->key_len);
    m->val = ik_xgrow(m->val, &m->cap, m->n + 1, sizeof *m->val);
    m->pool = ik_xgrow(m->pool, &m->pool_cap, m->pool_len + len + 1, 1);
    memcpy(m->pool + m->pool_len, key, len);
    m->key_off[m->n] = m->pool_len;
    m->key_len[m->n] = (uint32_t)len;
    m->val[m->n] = val;
    m->pool_len += len;
    m->slots[s] = (uint32_t)(++m->n);
}

int ik_strmap_get(const struct ik_strmap *m, const char *key, size_t len)
{
    if (m->n == 0)
        return -1;
    size_t s = find(m, key, len);
    return m->slots[s] ? m->val[m->slots[s] - 1] : -1;
}

void ik_strmap_free(struct ik_strmap *m)
{
    free(m->slots);
    free(m->key_off);
    free(m->key_len);
    free(m->val);
    free(m->pool);
    memset(m, 0, sizeof *m);
}

static size_t pair_slot(const struct ik_pairmap *m, uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    size_t s = (size_t)(h >> 17) & (m->n_slots - 1);
    while (m->keys[s] && m->keys[s] != key)
        s = (s + 1) & (m->n_slots - 1);
    return s;
}

void ik_pairmap_put(struct ik_pairmap *m, int a, int b, int rank, int merged)
{
    if (2 * (m->n + 1) > m->n_slots) {
        struct ik_pairmap old = *m;
        m->n_slots = old.n_slots ? 2 * old.n_slots : 1024;
        m->keys = ik_xcalloc(m->n_slots, sizeof *m->keys);
        m->rank = ik_xmalloc(m->n_slots * sizeof *m->rank);
        m->merged = ik_xmalloc(m->n_slots * sizeof *m->merged);
        for (size_t i = 0; i < old.n_slots; i++)
            if (old.keys[i]) {
                size_t s = pair_slot(m, old.keys[i]);
                m->keys[s] = old.keys[i];
                m->rank[s] = old.rank[i];
                m->merged[s] = old.merged[i];
            }
        free(old.keys), free(old.rank), free(old.merged);
    }
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    size_t s = pair_slot(m, key);
    if (m->keys[s])
        return;
    m->keys[s] = key;
    m->rank[s] = rank;
    m->merged[s] = merged;
    m->n++;
}

int ik_pairmap_get(const struct ik_pairmap *m, int a, int b, int *merged)
{
    if (m->n == 0)
        return -1;
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    size_t s = pair_slot(m, key);
    if (!m->keys[s])
        return -1;
    *merged = m->merged[s];
    return m->rank[s];
}

void ik_pairmap_free(struct ik_pairmap *m)
{
    free(m->keys), free(m->rank), free(m->merged);
    memset(m, 0, sizeof *m);
}
