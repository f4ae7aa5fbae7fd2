/* engine/progress.c - progress frames, both ends (see progress.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/mp.h"
#include "base/xmalloc.h"
#include "engine/progress.h"

/* The frame format: every key and type tag, for the encoder and the decoder. */
static const char K_TYPE[] = "t";
static const char T_PROGRESS[] = "p", T_COUNTER[] = "c", T_RESULT[] = "r", T_ERROR[] = "e";
static const char K_DONE[] = "done", K_TOTAL[] = "total", K_UNIT[] = "unit";
static const char K_NAME[] = "name", K_VALUE[] = "value";
static const char K_OUTPUTS[] = "outputs";
static const char K_PORT[] = "port", K_HASH[] = "hash", K_SIZE[] = "size", K_KIND[] = "kind";
static const char K_MESSAGE[] = "message";

/* --- Encoding ------------------------------------------------------------------ */

void ik_progress_send_raw(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* no scheduler listening: progress is best effort */
        p += n;
        len -= (size_t)n;
    }
}

int ik_progress_to_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (fd != IK_PROGRESS_FD) {
        int rc = dup2(fd, IK_PROGRESS_FD) < 0 ? -errno : 0;
        close(fd);
        return rc;
    }
    /* Already fd 3: keep it across exec for what the node runs. */
    return fcntl(fd, F_SETFD, 0) < 0 ? -errno : 0;
}

static void send_buffer(int fd, msgpack_sbuffer *sb)
{
    ik_progress_send_raw(fd, sb->data, sb->size);
    msgpack_sbuffer_destroy(sb);
}

/* Starts a frame map of n entries whose first entry is {t: type}. */
static void begin_frame(msgpack_sbuffer *sb, msgpack_packer *pk, size_t n, const char *type)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(pk, n);
    ik_mp_pack_str(pk, K_TYPE);
    ik_mp_pack_str(pk, type);
}

void ik_progress_send_progress(int fd, uint64_t done, uint64_t total, const char *unit)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_frame(&sb, &pk, 4, T_PROGRESS);
    ik_mp_pack_str(&pk, K_DONE);
    msgpack_pack_uint64(&pk, done);
    ik_mp_pack_str(&pk, K_TOTAL);
    msgpack_pack_uint64(&pk, total);
    ik_mp_pack_str(&pk, K_UNIT);
    ik_mp_pack_str(&pk, unit ? unit : "");
    send_buffer(fd, &sb);
}

void ik_progress_send_counter(int fd, const char *name, double value)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_frame(&sb, &pk, 3, T_COUNTER);
    ik_mp_pack_str(&pk, K_NAME);
    ik_mp_pack_str(&pk, name);
    ik_mp_pack_str(&pk, K_VALUE);
    msgpack_pack_double(&pk, value);
    send_buffer(fd, &sb);
}

void ik_progress_send_error(int fd, const char *message)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_frame(&sb, &pk, 2, T_ERROR);
    ik_mp_pack_str(&pk, K_MESSAGE);
    ik_mp_pack_str(&pk, message);
    send_buffer(fd, &sb);
}

void ik_progress_send_result(int fd, const struct ik_progress_output *outputs, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_frame(&sb, &pk, 2, T_RESULT);
    ik_mp_pack_str(&pk, K_OUTPUTS);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(&pk, 4);
        ik_mp_pack_str(&pk, K_PORT);
        ik_mp_pack_str(&pk, outputs[i].port);
        ik_mp_pack_str(&pk, K_HASH);
        ik_mp_pack_str(&pk, outputs[i].hash_hex);
        ik_mp_pack_str(&pk, K_SIZE);
        msgpack_pack_uint64(&pk, outputs[i].size);
        ik_mp_pack_str(&pk, K_KIND);
        ik_mp_pack_str(&pk, outputs[i].kind ? outputs[i].kind : "");
    }
    send_buffer(fd, &sb);
}

/* --- Decoding ------------------------------------------------------------------ */

/* The outputs of a result frame; NULL when one of them lacks a port or a
 * valid hash, so a garbled frame never becomes an action record. */
