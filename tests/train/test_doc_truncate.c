/* tests/train/test_doc_truncate.c - the documents of a RAFT user message
 * (nodes/raft/doc_truncate.h): found exactly as raft_prompt.c renders them,
 * cut longest first to a common level, at character boundaries, and put back
 * with everything else byte for byte. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "nodes/raft/raft_prompt.h"
#include "nodes/raft/doc_truncate.h"

static char *render(const char *const *docs, size_t n, const char *question)
{
    struct ik_raft_doc d[8];
    for (size_t i = 0; i < n; i++)
        d[i] = (struct ik_raft_doc){docs[i], strlen(docs[i])};
    struct ik_buf b = IK_BUF_INIT;
    ik_raft_render_user(&b, &ik_raft_prompt_default, d, n, question, strlen(question));
    ik_buf_putc(&b, '\0');
    return ik_buf_steal(&b);
}

/* Documents holding blank lines, a trailing newline and even the question
 * marker are found whole (the question marker is the last one). */
Test(train_doc_truncate, split_finds_each_document)
{
    const char *docs[] = {"first\n\nwith a blank line", "", "ends in a newline\n",
                          "quotes \n\n質問: inside"};
    char *u = render(docs, 4, "なぜ？");
    struct ik_raft_docs s;
    cr_assert_eq(ik_raft_docs_split(&s, u, strlen(u), "参考文書", "質問"), 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(s.end[i] - s.begin[i], strlen(docs[i]), "doc %zu", i);
        cr_assert(memcmp(u + s.begin[i], docs[i], strlen(docs[i])) == 0, "doc %zu", i);
    }
    ik_raft_docs_free(&s);
    cr_assert_eq(ik_raft_docs_split(&s, u, strlen(u), "Doc", "質問"), 0);
    ik_raft_docs_free(&s);
    cr_assert_eq(ik_raft_docs_split(&s, u, strlen(u), "参考文書", "Q"), 0);
    ik_raft_docs_free(&s);
    const char *plain = "Just a question?";
    cr_assert_eq(ik_raft_docs_split(&s, plain, strlen(plain), "参考文書", "質問"), 0);
    ik_raft_docs_free(&s);
    free(u);
}

/* Lengths 10, 100, 30 keeping 100 bytes: the level is 60, so only the
 * longest is cut; keeping 50: level 20, the two longer ones cut to it. */
Test(train_doc_truncate, cap_cuts_longest_first)
{
    char a[11], b[101], c[31];
    memset(a, 'a', 10), a[10] = 0;
    memset(b, 'b', 100), b[100] = 0;
    memset(c, 'c', 30), c[30] = 0;
    const char *docs[] = {a, b, c};
    char *u = render(docs, 3, "q");
    struct ik_raft_docs s;
    cr_assert_eq(ik_raft_docs_split(&s, u, strlen(u), "参考文書", "質問"), 3);
    size_t keep[3];
    ik_raft_docs_cap(&s, 100, keep);
    cr_assert(keep[0] == 10 && keep[1] == 60 && keep[2] == 30, "%zu %zu %zu", keep[0], keep[1], keep[2]);
    ik_raft_docs_cap(&s, 50, keep);
    cr_assert(keep[0] == 10 && keep[1] == 20 && keep[2] == 20, "%zu %zu %zu", keep[0], keep[1], keep[2]);
    ik_raft_docs_cap(&s, 1000, keep);
    cr_assert(keep[0] == 10 && keep[1] == 100 && keep[2] == 30);
    ik_raft_docs_cap(&s, 0, keep);
    cr_assert(keep[0] == 0 && keep[1] == 0 && keep[2] == 0);
    struct ik_buf out = IK_BUF_INIT;
    ik_raft_docs_render(&s, keep, &out);
    ik_buf_putc(&out, '\0');
    const char *empty[] = {"", "", ""};
    char *want = render(empty, 3, "q");
    cr_assert_str_eq(out.data, want);
    free(want);
    ik_buf_free(&out);
    ik_raft_docs_free(&s);
    free(u);
}

/* A cut inside a three-byte character moves back to its start. */
Test(train_doc_truncate, cap_keeps_whole_characters)
{
    const char *docs[] = {"あいうえお", "x"};
    char *u = render(docs, 2, "q");
    struct ik_raft_docs s;
    cr_assert_eq(ik_raft_docs_split(&s, u, strlen(u), "参考文書", "質問"), 2);
    for (size_t kb = 0; kb <= 16; kb++) {
        size_t keep[2];
        ik_raft_docs_cap(&s, kb, keep);
        cr_assert_eq(keep[0] % 3, 0, "keeping %zu bytes cut at %zu", kb, keep[0]);
        cr_assert(keep[0] + keep[1] <= kb);
        struct ik_buf out = IK_BUF_INIT;
        ik_raft_docs_render(&s, keep, &out);
        cr_assert(ik_utf8_valid(out.data, out.len));
        cr_assert_eq(out.len, strlen(u) - (15 - keep[0]) - (1 - keep[1]));
        ik_buf_free(&out);
    }
    ik_raft_docs_free(&s);
    free(u);
}
