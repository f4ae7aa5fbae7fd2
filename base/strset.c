/* base/strset.c - open-addressing string -> size_t map (see strset.h). */
#include <stdlib.h>
#include <string.h>

#include "base/xmalloc.h"
#include "base/strset.h"

struct ik_strset_slot {
    const char *s; /* NULL = empty */
    size_t len;
    uint64_t h;
    size_t val;
};

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static struct ik_strset_slot *find(const struct ik_strset *set, const char *s, size_t len,
                                   uint64_t h)
{
    size_t mask = set->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct ik_strset_slot *sl = &set->slots[i];
        if (sl->s == NULL)
            return sl;
        if (sl->h == h && sl->len == len && memcmp(sl->s, s, len) == 0)
            return sl;
    }
}

static void grow(struct ik_strset *set)
{
    size_t old_cap = set->cap;
    struct ik_strset_slot *old = set->slots;
    set->cap = old_cap ? old_cap * 2 : 64;
    set->slots = ik_xcalloc(set->cap, sizeof *set->slots);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].s != NULL)
            *find(set, old[i].s, old[i].len, old[i].h) = old[i];
    free(old);
}

bool ik_strset_get(const struct ik_strset *set, const char *s, size_t len, size_t *val)
{
    if (set->cap == 0)
        return false;
    const struct ik_strset_slot *sl = find(set, s, len, fnv1a(s, len));
    if (sl->s == NULL)
        return false;
    if (val)
        *val = sl->val;
    return true;
}

bool ik_strset_put(struct ik_strset *set, const char *s, size_t len, size_t val, size_t *existing)
{
    if ((set->n + 1) * 2 > set->cap)
        grow(set);
    uint64_t h = fnv1a(s, len);
    struct ik_strset_slot *sl = find(set, s, len, h);
    if (sl->s != NULL) {
        if (existing)
            *existing = sl->val;
        return false;
    }
    /* An empty key still needs a non-NULL pointer to mark the slot used. */
    sl->s = s ? s : "";
    sl->len = len;
    sl->h = h;
    sl->val = val;
    set->n++;
    return true;
}

void ik_strset_clear(struct ik_strset *set)
{
    if (set->slots)
        memset(set->slots, 0, set->cap * sizeof *set->slots);
    set->n = 0;
}

void ik_strset_free(struct ik_strset *set)
{
    free(set->slots);
    set->slots = NULL;
    set->cap = set->n = 0;
}