static struct ik_action *decode_outputs(const msgpack_object *outs)
{
    struct ik_action *a = ik_xcalloc(1, sizeof *a);
    a->n_outputs = outs->via.array.size;
    a->outputs = ik_xcalloc(a->n_outputs ? a->n_outputs : 1, sizeof *a->outputs);
    for (size_t i = 0; i < a->n_outputs; i++) {
        const msgpack_object *o = &outs->via.array.ptr[i];
        char *hex = ik_mp_strdup(ik_mp_get(o, K_HASH));
        double size = 0;
        ik_mp_number(ik_mp_get(o, K_SIZE), &size);
        a->outputs[i].port = ik_mp_strdup(ik_mp_get(o, K_PORT));
        a->outputs[i].kind = ik_mp_strdup(ik_mp_get(o, K_KIND));
        a->outputs[i].size = (uint64_t)size;
        bool ok = hex != NULL && a->outputs[i].port != NULL &&
                  ik_hash_from_hex(hex, &a->outputs[i].hash) == 0;
        free(hex);
        if (!ok) {
            ik_action_free(a);
            return NULL;
        }
    }
    return a;
}

static void decode_progress(const msgpack_object *obj, struct ik_progress_frame *f)
{
    double v = 0;
    if ((f->has_done = ik_mp_number(ik_mp_get(obj, K_DONE), &v)))
        f->done = (uint64_t)v;
    if ((f->has_total = ik_mp_number(ik_mp_get(obj, K_TOTAL), &v)))
        f->total = (uint64_t)v;
    f->unit = ik_mp_strdup(ik_mp_get(obj, K_UNIT));
    if (f->unit == NULL)
        f->unit = ik_xstrdup("");
}

int ik_progress_decode(const msgpack_object *obj, struct ik_progress_frame *f)
{
    memset(f, 0, sizeof *f);
    const msgpack_object *t = ik_mp_get(obj, K_TYPE);
    if (ik_mp_str_eq(t, T_PROGRESS)) {
        f->type = IK_PROGRESS_PROGRESS;
        decode_progress(obj, f);
    } else if (ik_mp_str_eq(t, T_COUNTER)) {
        f->type = IK_PROGRESS_COUNTER;
        f->name = ik_mp_strdup(ik_mp_get(obj, K_NAME));
        if (f->name == NULL || !ik_mp_number(ik_mp_get(obj, K_VALUE), &f->value)) {
            ik_progress_frame_free(f);
            return -1;
        }
    } else if (ik_mp_str_eq(t, T_RESULT)) {
        f->type = IK_PROGRESS_RESULT;
        const msgpack_object *outs = ik_mp_get(obj, K_OUTPUTS);
        if (outs == NULL || outs->type != MSGPACK_OBJECT_ARRAY || (f->result = decode_outputs(outs)) == NULL)
            return -1;
    } else if (ik_mp_str_eq(t, T_ERROR)) {
        f->type = IK_PROGRESS_ERROR;
        f->message = ik_mp_strdup(ik_mp_get(obj, K_MESSAGE));
    } else {
        return -1;
    }
    return 0;
}

void ik_progress_frame_free(struct ik_progress_frame *f)
{
    free(f->unit);
    free(f->name);
    ik_action_free(f->result);
    free(f->message);
    memset(f, 0, sizeof *f);
}

void ik_progress_reader_init(struct ik_progress_reader *r,
                             void (*on_frame)(void *arg, struct ik_progress_frame *f), void *arg)
{
    msgpack_unpacker_init(&r->unpacker, 4096);
    r->on_frame = on_frame;
    r->arg = arg;
}

void ik_progress_reader_feed(struct ik_progress_reader *r, const void *data, size_t len)
{
    if (len == 0 || !msgpack_unpacker_reserve_buffer(&r->unpacker, len))
        return; /* out of memory: progress is best effort, the exit status is not */
    memcpy(msgpack_unpacker_buffer(&r->unpacker), data, len);
    msgpack_unpacker_buffer_consumed(&r->unpacker, len);
    msgpack_unpacked obj;
    msgpack_unpacked_init(&obj);
    while (msgpack_unpacker_next(&r->unpacker, &obj) == MSGPACK_UNPACK_SUCCESS) {
        struct ik_progress_frame f;
        if (ik_progress_decode(&obj.data, &f) == 0) {
            r->on_frame(r->arg, &f);
            ik_progress_frame_free(&f);
        }
    }
    msgpack_unpacked_destroy(&obj);
}

void ik_progress_reader_feed_file(struct ik_progress_reader *r, const char *path, uint64_t *offset)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[65536];
    ssize_t n;
    while ((n = pread(fd, buf, sizeof buf, (off_t)*offset)) > 0) {
        ik_progress_reader_feed(r, buf, (size_t)n);
        *offset += (uint64_t)n;
    }
    close(fd);
}

void ik_progress_reader_free(struct ik_progress_reader *r)
{
    msgpack_unpacker_destroy(&r->unpacker);
}
