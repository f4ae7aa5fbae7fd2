/* base/strset.h - a small hash map from borrowed byte strings to size_t, used
 * by the RAFT data nodes to dedupe questions and to intern group names.
 *
 * Open addressing with FNV-1a 64 hashes, kept at most half full. Keys are
 * borrowed: they must outlive the set. Growth uses ik_xmalloc, so nothing here
 * can fail. The struct is public for embedding; its fields are private. */
#ifndef IK_BASE_STRSET_H
#define IK_BASE_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ik_strset_slot;

struct ik_strset {
    struct ik_strset_slot *slots; /* private */
    size_t cap;                   /* private */
    size_t n;                     /* read-only: number of keys */
};

#define IK_STRSET_INIT {NULL, 0, 0}

/* True if `s` is a key; then *val (if not NULL) gets its value. */
bool ik_strset_get(const struct ik_strset *set, const char *s, size_t len, size_t *val);
/* Adds s -> val if s is not yet a key and returns true; otherwise leaves the
 * set unchanged, stores the existing value in *existing (if not NULL) and
 * returns false. */
bool ik_strset_put(struct ik_strset *set, const char *s, size_t len, size_t val, size_t *existing);
/* Removes every key, keeping the storage. */
void ik_strset_clear(struct ik_strset *set);
void ik_strset_free(struct ik_strset *set);

#endif
