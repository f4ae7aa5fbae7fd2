/* cache/seal.h - checksums that let a record of the cache vouch for its bytes.
 *
 * Action records, refs and run records are msgpack maps whose last entry is
 *   sum: bin 32  = SHA-256 of every byte of the record before those 32
 * (the map header, every entry, the key "sum" and the bin header included).
 * Source-memo entries are msgpack arrays whose last item is a bin 8 holding
 * the first 8 bytes of the same digest over the entry's bytes before them.
 * So a flipped byte anywhere is found before the record is believed, and a
 * reader that looks fields up by name (every older ikada) just ignores "sum".
 *
 * Writers begin their map (array) with one entry more than their fields,
 * pack the fields, call ik_seal_map (ik_seal_array) and end it; the writer
 * must hold nothing but this record. */
#ifndef IK_CACHE_SEAL_H
#define IK_CACHE_SEAL_H

#include <stddef.h>

#include <msgpack.h>

#include "base/mp.h"

#define IK_SEAL_ENTRY_BYTES 8

/* Packs the "sum" entry: the map's last. */
void ik_seal_map(struct ik_mp_writer *w);
/* Packs the bin 8 item: the array's last. */
void ik_seal_array(struct ik_mp_writer *w);

enum ik_seal_state {
    IK_SEAL_OK,   /* sealed, and the bytes match */
    IK_SEAL_NONE, /* no "sum" key: written before records were sealed */
    IK_SEAL_BAD,  /* a "sum" that is not the last entry, not bin 32, or does not match */
};

/* Checks a record: data/len are its whole bytes, root the map they unpack to. */
enum ik_seal_state ik_seal_check_map(const char *data, size_t len, const msgpack_object *root);
/* Checks a memo entry: data/len are its bytes, root the array they unpack to
 * (its last item must be the bin 8). */
enum ik_seal_state ik_seal_check_array(const char *data, size_t len, const msgpack_object *root);

#endif
