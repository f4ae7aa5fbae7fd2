/* tests/cot/helpers.h - fixtures of the cot tests: the fake API server
 * (started on port 0 with its counts in a tc_tmpdir folder, stopped with
 * SIGTERM, its per-body counts read back) and small items built from literal
 * documents. The temporary cache is tests/common/tmpcache.h's. */
#ifndef IK_TESTS_COT_HELPERS_H
#define IK_TESTS_COT_HELPERS_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/cache.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "nodes/cot/cot.h"
#include "tests/common/tmpcache.h"

#ifndef IK_FAKE_API
#define IK_FAKE_API "tests/cot/fake_api"
#endif
#ifndef IK_TEST_SRCDIR
#define IK_TEST_SRCDIR "."
#endif

struct fake {
    pid_t pid;
    int port;
    char *dir;
    char counts[128];
};

/* Starts the fake with extra args (NULL-terminated). */
static inline void fake_start(struct fake *f, const char *const *args)
{
    f->dir = tc_tmpdir();
    snprintf(f->counts, sizeof f->counts, "%s/counts", f->dir);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    f->pid = fork();
    cr_assert_geq(f->pid, 0);
    if (f->pid == 0) {
        const char *argv[40] = {IK_FAKE_API, "--counts", f->counts, "--timeout-s", "30"};
        int n = 5;
        for (size_t i = 0; args && args[i] && n < 38; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive a failed test */
        dup2(fds[1], 1);
        close(fds[0]);
        execv(IK_FAKE_API, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    cr_assert_eq(fscanf(in, "port %d", &f->port), 1, "fake_api did not start");
    fclose(in);
}

/* Stops the fake; returns the total answered and received counts, and the
 * most answers any one body got. */
static inline void fake_stop(struct fake *f, unsigned *answered, unsigned *received,
                             unsigned *max_answered, unsigned *distinct)
{
    kill(f->pid, SIGTERM);
    int st;
    waitpid(f->pid, &st, 0);
    unsigned a = 0, r = 0, m = 0, n = 0, x, y;
    char sha[80];
    FILE *in = fopen(f->counts, "r");
    while (in && fscanf(in, "%u %u %70s", &x, &y, sha) == 3) {
        a += x;
        r += y;
        m = x > m ? x : m;
        n++;
    }
    if (in)
        fclose(in);
    if (answered) *answered = a;
    if (received) *received = r;
    if (max_answered) *max_answered = m;
    if (distinct) *distinct = n;
    tc_rmtree(f->dir);
    f->dir = NULL;
}

/* Three documents; the oracle is document 2. */
static const char *const T_DOCS[3] = {
    "給与所得者の源泉徴収は、毎月の給与から行われます。",
    "住宅借入金等特別控除を受けるためには、確定申告書に必要書類を添付して提出する必要があります。\n"
    "二年目以降は年末調整で控除を受けられます。",
    "消費税の課税事業者は、基準期間の課税売上高で判定します。",
};

static inline void t_item(struct ik_cot_item *it, const char *question)
{
    memset(it, 0, sizeof *it);
    it->has_oracle = true;
    it->oracle = 2;
    it->question = question;
    it->n_docs = 3;
    for (int i = 0; i < 3; i++) {
        it->docs[i].text = T_DOCS[i];
        it->docs[i].len = strlen(T_DOCS[i]);
    }
}

#endif
