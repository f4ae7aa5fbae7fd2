/* base/mp.h - small helpers over msgpack-c objects, used by every module.
 *
 * msgpack strings are not NUL-terminated; these helpers compare and copy them
 * safely. Canonical packing (used for keys) sorts map keys bytewise and writes
 * every float as float64, so the same value always packs to the same bytes.
 *
 * struct ik_mp_writer is how modules pack into memory: a growing buffer and
 * its packer, with map and array begin/end pairs. A msgpack map or array
 * header states its length up front, and a wrong count corrupts everything
 * after it without any error; so in builds with assertions (no NDEBUG) end
 * checks that exactly the begun number of entries (key and value pairs for a
 * map) was packed between the two, and aborts naming the file:line of the
 * begin otherwise. The bytes are plain msgpack either way. */
#ifndef IK_BASE_MP_H
#define IK_BASE_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* Value of `key` in a map object, or NULL (also when obj is not a map). */
const msgpack_object *ik_mp_get(const msgpack_object *obj, const char *key);
/* True if obj is a string equal to s. */
bool ik_mp_str_eq(const msgpack_object *obj, const char *s);
/* A NUL-terminated copy of a string or bin object (the caller frees), or NULL. */
char *ik_mp_strdup(const msgpack_object *obj);
/* Numeric value of an int or float object; false if it is neither. */
bool ik_mp_number(const msgpack_object *obj, double *out);

void ik_mp_pack_str(msgpack_packer *pk, const char *s);
void ik_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n);
void ik_mp_pack_bin(msgpack_packer *pk, const void *data, size_t n);

/* Packs obj canonically (see above). */
void ik_mp_pack_canonical(msgpack_packer *pk, const msgpack_object *obj);

/* Deepest nesting of begun maps and arrays in one writer (deeper values packed
 * directly on pk are fine and counted as one entry each). */
#define IK_MP_MAX_DEPTH 16

/* private: one begun map or array, for the count check. */
struct ik__mp_frame {
    const char *file; /* where it was begun */
    uint64_t want;    /* values it must hold: n, or 2n keys and values for a map */
    uint64_t got;     /* values counted before `at` */
    size_t at;        /* buffer offset up to which got is counted */
    size_t head;      /* buffer offset of its header, for the parent's count */
    int line;
    bool map;
    bool stuck;       /* at is inside a value packed directly (see mp.c) */
};

/* Owns its buffer; must not be copied or moved once initialised (pk points at
 * sb). Pack values with msgpack_pack_* / ik_mp_pack_* on &w->pk, or append
 * bytes that already are whole msgpack values with msgpack_sbuffer_write on
 * &w->sb; maps and arrays whose count is worked out by hand go through
 * ik_mp_map_begin/ik_mp_array_begin ... ik_mp_map_end/ik_mp_array_end. The
 * count frames exist in every build, so the layout does not depend on NDEBUG. */
struct ik_mp_writer {
    msgpack_sbuffer sb; /* read-only: sb.data, sb.size are the bytes so far */
    msgpack_packer pk;  /* public: packs into sb */
    int depth;          /* private: open begins (assertion builds only) */
    struct ik__mp_frame open[IK_MP_MAX_DEPTH]; /* private */
};

/* An empty writer. Cannot fail. */
void ik_mp_writer_init(struct ik_mp_writer *w);
/* Empties the buffer, keeping its memory, to pack the next value. Like steal,
 * it expects every begin ended (checked with assertions). */
void ik_mp_writer_clear(struct ik_mp_writer *w);
/* Hands over the bytes, trimmed to *len (msgpack-c grows its buffer in 8 KiB
 * steps and some callers keep thousands of these); the caller frees them. The
 * writer is left empty and owning nothing: it may pack on, and
 * ik_mp_writer_free is then needed only if it does. */
char *ik_mp_writer_steal(struct ik_mp_writer *w, size_t *len);
void ik_mp_writer_free(struct ik_mp_writer *w);

/* Packs a map header of n entries, or an array header of n items, and opens a
 * count that the matching end closes. Pairs nest up to IK_MP_MAX_DEPTH. */
#define ik_mp_map_begin(w, n) ik__mp_begin((w), (n), true, __FILE__, __LINE__)
#define ik_mp_array_begin(w, n) ik__mp_begin((w), (n), false, __FILE__, __LINE__)
/* Closes the innermost begin; with assertions, aborts unless it is a map
 * (array) holding exactly its n entries, all complete. */
#define ik_mp_map_end(w) ik__mp_end((w), true, __FILE__, __LINE__)
#define ik_mp_array_end(w) ik__mp_end((w), false, __FILE__, __LINE__)

void ik__mp_begin(struct ik_mp_writer *w, size_t n, bool map, const char *file, int line);
void ik__mp_end(struct ik_mp_writer *w, bool map, const char *file, int line);

#endif
