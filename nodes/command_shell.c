/* nodes/command_shell.c - the `command` node's shell in a process group of
 * its own, with a timeout that stops all of it (command_shell.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "engine/progress.h"
#include "nodes/command_shell.h"

/* How long one wait for output may last before the shell's exit is checked
 * again: only matters when something outside the group holds the pipes, or
 * the shell closed them itself and a timeout is pending. */
#define POLL_MS 100
#define POLL_NO_PIPES_MS 10

/* The signals that stop a node host; each kills the shell's group first. */
static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};
#define N_STOP_SIGNALS (sizeof stop_signals / sizeof stop_signals[0])

static volatile sig_atomic_t shell_group; /* 0 while no shell runs */
static struct sigaction previous[N_STOP_SIGNALS];

/* The node host's own handler (engine/exec.c) kills its process group,
 * which the shell has left: kill the shell's group, then do what the signal
 * did before. */
static void on_stop(int sig)
{
    pid_t group = (pid_t)shell_group;
    if (group > 0)
        kill(-group, SIGKILL);
    for (size_t i = 0; i < N_STOP_SIGNALS; i++) {
        if (stop_signals[i] != sig)
            continue;
        if (previous[i].sa_flags & SA_SIGINFO) {
            previous[i].sa_sigaction(sig, NULL, NULL);
        } else if (previous[i].sa_handler == SIG_DFL) {
            signal(sig, SIG_DFL);
            raise(sig); /* blocked while in this handler: delivered on return */
        } else if (previous[i].sa_handler != SIG_IGN) {
            previous[i].sa_handler(sig);
        }
    }
}

static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_STOP_SIGNALS; i++) {
        sigaction(stop_signals[i], NULL, &previous[i]);
        if (!(previous[i].sa_flags & SA_SIGINFO) && previous[i].sa_handler == SIG_IGN)
            continue; /* an ignored signal stops nothing */
        sigaction(stop_signals[i], &sa, NULL);
    }
}

static void restore_stop_handlers(void)
{
    for (size_t i = 0; i < N_STOP_SIGNALS; i++)
        sigaction(stop_signals[i], &previous[i], NULL);
}

/* In the forked child: become the group's leader and run the shell with
 * stdout/stderr on the pipes. Never returns. */
static void exec_shell(const char *shell, const char *cmd, const char *dir, const int out[2],
                       const int err[2], const sigset_t *mask)
{
    for (size_t i = 0; i < N_STOP_SIGNALS; i++)
        signal(stop_signals[i], SIG_DFL);
    sigprocmask(SIG_SETMASK, mask, NULL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0)
        _exit(127);
    /* The progress pipe is the node host's: a command must neither write
     * frames into it nor keep it open after the node has finished. */
    close(IK_PROGRESS_FD);
    if (chdir(dir) != 0)
        _exit(127);
    execl(shell, shell, "-c", cmd, (char *)NULL);
    fprintf(stderr, "ikada: cannot run %s: %s\n", shell, strerror(errno));
    _exit(127);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the log is gone: the command's output has nowhere to go */
        p += w;
        n -= (size_t)w;
    }
}

/* Copies what the pipe holds now to `to`; closes it (*fd = -1) at EOF. */
static void forward(int *fd, int to)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n > 0) {
            write_all(to, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close(*fd);
        *fd = -1;
        return;
    }
}

/* Waits up to ms for output, forwarding what arrives. */
static void pump_output(int fds[2], int ms)
{
    struct pollfd p[2];
    int n = 0;
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            p[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    if (poll(p, (nfds_t)n, ms) <= 0)
        return;
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            forward(&fds[i], i == 0 ? STDOUT_FILENO : STDERR_FILENO);
}

/* Waits for the shell, forwarding its output, until it exits or the
 * deadline (0 = none) passes. Returns 0 when it exited (*status), 1 at the
 * deadline, -errno when it cannot be waited for. */
static int wait_shell(pid_t pid, int64_t deadline_ms, int fds[2], int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
        int ms = fds[0] >= 0 || fds[1] >= 0 ? POLL_MS : POLL_NO_PIPES_MS;
        if (deadline_ms > 0) {
            int64_t left = deadline_ms - ik_clock_monotonic_ms();
            if (left <= 0)
                return 1;
            if (left < ms)
                ms = (int)left;
        } else if (fds[0] < 0 && fds[1] < 0) {
            while ((r = waitpid(pid, status, 0)) < 0 && errno == EINTR)
                ;
            return r == pid ? 0 : -errno;
        }
        pump_output(fds, ms);
    }
}

static int open_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) != 0)
        return -errno;
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    return 0;
}

int ik__command_run_shell(const char *shell, const char *cmd, const char *dir, int64_t timeout_s,
                          struct ik_diag *d)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    int rc = open_pipe(out);
    if (rc == 0)
        rc = open_pipe(err);
    if (rc < 0) {
        for (int i = 0; i < 2; i++) {
            if (out[i] >= 0)
                close(out[i]);
            if (err[i] >= 0)
                close(err[i]);
        }
        return ik_diag_set(d, rc, "cannot start %s: %s", shell, strerror(-rc));
    }
    /* A stop signal between fork and the parent learning the child's group
     * would miss the group: hold them until shell_group is set. */
    sigset_t stop, old;
    sigemptyset(&stop);
    for (size_t i = 0; i < N_STOP_SIGNALS; i++)
        sigaddset(&stop, stop_signals[i]);
    sigprocmask(SIG_BLOCK, &stop, &old);
    install_stop_handlers();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exec_shell(shell, cmd, dir, out, err, &old);
    int fork_errno = errno;
    if (pid > 0) {
        setpgid(pid, pid); /* also here: kill(-pid) must work before the child runs */
        shell_group = pid;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(out[1]);
    close(err[1]);
    int fds[2] = {out[0], err[0]};
    int status = 0, waited = 0;
    if (pid > 0) {
        int64_t now = ik_clock_monotonic_ms(), deadline = 0;
        if (timeout_s > 0 && timeout_s < (INT64_MAX - now) / 1000)
            deadline = now + timeout_s * 1000; /* beyond that: as good as never */
        waited = wait_shell(pid, deadline, fds, &status);
        /* Timed out: all of it goes. Exited: what it left running goes too. */
        kill(-pid, SIGKILL);
        if (waited == 1) {
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        }
        shell_group = 0;
    }
    restore_stop_handlers();
    /* What was written before the kill is in the pipes; anything still
     * holding them has left the group and is not waited for. */
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0)
            forward(&fds[i], i == 0 ? STDOUT_FILENO : STDERR_FILENO);
        if (fds[i] >= 0)
            close(fds[i]);
    }
    if (pid < 0)
        return ik_diag_set(d, -fork_errno, "cannot start %s: %s", shell, strerror(fork_errno));
    if (waited < 0)
        return ik_diag_set(d, waited, "waiting for the command: %s", strerror(-waited));
    if (waited == 1)
        return ik_diag_set(d, IK_ENODE, "command timed out after %lld s", (long long)timeout_s);
    if (WIFSIGNALED(status))
        return ik_diag_set(d, IK_ENODE, "command killed by signal %d (%s)", WTERMSIG(status),
                           strsignal(WTERMSIG(status)));
    if (WEXITSTATUS(status) != 0)
        return ik_diag_set(d, IK_ENODE, "command exited with status %d", WEXITSTATUS(status));
    return 0;
}
