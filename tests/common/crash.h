/* tests/common/crash.h - runs a function that is meant to abort in a child
 * process and hands back what it wrote to stderr, so a test can check both
 * that it died of SIGABRT and what an IK_ASSERT said. (Criterion's
 * .signal = SIGABRT checks the death alone.) */
#ifndef IK_TESTS_COMMON_CRASH_H
#define IK_TESTS_COMMON_CRASH_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs fn() in a child; fills buf (NUL-terminated, cut to cap - 1 bytes) with
 * the child's stderr and returns its wait status. */
static inline int crash_output(void (*fn)(void), char *buf, size_t cap)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fds[0]);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

#endif
