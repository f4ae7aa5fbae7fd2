/* query/query_int.h - the parsed forms shared by query.c (parser) and
 * query_eval.c (evaluation). Not a public contract: only those two include it. */
#ifndef IK_QUERY_QUERY_INT_H
#define IK_QUERY_QUERY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "query/query.h"

struct seg {
    bool is_index;
    long long index;
    char *key;
    size_t key_len;
};

struct ik_qpath {
    char *text;
    struct seg *segs;
    size_t n;
};

enum node_type { N_OR, N_AND, N_NOT, N_CMP, N_PATH, N_LIT };
enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_CONTAINS };

struct node {
    enum node_type type;
    enum cmp_op op;
    struct node *a, *b;
    struct ik_qpath *path;
    msgpack_object lit;
    char *lit_str; /* owned bytes behind a string literal */
};

struct ik_query {
    struct node *root;
};

#endif
