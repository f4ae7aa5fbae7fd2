/* tests/nodes/helpers.h - shared helpers of the sample/distract tests:
 * synthetic FAQ rows, packing to bytes and comparing them, and the path of
 * tests/data. */
#ifndef IK_TESTS_NODES_HELPERS_H
#define IK_TESTS_NODES_HELPERS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "base/mp.h"
#include "base/xmalloc.h"
#include "nodes/raft/faq_rows.h"

#ifndef IK_TEST_SRCDIR
#define IK_TEST_SRCDIR "."
#endif

/* Path of a file under tests/data (the caller frees). */
static inline char *data_path(const char *rel)
{
    return ik_xasprintf("%s/tests/data/%s", IK_TEST_SRCDIR, rel);
}

/* Adds a row with question "<group>-q<i>" and an answer of >= 60 code points
 * unique to (group, i). */
static inline void add_row(struct ik_faq_rows *rows, const char *group, int i)
{
    char q[96], a[256];
    snprintf(q, sizeof q, "%s-q%d", group, i);
    snprintf(a, sizeof a, "%s の回答 %d です。これは十分に長い回答の本文で、五十文字の下限を必ず超えるように、少し余分に言葉を足して書かれています。", group, i);
    ik_faq_rows_add(rows, q, strlen(q), a, strlen(a), group, strlen(group), NULL, 0, i + 1);
}

/* True if two writers hold the same bytes. */
static inline bool same_bytes(const struct ik_mp_writer *a, const struct ik_mp_writer *b)
{
    return a->sb.size == b->sb.size && memcmp(a->sb.data, b->sb.data, a->sb.size) == 0;
}

#endif
