/* engine/progress.c - the child side of progress frames (see progress.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/mp.h"
#include "engine/progress.h"

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
    ik_mp_pack_str(pk, "t");
    ik_mp_pack_str(pk, type);
}

void ik_progress_send_progress(int fd, uint64_t done, uint64_t total, const char *unit)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_frame(&sb, &pk, 4, "p");
    ik_mp_pack_str(&pk, "done");
    msgpack_pack_uint64(&pk, done);
    ik_mp_pack_str(&pk, "total");
    msgpack_pack_uint64(&pk, total);
    ik_mp_pack_str(&pk, "unit");
    ik_mp_pack_str(&pk, unit ? unit : "");
    send_buffer(fd, &sb);
}

void ik_progress_send_counter(int fd, const char *name, double value)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_frame(&sb, &pk, 3, "c");
    ik_mp_pack_str(&pk, "name");
    ik_mp_pack_str(&pk, name);
    ik_mp_pack_str(&pk, "value");
    msgpack_pack_double(&pk, value);
    send_buffer(fd, &sb);
}

void ik_progress_send_error(int fd, const char *message)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_frame(&sb, &pk, 2, "e");
    ik_mp_pack_str(&pk, "message");
    ik_mp_pack_str(&pk, message);
    send_buffer(fd, &sb);
}

void ik_progress_send_result(int fd, const struct ik_progress_output *outputs, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_frame(&sb, &pk, 2, "r");
    ik_mp_pack_str(&pk, "outputs");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(&pk, 4);
        ik_mp_pack_str(&pk, "port");
        ik_mp_pack_str(&pk, outputs[i].port);
        ik_mp_pack_str(&pk, "hash");
        ik_mp_pack_str(&pk, outputs[i].hash_hex);
        ik_mp_pack_str(&pk, "size");
        msgpack_pack_uint64(&pk, outputs[i].size);
        ik_mp_pack_str(&pk, "kind");
        ik_mp_pack_str(&pk, outputs[i].kind ? outputs[i].kind : "");
    }
    send_buffer(fd, &sb);
}
