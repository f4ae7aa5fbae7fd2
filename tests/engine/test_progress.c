/* tests/engine/test_progress.c - progress frames through both ends: what the
 * node side encodes onto a pipe, the reader decodes, whatever pieces the
 * bytes arrive in; frames the node could not have meant are dropped. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "engine/progress.h"

#define MAX_FRAMES 16

struct seen {
    struct ik_progress_frame frames[MAX_FRAMES];
    size_t n;
};

/* Keeps a copy of the parts each test looks at. */
static void keep(void *arg, struct ik_progress_frame *f)
{
    struct seen *s = arg;
    cr_assert_lt(s->n, MAX_FRAMES);
    struct ik_progress_frame *k = &s->frames[s->n++];
    *k = *f;
    memset(f, 0, sizeof *f); /* taken whole: the reader frees nothing */
}

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        ik_progress_frame_free(&s->frames[i]);
}

static const char HEX[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* What write_frames writes to a pipe, read back and fed to a reader `piece`
 * bytes at a time. */
static void decode_pipe(void (*write_frames)(int fd), size_t piece, struct seen *s)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    write_frames(fds[1]);
    close(fds[1]);
    struct ik_buf bytes = IK_BUF_INIT;
    char chunk[4096];
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof chunk)) > 0)
        ik_buf_append(&bytes, chunk, (size_t)n);
    close(fds[0]);
    struct ik_progress_reader r;
    ik_progress_reader_init(&r, keep, s);
    for (size_t off = 0; off < bytes.len; off += piece)
        ik_progress_reader_feed(&r, bytes.data + off, bytes.len - off < piece ? bytes.len - off : piece);
    ik_progress_reader_free(&r);
    ik_buf_free(&bytes);
}

static void write_every_kind(int fd)
{
    ik_progress_send_progress(fd, 3, 10, "rows");
    ik_progress_send_counter(fd, "loss", 0.5);
    struct ik_progress_output outs[] = {{"o", HEX, 42, "file"}};
    ik_progress_send_result(fd, outs, 1);
    ik_progress_send_error(fd, "error: it broke");
}

Test(progress, every_frame_survives_the_trip_in_any_pieces)
{
    size_t pieces[] = {1, 3, 7, 4096};
    for (size_t p = 0; p < sizeof pieces / sizeof *pieces; p++) {
        struct seen s = {.n = 0};
        decode_pipe(write_every_kind, pieces[p], &s);
        cr_assert_eq(s.n, 4, "pieces of %zu", pieces[p]);
        cr_assert_eq(s.frames[0].type, IK_PROGRESS_PROGRESS);
        cr_assert(s.frames[0].has_done && s.frames[0].has_total);
        cr_assert_eq(s.frames[0].done, 3);
        cr_assert_eq(s.frames[0].total, 10);
        cr_assert_str_eq(s.frames[0].unit, "rows");
        cr_assert_eq(s.frames[1].type, IK_PROGRESS_COUNTER);
        cr_assert_str_eq(s.frames[1].name, "loss");
        cr_assert_float_eq(s.frames[1].value, 0.5, 1e-12);
        cr_assert_eq(s.frames[2].type, IK_PROGRESS_RESULT);
        const struct ik_action *a = s.frames[2].result;
        cr_assert_eq(a->n_outputs, 1);
        cr_assert_str_eq(a->outputs[0].port, "o");
        cr_assert_str_eq(a->outputs[0].kind, "file");
        cr_assert_eq(a->outputs[0].size, 42);
        char hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(&a->outputs[0].hash, hex);
        cr_assert_str_eq(hex, HEX);
        cr_assert_eq(s.frames[3].type, IK_PROGRESS_ERROR);
        cr_assert_str_eq(s.frames[3].message, "error: it broke");
        seen_free(&s);
    }
}

/* Packs a map of string pairs (keys and values alternate). */
static void pack_pairs(msgpack_sbuffer *sb, const char *const *kv, size_t n_pairs)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n_pairs);
    for (size_t i = 0; i < 2 * n_pairs; i++)
        ik_mp_pack_str(&pk, kv[i]);
}

Test(progress, frames_without_meaning_are_dropped)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    const char *unknown[] = {"t", "z"};
    pack_pairs(&sb, unknown, 1);
    const char *counter_without_value[] = {"t", "c", "name", "loss"};
    pack_pairs(&sb, counter_without_value, 2);
    const char *result_without_outputs[] = {"t", "r"};
    pack_pairs(&sb, result_without_outputs, 1);
    const char *bare_progress[] = {"t", "p"};
    pack_pairs(&sb, bare_progress, 1);
    struct seen s = {.n = 0};
    struct ik_progress_reader r;
    ik_progress_reader_init(&r, keep, &s);
    ik_progress_reader_feed(&r, sb.data, sb.size);
    ik_progress_reader_free(&r);
    msgpack_sbuffer_destroy(&sb);
    /* Only the progress frame is kept, and it changes nothing it lacks. */
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.frames[0].type, IK_PROGRESS_PROGRESS);
    cr_assert_not(s.frames[0].has_done || s.frames[0].has_total);
    cr_assert_str_eq(s.frames[0].unit, "");
    seen_free(&s);
}

static void write_bad_hash(int fd)
{
    struct ik_progress_output outs[] = {{"o", HEX, 1, "file"}, {"p", "not-hex", 1, "file"}};
    ik_progress_send_result(fd, outs, 2);
}

Test(progress, a_result_with_a_bad_hash_is_dropped_whole)
{
    struct seen s = {.n = 0};
    decode_pipe(write_bad_hash, 4096, &s);
    cr_assert_eq(s.n, 0);
}

/* A cluster job's frames go to a file (IKADA_PROGRESS_FILE); the scheduler
 * reads it at each poll from where it stopped, so every frame comes once,
 * even one written between two polls. */
Test(progress, frames_through_a_file)
{
    char path[] = "/tmp/ikada-frames.XXXXXX";
    int tmp = mkstemp(path);
    cr_assert_geq(tmp, 0);
    close(tmp);
    int saved = dup(IK_PROGRESS_FD);
    cr_assert_eq(ik_progress_to_file(path), 0);
    ik_progress_send_progress(IK_PROGRESS_FD, 1, 4, "rows");
    struct seen s = {.n = 0};
    struct ik_progress_reader r;
    ik_progress_reader_init(&r, keep, &s);
    uint64_t offset = 0;
    ik_progress_reader_feed_file(&r, path, &offset);
    cr_expect_eq(s.n, 1);
    ik_progress_send_counter(IK_PROGRESS_FD, "loss", 0.5);
    ik_progress_reader_feed_file(&r, path, &offset);
    ik_progress_reader_feed_file(&r, path, &offset);
    cr_assert_eq(s.n, 2);
    cr_expect_eq(s.frames[0].type, IK_PROGRESS_PROGRESS);
    cr_expect_eq(s.frames[0].total, 4);
    cr_expect_str_eq(s.frames[1].name, "loss");
    /* A file not there yet (the job is still queued) is no frame and no error. */
    uint64_t none = 0;
    ik_progress_reader_feed_file(&r, "/nonexistent/frames", &none);
    cr_expect_eq(s.n, 2);
    cr_expect_eq(none, 0);
    ik_progress_reader_free(&r);
    seen_free(&s);
    if (saved >= 0) {
        dup2(saved, IK_PROGRESS_FD);
        close(saved);
    } else {
        close(IK_PROGRESS_FD);
    }
    unlink(path);
}
