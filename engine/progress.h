/* engine/progress.h - frames from a running node (child) to the scheduler.
 *
 * The child writes msgpack maps to file descriptor IK_PROGRESS_FD (3), which
 * the scheduler reads from a pipe. A frame is small and written with one
 * write(2) (< PIPE_BUF where possible), so frames never interleave.
 *   {t: "p", done: uint, total: uint, unit: str}     progress
 *   {t: "c", name: str, value: float}                a counter
 *   {t: "r", outputs: [{port, hash: hex, size, kind}]} the result, sent last on success
 *   {t: "e", message: str}                           the failure's diag text
 * Why a pipe and not files: the parent learns of progress without polling, and
 * a node killed mid-way simply stops sending. */
#ifndef IK_ENGINE_PROGRESS_H
#define IK_ENGINE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define IK_PROGRESS_FD 3

/* Child side. Frames are dropped silently when fd is not open (a node run by
 * hand with no scheduler). Cannot fail. */
void ik_progress_send_progress(int fd, uint64_t done, uint64_t total, const char *unit);
void ik_progress_send_counter(int fd, const char *name, double value);
void ik_progress_send_error(int fd, const char *message);
/* One output of a finished node, for the result frame. */
struct ik_progress_output {
    const char *port;
    const char *hash_hex;
    uint64_t size;
    const char *kind;
};
void ik_progress_send_result(int fd, const struct ik_progress_output *outputs, size_t n);
/* Sends an already packed frame. */
void ik_progress_send_raw(int fd, const void *data, size_t len);

#endif
