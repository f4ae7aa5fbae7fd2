/* engine/progress.h - frames from a running node to the scheduler: both ends.
 *
 * The node (`ikada exec`, engine/exec.c) writes msgpack maps to file
 * descriptor IK_PROGRESS_FD (3); the local executor (engine/executor_local.c)
 * reads them from a pipe and decodes them here. A frame is small and written
 * with one write(2) (< PIPE_BUF where possible), so frames never interleave.
 *   {t: "p", done: uint, total: uint, unit: str}     progress
 *   {t: "c", name: str, value: float}                a counter
 *   {t: "r", outputs: [{port, hash: hex, size, kind}]} the result, sent last on success
 *   {t: "e", message: str}                           the failure's diag text
 * Why a pipe and not files: the parent learns of progress without polling, and
 * a node killed mid-way simply stops sending. The byte stream is the whole
 * contract, so an executor that runs the node elsewhere (a cluster job whose
 * fd 3 is a file on the shared cache) feeds those bytes to the same reader.
 * The encoder and the decoder share one set of keys, in progress.c. */
#ifndef IK_ENGINE_PROGRESS_H
#define IK_ENGINE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "cache/action.h"

#define IK_PROGRESS_FD 3

/* --- Node side: encoding ------------------------------------------------------ */

/* Frames are dropped silently when fd is not open (a node run by hand with no
 * scheduler). Cannot fail. */
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

/* For a node run by a cluster executor (engine/executor_slurm.c): points fd
 * IK_PROGRESS_FD at `path` (created or truncated), where the scheduler reads
 * the frames with ik_progress_reader_feed_file. 0, or -errno. */
int ik_progress_to_file(const char *path);

/* --- Scheduler side: decoding ------------------------------------------------- */

enum ik_progress_type {
    IK_PROGRESS_PROGRESS, /* t: "p" */
    IK_PROGRESS_COUNTER,  /* t: "c" */
    IK_PROGRESS_RESULT,   /* t: "r" */
    IK_PROGRESS_ERROR,    /* t: "e" */
};

/* One decoded frame. Frames a node could not have meant (an unknown type, a
 * counter without a name or value, a result with a malformed output) are
 * dropped by the decoder, never handed on. */
struct ik_progress_frame {
    enum ik_progress_type type;
    /* progress: a field the frame lacks stays as it was (has_* false) */
    bool has_done, has_total;
    uint64_t done, total;
    char *unit;                /* "" when the frame has none */
    /* counter */
    char *name;
    double value;
    /* result: an action with only its outputs filled (port, hash, size, kind);
     * a consumer that keeps it sets the field to NULL */
    struct ik_action *result;
    /* error: the message, NULL when the frame has none */
    char *message;
};

/* Decodes one frame object: 0 with *f filled (ik_progress_frame_free), or -1
 * when it is to be ignored (see above). */
int ik_progress_decode(const msgpack_object *obj, struct ik_progress_frame *f);
void ik_progress_frame_free(struct ik_progress_frame *f);

/* Splits a byte stream into frames: bytes may arrive in any pieces, and each
 * complete frame is decoded and handed to on_frame (then freed), in order. */
struct ik_progress_reader {
    msgpack_unpacker unpacker;
    void (*on_frame)(void *arg, struct ik_progress_frame *f);
    void *arg;
};

void ik_progress_reader_init(struct ik_progress_reader *r,
                             void (*on_frame)(void *arg, struct ik_progress_frame *f), void *arg);
void ik_progress_reader_feed(struct ik_progress_reader *r, const void *data, size_t len);
/* Feeds the bytes of the frames file `path` from *offset on, and moves
 * *offset past them: called at every poll and once more after the job ended,
 * it hands on each frame once. A file not there yet is no error. */
void ik_progress_reader_feed_file(struct ik_progress_reader *r, const char *path, uint64_t *offset);
void ik_progress_reader_free(struct ik_progress_reader *r);

#endif
